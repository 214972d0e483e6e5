//! Rocky's per-column content hashes (`ModelExecution.output_column_hashes`), recomputed from an
//! artifact's Parquet bytes (`spec/hashes.md` section 13).
//!
//! Rocky hashes the in-memory Arrow batch it is about to write: each column becomes a one-column
//! batch whose field is named `"col"` (same type, timezone included, same nullability, no
//! metadata), serialized as an Arrow IPC stream with default options, and hashed with BLAKE3.
//! The verifier reads the column back from the Parquet file Rocky wrote from that same batch and
//! hashes it the same way.
//!
//! Reading back is not enough on its own: the IPC bytes cover buffer contents that carry no
//! value (the bytes under a null slot, whether a validity bitmap exists at all), and the
//! Parquet reader fills those differently from the way Rocky's batch was built
//! (`XArray::from(Vec<Option<T>>)`: zero under every null, no bitmap when nothing is null). So
//! each column is **rebuilt** from its logical values with Arrow's builders, which lay buffers
//! out exactly as `from(Vec<Option<T>>)` does; only then is it serialized.
//!
//! The IPC encoding is arrow-ipc's, held at 58.4.0 (Rocky 1.71's lock) in `Cargo.lock`: 58.4.1
//! writes an empty validity buffer for a null-free column where 58.4.0 writes an all-ones bitmap,
//! so the two give different hashes for every null-free column.
//!
//! # Side effects
//!
//! Reads one file; writes nothing.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, PrimitiveArray, PrimitiveBuilder,
    RecordBatch, StringBuilder,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type,
    Int32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
};
use arrow::ipc::writer::StreamWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use thiserror::Error;

use crate::evidence::ledger::guard;

/// The most rows a column is rebuilt from (one column is held in memory at a time, as Rocky
/// held the whole batch). A footer claiming more is not read: delta encodings let a few bytes
/// stand for billions of values.
pub const MAX_ROWS: i64 = 50_000_000;

/// Rows per batch read from the Parquet file.
const READ_BATCH: usize = 8192;

/// Why a file's column hashes could not be recomputed (each is "could not check").
#[derive(Debug, Error)]
pub enum ColumnHashError {
    /// The file could not be opened.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet footer or data does not read (or the reader gave up on corrupt data).
    #[error("the Parquet file does not read: {0}")]
    Parquet(String),
    /// A column of a type Rocky's content-addressed writer never produces.
    #[error(
        "column {column:?} has Arrow type {data_type}, which Rocky's content-addressed writer never hashes"
    )]
    UnsupportedType {
        /// The column's name in the file.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("the file claims {rows} rows, beyond the {limit} this verifier rebuilds in memory")]
    TooLarge {
        /// The footer's row count.
        rows: i64,
        /// [`MAX_ROWS`].
        limit: i64,
    },
    /// The column could not be put into a batch or serialized (a non-nullable field holding
    /// nulls, say).
    #[error("Arrow IPC: {0}")]
    Ipc(String),
}

impl ColumnHashError {
    /// Whether the cause is a column type outside Rocky's writer (`column_type_unexpected`)
    /// rather than an unreadable file.
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, ColumnHashError::UnsupportedType { .. })
    }
}

/// One column's recomputed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDigest {
    /// The column's name in the file (Rocky writes the Delta column-mapping physical name, so
    /// this is not the logical name the ledger records).
    pub file_name: String,
    /// Its Arrow type, as displayed by arrow (`Int64`, `Timestamp(µs, "UTC")`, ...).
    pub data_type: String,
    /// Its nullability.
    pub nullable: bool,
    /// BLAKE3 of the column's IPC stream, 64 lowercase hex.
    pub hash: String,
    /// Length of that stream in bytes.
    pub ipc_bytes: u64,
}

/// The types Rocky's writer produces (`query_result_to_record_batch`), so the only ones a
/// recorded hash can be over.
pub fn is_rocky_type(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Boolean
            | DataType::Utf8
            | DataType::Binary
            | DataType::Date32
            | DataType::Decimal128(_, _)
            | DataType::Timestamp(TimeUnit::Microsecond, _)
    )
}

