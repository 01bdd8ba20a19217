//! sshd configuration: parse `sshd_config` files, expand `Include` in place and keep every
//! directive with the `Match` block it belongs to, so the effective value of a keyword can be read
//! for the global context and for each `Match` block.
//!
//! Semantics (sshd_config(5)): keywords are case-insensitive and the first value obtained wins;
//! `Include` takes globs, relative to `/etc/ssh`, expanded in sorted order and read in place; a
//! `Match` block runs to the next `Match` or the end of the file it is in (an included file's
//! `Match` does not leak back into the including file). For a connection that matches a block,
//! the block's first value wins over the global one; for a connection matching several blocks,
//! the first value among all their lines (in reading order) wins.

/// Directory relative `Include` paths are resolved against.
pub const SSH_DIR: &str = "/etc/ssh";

/// Why an sshd_config file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// One meaningful line of an sshd_config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshdLine {
    /// `Keyword args…` (keyword lower-cased).
    Directive {
        keyword: String,
        args: Vec<String>,
        line: usize,
    },
    /// `Include pattern…`
    Include { patterns: Vec<String>, line: usize },
    /// `Match criteria…` (criteria as written, e.g. `User deploy`).
    Match { criteria: String, line: usize },
}

/// Parse one sshd_config file.
pub fn parse_sshd_config(text: &str) -> Result<Vec<SshdLine>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // `Keyword=value` is allowed as well as `Keyword value`.
        let (keyword, rest) = match trimmed.find(|c: char| c.is_whitespace() || c == '=') {
            Some(pos) => {
                let rest = trimmed[pos..].trim_start();
                let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
                (&trimmed[..pos], rest)
            }
            None => (trimmed, ""),
        };
        let args = split_args(rest).map_err(|message| ParseError::Syntax { line, message })?;
        let keyword = keyword.to_ascii_lowercase();
        if args.is_empty() {
            return Err(ParseError::Syntax {
                line,
                message: format!("{keyword} has no value"),
            });
        }
        out.push(match keyword.as_str() {
            "include" => SshdLine::Include {
                patterns: args,
                line,
            },
            "match" => SshdLine::Match {
                criteria: args.join(" "),
                line,
            },
            _ => SshdLine::Directive {
                keyword,
                args,
                line,
            },
        });
    }
    Ok(out)
}

/// Split arguments on whitespace, honouring double quotes; a token starting with `#` ends the line.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut tok = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                tok.push(c);
            }
            if !closed {
                return Err("unterminated quote".into());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        args.push(tok);
    }
    Ok(args)
}

/// A directive of the resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub keyword: String,
    pub args: Vec<String>,
    pub file: String,
    pub line: usize,
    /// Index into [`SshdConfig::matches`]; `None` = global.
    pub block: Option<usize>,
}

/// A `Match` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchBlock {
    pub criteria: String,
    pub file: String,
    pub line: usize,
}

/// The whole configuration, includes expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdConfig {
    pub directives: Vec<Directive>,
    pub matches: Vec<MatchBlock>,
}

/// Keywords that are aliases of another (old name → current name).
fn canonical(keyword: &str) -> &str {
    match keyword {
        "challengeresponseauthentication" => "kbdinteractiveauthentication",
        "pubkeyacceptedkeytypes" => "pubkeyacceptedalgorithms",
        k => k,
    }
}

impl SshdConfig {
    /// The first global directive for `keyword` (lower-case; aliases folded).
    pub fn global(&self, keyword: &str) -> Option<&Directive> {
        self.directives
            .iter()
            .find(|d| d.block.is_none() && canonical(&d.keyword) == canonical(keyword))
    }

    /// The directive in effect for connections matching block `block`: the block's own first
    /// value, else the global one.
    pub fn in_block(&self, block: usize, keyword: &str) -> Option<&Directive> {
        self.in_blocks(&[block], keyword)
    }

    /// The directive in effect for connections matching every block in `blocks` (and no other):
    /// the first value, in configuration order, among those blocks' lines, else the global one.
    /// This is sshd's merge: it re-reads the configuration with only matching blocks' lines
    /// active, first value wins, and whatever that sets overrides the global section.
    /// `blocks` empty = the global context.
    pub fn in_blocks(&self, blocks: &[usize], keyword: &str) -> Option<&Directive> {
        self.directives
            .iter()
            .find(|d| {
                d.block.is_some_and(|b| blocks.contains(&b))
                    && canonical(&d.keyword) == canonical(keyword)
            })
            .or_else(|| self.global(keyword))
    }

    /// Whether block `block` itself sets `keyword`.
    pub fn block_sets(&self, block: usize, keyword: &str) -> bool {
        self.directives
            .iter()
            .any(|d| d.block == Some(block) && canonical(&d.keyword) == canonical(keyword))
    }
}

