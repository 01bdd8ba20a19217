//! `[identity]` and `[[identity.source]]`: which identity providers and code hosts to read, where
//! their credentials are (files only), and how often to sync.

use std::path::PathBuf;

use serde::Deserialize;

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySection {
    /// Hours between two scheduled syncs inside `serve`. Default 6.
    pub sync_interval_hours: u64,
    /// A source whose last good sync is older than this many hours is reported stale. Default 24.
    pub stale_after_hours: u64,
    /// Accounts (login or account id, any source) judged `not_applicable`: service accounts that
    /// cannot hold a second factor.
    pub service_accounts: Vec<String>,
    /// Seconds allowed for one HTTP request. Default 30.
    pub timeout_seconds: u64,
    /// Longest `Retry-After` honoured, in seconds; a longer one fails the sync. Default 120.
    pub max_retry_after_seconds: u64,
    /// Target of the MFA coverage ratio (strong second factor among active members). Default 1.0.
    pub coverage_target: f64,
    /// The sources.
    pub source: Vec<SourceConfig>,
}

impl Default for IdentitySection {
    fn default() -> Self {
        IdentitySection {
            sync_interval_hours: 6,
            stale_after_hours: 24,
            service_accounts: Vec::new(),
            timeout_seconds: 30,
            max_retry_after_seconds: 120,
            coverage_target: 1.0,
            source: Vec::new(),
        }
    }
}

/// One `[[identity.source]]`, its provider chosen by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Microsoft Entra ID through Microsoft Graph.
    Entra(EntraConfig),
    /// Okta.
    Okta(OktaConfig),
    /// A GitHub organisation.
    Github(GithubConfig),
    /// Google Workspace through the Admin SDK Directory API.
    Google(GoogleConfig),
}

impl SourceConfig {
    /// `entra`, `okta`, `github` or `google`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Entra(_) => "entra",
            SourceConfig::Okta(_) => "okta",
            SourceConfig::Github(_) => "github",
            SourceConfig::Google(_) => "google",
        }
    }

    /// The source's unique name (`name = ...`).
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Entra(c) => &c.name,
            SourceConfig::Okta(c) => &c.name,
            SourceConfig::Github(c) => &c.name,
            SourceConfig::Google(c) => &c.name,
        }
    }
}

/// `kind = "entra"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// Unique name (`[a-z0-9_-]`, 1–32 characters), used in metrics, the store and `--source`.
    pub name: String,
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id of the app registration.
    pub client_id: String,
    /// File holding the client secret (mode 0600 or 0640; never world-readable).
    pub client_secret_file: PathBuf,
    /// Microsoft Graph base URL. Default `https://graph.microsoft.com`.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// Token authority base URL. Default `https://login.microsoftonline.com`.
    #[serde(default = "default_login_url")]
    pub login_url: String,
}

/// `kind = "okta"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// Unique name (`[a-z0-9_-]`, 1–32 characters), used in metrics, the store and `--source`.
    pub name: String,
    /// The org URL, e.g. `https://example.okta.com`.
    pub url: String,
    /// File holding the API token (sent as `SSWS`).
    pub token_file: PathBuf,
}

/// `kind = "github"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// Unique name (`[a-z0-9_-]`, 1–32 characters), used in metrics, the store and `--source`.
    pub name: String,
    /// Organisation login.
    pub org: String,
    /// File holding a token of an organisation owner (`read:org`).
    pub token_file: PathBuf,
    /// REST API base URL. Default `https://api.github.com`.
    #[serde(default = "default_github_url")]
    pub api_url: String,
}

/// `kind = "google"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    /// Unique name (`[a-z0-9_-]`, 1–32 characters), used in metrics, the store and `--source`.
    pub name: String,
    /// The service account's JSON key file (never world-readable); its `token_uri` is used.
    pub service_account_file: PathBuf,
    /// The administrator the service account impersonates (domain-wide delegation).
    pub admin_email: String,
    /// Customer id. Default `my_customer` (the administrator's own).
    #[serde(default = "default_customer")]
    pub customer: String,
    /// Admin SDK base URL. Default `https://admin.googleapis.com`.
    #[serde(default = "default_directory_url")]
    pub directory_url: String,
}

fn default_customer() -> String {
    "my_customer".into()
}
fn default_directory_url() -> String {
    "https://admin.googleapis.com".into()
}
fn default_graph_url() -> String {
    "https://graph.microsoft.com".into()
}
fn default_login_url() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_github_url() -> String {
    "https://api.github.com".into()
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(()),
        Ok(_) => Err(format!("{key} = {url:?} must be an http(s) URL")),
        Err(e) => Err(format!("{key} = {url:?} is not a URL: {e}")),
    }
}

