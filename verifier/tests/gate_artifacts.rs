//! Issue 16 item 5: `gate`'s default scope (the latest run of each model) still hashes the
//! artifacts of older runs, and says which runs were in scope.

use serde_json::json;

use crate::util::{self, RUN1, RUN2, Scenario};

/// The scenario plus an older build of `stg_orders` in run 1, with its own artifact file (a
/// superseded output: run 2 is the latest writer, so run 1's `stg_orders` is out of scope).
fn with_older_build() -> (Scenario, std::path::PathBuf) {
    let mut s = Scenario::new();
    let parquet = util::parquet_bytes(&[("order_id", vec![1, 2]), ("customer_id", vec![7, 8])]);
    let hash = util::blake3_hex(&parquet);
    let file = s.path(&format!("artifacts/{hash}.parquet"));
    std::fs::write(&file, &parquet).unwrap();
    let mut prev = s.run2_model("stg_orders").clone();
    prev["started_at"] = json!("2026-05-29T09:00:01.600Z");
    prev["finished_at"] = json!("2026-05-29T09:00:01.900Z");
    prev["duration_ms"] = json!(300);
    prev["rows_affected"] = json!(2);
    prev["bytes_written"] = json!(parquet.len());
    s.run1["models_executed"].as_array_mut().unwrap().push(prev);
    let path = format!("artifacts/{hash}.parquet");
    s.artifacts.push((
        format!("{RUN1}|stg_orders|{path}"),
        json!({
            "blake3_hash": hash, "run_id": RUN1, "model_name": "stg_orders", "file_path": path,
            "commit_version": 0, "size_bytes": parquet.len(), "written_at": "2026-05-29T09:00:01.950Z",
        }),
    ));
    s.write();
    (s, file)
}

fn gate(s: &Scenario) -> util::Run {
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
    util::run_bin(&args, None)
}

#[test]
fn a_flipped_byte_in_an_older_runs_artifact_fails_the_default_gate() {
    // Control: the older build's file is intact.
    let (s, file) = with_older_build();
    let r = gate(&s);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(
        r.summary()["gate"]["run_ids"],
        json!([RUN1, RUN2]),
        "{}",
        r.dump()
    );

    util::flip_byte(&file, 40);
    let r = gate(&s);
    assert_eq!(r.code, 1, "{}", r.dump());
    let bad: Vec<_> = r
        .check("artifact.blake3")
        .into_iter()
        .filter(|c| c["outcome"] == "fail")
        .collect();
    assert_eq!(bad.len(), 1, "{}", r.dump());
    assert_eq!(bad[0]["code"], "artifact_hash_mismatch");
    assert_eq!(bad[0]["subject"]["run_id"], RUN1);
    assert_eq!(bad[0]["subject"]["model"], "stg_orders");
}
