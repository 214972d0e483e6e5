//! Every outcome produced by a real fault (a stalled, reset or refused connection through our
//! own proxy, or a server killed mid-transfer), returned in the report and emitted as a
//! `tracing` event with an `outcome` field; and no fault ever leaves a partial remote object.

use std::path::Path;
use std::time::{Duration, Instant};

use rocky_writer::remote::{
    Backend, BreakerState, OnUploadFailure, Outcome, Session, StateConfig, StateSync, SyncError,
    SyncReport, Tier, check_ledger_bytes,
};

use crate::support::events::Recorder;
use crate::support::proxy::{Mode, Proxy};
use crate::support::servers::{self, Server};
use crate::support::*;

/// Downloads (through a passing proxy) and records a run, ready to upload.
fn ready_to_upload(sync: &mut StateSync, dir: &Path) -> Session {
    let ledger = dir.join(".rocky-state.redb");
    let session = sync.acquire(&ledger).unwrap();
    record_run(&ledger, "orders", 1);
    session
}

fn upload_leg_outcome(report: &SyncReport) -> (Outcome, u32) {
    let leg = report.upload.as_ref().unwrap().legs.last().unwrap();
    (leg.outcome, leg.attempts)
}

#[test]
fn timeout_when_the_network_stalls_within_one_budget_for_all_retries() {
    let s3 = Server::moto(BUCKET);
    let proxy = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.transfer_timeout = Duration::from_secs(1);
    config.on_upload_failure = OnUploadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = ready_to_upload(&mut sync, dir.path());
    proxy.set_mode(Mode::Stall);
    let events = Recorder::default();
    let start = Instant::now();
    let err = events.record(|| sync.finalize(session)).unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, SyncError::Timeout { tier: Tier::S3, .. }),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(
        sync.report().upload.as_ref().unwrap().outcome,
        Outcome::Timeout
    );
    assert!(events.outcomes().contains(&"timeout".to_owned()));
}

#[test]
fn transient_exhausted_after_max_retries_of_reset_connections() {
    let v = Server::redis();
    let proxy = Proxy::start(v.port, Mode::Pass);
    let mut config = quick(Backend::Valkey(valkey_at(proxy.port)));
    config.retry.max_retries = 2;
    config.on_upload_failure = OnUploadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = ready_to_upload(&mut sync, dir.path());
    proxy.set_mode(Mode::ResetAfter(0));
    let before = proxy.accepted();
    let events = Recorder::default();
    let err = events.record(|| sync.finalize(session)).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::TransientExhausted {
                tier: Tier::Valkey,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(proxy.accepted() - before, 3, "1 attempt + max_retries 2");
    assert_eq!(
        upload_leg_outcome(sync.report()),
        (Outcome::TransientExhausted, 3)
    );
    let upload_events = events.with_op("state.upload");
    assert_eq!(
        upload_events.last().and_then(|e| e.get("outcome")),
        Some("transient_exhausted")
    );
}

#[test]
fn skipped_after_failure_lets_the_run_succeed_and_says_why() {
    let s3 = Server::moto(BUCKET);
    let proxy = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.retry.max_retries = 1;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = ready_to_upload(&mut sync, dir.path());
    proxy.set_mode(Mode::ResetAfter(0));
    let events = Recorder::default();
    let report = events.record(|| sync.finalize(session)).unwrap();
    let upload = report.upload.unwrap();
    assert_eq!(
        (upload.outcome, upload.cause),
        (
            Outcome::SkippedAfterFailure,
            Some(Outcome::TransientExhausted)
        )
    );
    assert!(
        events
            .outcomes()
            .contains(&"skipped_after_failure".to_owned())
    );
    assert_eq!(servers::s3_object(s3.port, BUCKET, S3_KEY), None);
}

#[test]
fn budget_exhausted_counts_retries_across_the_transfers_of_a_run() {
    let s3 = Server::moto(BUCKET);
    let v = Server::redis();
    let proxy = Proxy::start(v.port, Mode::ResetAfter(0));
    let mut config = quick(Backend::Tiered {
        s3: s3_at(s3.port),
        valkey: valkey_at(proxy.port),
    });
    config.retry.max_retries = 5;
    config.retry.max_retries_per_run = Some(1);
    config.retry.circuit_breaker_threshold = 0;
    config.on_upload_failure = OnUploadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let events = Recorder::default();
    let session = events.record(|| ready_to_upload(&mut sync, dir.path()));
    // The download's Valkey leg spends the run's one retry, then S3 answers.
    let legs = &sync.report().download.as_ref().unwrap().legs;
    assert_eq!(
        (legs[0].outcome, legs[0].attempts),
        (Outcome::BudgetExhausted, 2)
    );
    assert_eq!(legs[1].outcome, Outcome::Absent);
    // The upload's Valkey leg has no retry left at all; S3 (durable) still decides.
    let report = events.record(|| sync.finalize(session)).unwrap();
    let legs = &report.upload.as_ref().unwrap().legs;
    assert_eq!(
        (legs[0].outcome, legs[0].attempts),
        (Outcome::BudgetExhausted, 1)
    );
    assert_eq!((legs[1].tier, legs[1].outcome), (Tier::S3, Outcome::Ok));
    assert!(events.outcomes().contains(&"budget_exhausted".to_owned()));

    // As the deciding leg, with on_upload_failure = "fail": the typed error.
    let proxy_s3 = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy_s3.port)));
    config.retry.max_retries = 5;
    config.retry.max_retries_per_run = Some(2);
    config.on_upload_failure = OnUploadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = ready_to_upload(&mut sync, dir.path());
    proxy_s3.set_mode(Mode::ResetAfter(0));
    let err = sync.finalize(session).unwrap_err();
    assert!(
        matches!(err, SyncError::RetryBudgetExhausted { limit: 2 }),
        "{err}"
    );
    assert_eq!(
        upload_leg_outcome(sync.report()),
        (Outcome::BudgetExhausted, 3)
    );
}

