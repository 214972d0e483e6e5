//! Ledger record types, byte-compatible with Rocky's serde encoding (spec/records/).
//!
//! Fields are declared in Rocky's order, so `serde_json::to_vec` writes them in Rocky's order.
//! Timestamps are written as chrono's serde form (`SecondsFormat::AutoSi`, `Z`). rocky-writer's
//! extension fields come after Rocky's and are omitted when `None`, so a record without them is
//! byte-identical to Rocky's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Serde for `DateTime<Utc>` exactly as chrono's serde feature writes it (RFC 3339, `Z`, 0/3/6/9
/// fraction digits); reading accepts any RFC 3339 offset and converts to UTC.
pub mod ts {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// The text form: `2026-05-30T11:04:22.643Z`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Parses RFC 3339 text into UTC.
    pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
    }

    /// Serialises a timestamp.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    /// Deserialises a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>` (`null` when None).
    pub mod option {
        use super::*;

        /// Serialises an optional timestamp.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&format(t)),
                None => s.serialize_none(),
            }
        }

        /// Deserialises an optional timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(s) => parse(&s).map(Some).map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// `RunStatus`, externally tagged unit variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RunStatus {
    Success,
    PartialFailure,
    Failure,
    SkippedIdempotent,
    SkippedInFlight,
}

/// `RunTrigger`, externally tagged unit variants (note `Ci`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RunTrigger {
    Manual,
    Sensor,
    Schedule,
    Ci,
    Webhook,
}

/// `SessionSource`, snake_case. There is no `ci` session source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SessionSource {
    #[default]
    Cli,
    Dagster,
    Lsp,
    HttpApi,
}

/// `ModelExecution.status`: `success` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum ExecutionStatus {
    Success,
    Failed,
}

/// `ProofClass`: `heuristic` < `strong`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofClass {
    /// Some upstream is identified only by a watermark.
    Heuristic,
    /// Every upstream is identified by content.
    Strong,
}

/// `ModelExecution.hash_scheme` (spec/hashes.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashScheme {
    /// Rocky: `sql_hash` is the SipHash-1-3 fingerprint.
    #[serde(rename = "v1")]
    V1,
    /// rocky-writer: `sql_hash` is blake3 of the model source bytes.
    #[serde(rename = "v1+blake3-sql")]
    V1Blake3Sql,
}

/// rocky-writer extension `ModelExecution.materialization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum MaterializationKind {
    FullRefresh,
    Incremental,
    Merge,
    ContentAddressed,
    View,
}

/// `ColumnHash`: blake3 of a one-column Arrow IPC stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnHash {
    /// Column name.
    pub column: String,
    /// Hex blake3.
    pub hash: String,
}

/// `UpstreamSig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSig {
    /// `catalog.schema.table`.
    pub upstream_key: String,
    /// Upstream max timestamp.
    #[serde(default, with = "ts::option")]
    pub max_ts: Option<DateTime<Utc>>,
    /// Upstream row count.
    #[serde(default)]
    pub row_count: Option<u64>,
    /// Column hashes consumed.
    #[serde(default)]
    pub consumed_column_hashes: Option<Vec<ColumnHash>>,
}

/// `AttemptRecord`: one try of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1-based attempt number.
    pub attempt: u32,
    /// Outcome.
    pub outcome: ExecutionStatus,
    /// Failure class; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<String>,
    /// Transient failure kind; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transient_kind: Option<String>,
    /// Error text; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Backoff before the next attempt; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
    /// Duration of this attempt.
    pub duration_ms: u64,
}

