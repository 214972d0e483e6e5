//! End-to-end harness: the one place that sees both sides. It builds evidence with `rocky-writer`
//! (through the demo pipeline of `rocky-examples`), tampers with it the way an attacker or an
//! accident would, and runs `rocky-verify` only as a subprocess, reading its `--json` report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use redb::{ReadableTable, TableDefinition};
use rocky_examples::{Clock, Layout};
use serde_json::Value;

/// `run_history` and friends: `&str` keys, JSON in `&[u8]` values (spec/ledger.md section 4).
pub const RUN_HISTORY: TableDefinition<&str, &[u8]> = TableDefinition::new("run_history");
/// `output_artifacts`.
pub const OUTPUT_ARTIFACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("output_artifacts");
/// `input_provenance`.
pub const INPUT_PROVENANCE: TableDefinition<&str, &[u8]> = TableDefinition::new("input_provenance");

/// The `rocky-verify` binary: `$ROCKY_VERIFY_BIN` (set by scripts/test), else built on demand
/// from `verifier/` with cargo.
pub fn verifier_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ROCKY_VERIFY_BIN") {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "ROCKY_VERIFY_BIN={} does not exist",
                bin.display()
            );
            return bin;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let manifest = repo_root().join("verifier/Cargo.toml");
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--message-format=json",
                "--bin",
                "rocky-verify",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "building rocky-verify failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
            .next_back()
            .expect("cargo reports the rocky-verify executable")
    })
}

/// This crate's folder, read at run time: several checkouts share one target dir, so cargo may
/// reuse a test binary built in another checkout, and the compile-time path would point there.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    manifest_dir()
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A built demo (two recorded runs) in its own temporary folder.
pub struct Scenario {
    _dir: tempfile::TempDir,
    /// Where the demo lives.
    pub layout: Layout,
}

