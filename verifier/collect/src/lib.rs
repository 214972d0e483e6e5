//! # rocky-collect
//!
//! Gathers what `rocky-verify` needs to audit a Rocky deployment into one bundle (spec/bundle.md):
//! the ledger from a local file, S3 or Valkey (both copies of a tiered store), the artifacts and
//! Delta logs the selected runs name, the commits they reference, and warehouse facts. Everything
//! networked in the verifier's workspace lives here, so `rocky-verify` itself stays offline.

pub mod error;
pub mod location;
pub mod s3;
pub mod ledger;
pub mod manifest;
pub mod out;
pub mod scope;
pub mod artifacts;
pub mod git;
pub mod warehouse;
pub mod collect;
