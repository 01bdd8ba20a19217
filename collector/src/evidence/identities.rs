//! `identities.csv` and `identities.html`: MFA at the identity providers and code hosts as it
//! stood at the end of the period (issue 14). Per source: its last good sync before the period's
//! end, why it is stale if it is (`identity::period`), and each account of that sync with its
//! status, since when, and the API fields that decided it, verbatim. No personal data beyond the
//! account's login and display name is stored, so none can be exported.

use std::io::{Seek, Write};

use rusqlite::Connection;

use super::bundle::BundleWriter;
use super::html::{self, esc};
use super::plan::Plan;
use super::sections::csv_field;
use super::ExportError;
use crate::identity::config::IdentitySection;
use crate::identity::period::{self, utc};

fn time(t: i64) -> String {
    utc(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Write both entries (in path order).
pub fn write<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
    cfg: &IdentitySection,
) -> Result<(), ExportError> {
    let end = plan.scope.end_ts;
    let sources = period::sources_at(conn, cfg, end)?;
    b.start("identities.csv")?;
    b.write_all(
        b"source,kind,last_success_at,stale_reason,account_id,login,display_name,account_kind,admin,status,status_since,evidence\r\n",
    )?;
    for s in &sources {
        let stale = s
            .stale(end, cfg.stale_after_hours)
            .map(|r| r.to_string())
            .unwrap_or_default();
        let last = s.last_good.as_ref().map(|g| time(g.0)).unwrap_or_default();
        let rows = s.last_good.as_ref().map(|g| g.1.as_slice()).unwrap_or(&[]);
        if rows.is_empty() {
            write!(
                b,
                "{},{},{last},{},,,,,,,,\r\n",
                csv_field(&s.source),
                csv_field(&s.kind),
                csv_field(&stale)
            )?;
        }
        for r in rows {
            write!(
                b,
                "{},{},{last},{},{},{},{},{},{},{},{},{}\r\n",
                csv_field(&s.source),
                csv_field(&s.kind),
                csv_field(&stale),
                csv_field(&r.account_id),
                csv_field(&r.login),
                csv_field(&r.display_name),
                csv_field(&r.kind),
                r.admin,
                csv_field(&r.status),
                time(r.status_since),
                csv_field(&r.evidence)
            )?;
        }
    }
    b.start("identities.html")?;
    html::open(b, "Identities: MFA at identity providers and code hosts", 0)?;
    b.write_all(
        b"<p>Each identity source's accounts at its last good sync before the end of the period, \
          with the status Vigie gave them and the provider's API fields that decided it. \
          <code>pass</code>: a strong second factor is usable; <code>warn</code>: only SMS, voice, \
          e-mail or security question; <code>fail</code>: no second factor; <code>unknown</code>: \
          the provider said nothing; <code>not_applicable</code>: disabled, suspended or a \
          configured service account. A <em>stale</em> source (its last attempt failed, its last \
          good sync is older than the configured limit, or it never synced) is shown but its \
          accounts do not count as evidence of MFA.</p>\n",
    )?;
    if sources.is_empty() {
        b.write_all(b"<p class=\"muted\">No identity source is configured or was synced.</p>\n")?;
    }
    for s in &sources {
        writeln!(b, "<h2>{} ({})</h2>", esc(&s.source), esc(&s.kind))?;
        let last = s.last_good.as_ref().map(|g| time(g.0));
        writeln!(
            b,
            "<p>Last good sync before the end of the period: {}.</p>",
            last.as_deref().map_or_else(|| "none".to_string(), esc)
        )?;
        match s.stale(end, cfg.stale_after_hours) {
            Some(r) => writeln!(
                b,
                "<p class=\"fail\">Stale: {}. Not evidence of MFA.</p>",
                esc(&r.to_string())
            )?,
            None => b.write_all(b"<p class=\"pass\">Current at the end of the period.</p>\n")?,
        }
        let rows = s.last_good.as_ref().map(|g| g.1.as_slice()).unwrap_or(&[]);
        if rows.is_empty() {
            b.write_all(b"<p class=\"muted\">No account.</p>\n")?;
            continue;
        }
        html::thead(
            b,
            &[
                "Account id",
                "Login",
                "Display name",
                "Kind",
                "Admin",
                "Status",
                "Since",
                "Deciding API fields",
            ],
        )?;
        for r in rows {
            writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td></tr>",
                esc(&r.account_id),
                esc(&r.login),
                esc(&r.display_name),
                esc(&r.kind),
                if r.admin { "yes" } else { "no" },
                html::status(&r.status),
                time(r.status_since),
                esc(&r.evidence)
            )?;
        }
        b.write_all(b"</table>\n")?;
    }
    html::close(b)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use crate::evidence::tests::{bundle, fixture, key, ordered, request, rezip};
    use crate::evidence::verify::verify;
    use crate::store::identities::{apply_sync, record_failure, IdentityRow};

    fn row(id: &str, login: &str, admin: bool, status: &str, evidence: &str) -> IdentityRow {
        IdentityRow {
            source: String::new(),
            account_id: id.into(),
            login: login.into(),
            display_name: format!("Name {id}"),
            kind: "member".into(),
            enabled: true,
            admin,
            mfa: "none".into(),
            enforced: None,
            status: status.into(),
            evidence: evidence.into(),
            first_seen: 0,
            last_seen: 0,
            without_mfa_since: None,
            status_since: 0,
        }
    }

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    /// The period is 1–3 March 2026 (end 4 March 00:00). okta synced on 3 March: current.
    /// github synced on 1 March, then failed on 2 March: stale with the error. A later okta
    /// sync (5 March) is after the period and must not show.
    #[test]
    fn identities_are_exported_as_at_the_period_end_and_signed() {
        let c = fixture();
        apply_sync(
            &c,
            "okta",
            "okta",
            ts("2026-03-03T10:00:00Z"),
            None,
            &[
                row(
                    "u1",
                    "ann@ex.fr",
                    true,
                    "fail",
                    r#"{"activeFactorTypes":[],"status":"ACTIVE"}"#,
                ),
                row(
                    "u2",
                    "ben@ex.fr",
                    false,
                    "warn",
                    r#"{"activeFactorTypes":["sms"],"status":"ACTIVE"}"#,
                ),
            ],
        )
        .unwrap();
        apply_sync(
            &c,
            "okta",
            "okta",
            ts("2026-03-05T10:00:00Z"),
            None,
            &[row(
                "u1",
                "ann@ex.fr",
                true,
                "pass",
                r#"{"activeFactorTypes":["push"]}"#,
            )],
        )
        .unwrap();
        apply_sync(
            &c,
            "github",
            "github",
            ts("2026-03-01T08:00:00Z"),
            Some(true),
            &[row("7", "octo", false, "pass", r#"{"2fa_disabled":false}"#)],
        )
        .unwrap();
        record_failure(
            &c,
            "github",
            "github",
            ts("2026-03-02T08:00:00Z"),
            "HTTP 401: Bad credentials",
        )
        .unwrap();
        let zip = bundle(&c, &request());
        let entries = ordered(&zip);
        let get = |n: &str| {
            String::from_utf8(entries.iter().find(|e| e.0 == n).unwrap().1.clone()).unwrap()
        };
        let csv = get("identities.csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert_eq!(
            lines[1],
            "github,github,2026-03-01T08:00:00Z,last sync failed at 2026-03-02T08:00:00+00:00: HTTP 401: Bad credentials,7,octo,Name 7,member,false,pass,2026-03-01T08:00:00Z,\"{\"\"2fa_disabled\"\":false}\""
        );
        assert_eq!(
            lines[2],
            "okta,okta,2026-03-03T10:00:00Z,,u1,ann@ex.fr,Name u1,member,true,fail,2026-03-03T10:00:00Z,\"{\"\"activeFactorTypes\"\":[],\"\"status\"\":\"\"ACTIVE\"\"}\""
        );
        assert!(
            lines[3].starts_with("okta,okta,2026-03-03T10:00:00Z,,u2,ben@ex.fr,"),
            "{csv}"
        );
        assert!(
            !csv.contains("push"),
            "the 5 March sync is after the period"
        );
        let page = get("identities.html");
        assert!(
            page.contains(
                "Stale: last sync failed at 2026-03-02T08:00:00+00:00: HTTP 401: Bad credentials"
            ),
            "{page}"
        );
        assert!(
            page.contains("&quot;activeFactorTypes&quot;:[&quot;sms&quot;]"),
            "{page}"
        );

        // Signed: intact it verifies; one byte of identities.csv changed, it does not.
        let trusted = key().verifying_key();
        assert!(verify(Cursor::new(&zip), Some(&trusted))
            .unwrap()
            .is_valid());
        let mut t = entries.clone();
        let i = t.iter().position(|(n, _)| n == "identities.csv").unwrap();
        let at = t[i].1.windows(4).position(|w| w == b"fail").unwrap();
        t[i].1[at..at + 4].copy_from_slice(b"pass");
        let v = verify(Cursor::new(&rezip(&t)), Some(&trusted)).unwrap();
        assert!(!v.is_valid());
        assert_eq!(v.altered, ["identities.csv"]);
    }
}
