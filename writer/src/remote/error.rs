//! [`SyncError`]: why a remote state operation failed.

use std::path::PathBuf;
use std::time::Duration;

use super::report::{Direction, Tier};

/// A remote state operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The configuration cannot work (a bad URL, an empty bucket name).
    #[error("state config: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The tokio runtime that drives the clients could not start.
    #[error("state sync runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The transfer's wall-clock budget ran out.
    #[error("{tier} {direction:?} exceeded its {after:?} budget")]
    Timeout {
        /// The server.
        tier: Tier,
        /// Which way.
        direction: Direction,
        /// The budget.
        after: Duration,
    },
    /// Every attempt allowed by `max_retries` failed with a transient error.
    #[error("{tier} {direction:?} failed after {attempts} attempts: {last}")]
    TransientExhausted {
        /// The server.
        tier: Tier,
        /// Which way.
        direction: Direction,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// `max_retries_per_run` was spent.
    #[error("state retry budget of {limit} retries per run exhausted")]
    RetryBudgetExhausted {
        /// The configured budget.
        limit: u32,
    },
    /// The tier's circuit breaker is open.
    #[error("{tier} circuit breaker open after {consecutive_failures} consecutive failures")]
    CircuitOpen {
        /// The server.
        tier: Tier,
        /// Failures that opened it.
        consecutive_failures: u32,
    },
    /// A failure that retrying cannot fix.
    #[error("{tier} {direction:?}: {message}")]
    Backend {
        /// The server.
        tier: Tier,
        /// Which way.
        direction: Direction,
        /// What the client said.
        message: String,
    },
    /// A conditional upload lost: another writer committed since this run downloaded. Never
    /// absorbed by `on_upload_failure`.
    #[error("state {key} changed since it was downloaded (another writer won); not overwritten")]
    CasConflict {
        /// The key that changed.
        key: String,
    },
    /// The remote object is not a ledger this writer can use (not redb, or a newer schema).
    #[error("remote state {key} on {tier} is not usable: {reason}")]
    InvalidRemoteState {
        /// The server.
        tier: Tier,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A local file could not be read, written or renamed.
    #[error("{path}: {source}")]
    Local {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Copying tables between ledgers, or dropping the local-only ones, failed. Fail-closed:
    /// nothing unfiltered is ever uploaded.
    #[error("ledger {path}: {reason}")]
    Ledger {
        /// The ledger or scratch copy.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// Another writer holds the local ledger.
    #[error("ledger {path} is held by another writer")]
    Locked {
        /// The ledger.
        path: PathBuf,
    },
    /// The `state_rw` probe failed.
    #[error("state_rw probe on {tier} failed at {step}: {reason}")]
    ProbeFailed {
        /// The server.
        tier: Tier,
        /// `put`, `get`, `compare`.
        step: &'static str,
        /// Why.
        reason: String,
    },
}
