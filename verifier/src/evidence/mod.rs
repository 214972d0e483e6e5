//! The evidence: every source the verifier reads, each opened read-only and never written.
//!
//! A source's failures are typed errors that the checks turn into `unknown` findings (could not
//! check), never `fail`.

/// An artifact file: its BLAKE3 and Parquet footer.
pub mod artifact;
/// An evidence bundle (`--bundle`): manifest, tar reader, path rules, ledger tiers, warehouse facts.
pub mod bundle;
/// The columns of an artifact file, hashed as Rocky hashes them (`output_column_hashes`).
pub mod column_hash;
/// A content-addressed table's Delta log copy (`--lake`).
pub mod delta_log;
/// Bounds a Parquet footer's declared counts before the `parquet` crate decodes it.
pub mod footer_bounds;
/// The git repository: commits, blobs and trees at a recorded commit.
pub mod git;
/// The redb ledger, read through a backend that never writes.
pub mod ledger;
/// Opening only regular files as evidence (FIFOs and devices would hang a read).
pub mod regular_file;
/// Commit signatures: git's `gpgsig` header, SSH allowed-signers files, SSHSIG verification.
pub mod signature;
/// The DuckDB warehouse: tables, counts and columns.
pub mod warehouse;
