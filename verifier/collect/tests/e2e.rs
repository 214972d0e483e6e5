//! The demo's deployment on real servers, collected, then verified by `rocky-verify run --bundle`
//! inside a network namespace with no interfaces (`unshare -n`), proving verification needs no
//! network. Gated: it runs only where `rocky-verify` has `--bundle` (issue 14's verifier side)
//! and the demo binary is built (`scripts/test` builds both); otherwise it says why and returns.

use std::path::{Path, PathBuf};
use std::process::Command;

use redb::{ReadableTable, TableDefinition};

use crate::support::{self, S3, servers};

/// A sibling binary of the test's target folder, or `$var`.
fn sibling(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    // target/debug/deps/collect-… -> target/debug/<name>
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join(name);
    p.is_file().then_some(p)
}

fn has_bundle_flag(verify: &Path) -> bool {
    Command::new(verify)
        .args(["run", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--bundle"))
}

/// `(file_path, blake3)` of every artifact row of a ledger.
fn artifact_rows(ledger: &Path) -> Vec<(String, String)> {
    let db = redb::Database::open(ledger).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn
        .open_table(TableDefinition::<&str, &[u8]>::new("output_artifacts"))
        .unwrap();
    t.iter()
        .unwrap()
        .map(|r| {
            let (_, v) = r.unwrap();
            let v: serde_json::Value = serde_json::from_slice(v.value()).unwrap();
            (
                v["file_path"].as_str().unwrap().to_owned(),
                v["blake3_hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_demo_collected_from_s3_and_valkey_verifies_offline_in_a_network_namespace() {
    let Some(verify) = sibling("ROCKY_VERIFY_BIN", "rocky-verify").filter(|v| has_bundle_flag(v))
    else {
        // scripts/test builds it first: a missing binary is a broken setup, never a pass.
        panic!("rocky-verify with `run --bundle` is not built (set ROCKY_VERIFY_BIN)");
    };
    let Some(demo) = sibling("ROCKY_DEMO_BIN", "rocky-demo") else {
        panic!("rocky-demo is not built (cargo build -p rocky-examples --bin rocky-demo)");
    };
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let st = Command::new(&demo)
        .arg(&demo_dir)
        .arg("--fixed-clock")
        .status()
        .unwrap();
    assert!(st.success());
    let project = demo_dir.join("project");
    let ledger_path = project.join(".rocky-state.redb");
    let ledger = std::fs::read(&ledger_path).unwrap();

    let moto = servers::moto();
    let redis = servers::redis();
    let state = S3::new(moto.port, "rocky-state");
    let lake = S3::new(moto.port, "lake");
    state.put("rocky/state/v22/state.redb", &ledger);
    support::valkey_set(redis.port, "rocky:state:v22:state.redb", &ledger);
    for (file_path, hash) in artifact_rows(&ledger_path) {
        let bytes =
            std::fs::read(project.join("artifacts").join(format!("{hash}.parquet"))).unwrap();
        lake.put(&file_path, &bytes);
    }

    let out = dir.path().join("bundle");
    let valkey = format!("redis://127.0.0.1:{}", redis.port);
    let r = support::collect(
        &[
            "--ledger",
            "s3://rocky-state",
            "--ledger",
            &valkey,
            "--repo",
            project.to_str().unwrap(),
            "--artifacts",
            "s3://lake",
            "--warehouse",
            demo_dir.join("warehouse/demo.duckdb").to_str().unwrap(),
            "--last",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &state.env(),
    );
    assert!(r.status.success(), "{}", support::stderr(&r));
    let id = String::from_utf8(r.stdout).unwrap().trim().to_owned();
    let m = support::check_bundle(&out);
    assert_eq!(m["ledger"]["comparison"], "byte_identical");

    // No network at all: only a loopback interface that is down.
    let verify_offline = |bundle: &Path| {
        Command::new("unshare")
            .args(["-n", "--"])
            .arg(&verify)
            .args(["run", "latest", "--json", "--bundle"])
            .arg(bundle)
            .output()
            .unwrap()
    };
    let clean = verify_offline(&out);
    let report = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert_ne!(
        clean.status.code(),
        Some(1),
        "a clean bundle fails: {report}"
    );
    assert!(matches!(clean.status.code(), Some(0 | 2)), "{report}");
    assert!(
        report.contains(&id),
        "the report carries the bundle id {id}: {report}"
    );

    // Control: one byte of one artifact changed is a tampered bundle (exit 1).
    let art = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().starts_with("artifacts/"))
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = out.join(&art);
    let mut b = std::fs::read(&p).unwrap();
    b[0] ^= 1;
    std::fs::write(&p, b).unwrap();
    let tampered = verify_offline(&out);
    assert_eq!(
        tampered.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&tampered.stdout)
    );
}
