//! Read-only access to a redb 2 ledger (`spec/ledger.md`).
//!
//! # Side effects
//!
//! None on the evidence. The ledger's bytes are read through a [`ReadAt`] source ([`source`]: a
//! file, bytes in memory, a window of a bundle). A file is opened `O_RDONLY`, a shared non-blocking `flock` is taken on
//! that descriptor for as long as the [`Ledger`] lives (so a writer cannot change the file under
//! us, and a file a writer holds is reported as locked), and redb runs on an
//! [`backend::OverlayBackend`] whose writes (the header flag, an unclean-file repair) go to memory.
//! `Database::open` is never called on evidence.
//!
//! Every redb call runs inside [`guard`], which turns a panic inside redb (it `unwrap`s UTF-8 in
//! `&str` keys, and trusts page pointers) into a [`VerifyError::LedgerInvalid`].

pub mod backend;
pub mod source;
mod string_filter;

pub use source::ReadAt;
pub use string_filter::StringFilter;

use std::any::Any;
use std::cell::Cell;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use redb::{TableDefinition, TableError};

use crate::error::VerifyError;
use crate::report::LedgerInfo;
use backend::OverlayBackend;

/// The redb magic number at offset 0 of every redb file (`spec/ledger.md` section 1).
pub const MAGIC: [u8; 9] = [0x72, 0x65, 0x64, 0x62, 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// The newest state schema this verifier understands.
pub const SCHEMA_VERSION_MAX: u64 = 22;

/// Tables holding compact JSON values. The type names `&str` / `&[u8]` are exactly Rocky's; any
/// other key or value type (`String`, `Vec<u8>`) would fail with `TableTypeMismatch`.
pub type JsonTable<'a> = TableDefinition<'a, &'static str, &'static [u8]>;
/// Tables holding plain string values (`metadata`, `source_markers`).
pub type StrTable<'a> = TableDefinition<'a, &'static str, &'static str>;

/// `run_history`: `run_id` to `RunRecord`.
pub const RUN_HISTORY: JsonTable<'static> = TableDefinition::new("run_history");
/// `output_artifacts`: `{run_id}|{model_name}|{file_path}` to `ArtifactRecord`.
pub const OUTPUT_ARTIFACTS: JsonTable<'static> = TableDefinition::new("output_artifacts");
/// `input_provenance`: `{run_id}|{model_name}` to `ProvenanceRecord`.
pub const INPUT_PROVENANCE: JsonTable<'static> = TableDefinition::new("input_provenance");
/// `input_index`: `input_hash` to `InputIndexEntry`.
pub const INPUT_INDEX: JsonTable<'static> = TableDefinition::new("input_index");
/// `check_history`: `catalog.schema.table` to a JSON array of `CheckSnapshot`.
pub const CHECK_HISTORY: JsonTable<'static> = TableDefinition::new("check_history");
/// `metadata`: schema marker and friends.
pub const METADATA: StrTable<'static> = TableDefinition::new("metadata");

/// Where Rocky 1.71 puts its state file, relative to the directory it runs in, in the order its
/// `resolve_state_path` prefers them: `<models>/.rocky-state.redb` (the default models folder is
/// `models`), then the legacy `./.rocky-state.redb`.
pub const DEFAULT_PATHS: [&str; 2] = ["models/.rocky-state.redb", ".rocky-state.redb"];

/// The folder of namespaced state files, `.rocky-state/<namespace>.redb`.
pub const NAMESPACE_DIR: &str = ".rocky-state";

/// The ledger to read when none is named: the first of [`DEFAULT_PATHS`] under `dir` that is a
/// file, else the only `.redb` file in `dir/.rocky-state/`.
///
/// # Errors
///
/// No such file, or several namespaced ones: the message lists every path tried (or found) and
/// says to pass `--ledger`.
pub fn locate_default(dir: &Path) -> Result<PathBuf, String> {
    let join = |rel: &str| {
        if dir == Path::new(".") {
            PathBuf::from(rel)
        } else {
            dir.join(rel)
        }
    };
    for rel in DEFAULT_PATHS {
        let p = join(rel);
        if p.is_file() {
            return Ok(p);
        }
    }
    let ns_dir = join(NAMESPACE_DIR);
    let mut namespaced: Vec<PathBuf> = std::fs::read_dir(&ns_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "redb"))
                .collect()
        })
        .unwrap_or_default();
    namespaced.sort();
    match namespaced.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no ledger found: tried {}, {} and {}/<namespace>.redb; pass --ledger <FILE>",
            join(DEFAULT_PATHS[0]).display(),
            join(DEFAULT_PATHS[1]).display(),
            ns_dir.display()
        )),
        many => Err(format!(
            "no ledger at {} or {}, and {} namespaced state files ({}): pass --ledger <FILE>",
            join(DEFAULT_PATHS[0]).display(),
            join(DEFAULT_PATHS[1]).display(),
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Splits an `output_artifacts` key on its first two `|` (a `file_path` may contain `|`).
pub fn split_artifact_key(key: &str) -> Option<(&str, &str, &str)> {
    let (run_id, rest) = key.split_once('|')?;
    let (model, file_path) = rest.split_once('|')?;
    Some((run_id, model, file_path))
}

/// Splits an `input_provenance` key on its first `|`.
pub fn split_provenance_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('|')
}

thread_local! {
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent while [`guard`] is running and otherwise
/// defers to the previous hook.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// A reader (redb, parquet, arrow) panicked on the bytes it was given: corrupt or hostile
/// input, reported as could-not-verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reader gave up on corrupt data ({0})")]
pub struct ReaderPanic(pub String);

/// Runs `f`, converting a panic into `Err`. Defence in depth around redb and parquet, which may
/// panic on corrupt input: a hostile file must yield "could not verify", never a crash.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, ReaderPanic> {
    install_quiet_hook();
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    result.map_err(|p| ReaderPanic(panic_text(&*p)))
}

/// Holds a shared `flock` on an open descriptor; released when dropped (or at exit).
struct SharedLock(Arc<File>);

impl Drop for SharedLock {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by the Arc<File> this struct keeps alive.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Takes a shared, non-blocking flock. `Ok(false)` when someone holds an exclusive lock.
fn try_lock_shared(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a valid, open descriptor; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// An open, locked, read-only ledger.
pub struct Ledger {
    db: redb::Database,
    path: PathBuf,
    /// Facts for the report's `begin.ledger`.
    pub info: LedgerInfo,
    /// The bytes redb reads, kept for [`Ledger::digest`].
    source: Arc<dyn ReadAt>,
    _locks: Vec<SharedLock>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

impl Ledger {
    /// Opens `path` read-only; `display` is the path as the user gave it (for the report).
    ///
    /// # Steps
    ///
    /// 1. Open `O_RDONLY`; take a shared non-blocking flock on it and on the writer's sidecar
    ///    `<ledger>.lock` if that exists.
    /// 2. Hand the descriptor to [`Ledger::from_source`], which checks the magic number and
    ///    reads the metadata.
    ///
    /// The file's BLAKE3 is not computed here: it is the one cost that grows with the whole file,
    /// so callers run [`Ledger::digest`] when they want it (`run` on a second thread, beside its
    /// checks) and record it in [`LedgerInfo::blake3`].
    ///
    /// # Errors
    ///
    /// [`VerifyError::LedgerLocked`] if a writer holds the file; [`VerifyError::Io`] if it cannot
    /// be opened; [`VerifyError::LedgerInvalid`] if it is not a readable redb file.
    pub fn open(path: &Path, display: &str) -> Result<Ledger, VerifyError> {
        let io_err = |source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        // Never blocks on a FIFO or streams a device: only a regular file is a ledger.
        let file = Arc::new(
            crate::evidence::regular_file::open(path).map_err(|e| match e {
                crate::evidence::regular_file::OpenError::NotRegular { kind, .. } => {
                    VerifyError::LedgerInvalid {
                        path: path.to_owned(),
                        reason: format!("it is {kind}, not a regular file"),
                    }
                }
                crate::evidence::regular_file::OpenError::Io { source, .. } => io_err(source),
            })?,
        );

        let mut locks = Vec::new();
        if !try_lock_shared(&file).map_err(io_err)? {
            return Err(VerifyError::LedgerLocked {
                path: path.to_owned(),
            });
        }
        locks.push(SharedLock(Arc::clone(&file)));
        // Rocky's writer lock: `path.with_extension("redb.lock")` (`.rocky-state.redb.lock`).
        // Opened like the ledger itself: a FIFO planted as the lock file must not block.
        if let Ok(side) = crate::evidence::regular_file::open(&path.with_extension("redb.lock")) {
            let side = Arc::new(side);
            if !try_lock_shared(&side).map_err(io_err)? {
                return Err(VerifyError::LedgerLocked {
                    path: path.to_owned(),
                });
            }
            locks.push(SharedLock(side));
        }
        Self::build(file, path, display, locks)
    }

    /// A ledger whose bytes are already in memory (fetched from remote state, read out of a
    /// compressed bundle); `display` names it in the report and in errors. Reads exactly as
    /// [`Ledger::open`] does on a file holding the same bytes.
    ///
    /// # Errors
    ///
    /// [`VerifyError::LedgerInvalid`] if the bytes are not a readable redb file.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>, display: &str) -> Result<Ledger, VerifyError> {
        Self::from_source(Arc::new(source::Memory::new(bytes)), display)
    }

    /// A ledger read through any [`ReadAt`] source (a [`source::Window`] over a bundle member,
    /// say). No lock is taken: whoever made `source` answers for its bytes not changing.
    ///
    /// # Errors
    ///
    /// As [`Ledger::from_bytes`], plus [`VerifyError::Io`] if the source cannot be read.
    pub fn from_source(source: Arc<dyn ReadAt>, display: &str) -> Result<Ledger, VerifyError> {
        Self::build(source, Path::new(display), display, Vec::new())
    }

    /// Checks the redb magic number (an empty file would otherwise be *initialised* by redb),
    /// hands redb an [`OverlayBackend`] over `source` (`Builder::create_with_backend`) and reads
    /// `metadata.schema_version` and `metadata.producer`.
    fn build(
        source: Arc<dyn ReadAt>,
        path: &Path,
        display: &str,
        locks: Vec<SharedLock>,
    ) -> Result<Ledger, VerifyError> {
        let io_err = |source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        let len = source.len().map_err(io_err)?;
        let invalid = |reason: String| VerifyError::LedgerInvalid {
            path: path.to_owned(),
            reason,
        };
        if len < MAGIC.len() as u64 {
            return Err(invalid(format!(
                "the file is {len} bytes, too short for a redb header"
            )));
        }
        let mut magic = [0u8; 9];
        source.read_exact_at(&mut magic, 0).map_err(io_err)?;
        if magic != MAGIC {
            return Err(invalid("no redb magic number at offset 0".to_owned()));
        }
        let backend = OverlayBackend::new(Arc::clone(&source), len);
        let db = guard(|| redb::Builder::new().create_with_backend(backend))
            .map_err(|p| invalid(p.to_string()))?
            .map_err(|e| invalid(e.to_string()))?;

        let mut ledger = Ledger {
            db,
            path: path.to_owned(),
            info: LedgerInfo {
                path: display.to_owned(),
                blake3: None,
                size_bytes: len,
                schema_version: None,
                producer: None,
            },
            source,
            _locks: locks,
        };
        ledger.info.schema_version = ledger.metadata("schema_version")?;
        ledger.info.producer = ledger.metadata("producer")?;
        Ok(ledger)
    }

    /// BLAKE3 of the whole ledger, read through the source redb reads (for a file, the
    /// descriptor opened and locked by [`Ledger::open`], not the path), so the bytes hashed are
    /// the bytes redb reads. Safe to call on another thread while records are read.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Io`] if a read fails or comes up short (the file shrank under us).
    pub fn digest(&self) -> Result<String, VerifyError> {
        hash_source(&*self.source, self.info.size_bytes).map_err(|source| VerifyError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn invalid(&self, reason: String) -> VerifyError {
        VerifyError::LedgerInvalid {
            path: self.path.clone(),
            reason,
        }
    }

    /// Runs `f` on `table` in one read transaction, inside [`guard`]: the one place a ledger
    /// table is opened. A table the file does not have reads as `missing()`; any redb error or
    /// panic is the error's text (the caller wraps it in [`VerifyError::LedgerInvalid`]).
    fn read_table<K, V, T>(
        &self,
        table: TableDefinition<'_, K, V>,
        missing: impl FnOnce() -> T,
        f: impl FnOnce(&redb::ReadOnlyTable<K, V>) -> Result<T, redb::StorageError>,
    ) -> Result<T, String>
    where
        K: redb::Key + 'static,
        V: redb::Value + 'static,
    {
        let read = guard(|| -> Result<T, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(missing()),
                Err(e) => return Err(e.to_string()),
            };
            f(&t).map_err(|e| e.to_string())
        });
        read.map_err(|p| p.to_string()).and_then(|x| x)
    }

    /// [`Ledger::read_table`] on a JSON table, its error named after the table.
    fn read_json<T>(
        &self,
        table: JsonTable<'_>,
        missing: impl FnOnce() -> T,
        f: impl FnOnce(
            &redb::ReadOnlyTable<&'static str, &'static [u8]>,
        ) -> Result<T, redb::StorageError>,
    ) -> Result<T, VerifyError> {
        self.read_table(table, missing, f)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
    }

    /// One `metadata` value.
    pub fn metadata(&self, key: &str) -> Result<Option<String>, VerifyError> {
        self.read_table(
            METADATA,
            || None,
            |t| Ok(t.get(key)?.map(|v| v.value().to_owned())),
        )
        .map_err(|e| self.invalid(e))
    }

    /// Every row of a JSON table whose key starts with `prefix` (all rows for `""`), in key order.
    /// A table the file does not have reads as empty.
    pub fn rows(
        &self,
        table: JsonTable<'_>,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, VerifyError> {
        self.read_json(table, Vec::new, |t| {
            let mut out = Vec::new();
            for item in t.range(prefix..)? {
                let (k, v) = item?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                out.push((key.to_owned(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Every key of a JSON table that starts with `prefix`, in key order, without reading or
    /// copying values (the cheap way to scan a large table).
    pub fn keys(&self, table: JsonTable<'_>, prefix: &str) -> Result<Vec<String>, VerifyError> {
        self.read_json(table, Vec::new, |t| {
            let mut out = Vec::new();
            for item in t.range(prefix..)? {
                let (k, _) = item?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                out.push(key.to_owned());
            }
            Ok(out)
        })
    }

    /// Keys of a JSON table in `[from, to)` (either bound open when `None`), at most `limit` of
    /// them, walking backwards from `to` when `newest_first`. Reads only the pages on the way.
    pub fn key_range(
        &self,
        table: JsonTable<'_>,
        from: Option<&str>,
        to: Option<&str>,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<String>, VerifyError> {
        let mut out = Vec::new();
        self.visit_range(table, from, to, newest_first, |key, _| {
            out.push(key.to_owned());
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Visits the rows of a JSON table in key order without copying them: forwards from `start`
    /// (inclusive; the first key for `None`), or backwards from just before `start` (the last key
    /// for `None`), until `f` returns `false`. Returns whether the walk reached the end.
    ///
    /// # Errors
    ///
    /// [`VerifyError::LedgerInvalid`] if a page cannot be read.
    pub fn visit(
        &self,
        table: JsonTable<'_>,
        start: Option<&str>,
        backwards: bool,
        f: impl FnMut(&str, &[u8]) -> bool,
    ) -> Result<bool, VerifyError> {
        let (from, to) = if backwards {
            (None, start)
        } else {
            (start, None)
        };
        self.visit_range(table, from, to, backwards, f)
    }

    /// Visits the rows of `[from, to)` (either bound open when `None`), backwards when
    /// `backwards`, until `f` returns `false`; whether the walk reached the end.
    fn visit_range(
        &self,
        table: JsonTable<'_>,
        from: Option<&str>,
        to: Option<&str>,
        backwards: bool,
        mut f: impl FnMut(&str, &[u8]) -> bool,
    ) -> Result<bool, VerifyError> {
        self.read_json(
            table,
            || true,
            |t| {
                let range = match (from, to) {
                    (Some(a), Some(b)) => t.range(a..b),
                    (Some(a), None) => t.range(a..),
                    (None, Some(b)) => t.range(..b),
                    (None, None) => t.range::<&str>(..),
                }?;
                let mut step = |item: Result<
                    (redb::AccessGuard<'_, &str>, redb::AccessGuard<'_, &[u8]>),
                    redb::StorageError,
                >| { item.map(|(k, v)| f(k.value(), v.value())) };
                if backwards {
                    for item in range.rev() {
                        if !step(item)? {
                            return Ok(false);
                        }
                    }
                } else {
                    for item in range {
                        if !step(item)? {
                            return Ok(false);
                        }
                    }
                }
                Ok(true)
            },
        )
    }

    /// The names of every table the file holds (empty ones included).
    ///
    /// # Errors
    ///
    /// [`VerifyError::LedgerInvalid`] if the table tree cannot be read.
    pub fn table_names(&self) -> Result<Vec<String>, VerifyError> {
        let r = guard(|| -> Result<Vec<String>, String> {
            use redb::TableHandle;
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let names = txn.list_tables().map_err(|e| e.to_string())?;
            Ok(names.map(|h| h.name().to_owned()).collect())
        });
        match r {
            Ok(Ok(names)) => Ok(names),
            Ok(Err(e)) => Err(self.invalid(format!("table list: {e}"))),
            Err(p) => Err(self.invalid(format!("table list: {}", p.0))),
        }
    }

    /// One row of a JSON table.
    pub fn get(&self, table: JsonTable<'_>, key: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        self.read_json(
            table,
            || None,
            |t| Ok(t.get(key)?.map(|v| v.value().to_vec())),
        )
    }
}

fn table_name(t: JsonTable<'_>) -> String {
    use redb::TableHandle;
    t.name().to_owned()
}

/// BLAKE3 of the first `len` bytes of `source` (for a file, the descriptor we hold locked, not
/// the path, so the bytes hashed are the bytes redb reads).
fn hash_source(source: &dyn ReadAt, len: u64) -> std::io::Result<String> {
    // Read with pread in 16 MiB chunks, each hashed on all cores. No mapping: a process that
    // ignored our lock and truncated the file would turn a mapped read into SIGBUS, while a
    // short pread is an ordinary error (`ledger_invalid`).
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; usize::try_from(len.min(16 << 20)).unwrap_or(16 << 20)];
    let mut offset = 0u64;
    while offset < len {
        let want = usize::try_from((len - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        source.read_exact_at(&mut buf[..want], offset)?;
        if want >= 1 << 20 {
            hasher.update_rayon(&buf[..want]);
        } else {
            hasher.update(&buf[..want]);
        }
        offset += want as u64;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Why `metadata.schema_version` is not one this verifier reads (`schema_version_unexpected`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaVersionError {
    /// No `schema_version` key.
    #[error("the ledger has no metadata.schema_version")]
    Missing,
    /// Not a plain decimal number.
    #[error("metadata.schema_version {0:?} is not a decimal number")]
    NotDecimal(String),
    /// Newer than [`SCHEMA_VERSION_MAX`].
    #[error(
        "schema version {0} is newer than {SCHEMA_VERSION_MAX}, the newest this verifier reads (it \
         reads schema versions up to {SCHEMA_VERSION_MAX}): upgrade rocky-verify to a release that \
         reads version {0}"
    )]
    TooNew(String),
}

/// Classifies `metadata.schema_version`: `Ok(n)` when it is a decimal number this verifier reads
/// (at most [`SCHEMA_VERSION_MAX`]).
///
/// # Errors
///
/// [`SchemaVersionError`] otherwise.
pub fn check_schema_version(version: Option<&str>) -> Result<u64, SchemaVersionError> {
    let Some(v) = version else {
        return Err(SchemaVersionError::Missing);
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SchemaVersionError::NotDecimal(v.to_owned()));
    }
    match v.parse::<u64>() {
        Ok(n) if n <= SCHEMA_VERSION_MAX => Ok(n),
        _ => Err(SchemaVersionError::TooNew(v.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ledger_is_looked_up_where_rocky_puts_it() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let touch = |rel: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
            p
        };
        // Nothing there: every path tried is named.
        let e = locate_default(dir).unwrap_err();
        for tried in [
            "models/.rocky-state.redb",
            ".rocky-state.redb",
            ".rocky-state/<namespace>",
        ] {
            assert!(e.contains(tried), "{e}");
        }
        // One namespaced file: that one; two: which ones, and --ledger.
        let ns = touch(".rocky-state/prod.redb");
        assert_eq!(locate_default(dir).unwrap(), ns);
        touch(".rocky-state/dev.redb");
        let e = locate_default(dir).unwrap_err();
        assert!(e.contains("dev.redb") && e.contains("prod.redb") && e.contains("--ledger"));
        // The legacy file beats namespaced ones, and Rocky's models/ default beats both.
        let legacy = touch(".rocky-state.redb");
        assert_eq!(locate_default(dir).unwrap(), legacy);
        let models = touch("models/.rocky-state.redb");
        assert_eq!(locate_default(dir).unwrap(), models);
    }

    #[test]
    fn artifact_keys_split_on_the_first_two_bars_only() {
        assert_eq!(
            split_artifact_key("r|m|a/b|c.parquet"),
            Some(("r", "m", "a/b|c.parquet"))
        );
        assert_eq!(split_artifact_key("r|m"), None);
        assert_eq!(split_provenance_key("r|m|x"), Some(("r", "m|x")));
    }

    #[test]
    fn schema_versions_above_22_or_not_numbers_are_rejected() {
        assert_eq!(check_schema_version(Some("22")), Ok(22));
        assert_eq!(check_schema_version(Some("6")), Ok(6));
        assert!(check_schema_version(Some("23")).is_err());
        assert_eq!(
            check_schema_version(Some("+22")).unwrap_err().to_string(),
            "metadata.schema_version \"+22\" is not a decimal number"
        );
        assert!(check_schema_version(Some("99999999999999999999999")).is_err());
        assert!(check_schema_version(None).is_err());
    }

    /// A small redb 2 ledger written with raw redb: a schema marker and two runs.
    fn ledger_bytes() -> Vec<u8> {
        let f = tempfile::NamedTempFile::new().unwrap();
        let db = redb::Database::create(f.path()).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut m = txn.open_table(METADATA).unwrap();
            m.insert("schema_version", "22").unwrap();
            let mut runs = txn.open_table(RUN_HISTORY).unwrap();
            runs.insert("run-a", b"{\"a\":1}".as_slice()).unwrap();
            runs.insert("run-b", b"{\"b\":2}".as_slice()).unwrap();
        }
        txn.commit().unwrap();
        drop(db);
        std::fs::read(f.path()).unwrap()
    }

    #[test]
    fn a_ledger_reads_the_same_from_a_file_from_bytes_and_from_inside_a_bundle() {
        let bytes = ledger_bytes();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &bytes).unwrap();
        let mut bundle = b"header bytes of some bundle".to_vec();
        let start = bundle.len() as u64;
        bundle.extend_from_slice(&bytes);
        bundle.extend_from_slice(b"and whatever follows the member");
        let outer: Arc<dyn ReadAt> = Arc::new(source::Memory::new(bundle));
        let window = source::Window::new(outer, start, bytes.len() as u64).unwrap();

        let ledgers = [
            Ledger::open(f.path(), "l").unwrap(),
            Ledger::from_bytes(bytes.clone(), "l").unwrap(),
            Ledger::from_source(Arc::new(window), "l").unwrap(),
        ];
        let expected_rows = vec![
            ("run-a".to_owned(), b"{\"a\":1}".to_vec()),
            ("run-b".to_owned(), b"{\"b\":2}".to_vec()),
        ];
        for l in &ledgers {
            assert_eq!(l.info.schema_version.as_deref(), Some("22"));
            assert_eq!(l.info.size_bytes, bytes.len() as u64);
            assert_eq!(l.rows(RUN_HISTORY, "").unwrap(), expected_rows);
            assert_eq!(
                l.digest().unwrap(),
                blake3::hash(&bytes).to_hex().to_string()
            );
        }
    }

    #[test]
    fn bytes_that_are_not_redb_are_invalid_not_initialised() {
        assert!(matches!(
            Ledger::from_bytes(Vec::new(), "empty"),
            Err(VerifyError::LedgerInvalid { .. })
        ));
        assert!(matches!(
            Ledger::from_bytes(vec![0u8; 4096], "zeros"),
            Err(VerifyError::LedgerInvalid { .. })
        ));
    }

    #[test]
    fn guard_turns_a_panic_into_an_error() {
        let r: Result<(), ReaderPanic> = guard(|| panic!("boom"));
        assert_eq!(
            r.unwrap_err().to_string(),
            "the reader gave up on corrupt data (boom)"
        );
    }
}
