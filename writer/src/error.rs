//! Error types, one per operation, plus the umbrella [`Error`].
//!
//! Messages are lowercase with the context first; payloads are structured fields.

use std::path::PathBuf;

/// Implements `From` for each redb error type by way of `redb::Error`.
macro_rules! from_redb {
    ($target:ident) => {
        impl From<Box<redb::Error>> for $target {
            fn from(e: Box<redb::Error>) -> Self {
                $target::Storage(e)
            }
        }
        impl From<redb::Error> for $target {
            fn from(e: redb::Error) -> Self {
                $target::Storage(Box::new(e))
            }
        }
        impl From<redb::DatabaseError> for $target {
            fn from(e: redb::DatabaseError) -> Self {
                $target::Storage(Box::new(e.into()))
            }
        }
        impl From<redb::TransactionError> for $target {
            fn from(e: redb::TransactionError) -> Self {
                $target::Storage(Box::new(e.into()))
            }
        }
        impl From<redb::TableError> for $target {
            fn from(e: redb::TableError) -> Self {
                $target::Storage(Box::new(e.into()))
            }
        }
        impl From<redb::StorageError> for $target {
            fn from(e: redb::StorageError) -> Self {
                $target::Storage(Box::new(e.into()))
            }
        }
        impl From<redb::CommitError> for $target {
            fn from(e: redb::CommitError) -> Self {
                $target::Storage(Box::new(e.into()))
            }
        }
    };
}

/// Opening or creating a ledger failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file or folder could not be read or created.
    #[error("ledger {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another writer holds the ledger (its sidecar lock or the database file).
    #[error("ledger {path} is locked by another writer")]
    Locked {
        /// The ledger path.
        path: PathBuf,
    },
    /// The ledger was written by a newer schema than this writer knows.
    #[error("ledger {path} has schema version {found}, newer than the supported {supported}")]
    SchemaTooNew {
        /// The ledger path.
        path: PathBuf,
        /// The stamped version.
        found: u64,
        /// The newest version this writer supports.
        supported: u64,
    },
    /// The schema marker is not a decimal number.
    #[error("ledger {path} has an unreadable schema version {found:?}")]
    SchemaVersionInvalid {
        /// The ledger path.
        path: PathBuf,
        /// The stamped text.
        found: String,
    },
    /// redb failed (includes a table opened with unexpected key or value types).
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(OpenError);

