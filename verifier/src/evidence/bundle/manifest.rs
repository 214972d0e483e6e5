//! `manifest.json` (`spec/bundle.md` section 2): parsed into types, then checked against every
//! rule of the spec before any path in it is used.
//!
//! Memory stays bounded whatever the input: the file is refused above [`MAX_MANIFEST_BYTES`]
//! before it is read, and the `files` array stops parsing at its [`MAX_FILES`]th entry, so a
//! million-entry manifest costs no more than the limit.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::paths;

/// Largest `manifest.json`, checked before it is read.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries in `files`.
pub const MAX_FILES: usize = 262_144;
/// Largest size one file may claim (1 TiB).
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// The manifest's `bundle_format`.
pub const BUNDLE_FORMAT: u64 = 1;

/// The bundle's manifest. Fields are declared in canonical (bytewise sorted) key order, so
/// serialising the struct gives canonical JSON (`spec/canonical-json.md`), which is how
/// canonicality is checked: parse, re-emit, compare bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `1`.
    pub bundle_format: u64,
    /// Who wrote the bundle.
    pub collector: Collector,
    /// When the collector finished.
    pub created_at: String,
    /// Every file but `manifest.json`, sorted by path.
    #[serde(deserialize_with = "bounded_files")]
    pub files: Vec<FileEntry>,
    /// The ledger copies.
    pub ledger: Option<LedgerCopies>,
    /// Which runs were selected.
    pub selection: Selection,
    /// The warehouse evidence.
    pub warehouse: Option<WarehouseRef>,
}

impl Manifest {
    /// The canonical JSON of the manifest (its fields are declared in sorted key order, and
    /// serde_json's compact output is the canonical form for strings and integers).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain strings, integers and enums cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `collector`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// `rocky-collect`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// One `files` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// BLAKE3 of the stored bytes, 64 lowercase hex.
    pub blake3: String,
    /// When the source was read.
    pub fetched_at: String,
    /// Bundle-relative path.
    pub path: String,
    /// The Redis / Valkey key, for `redis://` and `valkey://` sources.
    pub redis_key: Option<String>,
    /// The S3 ETag, quotes included.
    pub s3_etag: Option<String>,
    /// The S3 `Last-Modified`, RFC 3339 UTC.
    pub s3_last_modified: Option<String>,
    /// The S3 version id.
    pub s3_version_id: Option<String>,
    /// Length in bytes.
    pub size: u64,
    /// Where the bytes came from.
    pub source_uri: String,
}

/// `ledger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerCopies {
    /// How two copies compare, as the collector found it.
    pub comparison: Option<Comparison>,
    /// One or two copies; the first is the one verified.
    pub copies: Vec<LedgerCopy>,
}

/// How two ledger copies compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Same bytes.
    ByteIdentical,
    /// Different bytes, same rows.
    RowIdentical,
    /// Different rows.
    Diverged,
}

impl Comparison {
    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::ByteIdentical => "byte_identical",
            Comparison::RowIdentical => "row_identical",
            Comparison::Diverged => "diverged",
        }
    }
}

/// One ledger copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerCopy {
    /// Its `files` path, under `ledger/`.
    pub path: String,
    /// Where it was kept.
    pub tier: Tier,
}

/// A state tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A local file.
    Local,
    /// S3.
    S3,
    /// Valkey or Redis.
    Valkey,
}

/// `selection`: at most one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// `--last N`.
    pub last: Option<u64>,
    /// `--run ID`.
    pub run: Option<String>,
    /// `--since TEXT`.
    pub since: Option<String>,
}

/// `warehouse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseRef {
    /// What the file is.
    pub kind: WarehouseKind,
    /// Its path.
    pub path: String,
}

/// The kind of warehouse evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarehouseKind {
    /// `warehouse/warehouse.duckdb`.
    DuckdbFile,
    /// `warehouse/facts.json`.
    Facts,
}

/// The path each warehouse kind lives at.
pub const DUCKDB_PATH: &str = "warehouse/warehouse.duckdb";
/// The facts' path.
pub const FACTS_PATH: &str = "warehouse/facts.json";

impl WarehouseKind {
    /// The one path this kind may have.
    pub fn path(self) -> &'static str {
        match self {
            WarehouseKind::DuckdbFile => DUCKDB_PATH,
            WarehouseKind::Facts => FACTS_PATH,
        }
    }
}

