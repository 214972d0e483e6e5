//! The Parquet footer reader on arbitrary file contents: an error, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    let _ = rocky_verify::evidence::artifact::read_footer(f.path());
});
