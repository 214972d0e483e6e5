//! Column hashing (`output_column_hashes`) on arbitrary file contents: the footer, the page
//! headers and the pages are all untrusted bytes. An error, never a panic, a hang or an
//! allocation the bytes do not back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    let _ = rocky_verify::evidence::column_hash::recompute_file(f.path());
});
