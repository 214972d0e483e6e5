//! SipHash-1-3 with a zero key: Rocky's `sql_hash` fingerprint and `config_hash`
//! (spec/hashes.md sections 2.1 and 3).
//!
//! Implemented here rather than taken from `std::hash::DefaultHasher`, whose algorithm Rust does
//! not promise to keep.

/// Streaming SipHash-1-3 (1 compression round, 3 finalisation rounds).
#[derive(Debug, Clone)]
pub struct SipHasher13 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Bytes not yet compressed (fewer than 8).
    tail: [u8; 8],
    tail_len: usize,
    /// Total message length; only its low byte enters the padding.
    length: u64,
}

impl SipHasher13 {
    /// A hasher with key k0 = k1 = 0.
    pub fn new() -> Self {
        Self::new_with_keys(0, 0)
    }

    /// A hasher with the given 128-bit key.
    pub fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher13 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: [0; 8],
            tail_len: 0,
            length: 0,
        }
    }

    #[inline]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.v0 ^= m;
    }

    /// Feeds bytes.
    pub fn write(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&bytes[..take]);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            let m = u64::from_le_bytes(self.tail);
            self.compress(m);
            self.tail_len = 0;
        }
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let m = u64::from_le_bytes(chunk.try_into().expect("chunk of 8"));
            self.compress(m);
        }
        let rest = chunks.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    /// The 64-bit result.
    pub fn finish(&self) -> u64 {
        let mut s = self.clone();
        let mut last = [0u8; 8];
        last[..s.tail_len].copy_from_slice(&s.tail[..s.tail_len]);
        // Standard SipHash padding: the message length mod 256 in the top byte.
        last[7] = (s.length & 0xff) as u8;
        let b = u64::from_le_bytes(last);
        s.compress(b);
        s.v2 ^= 0xff;
        for _ in 0..3 {
            s.round();
        }
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

impl Default for SipHasher13 {
    fn default() -> Self {
        Self::new()
    }
}

/// Rocky's `sql_fingerprint`: SipHash-1-3 (zero key) over the statements joined by `;\n`,
/// followed by one `FF` byte (Rust's `Hash for str` terminator), as 16 lowercase hex digits.
pub fn sql_fingerprint<S: AsRef<str>>(statements: &[S]) -> String {
    let mut h = SipHasher13::new();
    for (i, statement) in statements.iter().enumerate() {
        if i > 0 {
            h.write(b";\n");
        }
        h.write(statement.as_ref().as_bytes());
    }
    h.write(&[0xff]);
    format!("{:016x}", h.finish())
}

/// Rocky's `config_hash`: SipHash-1-3 (zero key) over the raw bytes of `rocky.toml`, with no
/// terminator, as 16 lowercase hex digits.
pub fn config_hash(raw: &[u8]) -> String {
    let mut h = SipHasher13::new();
    h.write(raw);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_fingerprints_match_the_spec() {
        assert_eq!(sql_fingerprint(&["SELECT 1"]), "224d630126d8ca3f");
        assert_eq!(sql_fingerprint::<&str>(&[]), "30406ea523c53def");
        assert_eq!(config_hash(b""), "d1fba762150c532c");
        assert_eq!(
            config_hash(b"[pipeline.x]\ntype = \"replication\"\n"),
            "f1587ebeaa994df1"
        );
    }

    #[test]
    fn split_writes_equal_one_write() {
        let data: Vec<u8> = (0..=200u8).collect();
        for cut in 0..data.len() {
            let mut a = SipHasher13::new();
            a.write(&data[..cut]);
            a.write(&data[cut..]);
            let mut b = SipHasher13::new();
            b.write(&data);
            assert_eq!(a.finish(), b.finish(), "cut at {cut}");
        }
    }

    #[test]
    #[allow(deprecated)]
    fn agrees_with_std_siphash13_today() {
        // A cross-check only: the spec forbids depending on std's hasher.
        use std::hash::Hasher;
        for len in 0..40usize {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut ours = SipHasher13::new();
            ours.write(&data);
            let mut std_h = std::hash::DefaultHasher::new();
            std_h.write(&data);
            assert_eq!(ours.finish(), std_h.finish(), "len {len}");
        }
    }
}
