//! Talking to the collector: enrolment and report delivery, with outcomes the daemon can act on.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use vigie_checks::wire::HostIdentity;

/// Error codes with which the collector refuses a report for good (see docs/api.md).
const FINAL_CODES: &[&str] = &[
    "malformed_json",
    "unsupported_schema",
    "invalid_report",
    "unknown_check",
    "far_future",
    "too_old",
    "wrong_host",
    "body_too_large",
];

/// What became of one delivery attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Stored by the collector.
    Accepted,
    /// The collector already had it (a resend after a lost answer): done.
    AlreadyReceived,
    /// Try again later: network error, timeout, 5xx or 429.
    Retry(String),
    /// The node key is unknown or rotated: keep the report, re-enrol.
    Unauthorized(String),
    /// The collector refused this report as invalid: never resend it.
    Refused { status: u16, message: String },
}

/// An HTTP client for one collector.
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base_url`, trusting only `ca_file` when given.
    pub fn new(
        base_url: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("vigie-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("CA file {}: cannot read", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("CA file {}: not a PEM certificate", ca.display()))?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
        }
        Ok(Client {
            base: base_url.trim_end_matches('/').to_string(),
            http: b.build().context("cannot build HTTP client")?,
        })
    }

    /// Enrol and return the node key.
    pub async fn enroll(
        &self,
        secret: &str,
        host: &HostIdentity,
        interval: u64,
        current_key: Option<&str>,
    ) -> anyhow::Result<String> {
        let url = format!("{}/api/v1/enroll", self.base);
        let body = serde_json::json!({"enroll_secret": secret, "host": host, "interval_seconds": interval});
        let mut req = self.http.post(&url).json(&body);
        // Re-enrolling an enrolled machine needs its current node key (or an admin's permission).
        if let Some(k) = current_key {
            req = req.bearer_auth(k);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the collector at {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!(
                "collector refused the enrolment ({status}): {}",
                error_message(&text)
            );
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .context("collector answered the enrolment with malformed JSON")?;
        v["node_key"]
            .as_str()
            .map(str::to_string)
            .context("collector's enrolment answer has no node_key")
    }

    /// Deliver one report body.
    pub async fn deliver(&self, node_key: &str, body: Vec<u8>) -> Delivery {
        let url = format!("{}/api/v1/reports", self.base);
        let resp = match self
            .http
            .post(&url)
            .bearer_auth(node_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Delivery::Retry(format!("cannot reach {url}: {e}")),
        };
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
        match status {
            200..=299 => Delivery::Accepted,
            409 if code.as_deref() == Some("duplicate_report") => Delivery::AlreadyReceived,
            409 if code.as_deref() == Some("out_of_order") => Delivery::Refused {
                status,
                message: error_message(&text),
            },
            401 | 403 if code.as_deref() != Some("wrong_host") => {
                Delivery::Unauthorized(error_message(&text))
            }
            // A refusal is final only when the collector itself judged this report invalid (a
            // known error code): a proxy's 404/407/413 or a wrong URL must not drain the spool.
            400..=499 if code.as_deref().is_some_and(|c| FINAL_CODES.contains(&c)) => {
                Delivery::Refused {
                    status,
                    message: error_message(&text),
                }
            }
            429 | 500..=599 => Delivery::Retry(format!(
                "collector answered {status}: {}",
                error_message(&text)
            )),
            _ => Delivery::Retry(format!(
                "unexpected answer {status} (not from a Vigie collector? check collector.url and \
                 any proxy): {}",
                error_message(&text)
            )),
        }
    }
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}
