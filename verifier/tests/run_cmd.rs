//! `rocky-verify run`: the untampered scenario passes, and each single tampering is reported with
//! exactly its finding codes. Every tamper test builds the same scenario as the control, applies
//! one mutation, and compares the whole set of failing codes.

use serde_json::json;

use crate::util::{self, RUN1, RUN2, Scenario, set};

/// The control: everything consistent. Only the self-reported identity is unverifiable.
#[test]
fn an_untampered_run_passes_with_every_input() {
    let s = Scenario::new();
    s.write();
    let evidence = [
        s.ledger(),
        s.path("tgt.duckdb"),
        s.artifact_file("seed_events"),
    ];
    let before: Vec<_> = evidence.iter().map(|p| util::fingerprint(p)).collect();
    let r = s.verify(RUN2, &[]);
    let after: Vec<_> = evidence.iter().map(|p| util::fingerprint(p)).collect();
    assert_eq!(
        before, after,
        "ledger, warehouse and artifacts are byte- and mtime-identical"
    );
    assert!(
        !s.path("tgt.duckdb.wal").exists(),
        "DuckDB wrote no WAL next to the warehouse"
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(r.codes("unknown").is_empty(), "{}", r.dump());
    assert_eq!(
        r.codes("unverifiable"),
        set(&["triggering_identity_unexpected"]),
        "{}",
        r.dump()
    );
    // The strong checks really ran.
    for check in [
        "run.id",
        "run.window",
        "model.window",
        "git.commit",
        "git.branch",
        "git.config_hash",
        "git.config_blake3",
        "model.source",
        "model.sql_hash",
        "model.env_hash",
        "warehouse.table",
        "warehouse.row_count",
        "warehouse.columns",
        "artifact.blake3",
        "artifact.size",
        "artifact.parquet",
        "artifact.rows",
        "provenance.canonical",
        "provenance.recipe_hash",
        "provenance.skip_hash",
        "provenance.input_hash",
        "provenance.outputs",
        "provenance.upstream",
        "provenance.model",
        "provenance.index",
    ] {
        let got = r.check(check);
        assert!(!got.is_empty(), "no {check} check:\n{}", r.dump());
        assert!(
            got.iter().all(|c| c["outcome"] == "pass"),
            "{check}:\n{}",
            r.dump()
        );
    }
    let sql = r.check("model.sql_hash");
    assert!(sql.iter().all(|c| c["proof"] == "bytes-verified"));
    let cfg = r.check("git.config_hash");
    assert_eq!(cfg[0]["proof"], "fingerprint-only");
    // The ledger's BLAKE3 is reported.
    let begin = &r.lines[0]["data"];
    assert_eq!(
        begin["ledger"]["blake3"],
        util::blake3_hex(&std::fs::read(s.ledger()).unwrap())
    );
    assert_eq!(begin["ledger"]["schema_version"], "22");
    assert_eq!(begin["subject"], RUN2);
    // The refcount is in the artifact check's message.
    let a = r.check("artifact.blake3");
    assert!(
        a.iter()
            .all(|c| c["message"].as_str().unwrap().contains("refcount 1")),
        "{}",
        r.dump()
    );
}

#[test]
fn latest_is_the_run_that_started_last_and_strict_fails_the_unverifiable() {
    let s = Scenario::new();
    s.write();
    let r = s.verify("latest", &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.lines[0]["data"]["subject"], RUN2);
    let strict = s.verify("latest", &["--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.dump());
    assert!(
        strict.failing().is_empty(),
        "--strict keeps the outcome unverifiable"
    );
    assert_eq!(strict.summary()["strict"], true);
}

#[test]
fn the_earlier_run_passes_and_its_source_less_neighbours_do_not_leak_in() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN1, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.check("provenance.outputs").is_empty());
}

#[test]
fn without_warehouse_or_artifacts_those_checks_are_listed_as_not_verified_not_unknown() {
    let s = Scenario::new();
    s.write();
    let r = util::run_bin(
        &util::args(&[
            "run",
            RUN2,
            "--json",
            "--ledger",
            s.ledger().to_str().unwrap(),
            "--repo",
            s.path("repo").to_str().unwrap(),
        ]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(r.check("warehouse.row_count").is_empty());
    assert!(r.check("artifact.blake3").is_empty());
    let nv = r.summary()["not_verified"].to_string();
    assert!(nv.contains("no --warehouse given"), "{nv}");
    assert!(nv.contains("no --artifacts given"), "{nv}");
}

/// Builds the scenario, applies `tamper`, and asserts the exact failing codes and exit code 1.
fn assert_tampered(tamper: impl FnOnce(&mut Scenario), expected: &[&str]) {
    let mut s = Scenario::new();
    tamper(&mut s);
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.failing(), set(expected), "{}", r.dump());
    assert_eq!(r.code, 1, "{}", r.dump());
}

#[test]
fn a_flipped_artifact_byte_is_a_hash_mismatch() {
    assert_tampered(
        |s| util::flip_byte(&s.artifact_file("seed_events"), 8),
        &["artifact_hash_mismatch"],
    );
    // The first byte (the leading `PAR1` magic) and one in the middle of the data pages (between
    // the magic and the footer, whose length the 4 bytes before the trailing magic give): the
    // hash alone catches them.
    assert_tampered(
        |s| util::flip_byte(&s.artifact_file("seed_events"), 0),
        &["artifact_hash_mismatch"],
    );
    assert_tampered(
        |s| {
            let p = s.artifact_file("seed_events");
            let b = std::fs::read(&p).unwrap();
            let n = b.len();
            let footer = u32::from_le_bytes(b[n - 8..n - 4].try_into().unwrap()) as usize;
            let data_end = n - 8 - footer;
            util::flip_byte(&p, ((4 + data_end) / 2) as u64);
        },
        &["artifact_hash_mismatch"],
    );
}

#[test]
fn a_flipped_last_byte_breaks_the_hash_and_the_footer() {
    // The last four bytes are the trailing `PAR1` magic.
    assert_tampered(
        |s| {
            let p = s.artifact_file("seed_events");
            let n = std::fs::metadata(&p).unwrap().len();
            util::flip_byte(&p, n - 1);
        },
        &["artifact_hash_mismatch", "artifact_parquet_invalid"],
    );
}

#[test]
fn a_missing_artifact_file_is_reported() {
    assert_tampered(
        |s| std::fs::remove_file(s.artifact_file("seed_events")).unwrap(),
        &["artifact_file_missing"],
    );
}

#[test]
fn a_truncated_artifact_fails_hash_size_and_footer() {
    assert_tampered(
        |s| {
            let p = s.artifact_file("seed_events");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() - 10]).unwrap();
        },
        &[
            "artifact_hash_mismatch",
            "artifact_size_mismatch",
            "artifact_parquet_invalid",
        ],
    );
}

