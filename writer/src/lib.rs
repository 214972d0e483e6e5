//! # rocky-writer
//!
//! Records Rocky-compatible evidence: a redb ledger laid out exactly as Rocky's state schema v22,
//! and deterministic, content-addressed Parquet artifacts. An engine embeds this crate; anyone can
//! check what it wrote later with `rocky-verify`, which shares only the spec with it.
//!
//! What it adds over Rocky, with the same formats:
//!
//! - a run is recorded in **one** write transaction (run, artifacts, provenance, watermarks and
//!   check history), so a crash leaves the whole run or none of it;
//! - `sql_hash` is blake3 of the model source as committed (`hash_scheme = "v1+blake3-sql"`),
//!   bound to `git_commit` and `source_path`, instead of a 64-bit fingerprint;
//! - Parquet settings are pinned (including `created_by`), so content addresses do not move with
//!   the parquet crate's version, and files are published atomically without ever replacing one.
//!
//! It does not execute SQL, talk to a warehouse, or read git: the engine supplies what ran.
//!
//! The normative formats are in the repository's `spec/` folder (`ledger.md`, `hashes.md`,
//! `canonical-json.md`, `records/`).
//!
//! # API
//!
//! - [`Ledger::create_or_open`] takes the writer lock and opens or creates a ledger;
//!   [`Ledger::record_run`] records a [`RunDraft`] (with its [`ModelDraft`]s) and returns a
//!   [`RecordedRun`]. Watermarks: [`Ledger::watermark`], [`Ledger::set_watermark`],
//!   [`Ledger::delete_watermark`], [`Ledger::incremental_predicate`]. Check history:
//!   [`Ledger::record_row_count`], [`Ledger::check_history`]. Branches:
//!   [`Ledger::create_branch`], [`Ledger::branches`], [`Ledger::delete_branch`].
//! - [`artifact::write_content_addressed`] writes a record batch as `<blake3>.parquet` with
//!   [`artifact::ParquetSettings`] and returns a [`artifact::WrittenArtifact`].
//! - [`identity`]: `sql_hash_blake3`, `sql_fingerprint`, `config_hash`, `config_blake3`,
//!   `recipe_hash`, `skip_hash`, `input_hash`, `env_hash`, `proof_class`.
//! - [`normalize::normalize`]: the `skip_hash` SQL normaliser; [`canon::to_canonical_string`]:
//!   canonical JSON; [`ir::ModelIr`]: the model IR.
//! - [`rocky`]: Rocky 1.71's own `sql_hash` statements ([`rocky::rocky_statements`]), project
//!   loading over an in-memory [`rocky::FileTree`] ([`rocky::load_project`]), and warehouse type
//!   strings to `RockyType` ([`rocky::map_warehouse_type`], [`rocky::compare`]).
//! - `remote` (cargo feature `remote`): the ledger kept in S3, Valkey or both between runs, as
//!   Rocky's remote state (`StateSync`; spec/remote-state.md).
//!
//! # Example
//!
//! ```
//! use chrono::Utc;
//! use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
//! use rocky_writer::{Ledger, ModelDraft, RunDraft};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let ledger = Ledger::create_or_open(dir.path().join(".rocky-state.redb")).unwrap();
//! let now = Utc::now();
//! let ir = ModelIr::new(
//!     "orders",
//!     "SELECT 1 AS id",
//!     TableRef::new("wh", "main", "orders"),
//!     MaterializationStrategy::FullRefresh,
//!     vec![TypedColumn { name: "id".into(), data_type: RockyType::Int64, nullable: false }],
//! );
//! let mut run = RunDraft::new(now, now, "0.1.0");
//! run.models.push(ModelDraft::new(ir, "models/orders.sql", now, now));
//! let recorded = ledger.record_run(run).unwrap();
//! assert!(recorded.run_id.starts_with("run-"));
//! ```
#![deny(missing_docs)]

pub mod artifact;
pub mod canon;
pub mod check;
pub mod error;
pub mod identity;
pub mod ir;
pub mod ledger;
pub mod normalize;
pub mod records;
#[cfg(feature = "remote")]
pub mod remote;
pub mod rocky;
pub mod run;
mod siphash;
pub mod watermark;

pub use error::{
    ArtifactError, BranchError, CheckError, Error, OpenError, ProjectError, ReadError, RecordError,
    TemplateError, WatermarkError,
};
pub use ledger::{Ledger, WriterClock};
pub use run::{ConfigFile, ModelDraft, RecordedRun, RunDraft};
pub use siphash::SipHasher13;
