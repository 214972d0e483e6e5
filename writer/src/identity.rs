//! Identity hashes (spec/hashes.md): `sql_hash` in both schemes, `config_hash` and
//! `config_blake3`, `recipe_hash`, `skip_hash`, `input_hash`, `env_hash` and `proof_class`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::canon;
use crate::ir::ModelIr;
use crate::records::{ProofClass, UpstreamIdentity};

pub use crate::siphash::{config_hash, sql_fingerprint};

/// `input_hash` spine version.
pub const SPINE_VERSION: u64 = 1;

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Strong `sql_hash` (scheme `v1+blake3-sql`): blake3 of the model source bytes exactly as
/// committed.
pub fn sql_hash_blake3(source: &[u8]) -> String {
    blake3_hex(source)
}

/// `config_blake3`: blake3 of the raw `rocky.toml` bytes.
pub fn config_blake3(raw: &[u8]) -> String {
    blake3_hex(raw)
}

/// `recipe_hash` of an IR: blake3 of its canonical JSON.
pub fn recipe_hash(ir: &ModelIr) -> String {
    ir.recipe_hash()
}

/// `recipe_hash` from an already canonical `model_ir_canonical_json` text (hashed as given).
pub fn recipe_hash_of_canonical(model_ir_canonical_json: &str) -> String {
    blake3_hex(model_ir_canonical_json.as_bytes())
}

/// `skip_hash` of an IR; `None` when `typed_columns` is empty or the SQL does not normalise.
pub fn skip_hash(ir: &ModelIr) -> Option<String> {
    ir.skip_hash()
}

/// The canonical `input_hash` pre-image (upstreams sorted by key, stable).
pub fn input_hash_preimage(
    skip_hash: &str,
    target_identity: &str,
    upstreams: &[UpstreamIdentity],
) -> String {
    let mut sorted: Vec<&UpstreamIdentity> = upstreams.iter().collect();
    sorted.sort_by(|a, b| a.upstream_key().cmp(b.upstream_key()));
    let value = json!({
        "spine_version": SPINE_VERSION,
        "skip_hash": skip_hash,
        "target_identity": target_identity,
        "upstreams": sorted,
    });
    canon::to_canonical_string(&value)
}

/// `input_hash` (spine v1): blake3 of [`input_hash_preimage`].
pub fn input_hash(
    skip_hash: &str,
    target_identity: &str,
    upstreams: &[UpstreamIdentity],
) -> String {
    blake3_hex(input_hash_preimage(skip_hash, target_identity, upstreams).as_bytes())
}

/// The minimum proof class over the upstreams; an empty list is `strong`.
pub fn proof_class(upstreams: &[UpstreamIdentity]) -> ProofClass {
    upstreams
        .iter()
        .map(UpstreamIdentity::proof_class)
        .min()
        .unwrap_or(ProofClass::Strong)
}

/// The warehouse adapter named in `env_hash`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Adapter {
    #[default]
    Duckdb,
    Databricks,
    Snowflake,
    Bigquery,
    Trino,
}

impl Adapter {
    /// The adapter's name as hashed.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Duckdb => "duckdb",
            Adapter::Databricks => "databricks",
            Adapter::Snowflake => "snowflake",
            Adapter::Bigquery => "bigquery",
            Adapter::Trino => "trino",
        }
    }
}

/// The canonical `env_hash` pre-image.
pub fn env_hash_preimage(engine_version: &str, adapter: Adapter) -> String {
    canon::to_canonical_string(&json!({
        "engine_version": engine_version,
        "adapter": adapter.name(),
        "exec_config": {},
    }))
}

/// `env_hash`: blake3 of [`env_hash_preimage`].
pub fn env_hash(engine_version: &str, adapter: Adapter) -> String {
    blake3_hex(env_hash_preimage(engine_version, adapter).as_bytes())
}

/// Whether `s` is 64 lowercase hex characters (a blake3 hex digest).
pub fn is_blake3_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_env_and_input_hashes() {
        assert_eq!(
            env_hash("1.56.0", Adapter::Duckdb),
            "bbf2c2045328f738683a6336df5fa61b5f00076aeaed7c495c04f9d6991d92bd"
        );
        let ups = vec![
            UpstreamIdentity::Watermark {
                upstream_key: "raw.src.events".into(),
                max_ts: Some("2026-06-04T00:00:00Z".into()),
                row_count: Some(42),
            },
            UpstreamIdentity::Content {
                upstream_key: "analytics.marts.dim_x".into(),
                blake3_hash: "up-hash".into(),
            },
        ];
        assert_eq!(
            input_hash("skip-key-fixed", "analytics.marts.fct_orders", &ups),
            "baa07cee48236730d8100fa6947ec103ccfac83005ed1b9b68527ae942b77452"
        );
        assert_eq!(proof_class(&ups), ProofClass::Heuristic);
        assert_eq!(proof_class(&[]), ProofClass::Strong);
    }
}
