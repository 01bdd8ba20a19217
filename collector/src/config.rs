//! The collector's configuration (`--config FILE`, TOML). Defaults work out of the box: a SQLite file
//! under `./vigie-data`, listening on loopback. Every key is validated at start; errors name the file,
//! line and key (exit code 2).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole collector.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    pub server: ServerSection,
    pub storage: StorageSection,
    pub auth: AuthSection,
    pub fleet: FleetSection,
    pub metrics: MetricsSection,
    pub cis: CisSection,
    pub kpi: KpiSection,
    /// `[risk]`: risk matrix, review period, fleet-derived scenarios.
    pub risk: crate::risk::config::RiskSection,
    /// `[hosts]`: host criticality and groups (tags) by hostname glob.
    pub hosts: crate::risk::config::HostsSection,
    /// `[actions]`: the improvement plan's approving role.
    pub actions: crate::risk::config::ActionsSection,
    /// `[webhooks]`: outgoing notifications.
    pub webhooks: crate::risk::config::WebhooksSection,
    /// `[identity]`: MFA of identities at identity providers and code hosts.
    pub identity: crate::identity::config::IdentitySection,
}

/// `[server]`: where and how to listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Listen address. Default `127.0.0.1:8443`.
    pub listen: SocketAddr,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (only behind a TLS-terminating proxy or on loopback). Default false.
    pub insecure_http: bool,
    /// Largest accepted request body in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Seconds a client has, from the first byte of a request, to send its complete head (request
    /// line and headers); slower connections are closed (slowloris). Default 10.
    pub header_read_timeout_seconds: u64,
    /// Seconds a connection may sit idle — nothing received and no request being answered — before
    /// it is closed: a new connection that sends nothing, or a keep-alive one between requests.
    /// Default 30.
    pub idle_timeout_seconds: u64,
    /// Seconds a request's body may take to arrive, from the end of its head; a slower body is
    /// answered 408 and the connection closed. Default 30.
    pub body_read_timeout_seconds: u64,
    /// Seconds a TLS client has to complete its handshake. Default 10.
    pub tls_handshake_timeout_seconds: u64,
    /// Most connections open at once (TLS handshakes included). At the cap the collector stops
    /// accepting until one closes; keep it under the process's file-descriptor limit. Default 4096.
    pub max_connections: usize,
    /// The collector's address as readers reach it (`https://vigie.example.org`, or with a path
    /// prefix behind a proxy): the Atom feed's links are absolute from it. Unset: relative links.
    pub public_url: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: "127.0.0.1:8443".parse().expect("static address"),
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 30,
            body_read_timeout_seconds: 30,
            tls_handshake_timeout_seconds: 10,
            max_connections: 4096,
            public_url: None,
        }
    }
}

/// `[storage]`: the SQLite store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Directory holding `vigie.db` (created if absent). Default `./vigie-data`.
    pub data_dir: PathBuf,
    /// Most reports written in one transaction. Default 512.
    pub max_batch: usize,
    /// Days of report ids kept to recognise resent reports (older replays are refused by date).
    /// Default 2.
    pub dedup_days: u32,
    /// SQLite `synchronous` for the write connection: `full` (default: an acknowledged report
    /// survives a power cut) or `normal` (survives a crash of the collector, `kill -9` included,
    /// but the last commits before a power cut may be lost; fewer fsyncs, more throughput).
    pub synchronous: Synchronous,
    /// Days of fleet-derived risk history kept (entries written by the fleet recompute; people's
    /// changes are kept for ever). Default 400: a year of monthly reports and their trends.
    pub fleet_risk_history_days: u32,
}

/// Durability of commits (SQLite `PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync the WAL at every commit.
    #[default]
    Full,
    /// fsync only at checkpoints.
    Normal,
}

impl Synchronous {
    /// The pragma value.
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data_dir: PathBuf::from("vigie-data"),
            max_batch: 512,
            dedup_days: 2,
            synchronous: Synchronous::Full,
            fleet_risk_history_days: 400,
        }
    }
}

/// The shortest enrolment secret accepted, in bytes (after trimming blanks): 16 bytes
/// of guessing, with the per-address limit on failed enrolments on top.
pub const MIN_ENROLL_SECRET_BYTES: usize = 16;