#[test]
fn a_changed_upstream_file_is_an_upstream_hash_mismatch() {
    // raw_orders (run 1) is stg_orders' upstream; run 2 reads its bytes through provenance.
    assert_tampered(
        |s| util::flip_byte(&s.artifact_file("raw_orders"), 8),
        &["upstream_hash_mismatch"],
    );
}

#[test]
fn an_edited_rows_affected_fails_the_warehouse_and_the_file_counts() {
    assert_tampered(
        |s| s.run2_model("seed_events")["rows_affected"] = json!(11),
        &["row_count_mismatch", "artifact_row_count_mismatch"],
    );
}

/// Both directions: a row deleted and a row inserted after the run (this is the one home of
/// the warehouse row-count tampering; the e2e tamper matrix keeps only what needs the demo).
#[test]
fn a_deleted_or_inserted_warehouse_row_is_a_row_count_mismatch() {
    for sql in [
        "DELETE FROM raw.seed_events WHERE id = 1",
        "INSERT INTO raw.seed_events VALUES (99, 1)",
    ] {
        assert_tampered(
            |s| util::warehouse_sql(&s.path("tgt.duckdb"), sql),
            &["row_count_mismatch", "table_content_mismatch"],
        );
    }
}

#[test]
fn warehouse_column_drift_is_one_finding_per_column() {
    assert_tampered(
        |s| {
            util::warehouse_sql(
                &s.path("tgt.duckdb"),
                "ALTER TABLE raw.seed_events ADD COLUMN extra INTEGER; \
                 ALTER TABLE raw.stg_orders ALTER customer_id TYPE VARCHAR;",
            )
        },
        &["column_unexpected", "column_type_mismatch"],
    );
}

#[test]
fn a_dropped_warehouse_table_is_missing() {
    assert_tampered(
        |s| util::warehouse_sql(&s.path("tgt.duckdb"), "DROP TABLE raw.stg_orders"),
        &["warehouse_table_missing"],
    );
}

#[test]
fn an_edited_sql_hash_is_a_mismatch_against_the_committed_source() {
    assert_tampered(
        |s| s.run2_model("stg_orders")["sql_hash"] = json!(util::blake3_hex(b"SELECT 2")),
        &["sql_hash_mismatch"],
    );
}

#[test]
fn a_malformed_strong_sql_hash_is_invalid() {
    assert_tampered(
        |s| s.run2_model("stg_orders")["sql_hash"] = json!("abc"),
        &["sql_hash_invalid"],
    );
}

