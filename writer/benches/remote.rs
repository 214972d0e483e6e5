//! Remote state throughput (run with `cargo bench -p rocky-writer --features remote --bench
//! remote`): upload plus download of a ~100 MB ledger through each backend (s3, valkey, tiered),
//! against moving the same bytes with each server's plain client in the same run: `redis-cli`
//! (`SET` from the file, `GET` to a file) and boto3 (`put_object`, `get_object` to a file),
//! timed inside Python so interpreter start-up is not counted against boto3.
//!
//! "Ours" is the whole lifecycle a run pays: `finalize` (copy under the lock, drop the local-only
//! tables, PUT/SET) plus `acquire` on an empty folder (GET, redb integrity check, merge of the
//! local-only tables, fsync, rename). "Legs" is the network part of it alone (the report's leg
//! times). The servers are started here on loopback (needs `scripts/servers install`).
//!
//! `ROCKY_BENCH_REMOTE_MB` sets the size (default 100); `ROCKY_BENCH_DIR` the folder.

#[allow(dead_code)]
#[path = "../tests/remote/support/servers.rs"]
mod servers;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use redb::{Database, TableDefinition};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::remote::{
    Backend, S3Location, StateConfig, StateSync, SyncReport, ValkeyLocation,
};
use rocky_writer::{Ledger, ModelDraft, RunDraft};

const BUCKET: &str = "rocky-state";
const REPS: usize = 3;

fn build_ledger(path: &Path, mb: usize) {
    {
        let l = Ledger::create_or_open(path).unwrap();
        let now = Utc::now();
        let ir = ModelIr::new(
            "orders",
            "SELECT 1 AS id",
            TableRef::new("wh", "main", "orders"),
            MaterializationStrategy::FullRefresh,
            vec![TypedColumn {
                name: "id".into(),
                data_type: RockyType::Int64,
                nullable: false,
            }],
        );
        let mut run = RunDraft::new(now, now, "bench");
        run.models
            .push(ModelDraft::new(ir, "models/orders.sql", now, now));
        l.record_run(run).unwrap();
    }
    // Filler in a replicated table, in rows of non-repeating bytes, until the file is `mb` MB
    // (redb rounds large values up to power-of-two pages, so rows are kept small).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let target = (mb * 1_000_000) as u64;
    let mut i = 0;
    while std::fs::metadata(path).unwrap().len() < target {
        let db = Database::open(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: TableDefinition<&str, &[u8]> = TableDefinition::new("dag_snapshots");
            let mut t = txn.open_table(def).unwrap();
            for _ in 0..64 {
                let row: Vec<u8> = (0..60_000)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                t.insert(format!("filler-{i:06}").as_str(), row.as_slice())
                    .unwrap();
                i += 1;
            }
        }
        txn.commit().unwrap();
    }
}

fn legs_time(report: &SyncReport) -> Duration {
    report
        .download
        .iter()
        .chain(report.upload.iter())
        .flat_map(|t| t.legs.iter())
        .map(|l| l.elapsed)
        .sum()
}

/// One upload (of `source`) plus one download on an empty folder: (total, legs).
fn ours(config: &StateConfig, source: &Path, scratch: &Path) -> (Duration, Duration) {
    let mut sync = StateSync::new(config.clone()).unwrap();
    let up_dir = scratch.join("up");
    let _ = std::fs::remove_dir_all(&up_dir);
    let ledger = up_dir.join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    std::fs::copy(source, &ledger).unwrap(); // the run's writes
    let t = Instant::now();
    let up = sync.finalize(session).unwrap();
    let up_total = t.elapsed();
    let up_legs = legs_time(&SyncReport {
        download: None,
        ..up
    });
    let down_dir = scratch.join("down");
    let _ = std::fs::remove_dir_all(&down_dir);
    let t = Instant::now();
    let session = sync.acquire(down_dir.join(".rocky-state.redb")).unwrap();
    let down_total = t.elapsed();
    let down_legs = legs_time(sync.report());
    let download = sync.report().download.clone().unwrap();
    assert!(download.outcome.is_success(), "{download:?}");
    drop(session);
    (up_total + down_total, up_legs + down_legs)
}

