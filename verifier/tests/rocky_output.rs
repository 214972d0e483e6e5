//! "What was the output?" on ledgers shaped as Rocky writes them (`spec/warehouse.md`): no
//! rocky-writer extensions, `rows_affected` null off the content-addressed path, 16-hex SipHash
//! `sql_hash`es, and the table counts Rocky records elsewhere (`check_history` snapshots, a
//! downstream provenance's `watermark` upstream `row_count`). Every tamper test has its clean
//! control; `run` and `gate` are both asked.
//!
//! The scenario is `util`'s, made Rocky-shaped: `seed_events` becomes a full-refresh model (no
//! artifact, `rows_affected` null) whose strategy only its provenance IR names. Its IR, skip_hash,
//! recipe_hash and input_hash are rebuilt by hand from golden 01 and `spec/hashes.md` sections 5
//! to 7, so the provenance checks keep passing on the control.

use redb::TableDefinition;
use serde_json::{Value, json};

use crate::util::{self, RUN2, Run, Scenario, blake3_hex, set};

/// Golden 01's IR, its materialization and typed columns cut out (`{M}`, `{C}`).
const IR_TEMPLATE: &str = r#"{"governance":{"auto_create_catalogs":false,"auto_create_schemas":false,"permissions_file":null},"lineage_edges":[],"materialization":{M},"name":"seed_events","sql":"SELECT i AS id, i % 3 AS bucket FROM generate_series(1, 10) AS t(i)","target":{"catalog":"tgt","schema":"raw","table":"seed_events"},"typed_columns":{C}}"#;
/// Golden 01's skip_hash pre-image (`spec/hashes.md` section 6), cut the same way.
const SKIP_TEMPLATE: &str = r#"{"governance":{"auto_create_catalogs":false,"auto_create_schemas":false,"permissions_file":null},"materialization":{M},"normalized_sql":"SELECT i AS id, i % 3 AS bucket FROM generate_series(1, 10) AS _t0 (i)","normalizer_version":1,"target":{"catalog":"tgt","schema":"raw","table":"seed_events"},"typed_columns":{C}}"#;
const GOLDEN_M: &str = r#"{"partition_columns":[],"storage_prefix":"s3://bucket/tgt/raw/seed_events","strategy":"ContentAddressed"}"#;
const INT64_COLUMNS: &str = r#"[{"data_type":"Int64","name":"id","nullable":false},{"data_type":"Int64","name":"bucket","nullable":false}]"#;
const FULL_REFRESH: &str = r#"{"strategy":"FullRefresh"}"#;
const INCREMENTAL: &str = r#"{"strategy":"Incremental","timestamp_column":"id"}"#;
const SEED: &str = "tgt.raw.seed_events";
/// Inside RUN2's window (11:04:22.643 to 11:04:25.265).
const IN_WINDOW: &str = "2026-05-30T11:04:24.000Z";

fn fill(template: &str, materialization: &str, columns: &str) -> String {
    template
        .replace("{M}", materialization)
        .replace("{C}", columns)
}