#[test]
fn circuit_opens_on_refused_connections_half_opens_after_cool_down_and_closes_on_success() {
    let s3 = Server::moto(BUCKET);
    let mut proxy = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.retry.max_retries = 5;
    config.retry.circuit_breaker_threshold = 2;
    config.retry.circuit_breaker_recovery = Some(Duration::from_millis(300));
    config.on_upload_failure = OnUploadFailure::Fail;
    let mut sync = StateSync::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = ready_to_upload(&mut sync, dir.path());
    proxy.refuse();
    let events = Recorder::default();
    let err = events.record(|| sync.finalize(session)).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::CircuitOpen {
                tier: Tier::S3,
                consecutive_failures: 2
            }
        ),
        "{err}"
    );
    assert_eq!(upload_leg_outcome(sync.report()), (Outcome::CircuitOpen, 2));
    assert_eq!(sync.breaker_state(Tier::S3), BreakerState::Open);
    assert!(events.outcomes().contains(&"circuit_open".to_owned()));

    // While open, a transfer is refused without an attempt (the download fails closed too).
    let dir = tempfile::tempdir().unwrap();
    let session = sync.acquire(dir.path().join(".rocky-state.redb")).unwrap();
    let download = sync.report().download.clone().unwrap();
    assert_eq!(
        (download.outcome, download.cause),
        (Outcome::ErrorThenFresh, Some(Outcome::CircuitOpen))
    );
    assert_eq!(download.legs[0].attempts, 0);
    sync.finalize(session).unwrap();

    // After the cool-down a failed probe reopens it at once (one attempt)...
    std::thread::sleep(Duration::from_millis(350));
    let dir = tempfile::tempdir().unwrap();
    let _ = sync.acquire(dir.path().join(".rocky-state.redb")).unwrap();
    assert_eq!(sync.report().download.as_ref().unwrap().legs[0].attempts, 1);
    assert_eq!(sync.breaker_state(Tier::S3), BreakerState::Open);
    // ...and a successful probe closes it.
    proxy.reopen(Mode::Pass);
    std::thread::sleep(Duration::from_millis(350));
    let dir = tempfile::tempdir().unwrap();
    let session = sync.acquire(dir.path().join(".rocky-state.redb")).unwrap();
    assert_eq!(
        sync.report().download.as_ref().unwrap().outcome,
        Outcome::Absent
    );
    assert_eq!(sync.breaker_state(Tier::S3), BreakerState::Closed);
    sync.finalize(session).unwrap();
}

