//! Issue 16: byte flips of a ledger, classified. Seeded positions of a rocky-writer ledger and of
//! a Rocky-shaped one are flipped one at a time; for each, an independent full read (the redb
//! crate directly, every entry of every table) says whether the damage is readable and in which
//! table; `runs` and `run latest` must never exit 0 over damage in a table they read (they must
//! say "could not read", exit 2, or find the edit, exit 1), and never panic.
//! The figures are printed (`--nocapture`) for the note.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redb::{ReadableTable, TableDefinition};
use serde_json::{Value, json};

use crate::util::{self, Scenario};

/// Tables the independent read walks: every table a v22 ledger holds.
const STR_TABLES: &[&str] = &["metadata", "source_markers"];

/// `None` when every entry of every table reads with redb alone (no verifier code), else the
/// first table (or stage) that does not.
fn independent_full_read(path: &Path) -> Option<String> {
    let copy = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(path, copy.path()).unwrap();
    let stage = std::cell::RefCell::new("open".to_owned());
    let read = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let db = redb::Database::open(copy.path()).map_err(|e| e.to_string())?;
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        for name in STR_TABLES {
            *stage.borrow_mut() = (*name).to_owned();
            let t = txn
                .open_table(TableDefinition::<&str, &str>::new(name))
                .map_err(|e| e.to_string())?;
            for e in t.iter().map_err(|e| e.to_string())? {
                let (k, v) = e.map_err(|e| e.to_string())?;
                let _ = (k.value().len(), v.value().len());
            }
        }
        for name in util::JSON_TABLES {
            *stage.borrow_mut() = (*name).to_owned();
            let t = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(name))
                .map_err(|e| e.to_string())?;
            for e in t.iter().map_err(|e| e.to_string())? {
                let (k, v) = e.map_err(|e| e.to_string())?;
                let _ = (k.value().len(), v.value().len());
            }
        }
        Ok(())
    }));
    if matches!(read, Ok(Ok(()))) {
        None
    } else {
        Some(stage.into_inner())
    }
}

/// Runs the verifier with a deadline; `(exit code, panicked)`. A hang fails the test.
fn verify(bin: &Path, args: &[&str]) -> (i32, bool) {
    let mut child = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "rocky-verify {args:?} hung");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    (code, code == 101 || stderr.contains("panicked"))
}

/// A small deterministic generator (xorshift64*), so the positions are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

