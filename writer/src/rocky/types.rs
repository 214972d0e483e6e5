//! Warehouse type strings to [`RockyType`] as Rocky 1.71 maps them at compile time
//! (`default_type_mapper`), and the IR-versus-warehouse compatibility verdict
//! (spec/warehouse.md, "Columns and types").
//!
//! The mapping goes only from the warehouse string to a `RockyType`: Rocky has no table the other
//! way, so comparing in the other direction would invent one.

use serde::Serialize;

use crate::ir::RockyType;

/// Maps a warehouse type string to the `RockyType` Rocky 1.71 gives it.
///
/// Trims Unicode `White_Space`, uppercases (full Unicode), then matches exactly; only
/// `DECIMAL`/`NUMERIC` are matched by prefix. Everything else is [`RockyType::Unknown`].
pub fn map_warehouse_type(s: &str) -> RockyType {
    let t = s.trim().to_uppercase();
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

/// `DECIMAL(p,s)` / `NUMERIC(p,s)` with both parts `u8`, else Rocky's fallback `{38,0}`.
fn decimal(upper: &str) -> RockyType {
    let parsed = upper
        .strip_prefix("DECIMAL(")
        .or_else(|| upper.strip_prefix("NUMERIC("))
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|inner| {
            let parts: Vec<&str> = inner.split(',').collect();
            match parts.as_slice() {
                // `u8::from_str` accepts a leading `+`, as Rocky's parse does.
                [p, s] => Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?)),
                _ => None,
            }
        });
    let (precision, scale) = parsed.unwrap_or((38, 0));
    RockyType::Decimal { precision, scale }
}

/// A type family: only a disagreement between families is evidence, because the IR holds the
/// typechecker's static inference, not the types the warehouse gave the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TypeFamily {
    Numeric,
    Temporal,
    Boolean,
    String,
    Binary,
    Variant,
    Array,
    Map,
    Struct,
    Unknown,
}

/// The family of a type.
pub fn family(t: &RockyType) -> TypeFamily {
    match t {
        RockyType::Int32
        | RockyType::Int64
        | RockyType::Float32
        | RockyType::Float64
        | RockyType::Decimal { .. } => TypeFamily::Numeric,
        RockyType::Date | RockyType::Timestamp | RockyType::TimestampNtz => TypeFamily::Temporal,
        RockyType::Boolean => TypeFamily::Boolean,
        RockyType::String => TypeFamily::String,
        RockyType::Binary => TypeFamily::Binary,
        RockyType::Variant => TypeFamily::Variant,
        RockyType::Array(_) => TypeFamily::Array,
        RockyType::Map(_, _) => TypeFamily::Map,
        RockyType::Struct(_) => TypeFamily::Struct,
        RockyType::Unknown => TypeFamily::Unknown,
    }
}

/// How an IR column type relates to what the warehouse reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    /// The mapped type equals the IR's type.
    Same,
    /// The IR's type is `Unknown` (compatible with everything, as Rocky's `is_assignable`).
    UnknownInIr,
    /// The warehouse string maps to `Unknown`.
    UnknownInWarehouse,
    /// Different types of one family (compatible, but not exact).
    SameFamily,
    /// Different families: a `column_type_mismatch`.
    Mismatch,
}

impl Compatibility {
    /// Whether this verdict lets the column pass.
    pub fn is_compatible(self) -> bool {
        self != Compatibility::Mismatch
    }

    /// The verdict's code (`same`, `unknown_in_ir`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Compatibility::Same => "same",
            Compatibility::UnknownInIr => "unknown_in_ir",
            Compatibility::UnknownInWarehouse => "unknown_in_warehouse",
            Compatibility::SameFamily => "same_family",
            Compatibility::Mismatch => "mismatch",
        }
    }
}

/// The verdict between an IR type and an already mapped warehouse type. The rows of the spec's
/// table are tried in order, so `Unknown` against `Unknown` is `Same`.
pub fn compatibility(ir: &RockyType, mapped: &RockyType) -> Compatibility {
    if ir == mapped {
        Compatibility::Same
    } else if *ir == RockyType::Unknown {
        Compatibility::UnknownInIr
    } else if *mapped == RockyType::Unknown {
        Compatibility::UnknownInWarehouse
    } else if family(ir) == family(mapped) {
        Compatibility::SameFamily
    } else {
        Compatibility::Mismatch
    }
}

/// Maps `warehouse_type` and compares it with the IR's type; returns the verdict and the mapped
/// type (which a mismatch message quotes).
pub fn compare(ir: &RockyType, warehouse_type: &str) -> (Compatibility, RockyType) {
    let mapped = map_warehouse_type(warehouse_type);
    (compatibility(ir, &mapped), mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(precision: u8, scale: u8) -> RockyType {
        RockyType::Decimal { precision, scale }
    }

    #[test]
    fn decimal_parts_are_u8_with_a_38_0_fallback() {
        assert_eq!(map_warehouse_type("decimal(10,200)"), dec(10, 200));
        assert_eq!(map_warehouse_type("DECIMAL(10,2"), dec(38, 0));
        assert_eq!(map_warehouse_type("DECIMAL(10,2))"), dec(38, 0));
        assert_eq!(map_warehouse_type("DECIMAL(-1,2)"), dec(38, 0));
        assert_eq!(map_warehouse_type("NUMERIC(0,0)"), dec(0, 0));
        assert_eq!(map_warehouse_type("NUMERIC(256,0)"), dec(38, 0));
    }

    #[test]
    fn unknown_against_unknown_is_same() {
        assert_eq!(
            compatibility(&RockyType::Unknown, &RockyType::Unknown),
            Compatibility::Same
        );
    }

    #[test]
    fn nested_types_compare_by_family() {
        let a = RockyType::Array(Box::new(RockyType::Int64));
        let b = RockyType::Array(Box::new(RockyType::String));
        assert_eq!(compatibility(&a, &b), Compatibility::SameFamily);
        assert_eq!(
            compatibility(&a, &RockyType::Int64),
            Compatibility::Mismatch
        );
    }
}
