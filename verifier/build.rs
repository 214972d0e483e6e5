//! Records where the prebuilt DuckDB library lives as the binaries' run-time search path, so
//! `rocky-verify` runs without LD_LIBRARY_PATH. Nothing to do when DuckDB is compiled in
//! (`--features bundled`).
//!
//! The path recorded is the library's real location (the versioned cache folder that
//! `scripts/duckdb-lib` fills), never the clone's `.duckdb` link: a binary built here keeps
//! working when the clone is moved or deleted, and does not change with whichever clone sharing the
//! target directory built last. Ahead of it comes `$ORIGIN/../lib/rocky-verify`, where
//! `scripts/install` puts its own copy of the library: the installed binary loads that one, so the
//! installed tree works on its own and can move as a whole (the loader skips the entry for a
//! binary run from the target directory, where no such folder exists).

fn main() {
    println!("cargo::rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    let dir = std::env::var("DUCKDB_LIB_DIR").unwrap_or_default();
    let lib = std::path::Path::new(&dir).join("libduckdb.so");
    let Ok(real) = std::fs::canonicalize(&lib) else {
        println!(
            "cargo::error=libduckdb.so not found in DUCKDB_LIB_DIR={dir:?}: run scripts/duckdb-lib \
             first, or build with --features bundled"
        );
        return;
    };
    // `$ORIGIN` is for the dynamic loader: no shell sees this argument.
    println!("cargo::rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/rocky-verify");
    println!(
        "cargo::rustc-link-arg=-Wl,-rpath,{}",
        real.parent().unwrap().display()
    );
}
