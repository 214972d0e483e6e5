//! Read-only access to a redb 2 ledger (`spec/ledger.md`).
//!
//! # Side effects
//!
//! None on the evidence. The file is opened `O_RDONLY`, a shared non-blocking `flock` is taken on
//! that descriptor for as long as the [`Ledger`] lives (so a writer cannot change the file under
//! us, and a file a writer holds is reported as locked), and redb runs on an
//! [`backend::OverlayBackend`] whose writes (the header flag, an unclean-file repair) go to memory.
//! `Database::open` is never called on evidence.
//!
//! Every redb call runs inside [`guard`], which turns a panic inside redb (it `unwrap`s UTF-8 in
//! `&str` keys, and trusts page pointers) into a [`VerifyError::LedgerInvalid`].

pub mod backend;
mod string_filter;

pub use string_filter::StringFilter;

use std::any::Any;
use std::cell::Cell;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
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

/// Runs `f`, converting a panic into `Err(reason)`. Defence in depth around redb and parquet,
/// which may panic on corrupt input: a hostile file must yield "could not verify", never a crash.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    result.map_err(|p| format!("the reader gave up on corrupt data ({})", panic_text(&*p)))
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
    /// The descriptor redb reads through, kept for [`Ledger::digest`].
    file: Arc<File>,
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
    /// 2. Check the redb magic number (an empty file would otherwise be *initialised* by redb).
    /// 3. Hand redb an [`OverlayBackend`] (`Builder::create_with_backend`).
    /// 4. Read `metadata.schema_version` and `metadata.producer`.
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

        let len = file.metadata().map_err(io_err)?.len();
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
        file.read_exact_at(&mut magic, 0).map_err(io_err)?;
        if magic != MAGIC {
            return Err(invalid("no redb magic number at offset 0".to_owned()));
        }
        let backend = OverlayBackend::new(Arc::clone(&file), len);
        let db = guard(|| redb::Builder::new().create_with_backend(backend))
            .map_err(&invalid)?
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
            file,
            _locks: locks,
        };
        ledger.info.schema_version = ledger.metadata("schema_version")?;
        ledger.info.producer = ledger.metadata("producer")?;
        Ok(ledger)
    }

    /// BLAKE3 of the whole file, read through the descriptor opened (and locked) by
    /// [`Ledger::open`], so the bytes hashed are the bytes redb reads. Safe to call on another
    /// thread while records are read.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Io`] if a read fails or comes up short (the file shrank under us).
    pub fn digest(&self) -> Result<String, VerifyError> {
        hash_fd(&self.file, self.info.size_bytes).map_err(|source| VerifyError::Io {
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

    /// One `metadata` value.
    pub fn metadata(&self, key: &str) -> Result<Option<String>, VerifyError> {
        let r = guard(|| -> Result<Option<String>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = match txn.open_table(METADATA) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let value = table.get(key).map_err(|e| e.to_string())?;
            Ok(value.map(|v| v.value().to_owned()))
        });
        r.and_then(|x| x).map_err(|e| self.invalid(e))
    }

    /// Every row of a JSON table whose key starts with `prefix` (all rows for `""`), in key order.
    /// A table the file does not have reads as empty.
    pub fn rows(
        &self,
        table: JsonTable<'_>,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, VerifyError> {
        let r = guard(|| -> Result<Vec<(String, Vec<u8>)>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.to_string()),
            };
            let mut out = Vec::new();
            for item in t.range(prefix..).map_err(|e| e.to_string())? {
                let (k, v) = item.map_err(|e| e.to_string())?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                out.push((key.to_owned(), v.value().to_vec()));
            }
            Ok(out)
        });
        r.and_then(|x| x)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
    }

    /// Every key of a JSON table that starts with `prefix`, in key order, without reading or
    /// copying values (the cheap way to scan a large table).
    pub fn keys(&self, table: JsonTable<'_>, prefix: &str) -> Result<Vec<String>, VerifyError> {
        let r = guard(|| -> Result<Vec<String>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.to_string()),
            };
            let mut out = Vec::new();
            for item in t.range(prefix..).map_err(|e| e.to_string())? {
                let (k, _) = item.map_err(|e| e.to_string())?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                out.push(key.to_owned());
            }
            Ok(out)
        });
        r.and_then(|x| x)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
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
        let r = guard(|| -> Result<Vec<String>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.to_string()),
            };
            let range = match (from, to) {
                (Some(a), Some(b)) => t.range(a..b),
                (Some(a), None) => t.range(a..),
                (None, Some(b)) => t.range(..b),
                (None, None) => t.range::<&str>(..),
            }
            .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            let mut push = |item: Result<
                (redb::AccessGuard<'_, &str>, redb::AccessGuard<'_, &[u8]>),
                redb::StorageError,
            >|
             -> Result<bool, String> {
                let (k, _) = item.map_err(|e| e.to_string())?;
                out.push(k.value().to_owned());
                Ok(out.len() < limit)
            };
            if newest_first {
                for item in range.rev() {
                    if !push(item)? {
                        break;
                    }
                }
            } else {
                for item in range {
                    if !push(item)? {
                        break;
                    }
                }
            }
            Ok(out)
        });
        r.and_then(|x| x)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
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
        mut f: impl FnMut(&str, &[u8]) -> bool,
    ) -> Result<bool, VerifyError> {
        let r = guard(|| -> Result<bool, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(true),
                Err(e) => return Err(e.to_string()),
            };
            let range = match (start, backwards) {
                (None, _) => t.range::<&str>(..),
                (Some(s), false) => t.range(s..),
                (Some(s), true) => t.range(..s),
            }
            .map_err(|e| e.to_string())?;
            let mut step = |item: Result<
                (redb::AccessGuard<'_, &str>, redb::AccessGuard<'_, &[u8]>),
                redb::StorageError,
            >|
             -> Result<bool, String> {
                let (k, v) = item.map_err(|e| e.to_string())?;
                Ok(f(k.value(), v.value()))
            };
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
        });
        r.and_then(|x| x)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
    }

    /// One row of a JSON table.
    pub fn get(&self, table: JsonTable<'_>, key: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        let r = guard(|| -> Result<Option<Vec<u8>>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let t = match txn.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let v = t.get(key).map_err(|e| e.to_string())?;
            Ok(v.map(|v| v.value().to_vec()))
        });
        r.and_then(|x| x)
            .map_err(|e| self.invalid(format!("table {}: {e}", table_name(table))))
    }
}

