//! Content-addressed Parquet (spec/hashes.md section 10).
//!
//! A record batch is encoded once with pinned writer settings, named by the blake3 of the whole
//! file, and published atomically: a hidden temporary file in the target folder is written and
//! fsynced, hard-linked to `<blake3>.parquet` (which never replaces an existing file), and the
//! folder is fsynced. An existing file with the same bytes is kept; an existing file with other
//! bytes is an error and is left untouched.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{
    BloomFilterPosition, EnabledStatistics, WriterProperties, WriterVersion,
};

use crate::error::ArtifactError;

/// The pinned `created_by` of `rocky-writer-parquet-v1`.
pub const PINNED_CREATED_BY: &str = "rocky-writer parquet v1";

/// The name of the pinned settings, for documentation and reports.
pub const PINNED_SETTINGS_NAME: &str = "rocky-writer-parquet-v1";

/// Parquet writer settings for content-addressed files.
///
/// Every setting of spec/hashes.md section 10.1 is set explicitly, plus the few other
/// byte-affecting knobs parquet-rs has (row-group byte limit, page-header statistics, dictionary
/// page size, v2 compression threshold, bloom filter position, sorting columns, type coercion,
/// content-defined chunking), each at the value parquet-rs 58 defaults to. Only `created_by`
/// varies between [`ParquetSettings::pinned`] and [`ParquetSettings::rocky_compatible`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetSettings {
    created_by: String,
}

impl ParquetSettings {
    /// `rocky-writer-parquet-v1`: `created_by = "rocky-writer parquet v1"`, so bytes do not
    /// change with the parquet crate's version string.
    pub fn pinned() -> Self {
        ParquetSettings {
            created_by: PINNED_CREATED_BY.to_owned(),
        }
    }

    /// Rocky's settings with a caller-given `created_by` (Rocky writes
    /// `"parquet-rs version <crate version>"`, e.g. `"parquet-rs version 58.3.0"`).
    pub fn rocky_compatible(created_by: impl Into<String>) -> Self {
        ParquetSettings {
            created_by: created_by.into(),
        }
    }

    /// The `created_by` string written into the footer.
    pub fn created_by(&self) -> &str {
        &self.created_by
    }

    /// The parquet-rs writer properties.
    pub fn writer_properties(&self) -> WriterProperties {
        WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_data_page_size_limit(1 << 20)
            .set_data_page_row_count_limit(20_000)
            .set_max_row_group_row_count(Some(1 << 20))
            .set_write_batch_size(1024)
            .set_statistics_truncate_length(Some(64))
            .set_column_index_truncate_length(Some(64))
            .set_bloom_filter_enabled(false)
            .set_offset_index_disabled(false)
            .set_created_by(self.created_by.clone())
            .set_key_value_metadata(None)
            // Not in the spec's list, pinned at parquet-rs 58's defaults so that a default
            // change in a later parquet-rs cannot move the bytes silently.
            .set_max_row_group_bytes(None)
            .set_write_page_header_statistics(false)
            .set_dictionary_page_size_limit(1 << 20)
            .set_data_page_v2_compression_ratio_threshold(1.0)
            .set_bloom_filter_position(BloomFilterPosition::AfterRowGroup)
            .set_sorting_columns(None)
            .set_coerce_types(false)
            .set_content_defined_chunking(None)
            .build()
    }
}

impl Default for ParquetSettings {
    fn default() -> Self {
        Self::pinned()
    }
}

/// What an `ArtifactRecord` needs about a file written by [`write_content_addressed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenArtifact {
    /// Hex blake3 of the whole file (its content address).
    pub blake3_hash: String,
    /// The final path, `<dir>/<blake3_hash>.parquet`.
    pub path: PathBuf,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Rows in the batch.
    pub row_count: u64,
    /// Whether a file with the same bytes was already there (and was kept).
    pub already_existed: bool,
}

fn unsupported(data_type: &DataType) -> bool {
    match data_type {
        DataType::Union(..) | DataType::RunEndEncoded(..) => true,
        DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => unsupported(f.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| unsupported(f.data_type())),
        DataType::Dictionary(_, value) => unsupported(value),
        _ => false,
    }
}

/// Encodes `batch` as one Parquet file in memory with `settings` (one `write`, then `close`).
///
/// # Errors
///
/// [`ArtifactError::EmptyBatch`] for a batch without rows or columns,
/// [`ArtifactError::UnsupportedType`] for a column type parquet-rs cannot encode (unions,
/// run-end encoded arrays), [`ArtifactError::Parquet`] when encoding fails.
pub fn encode_parquet(
    batch: &RecordBatch,
    settings: &ParquetSettings,
) -> Result<Vec<u8>, ArtifactError> {
    encode_hashed(batch, settings).map(|(bytes, _)| bytes)
}

