//! `rocky-collect` against a plain object_store download of the same objects at the same
//! parallelism, from moto's S3 server on loopback: the ratio is the cost of what the collector
//! adds (listing with ETags, If-Match reads, hashing on the fly, the manifest). Goal: at most 1.2.
//!
//! `cargo bench --manifest-path verifier/Cargo.toml -p rocky-collect --bench collect`
//!
//! Size: 1,000 artifacts totalling 1,000 MB by default; `ROCKY_COLLECT_BENCH_MB` and
//! `ROCKY_COLLECT_BENCH_COUNT` make it smaller for a quick run; `ROCKY_COLLECT_BENCH_PARALLEL`
//! sets the parallelism of both sides (default 16); `ROCKY_COLLECT_BENCH_ROUNDS` the number of
//! rounds (default 4), which alternate the order (plain first, collect first, collect first,
//! plain first) and start each side with the other's output removed and synced to disk.

#[allow(dead_code)]
#[path = "../tests/support/servers.rs"]
mod servers;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use redb::TableDefinition;
use serde_json::json;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let total_mb = env_num("ROCKY_COLLECT_BENCH_MB", 1000);
    let count = env_num("ROCKY_COLLECT_BENCH_COUNT", 1000).max(1);
    let parallel = env_num("ROCKY_COLLECT_BENCH_PARALLEL", 16).max(1);
    let size = (total_mb << 20) / count;
    let _ = rustls::crypto::ring::default_provider().install_default();

    let moto = servers::moto();
    let (status, _) = servers::http(moto.port, "PUT", "/lake", b"");
    assert_eq!(status, 200, "create bucket");
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let store = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_bucket_name("lake")
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // The objects, and a ledger naming each as one run's artifact.
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    let mut rows = Vec::new();
    eprintln!("uploading {count} objects of {size} bytes ({total_mb} MB)...");
    rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..count {
            let mut bytes = vec![0u8; size];
            for (j, b) in bytes.iter_mut().enumerate() {
                *b = (j as u32)
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(i as u32) as u8;
            }
            // The index itself too: the pattern alone repeats every 256 objects, and equal bytes
            // are one content address (one file in the bundle).
            bytes[..8.min(size)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(size)]);
            let hash = blake3::hash(&bytes).to_hex().to_string();
            let key = format!("lake/bench/{hash}.parquet");
            keys.push(key.clone());
            rows.push((i, hash, key.clone(), size));
            let store = Arc::clone(&store);
            let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
            set.spawn(async move {
                let _p = permit;
                store
                    .put(&ObjPath::from(key), PutPayload::from(bytes))
                    .await
                    .unwrap();
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    let ledger = dir.path().join("ledger.redb");
    {
        let db = redb::Database::create(&ledger).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn
                .open_table(TableDefinition::<&str, &str>::new("metadata"))
                .unwrap();
            meta.insert("schema_version", "22").unwrap();
            let json = |n| TableDefinition::<&str, &[u8]>::new(n);
            let run = "run-20261201-090000-000";
            let record = json!({
                "run_id": run, "started_at": "2026-12-01T09:00:00Z",
                "finished_at": "2026-12-01T09:00:00Z", "status": "Success", "models_executed": [],
                "trigger": "Manual", "config_hash": "unknown", "session_source": "cli",
                "hostname": "h", "rocky_version": "1.71.0",
            });
            txn.open_table(json("run_history"))
                .unwrap()
                .insert(run, serde_json::to_vec(&record).unwrap().as_slice())
                .unwrap();
            let mut arts = txn.open_table(json("output_artifacts")).unwrap();
            for (i, hash, key, size) in &rows {
                let v = json!({
                    "blake3_hash": hash, "run_id": run, "model_name": "bench", "file_path": key,
                    "commit_version": i, "size_bytes": size, "written_at": "2026-12-01T09:00:00Z",
                });
                arts.insert(
                    format!("{run}|bench|{key}").as_str(),
                    serde_json::to_vec(&v).unwrap().as_slice(),
                )
                .unwrap();
            }
        }
        txn.commit().unwrap();
    }

    // Plain: GET each object and stream it to a file, `parallel` at a time.
    let plain_run = |into: &std::path::Path| {
        std::fs::create_dir(into).unwrap();
        let t = Instant::now();
        rt.block_on(async {
            let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
            let mut set = tokio::task::JoinSet::new();
            for (i, key) in keys.iter().enumerate() {
                let store = Arc::clone(&store);
                let key = key.clone();
                let path = into.join(format!("{i}"));
                let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
                set.spawn(async move {
                    let _p = permit;
                    let got = store.get(&ObjPath::from(key)).await.unwrap();
                    let mut f = std::io::BufWriter::with_capacity(
                        1 << 20,
                        std::fs::File::create(path).unwrap(),
                    );
                    let mut s = got.into_stream();
                    while let Some(chunk) = s.next().await {
                        f.write_all(&chunk.unwrap()).unwrap();
                    }
                    f.flush().unwrap();
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        });
        t.elapsed()
    };

    // The collector: the whole command, ledger to manifest.
    let collect_run = |out: &std::path::Path| {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_rocky-collect"))
            .args([
                "--ledger",
                ledger.to_str().unwrap(),
                "--artifacts",
                "s3://lake",
            ])
            .args([
                "--parallel",
                &parallel.to_string(),
                "--out",
                out.to_str().unwrap(),
            ])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        let took = t.elapsed();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let n = std::fs::read_dir(out.join("artifacts")).unwrap().count();
        assert_eq!(n, count, "every artifact collected");
        took
    };

    // Rounds alternate which side goes first (ABBA), and each side starts from the same state:
    // its output removed and written back to disk (`sync`), so neither pays for the other's
    // dirty pages. Medians over the rounds.
    let settle = |p: &std::path::Path| {
        if p.exists() {
            std::fs::remove_dir_all(p).unwrap();
        }
        let _ = Command::new("sync").status();
    };
    let rounds = env_num("ROCKY_COLLECT_BENCH_ROUNDS", 4).max(1);
    let (mut plains, mut collects) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (p_dir, c_dir) = (dir.path().join("plain"), dir.path().join("bundle"));
        settle(&p_dir);
        settle(&c_dir);
        if round % 4 == 0 || round % 4 == 3 {
            plains.push(plain_run(&p_dir));
            settle(&p_dir);
            collects.push(collect_run(&c_dir));
        } else {
            collects.push(collect_run(&c_dir));
            settle(&c_dir);
            plains.push(plain_run(&p_dir));
        }
        eprintln!(
            "round {round}: plain {:.2} s, collect {:.2} s",
            plains[round].as_secs_f64(),
            collects[round].as_secs_f64()
        );
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2
        }
    };
    let plain = median(&mut plains);
    let collect = median(&mut collects);

    let mb = (size * count) as f64 / (1 << 20) as f64;
    println!(
        "collect {count} artifacts, {mb:.0} MB, parallel {parallel}, median of {rounds} \
         alternating rounds: plain object_store {:.2} s \
         ({:.0} MB/s), rocky-collect {:.2} s ({:.0} MB/s), ratio {:.2} (goal <= 1.2)",
        plain.as_secs_f64(),
        mb / plain.as_secs_f64(),
        collect.as_secs_f64(),
        mb / collect.as_secs_f64(),
        collect.as_secs_f64() / plain.as_secs_f64()
    );
}
