//! "What was the code?" on ledgers shaped as Rocky writes them (16-hex SipHash `sql_hash`,
//! `rows_affected` null, no `materialization` or `source_path`, Rocky run ids, several adapters)
//! with the project committed in a git repository built here.
//!
//! Every recorded `sql_hash` is taken from `spec/vectors/sql_templates.json` (values computed
//! outside this project, from Rocky's own ir-golden snapshots and the reference sheet) or from a
//! SipHash-1-3 written here and checked against the spec's vectors first; never from the
//! verifier. Each clean case recomputes (exit 0) beside its tampered twin: the committed SQL
//! changed by one byte after the run (`sql_hash_mismatch`, exit 1). Also: a cross-release run,
//! `""` entries, the adapter sources, shallow clones and a default `--repo`, and the gate.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::{self, Run, manifest_dir, set, siphash13};

const RUN: &str = "run-20260601-101500-123";
const V171: &str = "1.71.0";

// ---------------------------------------------------------------------------------------------
// SipHash-1-3 (spec/hashes.md 2.1 and 3), written from the definition.

/// Rocky's `sql_hash` of a statement list: joined with `;\n`, then `FF`.
fn fingerprint(statements: &[&str]) -> String {
    let mut bytes = statements.join(";\n").into_bytes();
    bytes.push(0xff);
    format!("{:016x}", siphash13(&bytes))
}

/// Rocky's `config_hash`: the raw bytes, no terminator.
fn config_hash(bytes: &[u8]) -> String {
    format!("{:016x}", siphash13(bytes))
}

