//! Okta: `/api/v1/users` (every status; only `ACTIVE` users are judged) and, per active user,
//! `/api/v1/users/{id}/factors`, counting only `ACTIVE` factors; SMS, voice call, e-mail and
//! security question are weak; `/api/v1/users/{id}/roles` flags admins (any `ACTIVE` role
//! assignment, direct or through a group). `Authorization: SSWS <token>`; pages follow `Link: rel="next"`;
//! `X-Rate-Limit-Remaining: 0` waits until `X-Rate-Limit-Reset`, 429 waits `Retry-After`.

use serde_json::{json, Value};

use super::client::{short, Client};
use super::config::OktaConfig;
use super::creds::{read_secret, Secret};
use super::{AccountKind, Connector, IdentityRecord, Mfa, Pulled, SyncError};

/// Factor types that prove only a phone number, a mailbox or a memorised answer.
const WEAK_FACTORS: &[&str] = &["sms", "call", "email", "question"];

/// The Okta connector.
pub struct Okta {
    cfg: OktaConfig,
    token: Secret,
    client: Client,
}

impl Okta {
    /// Read the API token (`key` names the config entry) and prepare the connector.
    pub fn new(key: &str, cfg: OktaConfig, client: Client) -> Result<Okta, SyncError> {
        let token = read_secret(&format!("{key}.token_file"), &cfg.token_file)?;
        Ok(Okta { cfg, token, client })
    }

    async fn get(&self, url: &str) -> Result<super::client::Page, SyncError> {
        let auth = format!("SSWS {}", self.token.expose());
        self.client
            .page(url, || {
                self.client
                    .http()
                    .get(url)
                    .header(reqwest::header::AUTHORIZATION, &auth)
                    .header(reqwest::header::ACCEPT, "application/json")
            })
            .await
    }

    /// Every element of every page from `first` (each page a JSON array).
    async fn all(&self, first: String) -> Result<Vec<Value>, SyncError> {
        let mut items = Vec::new();
        let mut guard = super::client::PageGuard::default();
        guard.follow(&first)?;
        let mut url = first;
        loop {
            let page = self.get(&url).await?;
            let Value::Array(values) = page.body else {
                return Err(SyncError::Malformed {
                    url: short(&url),
                    message: "the answer is not a JSON array".into(),
                });
            };
            items.extend(values);
            match page.next {
                Some(next) => {
                    guard.follow(&next)?;
                    url = next;
                }
                None => return Ok(items),
            }
        }
    }
}

/// Judge the factors of one user: only `ACTIVE` ones count.
pub fn factors_mfa(factors: &[Value]) -> (Mfa, Vec<String>) {
    let active: Vec<String> = factors
        .iter()
        .filter(|f| f.get("status").and_then(Value::as_str) == Some("ACTIVE"))
        .filter_map(|f| f.get("factorType").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let mfa = if active.is_empty() {
        Mfa::None
    } else if active.iter().all(|t| WEAK_FACTORS.contains(&t.as_str())) {
        Mfa::WeakOnly
    } else {
        Mfa::Strong
    };
    (mfa, active)
}

/// The types of a user's active admin role assignments (`status` absent counts as active: older
/// answers omit it).
pub fn admin_roles(roles: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = roles
        .iter()
        .filter(|r| {
            r.get("status")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "ACTIVE")
        })
        .filter_map(|r| r.get("type").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    types.sort();
    types.dedup();
    types
}

impl Connector for Okta {
    async fn pull(&mut self) -> Result<Pulled, SyncError> {
        let base = self.cfg.url.trim_end_matches('/').to_string();
        let users_url = format!("{base}/api/v1/users?limit=200");
        let users = self.all(users_url.clone()).await?;
        let mut records = Vec::with_capacity(users.len());
        for u in &users {
            let id = u
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
                .ok_or_else(|| SyncError::Malformed {
                    url: short(&users_url),
                    message: "a user has no alphanumeric `id`".into(),
                })?;
            let status = u.get("status").and_then(Value::as_str).unwrap_or("");
            let enabled = status == "ACTIVE";
            let profile = u.get("profile");
            let p = |k: &str| {
                profile
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let display = [p("firstName"), p("lastName")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let (mfa, active, roles) = if enabled {
                let f = self
                    .all(format!("{base}/api/v1/users/{id}/factors"))
                    .await?;
                let r = self.all(format!("{base}/api/v1/users/{id}/roles")).await?;
                let (mfa, active) = factors_mfa(&f);
                (mfa, active, admin_roles(&r))
            } else {
                (Mfa::Unknown, Vec::new(), Vec::new())
            };
            records.push(IdentityRecord {
                account_id: id.to_string(),
                login: p("login"),
                display_name: display,
                enabled,
                kind: AccountKind::Member,
                admin: !roles.is_empty(),
                mfa,
                enforced: None,
                evidence: json!({ "status": status, "activeFactorTypes": active, "roleTypes": roles }),
            });
        }
        Ok(Pulled {
            records,
            enforced: None,
        })
    }
}
