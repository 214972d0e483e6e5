//! Hostile and awkward evidence: the verifier must answer "could not verify" (exit 2) or the right
//! failure, with a clear message, and never panic, never pass, and never write the ledger.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::util::{self, RUN2, Scenario, args, run_bin, set};

fn runs_json(ledger: &Path) -> util::Run {
    run_bin(
        &args(&["runs", "--json", "--ledger", ledger.to_str().unwrap()]),
        None,
    )
}

/// Exit 2, nothing passed or failed, and only "could not read the ledger" codes.
fn assert_unreadable(r: &util::Run) {
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(r.codes("pass").is_empty());
    let unknown = r.codes("unknown");
    assert!(
        !unknown.is_empty()
            && unknown.is_subset(&set(&["ledger_invalid", "schema_version_unexpected"])),
        "{}",
        r.dump()
    );
    assert!(
        r.stderr.contains("rocky-verify:"),
        "a diagnostic on stderr:\n{}",
        r.stderr
    );
}

#[test]
fn truncated_ledgers_are_unreadable_not_a_panic() {
    let s = Scenario::new();
    s.write();
    let full = std::fs::read(s.ledger()).unwrap();
    for cut in [5usize, 9, 100, 512, 4096, full.len() / 2, full.len() - 1] {
        let p = s.path(&format!("cut-{cut}.redb"));
        std::fs::write(&p, &full[..cut]).unwrap();
        let before = util::fingerprint(&p);
        let r = runs_json(&p);
        assert_ne!(r.code, 0, "cut at {cut}: {}", r.dump());
        if r.code == 2 {
            assert_unreadable(&r);
        }
        let r = s.verify(RUN2, &["--ledger", p.to_str().unwrap()]);
        assert_ne!(r.code, 0, "cut at {cut}: {}", r.dump());
        assert_eq!(
            util::fingerprint(&p),
            before,
            "the evidence was not modified"
        );
    }
}

#[test]
fn garbage_empty_and_foreign_files_are_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let mut garbage = util::parquet_bytes(&[("a", vec![1])]);
    garbage.splice(0..0, [0x72, 0x65, 0x64, 0x62, 0x1A, 0x0A, 0xA9, 0x0D, 0x0A]);
    garbage.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.redb", Vec::new()),
        ("text.redb", b"not a database\n".to_vec()),
        ("garbage.redb", garbage),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let r = runs_json(&p);
        assert_unreadable(&r);
        assert_eq!(
            r.codes("unknown"),
            set(&["ledger_invalid"]),
            "{name}: {}",
            r.dump()
        );
        assert_eq!(
            std::fs::read(&p).unwrap(),
            bytes,
            "{name} untouched (an empty file is not initialised)"
        );
    }
    let r = runs_json(dir.path());
    assert_unreadable(&r);
    let r = runs_json(&dir.path().join("absent.redb"));
    assert_unreadable(&r);
    assert!(
        !dir.path().join("absent.redb").exists(),
        "a missing ledger is not created"
    );
}

#[test]
fn a_ledger_held_by_a_writer_is_locked_not_read() {
    let s = Scenario::new();
    s.write();
    let db = redb::Database::create(s.ledger()).unwrap();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["ledger_locked_unexpected"]));
    assert!(r.stderr.contains("locked"), "{}", r.stderr);
    drop(db);
    assert_eq!(
        s.verify(RUN2, &[]).code,
        0,
        "readable once the writer is gone"
    );
}

