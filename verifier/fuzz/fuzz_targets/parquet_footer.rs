//! The Parquet footer reader on arbitrary file contents: an error, never a panic, a hang or an
//! allocation the bytes do not back. The bounds walk (`footer_bounds`) must read every footer as
//! the decoder does: a disagreement between them is a gap in the walk, so it is a crash here.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::evidence::artifact::{FooterError, read_footer};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    if let Err(e @ FooterError::Disagree { .. }) = read_footer(f.path()) {
        panic!("{e}");
    }
});
