//! Hosts: enrolment (node keys) and the read side — current state per check, history, staleness.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use vigie_checks::wire::HostIdentity;

use super::StoreError;

/// Result of an enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// Enrolled (new machine) or re-enrolled (its key rotated).
    Enrolled {
        host_id: i64,
        /// The hash of the key this enrolment replaced (re-enrolment rotates the key).
        replaced_key_hash: Option<Vec<u8>>,
        /// A repeat of the host's enrolment with the same nonce within the retry window: the
        /// agent never received the first answer, so the key it replaced was never used.
        repeated: bool,
    },
    /// The machine is already enrolled and the request proved no right to take it over.
    AlreadyEnrolled { host_id: i64 },
}

impl Enrolment {
    /// The host concerned, whatever the outcome.
    #[cfg(test)]
    pub fn host_id(&self) -> i64 {
        match self {
            Enrolment::Enrolled { host_id, .. } | Enrolment::AlreadyEnrolled { host_id } => {
                *host_id
            }
        }
    }
}

/// The enrolment nonce an agent sent, as stored: its SHA-256, and how long a repeat of the
/// enrolment that used it is honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceClaim {
    pub hash: Vec<u8>,
    pub retry_window_s: i64,
}

/// Enrol `host` with a new node key hash, without an enrolment nonce (see [`enroll_with`]).
#[cfg(test)]
pub fn enroll(
    conn: &Connection,
    host: &HostIdentity,
    key_hash: &[u8],
    interval: Option<u64>,
    authorised: bool,
    now: i64,
) -> Result<Enrolment, StoreError> {
    enroll_with(conn, host, key_hash, interval, authorised, None, now)
}

/// Enrol `host` with a new node key hash. Re-enrolling a machine-id that is already enrolled
/// rotates its key, but only when `authorised` (the caller presented that host's current node key
/// or an admin token), when an admin allowed it (`allow_reenroll`, consumed here), or when the
/// request repeats the enrolment that set the host's key, with the same nonce, within the retry
/// window counted from that enrolment (an agent that lost the answer; the key it replaces was never
/// delivered). The shared enrol secret alone must not let one machine take over another's identity.
pub fn enroll_with(
    conn: &Connection,
    host: &HostIdentity,
    key_hash: &[u8],
    interval: Option<u64>,
    authorised: bool,
    nonce: Option<&NonceClaim>,
    now: i64,
) -> Result<Enrolment, StoreError> {
    type Row = (
        i64,
        Vec<u8>,
        Option<i64>,
        Option<Vec<u8>>,
        Option<i64>,
        Option<i64>,
    );
    let existing: Option<Row> = conn
        .query_row(
            "SELECT id, node_key_hash, reenroll_until, enroll_nonce_hash, enroll_nonce_at,
                last_seen_at
             FROM hosts WHERE machine_id = ?1",
            params![host.machine_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let nonce_hash = nonce.map(|n| n.hash.as_slice());
    match existing {
        Some((id, old, until, stored_nonce, nonce_at, last_seen)) => {
            // A report since that enrolment proves the agent received its key: no repeat then.
            let repeated = match (nonce, stored_nonce, nonce_at) {
                (Some(n), Some(stored), Some(at)) => {
                    stored == n.hash
                        && (0..=n.retry_window_s).contains(&(now - at))
                        && last_seen.is_none_or(|seen| seen < at)
                }
                _ => false,
            };
            let allowed = until.is_some_and(|u| u >= now);
            if !(authorised || allowed || repeated) {
                return Ok(Enrolment::AlreadyEnrolled { host_id: id });
            }
            // A repeat keeps the original nonce time, so retries cannot stretch the window.
            conn.execute(
                "UPDATE hosts SET node_key_hash = ?2, key_rotated_at = ?3, hostname = ?4,
                    os = ?5, os_version = ?6, kernel = ?7, arch = ?8,
                    interval_s = COALESCE(?9, interval_s), reenroll_until = NULL,
                    enroll_nonce_hash = ?10,
                    enroll_nonce_at = CASE WHEN ?11 THEN enroll_nonce_at
                                           WHEN ?10 IS NULL THEN NULL ELSE ?3 END
                 WHERE id = ?1",
                params![
                    id,
                    key_hash,
                    now,
                    host.hostname,
                    host.os,
                    host.os_version,
                    host.kernel,
                    host.arch,
                    interval.map(|i| i as i64),
                    nonce_hash,
                    repeated
                ],
            )?;
            Ok(Enrolment::Enrolled {
                host_id: id,
                replaced_key_hash: Some(old),
                repeated,
            })
        }
        None => {
            conn.execute(
                "INSERT INTO hosts(machine_id, hostname, os, os_version, kernel, arch, node_key_hash,
                    enrolled_at, interval_s, enroll_nonce_hash, enroll_nonce_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, CASE WHEN ?10 IS NULL THEN NULL ELSE ?8 END)",
                params![
                    host.machine_id,
                    host.hostname,
                    host.os,
                    host.os_version,
                    host.kernel,
                    host.arch,
                    key_hash,
                    now,
                    interval.map(|i| i as i64),
                    nonce_hash
                ],
            )?;
            Ok(Enrolment::Enrolled {
                host_id: conn.last_insert_rowid(),
                replaced_key_hash: None,
                repeated: false,
            })
        }
    }
}

/// Allow one re-enrolment of host `id` until `until` (an agent that lost its node key, a
/// reinstalled machine). Returns false when the host does not exist.
pub fn allow_reenroll(conn: &Connection, id: i64, until: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE hosts SET reenroll_until = ?2 WHERE id = ?1",
        params![id, until],
    )? == 1)
}

