//! SQL of the identities read from identity providers and code hosts (`identity` module): the
//! current state of each account with its history (first seen, last seen, since when without a
//! second factor, status transitions), one row per sync attempt with its counts, and per source
//! the last good sync and the last error.
//!
//! A failed sync only records the failure: the accounts of the last good sync stay as they were.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::StoreError;

/// One identity as stored (and as handed to [`apply_sync`], whose history fields it ignores).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityRow {
    pub source: String,
    pub account_id: String,
    pub login: String,
    pub display_name: String,
    /// `member`, `guest`, `outside_collaborator`.
    pub kind: String,
    pub enabled: bool,
    pub admin: bool,
    /// `strong`, `weak_only`, `none`, `unknown`.
    pub mfa: String,
    pub enforced: Option<bool>,
    /// `pass`, `warn`, `fail`, `unknown`, `not_applicable`.
    pub status: String,
    /// JSON: the API fields that decided.
    pub evidence: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Since when the account has no second factor (status `fail`), else `None`.
    pub without_mfa_since: Option<i64>,
    /// Since when the account has its current status.
    pub status_since: i64,
}

/// Per source: the last attempt, the last good sync, the last error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRow {
    pub source: String,
    pub kind: String,
    pub last_attempt_at: i64,
    pub last_success_at: Option<i64>,
    /// The error of the last attempt, `None` when it succeeded.
    pub last_error: Option<String>,
    pub failures_total: i64,
    /// Source-wide MFA enforcement (GitHub), when known.
    pub enforced: Option<bool>,
}

/// Counts of one source's identities in its last good sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Active members judged (pass + warn + fail + unknown).
    pub active_members: i64,
    pub pass: i64,
    /// Members with weak factors only.
    pub weak_only: i64,
    /// Active members without a second factor (the KPI).
    pub without_mfa: i64,
    /// Members the provider said nothing about.
    pub unknown: i64,
    /// Admins among `without_mfa`.
    pub admins_without_mfa: i64,
    /// Active member accounts holding an admin role, and those of them with a strong second
    /// factor (CIS 6.5).
    pub admins: i64,
    pub admins_pass: i64,
    /// Active guests and outside collaborators, and those of them without a second factor.
    pub guests: i64,
    pub guests_without_mfa: i64,
    /// Disabled, suspended or service accounts.
    pub not_applicable: i64,
}

/// The history counts written for each sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRow {
    pub at: i64,
    pub ok: bool,
    pub error: Option<String>,
    pub total: i64,
    pub pass: i64,
    pub warn: i64,
    pub fail: i64,
    pub unknown: i64,
    pub not_applicable: i64,
    pub guests: i64,
}

/// A status change written by [`apply_sync`].
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub account_id: String,
    /// `None` the first time the account is seen.
    pub from: Option<String>,
    pub to: String,
}