#[test]
fn a_commit_not_in_the_repository_is_missing() {
    assert_tampered(
        |s| s.run2["git_commit"] = json!("0".repeat(40)),
        &["git_commit_missing"],
    );
}

#[test]
fn a_branch_that_does_not_contain_the_commit_is_a_mismatch() {
    assert_tampered(
        |s| s.run2["git_branch"] = json!("other"),
        &["git_branch_mismatch"],
    );
}

#[test]
fn an_edited_config_hash_is_a_mismatch() {
    assert_tampered(
        |s| s.run2["config_hash"] = json!("0123456789abcdef"),
        &["config_hash_mismatch"],
    );
}

#[test]
fn a_missing_source_file_at_the_commit_is_reported() {
    assert_tampered(
        |s| s.run2_model("seed_events")["source_path"] = json!("models/nope.sql"),
        &["model_source_missing"],
    );
}

#[test]
fn a_moved_start_time_no_longer_matches_the_run_id() {
    assert_tampered(
        |s| s.run2["started_at"] = json!("2026-05-30T11:04:21.643494123Z"),
        &["run_id_mismatch"],
    );
}

#[test]
fn a_finish_before_the_start_is_an_invalid_window() {
    assert_tampered(
        |s| {
            s.run2["finished_at"] = json!("2026-05-30T11:04:22.000Z");
        },
        // The models now also end after the run.
        &["run_window_invalid", "model_window_invalid"],
    );
}

#[test]
fn an_edited_duration_is_a_duration_mismatch() {
    assert_tampered(
        |s| s.run2_model("seed_events")["duration_ms"] = json!(999),
        &["model_duration_mismatch"],
    );
}

#[test]
fn an_edited_artifact_size_is_a_size_mismatch() {
    assert_tampered(
        |s| s.artifacts[1].1["size_bytes"] = json!(1),
        // The execution's bytes_written still records the real size.
        &["artifact_size_mismatch", "bytes_written_mismatch"],
    );
}

#[test]
fn an_escaping_recorded_path_is_invalid_and_never_followed() {
    assert_tampered(
        |s| {
            let (key, v) = &mut s.artifacts[1];
            let hash = v["blake3_hash"].as_str().unwrap().to_owned();
            let evil = format!("../../../etc/{hash}.parquet");
            *key = format!("{RUN2}|seed_events|{evil}");
            v["file_path"] = json!(evil);
        },
        // The provenance's output_path still names the real file.
        &["artifact_path_invalid", "provenance_path_mismatch"],
    );
}

#[test]
fn a_key_that_disagrees_with_its_value_is_a_key_mismatch() {
    assert_tampered(
        |s| s.artifacts[1].1["file_path"] = json!("elsewhere/x.parquet"),
        &[
            "ledger_key_mismatch",
            "artifact_path_mismatch",
            "provenance_path_mismatch",
        ],
    );
}

#[test]
fn an_edited_recipe_hash_is_a_mismatch_with_the_provenance_ir() {
    assert_tampered(
        |s| s.run2_model("seed_events")["recipe_hash"] = json!("a".repeat(64)),
        &["recipe_hash_mismatch"],
    );
}

#[test]
fn an_edited_env_hash_is_a_mismatch() {
    assert_tampered(
        |s| s.run2_model("seed_events")["env_hash"] = json!("b".repeat(64)),
        &["env_hash_mismatch"],
    );
}

#[test]
fn provenance_outputs_that_disagree_with_the_artifacts_are_reported() {
    assert_tampered(
        |s| s.provenance_of("seed_events")["output_blake3"] = json!(["c".repeat(64)]),
        // The input_index entry still repeats the original outputs.
        &["provenance_output_mismatch", "input_index_mismatch"],
    );
}

#[test]
fn a_forged_upstream_hash_breaks_input_hash_and_has_no_producer() {
    assert_tampered(
        |s| s.provenance_of("stg_orders")["upstreams"][0]["blake3_hash"] = json!("d".repeat(64)),
        &["input_hash_mismatch", "upstream_artifact_missing"],
    );
}

#[test]
fn provenance_for_a_model_the_run_did_not_execute_is_reported() {
    assert_tampered(
        |s| {
            let arr = s.run2["models_executed"].as_array_mut().unwrap();
            arr.retain(|m| m["model_name"] != "stg_orders");
        },
        // Its artifact row also no longer joins a model, so its row count is unknown, not failed;
        // and no execution's target_table names its table.
        &["model_execution_missing", "artifact_execution_missing"],
    );
}

#[test]
fn a_bad_enum_makes_the_run_record_invalid() {
    assert_tampered(
        |s| s.run2["status"] = json!("Succeeded"),
        &["run_record_invalid"],
    );
}

