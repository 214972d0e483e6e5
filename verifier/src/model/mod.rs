//! The typed model of what a ledger records: run ids, timestamps and records, each with one
//! parser that the binary and the spec vectors share.

pub mod records;
pub mod run_id;
pub mod timestamp;
