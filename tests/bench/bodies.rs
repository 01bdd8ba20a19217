//! Real-size report bodies: the agent's own reports on fixture hosts (`tests/bench/bodies/*.json`,
//! written by `vigie-agent check --root tests/fixtures/hosts/<name> --format json`, compacted), sent
//! by simulated hosts with their own identity, report id and collection time.
//!
//! Regenerate with `tests/bench/bodies/regenerate.sh` after a change to the checks.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// The directory of the bodies.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bodies")
}

/// One agent report, as sent by a fixture host.
#[derive(Debug, Clone)]
pub struct Template {
    /// The fixture host it came from.
    pub name: String,
    /// The report (wire format).
    pub report: Value,
    /// Its compact size in bytes as the agent would send it.
    pub bytes: usize,
}

/// Every body in [`dir`], sorted by name.
pub fn load() -> anyhow::Result<Vec<Template>> {
    let d = dir();
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&d)
        .with_context(|| format!("cannot read {}", d.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for p in entries {
        let text = std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?;
        let report: Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", p.display()))?;
        if report.get("results").and_then(Value::as_array).is_none() {
            bail!("{}: not a wire report (no results)", p.display());
        }
        out.push(Template {
            name: p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: serde_json::to_vec(&report)?.len(),
            report,
        });
    }
    if out.is_empty() {
        bail!("no report bodies in {}", d.display());
    }
    Ok(out)
}

/// A simulated host sending one template's report.
pub struct RealHost {
    /// The template it sends.
    pub template: usize,
    /// Identity sent at enrolment and in every report.
    pub identity: Value,
    /// Node key from enrolment.
    pub node_key: String,
    /// Checks whose status is currently flipped (index into `results`).
    pub flipped: Vec<bool>,
    /// `collected_at` of the last report built.
    pub last_collected: Option<DateTime<Utc>>,
}

impl RealHost {
    /// Host number `index` sending `templates[index % len]`.
    pub fn new(index: usize, templates: &[Template]) -> RealHost {
        let template = index % templates.len();
        let results = templates[template].report["results"]
            .as_array()
            .map_or(0, Vec::len);
        let os = templates[template].report["host"]["os"]
            .as_str()
            .unwrap_or("debian")
            .to_string();
        RealHost {
            template,
            identity: json!({
                "hostname": format!("real-{index:06}.example.org"),
                "machine_id": format!("{:032x}", 0x5ca1_e000_0000_0000_u128 + index as u128),
                "os": os,
                "os_version": "12",
                "kernel": "6.1.0-27-amd64",
                "arch": "x86_64",
            }),
            node_key: String::new(),
            flipped: vec![false; results],
            last_collected: None,
        }
    }

    /// The enrolment request body.
    pub fn enroll_body(&self, secret: &str) -> Value {
        json!({"enroll_secret": secret, "host": self.identity, "interval_seconds": 900})
    }

    /// The next report body: the template with this host's identity, a fresh id and a
    /// `collected_at` a whole second after the previous one; flip result `flip` (a status change)
    /// first when given.
    pub fn next_body(&mut self, templates: &[Template], flip: Option<usize>) -> Vec<u8> {
        if let Some(c) = flip.filter(|_| !self.flipped.is_empty()) {
            let c = c % self.flipped.len();
            self.flipped[c] = !self.flipped[c];
        }
        let floor = Utc::now() - Duration::minutes(10);
        let at = match self.last_collected {
            Some(last) => (last + Duration::seconds(1)).max(floor),
            None => floor,
        };
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        self.last_collected = Some(at);
        let mut r = templates[self.template].report.clone();
        r["host"] = self.identity.clone();
        r["report_id"] = json!(uuid::Uuid::new_v4().to_string());
        r["collected_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        r["interval_seconds"] = json!(900);
        if let Some(results) = r["results"].as_array_mut() {
            for (res, flipped) in results.iter_mut().zip(&self.flipped) {
                if *flipped {
                    let now = res["status"].as_str().unwrap_or("pass");
                    res["status"] = json!(if now == "fail" { "pass" } else { "fail" });
                }
            }
        }
        serde_json::to_vec(&r).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_real_reports_with_several_shapes() {
        let t = load().unwrap();
        assert!(t.len() >= 3, "several fixture hosts: {}", t.len());
        let sizes: Vec<usize> = t.iter().map(|t| t.bytes).collect();
        assert!(sizes.iter().any(|&s| s > 20_000), "a large body: {sizes:?}");
        let mut h = RealHost::new(1, &t);
        let a: Value = serde_json::from_slice(&h.next_body(&t, None)).unwrap();
        let b: Value = serde_json::from_slice(&h.next_body(&t, Some(0))).unwrap();
        assert_ne!(a["report_id"], b["report_id"]);
        assert!(a["collected_at"].as_str() < b["collected_at"].as_str());
        assert_eq!(a["host"]["hostname"], "real-000001.example.org");
        assert_ne!(a["results"][0]["status"], b["results"][0]["status"]);
        // The body parses as the wire format the collector accepts.
        let _: vigie_checks::wire::Report = serde_json::from_value(b).unwrap();
    }
}