#[test]
fn ok_absent_and_error_then_fresh_are_events_too() {
    let v = Server::redis();
    let mut proxy = Proxy::start(v.port, Mode::Pass);
    let mut sync = StateSync::new(quick(Backend::Valkey(valkey_at(proxy.port)))).unwrap();
    let events = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let session = events.record(|| ready_to_upload(&mut sync, dir.path()));
    events.record(|| sync.finalize(session)).unwrap();
    proxy.refuse();
    let dir = tempfile::tempdir().unwrap();
    let session = events.record(|| sync.acquire(dir.path().join(".rocky-state.redb")).unwrap());
    events.record(|| sync.finalize(session)).unwrap();
    let download: Vec<_> = events
        .with_op("state.download")
        .iter()
        .filter_map(|e| e.get("outcome").map(str::to_owned))
        .collect();
    assert!(download.contains(&"absent".to_owned()), "{download:?}");
    assert!(
        download.contains(&"error_then_fresh".to_owned()),
        "{download:?}"
    );
    let upload: Vec<_> = events
        .with_op("state.upload")
        .iter()
        .filter_map(|e| e.get("outcome").map(str::to_owned))
        .collect();
    assert_eq!(upload, ["ok", "ok", "suppressed"]);
}

// ----- no partial objects -----

/// Fills the ledger with a run and about `mb` MB (in a replicated table).
fn fill(ledger: &Path, model: &str, second: u32, mb: usize) {
    record_run(ledger, model, second);
    add_filler(ledger, model, mb * 1024 * 1024);
}

/// Remote bytes must be exactly `old` or exactly `new`, and a complete ledger.
fn assert_old_or_new(remote: &[u8], old: &[u8], new: &[u8], what: &str) {
    assert!(
        remote == old || remote == new,
        "{what}: remote object is neither the old nor the new ledger ({} bytes)",
        remote.len()
    );
    let dir = tempfile::tempdir().unwrap();
    check_ledger_bytes(remote, dir.path()).unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// One run through `proxy`: download (proxy passing), the run's writes (`run_file` copied over
/// the ledger), then the upload with the proxy in `mode`; once `at` bytes went through, `fault`
/// runs. Returns the upload's result.
fn run_with_fault(
    config: &StateConfig,
    dir: &Path,
    run_file: &Path,
    proxy: &Proxy,
    mode: Mode,
    at: u64,
    fault: impl FnOnce(),
) -> Result<SyncReport, SyncError> {
    let ledger = dir.join(".rocky-state.redb");
    let _ = std::fs::remove_file(&ledger);
    proxy.set_mode(Mode::Pass);
    let mut sync = StateSync::new(config.clone()).unwrap();
    let session = sync.acquire(&ledger).unwrap();
    std::fs::copy(run_file, &ledger).unwrap();
    proxy.set_mode(mode);
    let start = proxy.forwarded();
    let worker = std::thread::spawn(move || sync.finalize(session));
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.forwarded() - start < at && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        proxy.forwarded() - start >= at,
        "the upload never reached mid-body"
    );
    fault();
    worker.join().unwrap()
}

/// Builds the old state (uploaded cleanly through `proxy`) and the file a later run ends
/// with: the old state plus a run and 4 MB more. Returns (old remote bytes, new run file).
fn old_and_new(
    config: &StateConfig,
    dir: &Path,
    proxy: &Proxy,
    read: &dyn Fn() -> Option<Vec<u8>>,
) -> (Vec<u8>, std::path::PathBuf) {
    let first = dir.join("first.redb");
    fill(&first, "old", 1, 4);
    run_with_fault(config, dir, &first, proxy, Mode::Pass, 0, || {}).unwrap();
    let old = read().unwrap();
    // The later run starts from the downloaded old state.
    let ledger = dir.join(".rocky-state.redb");
    let mut sync = StateSync::new(config.clone()).unwrap();
    let session = sync.acquire(&ledger).unwrap();
    fill(&ledger, "new", 2, 4);
    drop(session);
    let second = dir.join("second.redb");
    std::fs::copy(&ledger, &second).unwrap();
    (old, second)
}

const HALF: u64 = 4 * 1024 * 1024;