/// What `serve` needs from the configuration beyond the file itself, read and checked once.
pub struct Prepared {
    /// The enrolment secret, if enrolment is enabled.
    pub enroll_secret: Option<String>,
    /// The TLS server configuration; `None` = plain HTTP (`server.insecure_http = true`).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Load the certificate chain and key into a rustls server configuration (HTTP/1.1 only).
fn load_tls(cert: &Path, key: &Path) -> anyhow::Result<std::sync::Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("server.tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "server.tls_cert {}: no PEM certificate in the file",
            cert.display()
        );
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("server.tls_key {}: {e}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            anyhow::anyhow!(
                "server.tls_cert {} / server.tls_key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(std::sync::Arc::new(tls))
}

/// `[auth]`: enrolment secret and API tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The fleet's enrolment secret (at least [`MIN_ENROLL_SECRET_BYTES`] bytes, blanks around it
    /// not counted). Prefer `enroll_secret_file`.
    pub enroll_secret: Option<String>,
    /// File holding the enrolment secret (first line).
    pub enroll_secret_file: Option<PathBuf>,
    /// Tokens with full API access (at least 32 characters each).
    pub admin_tokens: Vec<String>,
    /// Tokens that may read and export, never write (at least 32 characters each).
    pub auditor_tokens: Vec<String>,
    /// Seconds during which an agent may repeat its enrolment with the same `enrollment_nonce`
    /// (it lost the answer): it gets a new node key and the earlier one stops working. Default 900.
    pub enroll_retry_window_seconds: u64,
    /// Failed enrolments (wrong secret) one source address may make in a burst before it is
    /// answered 429. Default 10.
    pub enroll_failure_burst: u32,
    /// Seconds for one more failed enrolment to be allowed to an address (the bucket's refill).
    /// Default 60.
    pub enroll_failure_refill_seconds: u64,
    /// Failed enrolments are logged as one summary line per this many seconds (count per source
    /// address), never one line per guess. Default 60.
    pub enroll_failure_summary_seconds: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            enroll_secret: None,
            enroll_secret_file: None,
            admin_tokens: Vec::new(),
            auditor_tokens: Vec::new(),
            enroll_retry_window_seconds: 900,
            enroll_failure_burst: 10,
            enroll_failure_refill_seconds: 60,
            enroll_failure_summary_seconds: 60,
        }
    }
}

/// `[fleet]`: how hosts are judged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetSection {
    /// A host is stale after this many of its reporting intervals without a report. Default 3.
    pub stale_after_intervals: u32,
    /// Interval assumed for hosts whose agent did not announce one, in seconds. Default 3600.
    pub default_interval_seconds: u64,
    /// How far in the future a report's collected_at may be (clock skew), in seconds. Default 300.
    pub max_clock_skew_seconds: i64,
    /// How old a report may be when it arrives (spooled reports), in days. Default 30.
    pub max_report_age_days: i64,
}

impl Default for FleetSection {
    fn default() -> Self {
        FleetSection {
            stale_after_intervals: 3,
            default_interval_seconds: 3600,
            max_clock_skew_seconds: 300,
            max_report_age_days: 30,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Also export one series per host and check (cardinality grows with the fleet). Default false.
    pub per_host: bool,
    /// Seconds between refreshes of the fleet aggregates served on /metrics. Default 15.
    pub refresh_seconds: u64,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            per_host: false,
            refresh_seconds: 15,
        }
    }
}

/// `[cis]`: CIS Controls v8.1 scoring.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CisSection {
    /// Self-assessment file (TOML, see docs/cis.md). Without it only measured safeguards score.
    pub self_assessment: Option<PathBuf>,
    /// Implementation group (1, 2 or 3) of the per-control metrics and of `cis score`'s default.
    /// Default 3 (every safeguard).
    pub implementation_group: u8,
}

impl Default for CisSection {
    fn default() -> Self {
        CisSection {
            self_assessment: None,
            implementation_group: 3,
        }
    }
}

/// `[kpi]`: targets of the governance manual's maturity indicators (section 03).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpiSection {
    /// Share of reporting hosts within the patch SLA to reach (0 to 1). Default 1.0 (100 %).
    pub patch_sla_target: f64,
    /// Share of active people trained in the last 365 days to reach (0 to 1). Default 1.0.
    pub training_target: f64,
    /// Mean time to detect to stay under, in hours. No default (the manual sets none).
    pub mttd_target_hours: Option<f64>,
    /// Mean time to resolve to stay under, in hours. No default (the manual sets none).
    pub mttr_target_hours: Option<f64>,
    /// Days a security update may stay pending (the manual's 30 days). Agents reporting another
    /// `sla_days` are listed in the patch KPI. Default 30.
    pub sla_days: u32,
    /// Courses that count as security awareness (case-insensitive); empty = every course counts.
    pub awareness_courses: Vec<String>,
    /// Overall CIS score to reach, as a ratio (0.6 = 60 %). No default (the manual sets none).
    pub cis_target: Option<f64>,
}

