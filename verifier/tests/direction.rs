//! `expected` is what the ledger claims, `actual` what the independent source shows
//! (`spec/report.md`, "Direction of expected and actual"): for every check that fills both, a
//! tamper that makes it fail, and the two sides compared with the value the ledger holds and the
//! value the source holds. The untampered control passes with both sides equal.

use serde_json::{Value, json};

use crate::util::{self, RUN2, Scenario};

/// Tampers, verifies run 2, and returns the first failing check of `check`.
fn failing(tamper: impl FnOnce(&mut Scenario), check: &str) -> Value {
    let mut s = Scenario::new();
    tamper(&mut s);
    s.write();
    let r = s.verify(RUN2, &[]);
    r.check(check)
        .into_iter()
        .find(|c| c["outcome"] == "fail")
        .cloned()
        .unwrap_or_else(|| panic!("no failing {check}:\n{}", r.dump()))
}

#[test]
fn the_untampered_control_has_equal_sides() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for id in [
        "artifact.blake3",
        "artifact.size",
        "warehouse.row_count",
        "model.sql_hash",
        "git.config_hash",
        "run.id",
    ] {
        for c in r.check(id) {
            assert_eq!(c["expected"], c["actual"], "{c}");
        }
    }
}

#[test]
fn row_count_expected_is_rows_affected_and_actual_the_warehouse() {
    let c = failing(
        |s| {
            util::warehouse_sql(
                &s.path("tgt.duckdb"),
                "DELETE FROM raw.seed_events WHERE id = 1",
            )
        },
        "warehouse.row_count",
    );
    let s = Scenario::new();
    let recorded = s.model("seed_events").rows;
    assert_eq!(c["expected"], json!(recorded), "{c}");
    assert_eq!(c["actual"], json!(recorded - 1), "{c}");
}

#[test]
fn artifact_hash_expected_is_the_recorded_hash_and_actual_the_bytes() {
    let mut bytes_hash = String::new();
    let c = failing(
        |s| {
            let f = s.artifact_file("seed_events");
            util::flip_byte(&f, 8);
            bytes_hash = util::blake3_hex(&std::fs::read(&f).unwrap());
        },
        "artifact.blake3",
    );
    let recorded = Scenario::new().model("seed_events").hash.clone();
    assert_eq!(c["expected"], json!(recorded), "{c}");
    assert_eq!(c["actual"], json!(bytes_hash), "{c}");
}

#[test]
fn artifact_size_expected_is_size_bytes_and_actual_the_file() {
    let mut file_len = 0u64;
    let c = failing(
        |s| {
            s.artifacts[1].1["size_bytes"] = json!(1);
            let path = s.path(s.artifacts[1].1["file_path"].as_str().unwrap());
            file_len = std::fs::metadata(path).unwrap().len();
        },
        "artifact.size",
    );
    assert_eq!(c["expected"], json!(1), "{c}");
    assert_eq!(c["actual"], json!(file_len), "{c}");
}

#[test]
fn sql_hash_expected_is_the_recorded_hash_and_actual_the_committed_source() {
    let edited = util::blake3_hex(b"SELECT 2");
    let c = failing(
        |s| s.run2_model("stg_orders")["sql_hash"] = json!(edited),
        "model.sql_hash",
    );
    let source = util::blake3_hex(Scenario::new().model("stg_orders").sql.as_bytes());
    assert_eq!(c["expected"], json!(edited), "{c}");
    assert_eq!(c["actual"], json!(source), "{c}");
}

#[test]
fn config_hash_expected_is_the_recorded_fingerprint_and_actual_the_file_at_the_commit() {
    let c = failing(
        |s| s.run2["config_hash"] = json!("0123456789abcdef"),
        "git.config_hash",
    );
    assert_eq!(c["expected"], json!("0123456789abcdef"), "{c}");
    assert_eq!(c["actual"], json!(util::ROCKY_TOML_CONFIG_HASH), "{c}");
}

#[test]
fn run_id_expected_is_the_key_and_actual_the_id_started_at_gives() {
    let c = failing(
        |s| s.run2["started_at"] = json!("2026-05-30T11:04:21.643494123Z"),
        "run.id",
    );
    assert_eq!(c["expected"], json!(RUN2), "{c}");
    assert_eq!(c["actual"], json!("run-20260530-110421-643"), "{c}");
}

#[test]
fn duration_expected_is_duration_ms_and_actual_the_times_difference() {
    let c = failing(
        |s| s.run2_model("seed_events")["duration_ms"] = json!(999),
        "model.window",
    );
    assert_eq!(c["expected"], json!(999), "{c}");
    assert_ne!(c["actual"], json!(999), "{c}");
}
