//! Who is calling: node keys (agents), admin and auditor tokens (people and tools).
//!
//! Node keys are 256 random bits, handed out once at enrolment and stored as SHA-256 (a key is
//! random, so an unsalted fast hash is enough: there is nothing to brute-force). Lookups go through
//! an in-memory map from key hash to host, filled at start and updated on every enrolment, so the
//! ingest path never queries the database to authenticate.

use std::collections::HashMap;
use std::sync::RwLock;

use sha2::{Digest, Sha256};

/// Prefix of node keys, so a leaked key is recognisable in logs and secret scanners.
pub const NODE_KEY_PREFIX: &str = "vnk1_";

/// A new random node key (`vnk1_` + 64 hex digits = 256 bits).
pub fn new_node_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(format!("{NODE_KEY_PREFIX}{}", hex::encode(bytes)))
}

/// SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compare two secrets without leaking where they differ (compares their hashes in constant time).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (ha, hb) = (hash_secret(a), hash_secret(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// An authenticated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub host_id: i64,
    pub machine_id: String,
}

/// Node key hash → host.
#[derive(Default)]
pub struct NodeKeys {
    map: RwLock<HashMap<Vec<u8>, NodeIdentity>>,
}

impl NodeKeys {
    /// Fill from the store.
    pub fn load(rows: Vec<(Vec<u8>, i64, String)>) -> NodeKeys {
        let map = rows
            .into_iter()
            .map(|(h, host_id, machine_id)| {
                (
                    h,
                    NodeIdentity {
                        host_id,
                        machine_id,
                    },
                )
            })
            .collect();
        NodeKeys {
            map: RwLock::new(map),
        }
    }

    /// The host owning `key`, if any.
    pub fn lookup(&self, key: &str) -> Option<NodeIdentity> {
        let h = hash_secret(key);
        self.map.read().ok()?.get(&h).cloned()
    }

    /// Record a (re-)enrolment: the new key works, the replaced one stops working.
    pub fn rotate(&self, new_hash: Vec<u8>, replaced: Option<Vec<u8>>, who: NodeIdentity) {
        if let Ok(mut m) = self.map.write() {
            if let Some(old) = replaced {
                m.remove(&old);
            }
            m.insert(new_hash, who);
        }
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read and write.
    Admin,
    /// Read and export only.
    Auditor,
}

/// The configured API tokens.
pub struct Tokens {
    entries: Vec<(Vec<u8>, Role)>,
}

impl Tokens {
    /// From the config lists.
    pub fn new(admin: &[String], auditor: &[String]) -> Tokens {
        let mut entries = Vec::new();
        entries.extend(admin.iter().map(|t| (hash_secret(t), Role::Admin)));
        entries.extend(auditor.iter().map(|t| (hash_secret(t), Role::Auditor)));
        Tokens { entries }
    }

    /// The role of `token`, if it is one of ours.
    pub fn role(&self, token: &str) -> Option<Role> {
        let h = hash_secret(token);
        let mut found = None;
        for (t, role) in &self.entries {
            // No early exit: every configured token is compared.
            let eq = t.iter().zip(h.iter()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
            if eq && found.is_none() {
                found = Some(*role);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_keys_are_256_bit_and_rotate() {
        let k1 = new_node_key().unwrap();
        assert_eq!(k1.len(), NODE_KEY_PREFIX.len() + 64);
        assert_ne!(k1, new_node_key().unwrap());
        let keys = NodeKeys::default();
        let who = NodeIdentity {
            host_id: 1,
            machine_id: "m".into(),
        };
        keys.rotate(hash_secret(&k1), None, who.clone());
        assert_eq!(keys.lookup(&k1), Some(who.clone()));
        let k2 = new_node_key().unwrap();
        keys.rotate(hash_secret(&k2), Some(hash_secret(&k1)), who.clone());
        assert_eq!(keys.lookup(&k1), None, "old key stops working");
        assert_eq!(keys.lookup(&k2), Some(who));
    }

    #[test]
    fn tokens_map_to_roles() {
        let t = Tokens::new(&["a".repeat(32)], &["b".repeat(32)]);
        assert_eq!(t.role(&"a".repeat(32)), Some(Role::Admin));
        assert_eq!(t.role(&"b".repeat(32)), Some(Role::Auditor));
        assert_eq!(t.role("c"), None);
        assert!(secrets_equal("x", "x") && !secrets_equal("x", "y"));
    }
}
