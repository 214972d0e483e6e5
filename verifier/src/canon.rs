//! Canonical JSON: a strict parser and an independent encoder for `spec/canonical-json.md`.
//!
//! Every identity hash (`recipe_hash`, `skip_hash`, `input_hash`, `env_hash`) is BLAKE3 over the
//! canonical text of a JSON value. The encoder here is written by hand (it does not call
//! `serde_json::to_string` on a sorted map, which is how Rocky does it), so that agreement with
//! Rocky's bytes is evidence rather than an identity. Only floats are delegated to serde_json's
//! number printer, because the spec defines their form as "what serde_json prints".
//!
//! The parser is strict where serde_json is lenient: duplicate keys, invalid UTF-8 and trailing
//! data are errors, and its input is bounded in size and nesting, so hostile evidence cannot make
//! it panic or overflow the stack.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest document [`parse_strict`] accepts: 256 MiB.
///
/// A ledger value or record file larger than this is not something Rocky writes; refusing it keeps
/// a hostile input from exhausting memory (a parsed document takes several times its text size).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

/// The deepest nesting of arrays and objects accepted: 127 levels.
///
/// This is serde_json's own recursion limit (its reader starts with a budget of 128 and fails when
/// it reaches 0), so a document nested deeper could not have been read back by Rocky either. The
/// limit is also what keeps the recursive parser within a small stack.
pub const MAX_NESTING: usize = 127;

/// Why a document could not be parsed strictly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonError {
    /// The document is larger than the limit.
    #[error("document is {len} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The bytes are not UTF-8.
    #[error("document is not valid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// An object has the same key twice.
    #[error("duplicate object key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// Arrays and objects are nested deeper than [`MAX_NESTING`].
    #[error("nesting deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// The text is not a single JSON value (syntax error, trailing data, empty input, a number out
    /// of range, a lone surrogate escape, ...).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's description.
        message: String,
    },
}

/// Parses one JSON document strictly, with the default size limit [`MAX_DOCUMENT_BYTES`].
///
/// # Errors
///
/// [`CanonError::TooLarge`], [`CanonError::InvalidUtf8`], [`CanonError::DuplicateKey`] (at any
/// depth), [`CanonError::TooDeep`] and [`CanonError::Syntax`] (including trailing data after the
/// value). Never panics.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonError> {
    parse_strict_with_limit(bytes, MAX_DOCUMENT_BYTES)
}

/// Parses one JSON document strictly, refusing inputs longer than `max_len` bytes.
///
/// # Errors
///
/// As [`parse_strict`].
pub fn parse_strict_with_limit(bytes: &[u8], max_len: usize) -> Result<Value, CanonError> {
    if bytes.len() > max_len {
        return Err(CanonError::TooLarge {
            len: bytes.len(),
            limit: max_len,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| CanonError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = StrictSeed {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| {
        de.end()?;
        Ok(v)
    });
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            if let Some(key) = duplicate.into_inner() {
                return Err(CanonError::DuplicateKey { key });
            }
            // serde_json reports its recursion limit only through the message text; the test
            // `nesting_limit_is_exactly_127_levels` pins this so a serde_json change is noticed.
            let message = e.to_string();
            if message.starts_with("recursion limit exceeded") {
                return Err(CanonError::TooDeep);
            }
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_owned(),
                None => message,
            };
            Err(CanonError::Syntax {
                line: e.line(),
                column: e.column(),
                message,
            })
        }
    }
}

/// Builds a [`Value`] like serde_json's own `Value` visitor, but fails on a repeated object key
/// (recording it in `duplicate` so the caller can report it as such).
#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json's reader never yields a non-finite float; mapping one to null is what its own
        // Value visitor does.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(key.clone());
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Encodes `v` as canonical JSON (`spec/canonical-json.md`).
///
/// Object keys are sorted by their UTF-8 bytes at every depth, arrays keep their order, there is no
/// whitespace, strings are escaped as serde_json escapes them, integers are plain decimal and floats
/// use serde_json's shortest round-trip form. The encoder is iterative, so any `Value` (however
/// deeply nested) is encoded without recursion.
pub fn to_canonical_string(v: &Value) -> String {
    enum Frame<'a> {
        Array(std::slice::Iter<'a, Value>, bool),
        Object(std::vec::IntoIter<(&'a String, &'a Value)>, bool),
    }
    let mut out = String::new();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut next = Some(v);
    loop {
        if let Some(value) = next.take() {
            match value {
                Value::Null => out.push_str("null"),
                Value::Bool(true) => out.push_str("true"),
                Value::Bool(false) => out.push_str("false"),
                Value::Number(n) => write_number(&mut out, n),
                Value::String(s) => write_string(&mut out, s),
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Frame::Array(items.iter(), true));
                }
                Value::Object(map) => {
                    out.push('{');
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    // `str`'s Ord is bytewise over UTF-8: exactly the rule (not UTF-16 as in JCS).
                    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                    stack.push(Frame::Object(entries.into_iter(), true));
                }
            }
        }
        let Some(top) = stack.last_mut() else { break };
        match top {
            Frame::Array(iter, first) => match iter.next() {
                Some(item) => {
                    if !*first {
                        out.push(',');
                    }
                    *first = false;
                    next = Some(item);
                }
                None => {
                    out.push(']');
                    stack.pop();
                }
            },
            Frame::Object(iter, first) => match iter.next() {
                Some((key, value)) => {
                    if !*first {
                        out.push(',');
                    }
                    *first = false;
                    write_string(&mut out, key);
                    out.push(':');
                    next = Some(value);
                }
                None => {
                    out.push('}');
                    stack.pop();
                }
            },
        }
    }
    out
}