/// util's scenario as Rocky writes it, with `seed_events` materialized as `materialization`
/// (canonical JSON) and typed as `columns`.
fn rocky(materialization: &str, columns: &str) -> Scenario {
    // The hand-cut templates reproduce golden 01 before anything is changed.
    let g1 = util::golden("01-no-upstream.json");
    assert_eq!(
        fill(IR_TEMPLATE, GOLDEN_M, INT64_COLUMNS),
        g1["model_ir_canonical_json"].as_str().unwrap()
    );
    assert_eq!(
        blake3_hex(fill(SKIP_TEMPLATE, GOLDEN_M, INT64_COLUMNS).as_bytes()),
        g1["skip_hash"].as_str().unwrap()
    );

    let mut s = Scenario::new();
    s.metadata.retain(|(k, _)| k != "producer");
    for run in [&mut s.run1, &mut s.run2] {
        run.as_object_mut().unwrap().remove("config_blake3");
        for m in run["models_executed"].as_array_mut().unwrap() {
            let m = m.as_object_mut().unwrap();
            for k in ["source_path", "materialization", "target_table"] {
                m.remove(k);
            }
            m.insert("hash_scheme".into(), json!("v1"));
            m.insert("sql_hash".into(), json!("224d630126d8ca3f"));
        }
    }

    let ir = fill(IR_TEMPLATE, materialization, columns);
    let skip = blake3_hex(fill(SKIP_TEMPLATE, materialization, columns).as_bytes());
    let input = util::input_hash(&skip, SEED, None);
    let seed = s.run2_model("seed_events");
    seed["rows_affected"] = Value::Null;
    seed["bytes_written"] = Value::Null;
    seed["recipe_hash"] = json!(blake3_hex(ir.as_bytes()));
    seed["skip_hash"] = json!(skip);
    // Off the content-addressed path Rocky writes no artifact and no output for the model.
    let hash = s.model("seed_events").hash.clone();
    std::fs::remove_file(s.artifact_file("seed_events")).unwrap();
    s.artifacts
        .retain(|(_, a)| a["blake3_hash"] != hash.as_str());
    let p = s.provenance_of("seed_events");
    p["model_ir_canonical_json"] = json!(ir);
    p["skip_hash"] = json!(skip);
    p["input_hash"] = json!(input);
    p["output_blake3"] = json!([]);
    p["output_path"] = json!([]);
    reindex(&mut s);
    s
}

/// Rebuilds the input_index rows from the provenance rows.
fn reindex(s: &mut Scenario) {
    s.index = s
        .provenance
        .iter()
        .map(|(_, p)| {
            (
                p["input_hash"].as_str().unwrap().to_owned(),
                json!({
                    "input_hash": p["input_hash"], "run_id": p["run_id"], "model_name": p["model_name"],
                    "output_blake3": p["output_blake3"], "output_path": p["output_path"],
                    "proof_class": p["proof_class"], "recorded_at": p["recorded_at"],
                }),
            )
        })
        .collect();
}

/// Gives `stg_orders`' provenance (recorded at `recorded_at`) a watermark upstream on
/// `seed_events` with `rows`, beside its content upstream, and recomputes what depends on it.
fn downstream_watermark(s: &mut Scenario, rows: u64, recorded_at: &str) {
    let raw = s.model("raw_orders").hash.clone();
    let p = s.provenance_of("stg_orders");
    let skip = p["skip_hash"].as_str().unwrap().to_owned();
    p["upstreams"] = json!([
        {"kind": "content", "upstream_key": "tgt.raw.raw_orders", "blake3_hash": raw},
        {"kind": "watermark", "upstream_key": SEED, "row_count": rows},
    ]);
    // spec/hashes.md section 7: upstreams sorted by key, keys sorted in each; no max_ts.
    let pre = format!(
        r#"{{"skip_hash":"{skip}","spine_version":1,"target_identity":"tgt.raw.stg_orders","upstreams":[{{"blake3_hash":"{raw}","kind":"content","upstream_key":"tgt.raw.raw_orders"}},{{"kind":"watermark","row_count":{rows},"upstream_key":"{SEED}"}}]}}"#
    );
    p["input_hash"] = json!(blake3_hex(pre.as_bytes()));
    p["proof_class"] = json!("heuristic");
    p["recorded_at"] = json!(recorded_at);
    reindex(s);
}