/// `env_hash` (spec/hashes.md 9), pre-image written out.
fn env_hash(version: &str, adapter: &str) -> String {
    util::blake3_hex(
        format!(r#"{{"adapter":"{adapter}","engine_version":"{version}","exec_config":{{}}}}"#)
            .as_bytes(),
    )
}

#[test]
fn the_test_siphash_reproduces_the_spec_vectors() {
    // Control for every value computed with it below.
    assert_eq!(fingerprint(&["SELECT 1"]), "224d630126d8ca3f");
    assert_eq!(fingerprint(&[]), "30406ea523c53def");
    assert_eq!(config_hash(b""), "d1fba762150c532c");
    assert_eq!(config_hash(util::ROCKY_TOML), util::ROCKY_TOML_CONFIG_HASH);
    let case = vector("ref_duckdb_delete_insert");
    let stmts: Vec<&str> = case["expected"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        fingerprint(&stmts),
        case["expected"]["sql_hash"].as_str().unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Building a Rocky project, its repository and its ledger

/// One case of `spec/vectors/sql_templates.json`.
fn vector(name: &str) -> Value {
    let path = manifest_dir().join("../spec/vectors/sql_templates.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .clone()
}

fn rocky_toml(adapter_type: &str) -> String {
    format!(
        "[adapter.wh]\ntype = \"{adapter_type}\"\n\n[pipeline.silver]\ntype = \"transformation\"\n\
         models = \"models/**\"\ntarget = {{ adapter = \"wh\" }}\n\n[pipeline.ingest]\n\
         type = \"replication\"\n"
    )
}

/// A TOML table body from a JSON object (strings and string arrays are JSON-spelled, which is
/// valid TOML; nulls are absent keys).
fn toml_body(o: &Value) -> String {
    let mut out = String::new();
    for (k, v) in o.as_object().unwrap() {
        if !v.is_null() {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
    out
}

/// The project files of one statements vector: `rocky.toml`, `_defaults.toml` with the target's
/// catalog and schema, the model file named after the table (so `model_name` is the table) and a
/// sidecar with its strategy, format and sources.
fn vector_project(case: &Value, sql: &str) -> Vec<(String, Vec<u8>)> {
    let input = &case["input"];
    let table = input["target"]["table"].as_str().unwrap();
    let mut sidecar = String::new();
    if let Some(f) = input["format"].as_str() {
        sidecar.push_str(&format!("format = \"{f}\"\n"));
    }
    sidecar.push_str(&format!("[strategy]\n{}", toml_body(&input["strategy"])));
    for s in input["sources"].as_array().into_iter().flatten() {
        sidecar.push_str(&format!("[[sources]]\n{}", toml_body(s)));
    }
    vec![
        (
            "rocky.toml".into(),
            rocky_toml(input["adapter"].as_str().unwrap()).into_bytes(),
        ),
        (
            "models/_defaults.toml".into(),
            format!(
                "[target]\ncatalog = \"{}\"\nschema = \"{}\"\n",
                input["target"]["catalog"].as_str().unwrap(),
                input["target"]["schema"].as_str().unwrap()
            )
            .into_bytes(),
        ),
        (
            format!("models/{table}.sql"),
            format!("{sql}\n").into_bytes(),
        ),
        (format!("models/{table}.toml"), sidecar.into_bytes()),
    ]
}

/// The vector's model SQL with one byte changed (what a tamper commits).
fn one_byte_changed(sql: &str) -> String {
    // `raw.orders` -> `raw.ordert`, `customers` -> `customert`: same length, one byte.
    let i = sql.rfind('s').expect("an s to change");
    let mut b = sql.as_bytes().to_vec();
    b[i] = b't';
    String::from_utf8(b).unwrap()
}

fn ts(second: usize, millis: u32) -> String {
    format!("2026-06-01T10:15:{second:02}.{millis:03}Z")
}

/// A successful Rocky `ModelExecution` (field order and nulls as Rocky's to_run_record).
fn exec(table: &str, sql_hash: &str, i: usize, env: Option<String>) -> Value {
    let scheme = env.as_ref().map(|_| "v1");
    json!({
        "model_name": table, "started_at": ts(1 + i, 200), "finished_at": ts(1 + i, 250),
        "duration_ms": 50, "rows_affected": null, "status": "success", "sql_hash": sql_hash,
        "skip_hash": null, "upstream_freshness": null, "bytes_scanned": null,
        "bytes_written": null, "tenant": null, "recipe_hash": null, "input_hash": null,
        "input_proof_class": null, "env_hash": env, "hash_scheme": scheme,
        "output_column_hashes": null,
    })
}

/// A Rocky failed entry: the run's window, duration 0, `""`, every hash null.
fn failed_exec(table: &str) -> Value {
    json!({
        "model_name": table, "started_at": ts(0, 123), "finished_at": ts(30, 0),
        "duration_ms": 0, "rows_affected": null, "status": "failed", "sql_hash": "",
        "skip_hash": null, "upstream_freshness": null, "bytes_scanned": null,
        "bytes_written": null, "tenant": null, "recipe_hash": null, "input_hash": null,
        "input_proof_class": null, "env_hash": null, "hash_scheme": null,
        "output_column_hashes": null,
    })
}

/// A Rocky project in a git repository and a ledger with one run of it (a transformation run
/// records no `target_catalog`).
struct Case {
    dir: tempfile::TempDir,
    run_id: String,
    files: Vec<(String, Vec<u8>)>,
    run: Value,
}

impl Case {
    fn new(files: Vec<(String, Vec<u8>)>, execs: Vec<Value>, version: &str) -> Case {
        let toml = &files.iter().find(|(p, _)| p == "rocky.toml").unwrap().1;
        let run = json!({
            "run_id": RUN, "started_at": ts(0, 123), "finished_at": ts(30, 0),
            "status": "Success", "models_executed": execs, "trigger": "Manual",
            "config_hash": config_hash(toml), "triggering_identity": "alice",
            "session_source": "cli", "git_commit": null, "git_branch": "main",
            "idempotency_key": null, "target_catalog": null, "hostname": "ci-runner-01",
            "rocky_version": version, "check_outcomes": [], "pipeline": "silver",
            "submission_id": null,
        });
        Case {
            dir: tempfile::tempdir().unwrap(),
            run_id: RUN.to_owned(),
            files,
            run,
        }
    }

    /// A one-model transformation run of a statements vector, recording the vector's sql_hash;
    /// the repository holds `sql` (the vector's own, or a tampered one).
    fn of_vector(name: &str, sql: Option<&str>, version: &str) -> Case {
        let case = vector(name);
        let input = &case["input"];
        let adapter = input["adapter"].as_str().unwrap();
        let sql = sql.unwrap_or(input["sql"].as_str().unwrap());
        let execs = vec![exec(
            input["target"]["table"].as_str().unwrap(),
            case["expected"]["sql_hash"].as_str().unwrap(),
            0,
            Some(env_hash(version, adapter)),
        )];
        Case::new(vector_project(&case, sql), execs, version)
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    /// Commits the files and writes the ledger (the run's commit is the repository's `main`).
    fn write(&mut self) -> String {
        let commit = util::make_repo(&self.path("repo"), false, &self.files);
        self.run["git_commit"] = json!(commit);
        self.run["run_id"] = json!(self.run_id);
        util::write_ledger(
            &self.path(".rocky-state.redb"),
            &[("schema_version".to_owned(), "22".to_owned())],
            &[(
                "run_history",
                vec![(self.run_id.clone(), serde_json::to_vec(&self.run).unwrap())],
            )],
        );
        commit
    }

    fn args(&self, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![cmd.into()];
        if cmd == "run" {
            a.push(self.run_id.clone());
        }
        a.push("--json".into());
        a.push("--ledger".into());
        a.push(self.path(".rocky-state.redb").display().to_string());
        if !extra.contains(&"--repo") && !extra.contains(&"--no-repo") {
            a.push("--repo".into());
            a.push(self.path("repo").display().to_string());
        }
        a.extend(
            extra
                .iter()
                .filter(|e| **e != "--no-repo")
                .map(|e| (*e).to_owned()),
        );
        a
    }

    fn verify(&self, extra: &[&str]) -> Run {
        util::run_bin(&self.args("run", extra), None)
    }
}

fn sql_hash_check<'r>(r: &'r Run, model: &str) -> &'r Value {
    let found: Vec<_> = r
        .check("model.sql_hash")
        .into_iter()
        .filter(|c| c["subject"]["model"] == model)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one model.sql_hash for {model}:\n{}",
        r.dump()
    );
    found[0]
}

/// The clean case recomputes and passes; the same run with the committed SQL changed by one
/// byte fails `sql_hash_mismatch` and nothing else.
fn control_and_tamper(vector_name: &str) {
    let case = vector(vector_name);
    let table = case["input"]["target"]["table"]
        .as_str()
        .unwrap()
        .to_owned();
    let sql = case["input"]["sql"].as_str().unwrap().to_owned();

    let mut clean = Case::of_vector(vector_name, None, V171);
    clean.write();
    let r = clean.verify(&[]);
    assert_eq!(r.code, 0, "{vector_name} clean:\n{}", r.dump());
    let c = sql_hash_check(&r, &table);
    assert_eq!(c["outcome"], "pass", "{}", r.dump());
    assert_eq!(c["proof"], "fingerprint-only");
    assert_eq!(c["expected"], case["expected"]["sql_hash"]);
    assert_eq!(c["subject"]["file"], format!("models/{table}.sql"));
    let msg = c["message"].as_str().unwrap();
    assert!(msg.starts_with("recomputed (64-bit fingerprint)"), "{msg}");
    assert!(
        msg.contains(case["input"]["adapter"].as_str().unwrap()) && msg.contains("rocky.toml"),
        "names the adapter and its source: {msg}"
    );
    let verified = r.summary()["verified"].to_string();
    assert!(verified.contains("64-bit fingerprint only"), "{verified}");

    let mut tampered = Case::of_vector(vector_name, Some(&one_byte_changed(&sql)), V171);
    tampered.write();
    let r = tampered.verify(&[]);
    assert_eq!(r.code, 1, "{vector_name} tampered:\n{}", r.dump());
    assert_eq!(r.failing(), set(&["sql_hash_mismatch"]), "{}", r.dump());
    let c = sql_hash_check(&r, &table);
    assert_eq!(c["expected"], case["expected"]["sql_hash"]);
    assert_ne!(c["expected"], c["actual"]);
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains(&tampered.path("repo").display().to_string()),
        "names the repository: {}",
        c["message"]
    );
}

#[test]
fn duckdb_full_refresh_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("ref_duckdb_full_refresh");
}

#[test]
fn duckdb_view_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("ref_duckdb_view");
}

#[test]
fn duckdb_incremental_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("ref_duckdb_incremental");
}

