//! `concurrency_control = "cas"`: an upload only replaces what its run downloaded (S3 If-Match,
//! If-None-Match: * for a first write, a compare-and-set script on Valkey), and a lost race
//! fails closed with `CasConflict` whatever `on_upload_failure` says. Tiered keeps Rocky's
//! generation-framed cache entry.
//!
//! What this cannot prove: moto checks a precondition and then stores, not atomically, so two
//! PUTs arriving at the same instant could both pass there. The interleavings tested are the
//! ones a server must order (one writer commits before the other's conditional PUT arrives);
//! real S3 and the Valkey script decide atomically.

use std::path::{Path, PathBuf};

use rocky_writer::remote::{
    Backend, ConcurrencyControl, Generation, OnUploadFailure, Outcome, Session, StateConfig,
    StateSync, SyncError, Tier, parse_coherent, valkey_coherent_key,
};

use crate::support::servers::{self, Server};
use crate::support::*;

fn cas(backend: Backend, policy: OnUploadFailure) -> StateConfig {
    let mut c = quick(backend);
    c.concurrency_control = ConcurrencyControl::Cas;
    c.on_upload_failure = policy;
    c
}

/// A writer on its own runner: its folder and its session.
fn writer(sync: &mut StateSync, model: &str, second: u32) -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    record_run(&ledger, model, second);
    (dir, session)
}

fn ledger_of(dir: &Path) -> PathBuf {
    dir.join(".rocky-state.redb")
}

/// Two writers start from the same state; the first commits, the second fails closed, and
/// the remote keeps the winner. `read` reads the remote bytes directly.
fn second_writer_loses(backend: Backend, read: &dyn Fn() -> Option<Vec<u8>>) {
    for policy in [OnUploadFailure::Skip, OnUploadFailure::Fail] {
        // Bootstrap race: both saw no state; If-None-Match: * (or "only if absent") decides.
        let mut a = StateSync::new(cas(backend.clone(), policy)).unwrap();
        let mut b = StateSync::new(cas(backend.clone(), policy)).unwrap();
        let (_da, sa) = writer(&mut a, "a", 1);
        let (_db, sb) = writer(&mut b, "b", 2);
        a.finalize(sa).unwrap();
        let winner = read().unwrap();
        let err = b.finalize(sb).unwrap_err();
        assert!(matches!(err, SyncError::CasConflict { .. }), "{err}");
        assert_eq!(
            b.report().upload.as_ref().unwrap().outcome,
            Outcome::Conflict
        );
        assert_eq!(read().unwrap(), winner, "the winner is preserved");

        // Steady state: both downloaded the winner; the first to upload wins again.
        let (_dc, sc) = writer(&mut a, "c", 3);
        let (dd, sd) = writer(&mut b, "d", 4);
        a.finalize(sc).unwrap();
        let winner = read().unwrap();
        assert!(matches!(b.finalize(sd), Err(SyncError::CasConflict { .. })));
        assert_eq!(read().unwrap(), winner);
        // The loser's local ledger still holds its run, for a retry from fresh state.
        assert_eq!(run_ids(&ledger_of(dd.path())).len(), 2);

        // The control: a writer that downloads the current state commits.
        let (_de, se) = writer(&mut b, "e", 5);
        b.finalize(se).unwrap();
        assert_ne!(read().unwrap(), winner);
        clear(&backend);
    }
}

fn clear(backend: &Backend) {
    let (s3, valkey) = match backend {
        Backend::S3(s) => (Some(s), None),
        Backend::Valkey(v) => (None, Some(v)),
        Backend::Tiered { s3, valkey } => (Some(s3), Some(valkey)),
        Backend::Local => (None, None),
    };
    if let Some(s) = s3 {
        let port: u16 = s
            .endpoint
            .as_ref()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        for key in servers::s3_keys(port, BUCKET) {
            servers::http(port, "DELETE", &format!("/{BUCKET}/{key}"), &[], &[]);
        }
    }
    if let Some(v) = valkey {
        let port: u16 = v.url.rsplit(':').next().unwrap().parse().unwrap();
        redis::cmd("FLUSHALL")
            .query::<()>(&mut servers::redis_conn(port))
            .unwrap();
    }
}

#[test]
fn cas_on_s3_uses_if_match_and_if_none_match_and_fails_closed() {
    let s3 = Server::moto(BUCKET);
    let port = s3.port;
    second_writer_loses(Backend::S3(s3_at(port)), &|| {
        servers::s3_object(port, BUCKET, S3_KEY)
    });
}

#[test]
fn cas_on_valkey_uses_a_compare_and_set_script_and_fails_closed() {
    let v = Server::redis();
    let port = v.port;
    second_writer_loses(Backend::Valkey(valkey_at(port)), &|| {
        servers::redis_get(port, VALKEY_KEY)
    });
}