fn redis_cli_set(port: u16, file: &Path) -> Duration {
    let t = Instant::now();
    let status = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "-x", "SET", "plain:state.redb"])
        .stdin(std::fs::File::open(file).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    t.elapsed()
}

fn redis_cli_get(port: u16, out: &Path) -> Duration {
    let t = Instant::now();
    let status = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--raw", "GET", "plain:state.redb"])
        .stdout(std::fs::File::create(out).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    t.elapsed()
}

const BOTO3: &str = r#"
import os, sys, time, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
t = time.perf_counter()
with open(sys.argv[2], "rb") as f:
    s3.put_object(Bucket=sys.argv[4], Key="plain/state.redb", Body=f)
if sys.argv[5] == "put+get":
    with open(sys.argv[3], "wb") as f:
        f.write(s3.get_object(Bucket=sys.argv[4], Key="plain/state.redb")["Body"].read())
print(time.perf_counter() - t)
"#;

fn boto3(port: u16, file: &Path, out: &Path, what: &str) -> Duration {
    // The Python of scripts/servers' virtual environment, the one with boto3.
    let output = Command::new("rocky-servers-python")
        .args(["-c", BOTO3, &format!("http://127.0.0.1:{port}")])
        .arg(file)
        .arg(out)
        .arg(BUCKET)
        .arg(what)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    Duration::from_secs_f64(secs)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes benches this way.
    }
    let mb: usize = std::env::var("ROCKY_BENCH_REMOTE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let base = std::env::var_os("ROCKY_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let s3 = servers::Server::moto(BUCKET);
    let v = servers::Server::redis();
    let source = dir.path().join("source.redb");
    build_ledger(&source, mb);
    let size = std::fs::metadata(&source).unwrap().len();
    let out = dir.path().join("plain.out");
    println!(
        "remote state: upload + download of a {:.1} MB ledger, median of {REPS} (loopback, {} build)",
        size as f64 / 1e6,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "backend", "ours s", "legs s", "plain s", "ours/plain", "legs/plain"
    );
    let s3loc = S3Location {
        endpoint: Some(format!("http://127.0.0.1:{}", s3.port)),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        ..S3Location::new(BUCKET)
    };
    let vloc = ValkeyLocation::new(format!("redis://127.0.0.1:{}", v.port));
    let cases: [(&str, Backend); 3] = [
        ("s3", Backend::S3(s3loc.clone())),
        ("valkey", Backend::Valkey(vloc.clone())),
        (
            "tiered",
            Backend::Tiered {
                s3: s3loc,
                valkey: vloc,
            },
        ),
    ];
    for (name, backend) in cases {
        let config = StateConfig::new(backend);
        let (mut totals, mut legs, mut plains) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPS {
            let (total, leg) = ours(&config, &source, dir.path());
            totals.push(total);
            legs.push(leg);
            // The plain clients move the same bytes the same way; tiered is a SET and a PUT up
            // and a GET from Valkey down (a cache hit), as ours does.
            let plain = match name {
                "s3" => boto3(s3.port, &source, &out, "put+get"),
                "valkey" => redis_cli_set(v.port, &source) + redis_cli_get(v.port, &out),
                _ => {
                    redis_cli_set(v.port, &source)
                        + boto3(s3.port, &source, &out, "put")
                        + redis_cli_get(v.port, &out)
                }
            };
            plains.push(plain);
        }
        let (t, l, p) = (median(totals), median(legs), median(plains));
        println!(
            "{name:<8} {:>10.2} {:>10.2} {:>10.2} {:>12.2} {:>12.2}",
            t.as_secs_f64(),
            l.as_secs_f64(),
            p.as_secs_f64(),
            t.as_secs_f64() / p.as_secs_f64(),
            l.as_secs_f64() / p.as_secs_f64()
        );
    }
}