#[test]
fn a_bad_model_entry_is_named_and_the_run_record_is_invalid() {
    assert_tampered(
        |s| s.run2_model("seed_events")["status"] = json!("ok"),
        &["model_execution_invalid", "run_record_invalid"],
    );
}

#[test]
fn artifacts_without_a_run_record_are_a_missing_run_record() {
    let mut s = Scenario::new();
    s.run2 = s.run1.clone(); // run_history now holds only run 1 (twice under one key)
    s.write();
    let r = s.verify(RUN2, &[]);
    assert!(r.failing().contains("run_record_missing"), "{}", r.dump());
    assert_eq!(r.code, 1);
}

#[test]
fn a_run_id_the_ledger_does_not_have_is_unknown_not_failed() {
    let s = Scenario::new();
    s.write();
    let r = s.verify("run-20990101-000000-000", &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["run_record_missing"]));
    assert!(r.stderr.contains("run_record_missing"), "{}", r.stderr);
    // A run id with `|` cannot select another run's `{run}|{model}|...` rows.
    let r = s.verify(&format!("{RUN2}|seed_events"), &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["run_record_missing"]));
}

#[test]
fn rocky_fingerprints_are_unverifiable_never_a_pass() {
    let mut s = Scenario::new();
    let m = s.run2_model("seed_events");
    m["sql_hash"] = json!("224d630126d8ca3f");
    m["hash_scheme"] = json!("v1");
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let sql: Vec<_> = r
        .check("model.sql_hash")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "seed_events")
        .collect();
    assert_eq!(sql.len(), 1);
    assert_eq!(sql[0]["outcome"], "unverifiable");
    assert_eq!(sql[0]["code"], "sql_hash_unexpected");
    assert_eq!(sql[0]["proof"], "fingerprint-only");
    let nv = r.summary()["not_verified"].to_string();
    assert!(
        nv.contains("model.sql_hash (1, unverifiable)") && nv.contains("64-bit"),
        "{nv}"
    );
}

#[test]
fn a_missing_repository_is_unknown_and_a_bare_one_works() {
    let s = Scenario::new();
    s.write();
    let mut files = vec![("rocky.toml".to_owned(), util::ROCKY_TOML.to_vec())];
    for m in &s.models {
        files.push((format!("models/{}.sql", m.name), m.sql.clone().into_bytes()));
    }
    let bare = s.path("bare.git");
    let commit = util::make_repo(&bare, true, &files);
    assert_eq!(commit, s.commit, "same content, same time: same commit id");
    let r = s.verify(RUN2, &["--repo", bare.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.check("git.commit")[0]["outcome"], "pass");

    let r = s.verify(RUN2, &["--repo", s.path("no-such-repo").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["repo_missing"]));
}

#[test]
fn a_superseded_run_cannot_expect_the_warehouse_count() {
    let s = superseded_seed_events();
    s.write();
    assert_seed_events_superseded_by_run2(&s.verify(RUN1, &[]));
}

/// Run 1 also wrote seed_events (with another count); run 2 wrote it again later.
fn superseded_seed_events() -> Scenario {
    let mut s = Scenario::new();
    let mut seed = s.run2_model("seed_events").clone();
    seed["started_at"] = json!("2026-05-29T09:00:00.600Z");
    seed["finished_at"] = json!("2026-05-29T09:00:00.700Z");
    seed["duration_ms"] = json!(100);
    seed["rows_affected"] = json!(5);
    s.run1["models_executed"].as_array_mut().unwrap().push(seed);
    s
}

/// Run 1's seed_events count cannot be expected of the warehouse: run 2 rewrote the table.
fn assert_seed_events_superseded_by_run2(r: &util::Run) {
    let rc: Vec<_> = r
        .check("warehouse.row_count")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "seed_events")
        .collect();
    assert_eq!(rc[0]["outcome"], "unverifiable", "{}", r.dump());
    assert!(rc[0]["reason"].as_str().unwrap().contains(RUN2));
}

#[test]
fn table_names_with_quotes_and_semicolons_are_quoted_not_executed() {
    let mut s = Scenario::new();
    let evil = "we\"ird'; DROP TABLE stg_orders; --";
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        &format!(
            "CREATE TABLE raw.\"{}\" AS SELECT * FROM raw.seed_events",
            evil.replace('"', "\"\"")
        ),
    );
    s.run2_model("seed_events")["target_table"] = json!(format!("tgt.raw.{evil}"));
    // Without provenance the model's table comes from target_table (no skip_hash: rocky-writer
    // then records no provenance).
    s.provenance.retain(|(k, _)| !k.ends_with("|seed_events"));
    s.index.retain(|(_, e)| e["model_name"] != "seed_events");
    s.run2_model("seed_events")["skip_hash"] = json!(null);
    s.write();
    let r = s.verify(RUN2, &[]);
    // rocky-writer names an execution after its target_table's table; this one is not.
    assert_eq!(
        r.failing(),
        set(&["model_execution_unexpected"]),
        "{}",
        r.dump()
    );
    let t: Vec<_> = r
        .check("warehouse.row_count")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "seed_events")
        .collect();
    assert_eq!(t[0]["outcome"], "pass", "{}", r.dump());
    // The other table is still there: nothing was executed.
    let again = s.verify(RUN2, &[]);
    assert!(
        again
            .check("warehouse.table")
            .iter()
            .all(|c| c["outcome"] == "pass"),
        "{}",
        again.dump()
    );
}

