//! The remote demo end to end, on real servers started here (`redis-server`, moto's S3 server;
//! `scripts/servers install`): two runs, each on a wiped runner folder, with the ledger kept in
//! S3 + Valkey (tiered). The second run must start from the first run's state, the remote object
//! must hold both runs, and `rocky-verify` must pass the second runner's evidence, read from the
//! local ledger and from the uploaded object as it is (without the local-only tables).

#[allow(dead_code)]
#[path = "../../writer/tests/remote/support/servers.rs"]
mod servers;

use std::process::Command;

use rocky_e2e::{Verdict, verifier_bin};
use rocky_examples::Clock;
use rocky_examples::remote::{RemoteLayout, build_remote_demo};
use rocky_writer::Ledger;
use rocky_writer::remote::{Backend, S3Location, StateConfig, ValkeyLocation};

#[test]
fn remote_demo_state_survives_wiped_runners_and_verifies() {
    let s3 = servers::Server::moto("rocky-state");
    let v = servers::Server::redis();
    let backend = Backend::Tiered {
        s3: S3Location {
            endpoint: Some(format!("http://127.0.0.1:{}", s3.port)),
            region: Some("us-east-1".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            ..S3Location::new("rocky-state")
        },
        valkey: ValkeyLocation::new(format!("redis://127.0.0.1:{}", v.port)),
    };
    let dir = tempfile::tempdir().unwrap();
    let remote = RemoteLayout {
        root: dir.path().join("demo"),
    };
    let mut lines = Vec::new();
    let runs = build_remote_demo(
        &remote,
        StateConfig::new(backend),
        &mut Clock::fixed(),
        &mut |l| lines.push(l),
    )
    .unwrap();
    let shown = lines.join("\n");
    assert!(
        shown.contains("downloaded state: FreshStart, 0 run(s)"),
        "{shown}"
    );
    assert!(
        shown.contains("downloaded state: Restored, 1 run(s)"),
        "{shown}"
    );

    // The second runner's ledger and the remote object both hold the two runs.
    let work = remote.work();
    let mut local: Vec<String> = Ledger::create_or_open(work.ledger())
        .unwrap()
        .runs()
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    local.sort();
    let mut want = vec![runs[0].run_id.clone(), runs[1].run_id.clone()];
    want.sort();
    assert_eq!(local, want);
    let object = servers::s3_object(s3.port, "rocky-state", "rocky/state/v22/state.redb").unwrap();
    let copy = dir.path().join("remote.redb");
    std::fs::write(&copy, &object).unwrap();
    let db = redb::Database::open(&copy).unwrap();
    let read = db.begin_read().unwrap();
    let table: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("run_history");
    use redb::ReadableTableMetadata;
    assert_eq!(read.open_table(table).unwrap().len().unwrap(), 2);

    let verdict = Verdict::run(
        Command::new(verifier_bin())
            .args(["run", &runs[1].run_id, "--json", "--ledger"])
            .arg(work.ledger())
            .arg("--repo")
            .arg(work.project())
            .arg("--warehouse")
            .arg(work.warehouse())
            .arg("--artifacts")
            .arg(work.artifacts()),
    );
    assert_eq!(verdict.code, 0, "{}", verdict.explain());

    // The uploaded object itself (no local-only tables) verifies the same way.
    drop(read);
    drop(db);
    let verdict = Verdict::run(
        Command::new(verifier_bin())
            .args(["run", &runs[1].run_id, "--json", "--ledger"])
            .arg(&copy)
            .arg("--repo")
            .arg(work.project())
            .arg("--warehouse")
            .arg(work.warehouse())
            .arg("--artifacts")
            .arg(work.artifacts()),
    );
    assert_eq!(verdict.code, 0, "{}", verdict.explain());
}
