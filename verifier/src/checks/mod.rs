//! What the verifier checks: the catalogue of check ids and finding codes.

pub mod catalogue;