/// Hashes one column as Rocky does: rebuilt from its values, as the one field `"col"` of a
/// batch, in an Arrow IPC stream. `arrays` are the column's pieces in order (the batches a
/// reader returned); `data_type` and `nullable` are the field's.
///
/// # Errors
///
/// [`ColumnHashError::UnsupportedType`] for a type Rocky's writer never produces (or a piece
/// whose type is not `data_type`); [`ColumnHashError::Ipc`] when the batch cannot be built or
/// serialized.
pub fn hash_column(
    data_type: &DataType,
    nullable: bool,
    arrays: &[ArrayRef],
) -> Result<(String, u64), ColumnHashError> {
    let rebuilt = rebuild(data_type, arrays).ok_or_else(|| ColumnHashError::UnsupportedType {
        column: "col".to_owned(),
        data_type: data_type.to_string(),
    })?;
    ipc_digest(data_type, nullable, rebuilt)
}

/// BLAKE3 and length of the IPC stream of `array` as the single field `"col"`; `array` is
/// serialized as it is (no rebuilding), which is what Rocky does with its in-memory batch.
///
/// # Errors
///
/// [`ColumnHashError::Ipc`] when the batch cannot be built or serialized.
pub fn ipc_digest(
    data_type: &DataType,
    nullable: bool,
    array: ArrayRef,
) -> Result<(String, u64), ColumnHashError> {
    let ipc = |e: arrow::error::ArrowError| ColumnHashError::Ipc(e.to_string());
    let schema = Arc::new(Schema::new(vec![Field::new(
        "col",
        data_type.clone(),
        nullable,
    )]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![array]).map_err(ipc)?;
    let mut sink = HashSink::default();
    {
        let mut w = StreamWriter::try_new(&mut sink, &schema).map_err(ipc)?;
        w.write(&batch).map_err(ipc)?;
        w.finish().map_err(ipc)?;
    }
    Ok((sink.hasher.finalize().to_hex().to_string(), sink.len))
}

/// Recomputes the hash of every column of a Parquet file, in file order, one column in memory
/// at a time. A reader panic on corrupt data is an error, never a crash.
///
/// # Errors
///
/// See [`ColumnHashError`].
pub fn recompute_file(path: &Path) -> Result<Vec<ColumnDigest>, ColumnHashError> {
    // Only a regular file, opened without blocking (a FIFO or a device would hang the read).
    let file = crate::evidence::regular_file::open(path).map_err(|e| ColumnHashError::Io {
        path: path.to_owned(),
        source: e.into_io(),
    })?;
    // The footer is decoded as `artifact.parquet` decodes it, bounds-checked first.
    let footer = crate::evidence::artifact::decode_footer(&file)
        .map_err(|e| ColumnHashError::Parquet(e.to_string()))?;
    let meta = guard(|| ArrowReaderMetadata::try_new(Arc::new(footer), ArrowReaderOptions::new()))
        .map_err(|p| ColumnHashError::Parquet(p.to_string()))?
        .map_err(|e| ColumnHashError::Parquet(e.to_string()))?;
    let rows = meta.metadata().file_metadata().num_rows();
    if rows > MAX_ROWS {
        return Err(ColumnHashError::TooLarge {
            rows,
            limit: MAX_ROWS,
        });
    }
    let schema = Arc::clone(meta.schema());
    // Every type is checked before any column is read, so an unsupported one costs no I/O.
    for f in schema.fields() {
        if !is_rocky_type(f.data_type()) {
            return Err(ColumnHashError::UnsupportedType {
                column: f.name().clone(),
                data_type: f.data_type().to_string(),
            });
        }
    }
    let mut out = Vec::with_capacity(schema.fields().len());
    for (i, f) in schema.fields().iter().enumerate() {
        let arrays = read_column(&file, &meta, i)?;
        let (hash, ipc_bytes) = hash_column(f.data_type(), f.is_nullable(), &arrays)?;
        out.push(ColumnDigest {
            file_name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
            hash,
            ipc_bytes,
        });
    }
    Ok(out)
}

/// The pieces of top-level column `index`.
fn read_column(
    file: &File,
    meta: &ArrowReaderMetadata,
    index: usize,
) -> Result<Vec<ArrayRef>, ColumnHashError> {
    let parquet_err = |e: String| ColumnHashError::Parquet(e);
    let reader = file.try_clone().map_err(|e| parquet_err(e.to_string()))?;
    let read = guard(|| -> Result<Vec<ArrayRef>, ColumnHashError> {
        let mask = ProjectionMask::roots(meta.parquet_schema(), [index]);
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, meta.clone())
            .with_projection(mask)
            .with_batch_size(READ_BATCH)
            .build()
            .map_err(|e| parquet_err(e.to_string()))?;
        let mut arrays = Vec::new();
        for batch in batches {
            let batch = batch.map_err(|e| parquet_err(e.to_string()))?;
            if batch.num_columns() != 1 {
                return Err(parquet_err(format!(
                    "projecting column {index} gave {} columns",
                    batch.num_columns()
                )));
            }
            arrays.push(Arc::clone(batch.column(0)));
        }
        Ok(arrays)
    });
    read.map_err(|p| parquet_err(p.to_string()))?
}

