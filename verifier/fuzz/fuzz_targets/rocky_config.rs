//! rocky.toml at a commit is untrusted input too: parsing it (with ${VAR} substitution) refuses
//! or resolves, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = Default::default();
    let _ = rocky_verify::rocky::project::RockyConfig::parse("rocky.toml", text, &env);
});
