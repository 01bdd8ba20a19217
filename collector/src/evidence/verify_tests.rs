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
