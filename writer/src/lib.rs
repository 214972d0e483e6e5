//! # rocky-writer
#![deny(missing_docs)]

pub mod canon;
pub mod identity;
pub mod ir;
pub mod normalize;
pub mod records;
mod siphash;

pub use siphash::SipHasher13;
