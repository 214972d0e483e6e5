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
//!  evidence/          model/            plan/          checks/            report.rs   output/
//!  ledger/ git        run_id            RunOptions,    catalogue.rs       Check,      human (run,
//!  warehouse   --->   timestamp   --->  policy   --->  (CheckId, Code) -> Report ---> gate), json,
//!  artifact           records           (scope,        who code output                junit, sarif,
//!  column_hash        (typed ledger     skips)         artifacts columns              github,
//!  delta_log          records)                         provenance ...                 markdown
//! ```
//!
//! `commands/` is thin: it opens the evidence, builds the plan, runs the checks (the engine in
//! `checks/mod.rs`) and hands the report to an output. The plan (`plan/`: `scope` for the gate's
//! runs, `select` for `--model` / `--select` and the ledger's lineage, `policy` skips) is decided
//! before any check runs.
//!
//! - A new **evidence source** (evidence bundles, remote ledgers fetched by `rocky-collect`) goes
//!   in `evidence/`: opened read-only, its failures typed errors that become `unknown` checks,
//!   never `fail`. `evidence/bundle/` is one: a bundle (`--bundle`) is opened and checked against
//!   its manifest (`checks/bundle.rs`), then its files stand in for `--ledger`, `--repo`,
//!   `--artifacts`, `--lake` and `--warehouse` (`commands/bundle.rs`).
//! - `--pseudonymize` (`output/pseudonym.rs`) rewrites the finished report, before any format is
//!   written, through `Report::rewrite_strings`.
//! - A new **decoded fact** goes in `model/`: one parser, shared by the binary and
//!   `tests/vectors.rs`.
//! - A new **check** gets its `CheckId` (and any new `Code`) in `checks/catalogue.rs` and a row in
//!   `spec/report.md` first (`tests/catalogue.rs` compares them), then its logic in the
//!   `checks/` module of the evidence it reads, called from `checks::check_loaded`.
//! - A **rule several checks share** has one module both commands call: the supersession rule
//!   ("which later run rewrote this table") is `checks/supersession.rs`, whether the candidates
//!   were decoded for one run (`run`) or once for the whole ledger (`gate`); the catalog a
//!   warehouse file is attached as is `evidence::warehouse::catalog_for`.
//! - `rocky/` holds Rocky's own semantics (pure): type mapping, project discovery, statement
//!   templates, `sql_hash`.

// Pure, spec-derived logic (no I/O).
pub mod canon;
pub mod identity;
pub mod model;
pub mod normalize;
pub mod rocky;
pub mod siphash;

// Evidence sources, all opened read-only.
pub mod evidence;

// Checks, commands, reports and the command line.
pub mod checks;
pub mod cli;
pub mod commands;
pub mod error;
pub mod output;
pub mod par;
pub mod plan;
pub mod report;