#[test]
fn an_unconditional_writer_in_between_makes_a_cas_upload_lose() {
    // Rocky's default writer (no cas) overwrites between our download and our upload.
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    for backend in [
        Backend::S3(s3_at(s3.port)),
        Backend::Valkey(valkey_at(v.port)),
    ] {
        let mut ours = StateSync::new(cas(backend.clone(), OnUploadFailure::Skip)).unwrap();
        let mut theirs = StateSync::new(quick(backend.clone())).unwrap();
        let (_d, s) = writer(&mut theirs, "first", 1);
        theirs.finalize(s).unwrap();
        let (_d1, mine) = writer(&mut ours, "mine", 2);
        let (_d2, s) = writer(&mut theirs, "theirs", 3);
        theirs.finalize(s).unwrap();
        assert!(matches!(
            ours.finalize(mine),
            Err(SyncError::CasConflict { .. })
        ));
        // Without cas, the same interleaving silently loses "theirs" (what the docs warn of).
        let mut blind = StateSync::new(quick(backend.clone())).unwrap();
        let (d3, s) = writer(&mut blind, "blind", 4);
        let (d4, s2) = writer(&mut theirs, "theirs-again", 5);
        theirs.finalize(s2).unwrap();
        blind.finalize(s).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut check = StateSync::new(quick(backend.clone())).unwrap();
        let l = ledger_of(dir.path());
        let s = check.acquire(&l).unwrap();
        let remote = run_ids(&l);
        assert_eq!(
            remote,
            run_ids(&ledger_of(d3.path())),
            "the last writer won"
        );
        let lost = run_ids(&ledger_of(d4.path()));
        assert!(
            lost.iter().any(|id| !remote.contains(id)),
            "theirs-again was lost"
        );
        check.finalize(s).unwrap();
        clear(&backend);
    }
}

#[test]
fn cas_on_tiered_commits_to_s3_and_caches_a_generation_framed_entry() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    let backend = Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(v.port),
    };
    let mut sync = StateSync::new(cas(backend.clone(), OnUploadFailure::Fail)).unwrap();
    let (_d, s) = writer(&mut sync, "one", 1);
    sync.finalize(s).unwrap();
    // The cache entry is Rocky's frame around exactly the committed bytes; the plain key is
    // not written under cas.
    let ckey = valkey_coherent_key("rocky:state:", "state.redb");
    assert_eq!(ckey, "rocky:state:cas:v22:state.redb");
    assert_eq!(servers::redis_keys(v.port), std::slice::from_ref(&ckey));
    let framed = servers::redis_get(v.port, &ckey).unwrap();
    let (generation, blob) = parse_coherent(&framed).unwrap();
    let (_, headers, body) =
        servers::http(s3.port, "GET", &format!("/{BUCKET}/{S3_KEY}"), &[], &[]);
    let etag = headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone());
    assert_eq!(blob, body.as_slice());
    assert_eq!(
        generation,
        Generation {
            e_tag: etag,
            version: None
        }
    );

    // A reader whose cache entry matches the durable generation: HEAD on S3, then Valkey.
    let (_d, s) = writer(&mut sync, "two", 2);
    let legs: Vec<_> = sync
        .report()
        .download
        .as_ref()
        .unwrap()
        .legs
        .iter()
        .map(|l| (l.tier, l.outcome))
        .collect();
    assert_eq!(legs, [(Tier::S3, Outcome::Ok), (Tier::Valkey, Outcome::Ok)]);
    sync.finalize(s).unwrap();

    // Another writer changes S3 behind the cache: the stale entry is refused and S3 read.
    let current = servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap();
    let mut other =
        StateSync::new(cas(Backend::S3(s3_at(s3.port)), OnUploadFailure::Fail)).unwrap();
    let (_d, s) = writer(&mut other, "other", 3);
    other.finalize(s).unwrap();
    assert_ne!(
        servers::s3_object(s3.port, BUCKET, S3_KEY).unwrap(),
        current
    );
    let dir = tempfile::tempdir().unwrap();
    let l = ledger_of(dir.path());
    let s = sync.acquire(&l).unwrap();
    assert_eq!(
        run_ids(&l).len(),
        3,
        "the durable state, not the stale cache"
    );
    let legs = &sync.report().download.as_ref().unwrap().legs;
    assert_eq!(
        legs.last().map(|l| (l.tier, l.outcome)),
        Some((Tier::S3, Outcome::Ok))
    );
    // Losing a race drops the cache entry.
    let (_d, s2) = writer(&mut other, "other2", 4);
    other.finalize(s2).unwrap();
    assert!(matches!(
        sync.finalize(s),
        Err(SyncError::CasConflict { .. })
    ));
    assert_eq!(servers::redis_get(v.port, &ckey), None);
}
