//! The ledger: Rocky's v22 layout on a fresh file, one writer at a time, refusal of newer
//! schemas, whole-run recording in one transaction (with nothing written on bad input), Rocky's
//! byte encodings, run-id collisions, watermarks, check history and branches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, Utc};
use redb::{TableDefinition, TableHandle};
use serde_json::Value;

use rocky_writer::artifact::{ParquetSettings, WrittenArtifact, write_content_addressed};
use rocky_writer::check::{AnomalyKind, CheckConfig};
use rocky_writer::identity;
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::ledger::{BLOB_TABLES, PRODUCER, TEXT_TABLES, lock_path};
use rocky_writer::records::{
    ExecutionStatus, HashScheme, ModelExecution, ProofClass, ProvenanceRecord, RunTrigger,
    SessionSource, UpstreamIdentity, ts,
};
use rocky_writer::{
    BranchError, ConfigFile, Ledger, ModelDraft, OpenError, RecordError, RunDraft, WatermarkError,
};

/// This crate's folder, read at run time: several checkouts share one target dir, so cargo may
/// reuse a test binary built in another checkout, and the compile-time path would point there.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn goldens() -> PathBuf {
    manifest_dir().join("../fixtures/rocky/replay-provenance-goldens")
}

fn records_vectors() -> PathBuf {
    manifest_dir().join("../spec/vectors/records.json")
}

fn t(s: &str) -> DateTime<Utc> {
    ts::parse(s).unwrap()
}

fn ledger_path(dir: &Path) -> PathBuf {
    dir.join(".rocky-state.redb")
}

fn simple_ir(name: &str, sql: &str) -> ModelIr {
    ModelIr::new(
        name,
        sql,
        TableRef::new("wh", "main", name),
        MaterializationStrategy::FullRefresh,
        vec![TypedColumn {
            name: "id".into(),
            data_type: RockyType::Int64,
            nullable: false,
        }],
    )
}

fn batch(values: Vec<i64>) -> RecordBatch {
    let schema = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from(values)) as ArrayRef],
    )
    .unwrap()
}

fn draft(at: &str) -> RunDraft {
    let mut run = RunDraft::new(t(at), t(at) + chrono::Duration::seconds(2), "0.1.0-test");
    run.hostname = "test-host".into();
    run
}

fn golden(n: &str) -> ProvenanceRecord {
    let dir = std::fs::read_dir(goldens()).unwrap();
    let path = dir
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(n))
        .unwrap();
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_new_ledger_has_rockys_v22_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    drop(Ledger::create_or_open(&path).unwrap());

    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        &bytes[..9],
        b"redb\x1a\x0a\xa9\x0d\x0a",
        "redb file format v2 magic"
    );
    assert!(lock_path(&path).ends_with(".rocky-state.redb.lock"));

    let db = redb::Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    let mut names: Vec<String> = read
        .list_tables()
        .unwrap()
        .map(|h| h.name().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = BLOB_TABLES
        .iter()
        .chain(TEXT_TABLES.iter())
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(names.len(), 26);
    for name in BLOB_TABLES {
        read.open_table(TableDefinition::<&str, &[u8]>::new(name))
            .unwrap();
    }
    let meta = read
        .open_table(TableDefinition::<&str, &str>::new("metadata"))
        .unwrap();
    assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), "22");
    assert_eq!(meta.get("producer").unwrap().unwrap().value(), PRODUCER);
    assert!(PRODUCER.starts_with("rocky-writer/"));
}

#[test]
fn a_second_writer_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    let first = Ledger::create_or_open(&path).unwrap();
    first.record_run(draft("2026-05-30T11:04:22.643Z")).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Ledger::create_or_open(&path).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the refused writer touched the file"
    );
    drop(first);
    let again = Ledger::create_or_open(&path).unwrap();
    assert_eq!(again.runs().unwrap().len(), 1);
}

