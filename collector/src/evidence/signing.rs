//! The collector's evidence signing key (Ed25519): generated on first use into the data directory,
//! file mode 0600, and its public half in the forms an auditor can use (PEM for OpenSSL, hex).
//!
//! The key file holds the 32-byte secret seed as 64 hex characters and a newline. The public key's
//! PEM is the standard SubjectPublicKeyInfo of RFC 8410, so `openssl pkeyutl -verify -rawin`
//! checks a bundle's signature without Vigie.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "evidence-signing.key";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 },
/// BIT STRING (32 bytes) }.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// What can go wrong with a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("public key: {0}")]
    Public(String),
    #[error("no randomness available to generate the signing key: {0}")]
    Random(String),
}

fn file_err(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Path of the key under `data_dir`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Read the key at `path`.
pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e.to_string()))?;
    let seed = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| file_err(path, "not an Ed25519 key (expected 64 hex characters)"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The key at `path`, generated (mode 0600, never overwritten) if the file does not exist.
pub fn load_or_generate(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        return load(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::store::create_private_dir(dir).map_err(|e| file_err(dir, e.to_string()))?;
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| file_err(path, e.to_string()))?;
            tracing::info!(path = %path.display(), "evidence signing key generated");
            Ok(SigningKey::from_bytes(&seed))
        }
        // Another process generated it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(path),
        Err(e) => Err(file_err(path, e.to_string())),
    }
}

/// The public key as lowercase hex (64 characters).
pub fn public_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
pub fn public_pem(key: &VerifyingKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64(&der)
    )
}

/// Parse a public key given as hex (64 characters) or PEM `PUBLIC KEY`.
pub fn parse_public(text: &str) -> Result<VerifyingKey, KeyError> {
    let text = text.trim();
    let bytes: [u8; 32] = if let Some(body) = text
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|t| t.strip_suffix("-----END PUBLIC KEY-----"))
    {
        let der = unbase64(&body.split_whitespace().collect::<String>())
            .ok_or_else(|| KeyError::Public("PEM body is not base64".into()))?;
        der.strip_prefix(&SPKI_PREFIX[..])
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| KeyError::Public("PEM is not an Ed25519 public key".into()))?
    } else {
        hex::decode(text)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                KeyError::Public("expected 64 hex characters or a PEM PUBLIC KEY".into())
            })?
    };
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Public(e.to_string()))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (one PEM line: a 44-byte key fits in 64 columns).
fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_vectors() {
        // RFC 4648 section 10.
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(unbase64("Zm9vYmE=").unwrap(), b"fooba");
    }

    #[test]
    fn key_is_generated_once_with_mode_0600_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = key_path(d.path());
        let k1 = load_or_generate(&p).unwrap();
        let k2 = load_or_generate(&p).unwrap();
        assert_eq!(
            k1.to_bytes(),
            k2.to_bytes(),
            "second use reads the same key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let vk = k1.verifying_key();
        assert_eq!(parse_public(&public_pem(&vk)).unwrap(), vk);
        assert_eq!(parse_public(&public_hex(&vk)).unwrap(), vk);
        assert!(parse_public("abcd").is_err());
    }

    /// RFC 8410 section 10.1's example public key, as OpenSSL prints it.
    #[test]
    fn pem_matches_rfc_8410() {
        let pem = "-----BEGIN PUBLIC KEY-----\n\
                   MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                   -----END PUBLIC KEY-----\n";
        let vk = parse_public(pem).unwrap();
        assert_eq!(
            public_hex(&vk),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
        assert_eq!(public_pem(&vk), pem);
    }
}
