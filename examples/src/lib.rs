//! The demo pipeline (see README.md).
