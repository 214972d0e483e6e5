//! The SQL normaliser (skip_hash's pre-image) on arbitrary text: refuses or normalises, never
//! panics or overflows the stack; normalising is idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    if let Ok(Some(once)) = normalize::try_normalize(sql) {
        let _ = normalize::try_normalize(&once);
    }
});