#[test]
fn snowflake_merge_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("golden_05_merge_snowflake");
}

#[test]
fn bigquery_full_refresh_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("ref_bigquery_full_refresh");
}

#[test]
fn databricks_delta_table_recomputes_and_a_changed_byte_fails() {
    control_and_tamper("ref_databricks_full_refresh_delta_table");
}

#[test]
fn content_addressed_from_git_recomputes_and_a_changed_byte_fails() {
    // No provenance row joins it, so the model's committed SQL is the statement.
    control_and_tamper("ref_duckdb_content_addressed");
}

#[test]
fn the_model_source_is_found_by_rockys_discovery_and_says_what_decided() {
    let mut s = Case::of_vector("golden_05_merge_snowflake", None, V171);
    s.write();
    let r = s.verify(&[]);
    let c = r.check("model.source");
    assert_eq!(c.len(), 1, "{}", r.dump());
    assert_eq!(c[0]["outcome"], "pass");
    assert_eq!(c[0]["proof"], "recomputed", "discovery, not a name search");
    assert_eq!(c[0]["subject"]["file"], "models/dim_customers.sql");
    let msg = c[0]["message"].as_str().unwrap();
    for part in [
        "strategy merge from sidecar models/dim_customers.toml",
        "catalog from models/_defaults.toml",
        "table from the model name",
    ] {
        assert!(msg.contains(part), "{part:?} in {msg}");
    }
    assert!(msg.contains(&s.path("repo").display().to_string()), "{msg}");
}

