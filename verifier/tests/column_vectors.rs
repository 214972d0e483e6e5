//! `column_hashes.json`: Rocky's `output_column_hashes` (`spec/hashes.md` section 13) through
//! the verifier's own recomputation, `rocky_verify::evidence::column_hash`.
//!
//! A `column` case gives an Arrow type, a nullability and the values; this harness builds the
//! column the way Rocky builds its batch (`XArray::from(Vec<Option<T>>)`) and the verifier
//! rebuilds and hashes it. A `file` case hashes every column of a Parquet file, read back.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use libtest_mimic::Failed;
use rocky_verify::evidence::column_hash;
use serde_json::Value;

use super::{Outcome, eq, field, no_error_expected, repo_root, text};

pub fn column_hashes_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    match text(case, "/kind")? {
        "column" => {
            let dt = arrow_type(text(case, "/input/arrow_type")?)?;
            let nullable = field(case, "/input/nullable")?
                .as_bool()
                .ok_or("vector shape: nullable")?;
            let values = field(case, "/input/values")?
                .as_array()
                .ok_or("vector shape: values")?;
            let array = rocky_array(&dt, values)?;
            let (hash, len) =
                column_hash::hash_column(&dt, nullable, &[array]).map_err(|e| e.to_string())?;
            eq(
                "(hash, ipc_bytes)",
                (hash.as_str(), len),
                (
                    text(case, "/expected/hash")?,
                    field(case, "/expected/ipc_bytes")?
                        .as_u64()
                        .ok_or("vector shape: ipc_bytes")?,
                ),
            )
        }
        "file" => {
            let path = repo_root().join(text(case, "/input/file")?);
            let got = column_hash::recompute_file(&path).map_err(|e| e.to_string())?;
            let got: Vec<(String, String)> =
                got.into_iter().map(|c| (c.file_name, c.hash)).collect();
            let want: Vec<(String, String)> = field(case, "/expected")?
                .as_array()
                .ok_or("vector shape: expected is a list")?
                .iter()
                .map(|c| {
                    Ok((
                        text(c, "/file_column")?.to_owned(),
                        text(c, "/hash")?.to_owned(),
                    ))
                })
                .collect::<Result<_, Failed>>()?;
            eq("columns", got, want)
        }
        other => Err(format!("vector shape: unknown kind {other:?}").into()),
    }
}

/// The Arrow types the vectors spell, exactly as arrow displays them.
fn arrow_type(s: &str) -> Result<DataType, Failed> {
    Ok(match s {
        "Int32" => DataType::Int32,
        "Int64" => DataType::Int64,
        "Float32" => DataType::Float32,
        "Float64" => DataType::Float64,
        "Boolean" => DataType::Boolean,
        "Utf8" => DataType::Utf8,
        "Binary" => DataType::Binary,
        "Date32" => DataType::Date32,
        "Timestamp(Microsecond, \"UTC\")" => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        _ => {
            let inner = s
                .strip_prefix("Decimal128(")
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("vector shape: unknown arrow_type {s:?}"))?;
            let (p, sc) = inner.split_once(',').ok_or("vector shape: decimal")?;
            DataType::Decimal128(
                p.trim().parse().map_err(|_| "vector shape: precision")?,
                sc.trim().parse().map_err(|_| "vector shape: scale")?,
            )
        }
    })
}

fn opt<T>(values: &[Value], f: impl Fn(&Value) -> Option<T>) -> Result<Vec<Option<T>>, Failed> {
    values
        .iter()
        .map(|v| {
            if v.is_null() {
                Ok(None)
            } else {
                f(v).map(Some)
                    .ok_or_else(|| Failed::from(format!("vector shape: bad value {v}")))
            }
        })
        .collect()
}

fn hex(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
                .collect()
        })
        .flatten()
}

/// The column as Rocky's `query_result_to_record_batch` builds it.
fn rocky_array(dt: &DataType, values: &[Value]) -> Result<ArrayRef, Failed> {
    Ok(match dt {
        DataType::Int32 => Arc::new(Int32Array::from(opt(values, |v| {
            v.as_i64().and_then(|n| i32::try_from(n).ok())
        })?)),
        DataType::Int64 => Arc::new(Int64Array::from(opt(values, Value::as_i64)?)),
        DataType::Float32 => Arc::new(Float32Array::from(opt(values, |v| {
            v.as_f64().map(|x| x as f32)
        })?)),
        DataType::Float64 => Arc::new(Float64Array::from(opt(values, Value::as_f64)?)),
        DataType::Boolean => Arc::new(BooleanArray::from(opt(values, Value::as_bool)?)),
        DataType::Utf8 => Arc::new(StringArray::from(opt(values, |v| {
            v.as_str().map(str::to_owned)
        })?)),
        DataType::Binary => {
            let owned = opt(values, |v| v.as_str().and_then(hex))?;
            let refs: Vec<Option<&[u8]>> = owned.iter().map(|v| v.as_deref()).collect();
            Arc::new(BinaryArray::from(refs))
        }
        DataType::Date32 => Arc::new(Date32Array::from(opt(values, |v| {
            v.as_i64().and_then(|n| i32::try_from(n).ok())
        })?)),
        DataType::Timestamp(_, _) => Arc::new(
            TimestampMicrosecondArray::from(opt(values, Value::as_i64)?).with_timezone("UTC"),
        ),
        DataType::Decimal128(p, s) => Arc::new(
            Decimal128Array::from(opt(values, |v| v.as_str()?.parse::<i128>().ok())?)
                .with_precision_and_scale(*p, *s)
                .map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("vector shape: no builder for {other}").into()),
    })
}
