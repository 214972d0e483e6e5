//! The redb ledger (spec/ledger.md): file, lock, schema marker, the 26 tables, and the
//! watermark, check-history and branch operations.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{Database, Durability, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::de::DeserializeOwned;

use crate::check::{self, Anomaly, CheckConfig};
use crate::error::{BranchError, CheckError, OpenError, ReadError, WatermarkError};
use crate::ir::TableRef;
use crate::records::{
    ArtifactRecord, BranchRecord, CheckSnapshot, InputIndexEntry, ProvenanceRecord, RunRecord,
    WatermarkState,
};
use crate::watermark;

/// The state schema version this writer writes (Rocky v22).
pub const SCHEMA_VERSION: u64 = 22;

/// The `producer` metadata value.
pub const PRODUCER: &str = concat!("rocky-writer/", env!("CARGO_PKG_VERSION"));

type Blob = TableDefinition<'static, &'static str, &'static [u8]>;
type Text = TableDefinition<'static, &'static str, &'static str>;

pub(crate) const RUN_HISTORY: Blob = TableDefinition::new("run_history");
pub(crate) const OUTPUT_ARTIFACTS: Blob = TableDefinition::new("output_artifacts");
pub(crate) const INPUT_INDEX: Blob = TableDefinition::new("input_index");
pub(crate) const INPUT_PROVENANCE: Blob = TableDefinition::new("input_provenance");
pub(crate) const WATERMARKS: Blob = TableDefinition::new("watermarks");
pub(crate) const CHECK_HISTORY: Blob = TableDefinition::new("check_history");
pub(crate) const BRANCHES: Blob = TableDefinition::new("branches");
pub(crate) const METADATA: Text = TableDefinition::new("metadata");
const SOURCE_MARKERS: Text = TableDefinition::new("source_markers");

/// The 24 `&str -> &[u8]` tables, by on-disk name.
pub const BLOB_TABLES: [&str; 24] = [
    "watermarks",
    "check_history",
    "run_history",
    "quality_history",
    "dag_snapshots",
    "run_progress",
    "run_progress_entries",
    "partitions",
    "grace_periods",
    "loaded_files",
    "branches",
    "schema_cache",
    "idempotency_keys",
    "output_artifacts",
    "input_index",
    "input_provenance",
    "discover_snapshots",
    "policy_decisions",
    "jobs",
    "tombstones",
    "schedule_state",
    "schedule_claims",
    "fulfill_state",
    "product_approvals",
];

/// The 2 `&str -> &str` tables.
pub const TEXT_TABLES: [&str; 2] = ["metadata", "source_markers"];

/// A sidecar lock file held with an exclusive `flock` for the ledger's lifetime.
#[derive(Debug)]
struct LockFile {
    _file: File,
}

impl LockFile {
    fn acquire(ledger: &Path) -> Result<Self, OpenError> {
        let path = lock_path(ledger);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the callee.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                OpenError::Locked {
                    path: ledger.to_owned(),
                }
            } else {
                OpenError::Io { path, source: err }
            });
        }
        // The lock is released when the descriptor closes (drop, or process death).
        Ok(LockFile { _file: file })
    }
}

/// The writer's sidecar lock path: Rocky's `path.with_extension("redb.lock")`, which is
/// `<ledger>.lock` for a ledger named `*.redb`.
pub fn lock_path(ledger: &Path) -> PathBuf {
    ledger.with_extension("redb.lock")
}

/// Where the writer's own timestamps come from: `recorded_at` and `written_at` of a run's records,
/// watermark `updated_at`, branch `created_at` and check-history `timestamp`. The system clock by
/// default; a fixed one makes a ledger reproducible byte for byte (fixtures, documentation).
#[derive(Clone)]
pub struct WriterClock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl WriterClock {
    /// `Utc::now()`.
    pub fn system() -> WriterClock {
        WriterClock(Arc::new(Utc::now))
    }

    /// Any source of instants, e.g. `move || fixed_instant`.
    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> WriterClock {
        WriterClock(Arc::new(f))
    }

    /// One reading.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for WriterClock {
    fn default() -> WriterClock {
        WriterClock::system()
    }
}