/// Store a good sync of `source`: every account in `rows` becomes current (with a transition when
/// its status changed or it is new); accounts absent from `rows` stop being current. Returns the
/// transitions written.
pub fn apply_sync(
    conn: &Connection,
    source: &str,
    kind: &str,
    at: i64,
    enforced: Option<bool>,
    rows: &[IdentityRow],
) -> Result<Vec<Transition>, StoreError> {
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count() as i64;
    let guests = rows.iter().filter(|r| r.kind != "member").count() as i64;
    conn.execute(
        "INSERT INTO identity_syncs(source, at, ok, total, pass, warn, fail, unknown, not_applicable, guests)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            source,
            at,
            rows.len() as i64,
            count("pass"),
            count("warn"),
            count("fail"),
            count("unknown"),
            count("not_applicable"),
            guests
        ],
    )?;
    let sync_id = conn.last_insert_rowid();
    let mut prev = conn.prepare_cached(
        "SELECT status, without_mfa_since, status_since FROM identities WHERE source = ?1 AND account_id = ?2",
    )?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO identities(source, account_id, login, display_name, kind, enabled, admin, mfa,
            enforced, status, evidence, first_seen, last_seen, last_sync_id, without_mfa_since, status_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15)
         ON CONFLICT(source, account_id) DO UPDATE SET login = excluded.login,
            display_name = excluded.display_name, kind = excluded.kind, enabled = excluded.enabled,
            admin = excluded.admin, mfa = excluded.mfa, enforced = excluded.enforced,
            status = excluded.status, evidence = excluded.evidence, last_seen = excluded.last_seen,
            last_sync_id = excluded.last_sync_id, without_mfa_since = excluded.without_mfa_since,
            status_since = excluded.status_since",
    )?;
    let mut transition = conn.prepare_cached(
        "INSERT INTO identity_transitions(source, account_id, from_status, to_status, at, evidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut transitions = Vec::new();
    for r in rows {
        let before: Option<(String, Option<i64>, i64)> = prev
            .query_row(params![source, r.account_id], |x| {
                Ok((x.get(0)?, x.get(1)?, x.get(2)?))
            })
            .optional()?;
        let changed = before.as_ref().map(|b| b.0 != r.status).unwrap_or(true);
        let status_since = match &before {
            Some((_, _, since)) if !changed => *since,
            _ => at,
        };
        let without_mfa_since = if r.status == "fail" {
            Some(before.as_ref().and_then(|b| b.1).unwrap_or(at))
        } else {
            None
        };
        upsert.execute(params![
            source,
            r.account_id,
            r.login,
            r.display_name,
            r.kind,
            r.enabled,
            r.admin,
            r.mfa,
            r.enforced,
            r.status,
            r.evidence,
            at,
            sync_id,
            without_mfa_since,
            status_since
        ])?;
        if changed {
            let from = before.map(|b| b.0);
            transition.execute(params![
                source,
                r.account_id,
                from,
                r.status,
                at,
                r.evidence
            ])?;
            transitions.push(Transition {
                account_id: r.account_id.clone(),
                from,
                to: r.status.clone(),
            });
        }
    }
    conn.execute(
        "INSERT INTO identity_sources(source, kind, last_attempt_at, last_success_at, last_sync_id, last_error, enforced)
         VALUES (?1, ?2, ?3, ?3, ?4, NULL, ?5)
         ON CONFLICT(source) DO UPDATE SET kind = excluded.kind,
            last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at,
            last_sync_id = excluded.last_sync_id, last_error = NULL, enforced = excluded.enforced",
        params![source, kind, at, sync_id, enforced],
    )?;
    Ok(transitions)
}

/// Record a failed sync of `source`: the accounts and the last good sync stay untouched.
pub fn record_failure(
    conn: &Connection,
    source: &str,
    kind: &str,
    at: i64,
    error: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO identity_syncs(source, at, ok, error) VALUES (?1, ?2, 0, ?3)",
        params![source, at, error],
    )?;
    conn.execute(
        "INSERT INTO identity_sources(source, kind, last_attempt_at, last_error, failures_total)
         VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT(source) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,
            last_error = excluded.last_error, failures_total = failures_total + 1",
        params![source, kind, at, error],
    )?;
    Ok(())
}

