//! Rocky's own semantics, as pure functions over a project tree: warehouse types, model
//! discovery and configuration, statement templates and the `sql_hash` they fingerprint
//! (`spec/warehouse.md` "Columns and types", `spec/hashes.md` section 12).
//!
//! Nothing here opens a ledger or a warehouse; [`tree`] reads a project from a git commit or an
//! in-memory map. The checks that use these functions live elsewhere.

pub mod project;
pub mod run_vars;
pub mod sql_hash;
pub mod statements;
pub mod tree;
pub mod types;
