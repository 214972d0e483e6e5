//! Warehouse type strings to `RockyType`, exactly as Rocky 1.71 maps them
//! (`spec/warehouse.md`, "Columns and types").
//!
//! Rocky types every column with one mapper for all adapters (`default_type_mapper`), so the
//! comparison runs from the warehouse string to a `RockyType`, never the other way. The IR's types
//! are the typechecker's static inference, so only a disagreement between type families is
//! evidence; `Unknown` is compatible with anything.

use serde_json::Value;

/// Rocky's column type (`rocky_ir::types::RockyType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RockyType {
    /// `Boolean`.
    Boolean,
    /// `Int32`.
    Int32,
    /// `Int64`.
    Int64,
    /// `Float32`.
    Float32,
    /// `Float64`.
    Float64,
    /// `{"Decimal":{"precision":p,"scale":s}}`.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `String`.
    String,
    /// `Date`.
    Date,
    /// `Timestamp` (Rocky documents it as "with timezone"; DuckDB's naive `TIMESTAMP` maps here).
    Timestamp,
    /// `TimestampNtz`.
    TimestampNtz,
    /// `Binary`.
    Binary,
    /// `{"Array":T}`.
    Array(Box<RockyType>),
    /// `{"Map":[K,V]}`.
    Map(Box<RockyType>, Box<RockyType>),
    /// `{"Struct":[{name,data_type,nullable},...]}`: field names and types.
    Struct(Vec<(String, RockyType)>),
    /// `Variant`.
    Variant,
    /// `Unknown`: not inferred; compatible with everything.
    Unknown,
}

/// A group of types the typechecker's inference may move between without it being evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFamily {
    /// `Boolean`.
    Boolean,
    /// `Int32`, `Int64`, `Float32`, `Float64`, `Decimal`.
    Numeric,
    /// `String`.
    String,
    /// `Date`, `Timestamp`, `TimestampNtz`.
    Temporal,
    /// `Binary`.
    Binary,
    /// `Variant`.
    Variant,
    /// `Array`.
    Array,
    /// `Map`.
    Map,
    /// `Struct`.
    Struct,
}

/// An IR `data_type` value that is not a `RockyType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a RockyType: {text}")]
pub struct IrTypeError {
    /// The value, as compact JSON.
    pub text: String,
}

