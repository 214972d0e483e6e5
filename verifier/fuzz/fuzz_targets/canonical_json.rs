//! Canonical JSON: strict parsing never panics, and whatever parses re-encodes to text that is
//! canonical and parses back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::canon;

fuzz_target!(|data: &[u8]| {
    let _ = canon::is_canonical(data);
    if let Ok(v) = canon::parse_strict(data) {
        let text = canon::to_canonical_string(&v);
        assert_eq!(canon::is_canonical(text.as_bytes()).ok(), Some(true), "{text}");
        let back = canon::parse_strict(text.as_bytes()).expect("canonical text parses");
        assert_eq!(canon::to_canonical_string(&back), text);
    }
});
