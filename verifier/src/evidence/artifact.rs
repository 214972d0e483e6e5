//! Content-addressed Parquet artifacts (`spec/hashes.md` section 10): hashing the bytes, reading
//! the footer, and locating a file by its content address only.
//!
//! # Side effects
//!
//! Reads files; never writes them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use serde::Serialize;
use serde_json::{Value, json};

use crate::evidence::ledger::{ReaderPanic, guard};

/// `true` for exactly 64 lowercase hex characters (a BLAKE3-256 in the spec's spelling).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The content address a file name claims: `<64 lowercase hex>.parquet`, else `None`.
pub fn name_hash(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".parquet")?;
    is_hex64(stem).then(|| stem.to_owned())
}

/// The only place a verifier looks for an artifact: `<dir>/<hash>.parquet`, and only for a hash
/// that is 64 lowercase hex, so no recorded string can name a path outside `dir`.
pub fn locate(dir: &Path, hash: &str) -> Option<PathBuf> {
    is_hex64(hash).then(|| dir.join(format!("{hash}.parquet")))
}

/// Why a recorded `file_path` is unsafe to follow (`artifact_path_invalid`), if it is: absolute,
/// a `..` component, a NUL byte, or a backslash path. The verifier never follows a recorded path;
/// this flags evidence that tries to.
pub fn unsafe_path_reason(file_path: &str) -> Option<&'static str> {
    if file_path.contains('\0') {
        return Some("contains a NUL byte");
    }
    if file_path.starts_with('/') || file_path.starts_with('\\') {
        return Some("is absolute");
    }
    let b = file_path.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && !file_path.contains("://") {
        return Some("is absolute (drive letter)");
    }
    if file_path.split(['/', '\\']).any(|c| c == "..") {
        return Some("has a .. component");
    }
    None
}

/// The last `/`-separated component of a recorded path.
pub fn basename(file_path: &str) -> &str {
    file_path.rsplit('/').next().unwrap_or(file_path)
}

/// BLAKE3 and length of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// 64 lowercase hex.
    pub blake3: String,
    /// Length in bytes.
    pub size: u64,
}

/// Hashes a whole file, memory-mapped and multithreaded (`Hasher::update_mmap_rayon`), which for
/// small files falls back to plain reads.
///
/// # Errors
///
/// The I/O error, if the file cannot be opened or read.
pub fn hash_file(path: &Path) -> std::io::Result<FileHash> {
    // Only a regular file, opened without blocking; blake3 then maps the very file judged.
    let file = crate::evidence::regular_file::open(path)
        .map_err(crate::evidence::regular_file::OpenError::into_io)?;
    let size = file.metadata()?.len();
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(crate::evidence::regular_file::path_of(&file, path))?;
    Ok(FileHash {
        blake3: hasher.finalize().to_hex().to_string(),
        size,
    })
}

/// One leaf column of a Parquet schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnFacts {
    /// Dotted column path.
    pub name: String,
    /// Physical type (`INT64`, `BYTE_ARRAY`, ...).
    pub physical: String,
    /// Logical type, if any (`String`, `Timestamp { .. }`, ...).
    pub logical: Option<String>,
}

/// What a Parquet footer says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParquetFacts {
    /// Total row count.
    pub rows: i64,
    /// Number of row groups.
    pub row_groups: usize,
    /// Footer `version` (1 or 2).
    pub version: i32,
    /// `created_by`, if present.
    pub created_by: Option<String>,
    /// Leaf columns.
    pub columns: Vec<ColumnFacts>,
    /// Compression codecs used by any column chunk.
    pub codecs: BTreeSet<String>,
    /// Whether any column chunk has a dictionary page or dictionary encoding.
    pub dictionary: bool,
    /// Keys of the footer's key-value metadata.
    pub metadata_keys: Vec<String>,
}

impl ParquetFacts {
    /// JSON form for a check's `actual`.
    pub fn to_json(&self) -> Value {
        json!(self)
    }
}

/// Why a Parquet footer could not be read (`artifact_parquet_invalid`).
#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    /// The file could not be opened, or is not a regular file.
    #[error(transparent)]
    Open(#[from] crate::evidence::regular_file::OpenError),
    /// The footer does not parse.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The parser panicked on it.
    #[error(transparent)]
    Panicked(#[from] ReaderPanic),
    /// Its declared counts exceed its bytes, or it nests too deep to decode safely.
    #[error(transparent)]
    Refused(#[from] crate::evidence::footer_bounds::Refused),
    /// The bounds walk read the footer otherwise than the decoder did.
    #[error(
        "the footer's bounds walk read {walked:?} where the decoder read {decoded:?}; not judged"
    )]
    Disagree {
        /// What the walk read.
        walked: crate::evidence::footer_bounds::Shape,
        /// What the decoder decoded.
        decoded: crate::evidence::footer_bounds::Shape,
    },
    /// Reading the footer's bytes failed.
    #[error("reading the footer: {0}")]
    Read(std::io::Error),
}