impl RockyType {
    /// Parses the IR's serde form (external tagging: `"Int64"`,
    /// `{"Decimal":{"precision":p,"scale":s}}`, `{"Array":T}`, `{"Map":[K,V]}`, `{"Struct":[..]}`).
    ///
    /// # Errors
    ///
    /// [`IrTypeError`] for any other value.
    pub fn from_ir_json(v: &Value) -> Result<RockyType, IrTypeError> {
        let bad = || IrTypeError { text: verbatim(v) };
        if let Some(s) = v.as_str() {
            return Ok(match s {
                "Boolean" => RockyType::Boolean,
                "Int32" => RockyType::Int32,
                "Int64" => RockyType::Int64,
                "Float32" => RockyType::Float32,
                "Float64" => RockyType::Float64,
                "String" => RockyType::String,
                "Date" => RockyType::Date,
                "Timestamp" => RockyType::Timestamp,
                "TimestampNtz" => RockyType::TimestampNtz,
                "Binary" => RockyType::Binary,
                "Variant" => RockyType::Variant,
                "Unknown" => RockyType::Unknown,
                _ => return Err(bad()),
            });
        }
        let o = v.as_object().filter(|o| o.len() == 1).ok_or_else(bad)?;
        let (tag, inner) = o.iter().next().ok_or_else(bad)?;
        match tag.as_str() {
            "Decimal" => {
                let d = inner.as_object().filter(|d| d.len() == 2).ok_or_else(bad)?;
                let num = |k: &str| {
                    d.get(k)
                        .and_then(Value::as_u64)
                        .and_then(|n| u8::try_from(n).ok())
                };
                match (num("precision"), num("scale")) {
                    (Some(precision), Some(scale)) => Ok(RockyType::Decimal { precision, scale }),
                    _ => Err(bad()),
                }
            }
            "Array" => Ok(RockyType::Array(Box::new(RockyType::from_ir_json(inner)?))),
            "Map" => match inner.as_array().map(Vec::as_slice) {
                Some([k, v]) => Ok(RockyType::Map(
                    Box::new(RockyType::from_ir_json(k)?),
                    Box::new(RockyType::from_ir_json(v)?),
                )),
                _ => Err(bad()),
            },
            "Struct" => {
                let fields = inner.as_array().ok_or_else(bad)?;
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    let name = f.get("name").and_then(Value::as_str).ok_or_else(bad)?;
                    let t = f.get("data_type").ok_or_else(bad)?;
                    out.push((name.to_owned(), RockyType::from_ir_json(t)?));
                }
                Ok(RockyType::Struct(out))
            }
            _ => Err(bad()),
        }
    }

    /// The IR's serde form as compact JSON (`"Timestamp"`, `{"Decimal":{...}}`).
    pub fn to_ir_json(&self) -> Value {
        use serde_json::json;
        match self {
            RockyType::Boolean => json!("Boolean"),
            RockyType::Int32 => json!("Int32"),
            RockyType::Int64 => json!("Int64"),
            RockyType::Float32 => json!("Float32"),
            RockyType::Float64 => json!("Float64"),
            RockyType::Decimal { precision, scale } => {
                json!({"Decimal": {"precision": precision, "scale": scale}})
            }
            RockyType::String => json!("String"),
            RockyType::Date => json!("Date"),
            RockyType::Timestamp => json!("Timestamp"),
            RockyType::TimestampNtz => json!("TimestampNtz"),
            RockyType::Binary => json!("Binary"),
            RockyType::Array(t) => json!({"Array": t.to_ir_json()}),
            RockyType::Map(k, v) => json!({"Map": [k.to_ir_json(), v.to_ir_json()]}),
            RockyType::Struct(fields) => json!({"Struct": fields
                .iter()
                .map(|(n, t)| json!({"name": n, "data_type": t.to_ir_json(), "nullable": true}))
                .collect::<Vec<_>>()}),
            RockyType::Variant => json!("Variant"),
            RockyType::Unknown => json!("Unknown"),
        }
    }

    /// The type's family; `None` for `Unknown`.
    pub fn family(&self) -> Option<TypeFamily> {
        Some(match self {
            RockyType::Boolean => TypeFamily::Boolean,
            RockyType::Int32
            | RockyType::Int64
            | RockyType::Float32
            | RockyType::Float64
            | RockyType::Decimal { .. } => TypeFamily::Numeric,
            RockyType::String => TypeFamily::String,
            RockyType::Date | RockyType::Timestamp | RockyType::TimestampNtz => {
                TypeFamily::Temporal
            }
            RockyType::Binary => TypeFamily::Binary,
            RockyType::Variant => TypeFamily::Variant,
            RockyType::Array(_) => TypeFamily::Array,
            RockyType::Map(..) => TypeFamily::Map,
            RockyType::Struct(_) => TypeFamily::Struct,
            RockyType::Unknown => return None,
        })
    }
}

/// A JSON value as compact text: how a message quotes the IR's type verbatim.
pub fn verbatim(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| String::from("?"))
}

/// Rocky's `default_type_mapper`: a warehouse type string to the `RockyType` Rocky gives it.
///
/// Trim (Unicode `White_Space`), full Unicode uppercase, exact match; only decimals use a prefix.
pub fn map_warehouse_type(warehouse_type: &str) -> RockyType {
    let t = warehouse_type.trim().to_uppercase();
    match t.as_str() {
        "BOOLEAN" | "BOOL" => RockyType::Boolean,
        "TINYINT" | "BYTE" | "SMALLINT" | "SHORT" | "INT" | "INTEGER" => RockyType::Int32,
        "BIGINT" | "LONG" => RockyType::Int64,
        "FLOAT" | "REAL" => RockyType::Float32,
        "DOUBLE" | "DOUBLE PRECISION" => RockyType::Float64,
        "STRING" | "VARCHAR" | "TEXT" => RockyType::String,
        "BINARY" => RockyType::Binary,
        "DATE" => RockyType::Date,
        "TIMESTAMP" => RockyType::Timestamp,
        "TIMESTAMP_NTZ" => RockyType::TimestampNtz,
        "VARIANT" => RockyType::Variant,
        _ if t.starts_with("DECIMAL") || t.starts_with("NUMERIC") => decimal(&t),
        _ => RockyType::Unknown,
    }
}

