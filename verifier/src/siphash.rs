//! SipHash-1-3 with a zero key: Rocky's `sql_hash` and `config_hash` fingerprints
//! (`spec/hashes.md` sections 2.1 and 3).
//!
//! Rocky computes both with `std::hash::DefaultHasher::new()`, which is SipHash-1-3 keyed with
//! k0 = k1 = 0 today, but whose algorithm Rust does not promise to keep. The spec therefore requires
//! an own implementation. These are 64-bit, unkeyed, non-cryptographic fingerprints: a match is
//! proof level `fingerprint-only`, never more.

/// SipHash with `C` compression rounds and `D` finalisation rounds, streaming, keyed with
/// `(k0, k1)`.
#[derive(Debug, Clone)]
struct SipHasher<const C: usize, const D: usize> {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Bytes not yet compressed (fewer than 8).
    tail: [u8; 8],
    tail_len: usize,
    /// Total message length; only its low 8 bits enter the final word.
    len: u64,
}

impl<const C: usize, const D: usize> SipHasher<C, D> {
    fn new(k0: u64, k1: u64) -> Self {
        SipHasher {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: [0; 8],
            tail_len: 0,
            len: 0,
        }
    }

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

    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        for _ in 0..C {
            self.round();
        }
        self.v0 ^= m;
    }

    fn write(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&bytes[..take]);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            self.compress(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.compress(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    fn finish(mut self) -> u64 {
        // The last word: the remaining bytes, little-endian, with the length mod 256 in the top
        // byte.
        let mut last = [0u8; 8];
        last[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        last[7] = self.len as u8;
        self.compress(u64::from_le_bytes(last));
        self.v2 ^= 0xff;
        for _ in 0..D {
            self.round();
        }
        self.v0 ^ self.v1 ^ self.v2 ^ self.v3
    }
}

/// SipHash-1-3 with k0 = k1 = 0, what `DefaultHasher::new()` is today.
type DefaultSip = SipHasher<1, 3>;

/// Rocky's `sql_hash` (`sql_fingerprint`): SipHash-1-3 over the statements joined with `;\n`, then
/// one `FF` byte (Rust's `Hash for str` terminator), as 16 lowercase hex digits.
///
/// `[]` and `[""]` both hash the single byte `FF`.
pub fn sql_fingerprint(statements: &[&str]) -> String {
    let mut h = DefaultSip::new(0, 0);
    for (i, statement) in statements.iter().enumerate() {
        if i > 0 {
            h.write(b";\n");
        }
        h.write(statement.as_bytes());
    }
    h.write(&[0xff]);
    format!("{:016x}", h.finish())
}

/// Rocky's `config_hash` (`config_fingerprint_bytes`): SipHash-1-3 over the raw bytes of
/// `rocky.toml`, **without** a terminator, as 16 lowercase hex digits.
pub fn config_fingerprint(raw: &[u8]) -> String {
    let mut h = DefaultSip::new(0, 0);
    h.write(raw);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A second SipHash, written as plainly as possible from the paper: pad the whole message,
    /// then compress word by word. Used only to cross-check the streaming implementation.
    fn naive_siphash(c: usize, d: usize, k0: u64, k1: u64, msg: &[u8]) -> u64 {
        let mut v = [
            k0 ^ 0x736f6d6570736575,
            k1 ^ 0x646f72616e646f6d,
            k0 ^ 0x6c7967656e657261,
            k1 ^ 0x7465646279746573,
        ];
        fn sipround(v: &mut [u64; 4]) {
            v[0] = v[0].wrapping_add(v[1]);
            v[2] = v[2].wrapping_add(v[3]);
            v[1] = v[1].rotate_left(13);
            v[3] = v[3].rotate_left(16);
            v[1] ^= v[0];
            v[3] ^= v[2];
            v[0] = v[0].rotate_left(32);
            v[2] = v[2].wrapping_add(v[1]);
            v[0] = v[0].wrapping_add(v[3]);
            v[1] = v[1].rotate_left(17);
            v[3] = v[3].rotate_left(21);
            v[1] ^= v[2];
            v[3] ^= v[0];
            v[2] = v[2].rotate_left(32);
        }
        let mut padded = msg.to_vec();
        while padded.len() % 8 != 7 {
            padded.push(0);
        }
        padded.push(msg.len() as u8);
        for chunk in padded.chunks(8) {
            let m = chunk
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            v[3] ^= m;
            for _ in 0..c {
                sipround(&mut v);
            }
            v[0] ^= m;
        }
        v[2] ^= 0xff;
        for _ in 0..d {
            sipround(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }

    #[test]
    fn spec_vectors_hold() {
        assert_eq!(sql_fingerprint(&["SELECT 1"]), "224d630126d8ca3f");
        assert_eq!(sql_fingerprint(&[]), "30406ea523c53def");
        assert_eq!(sql_fingerprint(&[""]), "30406ea523c53def");
        assert_eq!(
            sql_fingerprint(&["CREATE OR REPLACE TABLE a.b.c AS SELECT 1", "SELECT 2"]),
            "1a222661b16bfbf0"
        );
        assert_eq!(config_fingerprint(b""), "d1fba762150c532c");
        assert_eq!(
            config_fingerprint(b"[pipeline.x]\ntype = \"replication\"\n"),
            "f1587ebeaa994df1"
        );
    }

    #[test]
    fn siphash_2_4_reproduces_the_paper_vector() {
        // SipHash paper, appendix A: key 00..0f, message 00..0e (15 bytes).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        let mut h = SipHasher::<2, 4>::new(k0, k1);
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129ca6149be45e5);
        assert_eq!(naive_siphash(2, 4, k0, k1, &msg), 0xa129ca6149be45e5);
    }

    #[test]
    fn output_is_16_lowercase_hex_even_with_leading_zeros() {
        for n in 0..300u32 {
            let s = config_fingerprint(&n.to_le_bytes());
            assert_eq!(s.len(), 16);
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
    }

    proptest! {
        #[test]
        fn streaming_agrees_with_the_naive_reference(
            msg in prop::collection::vec(any::<u8>(), 0..600),
            split in any::<prop::sample::Index>(),
        ) {
            let at = split.index(msg.len() + 1);
            let mut h = DefaultSip::new(0, 0);
            h.write(&msg[..at]);
            h.write(&msg[at..]);
            prop_assert_eq!(h.finish(), naive_siphash(1, 3, 0, 0, &msg));
        }

        #[test]
        fn sql_fingerprint_is_the_hash_of_the_joined_text_and_ff(
            statements in prop::collection::vec(".{0,40}", 0..5),
        ) {
            let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
            let mut bytes = refs.join(";\n").into_bytes();
            bytes.push(0xff);
            prop_assert_eq!(
                sql_fingerprint(&refs),
                format!("{:016x}", naive_siphash(1, 3, 0, 0, &bytes))
            );
        }
    }
}
