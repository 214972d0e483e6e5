//! The gate's policy file (TOML) on arbitrary text: every problem reported, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = rocky_verify::plan::policy::Policy::parse("fuzz.toml", text);
});
