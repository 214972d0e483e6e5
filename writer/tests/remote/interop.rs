//! Both directions against the spec (spec/ledger.md section 4, spec/remote-state.md section 3):
//! what we upload is a file Rocky reads (a clean redb file format v2, the 20 replicated tables
//! with their key and value types, schema 22, no local-only table), and what Rocky uploads,
//! built here from the spec with redb alone, is what we download and keep recording into.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use rocky_writer::Ledger;
use rocky_writer::ir::TableRef;
use rocky_writer::remote::{Authority, Backend, StateSync};
use serde_json::Value;

use crate::support::servers::{self, Server};
use crate::support::*;

type Blob = TableDefinition<'static, &'static str, &'static [u8]>;
type Text = TableDefinition<'static, &'static str, &'static str>;

/// Rocky's LOCAL_ONLY_TABLE_NAMES (spec/remote-state.md section 3).
const LOCAL_ONLY: [&str; 6] = [
    "schema_cache",
    "jobs",
    "schedule_state",
    "schedule_claims",
    "fulfill_state",
    "product_approvals",
];
const TEXT_TABLES: [&str; 2] = ["metadata", "source_markers"];

/// The table names of spec/ledger.md section 4, read from the spec itself.
fn spec_tables() -> Vec<&'static str> {
    let spec = std::fs::read_to_string(manifest_dir().join("../spec/ledger.md")).unwrap();
    let section = spec
        .split("## 4. Tables")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let names: Vec<&'static str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(n, _)| n.to_owned()))
        .map(|n| &*Box::leak(n.into_boxed_str()))
        .collect();
    assert_eq!(names.len(), 26, "spec/ledger.md lists 26 tables: {names:?}");
    names
}