/// Writes `check_history` rows into the written ledger.
fn history(s: &Scenario, rows: &[(&str, Value)]) {
    let db = redb::Database::open(s.ledger()).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx
            .open_table(TableDefinition::<&str, &[u8]>::new("check_history"))
            .unwrap();
        for (k, v) in rows {
            t.insert(*k, serde_json::to_vec(v).unwrap().as_slice())
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn snapshot(at: &str, rows: u64) -> Value {
    json!([{"timestamp": at, "row_count": rows}])
}

fn gate(s: &Scenario, extra: &[&str]) -> Run {
    let mut args = vec!["gate".to_owned(), "--json".to_owned()];
    for (flag, rel) in [
        ("--ledger", ".rocky-state.redb"),
        ("--repo", "repo"),
        ("--warehouse", "tgt.duckdb"),
        ("--artifacts", "artifacts"),
    ] {
        args.push(flag.into());
        args.push(s.path(rel).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    util::run_bin(&args, None)
}

fn policy(s: &Scenario, text: &str) -> String {
    let path = s.path("rocky-verify.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The one `warehouse.row_count` check of `model`.
fn row_count<'r>(r: &'r Run, model: &str) -> &'r Value {
    let found: Vec<_> = r
        .check("warehouse.row_count")
        .into_iter()
        .filter(|c| c["subject"]["model"] == model)
        .collect();
    assert_eq!(found.len(), 1, "{}", r.dump());
    found[0]
}

fn delete_seed_rows(s: &Scenario, n: u32) {
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        &format!("DELETE FROM raw.seed_events WHERE id <= {n}"),
    );
}

fn text(c: &Value) -> String {
    format!("{} {}", c["message"], c["reason"])
}

#[test]
fn a_full_refresh_table_with_an_in_window_snapshot_passes_clean_and_fails_with_rows_deleted() {
    let s = rocky(FULL_REFRESH, INT64_COLUMNS);
    s.write();
    history(&s, &[(SEED, snapshot(IN_WINDOW, 10))]);

    // Control: the whole Rocky-shaped ledger verifies, the count against the snapshot.
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = row_count(&r, "seed_events");
    assert_eq!(c["outcome"], "pass", "{}", r.dump());
    assert!(text(c).contains("check_history snapshot"), "{c}");
    assert!(
        text(c).contains("full_refresh per the provenance IR"),
        "{c}"
    );
    let g = gate(&s, &[]);
    assert_eq!(g.code, 0, "{}", g.dump());
    assert_eq!(row_count(&g, "seed_events")["outcome"], "pass");

    // 10% of the rows deleted: both commands fail, on that finding only.
    delete_seed_rows(&s, 1);
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["row_count_mismatch"]), "{}", r.dump());
    let c = row_count(&r, "seed_events");
    assert_eq!(
        (c["expected"].clone(), c["actual"].clone()),
        (json!(10), json!(9))
    );
    assert!(text(c).contains("check_history snapshot"), "{c}");
    let g = gate(&s, &[]);
    assert_eq!(g.code, 1, "{}", g.dump());
    assert_eq!(g.failing(), set(&["row_count_mismatch"]), "{}", g.dump());
    // --no-ledger-scan reads the snapshot all the same (it is keyed by table).
    let quick = s.verify(RUN2, &["--no-ledger-scan"]);
    assert_eq!(
        quick.failing(),
        set(&["row_count_mismatch"]),
        "{}",
        quick.dump()
    );
}

#[test]
fn a_snapshot_outside_the_run_window_is_not_used() {
    for at in [
        // Before started_at (no slack there: an earlier run's snapshot).
        "2026-05-30T11:04:22.000Z",
        // More than a second after finished_at.
        "2026-05-30T11:04:26.500Z",
    ] {
        let s = rocky(FULL_REFRESH, INT64_COLUMNS);
        s.write();
        history(&s, &[(SEED, snapshot(at, 10))]);
        delete_seed_rows(&s, 1);
        for r in [s.verify(RUN2, &[]), gate(&s, &[])] {
            assert_eq!(r.code, 0, "{}", r.dump());
            let c = row_count(&r, "seed_events");
            assert_eq!(c["outcome"], "unverifiable", "{}", r.dump());
            assert_eq!(c["code"], "row_count_unexpected");
            assert!(text(c).contains("in the run's window"), "{c}");
        }
    }
    // Within the second of slack after finished_at it is used (and catches the deletion).
    let s = rocky(FULL_REFRESH, INT64_COLUMNS);
    s.write();
    history(&s, &[(SEED, snapshot("2026-05-30T11:04:26.000Z", 10))]);
    delete_seed_rows(&s, 1);
    assert_eq!(s.verify(RUN2, &[]).failing(), set(&["row_count_mismatch"]));
}

#[test]
fn without_any_recorded_count_a_full_refresh_count_is_unverifiable_with_the_reason() {
    let s = rocky(FULL_REFRESH, INT64_COLUMNS);
    s.write();
    delete_seed_rows(&s, 1);
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = row_count(&r, "seed_events");
    assert_eq!(c["outcome"], "unverifiable");
    let why = text(c);
    assert!(
        why.contains("rows_affected is null") && why.contains("no check_history row"),
        "{c}"
    );
    // A zero snapshot is Rocky's fallback when its own count failed: not evidence.
    history(&s, &[(SEED, snapshot(IN_WINDOW, 0))]);
    let r = s.verify(RUN2, &[]);
    assert_eq!(row_count(&r, "seed_events")["outcome"], "unverifiable");
}

#[test]
fn a_downstream_watermark_row_count_is_a_source_when_recorded_after_the_model() {
    let mut s = rocky(FULL_REFRESH, INT64_COLUMNS);
    downstream_watermark(&mut s, 10, "2026-05-30T11:04:25.100Z");
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = row_count(&r, "seed_events");
    assert_eq!(c["outcome"], "pass", "{}", r.dump());
    assert!(
        text(c).contains(&format!(
            "watermark row_count of {SEED} recorded by {RUN2}/stg_orders"
        )),
        "{c}"
    );
    assert_eq!(gate(&s, &[]).code, 0);

    delete_seed_rows(&s, 1);
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.failing(), set(&["row_count_mismatch"]), "{}", r.dump());
    let g = gate(&s, &[]);
    assert_eq!(g.code, 1, "{}", g.dump());
    assert_eq!(g.failing(), set(&["row_count_mismatch"]), "{}", g.dump());

    // Recorded before seed_events finished (11:04:23.700): it cannot have seen this run's table.
    let mut s = rocky(FULL_REFRESH, INT64_COLUMNS);
    downstream_watermark(&mut s, 10, "2026-05-30T11:04:23.500Z");
    s.write();
    delete_seed_rows(&s, 1);
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(row_count(&r, "seed_events")["outcome"], "unverifiable");
}