#[test]
fn ephemeral_is_the_constant_so_only_its_strategy_can_tamper_with_it() {
    let mut clean = Case::of_vector("ref_duckdb_ephemeral", None, V171);
    clean.write();
    let r = clean.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(sql_hash_check(&r, "orders")["outcome"], "pass");
    // Rocky fingerprints no statement for an ephemeral model: its SQL is not covered, and the
    // verifier does not pretend otherwise.
    let mut edited = Case::of_vector(
        "ref_duckdb_ephemeral",
        Some(&one_byte_changed("SELECT id, amount FROM raw.orders")),
        V171,
    );
    edited.write();
    let r = edited.verify(&[]);
    assert_eq!(
        sql_hash_check(&r, "orders")["outcome"],
        "pass",
        "{}",
        r.dump()
    );
    // A committed strategy that is not ephemeral does not give the constant.
    let mut restrategied = Case::of_vector("ref_duckdb_ephemeral", None, V171);
    restrategied
        .files
        .iter_mut()
        .find(|(p, _)| p == "models/orders.toml")
        .unwrap()
        .1 = b"[strategy]\ntype = \"view\"\n".to_vec();
    restrategied.write();
    let r = restrategied.verify(&[]);
    assert_eq!(r.failing(), set(&["sql_hash_mismatch"]), "{}", r.dump());
}

#[test]
fn a_rocky_dsl_model_is_unverifiable_with_its_reason_code() {
    let mut files = vector_project(&vector("ref_duckdb_full_refresh"), "x");
    files.retain(|(p, _)| p != "models/orders.sql");
    files.push(("models/orders.rocky".into(), b"from raw.orders\n".to_vec()));
    let mut s = Case::new(
        files,
        vec![exec(
            "orders",
            "1b7f1c0089773d29",
            0,
            Some(env_hash(V171, "duckdb")),
        )],
        V171,
    );
    s.write();
    let r = s.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "unverifiable");
    assert_eq!(c["code"], "sql_hash_unexpected");
    assert!(
        c["reason"].as_str().unwrap().contains("rocky_dsl_model"),
        "{c}"
    );
}

#[test]
fn a_mismatch_on_another_release_is_cross_release_and_a_match_still_passes() {
    // Control: Rocky 1.70 recorded what the 1.71 templates give: that is a match.
    let mut same = Case::of_vector("ref_duckdb_full_refresh", None, "1.70.3");
    same.write();
    let r = same.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(sql_hash_check(&r, "orders")["outcome"], "pass");
    // The same one-byte change that fails on 1.71 is not evidence across releases.
    let sql = one_byte_changed("SELECT id, amount FROM raw.orders");
    let mut other = Case::of_vector("ref_duckdb_full_refresh", Some(&sql), "1.70.3");
    other.write();
    let r = other.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "unverifiable");
    assert_eq!(c["code"], "sql_hash_unexpected");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("cross-release") && reason.contains("1.70.3"),
        "{reason}"
    );
    assert_eq!(other.verify(&["--strict"]).code, 1);
}