#[test]
fn no_fault_leaves_a_partial_or_corrupt_object_in_s3() {
    let s3 = Server::moto(BUCKET);
    let proxy = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.retry.max_retries = 1;
    config.on_upload_failure = OnUploadFailure::Fail;
    let dir = tempfile::tempdir().unwrap();
    let read = || servers::s3_object(s3.port, BUCKET, S3_KEY);
    let (old, second) = old_and_new(&config, dir.path(), &proxy, &read);

    // Reset mid-body on every attempt.
    let r = run_with_fault(
        &config,
        dir.path(),
        &second,
        &proxy,
        Mode::ResetAfter(HALF),
        HALF,
        || {},
    );
    assert!(
        matches!(r, Err(SyncError::TransientExhausted { .. })),
        "{r:?}"
    );
    assert_old_or_new(&read().unwrap(), &old, &[], "reset mid-body");

    // Stalled mid-body until the budget runs out; then the connection is dropped.
    let mut short = config.clone();
    short.transfer_timeout = Duration::from_secs(2);
    let r = run_with_fault(
        &short,
        dir.path(),
        &second,
        &proxy,
        Mode::PauseAfter(HALF),
        HALF,
        || {},
    );
    assert!(matches!(r, Err(SyncError::Timeout { .. })), "{r:?}");
    proxy.reset_all();
    std::thread::sleep(Duration::from_millis(300));
    assert_old_or_new(&read().unwrap(), &old, &[], "timeout mid-body");

    // A clean upload then replaces it whole.
    run_with_fault(&config, dir.path(), &second, &proxy, Mode::Pass, 0, || {}).unwrap();
    let new = read().unwrap();
    assert_ne!(new, old);
    assert_old_or_new(&new, &old, &new, "clean upload");
    let file = to_file(dir.path(), "n.redb", &new);
    assert_eq!(rows(&file, "run_history").unwrap().len(), 2);
}

#[test]
fn killing_the_s3_server_mid_upload_is_transient_and_leaves_no_partial_object() {
    // moto keeps objects in memory, so a killed server comes back empty: this proves the
    // outcome and that no partial object is readable afterwards, not that the old object
    // survives (the reset and stall cases prove that on a live server).
    let mut s3 = Server::moto(BUCKET);
    let proxy = Proxy::start(s3.port, Mode::Pass);
    let mut config = quick(Backend::S3(s3_at(proxy.port)));
    config.retry.max_retries = 2;
    config.on_upload_failure = OnUploadFailure::Fail;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.redb");
    fill(&file, "big", 1, 4);
    let at = 2 * 1024 * 1024;
    let s3_ref = &mut s3;
    let r = run_with_fault(
        &config,
        dir.path(),
        &file,
        &proxy,
        Mode::PauseAfter(at),
        at,
        || s3_ref.kill(),
    );
    assert!(
        matches!(r, Err(SyncError::TransientExhausted { .. })),
        "{r:?}"
    );
    s3.restart();
    let (status, _, _) = servers::http(s3.port, "GET", &format!("/{BUCKET}/{S3_KEY}"), &[], &[]);
    assert_ne!(status, 200, "a partial object is readable after the kill");
}

#[test]
fn no_fault_leaves_a_partial_value_in_valkey_even_when_the_server_is_killed_mid_set() {
    let mut v = Server::redis_with_aof();
    let proxy = Proxy::start(v.port, Mode::Pass);
    let mut config = quick(Backend::Valkey(valkey_at(proxy.port)));
    config.retry.max_retries = 1;
    config.on_upload_failure = OnUploadFailure::Fail;
    let dir = tempfile::tempdir().unwrap();
    let port = v.port;
    let read = move || servers::redis_get(port, VALKEY_KEY);
    let (old, second) = old_and_new(&config, dir.path(), &proxy, &read);

    let r = run_with_fault(
        &config,
        dir.path(),
        &second,
        &proxy,
        Mode::ResetAfter(HALF),
        HALF,
        || {},
    );
    assert!(
        matches!(r, Err(SyncError::TransientExhausted { .. })),
        "{r:?}"
    );
    assert_old_or_new(&read().unwrap(), &old, &[], "reset mid-SET");

    // kill -9 while the SET is half received; the AOF (fsync always) is what survives. The
    // restart happens after the download, inside the fault, so the retries find it down.
    let v_ref = &mut v;
    let r = run_with_fault(
        &config,
        dir.path(),
        &second,
        &proxy,
        Mode::PauseAfter(HALF),
        HALF,
        || v_ref.kill(),
    );
    assert!(
        matches!(r, Err(SyncError::TransientExhausted { .. })),
        "{r:?}"
    );
    v.restart();
    assert_old_or_new(&read().unwrap(), &old, &[], "killed mid-SET");

    run_with_fault(&config, dir.path(), &second, &proxy, Mode::Pass, 0, || {}).unwrap();
    let new = read().unwrap();
    assert_ne!(new, old);
    assert_old_or_new(&new, &old, &new, "clean SET");
}