/// `ModelExecution`, one entry of `RunRecord.models_executed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelExecution {
    /// The target table name (last element of the asset key), not `ModelIr.name`.
    pub model_name: String,
    /// Start time.
    #[serde(with = "ts")]
    pub started_at: DateTime<Utc>,
    /// `started_at + duration_ms`.
    #[serde(with = "ts")]
    pub finished_at: DateTime<Utc>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Row count on the content-addressed path.
    #[serde(default)]
    pub rows_affected: Option<u64>,
    /// `success` or `failed`.
    pub status: ExecutionStatus,
    /// See [`HashScheme`]; `""` on failed entries.
    pub sql_hash: String,
    /// 64 hex blake3 or null.
    #[serde(default)]
    pub skip_hash: Option<String>,
    /// Upstream signatures.
    #[serde(default)]
    pub upstream_freshness: Option<Vec<UpstreamSig>>,
    /// Bytes scanned.
    #[serde(default)]
    pub bytes_scanned: Option<u64>,
    /// Bytes written (Parquet size on the content-addressed path).
    #[serde(default)]
    pub bytes_written: Option<u64>,
    /// Tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// blake3 of the canonical ModelIr.
    #[serde(default)]
    pub recipe_hash: Option<String>,
    /// The watermark variant of input_hash (skip-gate path only).
    #[serde(default)]
    pub input_hash: Option<String>,
    /// Proof class of `input_hash`.
    #[serde(default)]
    pub input_proof_class: Option<ProofClass>,
    /// blake3 of the canonical EnvIdentity.
    #[serde(default)]
    pub env_hash: Option<String>,
    /// How `sql_hash` was computed.
    #[serde(default)]
    pub hash_scheme: Option<HashScheme>,
    /// Per-column output hashes.
    #[serde(default)]
    pub output_column_hashes: Option<Vec<ColumnHash>>,
    /// Attempts; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptRecord>,
    /// Extension: repo-relative path of the model source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    /// Extension: materialisation kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialization: Option<MaterializationKind>,
    /// Extension: target table as `catalog.schema.table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_table: Option<String>,
}

/// One check outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// Check name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
}

fn default_hostname() -> String {
    "unknown".into()
}

fn default_rocky_version() -> String {
    "<pre-audit>".into()
}

/// `RunRecord`, the value of `run_history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id; also the key.
    pub run_id: String,
    /// Run start.
    #[serde(with = "ts")]
    pub started_at: DateTime<Utc>,
    /// Run finish.
    #[serde(with = "ts")]
    pub finished_at: DateTime<Utc>,
    /// Run status.
    pub status: RunStatus,
    /// Model executions.
    pub models_executed: Vec<ModelExecution>,
    /// What triggered the run.
    pub trigger: RunTrigger,
    /// SipHash-1-3 of the raw `rocky.toml`, or `"unknown"`.
    pub config_hash: String,
    /// Who triggered the run.
    #[serde(default)]
    pub triggering_identity: Option<String>,
    /// Session source.
    #[serde(default)]
    pub session_source: SessionSource,
    /// Git commit of the project.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// Git branch.
    #[serde(default)]
    pub git_branch: Option<String>,
    /// Idempotency key.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Target catalog.
    #[serde(default)]
    pub target_catalog: Option<String>,
    /// Host name.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Engine version.
    #[serde(default = "default_rocky_version")]
    pub rocky_version: String,
    /// Check outcomes (always written).
    #[serde(default)]
    pub check_outcomes: Vec<CheckOutcome>,
    /// Pipeline name.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Submission id.
    #[serde(default)]
    pub submission_id: Option<String>,
    /// Extension: blake3 of the raw `rocky.toml` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_blake3: Option<String>,
    /// Extension: repo-relative config path when it is not `rocky.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
}

/// `ArtifactRecord`, the value of `output_artifacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Hex blake3 of the whole Parquet file.
    pub blake3_hash: String,
    /// Run id.
    pub run_id: String,
    /// The model's project name (`ModelIr.name`).
    pub model_name: String,
    /// Path of the file (rocky-writer: relative to the ledger's folder, `/`-separated).
    pub file_path: String,
    /// Delta log version (rocky-writer: 0, there is no Delta log).
    pub commit_version: u64,
    /// File size in bytes.
    pub size_bytes: u64,
    /// When the row was recorded.
    #[serde(with = "ts")]
    pub written_at: DateTime<Utc>,
}

