//! Bad input and a changing source: a clear diagnostic and exit 2, nothing left behind, nothing
//! written outside --out, never a panic. Each refusal has a control that succeeds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::{self, Deployment, S3, servers};

#[test]
fn an_object_that_changes_between_listing_and_read_is_exit_2() {
    let d = Deployment::new();
    let moto = servers::moto();
    let lake = S3::new(moto.port, "lake");
    lake.put_deployment(&d);
    let ledger = d.write_ledger("l.redb", &[], &[]);
    let hold = d.path("go");
    let run = |out: &std::path::Path, change: bool| {
        let mut cmd = Command::new(support::BIN);
        cmd.args([
            "--ledger",
            ledger.to_str().unwrap(),
            "--artifacts",
            "s3://lake",
        ])
        .args(["--out", out.to_str().unwrap()])
        .env("ROCKY_COLLECT_HOLD_AFTER_LISTING", &hold)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
        for (k, v) in lake.env() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut text = String::new();
        // The collector says when it has listed; then it waits for `hold`.
        loop {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 {
                break;
            }
            text.push_str(&line);
            if line.contains("listed") {
                if change {
                    let a = &d.artifacts[1];
                    lake.put(&a.file_path, b"rewritten by someone else");
                }
                std::fs::write(&hold, b"").unwrap();
            }
        }
        let status = child.wait().unwrap();
        std::fs::remove_file(&hold).ok();
        (status, text)
    };
    // Control: nothing changes, the bundle is written.
    let ok = d.path("ok");
    let (status, text) = run(&ok, false);
    assert!(status.success(), "{text}");
    support::check_bundle(&ok);
    // The object changes after the listing: refused, nothing kept.
    let bad = d.path("bad");
    let (status, text) = run(&bad, true);
    assert_eq!(status.code(), Some(2), "{text}");
    // The diagnostic may wrap long lines: compare without the layout.
    let flat: String = text
        .split_whitespace()
        .map(|w| w.trim_matches('│'))
        .collect();
    assert!(flat.contains("changedduringthecollection"), "{text}");
    assert!(flat.contains(&d.artifacts[1].file_path), "{text}");
    assert!(!bad.exists(), "an unfinished bundle is removed");
}

#[test]
fn bad_inputs_are_exit_2_with_a_diagnostic_and_leave_nothing() {
    let d = Deployment::new();
    let moto = servers::moto();
    let lake = S3::new(moto.port, "lake");
    let state = S3::new(moto.port, "state");
    let ledger = d.write_ledger("l.redb", &[], &[]);
    let l = ledger.to_str().unwrap();
    std::fs::write(d.path("not-redb"), b"hello").unwrap();
    std::fs::create_dir(d.path("exists")).unwrap();
    let out = d.path("out");
    let o = out.to_str().unwrap();
    let text = |rel: &str| d.path(rel).to_str().unwrap().to_owned();
    let (exists, not_redb, absent, absent_db) = (
        text("exists"),
        text("not-redb"),
        text("absent"),
        text("absent.duckdb"),
    );
    let env = lake.env();
    // (arguments, what the diagnostic must say)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--ledger", l, "--out", &exists], "already exists"),
        (vec!["--ledger", "gs://b/x", "--out", o], "unknown scheme"),
        (
            vec!["--ledger", l, "--run", "run-nope", "--out", o],
            "no such run",
        ),
        (
            vec![
                "--ledger",
                l,
                "--run",
                support::RUN1,
                "--last",
                "1",
                "--out",
                o,
            ],
            "cannot be used with",
        ),
        (vec!["--ledger", &not_redb, "--out", o], "not a redb file"),
        (vec!["--ledger", &absent, "--out", o], "No such file"),
        (
            vec!["--ledger", "s3://state", "--out", o],
            "no ledger at s3://state/rocky/state/v22/state.redb",
        ),
        // The artifacts are not uploaded yet.
        (
            vec!["--ledger", l, "--artifacts", "s3://lake", "--out", o],
            "not found at s3://lake/",
        ),
        (
            vec!["--ledger", l, "--ledger", l, "--out", o],
            "both --ledger values are local",
        ),
        (
            vec![
                "--ledger",
                l,
                "--artifacts",
                "valkey://127.0.0.1:1",
                "--out",
                o,
            ],
            "not Valkey",
        ),
        (vec!["--ledger", l, "--repo", &absent, "--out", o], "git"),
        (
            vec!["--ledger", l, "--warehouse", &absent_db, "--out", o],
            "warehouse",
        ),
        (
            vec!["--ledger", l, "--since", "yesterday-ish", "--out", o],
            "--since",
        ),
    ];
    let before = support::files_under(d.path("").as_path());
    for (args, says) in &cases {
        let r = support::collect(args, &env);
        let text = support::stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: wanted {says:?} in {text}");
        assert!(!out.exists(), "{args:?} left {o}");
        assert_eq!(
            support::files_under(d.path("").as_path()),
            before,
            "{args:?} wrote somewhere"
        );
    }
    let _ = state;
    // Control: the same inputs made right succeed.
    lake.put_deployment(&d);
    let r = support::collect(
        &["--ledger", l, "--artifacts", "s3://lake", "--out", o],
        &env,
    );
    assert!(r.status.success(), "{}", support::stderr(&r));
    support::check_bundle(&out);
}

