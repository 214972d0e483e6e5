//! Download-run-upload through each backend, from a wiped working folder each time, at Rocky's
//! keys; local-only tables stay local; a run whose download failed never uploads.

use rocky_writer::remote::{
    Authority, Backend, OnDownloadFailure, Outcome, StateSync, SyncError, Tier,
};

use crate::support::proxy::{Mode, Proxy};
use crate::support::servers::{self, Server};
use crate::support::*;

/// Two runs, each in a new empty folder (an ephemeral runner): the second sees the first.
fn two_runs_from_wiped_folders(backend: Backend) -> Vec<String> {
    let mut sync = StateSync::new(quick(backend)).unwrap();
    let mut ids = Vec::new();
    for (i, model) in ["orders", "revenue"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        // The ledger's folder does not exist yet on a fresh runner.
        let ledger = dir.path().join("checkout").join(".rocky-state.redb");
        let session = sync.acquire(&ledger).unwrap();
        let expected = if i == 0 {
            Authority::FreshStart
        } else {
            Authority::Restored
        };
        assert_eq!(session.authority(), expected);
        assert_eq!(run_ids(&ledger).len(), i, "run {i} sees the runs before it");
        ids.push(record_run(&ledger, model, i as u32));
        let report = sync.finalize(session).unwrap();
        let first = if i == 0 { Outcome::Absent } else { Outcome::Ok };
        assert_eq!(report.outcomes(), [first, Outcome::Ok]);
    } // the folder is deleted here
    ids
}

#[test]
fn s3_state_survives_a_wiped_working_folder_at_rockys_key() {
    let s3 = Server::moto(BUCKET);
    let ids = two_runs_from_wiped_folders(Backend::S3(s3_at(s3.port)));
    assert_eq!(servers::s3_keys(s3.port, BUCKET), [S3_KEY]);
    let object = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = to_file(dir.path(), "remote.redb", &object);
    let mut stored = rows(&file, "run_history").unwrap();
    stored.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(stored, ids);
}

#[test]
fn valkey_state_survives_a_wiped_working_folder_at_rockys_key() {
    let v = Server::redis();
    two_runs_from_wiped_folders(Backend::Valkey(valkey_at(v.port)));
    assert_eq!(servers::redis_keys(v.port), [VALKEY_KEY]);
}

#[test]
fn tiered_reads_valkey_first_and_falls_back_to_s3_when_valkey_is_killed() {
    let s3 = Server::moto(BUCKET);
    let mut v = Server::redis();
    let backend = Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(v.port),
    };
    two_runs_from_wiped_folders(backend.clone());
    // Both tiers hold the same bytes.
    let in_s3 = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();
    assert_eq!(servers::redis_get(v.port, VALKEY_KEY), Some(in_s3.clone()));

    let mut sync = StateSync::new(quick(backend)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    let legs = &sync.report().download.as_ref().unwrap().legs;
    assert_eq!(legs.len(), 1, "a Valkey hit needs no S3 read: {legs:?}");
    assert_eq!((legs[0].tier, legs[0].outcome), (Tier::Valkey, Outcome::Ok));
    sync.finalize(session).unwrap();

    v.kill();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    assert_eq!(session.authority(), Authority::Restored);
    assert_eq!(run_ids(&ledger).len(), 2);
    let download = sync.report().download.clone().unwrap();
    assert_eq!(download.outcome, Outcome::Ok);
    let tiers: Vec<_> = download.legs.iter().map(|l| (l.tier, l.outcome)).collect();
    assert_eq!(
        tiers,
        [
            (Tier::Valkey, Outcome::TransientExhausted),
            (Tier::S3, Outcome::Ok)
        ]
    );
    // Upload with Valkey down: S3 decides, the Valkey leg is only reported.
    record_run(&ledger, "third", 3);
    let report = sync.finalize(session).unwrap();
    let upload = report.upload.unwrap();
    assert_eq!(upload.outcome, Outcome::Ok);
    assert_ne!(upload.legs[0].outcome, Outcome::Ok);
    assert_eq!(
        (upload.legs[1].tier, upload.legs[1].outcome),
        (Tier::S3, Outcome::Ok)
    );
}

