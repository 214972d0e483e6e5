//! The ledger from S3 and Valkey (a tiered store): both copies kept, their comparison recorded.

use serde_json::{Value, json};

use crate::support::{self, Deployment, S3, servers};

const S3_KEY: &str = "rocky/state/v22/state.redb";
const VALKEY_KEY: &str = "rocky:state:v22:state.redb";

/// Collects a deployment whose S3 ledger is the plain one and whose Valkey copy `valkey_copy`
/// makes (given the deployment and the S3 copy's bytes).
fn tiered(
    valkey_copy: impl Fn(&Deployment, &[u8]) -> Vec<u8>,
) -> (Deployment, Value, std::path::PathBuf, String) {
    let d = Deployment::new();
    let moto = servers::moto();
    let redis = servers::redis();
    let s3 = S3::new(moto.port, "state");
    let lake = S3::new(moto.port, "lake");
    let ledger = std::fs::read(d.write_ledger("ledger.redb", &[], &[])).unwrap();
    s3.put(S3_KEY, &ledger);
    support::valkey_set(redis.port, VALKEY_KEY, &valkey_copy(&d, &ledger));
    lake.put_deployment(&d);
    let out = d.path("bundle");
    let valkey = format!("valkey://127.0.0.1:{}", redis.port);
    let o = support::collect(
        &[
            "--ledger",
            &valkey,
            "--ledger",
            "s3://state",
            "--artifacts",
            "s3://lake",
            "--repo",
            d.path("repo").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &s3.env(),
    );
    assert!(o.status.success(), "{}", support::stderr(&o));
    let id = String::from_utf8(o.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    let m = support::check_bundle(&out);
    // The S3 facts are the server's own: compare with a HEAD of each object.
    for f in m["files"].as_array().unwrap() {
        let uri = f["source_uri"].as_str().unwrap();
        if let Some(rest) = uri.strip_prefix("s3://lake/") {
            assert_eq!(f["s3_etag"].as_str(), lake.etag(rest).as_deref(), "{uri}");
        }
        if let Some(rest) = uri.strip_prefix("s3://state/") {
            assert_eq!(f["s3_etag"].as_str(), s3.etag(rest).as_deref(), "{uri}");
        }
    }
    (d, m, out, id)
}

#[test]
fn tiered_ledger_artifacts_and_logs_are_collected_with_their_hashes_and_etags() {
    // The Valkey copy is the same file: byte-identical.
    let (d, m, out, id) = tiered(|_, s3_copy| s3_copy.to_vec());
    assert_eq!(
        id,
        support::blake3_hex(&std::fs::read(out.join("manifest.json")).unwrap()),
        "the printed bundle id is the BLAKE3 of manifest.json"
    );
    assert_eq!(
        m["ledger"],
        json!({"comparison": "byte_identical", "copies": [
            {"path": "ledger/s3.redb", "tier": "s3"},
            {"path": "ledger/valkey.redb", "tier": "valkey"}]})
    );
    assert_eq!(
        m["selection"],
        json!({"last": null, "run": null, "since": null})
    );
    assert_eq!(m["bundle_format"], 1);
    let files = m["files"].as_array().unwrap();
    let by_path = |p: &str| files.iter().find(|f| f["path"] == p).cloned();
    let valkey = by_path("ledger/valkey.redb").unwrap();
    assert_eq!(valkey["redis_key"], "rocky:state:v22:state.redb");
    assert!(
        valkey["source_uri"]
            .as_str()
            .unwrap()
            .ends_with("#rocky:state:v22:state.redb")
    );
    assert_eq!(
        by_path("ledger/s3.redb").unwrap()["source_uri"],
        "s3://state/rocky/state/v22/state.redb"
    );
    // Every artifact, under its hash, from its recorded key; every Delta log commit.
    for a in &d.artifacts {
        let f = by_path(&format!("artifacts/{}.parquet", a.hash)).expect("artifact collected");
        assert_eq!(f["source_uri"], format!("s3://lake/{}", a.file_path));
        assert_eq!(f["size"], a.bytes.len());
    }
    for (k, v) in &d.logs {
        let f = by_path(&k.replacen("lake/", "lake/lake/", 1)).unwrap_or_else(|| panic!("{k}"));
        assert_eq!(f["blake3"], support::blake3_hex(v));
    }
    // The commit, as a bare repository with its tag.
    let repo = git2::Repository::open_bare(out.join("git")).unwrap();
    let tag = format!("refs/tags/rocky-verify/{}", d.commit);
    assert_eq!(repo.refname_to_id(&tag).unwrap().to_string(), d.commit);
    // The recorded branch, as the source held it: main's tip is a child of the commit, and the
    // verifier can tell that main (and origin's main) contains the commit without the source.
    let tip = repo.refname_to_id("refs/heads/main").unwrap();
    assert_ne!(tip.to_string(), d.commit);
    assert_eq!(
        repo.refname_to_id("refs/remotes/origin/main")
            .unwrap()
            .to_string(),
        d.commit
    );
    let held = rocky_verify::evidence::git::Repo::open(&out.join("git")).unwrap();
    assert!(matches!(
        held.branch_contains("main", &d.commit).unwrap(),
        rocky_verify::evidence::git::BranchState::Contains(_)
    ));
    // Control: the held history answers "no" too (the commit does not descend from the tip),
    // and a branch no run records is not copied.
    let commit = git2::Oid::from_str(&d.commit).unwrap();
    assert!(!repo.graph_descendant_of(commit, tip).unwrap());
    assert!(repo.graph_descendant_of(tip, commit).unwrap());
    assert!(matches!(
        held.branch_contains("feature", &d.commit).unwrap(),
        rocky_verify::evidence::git::BranchState::Missing
    ));
    assert!(files.iter().all(
        |f| !f["path"].as_str().unwrap().starts_with("git/") || f["source_uri"] == "generated:"
    ));
}

#[test]
fn tiers_with_other_bytes_are_row_identical_or_diverged() {
    // Same compared rows, another table differs: row-identical (a control for "diverged").
    let (_, m, _, _) =
        tiered(|d, _| std::fs::read(d.write_ledger("a.redb", &[("k", b"v")], &[])).unwrap());
    assert_eq!(m["ledger"]["comparison"], "row_identical");

    // The Valkey copy holds a run S3 does not: diverged, and the bundle still records both.
    let (_d, m, out, _) = tiered(|d, _| {
        let mut run = d.runs[0].clone();
        run["run_id"] = json!("run-20261122-090000-000");
        std::fs::read(d.write_ledger("b.redb", &[], &[run])).unwrap()
    });
    assert_eq!(m["ledger"]["comparison"], "diverged");
    assert!(out.join("ledger/valkey.redb").is_file() && out.join("ledger/s3.redb").is_file());
}

#[test]
fn selection_by_last_run_and_since() {
    let d = Deployment::new();
    let ledger = d.write_ledger("l.redb", &[], &[]);
    let arts = d.artifacts_dir();
    for (flag, value, runs) in [
        ("--last", "1", vec![support::RUN2]),
        ("--run", support::RUN1, vec![support::RUN1]),
        ("--since", "2026-11-21", vec![support::RUN2]),
        ("--since", support::RUN1, vec![support::RUN1, support::RUN2]),
    ] {
        let out = d.path(&format!("b-{}-{}", flag.trim_start_matches('-'), value));
        let o = support::collect(
            &[
                "--ledger",
                ledger.to_str().unwrap(),
                "--artifacts",
                arts.to_str().unwrap(),
                flag,
                value,
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}", support::stderr(&o));
        let m = support::check_bundle(&out);
        let key = flag.trim_start_matches("--");
        let want = if key == "last" {
            json!(1)
        } else {
            json!(value)
        };
        assert_eq!(m["selection"][key], want);
        // Exactly the selected runs' artifacts.
        let mut want_files: Vec<String> = d
            .artifacts
            .iter()
            .filter(|a| runs.contains(&a.run))
            .map(|a| format!("artifacts/{}.parquet", a.hash))
            .collect();
        want_files.sort();
        let got: Vec<String> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| {
                f["path"]
                    .as_str()
                    .filter(|p| p.starts_with("artifacts/"))
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(got, want_files, "{flag} {value}");
    }
}
