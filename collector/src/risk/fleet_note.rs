//! The sentence a fleet risk's history entry carries, as a value: `fleet::reconcile` stores its
//! English form (what the API and the feeds show), and the monthly report parses it back to say it
//! in the report's language. Parsing is exact: a note that is not one of these forms (a person's
//! own words, a future form) is shown as stored.

use std::fmt;

/// Why the fleet reconciliation changed a risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetNote {
    /// Some evaluated hosts fail the check.
    Failing {
        /// Hosts failing.
        failing: usize,
        /// Hosts evaluated.
        evaluated: usize,
        /// The check.
        check: String,
        /// The failing host with the highest criticality (`None` in notes written before hosts
        /// were named).
        host: Option<String>,
        /// Its criticality (1..4).
        criticality: u8,
    },
    /// No evaluated host fails the check: the risk closes.
    Clean {
        /// The check.
        check: String,
        /// Hosts evaluated.
        evaluated: usize,
    },
}

impl fmt::Display for FleetNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetNote::Failing {
                failing,
                evaluated,
                check,
                host: Some(host),
                criticality,
            } => write!(
                f,
                "{failing} of {evaluated} evaluated hosts fail {check}; most critical failing host: {host} (criticality {criticality})"
            ),
            FleetNote::Failing {
                failing,
                evaluated,
                check,
                host: None,
                criticality,
            } => write!(
                f,
                "{failing} of {evaluated} evaluated hosts fail {check}; most critical failing host: {criticality}"
            ),
            FleetNote::Clean { check, evaluated } => {
                write!(f, "fleet clean: no host fails {check} ({evaluated} evaluated)")
            }
        }
    }
}

impl FleetNote {
    /// The note `text` stands for, if it is one of the forms `Display` writes (including the
    /// earlier form that gave the criticality where the host belongs).
    pub fn parse(text: &str) -> Option<FleetNote> {
        if let Some(rest) = text.strip_prefix("fleet clean: no host fails ") {
            let (check, rest) = rest.split_once(" (")?;
            let evaluated = rest.strip_suffix(" evaluated)")?.parse().ok()?;
            return Some(FleetNote::Clean {
                check: word(check)?,
                evaluated,
            });
        }
        let (failing, rest) = text.split_once(" of ")?;
        let (evaluated, rest) = rest.split_once(" evaluated hosts fail ")?;
        let (check, rest) = rest.split_once("; most critical failing host: ")?;
        let (host, criticality) = match rest.split_once(" (criticality ") {
            Some((host, c)) => (Some(word(host)?), c.strip_suffix(')')?.parse().ok()?),
            None => (None, rest.parse().ok()?),
        };
        Some(FleetNote::Failing {
            failing: failing.parse().ok()?,
            evaluated: evaluated.parse().ok()?,
            check: word(check)?,
            host,
            criticality,
        })
    }
}

/// A check id or hostname: one non-empty word.
fn word(s: &str) -> Option<String> {
    (!s.is_empty() && !s.contains(char::is_whitespace)).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_back() {
        for n in [
            FleetNote::Failing {
                failing: 1,
                evaluated: 3,
                check: "backup_freshness".into(),
                host: Some("db-01.example.org".into()),
                criticality: 4,
            },
            FleetNote::Failing {
                failing: 2,
                evaluated: 2,
                check: "mfa".into(),
                host: None,
                criticality: 2,
            },
            FleetNote::Clean {
                check: "patch_age".into(),
                evaluated: 5,
            },
        ] {
            assert_eq!(FleetNote::parse(&n.to_string()), Some(n.clone()), "{n}");
        }
        // The form stored before hosts were named.
        assert_eq!(
            FleetNote::parse(
                "1 of 3 evaluated hosts fail backup_freshness; most critical failing host: 2"
            ),
            Some(FleetNote::Failing {
                failing: 1,
                evaluated: 3,
                check: "backup_freshness".into(),
                host: None,
                criticality: 2,
            })
        );
        for other in [
            "two new phishing campaigns",
            "",
            "1 of 3 evaluated hosts fail; most critical failing host: x",
            "fleet clean: no host fails mfa (many evaluated)",
        ] {
            assert_eq!(FleetNote::parse(other), None, "{other}");
        }
    }
}