impl IdentitySection {
    /// Range and consistency checks (errors name the key).
    pub fn validate(&self) -> Result<(), String> {
        if self.sync_interval_hours == 0 || self.sync_interval_hours > 24 * 7 {
            return Err("identity.sync_interval_hours must be between 1 and 168".into());
        }
        if self.stale_after_hours < self.sync_interval_hours {
            return Err(format!(
                "identity.stale_after_hours = {} must be at least identity.sync_interval_hours = {}",
                self.stale_after_hours, self.sync_interval_hours
            ));
        }
        if !(1..=600).contains(&self.timeout_seconds) {
            return Err("identity.timeout_seconds must be between 1 and 600".into());
        }
        if !(0.0..=1.0).contains(&self.coverage_target) {
            return Err(format!(
                "identity.coverage_target = {} must be between 0 and 1",
                self.coverage_target
            ));
        }
        if self.max_retry_after_seconds > 3600 {
            return Err("identity.max_retry_after_seconds must be at most 3600".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.source.iter().enumerate() {
            let key = format!("identity.source[{i}]");
            let ok_name = !s.name().is_empty()
                && s.name().len() <= 32
                && s.name().bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok_name {
                return Err(format!(
                    "{key}.name = {:?} must be 1-32 characters of a-z, 0-9, '_' or '-'",
                    s.name()
                ));
            }
            if !seen.insert(s.name()) {
                return Err(format!("{key}.name = {:?} is used twice", s.name()));
            }
            match s {
                SourceConfig::Entra(e) => {
                    if e.tenant_id.is_empty() || e.client_id.is_empty() {
                        return Err(format!("{key}: tenant_id and client_id must not be empty"));
                    }
                    check_url(&format!("{key}.graph_url"), &e.graph_url)?;
                    check_url(&format!("{key}.login_url"), &e.login_url)?;
                }
                SourceConfig::Okta(o) => check_url(&format!("{key}.url"), &o.url)?,
                SourceConfig::Github(g) => {
                    if g.org.is_empty() {
                        return Err(format!("{key}.org must not be empty"));
                    }
                    check_url(&format!("{key}.api_url"), &g.api_url)?;
                }
                SourceConfig::Google(g) => {
                    if !g.admin_email.contains('@') {
                        return Err(format!(
                            "{key}.admin_email = {:?} must be an administrator's e-mail address",
                            g.admin_email
                        ));
                    }
                    check_url(&format!("{key}.directory_url"), &g.directory_url)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IdentitySection, String> {
        let s: IdentitySection = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn parses_the_three_kinds() {
        let s = parse(
            r#"
            sync_interval_hours = 2
            [[source]]
            name = "entra"
            kind = "entra"
            tenant_id = "t"
            client_id = "c"
            client_secret_file = "/etc/vigie/entra.secret"
            [[source]]
            name = "okta"
            kind = "okta"
            url = "https://example.okta.com"
            token_file = "/etc/vigie/okta.token"
            [[source]]
            name = "gh"
            kind = "github"
            org = "example"
            token_file = "/etc/vigie/github.token"
            "#,
        )
        .unwrap();
        assert_eq!(s.sync_interval_hours, 2);
        let kinds: Vec<_> = s.source.iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, ["entra", "okta", "github"]);
        match &s.source[0] {
            SourceConfig::Entra(e) => assert_eq!(e.graph_url, "https://graph.microsoft.com"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn refuses_bad_settings_with_the_key() {
        let e = parse("[[source]]\nname = \"x\"\nkind = \"okta\"\nurl = \"https://o\"\ntoken = \"secret\"\ntoken_file = \"/t\"\n")
            .unwrap_err();
        assert!(e.contains("token"), "{e}");
        let two =
            "[[source]]\nname = \"a\"\nkind = \"okta\"\nurl = \"https://o\"\ntoken_file = \"/t\"\n";
        let e = parse(&format!("{two}{two}")).unwrap_err();
        assert!(
            e.contains("identity.source[1].name") && e.contains("twice"),
            "{e}"
        );
        let e = parse(
            "[[source]]\nname = \"a\"\nkind = \"okta\"\nurl = \"nope\"\ntoken_file = \"/t\"\n",
        )
        .unwrap_err();
        assert!(e.contains("identity.source[0].url"), "{e}");
        let e = parse("coverage_target = 95.0").unwrap_err();
        assert!(e.contains("identity.coverage_target"), "{e}");
        let e = parse("sync_interval_hours = 0").unwrap_err();
        assert!(e.contains("identity.sync_interval_hours"), "{e}");
        let e = parse("[[source]]\nname = \"a\"\nkind = \"ldap\"\n").unwrap_err();
        assert!(e.contains("ldap"), "{e}");
    }

    fn uncomment(text: &str) -> String {
        text.lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .or_else(|| l.strip_prefix('#'))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The commented `[identity]` example in deploy/config/ is valid once uncommented, and so is
    /// the example in docs/identity.md.
    #[test]
    fn shipped_examples_are_valid() {
        let text = include_str!("../../../deploy/config/collector.toml");
        let start = text.find("# [identity]").expect("an [identity] example");
        let cfg: crate::config::CollectorConfig =
            toml::from_str(&uncomment(&text[start..])).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.identity.source.len(), 4);

        let doc = include_str!("../../../docs/identity.md");
        let start = doc.find("```toml\n").unwrap() + 8;
        let end = start + doc[start..].find("```").unwrap();
        let cfg: crate::config::CollectorConfig = toml::from_str(&doc[start..end]).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.identity.source.len(), 4);
        assert_eq!(cfg.identity.service_accounts, ["svc-backup@example.com"]);
    }
}