/// Whether `bytes` are exactly the canonical encoding of the JSON document they hold.
///
/// # Errors
///
/// As [`parse_strict`]: a document that does not parse strictly is neither canonical nor
/// non-canonical.
pub fn is_canonical(bytes: &[u8]) -> Result<bool, CanonError> {
    let value = parse_strict(bytes)?;
    Ok(to_canonical_string(&value).as_bytes() == bytes)
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else {
        // A float: the spec defines its text as serde_json's shortest round-trip form (`1.0`,
        // `1e+21`, `-0.0`), which only serde_json's own printer reproduces exactly.
        out.push_str(&n.to_string());
    }
}

fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        // Only ASCII bytes are escaped, so `i` is always on a char boundary.
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        to_canonical_string(&parse_strict(text.as_bytes()).unwrap())
    }

    #[test]
    fn spec_examples_encode_as_written() {
        assert_eq!(canon(r#"{ "b": 1, "a": [3, 1] }"#), r#"{"a":[3,1],"b":1}"#);
        assert_eq!(canon(r#"{"\u00e9":1,"z":2}"#), "{\"z\":2,\"\u{e9}\":1}");
        assert_eq!(
            canon(r#"{"\ud83d\ude00":2,"\ue000":1}"#),
            "{\"\u{e000}\":1,\"\u{1f600}\":2}"
        );
        assert_eq!(canon(r#""a/b\u2028""#), "\"a/b\u{2028}\"");
        assert_eq!(canon(r#""\u0001\n""#), r#""\u0001\n""#);
        assert_eq!(canon("1e21"), "1e+21");
        assert_eq!(
            canon("[1.0,0.1,2.5,1.5e-7,-0.0,100.0]"),
            "[1.0,0.1,2.5,1.5e-7,-0.0,100.0]"
        );
    }

    #[test]
    fn integer_extremes_are_plain_decimal() {
        assert_eq!(canon("18446744073709551615"), "18446744073709551615");
        assert_eq!(canon("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(canon("[0,-1,42]"), "[0,-1,42]");
    }

    #[test]
    fn every_control_character_is_escaped_and_del_is_raw() {
        let all: String = (0u8..0x20).map(char::from).chain(['\u{7f}', '/']).collect();
        let encoded = to_canonical_string(&Value::String(all.clone()));
        assert_eq!(
            encoded,
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\
             \\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\u{7f}/\""
        );
        // serde_json agrees on every escape (it is the definition of the string rule).
        assert_eq!(encoded, serde_json::to_string(&all).unwrap());
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":[{"b":1,"c":{"a":1,"a":1}}]}"#,
            r#"{"a":1,"\u0061":2}"#,
        ] {
            assert!(
                matches!(parse_strict(text.as_bytes()), Err(CanonError::DuplicateKey { ref key }) if key == "a"),
                "{text}"
            );
        }
    }

    #[test]
    fn trailing_data_and_empty_input_are_syntax_errors() {
        for text in [
            "{} {}",
            "1 2",
            "",
            " ",
            "{\"a\":1}x",
            "[1,]",
            "{'a':1}",
            "\"\\ud800\"",
        ] {
            assert!(
                matches!(
                    parse_strict(text.as_bytes()),
                    Err(CanonError::Syntax { .. })
                ),
                "{text:?}"
            );
        }
        // Trailing whitespace is allowed by the parser (it is only not canonical).
        assert_eq!(is_canonical(b"{}\n"), Ok(false));
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_offset() {
        assert_eq!(
            parse_strict(b"\"ab\xff\""),
            Err(CanonError::InvalidUtf8 { offset: 3 })
        );
        assert!(
            parse_strict(b"\xef\xbb\xbf{}").is_err(),
            "a BOM is not JSON"
        );
        assert!(matches!(
            parse_strict(b"\"\xed\xa0\x80\""),
            Err(CanonError::InvalidUtf8 { .. })
        ));
    }

    #[test]
    fn nesting_limit_is_exactly_127_levels() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse_strict(nest(MAX_NESTING).as_bytes()).is_ok());
        assert_eq!(
            parse_strict(nest(MAX_NESTING + 1).as_bytes()),
            Err(CanonError::TooDeep)
        );
        let objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert_eq!(parse_strict(objects.as_bytes()), Err(CanonError::TooDeep));
    }

    #[test]
    fn hostile_deep_nesting_does_not_overflow_the_stack() {
        let text = "[".repeat(100_000);
        assert_eq!(parse_strict(text.as_bytes()), Err(CanonError::TooDeep));
        let text = "{\"a\":".repeat(100_000);
        assert_eq!(parse_strict(text.as_bytes()), Err(CanonError::TooDeep));
    }

    #[test]
    fn encoder_handles_values_deeper_than_the_parser_accepts() {
        let mut v = json!(1);
        for _ in 0..10_000 {
            v = Value::Array(vec![v]);
        }
        let text = to_canonical_string(&v);
        assert_eq!(text.len(), 20_001);
        // Drop iteratively: serde_json's recursive Drop would need a deep stack for this value.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn a_100_mb_string_parses_and_encodes_without_panicking() {
        let mut text = Vec::with_capacity(100 * 1024 * 1024 + 2);
        text.push(b'"');
        text.resize(100 * 1024 * 1024 + 1, b'x');
        text.push(b'"');
        assert_eq!(is_canonical(&text), Ok(true));
    }

    #[test]
    fn documents_over_the_limit_are_refused_before_parsing() {
        assert_eq!(
            parse_strict_with_limit(b"[1,2,3]", 6),
            Err(CanonError::TooLarge { len: 7, limit: 6 })
        );
        assert!(parse_strict_with_limit(b"[1,2,3]", 7).is_ok());
    }

    #[test]
    fn out_of_range_numbers_are_errors_not_infinities() {
        assert!(matches!(
            parse_strict(b"1e400"),
            Err(CanonError::Syntax { .. })
        ));
        assert!(matches!(
            parse_strict(b"-1e400"),
            Err(CanonError::Syntax { .. })
        ));
    }

    #[test]
    fn is_canonical_compares_bytes() {
        assert_eq!(is_canonical(br#"{"a":1}"#), Ok(true));
        assert_eq!(is_canonical(br#"{"a": 1}"#), Ok(false));
        assert_eq!(is_canonical(br#"{"b":1,"a":1}"#), Ok(false));
        assert_eq!(is_canonical(br#"{"a":"\u00e9"}"#), Ok(false));
        assert_eq!(is_canonical(br#"{"a":"\u001F"}"#), Ok(false));
        assert_eq!(is_canonical(br#"{"a":1.00}"#), Ok(false));
        assert!(is_canonical(br#"{"a":1"#).is_err());
    }

    /// Arbitrary JSON values with integer and float numbers, unicode strings and nesting.
    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(|n| json!(n)),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonicalisation_is_idempotent(v in arb_value()) {
            let once = to_canonical_string(&v);
            let twice = to_canonical_string(&parse_strict(once.as_bytes()).unwrap());
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(is_canonical(once.as_bytes()), Ok(true));
        }

        #[test]
        fn parsing_the_canonical_form_gives_the_value_back(v in arb_value()) {
            let text = to_canonical_string(&v);
            prop_assert_eq!(parse_strict(text.as_bytes()).unwrap(), v);
        }

        #[test]
        fn encoder_agrees_with_serde_json_on_a_sorted_value(v in arb_value()) {
            // serde_json's Map (a BTreeMap without `preserve_order`) sorts by str order, which
            // is bytewise UTF-8: the same rule, reached by a different road (Rocky's).
            prop_assert_eq!(to_canonical_string(&v), serde_json::to_string(&v).unwrap());
        }

        #[test]
        fn key_order_of_the_input_never_changes_the_output(
            entries in prop::collection::btree_map(any::<String>(), any::<i32>(), 0..12),
            seed in any::<u64>(),
        ) {
            let forward: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
                .collect();
            let mut shuffled = forward.clone();
            // A deterministic permutation from the seed (rotate then reverse by parity).
            let n = shuffled.len().max(1);
            shuffled.rotate_left(usize::try_from(seed % n as u64).unwrap_or(0));
            if seed % 2 == 1 {
                shuffled.reverse();
            }
            let a = format!("{{{}}}", forward.join(","));
            let b = format!("{{ {} }}", shuffled.join(" , "));
            prop_assert_eq!(
                to_canonical_string(&parse_strict(a.as_bytes()).unwrap()),
                to_canonical_string(&parse_strict(b.as_bytes()).unwrap())
            );
        }
    }
}