impl Default for KpiSection {
    fn default() -> Self {
        KpiSection {
            patch_sla_target: 1.0,
            training_target: 1.0,
            mttd_target_hours: None,
            mttr_target_hours: None,
            sla_days: 30,
            awareness_courses: Vec::new(),
            cis_target: None,
        }
    }
}

impl KpiSection {
    /// Range checks; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("kpi.patch_sla_target", self.patch_sla_target),
            ("kpi.training_target", self.training_target),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "{key} = {v} must be a ratio between 0 and 1 (1.0 = 100 %)"
                ));
            }
        }
        if let Some(v) = self.cis_target.filter(|v| !(0.0..=1.0).contains(v)) {
            return Err(format!(
                "kpi.cis_target = {v} must be a ratio between 0 and 1 (0.6 = 60 %)"
            ));
        }
        for (key, v) in [
            ("kpi.mttd_target_hours", self.mttd_target_hours),
            ("kpi.mttr_target_hours", self.mttr_target_hours),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("{key} = {v} must be a positive number of hours"));
                }
            }
        }
        if !(1..=3650).contains(&self.sla_days) {
            return Err(format!(
                "kpi.sla_days = {} must be between 1 and 3650",
                self.sla_days
            ));
        }
        if let Some(i) = self
            .awareness_courses
            .iter()
            .position(|c| c.trim().is_empty())
        {
            return Err(format!("kpi.awareness_courses[{i}] must not be empty"));
        }
        Ok(())
    }
}