/// Recording a run failed; nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A model's `source_path` is not a clean repository-relative path.
    #[error("model {model}: source path {path:?} is not repo-relative ({reason})")]
    InvalidSourcePath {
        /// The model name.
        model: String,
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The config path is not a clean repository-relative path.
    #[error("config path {path:?} is not repo-relative ({reason})")]
    InvalidConfigPath {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A model's IR SQL is not its source text.
    #[error("model {model}: ir sql differs from the source bytes of {source_path}")]
    SqlSourceMismatch {
        /// The model name.
        model: String,
        /// The model's source path.
        source_path: String,
    },
    /// A model or artifact name cannot be used in a ledger key.
    #[error("model name {name:?} is not usable in a ledger key ({reason})")]
    InvalidModelName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two models of one run share a project name.
    #[error("model {name} appears more than once in the run")]
    DuplicateModel {
        /// The name.
        name: String,
    },
    /// The same artifact is listed twice for one model.
    #[error("model {model}: artifact {path} is listed more than once")]
    DuplicateArtifact {
        /// The model name.
        model: String,
        /// The artifact path.
        path: PathBuf,
    },
    /// A table reference is not `catalog.schema.table` with three clean parts.
    #[error("table reference {key:?} is not catalog.schema.table")]
    InvalidTableRef {
        /// The offending key.
        key: String,
    },
    /// An upstream identity cannot be recorded.
    #[error("model {model}: upstream {upstream_key:?} is invalid ({reason})")]
    InvalidUpstream {
        /// The model name.
        model: String,
        /// The upstream's key.
        upstream_key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A time range ends before it starts.
    #[error("{what}: finished_at {finished_at} is before started_at {started_at}")]
    TimeRange {
        /// Which record.
        what: String,
        /// Start.
        started_at: String,
        /// Finish.
        finished_at: String,
    },
    /// An artifact lies outside the ledger's folder.
    #[error("artifact {path} is outside the ledger folder {ledger_dir}")]
    PathOutsideLedger {
        /// The artifact path.
        path: PathBuf,
        /// The ledger's folder.
        ledger_dir: PathBuf,
    },
    /// An artifact file is missing or differs from what was written.
    #[error("artifact {path}: expected {expected_size} bytes named by its hash, found {found}")]
    ArtifactChanged {
        /// The artifact path.
        path: PathBuf,
        /// The recorded size.
        expected_size: u64,
        /// What was found.
        found: String,
    },
    /// An artifact path cannot be recorded.
    #[error("artifact {path}: {reason}")]
    ArtifactPathInvalid {
        /// The artifact path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No free run id (the `-N` suffix space is exhausted).
    #[error("no free run id for {base}")]
    RunIdExhausted {
        /// The base id.
        base: String,
    },
    /// A filesystem operation failed.
    #[error("recording run: {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored record could not be read back.
    #[error("ledger table {table}: stored value under {key:?} is not valid json")]
    CorruptValue {
        /// Table name.
        table: &'static str,
        /// Row key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// redb failed.
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(RecordError);

/// Writing a content-addressed artifact failed; no file exists under the final name unless it
/// already held the same bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The batch has no rows or no columns.
    #[error("record batch is empty ({rows} rows, {columns} columns)")]
    EmptyBatch {
        /// Row count.
        rows: usize,
        /// Column count.
        columns: usize,
    },
    /// The batch has a column type the pinned Parquet writer cannot encode.
    #[error("record batch column {column:?} has unsupported type {data_type}")]
    UnsupportedType {
        /// Column name.
        column: String,
        /// Arrow type, as text.
        data_type: String,
    },
    /// parquet-rs failed to encode the batch.
    #[error("parquet encoding failed: {0}")]
    Parquet(#[source] parquet::errors::ParquetError),
    /// A file under the content address exists with other bytes; it was left untouched.
    #[error("artifact {path} exists with different bytes (blake3 {found}); left untouched")]
    ExistingFileDiffers {
        /// The final path.
        path: PathBuf,
        /// The blake3 of the existing bytes.
        found: String,
    },
    /// A filesystem operation failed.
    #[error("writing artifact {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A watermark operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatermarkError {
    /// The table reference is not `catalog.schema.table` with three clean parts.
    #[error("table reference {key:?} is not catalog.schema.table")]
    InvalidTableRef {
        /// The offending key.
        key: String,
    },
    /// A column name cannot be quoted safely (empty, or containing NUL).
    #[error("column name {column:?} cannot be quoted as an identifier")]
    InvalidColumn {
        /// The column.
        column: String,
    },
    /// A stored watermark could not be read.
    #[error("watermark {key}: stored value is not a valid WatermarkState")]
    CorruptValue {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// redb failed.
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(WatermarkError);

/// A check-history operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The table reference is not `catalog.schema.table` with three clean parts.
    #[error("table reference {key:?} is not catalog.schema.table")]
    InvalidTableRef {
        /// The offending key.
        key: String,
    },
    /// The check configuration is unusable.
    #[error("check config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// A stored history could not be read.
    #[error("check history {key}: stored value is not a valid CheckSnapshot array")]
    CorruptValue {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// redb failed.
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(CheckError);

/// A branch operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BranchError {
    /// The name is not usable as a schema suffix.
    #[error("branch name {name:?} is invalid: use 1-64 ASCII letters, digits, '_' or '-'")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A branch of that name exists.
    #[error("branch {name} already exists")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// No branch of that name exists.
    #[error("branch {name} does not exist")]
    NotFound {
        /// The name.
        name: String,
    },
    /// A stored branch could not be read.
    #[error("branch {key}: stored value is not a valid BranchRecord")]
    CorruptValue {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// redb failed.
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(BranchError);

/// Any rocky-writer error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// See [`RecordError`].
    #[error(transparent)]
    Record(#[from] RecordError),
    /// See [`ArtifactError`].
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// See [`WatermarkError`].
    #[error(transparent)]
    Watermark(#[from] WatermarkError),
    /// See [`CheckError`].
    #[error(transparent)]
    Check(#[from] CheckError),
    /// See [`BranchError`].
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// See [`ReadError`].
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Reading records back from the ledger failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A stored value is not valid JSON for its record type.
    #[error("ledger table {table}: stored value under {key:?} is not a valid record")]
    CorruptValue {
        /// Table name.
        table: &'static str,
        /// Row key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// redb failed.
    #[error("ledger storage error: {0}")]
    Storage(#[source] Box<redb::Error>),
}
from_redb!(ReadError);

/// Rocky's statements for a model could not be produced (spec/hashes.md section 12.10).
///
/// `RockyRejects` is a fact about Rocky (it records `""` for such a model); `NotRecomputable`
/// says an input Rocky had is missing here; `Project` is a model configuration Rocky would
/// refuse to load at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// Rocky 1.71 fails SQL generation for this model and records a failed entry with `""`.
    #[error("rocky 1.71 rejects the model ({reason}): {detail}")]
    RockyRejects {
        /// The reason code.
        reason: crate::rocky::RejectReason,
        /// What was refused.
        detail: String,
    },
    /// An input Rocky had (a `--var` value, partition keys, typed columns, ...) is not known.
    #[error("not recomputable ({reason}): {detail}")]
    NotRecomputable {
        /// The reason code.
        reason: crate::rocky::NotRecomputableReason,
        /// What is missing.
        detail: String,
    },
    /// The model's configuration would stop Rocky from loading the project.
    #[error("model configuration invalid ({reason}): {detail}")]
    Project {
        /// The reason code.
        reason: crate::rocky::ProjectErrorReason,
        /// What is wrong.
        detail: String,
    },
}

impl TemplateError {
    /// The outcome class (`rocky_rejects`, `not_recomputable`, `project_error`).
    pub fn outcome(&self) -> &'static str {
        match self {
            TemplateError::RockyRejects { .. } => "rocky_rejects",
            TemplateError::NotRecomputable { .. } => "not_recomputable",
            TemplateError::Project { .. } => "project_error",
        }
    }

    /// The reason code.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::RockyRejects { reason, .. } => reason.code(),
            TemplateError::NotRecomputable { reason, .. } => reason.code(),
            TemplateError::Project { reason, .. } => reason.code(),
        }
    }
}

/// A Rocky project does not load as Rocky 1.71 would load it (spec/hashes.md sections 12.2 to
/// 12.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rocky project: {path}: {detail} ({reason})")]
pub struct ProjectError {
    /// The reason code.
    pub reason: crate::rocky::ProjectErrorReason,
    /// The repository-relative path the problem is in (`""` for the project as a whole).
    pub path: String,
    /// What is wrong.
    pub detail: String,
}
