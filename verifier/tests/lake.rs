//! Column hashes and the Delta log on a Rocky-shaped content-addressed pipeline (`spec/hashes.md`
//! section 13, `spec/delta-log.md`). The scenario of `util.rs` is reshaped as Rocky 1.71 writes
//! it: bucket-relative `file_path`s under each table's `key_prefix`, Delta `commit_version`s,
//! `output_column_hashes` on every build and `consumed_column_hashes` on the downstream, and a
//! copy of the bucket (`--lake`) holding each table's `_delta_log/`.
//!
//! The expected column hashes are computed here from the reference's definition (the in-memory
//! batch Rocky builds, one column renamed `"col"`, an Arrow IPC stream, BLAKE3), never with the
//! verifier's library. Every tamper test changes one thing against the untampered control.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde_json::{Value, json};

use crate::util::{self, RUN1, RUN2, Rows, Scenario, set};

/// The model columns of `Scenario::new` (all Int64, non-null).
fn columns_of(name: &str) -> Vec<(&'static str, Vec<i64>)> {
    let ids: Vec<i64> = (1..=10).collect();
    match name {
        "raw_orders" => vec![
            ("order_id", vec![1, 2, 3, 4]),
            ("customer_id", vec![7, 8, 9, 10]),
        ],
        "seed_events" => vec![
            ("id", ids.clone()),
            ("bucket", ids.iter().map(|i| i % 3).collect()),
        ],
        "stg_orders" => vec![("order_id", vec![1, 2, 3]), ("customer_id", vec![7, 8, 9])],
        other => panic!("no model {other}"),
    }
}

/// Rocky's `hash_arrow_column` over the column it built with `Int64Array::from(Vec<Option<_>>)`.
fn rocky_column_hash(values: &[i64], nullable: bool) -> String {
    let array: ArrayRef = Arc::new(Int64Array::from(
        values.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
    ));
    let schema = Arc::new(Schema::new(vec![Field::new(
        "col",
        DataType::Int64,
        nullable,
    )]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array]).unwrap();
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, &schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    blake3::hash(&buf).to_hex().to_string()
}

fn output_hashes(name: &str) -> Value {
    json!(
        columns_of(name)
            .iter()
            .map(|(c, v)| json!({"column": c, "hash": rocky_column_hash(v, false)}))
            .collect::<Vec<_>>()
    )
}

/// The Scenario, Rocky-shaped, plus the lake and any extra ledger rows (tombstones).
struct Lake {
    s: Scenario,
    tombstones: Vec<(String, Value)>,
}

const ROCKY: &str = "rocky-cli/1.71.0";

fn prefix(name: &str) -> String {
    format!("tgt/raw/{name}")
}

/// A Rocky commit body: `commitInfo`, then one add per `(path, size, numRecords)`.
fn commit(engine: &str, adds: &[(String, u64, u64)]) -> String {
    let mut out = serde_json::to_string(&json!({"commitInfo": {
        "engineInfo": engine, "isBlindAppend": true, "isolationLevel": "Serializable",
        "operation": "WRITE", "operationParameters": {"mode": "Append", "partitionBy": "[]"},
        "timestamp": 1_780_000_000_000u64}}))
    .unwrap();
    out.push('\n');
    for (path, size, n) in adds {
        let stats =
            format!(r#"{{"maxValues":{{}},"minValues":{{}},"nullCount":{{}},"numRecords":{n}}}"#);
        out += &serde_json::to_string(&json!({"add": {
            "dataChange": true, "modificationTime": 1_780_000_000_000u64, "partitionValues": {},
            "path": path, "size": size, "stats": stats}}))
        .unwrap();
        out.push('\n');
    }
    out
}

const BOOTSTRAP: &str = concat!(
    r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7}}"#,
    "\n",
    r#"{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{}","partitionColumns":[],"configuration":{}}}"#,
    "\n"
);

