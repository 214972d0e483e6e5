//! `rocky-verify gate` on the demo pipeline (two runs recorded by rocky-writer): the CI gate's
//! three exit codes. The clean demo passes (0); a warehouse that drifted from the ledger fails
//! (1) with exactly the row-count finding; a warehouse file that is not there cannot be verified
//! (2). The untampered control keeps a gate that fails everything from passing this file.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use rocky_e2e::{Scenario, Verdict, verifier_bin};

fn gate(s: &Scenario, warehouse: &Path, out: &Path) -> Verdict {
    let l = &s.layout;
    Verdict::run(
        Command::new(verifier_bin())
            .args(["gate", "--json", "--ledger"])
            .arg(l.ledger())
            .arg("--repo")
            .arg(l.project())
            .arg("--warehouse")
            .arg(warehouse)
            .arg("--artifacts")
            .arg(l.artifacts())
            .arg("--junit")
            .arg(out.join("gate.xml"))
            .arg("--sarif")
            .arg(out.join("gate.sarif")),
    )
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

#[test]
fn the_clean_demo_passes_the_gate() {
    let s = Scenario::demo();
    let out = tempfile::tempdir().unwrap();
    let v = gate(&s, &s.layout.warehouse(), out.path());
    assert_eq!(v.code, 0, "{}", v.explain());
    assert_eq!(v.fail_codes(), BTreeSet::new(), "{}", v.explain());
    assert_eq!(v.codes("unknown"), BTreeSet::new(), "{}", v.explain());
    // Not vacuous: every model's table was counted and its artifact hashed.
    let passed = |check: &str| {
        v.checks()
            .filter(|c| c["check"] == check && c["outcome"] == "pass")
            .count()
    };
    assert_eq!(passed("warehouse.row_count"), 3, "{}", v.explain());
    assert_eq!(passed("artifact.blake3"), 3, "{}", v.explain());
    let summary = &v.lines.last().unwrap()["data"];
    assert_eq!(summary["gate"]["models"], 3);
    assert!(out.path().join("gate.xml").is_file() && out.path().join("gate.sarif").is_file());
}

#[test]
fn a_drifted_demo_warehouse_fails_the_gate() {
    let s = Scenario::demo();
    s.warehouse_sql(
        "DELETE FROM demo.main.fct_revenue WHERE order_date = \
         (SELECT min(order_date) FROM demo.main.fct_revenue)",
    );
    let out = tempfile::tempdir().unwrap();
    let v = gate(&s, &s.layout.warehouse(), out.path());
    // A deleted row is a wrong count and, the model being content-addressed, rows that are no
    // longer its artifact's (warehouse.content).
    assert_eq!(
        v.fail_codes(),
        set(&["row_count_mismatch", "table_content_mismatch"]),
        "{}",
        v.explain()
    );
    assert_eq!(v.code, 1, "{}", v.explain());
    let junit = std::fs::read_to_string(out.path().join("gate.xml")).unwrap();
    assert!(
        junit.contains("<failure type=\"row_count_mismatch\""),
        "{junit}"
    );
}

#[test]
fn a_missing_warehouse_file_cannot_be_verified() {
    let s = Scenario::demo();
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("no-such.duckdb");
    let v = gate(&s, &missing, out.path());
    assert_eq!(
        v.codes("unknown"),
        set(&["warehouse_invalid"]),
        "{}",
        v.explain()
    );
    assert_eq!(v.fail_codes(), BTreeSet::new(), "{}", v.explain());
    assert_eq!(v.code, 2, "{}", v.explain());
    assert!(!missing.exists(), "the gate created no warehouse file");
}
