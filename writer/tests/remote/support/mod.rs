//! Shared pieces of the remote-state tests: servers, the fault proxy, event capture, ledgers.

pub mod events;
pub mod proxy;
pub mod servers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use redb::{Database, ReadableTableMetadata, TableDefinition};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::remote::{RetryConfig, S3Location, StateConfig, ValkeyLocation};
use rocky_writer::{Ledger, ModelDraft, RunDraft};

pub const BUCKET: &str = "rocky-state";
pub const S3_KEY: &str = "rocky/state/v22/state.redb";
pub const VALKEY_KEY: &str = "rocky:state:v22:state.redb";

/// This crate's folder at run time (a test binary may be reused from another checkout).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The S3 location of a moto server on `port` (moto accepts any credentials).
pub fn s3_at(port: u16) -> S3Location {
    S3Location {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        ..S3Location::new(BUCKET)
    }
}

/// The Valkey location of a server on `port`.
pub fn valkey_at(port: u16) -> ValkeyLocation {
    ValkeyLocation::new(format!("redis://127.0.0.1:{port}"))
}

/// Quick retries for tests: 10 ms doubling to 40 ms, no jitter; 20 s transfer budget.
pub fn quick(backend: rocky_writer::remote::Backend) -> StateConfig {
    StateConfig {
        transfer_timeout: Duration::from_secs(20),
        retry: RetryConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            jitter: false,
            ..RetryConfig::default()
        },
        ..StateConfig::new(backend)
    }
}

/// Records one run (one model named `model`) and returns its id.
pub fn record_run(ledger: &Path, model: &str, second: u32) -> String {
    let l = Ledger::create_or_open(ledger).expect("open ledger");
    let at = Utc
        .with_ymd_and_hms(2026, 11, 20, 9, 0, second)
        .single()
        .unwrap();
    let ir = ModelIr::new(
        model,
        "SELECT 1 AS id",
        TableRef::new("wh", "main", model),
        MaterializationStrategy::FullRefresh,
        vec![TypedColumn {
            name: "id".into(),
            data_type: RockyType::Int64,
            nullable: false,
        }],
    );
    let mut run = RunDraft::new(at, at, "0.1.0-test");
    run.models
        .push(ModelDraft::new(ir, format!("models/{model}.sql"), at, at));
    l.record_run(run).expect("record run").run_id
}

/// The run ids in a ledger.
pub fn run_ids(ledger: &Path) -> Vec<String> {
    Ledger::create_or_open(ledger)
        .expect("open ledger")
        .runs()
        .expect("runs")
        .into_iter()
        .map(|r| r.run_id)
        .collect()
}

type Blob = TableDefinition<'static, &'static str, &'static [u8]>;

/// Puts `bytes` of filler into a replicated table (`dag_snapshots`), to make a ledger large.
pub fn add_filler(ledger: &Path, key: &str, bytes: usize) {
    // The ledger's writer must be closed: a fresh Ledger handle is opened and dropped first.
    drop(Ledger::create_or_open(ledger).expect("open ledger"));
    let db = Database::open(ledger).expect("redb open");
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(Blob::new("dag_snapshots")).unwrap();
        let value: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
        t.insert(key, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

/// Inserts a row into a local-only table.
pub fn put_local_only(ledger: &Path, table: &'static str, key: &str, value: &[u8]) {
    drop(Ledger::create_or_open(ledger).expect("open ledger"));
    let db = Database::open(ledger).expect("redb open");
    let txn = db.begin_write().unwrap();
    txn.open_table(Blob::new(table))
        .unwrap()
        .insert(key, value)
        .unwrap();
    txn.commit().unwrap();
}

/// The rows of a blob table in a redb file, or `None` when the table does not exist.
pub fn rows(file: &Path, table: &'static str) -> Option<Vec<String>> {
    use redb::ReadableTable;
    let db = Database::open(file).expect("redb open");
    let read = db.begin_read().unwrap();
    let t = match read.open_table(Blob::new(table)) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return None,
        Err(e) => panic!("{e}"),
    };
    let _ = t.len();
    Some(
        t.iter()
            .unwrap()
            .map(|r| r.unwrap().0.value().to_owned())
            .collect(),
    )
}

/// Writes `bytes` to a file in `dir` and returns its path (to open remote objects with redb).
pub fn to_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