/// Every (node key hash, host id, machine id), to fill the authentication cache at start.
pub fn all_keys(conn: &Connection) -> Result<Vec<(Vec<u8>, i64, String)>, StoreError> {
    let mut st = conn.prepare("SELECT node_key_hash, id, machine_id FROM hosts")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How a host is doing as a reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Reported within its staleness window.
    Reporting,
    /// Silent for longer than `stale_after_intervals` × its interval.
    Stale,
    /// Enrolled but never reported.
    #[serde(rename = "never_reported")]
    Never,
}

/// How staleness is judged.
#[derive(Debug, Clone, Copy)]
pub struct Staleness {
    pub now: i64,
    pub after_intervals: u32,
    pub default_interval: u64,
}

impl HostState {
    /// The name in the API, the metrics and the filters.
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Reporting => "reporting",
            HostState::Stale => "stale",
            HostState::Never => "never_reported",
        }
    }

    /// Every state, in the order of the docs.
    pub const ALL: [HostState; 3] = [HostState::Reporting, HostState::Stale, HostState::Never];
}

impl Staleness {
    /// The fleet section's rule at `now` (Unix seconds).
    pub fn from_config(fleet: &crate::config::FleetSection, now: i64) -> Staleness {
        Staleness {
            now,
            after_intervals: fleet.stale_after_intervals,
            default_interval: fleet.default_interval_seconds,
        }
    }

    /// The same rule as [`Staleness::state`] as an SQL predicate on hosts aliased `h`: true for a
    /// host that reported and has been silent too long. It uses parameters ?1, ?2, ?3, bound by
    /// [`Staleness::params`]; every query judging staleness uses this one fragment.
    pub const STALE_SQL: &'static str = "(h.last_seen_at IS NOT NULL AND \
        ?1 - h.last_seen_at > max(COALESCE(h.interval_s, ?2), 1) * ?3)";

    /// The values of ?1 (now), ?2 (default interval) and ?3 (intervals before stale).
    pub fn params(&self) -> [i64; 3] {
        [
            self.now,
            self.default_interval as i64,
            i64::from(self.after_intervals),
        ]
    }

    /// State of a host last seen at `last_seen` with announced interval `interval`.
    pub fn state(&self, last_seen: Option<i64>, interval: Option<i64>) -> HostState {
        match last_seen {
            None => HostState::Never,
            Some(seen) => {
                let interval = interval.unwrap_or(self.default_interval as i64).max(1);
                if self.now - seen > interval * self.after_intervals as i64 {
                    HostState::Stale
                } else {
                    HostState::Reporting
                }
            }
        }
    }
}

/// A host in the fleet list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostSummary {
    pub id: i64,
    pub hostname: String,
    pub machine_id: String,
    pub os: String,
    pub os_version: String,
    pub state: HostState,
    pub enrolled_at: String,
    pub last_seen_at: Option<String>,
    pub last_report_at: Option<String>,
    pub lost_reports: i64,
    /// Number of checks per measured status in the host's current state.
    pub checks: std::collections::BTreeMap<String, i64>,
    /// The same counts after exceptions: a `fail`/`warn` covered by an exception in force counts
    /// under `excepted` (the rule every view uses, `store::exceptions::InForce`).
    pub effective_checks: std::collections::BTreeMap<String, i64>,
}

/// One check's current state on a host.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckState {
    pub check: String,
    /// The status the agent measured.
    pub status: String,
    /// What it counts as: `excepted` when an exception in force covers a `fail`/`warn`, else
    /// `status`.
    pub effective_status: String,
    /// The exception in force behind `excepted`.
    pub exception_id: Option<i64>,
    pub summary: String,
    pub facts: serde_json::Value,
    pub evidence: Vec<EvidenceRow>,
    pub since: String,
    pub updated_at: String,
}