/// The column rebuilt from its values as one array laid out like Rocky's
/// (`XArray::from(Vec<Option<T>>)`), or `None` for a type Rocky never writes or a piece of
/// another type.
fn rebuild(dt: &DataType, arrays: &[ArrayRef]) -> Option<ArrayRef> {
    if arrays.iter().any(|a| a.data_type() != dt) {
        return None;
    }
    let len = arrays.iter().map(|a| a.len()).sum();
    Some(match dt {
        DataType::Int32 => primitive::<Int32Type>(dt, arrays, len),
        DataType::Int64 => primitive::<Int64Type>(dt, arrays, len),
        DataType::Float32 => primitive::<Float32Type>(dt, arrays, len),
        DataType::Float64 => primitive::<Float64Type>(dt, arrays, len),
        DataType::Date32 => primitive::<Date32Type>(dt, arrays, len),
        DataType::Decimal128(_, _) => primitive::<Decimal128Type>(dt, arrays, len),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            primitive::<TimestampMicrosecondType>(dt, arrays, len)
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(len);
            for a in arrays {
                b.extend(a.as_boolean().iter());
            }
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::with_capacity(len, 1024);
            for a in arrays {
                for v in a.as_string::<i32>() {
                    b.append_option(v);
                }
            }
            Arc::new(b.finish())
        }
        DataType::Binary => {
            let mut b = BinaryBuilder::with_capacity(len, 1024);
            for a in arrays {
                for v in a.as_binary::<i32>() {
                    b.append_option(v);
                }
            }
            Arc::new(b.finish())
        }
        _ => return None,
    })
}

/// A primitive column rebuilt: a zero under every null (what `from_iter` puts there) and no
/// validity bitmap when nothing is null. The type parameters (decimal precision and scale,
/// the timestamp's timezone) are put back from `dt`.
fn primitive<T: ArrowPrimitiveType>(dt: &DataType, arrays: &[ArrayRef], len: usize) -> ArrayRef {
    let mut b = PrimitiveBuilder::<T>::with_capacity(len);
    for a in arrays {
        let a: &PrimitiveArray<T> = a.as_primitive::<T>();
        for v in a {
            b.append_option(v);
        }
    }
    Arc::new(b.finish().with_data_type(dt.clone()))
}

/// A `Write` that hashes and counts what it is given, so the IPC stream is never held whole.
#[derive(Default)]
struct HashSink {
    hasher: blake3::Hasher,
    len: u64,
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
        Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Rocky's batch for one column, built the way `query_result_to_record_batch` builds it.
    fn rocky_column(kind: u8, values: &[Option<i64>]) -> (DataType, ArrayRef) {
        match kind % 8 {
            0 => (DataType::Int64, Arc::new(Int64Array::from(values.to_vec()))),
            1 => {
                let v: Vec<Option<i32>> = values.iter().map(|v| v.map(|x| x as i32)).collect();
                (DataType::Int32, Arc::new(Int32Array::from(v)))
            }
            2 => {
                let v: Vec<Option<String>> =
                    values.iter().map(|v| v.map(|x| format!("s{x}"))).collect();
                (DataType::Utf8, Arc::new(StringArray::from(v)))
            }
            3 => {
                let v: Vec<Option<bool>> = values.iter().map(|v| v.map(|x| x % 2 == 0)).collect();
                (DataType::Boolean, Arc::new(BooleanArray::from(v)))
            }
            4 => {
                let v: Vec<Option<f64>> =
                    values.iter().map(|v| v.map(|x| x as f64 / 4.0)).collect();
                (DataType::Float64, Arc::new(Float64Array::from(v)))
            }
            5 => {
                let dt = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
                let a = TimestampMicrosecondArray::from(values.to_vec()).with_timezone("UTC");
                (dt, Arc::new(a))
            }
            6 => {
                let v: Vec<Option<i128>> = values.iter().map(|v| v.map(i128::from)).collect();
                let a = Decimal128Array::from(v)
                    .with_precision_and_scale(38, 2)
                    .unwrap();
                (DataType::Decimal128(38, 2), Arc::new(a))
            }
            _ => {
                let owned: Vec<Option<Vec<u8>>> = values
                    .iter()
                    .map(|v| v.map(|x| x.to_le_bytes().to_vec()))
                    .collect();
                let refs: Vec<Option<&[u8]>> = owned.iter().map(|v| v.as_deref()).collect();
                (DataType::Binary, Arc::new(BinaryArray::from(refs)))
            }
        }
    }

