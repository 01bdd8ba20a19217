//! The bundle as a file: a zip archive written deterministically (entries in path order, one fixed
//! modification time, fixed permissions, deflate at a fixed level, 1), each entry hashed as it is
//! written, then `MANIFEST.sha256` (one `<sha256>  <path>` line per entry, the format
//! `sha256sum -c` reads) and `MANIFEST.sha256.sig` (the raw 64-byte Ed25519 signature of the
//! manifest's bytes).
//!
//! Only the current entry's last [`CHUNK`] bytes are in memory; the manifest keeps one line per
//! entry (the number of entries depends on the catalogue and checks, not on the period).
//!
//! Writes are gathered into chunks before they reach the deflater: the sections write a field or
//! a few characters at a time, and each write into the zip crate's deflater costs a fixed amount
//! (its Rust backend zero-fills its whole output buffer per call), which made an export of a month
//! at 100,000 hosts spend most of its time in `memset`. The bytes of every entry are the same
//! whatever the chunking; only the number of calls changes.

use std::io::{Seek, Write};

use chrono::{Datelike, NaiveDate};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Name of the manifest entry.
pub const MANIFEST: &str = "MANIFEST.sha256";
/// Name of the signature entry.
pub const SIGNATURE: &str = "MANIFEST.sha256.sig";
/// Name of the public key entry (listed in the manifest).
pub const PUBLIC_KEY: &str = "signing-key.pub.pem";
/// Bytes gathered before they are handed to the deflater (and the hasher).
pub const CHUNK: usize = 64 * 1024;

/// Writing a bundle failed.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("archive entry {path:?} written after {previous:?}: entries must be in path order")]
    Order { path: String, previous: String },
}

/// A zip archive being written, entry by entry, in path order.
pub struct BundleWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    options: SimpleFileOptions,
    manifest: String,
    current: Option<(String, Sha256)>,
    previous: Option<String>,
    /// The current entry's bytes not yet handed to the deflater.
    pending: Vec<u8>,
}

impl<W: Write + Seek> BundleWriter<W> {
    /// Start an archive whose entries all carry `mtime` (midnight) as modification time.
    pub fn new(out: W, mtime: NaiveDate) -> Result<BundleWriter<W>, BundleError> {
        // Zip times are 1980..=2107; clamp so any date stays writable.
        let year = mtime.year().clamp(1980, 2107) as u16;
        let time = zip::DateTime::from_date_and_time(
            year,
            mtime.month() as u8,
            mtime.day() as u8,
            0,
            0,
            0,
        )
        .unwrap_or_default();
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            // Level 1: the archive is mostly CSV, JSON and HTML, which level 1 still compresses
            // well at a fraction of level 6's CPU (the entries' bytes do not depend on it).
            .compression_level(Some(1))
            .last_modified_time(time)
            .unix_permissions(0o644);
        Ok(BundleWriter {
            zip: ZipWriter::new(out),
            options,
            manifest: String::new(),
            current: None,
            previous: None,
            pending: Vec::with_capacity(CHUNK),
        })
    }

    /// Hand the pending bytes to the hasher and the deflater.
    fn drain(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some((_, hasher)) = self.current.as_mut() {
            hasher.update(&self.pending);
        }
        self.zip.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    fn close_entry(&mut self) -> std::io::Result<()> {
        self.drain()?;
        if let Some((path, hasher)) = self.current.take() {
            self.manifest
                .push_str(&format!("{}  {path}\n", hex::encode(hasher.finalize())));
            self.previous = Some(path);
        }
        Ok(())
    }

    /// Begin the entry `path` (closing the previous one); later writes go into it.
    pub fn start(&mut self, path: &str) -> Result<(), BundleError> {
        self.close_entry()?;
        if let Some(prev) = &self.previous {
            if path <= prev.as_str() {
                return Err(BundleError::Order {
                    path: path.to_string(),
                    previous: prev.clone(),
                });
            }
        }
        self.zip.start_file(path, self.options)?;
        self.current = Some((path.to_string(), Sha256::new()));
        Ok(())
    }

    /// A whole entry at once.
    pub fn entry(&mut self, path: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.start(path)?;
        self.write_all(bytes)?;
        Ok(())
    }

    /// Close the last entry, add the manifest and its signature by `key`, and finish the archive.
    pub fn finish(mut self, key: &SigningKey) -> Result<W, BundleError> {
        self.close_entry()?;
        let manifest = std::mem::take(&mut self.manifest);
        let signature = key.sign(manifest.as_bytes());
        self.zip.start_file(MANIFEST, self.options)?;
        self.zip.write_all(manifest.as_bytes())?;
        self.zip.start_file(SIGNATURE, self.options)?;
        self.zip.write_all(&signature.to_bytes())?;
        Ok(self.zip.finish()?)
    }
}

impl<W: Write + Seek> Write for BundleWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.current.is_none() {
            return Err(std::io::Error::other("no archive entry started"));
        }
        if self.pending.len() + buf.len() > CHUNK {
            self.drain()?;
            if buf.len() >= CHUNK {
                // A large write goes straight through (still hashed in order).
                if let Some((_, hasher)) = self.current.as_mut() {
                    hasher.update(buf);
                }
                self.zip.write_all(buf)?;
                return Ok(buf.len());
            }
        }
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.zip.flush()
    }
}