/// Decodes an open file's Parquet footer, the one way the verifier does: the footer's counts are
/// checked against its own bytes before the decoder sizes anything from them (`footer_bounds`),
/// and the decoder reads exactly the bytes checked.
///
/// # Errors
///
/// [`FooterError`].
pub fn decode_footer(file: &std::fs::File) -> Result<ParquetMetaData, FooterError> {
    Ok(match footer_bytes(file)? {
        Some(buf) => {
            let walked = crate::evidence::footer_bounds::check(&buf)?;
            let meta = guard(|| ParquetMetaDataReader::decode_metadata(&buf))??;
            let decoded = crate::evidence::footer_bounds::Shape {
                num_rows: Some(meta.file_metadata().num_rows()),
                row_groups: Some(meta.num_row_groups()),
                leaves: meta.file_metadata().schema_descr().num_columns(),
            };
            // The walk's bounds hold only if it read the bytes as the decoder did; a footer on
            // which they differ is not judged (a gap in the walk, not a fault of the file).
            if walked != decoded {
                return Err(FooterError::Disagree { walked, decoded });
            }
            meta
        }
        // No plain footer to check: the decoder reads only the 8-byte tail and says why.
        None => guard(|| ParquetMetaDataReader::new().parse_and_finish(file))??,
    })
}

