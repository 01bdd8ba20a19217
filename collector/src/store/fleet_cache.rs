//! The fleet's current state in memory, kept up to date from the writer's change set, so the
//! background refresh and `GET /api/v1/kpi` cost what changed rather than what is enrolled.
//!
//! The write connection carries temporary triggers (never stored in the database file) that note
//! the id of every host whose `hosts` row or `check_state` rows are inserted, updated or deleted in
//! a batch; once the batch is committed the writer hands those ids to [`FleetCache`]. A
//! [`FleetCache::sync`] then re-reads those hosts only (the first one, and one an hour as a safety
//! net, reads everything). The figures — fleet aggregate, CIS tallies, OS breakdown, patch hosts,
//! risk inputs — are computed from the copy with exactly the rules of the SQL versions in
//! [`super::fleet`], [`super::cis`] and [`super::risks`] (the tests compare both after random
//! changes), staleness and exceptions judged at the instant asked for.
//!
//! Cost: a sync reads the changed hosts; a computation walks the copy in memory (about a
//! microsecond per host, no SQL). The fleet KPIs are memoised until a host changes, a host
//! crosses its staleness deadline or the exceptions in force change.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::cis::CheckTally;
use super::exceptions::InForce;
use super::fleet::{FleetAggregate, HostCheck, OsBreakdown};
use super::hosts::{HostState, Staleness};
use super::StoreError;
use crate::risk::exceptions::EffectiveStatus;
use crate::risk::fleet::HostResult;

/// Everything is re-read at least this often, whatever the change set says (a safety net for a
/// write the triggers cannot see, e.g. another process writing the file).
pub const FULL_RELOAD_EVERY: Duration = Duration::from_secs(3600);

/// The check whose facts the copy keeps (the patch SLA's), and those facts.
const FACT_CHECK: &str = crate::kpi::patch_sla::CHECK;
const FACTS: [&str; 2] = ["oldest_pending_days", "sla_days"];

/// Ids of hosts changed by committed batches, not yet applied to the copy.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) hosts: HashSet<i64>,
    pub(crate) everything: bool,
}

/// SQL run on the write connection: the temporary change table and its triggers. The table has no
/// key: a trigger's conflict clause would yield to the outer statement's (an upsert), so ids are
/// appended and made distinct when drained.
pub(crate) const TRIGGERS_SQL: &str = "
    CREATE TEMP TABLE IF NOT EXISTS fleet_changes(host_id INTEGER NOT NULL);
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_hosts_ins AFTER INSERT ON main.hosts
        BEGIN INSERT INTO fleet_changes VALUES (NEW.id); END;
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_hosts_upd AFTER UPDATE ON main.hosts
        BEGIN INSERT INTO fleet_changes VALUES (NEW.id);
              INSERT INTO fleet_changes SELECT OLD.id WHERE OLD.id <> NEW.id; END;
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_hosts_del AFTER DELETE ON main.hosts
        BEGIN INSERT INTO fleet_changes VALUES (OLD.id); END;
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_checks_ins AFTER INSERT ON main.check_state
        BEGIN INSERT INTO fleet_changes VALUES (NEW.host_id); END;
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_checks_upd AFTER UPDATE ON main.check_state
        BEGIN INSERT INTO fleet_changes VALUES (NEW.host_id);
              INSERT INTO fleet_changes SELECT OLD.host_id WHERE OLD.host_id <> NEW.host_id; END;
    CREATE TEMP TRIGGER IF NOT EXISTS fleet_checks_del AFTER DELETE ON main.check_state
        BEGIN INSERT INTO fleet_changes VALUES (OLD.host_id); END;
";

/// Move the change table's ids into `changes` (on the write connection, after a commit or a
/// rollback: a rolled-back change re-reads a host for nothing, which is harmless).
pub(crate) fn drain(conn: &Connection, changes: &Mutex<Changes>) {
    let ids: rusqlite::Result<Vec<i64>> = (|| {
        let mut q = conn.prepare_cached("SELECT DISTINCT host_id FROM temp.fleet_changes")?;
        let ids = q
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        if !ids.is_empty() {
            conn.prepare_cached("DELETE FROM temp.fleet_changes")?
                .execute([])?;
        }
        Ok(ids)
    })();
    let Ok(mut c) = changes.lock() else { return };
    match ids {
        Ok(ids) => c.hosts.extend(ids),
        Err(e) => {
            tracing::warn!(error = %e, "fleet change set unreadable; the next sync reads everything");
            c.everything = true;
        }
    }
}