#[test]
fn a_rocky_style_ledger_is_checked_with_heuristics_and_fingerprints_never_passes_them() {
    // What Rocky itself writes: no rocky-writer extensions, no provenance, 16-hex fingerprints.
    let mut s = Scenario::new();
    s.metadata.retain(|(k, _)| k != "producer");
    s.provenance.clear();
    s.index.clear();
    s.run2.as_object_mut().unwrap().remove("config_blake3");
    for name in ["seed_events", "stg_orders"] {
        let m = s.run2_model(name).as_object_mut().unwrap();
        for k in ["source_path", "materialization", "target_table"] {
            m.remove(k);
        }
        m.insert("hash_scheme".into(), json!("v1"));
        m.insert("sql_hash".into(), json!("224d630126d8ca3f"));
        m.insert("recipe_hash".into(), json!(null));
    }
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(
        r.codes("unverifiable"),
        set(&[
            "triggering_identity_unexpected",
            "sql_hash_unexpected",
            "row_count_unexpected"
        ]),
        "{}",
        r.dump()
    );
    assert!(r.lines[0]["data"]["ledger"]["producer"].is_null());
    // Found by name only: heuristic proof, never stronger.
    for c in r
        .check("model.source")
        .into_iter()
        .chain(r.check("warehouse.table"))
    {
        assert_eq!(c["outcome"], "pass", "{}", r.dump());
        assert_eq!(c["proof"], "heuristic", "{c}");
    }
    // The artifacts still join their executions by name and their bytes are checked.
    assert!(
        r.check("artifact.rows")
            .iter()
            .all(|c| c["outcome"] == "pass"),
        "{}",
        r.dump()
    );
}

#[test]
fn the_warehouse_is_attached_under_every_catalog_name_the_ledger_uses() {
    let mut s = Scenario::new();
    // The file's own name is not the catalog, and one model names a second catalog.
    std::fs::rename(s.path("tgt.duckdb"), s.path("warehouse.duckdb")).unwrap();
    s.provenance.retain(|(k, _)| !k.ends_with("|stg_orders"));
    s.index.retain(|(_, e)| e["model_name"] != "stg_orders");
    s.run2_model("stg_orders")["skip_hash"] = json!(null);
    s.run2_model("stg_orders")["target_table"] = json!("tgt2.raw.stg_orders");
    s.write();
    let wh = s.path("warehouse.duckdb");
    let r = s.verify(RUN2, &["--warehouse", wh.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let tables: Vec<_> = r
        .check("warehouse.table")
        .iter()
        .map(|c| c["subject"]["table"].clone())
        .collect();
    assert_eq!(
        tables,
        vec![json!("tgt.raw.seed_events"), json!("tgt2.raw.stg_orders")]
    );
    assert!(
        r.check("warehouse.row_count")
            .iter()
            .all(|c| c["outcome"] == "pass"),
        "{}",
        r.dump()
    );
}

#[test]
fn an_undecodable_input_index_entry_is_invalid() {
    assert_tampered(
        |s| s.index[0].1["proof_class"] = json!("forged"),
        &["input_index_entry_invalid"],
    );
}

#[test]
fn an_input_index_entry_naming_other_outputs_is_a_mismatch() {
    assert_tampered(
        |s| s.index[0].1["output_blake3"] = json!(["e".repeat(64)]),
        &["provenance_output_mismatch", "input_index_mismatch"],
    );
}

#[test]
fn failed_model_entries_keep_the_run_window_and_an_empty_sql_hash() {
    // Rocky's failed entry: the run's own start and finish, duration 0, sql_hash "", no hashes.
    let mut s = Scenario::new();
    let mut failed = s.run2_model("stg_orders").clone();
    for k in [
        "recipe_hash",
        "env_hash",
        "skip_hash",
        "hash_scheme",
        "rows_affected",
        "bytes_written",
    ] {
        failed[k] = json!(null);
    }
    failed["model_name"] = json!("broken_model");
    failed["status"] = json!("failed");
    failed["sql_hash"] = json!("");
    failed["duration_ms"] = json!(0);
    failed["started_at"] = s.run2["started_at"].clone();
    failed["finished_at"] = s.run2["finished_at"].clone();
    failed["source_path"] = json!("models/stg_orders.sql");
    failed["target_table"] = json!("tgt.raw.broken_model");
    s.run2["models_executed"]
        .as_array_mut()
        .unwrap()
        .push(failed);
    // Rocky records a run with a failed and a built model as PartialFailure.
    s.run2["status"] = json!("PartialFailure");
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let w: Vec<_> = r
        .check("model.window")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "broken_model")
        .collect();
    assert_eq!(w[0]["outcome"], "pass");
    let sql: Vec<_> = r
        .check("model.sql_hash")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "broken_model")
        .collect();
    assert_eq!(sql[0]["outcome"], "unverifiable");
    // A failed model wrote no table: no warehouse check for it.
    assert!(
        r.check("warehouse.table")
            .iter()
            .all(|c| c["subject"]["model"] != "broken_model")
    );
}

