//! Records one content-addressed run into a fresh ledger and prints what was written.
//!
//! `cargo run -p rocky-writer --example record_run [FOLDER]` (default: a temporary folder).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::Utc;

use rocky_writer::artifact::{ParquetSettings, write_content_addressed};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::records::UpstreamIdentity;
use rocky_writer::{ConfigFile, Ledger, ModelDraft, RunDraft};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let folder = std::env::args_os()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| temp.path().to_owned());
    let ledger = Ledger::create_or_open(folder.join(".rocky-state.redb"))?;

    // The engine ran the model and holds its result as an Arrow batch.
    let started = Utc::now();
    let schema = Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("ada"), None, Some("grace")])) as ArrayRef,
        ],
    )?;
    let artifact = write_content_addressed(
        &folder.join("artifacts"),
        &batch,
        &ParquetSettings::pinned(),
    )?;

    let sql = "SELECT customer_id, name FROM wh.raw.customers\n";
    let ir = ModelIr::new(
        "dim_customers",
        sql,
        TableRef::new("wh", "marts", "dim_customers"),
        MaterializationStrategy::ContentAddressed {
            storage_prefix: "artifacts".into(),
            partition_columns: vec![],
        },
        vec![
            TypedColumn {
                name: "customer_id".into(),
                data_type: RockyType::Int64,
                nullable: false,
            },
            TypedColumn {
                name: "name".into(),
                data_type: RockyType::String,
                nullable: true,
            },
        ],
    );
    let mut model = ModelDraft::new(ir, "models/dim_customers.sql", started, Utc::now());
    model.artifacts.push(artifact);
    model.upstreams.push(UpstreamIdentity::Content {
        upstream_key: "wh.raw.customers".into(),
        blake3_hash: blake3::hash(b"the upstream's parquet bytes")
            .to_hex()
            .to_string(),
    });

    let mut run = RunDraft::new(started, Utc::now(), env!("CARGO_PKG_VERSION"));
    run.git_commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    run.git_branch = Some("main".into());
    run.config = Some(ConfigFile {
        path: "rocky.toml".into(),
        bytes: b"[pipeline.demo]\n".to_vec(),
    });
    run.models.push(model);
    let recorded = ledger.record_run(run)?;

    println!("ledger: {}", ledger.path().display());
    println!(
        "run_history[{}] = {}",
        recorded.run_id,
        serde_json::to_string(&recorded.record)?
    );
    for a in &recorded.artifacts {
        println!("output_artifacts: {}", serde_json::to_string(a)?);
    }
    for p in &recorded.provenance {
        println!("input_provenance: {}", serde_json::to_string(p)?);
    }
    Ok(())
}