/// Why a configuration could not be resolved; `E` is the loader's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError<E: std::error::Error> {
    #[error(transparent)]
    Load(E),
    #[error("{path}: Include nests deeper than {MAX_DEPTH} levels (a loop?)")]
    TooDeep { path: String },
}

/// sshd's own include depth limit.
pub const MAX_DEPTH: usize = 16;

/// The host path of an `Include` pattern: relative patterns live in `/etc/ssh`.
pub fn include_path(pattern: &str) -> String {
    if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("{SSH_DIR}/{pattern}")
    }
}

/// Resolve the configuration starting at `path`. `load` reads and parses a file; `expand` turns an
/// absolute glob pattern into the sorted list of existing files it matches (empty when none).
pub fn resolve_config<E: std::error::Error>(
    path: &str,
    load: &mut dyn FnMut(&str) -> Result<Vec<SshdLine>, E>,
    expand: &mut dyn FnMut(&str) -> Result<Vec<String>, E>,
) -> Result<SshdConfig, ResolveError<E>> {
    let mut cfg = SshdConfig::default();
    resolve_into(path, None, load, expand, &mut cfg, 0)?;
    Ok(cfg)
}

fn resolve_into<E: std::error::Error>(
    path: &str,
    mut block: Option<usize>,
    load: &mut dyn FnMut(&str) -> Result<Vec<SshdLine>, E>,
    expand: &mut dyn FnMut(&str) -> Result<Vec<String>, E>,
    cfg: &mut SshdConfig,
    depth: usize,
) -> Result<(), ResolveError<E>> {
    if depth > MAX_DEPTH {
        return Err(ResolveError::TooDeep {
            path: path.to_string(),
        });
    }
    for line in load(path).map_err(ResolveError::Load)? {
        match line {
            SshdLine::Directive {
                keyword,
                args,
                line,
            } => cfg.directives.push(Directive {
                keyword,
                args,
                file: path.to_string(),
                line,
                block,
            }),
            SshdLine::Match { criteria, line } => {
                cfg.matches.push(MatchBlock {
                    criteria,
                    file: path.to_string(),
                    line,
                });
                block = Some(cfg.matches.len() - 1);
            }
            SshdLine::Include { patterns, .. } => {
                for pattern in patterns {
                    for file in expand(&include_path(&pattern)).map_err(ResolveError::Load)? {
                        resolve_into(&file, block, load, expand, cfg, depth + 1)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `name` matches a glob `pattern` with `*` and `?` (no `/` in either).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && rec(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Like glob(3), a leading dot is only matched explicitly.
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    rec(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The head of Debian 12's shipped /etc/ssh/sshd_config.
    const DEBIAN_SSHD_CONFIG: &str =
        "\n# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#PubkeyAuthentication yes

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

UsePAM yes

X11Forwarding yes
PrintMotd no

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem\tsftp\t/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#\tX11Forwarding no
";

    #[derive(Debug, thiserror::Error)]
    #[error("{0}: missing")]
    struct Missing(String);

    fn resolve(fs: &BTreeMap<&str, &str>) -> SshdConfig {
        let mut load = |p: &str| -> Result<Vec<SshdLine>, Missing> {
            Ok(parse_sshd_config(fs.get(p).ok_or_else(|| Missing(p.into()))?).unwrap())
        };
        let mut expand = |pattern: &str| -> Result<Vec<String>, Missing> {
            let (dir, base) = pattern.rsplit_once('/').unwrap();
            Ok(fs
                .keys()
                .filter(|k| {
                    k.rsplit_once('/')
                        .is_some_and(|(d, n)| d == dir && glob_match(base, n))
                })
                .map(|k| k.to_string())
                .collect())
        };
        resolve_config("/etc/ssh/sshd_config", &mut load, &mut expand).unwrap()
    }

    #[test]
    fn parses_debian_default() {
        let lines = parse_sshd_config(DEBIAN_SSHD_CONFIG).unwrap();
        assert_eq!(
            lines[0],
            SshdLine::Include {
                patterns: vec!["/etc/ssh/sshd_config.d/*.conf".into()],
                line: 5
            }
        );
        assert!(lines.contains(&SshdLine::Directive {
            keyword: "usepam".into(),
            args: vec!["yes".into()],
            line: 18
        }));
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn equals_quotes_and_trailing_comments() {
        let lines =
            parse_sshd_config("AuthenticationMethods=publickey,keyboard-interactive # 2FA\nBanner \"/etc/issue net\"\n")
                .unwrap();
        assert_eq!(
            lines[0],
            SshdLine::Directive {
                keyword: "authenticationmethods".into(),
                args: vec!["publickey,keyboard-interactive".into()],
                line: 1
            }
        );
        assert_eq!(
            lines[1],
            SshdLine::Directive {
                keyword: "banner".into(),
                args: vec!["/etc/issue net".into()],
                line: 2
            }
        );
        assert!(parse_sshd_config("Banner \"oops\n").is_err());
        assert!(parse_sshd_config("UsePAM\n").is_err());
    }

    #[test]
    fn drop_ins_win_and_match_blocks_are_scoped() {
        let fs = BTreeMap::from([
            ("/etc/ssh/sshd_config", DEBIAN_SSHD_CONFIG),
            (
                "/etc/ssh/sshd_config.d/50-mfa.conf",
                "KbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nMatch User deploy\n  AuthenticationMethods publickey\n",
            ),
            ("/etc/ssh/sshd_config.d/60-other.conf", "PasswordAuthentication no\n"),
            ("/etc/ssh/sshd_config.d/README", "PasswordAuthentication yes\n"),
        ]);
        let cfg = resolve(&fs);
        // The drop-in's value comes first and wins over the main file's `no`.
        assert_eq!(
            cfg.global("challengeresponseauthentication").unwrap().args,
            ["yes"]
        );
        assert_eq!(
            cfg.global("authenticationmethods").unwrap().args,
            ["publickey,keyboard-interactive"]
        );
        // The Match block in 50-mfa.conf does not swallow 60-other.conf or the main file.
        assert_eq!(cfg.matches.len(), 1);
        assert_eq!(cfg.matches[0].criteria, "User deploy");
        assert_eq!(cfg.global("passwordauthentication").unwrap().args, ["no"]);
        assert_eq!(cfg.global("usepam").unwrap().file, "/etc/ssh/sshd_config");
        assert_eq!(
            cfg.in_block(0, "authenticationmethods").unwrap().args,
            ["publickey"]
        );
        assert_eq!(cfg.in_block(0, "usepam").unwrap().args, ["yes"]);
        assert!(cfg.block_sets(0, "authenticationmethods"));
        assert!(!cfg.block_sets(0, "passwordauthentication"));
    }

    #[test]
    fn overlapping_blocks_merge_first_value_in_file_order() {
        let fs = BTreeMap::from([(
            "/etc/ssh/sshd_config",
            "PasswordAuthentication no\n\
             Match User deploy\n  AuthenticationMethods password\n\
             Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n  AuthenticationMethods publickey\n",
        )]);
        let cfg = resolve(&fs);
        // Alone, each block keeps the global value of what it does not set.
        assert_eq!(
            cfg.in_block(0, "passwordauthentication").unwrap().args,
            ["no"]
        );
        assert_eq!(
            cfg.in_block(1, "passwordauthentication").unwrap().args,
            ["yes"]
        );
        // Together: block 1's `yes` overrides the global `no`, and block 0's AuthenticationMethods
        // comes first in the file so it wins over block 1's.
        assert_eq!(
            cfg.in_blocks(&[0, 1], "passwordauthentication")
                .unwrap()
                .args,
            ["yes"]
        );
        assert_eq!(
            cfg.in_blocks(&[0, 1], "authenticationmethods")
                .unwrap()
                .args,
            ["password"]
        );
        assert_eq!(
            cfg.in_blocks(&[], "passwordauthentication").unwrap().args,
            ["no"]
        );
    }

    #[test]
    fn merge_follows_line_order_not_block_numbers() {
        // 00-a.conf's Match (block 1) is opened by an Include inside block 0; lines of block 0
        // after the Include come later in sshd's reading order than block 1's.
        let fs = BTreeMap::from([
            (
                "/etc/ssh/sshd_config",
                "Match User a\n  Include /etc/ssh/inc/*.conf\n  AuthenticationMethods publickey\n",
            ),
            (
                "/etc/ssh/inc/00-a.conf",
                "Match User b\n  AuthenticationMethods password\n",
            ),
        ]);
        let cfg = resolve(&fs);
        assert_eq!(cfg.matches.len(), 2);
        assert_eq!(
            cfg.in_blocks(&[0, 1], "authenticationmethods")
                .unwrap()
                .args,
            ["password"]
        );
        assert_eq!(
            cfg.in_block(0, "authenticationmethods").unwrap().args,
            ["publickey"]
        );
    }

    #[test]
    fn include_inside_match_stays_in_the_block() {
        let fs = BTreeMap::from([
            (
                "/etc/ssh/sshd_config",
                "Match Group contractors\n  Include contractors.conf\nPasswordAuthentication no\n",
            ),
            (
                "/etc/ssh/contractors.conf",
                "AuthenticationMethods password\n",
            ),
        ]);
        let cfg = resolve(&fs);
        assert_eq!(cfg.directives[0].block, Some(0));
        assert_eq!(cfg.directives[1].block, Some(0));
        assert!(cfg.global("authenticationmethods").is_none());
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("*.conf", "50-cloud-init.conf"));
        assert!(!glob_match("*.conf", "50-cloud-init.conf.bak"));
        assert!(!glob_match("*.conf", ".hidden.conf"));
        assert!(glob_match("1?-x", "10-x"));
        assert!(glob_match("exact", "exact"));
    }
}
