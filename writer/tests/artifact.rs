//! Content-addressed Parquet: the pinned settings really land in the file, the same batch gives
//! the same bytes in another process, publication is atomic and never overwrites, bad batches
//! are refused, and Rocky's audit sample is rebuilt byte for byte.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, UnionArray,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit, UnionFields};
use parquet::basic::{Compression, Encoding};
use parquet::file::reader::{FileReader, SerializedFileReader};

use rocky_writer::ArtifactError;
use rocky_writer::artifact::{
    PINNED_CREATED_BY, ParquetSettings, content_address_of_file_name, encode_parquet,
    write_content_addressed,
};

const AUDIT_SAMPLE_HASH: &str = "736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0";
const CHILD_ENV: &str = "ROCKY_WRITER_TEST_CHILD_OUT";

/// This crate's folder, read at run time: several checkouts share one target dir, so cargo may
/// reuse a test binary built in another checkout, and the compile-time path would point there.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn audit_sample() -> PathBuf {
    manifest_dir().join(format!(
        "../fixtures/rocky/audit-sample/{AUDIT_SAMPLE_HASH}.parquet"
    ))
}

/// Rocky's `parquet_builder.rs` unit-test batch: `col-id` Int64 1,2,3 and `col-name` Utf8
/// "a","b","c", both non-nullable (the sample's Parquet schema says REQUIRED), with
/// `PARQUET:field_id` 1 and 2.
fn audit_batch(nullable: bool) -> RecordBatch {
    let field = |name: &str, dt: DataType, id: &str| {
        Field::new(name, dt, nullable).with_metadata(HashMap::from([(
            "PARQUET:field_id".to_owned(),
            id.to_owned(),
        )]))
    };
    let schema = Schema::new(vec![
        field("col-id", DataType::Int64, "1"),
        field("col-name", DataType::Utf8, "2"),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(StringArray::from(vec!["a", "b", "c"])),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// A deterministic multi-type batch spanning several data pages.
fn mixed_batch(rows: usize) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, false),
        Field::new("day", DataType::Date32, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]);
    let n = rows as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n)),
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| (i % 7 != 0).then(|| format!("name-{}", i % 1000))),
        )),
        Arc::new(Float64Array::from_iter(
            (0..n).map(|i| (i % 5 != 0).then_some(i as f64 * 0.25)),
        )),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)))),
        Arc::new(Date32Array::from_iter_values(
            (0..n).map(|i| 19_000 + (i % 365) as i32),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000 + i * 1_000),
            )
            .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn footer(bytes: &[u8]) -> parquet::file::metadata::ParquetMetaData {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.parquet");
    std::fs::write(&path, bytes).unwrap();
    SerializedFileReader::new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .metadata()
        .clone()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn rocky_audit_sample_is_rebuilt_byte_for_byte() {
    let sample = std::fs::read(audit_sample()).unwrap();
    let ours = encode_parquet(
        &audit_batch(false),
        &ParquetSettings::rocky_compatible("parquet-rs version 58.3.0"),
    )
    .unwrap();
    assert_eq!(ours.len(), 806);
    assert!(
        ours == sample,
        "rebuilt audit sample differs from Rocky's file"
    );
    assert_eq!(blake3::hash(&ours).to_hex().as_str(), AUDIT_SAMPLE_HASH);

    // Nullable columns give a different (OPTIONAL) schema and different bytes: the sample's
    // columns are REQUIRED.
    let nullable = encode_parquet(
        &audit_batch(true),
        &ParquetSettings::rocky_compatible("parquet-rs version 58.3.0"),
    )
    .unwrap();
    assert_ne!(nullable, sample);
}

#[test]
fn rocky_compatible_write_names_the_file_by_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ParquetSettings::rocky_compatible("parquet-rs version 58.3.0");
    let written = write_content_addressed(dir.path(), &audit_batch(false), &settings).unwrap();
    assert_eq!(written.blake3_hash, AUDIT_SAMPLE_HASH);
    assert_eq!(written.size_bytes, 806);
    assert_eq!(written.row_count, 3);
    assert!(!written.already_existed);
    assert_eq!(
        written.path,
        dir.path().join(format!("{AUDIT_SAMPLE_HASH}.parquet"))
    );
    assert_eq!(
        std::fs::read(&written.path).unwrap(),
        std::fs::read(audit_sample()).unwrap()
    );
    assert_eq!(
        entries(dir.path()),
        vec![format!("{AUDIT_SAMPLE_HASH}.parquet")],
        "no temporary file left"
    );
}

#[test]
fn pinned_settings_are_the_ones_in_the_file() {
    let bytes = encode_parquet(&mixed_batch(50_000), &ParquetSettings::pinned()).unwrap();
    let meta = footer(&bytes);
    let file = meta.file_metadata();
    assert_eq!(file.created_by(), Some(PINNED_CREATED_BY));
    assert_eq!(file.version(), 2);
    let kv: Vec<&str> = file
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(kv, vec!["ARROW:schema"]);
    assert_eq!(meta.num_row_groups(), 1);
    assert!(
        meta.column_index().is_none(),
        "chunk-level statistics write no column index"
    );
    for column in meta.row_group(0).columns() {
        assert_eq!(column.compression(), Compression::SNAPPY);
        assert!(
            column.statistics().is_some(),
            "chunk statistics for {}",
            column.column_path()
        );
        assert!(column.bloom_filter_offset().is_none());
        assert!(
            column.offset_index_offset().is_some(),
            "offset index for {}",
            column.column_path()
        );
        assert!(column.dictionary_page_offset().is_none());
        let encodings: Vec<Encoding> = column.encodings().collect();
        assert!(
            !encodings.contains(&Encoding::RLE_DICTIONARY)
                && !encodings.contains(&Encoding::PLAIN_DICTIONARY)
        );
    }
}

