//! Which ledger values can contain a given string, found without decoding every value.
//!
//! Refcounts, upstream producers, `artifact --ledger` and the "rewritten since" rule look for the
//! few rows that name one hash or one table among every row of a table; decoding each JSON value
//! would dominate the time on a large ledger.
//!
//! In JSON text a string's characters have one spelling each (the character itself, or for `"`,
//! `\` and control characters the short escape `serde_json` writes) except through `\uXXXX`, and
//! `\/` for `/`. So a value whose bytes contain neither a wanted string's spelling nor `\u` nor
//! `\/` cannot hold that string anywhere, and only the other values are decoded and compared.

use std::collections::BTreeSet;

use memchr::memmem::Finder;

/// A set of wanted strings and a byte search for each one's JSON spelling.
pub struct StringFilter {
    wanted: BTreeSet<String>,
    finders: Vec<Finder<'static>>,
    alternative_escapes: [Finder<'static>; 2],
}

impl StringFilter {
    /// A filter for `wanted`.
    pub fn new(wanted: &BTreeSet<String>) -> StringFilter {
        StringFilter {
            wanted: wanted.clone(),
            finders: wanted
                .iter()
                .map(|s| Finder::new(json_spelling(s).as_bytes()).into_owned())
                .collect(),
            alternative_escapes: [
                Finder::new(b"\\u").into_owned(),
                Finder::new(b"\\/").into_owned(),
            ],
        }
    }

    /// Whether the JSON text `bytes` can contain a string holding a wanted string. `false` is
    /// certain; `true` means "decode and compare".
    pub fn may_contain(&self, bytes: &[u8]) -> bool {
        self.alternative_escapes
            .iter()
            .chain(&self.finders)
            .any(|f| f.find(bytes).is_some())
    }

    /// Whether `s` is one of the wanted strings.
    pub fn wants(&self, s: &str) -> bool {
        self.wanted.contains(s)
    }
}

/// How `serde_json` spells `s` inside a JSON string (without the quotes).
fn json_spelling(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(wanted: &[&str]) -> StringFilter {
        StringFilter::new(&wanted.iter().map(|h| (*h).to_owned()).collect())
    }

    #[test]
    fn only_the_spelling_or_an_alternative_escape_makes_a_value_worth_decoding() {
        let a = "a".repeat(64);
        let f = filter(&[&a]);
        assert!(f.may_contain(a.as_bytes()));
        assert!(f.may_contain(br#"{"x":"\u0041"}"#));
        assert!(f.may_contain(br#"{"x":"a\/b"}"#));
        // Other escapes cannot spell a hex digit.
        assert!(!f.may_contain(br#"{"ir":"{\"a\":\"b\\n\"}"}"#));
        assert!(!f.may_contain("b".repeat(64).as_bytes()));
        // Control: the wanted string anywhere in the text, even outside the field of interest.
        assert!(f.may_contain(format!(r#"{{"file_path":"{a}.parquet"}}"#).as_bytes()));
        assert!(f.wants(&a) && !f.wants(&"b".repeat(64)));
    }

    #[test]
    fn strings_that_json_escapes_are_searched_for_as_json_spells_them() {
        let f = filter(&["or\"ders\\x"]);
        let text = serde_json::to_string(&serde_json::json!({"t": "my.or\"ders\\x"})).unwrap();
        assert!(f.may_contain(text.as_bytes()));
        // Control: the raw characters are not how JSON spells them.
        assert!(!f.may_contain(br#"{"t":"ordersx"}"#));
    }

    proptest::proptest! {
        /// No false "cannot contain": any string holding a wanted string, encoded by serde_json,
        /// is flagged.
        #[test]
        fn an_encoded_value_holding_a_wanted_string_is_always_flagged(
            prefix in ".{0,8}", wanted in ".{1,12}", suffix in ".{0,8}"
        ) {
            let f = filter(&[&wanted]);
            let v = serde_json::json!({"k": format!("{prefix}{wanted}{suffix}")});
            proptest::prop_assert!(f.may_contain(serde_json::to_string(&v).unwrap().as_bytes()));
        }
    }
}