/// Stored evidence.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceRow {
    pub sha256: String,
    pub kind: String,
    pub source: String,
    pub excerpt: String,
}

/// A host with its current state per check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostDetail {
    #[serde(flatten)]
    pub host: HostSummary,
    pub kernel: String,
    pub arch: String,
    pub interval_seconds: Option<i64>,
    pub current: Vec<CheckState>,
}

/// A status change of one check on one host.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Transition {
    pub check: String,
    pub from: Option<String>,
    pub to: String,
    pub at: String,
    pub report_id: String,
    pub summary: String,
}

/// RFC 3339 from Unix seconds.
pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

const HOST_COLUMNS: &str = "id, hostname, machine_id, os, os_version, enrolled_at, last_seen_at, \
    last_report_at, lost_reports, interval_s, kernel, arch";

fn host_from_row(
    r: &rusqlite::Row,
    st: &Staleness,
) -> rusqlite::Result<(HostSummary, String, String, Option<i64>)> {
    let last_seen: Option<i64> = r.get(6)?;
    let interval: Option<i64> = r.get(9)?;
    Ok((
        HostSummary {
            id: r.get(0)?,
            hostname: r.get(1)?,
            machine_id: r.get(2)?,
            os: r.get(3)?,
            os_version: r.get(4)?,
            state: st.state(last_seen, interval),
            enrolled_at: rfc3339(r.get(5)?),
            last_seen_at: last_seen.map(rfc3339),
            last_report_at: r.get::<_, Option<i64>>(7)?.map(rfc3339),
            lost_reports: r.get(8)?,
            checks: Default::default(),
            effective_checks: Default::default(),
        },
        r.get(10)?,
        r.get(11)?,
        interval,
    ))
}

/// Which hosts a listing keeps; an empty list means "any".
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    /// Reporter states.
    pub state: Vec<HostState>,
    /// Exact OS names (`debian`, `windows` …).
    pub os: Vec<String>,
    /// Hosts that report this check (with `status`: that check in one of those statuses).
    pub check: Option<String>,
    /// Measured statuses: hosts with at least one check (or `check`) in one of them.
    pub status: Vec<String>,
    /// Hostname globs of a `[[hosts.groups]]` entry (case-insensitive, `risk::glob_matches`).
    pub group_globs: Option<Vec<String>>,
}

/// The filters of a host listing as given in a query string or on the command line, each a
/// comma-separated list of alternatives.
#[derive(Debug, Clone, Default)]
pub struct HostFilterArgs<'a> {
    pub state: Option<&'a str>,
    pub os: Option<&'a str>,
    pub check: Option<&'a str>,
    pub status: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl HostFilter {
    /// Judge the raw filters; the error names the parameter and the accepted values.
    pub fn parse(
        args: &HostFilterArgs,
        groups: &[crate::risk::config::HostGroup],
    ) -> Result<HostFilter, String> {
        fn items(v: Option<&str>) -> Vec<&str> {
            v.map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        }
        let mut f = HostFilter::default();
        for s in items(args.state) {
            let st = HostState::ALL
                .into_iter()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| {
                    format!("state: {s:?} is not one of reporting, stale, never_reported")
                })?;
            f.state.push(st);
        }
        f.os = items(args.os).into_iter().map(str::to_string).collect();
        if let Some(c) = args.check.map(str::trim).filter(|c| !c.is_empty()) {
            if vigie_checks::find(c).is_none() {
                return Err(format!("check: unknown check {c:?}"));
            }
            f.check = Some(c.to_string());
        }
        for s in items(args.status) {
            if !vigie_checks::Status::ALL.iter().any(|k| k.as_str() == s) {
                return Err(format!(
                    "status: {s:?} is not one of pass, warn, fail, error, not_applicable"
                ));
            }
            f.status.push(s.to_string());
        }
        if let Some(g) = args.group.map(str::trim).filter(|g| !g.is_empty()) {
            let group = groups
                .iter()
                .find(|k| k.name == g)
                .ok_or_else(|| format!("group: no [[hosts.groups]] entry is named {g:?}"))?;
            f.group_globs = Some(group.hostnames.clone());
        }
        Ok(f)
    }
}

/// Where a page of hosts ends: the sort key of its last host. Opaque to clients
/// ([`HostCursor::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCursor {
    pub hostname: String,
    pub id: i64,
}

impl HostCursor {
    /// The cursor as clients see it: `h1.` and the hex of `<id>:<hostname>`.
    pub fn encode(&self) -> String {
        format!(
            "h1.{}",
            hex::encode(format!("{}:{}", self.id, self.hostname))
        )
    }