/// Reads `files`, refusing the entry past [`MAX_FILES`] without reading on.
fn bounded_files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FileEntry>, D::Error> {
    struct Bounded;
    impl<'de> Visitor<'de> for Bounded {
        type Value = Vec<FileEntry>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of file entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(e) = seq.next_element::<FileEntry>()? {
                if out.len() == MAX_FILES {
                    return Err(de::Error::custom(format_args!(
                        "more than {MAX_FILES} files (the limit of spec/bundle.md 5.2)"
                    )));
                }
                out.push(e);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded)
}

/// Parses and checks manifest bytes. The error is one sentence saying what rule was broken.
///
/// # Errors
///
/// Any breach of `spec/bundle.md` sections 2, 3 (structure), 5.1 and 5.2.
pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!(
            "manifest.json is {} bytes, more than the limit of {MAX_MANIFEST_BYTES}",
            bytes.len()
        ));
    }
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("manifest.json: {e}"))?;
    // serde accepts whitespace, any key order, escapes and absent optional keys; the canonical
    // bytes of what was read must be exactly what is stored.
    if m.canonical_bytes() != bytes {
        return Err(
            "manifest.json is not canonical JSON (spec/canonical-json.md), or lacks a key \
                    (every key is always present, null when it does not apply)"
                .to_owned(),
        );
    }
    validate(&m)?;
    Ok(m)
}

/// Whether `s` is 64 lowercase hex.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// RFC 3339 UTC with `Z`: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, a real date and time.
pub fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() >= 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            _ if i < 19 => c.is_ascii_digit(),
            _ => true,
        })
        && b[b.len() - 1] == b'Z'
        && match &b[19..b.len() - 1] {
            [] => true,
            [b'.', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
            _ => false,
        };
    shape && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// The source kinds a `source_uri` may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    S3,
    Redis,
    File,
    Generated,
}

fn source_kind(uri: &str) -> Option<Source> {
    if uri.starts_with("s3://") && uri.len() > 5 {
        Some(Source::S3)
    } else if (uri.starts_with("redis://") && uri.len() > 8)
        || (uri.starts_with("valkey://") && uri.len() > 9)
    {
        Some(Source::Redis)
    } else if uri.starts_with("file:///") {
        Some(Source::File)
    } else if uri == "generated:" {
        Some(Source::Generated)
    } else {
        None
    }
}

