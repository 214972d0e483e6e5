//! The `[state]` settings of Rocky's `rocky.toml`, as Rust values (spec/remote-state.md section 1).

use std::time::Duration;

use super::keys::{DEFAULT_S3_PREFIX, DEFAULT_VALKEY_PREFIX};

/// Where state lives besides the local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Local file only; nothing is transferred (Rocky's default).
    Local,
    /// An S3-compatible object store.
    S3(S3Location),
    /// A Valkey (or Redis) server.
    Valkey(ValkeyLocation),
    /// Valkey in front of S3: download tries Valkey, then S3 on a miss or an error; upload
    /// writes Valkey best-effort and S3 as the one that decides.
    Tiered {
        /// The durable tier.
        s3: S3Location,
        /// The fast tier.
        valkey: ValkeyLocation,
    },
}

impl Backend {
    /// Rocky's name of the backend: `local`, `s3`, `valkey` or `tiered`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::S3(_) => "s3",
            Backend::Valkey(_) => "valkey",
            Backend::Tiered { .. } => "tiered",
        }
    }
}

/// An S3 bucket and prefix, and how to reach it. Anything left `None` comes from the usual
/// environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`), read by object_store.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name (`s3_bucket`).
    pub bucket: String,
    /// Key prefix (`s3_prefix`), default `rocky/state/`.
    pub prefix: String,
    /// Endpoint URL of an S3-compatible server; `None` means AWS (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Region; `None` means `AWS_REGION`, else object_store's default.
    pub region: Option<String>,
    /// Access key id; `None` means the environment.
    pub access_key_id: Option<String>,
    /// Secret access key; `None` means the environment.
    pub secret_access_key: Option<String>,
}

impl S3Location {
    /// `bucket` with the default prefix; everything else from the environment.
    pub fn new(bucket: impl Into<String>) -> S3Location {
        S3Location {
            bucket: bucket.into(),
            prefix: DEFAULT_S3_PREFIX.to_owned(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

impl std::fmt::Debug for S3Location {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A Valkey server and key prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct ValkeyLocation {
    /// `redis://[user:password@]host:port[/db]` (`valkey_url`).
    pub url: String,
    /// Key prefix (`valkey_prefix`), default `rocky:state:`.
    pub prefix: String,
}

impl ValkeyLocation {
    /// `url` with the default prefix.
    pub fn new(url: impl Into<String>) -> ValkeyLocation {
        ValkeyLocation {
            url: url.into(),
            prefix: DEFAULT_VALKEY_PREFIX.to_owned(),
        }
    }
}

impl std::fmt::Debug for ValkeyLocation {
    // The URL can carry a password (Rocky keeps it in a RedactedString).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.url.split_once('@') {
            Some((_, host)) => format!("redis://<redacted>@{host}"),
            None => self.url.clone(),
        };
        f.debug_struct("ValkeyLocation")
            .field("url", &shown)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// `[state.retry]`: Rocky's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt of one transfer (default 3).
    pub max_retries: u32,
    /// First backoff (default 1 s).
    pub initial_backoff: Duration,
    /// Backoff ceiling (default 30 s).
    pub max_backoff: Duration,
    /// Growth per retry (default 2.0).
    pub backoff_multiplier: f64,
    /// Spread each backoff over a band 25% wide around its value (default on).
    pub jitter: bool,
    /// Consecutive failures that open a tier's circuit breaker (default 5; 0 disables it).
    pub circuit_breaker_threshold: u32,
    /// How long an open breaker waits before letting one probe through (half-open). `None`,
    /// Rocky's default, keeps it open until [`super::StateSync::reset_breakers`].
    pub circuit_breaker_recovery: Option<Duration>,
    /// Retries allowed across all transfers of one run (default unlimited).
    pub max_retries_per_run: Option<u32>,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_retries: 3,
            initial_backoff: Duration::from_millis(1000),
            max_backoff: Duration::from_millis(30_000),
            backoff_multiplier: 2.0,
            jitter: true,
            circuit_breaker_threshold: 5,
            circuit_breaker_recovery: None,
            max_retries_per_run: None,
        }
    }
}

/// What a failed upload does to the run (`on_upload_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUploadFailure {
    /// Warn, report `skipped_after_failure`, and let the run succeed with remote state stale.
    #[default]
    Skip,
    /// Return the typed error (`RetryBudgetExhausted`, `CircuitOpen`, ...) to the caller.
    Fail,
}

/// What a failed download does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDownloadFailure {
    /// Warn, report `error_then_fresh`, continue with the local file as it is (nothing, on an
    /// ephemeral runner) and never upload at the end of this run.
    #[default]
    StartFresh,
    /// Return the typed error; the run should not start.
    Fail,
}

/// `concurrency_control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcurrencyControl {
    /// Unconditional writes, Rocky's default: the last writer wins, so two runs that overlap
    /// lose the first one's state.
    #[default]
    Off,
    /// Conditional writes against what the run downloaded; a lost race fails closed with
    /// [`super::SyncError::CasConflict`].
    Cas,
}

/// The whole `[state]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// Where state lives.
    pub backend: Backend,
    /// Wall-clock budget of one transfer to one server, shared by all its retries (default
    /// 300 s).
    pub transfer_timeout: Duration,
    /// Retry, backoff and circuit breaker.
    pub retry: RetryConfig,
    /// What a failed upload does.
    pub on_upload_failure: OnUploadFailure,
    /// What a failed download does.
    pub on_download_failure: OnDownloadFailure,
    /// Conditional uploads or not.
    pub concurrency_control: ConcurrencyControl,
}

impl StateConfig {
    /// `backend` with every other setting at Rocky's default.
    pub fn new(backend: Backend) -> StateConfig {
        StateConfig {
            backend,
            transfer_timeout: Duration::from_secs(300),
            retry: RetryConfig::default(),
            on_upload_failure: OnUploadFailure::default(),
            on_download_failure: OnDownloadFailure::default(),
            concurrency_control: ConcurrencyControl::default(),
        }
    }
}
