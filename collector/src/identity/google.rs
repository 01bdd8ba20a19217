//! Google Workspace: Admin SDK Directory `users.list` (`isEnrolledIn2Sv`, `isEnforcedIn2Sv`,
//! `suspended`, `archived`, `isAdmin`, `isDelegatedAdmin`), pages by `nextPageToken`. The token
//! comes from the service account's key: an RS256-signed JWT assertion (`jsonwebtoken`) with `sub`
//! = the impersonated administrator (domain-wide delegation), exchanged at the key's `token_uri`.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{short, Client};
use super::config::GoogleConfig;
use super::creds::read_secret;
use super::{AccountKind, Connector, IdentityRecord, Mfa, Pulled, SyncError};

/// The only scope asked for: read users.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// Refresh the token when it has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The fields used from a service account's JSON key.
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    token_uri: String,
}

/// The JWT assertion's claims (RFC 7523).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// The Google Workspace connector.
pub struct Google {
    cfg: GoogleConfig,
    client_email: String,
    token_uri: String,
    key: EncodingKey,
    client: Client,
    token: Option<(String, Instant)>,
}

impl Google {
    /// Read and check the service account's key (`key` names the config entry).
    pub fn new(key: &str, cfg: GoogleConfig, client: Client) -> Result<Google, SyncError> {
        let k = format!("{key}.service_account_file");
        let text = read_secret(&k, &cfg.service_account_file)?;
        let bad = |m: String| {
            SyncError::Credentials(format!("{k} = {}: {m}", cfg.service_account_file.display()))
        };
        // serde_json's messages may quote the input: only its position is reported.
        let sa: ServiceAccountKey = serde_json::from_str(text.expose()).map_err(|e| {
            bad(format!(
                "not a service-account JSON key (line {}, column {}: {:?})",
                e.line(),
                e.column(),
                e.classify()
            ))
        })?;
        let enc = EncodingKey::from_rsa_pem(sa.private_key.as_bytes())
            .map_err(|_| bad("`private_key` is not an RSA private key in PEM".into()))?;
        Ok(Google {
            client_email: sa.client_email,
            token_uri: sa.token_uri,
            key: enc,
            cfg,
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
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.client_email,
            sub: &self.cfg.admin_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| SyncError::Credentials(format!("cannot sign the JWT assertion: {e}")))?;
        let url = self.token_uri.clone();
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", jwt.as_str()),
        ];
        let resp = self
            .client
            .send(&url, || self.client.http().post(&url).form(&form))
            .await?;
        let t: TokenAnswer = resp.json().await.map_err(|e| SyncError::Malformed {
            url: short(&url),
            message: e.without_url().to_string(),
        })?;
        self.token = Some((
            t.access_token.clone(),
            Instant::now() + Duration::from_secs(t.expires_in),
        ));
        Ok(t.access_token)
    }
}

/// One Directory user as a record; a missing 2SV key means unknown (Google omits empty fields).
pub fn record(u: &Value, url: &str) -> Result<IdentityRecord, SyncError> {
    let id = u
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| SyncError::Malformed {
            url: short(url),
            message: "a user has no `id`".into(),
        })?;
    let b = |k: &str| u.get(k).and_then(Value::as_bool);
    let suspended = b("suspended").unwrap_or(false);
    let archived = b("archived").unwrap_or(false);
    let enrolled = b("isEnrolledIn2Sv");
    let enforced = b("isEnforcedIn2Sv");
    let admin = b("isAdmin").unwrap_or(false) || b("isDelegatedAdmin").unwrap_or(false);
    Ok(IdentityRecord {
        account_id: id.to_string(),
        login: u
            .get("primaryEmail")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        display_name: u
            .pointer("/name/fullName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        enabled: !suspended && !archived,
        kind: AccountKind::Member,
        admin,
        mfa: match enrolled {
            Some(true) => Mfa::Strong,
            Some(false) => Mfa::None,
            None => Mfa::Unknown,
        },
        enforced,
        evidence: json!({
            "suspended": suspended,
            "archived": archived,
            "isEnrolledIn2Sv": enrolled,
            "isEnforcedIn2Sv": enforced,
            "isAdmin": b("isAdmin"),
            "isDelegatedAdmin": b("isDelegatedAdmin"),
        }),
    })
}

impl Connector for Google {
    async fn pull(&mut self) -> Result<Pulled, SyncError> {
        let url = format!(
            "{}/admin/directory/v1/users",
            self.cfg.directory_url.trim_end_matches('/')
        );
        let mut records = Vec::new();
        let mut page_token: Option<String> = None;
        let mut guard = super::client::PageGuard::default();
        loop {
            let mut retried = false;
            let page = loop {
                let token = self.token().await?;
                let mut q: Vec<(&str, &str)> = vec![
                    ("customer", self.cfg.customer.as_str()),
                    ("maxResults", "500"),
                ];
                if let Some(p) = &page_token {
                    q.push(("pageToken", p.as_str()));
                }
                let r = self
                    .client
                    .page(&url, || {
                        self.client.http().get(&url).query(&q).bearer_auth(&token)
                    })
                    .await;
                match r {
                    Err(SyncError::Http { status: 401, .. }) if !retried => {
                        retried = true;
                        self.token = None;
                    }
                    other => break other?,
                }
            };
            let body = page.body;
            if body.get("kind").and_then(Value::as_str) != Some("admin#directory#users") {
                return Err(SyncError::Malformed {
                    url: short(&url),
                    message: "not an `admin#directory#users` answer".into(),
                });
            }
            // An empty page has no `users` key at all.
            if let Some(users) = body.get("users") {
                let users = users.as_array().ok_or_else(|| SyncError::Malformed {
                    url: short(&url),
                    message: "`users` is not an array".into(),
                })?;
                for u in users {
                    records.push(record(u, &url)?);
                }
            }
            match body.get("nextPageToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => {
                    guard.follow(t)?;
                    page_token = Some(t.to_string());
                }
                _ => break,
            }
        }
        Ok(Pulled {
            records,
            enforced: None,
        })
    }
}
