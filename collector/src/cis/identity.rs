//! CIS safeguards 6.3, 6.4 and 6.5 measured from the identity sources as well as from the hosts
//! (issue 14). The identities enter the scoring as two measures beside the host checks:
//!
//! - [`MEMBERS`] (6.3 externally-exposed applications, 6.4 remote network access — the identity
//!   provider and the code host are both): active members with a strong second factor / active
//!   members, over every source;
//! - [`ADMINS`] (6.5 administrative access): the same over the accounts holding an admin role.
//!
//! `score::score` takes the **minimum** of a safeguard's measures, so a safeguard is implemented
//! only as far as both the hosts (`mfa` check) and the identities are. A stale source (last sync
//! failed or too old) keeps its last known accounts in scope but none of them passes; a configured
//! source that never synced makes the identity measure 0 (nothing is known about its accounts).
//! Without any identity source the host measure stands alone, as before.

use std::collections::{BTreeMap, HashMap};

use crate::identity::config::IdentitySection;
use crate::identity::sync::{summaries, SourceSummary};
use crate::store::cis::CheckTally;
use crate::store::{identities, StoreError};

/// The measure over every active member account (6.3, 6.4).
pub const MEMBERS: &str = "identity_mfa";
/// The measure over the admin accounts (6.5).
pub const ADMINS: &str = "identity_mfa_admins";

/// The two identity measures from the sources' summaries (empty without any source).
pub fn tallies(sums: &[SourceSummary]) -> HashMap<String, CheckTally> {
    if sums.is_empty() {
        return HashMap::new();
    }
    let mut members = CheckTally::default();
    let mut admins = CheckTally::default();
    let mut unknown_source = false;
    for s in sums {
        let c = &s.counts;
        let (n, a) = (c.active_members.max(0) as u64, c.admins.max(0) as u64);
        members.in_scope += n;
        admins.in_scope += a;
        if s.stale {
            members.stale += n;
            admins.stale += a;
            unknown_source |= s.last_success_at.is_none();
        } else {
            members.passing += c.pass.max(0) as u64;
            admins.passing += c.admins_pass.max(0) as u64;
        }
    }
    if unknown_source {
        // A source never synced: its accounts may all be without a second factor.
        members.passing = 0;
        members.in_scope = members.in_scope.max(1);
        admins.passing = 0;
        admins.in_scope = admins.in_scope.max(1);
    }
    HashMap::from([(MEMBERS.to_string(), members), (ADMINS.to_string(), admins)])
}

/// `evidence` with the identity measures added to 6.3, 6.4 (members) and 6.5 (admins).
pub fn evidence(mut evidence: BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    for (safeguard, measure) in [("6.3", MEMBERS), ("6.4", MEMBERS), ("6.5", ADMINS)] {
        evidence
            .entry(safeguard.to_string())
            .or_default()
            .push(measure.to_string());
    }
    evidence
}

/// Safeguard → measures, and measure → tally: what `score::score` takes.
pub type Measures = (BTreeMap<String, Vec<String>>, HashMap<String, CheckTally>);