    /// Read back a cursor from [`HostCursor::encode`]; `None` when it is not one.
    pub fn decode(s: &str) -> Option<HostCursor> {
        let raw = hex::decode(s.strip_prefix("h1.")?).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, hostname) = text.split_once(':')?;
        Some(HostCursor {
            hostname: hostname.to_string(),
            id: id.parse().ok()?,
        })
    }
}

/// One page of hosts and the cursor of the next page (`None` on the last page).
#[derive(Debug, Clone)]
pub struct HostPage {
    pub hosts: Vec<HostSummary>,
    pub next: Option<HostCursor>,
}

/// The hosts after `after` (in hostname, id order) that pass `filter`, at most `limit` of them,
/// with their status counts. Keyset pagination on the `hosts_by_hostname` index: the rows are
/// streamed in order and the scan stops at `limit` + 1 matches, so a page costs the same at host
/// 10 and at host 100,000 and the whole fleet is never held in memory.
pub fn list_hosts_page(
    conn: &Connection,
    st: &Staleness,
    filter: &HostFilter,
    after: Option<&HostCursor>,
    limit: usize,
) -> Result<HostPage, StoreError> {
    use rusqlite::types::Value;
    // ?1..?3 are the staleness rule's; the rest are numbered as they are pushed.
    let mut args: Vec<Value> = st.params().iter().map(|v| Value::Integer(*v)).collect();
    let bind = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    let mut clauses: Vec<String> = Vec::new();
    if let Some(c) = after {
        let h = bind(Value::Text(c.hostname.clone()), &mut args);
        let i = bind(Value::Integer(c.id), &mut args);
        clauses.push(format!("(h.hostname, h.id) > ({h}, {i})"));
    }
    if !filter.state.is_empty() && filter.state.len() < HostState::ALL.len() {
        let stale = Staleness::STALE_SQL;
        let parts: Vec<String> = filter
            .state
            .iter()
            .map(|s| match s {
                HostState::Never => "h.last_seen_at IS NULL".to_string(),
                HostState::Stale => stale.to_string(),
                HostState::Reporting => format!("(h.last_seen_at IS NOT NULL AND NOT {stale})"),
            })
            .collect();
        clauses.push(format!("({})", parts.join(" OR ")));
    }
    if !filter.os.is_empty() {
        let names: Vec<String> = filter
            .os
            .iter()
            .map(|o| bind(Value::Text(o.clone()), &mut args))
            .collect();
        clauses.push(format!("h.os IN ({})", names.join(", ")));
    }
    if filter.check.is_some() || !filter.status.is_empty() {
        let mut inner = vec!["cs.host_id = h.id".to_string()];
        if let Some(c) = &filter.check {
            inner.push(format!(
                "cs.check_name = {}",
                bind(Value::Text(c.clone()), &mut args)
            ));
        }
        if !filter.status.is_empty() {
            let names: Vec<String> = filter
                .status
                .iter()
                .map(|s| bind(Value::Text(s.clone()), &mut args))
                .collect();
            inner.push(format!("cs.status IN ({})", names.join(", ")));
        }
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM check_state cs WHERE {})",
            inner.join(" AND ")
        ));
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    // Without a group filter SQL can stop at limit + 1; with one the glob is judged here, on
    // the streamed rows, by the same rule as everywhere else (case-insensitive globs).
    let sql_limit = if filter.group_globs.is_some() {
        String::new()
    } else {
        format!("LIMIT {}", limit + 1)
    };
    if !filter_sql.contains('?') {
        // SQLite counts the parameters a statement names; the staleness rule's are then unused.
        args.clear();
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {HOST_COLUMNS} FROM hosts h {filter_sql} ORDER BY h.hostname, h.id {sql_limit}"
    ))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut hosts: Vec<HostSummary> = Vec::with_capacity(limit.min(1024) + 1);
    while let Some(r) = rows.next()? {
        let h = host_from_row(r, st)?.0;
        if let Some(globs) = &filter.group_globs {
            if !globs
                .iter()
                .any(|g| crate::risk::glob_matches(g, &h.hostname))
            {
                continue;
            }
        }
        hosts.push(h);
        if hosts.len() > limit {
            break;
        }
    }
    let next = if hosts.len() > limit {
        hosts.truncate(limit);
        hosts.last().map(|h| HostCursor {
            hostname: h.hostname.clone(),
            id: h.id,
        })
    } else {
        None
    };
    count_statuses(conn, st, &mut hosts)?;
    Ok(HostPage { hosts, next })
}