#[test]
fn a_writer_holding_the_sidecar_lock_is_a_locked_ledger() {
    let s = Scenario::new();
    s.write();
    let side = std::fs::File::create(s.path(".rocky-state.redb.lock")).unwrap();
    // SAFETY: flock on a valid descriptor.
    assert_eq!(
        unsafe { libc::flock(side.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(
        r.codes("unknown"),
        set(&["ledger_locked_unexpected"]),
        "{}",
        r.dump()
    );
    drop(side);
    assert_eq!(s.verify(RUN2, &[]).code, 0);
}

#[test]
fn verification_leaves_a_read_only_ledger_byte_for_byte_and_mtime_unchanged() {
    let s = Scenario::new();
    s.write();
    let ledger = s.ledger();
    let before = util::fingerprint(&ledger);
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = s.verify(RUN2, &[]);
    let runs = runs_json(&ledger);
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(runs.code, 0, "{}", runs.dump());
    assert_eq!(util::fingerprint(&ledger), before);
    // No sidecar, journal or temp file appeared next to it.
    let names: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().contains(".lock")),
        "{names:?}"
    );
}

/// Child half of the unclean-ledger test: writes a ledger and exits without closing it, as a
/// crash would. Ignored in a normal run (it is no test on its own); the parent runs it with
/// `--ignored`, and without the parent's variable it fails instead of passing vacuously.
#[test]
#[ignore = "child process of an_uncleanly_closed_ledger_is_repaired_in_memory_only"]
fn child_writes_unclean_ledger() {
    let path = std::env::var("ROCKY_VERIFY_TEST_UNCLEAN_LEDGER")
        .expect("run only by an_uncleanly_closed_ledger_is_repaired_in_memory_only");
    let s = Scenario::new();
    s.write();
    std::fs::copy(s.ledger(), &path).unwrap();
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn
            .open_table(redb::TableDefinition::<&str, &[u8]>::new("watermarks"))
            .unwrap();
        t.insert(
            "tgt.raw.x",
            br#"{"last_value":"2026-05-30T00:00:00Z","updated_at":"2026-05-30T00:00:00Z"}"#
                .as_slice(),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    std::mem::forget(db);
    std::process::exit(0);
}

#[test]
fn an_uncleanly_closed_ledger_is_repaired_in_memory_only() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("unclean.redb");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "hostile::child_writes_unclean_ledger",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROCKY_VERIFY_TEST_UNCLEAN_LEDGER", &ledger)
        .status()
        .unwrap();
    assert!(status.success());

    // It really is unclean: redb wants to repair a copy of it.
    let copy = dir.path().join("copy.redb");
    std::fs::copy(&ledger, &copy).unwrap();
    let repaired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = repaired.clone();
    let db = redb::Builder::new()
        .set_repair_callback(move |_| flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .open(&copy)
        .unwrap();
    drop(db);
    assert!(
        repaired.load(std::sync::atomic::Ordering::SeqCst),
        "the child left the ledger unclean"
    );

    let before = util::fingerprint(&ledger);
    let r = runs_json(&ledger);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.lines.iter().filter(|l| l["type"] == "run").count(), 2);
    assert_eq!(
        util::fingerprint(&ledger),
        before,
        "repair happened in memory only"
    );
}

#[test]
fn unknown_or_missing_schema_versions_stop_with_exit_2() {
    for version in [Some("23"), Some("22x"), None] {
        let mut s = Scenario::new();
        s.metadata.retain(|(k, _)| k != "schema_version");
        if let Some(v) = version {
            s.metadata.push(("schema_version".to_owned(), v.to_owned()));
        }
        s.write();
        let r = s.verify(RUN2, &[]);
        assert_eq!(r.code, 2, "{version:?}: {}", r.dump());
        assert_eq!(r.codes("unknown"), set(&["schema_version_unexpected"]));
        assert!(r.codes("pass").is_empty());
    }
}

#[test]
fn deeply_nested_json_in_a_record_is_refused_not_a_stack_overflow() {
    let s = Scenario::new();
    let mut run2 = serde_json::to_string(&s.run2).unwrap();
    let depth = 200_000;
    let deep = format!("\"deep\":{}{},", "[".repeat(depth), "]".repeat(depth));
    run2.insert_str(1, &deep);
    let rows = vec![(RUN2.to_owned(), run2.into_bytes())];
    util::write_ledger(&s.ledger(), &s.metadata, &[("run_history", rows)]);
    let r = s.verify(RUN2, &[]);
    // Beyond the verifier's limits: could not verify (exit 2), never a pass, never judged.
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(
        r.codes("unknown"),
        set(&["run_record_invalid"]),
        "{}",
        r.dump()
    );
    assert!(r.failing().is_empty(), "{}", r.dump());
    let runs = runs_json(&s.ledger());
    assert_eq!(runs.code, 1);
    assert_eq!(runs.lines.iter().filter(|l| l["type"] == "run").count(), 1);
    assert_eq!(runs.lines[1]["data"]["decodable"], false);
}

#[test]
fn a_large_unknown_field_is_ignored_like_rocky_does_but_a_huge_value_is_refused() {
    // Control: a 1 MiB unknown field is ignored, as Rocky ignores unknown fields.
    let mut s = Scenario::new();
    s.run2["blob"] = json!("x".repeat(1 << 20));
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A 100 MB value is beyond the verifier's limits: refused (exit 2), never a pass.
    s.run2["blob"] = json!("x".repeat(100 << 20));
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(
        r.codes("unknown"),
        set(&["run_record_invalid"]),
        "{}",
        r.dump()
    );
}

#[test]
fn a_non_canonical_or_nested_ir_is_reported_not_trusted() {
    let mut s = Scenario::new();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    s.provenance_of("seed_events")["model_ir_canonical_json"] = json!(deep);
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(
        r.failing().contains("ir_canonical_json_invalid"),
        "{}",
        r.dump()
    );
}

#[test]
fn a_directory_of_artifacts_that_does_not_exist_is_unknown() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN2, &["--artifacts", s.path("nope").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["artifact_file_missing"]));
    let r = s.verify(
        RUN2,
        &["--warehouse", s.path("nope.duckdb").to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["warehouse_invalid"]));
    assert!(
        !s.path("nope.duckdb").exists(),
        "a missing warehouse is not created"
    );
}