#[test]
fn an_assumed_env_default_makes_a_mismatch_unverifiable_never_a_failure() {
    let case = vector("ref_duckdb_full_refresh");
    let sql = one_byte_changed("SELECT id, amount FROM raw.orders");
    let mut files = vector_project(&case, &sql);
    files
        .iter_mut()
        .find(|(p, _)| p == "models/_defaults.toml")
        .unwrap()
        .1 = b"[target]\ncatalog = \"${WH_CATALOG:-warehouse}\"\nschema = \"main\"\n".to_vec();
    let execs = vec![exec(
        "orders",
        "1b7f1c0089773d29",
        0,
        Some(env_hash(V171, "duckdb")),
    )];
    let mut s = Case::new(files, execs, V171);
    s.write();
    let r = s.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "unverifiable", "{}", r.dump());
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("env_default:WH_CATALOG"),
        "{c}"
    );
}

#[test]
fn empty_hashes_of_replication_and_failed_entries_are_unverifiable_with_the_reason() {
    let case = vector("ref_duckdb_full_refresh");
    // A transformation run with one failed model.
    let mut s = Case::new(
        vector_project(&case, "SELECT id, amount FROM raw.orders"),
        vec![
            exec(
                "orders",
                "1b7f1c0089773d29",
                0,
                Some(env_hash(V171, "duckdb")),
            ),
            failed_exec("broken"),
        ],
        V171,
    );
    // Rocky records a run with a failed and a built model as PartialFailure.
    s.run["status"] = json!("PartialFailure");
    s.write();
    let r = s.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(sql_hash_check(&r, "orders")["outcome"], "pass");
    let c = sql_hash_check(&r, "broken");
    assert_eq!(c["outcome"], "unverifiable");
    assert!(
        c["reason"].as_str().unwrap().contains("failed entry"),
        "{c}"
    );

    // A replication run (`run-apply-<uuid>` id): every entry records "".
    let mut rep = Case::new(
        vector_project(&case, "SELECT id, amount FROM raw.orders"),
        vec![exec("customers", "", 0, None), exec("events", "", 1, None)],
        V171,
    );
    rep.run_id = "run-apply-3f0c1a52-8d7e-4b61-9a0f-2c4d5e6f7a8b".to_owned();
    rep.run["pipeline"] = json!("ingest");
    rep.write();
    let r = rep.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for table in ["customers", "events"] {
        let c = sql_hash_check(&r, table);
        assert_eq!(c["outcome"], "unverifiable");
        assert!(c["reason"].as_str().unwrap().contains("replication"), "{c}");
    }
    // Its entries are tables copied, not models: no file is looked for by name.
    for c in r.check("model.source") {
        assert_eq!(c["outcome"], "unverifiable", "{c}");
        assert!(
            c["reason"]
                .as_str()
                .unwrap()
                .contains("`ingest` is a replication pipeline"),
            "{c}"
        );
    }
}

