//! `rocky-verify gate`: the CI drift gate on the two-run scenario of `util`. The consistent
//! control passes with exit 0 in every report format; each drift (rows, columns, artifacts,
//! orphans, a rewritten history) fails with exit 1; an input that cannot be read is exit 2 unless
//! something failed; waivers, tolerances and skips follow `spec/gate.md`. JUnit is parsed with a
//! real XML parser and SARIF is validated against a SARIF 2.1.0 subset schema.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use redb::TableDefinition;
use serde_json::{Value, json};

use crate::util::{self, RUN1, RUN2, Run, Scenario, set};

/// Every evidence input of the scenario, plus the given extra flags.
fn gate(s: &Scenario, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["gate".into()];
    for (flag, rel) in [
        ("--ledger", ".rocky-state.redb"),
        ("--repo", "repo"),
        ("--warehouse", "tgt.duckdb"),
        ("--artifacts", "artifacts"),
    ] {
        if extra.contains(&flag) {
            continue;
        }
        args.push(flag.into());
        args.push(s.path(rel).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    util::run_bin(&args, None)
}

/// A deleted warehouse row is a row-count and a content finding; tests about the row-count
/// finding alone skip the content check.
const SKIP_CONTENT: &str =
    "[[skip]]\ncheck = \"warehouse.content\"\nreason = \"this test is about row counts\"\n";

fn p(s: &Scenario, rel: &str) -> String {
    s.path(rel).display().to_string()
}

fn write_policy(s: &Scenario, text: &str) -> String {
    std::fs::write(s.path("rocky-verify.toml"), text).unwrap();
    p(s, "rocky-verify.toml")
}

/// Adds rows to a table of the scenario's ledger (a test copy) after `write()`.
fn put(s: &Scenario, table: &str, rows: &[(&str, Value)]) {
    let db = redb::Database::open(s.ledger()).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx
            .open_table(TableDefinition::<&str, &[u8]>::new(table))
            .unwrap();
        for (k, v) in rows {
            t.insert(*k, serde_json::to_vec(v).unwrap().as_slice())
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn remove(s: &Scenario, table: &str, key: &str) {
    let db = redb::Database::open(s.ledger()).unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table(TableDefinition::<&str, &[u8]>::new(table))
        .unwrap()
        .remove(key)
        .unwrap();
    tx.commit().unwrap();
}

fn sarif_schema() -> &'static (boon::Schemas, boon::SchemaIndex) {
    static SCHEMA: OnceLock<(boon::Schemas, boon::SchemaIndex)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // A hand-written subset of the official SARIF 2.1.0 schema (see its description): the
        // tests run offline and cannot fetch the official one.
        let path =
            crate::util::manifest_dir().join("tests/fixtures/sarif-2.1.0-subset.schema.json");
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let id = doc["$id"].as_str().unwrap().to_owned();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.enable_format_assertions();
        compiler.add_resource(&id, doc).unwrap();
        let idx = compiler.compile(&id, &mut schemas).unwrap();
        (schemas, idx)
    })
}

fn read_sarif(path: &str) -> Value {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let (schemas, idx) = sarif_schema();
    if let Err(e) = schemas.validate(&doc, *idx) {
        panic!("SARIF does not match the 2.1.0 subset schema: {e}\n{doc:#}");
    }
    doc
}

/// A JUnit testcase: (classname, name, what it holds: "pass" / "failure" / "error" / "skipped").
fn read_junit(path: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut cases = Vec::new();
    let mut sum = [0usize; 4];
    for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let mut counts = [0usize; 4];
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            let kind = ["failure", "error", "skipped"]
                .into_iter()
                .find(|k| case.children().any(|c| c.has_tag_name(*k)))
                .unwrap_or("pass");
            counts[0] += 1;
            match kind {
                "failure" => counts[1] += 1,
                "error" => counts[2] += 1,
                "skipped" => counts[3] += 1,
                _ => {}
            }
            cases.push((
                case.attribute("classname").unwrap().to_owned(),
                case.attribute("name").unwrap().to_owned(),
                kind.to_owned(),
            ));
        }
        for (i, attr) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                suite.attribute(*attr).unwrap().parse::<usize>().unwrap(),
                counts[i],
                "{attr} of suite {:?}",
                suite.attribute("name")
            );
            sum[i] += counts[i];
        }
    }
    for (i, attr) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            root.attribute(*attr).unwrap().parse::<usize>().unwrap(),
            sum[i]
        );
    }
    cases
}

