//! Benchmark of `rocky-verify gate` at scale, reported as a ratio against a baseline measured in
//! the same run (never as absolute numbers in a timed test):
//!
//! - a ledger of 10k runs over 1k tables (three models per run, so every table is rewritten about
//!   thirty times), written with raw redb 2 in the spec's record shapes (the verifier cannot use
//!   the writer), and a DuckDB file with 1k small tables whose counts match the latest runs;
//! - **gate**: `rocky-verify gate --ledger L --warehouse W --json` as a subprocess (the default
//!   scope: the latest run of each of the 1k tables, so 1k tables existence, count and column
//!   checks), wall time including process start, ledger hash and decode;
//! - **baseline**: in this process, open the DuckDB file read-only and run one
//!   `SELECT count(*)` per table (1k queries), the cheapest way to look at every table at all
//!   (DuckDB answers it from row-group metadata);
//! - **baseline reading rows**: the same with `SELECT count(r) FROM t AS r`, which makes DuckDB
//!   read and checksum every block, as the gate's row count does (a count from metadata alone
//!   would not notice a damaged table), so the ratio to it is the cost of everything else.
//!
//! Goal: gate / baseline at most 2. Run with
//! `cargo bench --manifest-path verifier/Cargo.toml --bench gate`; `ROCKY_BENCH_GATE_RUNS` and
//! `ROCKY_BENCH_GATE_TABLES` change the sizes; `ROCKY_BENCH_GATE_DIR` keeps the inputs there.
//! `ROCKY_BENCH_BASELINE_BIN=/path/to/older/rocky-verify` times that build's gate too, alternated
//! with this one on the same inputs, and prints this build's time over the older one's.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_rocky-verify");
const JSON_TABLES: &[&str] = &[
    "run_history",
    "output_artifacts",
    "input_index",
    "input_provenance",
    "watermarks",
    "check_history",
    "branches",
];
const METADATA: TableDefinition<&str, &str> = TableDefinition::new("metadata");
const MODELS_PER_RUN: usize = 3;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn table_name(t: usize) -> String {
    format!("t{t:04}")
}

/// Rows of table `t` in the warehouse (and the latest run's `rows_affected` for it).
fn rows_of(t: usize) -> u64 {
    (t % 7 + 1) as u64
}

/// Run `r` writes tables `(r * 3 + k) % tables` for k in 0..3, so each table's last writer is
/// one of the last `tables / 3` runs.
fn tables_of(r: usize, tables: usize) -> impl Iterator<Item = usize> {
    (0..MODELS_PER_RUN).map(move |k| (r * MODELS_PER_RUN + k) % tables)
}

fn build_ledger(path: &Path, runs: usize, tables: usize) {
    let db = Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut meta = tx.open_table(METADATA).unwrap();
        meta.insert("schema_version", "22").unwrap();
        // The records carry rocky-writer's extension fields (`target_table`, `materialization`),
        // and rocky-writer stamps its ledgers (`ledger.metadata` holds it to that).
        meta.insert("producer", "rocky-writer/0.1.0").unwrap();
        for name in JSON_TABLES {
            tx.open_table(TableDefinition::<&str, &[u8]>::new(name))
                .unwrap();
        }
        let mut history = tx
            .open_table(TableDefinition::<&str, &[u8]>::new("run_history"))
            .unwrap();
        let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
        for r in 0..runs {
            let start = base + chrono::Duration::seconds(60 * r as i64);
            let started = start.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let finished = (start + chrono::Duration::seconds(3))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            let run_id = format!("run-{}-000", start.format("%Y%m%d-%H%M%S"));
            let models: Vec<_> = tables_of(r, tables)
                .map(|t| {
                    json!({"model_name": table_name(t), "started_at": started,
                        "finished_at": started, "duration_ms": 0, "rows_affected": rows_of(t),
                        "status": "success", "sql_hash": "224d630126d8ca3f", "skip_hash": null,
                        "upstream_freshness": null, "bytes_scanned": null, "bytes_written": null,
                        "tenant": null, "recipe_hash": null, "input_hash": null,
                        "input_proof_class": null, "env_hash": null, "hash_scheme": "v1",
                        "output_column_hashes": null, "materialization": "full_refresh",
                        "target_table": format!("wh.main.{}", table_name(t))})
                })
                .collect();
            let record = json!({"run_id": run_id, "started_at": started,
                "finished_at": finished, "status": "Success", "models_executed": models,
                "trigger": "Schedule", "config_hash": "f1587ebeaa994df1",
                "triggering_identity": "scheduler", "session_source": "cli", "git_commit": null,
                "git_branch": null, "idempotency_key": null, "target_catalog": "wh",
                "hostname": "worker-1", "rocky_version": "1.71.0", "check_outcomes": [],
                "pipeline": null, "submission_id": null});
            history
                .insert(
                    run_id.as_str(),
                    serde_json::to_vec(&record).unwrap().as_slice(),
                )
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn build_warehouse(path: &Path, tables: usize) {
    let conn = duckdb::Connection::open(path).unwrap();
    let mut sql = String::from("BEGIN;");
    for t in 0..tables {
        let name = table_name(t);
        sql.push_str(&format!(
            "CREATE TABLE main.{name} AS SELECT range AS id, 'x' || range AS label \
             FROM range({});",
            rows_of(t)
        ));
    }
    sql.push_str("COMMIT; CHECKPOINT;");
    conn.execute_batch(&sql).unwrap();
}

/// One count per table, on a fresh read-only connection: `count(*)`, or with `rows` the
/// row-reading `count(r)`.
fn baseline(path: &Path, tables: usize, rows: bool) -> Duration {
    let start = Instant::now();
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    let conn = duckdb::Connection::open_with_flags(path, config).unwrap();
    let mut total = 0i64;
    for t in 0..tables {
        let sql = if rows {
            format!("SELECT count(r) FROM main.{} AS r", table_name(t))
        } else {
            format!("SELECT count(*) FROM main.{}", table_name(t))
        };
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
        total += n;
    }
    assert!(total > 0);
    start.elapsed()
}

fn gate(bin: &Path, ledger: &Path, warehouse: &Path) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(bin)
        .args(["gate", "--json", "--ledger"])
        .arg(ledger)
        .arg("--warehouse")
        .arg(warehouse)
        .output()
        .expect("rocky-verify runs");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the gate passes on the consistent ledger:\n{}\n{}",
        stdout.lines().last().unwrap_or(""),
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, stdout.lines().last().unwrap_or("").to_owned())
}