#[test]
fn content_address_does_not_depend_on_the_parquet_version_string() {
    let batch = audit_batch(false);
    let pinned = encode_parquet(&batch, &ParquetSettings::pinned()).unwrap();
    let rocky = encode_parquet(
        &batch,
        &ParquetSettings::rocky_compatible("parquet-rs version 58.3.0"),
    )
    .unwrap();
    assert_ne!(pinned, rocky);
    assert_eq!(
        pinned,
        encode_parquet(&batch, &ParquetSettings::default()).unwrap()
    );
}

/// Runs only in the child process started by `another_process_writes_identical_bytes`: ignored
/// in a normal run (it is no test on its own), and without the parent's variable it fails
/// instead of passing vacuously.
#[test]
#[ignore = "child process of another_process_writes_identical_bytes"]
fn child_process_entry() {
    let out = std::env::var(CHILD_ENV).expect("run only by another_process_writes_identical_bytes");
    let bytes = encode_parquet(&mixed_batch(50_000), &ParquetSettings::pinned()).unwrap();
    std::fs::write(out, bytes).unwrap();
}

#[test]
fn another_process_writes_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("child.bin");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_entry",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &out)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let theirs = std::fs::read(&out).unwrap();
    let ours = encode_parquet(&mixed_batch(50_000), &ParquetSettings::pinned()).unwrap();
    assert!(theirs == ours, "a second process produced different bytes");
}

#[test]
fn an_identical_existing_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let batch = mixed_batch(1000);
    let first = write_content_addressed(dir.path(), &batch, &ParquetSettings::pinned()).unwrap();
    let inode_before = std::fs::metadata(&first.path).unwrap();
    let second = write_content_addressed(dir.path(), &batch, &ParquetSettings::pinned()).unwrap();
    assert!(second.already_existed);
    assert_eq!(first.blake3_hash, second.blake3_hash);
    let inode_after = std::fs::metadata(&second.path).unwrap();
    assert_eq!(
        inode_before.modified().unwrap(),
        inode_after.modified().unwrap()
    );
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn a_different_file_under_the_name_is_an_error_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let batch = mixed_batch(1000);
    let bytes = encode_parquet(&batch, &ParquetSettings::pinned()).unwrap();
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let squatter = dir.path().join(format!("{hash}.parquet"));
    std::fs::write(&squatter, b"not the artifact").unwrap();
    let err = write_content_addressed(dir.path(), &batch, &ParquetSettings::pinned()).unwrap_err();
    assert!(
        matches!(err, ArtifactError::ExistingFileDiffers { ref path, .. } if *path == squatter),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&squatter).unwrap(), b"not the artifact");
    assert_eq!(entries(dir.path()).len(), 1, "no temporary file left");
}

#[test]
fn empty_and_unsupported_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = mixed_batch(0);
    let err = write_content_addressed(dir.path(), &empty, &ParquetSettings::pinned()).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::EmptyBatch {
                rows: 0,
                columns: 6
            }
        ),
        "{err:?}"
    );

    let no_columns = RecordBatch::new_empty(Arc::new(Schema::empty()));
    let err =
        write_content_addressed(dir.path(), &no_columns, &ParquetSettings::pinned()).unwrap_err();
    assert!(
        matches!(err, ArtifactError::EmptyBatch { columns: 0, .. }),
        "{err:?}"
    );

    let fields =
        UnionFields::try_new(vec![0], vec![Field::new("i", DataType::Int32, false)]).unwrap();
    let union = UnionArray::try_new(
        fields.clone(),
        ScalarBuffer::from(vec![0i8, 0]),
        None,
        vec![Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef],
    )
    .unwrap();
    let schema = Schema::new(vec![Field::new(
        "u",
        DataType::Union(fields, arrow::datatypes::UnionMode::Sparse),
        false,
    )]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(union) as ArrayRef]).unwrap();
    let err = write_content_addressed(dir.path(), &batch, &ParquetSettings::pinned()).unwrap_err();
    assert!(
        matches!(err, ArtifactError::UnsupportedType { ref column, .. } if column == "u"),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn file_names_are_content_addresses_only() {
    assert_eq!(
        content_address_of_file_name(&format!("{AUDIT_SAMPLE_HASH}.parquet")),
        Some(AUDIT_SAMPLE_HASH)
    );
    assert_eq!(
        content_address_of_file_name(&format!("{}.parquet", AUDIT_SAMPLE_HASH.to_uppercase())),
        None
    );
    assert_eq!(content_address_of_file_name("report.parquet"), None);
    assert_eq!(
        content_address_of_file_name(&format!(".tmp-{AUDIT_SAMPLE_HASH}-1-0.partial")),
        None
    );
}
