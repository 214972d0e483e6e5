//! S3 reads: listing with ETags, and streaming an object to a local file while hashing it, under
//! `If-Match` so that an object that changed since the listing is an error, never a silent mix of
//! two versions.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt};

use crate::error::CollectError;

/// What the listing (or a HEAD) said about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Bucket-relative key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag as the server sent it (with its quotes).
    pub e_tag: Option<String>,
    /// Version id, on a versioned bucket.
    pub version: Option<String>,
    /// Last-Modified.
    pub last_modified: DateTime<Utc>,
}

/// One object read into a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The listing's facts (confirmed by the read).
    pub listed: Listed,
    /// BLAKE3 of the bytes written.
    pub blake3: String,
    /// When the read finished.
    pub fetched_at: DateTime<Utc>,
}

/// An S3 bucket, configured from the standard AWS variables.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    /// The bucket name.
    pub name: String,
}

fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // reqwest is built without a bundled provider; ring's is the one we link. An error means
        // a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Bucket {
    /// A client for `bucket`: endpoint, region and credentials from `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`). An
    /// `http://` endpoint allows plain HTTP (a loopback test server).
    ///
    /// # Errors
    ///
    /// [`CollectError::S3`] when the client cannot be built.
    pub fn from_env(bucket: &str) -> Result<Bucket, CollectError> {
        install_crypto();
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()))
            // The collector makes its own decisions on failure: one clear error beats hidden
            // retries that could read a newer object under an old listing.
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..Default::default()
            });
        if let Some(endpoint) = env("AWS_ENDPOINT_URL") {
            let http = endpoint.starts_with("http://");
            b = b.with_endpoint(endpoint).with_allow_http(http);
        }
        if let Some(k) = env("AWS_ACCESS_KEY_ID") {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = env("AWS_SECRET_ACCESS_KEY") {
            b = b.with_secret_access_key(s);
        }
        if let Some(t) = env("AWS_SESSION_TOKEN") {
            b = b.with_token(t);
        }
        let store = b.build().map_err(|e| CollectError::S3 {
            uri: format!("s3://{bucket}"),
            message: e.to_string(),
        })?;
        Ok(Bucket {
            store: Arc::new(store),
            name: bucket.to_owned(),
        })
    }

    /// `s3://bucket/key`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    fn err(&self, key: &str, e: impl std::fmt::Display) -> CollectError {
        CollectError::S3 {
            uri: self.uri(key),
            message: e.to_string(),
        }
    }

    /// The object at `key` (a HEAD), or `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`CollectError::S3`] for anything but "not found".
    pub async fn head(&self, key: &str) -> Result<Option<Listed>, CollectError> {
        match self.store.head(&ObjPath::from(key)).await {
            Ok(m) => Ok(Some(listed(m))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// Every object under `prefix` (recursively), in key order.
    ///
    /// # Errors
    ///
    /// [`CollectError::S3`] when a listing page fails.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, CollectError> {
        let p = ObjPath::from(prefix);
        let mut stream = self.store.list(Some(&p));
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            out.push(listed(item.map_err(|e| self.err(prefix, e))?));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Streams the object `what` names into a new file at `dest`, hashing as it goes. The read
    /// carries `If-Match: <listed ETag>` and the response's ETag and size are compared with the
    /// listing: an object that changed in between is [`CollectError::ObjectChanged`].
    ///
    /// # Errors
    ///
    /// [`CollectError::ObjectChanged`], [`CollectError::S3`], or [`CollectError::Io`] writing
    /// `dest`.
    pub async fn fetch_to(&self, what: &Listed, dest: &Path) -> Result<Fetched, CollectError> {
        let uri = self.uri(&what.key);
        let changed = |read: String| CollectError::ObjectChanged {
            uri: uri.clone(),
            listed: what.e_tag.clone().unwrap_or_else(|| "(none)".to_owned()),
            read,
        };
        let opts = GetOptions {
            if_match: what.e_tag.clone(),
            version: what.version.clone(),
            ..Default::default()
        };
        let got = match self
            .store
            .get_opts(&ObjPath::from(what.key.as_str()), opts)
            .await
        {
            Ok(g) => g,
            Err(object_store::Error::Precondition { .. }) => {
                return Err(changed(
                    "another ETag (the server refused If-Match)".to_owned(),
                ));
            }
            Err(object_store::Error::NotFound { .. }) => {
                return Err(changed("nothing (the object was deleted)".to_owned()));
            }
            Err(e) => return Err(self.err(&what.key, e)),
        };
        if got.meta.e_tag != what.e_tag {
            return Err(changed(
                got.meta
                    .e_tag
                    .clone()
                    .unwrap_or_else(|| "(none)".to_owned()),
            ));
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(|e| CollectError::io(dest, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(&what.key, e))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            out.write_all(&chunk)
                .map_err(|e| CollectError::io(dest, e))?;
        }
        out.flush().map_err(|e| CollectError::io(dest, e))?;
        if size != what.size {
            return Err(changed(format!(
                "an object of {size} bytes (listed as {} bytes)",
                what.size
            )));
        }
        Ok(Fetched {
            listed: what.clone(),
            blake3: hasher.finalize().to_hex().to_string(),
            fetched_at: Utc::now(),
        })
    }

    /// The whole object at `key` in memory (a ledger), with its facts, or `None` when absent.
    ///
    /// # Errors
    ///
    /// [`CollectError::S3`].
    pub async fn get_bytes(&self, key: &str) -> Result<Option<(Listed, Vec<u8>)>, CollectError> {
        let got = match self.store.get(&ObjPath::from(key)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(key, e)),
        };
        let meta = listed(got.meta.clone());
        let bytes = tokio::time::timeout(Duration::from_secs(600), got.bytes())
            .await
            .map_err(|_| self.err(key, "timed out after 600 s"))?
            .map_err(|e| self.err(key, e))?;
        Ok(Some((meta, bytes.to_vec())))
    }
}

fn listed(m: object_store::ObjectMeta) -> Listed {
    Listed {
        key: m.location.to_string(),
        size: m.size,
        e_tag: m.e_tag,
        version: m.version,
        last_modified: m.last_modified,
    }
}
