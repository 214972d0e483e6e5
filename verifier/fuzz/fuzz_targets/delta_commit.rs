//! A Delta log commit body (`--lake`, `spec/delta-log.md` section 2), untrusted text: parsed to a
//! commit or a line-numbered error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = rocky_verify::evidence::delta_log::parse_commit(text) {
        // The error names a line of the input.
        let _ = e.to_string();
    }
});
