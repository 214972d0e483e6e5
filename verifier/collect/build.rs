//! Records the prebuilt DuckDB library's real folder as the binary's run-time search path, as the
//! verifier's own build script does, so `rocky-collect` (which reads DuckDB facts) runs without
//! LD_LIBRARY_PATH.

fn main() {
    println!("cargo::rerun-if-env-changed=DUCKDB_LIB_DIR");
    let dir = std::env::var("DUCKDB_LIB_DIR").unwrap_or_default();
    let lib = std::path::Path::new(&dir).join("libduckdb.so");
    let Ok(real) = std::fs::canonicalize(&lib) else {
        println!(
            "cargo::error=libduckdb.so not found in DUCKDB_LIB_DIR={dir:?}: run scripts/duckdb-lib first"
        );
        return;
    };
    if let Some(parent) = real.parent() {
        println!("cargo::rustc-link-arg=-Wl,-rpath,{}", parent.display());
    }
}