#[test]
fn a_newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<&str, &str>::new("metadata"))
            .unwrap()
            .insert("schema_version", "23")
            .unwrap();
        txn.commit().unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Ledger::create_or_open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::SchemaTooNew {
                found: 23,
                supported: 22,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a refused ledger keeps its bytes"
    );
    let db = redb::Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    assert!(
        read.open_table(TableDefinition::<&str, &[u8]>::new("run_history"))
            .is_err(),
        "no table was created"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<&str, &str>::new("metadata"))
            .unwrap()
            .insert("schema_version", "v22")
            .unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(
        Ledger::create_or_open(&path),
        Err(OpenError::SchemaVersionInvalid { .. })
    ));
}

#[test]
fn an_older_rocky_ledger_is_upgraded_without_a_producer_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<&str, &str>::new("metadata"))
            .unwrap()
            .insert("schema_version", "21")
            .unwrap();
        txn.commit().unwrap();
    }
    let ledger = Ledger::create_or_open(&path).unwrap();
    assert_eq!(
        ledger.metadata("schema_version").unwrap().as_deref(),
        Some("22")
    );
    assert_eq!(ledger.metadata("producer").unwrap(), None);
}

#[test]
fn a_table_with_other_types_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<&str, u64>::new("run_history"))
            .unwrap()
            .insert("x", 1)
            .unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(
        Ledger::create_or_open(&path),
        Err(OpenError::Storage(_))
    ));
}

#[test]
fn rockys_pinned_serialisations_are_reproduced_from_typed_records() {
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(records_vectors()).unwrap()).unwrap();
    let pinned = |name: &str| -> String {
        let case = vectors["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        case["input"]["input_text"].as_str().unwrap().to_owned()
    };
    let execution = ModelExecution {
        model_name: "fct_orders".into(),
        started_at: t("2024-01-01T12:00:00Z"),
        finished_at: t("2024-01-01T12:00:00Z"),
        duration_ms: 2000,
        rows_affected: Some(10),
        status: ExecutionStatus::Success,
        sql_hash: "sql".into(),
        skip_hash: Some("logic-key".into()),
        upstream_freshness: None,
        bytes_scanned: None,
        bytes_written: None,
        tenant: None,
        recipe_hash: Some("recipe-abc".into()),
        input_hash: Some("input-def".into()),
        input_proof_class: Some(ProofClass::Heuristic),
        env_hash: Some("env-ghi".into()),
        hash_scheme: Some(HashScheme::V1),
        output_column_hashes: None,
        attempts: vec![],
        source_path: None,
        materialization: None,
        target_table: None,
    };
    assert_eq!(
        serde_json::to_string(&execution).unwrap(),
        pinned("rocky_pinned_model_execution")
    );
    let provenance = ProvenanceRecord {
        run_id: "run-1".into(),
        model_name: "fct_orders".into(),
        input_hash: "input-def".into(),
        skip_hash: "logic-key".into(),
        model_ir_canonical_json: "{\"a\":1}".into(),
        upstreams: vec![UpstreamIdentity::Watermark {
            upstream_key: "cat.sch.src".into(),
            max_ts: Some("2024-01-01T00:00:00Z".into()),
            row_count: Some(42),
        }],
        output_blake3: vec!["out-hash".into()],
        output_path: vec!["s3://b/p.parquet".into()],
        proof_class: ProofClass::Heuristic,
        recorded_at: t("2024-01-01T12:00:00Z"),
    };
    assert_eq!(
        serde_json::to_string(&provenance).unwrap(),
        pinned("rocky_pinned_provenance_record")
    );
}

/// Records golden `n`'s model with one artifact; returns the recorded provenance.
fn record_golden(ledger: &Ledger, artifacts: &Path, n: &str, at: &str) -> ProvenanceRecord {
    let g = golden(n);
    let ir: ModelIr = serde_json::from_str(&g.model_ir_canonical_json).unwrap();
    let written =
        write_content_addressed(artifacts, &batch(vec![1, 2, 3]), &ParquetSettings::pinned())
            .unwrap();
    let mut run = draft(at);
    let mut model = ModelDraft::new(ir, format!("models/{}.sql", g.model_name), t(at), t(at));
    model.artifacts.push(written);
    model.upstreams = g.upstreams.clone();
    run.models.push(model);
    let recorded = ledger.record_run(run).unwrap();
    recorded.provenance.into_iter().next().unwrap()
}

