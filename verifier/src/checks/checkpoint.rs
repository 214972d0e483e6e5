//! The trust-on-first-use checkpoint (`--checkpoint FILE`, `spec/gate.md` section 3): a BLAKE3 of
//! every `run_history` value the gate has seen, so the next gate can tell a run that vanished or
//! changed (a history rewrite) from one Rocky's retention sweep retired on purpose.
//!
//! The checkpoint is the gate's own state, not evidence: it is the only file the gate writes, only
//! when asked, and always atomically (a temporary file in the same folder, then `rename`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checks::catalogue::{CheckId, Code};
use crate::report::{Check, Proof, Subject};

/// The checkpoint format version.
pub const CHECKPOINT_VERSION: u64 = 1;

/// What the checkpoint remembers of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// BLAKE3 of the raw `run_history` value bytes.
    pub blake3: String,
    /// The run's `started_at` as recorded, if it decoded (for the retention rule).
    pub started_at: Option<String>,
}

/// The checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_VERSION`].
    pub format_version: u64,
    /// `rocky-verify`.
    pub tool: String,
    /// Run id to what was seen.
    pub runs: BTreeMap<String, Entry>,
}

/// Why a checkpoint file cannot be used (`checkpoint_invalid`, could not verify; the file is left
/// as it is).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// It cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not a checkpoint's JSON.
    #[error("{} is not a rocky-verify checkpoint: {source}", path.display())]
    NotACheckpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Another format version.
    #[error(
        "{} has checkpoint format_version {found}; this rocky-verify reads {CHECKPOINT_VERSION}",
        path.display()
    )]
    Version {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// The version it has.
        found: u64,
    },
    /// A run's digest is not 64 lowercase hex.
    #[error("{}: the digest of run {run:?} is not 64 lowercase hex", path.display())]
    BadDigest {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// The run id.
        run: String,
    },
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Checkpoint {
        Checkpoint {
            format_version: CHECKPOINT_VERSION,
            tool: "rocky-verify".to_owned(),
            runs: BTreeMap::new(),
        }
    }

    /// Reads a checkpoint: `Ok(None)` when the file does not exist (first use).
    ///
    /// # Errors
    ///
    /// [`CheckpointError`]: why the file cannot be used (unreadable, not JSON, wrong shape or
    /// version, a digest that is not 64 lowercase hex).
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let path_buf = || path.to_owned();
        // A regular file only: a FIFO or device in its place must not hang the gate.
        let read = crate::evidence::regular_file::open(path)
            .map_err(crate::evidence::regular_file::OpenError::into_io)
            .and_then(|mut f| {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut b).map(|_| b)
            });
        let bytes = match read {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CheckpointError::Read {
                    path: path_buf(),
                    source,
                });
            }
        };
        let c: Checkpoint =
            serde_json::from_slice(&bytes).map_err(|source| CheckpointError::NotACheckpoint {
                path: path_buf(),
                source,
            })?;
        if c.format_version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version {
                path: path_buf(),
                found: c.format_version,
            });
        }
        if let Some((id, _)) = c
            .runs
            .iter()
            .find(|(_, e)| !crate::evidence::artifact::is_hex64(&e.blake3))
        {
            return Err(CheckpointError::BadDigest {
                path: path_buf(),
                run: id.clone(),
            });
        }
        Ok(Some(c))
    }

    /// Writes the checkpoint atomically: pretty JSON to a temporary file in the same folder,
    /// fsync, then rename over `path`.
    ///
    /// # Errors
    ///
    /// The I/O error.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "checkpoint".to_owned());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

/// One run as the ledger has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// BLAKE3 of the raw value bytes.
    pub blake3: String,
    /// `started_at` text, if the record decoded.
    pub started_at: Option<String>,
}

impl Seen {
    /// Digests one raw `run_history` value.
    pub fn of(bytes: &[u8], started_at: Option<String>) -> Seen {
        Seen {
            blake3: blake3::hash(bytes).to_hex().to_string(),
            started_at,
        }
    }
}

