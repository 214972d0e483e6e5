//! The tamper matrix of issue 16: one table of single semantic edits of ledger rows, each with
//! the table it edits, the ledgers it applies to and the finding it must produce, applied to
//!
//! - a rocky-writer-shaped ledger (`util::Scenario`),
//! - the same ledger shaped as Rocky writes it (no `producer`, no writer extension fields,
//!   16-hex SipHash `sql_hash`, `hash_scheme` `v1`, run ids `run-YYYYMMDD-HHMMSS-mmm`),
//! - the ledger Rocky's own CLI wrote (`fixtures/rocky/generated/duckdb-shop`, unpacked into a
//!   temporary folder before any edit).
//!
//! Every edit is made with raw redb writes on the written ledger, never through the verifier.
//! Each ledger's untampered control must pass (exit 0, no failure) in `run` and `gate`; each
//! edit must produce its expected `(check, outcome)`, and a `fail` must make the exit code 1.
//! `semantic_edits_caught_by_table` prints the figure "caught / total by table".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use redb::{ReadableTable, TableDefinition};
use serde_json::{Value, json};

use crate::util::{self, RUN1, RUN2, Run, Scenario, args, run_bin};

/// The newest transformation run and the newest replication run of duckdb-shop.
const GEN_TRANSFORM: &str = "run-20261201-150105-347";
const GEN_INGEST: &str = "run-20261201-150104-675";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// rocky-writer's shape.
    Writer,
    /// Rocky's shape, built here.
    Rocky,
    /// Written by Rocky's own code.
    Generated,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    /// `run <the fixture's run>`.
    Run,
    /// `run latest`.
    Latest,
    /// `gate` (default scope).
    Gate,
}

/// One prepared ledger and what the commands need.
struct Fx {
    _keep: Keep,
    kind: Kind,
    ledger: PathBuf,
    /// `--repo`, `--warehouse`, `--artifacts` (the last only for the synthetic ledgers).
    inputs: Vec<String>,
    /// The run a `run` row checks (and edits).
    run: String,
}

/// What must outlive the fixture's files.
enum Keep {
    Scenario { _s: Box<Scenario> },
    Dir { _d: tempfile::TempDir },
}

/// `util::Scenario` as Rocky writes it.
fn rocky_shaped() -> Scenario {
    let mut s = Scenario::new();
    s.metadata.retain(|(k, _)| k != "producer");
    for run in [&mut s.run1, &mut s.run2] {
        run.as_object_mut().unwrap().remove("config_blake3");
        for m in run["models_executed"].as_array_mut().unwrap() {
            let m = m.as_object_mut().unwrap();
            for k in ["source_path", "materialization", "target_table"] {
                m.remove(k);
            }
            m.insert("hash_scheme".into(), json!("v1"));
            m.insert("sql_hash".into(), json!("224d630126d8ca3f"));
        }
    }
    s
}

impl Fx {
    fn new(kind: Kind, ingest: bool) -> Fx {
        match kind {
            Kind::Writer | Kind::Rocky => {
                let s = if kind == Kind::Writer {
                    Scenario::new()
                } else {
                    rocky_shaped()
                };
                s.write();
                let inputs = [
                    ("--repo", "repo"),
                    ("--warehouse", "tgt.duckdb"),
                    ("--artifacts", "artifacts"),
                ]
                .iter()
                .flat_map(|(f, rel)| [f.to_string(), s.path(rel).display().to_string()])
                .collect();
                Fx {
                    ledger: s.ledger(),
                    inputs,
                    run: RUN2.to_owned(),
                    kind,
                    _keep: Keep::Scenario { _s: Box::new(s) },
                }
            }
            Kind::Generated => {
                let archive = util::manifest_dir()
                    .join("../fixtures/rocky/generated/duckdb-shop/project.tar.gz");
                let dir = tempfile::tempdir().unwrap();
                let out = Command::new("tar")
                    .arg("-xzf")
                    .arg(&archive)
                    .arg("-C")
                    .arg(dir.path())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let p = dir.path().join("project");
                Fx {
                    ledger: p.join("models/.rocky-state.redb"),
                    inputs: vec![
                        "--repo".into(),
                        p.display().to_string(),
                        "--warehouse".into(),
                        p.join("warehouse.duckdb").display().to_string(),
                    ],
                    run: if ingest { GEN_INGEST } else { GEN_TRANSFORM }.to_owned(),
                    kind,
                    _keep: Keep::Dir { _d: dir },
                }
            }
        }
    }

