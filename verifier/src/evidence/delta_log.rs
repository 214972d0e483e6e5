//! A content-addressed table's Delta log, read from a local copy (`spec/delta-log.md`).
//!
//! Only what the replay needs is kept: each commit's `commitInfo.engineInfo` and its `add`
//! actions (path, size, `numRecords` from the `stats` string). Every read is bounded (entry count,
//! file size), JSON nesting is bounded by serde_json's recursion limit, and a bad commit spoils
//! only itself: the others are still used, so one malformed line is "could not check" for the
//! rows that need that commit, never a panic and never a verdict on the rest.
//!
//! # Side effects
//!
//! Lists one folder and reads the commit files in it; writes nothing, follows no path it reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

/// The most entries read from one `_delta_log/` folder.
pub const MAX_ENTRIES: usize = 100_000;
/// The largest commit file read (Rocky's commits are a few hundred bytes).
pub const MAX_COMMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a table's log could not be read at all.
#[derive(Debug, Error)]
pub enum DeltaLogError {
    /// There is no `_delta_log/` folder.
    #[error("no Delta log folder at {}", path.display())]
    Missing {
        /// The folder looked for.
        path: PathBuf,
    },
    /// The folder could not be listed.
    #[error("cannot list {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("{} holds more than {MAX_ENTRIES} entries", path.display())]
    TooManyEntries {
        /// The folder.
        path: PathBuf,
    },
}

/// One `add` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    /// `add.path`, relative to the table folder.
    pub path: String,
    /// `add.size`.
    pub size: u64,
    /// `numRecords` from `add.stats`, when the stats carry it.
    pub num_records: Option<u64>,
}

/// One commit that read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// `commitInfo.engineInfo`, if the commit has one.
    pub engine_info: Option<String>,
    /// Its `add` actions, in file order.
    pub adds: Vec<Add>,
}

impl Commit {
    /// Whether Rocky wrote it (`engineInfo` = `rocky-cli/<version>`).
    pub fn by_rocky(&self) -> bool {
        self.engine_info
            .as_deref()
            .is_some_and(|e| e.starts_with("rocky-cli/"))
    }
}

/// A table's log: every commit file found, read or not.
#[derive(Debug, Clone, Default)]
pub struct DeltaLog {
    /// The `_delta_log/` folder.
    pub dir: PathBuf,
    /// Version to the commit, or why that commit file does not read.
    pub commits: BTreeMap<u64, Result<Commit, CommitError>>,
    /// The newest checkpoint version seen (`<v>.checkpoint.parquet`, or `_last_checkpoint`
    /// present with an unknown version, recorded as `u64::MAX`).
    pub checkpoint: Option<u64>,
}

impl DeltaLog {
    /// The lowest and highest commit versions present.
    pub fn range(&self) -> Option<(u64, u64)> {
        Some((
            *self.commits.keys().next()?,
            *self.commits.keys().next_back()?,
        ))
    }
}

/// Reads `<table>/_delta_log/`.
///
/// # Errors
///
/// [`DeltaLogError`] when the folder is missing or cannot be listed; an unreadable commit is
/// kept as an `Err` entry instead.
pub fn read(table_dir: &Path) -> Result<DeltaLog, DeltaLogError> {
    let dir = table_dir.join("_delta_log");
    if !dir.is_dir() {
        return Err(DeltaLogError::Missing { path: dir });
    }
    let io = |source| DeltaLogError::Io {
        path: dir.clone(),
        source,
    };
    let mut log = DeltaLog {
        dir: dir.clone(),
        ..DeltaLog::default()
    };
    let mut commit_files = Vec::new();
    for (n, entry) in std::fs::read_dir(&dir).map_err(io)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(DeltaLogError::TooManyEntries { path: dir });
        }
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == "_last_checkpoint" {
            log.checkpoint = log.checkpoint.max(Some(u64::MAX));
        } else if let Some(v) = version_of(name, ".json") {
            commit_files.push((v, entry.path()));
        } else if let Some(v) = checkpoint_version(name) {
            log.checkpoint = log.checkpoint.max(Some(v));
        }
    }
    for (v, path) in commit_files {
        log.commits.insert(v, read_commit(&path));
    }
    Ok(log)
}

