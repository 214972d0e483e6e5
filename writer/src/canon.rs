//! Canonical JSON (spec/canonical-json.md).
//!
//! Objects are emitted with their keys sorted by the bytewise order of their UTF-8 encoding at
//! every depth; arrays keep their order; strings and numbers are written exactly as
//! `serde_json::to_string` writes them; there is no whitespace. This is Rocky's `canonical_json`,
//! not RFC 8785.
//!
//! The sort is done while serialising (a wrapper around [`serde_json::Value`]), so the result does
//! not depend on whether `serde_json`'s `preserve_order` feature is enabled somewhere in the
//! dependency graph.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Serialises a value with every object's keys sorted bytewise.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                // `str`'s Ord is bytewise over UTF-8, which is the canonical order.
                entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The canonical JSON text of `value`.
pub fn to_canonical_string(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its keys are strings and non-finite floats cannot be
    // represented in it.
    serde_json::to_string(&Sorted(value)).expect("serialising a serde_json::Value cannot fail")
}

/// The canonical JSON of any serialisable value: `serde_json::to_value` (honouring every serde
/// attribute, so omission rules are the type's own), then [`to_canonical_string`].
///
/// # Errors
///
/// Fails only when `value`'s `Serialize` implementation fails (for example a map with non-string
/// keys).
pub fn to_canonical_string_of<T: Serialize + ?Sized>(
    value: &T,
) -> Result<String, serde_json::Error> {
    Ok(to_canonical_string(&serde_json::to_value(value)?))
}

/// Why a text could not be checked for canonical form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalCheckError {
    /// The text is not a single valid JSON document, or it has duplicate object keys.
    #[error("canonical json check: text is not valid json")]
    InvalidJson(#[source] serde_json::Error),
}

/// Parses `text` as one JSON document, rejecting duplicate object keys anywhere.
///
/// # Errors
///
/// [`CanonicalCheckError::InvalidJson`] for invalid JSON, trailing data or duplicate keys.
pub fn parse_strict(text: &str) -> Result<Value, CanonicalCheckError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue::deserialize(&mut de).map_err(CanonicalCheckError::InvalidJson)?;
    de.end().map_err(CanonicalCheckError::InvalidJson)?;
    Ok(value.0)
}

/// Whether `text` is byte-identical to its own canonical form.
///
/// # Errors
///
/// [`CanonicalCheckError::InvalidJson`] when `text` is not valid JSON (see [`parse_strict`]).
pub fn is_canonical(text: &str) -> Result<bool, CanonicalCheckError> {
    let value = parse_strict(text)?;
    Ok(to_canonical_string(&value) == text)
}

/// A `Value` whose deserialisation rejects duplicate keys.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
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
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate object key {key:?}"
                )));
            }
            let StrictValue(value) = map.next_value_seed(StrictSeed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = StrictValue;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<StrictValue, D::Error> {
        StrictValue::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_utf8_bytes_not_utf16_units() {
        let v: Value =
            serde_json::from_str(r#"{"\ud83d\ude00":1,"\ue000":2,"b":{"z":1,"a":2}}"#).unwrap();
        assert_eq!(
            to_canonical_string(&v),
            "{\"b\":{\"a\":2,\"z\":1},\"\u{e000}\":2,\"\u{1f600}\":1}"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert!(matches!(
            parse_strict(r#"{"a":1,"a":2}"#),
            Err(CanonicalCheckError::InvalidJson(_))
        ));
        assert!(parse_strict(r#"[{"x":{"a":1,"a":2}}]"#).is_err());
        assert!(parse_strict(r#"{"a":{"a":1}}"#).is_ok());
    }

    #[test]
    fn trailing_data_is_rejected() {
        assert!(parse_strict("{} {}").is_err());
        assert!(parse_strict("{}\n").is_ok());
        assert!(!is_canonical("{}\n").unwrap());
    }
}