fn table_name(t: JsonTable<'_>) -> String {
    use redb::TableHandle;
    t.name().to_owned()
}

/// BLAKE3 of the first `len` bytes of `file`, read through the descriptor we hold locked (not by
/// path, so the bytes hashed are the bytes redb reads).
fn hash_fd(file: &File, len: u64) -> std::io::Result<String> {
    // Read with pread in 16 MiB chunks, each hashed on all cores. No mapping: a process that
    // ignored our lock and truncated the file would turn a mapped read into SIGBUS, while a
    // short pread is an ordinary error (`ledger_invalid`).
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; usize::try_from(len.min(16 << 20)).unwrap_or(16 << 20)];
    let mut offset = 0u64;
    while offset < len {
        let want = usize::try_from((len - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        file.read_exact_at(&mut buf[..want], offset)?;
        if want >= 1 << 20 {
            hasher.update_rayon(&buf[..want]);
        } else {
            hasher.update(&buf[..want]);
        }
        offset += want as u64;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Classifies `metadata.schema_version`: `Ok(n)` when it is a decimal number this verifier reads
/// (at most [`SCHEMA_VERSION_MAX`]), `Err(reason)` otherwise (`schema_version_unexpected`).
pub fn check_schema_version(version: Option<&str>) -> Result<u64, String> {
    let Some(v) = version else {
        return Err("the ledger has no metadata.schema_version".to_owned());
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "metadata.schema_version {v:?} is not a decimal number"
        ));
    }
    match v.parse::<u64>() {
        Ok(n) if n <= SCHEMA_VERSION_MAX => Ok(n),
        _ => Err(format!(
            "schema version {v} is newer than {SCHEMA_VERSION_MAX}, the newest this verifier reads"
        )),
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
        assert!(check_schema_version(Some("+22")).is_err());
        assert!(check_schema_version(Some("99999999999999999999999")).is_err());
        assert!(check_schema_version(None).is_err());
    }

    #[test]
    fn guard_turns_a_panic_into_an_error() {
        let r: Result<(), String> = guard(|| panic!("boom"));
        assert_eq!(r.unwrap_err(), "the reader gave up on corrupt data (boom)");
    }
}
