//! Plain views of the records one run's checks need, read from the raw JSON value.
//!
//! Validity is decided by [`crate::model::records`] (the `decode_*` functions and their finding codes);
//! these views only pull out the fields a check compares, tolerating anything missing, so that the
//! checks can still run best-effort on a record that failed to decode (that failure is already a
//! `fail` check of its own).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A string field, if present and a string.
pub fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A u64 field, if present and an unsigned integer.
pub fn u64_field(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// Parses timestamp text (RFC 3339, the model's one grammar) to UTC.
pub fn parse_ts(text: &str) -> Option<DateTime<Utc>> {
    crate::model::timestamp::Timestamp::parse(text)
        .ok()
        .map(|t| t.utc)
}

/// A timestamp field.
pub fn ts_field(v: &Value, key: &str) -> Option<(String, DateTime<Utc>)> {
    let text = str_field(v, key)?;
    let utc = parse_ts(&text)?;
    Some((text, utc))
}

/// The fields of a `RunRecord` the checks use.
#[derive(Debug, Clone, Default)]
pub struct RunView {
    pub run_id: Option<String>,
    pub started: Option<(String, DateTime<Utc>)>,
    pub finished: Option<(String, DateTime<Utc>)>,
    pub status: Option<String>,
    pub trigger: Option<String>,
    pub session_source: Option<String>,
    pub config_hash: Option<String>,
    pub triggering_identity: Option<String>,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub target_catalog: Option<String>,
    pub rocky_version: Option<String>,
    /// rocky-writer extension.
    pub config_blake3: Option<String>,
    /// rocky-writer extension.
    pub config_path: Option<String>,
    /// The pipeline of a single-pipeline run (schema v21+; `None` for model-only and
    /// multi-pipeline runs).
    pub pipeline: Option<String>,
    pub models: Vec<ModelView>,
}

impl RunView {
    /// Reads a run record value.
    pub fn from_value(v: &Value) -> RunView {
        let models = v
            .get("models_executed")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, m)| ModelView::from_value(i, m))
                    .collect()
            })
            .unwrap_or_default();
        RunView {
            run_id: str_field(v, "run_id"),
            started: ts_field(v, "started_at"),
            finished: ts_field(v, "finished_at"),
            status: str_field(v, "status"),
            trigger: str_field(v, "trigger"),
            session_source: match v.get("session_source") {
                None => Some("cli".to_owned()),
                Some(s) => s.as_str().map(str::to_owned),
            },
            config_hash: str_field(v, "config_hash"),
            triggering_identity: str_field(v, "triggering_identity"),
            git_commit: str_field(v, "git_commit"),
            git_branch: str_field(v, "git_branch"),
            target_catalog: str_field(v, "target_catalog"),
            rocky_version: str_field(v, "rocky_version"),
            config_blake3: str_field(v, "config_blake3"),
            config_path: str_field(v, "config_path"),
            pipeline: str_field(v, "pipeline"),
            models,
        }
    }
}

/// The fields of a `ModelExecution` the checks use.
#[derive(Debug, Clone, Default)]
pub struct ModelView {
    /// Position in `models_executed`.
    pub index: usize,
    /// `model_name`: the target table name. `#<index>` if missing.
    pub name: String,
    pub started: Option<(String, DateTime<Utc>)>,
    pub finished: Option<(String, DateTime<Utc>)>,
    pub duration_ms: Option<u64>,
    pub rows_affected: Option<u64>,
    pub status: Option<String>,
    pub sql_hash: Option<String>,
    pub recipe_hash: Option<String>,
    pub env_hash: Option<String>,
    pub hash_scheme: Option<String>,
    /// rocky-writer extension.
    pub source_path: Option<String>,
    /// rocky-writer extension.
    pub materialization: Option<String>,
    /// rocky-writer extension (`catalog.schema.table`).
    pub target_table: Option<String>,
    /// `output_column_hashes` as `(column, hash)`, when the entry records a list.
    pub output_column_hashes: Option<Vec<(String, String)>>,
    /// `upstream_freshness` entries that carry `consumed_column_hashes`, as `(upstream_key,
    /// [(column, hash)])`.
    pub consumed_column_hashes: Vec<(String, Vec<(String, String)>)>,
    /// `bytes_written` (the Parquet size on Rocky's content-addressed path).
    pub bytes_written: Option<u64>,
    /// `skip_hash` (`None` when the model's IR does not canonicalise: no provenance then).
    pub skip_hash: Option<String>,
}

