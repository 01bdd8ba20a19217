//! The hidden `__generate-docs DIR` argument of this binary ([`vigie_checks::cli_docs`]); the tests
//! check the pages and completions generated from this binary's clap definitions.

pub use vigie_checks::cli_docs::intercept;
#[cfg(test)]
use vigie_checks::cli_docs::{generate, ARG};

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
