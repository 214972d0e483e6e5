//! Which ledger values can name a hash, found without decoding every value.
//!
//! Refcounts, upstream producers and `artifact --ledger` look for the rows that name one hash
//! among every row of a table; decoding each JSON value would dominate the time on a large
//! ledger. A JSON text spells a string's characters as its own bytes except inside escapes, and
//! the only escape that can spell a hex digit is `\uXXXX`. So a value whose bytes contain neither
//! the hash nor `\u` cannot name it, and only the others are decoded and compared exactly.

use std::collections::BTreeSet;

use memchr::memmem::Finder;

/// A set of wanted hashes (any strings) and a byte search for each.
pub struct HashFilter {
    wanted: BTreeSet<String>,
    finders: Vec<Finder<'static>>,
    escape: Finder<'static>,
}

impl HashFilter {
    /// A filter for `wanted`.
    pub fn new(wanted: &BTreeSet<String>) -> HashFilter {
        HashFilter {
            wanted: wanted.clone(),
            finders: wanted
                .iter()
                .map(|h| Finder::new(h.as_bytes()).into_owned())
                .collect(),
            escape: Finder::new(b"\\u").into_owned(),
        }
    }

    /// Whether the JSON text `bytes` can contain a string equal to a wanted hash. `false` is
    /// certain; `true` means "decode and compare".
    pub fn may_name(&self, bytes: &[u8]) -> bool {
        self.escape.find(bytes).is_some() || self.finders.iter().any(|f| f.find(bytes).is_some())
    }

    /// Whether `h` is wanted.
    pub fn wants(&self, h: &str) -> bool {
        self.wanted.contains(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(hashes: &[&str]) -> HashFilter {
        HashFilter::new(&hashes.iter().map(|h| (*h).to_owned()).collect())
    }

    #[test]
    fn only_a_unicode_escape_or_the_hash_itself_makes_a_value_worth_decoding() {
        let a = "a".repeat(64);
        let f = filter(&[&a]);
        assert!(f.may_name(a.as_bytes()));
        assert!(f.may_name(br#"{"x":"\u0041"}"#));
        // Other escapes cannot spell a hex digit.
        assert!(!f.may_name(br#"{"ir":"{\"a\":\"b\\n\"}"}"#));
        assert!(!f.may_name("b".repeat(64).as_bytes()));
        // Control: the wanted hash anywhere in the text, even outside `blake3_hash`.
        assert!(f.may_name(format!(r#"{{"file_path":"{a}.parquet"}}"#).as_bytes()));
        assert!(f.wants(&a) && !f.wants(&"b".repeat(64)));
    }
}