/// `DECIMAL(p,s)` / `NUMERIC(p,s)` with both parts parsing as u8 (Rust `u8::from_str`, so a
/// leading `+` is accepted), else the `{38,0}` fallback Rocky uses.
fn decimal(upper: &str) -> RockyType {
    let parsed = upper
        .strip_prefix("DECIMAL(")
        .or_else(|| upper.strip_prefix("NUMERIC("))
        .and_then(|s| s.strip_suffix(')'))
        .and_then(|params| {
            let parts: Vec<&str> = params.split(',').collect();
            match parts.as_slice() {
                [p, s] => Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?)),
                _ => None,
            }
        });
    let (precision, scale) = parsed.unwrap_or((38, 0));
    RockyType::Decimal { precision, scale }
}

/// How the IR's type and the warehouse's type relate (`spec/warehouse.md`, "Compatibility").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeVerdict {
    /// The mapped warehouse type equals the IR's type.
    Same,
    /// The IR's type is `Unknown`.
    UnknownInIr,
    /// The warehouse string maps to `Unknown`.
    UnknownInWarehouse,
    /// Different types of one family: compatible, but not exact.
    SameFamily(TypeFamily),
    /// Different families: evidence of a changed column.
    Mismatch {
        /// What Rocky maps the warehouse string to.
        mapped: RockyType,
    },
}

impl TypeVerdict {
    /// Every verdict but [`TypeVerdict::Mismatch`].
    pub fn is_compatible(&self) -> bool {
        !matches!(self, TypeVerdict::Mismatch { .. })
    }

    /// The verdict's name in `vectors/rocky_types.json`.
    pub fn code(&self) -> &'static str {
        match self {
            TypeVerdict::Same => "same",
            TypeVerdict::UnknownInIr => "unknown_in_ir",
            TypeVerdict::UnknownInWarehouse => "unknown_in_warehouse",
            TypeVerdict::SameFamily(_) => "same_family",
            TypeVerdict::Mismatch { .. } => "mismatch",
        }
    }
}

