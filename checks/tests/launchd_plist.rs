#![allow(clippy::disallowed_methods)] // reads a file of the repository
//! The launchd plist in `deploy/launchd/` is a well-formed property list that starts `vigie-agent run`
//! with the macOS default configuration file, so the two cannot drift apart.

use vigie_checks::apple_plist;
use vigie_checks::Platform;

#[test]
fn launchd_plist_runs_the_agent_with_the_macos_default_config() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/launchd/org.vigie.agent.plist"
    );
    let bytes = std::fs::read(path).unwrap();
    let v = apple_plist::parse(&bytes).unwrap();
    let d = apple_plist::dict(&v, "top").unwrap();
    assert_eq!(apple_plist::string(d, "Label").unwrap(), "org.vigie.agent");
    let args: Vec<&str> = apple_plist::array(d, "ProgramArguments")
        .unwrap()
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect();
    assert_eq!(args[0], "/usr/local/bin/vigie-agent");
    let config = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1]);
    assert_eq!(config, Some(Platform::Macos.default_paths().config_file));
    assert_eq!(args.last(), Some(&"run"));
    assert!(apple_plist::boolean(d, "RunAtLoad").unwrap());
    // Umask 077 (63): the state directory and node key stay root-only.
    assert_eq!(apple_plist::opt_integer(d, "Umask").unwrap(), Some(0o077));
}
