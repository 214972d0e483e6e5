//! A bundle's `manifest.json` and its tar form (`spec/bundle.md`): parsing never panics, a
//! manifest that is accepted is exactly its own canonical re-encoding with every path safe, and
//! the tar reader walks any bytes to an entry list or a refusal, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::evidence::bundle::{manifest, paths, tar};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = manifest::parse(data) {
        assert_eq!(m.canonical_bytes(), data, "accepted means canonical");
        for f in &m.files {
            assert_eq!(paths::check_file_path(&f.path), None, "{:?}", f.path);
        }
    }
    let mut r = tar::TarReader::new(data);
    for _ in 0..10_000 {
        match r.next_entry() {
            Ok(Some(e)) => {
                let mut n = 0u64;
                if r.read_data(|b| {
                    n += b.len() as u64;
                    Ok(())
                })
                .is_err()
                {
                    break;
                }
                assert_eq!(n, e.size);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