#[test]
fn provenance_reproduces_rockys_replay_goldens() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let artifacts = dir.path().join("artifacts");
    for (i, n) in ["01", "02", "03", "04"].iter().enumerate() {
        let at = format!("2026-01-01T00:00:0{i}Z");
        let ours = record_golden(&ledger, &artifacts, n, &at);
        let g = golden(n);
        assert_eq!(
            ours.model_ir_canonical_json, g.model_ir_canonical_json,
            "golden {n}"
        );
        assert_eq!(ours.skip_hash, g.skip_hash, "golden {n}");
        assert_eq!(ours.input_hash, g.input_hash, "golden {n}");
        assert_eq!(
            ours.upstreams, g.upstreams,
            "golden {n}: upstreams keep their recorded order"
        );
        assert_eq!(ours.proof_class, g.proof_class, "golden {n}");
        let run = ledger.run(&ours.run_id).unwrap().unwrap();
        let exec = &run.models_executed[0];
        assert_eq!(
            exec.recipe_hash.as_deref(),
            Some(identity::recipe_hash_of_canonical(&ours.model_ir_canonical_json).as_str())
        );
        assert_eq!(exec.skip_hash.as_deref(), Some(g.skip_hash.as_str()));
    }
}

#[test]
fn a_content_addressed_run_is_recorded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let written = write_content_addressed(
        &dir.path().join("out"),
        &batch(vec![1, 2, 3, 4]),
        &ParquetSettings::pinned(),
    )
    .unwrap();
    let sql = "SELECT id FROM wh.raw.src WHERE id > 0\n";
    let mut ir = simple_ir("orders", sql);
    ir.materialization = MaterializationStrategy::ContentAddressed {
        storage_prefix: "out".into(),
        partition_columns: vec![],
    };
    ir.target = TableRef::new("wh", "main", "orders_tbl");
    let mut model = ModelDraft::new(
        ir.clone(),
        "models/orders.sql",
        t("2026-05-30T11:04:22.643Z"),
        t("2026-05-30T11:04:23.043Z"),
    );
    model.artifacts.push(written.clone());
    model.upstreams.push(UpstreamIdentity::Content {
        upstream_key: "wh.raw.src".into(),
        blake3_hash: "a".repeat(64),
    });
    let mut run = draft("2026-05-30T11:04:22.643494123Z");
    run.trigger = RunTrigger::Ci;
    run.session_source = SessionSource::Cli;
    run.git_commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    run.config = Some(ConfigFile {
        path: "rocky.toml".into(),
        bytes: b"[pipeline.x]\ntype = \"replication\"\n".to_vec(),
    });
    run.watermarks.push((
        TableRef::new("wh", "main", "orders_tbl"),
        t("2026-05-30T00:00:00Z"),
    ));
    run.row_counts
        .push((TableRef::new("wh", "main", "orders_tbl"), 4));
    run.models.push(model);
    let recorded = ledger.record_run(run).unwrap();

    assert_eq!(recorded.run_id, "run-20260530-110422-643");
    let rec = ledger.run(&recorded.run_id).unwrap().unwrap();
    assert_eq!(rec, recorded.record);
    assert_eq!(rec.config_hash, "f1587ebeaa994df1");
    assert_eq!(
        rec.config_blake3.as_deref(),
        Some(identity::config_blake3(b"[pipeline.x]\ntype = \"replication\"\n").as_str())
    );
    assert_eq!(rec.config_path, None);
    assert_eq!(rec.rocky_version, "0.1.0-test");
    let exec = &rec.models_executed[0];
    assert_eq!(
        exec.model_name, "orders_tbl",
        "ModelExecution.model_name is the target table"
    );
    assert_eq!(
        exec.sql_hash,
        blake3::hash(sql.as_bytes()).to_hex().as_str()
    );
    assert_eq!(exec.hash_scheme, Some(HashScheme::V1Blake3Sql));
    assert_eq!(exec.duration_ms, 400);
    assert_eq!(exec.rows_affected, Some(4));
    assert_eq!(exec.bytes_written, Some(written.size_bytes));
    assert_eq!(
        exec.env_hash.as_deref(),
        Some(identity::env_hash("0.1.0-test", identity::Adapter::Duckdb).as_str())
    );
    assert_eq!(exec.source_path.as_deref(), Some("models/orders.sql"));
    assert_eq!(exec.target_table.as_deref(), Some("wh.main.orders_tbl"));
    assert_eq!(exec.skip_hash, ir.skip_hash());

    let artifacts = ledger.artifacts().unwrap();
    assert_eq!(artifacts.len(), 1);
    let (key, art) = &artifacts[0];
    let file_path = format!("out/{}.parquet", written.blake3_hash);
    assert_eq!(key, &format!("{}|orders|{file_path}", recorded.run_id));
    assert_eq!(art.file_path, file_path);
    assert_eq!(
        art.model_name, "orders",
        "ArtifactRecord.model_name is the project name"
    );
    assert_eq!(ledger.refcount(&written.blake3_hash).unwrap(), 1);

    let prov = ledger.provenance().unwrap();
    assert_eq!(prov.len(), 1);
    assert_eq!(prov[0].0, format!("{}|orders", recorded.run_id));
    assert_eq!(prov[0].1.output_blake3, vec![written.blake3_hash.clone()]);
    assert_eq!(prov[0].1.proof_class, ProofClass::Strong);
    let index = ledger.input_index().unwrap();
    assert_eq!(index[0].0, prov[0].1.input_hash);

    let wm = ledger
        .watermark(&TableRef::new("wh", "main", "orders_tbl"))
        .unwrap()
        .unwrap();
    assert_eq!(wm.last_value, t("2026-05-30T00:00:00Z"));
    assert_eq!(
        ledger
            .check_history(&TableRef::new("wh", "main", "orders_tbl"))
            .unwrap()
            .len(),
        1
    );

    // The stored bytes are exactly the compact JSON of the returned record.
    drop(ledger);
    let db = redb::Database::open(ledger_path(dir.path())).unwrap();
    let read = db.begin_read().unwrap();
    let table = read
        .open_table(TableDefinition::<&str, &[u8]>::new("run_history"))
        .unwrap();
    let stored = table
        .get(recorded.run_id.as_str())
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    assert_eq!(stored, serde_json::to_vec(&recorded.record).unwrap());
    let text = String::from_utf8(stored).unwrap();
    assert!(text.contains("\"started_at\":\"2026-05-30T11:04:22.643494123Z\""));
    assert!(text.contains("\"trigger\":\"Ci\",\"config_hash\":\"f1587ebeaa994df1\""));
    assert!(text.ends_with(&format!(
        ",\"config_blake3\":\"{}\"}}",
        rec.config_blake3.unwrap()
    )));
}

