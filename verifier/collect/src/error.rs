//! Why a collection stopped. Every variant is exit 2 (`spec/exit-codes.md`: the evidence could not
//! be gathered), except a bundle whose recorded hash does not match its bytes, which is 1.

use std::path::PathBuf;

/// A collection error: a miette diagnostic on stderr and an exit code.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum CollectError {
    /// A command-line value that cannot be used.
    #[error("{0}")]
    #[diagnostic(code(rocky_collect::usage))]
    Usage(String),

    /// A local file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    #[diagnostic(code(rocky_collect::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },

    /// The output already exists or lies where it must not.
    #[error("--out {}: {reason}", path.display())]
    #[diagnostic(
        code(rocky_collect::out),
        help("give a new folder (or a .tar path) that does not exist yet")
    )]
    Out {
        /// The output path.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// An S3 request failed.
    #[error("S3 {uri}: {message}")]
    #[diagnostic(
        code(rocky_collect::s3),
        help(
            "endpoint and credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, \
             AWS_SECRET_ACCESS_KEY and AWS_REGION"
        )
    )]
    S3 {
        /// The object or prefix.
        uri: String,
        /// The client's message.
        message: String,
    },

    /// An object changed between the listing and the read (its ETag differs).
    #[error("S3 {uri} changed during the collection: listed with ETag {listed}, read as {read}")]
    #[diagnostic(
        code(rocky_collect::object_changed),
        help(
            "something is writing to the bucket; collect again when it is quiet (a bundle never \
             mixes two versions of an object)"
        )
    )]
    ObjectChanged {
        /// The object.
        uri: String,
        /// ETag seen in the listing.
        listed: String,
        /// ETag seen on read (or `a different object` when the server refused the If-Match).
        read: String,
    },

    /// A Valkey / Redis request failed.
    #[error("Valkey {uri}: {message}")]
    #[diagnostic(code(rocky_collect::valkey))]
    Valkey {
        /// The server and key.
        uri: String,
        /// The client's message.
        message: String,
    },

    /// A ledger was not found where it was looked for.
    #[error("no ledger at {uri}")]
    #[diagnostic(
        code(rocky_collect::ledger_absent),
        help(
            "the key is resolved as Rocky does: <prefix>/v22/state.redb (S3), <prefix>v22:state.redb (Valkey)"
        )
    )]
    LedgerAbsent {
        /// Where.
        uri: String,
    },

    /// A fetched ledger cannot be read.
    #[error("ledger {uri}: {reason}")]
    #[diagnostic(code(rocky_collect::ledger_invalid))]
    LedgerInvalid {
        /// Where it came from.
        uri: String,
        /// Why.
        reason: String,
    },

    /// The selection names no run, or a run the ledger does not hold.
    #[error("{0}")]
    #[diagnostic(code(rocky_collect::selection))]
    Selection(String),

    /// An artifact the selected runs name could not be found.
    #[error("artifact {file_path} (run {run_id}) not found at {looked}")]
    #[diagnostic(code(rocky_collect::artifact_missing))]
    ArtifactMissing {
        /// The run.
        run_id: String,
        /// The recorded `file_path`.
        file_path: String,
        /// Where it was looked for.
        looked: String,
    },

    /// git could not collect the commits.
    #[error("git {repo}: {message}")]
    #[diagnostic(code(rocky_collect::git))]
    Git {
        /// The repository.
        repo: String,
        /// The message.
        message: String,
    },

    /// The warehouse could not be read, or results could not be imported.
    #[error("warehouse {source_path}: {message}")]
    #[diagnostic(code(rocky_collect::warehouse))]
    Warehouse {
        /// The file.
        source_path: String,
        /// The message.
        message: String,
    },

    /// A file's BLAKE3 is not the one it is named by (1: the evidence is wrong).
    #[error("{what}: BLAKE3 {actual}, expected {expected}")]
    #[diagnostic(code(rocky_collect::hash_mismatch))]
    HashMismatch {
        /// What was hashed.
        what: String,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
}

impl CollectError {
    /// The process exit code (`spec/exit-codes.md`).
    pub fn exit_code(&self) -> i32 {
        match self {
            CollectError::HashMismatch { .. } => 1,
            _ => 2,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> CollectError {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }
}