impl CollectorConfig {
    /// Load and validate `path`, or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<CollectorConfig> {
        let Some(path) = path else {
            let cfg = CollectorConfig::default();
            cfg.validate().map_err(anyhow::Error::msg)?;
            return Ok(cfg);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("config file {}: cannot read: {e}", path.display()))?;
        let cfg: CollectorConfig = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "config file {}: {}",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Consistency and range checks.
    pub fn validate(&self) -> Result<(), String> {
        let s = &self.server;
        match (&s.tls_cert, &s.tls_key, s.insecure_http) {
            (Some(_), Some(_), false) => {}
            (None, None, true) => {}
            (Some(_), Some(_), true) => return Err(
                "server.insecure_http = true conflicts with server.tls_cert/tls_key: choose one"
                    .into(),
            ),
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err("server.tls_cert and server.tls_key must be set together".into())
            }
            (None, None, false) => {}
        }
        if let Some(u) = &s.public_url {
            check_public_url(u).map_err(|why| {
                format!(
                    "server.public_url = {u:?}: {why}; give an absolute http(s) URL such as \
                     \"https://vigie.example.org\""
                )
            })?;
        }
        if s.max_body_bytes < 4096 || s.max_body_bytes > 64 * 1024 * 1024 {
            return Err(format!(
                "server.max_body_bytes = {} must be between 4096 and 67108864",
                s.max_body_bytes
            ));
        }
        for (key, v) in [
            (
                "server.header_read_timeout_seconds",
                s.header_read_timeout_seconds,
            ),
            ("server.idle_timeout_seconds", s.idle_timeout_seconds),
            (
                "server.body_read_timeout_seconds",
                s.body_read_timeout_seconds,
            ),
            (
                "server.tls_handshake_timeout_seconds",
                s.tls_handshake_timeout_seconds,
            ),
        ] {
            if !(1..=3600).contains(&v) {
                return Err(format!("{key} = {v} must be between 1 and 3600 seconds"));
            }
        }
        if !(1..=1_000_000).contains(&s.max_connections) {
            return Err(format!(
                "server.max_connections = {} must be between 1 and 1000000",
                s.max_connections
            ));
        }
        if self.storage.max_batch == 0 || self.storage.max_batch > 10_000 {
            return Err("storage.max_batch must be between 1 and 10000".into());
        }
        if self.storage.dedup_days == 0 {
            return Err("storage.dedup_days must be at least 1".into());
        }
        if self.storage.fleet_risk_history_days < 31 {
            return Err(format!(
                "storage.fleet_risk_history_days = {} must be at least 31 (a month's report rewinds \
                 risks through it)",
                self.storage.fleet_risk_history_days
            ));
        }
        if self.auth.enroll_secret.is_some() && self.auth.enroll_secret_file.is_some() {
            return Err("auth.enroll_secret and auth.enroll_secret_file are exclusive".into());
        }
        if let Some(sec) = &self.auth.enroll_secret {
            if sec.trim().len() < MIN_ENROLL_SECRET_BYTES {
                return Err(format!(
                    "auth.enroll_secret must be at least {MIN_ENROLL_SECRET_BYTES} bytes, not \
                     counting surrounding blanks"
                ));
            }
        }
        for (i, admin) in self.auth.admin_tokens.iter().enumerate() {
            if let Some(j) = self.auth.auditor_tokens.iter().position(|a| a == admin) {
                return Err(format!(
                    "auth.admin_tokens[{i}] is also auth.auditor_tokens[{j}]: a token has one role"
                ));
            }
        }
        for (key, list) in [
            ("auth.admin_tokens", &self.auth.admin_tokens),
            ("auth.auditor_tokens", &self.auth.auditor_tokens),
        ] {
            for (i, t) in list.iter().enumerate() {
                if t.len() < 32 {
                    return Err(format!("{key}[{i}] must be at least 32 characters"));
                }
            }
        }
        let a = &self.auth;
        if !(1..=86_400).contains(&a.enroll_retry_window_seconds) {
            return Err("auth.enroll_retry_window_seconds must be between 1 and 86400".into());
        }
        if !(1..=10_000).contains(&a.enroll_failure_burst) {
            return Err("auth.enroll_failure_burst must be between 1 and 10000".into());
        }
        if !(1..=86_400).contains(&a.enroll_failure_refill_seconds) {
            return Err("auth.enroll_failure_refill_seconds must be between 1 and 86400".into());
        }
        if !(1..=3600).contains(&a.enroll_failure_summary_seconds) {
            return Err("auth.enroll_failure_summary_seconds must be between 1 and 3600".into());
        }
        let f = &self.fleet;
        if f.stale_after_intervals == 0 {
            return Err("fleet.stale_after_intervals must be at least 1".into());
        }
        if f.default_interval_seconds < 1 {
            return Err("fleet.default_interval_seconds must be at least 1".into());
        }
        if !(0..=86_400).contains(&f.max_clock_skew_seconds) {
            return Err("fleet.max_clock_skew_seconds must be between 0 and 86400".into());
        }
        if f.max_report_age_days < 1 {
            return Err("fleet.max_report_age_days must be at least 1".into());
        }
        if self.metrics.refresh_seconds == 0 {
            return Err("metrics.refresh_seconds must be at least 1".into());
        }
        if !(1..=3).contains(&self.cis.implementation_group) {
            return Err(format!(
                "cis.implementation_group = {} must be 1, 2 or 3",
                self.cis.implementation_group
            ));
        }
        self.kpi.validate()?;
        crate::risk::config::validate(&self.risk, &self.hosts, &self.actions, &self.webhooks)?;
        self.identity.validate()?;
        Ok(())
    }

    /// The run-time half of validation: what `serve` needs beyond the file's own consistency —
    /// TLS or an explicit `insecure_http`, a readable certificate and key that rustls accepts, the
    /// enrolment secret file. `check-config` runs exactly this, so a configuration it calls valid
    /// is one `serve` starts with. Errors name the key and the file.
    pub fn prepare(&self) -> anyhow::Result<Prepared> {
        let s = &self.server;
        let tls = match (&s.tls_cert, &s.tls_key) {
            (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
            _ if s.insecure_http => None,
            _ => anyhow::bail!(
                "server.tls_cert and server.tls_key are not set: configure TLS, or set \
                 server.insecure_http = true to serve plain HTTP explicitly (loopback or behind a \
                 TLS-terminating proxy only)"
            ),
        };
        Ok(Prepared {
            enroll_secret: self.enroll_secret()?,
            tls,
        })
    }

    /// The enrolment secret, read from the file if configured.
    pub fn enroll_secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(s) = &self.auth.enroll_secret {
            return Ok(Some(s.clone()));
        }
        if let Some(p) = &self.auth.enroll_secret_file {
            let t = std::fs::read_to_string(p).map_err(|e| {
                anyhow::anyhow!("auth.enroll_secret_file {}: cannot read: {e}", p.display())
            })?;
            let line = t.lines().next().unwrap_or("").trim().to_string();
            if line.len() < MIN_ENROLL_SECRET_BYTES {
                anyhow::bail!(
                    "auth.enroll_secret_file {}: the secret (first line) must be at least \
                     {MIN_ENROLL_SECRET_BYTES} bytes, not counting surrounding blanks",
                    p.display()
                );
            }
            return Ok(Some(line));
        }
        Ok(None)
    }

    /// Path of the SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("vigie.db")
    }
}

/// Why `u` cannot be `server.public_url`, if it cannot.
fn check_public_url(u: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(u).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in a public URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("no query or fragment allowed".into());
    }
    Ok(())
}

