//! Writes `seeds/ledger/small.redb`: a small, valid redb 2 ledger (metadata, one run, one
//! artifact row) for the ledger fuzz target to mutate. Rocky's own ledgers are megabytes; a small
//! seed keeps each execution fast. `cargo run --example make_ledger_seed` (from verifier/fuzz).
use redb::{Database, TableDefinition};

const METADATA: TableDefinition<&str, &str> = TableDefinition::new("metadata");
const RUN_HISTORY: TableDefinition<&str, &[u8]> = TableDefinition::new("run_history");
const OUTPUT_ARTIFACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("output_artifacts");

fn main() {
    let path = std::path::Path::new("seeds/ledger/small.redb");
    let _ = std::fs::remove_file(path);
    let db = Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut m = txn.open_table(METADATA).unwrap();
        m.insert("schema_version", "22").unwrap();
        let mut r = txn.open_table(RUN_HISTORY).unwrap();
        r.insert(
            "run-20260530-110422-643",
            br#"{"run_id":"run-20260530-110422-643","started_at":"2026-05-30T11:04:22.643494Z","finished_at":"2026-05-30T11:04:25.250000Z","status":"Success","models_executed":[{"model_name":"orders","started_at":"2026-05-30T11:04:22.700000Z","finished_at":"2026-05-30T11:04:23.000000Z","duration_ms":300,"rows_affected":null,"status":"success","sql_hash":"8db55759bf0597d4"}],"trigger":"Manual","config_hash":"f1587ebeaa994df1","git_commit":null,"git_branch":null,"rocky_version":"1.71.0"}"#.as_slice(),
        )
        .unwrap();
        let mut a = txn.open_table(OUTPUT_ARTIFACTS).unwrap();
        a.insert(
            "run-20260530-110422-643|orders|736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet",
            br#"{"blake3_hash":"736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0","size_bytes":806,"commit_version":0}"#.as_slice(),
        )
        .unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    println!("{} bytes", std::fs::metadata(path).unwrap().len());
}
