//! Commit signatures: an allowed-signers file and an armored SSH signature (a commit's `gpgsig`
//! header, untrusted), split at the first NUL byte. Parsed and checked to a verdict, never a
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::evidence::signature::{AllowedSigners, verify_ssh};

fuzz_target!(|data: &[u8]| {
    let (signers, armored) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let (Ok(signers), Ok(armored)) = (std::str::from_utf8(signers), std::str::from_utf8(armored))
    else {
        return;
    };
    let signers = AllowedSigners::parse(signers)
        .unwrap_or_else(|_| AllowedSigners::parse("").expect("an empty file parses"));
    let when = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let _ = verify_ssh(
        armored,
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n",
        &signers,
        when,
    );
});