/// Makes `run2` a Rocky-style record (no rocky-writer extensions) whose commit is a new one in
/// which `edit` (a shell snippet run in the work tree) has moved or removed model files.
fn rocky_style_at_new_commit(edit: &str) -> Scenario {
    let mut s = Scenario::new();
    for name in ["seed_events", "stg_orders"] {
        let m = s.run2_model(name).as_object_mut().unwrap();
        for k in ["source_path", "materialization", "target_table"] {
            m.remove(k);
        }
        m.insert("hash_scheme".into(), json!("v1"));
        m.insert("sql_hash".into(), json!("224d630126d8ca3f"));
    }
    let repo = s.path("repo");
    let sh = |cmd: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // The fixture repository holds its files as objects only; check them out first.
    sh("git reset -q --hard");
    sh(edit);
    sh("git -c user.name=t -c user.email=t@t commit -qam 'move models'");
    s.run2["git_commit"] = json!(sh("git rev-parse HEAD"));
    s.write();
    s
}

#[test]
fn a_rocky_model_in_a_sub_folder_is_found_by_name_with_heuristic_proof() {
    let s = rocky_style_at_new_commit(
        "mkdir -p models/marts && git mv models/stg_orders.sql models/marts/stg_orders.sql",
    );
    let r = s.verify(RUN2, &[]);
    let found: Vec<_> = r
        .check("model.source")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "stg_orders")
        .collect();
    assert_eq!(found.len(), 1, "{}", r.dump());
    assert_eq!(found[0]["outcome"], "pass", "{}", r.dump());
    assert_eq!(found[0]["proof"], "heuristic");
    assert_eq!(found[0]["subject"]["file"], "models/marts/stg_orders.sql");
}

#[test]
fn a_rocky_model_with_no_file_at_the_commit_is_unverifiable_not_unknown() {
    // Rocky records no source path, so a missing file is not evidence of anything; the control
    // (the file present) is the test above.
    let s = rocky_style_at_new_commit("git rm -q models/stg_orders.sql");
    let r = s.verify(RUN2, &[]);
    let c: Vec<_> = r
        .check("model.source")
        .into_iter()
        .filter(|c| c["subject"]["model"] == "stg_orders")
        .collect();
    assert_eq!(c[0]["outcome"], "unverifiable", "{}", r.dump());
    assert_eq!(c[0]["code"], "model_source_missing");
    assert!(r.codes("unknown").is_empty(), "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert_eq!(r.code, 0, "{}", r.dump());
}

#[test]
fn a_run_without_a_git_commit_is_unverifiable_code_not_an_error() {
    let mut s = Scenario::new();
    s.run2["git_commit"] = json!(null);
    s.write();
    let r = s.verify(RUN2, &[]);
    let c = r.check("git.commit");
    assert_eq!(c.len(), 1, "{}", r.dump());
    assert_eq!(c[0]["outcome"], "unverifiable", "{}", r.dump());
    assert_eq!(c[0]["code"], "git_commit_missing");
    assert!(r.codes("unknown").is_empty(), "{}", r.dump());
    assert_eq!(r.code, 0, "{}", r.dump());
    // Under --strict the missing provenance of the code fails the exit code.
    assert_eq!(s.verify(RUN2, &["--strict"]).code, 1);
}

/// (check, outcome, code, subject) of every check: what two runs of the verifier must agree on.
fn verdicts(r: &util::Run) -> std::collections::BTreeSet<String> {
    r.checks()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c["check"], c["outcome"], c["code"], c["subject"]
            )
        })
        .collect()
}