impl std::fmt::Debug for WriterClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterClock(..)")
    }
}

/// An open ledger, held exclusively by this writer until dropped.
#[derive(Debug)]
pub struct Ledger {
    // Field order is drop order: the database closes before the lock is released.
    pub(crate) db: Database,
    _lock: LockFile,
    path: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) check_config: CheckConfig,
    pub(crate) clock: WriterClock,
}

impl Ledger {
    /// Creates a ledger at `path`, or opens an existing one, for writing.
    ///
    /// Takes the sidecar lock (non-blocking), opens the file with redb 2 (file format v2), and,
    /// for a new file, creates all 26 tables and stamps `schema_version = "22"` and `producer`
    /// in one transaction. An existing file with a lower version gets its missing tables and the
    /// current stamp, as Rocky does.
    ///
    /// # Errors
    ///
    /// [`OpenError::Locked`] when another writer holds the ledger; [`OpenError::SchemaTooNew`]
    /// for a version above 22 (the file is not modified); [`OpenError::SchemaVersionInvalid`];
    /// [`OpenError::Io`]; [`OpenError::Storage`], including a table stored with other key or
    /// value types.
    pub fn create_or_open(path: impl AsRef<Path>) -> Result<Ledger, OpenError> {
        let path = path.as_ref().to_owned();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|source| OpenError::Io {
            path: parent.clone(),
            source,
        })?;
        let dir = parent.canonicalize().map_err(|source| OpenError::Io {
            path: parent.clone(),
            source,
        })?;
        let lock = LockFile::acquire(&path)?;
        if !path.exists() {
            create_fresh(&path, &dir)?;
        }
        let db = open_db(&path)?;
        ensure_schema(&db, &path)?;
        Ok(Ledger {
            db,
            _lock: lock,
            path,
            dir,
            check_config: CheckConfig::default(),
            clock: WriterClock::system(),
        })
    }
}

