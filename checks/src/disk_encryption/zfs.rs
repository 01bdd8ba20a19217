//! Parser for `zfs get -H -o name,property,value encryption,keystatus`: one tab-separated
//! `name property value` line per dataset and property.

use std::collections::BTreeMap;

/// The encryption state of one ZFS dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZfsEncryption {
    /// `off` or the cipher (`aes-256-gcm`).
    pub encryption: String,
    /// `available`, `unavailable`, or `-` for unencrypted datasets.
    pub keystatus: String,
}

impl ZfsEncryption {
    /// Whether native encryption is on for the dataset.
    pub fn is_encrypted(&self) -> bool {
        !self.encryption.is_empty() && self.encryption != "off" && self.encryption != "-"
    }
}

/// Why `zfs get` output could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZfsGetError {
    #[error("line {line}: expected `name<TAB>property<TAB>value`: {text:?}")]
    Malformed { line: usize, text: String },
    #[error("dataset {0} has no `encryption` property (pool without the encryption feature?)")]
    NoEncryptionProperty(String),
}

/// Parse the output into dataset name → encryption state.
pub fn parse_zfs_get(text: &str) -> Result<BTreeMap<String, ZfsEncryption>, ZfsGetError> {
    let mut out: BTreeMap<String, ZfsEncryption> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, property, value] = fields[..] else {
            return Err(ZfsGetError::Malformed {
                line: i + 1,
                text: line.chars().take(120).collect(),
            });
        };
        let entry = out.entry(name.to_string()).or_default();
        match property {
            "encryption" => entry.encryption = value.to_string(),
            "keystatus" => entry.keystatus = value.to_string(),
            _ => {}
        }
    }
    if let Some((name, _)) = out.iter().find(|(_, e)| e.encryption.is_empty()) {
        return Err(ZfsGetError::NoEncryptionProperty(name.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_encrypted_and_clear_datasets() {
        // Shape of `zfs get -H -o name,property,value` ([S11] samples, tab-separated with -H).
        let text = "encrypted-pool\tencryption\toff\n\
                    encrypted-pool\tkeystatus\t-\n\
                    encrypted-pool/vm-disks\tencryption\taes-256-gcm\n\
                    encrypted-pool/vm-disks\tkeystatus\tavailable\n";
        let m = parse_zfs_get(text).unwrap();
        assert_eq!(m.len(), 2);
        assert!(!m["encrypted-pool"].is_encrypted());
        assert_eq!(m["encrypted-pool"].keystatus, "-");
        assert!(m["encrypted-pool/vm-disks"].is_encrypted());
        assert_eq!(m["encrypted-pool/vm-disks"].encryption, "aes-256-gcm");
        assert_eq!(m["encrypted-pool/vm-disks"].keystatus, "available");
    }

    #[test]
    fn rejects_garbage_and_missing_properties() {
        assert!(matches!(
            parse_zfs_get("NAME PROPERTY VALUE SOURCE\n"),
            Err(ZfsGetError::Malformed { line: 1, .. })
        ));
        assert_eq!(
            parse_zfs_get("tank\tkeystatus\t-\n"),
            Err(ZfsGetError::NoEncryptionProperty("tank".into()))
        );
        assert_eq!(parse_zfs_get("").unwrap().len(), 0);
    }
}