#[test]
fn run_ids_taken_in_the_same_millisecond_get_a_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let ids: Vec<String> = (0..3)
        .map(|_| {
            ledger
                .record_run(draft("2026-05-30T11:04:22.643999Z"))
                .unwrap()
                .run_id
        })
        .collect();
    assert_eq!(
        ids,
        [
            "run-20260530-110422-643",
            "run-20260530-110422-643-1",
            "run-20260530-110422-643-2"
        ]
    );
    assert_eq!(ledger.runs().unwrap().len(), 3);
}

fn assert_nothing_written(ledger: &Ledger) {
    assert!(ledger.runs().unwrap().is_empty());
    assert!(ledger.artifacts().unwrap().is_empty());
    assert!(ledger.provenance().unwrap().is_empty());
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let at = "2026-05-30T11:04:22Z";
    let with_model = |m: ModelDraft| {
        let mut run = draft(at);
        run.models.push(m);
        run
    };
    let model = |path: &str| ModelDraft::new(simple_ir("m", "SELECT 1 AS id"), path, t(at), t(at));

    for bad in [
        "../escape.sql",
        "/abs/m.sql",
        "models/../../m.sql",
        "models//m.sql",
        "",
        "models\\m.sql",
        "./m.sql",
    ] {
        let err = ledger.record_run(with_model(model(bad))).unwrap_err();
        assert!(
            matches!(err, RecordError::InvalidSourcePath { .. }),
            "{bad:?}: {err:?}"
        );
    }

    let mut m = model("models/m.sql");
    m.source = b"SELECT 2 AS id".to_vec();
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::SqlSourceMismatch { .. })
    ));

    let outside = tempfile::tempdir().unwrap();
    let mut m = model("models/m.sql");
    m.artifacts.push(
        write_content_addressed(outside.path(), &batch(vec![1]), &ParquetSettings::pinned())
            .unwrap(),
    );
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::PathOutsideLedger { .. })
    ));

    let inside = write_content_addressed(
        &dir.path().join("a"),
        &batch(vec![9]),
        &ParquetSettings::pinned(),
    )
    .unwrap();
    let mut m = model("models/m.sql");
    m.artifacts.push(WrittenArtifact {
        path: dir
            .path()
            .join("a/../a")
            .join(inside.path.file_name().unwrap()),
        ..inside.clone()
    });
    m.artifacts.push(inside.clone());
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::DuplicateArtifact { .. })
    ));

    let mut m = model("models/m.sql");
    m.upstreams.push(UpstreamIdentity::Content {
        upstream_key: "a.b.c".into(),
        blake3_hash: "up-hash".into(),
    });
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::InvalidUpstream { .. })
    ));

    let mut m = model("models/m.sql");
    m.upstreams.push(UpstreamIdentity::Watermark {
        upstream_key: "a.b".into(),
        max_ts: None,
        row_count: None,
    });
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::InvalidUpstream { .. })
    ));

    let mut m = model("models/m.sql");
    m.finished_at = t("2026-05-30T11:04:21Z");
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::TimeRange { .. })
    ));

    let mut run = with_model(model("models/m.sql"));
    run.models.push(model("models/m2.sql"));
    assert!(matches!(
        ledger.record_run(run),
        Err(RecordError::DuplicateModel { .. })
    ));

    let mut run = draft(at);
    run.watermarks.push((TableRef::new("a.b", "c", "d"), t(at)));
    assert!(matches!(
        ledger.record_run(run),
        Err(RecordError::InvalidTableRef { .. })
    ));

    let mut run = draft(at);
    run.config = Some(ConfigFile {
        path: "../rocky.toml".into(),
        bytes: vec![],
    });
    assert!(matches!(
        ledger.record_run(run),
        Err(RecordError::InvalidConfigPath { .. })
    ));

    // An artifact whose bytes changed after writing.
    let mut m = model("models/m.sql");
    std::fs::write(&inside.path, b"tampered").unwrap();
    m.artifacts.push(inside);
    assert!(matches!(
        ledger.record_run(with_model(m)),
        Err(RecordError::ArtifactChanged { .. })
    ));

    assert_nothing_written(&ledger);
    assert!(
        ledger
            .watermark(&TableRef::new("a", "b", "c"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn unusable_sql_gives_no_skip_hash_and_no_provenance_but_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let at = "2026-05-30T11:04:22Z";
    let out = dir.path().join("out");
    let mut run = draft(at);
    let mut unparseable = ModelDraft::new(
        simple_ir("bad_sql", "SELEC FROM"),
        "models/bad_sql.sql",
        t(at),
        t(at),
    );
    unparseable
        .artifacts
        .push(write_content_addressed(&out, &batch(vec![1]), &ParquetSettings::pinned()).unwrap());
    let mut not_utf8 = ModelDraft::new(
        simple_ir("latin1", "SELECT 'caf\u{fffd}' AS id"),
        "models/latin1.sql",
        t(at),
        t(at),
    );
    not_utf8.source = b"SELECT 'caf\xe9' AS id".to_vec();
    not_utf8
        .artifacts
        .push(write_content_addressed(&out, &batch(vec![2]), &ParquetSettings::pinned()).unwrap());
    run.models.push(unparseable);
    run.models.push(not_utf8);
    let recorded = ledger.record_run(run).unwrap();
    for exec in &recorded.record.models_executed {
        assert_eq!(exec.skip_hash, None, "{}", exec.model_name);
        assert!(exec.recipe_hash.is_some());
    }
    assert_eq!(
        recorded.record.models_executed[1].sql_hash,
        blake3::hash(b"SELECT 'caf\xe9' AS id").to_hex().as_str()
    );
    assert!(recorded.provenance.is_empty());
    assert_eq!(recorded.artifacts.len(), 2);
}

#[test]
fn failed_models_are_recorded_as_rocky_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let mut run = draft("2026-05-30T11:04:22Z");
    let mut failed = ModelDraft::new(
        simple_ir("a_failed", "SELECT 1 AS id"),
        "models/a.sql",
        t("2026-05-30T11:04:23Z"),
        t("2026-05-30T11:04:24Z"),
    );
    failed.status = ExecutionStatus::Failed;
    run.models.push(failed);
    run.models.push(ModelDraft::new(
        simple_ir("b_ok", "SELECT 1 AS id"),
        "models/b.sql",
        t("2026-05-30T11:04:22Z"),
        t("2026-05-30T11:04:22.5Z"),
    ));
    let rec = ledger.record_run(run).unwrap().record;
    assert_eq!(rec.models_executed[0].model_name, "b_ok", "successes first");
    let f = &rec.models_executed[1];
    assert_eq!(
        (f.status, f.duration_ms, f.sql_hash.as_str()),
        (ExecutionStatus::Failed, 0, "")
    );
    assert_eq!(
        (f.started_at, f.finished_at),
        (rec.started_at, rec.finished_at)
    );
    assert!(
        f.skip_hash.is_none()
            && f.recipe_hash.is_none()
            && f.env_hash.is_none()
            && f.hash_scheme.is_none()
    );
}

#[test]
fn watermarks_decide_between_full_refresh_and_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let table = TableRef::new("wh", "raw", "events");
    assert_eq!(
        ledger.incremental_predicate(&table, "updated_at").unwrap(),
        None
    );
    ledger
        .set_watermark(&table, t("2026-05-30T11:04:22.643494123Z"))
        .unwrap();
    assert_eq!(
        ledger
            .incremental_predicate(&table, "up\"dated")
            .unwrap()
            .as_deref(),
        Some("WHERE \"up\"\"dated\" > TIMESTAMP '2026-05-30 11:04:22.643494'")
    );
    assert!(ledger.delete_watermark(&table).unwrap());
    assert!(!ledger.delete_watermark(&table).unwrap());
    assert_eq!(ledger.watermark(&table).unwrap(), None);
    assert!(matches!(
        ledger.watermark(&TableRef::new("", "raw", "e")),
        Err(WatermarkError::InvalidTableRef { .. })
    ));
    assert!(matches!(
        ledger.incremental_predicate(&table, ""),
        Err(WatermarkError::InvalidColumn { .. })
    ));
}

