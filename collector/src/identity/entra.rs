//! Microsoft Entra ID through Microsoft Graph: `/v1.0/users` (enabled, member or guest) joined with
//! `/v1.0/reports/authenticationMethods/userRegistrationDetails` (`isMfaCapable`,
//! `methodsRegistered`, `isAdmin`). Client-credentials token, refreshed before it expires and once
//! more if Graph answers 401 mid-sync. Pages follow `@odata.nextLink` verbatim.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{short, Client};
use super::config::EntraConfig;
use super::creds::{read_secret, Secret};
use super::{AccountKind, Connector, IdentityRecord, Mfa, Pulled, SyncError};

/// Methods that only prove possession of a phone number or a mailbox.
const WEAK_METHODS: &[&str] = &[
    "mobilePhone",
    "alternateMobilePhone",
    "officePhone",
    "email",
];

/// Refresh the token when it has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The Entra connector.
pub struct Entra {
    cfg: EntraConfig,
    secret: Secret,
    client: Client,
    token: Option<(String, Instant)>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// `true`/`false`, also written as strings (seen in Microsoft's own samples).
fn lenient_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl Entra {
    /// Read the client secret (`key` names the config entry) and prepare the connector.
    pub fn new(key: &str, cfg: EntraConfig, client: Client) -> Result<Entra, SyncError> {
        let secret = read_secret(
            &format!("{key}.client_secret_file"),
            &cfg.client_secret_file,
        )?;
        Ok(Entra {
            cfg,
            secret,
            client,
            token: None,
        })
    }

    async fn token(&mut self) -> Result<String, SyncError> {
        if let Some((t, until)) = &self.token {
            if Instant::now() + REFRESH_MARGIN < *until {
                return Ok(t.clone());
            }
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.cfg.login_url.trim_end_matches('/'),
            self.cfg.tenant_id
        );
        let scope = format!("{}/.default", self.cfg.graph_url.trim_end_matches('/'));
        let form = [
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.secret.expose()),
            ("scope", scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        let resp = self
            .client
            .send(&url, || self.client.http().post(&url).form(&form))
            .await?;
        let t: TokenAnswer = resp.json().await.map_err(|e| SyncError::Malformed {
            url: short(&url),
            message: e.without_url().to_string(),
        })?;
        let until = Instant::now() + Duration::from_secs(t.expires_in);
        self.token = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    /// Every item of every page from `first`.
    async fn all(&mut self, first: String) -> Result<Vec<Value>, SyncError> {
        let mut items = Vec::new();
        let mut guard = super::client::PageGuard::default();
        guard.follow(&first)?;
        let mut url = first;
        loop {
            let mut retried = false;
            let page = loop {
                let token = self.token().await?;
                let r = self
                    .client
                    .page(&url, || self.client.http().get(&url).bearer_auth(&token))
                    .await;
                match r {
                    // Expired or revoked mid-sync: one fresh token, once.
                    Err(SyncError::Http { status: 401, .. }) if !retried => {
                        retried = true;
                        self.token = None;
                    }
                    other => break other?,
                }
            };
            let Some(values) = page.body.get("value").and_then(Value::as_array) else {
                return Err(SyncError::Malformed {
                    url: short(&url),
                    message: "no `value` array".into(),
                });
            };
            items.extend(values.iter().cloned());
            match page.body.get("@odata.nextLink") {
                Some(Value::String(next)) => {
                    guard.follow(next)?;
                    url = next.clone();
                }
                None | Some(Value::Null) => return Ok(items),
                Some(_) => {
                    return Err(SyncError::Malformed {
                        url: short(&url),
                        message: "`@odata.nextLink` is not a string".into(),
                    })
                }
            }
        }
    }
}

fn field_str(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Join users and registration details into records.
pub fn join(
    users: &[Value],
    details: &[Value],
    url: &str,
) -> Result<Vec<IdentityRecord>, SyncError> {
    let malformed = |message: String| SyncError::Malformed {
        url: url.to_string(),
        message,
    };
    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    for d in details {
        let id = d
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a userRegistrationDetails row has no `id`".into()))?;
        by_id.insert(id, d);
    }
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        let id = u
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a user has no `id`".into()))?;
        let enabled = lenient_bool(u.get("accountEnabled")).unwrap_or(true);
        let user_type = field_str(u, "userType");
        let kind = if user_type.eq_ignore_ascii_case("guest") {
            AccountKind::Guest
        } else {
            AccountKind::Member
        };
        let d = by_id.get(id).copied();
        let capable = d.and_then(|d| lenient_bool(d.get("isMfaCapable")));
        let methods: Vec<String> = d
            .and_then(|d| d.get("methodsRegistered"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mfa = match capable {
            Some(true)
                if !methods.is_empty()
                    && methods.iter().all(|m| WEAK_METHODS.contains(&m.as_str())) =>
            {
                Mfa::WeakOnly
            }
            Some(true) => Mfa::Strong,
            Some(false) => Mfa::None,
            None => Mfa::Unknown,
        };
        let admin = d
            .and_then(|d| lenient_bool(d.get("isAdmin")))
            .unwrap_or(false);
        out.push(IdentityRecord {
            account_id: id.to_string(),
            login: field_str(u, "userPrincipalName"),
            display_name: field_str(u, "displayName"),
            enabled,
            kind,
            admin,
            mfa,
            enforced: None,
            evidence: json!({
                "accountEnabled": enabled,
                "userType": user_type,
                "isMfaCapable": capable,
                "isMfaRegistered": d.and_then(|d| lenient_bool(d.get("isMfaRegistered"))),
                "methodsRegistered": methods,
                "isAdmin": admin,
                "lastUpdatedDateTime": d.and_then(|d| d.get("lastUpdatedDateTime")).cloned(),
            }),
        });
    }
    Ok(out)
}

impl Connector for Entra {
    async fn pull(&mut self) -> Result<Pulled, SyncError> {
        let base = self.cfg.graph_url.trim_end_matches('/').to_string();
        let users = self
            .all(format!(
                "{base}/v1.0/users?$select=id,accountEnabled,userType,userPrincipalName,displayName&$top=999"
            ))
            .await?;
        let details_url =
            format!("{base}/v1.0/reports/authenticationMethods/userRegistrationDetails");
        let details = self.all(details_url.clone()).await?;
        Ok(Pulled {
            records: join(&users, &details, &details_url)?,
            enforced: None,
        })
    }
}
