//! Shared pieces of the collector's tests: servers, a test deployment (a redb 2 ledger written
//! with raw redb, artifacts and Delta logs, a git repository), S3 and Valkey helpers, and the
//! binary under test. Nothing here uses rocky-writer or the collector's library.

#![allow(dead_code)]

pub mod servers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use redb::TableDefinition;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_rocky-collect");
pub const RUN1: &str = "run-20261120-090000-000";
pub const RUN2: &str = "run-20261121-090000-000";

pub fn blake3_hex(b: &[u8]) -> String {
    blake3::hash(b).to_hex().to_string()
}

/// One artifact of the test deployment.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub run: &'static str,
    pub model: &'static str,
    pub bytes: Vec<u8>,
    pub hash: String,
    /// Bucket-relative key, as Rocky records it: `lake/<model>/<hash>.parquet`.
    pub file_path: String,
}

/// A small deployment: two runs, one artifact each (plus a shared one), Delta logs, a repo.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub commit: String,
    pub artifacts: Vec<Artifact>,
    /// Delta log files: key -> bytes.
    pub logs: BTreeMap<String, Vec<u8>>,
    pub runs: Vec<Value>,
}

fn filler(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn model_exec(name: &str, at: &str) -> Value {
    json!({
        "model_name": name, "started_at": at, "finished_at": at, "duration_ms": 5,
        "rows_affected": 3, "status": "success", "sql_hash": "", "skip_hash": null,
        "upstream_freshness": null, "bytes_scanned": null, "bytes_written": null, "tenant": null,
        "recipe_hash": null, "input_hash": null, "input_proof_class": null, "env_hash": null,
        "hash_scheme": null, "output_column_hashes": null, "attempts": [],
        "target_table": format!("wh.main.{name}"),
    })
}

fn run_record(id: &str, at: &str, commit: &str, models: &[&str]) -> Value {
    json!({
        "run_id": id, "started_at": at, "finished_at": at, "status": "Success",
        "models_executed": models.iter().map(|m| model_exec(m, at)).collect::<Vec<_>>(),
        "trigger": "Manual", "config_hash": "unknown", "triggering_identity": "tester",
        "session_source": "cli", "git_commit": commit, "git_branch": "main",
        "idempotency_key": null, "target_catalog": "wh", "hostname": "h",
        "rocky_version": "1.71.0", "check_outcomes": [], "pipeline": null, "submission_id": null,
    })
}

impl Deployment {
    pub fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let commit = make_repo(&dir.path().join("repo"));
        let mk = |run, model, seed, len| {
            let bytes = filler(seed, len);
            let hash = blake3_hex(&bytes);
            Artifact {
                run,
                model,
                file_path: format!("lake/{model}/{hash}.parquet"),
                hash,
                bytes,
            }
        };
        let artifacts = vec![
            mk(RUN1, "orders", 1, 70_000),
            mk(RUN2, "orders", 2, 50_000),
            mk(RUN2, "customers", 3, 1_000),
        ];
        let mut logs = BTreeMap::new();
        for (i, a) in artifacts.iter().enumerate() {
            logs.insert(
                format!("lake/{}/_delta_log/{:020}.json", a.model, i),
                format!("{{\"add\":{{\"path\":\"{}.parquet\"}}}}\n", a.hash).into_bytes(),
            );
        }
        let runs = vec![
            run_record(RUN1, "2026-11-20T09:00:00Z", &commit, &["orders"]),
            run_record(
                RUN2,
                "2026-11-21T09:00:00Z",
                &commit,
                &["orders", "customers"],
            ),
        ];
        Deployment {
            dir,
            commit,
            artifacts,
            logs,
            runs,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The ledger file at `rel`, with `extra` rows in `dag_snapshots` and `extra_runs`.
    pub fn write_ledger(
        &self,
        rel: &str,
        extra: &[(&str, &[u8])],
        extra_runs: &[Value],
    ) -> PathBuf {
        let path = self.path(rel);
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn
                .open_table(TableDefinition::<&str, &str>::new("metadata"))
                .unwrap();
            meta.insert("schema_version", "22").unwrap();
            meta.insert("producer", "test").unwrap();
            let json = |n| TableDefinition::<&str, &[u8]>::new(n);
            let mut runs = txn.open_table(json("run_history")).unwrap();
            for r in self.runs.iter().chain(extra_runs) {
                runs.insert(
                    r["run_id"].as_str().unwrap(),
                    serde_json::to_vec(r).unwrap().as_slice(),
                )
                .unwrap();
            }
            let mut arts = txn.open_table(json("output_artifacts")).unwrap();
            for (i, a) in self.artifacts.iter().enumerate() {
                let v = json!({
                    "blake3_hash": a.hash, "run_id": a.run, "model_name": a.model,
                    "file_path": a.file_path, "commit_version": i, "size_bytes": a.bytes.len(),
                    "written_at": "2026-11-21T09:00:00Z",
                });
                arts.insert(
                    format!("{}|{}|{}", a.run, a.model, a.file_path).as_str(),
                    serde_json::to_vec(&v).unwrap().as_slice(),
                )
                .unwrap();
            }
            let mut dag = txn.open_table(json("dag_snapshots")).unwrap();
            for (k, v) in extra {
                dag.insert(*k, *v).unwrap();
            }
        }
        txn.commit().unwrap();
        path
    }

    /// The artifacts as a local folder of `<hash>.parquet`.
    pub fn artifacts_dir(&self) -> PathBuf {
        let d = self.path("artifacts");
        std::fs::create_dir_all(&d).unwrap();
        for a in &self.artifacts {
            std::fs::write(d.join(format!("{}.parquet", a.hash)), &a.bytes).unwrap();
        }
        d
    }
}

/// A work tree with one commit on `main` (and a later one on it, so the branch's tip is a
/// descendant), plus `origin/main` at the first commit; returns the first commit's hex.
pub fn make_repo(path: &Path) -> String {
    let repo = git2::Repository::init(path).unwrap();
    std::fs::write(path.join("model.sql"), "SELECT 1\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("model.sql")).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("T", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let first = repo
        .commit(Some("refs/heads/main"), &sig, &sig, "one", &tree, &[])
        .unwrap();
    let parent = repo.find_commit(first).unwrap();
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        "two",
        &tree,
        &[&parent],
    )
    .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    repo.remote("origin", "https://example.invalid/repo.git")
        .unwrap();
    repo.reference("refs/remotes/origin/main", first, true, "test")
        .unwrap();
    first.to_string()
}

/// An S3 bucket on the test server, through object_store.
pub struct S3 {
    pub port: u16,
    pub bucket: String,
    store: object_store::aws::AmazonS3,
    rt: tokio::runtime::Runtime,
}

impl S3 {
    pub fn new(port: u16, bucket: &str) -> S3 {
        // reqwest is built without a bundled TLS provider; ring's is the one linked.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (status, body) = servers::http(port, "PUT", &format!("/{bucket}"), b"");
        assert_eq!(
            status,
            200,
            "create bucket: {}",
            String::from_utf8_lossy(&body)
        );
        let store = AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap();
        S3 {
            port,
            bucket: bucket.to_owned(),
            store,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        self.rt
            .block_on(
                self.store
                    .put(&ObjPath::from(key), PutPayload::from(bytes.to_vec())),
            )
            .unwrap();
    }

    /// The object's ETag, from a HEAD.
    pub fn etag(&self, key: &str) -> Option<String> {
        self.rt
            .block_on(self.store.head(&ObjPath::from(key)))
            .unwrap()
            .e_tag
    }

    /// Uploads the deployment's artifacts and logs under their keys.
    pub fn put_deployment(&self, d: &Deployment) {
        for a in &d.artifacts {
            self.put(&a.file_path, &a.bytes);
        }
        for (k, v) in &d.logs {
            self.put(k, v);
        }
    }

    /// The environment the collector reads its S3 settings from.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

/// Sets `key` on the Valkey server at `port`.
pub fn valkey_set(port: u16, key: &str, value: &[u8]) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut c = client.get_connection().unwrap();
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(&mut c)
        .unwrap();
}

/// Runs the collector with `args` and `env`.
pub fn collect(args: &[&str], env: &[(&'static str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "the collector panicked: {stderr}"
    );
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every regular file under `dir`, relative, with '/' separators.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let t = e.file_type().unwrap();
            assert!(!t.is_symlink(), "a symlink in the bundle: {r}");
            if t.is_dir() {
                walk(&e.path(), &r, out);
            } else {
                out.push(r);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, "", &mut v);
    v.sort();
    v
}

/// Checks a directory bundle against its manifest exactly as spec/bundle.md section 5.3 says
/// (every listed file present with its size and BLAKE3, nothing extra, canonical manifest) and
/// returns the manifest.
pub fn check_bundle(dir: &Path) -> Value {
    let bytes = std::fs::read(dir.join("manifest.json")).unwrap();
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        canonical(&m),
        String::from_utf8(bytes.clone()).unwrap(),
        "manifest is canonical"
    );
    let files = m["files"].as_array().unwrap();
    let mut listed: Vec<String> = files
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    let sorted = {
        let mut s = listed.clone();
        s.sort();
        s
    };
    assert_eq!(listed, sorted, "files sorted by path");
    for f in files {
        let p = dir.join(f["path"].as_str().unwrap());
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            f["size"].as_u64().unwrap(),
            b.len() as u64,
            "{}",
            p.display()
        );
        assert_eq!(
            f["blake3"].as_str().unwrap(),
            blake3_hex(&b),
            "{}",
            p.display()
        );
        let uri = f["source_uri"].as_str().unwrap();
        assert_eq!(f["s3_etag"].is_null(), !uri.starts_with("s3://"), "{uri}");
        assert_eq!(
            f["redis_key"].is_null(),
            !(uri.starts_with("redis://") || uri.starts_with("valkey://"))
        );
    }
    listed.push("manifest.json".into());
    listed.sort();
    assert_eq!(files_under(dir), listed, "no file missing, nothing extra");
    m
}

/// An independent canonical JSON encoder (sorted keys, no whitespace; serde_json's string and
/// number forms), enough for manifests (no floats).
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        canonical(&m[*k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => serde_json::to_string(other).unwrap(),
    }
}