fn reports(s: &Scenario) -> Vec<String> {
    [
        "--junit",
        &p(s, "gate.xml"),
        "--sarif",
        &p(s, "gate.sarif"),
        "--markdown",
        &p(s, "gate.md"),
        "--github",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

fn with<'a>(a: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    a.iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect()
}

#[test]
fn a_consistent_ledger_passes_the_gate_in_every_format() {
    let s = Scenario::new();
    s.write();
    let evidence: Vec<PathBuf> = vec![
        s.ledger(),
        s.path("tgt.duckdb"),
        s.artifact_file("seed_events"),
    ];
    let before: Vec<_> = evidence.iter().map(|e| util::fingerprint(e)).collect();
    let r = reports(&s);
    let run = gate(
        &s,
        &with(&r, &["--json", "--checkpoint", &p(&s, "cp.json")]),
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.failing().is_empty(), "{}", run.dump());
    assert!(run.codes("unknown").is_empty(), "{}", run.dump());
    let after: Vec<_> = evidence.iter().map(|e| util::fingerprint(e)).collect();
    assert_eq!(before, after, "the gate wrote no evidence");
    assert_eq!(run.lines[0]["data"]["command"], "gate");

    // Default scope: raw_orders from run 1, the other two from run 2 (their latest writers).
    let scoped: BTreeSet<(String, String)> = run
        .check("warehouse.row_count")
        .iter()
        .map(|c| {
            (
                c["subject"]["run_id"].as_str().unwrap().to_owned(),
                c["subject"]["model"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        (RUN1, "raw_orders"),
        (RUN2, "seed_events"),
        (RUN2, "stg_orders"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(scoped, want, "{}", run.dump());
    assert!(
        run.check("warehouse.row_count")
            .iter()
            .all(|c| c["outcome"] == "pass")
    );
    let gate_summary = &run.summary()["gate"];
    assert_eq!(gate_summary["runs"], 2);
    assert_eq!(gate_summary["models"], 3);
    assert_eq!(gate_summary["checkpoint"]["written"], true);
    assert!(s.path("cp.json").is_file());

    let cases = read_junit(&p(&s, "gate.xml"));
    assert!(cases.iter().all(|c| c.2 == "pass" || c.2 == "skipped"));
    assert!(cases.contains(&(
        "rocky-verify.stg_orders (run-20260530-110422-643)".to_owned(),
        "warehouse.row_count".to_owned(),
        "pass".to_owned()
    )));
    let sarif = read_sarif(&p(&s, "gate.sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["level"] == "note"),
        "only unverifiable notes: {sarif:#}"
    );
    assert_eq!(sarif["runs"][0]["invocations"][0]["exitCode"], 0);
    let md = std::fs::read_to_string(s.path("gate.md")).unwrap();
    assert!(
        md.starts_with("## rocky-verify gate: PASSED (exit 0)"),
        "{md}"
    );
    assert!(!run.stderr.contains("::error"), "{}", run.dump());

    // The second gate compares with the checkpoint: nothing changed.
    let again = gate(&s, &["--json", "--checkpoint", &p(&s, "cp.json")]);
    assert_eq!(again.code, 0, "{}", again.dump());
    let cp = again.check("ledger.checkpoint");
    assert_eq!(cp.len(), 1);
    assert_eq!(cp[0]["outcome"], "pass", "{}", again.dump());
}

#[test]
fn row_drift_fails_the_gate_in_every_format() {
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "DELETE FROM tgt.raw.stg_orders WHERE order_id = 1",
    );
    // The deleted row is also a content mismatch (tests/warehouse_content.rs); this test is
    // about one finding in every format.
    let policy = write_policy(&s, SKIP_CONTENT);
    let r = reports(&s);
    let run = gate(&s, &with(&r, &["--json", "--policy", &policy]));
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(
        run.failing(),
        set(&["row_count_mismatch"]),
        "{}",
        run.dump()
    );

    let cases = read_junit(&p(&s, "gate.xml"));
    let failing: Vec<_> = cases
        .iter()
        .filter(|c| c.2 != "pass" && c.2 != "skipped")
        .collect();
    assert_eq!(
        failing,
        vec![&(
            "rocky-verify.stg_orders (run-20260530-110422-643)".to_owned(),
            "warehouse.row_count".to_owned(),
            "failure".to_owned()
        )]
    );
    let sarif = read_sarif(&p(&s, "gate.sarif"));
    let errors: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{sarif:#}");
    assert_eq!(errors[0]["ruleId"], "row_count_mismatch");
    let uri = errors[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(uri.ends_with("repo/models/stg_orders.sql"), "{uri}");
    let rules = &sarif["runs"][0]["tool"]["driver"]["rules"];
    assert_eq!(
        rules[errors[0]["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "row_count_mismatch"
    );
    let annotations: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{}", run.dump());
    assert!(
        annotations[0].starts_with("::error file=")
            && annotations[0].contains("models/stg_orders.sql,title=rocky-verify row_count_mismatch%3A warehouse.row_count stg_orders::"),
        "{}",
        annotations[0]
    );
    let md = std::fs::read_to_string(s.path("gate.md")).unwrap();
    assert!(
        md.starts_with("## rocky-verify gate: FAILED (exit 1)"),
        "{md}"
    );
    assert!(md.contains("| FAIL | stg_orders (run-20260530-110422-643) | warehouse.row_count | row_count_mismatch |"), "{md}");

    // The human table names the model and the finding.
    let human = gate(&s, &["--policy", &policy]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("stg_orders") && human.stdout.contains("row_count_mismatch"));
    assert!(
        human.stdout.contains("verdict: FAILED (exit 1)"),
        "{}",
        human.dump()
    );
}

#[test]
fn schema_drift_is_one_finding_per_column_and_kind() {
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE tgt.raw.seed_events ADD COLUMN extra INTEGER; \
         ALTER TABLE tgt.raw.stg_orders DROP COLUMN customer_id; \
         ALTER TABLE tgt.raw.stg_orders ALTER order_id TYPE VARCHAR;",
    );
    let run = gate(&s, &["--json"]);
    assert_eq!(run.code, 1, "{}", run.dump());
    let cols: BTreeSet<(String, String, String)> = run
        .check("warehouse.columns")
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| {
            (
                c["subject"]["model"].as_str().unwrap().to_owned(),
                c["subject"]["column"].as_str().unwrap().to_owned(),
                c["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("seed_events", "extra", "column_unexpected"),
        ("stg_orders", "customer_id", "column_missing"),
        ("stg_orders", "order_id", "column_type_mismatch"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(cols, want, "{}", run.dump());
}

#[test]
fn orphans_are_reported_in_both_directions() {
    let s = Scenario::new();
    s.write();
    // A file no row names.
    let orphan = s.path(&format!("artifacts/{}.parquet", "a".repeat(64)));
    std::fs::write(&orphan, b"not parquet").unwrap();
    let run = gate(&s, &["--json"]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(
        run.failing(),
        set(&["artifact_orphan_unexpected"]),
        "{}",
        run.dump()
    );
    std::fs::remove_file(&orphan).unwrap();

    // A row of a run outside the scope (its run_history row retired) whose file is gone.
    put(
        &s,
        "output_artifacts",
        &[(
            &format!(
                "run-20260101-000000-000|raw_orders|artifacts/{}.parquet",
                "b".repeat(64)
            ),
            json!({"blake3_hash": "b".repeat(64), "run_id": "run-20260101-000000-000",
                   "model_name": "raw_orders", "file_path": format!("artifacts/{}.parquet", "b".repeat(64)),
                   "commit_version": 0, "size_bytes": 1, "written_at": "2026-01-01T00:00:01Z"}),
        )],
    );
    let run = gate(&s, &["--json"]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(
        run.failing(),
        set(&["artifact_file_missing"]),
        "{}",
        run.dump()
    );

    // A tombstone records the eviction: not a finding.
    put(
        &s,
        "tombstones",
        &[(
            &format!("2026-02-01T00:00:00+00:00|{}", "b".repeat(64)),
            json!({"blake3_hash": "b".repeat(64)}),
        )],
    );
    let run = gate(&s, &["--json"]);
    assert_eq!(run.code, 0, "{}", run.dump());
}

#[test]
fn a_rewritten_or_deleted_run_record_fails_against_the_checkpoint() {
    let s = Scenario::new();
    s.write();
    let cp = p(&s, "cp.json");
    let first = gate(&s, &["--json", "--checkpoint", &cp]);
    assert_eq!(first.code, 0, "{}", first.dump());
    assert_eq!(
        first.codes("unverifiable"),
        set(&["triggering_identity_unexpected", "checkpoint_missing"]),
        "{}",
        first.dump()
    );

    // Rewrite run 1's record (a consistent edit: it still decodes and verifies).
    let mut run1 = s.run1.clone();
    run1["hostname"] = json!("elsewhere");
    put(&s, "run_history", &[(RUN1, run1)]);
    let edited = gate(&s, &["--json", "--checkpoint", &cp]);
    assert_eq!(edited.code, 1, "{}", edited.dump());
    assert_eq!(
        edited.failing(),
        set(&["run_record_mismatch"]),
        "{}",
        edited.dump()
    );
    // The finding repeats: the checkpoint kept the trusted digest.
    let again = gate(&s, &["--json", "--checkpoint", &cp]);
    assert_eq!(
        again.failing(),
        set(&["run_record_mismatch"]),
        "{}",
        again.dump()
    );

    // Deleted: missing without a retention policy; retired with one (run 1 is months old).
    let s = Scenario::new();
    s.write();
    let cp = p(&s, "cp.json");
    assert_eq!(gate(&s, &["--json", "--checkpoint", &cp]).code, 0);
    remove(&s, "run_history", RUN1);
    let deleted = gate(&s, &["--json", "--checkpoint", &cp]);
    assert_eq!(deleted.code, 1, "{}", deleted.dump());
    assert!(
        deleted.failing().contains("run_record_missing"),
        "{}",
        deleted.dump()
    );
    let policy = write_policy(&s, "retention_days = 30\n");
    let retired = gate(&s, &["--json", "--checkpoint", &cp, "--policy", &policy]);
    let cp_checks = retired.check("ledger.checkpoint");
    assert!(
        cp_checks.iter().all(|c| c["outcome"] == "pass"),
        "{}",
        retired.dump()
    );
    assert!(
        cp_checks.iter().any(|c| c["message"]
            .as_str()
            .unwrap()
            .contains("retention sweep retired")),
        "{}",
        retired.dump()
    );

    // A checkpoint that is not one is unknown and left untouched.
    std::fs::write(&cp, b"{\"not\": 1}").unwrap();
    let bad = gate(&s, &["--json", "--checkpoint", &cp, "--policy", &policy]);
    assert!(
        bad.codes("unknown").contains("checkpoint_invalid"),
        "{}",
        bad.dump()
    );
    assert_eq!(std::fs::read(&cp).unwrap(), b"{\"not\": 1}");
}

#[test]
fn an_unreadable_input_exits_2_and_a_failure_still_wins() {
    let s = Scenario::new();
    s.write();
    let missing = p(&s, "nope.duckdb");
    let run = gate(&s, &["--json", "--warehouse", &missing]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert_eq!(
        run.codes("unknown"),
        set(&["warehouse_invalid"]),
        "{}",
        run.dump()
    );
    assert!(
        !s.path("nope.duckdb").exists(),
        "no warehouse file was created"
    );

    // Drift elsewhere wins over the unreadable warehouse.
    std::fs::write(
        s.path(&format!("artifacts/{}.parquet", "c".repeat(64))),
        b"x",
    )
    .unwrap();
    let run = gate(&s, &["--json", "--warehouse", &missing]);
    assert_eq!(run.code, 1, "{}", run.dump());

    // No ledger at all.
    let run = gate(&s, &["--json", "--ledger", &p(&s, "none.redb")]);
    assert_eq!(run.code, 2, "{}", run.dump());

    // A --since that names nothing is unknown; a usage error is clap's 2.
    let run = gate(&s, &["--json", "--since", "yesterday"]);
    assert_eq!(run.code, 2, "{}", run.dump());
    let run = util::run_bin(&util::args(&["gate", "--since", "1d", "--last", "2"]), None);
    assert_eq!(run.code, 2, "{}", run.dump());
}

#[test]
fn scope_flags_choose_the_runs() {
    let s = Scenario::new();
    s.write();
    let runs_of = |r: &Run| -> BTreeSet<String> {
        r.check("run.record")
            .iter()
            .chain(r.check("run.id").iter())
            .filter_map(|c| c["subject"]["run_id"].as_str().map(str::to_owned))
            .collect()
    };
    let last = gate(&s, &["--json", "--last", "1"]);
    assert_eq!(runs_of(&last), set(&[RUN2]), "{}", last.dump());
    let since = gate(&s, &["--json", "--since", RUN1]);
    assert_eq!(since.summary()["gate"]["runs"], 2, "{}", since.dump());
    // Everything in the scenario is months old.
    let recent = gate(&s, &["--json", "--since", "1h"]);
    assert_eq!(recent.summary()["gate"]["runs"], 0, "{}", recent.dump());
}

#[test]
fn an_active_waiver_reports_the_drift_as_waived_and_an_expired_one_fails() {
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "DELETE FROM tgt.raw.stg_orders WHERE order_id = 1",
    );
    let policy = write_policy(
        &s,
        &format!(
            "[[waiver]]\ncheck = \"warehouse.row_count\"\nmodel = \"stg_*\"\n\
             reason = \"backfill INC-1\"\nexpires = 2999-12-31\n{SKIP_CONTENT}"
        ),
    );
    let r = reports(&s);
    let run = gate(&s, &with(&r, &["--json", "--policy", &policy]));
    assert_eq!(run.code, 0, "{}", run.dump());
    let waived: Vec<&Value> = run
        .checks()
        .into_iter()
        .filter(|c| !c["waiver"].is_null())
        .collect();
    assert_eq!(waived.len(), 1, "{}", run.dump());
    assert_eq!(waived[0]["outcome"], "unverifiable");
    assert_eq!(waived[0]["code"], "row_count_mismatch");
    assert_eq!(
        waived[0]["reason"],
        "waived until 2999-12-31: backfill INC-1"
    );
    assert_eq!(
        waived[0]["waiver"],
        json!({"reason": "backfill INC-1", "expires": "2999-12-31", "outcome": "fail", "line": 1})
    );
    let listed = run.summary()["not_verified"].as_array().unwrap();
    assert!(
        listed.iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("waiver active until 2999-12-31 (policy line 1)")),
        "{}",
        run.dump()
    );
    assert_eq!(run.summary()["gate"]["waivers"][0]["matched"], 1);
    // Every format shows it.
    let junit = read_junit(&p(&s, "gate.xml"));
    assert!(
        junit
            .iter()
            .any(|c| c.1 == "warehouse.row_count" && c.2 == "skipped")
    );
    let sarif = read_sarif(&p(&s, "gate.sarif"));
    let sup: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(sup.len(), 1, "{sarif:#}");
    assert_eq!(sup[0]["level"], "error");
    assert_eq!(sup[0]["suppressions"][0]["status"], "accepted");
    assert!(run.stderr.contains("::notice "), "{}", run.dump());
    let md = std::fs::read_to_string(s.path("gate.md")).unwrap();
    assert!(md.contains("UNVERIFIABLE (waived)"), "{md}");
    // --strict: a waived finding is still unverifiable, so it fails.
    let strict = gate(&s, &["--json", "--policy", &policy, "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.dump());

    // Expired: the waiver itself fails and waives nothing.
    let policy = write_policy(
        &s,
        &format!(
            "[[waiver]]\ncheck = \"warehouse.row_count\"\nmodel = \"stg_*\"\n\
             reason = \"backfill INC-1\"\nexpires = 2000-01-01\n{SKIP_CONTENT}"
        ),
    );
    let run = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(
        run.failing(),
        set(&["row_count_mismatch", "waiver_expired_unexpected"]),
        "{}",
        run.dump()
    );
    // An expired waiver fails even when nothing drifts.
    let clean = Scenario::new();
    clean.write();
    let policy = write_policy(
        &clean,
        "[[waiver]]\ncheck = \"artifact.*\"\nreason = \"old\"\nexpires = \"2001-02-03\"\n",
    );
    let run = gate(&clean, &["--json", "--policy", &policy]);
    assert_eq!(run.code, 1, "{}", run.dump());
    assert_eq!(run.failing(), set(&["waiver_expired_unexpected"]));
}

/// Makes `stg_orders` an incremental model whose recorded table count is `recorded`.
fn incremental(recorded: u64) -> Scenario {
    let mut s = Scenario::new();
    s.run2_model("stg_orders")["materialization"] = json!("incremental");
    s.write();
    put(
        &s,
        "check_history",
        &[(
            "tgt.raw.stg_orders",
            json!([{"timestamp": "2026-05-30T11:04:25Z", "row_count": recorded}]),
        )],
    );
    s
}

#[test]
fn incremental_row_counts_follow_the_policy_tolerance() {
    // The warehouse has 3 rows.
    let s = incremental(3);
    let no_policy = gate(&s, &["--json"]);
    assert_eq!(no_policy.code, 0, "{}", no_policy.dump());
    let c = no_policy
        .check("warehouse.row_count")
        .into_iter()
        .find(|c| c["subject"]["model"] == "stg_orders")
        .unwrap()
        .clone();
    assert_eq!(c["outcome"], "unverifiable");
    assert!(
        c["reason"].as_str().unwrap().contains("no [[tolerance]]"),
        "{c}"
    );

    let tol = "[[tolerance]]\nmodels = \"stg_*\"\nwarn = 0.1\nerror = 0.5\n";
    let policy = write_policy(&s, tol);
    let within = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(within.code, 0, "{}", within.dump());
    assert!(within.codes("warn").is_empty());

    // Recorded 4, warehouse 3: 25% drift, a warning.
    let s = incremental(4);
    let policy = write_policy(&s, tol);
    let r = reports(&s);
    let warned = gate(&s, &with(&r, &["--json", "--policy", &policy]));
    assert_eq!(warned.code, 0, "{}", warned.dump());
    assert_eq!(warned.codes("warn"), set(&["row_count_mismatch"]));
    assert_eq!(warned.summary()["counts"]["warn"], 1);
    assert!(warned.stderr.contains("::warning "), "{}", warned.dump());
    let sarif = read_sarif(&p(&s, "gate.sarif"));
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["level"] == "warning" && r["ruleId"] == "row_count_mismatch")
    );
    let policy = write_policy(&s, &format!("fail_on_warning = true\n{tol}"));
    let strict = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(strict.code, 1, "{}", strict.dump());

    // Recorded 10, warehouse 3: 70% drift, a failure.
    let s = incremental(10);
    let policy = write_policy(&s, tol);
    let failed = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(failed.code, 1, "{}", failed.dump());
    assert_eq!(failed.failing(), set(&["row_count_mismatch"]));
}

#[test]
fn skipped_checks_are_listed_with_their_reason() {
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "DELETE FROM tgt.raw.stg_orders WHERE order_id = 1",
    );
    let policy = write_policy(
        &s,
        &format!(
            "[[skip]]\ncheck = \"warehouse.row_count\"\nmodels = [\"stg_orders\"]\n\
             reason = \"reloaded by hand every hour\"\n{SKIP_CONTENT}"
        ),
    );
    let run = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(
        run.check("warehouse.row_count")
            .iter()
            .all(|c| c["subject"]["model"] != "stg_orders")
    );
    assert!(
        run.summary()["not_verified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap()
                == "skipped by policy: warehouse.row_count for stg_orders (1 check(s)): reloaded by hand every hour"),
        "{}",
        run.dump()
    );
}

#[test]
fn a_bad_policy_stops_the_gate_with_exit_2_and_the_line() {
    let s = Scenario::new();
    s.write();
    let policy = write_policy(
        &s,
        "fail_on_warning = true\n\n[[tolerance]]\nmodels = \"x\"\nwarn = 0.5\nerror = 0.1\n\n[[waiver]]\ncheck = \"a.b\"\nexpires = 2026-01-01\n",
    );
    let run = gate(&s, &["--json", "--policy", &policy]);
    assert_eq!(run.code, 2, "{}", run.dump());
    assert_eq!(run.codes("unknown"), set(&["policy_invalid"]));
    assert_eq!(run.checks().len(), 1, "no other check ran: {}", run.dump());
    assert!(
        run.stderr.contains("rocky-verify.toml:5:"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("rocky-verify.toml:8:"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("missing required key `reason`"),
        "{}",
        run.dump()
    );
}

#[test]
fn github_annotations_escape_properties_and_data() {
    let s = Scenario::new();
    s.write();
    // A file name with a comma and a colon, which must be escaped in `file=`.
    let dir = s.path("art,dir:x");
    std::fs::create_dir(&dir).unwrap();
    for m in ["raw_orders", "seed_events", "stg_orders"] {
        let f = s.artifact_file(m);
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    util::flip_byte(
        &dir.join(s.artifact_file("seed_events").file_name().unwrap()),
        10,
    );
    let run = gate(&s, &["--artifacts", &dir.display().to_string(), "--github"]);
    assert_eq!(run.code, 1, "{}", run.dump());
    // GitHub reads workflow commands from stdout; they come before the table.
    assert!(!run.stderr.contains("::error"), "{}", run.dump());
    assert!(run.stdout.starts_with("::"), "{}", run.dump());
    // With --json, stdout stays JSON Lines (run_bin parses every line) and they go to stderr.
    let json = gate(
        &s,
        &[
            "--artifacts",
            &dir.display().to_string(),
            "--github",
            "--json",
        ],
    );
    assert_eq!(json.code, 1, "{}", json.dump());
    assert!(
        json.stderr.lines().any(|l| l.starts_with("::error ")),
        "{}",
        json.dump()
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("{}", run.dump()));
    assert!(line.contains("art%2Cdir%3Ax/"), "{line}");
    assert!(
        line.contains(",title=rocky-verify artifact_hash_mismatch%3A"),
        "{line}"
    );
}

#[test]
fn ci_reports_count_each_finding_once_and_leave_by_design_limits_out_of_code_scanning() {
    // Control: clean evidence has no failures in any format, and the self-reported identity
    // (unverifiable by design) is not a code-scanning result.
    let clean = Scenario::new();
    clean.write();
    let r = reports(&clean);
    let run = gate(&clean, &with(&r, &["--json"]));
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.summary()["counts"]["unverifiable"].as_u64().unwrap() > 0);
    let sarif = read_sarif(&p(&clean, "gate.sarif"));
    assert_eq!(sarif["runs"][0]["results"], json!([]), "{sarif:#}");

    // Two column findings of one kind in one model, plus one of another kind.
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE tgt.raw.stg_orders DROP COLUMN customer_id; \
         ALTER TABLE tgt.raw.stg_orders ADD COLUMN extra1 INTEGER; \
         ALTER TABLE tgt.raw.stg_orders ADD COLUMN extra2 INTEGER;",
    );
    let r = reports(&s);
    let run = gate(&s, &with(&r, &["--json"]));
    assert_eq!(run.code, 1, "{}", run.dump());
    let fails = run.summary()["counts"]["fail"].as_u64().unwrap() as usize;
    assert_eq!(fails, 3, "{}", run.dump());

    let xml = std::fs::read_to_string(s.path("gate.xml")).unwrap();
    let cases = read_junit(&p(&s, "gate.xml"));
    assert_eq!(cases.iter().filter(|c| c.2 == "failure").count(), fails);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.root_element().attribute("failures"),
        Some(fails.to_string().as_str())
    );
    for f in doc.descendants().filter(|n| n.has_tag_name("failure")) {
        let t = f.attribute("type").unwrap();
        assert!(!t.contains(','), "one type per failure: {t}");
    }

    let sarif = read_sarif(&p(&s, "gate.sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), fails, "{sarif:#}");
    for res in results {
        let uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.ends_with("repo/models/stg_orders.sql"), "{uri}");
    }
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
    {
        let full = rule["fullDescription"]["text"].as_str().unwrap();
        assert!(full.contains("warehouse.columns"), "{rule}");
        assert!(
            rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains(rule["id"].as_str().unwrap())
        );
    }
}