#[test]
fn damaged_parquet_footers_are_invalid_never_a_panic() {
    let sample = crate::util::manifest_dir().join(
        "../fixtures/rocky/audit-sample/736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet",
    );
    let bytes = std::fs::read(&sample).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(sample.file_name().unwrap());
    let n = bytes.len();
    let mut variants: Vec<Vec<u8>> = [0, 4, 8, 100, n - 9, n - 8, n - 4, n - 1]
        .iter()
        .map(|&c| bytes[..c].to_vec())
        .collect();
    for off in (n - 120..n - 8).step_by(7) {
        let mut b = bytes.clone();
        b[off] ^= 0xA5;
        variants.push(b);
    }
    for (i, v) in variants.iter().enumerate() {
        std::fs::write(&target, v).unwrap();
        let r = run_bin(
            &args(&["artifact", target.to_str().unwrap(), "--json"]),
            None,
        );
        assert_eq!(r.code, 1, "variant {i}: {}", r.dump());
        assert!(
            r.failing().contains("artifact_hash_mismatch"),
            "variant {i}: {}",
            r.dump()
        );
    }
}

/// The sample's bytes with its footer's Thrift replaced by `edit(footer)`, length and magic kept
/// consistent, so the decoder reaches the edited bytes.
fn with_footer(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let sample = crate::util::manifest_dir().join(
        "../fixtures/rocky/audit-sample/736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet",
    );
    let bytes = std::fs::read(&sample).unwrap();
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut footer = bytes[n - 8 - len..n - 8].to_vec();
    edit(&mut footer);
    let mut out = bytes[..n - 8 - len].to_vec();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    out
}

