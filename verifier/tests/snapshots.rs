//! The human output, byte for byte, at 80 and 120 columns (`COLUMNS`): a clean run, a failing
//! run and a gate run, compared with `tests/snapshots/*.txt`. `UPDATE_SNAPSHOTS=1` rewrites the
//! files instead (review the diff). Paths are relative (the commands run in the scenario's
//! folder), times and the commit are fixed by the scenario, and the ledger's size and BLAKE3
//! are masked after layout (they are of fixed width).

use std::path::Path;
use std::process::Command;

use crate::util::{self, BIN, RUN2, Scenario};

fn human(dir: &Path, args: &[&str], columns: u16) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", columns.to_string())
        .env("NO_COLOR", "1")
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    let ledger = std::fs::read(dir.join(".rocky-state.redb")).unwrap();
    let mask = |s: String| {
        s.replace(&util::blake3_hex(&ledger), &"L".repeat(64))
            .replace(&format!("({} bytes,", ledger.len()), "(<size> bytes,")
    };
    (
        out.status.code().unwrap_or(-1),
        mask(String::from_utf8(out.stdout).unwrap()),
        mask(String::from_utf8_lossy(&out.stderr).into_owned()),
    )
}

const INPUTS: [&str; 8] = [
    "--ledger",
    ".rocky-state.redb",
    "--repo",
    "repo",
    "--warehouse",
    "tgt.duckdb",
    "--artifacts",
    "artifacts",
];

fn check(name: &str, text: &str) {
    let path = util::manifest_dir().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert!(
        want == text,
        "{name} differs from its snapshot (UPDATE_SNAPSHOTS=1 rewrites it):\n--- want\n{want}\n--- got\n{text}"
    );
}

/// Every line fits the width unless it is one unbreakable word (a 64-hex hash, a path).
fn fits(text: &str, columns: usize) {
    for line in text.lines() {
        let n = line.chars().count();
        let words = line.split_whitespace().count();
        assert!(
            n <= columns || words == 1,
            "{n} > {columns} columns: {line:?}"
        );
    }
}

fn tampered() -> Scenario {
    let s = Scenario::new();
    s.write();
    util::warehouse_sql(
        &s.path("tgt.duckdb"),
        "DELETE FROM raw.seed_events WHERE id = 1",
    );
    util::flip_byte(&s.artifact_file("stg_orders"), 8);
    s
}

fn snapshot(s: &Scenario, name: &str, command: &[&str], want_code: i32) {
    let mut args: Vec<&str> = command.to_vec();
    args.extend(INPUTS);
    for columns in [80u16, 120] {
        let (code, stdout, stderr) = human(s.dir.path(), &args, columns);
        assert_eq!(code, want_code, "{stdout}\n{stderr}");
        fits(&stdout, usize::from(columns));
        let last = stderr.lines().last().unwrap_or("").to_owned();
        check(
            &format!("{name}-{columns}.txt"),
            &format!("{stdout}--- stderr (last line)\n{last}\n"),
        );
    }
}

#[test]
fn a_clean_run() {
    let s = Scenario::new();
    s.write();
    snapshot(&s, "run-clean", &["run", RUN2], 0);
}

#[test]
fn a_failing_run() {
    let s = tampered();
    snapshot(&s, "run-failing", &["run", RUN2], 1);
    // The failures lead, and stderr names them.
    let (_, stdout, stderr) = human(s.dir.path(), &[&["run", RUN2][..], &INPUTS].concat(), 80);
    let findings = stdout.find("Findings (").unwrap();
    assert!(
        findings < stdout.find("What this verified").unwrap(),
        "{stdout}"
    );
    let last = stderr.lines().last().unwrap();
    assert!(
        last.contains("warehouse.row_count seed_events")
            && last.contains("artifact.blake3 stg_orders"),
        "{last}"
    );
}

#[test]
fn a_gate_run() {
    let s = tampered();
    snapshot(&s, "gate", &["gate", "--last", "2"], 1);
}

#[test]
fn quiet_prints_only_the_findings_and_the_verdict() {
    let s = tampered();
    let (code, stdout, _) = human(
        s.dir.path(),
        &[&["run", RUN2, "--quiet"][..], &INPUTS].concat(),
        80,
    );
    assert_eq!(code, 1);
    assert!(stdout.starts_with("Findings ("), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("verdict: FAILED"),
        "{stdout}"
    );
    assert!(!stdout.contains("What this verified"), "{stdout}");
    // The control: a clean run prints the verdict alone.
    let clean = Scenario::new();
    clean.write();
    let (code, stdout, _) = human(
        clean.dir.path(),
        &[&["run", RUN2, "-q"][..], &INPUTS].concat(),
        80,
    );
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}