#[test]
fn namespaced_ledgers_and_prefixes_keep_environments_apart() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    for env in ["staging", "prod"] {
        let mut s3loc = s3_at(s3.port);
        s3loc.prefix = format!("rocky/{env}/");
        let mut vloc = valkey_at(v.port);
        vloc.prefix = format!("rocky:{env}:");
        let mut sync = StateSync::new(quick(Backend::Tiered {
            s3: s3loc,
            valkey: vloc,
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join(".rocky-state").join(format!("{env}.redb"));
        let session = sync.acquire(&ledger).unwrap();
        assert_eq!(session.remote_name(), format!("{env}.redb"));
        record_run(&ledger, env, 1);
        sync.finalize(session).unwrap();
    }
    let mut keys = servers::s3_keys(s3.port, BUCKET);
    keys.sort();
    assert_eq!(
        keys,
        ["rocky/prod/v22/prod.redb", "rocky/staging/v22/staging.redb"]
    );
    let mut keys = servers::redis_keys(v.port);
    keys.sort();
    assert_eq!(
        keys,
        ["rocky:prod:v22:prod.redb", "rocky:staging:v22:staging.redb"]
    );
}

#[test]
fn local_only_tables_are_never_uploaded_and_never_taken_from_remote() {
    let s3 = Server::moto(BUCKET);
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(s3.port)))).unwrap();
    // Machine A: a run plus rows in every local-only table.
    let a = tempfile::tempdir().unwrap();
    let ledger_a = a.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger_a).unwrap();
    record_run(&ledger_a, "orders", 1);
    for table in rocky_writer::remote::LOCAL_ONLY_TABLES {
        put_local_only(&ledger_a, table, "from-a", b"{}");
    }
    sync.finalize(session).unwrap();
    let object = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();
    let file = to_file(a.path(), "uploaded.redb", &object);
    for table in rocky_writer::remote::LOCAL_ONLY_TABLES {
        assert_eq!(rows(&file, table), None, "{table} was uploaded");
    }
    assert_eq!(rows(&file, "run_history").unwrap().len(), 1);
    // A's local file still has its rows.
    assert_eq!(rows(&ledger_a, "jobs").unwrap(), ["from-a"]);

    // Machine B, with its own local-only rows, downloads: it keeps its own, never A's.
    let b = tempfile::tempdir().unwrap();
    let ledger_b = b.path().join(".rocky-state.redb");
    record_run(&ledger_b, "local-only-run", 2);
    put_local_only(&ledger_b, "jobs", "from-b", b"{}");
    let session = sync.acquire(&ledger_b).unwrap();
    assert_eq!(session.authority(), Authority::Restored);
    assert_eq!(rows(&ledger_b, "jobs").unwrap(), ["from-b"]);
    assert_eq!(
        rows(&ledger_b, "schema_cache").unwrap(),
        Vec::<String>::new()
    );
    // The replicated tables are the remote's: B's unsynced local run is replaced.
    assert_eq!(run_ids(&ledger_b).len(), 1);
    sync.finalize(session).unwrap();
}

#[test]
fn a_run_whose_download_failed_never_uploads() {
    let s3 = Server::moto(BUCKET);
    // Good remote state first.
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(s3.port)))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    record_run(&ledger, "good", 1);
    sync.finalize(session).unwrap();
    let good = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();

    // A new runner whose download is reset by the network, then the network recovers.
    let proxy = Proxy::start(s3.port, Mode::ResetAfter(0));
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(proxy.port)))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    assert_eq!(session.authority(), Authority::Indeterminate);
    let download = sync.report().download.clone().unwrap();
    assert_eq!(download.outcome, Outcome::ErrorThenFresh);
    assert_eq!(download.cause, Some(Outcome::TransientExhausted));
    record_run(&ledger, "fresh", 2);
    proxy.set_mode(Mode::Pass);
    let report = sync.finalize(session).unwrap();
    assert_eq!(report.upload, None);
    assert_eq!(report.upload_suppressed, Some("download failed"));
    assert_eq!(servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap(), good);

    // With on_download_failure = Fail the run does not start, with a typed error.
    proxy.set_mode(Mode::ResetAfter(0));
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.on_download_failure = OnDownloadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let err = sync.acquire(dir.path().join("x.redb")).unwrap_err();
    assert!(
        matches!(err, SyncError::TransientExhausted { tier: Tier::S3, .. }),
        "{err}"
    );
}

