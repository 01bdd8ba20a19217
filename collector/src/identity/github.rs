//! A GitHub organisation: the org's `two_factor_requirement_enabled`, its members and outside
//! collaborators, and those of each listed by `filter=2fa_disabled` (answered only to an owner's
//! token: a token that cannot see the org's 2FA setting fails the sync). Admins are the members listed by `role=admin`. Pages follow `Link: rel="next"`.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::client::{short, Client};
use super::config::GithubConfig;
use super::creds::{read_secret, Secret};
use super::{AccountKind, Connector, IdentityRecord, Mfa, Pulled, SyncError};

/// The GitHub connector.
pub struct Github {
    cfg: GithubConfig,
    token: Secret,
    client: Client,
}

/// `(id, login)` of one listed account.
fn account(v: &Value, url: &str) -> Result<(String, String), SyncError> {
    let id = v.get("id").and_then(Value::as_u64);
    let login = v.get("login").and_then(Value::as_str);
    match (id, login) {
        (Some(id), Some(login)) => Ok((id.to_string(), login.to_string())),
        _ => Err(SyncError::Malformed {
            url: short(url),
            message: "an account has no numeric `id` or no `login`".into(),
        }),
    }
}

impl Github {
    /// Read the token (`key` names the config entry) and prepare the connector.
    pub fn new(key: &str, cfg: GithubConfig, client: Client) -> Result<Github, SyncError> {
        let token = read_secret(&format!("{key}.token_file"), &cfg.token_file)?;
        Ok(Github { cfg, token, client })
    }

    async fn get(&self, url: &str) -> Result<super::client::Page, SyncError> {
        self.client
            .page(url, || {
                self.client
                    .http()
                    .get(url)
                    .bearer_auth(self.token.expose())
                    .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
            })
            .await
    }

    /// Every `(id, login)` of every page from `first`.
    async fn accounts(&self, first: String) -> Result<Vec<(String, String)>, SyncError> {
        let mut out = Vec::new();
        let mut guard = super::client::PageGuard::default();
        guard.follow(&first)?;
        let mut url = first;
        loop {
            let page = self.get(&url).await?;
            let Some(values) = page.body.as_array() else {
                return Err(SyncError::Malformed {
                    url: short(&url),
                    message: "the answer is not a JSON array".into(),
                });
            };
            for v in values {
                out.push(account(v, &url)?);
            }
            match page.next {
                Some(next) => {
                    guard.follow(&next)?;
                    url = next;
                }
                None => return Ok(out),
            }
        }
    }
}

impl Connector for Github {
    async fn pull(&mut self) -> Result<Pulled, SyncError> {
        let org_url = format!(
            "{}/orgs/{}",
            self.cfg.api_url.trim_end_matches('/'),
            self.cfg.org
        );
        let org = self.get(&org_url).await?.body;
        if !org.is_object() {
            return Err(SyncError::Malformed {
                url: short(&org_url),
                message: "the organisation is not a JSON object".into(),
            });
        }
        // Answered only to an owner's token; without it `filter=2fa_disabled` cannot be trusted
        // either, so the sync fails rather than guess.
        let Some(enforced) = org
            .get("two_factor_requirement_enabled")
            .and_then(Value::as_bool)
        else {
            return Err(SyncError::Permission {
                url: short(&org_url),
                message: "`two_factor_requirement_enabled` is not shown to this token: use an organisation owner's token".into(),
            });
        };
        let enforced = Some(enforced);
        let members = self
            .accounts(format!("{org_url}/members?per_page=100"))
            .await?;
        let members_no_2fa: HashSet<String> = self
            .accounts(format!(
                "{org_url}/members?filter=2fa_disabled&per_page=100"
            ))
            .await?
            .into_iter()
            .map(|a| a.0)
            .collect();
        let admins: HashSet<String> = self
            .accounts(format!("{org_url}/members?role=admin&per_page=100"))
            .await?
            .into_iter()
            .map(|a| a.0)
            .collect();
        let outside = self
            .accounts(format!("{org_url}/outside_collaborators?per_page=100"))
            .await?;
        let outside_no_2fa: HashSet<String> = self
            .accounts(format!(
                "{org_url}/outside_collaborators?filter=2fa_disabled&per_page=100"
            ))
            .await?
            .into_iter()
            .map(|a| a.0)
            .collect();
        let mut records = Vec::with_capacity(members.len() + outside.len());
        for (list, no_2fa, kind) in [
            (&members, &members_no_2fa, AccountKind::Member),
            (&outside, &outside_no_2fa, AccountKind::OutsideCollaborator),
        ] {
            for (id, login) in list {
                let disabled = no_2fa.contains(id);
                let admin = kind == AccountKind::Member && admins.contains(id);
                records.push(IdentityRecord {
                    account_id: id.clone(),
                    login: login.clone(),
                    display_name: String::new(),
                    enabled: true,
                    kind,
                    admin,
                    mfa: if disabled { Mfa::None } else { Mfa::Strong },
                    enforced,
                    evidence: json!({
                        "listed_by_filter_2fa_disabled": disabled,
                        "role": if admin { "admin" } else if kind == AccountKind::Member { "member" } else { "outside_collaborator" },
                        "two_factor_requirement_enabled": enforced,
                    }),
                });
            }
        }
        Ok(Pulled { records, enforced })
    }
}