#[test]
fn the_snapshot_wins_over_a_downstream_watermark() {
    let mut s = rocky(FULL_REFRESH, INT64_COLUMNS);
    // The watermark agrees with the tampered table; the snapshot (first in precedence) does not.
    downstream_watermark(&mut s, 9, "2026-05-30T11:04:25.100Z");
    s.write();
    history(&s, &[(SEED, snapshot(IN_WINDOW, 10))]);
    delete_seed_rows(&s, 1);
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.failing(), set(&["row_count_mismatch"]), "{}", r.dump());
    assert!(text(row_count(&r, "seed_events")).contains("check_history snapshot"));
}

#[test]
fn an_incremental_table_follows_the_gate_tolerance_over_its_snapshot() {
    let s = rocky(INCREMENTAL, INT64_COLUMNS);
    s.write();
    history(&s, &[(SEED, snapshot(IN_WINDOW, 10))]);
    // `run` never compares an accumulating table exactly.
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = row_count(&r, "seed_events");
    assert_eq!(c["outcome"], "unverifiable");
    assert!(text(c).contains("incremental per the provenance IR"), "{c}");
    // gate without a [[tolerance]]: unverifiable, and says so.
    let g = gate(&s, &[]);
    assert_eq!(g.code, 0, "{}", g.dump());
    assert!(text(row_count(&g, "seed_events")).contains("no [[tolerance]]"));

    let tol = policy(
        &s,
        "[[tolerance]]\nmodels = \"seed_*\"\nwarn = 0.05\nerror = 0.2\n",
    );
    let g = gate(&s, &["--policy", &tol]);
    assert_eq!(g.code, 0, "{}", g.dump());
    assert_eq!(row_count(&g, "seed_events")["outcome"], "pass");
    // 10% drift: inside the error threshold, a warning.
    delete_seed_rows(&s, 1);
    let g = gate(&s, &["--policy", &tol]);
    assert_eq!(g.code, 0, "{}", g.dump());
    assert_eq!(g.codes("warn"), set(&["row_count_mismatch"]));
    // 30% drift: beyond it, a failure naming the snapshot.
    delete_seed_rows(&s, 3);
    let g = gate(&s, &["--policy", &tol]);
    assert_eq!(g.code, 1, "{}", g.dump());
    assert_eq!(g.failing(), set(&["row_count_mismatch"]));
    assert!(text(row_count(&g, "seed_events")).contains("check_history snapshot"));
}