/// Every source ever synced, by name.
pub fn sources(conn: &Connection) -> Result<Vec<SourceRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT source, kind, last_attempt_at, last_success_at, last_error, failures_total, enforced
         FROM identity_sources ORDER BY source",
    )?;
    let rows = st.query_map([], |r| {
        Ok(SourceRow {
            source: r.get(0)?,
            kind: r.get(1)?,
            last_attempt_at: r.get(2)?,
            last_success_at: r.get(3)?,
            last_error: r.get(4)?,
            failures_total: r.get(5)?,
            enforced: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The accounts of each source's last good sync (of `source` only, if given), optionally only
/// those without a second factor (status `fail`), by source and login.
pub fn current(
    conn: &Connection,
    source: Option<&str>,
    without_mfa: bool,
) -> Result<Vec<IdentityRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT i.source, i.account_id, i.login, i.display_name, i.kind, i.enabled, i.admin, i.mfa,
            i.enforced, i.status, i.evidence, i.first_seen, i.last_seen, i.without_mfa_since,
            i.status_since
         FROM identities i JOIN identity_sources s
           ON s.source = i.source AND s.last_sync_id = i.last_sync_id
         WHERE (?1 IS NULL OR i.source = ?1) AND (?2 = 0 OR i.status = 'fail')
         ORDER BY i.source, i.login, i.account_id",
    )?;
    let rows = st.query_map(params![source, without_mfa], |r| {
        Ok(IdentityRow {
            source: r.get(0)?,
            account_id: r.get(1)?,
            login: r.get(2)?,
            display_name: r.get(3)?,
            kind: r.get(4)?,
            enabled: r.get(5)?,
            admin: r.get(6)?,
            mfa: r.get(7)?,
            enforced: r.get(8)?,
            status: r.get(9)?,
            evidence: r.get(10)?,
            first_seen: r.get(11)?,
            last_seen: r.get(12)?,
            without_mfa_since: r.get(13)?,
            status_since: r.get(14)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The counts of `source`'s last good sync (all zero if it never had one).
pub fn counts(conn: &Connection, source: &str) -> Result<Counts, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT i.kind = 'member' AS m, i.status, i.admin, count(*)
         FROM identities i JOIN identity_sources s
           ON s.source = i.source AND s.last_sync_id = i.last_sync_id
         WHERE i.source = ?1 GROUP BY 1, 2, 3",
    )?;
    let mut c = Counts::default();
    let rows = st.query_map(params![source], |r| {
        Ok((
            r.get::<_, bool>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (member, status, admin, n) = row?;
        match (member, status.as_str()) {
            (_, "not_applicable") => c.not_applicable += n,
            (true, s) => {
                c.active_members += n;
                if admin {
                    c.admins += n;
                    if s == "pass" {
                        c.admins_pass += n;
                    }
                }
                match s {
                    "pass" => c.pass += n,
                    "warn" => c.weak_only += n,
                    "fail" => {
                        c.without_mfa += n;
                        if admin {
                            c.admins_without_mfa += n;
                        }
                    }
                    _ => c.unknown += n,
                }
            }
            (false, s) => {
                c.guests += n;
                if s == "fail" {
                    c.guests_without_mfa += n;
                }
            }
        }
    }
    Ok(c)
}

/// Every stored source with the counts of its last good sync.
pub fn snapshot(conn: &Connection) -> Result<Vec<(SourceRow, Counts)>, StoreError> {
    sources(conn)?
        .into_iter()
        .map(|s| {
            let c = counts(conn, &s.source)?;
            Ok((s, c))
        })
        .collect()
}

/// The sync history of `source`, newest first, at most `limit` rows.
pub fn syncs(conn: &Connection, source: &str, limit: i64) -> Result<Vec<SyncRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT at, ok, error, total, pass, warn, fail, unknown, not_applicable, guests
         FROM identity_syncs WHERE source = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![source, limit], |r| {
        Ok(SyncRow {
            at: r.get(0)?,
            ok: r.get(1)?,
            error: r.get(2)?,
            total: r.get(3)?,
            pass: r.get(4)?,
            warn: r.get(5)?,
            fail: r.get(6)?,
            unknown: r.get(7)?,
            not_applicable: r.get(8)?,
            guests: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Status transitions of one account, oldest first: `(from, to, at)`.
pub fn transitions(
    conn: &Connection,
    source: &str,
    account_id: &str,
) -> Result<Vec<(Option<String>, String, i64)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT from_status, to_status, at FROM identity_transitions
         WHERE source = ?1 AND account_id = ?2 ORDER BY at, id",
    )?;
    let rows = st.query_map(params![source, account_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The accounts of `source` as they stood at time `at` (Unix seconds): each account first seen at
/// or before `at` and seen again at or after it, with the status (and evidence, and since when)
/// of its last transition at or before `at`. Login, display name, kind and admin flag are the
/// latest known (they are not kept per sync). Used for past months (report, evidence).
pub fn state_at(conn: &Connection, source: &str, at: i64) -> Result<Vec<IdentityRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT i.source, i.account_id, i.login, i.display_name, i.kind, i.enabled, i.admin, i.mfa,
            i.enforced, t.to_status, t.evidence, i.first_seen, i.last_seen, t.at
         FROM identities i JOIN identity_transitions t ON t.id = (
             SELECT t2.id FROM identity_transitions t2
             WHERE t2.source = i.source AND t2.account_id = i.account_id AND t2.at <= ?2
             ORDER BY t2.at DESC, t2.id DESC LIMIT 1)
         WHERE i.source = ?1 AND i.first_seen <= ?2 AND i.last_seen >= ?2
         ORDER BY i.login, i.account_id",
    )?;
    let rows = st.query_map(params![source, at], |r| {
        let status: String = r.get(9)?;
        let since: i64 = r.get(13)?;
        Ok(IdentityRow {
            source: r.get(0)?,
            account_id: r.get(1)?,
            login: r.get(2)?,
            display_name: r.get(3)?,
            kind: r.get(4)?,
            enabled: r.get(5)?,
            admin: r.get(6)?,
            mfa: r.get(7)?,
            enforced: r.get(8)?,
            without_mfa_since: (status == "fail").then_some(since),
            status,
            evidence: r.get(10)?,
            first_seen: r.get(11)?,
            last_seen: r.get(12)?,
            status_since: since,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The sync attempts of `source` with `from <= at < to`, oldest first.
pub fn syncs_between(
    conn: &Connection,
    source: &str,
    from: i64,
    to: i64,
) -> Result<Vec<SyncRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT at, ok, error, total, pass, warn, fail, unknown, not_applicable, guests
         FROM identity_syncs WHERE source = ?1 AND at >= ?2 AND at < ?3 ORDER BY at, id",
    )?;
    let rows = st.query_map(params![source, from, to], |r| {
        Ok(SyncRow {
            at: r.get(0)?,
            ok: r.get(1)?,
            error: r.get(2)?,
            total: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
            pass: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            warn: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
            fail: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
            unknown: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
            not_applicable: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            guests: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The last attempt (good or not) of `source` before `to`, and the time of its last good sync
/// before `to`.
pub fn last_before(
    conn: &Connection,
    source: &str,
    to: i64,
) -> Result<(Option<SyncRow>, Option<i64>), StoreError> {
    let last = syncs_between(conn, source, i64::MIN, to)?.pop();
    let good: Option<i64> = conn
        .query_row(
            "SELECT max(at) FROM identity_syncs WHERE source = ?1 AND ok = 1 AND at < ?2",
            params![source, to],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok((last, good))
}

/// Test accounts `{prefix}0…`, enabled members: the first `pass` pass, the rest fail; the last
/// `admins` are admins (shared by the CIS and fleet-risk tests).
#[cfg(test)]
pub(crate) fn test_rows(prefix: &str, n: usize, pass: usize, admins: usize) -> Vec<IdentityRow> {
    (0..n)
        .map(|i| IdentityRow {
            source: String::new(),
            account_id: format!("{prefix}{i}"),
            login: format!("{prefix}{i}@ex.fr"),
            display_name: String::new(),
            kind: "member".into(),
            enabled: true,
            admin: i >= n - admins,
            mfa: String::new(),
            enforced: None,
            status: if i < pass { "pass" } else { "fail" }.into(),
            evidence: "{}".into(),
            first_seen: 0,
            last_seen: 0,
            without_mfa_since: None,
            status_since: 0,
        })
        .collect()
}