/// The fuzzer's find: a footer whose list header declares 2^31-1 row groups made the `parquet`
/// crate reserve gigabytes before reading one. Now a fail (`artifact_parquet_invalid`) in bounded
/// memory; the untouched footer, rewritten the same way, is the control.
#[test]
fn a_footer_declaring_billions_of_elements_is_invalid_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.parquet");
    std::fs::write(&file, with_footer(|_| {})).unwrap();
    let r = run_bin(&args(&["artifact", file.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 0, "control: {}", r.dump());

    std::fs::write(
        &file,
        with_footer(|f| {
            // Drop FileMetaData's STOP; append field 4 (row_groups) in the long form, a list of
            // structs declaring i32::MAX elements, and nothing after it.
            assert_eq!(f.pop(), Some(0));
            f.extend_from_slice(&[0x09, 0x08, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]);
        }),
    )
    .unwrap();
    let r = run_bin(&args(&["artifact", file.to_str().unwrap(), "--json"]), None);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(
        r.failing(),
        set(&["artifact_parquet_invalid"]),
        "{}",
        r.dump()
    );
    assert!(
        r.stdout.contains("declares 2147483647 elements"),
        "{}",
        r.dump()
    );
}

/// Runs the binary, failing the test (instead of hanging it) if it does not end within 60 s.
fn run_bounded(a: &[&str]) -> util::Run {
    let mut child = std::process::Command::new(util::BIN)
        .args(a)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("rocky-verify {a:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    util::finish(child.wait_with_output().unwrap(), false)
}

#[test]
fn fifos_devices_and_directories_as_evidence_end_at_once_with_exit_2() {
    let s = Scenario::new();
    s.write();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("evidence.redb");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let zero = dir.path().join("zero.parquet");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let (fifo, zero, folder) = (
        fifo.to_str().unwrap(),
        zero.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    );

    // Control: the same commands on regular files end normally.
    let good = s.ledger();
    let good = good.to_str().unwrap();
    assert_eq!(run_bounded(&["runs", "--ledger", good]).code, 0);

    for (cmd, what) in [
        (vec!["runs", "--ledger", fifo], "FIFO"),
        (vec!["run", "latest", "--ledger", fifo], "FIFO"),
        (vec!["gate", "--ledger", fifo], "FIFO"),
        (vec!["runs", "--ledger", folder], "directory"),
        (vec!["record", fifo], "FIFO"),
        (vec!["artifact", fifo], "FIFO"),
        (vec!["artifact", zero], "character device"),
        (vec!["artifact", zero, "--ledger", good], "character device"),
    ] {
        let r = run_bounded(&cmd);
        assert_eq!(r.code, 2, "{cmd:?}\n{}", r.dump());
        assert!(
            r.stdout.contains(what) || r.stderr.contains(what),
            "{cmd:?} does not say it is a {what}:\n{}",
            r.dump()
        );
    }
}

#[test]
fn every_other_evidence_path_refuses_a_fifo_or_a_device_at_once() {
    // Issue 16 item 5: the policy, the checkpoint, the warehouse and a record given as a FIFO or
    // a symbolic link to /dev/zero end at once with exit 2, saying what the path is.
    let s = Scenario::new();
    s.write();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("evidence.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let zero = dir.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let (fifo, zero) = (fifo.to_str().unwrap(), zero.to_str().unwrap());
    let ledger = s.ledger();
    let ledger = ledger.to_str().unwrap();
    let wh = s.path("tgt.duckdb");
    let wh = wh.to_str().unwrap();
    let repo = s.path("repo");
    let repo = repo.to_str().unwrap();

    // Controls: the same commands with regular files end normally (exit 0).
    assert_eq!(
        run_bounded(&[
            "run",
            "latest",
            "--ledger",
            ledger,
            "--repo",
            repo,
            "--warehouse",
            wh
        ])
        .code,
        0
    );
    assert_eq!(
        run_bounded(&["gate", "--ledger", ledger, "--allow-empty"]).code,
        0
    );

    for (cmd, what) in [
        (vec!["record", zero], "character device"),
        (vec!["gate", "--ledger", ledger, "--policy", fifo], "FIFO"),
        (
            vec!["gate", "--ledger", ledger, "--policy", zero],
            "character device",
        ),
        (
            vec!["gate", "--ledger", ledger, "--checkpoint", fifo],
            "FIFO",
        ),
        (
            vec!["run", "latest", "--ledger", ledger, "--warehouse", fifo],
            "FIFO",
        ),
        (
            vec!["run", "latest", "--ledger", ledger, "--warehouse", zero],
            "character device",
        ),
        (
            vec!["gate", "--ledger", ledger, "--warehouse", fifo],
            "FIFO",
        ),
    ] {
        let r = run_bounded(&cmd);
        assert_eq!(r.code, 2, "{cmd:?}\n{}", r.dump());
        assert!(
            r.stdout.contains(what) || r.stderr.contains(what),
            "{cmd:?} does not say it is a {what}:\n{}",
            r.dump()
        );
    }
}

/// Damages a copy of the scenario's warehouse with `damage` and runs `run` on it.
fn run_on_damaged_warehouse(damage: impl FnOnce(&mut Vec<u8>)) -> util::Run {
    let s = Scenario::new();
    s.write();
    let path = s.path("tgt.duckdb");
    let mut bytes = std::fs::read(&path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    s.verify(RUN2, &[])
}

#[test]
fn a_truncated_or_zeroed_warehouse_is_could_not_check_never_a_pass() {
    // Control: the intact warehouse passes.
    let control = run_on_damaged_warehouse(|_| {});
    assert_eq!(control.code, 0, "{}", control.dump());
    // Issue 16: a DuckDB file truncated to 50-75 %, or zeroed after 40 %, passed because counts and
    // types came from metadata. Each must end in exit 2 (could not check), not 0, and not 1
    // (a damaged file is no evidence of drift).
    type Damage = Box<dyn FnOnce(&mut Vec<u8>)>;
    let mut cases: Vec<(String, Damage)> = Vec::new();
    for pct in [50usize, 60, 66, 75] {
        cases.push((
            format!("truncated to {pct}%"),
            Box::new(move |b: &mut Vec<u8>| b.truncate(b.len() * pct / 100)),
        ));
    }
    cases.push((
        "zeroed after 40%".to_owned(),
        Box::new(|b: &mut Vec<u8>| {
            let from = b.len() * 40 / 100;
            b[from..].fill(0);
        }),
    ));
    for (what, damage) in cases {
        let r = run_on_damaged_warehouse(damage);
        assert_eq!(r.code, 2, "{what}\n{}", r.dump());
        assert!(
            r.codes("unknown").contains("warehouse_invalid"),
            "{what}\n{}",
            r.dump()
        );
    }
}