    fn verify(&self, cmd: Cmd) -> Run {
        let l = self.ledger.display().to_string();
        let mut a: Vec<String> = match cmd {
            Cmd::Run => args(&["run", &self.run]),
            Cmd::Latest => args(&["run", "latest"]),
            Cmd::Gate => args(&["gate"]),
        };
        a.extend(args(&["--json", "--ledger", &l]));
        a.extend(self.inputs.iter().cloned());
        run_bin(&a, None)
    }

    /// A run record of the ledger being edited, by id.
    fn other_run(&self) -> &'static str {
        match self.kind {
            Kind::Generated => "run-20261201-150103-571",
            _ => RUN1,
        }
    }
}

// ---- raw redb edits -------------------------------------------------------------------------

fn table(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(name)
}

fn get(path: &Path, t: &str, key: &str) -> Option<Value> {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let tab = txn.open_table(table(t)).ok()?;
    let v = tab.get(key).unwrap()?;
    Some(serde_json::from_slice(v.value()).unwrap())
}

fn keys(path: &Path, t: &str) -> Vec<String> {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let Ok(tab) = txn.open_table(table(t)) else {
        return Vec::new();
    };
    tab.iter()
        .unwrap()
        .map(|e| e.unwrap().0.value().to_owned())
        .collect()
}

fn put_bytes(path: &Path, t: &str, key: &str, bytes: &[u8]) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(table(t))
        .unwrap()
        .insert(key, bytes)
        .unwrap();
    txn.commit().unwrap();
}

fn put(path: &Path, t: &str, key: &str, v: &Value) {
    put_bytes(path, t, key, &serde_json::to_vec(v).unwrap());
}

fn delete(path: &Path, t: &str, key: &str) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    assert!(
        txn.open_table(table(t))
            .unwrap()
            .remove(key)
            .unwrap()
            .is_some()
    );
    txn.commit().unwrap();
}

fn update(path: &Path, t: &str, key: &str, f: impl FnOnce(&mut Value)) {
    let mut v = get(path, t, key).unwrap_or_else(|| panic!("{t}[{key}] is not there"));
    f(&mut v);
    put(path, t, key, &v);
}

fn meta(path: &Path, key: &str, value: Option<&str>) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut m = txn
            .open_table(TableDefinition::<&str, &str>::new("metadata"))
            .unwrap();
        match value {
            Some(v) => {
                m.insert(key, v).unwrap();
            }
            None => {
                m.remove(key).unwrap();
            }
        }
    }
    txn.commit().unwrap();
}

/// The run record's models, edited.
fn models(fx: &Fx, f: impl FnOnce(&mut Vec<Value>)) {
    update(&fx.ledger, "run_history", &fx.run, |r| {
        f(r["models_executed"].as_array_mut().unwrap())
    });
}

