//! rocky-verify's end-to-end tests, in one binary (DuckDB makes every test binary large): the real
//! `rocky-verify` executable run on evidence built inside each test.
//!
//! - `run_cmd`: a consistent two-run scenario passes; each single tampering fails with exactly
//!   its finding codes (always against the untampered control).
//! - `hostile`: truncated, garbage, locked, unclean and read-only ledgers; hostile names and JSON;
//!   never a panic, never a pass.
//! - `gate`: the CI drift gate: every report format, exit code, waiver, tolerance and the
//!   checkpoint, on clean and drifted evidence.
//! - `commands`: `artifact`, `runs`, `record`, usage errors, colour, broken pipes.
//! - `generated_docs`: completions and man pages name every subcommand.
//! - `rocky_output`: row counts and column types on Rocky-shaped ledgers (check_history
//!   snapshots, downstream watermark counts, types as Rocky maps them), `run` and `gate`.
//! - `independence`: no networking crate and no writer / outside path crate in the build graph.

mod util;

mod catalogue;
mod commands;
mod gate;
mod generated_docs;
mod hostile;
mod independence;
mod rocky_output;
mod run_cmd;