/// Small integer names for repeated strings (checks, statuses, OS ids).
#[derive(Debug, Default)]
struct Names {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, u16>,
}

impl Names {
    fn id(&mut self, s: &str) -> u16 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u16;
        self.list.push(s.into());
        self.index.insert(s.into(), i);
        i
    }
    fn get(&self, i: u16) -> &str {
        &self.list[usize::from(i)]
    }
    fn find(&self, s: &str) -> Option<u16> {
        self.index.get(s).copied()
    }
}

/// One check of a host: (check, status) as [`Names`] ids.
#[derive(Debug, Clone, Copy)]
struct CheckRow {
    check: u16,
    status: u16,
}

#[derive(Debug)]
struct HostRow {
    hostname: Box<str>,
    os: u16,
    last_seen_at: Option<i64>,
    interval_s: Option<i64>,
    checks: Vec<CheckRow>,
    /// `json_object` of [`FACTS`] from the [`FACT_CHECK`] row; `None` when that row is absent or
    /// every fact is null (both read as all-null facts).
    facts: Option<Box<str>>,
}

/// Memoised fleet KPIs and what they were computed from.
struct Memo {
    generation: u64,
    /// The instant they were computed for (valid from then on, until `valid_until`).
    computed_at: i64,
    /// The first instant at which a reporting host becomes stale (`i64::MAX`: none can).
    valid_until: i64,
    exceptions: Vec<(i64, i64)>,
    config: String,
    kpis: Vec<crate::kpi::Kpi>,
}

#[derive(Default)]
struct Copy {
    loaded_at: Option<Instant>,
    /// A connection of its own whose `PRAGMA data_version` tells whether anyone committed, and
    /// the value and writer commit count seen at the last sync.
    watch: Option<Connection>,
    seen: Option<(i64, u64)>,
    /// Bumped on every change applied.
    generation: u64,
    names: Names,
    hosts: HashMap<i64, HostRow>,
    memo: Option<Memo>,
}

/// The fleet's current state in memory (see the module documentation).
pub struct FleetCache {
    path: std::path::PathBuf,
    pub(crate) changes: Mutex<Changes>,
    /// Batches the writer has committed (bumped after each commit).
    pub(crate) commits: std::sync::atomic::AtomicU64,
    /// Asks the writer for an empty batch (set by the writer): after it, the writer has checked
    /// its own `data_version` for foreign commits.
    #[allow(clippy::type_complexity)]
    pub(crate) poke: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    copy: Mutex<Copy>,
}

fn lock_err<T>(_: T) -> StoreError {
    StoreError::Invalid("fleet cache lock poisoned".into())
}

/// What SQLite's `json_object` gives for [`FACTS`] all null.
fn null_facts_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let inner = FACTS
            .iter()
            .map(|f| format!("\"{f}\":null"))
            .collect::<Vec<_>>()
            .join(",");
        format!("{{{inner}}}")
    })
}

const HOST_COLUMNS: &str = "id, hostname, os, last_seen_at, interval_s";

fn check_columns() -> String {
    let object = FACTS
        .iter()
        .map(|f| format!("'{f}', json_extract(facts, '$.{f}')"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "host_id, check_name, status,
         CASE WHEN check_name = '{FACT_CHECK}' THEN json_object({object}) END"
    )
}

impl Copy {
    fn host_from(&mut self, r: &rusqlite::Row) -> rusqlite::Result<(i64, HostRow)> {
        let os: String = r.get(2)?;
        Ok((
            r.get(0)?,
            HostRow {
                hostname: r.get::<_, String>(1)?.into(),
                os: self.names.id(&os),
                last_seen_at: r.get(3)?,
                interval_s: r.get(4)?,
                checks: Vec::new(),
                facts: None,
            },
        ))
    }

    fn add_check(&mut self, r: &rusqlite::Row) -> rusqlite::Result<()> {
        let host: i64 = r.get(0)?;
        let check: String = r.get(1)?;
        let status: String = r.get(2)?;
        let facts: Option<String> = r.get(3)?;
        let row = CheckRow {
            check: self.names.id(&check),
            status: self.names.id(&status),
        };
        if let Some(h) = self.hosts.get_mut(&host) {
            h.checks.push(row);
            if let Some(f) = facts.filter(|f| *f != null_facts_json()) {
                h.facts = Some(f.into());
            }
        }
        Ok(())
    }

    fn load_all(&mut self, conn: &Connection) -> Result<(), StoreError> {
        self.hosts.clear();
        let mut q = conn.prepare(&format!("SELECT {HOST_COLUMNS} FROM hosts"))?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            let (id, h) = self.host_from(r)?;
            self.hosts.insert(id, h);
        }
        let mut q = conn.prepare(&format!("SELECT {} FROM check_state", check_columns()))?;
        let mut rows = q.query([])?;
        while let Some(r) = rows.next()? {
            self.add_check(r)?;
        }
        self.generation += 1;
        Ok(())
    }

    fn reload(&mut self, conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let list = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
            for id in chunk {
                self.hosts.remove(id);
            }
            let mut q = conn.prepare_cached(&format!(
                "SELECT {HOST_COLUMNS} FROM hosts WHERE id IN (SELECT value FROM json_each(?1))"
            ))?;
            let mut rows = q.query(params![list])?;
            while let Some(r) = rows.next()? {
                let (id, h) = self.host_from(r)?;
                self.hosts.insert(id, h);
            }
            let mut q = conn.prepare_cached(&format!(
                "SELECT {} FROM check_state WHERE host_id IN (SELECT value FROM json_each(?1))",
                check_columns()
            ))?;
            let mut rows = q.query(params![list])?;
            while let Some(r) = rows.next()? {
                self.add_check(r)?;
            }
        }
        self.generation += 1;
        Ok(())
    }

    /// `None` for a host that never reported, else whether it is stale at `st.now`.
    fn stale(h: &HostRow, st: &Staleness) -> Option<bool> {
        match st.state(h.last_seen_at, h.interval_s) {
            HostState::Never => None,
            HostState::Stale => Some(true),
            HostState::Reporting => Some(false),
        }
    }
}

