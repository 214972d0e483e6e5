//! What will be checked, decided before any check runs.

pub mod policy;

use std::path::PathBuf;

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A run id or `latest`.
    pub run_id: String,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The git repository.
    pub repo: PathBuf,
    /// Whether the user named `repo` (`--repo`); `false` when it is the default `.`, where an
    /// absent commit may only mean the wrong folder.
    pub repo_explicit: bool,
    /// `--adapter`: the dialect for Rocky fingerprints when neither `rocky.toml` at the commit
    /// nor the recorded `env_hash` names one.
    pub adapter: Option<crate::rocky::statements::Dialect>,
    /// A DuckDB file, if given.
    pub warehouse: Option<PathBuf>,
    /// The artifacts folder, if given.
    pub artifacts: Option<PathBuf>,
    /// `--strict`.
    pub strict: bool,
    /// The two passes over the whole ledger: the file's BLAKE3 and exact refcounts (`false`
    /// with `--no-ledger-scan`). Every check of the run itself runs either way.
    pub ledger_scan: bool,
    /// `--lake`: a local copy of the bucket holding the content-addressed tables' Delta logs.
    pub lake: Option<PathBuf>,
}