    /// Writes one batch with Rocky's writer settings and physical column names plus field ids
    /// (`parquet_builder::build_parquet`).
    fn rocky_parquet(columns: &[(DataType, bool, ArrayRef)]) -> Vec<u8> {
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, (dt, nullable, _))| {
                let mut md = HashMap::new();
                md.insert("PARQUET:field_id".to_owned(), (i + 1).to_string());
                Field::new(format!("col-{i}"), dt.clone(), *nullable).with_metadata(md)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            columns.iter().map(|(_, _, a)| Arc::clone(a)).collect(),
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::SNAPPY)
            .set_data_page_size_limit(1 << 20)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        buf
    }

    fn recompute_bytes(bytes: &[u8]) -> Result<Vec<ColumnDigest>, ColumnHashError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        std::fs::write(&p, bytes).unwrap();
        recompute_file(&p)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// The hash read back from Rocky's Parquet equals the hash of Rocky's in-memory column,
        /// whatever the nulls: the rebuild undoes how the reader fills null slots and bitmaps.
        #[test]
        fn parquet_round_trip_gives_rockys_hash(
            kind in 0u8..8,
            values in prop::collection::vec(prop::option::weighted(0.8, -1000i64..1000), 0..40),
        ) {
            let (dt, array) = rocky_column(kind, &values);
            let nullable = values.iter().any(Option::is_none) || kind % 2 == 0;
            let rocky = ipc_digest(&dt, nullable, Arc::clone(&array)).unwrap();
            let file = recompute_bytes(&rocky_parquet(&[(dt.clone(), nullable, array)])).unwrap();
            prop_assert_eq!(file.len(), 1);
            prop_assert_eq!(&file[0].hash, &rocky.0);
            prop_assert_eq!(file[0].ipc_bytes, rocky.1);
            prop_assert_eq!(&file[0].file_name, "col-0");
        }
    }

    #[test]
    fn a_changed_value_or_nullability_changes_the_hash() {
        let base = ipc_digest(
            &DataType::Int64,
            false,
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        )
        .unwrap();
        let value = ipc_digest(
            &DataType::Int64,
            false,
            Arc::new(Int64Array::from(vec![1, 2, 4])),
        )
        .unwrap();
        let nullable = ipc_digest(
            &DataType::Int64,
            true,
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        )
        .unwrap();
        assert_ne!(base.0, value.0);
        assert_ne!(base.0, nullable.0);
    }

    #[test]
    fn several_batches_hash_as_one_column() {
        let whole: Vec<Option<i64>> = (0..20_000).map(|i| (i % 7 != 0).then_some(i)).collect();
        let one = ipc_digest(
            &DataType::Int64,
            true,
            Arc::new(Int64Array::from(whole.clone())),
        )
        .unwrap();
        let pieces: Vec<ArrayRef> = whole
            .chunks(3000)
            .map(|c| Arc::new(Int64Array::from(c.to_vec())) as ArrayRef)
            .collect();
        assert_eq!(hash_column(&DataType::Int64, true, &pieces).unwrap(), one);
    }

    #[test]
    fn types_rocky_never_writes_are_refused() {
        let a: ArrayRef = Arc::new(Date32Array::from(vec![1]));
        assert!(hash_column(&DataType::Date64, false, std::slice::from_ref(&a)).is_err());
        // A piece whose type is not the field's.
        assert!(hash_column(&DataType::Int32, false, &[a]).is_err());
        let bytes = rocky_parquet(&[(
            DataType::UInt8,
            false,
            Arc::new(arrow::array::UInt8Array::from(vec![1u8])) as ArrayRef,
        )]);
        assert!(recompute_bytes(&bytes).unwrap_err().is_unsupported_type());
    }

    #[test]
    fn garbage_and_truncated_files_are_errors_not_panics() {
        assert!(matches!(
            recompute_bytes(b"not parquet"),
            Err(ColumnHashError::Parquet(_))
        ));
        let good = rocky_parquet(&[(
            DataType::Int64,
            false,
            Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
        )]);
        for cut in [good.len() / 2, good.len() - 9, 12] {
            assert!(recompute_bytes(&good[..cut]).is_err());
        }
        // Data pages overwritten (the footer intact): an error or other hashes, never a panic.
        let mut bad = good.clone();
        for b in bad.iter_mut().skip(4).take(60) {
            *b = 0xff;
        }
        let _ = recompute_bytes(&bad);
    }
}
