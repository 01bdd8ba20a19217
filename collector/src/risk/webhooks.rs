//! Outgoing notifications. The background scan (`due_notifications`, pure) turns the register's
//! state into notifications with a stable key — a new high or critical risk, a P1 action overdue,
//! an exception expiring within 30 days — and queues each once per target in the outbox. A separate
//! task delivers the outbox with retries and exponential backoff; ingest never waits for any of it.
//! It also raises `incident_deadline`: a personal-data incident not yet notified when fewer than
//! [`INCIDENT_WARNING_S`] remain before its 72-hour deadline (or once it has passed).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;

use super::actions::{Action, ActionState, Priority};
use super::config::{WebhookKind, WebhookTarget, WebhooksSection};
use super::exceptions::{Exception, ExceptionState};
use super::register::Risk;
use super::{Level, RiskStatus};
use crate::store::webhooks::{self as outbox, Attempt};
use crate::store::{Store, StoreError};

/// The notification duty: 72 hours from detection.
pub const INCIDENT_DEADLINE_S: i64 = 72 * 3600;
/// Warn when fewer than this many seconds remain before the deadline.
pub const INCIDENT_WARNING_S: i64 = 24 * 3600;

/// Longest wait between two attempts.
pub const MAX_BACKOFF_S: i64 = 6 * 3600;

/// One notification, before rendering for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Event name (one of `config::EVENTS`).
    pub event: &'static str,
    /// Deduplication key: the same key is sent once per target.
    pub key: String,
    /// One-line title.
    pub title: String,
    /// Text (a sentence or two).
    pub text: String,
    /// Structured details for the generic payload.
    pub data: serde_json::Value,
}

/// The notifications the current state calls for.
pub fn due_notifications(
    risks: &[Risk],
    actions: &[Action],
    exceptions: &[Exception],
    incidents: &[crate::registers::incident::Incident],
    today: NaiveDate,
    now: i64,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for i in incidents {
        let Some(detected) = i.detected_at.map(|d| d.timestamp()) else {
            continue;
        };
        let deadline = detected + INCIDENT_DEADLINE_S;
        if i.personal_data && i.notified_at.is_none() && now >= deadline - INCIDENT_WARNING_S {
            let left_h = (deadline - now) / 3600;
            let deadline_s = crate::store::hosts::rfc3339(deadline);
            out.push(Notification {
                event: "incident_deadline",
                key: format!("incident_deadline:{}", i.id),
                title: if now < deadline {
                    format!(
                        "Incident {}: personal-data notification due within {left_h} h",
                        i.id
                    )
                } else {
                    format!(
                        "Incident {}: personal-data notification deadline passed",
                        i.id
                    )
                },
                text: format!(
                    "{} ({}); detected {}, notify the authority by {deadline_s} (72 h).",
                    i.title,
                    i.severity.as_str(),
                    crate::store::hosts::rfc3339(detected)
                ),
                data: json!({"incident_id": i.id, "severity": i.severity.as_str(),
                             "detected_at": crate::store::hosts::rfc3339(detected),
                             "deadline": deadline_s}),
            });
        }
    }
    for r in risks {
        if r.status == RiskStatus::Open && matches!(r.level, Level::High | Level::Critical) {
            out.push(Notification {
                event: "risk_high",
                key: format!("risk_high:{}:{}", r.id, r.level),
                title: format!("Risk R-{} is {}: {}", r.id, r.level, r.title),
                text: format!(
                    "Likelihood {} × impact {} = {}; treatment {}; owner {}.",
                    r.likelihood, r.impact, r.level, r.treatment, r.owner
                ),
                data: json!({"risk_id": r.id, "level": r.level, "source": r.source, "check": r.check,
                             "likelihood": r.likelihood, "impact": r.impact, "owner": r.owner}),
            });
        }
    }
    for a in actions {
        if a.priority == Priority::P1
            && super::actions::state(a.status, a.due, today) == ActionState::Overdue
        {
            out.push(Notification {
                event: "action_p1_overdue",
                key: format!("action_p1_overdue:{}:{}", a.id, a.due),
                title: format!("P1 action A-{} is overdue: {}", a.id, a.title),
                text: format!("Due {}; owner {}.", a.due, a.owner),
                data: json!({"action_id": a.id, "due": a.due.to_string(), "owner": a.owner, "risks": a.risks}),
            });
        }
    }
    for e in exceptions {
        if e.state(now) == ExceptionState::Expiring {
            let expiry = crate::store::hosts::rfc3339(e.expires_at);
            out.push(Notification {
                event: "exception_expiring",
                key: format!("exception_expiring:{}:{}", e.id, e.expires_at),
                title: format!("Exception E-{} for {} expires {}", e.id, e.check, &expiry[..10]),
                text: format!(
                    "Scope {} {}; reason: {}. Renew it (with approval) or fix the failures before it lapses.",
                    e.scope, e.scope_value, e.reason
                ),
                data: json!({"exception_id": e.id, "check": e.check, "scope": e.scope,
                             "scope_value": e.scope_value, "expires_at": expiry}),
            });
        }
    }
    out
}