impl Lake {
    fn new() -> Lake {
        let mut s = Scenario::new();
        for run in [&mut s.run1, &mut s.run2] {
            run["rocky_version"] = json!("1.71.0");
            for m in run["models_executed"].as_array_mut().unwrap() {
                m["env_hash"] = json!(util::env_hash("1.71.0"));
                let name = m["model_name"].as_str().unwrap().to_owned();
                m["output_column_hashes"] = output_hashes(&name);
            }
        }
        // stg_orders read raw_orders' two columns; raw_orders was skipped in run 2, so the copies
        // come from its last build (run 1). Consumed columns are lower-cased and sorted.
        let raw = output_hashes("raw_orders");
        let consumed: Vec<Value> = ["customer_id", "order_id"]
            .iter()
            .map(|c| {
                raw.as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["column"] == *c)
                    .unwrap()
                    .clone()
            })
            .collect();
        s.run2_model("stg_orders")["upstream_freshness"] = json!([{
            "upstream_key": "tgt.raw.raw_orders", "max_ts": null, "row_count": null,
            "consumed_column_hashes": consumed}]);
        // Bucket-relative paths under each table's prefix, Delta version 1 (0 is the bootstrap).
        let mut artifacts = Vec::new();
        for (_, v) in &s.artifacts {
            let mut v = v.clone();
            let name = v["model_name"].as_str().unwrap().to_owned();
            let path = format!(
                "{}/{}.parquet",
                prefix(&name),
                v["blake3_hash"].as_str().unwrap()
            );
            v["file_path"] = json!(path);
            v["commit_version"] = json!(1);
            let key = format!("{}|{name}|{path}", v["run_id"].as_str().unwrap());
            artifacts.push((key, v));
        }
        s.artifacts = artifacts;
        for name in ["seed_events", "stg_orders"] {
            let h = s.model(name).hash.clone();
            let p = format!("{}/{h}.parquet", prefix(name));
            s.provenance_of(name)["output_path"] = json!([p]);
        }
        for (_, e) in s.index.iter_mut() {
            let name = e["model_name"].as_str().unwrap().to_owned();
            let h = e["output_blake3"][0].as_str().unwrap().to_owned();
            e["output_path"] = json!([format!("{}/{h}.parquet", prefix(&name))]);
        }
        let lake = Lake {
            s,
            tombstones: Vec::new(),
        };
        for name in ["raw_orders", "seed_events", "stg_orders"] {
            let m = lake.s.model(name);
            let adds = [(
                format!("{}.parquet", m.hash),
                m.parquet.len() as u64,
                m.rows,
            )];
            lake.write_commit(name, 0, BOOTSTRAP);
            lake.write_commit(name, 1, &commit(ROCKY, &adds));
        }
        lake
    }

    fn log_dir(&self, name: &str) -> std::path::PathBuf {
        self.s.path(&format!("lake/{}/_delta_log", prefix(name)))
    }

    fn write_commit(&self, name: &str, version: u64, body: &str) {
        let dir = self.log_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{version:020}.json")), body).unwrap();
    }

    fn write(&self) {
        let rows = |v: &[(String, Value)]| -> Rows {
            v.iter()
                .map(|(k, v)| (k.clone(), serde_json::to_vec(v).unwrap()))
                .collect()
        };
        let runs: Rows = [&self.s.run1, &self.s.run2]
            .iter()
            .map(|r| {
                (
                    r["run_id"].as_str().unwrap().to_owned(),
                    serde_json::to_vec(r).unwrap(),
                )
            })
            .collect();
        util::write_ledger(
            &self.s.ledger(),
            &self.s.metadata,
            &[
                ("run_history", runs),
                ("output_artifacts", rows(&self.s.artifacts)),
                ("input_provenance", rows(&self.s.provenance)),
                ("input_index", rows(&self.s.index)),
                ("tombstones", rows(&self.tombstones)),
            ],
        );
    }

    fn verify(&self, run: &str, extra: &[&str]) -> util::Run {
        self.write();
        let lake = self.s.path("lake").display().to_string();
        let mut args = vec!["--lake", lake.as_str()];
        args.extend_from_slice(extra);
        self.s.verify(run, &args)
    }
}