#[derive(Default, Debug)]
struct Tally {
    flips: usize,
    unreadable: usize,
    exits: [[usize; 3]; 2],
    other_exit: usize,
    panics: usize,
    stepped_over: Vec<(usize, String, &'static str)>,
    /// Exit 0 with damage only in a table the command does not read (`runs` and artifacts).
    unread_damage: usize,
    /// Which table an unreadable flip was found in, for each flip.
    unreadable_in: std::collections::BTreeMap<String, usize>,
}

fn flip_and_classify(bin: &Path, ledger: &Path, seed: u64, flips: usize, tally: &mut Tally) {
    let original = std::fs::read(ledger).unwrap();
    // Control: the untampered ledger reads independently and both commands exit 0.
    assert_eq!(independent_full_read(ledger), None);
    let l = ledger.to_str().unwrap();
    let repo = ledger.parent().unwrap().join("repo");
    let repo = repo.to_str().unwrap();
    assert_eq!(verify(bin, &["runs", "--ledger", l, "--json"]), (0, false));
    assert_eq!(
        verify(
            bin,
            &["run", "latest", "--ledger", l, "--repo", repo, "--json"]
        ),
        (0, false)
    );

    let data: Vec<usize> = (0..original.len()).filter(|&i| original[i] != 0).collect();
    // The 4 KiB pages that hold JSON records (a `{"` in them): their B-tree headers, keys and
    // values are what the verifier reads.
    let pages: Vec<usize> = original
        .chunks(4096)
        .enumerate()
        .filter(|(_, p)| p.windows(2).any(|w| w == b"{\""))
        .map(|(i, _)| i * 4096)
        .collect();
    assert!(!pages.is_empty());
    let mut rng = Rng(seed);
    for n in 0..flips {
        // A third anywhere in the file (mostly free pages), a third where bytes are written, a
        // third in the pages holding records.
        let at = match n % 3 {
            0 => rng.below(original.len()),
            1 => data[rng.below(data.len())],
            _ => (pages[rng.below(pages.len())] + rng.below(4096)).min(original.len() - 1),
        };
        let mask = u8::try_from(rng.below(255) + 1).unwrap();
        let mut bytes = original.clone();
        bytes[at] ^= mask;
        std::fs::write(ledger, &bytes).unwrap();
        let damaged = independent_full_read(ledger);
        let readable = damaged.is_none();
        tally.flips += 1;
        tally.unreadable += usize::from(!readable);
        if let Some(t) = &damaged {
            *tally.unreadable_in.entry(t.clone()).or_default() += 1;
        }
        for (i, (cmd, args)) in [
            ("runs", vec!["runs", "--ledger", l, "--json"]),
            (
                "run latest",
                vec!["run", "latest", "--ledger", l, "--repo", repo, "--json"],
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let (code, panicked) = verify(bin, &args);
            tally.panics += usize::from(panicked);
            match usize::try_from(code) {
                Ok(c) if c <= 2 => tally.exits[i][c] += 1,
                _ => tally.other_exit += 1,
            }
            // `runs` reads the metadata and run_history only (it reports on nothing else);
            // `run` reads every table a run's checks use, so any damage must stop it.
            let reads_it = damaged
                .as_deref()
                .is_some_and(|t| cmd != "runs" || ["open", "metadata", "run_history"].contains(&t));
            if code == 0 && reads_it {
                tally
                    .stepped_over
                    .push((at, damaged.clone().unwrap_or_default(), cmd));
            } else if code == 0 && damaged.is_some() {
                tally.unread_damage += 1;
            }
        }
    }
    std::fs::write(ledger, &original).unwrap();
}

#[test]
fn byte_flips_of_a_ledger_never_pass_over_damage_and_never_panic() {
    // 100 flips per ledger by default; ROCKY_VERIFY_FLIPS asks for more (or fewer).
    let flips: usize = std::env::var("ROCKY_VERIFY_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    // A private copy of the binary: hundreds of spawns must not meet a rebuild in between.
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("rocky-verify");
    std::fs::copy(util::BIN, &bin).unwrap();

    // rocky-writer's shape.
    let s = Scenario::new();
    s.write();
    let mut tally = Tally::default();
    flip_and_classify(&bin, &s.ledger(), 0x5EED_0016, flips, &mut tally);

    // Rocky's shape: 16-hex sql_hash, no hash_scheme and no rocky-writer extensions.
    let mut r = Scenario::new();
    for run in [&mut r.run1, &mut r.run2] {
        for m in run["models_executed"].as_array_mut().unwrap() {
            let m = m.as_object_mut().unwrap();
            m.insert("sql_hash".into(), json!("0123456789abcdef"));
            for k in [
                "hash_scheme",
                "materialization",
                "target_table",
                "source_path",
            ] {
                m.remove(k);
            }
        }
        let o = run.as_object_mut().unwrap();
        o.remove("config_blake3");
        o.insert("target_catalog".into(), Value::Null);
    }
    r.metadata.retain(|(k, _)| k != "producer");
    r.write();
    flip_and_classify(&bin, &r.ledger(), 0x5EED_1016, flips, &mut tally);

    println!(
        "byte flips: {} run, {} {:?} unreadable by an independent full read; `runs` exit 0/1/2: {:?}; \
         `run latest` exit 0/1/2: {:?}; other exits {}; panics {}; exit 0 with damage only in tables \
         not read: {}; exit 0 over damage in a table read: {:?}",
        tally.flips,
        tally.unreadable,
        tally.unreadable_in,
        tally.exits[0],
        tally.exits[1],
        tally.other_exit,
        tally.panics,
        tally.unread_damage,
        tally.stepped_over
    );
    assert_eq!(tally.panics, 0, "{tally:?}");
    assert_eq!(tally.other_exit, 0, "{tally:?}");
    assert!(
        tally.stepped_over.is_empty(),
        "the verifier passed over damage it did not read: {tally:?}"
    );
}