/// The first key of `t` that starts with `prefix`.
fn key_with(fx: &Fx, t: &str, prefix: &str) -> String {
    keys(&fx.ledger, t)
        .into_iter()
        .find(|k| k.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {t} key starting {prefix}"))
}

fn rename_stg(fx: &Fx) {
    models(fx, |m| {
        let i = m
            .iter()
            .position(|x| x["model_name"] == "stg_orders")
            .unwrap();
        m[i]["model_name"] = json!("stg_orders_x");
    });
}

fn stg_prov(fx: &Fx) -> String {
    format!("{}|stg_orders", fx.run)
}

fn stg_index(fx: &Fx) -> String {
    get(&fx.ledger, "input_provenance", &stg_prov(fx)).unwrap()["input_hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn seed_artifact(fx: &Fx) -> String {
    key_with(fx, "output_artifacts", &format!("{}|seed_events|", fx.run))
}

// ---- the matrix -----------------------------------------------------------------------------

struct Row {
    table: &'static str,
    what: &'static str,
    kinds: &'static [Kind],
    cmd: Cmd,
    /// For the generated ledger: edit and check the replication run instead.
    ingest: bool,
    edit: fn(&Fx),
    check: &'static str,
    outcome: &'static str,
}

const W: Kind = Kind::Writer;
const R: Kind = Kind::Rocky;
const G: Kind = Kind::Generated;
const ALL: &[Kind] = &[W, R, G];
const SYN: &[Kind] = &[W, R];

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    vec![
        // run_history
        Row { table: "run_history", what: "a model execution renamed", kinds: &[W], cmd: Cmd::Run, ingest: false,
              edit: |fx| models(fx, |m| m[1]["model_name"] = json!("stg_orders_x")), check: "run.models", outcome: "fail" },
        Row { table: "run_history", what: "a model execution renamed", kinds: &[R], cmd: Cmd::Run, ingest: false,
              edit: |fx| rename_stg(fx), check: "provenance.model", outcome: "fail" },
        // Without provenance or target_table, which table a Rocky execution wrote comes from the
        // project at the commit: a name no model writes is "could not check" (exit 2), not a pass.
        Row { table: "run_history", what: "a model execution renamed", kinds: &[G], cmd: Cmd::Run, ingest: false,
              edit: |fx| rename_stg(fx), check: "warehouse.table", outcome: "unknown" },
        Row { table: "run_history", what: "a model entry duplicated", kinds: ALL, cmd: Cmd::Run, ingest: false,
              edit: |fx| models(fx, |m| { let c = m[0].clone(); m.push(c); }), check: "run.models", outcome: "fail" },
        Row { table: "run_history", what: "status Success -> Failure, every model a success", kinds: ALL, cmd: Cmd::Run, ingest: false,
              edit: |fx| update(&fx.ledger, "run_history", &fx.run, |r| r["status"] = json!("Failure")), check: "run.status", outcome: "fail" },
        Row { table: "run_history", what: "a model's status success -> failed, run still Success", kinds: ALL, cmd: Cmd::Run, ingest: false,
              edit: |fx| models(fx, |m| m[0]["status"] = json!("failed")), check: "run.status", outcome: "fail" },
        Row { table: "run_history", what: "status Success -> Failure, every model a success (gate)", kinds: ALL, cmd: Cmd::Gate, ingest: false,
              edit: |fx| update(&fx.ledger, "run_history", &fx.run, |r| r["status"] = json!("Failure")), check: "run.status", outcome: "fail" },
        Row { table: "run_history", what: "target_catalog changed", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| update(&fx.ledger, "run_history", &fx.run, |r| r["target_catalog"] = json!("other")), check: "run.target", outcome: "fail" },
        Row { table: "run_history", what: "bytes_written no longer the artifact's size", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| models(fx, |m| m[0]["bytes_written"] = json!(12345)), check: "artifact.execution", outcome: "fail" },
        Row { table: "run_history", what: "the latest run's record deleted (run latest)", kinds: SYN, cmd: Cmd::Latest, ingest: false,
              edit: |fx| delete(&fx.ledger, "run_history", &fx.run), check: "ledger.orphans", outcome: "fail" },
        Row { table: "run_history", what: "the latest run's record deleted (gate)", kinds: SYN, cmd: Cmd::Gate, ingest: false,
              edit: |fx| delete(&fx.ledger, "run_history", &fx.run), check: "ledger.orphans", outcome: "fail" },
        Row { table: "metadata", what: "schema_version 17 on a ledger whose runs carry pipeline (v21)", kinds: &[G], cmd: Cmd::Run, ingest: false,
              edit: |fx| meta(&fx.ledger, "schema_version", Some("17")), check: "ledger.metadata", outcome: "fail" },
        // output_artifacts
        Row { table: "output_artifacts", what: "written_at a year before the run", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = seed_artifact(fx); update(&fx.ledger, "output_artifacts", &k, |a| a["written_at"] = json!("2025-05-30T11:04:23.750Z")) },
              check: "run.records_window", outcome: "fail" },
        Row { table: "output_artifacts", what: "a row naming a model the run did not execute", kinds: &[W], cmd: Cmd::Run, ingest: false,
              edit: |fx| {
                  let k = seed_artifact(fx);
                  let mut v = get(&fx.ledger, "output_artifacts", &k).unwrap();
                  delete(&fx.ledger, "output_artifacts", &k);
                  v["model_name"] = json!("ghost");
                  let path = v["file_path"].as_str().unwrap().to_owned();
                  put(&fx.ledger, "output_artifacts", &format!("{}|ghost|{path}", fx.run), &v);
              }, check: "artifact.execution", outcome: "fail" },
        // `run`'s full scan reads the other runs' versions in the same pass as the refcounts: an
        // earlier run's row for the same table with a higher Delta version is out of order.
        Row { table: "output_artifacts", what: "an earlier run's row for the table with a higher commit_version", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| {
                  let k = seed_artifact(fx);
                  let mut v = get(&fx.ledger, "output_artifacts", &k).unwrap();
                  let path = v["file_path"].as_str().unwrap().to_owned();
                  let earlier = "run-20200101-000000-000";
                  v["run_id"] = json!(earlier);
                  v["commit_version"] = json!(999);
                  put(&fx.ledger, "output_artifacts", &format!("{earlier}|seed_events|{path}"), &v);
              }, check: "artifact.commit_version", outcome: "fail" },
        Row { table: "output_artifacts", what: "size_bytes no longer the execution's bytes_written", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = seed_artifact(fx); update(&fx.ledger, "output_artifacts", &k, |a| a["size_bytes"] = json!(7)) },
              check: "artifact.execution", outcome: "fail" },
        // input_provenance
        Row { table: "input_provenance", what: "output_path[0] pointing elsewhere", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| update(&fx.ledger, "input_provenance", &stg_prov(fx), |p| p["output_path"][0] = json!("elsewhere/x.parquet")),
              check: "provenance.output_path", outcome: "fail" },
        Row { table: "input_provenance", what: "proof_class strong -> heuristic, every upstream content", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| update(&fx.ledger, "input_provenance", &stg_prov(fx), |p| p["proof_class"] = json!("heuristic")),
              check: "provenance.proof_rule", outcome: "fail" },
        Row { table: "input_provenance", what: "the row of a content-addressed execution deleted", kinds: &[W], cmd: Cmd::Run, ingest: false,
              edit: |fx| delete(&fx.ledger, "input_provenance", &stg_prov(fx)), check: "provenance.present", outcome: "fail" },
        Row { table: "input_provenance", what: "the row of a content-addressed execution deleted", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| delete(&fx.ledger, "input_provenance", &stg_prov(fx)), check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_provenance", what: "every provenance row of the run deleted (gate)", kinds: SYN, cmd: Cmd::Gate, ingest: false,
              edit: |fx| for k in keys(&fx.ledger, "input_provenance") { if k.starts_with(&fx.run) { delete(&fx.ledger, "input_provenance", &k) } },
              check: "ledger.input_index", outcome: "fail" },
        // input_index
        Row { table: "input_index", what: "an entry re-pointed to another run", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = stg_index(fx); let o = fx.other_run(); update(&fx.ledger, "input_index", &k, |e| e["run_id"] = json!(o)) },
              check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_index", what: "an entry re-pointed to another model", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = stg_index(fx); update(&fx.ledger, "input_index", &k, |e| e["model_name"] = json!("seed_events")) },
              check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_index", what: "an entry's proof_class changed", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = stg_index(fx); update(&fx.ledger, "input_index", &k, |e| e["proof_class"] = json!("heuristic")) },
              check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_index", what: "an entry deleted", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = stg_index(fx); delete(&fx.ledger, "input_index", &k) },
              check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_index", what: "an entry copied under another 64-hex key", kinds: SYN, cmd: Cmd::Run, ingest: false,
              edit: |fx| { let k = stg_index(fx); let v = get(&fx.ledger, "input_index", &k).unwrap(); put(&fx.ledger, "input_index", &"9".repeat(64), &v) },
              check: "ledger.input_index", outcome: "fail" },
        Row { table: "input_index", what: "an entry copied under another 64-hex key (gate)", kinds: SYN, cmd: Cmd::Gate, ingest: false,
              edit: |fx| { let k = stg_index(fx); let v = get(&fx.ledger, "input_index", &k).unwrap(); put(&fx.ledger, "input_index", &"9".repeat(64), &v) },
              check: "ledger.input_index", outcome: "fail" },
        // watermarks
        Row { table: "watermarks", what: "an invalid row", kinds: ALL, cmd: Cmd::Gate, ingest: true,
              edit: |fx| put_bytes(&fx.ledger, "watermarks", "warehouse.ingest.orders", b"{\"last_value\":\"yesterday\"}"),
              check: "ledger.watermarks", outcome: "fail" },
        Row { table: "watermarks", what: "an invalid row of the run's table (run)", kinds: &[G], cmd: Cmd::Run, ingest: true,
              edit: |fx| put_bytes(&fx.ledger, "watermarks", "warehouse.ingest.orders", b"[]"),
              check: "ledger.watermarks", outcome: "fail" },
        Row { table: "watermarks", what: "a valid row inserted for a table no run wrote", kinds: ALL, cmd: Cmd::Gate, ingest: true,
              edit: |fx| put(&fx.ledger, "watermarks", "warehouse.ingest.ghost", &json!({"last_value": "2026-05-30T00:00:00Z", "updated_at": "2026-05-30T00:00:00Z"})),
              check: "ledger.watermarks", outcome: "unverifiable" },
        // check_history
        Row { table: "check_history", what: "an invalid value", kinds: &[G], cmd: Cmd::Run, ingest: true,
              edit: |fx| put_bytes(&fx.ledger, "check_history", "warehouse.ingest.orders", b"{\"row_count\":1}"),
              check: "ledger.check_history", outcome: "fail" },
        Row { table: "check_history", what: "a garbage timestamp", kinds: &[G], cmd: Cmd::Gate, ingest: true,
              edit: |fx| update(&fx.ledger, "check_history", "warehouse.ingest.orders", |h| h[0]["timestamp"] = json!("not a time")),
              check: "ledger.check_history", outcome: "fail" },
        Row { table: "check_history", what: "the table's snapshots deleted", kinds: &[G], cmd: Cmd::Run, ingest: true,
              edit: |fx| delete(&fx.ledger, "check_history", "warehouse.ingest.orders"),
              check: "ledger.check_history", outcome: "fail" },
        Row { table: "check_history", what: "the latest run's snapshot deleted (gate)", kinds: &[G], cmd: Cmd::Gate, ingest: true,
              edit: |fx| update(&fx.ledger, "check_history", "warehouse.ingest.orders", |h| { h.as_array_mut().unwrap().pop(); }),
              check: "ledger.check_history", outcome: "fail" },
        Row { table: "check_history", what: "the latest count changed", kinds: &[G], cmd: Cmd::Run, ingest: true,
              edit: |fx| update(&fx.ledger, "check_history", "warehouse.ingest.orders", |h| { let n = h.as_array().unwrap().len(); h[n - 1]["row_count"] = json!(151) }),
              check: "warehouse.row_count", outcome: "fail" },
        Row { table: "check_history", what: "snapshots out of time order", kinds: &[G], cmd: Cmd::Gate, ingest: true,
              edit: |fx| update(&fx.ledger, "check_history", "warehouse.ingest.orders", |h| h.as_array_mut().unwrap().reverse()),
              check: "ledger.check_history", outcome: "fail" },
        // branches
        Row { table: "branches", what: "an invalid row", kinds: ALL, cmd: Cmd::Gate, ingest: false,
              edit: |fx| put(&fx.ledger, "branches", "feature", &json!({"name": "feature", "schema_prefix": "main", "created_by": "x", "created_at": "2026-05-30T00:00:00Z", "description": null})),
              check: "ledger.branches", outcome: "fail" },
        // metadata
        Row { table: "metadata", what: "schema_version 21 on a v22 ledger", kinds: ALL, cmd: Cmd::Gate, ingest: false,
              edit: |fx| meta(&fx.ledger, "schema_version", Some("21")), check: "ledger.metadata", outcome: "fail" },
        Row { table: "metadata", what: "schema_version 5 on a ledger with audit fields", kinds: ALL, cmd: Cmd::Run, ingest: false,
              edit: |fx| meta(&fx.ledger, "schema_version", Some("5")), check: "ledger.metadata", outcome: "fail" },
        Row { table: "metadata", what: "producer changed", kinds: &[W], cmd: Cmd::Run, ingest: false,
              edit: |fx| meta(&fx.ledger, "producer", Some("rocky/1.71.0")), check: "ledger.metadata", outcome: "fail" },
        Row { table: "metadata", what: "producer removed", kinds: &[W], cmd: Cmd::Gate, ingest: false,
              edit: |fx| meta(&fx.ledger, "producer", None), check: "ledger.metadata", outcome: "fail" },
    ]
}

