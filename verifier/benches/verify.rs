//! Benchmarks of the two latency-critical commands, each reported as a ratio against a baseline
//! measured in the same run (never as absolute numbers in a timed test):
//!
//! 1. `rocky-verify artifact` on a 1 GiB file against `b3sum` on the same file (goal: at least
//!    0.95x b3sum's throughput). Both hash from the page cache after a warm-up read.
//! 2. `rocky-verify run latest` on a ledger of 100k runs against the same command on a ledger of
//!    1k runs (goal: latency ratio at most 2), in both modes: the default, which also hashes the
//!    whole ledger file and counts exact refcounts (both grow with the file by definition), and
//!    `--no-ledger-scan`, which runs every check of the run itself and nothing ledger-wide.
//!    Each run's `stg_orders` provenance names the previous run's `raw_orders` file as its
//!    content upstream, so the one-hop producer lookup crosses runs.
//!
//! Run with `cargo bench --manifest-path verifier/Cargo.toml --bench verify` (add
//! `--features bundled` to measure the statically linked distribution build: the default build
//! links `libduckdb.so`, whose dynamic relocation adds ~10 ms to every process start). Set
//! `ROCKY_BENCH_ARTIFACT_MIB` to change the file size, `ROCKY_BENCH_RUNS` for the large ledger,
//! `ROCKY_BENCH_DIR` to keep the generated files (for profiling).
//!
//! `ROCKY_BENCH_BASELINE_BIN=/path/to/older/rocky-verify` measures that build too, on the same
//! inputs in the same run, and prints this build's time over the older one's for each command
//! (how a redesign shows it is "no worse than before"; `scripts/bench-baseline` builds the
//! pre-redesign binary and runs both benches with it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_rocky-verify");
const RUN_HISTORY: TableDefinition<&str, &[u8]> = TableDefinition::new("run_history");
const OUTPUT_ARTIFACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("output_artifacts");
const INPUT_PROVENANCE: TableDefinition<&str, &[u8]> = TableDefinition::new("input_provenance");
const METADATA: TableDefinition<&str, &str> = TableDefinition::new("metadata");

/// This build, then the baseline build when `ROCKY_BENCH_BASELINE_BIN` names one.
fn binaries() -> Vec<(&'static str, std::path::PathBuf)> {
    let mut bins = vec![("this build", std::path::PathBuf::from(BIN))];
    if let Some(b) = std::env::var_os("ROCKY_BENCH_BASELINE_BIN") {
        bins.push(("baseline", std::path::PathBuf::from(b)));
    }
    bins
}