/// The Thrift bytes of a plain (`PAR1`) footer whose declared length fits in the file; `None`
/// for anything else (too short, another magic, a length past the start), which the decoder
/// rejects from the tail alone.
fn footer_bytes(file: &std::fs::File) -> Result<Option<Vec<u8>>, FooterError> {
    use std::os::unix::fs::FileExt;
    let size = file.metadata().map_err(FooterError::Read)?.len();
    if size < 8 {
        return Ok(None);
    }
    let mut tail = [0u8; 8];
    file.read_exact_at(&mut tail, size - 8)
        .map_err(FooterError::Read)?;
    if &tail[4..] != b"PAR1" {
        return Ok(None);
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 8 > size {
        return Ok(None);
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, size - 8 - len)
        .map_err(FooterError::Read)?;
    Ok(Some(buf))
}

impl FooterError {
    /// `true` when the footer was not judged: the file did not open or read, or the footer is
    /// beyond the verifier's decoding limits. Such a footer is `unknown`, never `fail`.
    pub fn not_judged(&self) -> bool {
        match self {
            FooterError::Open(_) | FooterError::Read(_) | FooterError::Disagree { .. } => true,
            FooterError::Refused(r) => r.is_limit(),
            FooterError::Parquet(_) | FooterError::Panicked(_) => false,
        }
    }
}

/// Reads a Parquet footer. A footer that does not parse, or that panics the parser, is `Err`.
///
/// # Errors
///
/// [`FooterError`], whose text is a one-line reason.
pub fn read_footer(path: &Path) -> Result<ParquetFacts, FooterError> {
    let file = crate::evidence::regular_file::open(path)?;
    let meta = decode_footer(&file)?;

    let facts = guard(|| {
        let fm = meta.file_metadata();
        let columns = fm
            .schema_descr()
            .columns()
            .iter()
            .map(|c| ColumnFacts {
                name: c.path().string(),
                physical: format!("{:?}", c.physical_type()),
                logical: c.logical_type_ref().map(|l| format!("{l:?}")),
            })
            .collect();
        let mut codecs = BTreeSet::new();
        let mut dictionary = false;
        for rg in meta.row_groups() {
            for col in rg.columns() {
                codecs.insert(col.compression().to_string());
                if col.dictionary_page_offset().is_some()
                    || col.encodings().any(|e| {
                        matches!(
                            e,
                            parquet::basic::Encoding::RLE_DICTIONARY
                                | parquet::basic::Encoding::PLAIN_DICTIONARY
                        )
                    })
                {
                    dictionary = true;
                }
            }
        }
        ParquetFacts {
            rows: fm.num_rows(),
            row_groups: meta.num_row_groups(),
            version: fm.version(),
            created_by: fm.created_by().map(str::to_owned),
            columns,
            codecs,
            dictionary,
            metadata_keys: fm
                .key_value_metadata()
                .map(|kv| kv.iter().map(|k| k.key.clone()).collect())
                .unwrap_or_default(),
        }
    })?;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lowercase_hex_names_are_content_addresses() {
        let h = "736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0";
        assert_eq!(
            name_hash(Path::new(&format!("/x/{h}.parquet"))).as_deref(),
            Some(h)
        );
        assert_eq!(
            name_hash(Path::new(&format!("{}.parquet", h.to_uppercase()))),
            None
        );
        assert_eq!(name_hash(Path::new("report.parquet")), None);
        assert_eq!(name_hash(Path::new(h)), None);
    }

    #[test]
    fn recorded_paths_that_escape_are_flagged() {
        assert!(unsafe_path_reason("../etc/passwd").is_some());
        assert!(unsafe_path_reason("a/../../b.parquet").is_some());
        assert!(unsafe_path_reason("/etc/passwd").is_some());
        assert!(unsafe_path_reason("C:\\x.parquet").is_some());
        assert!(unsafe_path_reason("a\0b").is_some());
        assert!(unsafe_path_reason("tgt/raw/x/ab.parquet").is_none());
        assert!(unsafe_path_reason("s3://bucket/tgt/ab.parquet").is_none());
        assert!(unsafe_path_reason("a/..b/c.parquet").is_none());
    }

    #[test]
    fn locate_refuses_anything_but_a_hash() {
        assert!(locate(Path::new("d"), "../x").is_none());
        assert!(locate(Path::new("d"), &"a".repeat(64)).is_some());
    }

    /// A minimal, well-formed Parquet file (no rows) whose schema is `levels` nested required
    /// groups around one INT32 leaf, written by hand in Thrift's compact protocol.
    fn nested_schema_file(levels: usize) -> tempfile::NamedTempFile {
        nested_schema_file_with(levels, &[])
    }

    /// As [`nested_schema_file`], with `extra` fields of `FileMetaData` before `num_rows`.
    fn nested_schema_file_with(levels: usize, extra: &[u8]) -> tempfile::NamedTempFile {
        fn varint(b: &mut Vec<u8>, mut n: u64) {
            while n >= 0x80 {
                b.push((n as u8 & 0x7f) | 0x80);
                n >>= 7;
            }
            b.push(n as u8);
        }
        let mut f = vec![0x15, 0x02, 0x19, 0xfc]; // version 1; schema: list<struct>, long size
        varint(&mut f, levels as u64 + 2);
        f.extend_from_slice(&[0x48, 1, b'r', 0x15, 0x02, 0]); // root "r", 1 child
        for _ in 0..levels {
            // repetition REQUIRED, name "g", num_children 1
            f.extend_from_slice(&[0x35, 0x00, 0x18, 1, b'g', 0x15, 0x02, 0]);
        }
        // type INT32, repetition REQUIRED, name "x"
        f.extend_from_slice(&[0x15, 0x02, 0x25, 0x00, 0x18, 1, b'x', 0]);
        f.extend_from_slice(extra);
        // num_rows 0 (field 3, long form after any extra field); row_groups []; STOP
        f.extend_from_slice(&[0x06, 0x06, 0x00, 0x19, 0x0c, 0x00]);
        let mut file = b"PAR1".to_vec();
        file.extend_from_slice(&f);
        file.extend_from_slice(&(f.len() as u32).to_le_bytes());
        file.extend_from_slice(b"PAR1");
        let mut t = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut t, &file).unwrap();
        t
    }

    /// The walk and the decoder agree on fields the decoder skips: an unknown field holding a
    /// list of bools (no bytes per element in the decoder's skip) and nested unknown structures.
    #[test]
    fn unknown_fields_are_read_as_the_decoder_reads_them() {
        let extra = [
            0x0c, 0x1e, // field 15 (long form), struct:
            0x19, 0x31, // its field 1, a list of three bools (no bytes)
            0x1c, 0x15, 0x04, 0x00, // its field 2, a struct holding an i32
            0x00, // end of field 15
        ];
        let f = nested_schema_file_with(2, &extra);
        let facts = read_footer(f.path()).unwrap();
        assert_eq!((facts.rows, facts.columns.len()), (0, 1));
    }

    #[test]
    fn a_schema_deeper_than_the_limit_is_not_judged_and_one_within_it_reads() {
        use crate::evidence::footer_bounds::MAX_SCHEMA_DEPTH;
        // Control: at the limit (the leaf's groups plus the root) the footer decodes.
        let ok = read_footer(nested_schema_file(MAX_SCHEMA_DEPTH - 1).path()).unwrap();
        assert_eq!(ok.columns.len(), 1);
        assert_eq!(ok.rows, 0);
        let err = read_footer(nested_schema_file(MAX_SCHEMA_DEPTH).path()).unwrap_err();
        assert!(err.not_judged(), "{err}");
        assert!(err.to_string().contains("nests deeper"), "{err}");
    }

    /// No false refusal: footers written by the two writers an audit meets (arrow-rs, which
    /// Rocky uses, and DuckDB) with every optional footer structure they emit (statistics,
    /// bloom filters, page indexes, size statistics, sorting columns, key-value metadata,
    /// nested and logical types) pass the bounds walk and decode with it in agreement.
    #[test]
    fn footers_from_real_writers_pass_the_bounds_walk() {
        use arrow::array::{
            ArrayRef, Decimal128Array, Int32Array, ListArray, StringArray, StructArray,
            TimestampMicrosecondArray,
        };
        use arrow::datatypes::{DataType, Field, Int32Type};
        use parquet::arrow::ArrowWriter;
        use parquet::file::metadata::{KeyValue, SortingColumn};
        use parquet::file::properties::{EnabledStatistics, WriterProperties};
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let rows = 3000;
        let ids: ArrayRef = Arc::new(Int32Array::from_iter_values(0..rows));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("name-{}", i % 17)),
        ));
        let money: ArrayRef = Arc::new(
            Decimal128Array::from_iter_values((0..rows).map(i128::from))
                .with_precision_and_scale(18, 2)
                .unwrap(),
        );
        let at: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..rows).map(i64::from))
                .with_timezone("UTC"),
        );
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
            (0..rows).map(|i| Some(vec![Some(i), None])),
        ));
        let nested: ArrayRef = Arc::new(StructArray::from(vec![(
            Arc::new(Field::new("inner", DataType::Int32, false)),
            Arc::clone(&ids),
        )]));
        let batch = arrow::record_batch::RecordBatch::try_from_iter([
            ("id", ids),
            ("name", names),
            ("money", money),
            ("at", at),
            ("tags", tags),
            ("nested", nested),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_bloom_filter_enabled(true)
            .set_max_row_group_row_count(Some(1000))
            .set_data_page_row_count_limit(100)
            .set_sorting_columns(Some(vec![SortingColumn {
                column_idx: 0,
                descending: false,
                nulls_first: true,
            }]))
            .set_key_value_metadata(Some(vec![KeyValue::new("k".to_owned(), "v".to_owned())]))
            .build();
        let arrow_file = dir.path().join("arrow.parquet");
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&arrow_file).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let facts = read_footer(&arrow_file).unwrap();
        assert_eq!((facts.rows, facts.row_groups), (3000, 3));
        assert_eq!(facts.columns.len(), 6, "{facts:?}");

        let conn = duckdb::Connection::open_in_memory().unwrap();
        for (i, options) in [
            "ROW_GROUP_SIZE 2048",
            "ROW_GROUP_SIZE 1000, COMPRESSION zstd, PARQUET_VERSION v2",
        ]
        .iter()
        .enumerate()
        {
            let duck_file = dir.path().join(format!("duck-{i}.parquet"));
            conn.execute_batch(&format!(
                "COPY (SELECT i AS id, 'n' || (i % 7) AS name, i::DECIMAL(18,3) AS money, \
             TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS at, \
             DATE '2026-01-01' + i::INTEGER AS day, TIME '01:02:03' AS t, \
             gen_random_uuid() AS u, i::HUGEINT AS big, (i % 200)::UTINYINT AS small, \
             [i, i + 1] AS tags, {{'a': i, 'b': 'x'}} AS s, MAP {{'k': i}} AS m, \
             '{{\"j\": 1}}'::JSON AS j, i % 2 = 0 AS flag, i::DOUBLE / 3 AS ratio, \
             'bytes'::BLOB AS raw \
             FROM range(5000) r(i)) TO '{}' (FORMAT parquet, {options})",
                duck_file.display()
            ))
            .unwrap();
            let facts = read_footer(&duck_file).unwrap();
            assert_eq!(facts.rows, 5000);
            assert!(facts.row_groups >= 2, "{options}: {facts:?}");
        }
    }
}
