//! # rocky-verify
//!
//! Verifies what a Rocky (or rocky-writer) run recorded, without trusting the engine that recorded
//! it: every hash is recomputed from bytes, every claim is checked against an independent source
//! (git, the warehouse, the artifact files), and nothing it reads is ever written.
//!
//! The formats are those of `spec/` at the repository root. This crate shares no code with the
//! writer.
//!
//! ## Module map: data flows one way
//!
//! ```text
//! sources            model                 checks                 report      output
//! ledger/ git        model/ (run ids,      checks/catalogue.rs    report.rs   render.rs (run,
//! warehouse          timestamps) +         (CheckId, Code) and    (Check,     artifact, runs,
//! artifact     --->  records.rs      --->  commands/run/* (the --> Report) --> record), formats/
//! (read-only)        (strict typed         checks of one run),                (gate: human, junit,
//!                    decoding)             commands/gate/*                    sarif, github, md)
//! ```
//!
//! - A new **evidence source** (Delta logs, evidence bundles, remote ledgers) goes beside
//!   `ledger/`, `git.rs`, `warehouse.rs` and `artifact.rs`: opened read-only, its failures typed
//!   errors that become `unknown` checks, never `fail`.
//! - A new **decoded fact** goes in `model/` (one parser, shared by the binary and
//!   `tests/vectors.rs`) or `records.rs` (ledger record types).
//! - A new **check** gets its `CheckId` (and any new `Code`) in `checks/catalogue.rs` and a row in
//!   `spec/report.md` first (`tests/catalogue.rs` compares them), then its logic next to the
//!   checks of the same evidence under `commands/run/`.
//! - `rocky/` (being added): Rocky's own semantics (pure): type mapping, project discovery,
//!   statement templates.

// Pure, spec-derived logic (no I/O).
pub mod canon;
pub mod identity;
pub mod model;
pub mod normalize;
pub mod records;
pub mod rocky;
pub mod siphash;

// Evidence sources, all opened read-only (`column_hash`: the columns of an artifact file;
// `delta_log`: a table's Delta log copy).
pub mod artifact;
pub mod column_hash;
pub mod delta_log;
pub mod git;
pub mod ledger;
pub mod regular_file;
pub mod warehouse;

// Checks, commands, reports and the command line.
pub mod checks;
pub mod cli;
pub mod commands;
pub mod error;
pub mod formats;
pub mod render;
pub mod report;