#[test]
fn check_history_is_trimmed_and_anomalies_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    ledger
        .set_check_config(CheckConfig {
            max_history: 5,
            ..CheckConfig::default()
        })
        .unwrap();
    let table = TableRef::new("wh", "main", "orders");
    for count in [90, 100, 100, 100] {
        assert_eq!(ledger.record_row_count(&table, count).unwrap(), None);
    }
    assert_eq!(
        ledger
            .record_row_count(&table, 100)
            .unwrap()
            .map(|a| a.kind),
        Some(AnomalyKind::Stall)
    );
    assert_eq!(
        ledger
            .record_row_count(&table, 250)
            .unwrap()
            .map(|a| a.kind),
        Some(AnomalyKind::Duplication)
    );
    assert_eq!(
        ledger.record_row_count(&table, 3).unwrap().map(|a| a.kind),
        Some(AnomalyKind::Truncation)
    );
    let history = ledger.check_history(&table).unwrap();
    assert_eq!(
        history.iter().map(|s| s.row_count).collect::<Vec<_>>(),
        vec![100, 100, 100, 250, 3]
    );
    assert!(
        ledger
            .set_check_config(CheckConfig {
                threshold: f64::NAN,
                ..CheckConfig::default()
            })
            .is_err()
    );
}

#[test]
fn branches_are_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create_or_open(ledger_path(dir.path())).unwrap();
    let b = ledger
        .create_branch("feature-x", "alice", Some("try it"))
        .unwrap();
    assert_eq!(b.schema_prefix, "branch__feature-x");
    ledger.create_branch("b2", "bob", None).unwrap();
    assert!(matches!(
        ledger.create_branch("b2", "bob", None),
        Err(BranchError::AlreadyExists { .. })
    ));
    for bad in ["", "has space", "semi;colon", "dot.ted"] {
        assert!(
            matches!(
                ledger.create_branch(bad, "x", None),
                Err(BranchError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let names: Vec<String> = ledger
        .branches()
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["b2", "feature-x"]);
    assert_eq!(ledger.delete_branch("b2").unwrap().created_by, "bob");
    assert!(matches!(
        ledger.delete_branch("b2"),
        Err(BranchError::NotFound { .. })
    ));
    let json = serde_json::to_string(&ledger.branches().unwrap()[0]).unwrap();
    assert!(json.starts_with("{\"name\":\"feature-x\",\"schema_prefix\":\"branch__feature-x\",\"created_by\":\"alice\",\"created_at\":\""));
    assert!(json.ends_with("Z\",\"description\":\"try it\"}"));
}

/// Builds one ledger in `dir` with a run (artifact, provenance, watermark, row count), a
/// watermark, a row count and a branch, with `clock` as the writer's clock when given.
fn stamped_ledger(dir: &Path, clock: Option<rocky_writer::WriterClock>) -> (Ledger, String) {
    let mut ledger = Ledger::create_or_open(ledger_path(dir)).unwrap();
    if let Some(c) = clock {
        ledger.set_clock(c);
    }
    let written = write_content_addressed(
        &dir.join("out"),
        &batch(vec![1, 2, 3]),
        &ParquetSettings::pinned(),
    )
    .unwrap();
    let mut ir = simple_ir("orders", "SELECT id FROM wh.raw.src\n");
    ir.materialization = MaterializationStrategy::ContentAddressed {
        storage_prefix: "out".into(),
        partition_columns: vec![],
    };
    let mut model = ModelDraft::new(
        ir,
        "models/orders.sql",
        t("2026-05-30T11:04:22.643Z"),
        t("2026-05-30T11:04:23.043Z"),
    );
    model.artifacts.push(written);
    let table = TableRef::new("wh", "main", "orders");
    let mut run = draft("2026-05-30T11:04:22.643Z");
    run.row_counts.push((table.clone(), 3));
    run.models.push(model);
    run.record_reuse = true;
    let recorded = ledger.record_run(run).unwrap();
    ledger
        .set_watermark(&table, t("2026-05-30T00:00:00Z"))
        .unwrap();
    ledger.record_row_count(&table, 3).unwrap();
    ledger.create_branch("fix", "tester", None).unwrap();
    (ledger, recorded.run_id)
}

#[test]
fn a_fixed_writer_clock_stamps_every_record_and_makes_the_ledger_reproducible() {
    let at = t("2026-11-20T09:00:00Z");
    let fixed = || Some(rocky_writer::WriterClock::from_fn(move || at));
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ledger, run_id) = stamped_ledger(a.path(), fixed());
    // Every stamp the writer makes itself is the clock's.
    for art in ledger.artifacts_for_run(&run_id).unwrap() {
        assert_eq!(art.written_at, at);
    }
    let prov = ledger.provenance().unwrap();
    assert!(!prov.is_empty());
    assert!(prov.iter().all(|(_, p)| p.recorded_at == at));
    let table = TableRef::new("wh", "main", "orders");
    let history = ledger.check_history(&table).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|s| s.timestamp == at));
    assert_eq!(ledger.watermark(&table).unwrap().unwrap().updated_at, at);
    assert_eq!(ledger.branches().unwrap()[0].created_at, at);
    drop(ledger);
    drop(stamped_ledger(b.path(), fixed()));
    assert_eq!(
        std::fs::read(ledger_path(a.path())).unwrap(),
        std::fs::read(ledger_path(b.path())).unwrap(),
        "the same writes under the same fixed clock give the same bytes"
    );

    // Control: the system clock (the default) stamps the time of writing, so two ledgers
    // written at different instants differ.
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(stamped_ledger(c.path(), None));
    std::thread::sleep(std::time::Duration::from_millis(5));
    drop(stamped_ledger(d.path(), None));
    assert_ne!(
        std::fs::read(ledger_path(c.path())).unwrap(),
        std::fs::read(ledger_path(d.path())).unwrap()
    );
}
