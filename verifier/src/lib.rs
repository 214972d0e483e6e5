//! # rocky-verify
//!
//! Verifies what a Rocky (or rocky-writer) run recorded, without trusting the engine that recorded
//! it: every hash is recomputed from bytes, every claim is checked against an independent source
//! (git, the warehouse, the artifact files), and nothing it reads is ever written.
//!
//! The formats are those of `spec/` at the repository root. This crate shares no code with the
//! writer.

// Pure, spec-derived logic (no I/O).
pub mod canon;
pub mod identity;
pub mod model;
pub mod normalize;
pub mod records;
pub mod siphash;

// Evidence sources, all opened read-only.
pub mod artifact;
pub mod git;
pub mod ledger;
pub mod warehouse;

// Checks, commands, reports and the command line.
pub mod checks;
pub mod cli;
pub mod commands;
pub mod error;
pub mod formats;
pub mod render;
pub mod report;
