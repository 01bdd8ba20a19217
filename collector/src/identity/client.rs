//! HTTP for the connectors: JSON pages, `Link: rel="next"` (several headers or one with
//! comma-separated values), throttling (429, or 403/503 with `Retry-After` as GitHub's secondary limits send, `X-Rate-Limit-Remaining: 0` until
//! `X-Rate-Limit-Reset`), and the providers' error bodies turned into short messages.

use std::time::Duration;

use reqwest::header::{HeaderMap, LINK, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use super::SyncError;

/// Attempts of one request when throttled.
const MAX_ATTEMPTS: u32 = 5;

/// The shared HTTP client of a sync.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    max_wait: Duration,
}

/// One answered page.
#[derive(Debug)]
pub struct Page {
    /// The JSON body.
    pub body: Value,
    /// The `rel="next"` target of the `Link` headers, if any.
    pub next: Option<String>,
}

/// The URL without its query, for messages (queries may carry filters, never secrets, but stay
/// short).
pub fn short(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

impl Client {
    /// A client with a per-request `timeout`; `max_wait` is the longest throttling wait honoured.
    pub fn new(timeout: Duration, max_wait: Duration) -> Result<Client, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("vigie-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Transport {
                url: String::new(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Client { http, max_wait })
    }

    /// The underlying client, to build requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Send the request `make` builds (again on each attempt), waiting out throttling; any
    /// non-success answer becomes [`SyncError::Http`] with the provider's message.
    pub async fn send(
        &self,
        url: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<reqwest::Response, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let resp = make().send().await.map_err(|e| SyncError::Transport {
                url: short(url),
                message: transport_message(e),
            })?;
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS
                || ((status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::FORBIDDEN)
                    && resp.headers().contains_key(RETRY_AFTER))
            {
                let wait = retry_after(resp.headers());
                if attempt >= MAX_ATTEMPTS {
                    return Err(SyncError::Throttled {
                        url: short(url),
                        message: format!("still HTTP {} after {attempt} attempts", status.as_u16()),
                    });
                }
                if wait > self.max_wait {
                    return Err(SyncError::Throttled {
                        url: short(url),
                        message: format!(
                            "Retry-After {} s is longer than identity.max_retry_after_seconds",
                            wait.as_secs()
                        ),
                    });
                }
                tracing::info!(url = %short(url), wait_s = wait.as_secs(), attempt, "throttled, waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                return Err(SyncError::Http {
                    url: short(url),
                    status: status.as_u16(),
                    message: error_message(&text),
                });
            }
            if let Some(wait) = rate_limit_exhausted(resp.headers()) {
                // Answered, but the budget is spent: wait before the next call.
                let wait = wait.min(self.max_wait);
                tracing::info!(url = %short(url), wait_s = wait.as_secs(), "rate limit reached, waiting");
                tokio::time::sleep(wait).await;
            }
            return Ok(resp);
        }
    }

    /// Send, then read the body as JSON and the `Link: rel="next"` target.
    pub async fn page(
        &self,
        url: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Page, SyncError> {
        let resp = self.send(url, make).await?;
        let next = next_link(resp.headers()).map_err(|message| SyncError::Malformed {
            url: short(url),
            message,
        })?;
        let body = resp
            .json::<Value>()
            .await
            .map_err(|e| SyncError::Malformed {
                url: short(url),
                message: e.without_url().to_string(),
            })?;
        Ok(Page { body, next })
    }
}

/// A transport error with its causes ("error sending request: … Connection refused"), without
/// the URL (given apart, without its query).
fn transport_message(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    if timeout {
        msg.push_str(" (timed out: see identity.timeout_seconds)");
    }
    msg
}

/// `Retry-After` in seconds (an HTTP date or a missing header counts as 1 s).
fn retry_after(h: &HeaderMap) -> Duration {
    let secs = h
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs)
}

/// `X-Rate-Limit-Remaining: 0` (Okta) or `x-ratelimit-remaining: 0` (GitHub) → the time until
/// the matching reset (Unix seconds), at least 1 s.
fn rate_limit_exhausted(h: &HeaderMap) -> Option<Duration> {
    let num = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    for (remaining, reset) in [
        ("x-rate-limit-remaining", "x-rate-limit-reset"),
        ("x-ratelimit-remaining", "x-ratelimit-reset"),
    ] {
        if num(remaining) != Some(0) {
            continue;
        }
        let wait = num(reset)
            .map(|r| r - chrono::Utc::now().timestamp())
            .unwrap_or(1)
            .max(1);
        return Some(Duration::from_secs(wait as u64));
    }
    None
}