/// What a computation over the copy sees: the copy at one instant, with one exception rule.
pub struct View<'a> {
    copy: &'a Copy,
    st: Staleness,
    rule: &'a InForce,
}

impl View<'_> {
    /// Whether `status` of `check` on a reporting host is covered by an exception in force.
    fn excepted(&self, h: &HostRow, check: &str, status: &str) -> bool {
        !self.rule.is_empty()
            && matches!(status, "fail" | "warn")
            && matches!(
                self.rule.effective(&h.hostname, check, status),
                EffectiveStatus::Excepted(_)
            )
    }

    /// [`super::fleet::aggregate`], from the copy.
    pub fn aggregate(&self) -> FleetAggregate {
        let names = &self.copy.names;
        let mut agg = FleetAggregate::default();
        let mut counts: HashMap<(u16, u16), i64> = HashMap::new();
        let mut excepted: HashMap<(u16, u16), i64> = HashMap::new();
        let (mut reporting, mut stale, mut never) = (0i64, 0i64, 0i64);
        const STALE: u16 = u16::MAX;
        const EXCEPTED: u16 = u16::MAX - 1;
        for h in self.copy.hosts.values() {
            let s = Copy::stale(h, &self.st);
            match s {
                None => never += 1,
                Some(true) => stale += 1,
                Some(false) => reporting += 1,
            }
            for c in &h.checks {
                if s == Some(true) {
                    *counts.entry((c.check, STALE)).or_default() += 1;
                    continue;
                }
                // Exceptions apply to hosts that reported and are not stale.
                if s == Some(false) && self.excepted(h, names.get(c.check), names.get(c.status)) {
                    *excepted.entry((c.check, c.status)).or_default() += 1;
                    *counts.entry((c.check, EXCEPTED)).or_default() += 1;
                } else {
                    *counts.entry((c.check, c.status)).or_default() += 1;
                }
            }
        }
        for (state, n) in [
            ("reporting", reporting),
            ("stale", stale),
            ("never_reported", never),
        ] {
            if n > 0 {
                agg.hosts.insert(state.to_string(), n);
            }
        }
        // The SQL version moves excepted results out of a bucket it found; the counts here never
        // held them, so the buckets match (a bucket emptied by exceptions is absent in both).
        let _ = excepted;
        for ((check, status), n) in counts {
            let status = match status {
                STALE => "stale",
                EXCEPTED => "excepted",
                s => names.get(s),
            };
            if n > 0 {
                agg.check_hosts
                    .insert((names.get(check).to_string(), status.to_string()), n);
            }
        }
        agg
    }

    /// [`super::cis::check_tallies`], from the copy.
    pub fn check_tallies(&self) -> HashMap<String, CheckTally> {
        let names = &self.copy.names;
        let na = names.find("not_applicable");
        let pass = names.find("pass");
        let mut out: HashMap<u16, CheckTally> = HashMap::new();
        for h in self.copy.hosts.values() {
            let Some(stale) = Copy::stale(h, &self.st) else {
                continue;
            };
            for c in &h.checks {
                let t = out.entry(c.check).or_default();
                let applicable = Some(c.status) != na;
                if Some(c.status) == pass && !stale {
                    t.passing += 1;
                }
                if applicable {
                    t.in_scope += 1;
                    if stale {
                        t.stale += 1;
                    } else if self.excepted(h, names.get(c.check), names.get(c.status)) {
                        t.in_scope -= 1;
                        t.excepted += 1;
                    }
                }
            }
        }
        out.into_iter()
            .map(|(c, t)| (names.get(c).to_string(), t))
            .collect()
    }

    /// [`super::fleet::os_breakdown`], from the copy (sorted).
    pub fn os_breakdown(&self) -> OsBreakdown {
        let names = &self.copy.names;
        let mut hosts: HashMap<(u16, &'static str), i64> = HashMap::new();
        let mut checks: HashMap<(u16, u16, u16), i64> = HashMap::new();
        const STALE: u16 = u16::MAX;
        for h in self.copy.hosts.values() {
            let s = Copy::stale(h, &self.st);
            let state = match s {
                None => "never_reported",
                Some(true) => "stale",
                Some(false) => "reporting",
            };
            *hosts.entry((h.os, state)).or_default() += 1;
            for c in &h.checks {
                let status = if s == Some(true) { STALE } else { c.status };
                *checks.entry((h.os, c.check, status)).or_default() += 1;
            }
        }
        let mut out = OsBreakdown {
            hosts: hosts
                .into_iter()
                .map(|((os, state), n)| (names.get(os).to_string(), state.to_string(), n))
                .collect(),
            check_hosts: checks
                .into_iter()
                .map(|((os, check, status), n)| {
                    let status = if status == STALE {
                        "stale"
                    } else {
                        names.get(status)
                    };
                    (
                        names.get(os).to_string(),
                        names.get(check).to_string(),
                        status.to_string(),
                        n,
                    )
                })
                .collect(),
        };
        out.hosts.sort();
        out.check_hosts.sort();
        out
    }

    /// [`super::risks::fleet_results`] for `checks`, from the copy (sorted by host name, check,
    /// status).
    pub fn fleet_results(&self, checks: &[String]) -> Vec<HostResult> {
        let names = &self.copy.names;
        let wanted: HashSet<u16> = checks.iter().filter_map(|c| names.find(c)).collect();
        let mut out = Vec::new();
        for h in self.copy.hosts.values() {
            if Copy::stale(h, &self.st) != Some(false) {
                continue;
            }
            for c in h.checks.iter().filter(|c| wanted.contains(&c.check)) {
                out.push(HostResult {
                    hostname: h.hostname.to_string(),
                    check: names.get(c.check).to_string(),
                    status: names.get(c.status).to_string(),
                });
            }
        }
        out.sort_by(|a, b| {
            (&a.hostname, &a.check, &a.status).cmp(&(&b.hostname, &b.check, &b.status))
        });
        out
    }

    /// Every host that reported with its patch-SLA check, as [`crate::kpi::evaluation::load_fleet`]
    /// builds them (ordered by host name then id; a `fail` an exception in force covers reads
    /// `excepted`), handed to `f` one at a time.
    pub fn for_each_patch_host(&self, mut f: impl FnMut(HostCheck)) {
        let names = &self.copy.names;
        let check = names.find(FACT_CHECK);
        let mut order: Vec<(&str, i64, &HostRow)> = self
            .copy
            .hosts
            .iter()
            .filter(|(_, h)| h.last_seen_at.is_some())
            .map(|(id, h)| (&*h.hostname, *id, h))
            .collect();
        order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let empty: serde_json::Map<String, serde_json::Value> = FACTS
            .iter()
            .map(|f| (f.to_string(), serde_json::Value::Null))
            .collect();
        for (_, _, h) in order {
            let row = h.checks.iter().find(|c| Some(c.check) == check);
            let facts = match h.facts.as_deref() {
                Some(json) => match serde_json::from_str(json) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                },
                None => empty.clone(),
            };
            let mut status = row.map(|r| names.get(r.status).to_string());
            if status.as_deref() == Some("fail") && !self.rule.is_empty() {
                let eff = self.rule.effective(&h.hostname, FACT_CHECK, "fail");
                status = Some(eff.as_str().to_string());
            }
            f(HostCheck {
                hostname: h.hostname.to_string(),
                state: self.st.state(h.last_seen_at, h.interval_s),
                status,
                facts,
            });
        }
    }

    /// The first instant after `st.now` at which a reporting host becomes stale.
    fn next_stale_deadline(&self) -> i64 {
        self.copy
            .hosts
            .values()
            .filter(|h| Copy::stale(h, &self.st) == Some(false))
            .filter_map(|h| {
                let interval = h
                    .interval_s
                    .unwrap_or(self.st.default_interval as i64)
                    .max(1);
                h.last_seen_at.map(|seen| {
                    seen.saturating_add(interval.saturating_mul(i64::from(self.st.after_intervals)))
                        .saturating_add(1)
                })
            })
            .min()
            .unwrap_or(i64::MAX)
    }
}