/// `UpstreamIdentity`, internally tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpstreamIdentity {
    /// A strong upstream, identified by the blake3 of its content.
    Content {
        /// `catalog.schema.table`.
        upstream_key: String,
        /// Hex blake3.
        blake3_hash: String,
    },
    /// A heuristic upstream, identified by a watermark.
    Watermark {
        /// `catalog.schema.table`.
        upstream_key: String,
        /// Timestamp text, exactly as recorded; omitted when None.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ts: Option<String>,
        /// Row count; omitted when None.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        row_count: Option<u64>,
    },
}

impl UpstreamIdentity {
    /// The upstream's `catalog.schema.table`.
    pub fn upstream_key(&self) -> &str {
        match self {
            UpstreamIdentity::Content { upstream_key, .. }
            | UpstreamIdentity::Watermark { upstream_key, .. } => upstream_key,
        }
    }

    /// `strong` for content, `heuristic` for watermark.
    pub fn proof_class(&self) -> ProofClass {
        match self {
            UpstreamIdentity::Content { .. } => ProofClass::Strong,
            UpstreamIdentity::Watermark { .. } => ProofClass::Heuristic,
        }
    }
}

/// `InputIndexEntry`, the value of `input_index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputIndexEntry {
    /// Also the key.
    pub input_hash: String,
    /// The run that built the output.
    pub run_id: String,
    /// `ModelIr.name`.
    pub model_name: String,
    /// Hex blake3 of each output.
    #[serde(default)]
    pub output_blake3: Vec<String>,
    /// Path of each output.
    #[serde(default)]
    pub output_path: Vec<String>,
    /// Proof class.
    pub proof_class: ProofClass,
    /// When recorded.
    #[serde(with = "ts")]
    pub recorded_at: DateTime<Utc>,
}

/// `ProvenanceRecord`, the value of `input_provenance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceRecord {
    /// Run id.
    pub run_id: String,
    /// `ModelIr.name`.
    pub model_name: String,
    /// blake3 of the canonical input identity.
    pub input_hash: String,
    /// The model's skip hash.
    pub skip_hash: String,
    /// Canonical JSON of the whole ModelIr.
    pub model_ir_canonical_json: String,
    /// Upstreams, in recorded order.
    #[serde(default)]
    pub upstreams: Vec<UpstreamIdentity>,
    /// Hex blake3 of each output.
    pub output_blake3: Vec<String>,
    /// Path of each output.
    pub output_path: Vec<String>,
    /// Proof class.
    pub proof_class: ProofClass,
    /// When recorded.
    #[serde(with = "ts")]
    pub recorded_at: DateTime<Utc>,
}

/// `WatermarkState`, the value of `watermarks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkState {
    /// The watermark value.
    #[serde(with = "ts")]
    pub last_value: DateTime<Utc>,
    /// When it was updated.
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

/// `CheckSnapshot`, one element of a `check_history` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSnapshot {
    /// When taken.
    #[serde(with = "ts")]
    pub timestamp: DateTime<Utc>,
    /// Row count.
    pub row_count: u64,
}

/// `BranchRecord`, the value of `branches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchRecord {
    /// Branch name; also the key.
    pub name: String,
    /// `branch__<name>`.
    pub schema_prefix: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_autosi_fractions_and_z() {
        let t = ts::parse("2026-05-30T11:04:22.643494123Z").unwrap();
        assert_eq!(ts::format(&t), "2026-05-30T11:04:22.643494123Z");
        let t = ts::parse("2026-05-30T11:04:22.640+00:00").unwrap();
        assert_eq!(ts::format(&t), "2026-05-30T11:04:22.640Z");
        let t = ts::parse("2026-05-30T11:04:22Z").unwrap();
        assert_eq!(ts::format(&t), "2026-05-30T11:04:22Z");
    }

    #[test]
    fn ci_is_a_trigger_not_a_session_source() {
        assert!(serde_json::from_str::<SessionSource>("\"ci\"").is_err());
        assert_eq!(
            serde_json::from_str::<RunTrigger>("\"Ci\"").unwrap(),
            RunTrigger::Ci
        );
    }
}