fn check_batch(batch: &RecordBatch) -> Result<(), ArtifactError> {
    if batch.num_rows() == 0 || batch.num_columns() == 0 {
        return Err(ArtifactError::EmptyBatch {
            rows: batch.num_rows(),
            columns: batch.num_columns(),
        });
    }
    for field in batch.schema().fields() {
        if unsupported(field.data_type()) {
            return Err(ArtifactError::UnsupportedType {
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            });
        }
    }
    Ok(())
}

/// Encodes like [`encode_parquet`] and also returns the blake3 hex of the bytes (one pass over
/// the finished file: blake3 hashes large buffers far faster than the many small writes
/// parquet-rs makes).
fn encode_hashed(
    batch: &RecordBatch,
    settings: &ParquetSettings,
) -> Result<(Vec<u8>, String), ArtifactError> {
    check_batch(batch)?;
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    let mut writer = ArrowWriter::try_new(
        &mut bytes,
        batch.schema(),
        Some(settings.writer_properties()),
    )
    .map_err(ArtifactError::Parquet)?;
    writer.write(batch).map_err(ArtifactError::Parquet)?;
    writer.close().map_err(ArtifactError::Parquet)?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    Ok((bytes, hash))
}

/// If `name` is `<64 lowercase hex>.parquet`, the hex part.
pub fn content_address_of_file_name(name: &str) -> Option<&str> {
    let hash = name.strip_suffix(".parquet")?;
    crate::identity::is_blake3_hex(hash).then_some(hash)
}

/// Writes `batch` as `<dir>/<blake3>.parquet`, atomically and durably.
///
/// `dir` is created if missing. The same batch and settings always give the same bytes, in
/// this process or any other.
///
/// # Errors
///
/// Those of [`encode_parquet`]; [`ArtifactError::ExistingFileDiffers`] when the final name holds
/// other bytes (left untouched); [`ArtifactError::Io`] for filesystem failures (the temporary
/// file is removed).
pub fn write_content_addressed(
    dir: &Path,
    batch: &RecordBatch,
    settings: &ParquetSettings,
) -> Result<WrittenArtifact, ArtifactError> {
    let (bytes, hash) = encode_hashed(batch, settings)?;
    let mut written = publish_content_addressed(dir, &bytes, hash, "parquet")?;
    written.row_count = batch.num_rows() as u64;
    Ok(written)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Publishes `bytes`, whose blake3 hex is `hash`, as `<dir>/<hash>.<extension>` (row_count is
/// left 0).
fn publish_content_addressed(
    dir: &Path,
    bytes: &[u8],
    hash: String,
    extension: &str,
) -> Result<WrittenArtifact, ArtifactError> {
    let final_path = dir.join(format!("{hash}.{extension}"));
    let size_bytes = bytes.len() as u64;
    let done = |already_existed| WrittenArtifact {
        blake3_hash: hash.clone(),
        path: final_path.clone(),
        size_bytes,
        row_count: 0,
        already_existed,
    };

    if !dir.is_dir() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent).map_err(io_err(parent))?;
        }
    }
    if existing_matches(&final_path, bytes)? {
        return Ok(done(true));
    }

    // A hidden name that never matches `*.parquet`, unique per process and call.
    let temp_path = dir.join(format!(
        ".tmp-{hash}-{}-{}.partial",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = publish(&temp_path, &final_path, bytes);
    let _ = fs::remove_file(&temp_path);
    let already_existed = result?;
    sync_dir(dir).map_err(io_err(dir))?;
    Ok(done(already_existed))
}

/// Writes and fsyncs `temp`, then links it to `target` without replacing anything.
/// Returns whether `target` already held the same bytes.
fn publish(temp: &Path, target: &Path, bytes: &[u8]) -> Result<bool, ArtifactError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(io_err(temp))?;
    file.write_all(bytes).map_err(io_err(temp))?;
    file.sync_all().map_err(io_err(temp))?;
    drop(file);
    match fs::hard_link(temp, target) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Another writer published concurrently: same bytes, or an error.
            if existing_matches(target, bytes)? {
                Ok(true)
            } else {
                // It vanished again in between; link once more.
                fs::hard_link(temp, target).map_err(io_err(target))?;
                Ok(false)
            }
        }
        Err(_) => {
            // Filesystems without hard links: rename, which replaces; the check above and the
            // content address make a concurrent different file practically impossible.
            fs::rename(temp, target).map_err(io_err(target))?;
            Ok(false)
        }
    }
}

/// `Ok(true)` when `path` exists with exactly `bytes`, `Ok(false)` when it does not exist, and
/// [`ArtifactError::ExistingFileDiffers`] when it holds other bytes.
fn existing_matches(path: &Path, bytes: &[u8]) -> Result<bool, ArtifactError> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => Ok(true),
        Ok(existing) => Err(ArtifactError::ExistingFileDiffers {
            path: path.to_owned(),
            found: blake3::hash(&existing).to_hex().to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ArtifactError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
