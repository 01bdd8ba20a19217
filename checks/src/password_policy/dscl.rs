//! password_policy on macOS: the local accounts of Directory Services, from `dscl`.
//!
//! Two listings of the local node, `dscl . -list /Users UniqueID` and `dscl . -list /Users
//! UserShell`, each one record a line: the short name, white space, the attribute's value. No real
//! capture of either was available (docs/platforms.md marks the format Unverified), so the parser
//! is strict: a line that is not exactly a name and one value, a UID that is not an integer, a name
//! listed twice, or an account present in one listing and not the other is an error naming the
//! line, never a guess.
//!
//! An account can log in when it is not hidden or a system account (UID 500 or more, short name
//! not starting with `_`) and its shell is not a no-login shell (`/usr/bin/false`, `nologin` …).

use std::collections::BTreeMap;

use super::accounts::is_nologin_shell;

pub const DSCL_UNIQUE_ID: [&str; 5] = ["/usr/bin/dscl", ".", "-list", "/Users", "UniqueID"];
pub const DSCL_USER_SHELL: [&str; 5] = ["/usr/bin/dscl", ".", "-list", "/Users", "UserShell"];
/// Accounts below this UID are the system's own (macOS numbers people from 501).
pub const FIRST_USER_UID: i64 = 500;

/// One local account as far as this check needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAccount {
    pub name: String,
    pub uid: i64,
    pub shell: String,
}

impl LocalAccount {
    /// Hidden or system account: UID below 500 or a `_`-prefixed short name.
    pub fn is_system(&self) -> bool {
        self.uid < FIRST_USER_UID || self.name.starts_with('_')
    }

    /// A person's account with a login shell.
    pub fn can_log_in(&self) -> bool {
        !self.is_system() && !is_nologin_shell(&self.shell)
    }
}

/// Parse one `dscl . -list /Users <attribute>` listing into name → value, strictly.
pub fn parse_listing(text: &str, attribute: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, value] = fields.as_slice() else {
            return Err(format!(
                "line {} of the {attribute} listing is not `<name> <value>`: {line:?}",
                i + 1
            ));
        };
        if out.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!(
                "line {}: account {name:?} is listed twice in the {attribute} listing",
                i + 1
            ));
        }
    }
    if out.is_empty() {
        return Err(format!("the {attribute} listing names no account"));
    }
    Ok(out)
}

/// Join the UniqueID and UserShell listings into accounts (in name order).
pub fn parse_accounts(unique_ids: &str, shells: &str) -> Result<Vec<LocalAccount>, String> {
    let uids = parse_listing(unique_ids, "UniqueID")?;
    let mut shells = parse_listing(shells, "UserShell")?;
    let mut out = Vec::new();
    for (name, uid) in uids {
        let uid: i64 = uid
            .parse()
            .map_err(|_| format!("account {name:?}: UniqueID {uid:?} is not an integer"))?;
        let shell = shells
            .remove(&name)
            .ok_or_else(|| format!("account {name:?} has a UniqueID but no UserShell"))?;
        out.push(LocalAccount { name, uid, shell });
    }
    if let Some(name) = shells.keys().next() {
        return Err(format!("account {name:?} has a UserShell but no UniqueID"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UIDS: &str = "_amavisd                 83\n_appleevents             55\ndaemon                   1\nnobody                   -2\nroot                     0\nalice                    501\nkiosk                    502\n_hidden                  503\n";
    const SHELLS: &str = "_amavisd                 /usr/bin/false\n_appleevents             /usr/bin/false\ndaemon                   /usr/bin/false\nnobody                   /usr/bin/false\nroot                     /bin/sh\nalice                    /bin/zsh\nkiosk                    /usr/bin/false\n_hidden                  /bin/zsh\n";

    #[test]
    fn people_with_a_shell_can_log_in_system_and_hidden_cannot() {
        let accounts = parse_accounts(UIDS, SHELLS).unwrap();
        assert_eq!(accounts.len(), 8);
        let login: Vec<&str> = accounts
            .iter()
            .filter(|a| a.can_log_in())
            .map(|a| a.name.as_str())
            .collect();
        // root has a shell but UID 0; kiosk is a person with /usr/bin/false; _hidden has UID 503.
        assert_eq!(login, ["alice"]);
        let nobody = accounts.iter().find(|a| a.name == "nobody").unwrap();
        assert_eq!(nobody.uid, -2);
        assert!(nobody.is_system());
    }

    #[test]
    fn anything_unrecognised_is_an_error() {
        // Three fields (a multi-valued attribute or a name with a space).
        let e = parse_accounts("alice 501 502\n", "alice /bin/zsh\n").unwrap_err();
        assert!(e.contains("line 1 of the UniqueID listing"), "{e}");
        // A name alone (attribute missing).
        assert!(parse_accounts("alice 501\n", "alice\n").is_err());
        // Not an integer.
        let e = parse_accounts("alice five\n", "alice /bin/zsh\n").unwrap_err();
        assert!(e.contains("UniqueID \"five\""), "{e}");
        // Listed twice.
        assert!(parse_accounts("alice 501\nalice 502\n", "alice /bin/zsh\n").is_err());
        // Present in one listing only, either way.
        assert!(parse_accounts("alice 501\nbob 502\n", "alice /bin/zsh\n").is_err());
        assert!(parse_accounts("alice 501\n", "alice /bin/zsh\nbob /bin/zsh\n").is_err());
        // Empty output, or an error message on stdout.
        assert!(parse_accounts("", "").is_err());
        assert!(parse_accounts(
            "<dscl_cmd> DS Error: -14009 (eDSUnknownNodeName)\n",
            "alice /bin/zsh\n"
        )
        .is_err());
    }
}