/// The JSON body for a target of `kind`.
pub fn payload(kind: WebhookKind, n: &Notification, now: i64) -> serde_json::Value {
    match kind {
        WebhookKind::Generic => json!({
            "event": n.event, "key": n.key, "title": n.title, "text": n.text,
            "data": n.data, "at": crate::store::hosts::rfc3339(now),
        }),
        WebhookKind::Slack => json!({"text": format!("*{}*\n{}", n.title, n.text)}),
        WebhookKind::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": n.title,
            "themeColor": "D83B01",
            "title": n.title,
            "text": n.text,
        }),
    }
}

/// True when `target` subscribes to `event`.
pub fn wants(target: &WebhookTarget, event: &str) -> bool {
    target.events.is_empty() || target.events.iter().any(|e| e == event)
}

/// Delay before the attempt after `attempts` failed ones: base × 2^(attempts − 1), capped.
pub fn backoff(base: u64, attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (base as i64).saturating_mul(1i64 << exp).min(MAX_BACKOFF_S)
}

/// Queue `notes` for every subscribed target, skipping keys already known. Returns how many rows
/// were queued. One write, only when there is something new.
pub async fn enqueue(
    store: &Arc<Store>,
    cfg: &WebhooksSection,
    notes: Vec<Notification>,
    now: i64,
) -> Result<usize, StoreError> {
    if cfg.targets.is_empty() || notes.is_empty() {
        return Ok(0);
    }
    let s = store.clone();
    let known = tokio::task::spawn_blocking(move || s.read(outbox::known_keys))
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let mut rows = Vec::new();
    for t in &cfg.targets {
        for n in &notes {
            if wants(t, n.event) && !known.contains(&(t.url.clone(), n.key.clone())) {
                rows.push((
                    t.url.clone(),
                    t.kind.as_str(),
                    n.event,
                    n.key.clone(),
                    payload(t.kind, n, now).to_string(),
                ));
            }
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    store
        .write(move |c| {
            let mut n = 0;
            for (url, kind, event, key, body) in &rows {
                n += usize::from(outbox::enqueue(c, url, kind, event, key, body, now)?);
            }
            Ok(n)
        })
        .await
}

/// Attempt every delivery due at `now` once; returns (delivered, failed).
pub async fn deliver_due(
    store: &Arc<Store>,
    client: &reqwest::Client,
    cfg: &WebhooksSection,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let s = store.clone();
    let due = tokio::task::spawn_blocking(move || s.read(|c| outbox::due(c, now, 50)))
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let (mut ok, mut failed) = (0, 0);
    let mut outcomes = Vec::new();
    for p in due {
        let r = client
            .post(&p.target_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(p.payload.clone())
            .send()
            .await;
        let error = match r {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => Some(format!("HTTP {}", resp.status())),
            Err(e) => Some(e.to_string()),
        };
        let outcome = match error {
            None => {
                ok += 1;
                Attempt::Delivered
            }
            Some(error) => {
                failed += 1;
                let attempts = p.attempts + 1;
                tracing::warn!(url = %p.target_url, event = %p.event, attempts, %error, "webhook delivery failed");
                if attempts >= cfg.max_attempts {
                    Attempt::Dead { error }
                } else {
                    Attempt::Retry {
                        error,
                        at: now + backoff(cfg.backoff_seconds, attempts),
                    }
                }
            }
        };
        outcomes.push((p.id, outcome));
    }
    if !outcomes.is_empty() {
        store
            .write(move |c| {
                for (id, o) in &outcomes {
                    outbox::record(c, *id, o, now)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok((ok, failed))
}

/// Aborts the delivery task when dropped (with the background loop that owns it).
pub struct DeliveryTask(tokio::task::JoinHandle<()>);

impl Drop for DeliveryTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start the delivery loop (a no-op loop when no target is configured).
pub fn spawn(store: Arc<Store>, cfg: WebhooksSection) -> DeliveryTask {
    DeliveryTask(tokio::spawn(async move {
        if cfg.targets.is_empty() {
            return;
        }
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_seconds))
            .user_agent(concat!("vigie-collector/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks disabled: cannot build the HTTP client");
                return;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.poll_seconds));
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&store, &client, &cfg, crate::store::now_unix()).await {
                tracing::warn!(error = %e, "webhook outbox unavailable");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Detected at t0. Deadline t0 + 72 h; the warning opens at t0 + 48 h.
    #[test]
    fn personal_data_incident_nearing_its_deadline_is_notified_once() {
        let t0: chrono::DateTime<chrono::Utc> = "2026-11-20T08:00:00Z".parse().unwrap();
        let incident: crate::registers::incident::Incident = serde_json::from_value(json!({
            "id": "INC-7", "title": "Leaked CRM export", "type": "other", "severity": "major",
            "detected_at": t0, "personal_data": true
        }))
        .unwrap();
        let today = t0.date_naive();
        let at = |h: i64| t0.timestamp() + h * 3600;
        let due = |i: &crate::registers::incident::Incident, now| {
            due_notifications(&[], &[], &[], std::slice::from_ref(i), today, now)
        };
        assert!(due(&incident, at(47)).is_empty(), "25 h left: not yet");
        let n = due(&incident, at(50));
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].event, n[0].key.as_str()),
            ("incident_deadline", "incident_deadline:INC-7")
        );
        assert!(n[0].title.contains("within 22 h"), "{}", n[0].title);
        assert!(due(&incident, at(80))[0].title.contains("passed"));
        // Notified, or not personal data: nothing to say.
        let mut notified = incident.clone();
        notified.notified_at = Some(t0 + chrono::Duration::hours(30));
        assert!(due(&notified, at(50)).is_empty());
        let mut other = incident.clone();
        other.personal_data = false;
        assert!(due(&other, at(50)).is_empty());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        // base 30: after 1 failure 30 s, 2 → 60, 3 → 120; 20 failures → capped at 6 h.
        assert_eq!(backoff(30, 1), 30);
        assert_eq!(backoff(30, 2), 60);
        assert_eq!(backoff(30, 3), 120);
        assert_eq!(backoff(30, 20), MAX_BACKOFF_S);
    }

    #[test]
    fn payload_shapes() {
        let n = Notification {
            event: "risk_high",
            key: "risk_high:1:high".into(),
            title: "T".into(),
            text: "x".into(),
            data: json!({"risk_id": 1}),
        };
        assert_eq!(
            payload(WebhookKind::Slack, &n, 0),
            json!({"text": "*T*\nx"})
        );
        assert_eq!(payload(WebhookKind::Teams, &n, 0)["@type"], "MessageCard");
        let g = payload(WebhookKind::Generic, &n, 0);
        assert_eq!(g["event"], "risk_high");
        assert_eq!(g["data"]["risk_id"], 1);
    }

    /// A receiver that answers 503 to the first request and 200 afterwards.
    async fn flaky_receiver() -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (h, b) = (hits.clone(), bodies.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let (h, b) = (h.clone(), b.clone());
                async move {
                    b.lock().unwrap().push(body);
                    if h.fetch_add(1, Ordering::SeqCst) == 0 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (format!("http://{addr}/hook"), hits, bodies)
    }

    #[tokio::test]
    async fn retries_until_the_receiver_accepts() {
        let (url, hits, bodies) = flaky_receiver().await;
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        let cfg = WebhooksSection {
            backoff_seconds: 30,
            targets: vec![WebhookTarget {
                kind: WebhookKind::Slack,
                url: url.clone(),
                events: vec!["risk_high".into()],
            }],
            ..Default::default()
        };
        let n = Notification {
            event: "risk_high",
            key: "risk_high:7:critical".into(),
            title: "Risk R-7 is critical".into(),
            text: "t".into(),
            data: json!({}),
        };
        let other = Notification {
            event: "exception_expiring",
            key: "e:1".into(),
            ..n.clone()
        };
        // Queued once; the same key again, or an event the target does not want, queues nothing.
        assert_eq!(
            enqueue(&store, &cfg, vec![n.clone(), other], 1000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            enqueue(&store, &cfg, vec![n.clone()], 1001).await.unwrap(),
            0
        );
        let client = reqwest::Client::new();
        // t = 1000: first attempt, 503 → retry at 1000 + 30.
        assert_eq!(
            deliver_due(&store, &client, &cfg, 1000).await.unwrap(),
            (0, 1)
        );
        // t = 1029: not due yet, nothing sent.
        assert_eq!(
            deliver_due(&store, &client, &cfg, 1029).await.unwrap(),
            (0, 0)
        );
        // t = 1030: second attempt, 200 → delivered.
        assert_eq!(
            deliver_due(&store, &client, &cfg, 1030).await.unwrap(),
            (1, 0)
        );
        assert_eq!(
            deliver_due(&store, &client, &cfg, 5000).await.unwrap(),
            (0, 0)
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        let body: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[1]).unwrap();
        assert_eq!(body["text"], "*Risk R-7 is critical*\nt");
        let counts = store.read(outbox::counts).unwrap();
        assert_eq!(counts, vec![("delivered".to_string(), 1)]);
    }

    #[tokio::test]
    async fn dead_receiver_gives_up_after_max_attempts() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        // Port 9 on loopback: nothing listens; connection refused at once.
        let cfg = WebhooksSection {
            max_attempts: 2,
            backoff_seconds: 1,
            targets: vec![WebhookTarget {
                kind: WebhookKind::Generic,
                url: "http://127.0.0.1:9/x".into(),
                events: vec![],
            }],
            ..Default::default()
        };
        let n = Notification {
            event: "action_p1_overdue",
            key: "k".into(),
            title: "t".into(),
            text: "t".into(),
            data: json!({}),
        };
        enqueue(&store, &cfg, vec![n], 0).await.unwrap();
        let client = reqwest::Client::new();
        assert_eq!(deliver_due(&store, &client, &cfg, 0).await.unwrap(), (0, 1));
        assert_eq!(deliver_due(&store, &client, &cfg, 1).await.unwrap(), (0, 1));
        assert_eq!(
            deliver_due(&store, &client, &cfg, 100).await.unwrap(),
            (0, 0)
        );
        assert_eq!(
            store.read(outbox::counts).unwrap(),
            vec![("dead".to_string(), 1)]
        );
    }
}
