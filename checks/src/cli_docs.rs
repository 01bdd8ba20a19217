//! Shell completions and man pages generated from the clap definitions, for the packages
//! (`scripts/package.sh`). Reached through an argument that is deliberately not part of the clap
//! tree, so it appears in neither `--help`, the completions nor the man pages:
//!
//! ```sh
//! vigie-agent __generate-docs DIR      # or vigie-collector
//! ```
//!
//! writes `DIR/completions/{BIN.bash,_BIN,BIN.fish}` and `DIR/man/BIN.1` plus one page per visible
//! subcommand (`vigie-agent-enroll.1`, `vigie-collector-report-monthly.1`). Shared by both binaries;
//! compiled only with the `cli-docs` feature, so the checks library does not depend on clap
//! otherwise. Pages carry the workspace version (both binaries share it).

// Not a check: it writes the packages' completion and man-page files and reads nothing of the host,
// so the Probe-only rule of checks/clippy.toml does not apply here.
#![allow(clippy::disallowed_methods)]

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
