//! The tamper matrix: each test applies exactly one mutation to a freshly copied demo (two runs
//! recorded by rocky-writer, a git repository, a DuckDB warehouse and the Parquet artifacts) and
//! asserts that `rocky-verify run` reports exactly the expected failing finding codes and exits 1.
//! The untampered control must pass with exit 0, or a verifier that rejects everything would pass
//! this whole file.
//!
//! Only mutations that need the writer's own demo live here (swapped artifacts, a commit that
//! exists but predates an edit, an uncommitted edit, heuristic provenance, ...). A tampering the
//! verifier's own scenario can express has its one home in `verifier/tests/run_cmd.rs`.

use std::collections::BTreeSet;

use rocky_e2e::{INPUT_PROVENANCE, OUTPUT_ARTIFACTS, RUN_HISTORY, Scenario, Verdict};
use rocky_examples::{Clock, Layout};
use serde_json::{Value, json};

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

/// Asserts exit 1 and exactly `expected` as the set of failing codes.
fn assert_fails_with(v: &Verdict, expected: &[&str]) {
    assert_eq!(v.fail_codes(), set(expected), "{}", v.explain());
    assert_eq!(v.code, 1, "{}", v.explain());
}

fn passed_checks(v: &Verdict) -> BTreeSet<String> {
    v.checks()
        .filter(|c| c["outcome"] == "pass")
        .map(|c| c["check"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn untampered_demo_passes_every_check_that_can_run() {
    let s = Scenario::demo();
    let run = s.latest_run();
    let v = s.verify_run(&run);
    assert_eq!(v.fail_codes(), BTreeSet::new(), "{}", v.explain());
    assert_eq!(v.codes("unknown"), BTreeSet::new(), "{}", v.explain());
    assert_eq!(v.code, 0, "{}", v.explain());
    // Not vacuous: the checks that matter ran and passed.
    let passed = passed_checks(&v);
    for check in [
        "artifact.blake3",
        "artifact.size",
        "git.commit",
        "git.config_hash",
        "model.sql_hash",
        "provenance.recipe_hash",
        "provenance.skip_hash",
        "provenance.input_hash",
        "warehouse.row_count",
        "warehouse.columns",
    ] {
        assert!(
            passed.contains(check),
            "{check} did not pass\n{}",
            v.explain()
        );
    }
    let summary = v.lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["data"]["verdict"], "pass");
}

#[test]
fn the_earlier_run_also_verifies() {
    let s = Scenario::demo();
    let first = s.keys(RUN_HISTORY, "").into_iter().next().unwrap();
    let v = s.verify_run(&first);
    assert_eq!(v.fail_codes(), BTreeSet::new(), "{}", v.explain());
    assert_eq!(v.code, 0, "{}", v.explain());
}

#[test]
fn two_artifacts_swapped_are_both_mismatches() {
    let s = Scenario::demo();
    let run = s.latest_run();
    let a = s.artifact_of(&run, "raw_orders");
    let b = s.artifact_of(&run, "stg_orders");
    let tmp = a.with_extension("swap");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    let v = s.verify_run(&run);
    // raw_orders and stg_orders are also upstreams of the next model, so the one-hop check finds
    // their files do not hash to what the downstream provenance recorded.
    assert_fails_with(
        &v,
        &[
            "artifact_hash_mismatch",
            "artifact_row_count_mismatch",
            "artifact_size_mismatch",
            "upstream_hash_mismatch",
        ],
    );
    let mismatched: BTreeSet<_> = v
        .checks()
        .filter(|c| c["code"] == "artifact_hash_mismatch")
        .map(|c| c["subject"]["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        mismatched,
        set(&["raw_orders", "stg_orders"]),
        "{}",
        v.explain()
    );
}

#[test]
fn deleted_artifact_row_contradicts_the_provenance_record() {
    let s = Scenario::demo();
    let run = s.latest_run();
    let key = s
        .keys(OUTPUT_ARTIFACTS, &format!("{run}|fct_revenue|"))
        .pop()
        .unwrap();
    assert!(s.remove_row(OUTPUT_ARTIFACTS, &key).is_some());
    assert_fails_with(&s.verify_run(&run), &["provenance_output_mismatch"]);
}

#[test]
fn git_commit_changed_to_the_previous_commit_mismatches_the_sql() {
    // The first run's commit exists, but fct_revenue changed after it.
    let s = Scenario::demo();
    let runs = s.keys(RUN_HISTORY, "");
    let first_commit = {
        let mut commit = String::new();
        s.edit_rows(RUN_HISTORY, &runs[0], |_, v| {
            commit = v["git_commit"].as_str().unwrap().to_owned();
            false
        });
        commit
    };
    s.edit_rows(RUN_HISTORY, &runs[1], |_, v| {
        v["git_commit"] = json!(first_commit);
        true
    });
    assert_fails_with(&s.verify_run(&runs[1]), &["sql_hash_mismatch"]);
}

#[test]
fn model_run_from_an_uncommitted_edit_mismatches_the_recorded_commit() {
    // The engine ran a working-tree edit of stg_orders, recorded HEAD, and the edit was only
    // committed afterwards: the SQL that ran is not the SQL at the recorded commit.
    let s = Scenario::demo();
    let mut clock = Clock::fixed();
    clock.advance(chrono::Duration::hours(2));
    let edited = rocky_examples::STG_ORDERS_SQL.replace("lower(customer)", "upper(customer)");
    rocky_examples::write_project_file(&s.layout, &Layout::model_path("stg_orders"), &edited)
        .unwrap();
    let run = rocky_examples::run_pipeline(&s.layout, &mut clock)
        .unwrap()
        .run_id;
    rocky_examples::commit_all(&s.layout, &mut clock, "stg_orders: upper-case names").unwrap();
    assert_fails_with(&s.verify_run(&run), &["sql_hash_mismatch"]);
}

#[test]
fn skip_hash_edited_breaks_skip_and_input_hash() {
    let s = Scenario::demo();
    let run = s.latest_run();
    s.edit_rows(INPUT_PROVENANCE, &format!("{run}|fct_revenue"), |_, v| {
        v["skip_hash"] = json!("cd".repeat(32));
        true
    });
    assert_fails_with(
        &s.verify_run(&run),
        &["input_hash_mismatch", "skip_hash_mismatch"],
    );
}

/// Rewrites one provenance record so that its single upstream is a watermark (heuristic) with a
/// consistent input_hash and proof_class: a legitimate heuristic record.
fn make_heuristic(s: &Scenario, run: &str, proof_class: &str) {
    let mut rekey = None;
    s.edit_rows(INPUT_PROVENANCE, &format!("{run}|fct_revenue"), |_, v| {
        let old_hash = v["input_hash"].as_str().unwrap().to_owned();
        let up = json!({"kind": "watermark", "upstream_key": "demo.main.stg_orders",
            "max_ts": "2026-11-20T10:00:00Z", "row_count": 5});
        let ir: Value =
            serde_json::from_str(v["model_ir_canonical_json"].as_str().unwrap()).unwrap();
        let t = &ir["target"];
        let target = format!(
            "{}.{}.{}",
            t["catalog"].as_str().unwrap(),
            t["schema"].as_str().unwrap(),
            t["table"].as_str().unwrap()
        );
        let upstreams: Vec<rocky_writer::records::UpstreamIdentity> =
            vec![serde_json::from_value(up.clone()).unwrap()];
        let input_hash = rocky_writer::identity::input_hash(
            v["skip_hash"].as_str().unwrap(),
            &target,
            &upstreams,
        );
        v["upstreams"] = json!([up]);
        v["input_hash"] = json!(input_hash);
        v["proof_class"] = json!(proof_class);
        rekey = Some((old_hash, input_hash));
        true
    });
    // The writer keeps an input_index entry per provenance row, keyed by its input_hash and
    // repeating its proof class: a consistent rewrite moves it too.
    let (old_hash, new_hash) = rekey.expect("the provenance row exists");
    let table = redb::TableDefinition::<&str, &[u8]>::new("input_index");
    let bytes = s
        .remove_row(table, &old_hash)
        .expect("its input_index entry exists");
    let mut entry: Value = serde_json::from_slice(&bytes).unwrap();
    entry["input_hash"] = json!(new_hash);
    entry["proof_class"] = json!(proof_class);
    s.put_raw(table, &new_hash, &serde_json::to_vec(&entry).unwrap());
}

#[test]
fn heuristic_record_with_honest_proof_class_is_unverifiable_not_failed() {
    let s = Scenario::demo();
    let run = s.latest_run();
    make_heuristic(&s, &run, "heuristic");
    let v = s.verify_run(&run);
    assert_eq!(v.fail_codes(), BTreeSet::new(), "{}", v.explain());
    assert!(
        v.codes("unverifiable")
            .contains("upstream_heuristic_unexpected"),
        "{}",
        v.explain()
    );
    assert_eq!(v.code, 0, "{}", v.explain());
}

#[test]
fn proof_class_raised_to_strong_is_a_mismatch() {
    let s = Scenario::demo();
    let run = s.latest_run();
    make_heuristic(&s, &run, "strong");
    assert_fails_with(&s.verify_run(&run), &["proof_class_mismatch"]);
}

#[test]
fn canonical_ir_reordered_is_not_canonical_and_breaks_recipe_hash() {
    let s = Scenario::demo();
    let run = s.latest_run();
    s.edit_rows(INPUT_PROVENANCE, &format!("{run}|fct_revenue"), |_, v| {
        let ir: serde_json::Map<String, Value> =
            serde_json::from_str(v["model_ir_canonical_json"].as_str().unwrap()).unwrap();
        // Same content, keys in reverse order.
        let body: Vec<String> = ir
            .iter()
            .rev()
            .map(|(k, val)| format!("{}:{}", serde_json::to_string(k).unwrap(), val))
            .collect();
        v["model_ir_canonical_json"] = json!(format!("{{{}}}", body.join(",")));
        true
    });
    assert_fails_with(
        &s.verify_run(&run),
        &["ir_canonical_json_invalid", "recipe_hash_mismatch"],
    );
}

/// Every file under `dir` with its bytes' BLAKE3 and mtime.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                let mtime = e.metadata().unwrap().modified().unwrap();
                out.push((e.path(), blake3::hash(&bytes).to_hex().to_string(), mtime));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn verifying_never_writes_to_any_evidence() {
    // Ledger, warehouse, artifacts and the git repository (objects, refs, index) are all under
    // the demo root; none may change by a single byte or timestamp, and nothing may be added.
    let s = Scenario::demo();
    // (The harness reads the run id with redb's Database::open, which itself touches the file's
    // mtime; that is exactly why the verifier never uses it. Read it before the snapshot.)
    let run = s.latest_run();
    let before = snapshot(&s.layout.root);
    let v = s.verify_run(&run);
    assert_eq!(v.code, 0, "{}", v.explain());
    assert_eq!(snapshot(&s.layout.root), before);
}
