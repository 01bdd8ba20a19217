//! Registers kept by people rather than agents: incidents (the incident plan's "registre des
//! incidents") and training (roster and completions). This module owns the records and their rules;
//! `store::registers` keeps them, `kpi` measures them.
//!
//! - `incident` — the incident record, its vocabularies and validation.
//! - `training` — people and completions.
//! - `csv_import` — reading the CSV files, every row checked before anything is written.

pub mod csv_import;
pub mod incident;
pub mod training;

use std::fmt;

use serde::Serialize;

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Rows that were not in the store.
    pub added: usize,
    /// Rows that were, with different values.
    pub updated: usize,
    /// Rows already stored exactly so.
    pub unchanged: usize,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged",
            self.added, self.updated, self.unchanged
        )
    }
}
