//! Could-not-verify conditions.
//!
//! Two kinds of bad outcome are kept apart (style guide B4): evidence that is *wrong* is a `fail`
//! [`crate::report::Check`] pushed onto the report and never an `Err`; a [`VerifyError`] means a
//! check *could not be done* (unreadable ledger, locked ledger, missing repository). A
//! `VerifyError` becomes an `unknown` check (exit 2 unless something failed), never a pass.

use std::path::PathBuf;

use crate::checks::catalogue::Code;
use miette::Diagnostic;
use thiserror::Error;

/// Why something could not be verified.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(rocky_verify::io))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The ledger is not a readable redb 2 file (not redb, truncated, corrupt).
    #[error("ledger {} is not a readable redb file: {reason}", path.display())]
    #[diagnostic(
        code(rocky_verify::ledger_invalid),
        help("a Rocky ledger is a redb 2.x file (usually .rocky-state.redb); check --ledger")
    )]
    LedgerInvalid {
        /// The ledger path.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// A writer holds the ledger's lock.
    #[error("ledger {} is locked by a writer", path.display())]
    #[diagnostic(
        code(rocky_verify::ledger_locked_unexpected),
        help("a Rocky or rocky-writer process has the ledger open; verify a copy or wait for it")
    )]
    LedgerLocked {
        /// The ledger path.
        path: PathBuf,
    },

    /// The requested run is not in the ledger at all.
    #[error("no run {run_id} in the ledger{}", did_you_mean(nearest))]
    #[diagnostic(
        code(rocky_verify::run_record_missing),
        help("`rocky-verify runs` lists the runs the ledger holds")
    )]
    RunNotFound {
        /// The run id asked for.
        run_id: String,
        /// The ledger's run ids nearest to it by edit distance (a hint), closest first.
        nearest: Vec<String>,
    },

    /// A git repository could not be opened or read.
    #[error("git: {0}")]
    #[diagnostic(code(rocky_verify::repo_missing))]
    Git(String),

    /// The DuckDB warehouse could not be opened or queried.
    #[error("warehouse: {0}")]
    #[diagnostic(code(rocky_verify::warehouse_invalid))]
    Warehouse(String),

    /// A bug in rocky-verify.
    #[error("internal error (this is a bug in rocky-verify): {0}")]
    #[diagnostic(code(rocky_verify::internal))]
    Internal(String),
}

/// `"; did you mean a, b?"` for a non-empty list of near misses.
fn did_you_mean(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", nearest.join(", "))
    }
}

impl VerifyError {
    /// The finding code (`spec/report.md`) of the `unknown` check this error becomes.
    pub fn code(&self) -> Code {
        match self {
            VerifyError::Io { .. } | VerifyError::LedgerInvalid { .. } => Code::LedgerInvalid,
            VerifyError::LedgerLocked { .. } => Code::LedgerLockedUnexpected,
            VerifyError::RunNotFound { .. } => Code::RunRecordMissing,
            VerifyError::Git(_) => Code::RepoMissing,
            VerifyError::Warehouse(_) => Code::WarehouseInvalid,
            VerifyError::Internal(_) => Code::LedgerInvalid,
        }
    }
}
