//! rocky-verify's end-to-end tests, in one binary (DuckDB makes every test binary large): the real
//! `rocky-verify` executable run on evidence built inside each test.
//!
//! - `run_cmd`: a consistent two-run scenario passes; each single tampering fails with exactly
//!   its finding codes (always against the untampered control).
//! - `hostile`: truncated, garbage, locked, unclean and read-only ledgers; hostile names and JSON;
//!   never a panic, never a pass.
//! - `commands`: `artifact`, `runs`, `record`, usage errors, colour, broken pipes.
//! - `independence`: no networking crate and no writer / outside path crate in the build graph.

mod util;

mod commands;
mod hostile;
mod independence;
mod run_cmd;
