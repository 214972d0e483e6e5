//! `artifact`, `runs` and `record`, and the CLI conventions: usage errors exit 2, colour only when
//! asked or on a terminal, a closed stdout is a quiet exit, `--json` lines match the schema.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util::{self, RUN1, RUN2, Scenario, args, run_bin, set};

fn audit_sample() -> PathBuf {
    util::manifest_dir().join(
        "../fixtures/rocky/audit-sample/736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet",
    )
}

#[test]
fn rockys_audit_sample_verifies() {
    let p = audit_sample();
    let r = run_bin(&args(&["artifact", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 0, "{}", r.dump());
    let b = &r.check("artifact.blake3")[0];
    assert_eq!(b["outcome"], "pass");
    assert_eq!(
        b["expected"],
        "736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0"
    );
    let f = &r.check("artifact.parquet")[0]["actual"];
    assert_eq!(f["rows"], 3);
    assert_eq!(f["version"], 2);
    assert_eq!(f["created_by"], "parquet-rs version 58.3.0");
    assert_eq!(f["codecs"], serde_json::json!(["SNAPPY"]));
    assert_eq!(f["dictionary"], false);
    assert_eq!(f["columns"][0]["name"], "col-id");
    // Human output too.
    let h = run_bin(&args(&["artifact", p.to_str().unwrap()]), None);
    assert_eq!(h.code, 0);
    assert!(
        h.stdout.contains("PASS") && h.stdout.contains("verdict: OK"),
        "{}",
        h.stdout
    );
}

#[test]
fn an_artifact_whose_name_is_not_a_hash_is_reported_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.parquet");
    std::fs::copy(audit_sample(), &p).unwrap();
    let r = run_bin(&args(&["artifact", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.codes("unverifiable"), set(&["artifact_name_invalid"]));
    let strict = run_bin(&args(&["artifact", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(strict.code, 0);
}

#[test]
fn an_artifact_whose_bytes_do_not_match_its_name_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(audit_sample().file_name().unwrap());
    std::fs::copy(audit_sample(), &p).unwrap();
    util::flip_byte(&p, 400);
    let r = run_bin(&args(&["artifact", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.failing().contains("artifact_hash_mismatch"));
}

#[test]
fn a_missing_or_non_parquet_artifact_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_bin(
        &args(&[
            "artifact",
            dir.path().join("x.parquet").to_str().unwrap(),
            "--json",
        ]),
        None,
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    let p = dir.path().join("junk.parquet");
    std::fs::write(&p, b"PAR1 not really").unwrap();
    let r = run_bin(&args(&["artifact", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(
        r.failing(),
        set(&["artifact_parquet_invalid"]),
        "{}",
        r.dump()
    );
}

#[test]
fn artifact_with_a_ledger_lists_every_row_and_provenance_naming_the_hash() {
    let s = Scenario::new();
    s.write();
    let raw = s.artifact_file("raw_orders");
    let r = run_bin(
        &args(&[
            "artifact",
            raw.to_str().unwrap(),
            "--ledger",
            s.ledger().to_str().unwrap(),
            "--json",
        ]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let rows = r.check("artifact.ledger");
    assert_eq!(rows.len(), 1, "{}", r.dump());
    assert_eq!(rows[0]["subject"]["run_id"], RUN1);
    let prov = r.check("artifact.provenance");
    assert_eq!(prov.len(), 1, "raw_orders is stg_orders' upstream");
    assert_eq!(prov[0]["subject"]["upstream"], "tgt.raw.raw_orders");
    assert!(r.lines[0]["data"]["ledger"]["blake3"].is_string());

    // A valid Parquet the ledger does not know.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join(audit_sample().file_name().unwrap());
    std::fs::copy(audit_sample(), &other).unwrap();
    let r = run_bin(
        &args(&[
            "artifact",
            other.to_str().unwrap(),
            "--ledger",
            s.ledger().to_str().unwrap(),
            "--json",
        ]),
        None,
    );
    assert_eq!(r.failing(), set(&["artifact_unexpected"]), "{}", r.dump());
}

#[test]
fn runs_lists_every_run_newest_first() {
    let s = Scenario::new();
    s.write();
    let r = run_bin(
        &args(&[
            "runs",
            "--json",
            "--state-path",
            s.ledger().to_str().unwrap(),
        ]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    let runs: Vec<_> = r
        .lines
        .iter()
        .filter(|l| l["type"] == "run")
        .map(|l| &l["data"])
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], RUN2);
    assert_eq!(runs[1]["run_id"], RUN1);
    assert_eq!(runs[0]["models"], 2);
    assert_eq!(runs[0]["trigger"], "Manual");
    assert_eq!(runs[0]["triggering_identity"], "alice");
    assert_eq!(runs[0]["git_commit"], s.commit);
    assert_eq!(runs[0]["decodable"], true);
    // The human table has the same runs in the same order.
    let h = run_bin(
        &args(&["runs", "--ledger", s.ledger().to_str().unwrap()]),
        None,
    );
    let (a, b) = (h.stdout.find(RUN2).unwrap(), h.stdout.find(RUN1).unwrap());
    assert!(a < b, "{}", h.stdout);
}

#[test]
fn runs_defaults_to_the_rocky_state_file_in_the_current_folder() {
    let s = Scenario::new();
    s.write();
    let r = run_bin(&args(&["runs", "--json"]), Some(s.dir.path()));
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.lines[0]["data"]["ledger"]["path"], ".rocky-state.redb");
}

#[test]
fn record_verifies_a_replay_golden() {
    let p = util::manifest_dir()
        .join("../fixtures/rocky/replay-provenance-goldens/01-no-upstream.json");
    let r = run_bin(&args(&["record", p.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.lines[0]["data"]["command"], "record");
    let r = run_bin(
        &args(&[
            "record",
            p.to_str().unwrap(),
            "--json",
            "--recipe-hash",
            &"0".repeat(64),
        ]),
        None,
    );
    assert_eq!(r.failing(), set(&["recipe_hash_mismatch"]), "{}", r.dump());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for bad in [
        &["run"][..],
        &["frobnicate"],
        &["runs", "--bogus"],
        &["run", "x", "--color", "purple"],
    ] {
        let r = run_bin(&args(bad), None);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.dump());
        assert!(r.stdout.is_empty());
    }
    let r = run_bin(&args(&["--help"]), None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes"), "{}", r.stdout);
    let r = run_bin(&args(&["run", "--help"]), None);
    assert!(
        r.stdout.contains("--state-path") && r.stdout.contains("--warehouse"),
        "{}",
        r.stdout
    );
}

#[test]
fn colour_only_when_asked_and_never_in_json() {
    let p = audit_sample();
    let plain = run_bin(&args(&["artifact", p.to_str().unwrap()]), None);
    assert!(!plain.stdout.contains('\x1b'), "not a terminal: no colour");
    let always = run_bin(
        &args(&["artifact", p.to_str().unwrap(), "--color", "always"]),
        None,
    );
    assert!(
        always.stdout.contains("\x1b["),
        "--color always overrides NO_COLOR"
    );
    assert!(always.stdout.contains("PASS"), "the word is always printed");
    let json = run_bin(
        &args(&[
            "artifact",
            p.to_str().unwrap(),
            "--color",
            "always",
            "--json",
        ]),
        None,
    );
    assert!(!json.stdout.contains('\x1b'));
}

#[test]
fn json_output_is_deterministic_for_the_same_inputs() {
    let s = Scenario::new();
    s.write();
    let a = s.verify(RUN2, &[]);
    let b = s.verify(RUN2, &[]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_with_the_verdict() {
    let s = Scenario::new();
    s.write();
    let mut child = Command::new(util::BIN)
        .args(["runs", "--ledger", s.ledger().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

#[test]
fn human_run_output_leads_with_the_summary_and_has_a_line_per_model_and_the_verified_block() {
    let s = Scenario::new();
    s.write();
    let r = run_bin(
        &args(&[
            "run",
            RUN2,
            "--ledger",
            s.ledger().to_str().unwrap(),
            "--repo",
            s.path("repo").to_str().unwrap(),
        ]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    for needle in [
        "\nWho     alice (triggering_identity, self-reported) · commit ",
        "\nCode    ",
        "\nVerdict OK",
        "Findings: none",
        "\n  seed_events ",
        "\n  stg_orders ",
        "What this verified:",
        "What this did not verify:",
        "verdict: OK",
    ] {
        assert!(r.stdout.contains(needle), "{needle}:\n{}", r.stdout);
    }
}

#[test]
fn a_closed_stdout_keeps_a_failing_verdict() {
    let mut s = Scenario::new();
    s.run2["config_hash"] = serde_json::json!("0123456789abcdef");
    s.write();
    let mut child = Command::new(util::BIN)
        .args([
            "run",
            RUN2,
            "--json",
            "--ledger",
            s.ledger().to_str().unwrap(),
        ])
        .args(["--repo", s.path("repo").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "failure wins even when nobody reads the report: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