/// Fill `checks` and `effective_checks` of these hosts (one page: their ids are bound).
fn count_statuses(
    conn: &Connection,
    st: &Staleness,
    hosts: &mut [HostSummary],
) -> Result<(), StoreError> {
    if hosts.is_empty() {
        return Ok(());
    }
    let index: std::collections::HashMap<i64, usize> =
        hosts.iter().enumerate().map(|(i, h)| (h.id, i)).collect();
    let id_list: Vec<i64> = hosts.iter().map(|h| h.id).collect();
    let ids = || rusqlite::params_from_iter(id_list.iter());
    let marks = vec!["?"; hosts.len()].join(", ");
    let mut counts = conn.prepare(&format!(
        "SELECT host_id, status, count(*) FROM check_state WHERE host_id IN ({marks})
         GROUP BY host_id, status"
    ))?;
    let found: Vec<(i64, String, i64)> = counts
        .query_map(ids(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (h, s, n) in found {
        if let Some(i) = index.get(&h) {
            hosts[*i].checks.insert(s, n);
        }
    }
    for h in hosts.iter_mut() {
        h.effective_checks = h.checks.clone();
    }
    let rule = super::exceptions::InForce::load(conn, st.now)?;
    if rule.is_empty() {
        return Ok(());
    }
    let mut q = conn.prepare(&format!(
        "SELECT host_id, check_name, status FROM check_state
         WHERE host_id IN ({marks}) AND status IN ('fail', 'warn')"
    ))?;
    let failing: Vec<(i64, String, String)> = q
        .query_map(ids(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, check, status) in failing {
        let Some(h) = index.get(&id).map(|i| &mut hosts[*i]) else {
            continue;
        };
        if rule
            .effective(&h.hostname, &check, &status)
            .exception_id()
            .is_some()
        {
            if let Some(n) = h.effective_checks.get_mut(&status) {
                *n -= 1;
            }
            *h.effective_checks.entry("excepted".into()).or_default() += 1;
        }
    }
    for h in hosts.iter_mut() {
        h.effective_checks.retain(|_, n| *n > 0);
    }
    Ok(())
}

/// One host with its current state per check, or `None`.
pub fn host_detail(
    conn: &Connection,
    id: i64,
    st: &Staleness,
) -> Result<Option<HostDetail>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {HOST_COLUMNS} FROM hosts WHERE id = ?1"),
            params![id],
            |r| host_from_row(r, st),
        )
        .optional()?;
    let Some((mut host, kernel, arch, interval)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT check_name, status, summary, facts, evidence, since, updated_at
         FROM check_state WHERE host_id = ?1 ORDER BY check_name",
    )?;
    let raw: Vec<(String, String, String, String, String, i64, i64)> = stmt
        .query_map(params![id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut ev_stmt =
        conn.prepare_cached("SELECT kind, source, excerpt FROM evidence WHERE sha256 = ?1")?;
    let rule = super::exceptions::InForce::load(conn, st.now)?;
    let mut current = Vec::new();
    for (check, status, summary, facts, evidence, since, updated) in raw {
        *host.checks.entry(status.clone()).or_default() += 1;
        let effective = rule.effective(&host.hostname, &check, &status);
        *host
            .effective_checks
            .entry(effective.as_str().to_string())
            .or_default() += 1;
        let shas: Vec<String> = serde_json::from_str(&evidence).unwrap_or_default();
        let mut rows = Vec::new();
        for sha in shas {
            if let Some((kind, source, excerpt)) = ev_stmt
                .query_row(params![sha], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?
            {
                rows.push(EvidenceRow {
                    sha256: sha,
                    kind,
                    source,
                    excerpt,
                });
            }
        }
        current.push(CheckState {
            check,
            effective_status: effective.as_str().to_string(),
            exception_id: effective.exception_id(),
            status,
            summary,
            facts: serde_json::from_str(&facts).unwrap_or(serde_json::Value::Null),
            evidence: rows,
            since: rfc3339(since),
            updated_at: rfc3339(updated),
        });
    }
    Ok(Some(HostDetail {
        host,
        kernel,
        arch,
        interval_seconds: interval,
        current,
    }))
}

/// Where a transition sorts in a host's history: its time and row id.
pub type TransitionKey = (i64, i64);

/// Status changes of a host, oldest first, optionally for one check: at most `limit` after the
/// transition `after` (its time and row id, from the previous page), and the key of the last one
/// when more follow. Keyset on the `transitions_by_host` index.
pub fn history(
    conn: &Connection,
    id: i64,
    check: Option<&str>,
    after: Option<TransitionKey>,
    limit: i64,
) -> Result<(Vec<Transition>, Option<TransitionKey>), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT check_name, from_status, to_status, at, report_id, summary, id FROM transitions
         WHERE host_id = ?1 AND (?2 IS NULL OR check_name = ?2)
           AND (?4 IS NULL OR (at, id) > (?4, ?5))
         ORDER BY at, id LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            id,
            check,
            limit.saturating_add(1),
            after.map(|a| a.0),
            after.map(|a| a.1)
        ],
        |r| {
            let at: i64 = r.get(3)?;
            Ok((
                Transition {
                    check: r.get(0)?,
                    from: r.get(1)?,
                    to: r.get(2)?,
                    at: rfc3339(at),
                    report_id: r.get(4)?,
                    summary: r.get(5)?,
                },
                (at, r.get::<_, i64>(6)?),
            ))
        },
    )?;
    let mut out: Vec<(Transition, TransitionKey)> = rows.collect::<Result<_, _>>()?;
    let next = if out.len() as i64 > limit {
        out.truncate(limit.max(0) as usize);
        out.last().map(|(_, k)| *k)
    } else {
        None
    };
    Ok((out.into_iter().map(|(t, _)| t).collect(), next))
}

/// Whether a host exists.
pub fn host_exists(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM hosts WHERE id = ?1", params![id], |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod enrolment_tests {
    use super::*;

    fn host(machine_id: &str) -> HostIdentity {
        HostIdentity {
            hostname: "h".into(),
            machine_id: machine_id.into(),
            os: "debian".into(),
            os_version: "12".into(),
            kernel: "6.1".into(),
            arch: "x86_64".into(),
        }
    }

    fn claim(nonce: &str) -> NonceClaim {
        NonceClaim {
            hash: crate::auth::hash_secret(nonce),
            retry_window_s: 900,
        }
    }

    /// The same nonce within 900 s of the first enrolment repeats it (even twice, the window
    /// still counted from the first); another nonce, none, a report in between or the window
    /// passed do not.
    #[test]
    fn a_repeat_needs_the_same_nonce_within_the_window_and_no_report_since() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        let h = host("m1");
        let n = claim("nonce-1");
        let e = enroll_with(&c, &h, b"k1", None, false, Some(&n), 1_000).unwrap();
        assert!(matches!(
            e,
            Enrolment::Enrolled {
                repeated: false,
                replaced_key_hash: None,
                ..
            }
        ));
        let e = enroll_with(&c, &h, b"k2", None, false, Some(&n), 1_500).unwrap();
        assert_eq!(
            e,
            Enrolment::Enrolled {
                host_id: 1,
                replaced_key_hash: Some(b"k1".to_vec()),
                repeated: true
            }
        );
        let e = enroll_with(&c, &h, b"k3", None, false, Some(&n), 1_900).unwrap();
        assert!(
            matches!(e, Enrolment::Enrolled { repeated: true, .. }),
            "{e:?}"
        );
        let e = enroll_with(&c, &h, b"k4", None, false, Some(&n), 1_901).unwrap();
        assert_eq!(
            e,
            Enrolment::AlreadyEnrolled { host_id: 1 },
            "window from the first"
        );
        let e = enroll_with(&c, &h, b"k4", None, false, Some(&claim("other")), 1_100).unwrap();
        assert_eq!(e, Enrolment::AlreadyEnrolled { host_id: 1 });
        let e = enroll_with(&c, &h, b"k4", None, false, None, 1_100).unwrap();
        assert_eq!(e, Enrolment::AlreadyEnrolled { host_id: 1 });

        let h2 = host("m2");
        enroll_with(&c, &h2, b"j1", None, false, Some(&n), 2_000).unwrap();
        c.execute(
            "UPDATE hosts SET last_seen_at = 2010 WHERE machine_id = 'm2'",
            [],
        )
        .unwrap();
        let e = enroll_with(&c, &h2, b"j2", None, false, Some(&n), 2_020).unwrap();
        assert_eq!(
            e,
            Enrolment::AlreadyEnrolled { host_id: 2 },
            "reported since"
        );
        // An authorised re-enrolment with a new nonce starts a new window for that nonce.
        let m = claim("nonce-2");
        enroll_with(&c, &h2, b"j3", None, true, Some(&m), 3_000).unwrap();
        let e = enroll_with(&c, &h2, b"j4", None, false, Some(&m), 3_100).unwrap();
        assert!(
            matches!(e, Enrolment::Enrolled { repeated: true, .. }),
            "{e:?}"
        );
    }
}

