//! Checking a bundle: every entry against the manifest (altered, added, removed), the manifest
//! against its signature, and the signing key against a trusted one when there is one.
//!
//! Structure: the central directory (what `unzip -l` and this module hash) and the local headers
//! (what a streaming extractor writes to disk) must tell the same story. An entry whose local
//! header carries another name (`../../evil.csv`), bytes between entries that the central directory
//! does not account for (a hidden local entry), or a directory entry with content are refused and
//! named: a bundle an auditor might unpack with another tool must hold exactly what was checked.
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
    let zip = zip::ZipArchive::new(archive).map_err(|e| Unreadable(e.to_string()))?;
    let mut v = Verdict::default();
    let (zip, structure) = check_structure(zip).map_err(|e| Unreadable(e.to_string()))?;
    v.problems.extend(structure);
    let mut zip = zip;
    // Entry name → SHA-256 of its content (directories are skipped: re-zipping tools add them).
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut signature: Option<Vec<u8>> = None;
    let mut bundled_key: Option<Vec<u8>> = None;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| Unreadable(e.to_string()))?;
        if f.is_dir() {
            // A directory entry with content is refused by check_structure.
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

/// Signature of a local file header.
const LOCAL_HEADER: u32 = 0x0403_4b50;
/// Signature that may open a data descriptor (it is optional in the format).
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;

/// One entry as the central directory describes it.
struct CentralEntry {
    name: Vec<u8>,
    header_start: u64,
    compressed_size: u64,
    size: u64,
    is_dir: bool,
}

/// What a local header at some offset says.
struct LocalHeader {
    flags: u16,
    name: Vec<u8>,
    /// Offset of the first byte after the header (the entry's data).
    data_start: u64,
}

fn read_local_header<R: Read + Seek>(r: &mut R, at: u64) -> std::io::Result<Option<LocalHeader>> {
    use std::io::SeekFrom;
    r.seek(SeekFrom::Start(at))?;
    let mut h = [0u8; 30];
    r.read_exact(&mut h)?;
    if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != LOCAL_HEADER {
        return Ok(None);
    }
    let flags = u16::from_le_bytes([h[6], h[7]]);
    let name_len = u16::from_le_bytes([h[26], h[27]]) as u64;
    let extra_len = u16::from_le_bytes([h[28], h[29]]) as u64;
    let mut name = Vec::new();
    r.by_ref().take(name_len).read_to_end(&mut name)?;
    Ok(Some(LocalHeader {
        flags,
        name,
        data_start: at + 30 + name_len + extra_len,
    }))
}

/// Length of the data descriptor after an entry's data (0 when its flags announce none).
fn data_descriptor_len<R: Read + Seek>(r: &mut R, at: u64, flags: u16, zip64: bool) -> u64 {
    use std::io::SeekFrom;
    if flags & 0x0008 == 0 {
        return 0;
    }
    let mut sig = [0u8; 4];
    let signed = r.seek(SeekFrom::Start(at)).is_ok()
        && r.read_exact(&mut sig).is_ok()
        && u32::from_le_bytes(sig) == DATA_DESCRIPTOR;
    (if signed { 4 } else { 0 }) + 4 + if zip64 { 16 } else { 8 }
}

fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name).escape_debug().to_string()
}

/// Walk the local entries in the order of their offsets and compare them with the central
/// directory: the same names, and together exactly the bytes before the central directory.
/// Returns the archive (re-opened on the same reader) and one problem sentence per inconsistency.
fn check_structure<R: Read + Seek>(
    mut zip: zip::ZipArchive<R>,
) -> zip::result::ZipResult<(zip::ZipArchive<R>, Vec<String>)> {
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i)?;
        entries.push(CentralEntry {
            name: f.name_raw().to_vec(),
            header_start: f.header_start(),
            compressed_size: f.compressed_size(),
            size: f.size(),
            is_dir: f.is_dir(),
        });
    }
    let dir_start = zip.central_directory_start();
    let mut r = zip.into_inner();
    let mut problems = Vec::new();
    entries.sort_by_key(|e| e.header_start);
    // `covered` is the end of the bytes accounted for so far.
    let mut covered = 0u64;
    for e in &entries {
        let name = shown(&e.name);
        if e.is_dir && (e.size > 0 || e.compressed_size > 0) {
            problems.push(format!(
                "{name}: a directory entry with content ({} bytes): refused, a directory holds no data",
                e.size.max(e.compressed_size)
            ));
        }
        if e.header_start > covered {
            problems.push(hidden_bytes(&mut r, covered, e.header_start));
        } else if e.header_start < covered {
            problems.push(format!(
                "{name}: its local header at offset {} overlaps the entry before it",
                e.header_start
            ));
        }
        let local = match read_local_header(&mut r, e.header_start) {
            Ok(Some(l)) => l,
            Ok(None) | Err(_) => {
                problems.push(format!(
                    "{name}: no local header at offset {} where the central directory puts it",
                    e.header_start
                ));
                covered = covered.max(e.header_start);
                continue;
            }
        };
        if local.name != e.name {
            problems.push(format!(
                "{name}: its local header names it {:?}, not the name in the central directory \
                 (an extractor reading local headers would write another file)",
                shown(&local.name)
            ));
        }
        let data_end = local.data_start.saturating_add(e.compressed_size);
        let zip64 = e.compressed_size >= u64::from(u32::MAX) || e.size >= u64::from(u32::MAX);
        let end = data_end + data_descriptor_len(&mut r, data_end, local.flags, zip64);
        covered = covered.max(end);
    }
    if dir_start > covered {
        problems.push(hidden_bytes(&mut r, covered, dir_start));
    } else if dir_start < covered {
        problems.push(format!(
            "the central directory at offset {dir_start} overlaps the last entry (ending at {covered})"
        ));
    }
    r.rewind().map_err(zip::result::ZipError::Io)?;
    Ok((zip::ZipArchive::new(r)?, problems))
}

/// The sentence for bytes `from..to` that no central-directory entry accounts for, naming the
/// local entry hidden there when they start with one.
fn hidden_bytes<R: Read + Seek>(r: &mut R, from: u64, to: u64) -> String {
    match read_local_header(r, from) {
        Ok(Some(h)) => format!(
            "{}: a local entry at offset {from} that the central directory does not list \
             (hidden from a listing, written by a streaming extractor)",
            shown(&h.name)
        ),
        _ => format!(
            "{} bytes at offset {from} belong to no entry of the central directory",
            to - from
        ),
    }
}