fn main() {
    let runs = env("ROCKY_BENCH_GATE_RUNS", 10_000);
    let tables = env("ROCKY_BENCH_GATE_TABLES", 1_000);
    assert!(
        runs * MODELS_PER_RUN >= tables,
        "every table needs a writer"
    );
    // ROCKY_BENCH_GATE_DIR keeps the inputs (to profile the gate by hand).
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("ROCKY_BENCH_GATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.redb");
    let warehouse = dir.join("wh.duckdb");
    for p in [&ledger, &warehouse] {
        std::fs::remove_file(p).ok();
    }
    let t = Instant::now();
    build_ledger(&ledger, runs, tables);
    build_warehouse(&warehouse, tables);
    println!(
        "gate: built a ledger of {runs} runs over {tables} tables and the warehouse in {:?}",
        t.elapsed()
    );

    let bin = Path::new(BIN);
    let base_bin = std::env::var_os("ROCKY_BENCH_BASELINE_BIN").map(std::path::PathBuf::from);
    // Warm-up (page cache, dynamic loader), then alternate so drift affects both sides alike.
    let (_, summary) = gate(bin, &ledger, &warehouse);
    if let Some(older) = &base_bin {
        gate(older, &ledger, &warehouse);
    }
    baseline(&warehouse, tables, false);
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    println!(
        "gate: {} checks passed, scope {} run(s) / {} model(s)",
        summary["data"]["counts"]["pass"],
        summary["data"]["gate"]["runs"],
        summary["data"]["gate"]["models"]
    );
    let mut g = Vec::new();
    let mut b = Vec::new();
    let mut b_rows = Vec::new();
    let mut older = Vec::new();
    for _ in 0..7 {
        g.push(gate(bin, &ledger, &warehouse).0);
        b.push(baseline(&warehouse, tables, false));
        b_rows.push(baseline(&warehouse, tables, true));
        if let Some(o) = &base_bin {
            older.push(gate(o, &ledger, &warehouse).0);
        }
    }
    let (g, b) = (median(g), median(b));
    let ratio = g.as_secs_f64() / b.as_secs_f64();
    println!(
        "gate: rocky-verify gate {g:?} vs {tables} x SELECT count(*) {b:?}: ratio {ratio:.2} (goal <= 2.00) {}",
        if ratio <= 2.0 { "OK" } else { "OVER GOAL" }
    );
    let b_rows = median(b_rows);
    println!(
        "gate: rocky-verify gate {g:?} vs {tables} x SELECT count(r) (reads every block) {b_rows:?}: ratio {:.2}",
        g.as_secs_f64() / b_rows.as_secs_f64()
    );
    if !older.is_empty() {
        let o = median(older);
        println!(
            "gate: baseline build's gate {o:?}: ratio {:.2} to count(*); this build / baseline = {:.3} (time; <= 1 is no worse)",
            o.as_secs_f64() / b.as_secs_f64(),
            g.as_secs_f64() / o.as_secs_f64()
        );
    }
}
