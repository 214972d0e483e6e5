//! Fetching the ledger (a local file, an S3 object, a Valkey value) into `ledger/<tier>.redb`,
//! and comparing the two copies of a tiered store (spec/bundle.md section 3).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use redb::{ReadableTable, TableDefinition, TableError};
use rocky_verify::evidence::ledger::{MAGIC, backend::OverlayBackend, guard};

use crate::error::CollectError;
use crate::location::{self, Location};
use crate::manifest::{FileEntry, S3Facts, file_uri};
use crate::out::OutDir;
use crate::s3::Bucket;

/// Where a copy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// S3 (the authority of a tiered store: its upload decides).
    S3,
    /// Valkey (a cache in front of S3).
    Valkey,
    /// A local file.
    Local,
}

impl Tier {
    /// The manifest's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::S3 => "s3",
            Tier::Valkey => "valkey",
            Tier::Local => "local",
        }
    }
}

/// How two copies compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Same bytes.
    ByteIdentical,
    /// Different bytes, same rows in the tables the verifier reads.
    RowIdentical,
    /// Different rows.
    Diverged,
}

impl Comparison {
    /// The manifest's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::ByteIdentical => "byte_identical",
            Comparison::RowIdentical => "row_identical",
            Comparison::Diverged => "diverged",
        }
    }
}

/// Key options of a remote ledger.
#[derive(Debug, Clone, Default)]
pub struct KeyOptions {
    /// `<namespace>.redb` instead of `state.redb`.
    pub namespace: Option<String>,
    /// The Valkey prefix (Rocky's `rocky:state:` when `None`).
    pub valkey_prefix: Option<String>,
}

/// One fetched copy.
#[derive(Debug, Clone)]
pub struct Copy {
    /// Its tier.
    pub tier: Tier,
    /// Its manifest entry (path `ledger/<tier>.redb`).
    pub entry: FileEntry,
}

const VALKEY_TIMEOUT: Duration = Duration::from_secs(120);

/// Fetches the ledger at `loc` into the bundle.
///
/// # Errors
///
/// [`CollectError::LedgerAbsent`] when there is nothing at the resolved key,
/// [`CollectError::LedgerInvalid`] when the bytes are not a redb file, or the transport's error.
pub async fn fetch(
    loc: &Location,
    keys: &KeyOptions,
    out: &mut OutDir,
) -> Result<Copy, CollectError> {
    let name = location::remote_name(keys.namespace.as_deref());
    let (tier, bytes, mut entry) = match loc {
        Location::Local(path) => {
            let bytes = read_local(path)?;
            let uri = file_uri(path);
            (Tier::Local, bytes, blank(uri))
        }
        Location::S3 {
            bucket,
            prefix,
            prefix_given,
        } => {
            let b = Bucket::from_env(bucket)?;
            let key = location::s3_ledger_key(prefix, *prefix_given, &name);
            let Some((listed, bytes)) = b.get_bytes(&key).await? else {
                return Err(CollectError::LedgerAbsent { uri: b.uri(&key) });
            };
            let mut e = blank(b.uri(&key));
            e.s3 = Some(S3Facts {
                e_tag: listed.e_tag,
                version_id: listed.version,
                last_modified: listed.last_modified,
            });
            (Tier::S3, bytes, e)
        }
        Location::Valkey { url, shown } => {
            let prefix = keys
                .valkey_prefix
                .as_deref()
                .unwrap_or(location::DEFAULT_VALKEY_PREFIX);
            let key = location::valkey_ledger_key(prefix, &name);
            let uri = format!("{shown}#{key}");
            let bytes = valkey_get(url, &key, &uri).await?;
            let Some(bytes) = bytes else {
                return Err(CollectError::LedgerAbsent { uri });
            };
            let mut e = blank(uri);
            e.redis_key = Some(key);
            (Tier::Valkey, bytes, e)
        }
    };
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(CollectError::LedgerInvalid {
            uri: entry.source_uri,
            reason: "not a redb file (no redb magic number at offset 0)".into(),
        });
    }
    entry.path = format!("ledger/{}.redb", tier.as_str());
    entry.size = bytes.len() as u64;
    entry.blake3 = blake3::hash(&bytes).to_hex().to_string();
    entry.fetched_at = Utc::now();
    out.write_new(&entry.path, &bytes)?;
    Ok(Copy { tier, entry })
}

