//! Recipe identities: `recipe_hash`, `skip_hash`, `input_hash`, `proof_class` and `env_hash`
//! (`spec/hashes.md` sections 5 to 9), recomputed from their inputs.
//!
//! Every hash here is BLAKE3 over canonical JSON ([`crate::canon`]); every pre-image is built with
//! `serde_json::Value` and the verifier's own encoder, never with the recorded text (except
//! `recipe_hash`, which is by definition the hash of the recorded IR bytes).

use serde_json::{Map, Value, json};

use crate::canon::to_canonical_string;
use crate::normalize::{NORMALIZER_VERSION, NormalizeError, try_normalize};

/// `input_hash` spine version folded into the pre-image.
pub const SPINE_VERSION: u64 = 1;

/// Lowercase hex BLAKE3 of `bytes`.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// `recipe_hash`: BLAKE3 of the exact bytes of `ProvenanceRecord.model_ir_canonical_json`
/// (section 5). No re-canonicalisation: the hash is of what was recorded.
pub fn recipe_hash(ir_canonical_json: &[u8]) -> String {
    blake3_hex(ir_canonical_json)
}

/// `skip_hash` of a parsed `ModelIr` object (section 6), or `None` when Rocky has none: when
/// `typed_columns` is missing or empty, or `normalize(sql)` is `None`.
///
/// Inputs the normaliser refuses (see [`try_skip_hash`]) also give `None`.
pub fn skip_hash(ir: &Value) -> Option<String> {
    try_skip_hash(ir).ok().flatten()
}

/// [`skip_hash`], keeping apart the case where the normaliser could not run.
///
/// A value that is not an object, or whose `sql` is not a string, gives `Ok(None)`: Rocky could not
/// have deserialised it as a `ModelIr` at all, so it has no skip hash.
///
/// # Errors
///
/// [`NormalizeError`] when the SQL is too large for the normaliser or the normaliser fails.
pub fn try_skip_hash(ir: &Value) -> Result<Option<String>, NormalizeError> {
    let Some(object) = ir.as_object() else {
        return Ok(None);
    };
    match object.get("typed_columns") {
        Some(Value::Array(columns)) if !columns.is_empty() => {}
        _ => return Ok(None),
    }
    let Some(sql) = object.get("sql").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(normalized) = try_normalize(sql)? else {
        return Ok(None);
    };
    Ok(Some(blake3_hex(
        skip_hash_preimage(object, normalized).as_bytes(),
    )))
}

/// The canonical text hashed by `skip_hash`: the IR without `name`, `sql`, `lineage_edges` and
/// `cost_ceiling`, plus `normalizer_version` and `normalized_sql`. Every other field is kept exactly
/// as present (absent stays absent, `null` stays `null`), which is the `SkipHashProjection`'s
/// omission rule because it is the `ModelIr`'s.
pub fn skip_hash_preimage(ir: &Map<String, Value>, normalized_sql: String) -> String {
    let mut projection = ir.clone();
    for key in ["name", "sql", "lineage_edges", "cost_ceiling"] {
        projection.remove(key);
    }
    projection.insert("normalizer_version".to_owned(), json!(NORMALIZER_VERSION));
    projection.insert("normalized_sql".to_owned(), Value::String(normalized_sql));
    to_canonical_string(&Value::Object(projection))
}

/// `target_identity` of a parsed `ModelIr`: `target.catalog + "." + target.schema + "." +
/// target.table`, or `None` if any part is missing or not a string.
pub fn target_identity(ir: &Value) -> Option<String> {
    let target = ir.get("target")?;
    let part = |key: &str| target.get(key).and_then(Value::as_str);
    Some(format!(
        "{}.{}.{}",
        part("catalog")?,
        part("schema")?,
        part("table")?
    ))
}

/// `input_hash` (section 7): BLAKE3 of the canonical `{spine_version, skip_hash, target_identity,
/// upstreams}` with the upstreams stably sorted by `upstream_key`, bytewise.
///
/// `upstreams` are `UpstreamIdentity` JSON objects, used exactly as given (an upstream without a
/// string `upstream_key` sorts first).
pub fn input_hash(skip_hash: &str, target_identity: &str, upstreams: &[Value]) -> String {
    blake3_hex(input_hash_preimage(skip_hash, target_identity, upstreams).as_bytes())
}

/// The canonical text hashed by [`input_hash`].
pub fn input_hash_preimage(skip_hash: &str, target_identity: &str, upstreams: &[Value]) -> String {
    let mut sorted: Vec<&Value> = upstreams.iter().collect();
    // `sort_by` is stable: upstreams with equal keys keep their recorded order.
    sorted.sort_by(|a, b| upstream_key(a).cmp(upstream_key(b)));
    let preimage = json!({
        "spine_version": SPINE_VERSION,
        "skip_hash": skip_hash,
        "target_identity": target_identity,
        "upstreams": sorted,
    });
    to_canonical_string(&preimage)
}

fn upstream_key(upstream: &Value) -> &[u8] {
    upstream
        .get("upstream_key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .as_bytes()
}

/// `proof_class` of an upstream list (section 8): `"strong"` if every upstream is `content` (an
/// empty list included), otherwise `"heuristic"`. Anything that is not a `content` upstream counts
/// as heuristic, so an unrecognised kind can never raise the class.
pub fn proof_class(upstreams: &[Value]) -> &'static str {
    let all_content = upstreams
        .iter()
        .all(|u| u.get("kind").and_then(Value::as_str) == Some("content"));
    if all_content { "strong" } else { "heuristic" }
}

/// `env_hash` (section 9): BLAKE3 of canonical `{engine_version, adapter, exec_config: {}}`.
pub fn env_hash(engine_version: &str, adapter: &str) -> String {
    blake3_hex(env_hash_preimage(engine_version, adapter).as_bytes())
}