/// Whether `r` carries a check `check` with `outcome`.
fn has(r: &Run, check: &str, outcome: &str) -> bool {
    r.check(check).iter().any(|c| c["outcome"] == outcome)
}

#[test]
fn untampered_controls_pass_in_run_and_gate() {
    for kind in [W, R, G] {
        for ingest in [false, true] {
            if ingest && kind != G {
                continue;
            }
            let fx = Fx::new(kind, ingest);
            for cmd in [Cmd::Run, Cmd::Latest, Cmd::Gate] {
                let r = fx.verify(cmd);
                assert!(r.failing().is_empty(), "{kind:?} {cmd:?}: {}", r.dump());
                assert_eq!(r.code, 0, "{kind:?} {cmd:?}: {}", r.dump());
            }
            // The new checks ran and passed on the control (they can fail: see the matrix).
            let g = fx.verify(Cmd::Gate);
            for check in ["run.status", "ledger.metadata", "ledger.orphans"] {
                assert!(has(&g, check, "pass"), "{kind:?} {check}: {}", g.dump());
            }
            if kind == G {
                for check in ["ledger.watermarks", "ledger.check_history"] {
                    assert!(has(&g, check, "pass"), "{check}: {}", g.dump());
                }
            } else {
                for check in ["ledger.input_index", "artifact.commit_version"] {
                    assert!(has(&g, check, "pass"), "{kind:?} {check}: {}", g.dump());
                }
                let r = fx.verify(Cmd::Run);
                for check in [
                    "run.models",
                    "run.target",
                    "run.records_window",
                    "artifact.execution",
                    "provenance.output_path",
                    "provenance.proof_rule",
                    "ledger.input_index",
                ] {
                    assert!(has(&r, check, "pass"), "{kind:?} {check}: {}", r.dump());
                }
            }
        }
    }
}

#[test]
fn semantic_edits_caught_by_table() {
    // table -> (caught, total), over every (row, ledger kind).
    let mut figure: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    for row in rows() {
        for &kind in row.kinds {
            let fx = Fx::new(kind, row.ingest);
            (row.edit)(&fx);
            let r = fx.verify(row.cmd);
            let exit = match row.outcome {
                "fail" => 1,
                "unknown" => 2,
                _ => 0,
            };
            let caught = has(&r, row.check, row.outcome) && r.code == exit;
            let e = figure.entry(row.table).or_default();
            e.1 += 1;
            if caught {
                e.0 += 1;
            } else {
                missed.push(format!(
                    "{kind:?} {:?} {} [{}]: expected {} {}\n{}",
                    row.cmd,
                    row.what,
                    row.table,
                    row.check,
                    row.outcome,
                    r.dump()
                ));
            }
        }
    }
    let (mut c, mut t) = (0, 0);
    println!("semantic edits caught / total, by table:");
    for (table, (caught, total)) in &figure {
        println!("  {table:<18} {caught:>3} / {total}");
        c += caught;
        t += total;
    }
    println!("  {:<18} {c:>3} / {t}", "all");
    assert!(missed.is_empty(), "{}", missed.join("\n\n"));
}