#[cfg(test)]
mod staleness_tests {
    use super::*;

    /// The SQL fragment and the Rust rule give the same verdict, edge cases included.
    #[test]
    fn sql_and_rust_agree() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        let st = Staleness {
            now: 100_000,
            after_intervals: 3,
            default_interval: 3600,
        };
        // (last_seen, interval): exactly at the limit, one second past, default interval, a zero
        // interval (treated as 1 s), never seen.
        let cases = [
            (Some(100_000 - 3 * 900), Some(900)),
            (Some(100_000 - 3 * 900 - 1), Some(900)),
            (Some(100_000 - 3 * 3600 - 1), None),
            (Some(100_000 - 10_000), None),
            (Some(100_000 - 4), Some(0)),
            (None, Some(60)),
        ];
        for (i, (seen, interval)) in cases.iter().enumerate() {
            c.execute(
                "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at, last_seen_at, interval_s)
                 VALUES (?1, ?1, ?2, 0, ?3, ?4)",
                params![format!("m{i}"), vec![i as u8], seen, interval],
            )
            .unwrap();
        }
        let sql = format!(
            "SELECT last_seen_at, interval_s, {} FROM hosts h ORDER BY id",
            Staleness::STALE_SQL
        );
        let mut q = c.prepare(&sql).unwrap();
        let rows: Vec<(Option<i64>, Option<i64>, bool)> = q
            .query_map(st.params(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want = [false, true, true, false, true, false];
        for ((seen, interval, stale_sql), want) in rows.into_iter().zip(want) {
            assert_eq!(stale_sql, want, "sql: seen {seen:?} interval {interval:?}");
            assert_eq!(
                st.state(seen, interval) == HostState::Stale,
                want,
                "rust: seen {seen:?} interval {interval:?}"
            );
        }
    }
}

#[cfg(test)]
mod listing_tests {
    use super::*;
    use crate::risk::config::HostGroup;

