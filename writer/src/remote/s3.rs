//! The S3 tier, through object_store (the client Rocky uses), with object_store's own retries off
//! so that the retry, budget and breaker of [`super::policy`] are the only ones.

use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};

use super::config::S3Location;
use super::error::SyncError;
use super::keys::Generation;
use super::policy::TierError;

/// How a put may replace what is there.
#[derive(Debug, Clone)]
pub(crate) enum PutCondition {
    /// Replace whatever is there (Rocky's default).
    Unconditional,
    /// Only if nothing is there (`If-None-Match: *`).
    Create,
    /// Only if the object still has this generation (`If-Match: <etag>`).
    Update(Generation),
}

/// An object fetched with the generation of the same GET.
pub(crate) struct Fetched {
    pub bytes: Bytes,
    pub generation: Option<Generation>,
}

/// A connected S3 bucket.
pub(crate) struct S3Tier {
    store: AmazonS3,
    pub prefix: String,
}

impl S3Tier {
    pub fn new(location: &S3Location, timeout: Duration) -> Result<S3Tier, SyncError> {
        if location.bucket.is_empty() {
            return Err(SyncError::Config {
                reason: "s3 bucket is empty".into(),
            });
        }
        // Per request: bounded by the transfer budget; connecting fails fast as in Rocky.
        let mut options = ClientOptions::new()
            .with_timeout(timeout)
            .with_connect_timeout(timeout.min(Duration::from_secs(10)));
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&location.bucket)
            // Pinned (as Rocky pins it): If-None-Match / If-Match on PutObject for `cas`.
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                max_retries: 0,
                retry_timeout: timeout,
                ..RetryConfig::default()
            });
        let endpoint = location
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(endpoint) = &endpoint {
            // A plain-HTTP endpoint was asked for by name (a local or on-premises server).
            if endpoint.starts_with("http://") {
                options = options.with_allow_http(true);
            }
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &location.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &location.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &location.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store =
            builder
                .with_client_options(options)
                .build()
                .map_err(|e| SyncError::Config {
                    reason: format!("s3: {e}"),
                })?;
        Ok(S3Tier {
            store,
            prefix: location.prefix.clone(),
        })
    }

    /// GET; `None` when there is no object.
    pub async fn get(&self, key: &str) -> Result<Option<Fetched>, TierError> {
        let path = ObjectPath::from(key);
        let result = match self.store.get(&path).await {
            Ok(r) => r,
            Err(e) => return absent_or(e),
        };
        let generation = generation_of(result.meta.e_tag.clone(), result.meta.version.clone());
        let bytes = result.bytes().await.map_err(classify)?;
        Ok(Some(Fetched { bytes, generation }))
    }

    /// HEAD; `None` when there is no object, `Some(None)` when it has no generation.
    pub async fn head(&self, key: &str) -> Result<Option<Option<Generation>>, TierError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(generation_of(meta.e_tag, meta.version))),
            Err(e) => absent_or(e),
        }
    }

    /// PUT of the whole object in one request; returns the new generation.
    pub async fn put(
        &self,
        key: &str,
        data: Bytes,
        condition: &PutCondition,
    ) -> Result<Option<Generation>, TierError> {
        let mode = match condition {
            PutCondition::Unconditional => PutMode::Overwrite,
            PutCondition::Create => PutMode::Create,
            PutCondition::Update(g) => PutMode::Update(UpdateVersion {
                e_tag: g.e_tag.clone(),
                version: g.version.clone(),
            }),
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&ObjectPath::from(key), PutPayload::from(data), options)
            .await
        {
            Ok(r) => Ok(generation_of(r.e_tag, r.version)),
            // The object the base named is gone: another writer removed it.
            Err(object_store::Error::NotFound { .. })
                if matches!(condition, PutCondition::Update(_)) =>
            {
                Err(TierError::conflict(
                    "the object changed: it no longer exists",
                ))
            }
            Err(e) => Err(classify(e)),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), TierError> {
        self.store
            .delete(&ObjectPath::from(key))
            .await
            .map_err(classify)
    }
}

fn generation_of(e_tag: Option<String>, version: Option<String>) -> Option<Generation> {
    (e_tag.is_some() || version.is_some()).then_some(Generation { e_tag, version })
}

/// Not found is "absent" unless the bucket itself is missing, which is a configuration error:
/// reading it as "no state yet" would start fresh over state that lives elsewhere.
fn absent_or<T>(e: object_store::Error) -> Result<Option<T>, TierError> {
    match e {
        object_store::Error::NotFound { .. } if !e.to_string().contains("NoSuchBucket") => Ok(None),
        object_store::Error::NotFound { .. } => Err(TierError::permanent(e.to_string())),
        other => Err(classify(other)),
    }
}

fn classify(e: object_store::Error) -> TierError {
    use object_store::Error as E;
    match e {
        E::Precondition { .. } | E::AlreadyExists { .. } => TierError::conflict(e.to_string()),
        // Network errors, resets, 5xx and timeouts all arrive as Generic.
        E::Generic { .. } => TierError::transient(error_chain(&e)),
        _ => TierError::permanent(e.to_string()),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