#[test]
fn no_ledger_scan_runs_every_check_of_the_run_and_says_what_it_skipped() {
    let s = Scenario::new();
    s.write();
    let full = s.verify(RUN2, &[]);
    let quick = s.verify(RUN2, &["--no-ledger-scan"]);
    assert_eq!(full.code, 0, "{}", full.dump());
    assert_eq!(quick.code, 0, "{}", quick.dump());
    assert_eq!(verdicts(&full), verdicts(&quick), "{}", quick.dump());
    // The one-hop check found run 1 as raw_orders' producer without reading the whole table.
    let up = quick.check("provenance.upstream");
    assert_eq!(up.len(), 1, "{}", quick.dump());
    let m = up[0]["message"].as_str().unwrap();
    assert!(
        m.ends_with(&format!("produced by {RUN1}/raw_orders")),
        "{m}"
    );
    // What was skipped is said, not hidden: no digest, no refcounts.
    assert_eq!(
        full.lines[0]["data"]["ledger"]["blake3"],
        util::blake3_hex(&std::fs::read(s.ledger()).unwrap())
    );
    assert!(quick.lines[0]["data"]["ledger"]["blake3"].is_null());
    let nv = quick.summary()["not_verified"].to_string();
    assert!(nv.contains("--no-ledger-scan"), "{nv}");
    assert!(
        !full.summary()["not_verified"]
            .to_string()
            .contains("--no-ledger-scan")
    );
    for c in quick.check("artifact.blake3") {
        let m = c["message"].as_str().unwrap();
        assert!(m.contains("refcount not counted"), "{m}");
    }
}

#[test]
fn no_ledger_scan_still_fails_an_upstream_nobody_produced() {
    let mut s = Scenario::new();
    s.provenance_of("stg_orders")["upstreams"][0]["blake3_hash"] = json!("d".repeat(64));
    s.write();
    let r = s.verify(RUN2, &["--no-ledger-scan"]);
    assert_eq!(
        r.failing(),
        set(&["input_hash_mismatch", "upstream_artifact_missing"]),
        "{}",
        r.dump()
    );
    assert_eq!(r.code, 1);
}

/// Adds an `output_artifacts` row to a written scenario, its value given as raw JSON text.
fn add_raw_artifact_row(s: &Scenario, key: &str, json_text: &str) {
    put_raw_row(s, "output_artifacts", key, json_text);
}

/// Inserts (or replaces) a row of a written scenario's JSON table, its value as raw JSON text.
fn put_raw_row(s: &Scenario, table: &str, key: &str, json_text: &str) {
    let db = redb::Database::open(s.ledger()).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(redb::TableDefinition::<&str, &[u8]>::new(table))
        .unwrap()
        .insert(key, json_text.as_bytes())
        .unwrap();
    txn.commit().unwrap();
}

/// A row whose key does not carry the hash and whose value spells it with a JSON escape names
/// the hash all the same (Rocky's `refcount_for_hash` compares the decoded `blake3_hash`).
fn escaped_row_naming(hash: &str, run: &str, model: &str) -> (String, String) {
    let first = hash.chars().next().unwrap();
    let escaped = format!("\\u{:04x}{}", first as u32, &hash[1..]);
    let key = format!("{run}|{model}|warehouse/{model}/part-00000.parquet");
    let value = format!(
        r#"{{"blake3_hash":"{escaped}","run_id":"{run}","model_name":"{model}","file_path":"warehouse/{model}/part-00000.parquet","commit_version":3,"size_bytes":1,"written_at":"2026-05-20T00:00:00Z"}}"#
    );
    (key, value)
}