fn template() -> &'static Path {
    static TEMPLATE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, root) = TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("demo");
        rocky_examples::build_demo(&Layout::new(&root), &mut Clock::fixed()).expect("demo builds");
        (dir, root)
    });
    root
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Scenario {
    /// A fresh copy of the demo (built once per test process with the fixed clock).
    pub fn demo() -> Scenario {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("demo");
        copy_tree(template(), &root);
        Scenario {
            _dir: dir,
            layout: Layout::new(root),
        }
    }

    /// Runs `rocky-verify run <run> --json` with every evidence source given.
    pub fn verify_run(&self, run: &str) -> Verdict {
        let l = &self.layout;
        Verdict::run(
            Command::new(verifier_bin())
                .args(["run", run, "--json", "--ledger"])
                .arg(l.ledger())
                .arg("--repo")
                .arg(l.project())
                .arg("--warehouse")
                .arg(l.warehouse())
                .arg("--artifacts")
                .arg(l.artifacts()),
        )
    }

    /// Opens the ledger for tampering (a test copy; never do this to evidence).
    pub fn ledger(&self) -> redb::Database {
        redb::Database::open(self.layout.ledger()).expect("test ledger opens")
    }

    /// The latest run id.
    pub fn latest_run(&self) -> String {
        let db = self.ledger();
        let tx = db.begin_read().unwrap();
        let table = tx.open_table(RUN_HISTORY).unwrap();
        let (k, _) = table.last().unwrap().expect("a run exists");
        k.value().to_owned()
    }

    /// Rewrites the JSON value of every row of `table` whose key starts with `prefix` and for
    /// which `edit` returns true. Returns how many rows changed.
    pub fn edit_rows(
        &self,
        table: TableDefinition<&str, &[u8]>,
        prefix: &str,
        mut edit: impl FnMut(&str, &mut Value) -> bool,
    ) -> usize {
        let db = self.ledger();
        let tx = db.begin_write().unwrap();
        let mut changed = 0;
        {
            let mut t = tx.open_table(table).unwrap();
            let rows: Vec<(String, Vec<u8>)> = t
                .iter()
                .unwrap()
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.value().to_owned(), v.value().to_vec())
                })
                .filter(|(k, _)| k.starts_with(prefix))
                .collect();
            for (key, bytes) in rows {
                let mut value: Value = serde_json::from_slice(&bytes).unwrap();
                if edit(&key, &mut value) {
                    let new = serde_json::to_vec(&value).unwrap();
                    t.insert(key.as_str(), new.as_slice()).unwrap();
                    changed += 1;
                }
            }
        }
        tx.commit().unwrap();
        changed
    }

    /// Replaces the raw bytes of one row.
    pub fn put_raw(&self, table: TableDefinition<&str, &[u8]>, key: &str, bytes: &[u8]) {
        let db = self.ledger();
        let tx = db.begin_write().unwrap();
        tx.open_table(table).unwrap().insert(key, bytes).unwrap();
        tx.commit().unwrap();
    }

    /// Removes one row; returns its old value.
    pub fn remove_row(&self, table: TableDefinition<&str, &[u8]>, key: &str) -> Option<Vec<u8>> {
        let db = self.ledger();
        let tx = db.begin_write().unwrap();
        let old = tx
            .open_table(table)
            .unwrap()
            .remove(key)
            .unwrap()
            .map(|v| v.value().to_vec());
        tx.commit().unwrap();
        old
    }

    /// Keys of `table` starting with `prefix`.
    pub fn keys(&self, table: TableDefinition<&str, &[u8]>, prefix: &str) -> Vec<String> {
        let db = self.ledger();
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(table).unwrap();
        t.iter()
            .unwrap()
            .map(|r| r.unwrap().0.value().to_owned())
            .filter(|k| k.starts_with(prefix))
            .collect()
    }

    /// The artifact file a model wrote in `run`.
    pub fn artifact_of(&self, run: &str, model: &str) -> PathBuf {
        let key = self
            .keys(OUTPUT_ARTIFACTS, &format!("{run}|{model}|"))
            .pop()
            .unwrap_or_else(|| panic!("{model} has an artifact in {run}"));
        let hash = key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".parquet")
            .to_owned();
        self.layout.artifacts().join(format!("{hash}.parquet"))
    }

    /// Runs SQL against the warehouse (a test copy).
    pub fn warehouse_sql(&self, sql: &str) {
        let conn = duckdb::Connection::open(self.layout.warehouse()).unwrap();
        conn.execute_batch(sql).unwrap();
    }
}

/// What one `rocky-verify --json` invocation said.
#[derive(Debug)]
pub struct Verdict {
    /// Exit code.
    pub code: i32,
    /// Every JSON line.
    pub lines: Vec<Value>,
    /// Raw stdout.
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
}

impl Verdict {
    /// Runs the command and parses its JSON Lines.
    pub fn run(cmd: &mut Command) -> Verdict {
        let out = cmd.output().expect("rocky-verify runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let lines = stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {stderr}"))
            })
            .collect();
        Verdict {
            code: out.status.code().unwrap_or(-1),
            lines,
            stdout,
            stderr,
        }
    }

    /// The `check` lines.
    pub fn checks(&self) -> impl Iterator<Item = &Value> {
        self.lines
            .iter()
            .filter(|l| l["type"] == "check")
            .map(|l| &l["data"])
    }

    /// Codes of checks with the given outcome.
    pub fn codes(&self, outcome: &str) -> BTreeSet<String> {
        self.checks()
            .filter(|c| c["outcome"] == outcome)
            .map(|c| c["code"].as_str().unwrap_or("<no code>").to_owned())
            .collect()
    }

    /// Codes of failed checks.
    pub fn fail_codes(&self) -> BTreeSet<String> {
        self.codes("fail")
    }

    /// A readable dump for assertion messages.
    pub fn explain(&self) -> String {
        let mut s = format!("exit {}\nstderr: {}\n", self.code, self.stderr);
        for c in self.checks().filter(|c| c["outcome"] != "pass") {
            s.push_str(&format!(
                "  {} {} {} {} {}\n",
                c["outcome"], c["check"], c["code"], c["subject"], c["message"]
            ));
        }
        s
    }
}
