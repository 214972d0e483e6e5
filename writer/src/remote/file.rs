//! The local side of a transfer: the writer lock, staging files, checking a downloaded ledger,
//! merging the local-only tables, and the stripped copy that is uploaded.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, TableDefinition, TableError};

use super::error::SyncError;
use crate::ledger::{SCHEMA_VERSION, lock_path};

/// Rocky's `LOCAL_ONLY_TABLE_NAMES`: per-machine tables that are never uploaded, and that a
/// download never takes from the remote (the local ones are kept).
pub const LOCAL_ONLY_TABLES: [&str; 6] = [
    "schema_cache",
    "jobs",
    "schedule_state",
    "schedule_claims",
    "fulfill_state",
    "product_approvals",
];

/// redb's magic number, the first nine bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

type Blob = TableDefinition<'static, &'static str, &'static [u8]>;
type Text = TableDefinition<'static, &'static str, &'static str>;

fn local_err(path: &Path) -> impl FnOnce(std::io::Error) -> SyncError + '_ {
    move |source| SyncError::Local {
        path: path.to_owned(),
        source,
    }
}

fn ledger_err(path: &Path, e: impl std::fmt::Display) -> SyncError {
    SyncError::Ledger {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The writer's sidecar lock (`<ledger>.lock`), held while the file is copied or replaced, so a
/// transfer never races a writer of this or another process.
pub(crate) struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock: five tries, 20 ms x attempt apart (Rocky's publish lock), then fails.
    pub fn acquire(ledger: &Path) -> Result<WriterLock, SyncError> {
        let path = lock_path(ledger);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(local_err(parent))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(local_err(&path))?;
        for attempt in 1..=5u64 {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(WriterLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(SyncError::Local { path, source: err });
            }
            std::thread::sleep(Duration::from_millis(20 * attempt));
        }
        Err(SyncError::Locked {
            path: ledger.to_owned(),
        })
    }
}

/// A process-unique scratch name: `.rocky-state-<tag>-<pid>-<nanos>-<seq>.redb` in `dir`.
pub(crate) fn scratch_path(dir: &Path, tag: &str, hidden: bool) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let dot = if hidden { "." } else { "" };
    dir.join(format!(
        "{dot}rocky-state-{tag}-{}-{nanos}-{seq}.redb",
        std::process::id()
    ))
}

/// The folder of `ledger` (where staging files go, so the final rename is atomic).
pub(crate) fn ledger_dir(ledger: &Path) -> PathBuf {
    match ledger.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Removes a scratch file when dropped.
pub(crate) struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Checks that `bytes` are a complete ledger this writer can use: redb's magic, redb opens it
/// and its integrity check passes, and its schema marker (if any) is at most 22; otherwise
/// says why not. Works on a scratch copy in `scratch_dir`, so a repair never touches `bytes`'
/// origin.
///
/// # Errors
///
/// The reason, as text.
pub fn check_ledger_bytes(bytes: &[u8], scratch_dir: &Path) -> Result<(), String> {
    stage_checked(bytes, scratch_dir).map(drop)
}

/// Writes `bytes` to a hidden staging file in `dir` (the ledger's folder, so it can later be
/// renamed over the ledger) and checks it as [`check_ledger_bytes`] does.
pub(crate) fn stage_checked(bytes: &[u8], dir: &Path) -> Result<Scratch, String> {
    if !bytes.starts_with(&REDB_MAGIC) {
        return Err("not a redb file (magic number missing)".into());
    }
    let staged = Scratch(scratch_path(dir, "download", true));
    fs::write(&staged.0, bytes).map_err(|e| format!("{}: {e}", staged.0.display()))?;
    check_ledger_file(&staged.0)?;
    Ok(staged)
}

/// As [`check_ledger_bytes`], on a file (which redb may repair in place).
pub(crate) fn check_ledger_file(path: &Path) -> Result<(), String> {
    let mut db = Database::open(path).map_err(|e| format!("redb cannot open it: {e}"))?;
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => return Err("redb integrity check failed (the file needed repair)".into()),
        Err(e) => return Err(format!("redb integrity check failed: {e}")),
    }
    let read = db.begin_read().map_err(|e| e.to_string())?;
    let version = match read.open_table(Text::new("metadata")) {
        Ok(t) => t
            .get("schema_version")
            .map_err(|e| e.to_string())?
            .map(|v| v.value().to_owned()),
        Err(TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.to_string()),
    };
    match version.map(|v| v.parse::<u64>()) {
        None => Ok(()),
        Some(Ok(v)) if v <= SCHEMA_VERSION => Ok(()),
        Some(Ok(v)) => Err(format!("schema version {v} is newer than {SCHEMA_VERSION}")),
        Some(Err(_)) => Err("schema_version is not a number".into()),
    }
}

/// Opens or creates a database, creating it (if new) in file format v2, the one Rocky reads.
fn open_v2(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder()
        .create_with_file_format_v3(false)
        .create(path)
}

/// Replaces the local-only tables of `dst` with those of `src` (`src = None`: with empty
/// ones), in one transaction.
fn replace_local_only(src: Option<&Path>, dst: &Path) -> Result<(), SyncError> {
    let source = match src {
        Some(p) => Some(Database::open(p).map_err(|e| ledger_err(p, e))?),
        None => None,
    };
    let read = match &source {
        Some(db) => Some(db.begin_read().map_err(|e| ledger_err(dst, e))?),
        None => None,
    };
    let target = open_v2(dst).map_err(|e| ledger_err(dst, e))?;
    let txn = target.begin_write().map_err(|e| ledger_err(dst, e))?;
    for name in LOCAL_ONLY_TABLES {
        match txn.delete_table(Blob::new(name)) {
            Ok(_) | Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(ledger_err(dst, format!("delete_table({name}): {e}"))),
        }
        let mut out = txn
            .open_table(Blob::new(name))
            .map_err(|e| ledger_err(dst, e))?;
        let Some(read) = &read else { continue };
        let table = match read.open_table(Blob::new(name)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => continue,
            Err(e) => return Err(ledger_err(src.unwrap_or(dst), e)),
        };
        for row in table.iter().map_err(|e| ledger_err(dst, e))? {
            let (k, v) = row.map_err(|e| ledger_err(dst, e))?;
            out.insert(k.value(), v.value())
                .map_err(|e| ledger_err(dst, e))?;
        }
    }
    txn.commit().map_err(|e| ledger_err(dst, e))?;
    Ok(())
}

fn publish(staged: &Path, ledger: &Path) -> Result<(), SyncError> {
    File::open(staged)
        .and_then(|f| f.sync_all())
        .map_err(local_err(staged))?;
    fs::rename(staged, ledger).map_err(local_err(ledger))?;
    let dir = ledger_dir(ledger);
    File::open(&dir)
        .and_then(|f| f.sync_all())
        .map_err(local_err(&dir))?;
    Ok(())
}

/// Installs a downloaded ledger (`Some(staged)`, from [`stage_checked`]) or the fact that there is none
/// (`None`) as the local file, under the writer lock, as Rocky's `publish_merged` does:
///
/// - restored, local file present: the remote replicated tables plus the local-only tables of
///   the current local file;
/// - restored, no local file: the remote file with its local-only tables emptied;
/// - absent, local file present: only the local file's local-only tables (the replicated
///   tables start empty: remote state is the authority);
/// - absent, no local file: nothing.
///
/// The new file is built under a staging name beside the ledger and renamed over it, so a
/// crash leaves the old file or the new one.
pub(crate) fn install(ledger: &Path, remote: Option<Scratch>) -> Result<(), SyncError> {
    let dir = ledger_dir(ledger);
    fs::create_dir_all(&dir).map_err(local_err(&dir))?;
    let _lock = WriterLock::acquire(ledger)?;
    let exists = ledger.exists();
    if remote.is_none() && !exists {
        return Ok(());
    }
    let staged = match remote {
        Some(staged) => staged,
        None => Scratch(scratch_path(&dir, "download", true)),
    };
    replace_local_only(exists.then_some(ledger), &staged.0)?;
    publish(&staged.0, ledger)
}

/// The bytes to upload: a copy of the ledger (taken under the writer lock) with the local-only
/// tables deleted, built in `$TMPDIR` as Rocky's `strip_local_only_tables` does. Any failure
/// to filter is an error: the unfiltered file is never uploaded.
pub(crate) fn stripped_copy(ledger: &Path) -> Result<Vec<u8>, SyncError> {
    let scratch = Scratch(scratch_path(&std::env::temp_dir(), "upload", false));
    {
        let _lock = WriterLock::acquire(ledger)?;
        fs::copy(ledger, &scratch.0).map_err(local_err(ledger))?;
    }
    {
        let db = open_v2(&scratch.0).map_err(|e| ledger_err(&scratch.0, e))?;
        let txn = db.begin_write().map_err(|e| ledger_err(&scratch.0, e))?;
        for name in LOCAL_ONLY_TABLES {
            match txn.delete_table(Blob::new(name)) {
                Ok(_) | Err(TableError::TableDoesNotExist(_)) => {}
                Err(e) => {
                    return Err(ledger_err(&scratch.0, format!("delete_table({name}): {e}")));
                }
            }
        }
        txn.commit().map_err(|e| ledger_err(&scratch.0, e))?;
    }
    fs::read(&scratch.0).map_err(local_err(&scratch.0))
}
