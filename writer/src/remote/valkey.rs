//! The Valkey tier, through the `redis` crate's async client: a new connection per operation (as
//! Rocky does), raw `GET` / `SET` (no TTL) / `DEL`, and a compare-and-set script for `cas`.

use std::time::Duration;

use super::config::ValkeyLocation;
use super::error::SyncError;
use super::policy::TierError;

/// Sets `KEYS[1]` to `ARGV[2]` only if its current value's SHA-1 is `ARGV[1]`, or, with `ARGV[1]`
/// empty, only if it does not exist. Atomic on the server, and compares the value itself, so a
/// writer that ignores `cas` (Rocky's unconditional SET) still makes a stale base lose.
const CAS_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif (not cur) or redis.sha1hex(cur) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"#;

/// A Valkey server.
pub(crate) struct ValkeyTier {
    client: redis::Client,
    pub prefix: String,
    connect_timeout: Duration,
}

impl ValkeyTier {
    pub fn new(location: &ValkeyLocation, timeout: Duration) -> Result<ValkeyTier, SyncError> {
        let client = redis::Client::open(location.url.as_str()).map_err(|e| SyncError::Config {
            reason: format!("valkey url: {e}"),
        })?;
        Ok(ValkeyTier {
            client,
            prefix: location.prefix.clone(),
            connect_timeout: timeout.min(Duration::from_secs(10)),
        })
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, TierError> {
        // No response timeout of the client's own (its default is far below what a 100 MB value
        // takes): the transfer budget around every attempt is the bound.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(classify)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        let mut conn = self.connection().await?;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(classify)
    }

    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), TierError> {
        let mut conn = self.connection().await?;
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut conn)
            .await
            .map_err(classify)
    }

    pub async fn del(&self, key: &str) -> Result<(), TierError> {
        let mut conn = self.connection().await?;
        redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut conn)
            .await
            .map_err(classify)
    }

    /// SET only if the value still has SHA-1 `expected` (`None`: only if there is no value).
    pub async fn compare_and_set(
        &self,
        key: &str,
        value: &[u8],
        expected: Option<&str>,
    ) -> Result<(), TierError> {
        let mut conn = self.connection().await?;
        let done: i64 = redis::cmd("EVAL")
            .arg(CAS_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(expected.unwrap_or(""))
            .arg(value)
            .query_async(&mut conn)
            .await
            .map_err(classify)?;
        if done == 1 {
            Ok(())
        } else {
            Err(TierError::conflict(
                "the value changed since it was downloaded",
            ))
        }
    }
}

/// The SHA-1 a [`ValkeyTier::compare_and_set`] compares against.
pub(crate) fn digest(value: &[u8]) -> String {
    sha1_smol::Sha1::from(value).digest().to_string()
}

fn classify(e: redis::RedisError) -> TierError {
    use redis::{ErrorKind, ServerErrorKind};
    let transient = e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
            )
        );
    if transient {
        TierError::transient(e.to_string())
    } else {
        TierError::permanent(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_is_lowercase_sha1_hex_as_redis_sha1hex() {
        assert_eq!(
            super::digest(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