/// The `rel="next"` target among every `Link` header (several headers, or one with
/// comma-separated links).
pub fn next_link(h: &HeaderMap) -> Result<Option<String>, String> {
    for v in h.get_all(LINK) {
        let v = v
            .to_str()
            .map_err(|_| "Link header is not ASCII".to_string())?;
        let links = parse_link_header::parse_with_rel(v)
            .map_err(|e| format!("cannot parse the Link header: {e:?}"))?;
        if let Some(next) = links.get("next") {
            return Ok(Some(next.raw_uri.clone()));
        }
    }
    Ok(None)
}

/// The provider's error message from an error body (Graph/Google `error.message`, Okta
/// `errorCode` + `errorSummary`, GitHub `message`), else the start of the body.
pub fn error_message(text: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        if let Some(m) = s("/error/message") {
            return match s("/error/code").or_else(|| s("/error/status")) {
                Some(c) => format!("{c}: {m}"),
                None => m,
            };
        }
        if let Some(m) = s("/errorSummary") {
            return match s("/errorCode") {
                Some(c) => format!("{c}: {m}"),
                None => m,
            };
        }
        if let Some(m) = s("/message").or_else(|| s("/error_description")) {
            return m;
        }
    }
    let t: String = text.chars().take(200).collect();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn next_link_in_every_form() {
        let mut h = HeaderMap::new();
        assert_eq!(next_link(&h).unwrap(), None);
        // Two headers, self first.
        h.append(
            LINK,
            HeaderValue::from_static("<https://o.example/api/v1/users?limit=2>; rel=\"self\""),
        );
        h.append(
            LINK,
            HeaderValue::from_static(
                "<https://o.example/api/v1/users?after=100u&limit=2>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&h).unwrap().as_deref(),
            Some("https://o.example/api/v1/users?after=100u&limit=2")
        );
        // One header, comma-separated, next first.
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://o.example/u?after=000uy&limit=10>; rel=\"next\", <https://o.example/u?limit=10>; rel=\"self\"",
            ),
        );
        assert_eq!(
            next_link(&h).unwrap().as_deref(),
            Some("https://o.example/u?after=000uy&limit=10")
        );
        // Only self: the end.
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static("<https://o.example/u?limit=10>; rel=\"self\""),
        );
        assert_eq!(next_link(&h).unwrap(), None);
    }

    #[tokio::test]
    async fn transport_errors_name_their_cause() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = Client::new(Duration::from_secs(2), Duration::from_secs(1)).unwrap();
        let url = format!("http://127.0.0.1:{port}/v1.0/users?$top=999");
        let e = c
            .page(&url, || c.http().get(&url))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("http://127.0.0.1:{port}/v1.0/users: ")),
            "{e}"
        );
        assert!(e.to_lowercase().contains("refused"), "{e}");
        assert!(!e.contains("$top"), "{e}");
    }

    #[test]
    fn page_guard_stops_loops() {
        let mut g = PageGuard::default();
        g.follow("https://x/u?after=1").unwrap();
        g.follow("https://x/u?after=2").unwrap();
        let e = g.follow("https://x/u?after=1").unwrap_err().to_string();
        assert!(
            e.contains("already read") && e.starts_with("https://x/u:"),
            "{e}"
        );
    }

    #[test]
    fn error_bodies_of_each_provider() {
        assert_eq!(
            error_message(
                r#"{"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorCauses": []}"#
            ),
            "E0000011: Invalid token provided"
        );
        assert_eq!(
            error_message(
                r#"{"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}"#
            ),
            "Authorization_RequestDenied: Insufficient privileges"
        );
        assert_eq!(
            error_message(r#"{"message": "Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(error_message(""), "(empty body)");
    }
}

/// Most pages read from one listing before the sync is failed (500 000 accounts at 50 a page).
pub const MAX_PAGES: usize = 10_000;

/// Guards a paging loop: a `next` that was already followed (a server looping) or too many pages
/// fail the sync instead of spinning forever.
#[derive(Default)]
pub struct PageGuard {
    seen: std::collections::HashSet<String>,
}

impl PageGuard {
    /// Record that `next` is about to be followed.
    pub fn follow(&mut self, next: &str) -> Result<(), SyncError> {
        if !self.seen.insert(next.to_string()) {
            return Err(SyncError::Malformed {
                url: short(next),
                message: "the next-page link points back to a page already read".into(),
            });
        }
        if self.seen.len() > MAX_PAGES {
            return Err(SyncError::Malformed {
                url: short(next),
                message: format!("more than {MAX_PAGES} pages"),
            });
        }
        Ok(())
    }
}