impl ModelView {
    /// Reads one `models_executed` entry.
    pub fn from_value(index: usize, v: &Value) -> ModelView {
        ModelView {
            index,
            name: str_field(v, "model_name").unwrap_or_else(|| format!("#{index}")),
            started: ts_field(v, "started_at"),
            finished: ts_field(v, "finished_at"),
            duration_ms: u64_field(v, "duration_ms"),
            rows_affected: u64_field(v, "rows_affected"),
            status: str_field(v, "status"),
            sql_hash: str_field(v, "sql_hash"),
            recipe_hash: str_field(v, "recipe_hash"),
            env_hash: str_field(v, "env_hash"),
            hash_scheme: str_field(v, "hash_scheme"),
            source_path: str_field(v, "source_path"),
            materialization: str_field(v, "materialization"),
            target_table: str_field(v, "target_table"),
            output_column_hashes: v.get("output_column_hashes").and_then(column_hashes),
            consumed_column_hashes: v
                .get("upstream_freshness")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| {
                    Some((
                        str_field(u, "upstream_key")?,
                        column_hashes(u.get("consumed_column_hashes")?)?,
                    ))
                })
                .collect(),
            bytes_written: u64_field(v, "bytes_written"),
            skip_hash: str_field(v, "skip_hash"),
        }
    }

    /// Whether this entry records a failed materialization.
    pub fn failed(&self) -> bool {
        self.status.as_deref() == Some("failed")
    }
}

/// A `[{column, hash}]` list as `(column, hash)` pairs; `None` unless every entry has both.
fn column_hashes(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_array()?
        .iter()
        .map(|c| Some((str_field(c, "column")?, str_field(c, "hash")?)))
        .collect()
}

/// One decoded `output_artifacts` row of the run.
#[derive(Debug, Clone)]
pub struct ArtifactRow {
    pub blake3_hash: String,
    pub model_name: String,
    pub file_path: String,
    pub size_bytes: Option<u64>,
    /// The Delta commit version holding the file's `add` (rocky-writer: 0, no log).
    pub commit_version: Option<u64>,
}

impl ArtifactRow {
    /// Reads an artifact record value.
    pub fn from_value(v: &Value) -> ArtifactRow {
        ArtifactRow {
            blake3_hash: str_field(v, "blake3_hash").unwrap_or_default(),
            model_name: str_field(v, "model_name").unwrap_or_default(),
            file_path: str_field(v, "file_path").unwrap_or_default(),
            size_bytes: u64_field(v, "size_bytes"),
            commit_version: u64_field(v, "commit_version"),
        }
    }
}

/// One upstream of a provenance record.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// `{"kind":"content","upstream_key":K,"blake3_hash":H}`.
    Content { key: String, hash: String },
    /// `{"kind":"watermark",...}`.
    Watermark,
}

/// One decoded `input_provenance` row of the run.
#[derive(Debug, Clone)]
pub struct ProvRow {
    /// `model_name`: the model's project name.
    pub model_name: String,
    /// The parsed IR, when it parses.
    pub ir: Option<Value>,
    pub upstreams: Vec<Upstream>,
    pub output_blake3: Vec<String>,
    /// The decoded record, for [`crate::commands::record::check_provenance_with`].
    pub record: crate::model::records::ProvenanceRecord,
}

impl ProvRow {
    /// Reads a provenance record value; the IR is parsed with the strict canonical parser.
    pub fn from_value(v: &Value, record: crate::model::records::ProvenanceRecord) -> ProvRow {
        let ir = crate::canon::parse_strict(record.model_ir_canonical_json.as_bytes()).ok();
        let upstreams = v
            .get("upstreams")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| {
                        let key = str_field(u, "upstream_key")?;
                        match u.get("kind").and_then(Value::as_str)? {
                            "content" => Some(Upstream::Content {
                                key,
                                hash: str_field(u, "blake3_hash")?,
                            }),
                            "watermark" => Some(Upstream::Watermark),
                            _ => None,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let output_blake3 = v
            .get("output_blake3")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ProvRow {
            model_name: str_field(v, "model_name").unwrap_or_default(),
            ir,
            upstreams,
            output_blake3,
            record,
        }
    }

    /// The IR's `target` as `catalog.schema.table`.
    pub fn target(&self) -> Option<crate::evidence::warehouse::TableRef> {
        crate::evidence::warehouse::TableRef::from_ir_target(self.ir.as_ref()?.get("target")?)
    }

    /// The IR's materialization strategy name (`FullRefresh`, `ContentAddressed`, ...).
    pub fn strategy(&self) -> Option<String> {
        str_field(self.ir.as_ref()?.get("materialization")?, "strategy")
    }

    /// The IR's `typed_columns` as `(name, data_type)`.
    pub fn typed_columns(&self) -> Vec<(String, Value)> {
        self.ir
            .as_ref()
            .and_then(|ir| ir.get("typed_columns"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some((
                            str_field(c, "name")?,
                            c.get("data_type").cloned().unwrap_or(Value::Null),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of the IR's `typed_columns` whose `nullable` is `true` (or not stated).
    pub fn nullable_columns(&self) -> Vec<String> {
        self.ir
            .as_ref()
            .and_then(|ir| ir.get("typed_columns"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|c| c.get("nullable").and_then(Value::as_bool) != Some(false))
                    .filter_map(|c| str_field(c, "name"))
                    .collect()
            })
            .unwrap_or_default()
    }
}
