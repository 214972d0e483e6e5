// Records where the prebuilt DuckDB library lives as the binaries' run-time search path, so
// the demo runs without LD_LIBRARY_PATH. Nothing to do when DuckDB is compiled in
// (`--features bundled`).

fn main() {
    println!("cargo::rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    let dir = std::env::var("DUCKDB_LIB_DIR").unwrap_or_default();
    // The library's real folder (the versioned cache), not the clone's `.duckdb` link, so the
    // demo keeps running when the clone moves (see verifier/build.rs).
    let Ok(real) = std::fs::canonicalize(std::path::Path::new(&dir).join("libduckdb.so")) else {
        println!(
            "cargo::error=libduckdb.so not found in DUCKDB_LIB_DIR={dir:?}: run scripts/duckdb-lib \
             first, or build with --features bundled"
        );
        return;
    };
    println!(
        "cargo::rustc-link-arg=-Wl,-rpath,{}",
        real.parent().unwrap().display()
    );
}