    /// Seven hosts (inserted out of hostname order, two share a hostname), with check states:
    /// id hostname   os      last_seen  check_state
    /// 1  web-02     debian  now-10     disk_encryption fail, firewall pass
    /// 2  db-01      rhel    never      —
    /// 3  web-01     debian  now-10     disk_encryption pass
    /// 4  app        windows now-99999  firewall fail
    /// 5  db-02      debian  now-10     disk_encryption warn
    /// 6  web-01     debian  now-10     —
    /// 7  Db-03      rhel    now-10     firewall pass
    fn fleet() -> (Connection, Staleness) {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        let now = 1_000_000;
        let hosts = [
            ("web-02", "debian", Some(now - 10)),
            ("db-01", "rhel", None),
            ("web-01", "debian", Some(now - 10)),
            ("app", "windows", Some(now - 99_999)),
            ("db-02", "debian", Some(now - 10)),
            ("web-01", "debian", Some(now - 10)),
            ("Db-03", "rhel", Some(now - 10)),
        ];
        for (i, (name, os, seen)) in hosts.iter().enumerate() {
            c.execute(
                "INSERT INTO hosts(id, machine_id, hostname, os, node_key_hash, enrolled_at,
                    last_seen_at, interval_s) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 3600)",
                params![i as i64 + 1, format!("m{i}"), name, os, vec![i as u8], seen],
            )
            .unwrap();
        }
        for (host, check, status) in [
            (1, "disk_encryption", "fail"),
            (1, "firewall", "pass"),
            (3, "disk_encryption", "pass"),
            (4, "firewall", "fail"),
            (5, "disk_encryption", "warn"),
            (7, "firewall", "pass"),
        ] {
            c.execute(
                "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence,
                    since, updated_at) VALUES (?1, ?2, ?3, '', '{}', '[]', 0, 0)",
                params![host, check, status],
            )
            .unwrap();
        }
        let st = Staleness {
            now,
            after_intervals: 3,
            default_interval: 3600,
        };
        (c, st)
    }

    fn ids(page: &HostPage) -> Vec<i64> {
        page.hosts.iter().map(|h| h.id).collect()
    }

    /// Walking with limit 3 gives every host once, in (hostname, id) order — byte order, so
    /// `Db-03` sorts before `app` — and the last page has no `next`.
    #[test]
    fn pages_walk_the_fleet_in_hostname_order() {
        let (c, st) = fleet();
        let f = HostFilter::default();
        let mut seen = Vec::new();
        let mut after: Option<HostCursor> = None;
        let mut pages = 0;
        loop {
            let p = list_hosts_page(&c, &st, &f, after.as_ref(), 3).unwrap();
            seen.extend(ids(&p));
            pages += 1;
            match p.next {
                Some(n) => after = Some(HostCursor::decode(&n.encode()).unwrap()),
                None => break,
            }
        }
        // Db-03, app, db-01, db-02, web-01 (3), web-01 (6), web-02
        assert_eq!(seen, vec![7, 4, 2, 5, 3, 6, 1]);
        assert_eq!(pages, 3);
        // A page exactly filled by the last hosts says there is no more.
        let p = list_hosts_page(&c, &st, &f, None, 7).unwrap();
        assert_eq!(p.hosts.len(), 7);
        assert!(p.next.is_none());
    }

    #[test]
    fn counts_are_per_host_of_the_page() {
        let (c, st) = fleet();
        let p = list_hosts_page(&c, &st, &HostFilter::default(), None, 100).unwrap();
        let web02 = p.hosts.iter().find(|h| h.id == 1).unwrap();
        assert_eq!(web02.checks.get("fail"), Some(&1));
        assert_eq!(web02.checks.get("pass"), Some(&1));
        let db01 = p.hosts.iter().find(|h| h.id == 2).unwrap();
        assert!(db01.checks.is_empty());
        assert_eq!(db01.state, HostState::Never);
        assert_eq!(
            serde_json::to_value(db01).unwrap()["state"],
            "never_reported",
            "the documented name"
        );
    }

    #[test]
    fn filters_keep_the_matching_hosts() {
        let (c, st) = fleet();
        let groups = vec![HostGroup {
            name: "databases".into(),
            hostnames: vec!["db-*".into()],
            criticality: None,
        }];
        let run = |a: HostFilterArgs| {
            let f = HostFilter::parse(&a, &groups).unwrap();
            ids(&list_hosts_page(&c, &st, &f, None, 100).unwrap())
        };
        let none = HostFilterArgs::default;
        assert_eq!(
            run(HostFilterArgs {
                state: Some("stale"),
                ..none()
            }),
            vec![4]
        );
        assert_eq!(
            run(HostFilterArgs {
                state: Some("never_reported"),
                ..none()
            }),
            vec![2]
        );
        assert_eq!(
            run(HostFilterArgs {
                state: Some("reporting,never_reported"),
                ..none()
            }),
            vec![7, 2, 5, 3, 6, 1]
        );
        assert_eq!(
            run(HostFilterArgs {
                os: Some("rhel,windows"),
                ..none()
            }),
            vec![7, 4, 2]
        );
        assert_eq!(
            run(HostFilterArgs {
                status: Some("fail"),
                ..none()
            }),
            vec![4, 1]
        );
        assert_eq!(
            run(HostFilterArgs {
                check: Some("disk_encryption"),
                status: Some("fail,warn"),
                ..none()
            }),
            vec![5, 1]
        );
        assert_eq!(
            run(HostFilterArgs {
                check: Some("firewall"),
                ..none()
            }),
            vec![7, 4, 1]
        );
        // Globs are case-insensitive, like exceptions' group scope.
        assert_eq!(
            run(HostFilterArgs {
                group: Some("databases"),
                ..none()
            }),
            vec![7, 2, 5]
        );
        assert_eq!(
            run(HostFilterArgs {
                group: Some("databases"),
                os: Some("rhel"),
                ..none()
            }),
            vec![7, 2]
        );
        // A group filter pages like the others.
        let f = HostFilter::parse(
            &HostFilterArgs {
                group: Some("databases"),
                ..none()
            },
            &groups,
        )
        .unwrap();
        let p = list_hosts_page(&c, &st, &f, None, 2).unwrap();
        assert_eq!(ids(&p), vec![7, 2]);
        let p = list_hosts_page(&c, &st, &f, p.next.as_ref(), 2).unwrap();
        assert_eq!(ids(&p), vec![5]);
        assert!(p.next.is_none());
    }

    #[test]
    fn bad_filters_name_the_parameter() {
        let groups = Vec::new();
        let bad = |a: HostFilterArgs| HostFilter::parse(&a, &groups).unwrap_err();
        let none = HostFilterArgs::default;
        assert!(bad(HostFilterArgs {
            state: Some("never"),
            ..none()
        })
        .starts_with("state: "));
        assert!(bad(HostFilterArgs {
            status: Some("ok"),
            ..none()
        })
        .starts_with("status: "));
        assert!(bad(HostFilterArgs {
            check: Some("nope"),
            ..none()
        })
        .starts_with("check: "));
        assert!(bad(HostFilterArgs {
            group: Some("prod"),
            ..none()
        })
        .starts_with("group: "));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = HostCursor {
            hostname: "web:01".into(),
            id: 42,
        };
        assert_eq!(HostCursor::decode(&c.encode()), Some(c));
        for bad in ["", "h1.", "h1.zz", "42:web", "h1.3432", "k1.3432"] {
            assert_eq!(HostCursor::decode(bad), None, "{bad:?}");
        }
    }
}