/// Opens (or creates) the database file with redb 2, file format v2.
fn open_db(path: &Path) -> Result<Database, OpenError> {
    match Database::builder()
        .create_with_file_format_v3(false)
        .create(path)
    {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(OpenError::Locked {
            path: path.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Creates a new ledger atomically: built and stamped under a hidden temporary name in the same
/// folder, fsynced, then renamed into place, so a crash during creation never leaves a
/// half-initialised file under the ledger's name. Called with the sidecar lock held, so any
/// leftover temporary file is from a crashed creator and is removed.
fn create_fresh(path: &Path, dir: &Path) -> Result<(), OpenError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| OpenError::Io { path: p, source }
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.creating-");
    for entry in fs::read_dir(dir).map_err(io(dir))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
    let temp = dir.join(format!("{prefix}{}", std::process::id()));
    {
        let db = open_db(&temp)?;
        ensure_schema(&db, &temp)?;
    }
    File::open(&temp)
        .and_then(|f| f.sync_all())
        .map_err(io(&temp))?;
    fs::rename(&temp, path).map_err(io(path))?;
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// Checks the schema marker and table types; creates missing tables and stamps the version.
fn ensure_schema(db: &Database, path: &Path) -> Result<(), OpenError> {
    let read = db.begin_read()?;
    let version = match read.open_table(METADATA) {
        Ok(meta) => meta.get("schema_version")?.map(|v| v.value().to_owned()),
        Err(TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let version = match version {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(v) if v > SCHEMA_VERSION => {
                return Err(OpenError::SchemaTooNew {
                    path: path.to_owned(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Ok(v) => Some(v),
            Err(_) => {
                return Err(OpenError::SchemaVersionInvalid {
                    path: path.to_owned(),
                    found: text,
                });
            }
        },
    };
    // Every present table must have the expected types; note whether any is missing.
    let mut missing = false;
    for name in BLOB_TABLES {
        match read.open_table(Blob::new(name)) {
            Ok(_) => {}
            Err(TableError::TableDoesNotExist(_)) => missing = true,
            Err(e) => return Err(e.into()),
        }
    }
    for name in TEXT_TABLES {
        match read.open_table(Text::new(name)) {
            Ok(_) => {}
            Err(TableError::TableDoesNotExist(_)) => missing = true,
            Err(e) => return Err(e.into()),
        }
    }
    drop(read);
    if !missing && version == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    for name in BLOB_TABLES {
        txn.open_table(Blob::new(name))?;
    }
    txn.open_table(SOURCE_MARKERS)?;
    {
        let mut meta = txn.open_table(METADATA)?;
        let fresh = version.is_none();
        meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())?;
        if fresh && meta.get("producer")?.is_none() {
            meta.insert("producer", PRODUCER)?;
        }
    }
    txn.commit()?;
    Ok(())
}

impl Ledger {
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, Box<redb::Error>> {
        let mut txn = self.db.begin_write().map_err(|e| Box::new(e.into()))?;
        txn.set_durability(Durability::Immediate);
        Ok(txn)
    }

    /// Replaces the check-history settings used by [`Ledger::record_row_count`] and by
    /// `record_run`.
    ///
    /// # Errors
    ///
    /// [`CheckError::InvalidConfig`] for a zero `max_history` or `min_history`, or a threshold
    /// that is not a positive finite number.
    pub fn set_check_config(&mut self, config: CheckConfig) -> Result<(), CheckError> {
        if let Some(reason) = config.problem() {
            return Err(CheckError::InvalidConfig { reason });
        }
        self.check_config = config;
        Ok(())
    }

    /// The current check-history settings.
    pub fn check_config(&self) -> CheckConfig {
        self.check_config
    }

    /// Sets where this writer's own timestamps come from (see [`WriterClock`]).
    pub fn set_clock(&mut self, clock: WriterClock) {
        self.clock = clock;
    }

    /// The ledger file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger's folder (canonical). Artifacts must live under it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A `metadata` value.
    ///
    /// # Errors
    ///
    /// [`ReadError::Storage`].
    pub fn metadata(&self, key: &str) -> Result<Option<String>, ReadError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(METADATA)?;
        Ok(table.get(key)?.map(|v| v.value().to_owned()))
    }

    fn read_all<T: DeserializeOwned>(
        &self,
        def: Blob,
        table_name: &'static str,
        prefix: Option<&str>,
    ) -> Result<Vec<(String, T)>, ReadError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(def)?;
        let mut out = Vec::new();
        let iter = match prefix {
            Some(p) => table.range(p..)?,
            None => table.iter()?,
        };
        for row in iter {
            let (k, v) = row?;
            let key = k.value().to_owned();
            if let Some(p) = prefix
                && !key.starts_with(p)
            {
                break;
            }
            let value =
                serde_json::from_slice(v.value()).map_err(|source| ReadError::CorruptValue {
                    table: table_name,
                    key: key.clone(),
                    source,
                })?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn read_one<T: DeserializeOwned>(
        &self,
        def: Blob,
        table_name: &'static str,
        key: &str,
    ) -> Result<Option<T>, ReadError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(def)?;
        let Some(v) = table.get(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|source| ReadError::CorruptValue {
                table: table_name,
                key: key.to_owned(),
                source,
            })
    }

    /// The run recorded under `run_id`.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, ReadError> {
        self.read_one(RUN_HISTORY, "run_history", run_id)
    }

    /// Every run, in key order.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn runs(&self) -> Result<Vec<RunRecord>, ReadError> {
        Ok(self
            .read_all(RUN_HISTORY, "run_history", None)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every `output_artifacts` row as `(key, record)`.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn artifacts(&self) -> Result<Vec<(String, ArtifactRecord)>, ReadError> {
        self.read_all(OUTPUT_ARTIFACTS, "output_artifacts", None)
    }

    /// The `output_artifacts` rows of one run.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn artifacts_for_run(&self, run_id: &str) -> Result<Vec<ArtifactRecord>, ReadError> {
        let prefix = format!("{run_id}|");
        Ok(self
            .read_all(OUTPUT_ARTIFACTS, "output_artifacts", Some(&prefix))?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every `input_provenance` row as `(key, record)`.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn provenance(&self) -> Result<Vec<(String, ProvenanceRecord)>, ReadError> {
        self.read_all(INPUT_PROVENANCE, "input_provenance", None)
    }

    /// Every `input_index` row as `(key, entry)`.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn input_index(&self) -> Result<Vec<(String, InputIndexEntry)>, ReadError> {
        self.read_all(INPUT_INDEX, "input_index", None)
    }

    /// The number of `output_artifacts` rows whose `blake3_hash` equals `hash` exactly.
    ///
    /// # Errors
    ///
    /// [`ReadError`].
    pub fn refcount(&self, hash: &str) -> Result<u64, ReadError> {
        Ok(self
            .artifacts()?
            .iter()
            .filter(|(_, a)| a.blake3_hash == hash)
            .count() as u64)
    }

    // ----- watermarks -----

    /// The watermark of `table`; `None` means a full refresh.
    ///
    /// # Errors
    ///
    /// [`WatermarkError::InvalidTableRef`], [`WatermarkError::CorruptValue`],
    /// [`WatermarkError::Storage`].
    pub fn watermark(&self, table: &TableRef) -> Result<Option<WatermarkState>, WatermarkError> {
        let key = watermark_key(table)?;
        let read = self.db.begin_read()?;
        let t = read.open_table(WATERMARKS)?;
        let Some(v) = t.get(key.as_str())? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|source| WatermarkError::CorruptValue { key, source })
    }

    /// Sets the watermark of `table` to `last_value` (`updated_at` = now).
    ///
    /// # Errors
    ///
    /// [`WatermarkError::InvalidTableRef`], [`WatermarkError::Storage`].
    pub fn set_watermark(
        &self,
        table: &TableRef,
        last_value: chrono::DateTime<Utc>,
    ) -> Result<WatermarkState, WatermarkError> {
        let key = watermark_key(table)?;
        let state = WatermarkState {
            last_value,
            updated_at: self.clock.now(),
        };
        let txn = self.begin_write()?;
        txn.open_table(WATERMARKS)?
            .insert(key.as_str(), to_json(&state).as_slice())?;
        txn.commit()?;
        Ok(state)
    }

    /// Deletes the watermark of `table` (the next run is a full refresh). Returns whether one
    /// existed.
    ///
    /// # Errors
    ///
    /// [`WatermarkError::InvalidTableRef`], [`WatermarkError::Storage`].
    pub fn delete_watermark(&self, table: &TableRef) -> Result<bool, WatermarkError> {
        let key = watermark_key(table)?;
        let txn = self.begin_write()?;
        let existed = txn.open_table(WATERMARKS)?.remove(key.as_str())?.is_some();
        txn.commit()?;
        Ok(existed)
    }

    /// The incremental predicate for `table` filtered on `column`, or `None` for a full refresh
    /// (no watermark).
    ///
    /// # Errors
    ///
    /// Those of [`Ledger::watermark`], and [`WatermarkError::InvalidColumn`].
    pub fn incremental_predicate(
        &self,
        table: &TableRef,
        column: &str,
    ) -> Result<Option<String>, WatermarkError> {
        match self.watermark(table)? {
            None => {
                watermark::quote_identifier(column)?;
                Ok(None)
            }
            Some(state) => watermark::incremental_predicate(column, &state.last_value).map(Some),
        }
    }

    // ----- check history -----

    /// The check history of `table`, oldest first.
    ///
    /// # Errors
    ///
    /// [`CheckError::InvalidTableRef`], [`CheckError::CorruptValue`], [`CheckError::Storage`].
    pub fn check_history(&self, table: &TableRef) -> Result<Vec<CheckSnapshot>, CheckError> {
        let key = check_key(table)?;
        let read = self.db.begin_read()?;
        let t = read.open_table(CHECK_HISTORY)?;
        let Some(v) = t.get(key.as_str())? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(v.value()).map_err(|source| CheckError::CorruptValue { key, source })
    }

    /// Appends `row_count` to the history of `table` (trimmed to `max_history`) and returns the
    /// anomaly it shows against the previous history, if any.
    ///
    /// # Errors
    ///
    /// As [`Ledger::check_history`].
    pub fn record_row_count(
        &self,
        table: &TableRef,
        row_count: u64,
    ) -> Result<Option<Anomaly>, CheckError> {
        let txn = self.begin_write()?;
        let now = self.clock.now();
        let anomaly = append_row_count(&txn, table, row_count, now, &self.check_config)?;
        txn.commit()?;
        Ok(anomaly)
    }

    // ----- branches -----

    /// Creates branch `name` (`schema_prefix = "branch__<name>"`).
    ///
    /// # Errors
    ///
    /// [`BranchError::InvalidName`], [`BranchError::AlreadyExists`], [`BranchError::Storage`].
    pub fn create_branch(
        &self,
        name: &str,
        created_by: &str,
        description: Option<&str>,
    ) -> Result<BranchRecord, BranchError> {
        validate_branch_name(name)?;
        let record = BranchRecord {
            name: name.to_owned(),
            schema_prefix: format!("branch__{name}"),
            created_by: created_by.to_owned(),
            created_at: self.clock.now(),
            description: description.map(str::to_owned),
        };
        let txn = self.begin_write()?;
        {
            let mut t = txn.open_table(BRANCHES)?;
            if t.get(name)?.is_some() {
                return Err(BranchError::AlreadyExists {
                    name: name.to_owned(),
                });
            }
            t.insert(name, to_json(&record).as_slice())?;
        }
        txn.commit()?;
        Ok(record)
    }

    /// Every branch, by name.
    ///
    /// # Errors
    ///
    /// [`BranchError::CorruptValue`], [`BranchError::Storage`].
    pub fn branches(&self) -> Result<Vec<BranchRecord>, BranchError> {
        let read = self.db.begin_read()?;
        let t = read.open_table(BRANCHES)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(|source| {
                BranchError::CorruptValue {
                    key: k.value().to_owned(),
                    source,
                }
            })?);
        }
        Ok(out)
    }

    /// Deletes branch `name` and returns its record.
    ///
    /// # Errors
    ///
    /// [`BranchError::NotFound`], [`BranchError::CorruptValue`], [`BranchError::Storage`].
    pub fn delete_branch(&self, name: &str) -> Result<BranchRecord, BranchError> {
        let txn = self.begin_write()?;
        let record = {
            let mut t = txn.open_table(BRANCHES)?;
            let Some(v) = t.remove(name)? else {
                return Err(BranchError::NotFound {
                    name: name.to_owned(),
                });
            };
            serde_json::from_slice(v.value()).map_err(|source| BranchError::CorruptValue {
                key: name.to_owned(),
                source,
            })?
        };
        txn.commit()?;
        Ok(record)
    }
}

/// Compact JSON in declaration order (`serde_json::to_vec`).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Record types have string keys only and no floats: serialisation cannot fail.
    serde_json::to_vec(value).expect("ledger records serialise")
}

fn watermark_key(table: &TableRef) -> Result<String, WatermarkError> {
    if table.is_well_formed() {
        Ok(table.key())
    } else {
        Err(WatermarkError::InvalidTableRef { key: table.key() })
    }
}

fn check_key(table: &TableRef) -> Result<String, CheckError> {
    if table.is_well_formed() {
        Ok(table.key())
    } else {
        Err(CheckError::InvalidTableRef { key: table.key() })
    }
}

fn validate_branch_name(name: &str) -> Result<(), BranchError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BranchError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Appends to a table's check history inside `txn`.
pub(crate) fn append_row_count(
    txn: &WriteTransaction,
    table: &TableRef,
    row_count: u64,
    now: DateTime<Utc>,
    config: &CheckConfig,
) -> Result<Option<Anomaly>, CheckError> {
    let key = check_key(table)?;
    let mut t = txn.open_table(CHECK_HISTORY)?;
    let mut history: Vec<CheckSnapshot> = match t.get(key.as_str())? {
        Some(v) => {
            serde_json::from_slice(v.value()).map_err(|source| CheckError::CorruptValue {
                key: key.clone(),
                source,
            })?
        }
        None => Vec::new(),
    };
    let counts: Vec<u64> = history.iter().map(|s| s.row_count).collect();
    let anomaly = check::detect_anomaly(&counts, row_count, config);
    history.push(CheckSnapshot {
        timestamp: now,
        row_count,
    });
    if history.len() > config.max_history {
        history.drain(..history.len() - config.max_history);
    }
    t.insert(key.as_str(), to_json(&history).as_slice())?;
    Ok(anomaly)
}