#[test]
fn an_invalid_remote_object_is_refused_not_installed() {
    let s3 = Server::moto(BUCKET);
    servers::put_s3_object(s3.port, BUCKET, S3_KEY, b"not a ledger");
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(s3.port)))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    record_run(&ledger, "mine", 1);
    let session = sync.acquire(&ledger).unwrap();
    assert_eq!(session.authority(), Authority::Indeterminate);
    let download = sync.report().download.clone().unwrap();
    assert_eq!(
        (download.outcome, download.cause),
        (Outcome::ErrorThenFresh, Some(Outcome::Error))
    );
    // The local ledger is untouched, and the bad object is not overwritten by this run.
    assert_eq!(run_ids(&ledger).len(), 1);
    sync.finalize(session).unwrap();
    assert_eq!(
        servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap(),
        b"not a ledger"
    );
}

#[test]
fn state_rw_probe_passes_on_live_servers_cleans_up_and_fails_on_a_refused_port() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    let mut sync = StateSync::new(quick(Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(v.port),
    }))
    .unwrap();
    sync.probe().unwrap();
    assert_eq!(servers::s3_keys(s3.port, BUCKET), Vec::<String>::new());
    assert_eq!(servers::redis_keys(v.port), Vec::<String>::new());

    let dead = servers::free_port();
    let mut sync = StateSync::new(quick(Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(dead),
    }))
    .unwrap();
    let err = sync.probe().unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::ProbeFailed {
                tier: Tier::Valkey,
                step: "put",
                ..
            }
        ),
        "{err}"
    );
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(dead)))).unwrap();
    let err = sync.probe().unwrap_err();
    assert!(
        matches!(err, SyncError::ProbeFailed { tier: Tier::S3, .. }),
        "{err}"
    );
    // The local backend needs no server.
    StateSync::new(quick(Backend::Local))
        .unwrap()
        .probe()
        .unwrap();
}

#[test]
fn a_missing_bucket_is_an_error_not_a_fresh_start() {
    // "No such bucket" must not read as "no state yet": the run would start fresh over state
    // that lives in the bucket it failed to name.
    let s3 = Server::moto(BUCKET);
    let mut location = s3_at(s3.port);
    location.bucket = "no-such-bucket".into();
    let mut sync = StateSync::new(quick(Backend::S3(location))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = sync.acquire(dir.path().join(".rocky-state.redb")).unwrap();
    assert_eq!(session.authority(), Authority::Indeterminate);
    let download = sync.report().download.clone().unwrap();
    assert_eq!(
        (download.outcome, download.cause),
        (Outcome::ErrorThenFresh, Some(Outcome::Error)),
        "{download:?}"
    );
    // The control: the real bucket, empty, is a fresh start.
    let mut sync = StateSync::new(quick(Backend::S3(s3_at(s3.port)))).unwrap();
    let session = sync
        .acquire(dir.path().join("b").join(".rocky-state.redb"))
        .unwrap();
    assert_eq!(session.authority(), Authority::FreshStart);
}

#[test]
fn no_remote_state_resets_the_replicated_tables_and_keeps_the_local_only_ones() {
    // Rocky's rule: remote state is the authority, so a fresh start is fresh even on a machine
    // that kept an old local file; per-machine tables survive.
    let v = Server::redis();
    let mut sync = StateSync::new(quick(Backend::Valkey(valkey_at(v.port)))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    record_run(&ledger, "stale", 1);
    put_local_only(&ledger, "jobs", "job-1", b"{}");
    let session = sync.acquire(&ledger).unwrap();
    assert_eq!(session.authority(), Authority::FreshStart);
    assert_eq!(run_ids(&ledger), Vec::<String>::new());
    assert_eq!(rows(&ledger, "jobs").unwrap(), ["job-1"]);
    sync.finalize(session).unwrap();
}