/// The canonical text hashed by [`env_hash`].
pub fn env_hash_preimage(engine_version: &str, adapter: &str) -> String {
    to_canonical_string(&json!({
        "engine_version": engine_version,
        "adapter": adapter,
        "exec_config": {},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN_01_IR: &str = r#"{"governance":{"auto_create_catalogs":false,"auto_create_schemas":false,"permissions_file":null},"lineage_edges":[],"materialization":{"partition_columns":[],"storage_prefix":"s3://bucket/tgt/raw/seed_events","strategy":"ContentAddressed"},"name":"seed_events","sql":"SELECT i AS id, i % 3 AS bucket FROM generate_series(1, 10) AS t(i)","target":{"catalog":"tgt","schema":"raw","table":"seed_events"},"typed_columns":[{"data_type":"Int64","name":"id","nullable":false},{"data_type":"Int64","name":"bucket","nullable":false}]}"#;

    #[test]
    fn golden_01_recomputes() {
        let ir: Value = serde_json::from_str(GOLDEN_01_IR).unwrap();
        assert_eq!(
            recipe_hash(GOLDEN_01_IR.as_bytes()),
            "cc14d017a9fa965f2e73a0de45e41a1fe82947b4f514d3c3c63ea53b98730884"
        );
        assert_eq!(
            skip_hash(&ir).as_deref(),
            Some("1fe8c16a02ee240be7398175adc5f3fdd61b77177dd3e76c553a453e447ac8a2")
        );
        assert_eq!(target_identity(&ir).as_deref(), Some("tgt.raw.seed_events"));
        assert_eq!(
            input_hash(
                "1fe8c16a02ee240be7398175adc5f3fdd61b77177dd3e76c553a453e447ac8a2",
                "tgt.raw.seed_events",
                &[]
            ),
            "3311e41d0eb343dd7526acdaf41837c6b6fcb9afa9373a3dccbd52801e66d125"
        );
    }

    #[test]
    fn rocky_pinned_vectors() {
        let upstreams = [
            json!({"kind":"content","upstream_key":"analytics.marts.dim_x","blake3_hash":"up-hash"}),
            json!({"kind":"watermark","upstream_key":"raw.src.events","max_ts":"2026-06-04T00:00:00Z","row_count":42}),
        ];
        assert_eq!(
            input_hash("skip-key-fixed", "analytics.marts.fct_orders", &upstreams),
            "baa07cee48236730d8100fa6947ec103ccfac83005ed1b9b68527ae942b77452"
        );
        assert_eq!(
            env_hash("1.56.0", "duckdb"),
            "bbf2c2045328f738683a6336df5fa61b5f00076aeaed7c495c04f9d6991d92bd"
        );
        assert_eq!(proof_class(&upstreams), "heuristic");
        assert_eq!(proof_class(&upstreams[..1]), "strong");
        assert_eq!(proof_class(&[]), "strong");
    }

    #[test]
    fn upstream_sort_is_stable_and_bytewise() {
        let upstreams = [
            json!({"kind":"watermark","upstream_key":"x.y.z","row_count":1}),
            json!({"kind":"content","upstream_key":"x.y.z","blake3_hash":"h"}),
            json!({"kind":"content","upstream_key":"X.y.z","blake3_hash":"g"}),
        ];
        assert_eq!(
            input_hash_preimage("s", "a.b.c", &upstreams),
            r#"{"skip_hash":"s","spine_version":1,"target_identity":"a.b.c","upstreams":[{"blake3_hash":"g","kind":"content","upstream_key":"X.y.z"},{"kind":"watermark","row_count":1,"upstream_key":"x.y.z"},{"blake3_hash":"h","kind":"content","upstream_key":"x.y.z"}]}"#
        );
    }

    #[test]
    fn skip_hash_is_none_without_typed_columns_or_parseable_sql() {
        let mut ir: Value = serde_json::from_str(GOLDEN_01_IR).unwrap();
        ir["typed_columns"] = json!([]);
        assert_eq!(skip_hash(&ir), None);
        ir.as_object_mut().unwrap().remove("typed_columns");
        assert_eq!(skip_hash(&ir), None);
        let mut ir: Value = serde_json::from_str(GOLDEN_01_IR).unwrap();
        ir["sql"] = json!("SELEC FROM");
        assert_eq!(skip_hash(&ir), None);
        assert_eq!(skip_hash(&json!([1])), None);
        assert_eq!(skip_hash(&json!({"typed_columns":[1],"sql":5})), None);
    }

    #[test]
    fn skip_hash_ignores_excluded_fields_but_not_others() {
        let base: Value = serde_json::from_str(GOLDEN_01_IR).unwrap();
        let h = skip_hash(&base).unwrap();
        let mut other = base.clone();
        other["name"] = json!("renamed");
        other["sql"] =
            json!("select i as id, i % 3 as bucket\nfrom generate_series(1, 10) as u(i)");
        other["lineage_edges"] = json!([{"x": 1}]);
        other["cost_ceiling"] = json!({"max_usd": 1.5});
        assert_eq!(skip_hash(&other).as_deref(), Some(h.as_str()));
        let mut changed = base;
        changed["target"]["table"] = json!("other");
        assert_ne!(skip_hash(&changed).as_deref(), Some(h.as_str()));
    }

    #[test]
    fn target_identity_needs_three_string_parts() {
        assert_eq!(
            target_identity(&json!({"target":{"catalog":"a","schema":"b"}})),
            None
        );
        assert_eq!(
            target_identity(&json!({"target":{"catalog":"a","schema":"b","table":1}})),
            None
        );
        assert_eq!(target_identity(&json!(null)), None);
    }
}
