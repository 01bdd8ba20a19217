//! The hidden `__generate-docs DIR` argument of this binary ([`vigie_checks::cli_docs`]); the tests
//! check the pages and completions generated from this binary's clap definitions.

pub use vigie_checks::cli_docs::intercept;
#[cfg(test)]
use vigie_checks::cli_docs::{generate, ARG};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_a_man_page_per_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        let n = generate(cmd, dir.path()).unwrap();
        let man = dir.path().join("man");
        for page in [
            "vigie-collector.1",
            "vigie-collector-serve.1",
            "vigie-collector-check-config.1",
            "vigie-collector-report-monthly.1",
            "vigie-collector-kpi.1",
        ] {
            let text = std::fs::read_to_string(man.join(page)).unwrap();
            assert!(text.contains("\n.TH "), "{page}: not roff");
        }
        let monthly =
            std::fs::read_to_string(man.join("vigie-collector-report-monthly.1")).unwrap();
        // Global options are documented on every page.
        assert!(monthly.contains("config"), "{monthly}");
        assert!(monthly.contains("month"), "{monthly}");
        // Hidden commands have no page; the generator itself is in no file (clap_complete still
        // handles hidden subcommands' arguments).
        assert!(!man.join("vigie-collector-report-generate-store.1").exists());
        let bash =
            std::fs::read_to_string(dir.path().join("completions").join("vigie-collector.bash"))
                .unwrap();
        assert!(bash.contains("check-config"));
        assert!(!bash.contains(ARG));
        for f in ["_vigie-collector", "vigie-collector.fish"] {
            let text = std::fs::read_to_string(dir.path().join("completions").join(f)).unwrap();
            assert!(text.contains("check-config"), "{f}");
        }
        let pages = std::fs::read_dir(&man).unwrap().count();
        assert_eq!(n, pages + 3);
    }
}