/// The check → safeguard mapping and the tallies to score with: the hosts' `host` tallies plus,
/// when identity sources are configured or stored, the identity measures at `now`.
pub fn combine(
    conn: &rusqlite::Connection,
    cfg: &IdentitySection,
    now: i64,
    mut host: HashMap<String, CheckTally>,
) -> Result<Measures, StoreError> {
    let sums = summaries(&identities::snapshot(conn)?, cfg, now);
    let extra = tallies(&sums);
    let base = super::score::builtin_evidence();
    if extra.is_empty() {
        return Ok((base, host));
    }
    host.extend(extra);
    Ok((evidence(base), host))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rusqlite::Connection;

    use super::*;
    use crate::cis::assessment::SelfAssessment;
    use crate::cis::catalogue::catalogue;
    use crate::cis::score::{score, Basis};
    use crate::identity::config::{OktaConfig, SourceConfig};
    use crate::store::identities::{apply_sync, record_failure, IdentityRow};

    const H: i64 = 3600;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        c
    }

    fn okta(name: &str) -> SourceConfig {
        SourceConfig::Okta(OktaConfig {
            name: name.into(),
            url: "https://example.okta.com".into(),
            token_file: PathBuf::from("/nonexistent"),
        })
    }

    /// `n` accounts `prefix0…`: the first `pass` pass, admins are the last `admins`.
    fn rows(prefix: &str, n: usize, pass: usize, admins: usize) -> Vec<IdentityRow> {
        crate::store::identities::test_rows(prefix, n, pass, admins)
    }

    /// Hosts: `mfa` passes on all 4 hosts (host measure 1.0 for 6.3–6.5).
    fn hosts() -> HashMap<String, CheckTally> {
        HashMap::from([(
            "mfa".to_string(),
            CheckTally {
                passing: 4,
                in_scope: 4,
                stale: 0,
                excepted: 0,
            },
        )])
    }

    /// The implementation shares of 6.3, 6.4, 6.5 scored from `c` at `now`.
    fn shares(c: &Connection, cfg: &IdentitySection, now: i64) -> [Option<f64>; 3] {
        let (evidence, tallies) = combine(c, cfg, now, hosts()).unwrap();
        let card = score(catalogue(), &evidence, &tallies, &SelfAssessment::default());
        ["6.3", "6.4", "6.5"].map(|id| {
            let s = card.safeguards.iter().find(|s| s.id == id).unwrap();
            assert_eq!(s.basis, Basis::Measured);
            s.implementation
        })
    }

    #[test]
    fn without_identity_sources_the_hosts_stand_alone() {
        let c = conn();
        assert_eq!(
            shares(&c, &IdentitySection::default(), 1000),
            [Some(1.0); 3]
        );
    }

    /// okta: 4 members, 3 with a strong factor, 2 admins of whom 1 passes; hosts all pass. The
    /// minimum of host and identity measures: 6.3 = 6.4 = min(1, 3/4) = 0.75; 6.5 = min(1, 1/2).
    #[test]
    fn a_safeguard_is_met_only_as_far_as_both_hosts_and_identities() {
        let c = conn();
        let cfg = IdentitySection {
            source: vec![okta("okta")],
            ..IdentitySection::default()
        };
        apply_sync(&c, "okta", "okta", 1000, None, &rows("u", 4, 3, 2)).unwrap();
        let [a, b, d] = shares(&c, &cfg, 1000 + H);
        assert_eq!((a, b, d), (Some(0.75), Some(0.75), Some(0.5)));
        // Every account and admin passes: back to the host measure.
        apply_sync(&c, "okta", "okta", 2000, None, &rows("u", 4, 4, 2)).unwrap();
        assert_eq!(shares(&c, &cfg, 2000 + H), [Some(1.0); 3]);
    }

    /// A source whose last sync failed, or whose last good sync is older than
    /// `stale_after_hours`, keeps its accounts in scope but none passes: 0, not its old 100 %.
    #[test]
    fn a_stale_source_is_not_a_pass() {
        let c = conn();
        let cfg = IdentitySection {
            source: vec![okta("okta")],
            ..IdentitySection::default()
        };
        apply_sync(&c, "okta", "okta", 1000, None, &rows("u", 4, 4, 1)).unwrap();
        assert_eq!(shares(&c, &cfg, 1000 + H), [Some(1.0); 3]);
        // 25 hours later (stale_after_hours = 24): too old.
        assert_eq!(shares(&c, &cfg, 1000 + 25 * H), [Some(0.0); 3]);
        // A failed sync: stale at once.
        record_failure(&c, "okta", "okta", 1000 + 2 * H, "HTTP 401").unwrap();
        assert_eq!(shares(&c, &cfg, 1000 + 3 * H), [Some(0.0); 3]);
    }

    /// A configured source that never synced: nothing is known about its accounts, so the
    /// identity measure is 0 even though the other source passes entirely.
    #[test]
    fn a_source_never_synced_is_not_a_pass() {
        let c = conn();
        let cfg = IdentitySection {
            source: vec![okta("okta"), okta("okta2")],
            ..IdentitySection::default()
        };
        apply_sync(&c, "okta", "okta", 1000, None, &rows("u", 4, 4, 1)).unwrap();
        assert_eq!(shares(&c, &cfg, 1000 + H), [Some(0.0); 3]);
    }
}
