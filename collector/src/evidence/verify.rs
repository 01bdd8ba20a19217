//! Checking a bundle: every entry against the manifest (altered, added, removed), the manifest
//! against its signature, and the signing key against a trusted one when there is one.
//!
//! Trust: the public key inside a bundle only proves that the bundle was not changed after it was
//! signed by *some* key (whoever alters the bundle can re-sign it with their own key and ship that
//! key). Origin is established only by checking against a key obtained apart from the bundle: the
//! collector's own key, or `--public-key` handed over by the collector's operator.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::bundle::{MANIFEST, PUBLIC_KEY, SIGNATURE};
use super::signing;

/// The key the signature was checked against, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// A key obtained apart from the bundle (the collector's own, or `--public-key`): proves origin.
    Trusted,
    /// The key shipped in the bundle: proves integrity only.
    Bundled,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Entries whose SHA-256 differs from the manifest.
    pub altered: Vec<String>,
    /// Entries not in the manifest.
    pub added: Vec<String>,
    /// Manifest lines whose entry is missing.
    pub removed: Vec<String>,
    /// Other problems (manifest syntax, signature, key), one sentence each.
    pub problems: Vec<String>,
    /// Entries whose hash matched.
    pub checked: usize,
    /// The key the signature was verified with, when it verified.
    pub signed_by: Option<KeySource>,
}

impl Verdict {
    /// True when nothing is wrong.
    pub fn is_valid(&self) -> bool {
        self.altered.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.problems.is_empty()
            && self.signed_by.is_some()
    }
}

/// The bundle cannot be read at all (not a zip archive).
#[derive(Debug, thiserror::Error)]
#[error("not a readable zip archive: {0}")]
pub struct Unreadable(pub String);

fn sha256_of(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut r, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Verify the bundle read from `archive`, against `trusted` when given (else the bundled key).
pub fn verify<R: Read + Seek>(
    archive: R,
    trusted: Option<&VerifyingKey>,
) -> Result<Verdict, Unreadable> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| Unreadable(e.to_string()))?;
    let mut v = Verdict::default();
    // Entry name → SHA-256 of its content (directories are skipped: re-zipping tools add them).
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut signature: Option<Vec<u8>> = None;
    let mut bundled_key: Option<Vec<u8>> = None;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| Unreadable(e.to_string()))?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        if name == MANIFEST || name == SIGNATURE || name == PUBLIC_KEY {
            let mut bytes = Vec::new();
            if let Err(e) = f.by_ref().take(1 << 20).read_to_end(&mut bytes) {
                v.problems.push(format!("{name}: cannot be read: {e}"));
                continue;
            }
            let hash = hex::encode(Sha256::digest(&bytes));
            match name.as_str() {
                MANIFEST => manifest = Some(bytes),
                SIGNATURE => signature = Some(bytes),
                _ => {
                    bundled_key = Some(bytes);
                    actual.insert(name, hash);
                }
            }
            continue;
        }
        match sha256_of(&mut f) {
            Ok(hash) => {
                if actual.insert(name.clone(), hash).is_some() {
                    v.problems
                        .push(format!("{name}: appears twice in the archive"));
                }
            }
            // A corrupted deflate stream or CRC mismatch: the entry was altered.
            Err(_) => v.altered.push(name),
        }
    }
    let Some(manifest) = manifest else {
        v.problems.push(format!(
            "{MANIFEST} is missing: nothing to check the files against"
        ));
        v.added = actual.into_keys().collect();
        return Ok(v);
    };
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    match std::str::from_utf8(&manifest) {
        Err(_) => v.problems.push(format!("{MANIFEST} is not UTF-8 text")),
        Ok(text) => {
            for (n, line) in text.lines().enumerate() {
                let parsed = line
                    .split_once("  ")
                    .filter(|(h, p)| h.len() == 64 && hex::decode(h).is_ok() && !p.is_empty());
                match parsed {
                    Some((h, p)) => {
                        if listed.insert(p.to_string(), h.to_string()).is_some() {
                            v.problems
                                .push(format!("{MANIFEST} line {}: {p} listed twice", n + 1));
                        }
                    }
                    None => v
                        .problems
                        .push(format!("{MANIFEST} line {}: not `<sha256>  <path>`", n + 1)),
                }
            }
        }
    }
    for (path, hash) in &actual {
        match listed.get(path) {
            None => v.added.push(path.clone()),
            Some(h) if h != hash => v.altered.push(path.clone()),
            Some(_) => v.checked += 1,
        }
    }
    v.altered.sort();
    v.altered.dedup();
    for path in listed.keys() {
        if !actual.contains_key(path) && !v.altered.contains(path) {
            v.removed.push(path.clone());
        }
    }
    // The signature.
    let bundled = match bundled_key.as_deref().map(std::str::from_utf8) {
        Some(Ok(t)) => match signing::parse_public(t) {
            Ok(k) => Some(k),
            Err(e) => {
                v.problems.push(format!("{PUBLIC_KEY}: {e}"));
                None
            }
        },
        Some(Err(_)) => {
            v.problems.push(format!("{PUBLIC_KEY}: not text"));
            None
        }
        None => None,
    };
    let (key, source) = match (trusted, bundled.as_ref()) {
        (Some(t), b) => {
            if b.is_some_and(|b| b != t) {
                v.problems.push(format!(
                    "{PUBLIC_KEY} is not the trusted key: the bundle says it was signed by {}",
                    b.map(signing::public_hex).unwrap_or_default()
                ));
            }
            (Some(t), KeySource::Trusted)
        }
        (None, Some(b)) => (Some(b), KeySource::Bundled),
        (None, None) => (None, KeySource::Bundled),
    };
    let sig = signature
        .as_deref()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .map(|b| Signature::from_bytes(&b));
    match (key, sig, signature.is_some()) {
        (_, None, false) => v.problems.push(format!("{SIGNATURE} is missing")),
        (_, None, true) => v
            .problems
            .push(format!("{SIGNATURE} is not a 64-byte Ed25519 signature")),
        (None, Some(_), _) => v.problems.push(format!(
            "no public key to check the signature with ({PUBLIC_KEY} is missing; pass --public-key)"
        )),
        (Some(k), Some(s), _) => match k.verify_strict(&manifest, &s) {
            Ok(()) => v.signed_by = Some(source),
            Err(_) => v.problems.push(format!(
                "{SIGNATURE} does not match {MANIFEST} under key {}",
                signing::public_hex(k)
            )),
        },
    }
    Ok(v)
}