/// Outcomes of the checks with id `check`, as `(outcome, code)`.
fn outcomes(r: &util::Run, check: &str) -> Vec<(String, String)> {
    r.check(check)
        .iter()
        .map(|c| {
            (
                c["outcome"].as_str().unwrap().to_owned(),
                c["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn all_pass(r: &util::Run, check: &str, n: usize) {
    let got = outcomes(r, check);
    assert_eq!(got.len(), n, "{check}:\n{}", r.dump());
    assert!(
        got.iter().all(|(o, _)| o == "pass"),
        "{check}:\n{}",
        r.dump()
    );
}

#[test]
fn the_untampered_rocky_pipeline_passes_column_and_delta_checks() {
    let l = Lake::new();
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(r.codes("unknown").is_empty(), "{}", r.dump());
    // Two columns for each of seed_events and stg_orders; stg_orders consumed two columns.
    all_pass(&r, "column.hashes", 4);
    all_pass(&r, "column.consumed", 2);
    all_pass(&r, "delta.log", 2);
    all_pass(&r, "delta.add", 2);
    all_pass(&r, "delta.orphan", 2);
    let consumed = r.check("column.consumed");
    assert!(
        consumed[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{RUN1}/raw_orders")),
        "the copies are traced to the upstream's last build, in run 1:\n{}",
        r.dump()
    );
    // Run 1 on its own.
    let r1 = l.verify(RUN1, &[]);
    assert!(r1.failing().is_empty(), "{}", r1.dump());
    all_pass(&r1, "column.hashes", 2);
    all_pass(&r1, "delta.add", 1);
    // Without --lake nothing of the log is checked; without --artifacts the columns are not.
    let plain = l.s.verify(RUN2, &[]);
    assert!(plain.check("delta.add").is_empty() && plain.check("delta.log").is_empty());
    let no_art = l.s.verify(RUN2, &["--artifacts", "/nonexistent-artifacts"]);
    assert!(
        no_art.check("column.hashes").is_empty(),
        "{}",
        no_art.dump()
    );
    assert!(
        no_art.summary()["not_verified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("output_column_hashes")),
        "{}",
        no_art.dump()
    );
}

#[test]
fn a_recorded_column_hash_that_does_not_recompute_fails_only_on_its_column() {
    let mut l = Lake::new();
    l.s.run2_model("seed_events")["output_column_hashes"][1]["hash"] = json!("0".repeat(64));
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["column_hash_mismatch"]), "{}", r.dump());
    let bad: Vec<_> = r
        .check("column.hashes")
        .into_iter()
        .filter(|c| c["outcome"] == "fail")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["subject"]["column"], "bucket");
    assert_eq!(bad[0]["subject"]["model"], "seed_events");
}

#[test]
fn one_value_flipped_in_the_artifact_changes_that_columns_hash() {
    let l = Lake::new();
    // The file under seed_events' name now holds bucket values with one changed.
    let mut cols = columns_of("seed_events");
    cols[1].1[4] += 1;
    let bytes = util::parquet_bytes(
        &cols
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect::<Vec<_>>(),
    );
    std::fs::write(l.s.artifact_file("seed_events"), bytes).unwrap();
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.failing().contains("column_hash_mismatch"), "{}", r.dump());
    assert!(
        r.failing().contains("artifact_hash_mismatch"),
        "{}",
        r.dump()
    );
    let by_column: Vec<(String, String)> = r
        .check("column.hashes")
        .iter()
        .filter(|c| c["subject"]["model"] == "seed_events")
        .map(|c| {
            (
                c["subject"]["column"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by_column,
        [
            ("id".into(), "pass".into()),
            ("bucket".into(), "fail".into())
        ],
        "{}",
        r.dump()
    );
}

#[test]
fn a_mismatch_on_another_rocky_release_is_unverifiable_not_failed() {
    let mut l = Lake::new();
    l.s.run2["rocky_version"] = json!("1.72.0");
    for m in l.s.run2["models_executed"].as_array_mut().unwrap() {
        m["env_hash"] = json!(util::env_hash("1.72.0"));
    }
    l.s.run2_model("seed_events")["output_column_hashes"][0]["hash"] = json!("0".repeat(64));
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(
        r.codes("unverifiable").contains("column_hash_unexpected"),
        "{}",
        r.dump()
    );
}

#[test]
fn a_recorded_list_of_another_length_fails() {
    let mut l = Lake::new();
    l.s.run2_model("stg_orders")["output_column_hashes"]
        .as_array_mut()
        .unwrap()
        .pop();
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.failing(), set(&["column_hash_mismatch"]), "{}", r.dump());
}

#[test]
fn an_unreadable_artifact_is_unknown_for_column_hashes() {
    let l = Lake::new();
    std::fs::write(l.s.artifact_file("seed_events"), b"not parquet").unwrap();
    let r = l.verify(RUN2, &[]);
    let col: Vec<_> = outcomes(&r, "column.hashes")
        .into_iter()
        .filter(|(o, _)| o != "pass")
        .collect();
    assert_eq!(
        col,
        [("unknown".to_owned(), "artifact_parquet_invalid".to_owned())],
        "{}",
        r.dump()
    );
    assert!(
        !r.failing().contains("column_hash_mismatch"),
        "{}",
        r.dump()
    );
}

#[test]
fn an_edited_consumed_hash_breaks_the_chain() {
    let mut l = Lake::new();
    l.s.run2_model("stg_orders")["upstream_freshness"][0]["consumed_column_hashes"][1]["hash"] =
        json!("f".repeat(64));
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(
        r.failing(),
        set(&["consumed_hash_mismatch"]),
        "{}",
        r.dump()
    );
}

#[test]
fn a_consumed_column_the_upstream_never_output_fails() {
    let mut l = Lake::new();
    l.s.run2_model("stg_orders")["upstream_freshness"][0]["consumed_column_hashes"][0]["column"] =
        json!("amount");
    let r = l.verify(RUN2, &[]);
    assert_eq!(
        r.failing(),
        set(&["consumed_column_missing"]),
        "{}",
        r.dump()
    );
}

#[test]
fn an_upstream_build_the_ledger_no_longer_holds_is_unknown() {
    let mut l = Lake::new();
    // Run 1 recorded no column hashes for raw_orders (e.g. partitioned, or a swept record).
    l.s.run1["models_executed"][0]["output_column_hashes"] = Value::Null;
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(
        outcomes(&r, "column.consumed"),
        [("unknown".to_owned(), "upstream_columns_missing".to_owned())],
        "{}",
        r.dump()
    );
}

#[test]
fn a_deleted_add_is_missing() {
    let l = Lake::new();
    l.write_commit("seed_events", 1, &commit(ROCKY, &[]));
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["delta_add_missing"]), "{}", r.dump());
}

#[test]
fn a_changed_num_records_or_size_mismatches() {
    for (rows_delta, size_delta) in [(1u64, 0u64), (0, 7)] {
        let l = Lake::new();
        let m = l.s.model("stg_orders");
        let adds = [(
            format!("{}.parquet", m.hash),
            m.parquet.len() as u64 + size_delta,
            m.rows + rows_delta,
        )];
        l.write_commit("stg_orders", 1, &commit(ROCKY, &adds));
        let r = l.verify(RUN2, &[]);
        assert_eq!(r.failing(), set(&["delta_add_mismatch"]), "{}", r.dump());
    }
}

#[test]
fn an_add_no_ledger_row_names_is_an_orphan() {
    let l = Lake::new();
    let stray = format!("{}.parquet", "ab".repeat(32));
    l.write_commit("seed_events", 2, &commit(ROCKY, &[(stray.clone(), 10, 1)]));
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(
        r.failing(),
        set(&["delta_orphan_unexpected"]),
        "{}",
        r.dump()
    );

    // The same add written by another engine: unverifiable, not failed.
    let l = Lake::new();
    l.write_commit(
        "seed_events",
        2,
        &commit(
            "Apache-Spark/3.5.0 Delta-Lake/3.2.0",
            &[(stray.clone(), 10, 1)],
        ),
    );
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(r.codes("unverifiable").contains("delta_orphan_unexpected"));

    // Evicted by `rocky gc`: a tombstone accounts for it.
    let mut l = Lake::new();
    l.write_commit("seed_events", 2, &commit(ROCKY, &[(stray.clone(), 10, 1)]));
    l.tombstones.push((
        format!("2026-06-01T00:00:00+00:00|{}", "ab".repeat(32)),
        json!({"blake3_hash": "ab".repeat(32), "run_id": RUN1, "model_name": "seed_events",
               "file_path": format!("{}/{stray}", prefix("seed_events")), "size_bytes": 10,
               "commit_version": 2, "evicted_at": "2026-06-01T00:00:00+00:00",
               "plan_id": "p", "physical_reclaimed": false}),
    ));
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    all_pass(&r, "delta.orphan", 2);

    // --no-ledger-scan: orphans are not looked for, and the summary says so.
    let l = Lake::new();
    l.write_commit("seed_events", 2, &commit(ROCKY, &[(stray, 10, 1)]));
    let r = l.verify(RUN2, &["--no-ledger-scan"]);
    assert!(r.check("delta.orphan").is_empty(), "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
}

#[test]
fn a_malformed_log_line_is_unknown_not_a_panic() {
    for bad in [
        "{",
        "[]",
        r#"{"add":{"path":"x.parquet","size":"big"}}"#,
        "\u{0}",
    ] {
        let l = Lake::new();
        let m = l.s.model("seed_events");
        let adds = [(
            format!("{}.parquet", m.hash),
            m.parquet.len() as u64,
            m.rows,
        )];
        l.write_commit(
            "seed_events",
            1,
            &format!("{}{bad}\n", commit(ROCKY, &adds)),
        );
        let r = l.verify(RUN2, &[]);
        assert!(r.failing().is_empty(), "{bad}: {}", r.dump());
        assert_eq!(r.code, 2, "{bad}: {}", r.dump());
        assert!(
            r.codes("unknown").contains("delta_log_invalid"),
            "{}",
            r.dump()
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.dump());
    }
}

#[test]
fn a_hole_in_the_log_fails_but_a_stale_copy_is_unknown() {
    // Commit 1 gone while 2 is there: a hole.
    let l = Lake::new();
    let m = l.s.model("seed_events");
    let other = [(
        format!("{}.parquet", m.hash),
        m.parquet.len() as u64,
        m.rows,
    )];
    l.write_commit("seed_events", 2, &commit(ROCKY, &other));
    std::fs::remove_file(l.log_dir("seed_events").join(format!("{:020}.json", 1))).unwrap();
    let r = l.verify(RUN2, &[]);
    assert_eq!(r.failing(), set(&["delta_add_missing"]), "{}", r.dump());

    // The row claims version 5 and the copy ends at 1: maybe a stale copy.
    let mut l = Lake::new();
    for (_, v) in l.s.artifacts.iter_mut() {
        if v["model_name"] == "seed_events" {
            v["commit_version"] = json!(5);
        }
    }
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(
        r.codes("unknown").contains("delta_add_missing"),
        "{}",
        r.dump()
    );
}

#[test]
fn a_missing_log_folder_or_lake_is_unknown() {
    let l = Lake::new();
    std::fs::remove_dir_all(l.log_dir("stg_orders")).unwrap();
    let r = l.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(
        r.codes("unknown").contains("delta_log_missing"),
        "{}",
        r.dump()
    );
    let bogus = l.s.verify(RUN2, &["--lake", "/nonexistent-lake"]);
    assert!(bogus.failing().is_empty(), "{}", bogus.dump());
    assert_eq!(bogus.codes("unknown"), set(&["delta_log_missing"]));
    assert!(Path::new("/nonexistent-lake").metadata().is_err());
}

/// `gate --lake` replays the Delta logs of every run in scope, as `run --lake` does for one.
#[test]
fn the_gate_replays_the_delta_log_too() {
    let l = Lake::new();
    l.write();
    let gate = |l: &Lake, lake: bool| {
        let (ledger, repo, wh, art, dir) = (
            l.s.ledger().display().to_string(),
            l.s.path("repo").display().to_string(),
            l.s.path("tgt.duckdb").display().to_string(),
            l.s.path("artifacts").display().to_string(),
            l.s.path("lake").display().to_string(),
        );
        let mut a = vec![
            "gate",
            "--json",
            "--ledger",
            &ledger,
            "--repo",
            &repo,
            "--warehouse",
            &wh,
            "--artifacts",
            &art,
            "--last",
            "2",
        ];
        if lake {
            a.extend(["--lake", dir.as_str()]);
        }
        util::run_bin(&util::args(&a), None)
    };
    let clean = gate(&l, true);
    assert_eq!(clean.code, 0, "{}", clean.dump());
    // Run 1 wrote raw_orders and seed_events, run 2 seed_events and stg_orders.
    all_pass(&clean, "delta.add", 3);
    // Without --lake nothing of the log is read.
    assert!(gate(&l, false).check("delta.add").is_empty());

    // The add of run 2's stg_orders artifact changed: the gate fails on it.
    let m = l.s.model("stg_orders");
    let adds = [(
        format!("{}.parquet", m.hash),
        m.parquet.len() as u64,
        m.rows + 1,
    )];
    l.write_commit("stg_orders", 1, &commit(ROCKY, &adds));
    let tampered = gate(&l, true);
    assert_eq!(tampered.code, 1, "{}", tampered.dump());
    assert_eq!(
        tampered.failing(),
        set(&["delta_add_mismatch"]),
        "{}",
        tampered.dump()
    );
}