/// The version of `<20 digits><suffix>`.
fn version_of(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The version of a checkpoint file (`<v>.checkpoint.parquet`, or a multi-part
/// `<v>.checkpoint.<i>.<n>.parquet`, or a V2 `<v>.checkpoint.<uuid>.json`).
fn checkpoint_version(name: &str) -> Option<u64> {
    let (digits, rest) = name.split_at_checked(20)?;
    (rest.starts_with(".checkpoint.") && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Why one commit file does not read (the `delta.*` checks report it as could-not-verify or
/// as a malformed log, by variant).
#[derive(Debug, Clone, Error)]
pub enum CommitError {
    /// The file cannot be opened.
    #[error("{0}")]
    Open(#[source] Arc<crate::evidence::regular_file::OpenError>),
    /// Its length cannot be read.
    #[error("cannot stat: {0}")]
    Stat(#[source] Arc<std::io::Error>),
    /// Larger than [`MAX_COMMIT_BYTES`].
    #[error("{0} bytes, more than the {MAX_COMMIT_BYTES} a commit is read up to")]
    TooLarge(u64),
    /// A read failed.
    #[error("cannot read: {0}")]
    Read(#[source] Arc<std::io::Error>),
    /// The body is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// A line is not a valid action (1-based line number).
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
}

/// What is wrong with one action line of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineProblem {
    /// Not JSON (serde_json's message).
    #[error("{0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// An object with other than one key.
    #[error("an action line has exactly one key")]
    NotOneKey,
    /// A malformed `add` action.
    #[error(transparent)]
    Add(#[from] AddError),
}

/// A malformed `add` action.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddError {
    /// `add.path` is missing or not a string.
    #[error("add.path is not a string")]
    Path,
    /// `add.size` is missing or not an unsigned integer.
    #[error("add.size is not an unsigned integer")]
    Size,
    /// `add.stats` is a string that is not JSON (serde_json's message).
    #[error("add.stats does not parse: {0}")]
    StatsSyntax(String),
    /// `add.stats` parses to something other than an object.
    #[error("add.stats is not a JSON object")]
    StatsNotObject,
    /// `add.stats` is neither a string nor null.
    #[error("add.stats is not a string")]
    StatsNotString,
    /// `add.stats.numRecords` is not an unsigned integer.
    #[error("add.stats.numRecords is not an unsigned integer")]
    NumRecords,
}

/// One commit file, or why it does not read.
fn read_commit(path: &Path) -> Result<Commit, CommitError> {
    // Only a regular file, opened without blocking (a FIFO or a device would hang the read).
    let file =
        crate::evidence::regular_file::open(path).map_err(|e| CommitError::Open(Arc::new(e)))?;
    let len = file
        .metadata()
        .map_err(|e| CommitError::Stat(Arc::new(e)))?
        .len();
    if len > MAX_COMMIT_BYTES {
        return Err(CommitError::TooLarge(len));
    }
    let mut bytes = Vec::new();
    file.take(MAX_COMMIT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CommitError::Read(Arc::new(e)))?;
    let text = String::from_utf8(bytes).map_err(|_| CommitError::NotUtf8)?;
    parse_commit(&text)
}

/// Parses a commit body (`spec/delta-log.md` section 2).
///
/// # Errors
///
/// [`CommitError::Line`] naming the first bad line (1-based).
pub fn parse_commit(text: &str) -> Result<Commit, CommitError> {
    let mut commit = Commit::default();
    for (i, line) in text.lines().enumerate() {
        let bad = |problem: LineProblem| CommitError::Line {
            line: i + 1,
            problem,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(LineProblem::Json(e.to_string())))?;
        let Some(obj) = value.as_object() else {
            return Err(bad(LineProblem::NotObject));
        };
        if obj.len() != 1 {
            return Err(bad(LineProblem::NotOneKey));
        }
        let Some((action, body)) = obj.iter().next() else {
            return Err(bad(LineProblem::NotOneKey));
        };
        match action.as_str() {
            "commitInfo" => {
                commit.engine_info = body
                    .get("engineInfo")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            "add" => commit
                .adds
                .push(parse_add(body).map_err(|e| bad(LineProblem::Add(e)))?),
            _ => {}
        }
    }
    Ok(commit)
}

fn parse_add(body: &Value) -> Result<Add, AddError> {
    let path = body
        .get("path")
        .and_then(Value::as_str)
        .ok_or(AddError::Path)?
        .to_owned();
    let size = body
        .get("size")
        .and_then(Value::as_u64)
        .ok_or(AddError::Size)?;
    let num_records = match body.get("stats") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let stats: Value =
                serde_json::from_str(s).map_err(|e| AddError::StatsSyntax(e.to_string()))?;
            if !stats.is_object() {
                return Err(AddError::StatsNotObject);
            }
            match stats.get("numRecords") {
                None | Some(Value::Null) => None,
                Some(n) => Some(n.as_u64().ok_or(AddError::NumRecords)?),
            }
        }
        Some(_) => return Err(AddError::StatsNotString),
    };
    Ok(Add {
        path,
        size,
        num_records,
    })
}

/// `key_prefix` of a `storage_prefix` URL (`s3://bucket/a/b/` gives `a/b`), if it has a scheme,
/// a bucket and a non-empty path.
pub fn key_prefix(storage_prefix: &str) -> Option<String> {
    let (_, rest) = storage_prefix.split_once("://")?;
    let (bucket, path) = rest.split_once('/')?;
    let path = path.trim_matches('/');
    (!bucket.is_empty() && !path.is_empty()).then(|| path.to_owned())
}

/// `key_prefix` inferred from an artifact's `file_path` when no IR gives it: the path minus its
/// file name and any `name=value` partition folders before it.
pub fn key_prefix_from_file_path(file_path: &str) -> Option<String> {
    let mut parts: Vec<&str> = file_path.split('/').collect();
    parts.pop()?;
    while parts.last().is_some_and(|p| p.contains('=')) {
        parts.pop();
    }
    let prefix = parts.join("/");
    (!prefix.is_empty()).then_some(prefix)
}

/// Why a `key_prefix` must not be joined to a local folder, if it must not: empty, absolute, a
/// `.`, `..` or empty component, a backslash, a NUL, or a `:` (a scheme or a drive).
pub fn unsafe_prefix_reason(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() {
        return Some("is empty");
    }
    if prefix.contains('\0') || prefix.contains('\\') || prefix.contains(':') {
        return Some("contains a NUL, a backslash or a colon");
    }
    if prefix.starts_with('/') {
        return Some("is absolute");
    }
    if prefix
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some("has an empty, . or .. component");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROCKY_COMMIT: &str = concat!(
        r#"{"commitInfo":{"engineInfo":"rocky-cli/1.71.0","isBlindAppend":true,"isolationLevel":"Serializable","operation":"WRITE","operationParameters":{"mode":"Append","partitionBy":"[]"},"timestamp":1767225600000}}"#,
        "\n",
        r#"{"add":{"dataChange":true,"modificationTime":1767225600000,"partitionValues":{},"path":"aa.parquet","size":806,"stats":"{\"maxValues\":{},\"minValues\":{},\"nullCount\":{},\"numRecords\":3}"}}"#,
        "\n"
    );

    #[test]
    fn a_rocky_commit_reads() {
        let c = parse_commit(ROCKY_COMMIT).unwrap();
        assert!(c.by_rocky());
        assert_eq!(
            c.adds,
            [Add {
                path: "aa.parquet".into(),
                size: 806,
                num_records: Some(3)
            }]
        );
    }

    #[test]
    fn malformed_lines_are_reasons_not_panics() {
        for bad in [
            "{",
            "[1]",
            r#"{"add":{"path":"x","size":1},"remove":{}}"#,
            r#"{"add":{"path":1,"size":1}}"#,
            r#"{"add":{"path":"x","size":-1}}"#,
            r#"{"add":{"path":"x","size":1,"stats":"{"}}"#,
            r#"{"add":{"path":"x","size":1,"stats":"{\"numRecords\":-3}"}}"#,
            r#"{"add":{"path":"x","size":1,"stats":{"numRecords":3}}}"#,
        ] {
            let e = parse_commit(&format!("{ROCKY_COMMIT}{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("line 3: "), "{bad}: {e}");
        }
        // Deep nesting stops at serde_json's recursion limit.
        let deep = format!("{{\"x\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_commit(&deep).is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            key_prefix("s3://bucket/tgt/raw/seed_events/").as_deref(),
            Some("tgt/raw/seed_events")
        );
        assert_eq!(key_prefix("s3://bucket"), None);
        assert_eq!(key_prefix("tgt/raw"), None);
        assert_eq!(
            key_prefix_from_file_path("tgt/raw/t/d=2026-01-01/h=1/ab.parquet").as_deref(),
            Some("tgt/raw/t")
        );
        assert_eq!(key_prefix_from_file_path("ab.parquet"), None);
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "c:/x", "a\\b"] {
            assert!(unsafe_prefix_reason(bad).is_some(), "{bad}");
        }
        assert!(unsafe_prefix_reason("tgt/raw/seed_events").is_none());
    }

    #[test]
    fn the_folder_listing_keeps_only_commits_and_notes_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(DeltaLogError::Missing { .. })
        ));
        let log = dir.path().join("_delta_log");
        std::fs::create_dir(&log).unwrap();
        std::fs::write(log.join("00000000000000000001.json"), ROCKY_COMMIT).unwrap();
        std::fs::write(log.join("00000000000000000002.json"), "{").unwrap();
        std::fs::write(log.join("00000000000000000002.crc"), "x").unwrap();
        std::fs::write(log.join("1.json"), "x").unwrap();
        std::fs::write(log.join("00000000000000000000.checkpoint.parquet"), "x").unwrap();
        let read = read(dir.path()).unwrap();
        assert_eq!(read.range(), Some((1, 2)));
        assert!(read.commits[&1].is_ok());
        assert!(read.commits[&2].is_err());
        assert_eq!(read.checkpoint, Some(0));
    }
}
