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
//! - `lake`: column hashes and the Delta log on a Rocky-shaped content-addressed pipeline.
//! - `rocky_code`: Rocky-shaped ledgers and repositories: `sql_hash` recomputed per adapter and
//!   strategy (control and one-byte tamper), `""` entries, the adapter sources, shallow clones and
//!   a default `--repo`, in `run` and `gate`.
//! - `bundle`: evidence bundles (`--bundle` as a directory and a tar): the untampered control,
//!   each tamper, hostile tars, tiered ledgers, warehouse facts, `--pseudonymize`, `warehouse-sql`.
//! - `independence`: no networking crate and no writer / outside path crate in the build graph.
//! - `rocky_generated`: ledgers, repositories and warehouses written by Rocky's own CLI
//!   (fixtures/rocky/generated): no false failures, sql_hash recomputed from git, and issue 12's
//!   acceptance cases (row deletion, shallow clone) pinned at today's behaviour.
//! - `tamper_matrix`: issue 16's single semantic edits of ledger rows, one table of edits and
//!   expected findings, on rocky-writer, Rocky-shaped and Rocky-written ledgers, each against
//!   its untampered control.
//! - `warehouse_content`: table vs view, a content-addressed table's rows against its artifact,
//!   column order and undeclared `NOT NULL` (issue 16 item 4).
//! - `downgrade`: proof downgrades against a model's previous run, `[require]`, `hash_scheme`
//!   against the hash's shape (issue 16 item 2).
//! - `gate_artifacts`: the default gate hashes older runs' artifacts and names its runs.
//! - `byte_flips`: seeded byte flips of rocky-writer and Rocky-shaped ledgers, classified; never
//!   exit 0 over damage in a table the command reads, never a panic (`ROCKY_VERIFY_FLIPS`).

mod util;

mod audit_sql;
mod bundle;
mod byte_flips;
mod catalogue;
mod commands;
mod direction;
mod downgrade;
mod gate;
mod gate_artifacts;
mod generated_docs;
mod hostile;
mod independence;
mod lake;
mod plan;
mod rocky_code;
mod rocky_generated;
mod rocky_output;
mod run_cmd;
mod signatures;
mod snapshots;
mod tamper_matrix;
mod warehouse_content;