impl FleetCache {
    /// An empty copy of the database at `path` (filled by the first sync).
    pub fn new(path: &std::path::Path) -> FleetCache {
        FleetCache {
            path: path.to_path_buf(),
            changes: Mutex::default(),
            commits: std::sync::atomic::AtomicU64::new(0),
            poke: Mutex::new(None),
            copy: Mutex::default(),
        }
    }

    /// Whether someone other than the writer committed since the last sync: the database's
    /// `data_version` moved while the writer committed nothing (a commit of the writer's racing
    /// this check reads as foreign too, which only costs a full re-read). When the writer also
    /// committed, the change may be its own: the writer is asked for an empty batch, after which
    /// it checks its own connection's `data_version` (which moves only for other connections'
    /// commits) and flags a foreign one for the next sync.
    fn foreign_commit(&self, copy: &mut Copy) -> Result<bool, StoreError> {
        if copy.watch.is_none() {
            let c = Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(Duration::from_secs(10))?;
            copy.watch = Some(c);
        }
        let Some(watch) = copy.watch.as_ref() else {
            return Ok(true);
        };
        let version: i64 = watch.pragma_query_value(None, "data_version", |r| r.get(0))?;
        let commits = self.commits.load(std::sync::atomic::Ordering::SeqCst);
        let moved = copy.seen.filter(|(v, _)| *v != version);
        let foreign = moved.is_some_and(|(_, n)| n == commits);
        if moved.is_some() && !foreign {
            if let Some(poke) = self.poke.lock().ok().as_ref().and_then(|p| p.as_ref()) {
                poke();
            }
        }
        copy.seen = Some((version, commits));
        Ok(foreign)
    }