fn blank(source_uri: String) -> FileEntry {
    FileEntry {
        path: String::new(),
        size: 0,
        blake3: String::new(),
        source_uri,
        fetched_at: Utc::now(),
        s3: None,
        redis_key: None,
    }
}

fn read_local(path: &Path) -> Result<Vec<u8>, CollectError> {
    use std::io::Read;
    // Only a regular file (never a FIFO that blocks, nor a device).
    let mut f = rocky_verify::evidence::regular_file::open(path)
        .map_err(|e| CollectError::io(path, e.into_io()))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| CollectError::io(path, e))?;
    Ok(bytes)
}

async fn valkey_get(url: &str, key: &str, uri: &str) -> Result<Option<Vec<u8>>, CollectError> {
    let err = |m: String| CollectError::Valkey {
        uri: uri.to_owned(),
        message: m,
    };
    let client = redis::Client::open(url).map_err(|e| err(e.to_string()))?;
    let work = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(&mut conn)
            .await
    };
    tokio::time::timeout(VALKEY_TIMEOUT, work)
        .await
        .map_err(|_| err(format!("no answer within {} s", VALKEY_TIMEOUT.as_secs())))?
        .map_err(|e| err(e.to_string()))
}

type Json = TableDefinition<'static, &'static str, &'static [u8]>;
type Str = TableDefinition<'static, &'static str, &'static str>;

/// The tables whose rows decide "row-identical" (spec/bundle.md section 3).
const COMPARED: &[&str] = &[
    "run_history",
    "output_artifacts",
    "input_provenance",
    "input_index",
    "check_history",
];

/// One compared row: (table, key bytes, value bytes).
type Row = (String, Vec<u8>, Vec<u8>);

/// Every compared row of a ledger file.
fn rows_of(path: &Path) -> Result<Vec<Row>, String> {
    let file = Arc::new(File::open(path).map_err(|e| e.to_string())?);
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let backend = OverlayBackend::new(file, len);
    guard(|| -> Result<Vec<Row>, String> {
        let db = redb::Builder::new()
            .create_with_backend(backend)
            .map_err(|e| e.to_string())?;
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        match txn.open_table(Str::new("metadata")) {
            Ok(t) => {
                for item in t.iter().map_err(|e| e.to_string())? {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    out.push((
                        "metadata".to_owned(),
                        k.value().as_bytes().to_vec(),
                        v.value().as_bytes().to_vec(),
                    ));
                }
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        for name in COMPARED {
            match txn.open_table(Json::new(name)) {
                Ok(t) => {
                    for item in t.iter().map_err(|e| e.to_string())? {
                        let (k, v) = item.map_err(|e| e.to_string())?;
                        out.push((
                            (*name).to_owned(),
                            k.value().as_bytes().to_vec(),
                            v.value().to_vec(),
                        ));
                    }
                }
                Err(TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(out)
    })
    .map_err(|p| p.0)?
}

/// Compares two fetched copies (files inside the bundle).
///
/// # Errors
///
/// [`CollectError::LedgerInvalid`] when either cannot be read as a redb file.
pub fn compare(a: (&Path, &FileEntry), b: (&Path, &FileEntry)) -> Result<Comparison, CollectError> {
    if a.1.blake3 == b.1.blake3 && a.1.size == b.1.size {
        return Ok(Comparison::ByteIdentical);
    }
    let ra = rows_of(a.0).map_err(|reason| CollectError::LedgerInvalid {
        uri: a.1.source_uri.clone(),
        reason,
    })?;
    let rb = rows_of(b.0).map_err(|reason| CollectError::LedgerInvalid {
        uri: b.1.source_uri.clone(),
        reason,
    })?;
    Ok(if ra == rb {
        Comparison::RowIdentical
    } else {
        Comparison::Diverged
    })
}