/// Prints this build's median over the baseline's, when both were measured.
fn versus_baseline(what: &str, medians: &[Duration]) {
    if let [ours, base] = medians {
        println!(
            "{what}: this build / baseline = {:.3} (time; <= 1 is no worse)",
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `cmd` `n` times, returning the median wall time. Output is discarded.
fn time_command(n: usize, mut cmd: impl FnMut() -> Command) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = cmd();
        let start = Instant::now();
        let out = c.output().expect("command runs");
        times.push(start.elapsed());
        assert!(out.status.code().is_some(), "command was killed");
    }
    median(times)
}

fn bench_artifact(dir: &Path) {
    let mib: usize = std::env::var("ROCKY_BENCH_ARTIFACT_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let path = dir.join("big.parquet");
    // A 251-byte repeating pattern (as BLAKE3's vectors use): incompressible enough, and cheap.
    let chunk: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for _ in 0..mib {
            f.write_all(&chunk).unwrap();
        }
        f.flush().unwrap();
    }
    let b3sum = which("b3sum");
    // Warm the page cache so both sides read from memory.
    let _ = std::fs::read(&path).map(|b| b.len());
    let mut medians = Vec::new();
    for (label, bin) in binaries() {
        let ours = time_command(7, || {
            let mut c = Command::new(&bin);
            c.args(["artifact", "--json"]).arg(&path);
            c
        });
        println!("artifact: {label}: rocky-verify artifact on {mib} MiB: median {ours:?}");
        medians.push(ours);
    }
    match b3sum {
        Some(b3) => {
            let theirs = time_command(7, || {
                let mut c = Command::new(&b3);
                c.arg(&path);
                c
            });
            println!("artifact: b3sum on {mib} MiB: median {theirs:?}");
            for ((label, _), ours) in binaries().iter().zip(&medians) {
                println!(
                    "artifact: {label}: throughput ratio rocky-verify / b3sum = {:.3}x (goal >= 0.95x)",
                    theirs.as_secs_f64() / ours.as_secs_f64()
                );
            }
        }
        None => println!("artifact: b3sum not on PATH (cargo install b3sum); no baseline ratio"),
    }
    versus_baseline("artifact", &medians);
    std::fs::remove_file(&path).ok();
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

/// The content address the bench gives model `m` of run `i`.
fn bench_hash(i: usize, m: usize) -> String {
    blake3::hash(format!("{i}/{m}").as_bytes())
        .to_hex()
        .to_string()
}

/// Writes a Rocky-shaped v22 ledger with `runs` runs of three content-addressed models each, and
/// a provenance record per run whose content upstream is the previous run's `raw_orders`.
fn build_ledger(path: &Path, runs: usize) {
    let db = Database::create(path).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut meta = tx.open_table(METADATA).unwrap();
        meta.insert("schema_version", "22").unwrap();
        let mut history = tx.open_table(RUN_HISTORY).unwrap();
        let mut artifacts = tx.open_table(OUTPUT_ARTIFACTS).unwrap();
        let mut provenance = tx.open_table(INPUT_PROVENANCE).unwrap();
        let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
        for i in 0..runs {
            let start = base + chrono::Duration::seconds(60 * i as i64);
            let started = start.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let finished = (start + chrono::Duration::seconds(3)).format("%Y-%m-%dT%H:%M:%SZ");
            let run_id = format!("run-{}-000", start.format("%Y%m%d-%H%M%S"));
            let mut models = Vec::new();
            for (m, name) in ["raw_orders", "stg_orders", "fct_revenue"]
                .iter()
                .enumerate()
            {
                let hash = bench_hash(i, m);
                models.push(json!({"model_name": name, "started_at": started,
                    "finished_at": started, "duration_ms": 0, "rows_affected": 10,
                    "status": "success", "sql_hash": "224d630126d8ca3f", "skip_hash": null,
                    "upstream_freshness": null, "bytes_scanned": null, "bytes_written": 806,
                    "tenant": null, "recipe_hash": null, "input_hash": null,
                    "input_proof_class": null, "env_hash": null, "hash_scheme": "v1",
                    "output_column_hashes": null}));
                let file_path = format!("warehouse/{name}/{hash}.parquet");
                let row = json!({"blake3_hash": hash, "run_id": run_id, "model_name": name,
                    "file_path": file_path, "commit_version": i, "size_bytes": 806,
                    "written_at": started});
                let key = format!("{run_id}|{name}|{file_path}");
                artifacts
                    .insert(key.as_str(), serde_json::to_vec(&row).unwrap().as_slice())
                    .unwrap();
            }
            let upstream = bench_hash(i.saturating_sub(1), 0);
            let prov = json!({"run_id": run_id, "model_name": "stg_orders",
                "skip_hash": "0".repeat(64), "recipe_hash": "1".repeat(64),
                "input_hash": "2".repeat(64), "proof_class": "strong", "hash_scheme": "v1",
                "upstreams": [{"kind": "content", "upstream_key": "analytics.raw.raw_orders",
                    "blake3_hash": upstream}],
                "model_ir_canonical_json": "{}", "output_blake3": [bench_hash(i, 1)],
                "output_path": [format!("warehouse/stg_orders/{}.parquet", bench_hash(i, 1))],
                "recorded_at": finished.to_string()});
            provenance
                .insert(
                    format!("{run_id}|stg_orders").as_str(),
                    serde_json::to_vec(&prov).unwrap().as_slice(),
                )
                .unwrap();
            let record = json!({"run_id": run_id, "started_at": started,
                "finished_at": finished.to_string(), "status": "Success", "models_executed": models,
                "trigger": "Schedule", "config_hash": "f1587ebeaa994df1",
                "triggering_identity": "scheduler", "session_source": "cli", "git_commit": null,
                "git_branch": null, "idempotency_key": null, "target_catalog": "analytics",
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

fn bench_run(dir: &Path) {
    let large: usize = std::env::var("ROCKY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let small_path = dir.join("small.redb");
    let large_path = dir.join("large.redb");
    for p in [&small_path, &large_path] {
        std::fs::remove_file(p).ok();
    }
    let t = Instant::now();
    build_ledger(&small_path, 1_000);
    build_ledger(&large_path, large);
    println!(
        "run: built ledgers of 1000 and {large} runs in {:?}",
        t.elapsed()
    );
    for (mode, extra) in [
        ("default", None),
        ("--no-ledger-scan", Some("--no-ledger-scan")),
    ] {
        let mut medians = Vec::new();
        for (label, bin) in binaries() {
            let time = |ledger: &Path| {
                time_command(21, || {
                    let mut c = Command::new(&bin);
                    c.args(["run", "latest", "--json", "--ledger"])
                        .arg(ledger)
                        .arg("--repo")
                        .arg(dir)
                        .args(extra);
                    c
                })
            };
            let small = time(&small_path);
            let big = time(&large_path);
            println!("run ({mode}): {label}: `run latest` on 1000 runs: median {small:?}");
            println!("run ({mode}): {label}: `run latest` on {large} runs: median {big:?}");
            println!(
                "run ({mode}): {label}: latency ratio {large} / 1000 runs = {:.2} (goal <= 2)",
                big.as_secs_f64() / small.as_secs_f64()
            );
            medians.push(big);
        }
        versus_baseline(&format!("run ({mode}) on {large} runs"), &medians);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a filter.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    // ROCKY_BENCH_DIR keeps the generated files for profiling; otherwise a temp dir is used.
    let kept = std::env::var_os("ROCKY_BENCH_DIR").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let dir = kept.as_deref().unwrap_or(temp.path());
    std::fs::create_dir_all(dir).unwrap();
    if wanted("artifact") {
        bench_artifact(dir);
    }
    if wanted("run") {
        bench_run(dir);
    }
}
