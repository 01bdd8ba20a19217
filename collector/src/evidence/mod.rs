//! The audit evidence export: one signed zip bundle that an auditor opens without Vigie.
//!
//! Map (arrows = "uses"): `cli` (and the HTTP handler) → `export` → `plan` (what is covered),
//! `pages` (index, safeguard and check pages), `sections` (streamed data pages), `data_json`,
//! `oscal` → `bundle` (deterministic zip, manifest, signature) → `signing` (the Ed25519 key).
//! `verify` reads a bundle back. Every section streams its rows from `store::evidence_export`;
//! nothing holds the period in memory. The layout and the trust model are in docs/evidence.md.

pub mod bundle;
pub mod cli;
pub mod continuity;
pub mod data_json;
pub mod export;
pub mod html;
pub mod identities;
pub mod oscal;
pub mod pages;
pub mod plan;
pub mod sections;
pub mod signing;
pub mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod verify_tests;

pub use export::{export, ExportRequest};

use crate::store::StoreError;

/// An export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request itself is wrong (exit code 2, HTTP 400).
    #[error(transparent)]
    Usage(#[from] plan::UsageError),
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store changed under the export: {0}")]
    Inconsistent(String),
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> ExportError {
        ExportError::Store(StoreError::Sqlite(e))
    }
}
