//! # rocky-collect
//!
//! Gathers what `rocky-verify` needs to audit a Rocky deployment into one bundle (spec/bundle.md):
//! the ledger from a local file, S3 or Valkey (both copies of a tiered store), the artifacts and
//! Delta logs the selected runs name, the commits they reference, and warehouse facts. Everything
//! networked in the verifier's workspace lives here, so `rocky-verify` itself stays offline.

pub mod artifacts;
pub mod collect;
pub mod error;
pub mod git;
pub mod ledger;
pub mod location;
pub mod manifest;
pub mod out;
pub mod s3;
pub mod scope;
pub mod warehouse;
