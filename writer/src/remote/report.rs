//! What each transfer ended in: the typed [`SyncReport`], and the `tracing` events that carry the
//! same `outcome` values for alerting.

use std::time::Duration;

/// The terminal outcome of one transfer (Rocky's `outcome` vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The transfer completed.
    Ok,
    /// There was no remote state: the first run against this backend.
    Absent,
    /// The transfer's wall-clock budget ran out.
    Timeout,
    /// The download failed and the run went on without remote state (it will not upload).
    ErrorThenFresh,
    /// Every attempt allowed by `max_retries` failed with a transient error.
    TransientExhausted,
    /// `max_retries_per_run` was spent before this transfer could retry.
    BudgetExhausted,
    /// The tier's circuit breaker was open (or opened during the transfer); not attempted
    /// further.
    CircuitOpen,
    /// The upload failed and `on_upload_failure = "skip"` let the run succeed.
    SkippedAfterFailure,
    /// A failure that retrying cannot fix (refused credentials, an invalid remote file, a local
    /// I/O error). Rocky reports a failed existence check the same way.
    Error,
    /// A conditional (`cas`) upload lost: another writer committed since this run downloaded.
    Conflict,
}

impl Outcome {
    /// The wire spelling, e.g. `transient_exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Absent => "absent",
            Outcome::Timeout => "timeout",
            Outcome::ErrorThenFresh => "error_then_fresh",
            Outcome::TransientExhausted => "transient_exhausted",
            Outcome::BudgetExhausted => "budget_exhausted",
            Outcome::CircuitOpen => "circuit_open",
            Outcome::SkippedAfterFailure => "skipped_after_failure",
            Outcome::Error => "error",
            Outcome::Conflict => "conflict",
        }
    }

    /// Whether the transfer did what it was for (`ok` or `absent`).
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Absent)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One server a transfer talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The S3 object store.
    S3,
    /// The Valkey server.
    Valkey,
}

impl Tier {
    /// `s3` or `valkey`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::S3 => "s3",
            Tier::Valkey => "valkey",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Remote to local, before the run.
    Download,
    /// Local to remote, after the run.
    Upload,
}

impl Direction {
    /// `state.download` or `state.upload`, the event names Rocky uses.
    pub fn event(self) -> &'static str {
        match self {
            Direction::Download => "state.download",
            Direction::Upload => "state.upload",
        }
    }
}

/// One leg of a transfer: the exchange with one tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    /// The server.
    pub tier: Tier,
    /// The key or object path.
    pub key: String,
    /// How the leg ended.
    pub outcome: Outcome,
    /// Attempts made (0 when the breaker refused the first).
    pub attempts: u32,
    /// Bytes moved by the successful attempt.
    pub bytes: u64,
    /// Wall-clock time of the leg.
    pub elapsed: Duration,
    /// The last error, for a failed leg.
    pub error: Option<String>,
}

/// One transfer: a download or an upload, through one or two tiers.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// Download or upload.
    pub direction: Direction,
    /// The terminal outcome, after `on_upload_failure` / `on_download_failure`.
    pub outcome: Outcome,
    /// For `error_then_fresh` and `skipped_after_failure`: the failure the policy absorbed.
    pub cause: Option<Outcome>,
    /// The exchanges with each tier, in order.
    pub legs: Vec<Leg>,
}

/// Everything the remote state layer did for one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncReport {
    /// The download before the run; `None` for the `local` backend.
    pub download: Option<Transfer>,
    /// The upload after it; `None` for `local`, or when the upload was suppressed.
    pub upload: Option<Transfer>,
    /// Why the upload was not attempted, e.g. `download failed`.
    pub upload_suppressed: Option<&'static str>,
}

impl SyncReport {
    /// The outcome of every transfer made, download first.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.download
            .iter()
            .chain(self.upload.iter())
            .map(|t| t.outcome)
            .collect()
    }
}

/// Emits the event of one leg.
pub(crate) fn emit_leg(direction: Direction, leg: &Leg) {
    let ms = leg.elapsed.as_millis() as u64;
    let error = leg.error.as_deref().unwrap_or("");
    if leg.outcome.is_success() {
        tracing::info!(
            op = direction.event(),
            tier = leg.tier.as_str(),
            key = leg.key.as_str(),
            outcome = leg.outcome.as_str(),
            attempts = leg.attempts,
            bytes = leg.bytes,
            elapsed_ms = ms,
            "state leg finished"
        );
    } else {
        tracing::warn!(
            op = direction.event(),
            tier = leg.tier.as_str(),
            key = leg.key.as_str(),
            outcome = leg.outcome.as_str(),
            attempts = leg.attempts,
            elapsed_ms = ms,
            error,
            "state leg failed"
        );
    }
}

/// Emits the event of a whole transfer, whose `outcome` is the terminal one.
pub(crate) fn emit_transfer(transfer: &Transfer) {
    let cause = transfer.cause.map(Outcome::as_str).unwrap_or("");
    let op = transfer.direction.event();
    if transfer.outcome.is_success() {
        tracing::info!(
            op,
            outcome = transfer.outcome.as_str(),
            "state transfer finished"
        );
    } else {
        tracing::warn!(
            op,
            outcome = transfer.outcome.as_str(),
            cause,
            "state transfer failed"
        );
    }
}

/// Emits the event of an upload that was not attempted.
pub(crate) fn emit_suppressed(reason: &'static str) {
    tracing::warn!(
        op = Direction::Upload.event(),
        outcome = "suppressed",
        reason,
        "state upload suppressed"
    );
}