    /// Apply the changes committed since the last sync (everything the first time, and every
    /// [`FULL_RELOAD_EVERY`]). Returns how many hosts were re-read (`None`: all of them).
    pub fn sync(&self, conn: &Connection) -> Result<Option<usize>, StoreError> {
        let mut copy = self.copy.lock().map_err(lock_err)?;
        let foreign = self.foreign_commit(&mut copy)?;
        let (ids, everything) = {
            let mut c = self.changes.lock().map_err(lock_err)?;
            let ids: Vec<i64> = c.hosts.drain().collect();
            (ids, std::mem::take(&mut c.everything))
        };
        let due = copy
            .loaded_at
            .is_none_or(|t| t.elapsed() >= FULL_RELOAD_EVERY);
        if everything || due || foreign {
            // Mark first: a failed read must be retried in full.
            copy.loaded_at = None;
            let tx = conn.unchecked_transaction()?;
            copy.load_all(&tx)?;
            tx.finish()?;
            copy.loaded_at = Some(Instant::now());
            return Ok(None);
        }
        if ids.is_empty() {
            return Ok(Some(0));
        }
        let tx = conn.unchecked_transaction()?;
        if let Err(e) = copy.reload(&tx, &ids) {
            // Put them back for the next attempt.
            if let Ok(mut c) = self.changes.lock() {
                c.hosts.extend(ids);
            }
            return Err(e);
        }
        tx.finish()?;
        Ok(Some(ids.len()))
    }

    /// Run `f` over the copy as seen at `st.now` with `rule` (call [`FleetCache::sync`] first).
    pub fn view<R>(
        &self,
        st: &Staleness,
        rule: &InForce,
        f: impl FnOnce(&View) -> R,
    ) -> Result<R, StoreError> {
        let copy = self.copy.lock().map_err(lock_err)?;
        Ok(f(&View {
            copy: &copy,
            st: *st,
            rule,
        }))
    }