#[test]
fn the_adapter_comes_from_rocky_toml_else_env_hash_else_the_flag() {
    let case = vector("ref_duckdb_full_refresh");
    // rocky.toml names an adapter Rocky generates no SQL for; the run recorded no env_hash.
    let mut files = vector_project(&case, "SELECT id, amount FROM raw.orders");
    files[0].1 = rocky_toml("fivetran").into_bytes();
    let mut s = Case::new(
        files.clone(),
        vec![exec("orders", "1b7f1c0089773d29", 0, None)],
        V171,
    );
    s.write();
    let r = s.verify(&[]);
    assert_eq!(r.code, 2, "no adapter: could not check\n{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "unknown");
    assert_eq!(c["code"], "sql_inputs_missing");
    assert!(c["reason"].as_str().unwrap().contains("--adapter"), "{c}");
    // The flag supplies it.
    let r = s.verify(&["--adapter", "duckdb"]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "pass");
    assert!(c["message"].as_str().unwrap().contains("--adapter"), "{c}");
    // A wrong flag gives other statements: a mismatch, since the run is 1.71.
    let r = s.verify(&["--adapter", "bigquery"]);
    assert_eq!(r.failing(), set(&["sql_hash_mismatch"]), "{}", r.dump());
    // The env_hash pre-image names it without the flag.
    let mut e = Case::new(
        files,
        vec![exec(
            "orders",
            "1b7f1c0089773d29",
            0,
            Some(env_hash(V171, "duckdb")),
        )],
        V171,
    );
    e.write();
    let r = e.verify(&[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["outcome"], "pass");
    assert!(c["message"].as_str().unwrap().contains("env_hash"), "{c}");
}

#[test]
fn a_project_that_does_not_load_is_unknown_on_1_71_never_a_failure() {
    let case = vector("ref_duckdb_full_refresh");
    let mut files = vector_project(&case, "SELECT id, amount FROM raw.orders");
    files
        .iter_mut()
        .find(|(p, _)| p == "models/orders.toml")
        .unwrap()
        .1 = b"[strategy\n".to_vec();
    let mut s = Case::new(
        files,
        vec![exec(
            "orders",
            "1b7f1c0089773d29",
            0,
            Some(env_hash(V171, "duckdb")),
        )],
        V171,
    );
    s.write();
    let r = s.verify(&[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let c = sql_hash_check(&r, "orders");
    assert_eq!(c["code"], "sql_inputs_missing");
    assert!(
        c["reason"].as_str().unwrap().contains("toml_invalid"),
        "{c}"
    );
}

#[test]
fn a_16_hex_value_under_the_strong_scheme_is_a_downgrade_and_fails() {
    // Control: the rocky-writer scenario is clean.
    let mut s = util::Scenario::new();
    s.write();
    assert_eq!(s.verify(util::RUN2, &[]).code, 0);
    let m = s.run2_model("stg_orders");
    m["sql_hash"] = json!(fingerprint(&[
        "SELECT order_id, customer_id FROM tgt.raw.raw_orders"
    ]));
    s.write();
    let r = s.verify(util::RUN2, &[]);
    assert_eq!(r.failing(), set(&["sql_hash_invalid"]), "{}", r.dump());
}

#[test]
fn a_content_addressed_fingerprint_is_recomputed_from_the_provenance_ir_alone() {
    // The two-run scenario's seed_events as Rocky 1.71 records it: a v1 fingerprint of the
    // content-addressed IR's sql (its golden provenance row joins the execution).
    let mut s = util::Scenario::new();
    s.run2["rocky_version"] = json!(V171);
    for m in s.run2["models_executed"].as_array_mut().unwrap() {
        m["env_hash"] = json!(env_hash(V171, "duckdb"));
    }
    let ir: Value = serde_json::from_str(
        s.provenance_of("seed_events")["model_ir_canonical_json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let recorded = fingerprint(&[ir["sql"].as_str().unwrap()]);
    let m = s.run2_model("seed_events");
    m["hash_scheme"] = json!("v1");
    m["sql_hash"] = json!(recorded);
    s.write();
    let r = s.verify(util::RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let c = sql_hash_check(&r, "seed_events");
    assert_eq!(c["outcome"], "pass");
    assert_eq!(c["proof"], "fingerprint-only");
    assert!(
        c["message"].as_str().unwrap().contains("input_provenance"),
        "{c}"
    );
    // The ledger alone: without any repository it still recomputes.
    let r = s.verify(util::RUN2, &["--repo", s.path("nowhere").to_str().unwrap()]);
    assert_eq!(r.code, 2, "the repository is missing\n{}", r.dump());
    assert_eq!(sql_hash_check(&r, "seed_events")["outcome"], "pass");

    // Tamper: one hex digit of the recorded value.
    let mut flipped = recorded.into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    s.run2_model("seed_events")["sql_hash"] = json!(String::from_utf8(flipped).unwrap());
    s.write();
    let r = s.verify(util::RUN2, &[]);
    assert_eq!(r.failing(), set(&["sql_hash_mismatch"]), "{}", r.dump());
}

// ---------------------------------------------------------------------------------------------
// Git: shallow clones, the default --repo, the repository named

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The clean DuckDB case, then a second commit on `main` after the run's.
fn two_commit_case() -> Case {
    let mut s = Case::of_vector("ref_duckdb_full_refresh", None, V171);
    s.write();
    let repo = s.path("repo");
    git(&repo, &["reset", "-q", "--hard"]);
    std::fs::write(repo.join("README"), "later\n").unwrap();
    git(&repo, &["add", "README"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "later",
        ],
    );
    s
}

#[test]
fn a_commit_missing_from_a_shallow_clone_is_unknown_exit_2_not_a_failure() {
    let s = two_commit_case();
    let origin = format!("file://{}", s.path("repo").display());
    // Control: a full clone holds the run's commit.
    git(s.dir.path(), &["clone", "-q", &origin, "full"]);
    let r = s.verify(&["--repo", s.path("full").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(sql_hash_check(&r, "orders")["outcome"], "pass");

    git(
        s.dir.path(),
        &["clone", "-q", "--depth", "1", &origin, "shallow"],
    );
    let shallow = s.path("shallow");
    assert!(shallow.join(".git/shallow").exists(), "a shallow clone");
    let r = s.verify(&["--repo", shallow.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    let c = r.check("git.commit");
    assert_eq!(c[0]["outcome"], "unknown");
    assert_eq!(c[0]["code"], "git_commit_missing");
    let reason = c[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("shallow clone: fetch the full history (git fetch --unshallow)")
            && reason.contains(shallow.to_str().unwrap()),
        "{reason}"
    );
    assert_eq!(sql_hash_check(&r, "orders")["outcome"], "unknown");
}

#[test]
fn without_repo_an_absent_commit_is_unknown_and_with_an_explicit_repo_it_fails() {
    let s = two_commit_case();
    // Another repository, which does not hold the run's commit.
    let elsewhere = s.path("elsewhere");
    util::make_repo(
        &elsewhere,
        false,
        &[("README".to_owned(), b"unrelated\n".to_vec())],
    );
    let args = s.args("run", &["--no-repo"]);
    let r = util::run_bin(&args, Some(&elsewhere));
    assert_eq!(r.code, 2, "{}", r.dump());
    let c = r.check("git.commit");
    assert_eq!(c[0]["outcome"], "unknown", "{}", r.dump());
    assert!(
        c[0]["reason"].as_str().unwrap().contains("--repo"),
        "{}",
        c[0]
    );
    // Control: run from inside the project's repository without --repo.
    let r = util::run_bin(&args, Some(&s.path("repo")));
    assert_eq!(r.code, 0, "{}", r.dump());
    // Named explicitly, the same absent commit is evidence.
    let r = s.verify(&["--repo", elsewhere.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["git_commit_missing"]), "{}", r.dump());
    assert!(
        r.check("git.commit")[0]["message"]
            .as_str()
            .unwrap()
            .contains(elsewhere.to_str().unwrap())
    );
}

#[test]
fn the_gate_recomputes_the_same_way() {
    // Its default scope (the latest run of each model) includes Rocky's transformation runs,
    // which record no target_catalog.
    let mut clean = Case::of_vector("golden_05_merge_snowflake", None, V171);
    clean.write();
    assert!(clean.run["target_catalog"].is_null());
    let r = util::run_bin(&clean.args("gate", &[]), None);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(sql_hash_check(&r, "dim_customers")["outcome"], "pass");

    let sql = one_byte_changed(
        vector("golden_05_merge_snowflake")["input"]["sql"]
            .as_str()
            .unwrap(),
    );
    let mut tampered = Case::of_vector("golden_05_merge_snowflake", Some(&sql), V171);
    tampered.write();
    let r = util::run_bin(&tampered.args("gate", &[]), None);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["sql_hash_mismatch"]), "{}", r.dump());

    // A shallow clone is exit 2 in the gate too.
    let s = two_commit_case();
    let origin = format!("file://{}", s.path("repo").display());
    git(
        s.dir.path(),
        &["clone", "-q", "--depth", "1", &origin, "shallow"],
    );
    let r = util::run_bin(
        &s.args("gate", &["--repo", s.path("shallow").to_str().unwrap()]),
        None,
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(
        r.check("git.commit")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("shallow clone")
    );
}
