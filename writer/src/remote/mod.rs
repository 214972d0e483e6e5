//! Remote state (feature `remote`): the ledger downloaded before a run and uploaded after it, to
//! S3, Valkey, or both (tiered), where Rocky keeps it and in the form Rocky reads.
//!
//! The normative description is `spec/remote-state.md`. In short:
//!
//! - **Keys** are Rocky's: `<s3_prefix>/v22/state.redb` (default `rocky/state/v22/state.redb`)
//!   and `<valkey_prefix>v22:state.redb` (default `rocky:state:v22:state.redb`); a ledger at
//!   `.rocky-state/<namespace>.redb` uses `<namespace>.redb` instead of `state.redb`, which is
//!   how one bucket holds one state per environment.
//! - **What is uploaded** is a complete redb file: a copy of the ledger with Rocky's six
//!   local-only tables deleted ([`LOCAL_ONLY_TABLES`]). A download is checked (redb opens it,
//!   its integrity check passes, schema at most 22) and installed with the local file's own
//!   local-only tables, by an atomic rename.
//! - **Lifecycle**: [`StateSync::acquire`] before the run, every read and write local during it,
//!   [`StateSync::finalize`] after it. A run whose download failed never uploads.
//! - **Failures**: one wall-clock budget per transfer leg shared by its retries, exponential
//!   backoff with jitter, `max_retries`, `max_retries_per_run`, a three-state circuit breaker per
//!   tier, `on_upload_failure` and `on_download_failure`. Every transfer ends in one
//!   [`Outcome`], returned in the [`SyncReport`] and emitted as a `tracing` event with an
//!   `outcome` field.
//! - **Concurrent writers**: `concurrency_control = Cas` makes uploads conditional and a lost
//!   race a [`SyncError::CasConflict`]. The default (`Off`, Rocky's) lets the last writer win:
//!   two overlapping runs silently lose the first one's state.
//!
//! # Example
//!
//! ```no_run
//! use rocky_writer::remote::{Backend, S3Location, StateConfig, StateSync, ValkeyLocation};
//!
//! let backend = Backend::Tiered {
//!     s3: S3Location::new("rocky-state"),
//!     valkey: ValkeyLocation::new("redis://127.0.0.1:6379"),
//! };
//! let mut sync = StateSync::new(StateConfig::new(backend))?;
//! let session = sync.acquire(".rocky-state.redb")?;
//! {
//!     let ledger = rocky_writer::Ledger::create_or_open(session.ledger())?;
//!     // ... record the run ...
//! } // the ledger is closed before the upload
//! let report = sync.finalize(session)?;
//! println!("{:?}", report.outcomes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod file;
mod keys;
mod policy;
mod report;
mod s3;
mod session;
mod valkey;

pub use config::{
    Backend, ConcurrencyControl, OnDownloadFailure, OnUploadFailure, RetryConfig, S3Location,
    StateConfig, ValkeyLocation,
};
pub use error::SyncError;
pub use file::{LOCAL_ONLY_TABLES, check_ledger_bytes};
pub use keys::{
    COHERENT_MAGIC, DEFAULT_S3_PREFIX, DEFAULT_VALKEY_PREFIX, Generation, NAMESPACE_DIR,
    PROBE_CONTENT, STATE_FILE, frame_coherent, parse_coherent, remote_name, s3_state_key,
    valkey_coherent_key, valkey_state_key,
};
pub use policy::BreakerState;
pub use report::{Direction, Leg, Outcome, SyncReport, Tier, Transfer};
pub use session::{Authority, Session, StateSync};