#[test]
fn a_hostile_file_path_is_never_followed_outside_the_folder_and_never_written_outside_out() {
    let mut d = Deployment::new();
    // The recorded path climbs out of the artifacts folder; the file of that name exists there.
    let hash = d.artifacts[0].hash.clone();
    d.artifacts[0].file_path = format!("../../escape/{hash}.parquet");
    let outside = d.path("escape");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join(format!("{hash}.parquet")), b"not the artifact").unwrap();
    let ledger = d.write_ledger("l.redb", &[], &[]);
    let arts = d.artifacts_dir();
    let out = d.path("nested/deeper/out");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let r = support::collect(
        &[
            "--ledger",
            ledger.to_str().unwrap(),
            "--artifacts",
            arts.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.status.success(), "{}", support::stderr(&r));
    let m = support::check_bundle(&out);
    // The artifact came from <DIR>/<hash>.parquet, not from the path outside the folder.
    let f = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == format!("artifacts/{}.parquet", d.artifacts[0].hash))
        .unwrap()
        .clone();
    assert!(!f["source_uri"].as_str().unwrap().contains("escape"), "{f}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing written beside it"
    );
}

#[test]
fn a_tar_bundle_holds_the_manifest_first_and_the_same_files() {
    let d = Deployment::new();
    let ledger = d.write_ledger("l.redb", &[], &[]);
    let arts = d.artifacts_dir();
    let tar_path = d.path("bundle.tar");
    let r = support::collect(
        &[
            "--ledger",
            ledger.to_str().unwrap(),
            "--artifacts",
            arts.to_str().unwrap(),
            "--repo",
            d.path("repo").to_str().unwrap(),
            "--out",
            tar_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.status.success(), "{}", support::stderr(&r));
    let id = String::from_utf8(r.stdout).unwrap().trim().to_owned();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    let unpacked = d.path("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let mut first_file = None;
    let mut names = std::collections::BTreeSet::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let kind = e.header().entry_type();
        assert!(kind.is_file() || kind.is_dir(), "{name}: {kind:?}");
        assert!(names.insert(name.clone()), "{name} twice");
        if kind.is_file() && first_file.is_none() {
            first_file = Some(name.clone());
        }
        assert!(e.unpack_in(&unpacked).unwrap());
    }
    assert_eq!(first_file.as_deref(), Some("manifest.json"));
    support::check_bundle(&unpacked);
    assert_eq!(
        id,
        support::blake3_hex(&std::fs::read(unpacked.join("manifest.json")).unwrap())
    );
    // Nothing else was left beside the tar.
    assert!(!d.path("bundle").exists());
}

#[test]
fn warehouse_results_from_a_client_become_facts() {
    let d = Deployment::new();
    let ledger = d.write_ledger("l.redb", &[], &[]);
    std::fs::write(
        d.path("columns.csv"),
        "TABLE_CATALOG,TABLE_SCHEMA,TABLE_NAME,COLUMN_NAME,ORDINAL_POSITION,DATA_TYPE\r\n\
         WH,MAIN,ORDERS,ID,1,NUMBER\r\n",
    )
    .unwrap();
    std::fs::write(
        d.path("counts.csv"),
        "TABLE_CATALOG,TABLE_SCHEMA,TABLE_NAME,ROW_COUNT\r\nWH,MAIN,ORDERS,3\r\n",
    )
    .unwrap();
    let out = d.path("b");
    let r = support::collect(
        &[
            "--ledger",
            ledger.to_str().unwrap(),
            "--warehouse-results",
            d.path("columns.csv").to_str().unwrap(),
            "--warehouse-results",
            d.path("counts.csv").to_str().unwrap(),
            "--warehouse-client",
            "snowsql",
            "--warehouse-client-version",
            "1.3.2",
            "--warehouse-read-at",
            "2026-12-01T10:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.status.success(), "{}", support::stderr(&r));
    let m = support::check_bundle(&out);
    assert_eq!(
        m["warehouse"],
        serde_json::json!({"kind": "facts", "path": "warehouse/facts.json"})
    );
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("warehouse/facts.json")).unwrap()).unwrap();
    assert_eq!(
        facts["source"],
        serde_json::json!({"client": "snowsql", "client_version": "1.3.2", "dialect": "snowflake",
            "read_at": "2026-12-01T10:00:00.000Z"})
    );
    let tables = facts["tables"].as_array().unwrap();
    let orders = tables.iter().find(|t| t["table"] == "orders").unwrap();
    assert_eq!(orders["row_count"], 3);
    assert_eq!(orders["exists"], true);
    assert_eq!(
        orders["columns"],
        serde_json::json!([{"data_type": "NUMBER", "name": "ID", "ordinal": 1}])
    );
    // In scope, with no columns row: absent.
    let customers = tables.iter().find(|t| t["table"] == "customers").unwrap();
    assert_eq!(customers["exists"], false);
    assert!(out.join("warehouse/results-1.csv").is_file());
}
