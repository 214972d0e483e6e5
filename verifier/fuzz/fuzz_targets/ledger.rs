//! The ledger backend on a mutated redb file: open, then read every JSON table and the metadata
//! in full. Each step may fail with a diagnostic; none may panic, hang or write to the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::evidence::ledger::{self, Ledger};
use std::io::Write;

const TABLES: &[&str] = &[
    "run_history",
    "output_artifacts",
    "input_index",
    "input_provenance",
    "watermarks",
    "check_history",
    "branches",
];

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    let Ok(l) = Ledger::open(f.path(), "fuzz") else {
        return;
    };
    let _ = l.metadata("schema_version");
    for t in TABLES {
        let _ = l.rows(ledger::JsonTable::new(t), "");
    }
    let _ = l.digest();
    drop(l);
    assert_eq!(
        std::fs::read(f.path()).unwrap(),
        data,
        "the ledger was written to"
    );
});