impl ServerSection {
    /// `public_url` without its trailing slash, to which absolute paths are appended; empty when
    /// unset (links stay relative).
    pub fn public_base(&self) -> &str {
        self.public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> anyhow::Result<CollectorConfig> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("collector.toml");
        std::fs::write(&p, s).unwrap();
        CollectorConfig::load(Some(&p))
    }

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = CollectorConfig::load(None).unwrap();
        assert!(c.server.listen.ip().is_loopback());
    }

    #[test]
    fn public_url_must_be_an_absolute_http_url() {
        for bad in [
            "vigie.example.org",
            "/vigie",
            "ftp://vigie.example.org",
            "https://user:pw@vigie.example.org",
            "https://vigie.example.org/?a=1",
            "https://vigie.example.org/#top",
            "https://",
        ] {
            let e = load_str(&format!("[server]\npublic_url = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("server.public_url"), "{bad}: {e}");
        }
        let c = load_str("[server]\npublic_url = \"https://vigie.example.org/sec/\"\n").unwrap();
        assert_eq!(c.server.public_base(), "https://vigie.example.org/sec");
        assert_eq!(CollectorConfig::default().server.public_base(), "");
    }

    #[test]
    fn errors_name_the_key() {
        let e = load_str("[server]\nlisten = \"127.0.0.1:1\"\nmax_body = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("max_body"), "{e}");
        let e = load_str("[server]\ntls_cert = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.tls_key"), "{e}");
        let e = load_str("[auth]\nadmin_tokens = [\"short\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.admin_tokens[0]"), "{e}");
        let e = load_str("[server]\nlisten = \"nonsense\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");
        let e = load_str("[storage]\nfleet_risk_history_days = 7\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.fleet_risk_history_days = 7"), "{e}");
        let c = load_str("[storage]\nfleet_risk_history_days = 31\n").unwrap();
        assert_eq!(c.storage.fleet_risk_history_days, 31);
        let e = load_str("[cis]\nimplementation_group = 4\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cis.implementation_group"), "{e}");
        let c = load_str("[cis]\nself_assessment = \"/etc/vigie/cis.toml\"\n").unwrap();
        assert_eq!(c.cis.implementation_group, 3);
        assert!(c.cis.self_assessment.is_some());
    }

    #[test]
    fn risk_sections_name_the_key() {
        let e = load_str("[risk.matrix]\nmedium = 9\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("risk.matrix"), "{e}");
        let e = load_str("[risk.scenarios.nope]\n").unwrap_err().to_string();
        assert!(e.contains("risk.scenarios.nope"), "{e}");
        let e = load_str("[risk.scenarios.mfa]\ntreatment = \"ignore\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("risk.scenarios.mfa.treatment"), "{e}");
        let e = load_str(
            "[[hosts.groups]]\nname = \"prod\"\nhostnames = [\"db-*\"]\ncriticality = 5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("hosts.groups[0].criticality"), "{e}");
        let e = load_str("[[webhooks.targets]]\nkind = \"irc\"\nurl = \"http://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("irc"), "{e}");
        let e = load_str(
            "[[webhooks.targets]]\nkind = \"slack\"\nurl = \"http://x\"\nevents = [\"boom\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("webhooks.targets[0].events"), "{e}");
        let c =
            load_str("[actions]\napprover_role = \"ciso\"\n[actions.roles]\nciso = [\"alice\"]\n")
                .unwrap();
        assert!(c.actions.is_approver("alice") && !c.actions.is_approver("bob"));
    }

    #[test]
    fn kpi_section_defaults_and_errors() {
        let c = load_str("[kpi]\nmttd_target_hours = 4\nawareness_courses = [\"Cyber 101\"]\n")
            .unwrap();
        assert_eq!(c.kpi.patch_sla_target, 1.0);
        assert_eq!(c.kpi.sla_days, 30);
        assert_eq!(c.kpi.mttd_target_hours, Some(4.0));
        let e = load_str("[kpi]\npatch_sla_target = 95\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kpi.patch_sla_target"), "{e}");
        let e = load_str("[kpi]\nmttr_target_hours = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("kpi.mttr_target_hours"), "{e}");
        let e = load_str("[kpi]\nsla_day = 3\n").unwrap_err().to_string();
        assert!(e.contains("sla_day"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The documented example in deploy/config/ stays valid.
    #[test]
    fn shipped_example_config_is_valid() {
        let text = include_str!("../../deploy/config/collector.toml");
        let cfg: CollectorConfig = toml::from_str(text).expect("example parses");
        cfg.validate().expect("example validates");
        assert_eq!(cfg.fleet.stale_after_intervals, 3);
    }
}