/// Every rule that serde's types do not already enforce.
fn validate(m: &Manifest) -> Result<(), String> {
    if m.bundle_format != BUNDLE_FORMAT {
        return Err(format!(
            "bundle_format {} is not one this verifier reads (1)",
            m.bundle_format
        ));
    }
    if m.collector.name.is_empty() || m.collector.version.is_empty() {
        return Err("collector name and version must not be empty".to_owned());
    }
    if !is_utc_time(&m.created_at) {
        return Err(format!(
            "created_at {:?} is not an RFC 3339 UTC time",
            m.created_at
        ));
    }
    let mut folded = BTreeSet::new();
    let mut previous: Option<&str> = None;
    for f in &m.files {
        let p = f.path.as_str();
        if let Some(problem) = paths::check_file_path(p) {
            return Err(format!("files path {p:?} {problem}"));
        }
        if previous.is_some_and(|prev| prev >= p) {
            return Err(format!(
                "files are not sorted by path without duplicates (at {p:?})"
            ));
        }
        previous = Some(p);
        if !folded.insert(paths::fold(p)) {
            return Err(format!(
                "files path {p:?} differs from another only in letter case"
            ));
        }
        if !is_hex64(&f.blake3) {
            return Err(format!("blake3 of {p:?} is not 64 lowercase hex"));
        }
        if f.size > MAX_FILE_SIZE {
            return Err(format!("size of {p:?} is over the 1 TiB limit"));
        }
        if !is_utc_time(&f.fetched_at) {
            return Err(format!("fetched_at of {p:?} is not an RFC 3339 UTC time"));
        }
        let kind = source_kind(&f.source_uri).ok_or_else(|| {
            format!("source_uri of {p:?} is not s3://, redis://, valkey://, file:/// or generated:")
        })?;
        let s3_set =
            f.s3_etag.is_some() || f.s3_last_modified.is_some() || f.s3_version_id.is_some();
        if s3_set && kind != Source::S3 {
            return Err(format!("{p:?} has S3 fields but its source is not s3://"));
        }
        if f.redis_key.is_some() && kind != Source::Redis {
            return Err(format!(
                "{p:?} has a redis_key but its source is not redis:// or valkey://"
            ));
        }
        if let Some(t) = &f.s3_last_modified
            && !is_utc_time(t)
        {
            return Err(format!(
                "s3_last_modified of {p:?} is not an RFC 3339 UTC time"
            ));
        }
    }
    let listed = |p: &str| m.files.binary_search_by(|f| f.path.as_str().cmp(p)).is_ok();

    let s = &m.selection;
    let given = [s.last.is_some(), s.run.is_some(), s.since.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err("selection names more than one of last, run and since".to_owned());
    }
    if s.last == Some(0) {
        return Err("selection last is 0".to_owned());
    }
    if s.run.as_deref() == Some("") || s.since.as_deref() == Some("") {
        return Err("selection run or since is empty".to_owned());
    }

    let under_ledger: Vec<&str> = m
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with("ledger/"))
        .collect();
    match &m.ledger {
        None => {
            if let Some(p) = under_ledger.first() {
                return Err(format!(
                    "{p:?} is under ledger/ but the manifest has no ledger"
                ));
            }
        }
        Some(l) => {
            if l.copies.is_empty() || l.copies.len() > 2 {
                return Err(format!(
                    "ledger has {} copies (one or two allowed)",
                    l.copies.len()
                ));
            }
            for c in &l.copies {
                if !c.path.starts_with("ledger/") || !listed(&c.path) {
                    return Err(format!(
                        "ledger copy {:?} is not a files entry under ledger/",
                        c.path
                    ));
                }
            }
            if let [a, b] = l.copies.as_slice()
                && (a.path == b.path || a.tier == b.tier)
            {
                return Err("the two ledger copies share a path or a tier".to_owned());
            }
            match (l.copies.len(), l.comparison) {
                (1, Some(_)) => {
                    return Err("one ledger copy with a comparison (null for one copy)".to_owned());
                }
                (2, None) => return Err("two ledger copies without a comparison".to_owned()),
                _ => {}
            }
            if let Some(p) = under_ledger
                .iter()
                .find(|p| !l.copies.iter().any(|c| c.path == **p))
            {
                return Err(format!("{p:?} is under ledger/ but is not a ledger copy"));
            }
        }
    }

    for (kind, path) in [
        (WarehouseKind::DuckdbFile, DUCKDB_PATH),
        (WarehouseKind::Facts, FACTS_PATH),
    ] {
        let named = m.warehouse.as_ref().is_some_and(|w| w.kind == kind);
        if named != listed(path) {
            return Err(if named {
                format!("warehouse names {path} but files does not list it")
            } else {
                format!("{path} is listed but warehouse does not name it")
            });
        }
    }
    if let Some(w) = &m.warehouse
        && w.path != w.kind.path()
    {
        return Err(format!(
            "warehouse kind {:?} must have path {}",
            w.kind,
            w.kind.path()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339_with_z() {
        assert!(is_utc_time("2026-12-01T17:04:05Z"));
        assert!(is_utc_time("2026-12-01T17:04:05.123Z"));
        assert!(!is_utc_time("2026-12-01T17:04:05+00:00"));
        assert!(!is_utc_time("2026-12-01 17:04:05Z"));
        assert!(!is_utc_time("2026-13-01T17:04:05Z"));
        assert!(!is_utc_time("2026-12-01T17:04:05.Z"));
    }

    #[test]
    fn a_manifest_with_too_many_entries_stops_at_the_limit() {
        // MAX_FILES + 1 minimal entries still fit under the byte limit: the entry count is what
        // refuses it, without reading past the limit.
        let entry = |i: usize| {
            format!(
                "{{\"blake3\":\"{}\",\"fetched_at\":\"2026-12-01T17:04:01Z\",\"path\":\
                 \"artifacts/{i:08x}\",\"redis_key\":null,\"s3_etag\":null,\
                 \"s3_last_modified\":null,\"s3_version_id\":null,\"size\":1,\
                 \"source_uri\":\"generated:\"}}",
                "a".repeat(64)
            )
        };
        let mut text = String::from(
            "{\"bundle_format\":1,\"collector\":{\"name\":\"c\",\"version\":\"1\"},\
             \"created_at\":\"2026-12-01T17:04:05Z\",\"files\":[",
        );
        for i in 0..=MAX_FILES {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&entry(i));
        }
        text.push_str(
            "],\"ledger\":null,\"selection\":{\"last\":null,\"run\":null,\"since\":null},\
             \"warehouse\":null}",
        );
        assert!((text.len() as u64) < MAX_MANIFEST_BYTES);
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(e.contains("more than 262144 files"), "{e}");
    }

    #[test]
    fn a_manifest_over_the_byte_limit_is_refused_before_parsing() {
        // Not allocated as JSON: the length alone decides.
        let big = vec![b' '; usize::try_from(MAX_MANIFEST_BYTES).unwrap() + 1];
        let e = parse(&big).unwrap_err();
        assert!(e.contains("more than the limit"), "{e}");
    }
}