    /// The fleet KPIs (patch SLA and coverage) at `st.now`, memoised until a host changes, a
    /// host crosses its staleness deadline, the exceptions in force or `cfg` change.
    pub fn fleet_kpis(
        &self,
        st: &Staleness,
        rule: &InForce,
        exception_ids: Vec<(i64, i64)>,
        cfg: &crate::config::KpiSection,
    ) -> Result<Vec<crate::kpi::Kpi>, StoreError> {
        let mut copy = self.copy.lock().map_err(lock_err)?;
        let config = format!("{cfg:?}/{}/{}", st.after_intervals, st.default_interval);
        if let Some(m) = &copy.memo {
            if m.generation == copy.generation
                && st.now >= m.computed_at
                && st.now < m.valid_until
                && m.exceptions == exception_ids
                && m.config == config
            {
                return Ok(m.kpis.clone());
            }
        }
        let view = View {
            copy: &copy,
            st: *st,
            rule,
        };
        let aggregate = view.aggregate();
        let mut sla = crate::kpi::patch_sla::Accumulator::new(cfg.sla_days);
        view.for_each_patch_host(|h| sla.push(&h));
        let valid_until = view.next_stale_deadline();
        let kpis = crate::kpi::fleet_kpis_from(&aggregate, sla.finish(), cfg);
        copy.memo = Some(Memo {
            generation: copy.generation,
            computed_at: st.now,
            valid_until,
            exceptions: exception_ids,
            config,
            kpis: kpis.clone(),
        });
        Ok(kpis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KpiSection;
    use crate::risk::exceptions::{NewException, ScopeKind};
    use crate::store::{exceptions, hosts, ingest, Store};
    use vigie_checks::wire::{HostIdentity, Report};
    use vigie_checks::{CheckResult, Status};

    /// xorshift64*: a deterministic sequence for the random changes.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const CHECKS: [&str; 4] = ["patch_age", "mfa", "disk_encryption", "firewall"];
    const STATUSES: [Status; 5] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::Error,
        Status::NotApplicable,
    ];

    fn identity(n: u64, name: u64, os: u64) -> HostIdentity {
        HostIdentity {
            // Host names repeat on purpose (names are not unique).
            hostname: format!("web-{:02}", name),
            machine_id: format!("m-{n}"),
            os: ["debian", "macos", "windows", ""][os as usize % 4].into(),
            os_version: "1".into(),
            kernel: "k".into(),
            arch: "x86_64".into(),
        }
    }

    fn sorted_results(mut v: Vec<HostResult>) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = v
            .drain(..)
            .map(|r| (r.hostname, r.check, r.status))
            .collect();
        out.sort();
        out
    }

    /// Every figure from the copy equals the same figure computed by SQL from scratch.
    fn assert_same(store: &Store, st: &Staleness, step: usize) {
        let cfg = KpiSection::default();
        let checks: Vec<String> = CHECKS.iter().map(|c| c.to_string()).collect();
        let (agg, tallies, mut os, patch, results) = store
            .read(|c| {
                Ok((
                    crate::store::fleet::aggregate(c, st)?,
                    crate::store::cis::check_tallies(c, st)?,
                    crate::store::fleet::os_breakdown(c, st)?,
                    crate::kpi::evaluation::load_fleet(c, st)?,
                    crate::store::risks::fleet_results(c, st, &checks)?,
                ))
            })
            .unwrap();
        os.hosts.sort();
        os.check_hosts.sort();
        let (c_agg, c_tallies, c_os, c_patch, c_results) = store
            .with_fleet(st, |v| {
                let mut patch = Vec::new();
                v.for_each_patch_host(|h| patch.push(h));
                (
                    v.aggregate(),
                    v.check_tallies(),
                    v.os_breakdown(),
                    patch,
                    v.fleet_results(&checks),
                )
            })
            .unwrap();
        let at = format!("step {step}, now {}", st.now);
        assert_eq!(c_agg.hosts, agg.hosts, "hosts by state, {at}");
        assert_eq!(c_agg.check_hosts, agg.check_hosts, "check tallies, {at}");
        assert_eq!(c_tallies, tallies, "CIS tallies, {at}");
        assert_eq!(c_os, os, "OS breakdown, {at}");
        assert_eq!(c_patch, patch.patch_hosts, "patch hosts, {at}");
        assert_eq!(
            sorted_results(c_results),
            sorted_results(results),
            "risk inputs, {at}"
        );
        let want = crate::kpi::fleet_kpis(&patch, &cfg);
        assert_eq!(
            store.fleet_kpis(st, &cfg).unwrap(),
            want,
            "fleet KPIs, {at}"
        );
        // Asked again (memoised): still the same.
        assert_eq!(
            store.fleet_kpis(st, &cfg).unwrap(),
            want,
            "memoised KPIs, {at}"
        );
    }