/// One input of spec/vectors/records.json, by case name.
fn vector(name: &str) -> String {
    let text =
        std::fs::read_to_string(manifest_dir().join("../spec/vectors/records.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["input"]["input_text"].as_str())
        .unwrap()
        .to_owned()
}

/// The file format version in redb's primary commit slot (redb 2 header: the god byte at
/// offset 9 picks slot 0 at 64 or slot 1 at 192; the slot's first byte is the version).
fn file_format(bytes: &[u8]) -> (u8, bool) {
    let god = bytes[9];
    let slot = if god & 1 == 0 { 64 } else { 192 };
    (bytes[slot], god & 2 != 0)
}

/// Checks `bytes` as Rocky reads an uploaded state object; returns the run ids.
fn assert_rocky_readable(bytes: &[u8], dir: &Path) -> Vec<String> {
    assert_eq!(&bytes[..9], b"redb\x1a\x0a\xa9\x0d\x0a", "redb magic");
    assert_eq!(
        file_format(bytes),
        (2, false),
        "file format v2, no recovery needed"
    );
    let file = to_file(dir, "uploaded.redb", bytes);
    let db = Database::builder()
        .create_with_file_format_v3(false)
        .open(&file)
        .unwrap();
    let read = db.begin_read().unwrap();
    for name in spec_tables() {
        let present = if TEXT_TABLES.contains(&name) {
            read.open_table(Text::new(name)).map(|_| ())
        } else {
            read.open_table(Blob::new(name)).map(|_| ())
        };
        if LOCAL_ONLY.contains(&name) {
            assert!(
                matches!(present, Err(redb::TableError::TableDoesNotExist(_))),
                "{name} must not be uploaded"
            );
        } else {
            present.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    let meta = read.open_table(Text::new("metadata")).unwrap();
    assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), "22");
    let runs = read.open_table(Blob::new("run_history")).unwrap();
    let mut ids = Vec::new();
    for row in runs.iter().unwrap() {
        let (k, v) = row.unwrap();
        let record: Value = serde_json::from_slice(v.value()).unwrap();
        assert_eq!(record["run_id"], k.value(), "key and value agree");
        ids.push(k.value().to_owned());
    }
    ids
}

#[test]
fn what_we_upload_rocky_can_read() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    let mut sync = StateSync::new(quick(Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(v.port),
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    let id = record_run(&ledger, "orders", 1);
    put_local_only(&ledger, "jobs", "job-1", b"{}");
    sync.finalize(session).unwrap();
    let object = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();
    assert_eq!(assert_rocky_readable(&object, dir.path()), [id]);
    assert_eq!(servers::redis_get(v.port, VALKEY_KEY).unwrap(), object);
}

/// A state object as Rocky's finalize uploads it, built from the spec with redb alone: every
/// table but the local-only ones, schema 22, no `producer`, one Rocky run and one watermark.
fn rocky_upload(dir: &Path) -> (Vec<u8>, String, String) {
    let path = dir.join("rocky.redb");
    let run = vector("run_record_worked_example");
    let run_id = serde_json::from_str::<Value>(&run).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let watermark = vector("watermark_state");
    {
        let db = Database::builder()
            .create_with_file_format_v3(false)
            .create(&path)
            .unwrap();
        let txn = db.begin_write().unwrap();
        for name in spec_tables() {
            if LOCAL_ONLY.contains(&name) {
                continue;
            }
            if TEXT_TABLES.contains(&name) {
                txn.open_table(Text::new(name)).unwrap();
            } else {
                txn.open_table(Blob::new(name)).unwrap();
            }
        }
        txn.open_table(Text::new("metadata"))
            .unwrap()
            .insert("schema_version", "22")
            .unwrap();
        txn.open_table(Blob::new("run_history"))
            .unwrap()
            .insert(run_id.as_str(), run.as_bytes())
            .unwrap();
        txn.open_table(Blob::new("watermarks"))
            .unwrap()
            .insert("wh.main.orders", watermark.as_bytes())
            .unwrap();
        txn.commit().unwrap();
    }
    (std::fs::read(&path).unwrap(), run_id, run)
}

#[test]
fn what_rocky_uploads_we_download_and_keep_recording_into() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    let dir = tempfile::tempdir().unwrap();
    let (object, run_id, run_bytes) = rocky_upload(dir.path());
    servers::put_s3_object(s3.port, BUCKET, S3_KEY, &object);
    servers::redis_set(v.port, VALKEY_KEY, &object);
    for backend in [
        Backend::S3(s3_at(s3.port)),
        Backend::Valkey(valkey_at(v.port)),
    ] {
        let mut sync = StateSync::new(quick(backend)).unwrap();
        let work = tempfile::tempdir().unwrap();
        let ledger = work.path().join(".rocky-state.redb");
        let session = sync.acquire(&ledger).unwrap();
        assert_eq!(session.authority(), Authority::Restored);
        {
            let l = Ledger::create_or_open(&ledger).unwrap();
            let runs = l.runs().unwrap();
            assert_eq!(runs.len(), 1);
            assert_eq!(runs[0].run_id, run_id);
            let wm = l.watermark(&TableRef::new("wh", "main", "orders")).unwrap();
            assert!(wm.is_some());
        }
        let ours = record_run(&ledger, "ours", 7);
        sync.finalize(session).unwrap();
        // Rocky's row is carried byte for byte next to ours.
        let after = match sync.config().backend {
            Backend::S3(_) => servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap(),
            _ => servers::redis_get(v.port, VALKEY_KEY).unwrap(),
        };
        let mut ids = assert_rocky_readable(&after, work.path());
        ids.sort();
        let mut want = vec![run_id.clone(), ours];
        want.sort();
        assert_eq!(ids, want);
        let file = to_file(work.path(), "after.redb", &after);
        let db = Database::open(&file).unwrap();
        let read = db.begin_read().unwrap();
        let t = read.open_table(Blob::new("run_history")).unwrap();
        assert_eq!(
            t.get(run_id.as_str()).unwrap().unwrap().value(),
            run_bytes.as_bytes()
        );
    }
}
