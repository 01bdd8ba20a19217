//! Shell completions and man pages generated from the clap definitions, for the packages
//! (`scripts/package.sh`). Reached through an argument that is deliberately not part of the clap
//! tree, so it appears in neither `--help`, the completions nor the man pages:
//!
//! ```sh
//! vigie-agent __generate-docs DIR
//! ```
//!
//! writes `DIR/completions/{vigie-agent.bash,_vigie-agent,vigie-agent.fish}` and
//! `DIR/man/vigie-agent.1` plus one page per subcommand (`vigie-agent-enroll.1`).
//! The same file exists as `collector/src/cli_docs.rs` (the two binaries share no crate but
//! vigie-checks, which has no business depending on clap).

use std::path::Path;
use std::process::ExitCode;

/// The hidden first argument.
pub const ARG: &str = "__generate-docs";

/// When the command line is `BIN __generate-docs DIR`, writes the files and returns the exit code;
/// otherwise returns `None` and the normal command line is parsed.
pub fn intercept(command: impl FnOnce() -> clap::Command) -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(ARG)) {
        return None;
    }
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: {ARG} DIR");
        return Some(ExitCode::from(2));
    };
    match generate(command(), Path::new(&dir)) {
        Ok(n) => {
            println!("wrote {n} files under {}", Path::new(&dir).display());
            Some(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{ARG}: {e:#}");
            Some(ExitCode::from(1))
        }
    }
}

/// Writes the completions and man pages of `cmd` under `dir`; returns how many files.
pub fn generate(mut cmd: clap::Command, dir: &Path) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    use clap_complete::Shell;

    // Propagates global arguments and the version into every subcommand before rendering.
    cmd.build();
    let name = cmd.get_name().to_string();
    let completions = dir.join("completions");
    let man = dir.join("man");
    for d in [&completions, &man] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut written = 0;
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), &name, &mut out);
        let path = completions.join(file);
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    written += man_pages(&cmd, &name, &man)?;
    Ok(written)
}

/// One page for `cmd` named `page`, then one per subcommand (`page-sub`), recursively.
fn man_pages(cmd: &clap::Command, page: &str, dir: &Path) -> anyhow::Result<usize> {
    use anyhow::Context as _;

    let version = env!("CARGO_PKG_VERSION");
    // clap's names are &'static str without its `string` feature; this process writes a few
    // dozen pages and exits.
    let name: &'static str = page.to_string().leak();
    let renamed = cmd.clone().name(name).version(version);
    let mut out = Vec::new();
    clap_mangen::Man::new(renamed)
        .section("1")
        .manual("Vigie")
        .source(format!("Vigie {version}"))
        .render(&mut out)
        .with_context(|| format!("rendering the man page {page}"))?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    let mut written = 1;
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        written += man_pages(sub, &format!("{page}-{}", sub.get_name()), dir)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_a_man_page_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        let n = generate(cmd, dir.path()).unwrap();
        let man = dir.path().join("man");
        for page in ["vigie-agent", "check", "list", "enroll", "run"] {
            let page = if page == "vigie-agent" {
                "vigie-agent.1".to_string()
            } else {
                format!("vigie-agent-{page}.1")
            };
            let text = std::fs::read_to_string(man.join(&page)).unwrap();
            assert!(text.contains("\n.TH "), "{page}: not roff");
        }
        let enroll = std::fs::read_to_string(man.join("vigie-agent-enroll.1")).unwrap();
        assert!(enroll.contains("secret"), "{enroll}");
        assert!(!man.join("vigie-agent-help.1").exists());
        for f in ["vigie-agent.bash", "_vigie-agent", "vigie-agent.fish"] {
            let text = std::fs::read_to_string(dir.path().join("completions").join(f)).unwrap();
            assert!(text.contains("enroll"), "{f}");
            assert!(!text.contains(ARG), "{f}");
        }
        assert_eq!(n, std::fs::read_dir(&man).unwrap().count() + 3);
    }
}
