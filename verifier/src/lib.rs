//! # rocky-verify
//!
//! Verifies what a Rocky (or rocky-writer) run recorded, without trusting the engine that recorded
//! it: every hash is recomputed from bytes, every claim is checked against an independent source
//! (git, the warehouse, the artifact files), and nothing it reads is ever written.
//!
//! The formats are those of `spec/` at the repository root. This crate shares no code with the
//! writer.

pub mod report;
