//! Where evidence comes from: a local path, `s3://BUCKET[/PREFIX]`, or `redis://` / `valkey://`,
//! and how a ledger's remote key is resolved the way Rocky resolves it (`spec/remote-state.md`
//! section 2).

use std::path::PathBuf;

use crate::error::CollectError;

/// Rocky's state schema segment (`v` + schema version 22).
pub const SCHEMA_SEGMENT: &str = "v22";
/// Rocky's default S3 state prefix.
pub const DEFAULT_S3_PREFIX: &str = "rocky/state/";
/// Rocky's default Valkey state prefix.
pub const DEFAULT_VALKEY_PREFIX: &str = "rocky:state:";

/// One `--ledger` or `--artifacts` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local file or folder.
    Local(PathBuf),
    /// An S3 bucket and a key prefix (no leading or trailing `/`; may be empty).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix as given (slashes trimmed).
        prefix: String,
        /// Whether the URI named a prefix at all (else Rocky's default applies to a ledger).
        prefix_given: bool,
    },
    /// A Valkey / Redis server.
    Valkey {
        /// The connection URL, scheme normalised to `redis://`.
        url: String,
        /// The URL as given, for the manifest (credentials removed).
        shown: String,
    },
}

impl Location {
    /// Parses a command-line value. Anything without a scheme is a local path.
    ///
    /// # Errors
    ///
    /// [`CollectError::Usage`] for an unknown scheme or an `s3://` URI without a bucket.
    pub fn parse(text: &str) -> Result<Location, CollectError> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(CollectError::Usage(format!("{text}: no bucket name")));
            }
            let prefix = prefix.trim_matches('/');
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                prefix_given: !prefix.is_empty(),
            });
        }
        for scheme in ["redis://", "valkey://", "rediss://", "valkeys://"] {
            if let Some(rest) = text.strip_prefix(scheme) {
                let tls = matches!(scheme, "rediss://" | "valkeys://");
                if tls {
                    return Err(CollectError::Usage(format!(
                        "{text}: TLS connections to Valkey are not supported by this collector"
                    )));
                }
                if rest.is_empty() {
                    return Err(CollectError::Usage(format!("{text}: no host")));
                }
                return Ok(Location::Valkey {
                    url: format!("redis://{rest}"),
                    shown: format!("{scheme}{}", strip_userinfo(rest)),
                });
            }
        }
        if text.contains("://") {
            return Err(CollectError::Usage(format!(
                "{text}: unknown scheme (a local path, s3://BUCKET/PREFIX, redis:// or valkey://)"
            )));
        }
        Ok(Location::Local(PathBuf::from(text)))
    }
}

/// `host:port/db` without a `user:password@` part, so no secret reaches the manifest.
fn strip_userinfo(rest: &str) -> &str {
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    }
}

/// The remote file name: `state.redb`, or `<namespace>.redb` (a ledger kept as
/// `.rocky-state/<namespace>.redb`).
pub fn remote_name(namespace: Option<&str>) -> String {
    format!("{}.redb", namespace.unwrap_or("state"))
}

/// The S3 key of a ledger under `prefix`: `<prefix trimmed>/v22/<name>`, Rocky's default prefix
/// when none was given. A prefix that already ends in `.redb` is taken as the exact key.
pub fn s3_ledger_key(prefix: &str, prefix_given: bool, name: &str) -> String {
    if prefix_given && prefix.ends_with(".redb") {
        return prefix.to_owned();
    }
    let prefix = if prefix_given {
        prefix
    } else {
        DEFAULT_S3_PREFIX
    };
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{SCHEMA_SEGMENT}/{name}")
    } else {
        format!("{prefix}/{SCHEMA_SEGMENT}/{name}")
    }
}

/// The Valkey key of a ledger: `<prefix>v22:<name>` (the prefix is used as given, with its
/// trailing `:`).
pub fn valkey_ledger_key(prefix: &str, name: &str) -> String {
    format!("{prefix}{SCHEMA_SEGMENT}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_rockys_defaults() {
        assert_eq!(
            s3_ledger_key("", false, &remote_name(None)),
            "rocky/state/v22/state.redb"
        );
        assert_eq!(
            s3_ledger_key("rocky/prod/", true, &remote_name(Some("prod"))),
            "rocky/prod/v22/prod.redb"
        );
        assert_eq!(
            s3_ledger_key("x/v22/state.redb", true, "state.redb"),
            "x/v22/state.redb"
        );
        assert_eq!(
            valkey_ledger_key(DEFAULT_VALKEY_PREFIX, &remote_name(None)),
            "rocky:state:v22:state.redb"
        );
    }

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            Location::parse("s3://b/rocky/state/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "rocky/state".into(),
                prefix_given: true
            }
        );
        assert!(matches!(
            Location::parse("s3://b").unwrap(),
            Location::S3 {
                prefix_given: false,
                ..
            }
        ));
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("gs://b/x").is_err());
        let Location::Valkey { url, shown } = Location::parse("valkey://u:secret@h:1/0").unwrap()
        else {
            panic!("not valkey")
        };
        assert_eq!(url, "redis://u:secret@h:1/0");
        assert_eq!(shown, "valkey://h:1/0");
        assert!(matches!(
            Location::parse("redis://127.0.0.1:6379").unwrap(),
            Location::Valkey { .. }
        ));
        assert!(Location::parse("rediss://h:1").is_err());
        assert_eq!(
            Location::parse("a/b.redb").unwrap(),
            Location::Local("a/b.redb".into())
        );
    }
}
