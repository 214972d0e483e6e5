//! Same as ../examples/build.rs: the e2e test binaries link DuckDB through rocky-examples.
include!("../examples/build.rs");