/// Compares the ledger's runs with a checkpoint.
///
/// Returns the checks (`ledger.checkpoint`; one per run that vanished or changed, plus one
/// summary) and the checkpoint to save: every run the ledger holds now, except that a run that
/// changed keeps its old digest and a run that vanished inside the retention window stays, so the
/// finding repeats until a person resolves it. Runs retired by retention are dropped.
pub fn compare(
    file: &str,
    old: Option<&Checkpoint>,
    now_runs: &BTreeMap<String, Seen>,
    retention_days: Option<u32>,
    now: DateTime<Utc>,
) -> (Vec<Check>, Checkpoint) {
    let subject = Subject::file(file);
    let mut checks = Vec::new();
    let mut next = Checkpoint::new();
    for (id, seen) in now_runs {
        next.runs.insert(
            id.clone(),
            Entry {
                blake3: seen.blake3.clone(),
                started_at: seen.started_at.clone(),
            },
        );
    }
    let Some(old) = old else {
        checks.push(Check::unverifiable(
            CheckId::LedgerCheckpoint,
            subject,
            Code::CheckpointMissing,
            Proof::Unverifiable,
            json!(now_runs.len()),
            format!(
                "no checkpoint at {file} yet: the {} run record(s) of the ledger are trusted on \
                 first use and recorded for the next gate",
                now_runs.len()
            ),
        ));
        return (checks, next);
    };

    let cutoff = retention_days.map(|d| now - TimeDelta::days(i64::from(d)));
    let (mut unchanged, mut retired) = (0usize, 0usize);
    for (id, entry) in &old.runs {
        let run = Subject {
            run_id: Some(id.clone()),
            file: Some(file.to_owned()),
            ..Subject::default()
        };
        match now_runs.get(id) {
            Some(seen) if seen.blake3 == entry.blake3 => unchanged += 1,
            Some(seen) => {
                checks.push(Check::fail(
                    CheckId::LedgerCheckpoint,
                    run,
                    Code::RunRecordMismatch,
                    Proof::BytesVerified,
                    json!(seen.blake3),
                    json!(entry.blake3),
                    format!(
                        "the run_history record of {id} changed since the checkpoint: its bytes \
                         hash to {} but hashed to {} (history rewritten)",
                        seen.blake3, entry.blake3
                    ),
                ));
                // Keep the trusted digest: the finding repeats until someone resolves it.
                next.runs.insert(id.clone(), entry.clone());
            }
            None => {
                let started = entry
                    .started_at
                    .as_deref()
                    .and_then(|t| crate::model::timestamp::Timestamp::parse(t).ok())
                    .map(|t| t.utc);
                match (cutoff, started) {
                    (Some(cut), Some(s)) if s < cut => {
                        retired += 1;
                        checks.push(Check::pass(
                            CheckId::LedgerCheckpoint,
                            run,
                            Proof::Recomputed,
                            json!(null),
                            json!(entry.blake3),
                            format!(
                                "run {id} (started {}) is gone from the ledger; it is older than \
                                 retention_days = {}, so Rocky's retention sweep retired it",
                                entry.started_at.as_deref().unwrap_or("?"),
                                retention_days.unwrap_or(0)
                            ),
                        ));
                    }
                    _ => {
                        let why = match (retention_days, &entry.started_at) {
                            (None, _) => {
                                "the policy declares no retention_days, so no run may vanish"
                                    .to_owned()
                            }
                            (Some(d), Some(s)) => {
                                format!("it started {s}, inside the {d}-day retention window")
                            }
                            (Some(_), None) => {
                                "its start time was never known, so it cannot be shown to be \
                                 past retention"
                                    .to_owned()
                            }
                        };
                        checks.push(Check::fail(
                            CheckId::LedgerCheckpoint,
                            run,
                            Code::RunRecordMissing,
                            Proof::BytesVerified,
                            json!(null),
                            json!(entry.blake3),
                            format!(
                                "the run_history record of {id} vanished since the checkpoint; \
                                 {why} (history rewritten)"
                            ),
                        ));
                        next.runs.insert(id.clone(), entry.clone());
                    }
                }
            }
        }
    }
    let new = now_runs
        .keys()
        .filter(|id| !old.runs.contains_key(*id))
        .count();
    checks.push(Check::pass(
        CheckId::LedgerCheckpoint,
        subject,
        Proof::BytesVerified,
        json!(now_runs.len()),
        json!(old.runs.len()),
        format!(
            "{unchanged} run record(s) byte-identical to the checkpoint, {new} new, {retired} \
             retired by retention"
        ),
    ));
    (checks, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    fn seen(b: &[u8], t: &str) -> Seen {
        Seen::of(b, Some(t.to_owned()))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-30T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn first_use_trusts_and_records_every_run() {
        let runs = BTreeMap::from([("a".to_owned(), seen(b"x", "2026-06-01T00:00:00Z"))]);
        let (checks, next) = compare("cp.json", None, &runs, None, now());
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].outcome, Outcome::Unverifiable);
        assert_eq!(checks[0].code, Some(Code::CheckpointMissing));
        assert_eq!(
            next.runs["a"].blake3,
            blake3::hash(b"x").to_hex().to_string()
        );
    }

    #[test]
    fn changed_vanished_and_retired_runs_are_told_apart() {
        let old_runs = BTreeMap::from([
            ("same".to_owned(), seen(b"1", "2026-06-20T00:00:00Z")),
            ("edited".to_owned(), seen(b"2", "2026-06-20T00:00:00Z")),
            ("deleted".to_owned(), seen(b"3", "2026-06-20T00:00:00Z")),
            ("old".to_owned(), seen(b"4", "2026-01-01T00:00:00Z")),
        ]);
        let (_, cp) = compare("cp", None, &old_runs, None, now());
        let now_runs = BTreeMap::from([
            ("same".to_owned(), seen(b"1", "2026-06-20T00:00:00Z")),
            ("edited".to_owned(), seen(b"2!", "2026-06-20T00:00:00Z")),
            ("fresh".to_owned(), seen(b"5", "2026-06-29T00:00:00Z")),
        ]);
        let (checks, next) = compare("cp", Some(&cp), &now_runs, Some(90), now());
        let got: Vec<_> = checks
            .iter()
            .map(|c| (c.subject.run_id.clone(), c.outcome, c.code))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("deleted".into()),
                    Outcome::Fail,
                    Some(Code::RunRecordMissing)
                ),
                (
                    Some("edited".into()),
                    Outcome::Fail,
                    Some(Code::RunRecordMismatch)
                ),
                (Some("old".into()), Outcome::Pass, None),
                (None, Outcome::Pass, None),
            ]
        );
        // The rewrite keeps failing: the trusted digests stay; the retired run is dropped.
        assert_eq!(next.runs["edited"], cp.runs["edited"]);
        assert_eq!(next.runs["deleted"], cp.runs["deleted"]);
        assert!(!next.runs.contains_key("old"));
        assert!(next.runs.contains_key("fresh"));
    }

    #[test]
    fn without_retention_every_vanished_run_is_missing() {
        let old_runs = BTreeMap::from([("old".to_owned(), seen(b"4", "2020-01-01T00:00:00Z"))]);
        let (_, cp) = compare("cp", None, &old_runs, None, now());
        let (checks, _) = compare("cp", Some(&cp), &BTreeMap::new(), None, now());
        assert_eq!(checks[0].code, Some(Code::RunRecordMissing));
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let runs = BTreeMap::from([("a".to_owned(), seen(b"x", "2026-06-01T00:00:00Z"))]);
        let (_, cp) = compare("cp", None, &runs, None, now());
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&path, b"{}").unwrap();
        assert!(Checkpoint::load(&path).is_err());
    }
}