/// IR types that Rocky's typechecker infers and DuckDB spells otherwise.
const TYPED_COLUMNS: &str = r#"[{"data_type":"Int64","name":"id","nullable":false},{"data_type":"Int64","name":"bucket","nullable":false},{"data_type":"Timestamp","name":"ts","nullable":true},{"data_type":"Int64","name":"big","nullable":true},{"data_type":"String","name":"label","nullable":true},{"data_type":"Date","name":"tz","nullable":true},{"data_type":{"Decimal":{"precision":18,"scale":3}},"name":"amount","nullable":true}]"#;

/// seed_events with the extra columns of [`TYPED_COLUMNS`] in the warehouse, as DuckDB types them.
fn typed() -> Scenario {
    let s = rocky(FULL_REFRESH, TYPED_COLUMNS);
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE raw.seed_events ALTER bucket TYPE INTEGER; \
         ALTER TABLE raw.seed_events ADD COLUMN ts TIMESTAMP; \
         ALTER TABLE raw.seed_events ADD COLUMN big HUGEINT; \
         ALTER TABLE raw.seed_events ADD COLUMN label VARCHAR(12); \
         ALTER TABLE raw.seed_events ADD COLUMN tz TIMESTAMP WITH TIME ZONE; \
         ALTER TABLE raw.seed_events ADD COLUMN amount DECIMAL(10,2);",
    );
    s
}

fn columns_checks(r: &Run) -> Vec<&Value> {
    r.check("warehouse.columns")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "seed_events")
        .collect()
}

#[test]
fn types_are_compared_as_rocky_maps_them() {
    let s = typed();
    for r in [s.verify(RUN2, &[]), gate(&s, &[])] {
        assert_eq!(r.code, 0, "{}", r.dump());
        let cols = columns_checks(&r);
        assert_eq!(cols.len(), 1, "{}", r.dump());
        assert_eq!(cols[0]["outcome"], "pass");
        let m = cols[0]["message"].as_str().unwrap();
        // TIMESTAMP is Rocky's Timestamp (the reported false failure); BIGINT is Int64; DuckDB
        // reports VARCHAR(12) as VARCHAR, a String.
        assert!(m.contains("3 type(s) exactly"), "{m}");
        // INTEGER vs Int64 and DECIMAL(10,2) vs Decimal(18,3): one family, said to be inexact.
        assert!(m.contains("same family, not exact"), "{m}");
        assert!(
            m.contains("bucket: IR \"Int64\", warehouse \"INTEGER\""),
            "{m}"
        );
        assert!(m.contains("amount"), "{m}");
        // HUGEINT and TIMESTAMP WITH TIME ZONE map to Unknown: compatible with anything.
        for col in ["big", "tz"] {
            assert!(m.contains(&format!("{col} (")), "{col}: {m}");
        }
        assert!(m.contains("maps to Unknown"), "{m}");
    }
}

#[test]
fn a_column_of_another_type_family_fails_quoting_the_ir_verbatim() {
    let s = typed();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE raw.seed_events ALTER id TYPE VARCHAR; \
         ALTER TABLE raw.seed_events ALTER amount TYPE BOOLEAN USING amount > 0;",
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["column_type_mismatch"]), "{}", r.dump());
    let fails: Vec<_> = columns_checks(&r)
        .into_iter()
        .filter(|c| c["outcome"] == "fail")
        .collect();
    assert_eq!(fails.len(), 2, "{}", r.dump());
    let id = fails
        .iter()
        .find(|c| c["subject"]["column"] == "id")
        .unwrap();
    assert_eq!(
        id["message"],
        "column \"id\": the IR's type is \"Int64\", but the warehouse reports \"VARCHAR\", which \
         Rocky maps to \"String\": another type family"
    );
    assert_eq!(id["expected"], json!("Int64"));
    assert_eq!(
        id["actual"],
        json!({"data_type": "VARCHAR", "rocky_type": "String"})
    );
    let amount = fails
        .iter()
        .find(|c| c["subject"]["column"] == "amount")
        .unwrap();
    assert!(
        amount["message"]
            .as_str()
            .unwrap()
            .contains(r#"the IR's type is {"Decimal":{"precision":18,"scale":3}}"#),
        "{amount}"
    );
    let g = gate(&s, &[]);
    assert_eq!(g.code, 1, "{}", g.dump());
    assert_eq!(g.failing(), set(&["column_type_mismatch"]));
}
