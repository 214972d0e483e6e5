//! `manifest.json` (spec/bundle.md section 2): one entry per file, canonical JSON, and the bundle
//! id (BLAKE3 of the manifest's bytes).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The manifest's format number.
pub const BUNDLE_FORMAT: u64 = 1;

/// RFC 3339 UTC with `Z` and milliseconds, the manifest's time form.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One `files` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path inside the bundle.
    pub path: String,
    /// Length in bytes.
    pub size: u64,
    /// BLAKE3 of the bytes stored.
    pub blake3: String,
    /// Where the bytes came from (`s3://…`, `redis://…#key`, `file:///…`, `generated:`).
    pub source_uri: String,
    /// When the read finished.
    pub fetched_at: DateTime<Utc>,
    /// The S3 object's facts, when it came from S3.
    pub s3: Option<S3Facts>,
    /// The Valkey key, when it came from Valkey.
    pub redis_key: Option<String>,
}

/// ETag, version id and Last-Modified of an S3 object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Facts {
    /// ETag exactly as sent (quotes included).
    pub e_tag: Option<String>,
    /// Version id (versioned buckets).
    pub version_id: Option<String>,
    /// Last-Modified.
    pub last_modified: DateTime<Utc>,
}

impl FileEntry {
    fn to_json(&self) -> Value {
        json!({
            "blake3": self.blake3,
            "fetched_at": time(self.fetched_at),
            "path": self.path,
            "redis_key": self.redis_key,
            "s3_etag": self.s3.as_ref().and_then(|s| s.e_tag.clone()),
            "s3_last_modified": self.s3.as_ref().map(|s| time(s.last_modified)),
            "s3_version_id": self.s3.as_ref().and_then(|s| s.version_id.clone()),
            "size": self.size,
            "source_uri": self.source_uri,
        })
    }
}

/// `file:///absolute/path`, percent-encoding `%`, `#`, `?` and every byte outside printable
/// ASCII (spec/bundle.md section 2).
pub fn file_uri(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = String::from("file://");
    for &b in abs.as_os_str().as_bytes() {
        if b == b'%' || b == b'#' || b == b'?' || !(0x21..=0x7e).contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// The whole manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Every file except `manifest.json`.
    pub files: Vec<FileEntry>,
    /// The `ledger` object, or `null`.
    pub ledger: Value,
    /// The `selection` object.
    pub selection: Value,
    /// The `warehouse` object, or `null`.
    pub warehouse: Value,
    /// When the bundle was finished.
    pub created_at: DateTime<Utc>,
}

impl Manifest {
    /// The canonical bytes (`spec/canonical-json.md`), files sorted by path.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        let v = json!({
            "bundle_format": BUNDLE_FORMAT,
            "collector": {"name": "rocky-collect", "version": env!("CARGO_PKG_VERSION")},
            "created_at": time(self.created_at),
            "files": files.iter().map(FileEntry::to_json).collect::<Vec<_>>(),
            "ledger": self.ledger,
            "selection": self.selection,
            "warehouse": self.warehouse,
        });
        rocky_verify::canon::to_canonical_string(&v).into_bytes()
    }
}

/// The bundle id: BLAKE3 of the manifest's bytes.
pub fn bundle_id(manifest_bytes: &[u8]) -> String {
    blake3::hash(manifest_bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_escape_what_the_spec_says() {
        assert_eq!(
            file_uri(std::path::Path::new("/a b/c%d#e?f/é")),
            "file:///a%20b/c%25d%23e%3Ff/%C3%A9"
        );
    }

    #[test]
    fn manifest_is_canonical_and_sorted() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T17:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = |p: &str| FileEntry {
            path: p.into(),
            size: 1,
            blake3: "00".repeat(32),
            source_uri: "generated:".into(),
            fetched_at: t,
            s3: None,
            redis_key: None,
        };
        let m = Manifest {
            files: vec![e("lake/b"), e("artifacts/a")],
            ledger: Value::Null,
            selection: json!({"last": null, "run": null, "since": null}),
            warehouse: Value::Null,
            created_at: t,
        };
        let bytes = m.to_bytes();
        assert!(rocky_verify::canon::is_canonical(&bytes).unwrap());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.find("artifacts/a").unwrap() < text.find("lake/b").unwrap());
        assert!(text.starts_with(r#"{"bundle_format":1,"collector":{"name":"rocky-collect""#));
        assert!(text.contains(r#""created_at":"2026-12-01T17:04:05.000Z""#));
    }
}
