//! Verification against tampered bundles: a byte altered, a file added or removed, the manifest
//! altered, a bad signature, and a forger re-signing with their own key (the trust model).

use std::io::Cursor;

use ed25519_dalek::{Signer, SigningKey};
use sha2::Digest;

use super::bundle::{MANIFEST, PUBLIC_KEY, SIGNATURE};
use super::signing;
use super::tests::{bundle, fixture, key, ordered, request, rezip};
use super::verify::{verify, KeySource, Verdict};

fn assert_invalid(zip: &[u8], trusted: Option<&ed25519_dalek::VerifyingKey>) -> Verdict {
    let v = verify(Cursor::new(zip), trusted).unwrap();
    assert!(!v.is_valid(), "{v:?}");
    v
}

#[test]
fn verify_accepts_an_intact_bundle_and_names_tampering() {
    let c = fixture();
    let good = bundle(&c, &request());
    let trusted = key().verifying_key();
    let v = verify(Cursor::new(&good), Some(&trusted)).unwrap();
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.signed_by, Some(KeySource::Trusted));
    let v = verify(Cursor::new(&good), None).unwrap();
    assert!(v.is_valid());
    assert_eq!(v.signed_by, Some(KeySource::Bundled));

    let base = ordered(&good);
    // Altered: one byte of index.html.
    let mut t = base.clone();
    let i = t.iter().position(|(n, _)| n == "index.html").unwrap();
    t[i].1[20] ^= 1;
    let v = assert_invalid(&rezip(&t), Some(&trusted));
    assert_eq!(v.altered, ["index.html"]);
    assert!(v.added.is_empty() && v.removed.is_empty());

    // Added.
    let mut t = base.clone();
    t.push(("extra/notes.txt".into(), b"hello".to_vec()));
    let v = assert_invalid(&rezip(&t), Some(&trusted));
    assert_eq!(v.added, ["extra/notes.txt"]);

    // Removed.
    let t: Vec<_> = base
        .iter()
        .filter(|(n, _)| n != "evidence.html")
        .cloned()
        .collect();
    let v = assert_invalid(&rezip(&t), Some(&trusted));
    assert_eq!(v.removed, ["evidence.html"]);

    // Manifest altered (a hash changed to match an altered file): the signature no longer holds.
    let mut t = base.clone();
    let m = t.iter().position(|(n, _)| n == MANIFEST).unwrap();
    let text = String::from_utf8(t[m].1.clone()).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let (_, path) = first.split_once("  ").unwrap();
    let forged = format!("{}  {path}", "0".repeat(64));
    t[m].1 = text.replacen(&first, &forged, 1).into_bytes();
    let v = assert_invalid(&rezip(&t), Some(&trusted));
    assert!(v.altered.contains(&path.to_string()), "{v:?}");
    assert!(
        v.problems.iter().any(|p| p.contains("does not match")),
        "{v:?}"
    );

    // Bad signature: signed by another key.
    let mut t = base.clone();
    let s = t.iter().position(|(n, _)| n == SIGNATURE).unwrap();
    let other = SigningKey::from_bytes(&[9u8; 32]);
    t[s].1 = other.sign(&base[m].1).to_bytes().to_vec();
    let v = assert_invalid(&rezip(&t), Some(&trusted));
    assert!(
        v.problems.iter().any(|p| p.contains("does not match")),
        "{v:?}"
    );
    assert_eq!(v.signed_by, None);

    // Trust model: a forger alters a file, rewrites the manifest, signs it with their own key and
    // ships that key. Against the bundled key alone it verifies (integrity only); against the
    // collector's key it does not.
    let mut t = base.clone();
    t[i].1[20] ^= 1;
    let pk = t.iter().position(|(n, _)| n == PUBLIC_KEY).unwrap();
    t[pk].1 = signing::public_pem(&other.verifying_key()).into_bytes();
    let manifest: String = t
        .iter()
        .filter(|(n, _)| n != MANIFEST && n != SIGNATURE)
        .map(|(n, b)| format!("{}  {n}\n", hex::encode(sha2::Sha256::digest(b))))
        .collect();
    t[m].1 = manifest.clone().into_bytes();
    t[s].1 = other.sign(manifest.as_bytes()).to_bytes().to_vec();
    let forged = rezip(&t);
    let v = verify(Cursor::new(&forged), None).unwrap();
    assert!(
        v.is_valid() && v.signed_by == Some(KeySource::Bundled),
        "{v:?}"
    );
    let v = assert_invalid(&forged, Some(&trusted));
    assert!(
        v.problems.iter().any(|p| p.contains("not the trusted key")),
        "{v:?}"
    );

    // Not a zip at all.
    assert!(verify(Cursor::new(b"PK not really".to_vec()), None).is_err());
}

// Structural tampering, done on the bytes of a real exported bundle: the central directory (what a
// listing and the hashing above read) and the local headers (what a streaming extractor writes)
// disagree. Each bundle below verified as valid before the structural check.

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Offset of the end-of-central-directory record.
fn eocd(zip: &[u8]) -> usize {
    zip.windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
        .expect("end of central directory")
}