#[test]
fn refcounts_count_rows_by_their_decoded_hash_not_their_key() {
    let s = Scenario::new();
    s.write();
    // Control: seed_events' bytes are named by one row (checked in the untampered test too).
    let before = s.verify(RUN2, &[]);
    let count = |r: &util::Run| -> Vec<String> {
        r.check("artifact.blake3")
            .iter()
            .filter(|c| c["subject"]["model"] == "seed_events")
            .map(|c| c["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        count(&before)[0].contains("refcount 1"),
        "{}",
        before.dump()
    );

    let hash = s.model("seed_events").hash.clone();
    let (key, value) = escaped_row_naming(&hash, "run-20260520-000000-000", "seed_copy");
    add_raw_artifact_row(&s, &key, &value);
    let after = s.verify(RUN2, &[]);
    assert!(count(&after)[0].contains("refcount 2"), "{}", after.dump());
    assert_eq!(after.code, 0, "{}", after.dump());
}

#[test]
fn an_upstream_producer_is_found_by_its_value_in_both_modes() {
    let mut s = Scenario::new();
    // Run 1's row for raw_orders is replaced by one that spells the hash with an escape under a
    // key that does not carry it.
    let hash = s.model("raw_orders").hash.clone();
    s.artifacts.retain(|(k, _)| !k.starts_with(RUN1));
    s.write();
    let missing = s.verify(RUN2, &["--no-ledger-scan"]);
    assert!(
        missing.failing().contains("upstream_artifact_missing"),
        "control: without the row there is no producer\n{}",
        missing.dump()
    );
    let (key, value) = escaped_row_naming(&hash, RUN1, "raw_orders");
    add_raw_artifact_row(&s, &key, &value);
    for extra in [&[][..], &["--no-ledger-scan"][..]] {
        let r = s.verify(RUN2, extra);
        let up = r.check("provenance.upstream");
        assert_eq!(up.len(), 1, "{}", r.dump());
        assert_eq!(up[0]["outcome"], "pass", "{extra:?}\n{}", r.dump());
        let m = up[0]["message"].as_str().unwrap();
        assert!(
            m.ends_with(&format!("produced by {RUN1}/raw_orders")),
            "{m}"
        );
    }
}

#[test]
fn artifact_finds_every_row_naming_its_hash_even_one_spelled_with_escapes() {
    let s = Scenario::new();
    s.write();
    let file = s.artifact_file("seed_events").display().to_string();
    let ledger = s.ledger().display().to_string();
    let audit = || {
        util::run_bin(
            &util::args(&["artifact", &file, "--ledger", &ledger, "--json"]),
            None,
        )
    };
    // Control: one row names the file, and it agrees with it.
    let before = audit();
    assert_eq!(before.code, 0, "{}", before.dump());
    assert_eq!(
        before.check("artifact.ledger").len(),
        1,
        "{}",
        before.dump()
    );

    // A second row spells the hash with an escape under a key that does not carry it; it is
    // found (and its size, 1 byte, is wrong).
    let hash = s.model("seed_events").hash.clone();
    let (key, value) = escaped_row_naming(&hash, "run-20260520-000000-000", "seed_copy");
    add_raw_artifact_row(&s, &key, &value);
    let after = audit();
    assert_eq!(
        after.failing(),
        set(&["artifact_size_mismatch"]),
        "{}",
        after.dump()
    );
    let size = after.check("artifact.size");
    assert_eq!(size[0]["subject"]["run_id"], "run-20260520-000000-000");
    assert_eq!(after.code, 1);
}

#[test]
fn a_later_run_that_spells_the_table_with_escapes_still_supersedes() {
    // As a_superseded_run_cannot_expect_the_warehouse_count (the control), but run 2's record
    // spells seed_events with a \u escape, which the pre-decode byte search must not miss.
    let s = superseded_seed_events();
    s.write();
    let spelled = serde_json::to_string(&s.run2)
        .unwrap()
        .replace("seed_events", "\\u0073eed_events");
    assert!(!spelled.contains("seed_events"));
    put_raw_row(&s, "run_history", RUN2, &spelled);
    assert_seed_events_superseded_by_run2(&s.verify(RUN1, &[]));
}

/// The read-at seam: the same ledger read from its file and from its bytes in memory gives the
/// same report, line for line, on a clean run and on a tampered one (so the comparison is not
/// between two reports that say nothing).
#[test]
fn a_ledger_from_bytes_reports_exactly_as_from_its_file() {
    use rocky_verify::commands::run::{RunOptions, verify_run, verify_run_on};
    use rocky_verify::evidence::ledger::Ledger;

    let json = |r: &rocky_verify::report::Report| {
        let mut out = Vec::new();
        r.write_json_lines(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    for tampered in [false, true] {
        let mut s = Scenario::new();
        if tampered {
            s.run2_model("seed_events")["rows_affected"] = json!(999);
        }
        s.write();
        let opts = RunOptions {
            run_id: RUN2.to_owned(),
            ledger: s.ledger(),
            repo: s.path("repo"),
            repo_explicit: true,
            adapter: None,
            warehouse: Some(s.path("tgt.duckdb")),
            artifacts: Some(s.path("artifacts")),
            strict: false,
            ledger_scan: true,
            lake: None,
            models: None,
            signers: Default::default(),
        };
        let from_file = verify_run(&opts);
        let bytes = std::fs::read(s.ledger()).unwrap();
        let display = s.ledger().display().to_string();
        let from_bytes = verify_run_on(&opts, Ledger::from_bytes(bytes, &display));
        assert_eq!(
            from_file
                .checks
                .iter()
                .any(|c| c.outcome == rocky_verify::report::Outcome::Fail),
            tampered,
            "{}",
            json(&from_file)
        );
        assert!(from_file.ledger.as_ref().unwrap().blake3.is_some());
        assert_eq!(json(&from_file), json(&from_bytes));
    }
}