    #[tokio::test]
    async fn the_copy_matches_a_recomputation_after_random_changes() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("vigie.db"), 16).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut t: i64 = 1_775_000_000;
        let mut enrolled: Vec<(i64, HostIdentity)> = Vec::new();
        let mut exception_ids: Vec<i64> = Vec::new();
        let mut report_no = 0u64;
        let mut machines = 0u64;
        let mut kinds = [0usize; 9];
        for step in 0..400usize {
            let kind = if enrolled.is_empty() {
                0
            } else {
                rng.below(9) as usize
            };
            kinds[kind] += 1;
            match kind {
                // Enrol a host (some never report).
                0 => {
                    machines += 1;
                    let n = machines;
                    let id = identity(n, rng.below(15), rng.below(4));
                    let key = format!("key-{n}").into_bytes();
                    let interval = [None, Some(60), Some(3600)][rng.below(3) as usize];
                    let (i2, now) = (id.clone(), t);
                    let e = store
                        .write(move |c| hosts::enroll(c, &i2, &key, interval, true, now))
                        .await
                        .unwrap();
                    enrolled.push((e.host_id(), id));
                }
                // A report: random checks and statuses, patch facts of every shape, maybe renamed.
                1..=4 => {
                    let (host_id, mut id) =
                        enrolled[rng.below(enrolled.len() as u64) as usize].clone();
                    if rng.below(10) == 0 {
                        id.hostname = format!("web-{:02}", rng.below(15));
                    }
                    let mut results = Vec::new();
                    for check in CHECKS {
                        if rng.below(4) == 0 {
                            continue;
                        }
                        let status = STATUSES[rng.below(5) as usize];
                        let mut r = CheckResult::new(check, status, "s");
                        if check == "patch_age" {
                            match rng.below(4) {
                                0 => {}
                                1 => r = r.fact("oldest_pending_days", rng.below(90) as i64),
                                2 => r = r.fact("oldest_pending_days", "x").fact("sla_days", 30),
                                _ => {
                                    r = r
                                        .fact("oldest_pending_days", rng.below(90) as i64)
                                        .fact("sla_days", [30, 14][rng.below(2) as usize])
                                }
                            }
                        }
                        results.push(r);
                    }
                    report_no += 1;
                    let report = Report {
                        schema: 1,
                        report_id: format!("r-{report_no}"),
                        agent_version: "0.1.0".into(),
                        collected_at: chrono::DateTime::from_timestamp(t, 0).unwrap(),
                        host: id,
                        results,
                        interval_seconds: [None, Some(60), Some(3600)][rng.below(3) as usize],
                        lost_reports: 0,
                    };
                    let now = t;
                    store
                        .write(move |c| ingest::apply_report(c, host_id, &report, now).map(|_| ()))
                        .await
                        .unwrap();
                }
                // Grant an exception (host or fleet scope) starting now or later.
                5 => {
                    let check = CHECKS[rng.below(4) as usize].to_string();
                    let pattern = if rng.below(3) == 0 {
                        "*".to_string()
                    } else {
                        format!("web-{:02}", rng.below(15))
                    };
                    let start = t + [0, 0, 600][rng.below(3) as usize];
                    let e = NewException {
                        check,
                        scope: if pattern == "*" {
                            ScopeKind::Fleet
                        } else {
                            ScopeKind::Host
                        },
                        scope_value: pattern.clone(),
                        host_patterns: vec![pattern],
                        reason: "r".into(),
                        requester: "a".into(),
                        approver: "b".into(),
                        starts_at: start,
                        expires_at: start + 1 + rng.below(20_000) as i64,
                    };
                    let now = t;
                    let id = store
                        .write(move |c| exceptions::insert(c, &e, now))
                        .await
                        .unwrap();
                    exception_ids.push(id);
                }
                // Revoke one.
                6 => {
                    if let Some(&id) =
                        exception_ids.get(rng.below(exception_ids.len().max(1) as u64) as usize)
                    {
                        let now = t;
                        let _ = store
                            .write(move |c| exceptions::revoke(c, id, "c", now))
                            .await;
                    }
                }
                // A state change outside ingest: one host's check forced to another status, or
                // one check dropped from a host.
                7 => {
                    let (host_id, _) = enrolled[rng.below(enrolled.len() as u64) as usize].clone();
                    let check = CHECKS[rng.below(4) as usize];
                    let drop = rng.below(2) == 0;
                    store
                        .write(move |c| {
                            if drop {
                                c.execute(
                                    "DELETE FROM check_state WHERE host_id = ?1 AND check_name = ?2",
                                    params![host_id, check],
                                )?;
                            } else {
                                c.execute(
                                    "UPDATE check_state SET status = 'fail' WHERE host_id = ?1 AND check_name = ?2",
                                    params![host_id, check],
                                )?;
                            }
                            Ok(())
                        })
                        .await
                        .unwrap();
                }
                // Delete a host and everything about it.
                _ => {
                    let k = rng.below(enrolled.len() as u64) as usize;
                    let (host_id, _) = enrolled.remove(k);
                    store
                        .write(move |c| {
                            for table in ["check_state", "transitions", "daily", "recent_reports"] {
                                c.execute(
                                    &format!("DELETE FROM {table} WHERE host_id = ?1"),
                                    params![host_id],
                                )?;
                            }
                            c.execute("DELETE FROM hosts WHERE id = ?1", params![host_id])?;
                            Ok(())
                        })
                        .await
                        .unwrap();
                }
            }
            t += rng.below(900) as i64;
            if step % 5 == 4 {
                // Seen a little later, sometimes much later (hosts go stale, exceptions expire
                // with no write at all).
                for later in [0, 1_000, 15_000] {
                    let st = Staleness {
                        now: t + later,
                        after_intervals: 3,
                        default_interval: 900,
                    };
                    assert_same(&store, &st, step);
                }
            }
        }
        assert!(
            kinds.iter().all(|&k| k > 10),
            "every kind of change ran: {kinds:?}"
        );
        // The copy was brought up to date from the change set, not re-read in full.
        store.write(|c| {
            c.execute("UPDATE hosts SET last_seen_at = last_seen_at + 1 WHERE id = (SELECT min(id) FROM hosts)", [])?;
            Ok(())
        }).await.unwrap();
        let reread = store.read(|c| store.fleet.sync(c)).unwrap();
        assert_eq!(reread, Some(1), "one changed host re-read");
        store.shutdown();
    }

    /// A write by another process (an admin script, a test moving time) is not seen by the
    /// triggers: the copy notices the file's `data_version` moving and re-reads everything, both
    /// when the writer is idle and when it commits in between.
    #[tokio::test]
    async fn a_write_by_another_process_is_picked_up() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("vigie.db");
        let store = Store::open(&path, 16).unwrap();
        let id = identity(1, 1, 0);
        let (i2, now) = (id.clone(), 1_775_000_000);
        let host = store
            .write(move |c| {
                let e = hosts::enroll(c, &i2, b"k", Some(3600), true, now)?;
                let report = Report {
                    schema: 1,
                    report_id: "r1".into(),
                    agent_version: "0.1.0".into(),
                    collected_at: chrono::DateTime::from_timestamp(now, 0).unwrap(),
                    host: i2.clone(),
                    results: vec![CheckResult::new("mfa", Status::Pass, "s")],
                    interval_seconds: Some(3600),
                    lost_reports: 0,
                };
                ingest::apply_report(c, e.host_id(), &report, now)?;
                Ok(e.host_id())
            })
            .await
            .unwrap();
        let st = Staleness {
            now: now + 60,
            after_intervals: 3,
            default_interval: 900,
        };
        let hosts_by_state =
            |store: &Store| store.with_fleet(&st, |v| v.aggregate().hosts).unwrap();
        assert_eq!(hosts_by_state(&store).get("reporting"), Some(&1));
        let other = |sql: &str| {
            let c = Connection::open(&path).unwrap();
            c.busy_timeout(Duration::from_secs(5)).unwrap();
            c.execute(sql, params![host]).unwrap();
        };
        // The writer idle.
        other("UPDATE hosts SET last_seen_at = last_seen_at - 86400 WHERE id = ?1");
        assert_eq!(hosts_by_state(&store).get("stale"), Some(&1));
        // The writer committing in between (its own change set says nothing of the foreign one).
        other("UPDATE hosts SET last_seen_at = last_seen_at + 86400 WHERE id = ?1");
        store
            .write(|c| {
                c.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')", [])?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(hosts_by_state(&store).get("reporting"), Some(&1));
        // A sync, then a writer commit, then a foreign one, then nothing from the writer: the
        // sync sees both moved, asks the writer for an empty batch, and a later sync re-reads.
        let _ = hosts_by_state(&store);
        store
            .write(|c| {
                c.execute("INSERT INTO meta(key, value) VALUES ('x2', 'y')", [])?;
                Ok(())
            })
            .await
            .unwrap();
        other("UPDATE hosts SET last_seen_at = last_seen_at - 86400 WHERE id = ?1");
        let deadline = Instant::now() + Duration::from_secs(10);
        while hosts_by_state(&store).get("stale") != Some(&1) {
            assert!(
                Instant::now() < deadline,
                "the foreign write was never picked up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store.shutdown();
    }
}