/// CRC-32 (IEEE), bit by bit: the hostile entries carry a correct one, as a real tool would write.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Insert a stored entry `name` holding `data` just before the central directory, and list it in
/// the central directory too when `listed`.
fn insert_entry(zip: &[u8], name: &str, data: &[u8], listed: bool) -> Vec<u8> {
    let e = eocd(zip);
    let cd_size = u32_at(zip, e + 12) as usize;
    let cd_off = u32_at(zip, e + 16) as usize;
    let crc = crc32(data);
    let len = data.len() as u32;
    let mut local = Vec::new();
    local.extend(0x0403_4b50u32.to_le_bytes());
    for v in [20u16, 0, 0, 0, 0x21] {
        local.extend(v.to_le_bytes()); // version, flags, stored, time, date (1980-01-01)
    }
    local.extend(crc.to_le_bytes());
    local.extend(len.to_le_bytes());
    local.extend(len.to_le_bytes());
    local.extend((name.len() as u16).to_le_bytes());
    local.extend(0u16.to_le_bytes());
    local.extend(name.as_bytes());
    local.extend(data);
    let mut central = Vec::new();
    if listed {
        central.extend(0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, 0, 0, 0, 0x21] {
            central.extend(v.to_le_bytes());
        }
        central.extend(crc.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(len.to_le_bytes());
        for v in [name.len() as u16, 0, 0, 0, 0] {
            central.extend(v.to_le_bytes()); // name, extra, comment, disk, internal attributes
        }
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend((cd_off as u32).to_le_bytes());
        central.extend(name.as_bytes());
    }
    let mut out = zip[..cd_off].to_vec();
    out.extend(&local);
    out.extend(&zip[cd_off..cd_off + cd_size]);
    out.extend(&central);
    let mut end = zip[e..].to_vec();
    let added = u16::from(listed);
    let (on_disk, total) = (u16_at(&end, 8) + added, u16_at(&end, 10) + added);
    end[8..10].copy_from_slice(&on_disk.to_le_bytes());
    end[10..12].copy_from_slice(&total.to_le_bytes());
    end[12..16].copy_from_slice(&((cd_size + central.len()) as u32).to_le_bytes());
    end[16..20].copy_from_slice(&((cd_off + local.len()) as u32).to_le_bytes());
    out.extend(end);
    out
}

#[test]
fn verify_refuses_a_local_header_named_otherwise_than_the_central_directory() {
    let good = bundle(&fixture(), &request());
    let trusted = key().verifying_key();
    // The first entry whose name is long enough for `../` and `evil.csv`, renamed in place in its
    // local header only (same length, so no offset moves).
    let mut a = zip::ZipArchive::new(Cursor::new(&good)).unwrap();
    let (name, at) = (0..a.len())
        .map(|i| {
            let f = a.by_index_raw(i).unwrap();
            (f.name().to_string(), f.header_start() as usize)
        })
        .find(|(n, _)| n.len() >= 11 && n != MANIFEST && n != SIGNATURE && n != PUBLIC_KEY)
        .expect("an entry with a long enough name");
    let l = name.len();
    let hostile = format!(
        "{}{}evil.csv",
        "../".repeat((l - 8) / 3),
        "x".repeat((l - 8) % 3)
    );
    assert!(hostile.starts_with("../") && hostile.len() == l);
    let mut t = good.clone();
    assert_eq!(&t[at + 30..at + 30 + l], name.as_bytes());
    t[at + 30..at + 30 + l].copy_from_slice(hostile.as_bytes());
    let v = assert_invalid(&t, Some(&trusted));
    assert!(
        v.problems.iter().any(
            |p| p.starts_with(&format!("{name}: its local header names it"))
                && p.contains(&hostile)
        ),
        "{v:?}"
    );
    // The content still hashes as listed: only the structural check sees it.
    assert!(
        v.altered.is_empty() && v.added.is_empty() && v.removed.is_empty(),
        "{v:?}"
    );
    assert_eq!(v.signed_by, Some(KeySource::Trusted));
}

#[test]
fn verify_refuses_a_local_entry_missing_from_the_central_directory() {
    let good = bundle(&fixture(), &request());
    let trusted = key().verifying_key();
    let t = insert_entry(&good, "../../evil.csv", b"host,status\nweb-1,pass\n", false);
    // The zip reader lists the same entries as before: the entry is invisible to a listing.
    assert_eq!(ordered(&t), ordered(&good));
    let v = assert_invalid(&t, Some(&trusted));
    assert_eq!(
        v.problems,
        [format!(
            "../../evil.csv: a local entry at offset {} that the central directory does not list \
             (hidden from a listing, written by a streaming extractor)",
            u32_at(&good, eocd(&good) + 16)
        )]
    );
    // Bytes that are no entry at all between the last entry and the central directory.
    let e = eocd(&good);
    let cd_off = u32_at(&good, e + 16) as usize;
    let mut t = good[..cd_off].to_vec();
    t.extend(b"junk");
    t.extend(&good[cd_off..e]);
    let mut end = good[e..].to_vec();
    end[16..20].copy_from_slice(&((cd_off + 4) as u32).to_le_bytes());
    t.extend(end);
    let v = assert_invalid(&t, Some(&trusted));
    assert_eq!(
        v.problems,
        [format!(
            "4 bytes at offset {cd_off} belong to no entry of the central directory"
        )]
    );
}

#[test]
fn verify_refuses_a_directory_entry_with_content() {
    let good = bundle(&fixture(), &request());
    let trusted = key().verifying_key();
    let t = insert_entry(&good, "extra/", b"<script>alert(1)</script>", true);
    let v = assert_invalid(&t, Some(&trusted));
    assert_eq!(
        v.problems,
        ["extra/: a directory entry with content (25 bytes): refused, a directory holds no data"]
    );
    // An empty directory entry, as re-zipping tools add, stays acceptable.
    let t = insert_entry(&good, "extra/", b"", true);
    let v = verify(Cursor::new(&t), Some(&trusted)).unwrap();
    assert!(v.is_valid(), "{v:?}");
}