/// Compares the IR's type with a warehouse type string.
pub fn compare(ir: &RockyType, warehouse_type: &str) -> TypeVerdict {
    let mapped = map_warehouse_type(warehouse_type);
    if *ir == mapped {
        return TypeVerdict::Same;
    }
    if *ir == RockyType::Unknown {
        return TypeVerdict::UnknownInIr;
    }
    if mapped == RockyType::Unknown {
        return TypeVerdict::UnknownInWarehouse;
    }
    match (ir.family(), mapped.family()) {
        (Some(a), Some(b)) if a == b => TypeVerdict::SameFamily(a),
        _ => TypeVerdict::Mismatch { mapped },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAPPED: &[&str] = &[
        "BOOLEAN",
        "BOOL",
        "TINYINT",
        "BYTE",
        "SMALLINT",
        "SHORT",
        "INT",
        "INTEGER",
        "BIGINT",
        "LONG",
        "FLOAT",
        "REAL",
        "DOUBLE",
        "DOUBLE PRECISION",
        "STRING",
        "VARCHAR",
        "TEXT",
        "BINARY",
        "DATE",
        "TIMESTAMP",
        "TIMESTAMP_NTZ",
        "VARIANT",
        "DECIMAL(18,3)",
        "NUMERIC(10, 2)",
        "DECIMAL",
    ];

    #[test]
    fn duckdb_timestamp_is_timestamp_and_with_time_zone_is_unknown() {
        assert_eq!(map_warehouse_type("TIMESTAMP"), RockyType::Timestamp);
        assert_eq!(
            map_warehouse_type("TIMESTAMP WITH TIME ZONE"),
            RockyType::Unknown
        );
        assert_eq!(map_warehouse_type("HUGEINT"), RockyType::Unknown);
        assert_eq!(map_warehouse_type("VARCHAR(10)"), RockyType::Unknown);
        assert_eq!(map_warehouse_type("NUMBER(38,0)"), RockyType::Unknown);
    }

    #[test]
    fn decimals_parse_u8_parts_or_fall_back_to_38_0() {
        let d = |p, s| RockyType::Decimal {
            precision: p,
            scale: s,
        };
        assert_eq!(map_warehouse_type("decimal(18,3)"), d(18, 3));
        assert_eq!(map_warehouse_type("NUMERIC( 10 , +2 )"), d(10, 2));
        assert_eq!(map_warehouse_type("DECIMAL(300,2)"), d(38, 0));
        assert_eq!(map_warehouse_type("DECIMAL (10,2)"), d(38, 0));
        assert_eq!(map_warehouse_type("DECIMAL(10)"), d(38, 0));
        assert_eq!(map_warehouse_type("NUMERICAL"), d(38, 0));
    }

    #[test]
    fn families_decide_compatibility() {
        assert_eq!(compare(&RockyType::Int64, "INTEGER").code(), "same_family");
        assert_eq!(compare(&RockyType::Date, "TIMESTAMP").code(), "same_family");
        assert_eq!(compare(&RockyType::Int64, "VARCHAR").code(), "mismatch");
        assert_eq!(compare(&RockyType::Timestamp, "TIMESTAMP").code(), "same");
        assert!(!compare(&RockyType::String, "BOOLEAN").is_compatible());
    }

    #[test]
    fn ir_json_roundtrips_and_rejects_strangers() {
        for v in [
            serde_json::json!("Timestamp"),
            serde_json::json!({"Decimal": {"precision": 18, "scale": 3}}),
            serde_json::json!({"Array": "Int64"}),
            serde_json::json!({"Map": ["String", {"Array": "Date"}]}),
        ] {
            let t = RockyType::from_ir_json(&v).unwrap();
            assert_eq!(t.to_ir_json(), v);
        }
        for v in [
            serde_json::json!("TIMESTAMP"),
            serde_json::json!({"Decimal": {"precision": 300, "scale": 3}}),
            serde_json::json!({"Map": ["String"]}),
            serde_json::json!(3),
        ] {
            assert!(RockyType::from_ir_json(&v).is_err(), "{v}");
        }
        assert_eq!(
            verbatim(&serde_json::json!({"Decimal": {"precision": 18, "scale": 3}})),
            r#"{"Decimal":{"precision":18,"scale":3}}"#
        );
    }

    fn any_type() -> impl Strategy<Value = RockyType> {
        prop::sample::select(vec![
            RockyType::Boolean,
            RockyType::Int32,
            RockyType::Int64,
            RockyType::Float32,
            RockyType::Float64,
            RockyType::Decimal {
                precision: 18,
                scale: 3,
            },
            RockyType::String,
            RockyType::Date,
            RockyType::Timestamp,
            RockyType::TimestampNtz,
            RockyType::Binary,
            RockyType::Variant,
            RockyType::Unknown,
        ])
    }

    proptest! {
        #[test]
        fn mapping_ignores_case_and_surrounding_whitespace(
            i in 0..MAPPED.len(),
            lower in prop::collection::vec(any::<bool>(), 32),
            pad_l in "[ \t\n]{0,3}",
            pad_r in "[ \t\r\n]{0,3}",
        ) {
            let base = MAPPED[i];
            let mixed: String = base
                .chars()
                .zip(lower.iter().cycle())
                .map(|(c, l)| if *l { c.to_ascii_lowercase() } else { c })
                .collect();
            let text = format!("{pad_l}{mixed}{pad_r}");
            prop_assert_eq!(map_warehouse_type(&text), map_warehouse_type(base));
            prop_assert_ne!(map_warehouse_type(base), RockyType::Unknown);
        }

        #[test]
        fn unknown_is_compatible_with_every_warehouse_string(s in ".{0,24}") {
            prop_assert!(compare(&RockyType::Unknown, &s).is_compatible());
        }

        #[test]
        fn an_unknown_warehouse_string_is_compatible_with_every_ir_type(
            t in any_type(),
            s in "(HUGEINT|UUID|JSON|TIMESTAMP WITH TIME ZONE|VARCHAR\\([0-9]{1,5}\\)|INT64)",
        ) {
            prop_assert!(compare(&t, &s).is_compatible());
        }

        #[test]
        fn compare_is_symmetric_in_compatibility_over_mapped_names(
            i in 0..MAPPED.len(),
            j in 0..MAPPED.len(),
        ) {
            let a = map_warehouse_type(MAPPED[i]);
            let b = map_warehouse_type(MAPPED[j]);
            prop_assert_eq!(
                compare(&a, MAPPED[j]).is_compatible(),
                compare(&b, MAPPED[i]).is_compatible()
            );
        }
    }
}
