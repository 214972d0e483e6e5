//! Ledger records decoded into checked types (`spec/records/*.schema.json`, `spec/ledger.md`).
//!
//! Each value is first parsed as plain JSON ([`crate::canon::parse_strict`]: no duplicate keys, no
//! trailing data, bounded depth), then every field is validated on its own, so an error names the
//! field and what is wrong with it. Absent fields take Rocky's defaults; unknown fields are ignored
//! as Rocky ignores them, except rocky-writer's extension fields, which are read and type-checked.
//!
//! The error code of a [`RecordError`] follows the record being decoded, not the innermost part
//! that was wrong: a bad `ModelExecution` inside a `RunRecord` makes the run record undecodable
//! (`run_record_invalid`), as it does for Rocky's serde.
//!
//! [`RunRecord::to_rocky_json`] and its siblings write a record back as Rocky would (declaration
//! order, `None` as `null` or omitted per field). The verifier uses them only to prove, against the
//! spec vectors, that decoding kept every field Rocky keeps.

use std::fmt;

use serde_json::{Map, Value};

use crate::canon::{self, CanonError};
use crate::checks::catalogue::Code;

pub use crate::model::run_id::{RunIdForm, classify_run_id, rocky_run_id};
pub use crate::model::timestamp::{Timestamp, TimestampError};

// ---------------------------------------------------------------------------------------------
// Errors

/// The kinds of record this module decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// `run_history` value.
    RunRecord,
    /// One element of `RunRecord.models_executed`.
    ModelExecution,
    /// `output_artifacts` value.
    ArtifactRecord,
    /// `input_provenance` value.
    ProvenanceRecord,
    /// One element of `ProvenanceRecord.upstreams`.
    UpstreamIdentity,
    /// `input_index` value.
    InputIndexEntry,
    /// `watermarks` value.
    WatermarkState,
    /// One element of a `check_history` value.
    CheckSnapshot,
    /// `check_history` value.
    CheckHistory,
    /// `branches` value.
    BranchRecord,
}

impl RecordType {
    /// The record's name as in `spec/records/`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::RunRecord => "RunRecord",
            RecordType::ModelExecution => "ModelExecution",
            RecordType::ArtifactRecord => "ArtifactRecord",
            RecordType::ProvenanceRecord => "ProvenanceRecord",
            RecordType::UpstreamIdentity => "UpstreamIdentity",
            RecordType::InputIndexEntry => "InputIndexEntry",
            RecordType::WatermarkState => "WatermarkState",
            RecordType::CheckSnapshot => "CheckSnapshot",
            RecordType::CheckHistory => "CheckHistory",
            RecordType::BranchRecord => "BranchRecord",
        }
    }

    /// The finding code for an undecodable record of this type (`spec/report.md`). Parts of a
    /// record report their container's code: `UpstreamIdentity` as `provenance_record_invalid`,
    /// `CheckSnapshot` as `check_history_invalid`.
    pub fn invalid_code(self) -> Code {
        match self {
            RecordType::RunRecord => Code::RunRecordInvalid,
            RecordType::ModelExecution => Code::ModelExecutionInvalid,
            RecordType::ArtifactRecord => Code::ArtifactRecordInvalid,
            RecordType::ProvenanceRecord | RecordType::UpstreamIdentity => {
                Code::ProvenanceRecordInvalid
            }
            RecordType::InputIndexEntry => Code::InputIndexEntryInvalid,
            RecordType::WatermarkState => Code::WatermarkStateInvalid,
            RecordType::CheckSnapshot | RecordType::CheckHistory => Code::CheckHistoryInvalid,
            RecordType::BranchRecord => Code::BranchRecordInvalid,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The bytes are not one strict JSON document.
    Json(CanonError),
    /// A required field is absent.
    Missing,
    /// The field has the wrong JSON type.
    WrongType {
        /// What the record format requires.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A number outside the field's range (negative, fractional or too large for its integer type).
    OutOfRange {
        /// The integer type, e.g. `u64`.
        expected: &'static str,
    },
    /// A string that is not one of the allowed spellings.
    NotAllowed {
        /// The value found (truncated to 64 characters).
        value: String,
        /// The allowed spellings.
        allowed: &'static [&'static str],
    },
    /// A string that does not have the required shape.
    BadShape {
        /// The value found (truncated to 64 characters).
        value: String,
        /// The shape required.
        expected: &'static str,
    },
    /// A timestamp not in a form Rocky writes.
    Timestamp(TimestampError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Json(e) => write!(f, "not a JSON document: {e}"),
            Problem::Missing => f.write_str("required field is missing"),
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::OutOfRange { expected } => write!(f, "number is not a {expected}"),
            Problem::NotAllowed { value, allowed } => {
                write!(f, "{value:?} is not one of {}", allowed.join(", "))
            }
            Problem::BadShape { value, expected } => write!(f, "{value:?} is not {expected}"),
            Problem::Timestamp(e) => write!(f, "invalid timestamp: {e}"),
        }
    }
}

/// A record that could not be decoded: which record, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RecordError {
    /// The record being decoded (decides the finding code).
    pub record: RecordType,
    /// Path of the offending field, e.g. `models_executed[1].status`; empty for the whole value.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl RecordError {
    /// The finding code from `spec/report.md`, e.g. `run_record_invalid`.
    pub fn code(&self) -> Code {
        self.record.invalid_code()
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "invalid {}: {}", self.record.as_str(), self.problem)
        } else {
            write!(
                f,
                "invalid {}: field {}: {}",
                self.record.as_str(),
                self.field,
                self.problem
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field access

/// A JSON object being decoded, with the path of the record it belongs to.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    record: RecordType,
    path: String,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, record: RecordType, path: String) -> Result<Self, RecordError> {
        match value {
            Value::Object(map) => Ok(Obj { map, record, path }),
            other => Err(RecordError {
                record,
                field: path,
                problem: Problem::WrongType {
                    expected: "an object",
                    found: json_type(other),
                },
            }),
        }
    }

    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn err(&self, key: &str, problem: Problem) -> RecordError {
        RecordError {
            record: self.record,
            field: self.field_path(key),
            problem,
        }
    }

    fn wrong(&self, key: &str, expected: &'static str, found: &Value) -> RecordError {
        self.err(
            key,
            Problem::WrongType {
                expected,
                found: json_type(found),
            },
        )
    }

    /// The value of a required field (`null` is a value here; the caller decides).
    fn required(&self, key: &str) -> Result<&'a Value, RecordError> {
        self.map
            .get(key)
            .ok_or_else(|| self.err(key, Problem::Missing))
    }

    /// An `Option` field: absent and `null` are both `None`.
    fn optional(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req_str(&self, key: &str) -> Result<String, RecordError> {
        let v = self.required(key)?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong(key, "a string", v))
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, RecordError> {
        self.optional(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong(key, "a string", v))
            })
            .transpose()
    }

    /// A non-`Option` field with a serde default: absent gives the default, `null` is an error.
    fn default_str(&self, key: &str, default: &str) -> Result<String, RecordError> {
        match self.map.get(key) {
            None => Ok(default.to_owned()),
            Some(v) => v
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| self.wrong(key, "a string", v)),
        }
    }

    /// A rocky-writer extension string: absent is `None`; present it must be a string.
    fn ext_str(&self, key: &str) -> Result<Option<String>, RecordError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| self.wrong(key, "a string", v)),
        }
    }

    fn u64_of(&self, key: &str, v: &Value) -> Result<u64, RecordError> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| self.err(key, Problem::OutOfRange { expected: "u64" })),
            other => Err(self.wrong(key, "an unsigned integer", other)),
        }
    }

    fn req_u64(&self, key: &str) -> Result<u64, RecordError> {
        let v = self.required(key)?;
        self.u64_of(key, v)
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, RecordError> {
        self.optional(key).map(|v| self.u64_of(key, v)).transpose()
    }

    fn req_u32(&self, key: &str) -> Result<u32, RecordError> {
        let n = self.req_u64(key)?;
        u32::try_from(n).map_err(|_| self.err(key, Problem::OutOfRange { expected: "u32" }))
    }

    fn req_bool(&self, key: &str) -> Result<bool, RecordError> {
        let v = self.required(key)?;
        v.as_bool().ok_or_else(|| self.wrong(key, "a boolean", v))
    }

    fn timestamp_of(&self, key: &str, v: &Value) -> Result<Timestamp, RecordError> {
        let s = v
            .as_str()
            .ok_or_else(|| self.wrong(key, "a timestamp string", v))?;
        Timestamp::parse_record(s).map_err(|e| self.err(key, Problem::Timestamp(e)))
    }

    fn req_timestamp(&self, key: &str) -> Result<Timestamp, RecordError> {
        let v = self.required(key)?;
        self.timestamp_of(key, v)
    }

    fn opt_timestamp(&self, key: &str) -> Result<Option<Timestamp>, RecordError> {
        self.optional(key)
            .map(|v| self.timestamp_of(key, v))
            .transpose()
    }

    fn enum_of<T: Copy>(
        &self,
        key: &str,
        v: &Value,
        table: &'static [(&'static str, T)],
        allowed: &'static [&'static str],
    ) -> Result<T, RecordError> {
        let s = v.as_str().ok_or_else(|| self.wrong(key, "a string", v))?;
        table
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                self.err(
                    key,
                    Problem::NotAllowed {
                        value: truncated(s),
                        allowed,
                    },
                )
            })
    }

    /// An array field; `each` decodes one element given its path.
    fn array_of<T>(
        &self,
        key: &str,
        v: &'a Value,
        mut each: impl FnMut(&'a Value, String) -> Result<T, RecordError>,
    ) -> Result<Vec<T>, RecordError> {
        let items = v.as_array().ok_or_else(|| self.wrong(key, "an array", v))?;
        let base = self.field_path(key);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| each(item, format!("{base}[{i}]")))
            .collect()
    }

    fn strings_of(&self, key: &str, v: &'a Value) -> Result<Vec<String>, RecordError> {
        let record = self.record;
        self.array_of(key, v, |item, path| {
            item.as_str().map(str::to_owned).ok_or_else(|| RecordError {
                record,
                field: path,
                problem: Problem::WrongType {
                    expected: "a string",
                    found: json_type(item),
                },
            })
        })
    }

    /// A `Vec<String>` with a serde default: absent is `[]`, `null` is an error.
    fn default_strings(&self, key: &str) -> Result<Vec<String>, RecordError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(v) => self.strings_of(key, v),
        }
    }

    fn req_strings(&self, key: &str) -> Result<Vec<String>, RecordError> {
        let v = self.required(key)?;
        self.strings_of(key, v)
    }

    /// A nested object at `key`, decoded with the same record type.
    fn child(&self, v: &'a Value, path: String) -> Result<Obj<'a>, RecordError> {
        Obj::new(v, self.record, path)
    }
}

/// Parses a ledger value as the strict decoders do ([`canon::parse_strict`]); the error is the
/// `record`'s (its finding code). The first half of every `decode_*`, for callers that keep the
/// value too.
///
/// # Errors
///
/// [`RecordError`] with [`Problem::Json`] and an empty field.
pub fn parse_document(bytes: &[u8], record: RecordType) -> Result<Value, RecordError> {
    canon::parse_strict(bytes).map_err(|e| RecordError {
        record,
        field: String::new(),
        problem: Problem::Json(e),
    })
}

// ---------------------------------------------------------------------------------------------
// Enums

macro_rules! spelled_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every spelling, in the order of the record schema.
            pub const SPELLINGS: &'static [&'static str] = &[$($text),+];
            const TABLE: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];

            /// The spelling as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant for a stored spelling (exact, case-sensitive).
            pub fn parse(s: &str) -> Option<Self> {
                Self::TABLE.iter().find(|(t, _)| *t == s).map(|(_, v)| *v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled_enum! {
    /// `RunRecord.status` (`RunStatus`, PascalCase).
    RunStatus {
        /// Every model succeeded.
        Success = "Success",
        /// Some models failed.
        PartialFailure = "PartialFailure",
        /// The run failed.
        Failure = "Failure",
        /// Skipped: the idempotency key had already succeeded.
        SkippedIdempotent = "SkippedIdempotent",
        /// Skipped: a run with the same idempotency key was in flight.
        SkippedInFlight = "SkippedInFlight",
    }
}

spelled_enum! {
    /// `RunRecord.trigger` (`RunTrigger`, PascalCase).
    RunTrigger {
        /// Started by hand.
        Manual = "Manual",
        /// Started by a sensor.
        Sensor = "Sensor",
        /// Started by a schedule.
        Schedule = "Schedule",
        /// Started by CI.
        Ci = "Ci",
        /// Started by a webhook.
        Webhook = "Webhook",
    }
}

spelled_enum! {
    /// `RunRecord.session_source` (`SessionSource`, snake_case).
    SessionSource {
        /// The command line.
        Cli = "cli",
        /// Dagster.
        Dagster = "dagster",
        /// The language server.
        Lsp = "lsp",
        /// The HTTP API.
        HttpApi = "http_api",
    }
}

spelled_enum! {
    /// `ModelExecution.status` and `AttemptRecord.outcome` (lowercase strings).
    ExecutionStatus {
        /// Succeeded.
        Success = "success",
        /// Failed.
        Failed = "failed",
    }
}

spelled_enum! {
    /// `proof_class` and `input_proof_class` (`ProofClass`, snake_case).
    ProofClass {
        /// Every upstream is content-addressed.
        Strong = "strong",
        /// Some upstream is a watermark.
        Heuristic = "heuristic",
    }
}

spelled_enum! {
    /// rocky-writer's `ModelExecution.materialization` extension.
    Materialization {
        /// Full refresh.
        FullRefresh = "full_refresh",
        /// Incremental.
        Incremental = "incremental",
        /// Merge.
        Merge = "merge",
        /// Content-addressed Parquet.
        ContentAddressed = "content_addressed",
        /// View.
        View = "view",
    }
}

// ---------------------------------------------------------------------------------------------
// Records

/// `RunRecord` (`run_history` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The run id (also the key).
    pub run_id: String,
    /// Run start.
    pub started_at: Timestamp,
    /// Run finish.
    pub finished_at: Timestamp,
    /// Run status.
    pub status: RunStatus,
    /// Every model execution, in recorded order.
    pub models_executed: Vec<ModelExecution>,
    /// What started the run.
    pub trigger: RunTrigger,
    /// SipHash of `rocky.toml` (16 hex) or `"unknown"`.
    pub config_hash: String,
    /// Self-reported user.
    pub triggering_identity: Option<String>,
    /// Session source (default `cli`).
    pub session_source: SessionSource,
    /// Recorded git commit.
    pub git_commit: Option<String>,
    /// Recorded git branch.
    pub git_branch: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Target catalog.
    pub target_catalog: Option<String>,
    /// Host name (default `unknown`).
    pub hostname: String,
    /// Engine version (default `<pre-audit>`).
    pub rocky_version: String,
    /// Check outcomes (default `[]`).
    pub check_outcomes: Vec<CheckOutcome>,
    /// Pipeline name.
    pub pipeline: Option<String>,
    /// Submission id.
    pub submission_id: Option<String>,
    /// rocky-writer extension: BLAKE3 of the raw config bytes.
    pub config_blake3: Option<String>,
    /// rocky-writer extension: repo-relative config path when not `rocky.toml`.
    pub config_path: Option<String>,
}

/// One `RunRecord.check_outcomes` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Check name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
}

/// `ModelExecution` (one element of `RunRecord.models_executed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelExecution {
    /// The **target table** name (not `ModelIr.name`).
    pub model_name: String,
    /// Start.
    pub started_at: Timestamp,
    /// Finish.
    pub finished_at: Timestamp,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Rows affected.
    pub rows_affected: Option<u64>,
    /// `success` or `failed`.
    pub status: ExecutionStatus,
    /// SipHash fingerprint (16 hex), BLAKE3 of the source (64 hex), or `""`.
    pub sql_hash: String,
    /// Skip hash (64 hex).
    pub skip_hash: Option<String>,
    /// Upstream signatures.
    pub upstream_freshness: Option<Vec<UpstreamSig>>,
    /// Bytes scanned.
    pub bytes_scanned: Option<u64>,
    /// Bytes written.
    pub bytes_written: Option<u64>,
    /// Tenant.
    pub tenant: Option<String>,
    /// Recipe hash (64 hex).
    pub recipe_hash: Option<String>,
    /// Watermark-variant input hash (64 hex).
    pub input_hash: Option<String>,
    /// Proof class of `input_hash`.
    pub input_proof_class: Option<ProofClass>,
    /// Environment hash (64 hex).
    pub env_hash: Option<String>,
    /// Hash scheme (`v1`, `v1+blake3-sql`, ...).
    pub hash_scheme: Option<String>,
    /// Output column hashes.
    pub output_column_hashes: Option<Vec<ColumnHash>>,
    /// Attempts (default `[]`).
    pub attempts: Vec<AttemptRecord>,
    /// rocky-writer extension: repo-relative path of the model source.
    pub source_path: Option<String>,
    /// rocky-writer extension: materialization kind.
    pub materialization: Option<Materialization>,
    /// rocky-writer extension: `catalog.schema.table`.
    pub target_table: Option<String>,
}

/// `UpstreamSig` (an element of `ModelExecution.upstream_freshness`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSig {
    /// `catalog.schema.table`.
    pub upstream_key: String,
    /// Upstream watermark.
    pub max_ts: Option<Timestamp>,
    /// Upstream row count.
    pub row_count: Option<u64>,
    /// Consumed column hashes.
    pub consumed_column_hashes: Option<Vec<ColumnHash>>,
}

/// `ColumnHash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnHash {
    /// Column name.
    pub column: String,
    /// BLAKE3 of the column's Arrow IPC stream.
    pub hash: String,
}

/// `AttemptRecord`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// 1-based attempt number.
    pub attempt: u32,
    /// `success` or `failed`.
    pub outcome: ExecutionStatus,
    /// Omitted when None; its type is not transcribed in the spec, so kept as JSON.
    pub failure_class: Option<Value>,
    /// Omitted when None; kept as JSON.
    pub transient_kind: Option<Value>,
    /// Omitted when None; kept as JSON.
    pub error: Option<Value>,
    /// Omitted when None; kept as JSON.
    pub backoff_ms: Option<Value>,
    /// Attempt duration.
    pub duration_ms: u64,
}

impl Eq for AttemptRecord {}

/// `ArtifactRecord` (`output_artifacts` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRecord {
    /// BLAKE3 of the Parquet file.
    pub blake3_hash: String,
    /// The run.
    pub run_id: String,
    /// The model's project name (`ModelIr.name`).
    pub model_name: String,
    /// Where the file was written (bucket-relative key or URL).
    pub file_path: String,
    /// Delta log version.
    pub commit_version: u64,
    /// File size.
    pub size_bytes: u64,
    /// When the row was recorded.
    pub written_at: Timestamp,
}

/// `UpstreamIdentity` (an element of `ProvenanceRecord.upstreams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamIdentity {
    /// A content-addressed upstream (strong).
    Content {
        /// `catalog.schema.table`.
        upstream_key: String,
        /// BLAKE3 of the upstream's content.
        blake3_hash: String,
    },
    /// A watermark upstream (heuristic).
    Watermark {
        /// `catalog.schema.table`.
        upstream_key: String,
        /// The watermark, text kept as recorded (it is hashed as text).
        max_ts: Option<Timestamp>,
        /// Row count.
        row_count: Option<u64>,
    },
}

impl UpstreamIdentity {
    /// The upstream key.
    pub fn upstream_key(&self) -> &str {
        match self {
            UpstreamIdentity::Content { upstream_key, .. }
            | UpstreamIdentity::Watermark { upstream_key, .. } => upstream_key,
        }
    }

    /// `content` or `watermark`.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamIdentity::Content { .. } => "content",
            UpstreamIdentity::Watermark { .. } => "watermark",
        }
    }

    /// The JSON value Rocky hashes for this upstream: the tag and the variant's fields, `max_ts`
    /// and `row_count` omitted when None, unknown keys dropped (Rocky re-serialises its typed
    /// value).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("kind".to_owned(), Value::from(self.kind()));
        map.insert("upstream_key".to_owned(), Value::from(self.upstream_key()));
        match self {
            UpstreamIdentity::Content { blake3_hash, .. } => {
                map.insert("blake3_hash".to_owned(), Value::from(blake3_hash.as_str()));
            }
            UpstreamIdentity::Watermark {
                max_ts, row_count, ..
            } => {
                if let Some(ts) = max_ts {
                    map.insert("max_ts".to_owned(), Value::from(ts.text.as_str()));
                }
                if let Some(n) = row_count {
                    map.insert("row_count".to_owned(), Value::from(*n));
                }
            }
        }
        Value::Object(map)
    }
}

/// `ProvenanceRecord` (`input_provenance` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceRecord {
    /// The run.
    pub run_id: String,
    /// The model's project name (`ModelIr.name`).
    pub model_name: String,
    /// Input hash (content variant).
    pub input_hash: String,
    /// The model's skip hash.
    pub skip_hash: String,
    /// The canonical JSON of the whole `ModelIr`, as recorded.
    pub model_ir_canonical_json: String,
    /// Upstreams (default `[]`).
    pub upstreams: Vec<UpstreamIdentity>,
    /// BLAKE3 of each output file.
    pub output_blake3: Vec<String>,
    /// Path of each output file.
    pub output_path: Vec<String>,
    /// Recorded proof class.
    pub proof_class: ProofClass,
    /// When recorded.
    pub recorded_at: Timestamp,
}

/// `InputIndexEntry` (`input_index` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputIndexEntry {
    /// Input hash (also the key).
    pub input_hash: String,
    /// The run that built the output.
    pub run_id: String,
    /// The model's project name.
    pub model_name: String,
    /// BLAKE3 of each output (default `[]`).
    pub output_blake3: Vec<String>,
    /// Path of each output (default `[]`).
    pub output_path: Vec<String>,
    /// Proof class.
    pub proof_class: ProofClass,
    /// When recorded.
    pub recorded_at: Timestamp,
}

/// `WatermarkState` (`watermarks` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkState {
    /// The watermark.
    pub last_value: Timestamp,
    /// When it was updated.
    pub updated_at: Timestamp,
}

/// `CheckSnapshot` (an element of a `check_history` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSnapshot {
    /// When taken.
    pub timestamp: Timestamp,
    /// Row count.
    pub row_count: u64,
}

/// `BranchRecord` (`branches` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    /// Branch name.
    pub name: String,
    /// `branch__<name>`.
    pub schema_prefix: String,
    /// Creator.
    pub created_by: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Description.
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decodes a `run_history` value.
///
/// # Errors
///
/// [`RecordError`] with code `run_record_invalid`, naming the first bad field (a bad model
/// execution is reported at its path, e.g. `models_executed[0].status`).
pub fn decode_run_record(bytes: &[u8]) -> Result<RunRecord, RecordError> {
    run_record_from_value(&parse_document(bytes, RecordType::RunRecord)?)
}

/// [`decode_run_record`] on a value already parsed with [`parse_document`] (one parse serves the
/// typed record and the checks' view).
///
/// # Errors
///
/// As [`decode_run_record`], except for JSON syntax.
pub fn run_record_from_value(value: &Value) -> Result<RunRecord, RecordError> {
    run_record_from(&Obj::new(value, RecordType::RunRecord, String::new())?)
}

fn run_record_from(o: &Obj<'_>) -> Result<RunRecord, RecordError> {
    let models = o.required("models_executed")?;
    let record = o.record;
    Ok(RunRecord {
        run_id: o.req_str("run_id")?,
        started_at: o.req_timestamp("started_at")?,
        finished_at: o.req_timestamp("finished_at")?,
        status: o.enum_of(
            "status",
            o.required("status")?,
            RunStatus::TABLE,
            RunStatus::SPELLINGS,
        )?,
        models_executed: o.array_of("models_executed", models, |v, path| {
            model_execution_from(&Obj::new(v, record, path)?)
        })?,
        trigger: o.enum_of(
            "trigger",
            o.required("trigger")?,
            RunTrigger::TABLE,
            RunTrigger::SPELLINGS,
        )?,
        config_hash: o.req_str("config_hash")?,
        triggering_identity: o.opt_str("triggering_identity")?,
        session_source: match o.map.get("session_source") {
            None => SessionSource::Cli,
            Some(v) => o.enum_of(
                "session_source",
                v,
                SessionSource::TABLE,
                SessionSource::SPELLINGS,
            )?,
        },
        git_commit: o.opt_str("git_commit")?,
        git_branch: o.opt_str("git_branch")?,
        idempotency_key: o.opt_str("idempotency_key")?,
        target_catalog: o.opt_str("target_catalog")?,
        hostname: o.default_str("hostname", "unknown")?,
        rocky_version: o.default_str("rocky_version", "<pre-audit>")?,
        check_outcomes: match o.map.get("check_outcomes") {
            None => Vec::new(),
            Some(v) => o.array_of("check_outcomes", v, |item, path| {
                let c = o.child(item, path)?;
                Ok(CheckOutcome {
                    name: c.req_str("name")?,
                    passed: c.req_bool("passed")?,
                })
            })?,
        },
        pipeline: o.opt_str("pipeline")?,
        submission_id: o.opt_str("submission_id")?,
        config_blake3: o.ext_str("config_blake3")?,
        config_path: o.ext_str("config_path")?,
    })
}

/// Decodes one `ModelExecution` on its own.
///
/// # Errors
///
/// [`RecordError`] with code `model_execution_invalid`.
pub fn decode_model_execution(bytes: &[u8]) -> Result<ModelExecution, RecordError> {
    model_execution_from_value(&parse_document(bytes, RecordType::ModelExecution)?)
}

/// [`decode_model_execution`] on one already parsed `models_executed` element.
///
/// # Errors
///
/// As [`decode_model_execution`], except for JSON syntax.
pub fn model_execution_from_value(value: &Value) -> Result<ModelExecution, RecordError> {
    model_execution_from(&Obj::new(value, RecordType::ModelExecution, String::new())?)
}

fn column_hashes(o: &Obj<'_>, key: &str) -> Result<Option<Vec<ColumnHash>>, RecordError> {
    o.optional(key)
        .map(|v| {
            o.array_of(key, v, |item, path| {
                let c = o.child(item, path)?;
                Ok(ColumnHash {
                    column: c.req_str("column")?,
                    hash: c.req_str("hash")?,
                })
            })
        })
        .transpose()
}

fn model_execution_from(o: &Obj<'_>) -> Result<ModelExecution, RecordError> {
    let status = o.required("status")?;
    Ok(ModelExecution {
        model_name: o.req_str("model_name")?,
        started_at: o.req_timestamp("started_at")?,
        finished_at: o.req_timestamp("finished_at")?,
        duration_ms: o.req_u64("duration_ms")?,
        rows_affected: o.opt_u64("rows_affected")?,
        status: o.enum_of(
            "status",
            status,
            ExecutionStatus::TABLE,
            ExecutionStatus::SPELLINGS,
        )?,
        sql_hash: o.req_str("sql_hash")?,
        skip_hash: o.opt_str("skip_hash")?,
        upstream_freshness: o
            .optional("upstream_freshness")
            .map(|v| {
                o.array_of("upstream_freshness", v, |item, path| {
                    let u = o.child(item, path)?;
                    Ok(UpstreamSig {
                        upstream_key: u.req_str("upstream_key")?,
                        max_ts: u.opt_timestamp("max_ts")?,
                        row_count: u.opt_u64("row_count")?,
                        consumed_column_hashes: column_hashes(&u, "consumed_column_hashes")?,
                    })
                })
            })
            .transpose()?,
        bytes_scanned: o.opt_u64("bytes_scanned")?,
        bytes_written: o.opt_u64("bytes_written")?,
        tenant: o.opt_str("tenant")?,
        recipe_hash: o.opt_str("recipe_hash")?,
        input_hash: o.opt_str("input_hash")?,
        input_proof_class: o
            .optional("input_proof_class")
            .map(|v| {
                o.enum_of(
                    "input_proof_class",
                    v,
                    ProofClass::TABLE,
                    ProofClass::SPELLINGS,
                )
            })
            .transpose()?,
        env_hash: o.opt_str("env_hash")?,
        hash_scheme: o.opt_str("hash_scheme")?,
        output_column_hashes: column_hashes(o, "output_column_hashes")?,
        attempts: match o.map.get("attempts") {
            None => Vec::new(),
            Some(v) => o.array_of("attempts", v, |item, path| {
                let a = o.child(item, path)?;
                let outcome = a.required("outcome")?;
                Ok(AttemptRecord {
                    attempt: a.req_u32("attempt")?,
                    outcome: a.enum_of(
                        "outcome",
                        outcome,
                        ExecutionStatus::TABLE,
                        ExecutionStatus::SPELLINGS,
                    )?,
                    failure_class: a.optional("failure_class").cloned(),
                    transient_kind: a.optional("transient_kind").cloned(),
                    error: a.optional("error").cloned(),
                    backoff_ms: a.optional("backoff_ms").cloned(),
                    duration_ms: a.req_u64("duration_ms")?,
                })
            })?,
        },
        source_path: o.ext_str("source_path")?,
        materialization: match o.map.get("materialization") {
            None => None,
            Some(v) => Some(o.enum_of(
                "materialization",
                v,
                Materialization::TABLE,
                Materialization::SPELLINGS,
            )?),
        },
        target_table: match o.ext_str("target_table")? {
            Some(t) if !is_three_part_name(&t) => {
                return Err(o.err(
                    "target_table",
                    Problem::BadShape {
                        value: truncated(&t),
                        expected: "catalog.schema.table",
                    },
                ));
            }
            other => other,
        },
    })
}

/// Three non-empty parts separated by dots, none containing a dot.
fn is_three_part_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty())
}

/// Decodes an `output_artifacts` value.
///
/// # Errors
///
/// [`RecordError`] with code `artifact_record_invalid`.
pub fn decode_artifact_record(bytes: &[u8]) -> Result<ArtifactRecord, RecordError> {
    artifact_record_from_value(&parse_document(bytes, RecordType::ArtifactRecord)?)
}

/// [`decode_artifact_record`] on a value already parsed with [`parse_document`].
///
/// # Errors
///
/// As [`decode_artifact_record`], except for JSON syntax.
pub fn artifact_record_from_value(value: &Value) -> Result<ArtifactRecord, RecordError> {
    let o = Obj::new(value, RecordType::ArtifactRecord, String::new())?;
    Ok(ArtifactRecord {
        blake3_hash: o.req_str("blake3_hash")?,
        run_id: o.req_str("run_id")?,
        model_name: o.req_str("model_name")?,
        file_path: o.req_str("file_path")?,
        commit_version: o.req_u64("commit_version")?,
        size_bytes: o.req_u64("size_bytes")?,
        written_at: o.req_timestamp("written_at")?,
    })
}

/// Decodes an `input_provenance` value (compact as in the ledger, or pretty-printed as in Rocky's
/// golden files).
///
/// # Errors
///
/// [`RecordError`] with code `provenance_record_invalid`.
pub fn decode_provenance_record(bytes: &[u8]) -> Result<ProvenanceRecord, RecordError> {
    provenance_record_from_value(&parse_document(bytes, RecordType::ProvenanceRecord)?)
}

/// [`decode_provenance_record`] on a value already parsed with [`parse_document`].
///
/// # Errors
///
/// As [`decode_provenance_record`], except for JSON syntax.
pub fn provenance_record_from_value(value: &Value) -> Result<ProvenanceRecord, RecordError> {
    let o = Obj::new(value, RecordType::ProvenanceRecord, String::new())?;
    let proof_class = o.required("proof_class")?;
    Ok(ProvenanceRecord {
        run_id: o.req_str("run_id")?,
        model_name: o.req_str("model_name")?,
        input_hash: o.req_str("input_hash")?,
        skip_hash: o.req_str("skip_hash")?,
        model_ir_canonical_json: o.req_str("model_ir_canonical_json")?,
        upstreams: match o.map.get("upstreams") {
            None => Vec::new(),
            Some(v) => o.array_of("upstreams", v, |item, path| {
                upstream_from(&o.child(item, path)?)
            })?,
        },
        output_blake3: o.req_strings("output_blake3")?,
        output_path: o.req_strings("output_path")?,
        proof_class: o.enum_of(
            "proof_class",
            proof_class,
            ProofClass::TABLE,
            ProofClass::SPELLINGS,
        )?,
        recorded_at: o.req_timestamp("recorded_at")?,
    })
}

/// Decodes one `UpstreamIdentity` on its own (code `provenance_record_invalid`).
///
/// # Errors
///
/// [`RecordError`] with code `provenance_record_invalid`.
pub fn decode_upstream_identity(bytes: &[u8]) -> Result<UpstreamIdentity, RecordError> {
    let value = parse_document(bytes, RecordType::UpstreamIdentity)?;
    upstream_from(&Obj::new(
        &value,
        RecordType::UpstreamIdentity,
        String::new(),
    )?)
}

/// The `UpstreamIdentity.max_ts` forms: chrono's serde form or `to_rfc3339()` (the schema's
/// `timestamp_rfc3339`), both UTC with 0, 3, 6 or 9 fraction digits.
fn upstream_from(o: &Obj<'_>) -> Result<UpstreamIdentity, RecordError> {
    const KINDS: &[&str] = &["content", "watermark"];
    let kind = o.required("kind")?;
    let kind = kind
        .as_str()
        .ok_or_else(|| o.wrong("kind", "a string", kind))?;
    match kind {
        "content" => Ok(UpstreamIdentity::Content {
            upstream_key: o.req_str("upstream_key")?,
            blake3_hash: o.req_str("blake3_hash")?,
        }),
        "watermark" => Ok(UpstreamIdentity::Watermark {
            upstream_key: o.req_str("upstream_key")?,
            max_ts: o.opt_timestamp("max_ts")?,
            row_count: o.opt_u64("row_count")?,
        }),
        other => Err(o.err(
            "kind",
            Problem::NotAllowed {
                value: truncated(other),
                allowed: KINDS,
            },
        )),
    }
}

/// Decodes an `input_index` value.
///
/// # Errors
///
/// [`RecordError`] with code `input_index_entry_invalid`.
pub fn decode_input_index_entry(bytes: &[u8]) -> Result<InputIndexEntry, RecordError> {
    let value = parse_document(bytes, RecordType::InputIndexEntry)?;
    let o = Obj::new(&value, RecordType::InputIndexEntry, String::new())?;
    let proof_class = o.required("proof_class")?;
    Ok(InputIndexEntry {
        input_hash: o.req_str("input_hash")?,
        run_id: o.req_str("run_id")?,
        model_name: o.req_str("model_name")?,
        output_blake3: o.default_strings("output_blake3")?,
        output_path: o.default_strings("output_path")?,
        proof_class: o.enum_of(
            "proof_class",
            proof_class,
            ProofClass::TABLE,
            ProofClass::SPELLINGS,
        )?,
        recorded_at: o.req_timestamp("recorded_at")?,
    })
}

/// Decodes a `watermarks` value.
///
/// # Errors
///
/// [`RecordError`] with code `watermark_state_invalid`.
pub fn decode_watermark_state(bytes: &[u8]) -> Result<WatermarkState, RecordError> {
    let value = parse_document(bytes, RecordType::WatermarkState)?;
    let o = Obj::new(&value, RecordType::WatermarkState, String::new())?;
    Ok(WatermarkState {
        last_value: o.req_timestamp("last_value")?,
        updated_at: o.req_timestamp("updated_at")?,
    })
}

/// Decodes one `CheckSnapshot` on its own (code `check_history_invalid`).
///
/// # Errors
///
/// [`RecordError`] with code `check_history_invalid`.
pub fn decode_check_snapshot(bytes: &[u8]) -> Result<CheckSnapshot, RecordError> {
    let value = parse_document(bytes, RecordType::CheckSnapshot)?;
    check_snapshot_from(&Obj::new(&value, RecordType::CheckSnapshot, String::new())?)
}

fn check_snapshot_from(o: &Obj<'_>) -> Result<CheckSnapshot, RecordError> {
    Ok(CheckSnapshot {
        timestamp: o.req_timestamp("timestamp")?,
        row_count: o.req_u64("row_count")?,
    })
}

/// Decodes a `check_history` value: a JSON array of `CheckSnapshot`, oldest first.
///
/// # Errors
///
/// [`RecordError`] with code `check_history_invalid`.
pub fn decode_check_history(bytes: &[u8]) -> Result<Vec<CheckSnapshot>, RecordError> {
    let value = parse_document(bytes, RecordType::CheckHistory)?;
    let items = value.as_array().ok_or_else(|| RecordError {
        record: RecordType::CheckHistory,
        field: String::new(),
        problem: Problem::WrongType {
            expected: "an array",
            found: json_type(&value),
        },
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            check_snapshot_from(&Obj::new(item, RecordType::CheckHistory, format!("[{i}]"))?)
        })
        .collect()
}

/// Decodes a `branches` value.
///
/// # Errors
///
/// [`RecordError`] with code `branch_record_invalid`.
pub fn decode_branch_record(bytes: &[u8]) -> Result<BranchRecord, RecordError> {
    let value = parse_document(bytes, RecordType::BranchRecord)?;
    let o = Obj::new(&value, RecordType::BranchRecord, String::new())?;
    Ok(BranchRecord {
        name: o.req_str("name")?,
        schema_prefix: o.req_str("schema_prefix")?,
        created_by: o.req_str("created_by")?,
        created_at: o.req_timestamp("created_at")?,
        description: o.opt_str("description")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Rocky's serialisation (declaration order), to prove decoding is lossless for Rocky's fields

/// Compact JSON of an object whose fields are written in the order they are added.
struct Ordered(String);

impl Ordered {
    fn new() -> Self {
        Ordered(String::from("{"))
    }

    fn raw(mut self, key: &str, raw_json: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&json_string(key));
        self.0.push(':');
        self.0.push_str(raw_json);
        self
    }

    fn str(self, key: &str, v: &str) -> Self {
        let s = json_string(v);
        self.raw(key, &s)
    }

    fn opt_str(self, key: &str, v: Option<&str>) -> Self {
        match v {
            Some(s) => self.str(key, s),
            None => self.raw(key, "null"),
        }
    }

    fn u64(self, key: &str, v: u64) -> Self {
        self.raw(key, &v.to_string())
    }

    fn opt_u64(self, key: &str, v: Option<u64>) -> Self {
        match v {
            Some(n) => self.u64(key, n),
            None => self.raw(key, "null"),
        }
    }

    /// A `DateTime<Utc>` field: chrono writes the instant, not the text it was read from.
    fn ts(self, key: &str, v: &Timestamp) -> Self {
        self.str(key, &v.normalized())
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn json_string(s: &str) -> String {
    canon::to_canonical_string(&Value::from(s))
}

fn json_array<T>(items: &[T], each: impl Fn(&T) -> String) -> String {
    let parts: Vec<String> = items.iter().map(each).collect();
    format!("[{}]", parts.join(","))
}

fn column_hashes_json(v: Option<&Vec<ColumnHash>>) -> String {
    match v {
        None => "null".to_owned(),
        Some(items) => json_array(items, |c| {
            Ordered::new()
                .str("column", &c.column)
                .str("hash", &c.hash)
                .finish()
        }),
    }
}

impl RunRecord {
    /// This record as Rocky serialises a `RunRecord` (extension fields dropped).
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .str("run_id", &self.run_id)
            .ts("started_at", &self.started_at)
            .ts("finished_at", &self.finished_at)
            .str("status", self.status.as_str())
            .raw(
                "models_executed",
                &json_array(&self.models_executed, ModelExecution::to_rocky_json),
            )
            .str("trigger", self.trigger.as_str())
            .str("config_hash", &self.config_hash)
            .opt_str("triggering_identity", self.triggering_identity.as_deref())
            .str("session_source", self.session_source.as_str())
            .opt_str("git_commit", self.git_commit.as_deref())
            .opt_str("git_branch", self.git_branch.as_deref())
            .opt_str("idempotency_key", self.idempotency_key.as_deref())
            .opt_str("target_catalog", self.target_catalog.as_deref())
            .str("hostname", &self.hostname)
            .str("rocky_version", &self.rocky_version)
            .raw(
                "check_outcomes",
                &json_array(&self.check_outcomes, |c| {
                    Ordered::new()
                        .str("name", &c.name)
                        .raw("passed", &c.passed.to_string())
                        .finish()
                }),
            )
            .opt_str("pipeline", self.pipeline.as_deref())
            .opt_str("submission_id", self.submission_id.as_deref())
            .finish()
    }
}

impl ModelExecution {
    /// This execution as Rocky serialises a `ModelExecution` (`attempts` omitted when empty,
    /// extension fields dropped).
    pub fn to_rocky_json(&self) -> String {
        let freshness = match &self.upstream_freshness {
            None => "null".to_owned(),
            Some(sigs) => json_array(sigs, |s| {
                let o = Ordered::new().str("upstream_key", &s.upstream_key);
                let o = match &s.max_ts {
                    Some(ts) => o.ts("max_ts", ts),
                    None => o.raw("max_ts", "null"),
                };
                o.opt_u64("row_count", s.row_count)
                    .raw(
                        "consumed_column_hashes",
                        &column_hashes_json(s.consumed_column_hashes.as_ref()),
                    )
                    .finish()
            }),
        };
        let o = Ordered::new()
            .str("model_name", &self.model_name)
            .ts("started_at", &self.started_at)
            .ts("finished_at", &self.finished_at)
            .u64("duration_ms", self.duration_ms)
            .opt_u64("rows_affected", self.rows_affected)
            .str("status", self.status.as_str())
            .str("sql_hash", &self.sql_hash)
            .opt_str("skip_hash", self.skip_hash.as_deref())
            .raw("upstream_freshness", &freshness)
            .opt_u64("bytes_scanned", self.bytes_scanned)
            .opt_u64("bytes_written", self.bytes_written)
            .opt_str("tenant", self.tenant.as_deref())
            .opt_str("recipe_hash", self.recipe_hash.as_deref())
            .opt_str("input_hash", self.input_hash.as_deref())
            .opt_str(
                "input_proof_class",
                self.input_proof_class.map(ProofClass::as_str),
            )
            .opt_str("env_hash", self.env_hash.as_deref())
            .opt_str("hash_scheme", self.hash_scheme.as_deref())
            .raw(
                "output_column_hashes",
                &column_hashes_json(self.output_column_hashes.as_ref()),
            );
        let o = if self.attempts.is_empty() {
            o
        } else {
            o.raw(
                "attempts",
                &json_array(&self.attempts, |a| {
                    let mut o = Ordered::new()
                        .u64("attempt", u64::from(a.attempt))
                        .str("outcome", a.outcome.as_str());
                    for (key, v) in [
                        ("failure_class", &a.failure_class),
                        ("transient_kind", &a.transient_kind),
                        ("error", &a.error),
                        ("backoff_ms", &a.backoff_ms),
                    ] {
                        if let Some(v) = v {
                            o = o.raw(key, &canon::to_canonical_string(v));
                        }
                    }
                    o.u64("duration_ms", a.duration_ms).finish()
                }),
            )
        };
        o.finish()
    }
}

impl ArtifactRecord {
    /// This record as Rocky serialises an `ArtifactRecord`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .str("blake3_hash", &self.blake3_hash)
            .str("run_id", &self.run_id)
            .str("model_name", &self.model_name)
            .str("file_path", &self.file_path)
            .u64("commit_version", self.commit_version)
            .u64("size_bytes", self.size_bytes)
            .ts("written_at", &self.written_at)
            .finish()
    }
}

impl UpstreamIdentity {
    /// This upstream as Rocky serialises an `UpstreamIdentity` (tag first, declaration order).
    pub fn to_rocky_json(&self) -> String {
        let o = Ordered::new()
            .str("kind", self.kind())
            .str("upstream_key", self.upstream_key());
        match self {
            UpstreamIdentity::Content { blake3_hash, .. } => o.str("blake3_hash", blake3_hash),
            UpstreamIdentity::Watermark {
                max_ts, row_count, ..
            } => {
                let o = match max_ts {
                    // `max_ts` is a String in Rocky's type: its text is kept verbatim.
                    Some(ts) => o.str("max_ts", &ts.text),
                    None => o,
                };
                match row_count {
                    Some(n) => o.u64("row_count", *n),
                    None => o,
                }
            }
        }
        .finish()
    }
}

fn strings_json(items: &[String]) -> String {
    json_array(items, |s| json_string(s))
}

impl ProvenanceRecord {
    /// This record as Rocky serialises a `ProvenanceRecord`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .str("run_id", &self.run_id)
            .str("model_name", &self.model_name)
            .str("input_hash", &self.input_hash)
            .str("skip_hash", &self.skip_hash)
            .str("model_ir_canonical_json", &self.model_ir_canonical_json)
            .raw(
                "upstreams",
                &json_array(&self.upstreams, UpstreamIdentity::to_rocky_json),
            )
            .raw("output_blake3", &strings_json(&self.output_blake3))
            .raw("output_path", &strings_json(&self.output_path))
            .str("proof_class", self.proof_class.as_str())
            .ts("recorded_at", &self.recorded_at)
            .finish()
    }
}

impl InputIndexEntry {
    /// This entry as Rocky serialises an `InputIndexEntry`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .str("input_hash", &self.input_hash)
            .str("run_id", &self.run_id)
            .str("model_name", &self.model_name)
            .raw("output_blake3", &strings_json(&self.output_blake3))
            .raw("output_path", &strings_json(&self.output_path))
            .str("proof_class", self.proof_class.as_str())
            .ts("recorded_at", &self.recorded_at)
            .finish()
    }
}

impl WatermarkState {
    /// This state as Rocky serialises a `WatermarkState`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .ts("last_value", &self.last_value)
            .ts("updated_at", &self.updated_at)
            .finish()
    }
}

impl CheckSnapshot {
    /// This snapshot as Rocky serialises a `CheckSnapshot`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .ts("timestamp", &self.timestamp)
            .u64("row_count", self.row_count)
            .finish()
    }
}

/// A check history as Rocky serialises it.
pub fn check_history_to_rocky_json(history: &[CheckSnapshot]) -> String {
    json_array(history, CheckSnapshot::to_rocky_json)
}

impl BranchRecord {
    /// This record as Rocky serialises a `BranchRecord`.
    pub fn to_rocky_json(&self) -> String {
        Ordered::new()
            .str("name", &self.name)
            .str("schema_prefix", &self.schema_prefix)
            .str("created_by", &self.created_by)
            .ts("created_at", &self.created_at)
            .opt_str("description", self.description.as_deref())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PINNED_EXECUTION: &str = r#"{"model_name":"fct_orders","started_at":"2024-01-01T12:00:00Z","finished_at":"2024-01-01T12:00:00Z","duration_ms":2000,"rows_affected":10,"status":"success","sql_hash":"sql","skip_hash":"logic-key","upstream_freshness":null,"bytes_scanned":null,"bytes_written":null,"tenant":null,"recipe_hash":"recipe-abc","input_hash":"input-def","input_proof_class":"heuristic","env_hash":"env-ghi","hash_scheme":"v1","output_column_hashes":null}"#;
    const PINNED_PROVENANCE: &str = r#"{"run_id":"run-1","model_name":"fct_orders","input_hash":"input-def","skip_hash":"logic-key","model_ir_canonical_json":"{\"a\":1}","upstreams":[{"kind":"watermark","upstream_key":"cat.sch.src","max_ts":"2024-01-01T00:00:00Z","row_count":42}],"output_blake3":["out-hash"],"output_path":["s3://b/p.parquet"],"proof_class":"heuristic","recorded_at":"2024-01-01T12:00:00Z"}"#;

    fn ts(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(text)
    }

    #[test]
    fn rocky_pinned_records_round_trip() {
        let m = decode_model_execution(PINNED_EXECUTION.as_bytes()).unwrap();
        assert_eq!(m.to_rocky_json(), PINNED_EXECUTION);
        assert_eq!(m.status, ExecutionStatus::Success);
        assert_eq!(m.input_proof_class, Some(ProofClass::Heuristic));
        let p = decode_provenance_record(PINNED_PROVENANCE.as_bytes()).unwrap();
        assert_eq!(p.to_rocky_json(), PINNED_PROVENANCE);
        assert_eq!(p.upstreams[0].kind(), "watermark");
    }

    #[test]
    fn timestamps_accept_every_auto_si_form_and_utc_offset() {
        for text in [
            "2026-05-30T11:04:22Z",
            "2026-05-30T11:04:22.643Z",
            "2026-05-30T11:04:22.643494Z",
            "2026-05-30T11:04:22.643494123Z",
            "2026-05-30T11:04:22.643494+00:00",
        ] {
            let t = Timestamp::parse_record(text).unwrap();
            assert_eq!(t.text, text);
            assert!(t.is_utc_text());
        }
        assert_eq!(
            ts("2026-05-30T11:04:22.643000000Z").unwrap().normalized(),
            "2026-05-30T11:04:22.643Z"
        );
        assert_eq!(
            ts("2026-05-30T11:04:22+02:00").unwrap().normalized(),
            "2026-05-30T09:04:22Z"
        );
        assert!(!ts("2026-05-30T11:04:22+02:00").unwrap().is_utc_text());
        assert!(!ts("2026-05-30T11:04:22-00:00").unwrap().is_utc_text());
    }

    #[test]
    fn record_timestamps_refuse_forms_rocky_never_writes() {
        for text in [
            "2026-05-30T11:04:22.6Z",
            "2026-05-30T11:04:22.6434Z",
            "2026-05-30T11:04:22+02:00",
            "2026-05-30T11:04:22",
            "2026-05-30 11:04:22Z",
            "2026-05-30t11:04:22z",
        ] {
            assert!(Timestamp::parse_record(text).is_err(), "{text}");
        }
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        for text in [
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2026-05-30T24:00:00Z",
            "2026-05-30T23:60:00Z",
            "2026-05-30T23:59:61Z",
            "2026-05-30",
            "",
            "2026-05-30T11-04-22Z",
            "2026-05-30T11:04:22.Z",
            "2026-05-30T11:04:22.1234567890Z",
            "+2026-05-30T11:04:22Z",
            "2026-05-30T11:04:22+24:00",
            "\u{ff12}026-05-30T11:04:22Z",
        ] {
            let e = ts(text).unwrap_err();
            assert_eq!(e.code(), Code::TimestampInvalid, "{text}");
        }
        assert!(ts("2028-02-29T00:00:00Z").is_ok());
        assert!(ts("2016-12-31T23:59:60Z").is_ok(), "leap second");
    }

    #[test]
    fn run_ids_truncate_milliseconds() {
        let at = ts("2026-05-30T11:04:22.643494123Z").unwrap().utc;
        assert_eq!(rocky_run_id(&at), "run-20260530-110422-643");
        let at = ts("2026-12-31T23:59:59.999999999Z").unwrap().utc;
        assert_eq!(rocky_run_id(&at), "run-20261231-235959-999");
    }

    #[test]
    fn run_id_forms_are_classified() {
        let at = ts("2026-05-30T11:04:22.643494123Z").unwrap().utc;
        let m = |id| classify_run_id(id, &at);
        assert_eq!(
            m("run-20260530-110422-643"),
            RunIdForm::Timestamped {
                matches: true,
                suffix: None
            }
        );
        assert_eq!(
            m("run-20260530-110422-643-2"),
            RunIdForm::Timestamped {
                matches: true,
                suffix: Some(2)
            }
        );
        assert_eq!(
            m("run-20260530-110422-644"),
            RunIdForm::Timestamped {
                matches: false,
                suffix: None
            }
        );
        assert_eq!(
            m("run-apply-3f0c2b1e-1234-4abc-8def-0123456789ab"),
            RunIdForm::Apply
        );
        for other in [
            "golden-run",
            "run-1",
            "run-20260530-110422-643-0",
            "run-20260530-110422-643-",
            "run-20260530-110422-643x",
            "run-apply-xyz",
        ] {
            assert_eq!(m(other), RunIdForm::Other, "{other}");
        }
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let bad = PINNED_EXECUTION.replace("\"status\":\"success\"", "\"status\":\"ok\"");
        let e = decode_model_execution(bad.as_bytes()).unwrap_err();
        assert_eq!(e.code(), Code::ModelExecutionInvalid);
        assert_eq!(e.field, "status");
        assert_eq!(
            e.to_string(),
            "invalid ModelExecution: field status: \"ok\" is not one of success, failed"
        );

        let run = format!(
            r#"{{"run_id":"r","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:00Z","status":"Success","models_executed":[{PINNED_EXECUTION},{bad}],"trigger":"Manual","config_hash":"unknown"}}"#
        );
        let e = decode_run_record(run.as_bytes()).unwrap_err();
        assert_eq!(e.code(), Code::RunRecordInvalid);
        assert_eq!(e.field, "models_executed[1].status");
    }

    #[test]
    fn defaulted_fields_reject_null_while_options_accept_it() {
        let base = r#"{"run_id":"r","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:00Z","status":"Success","models_executed":[],"trigger":"Manual","config_hash":"unknown""#;
        let ok = decode_run_record(format!("{base},\"pipeline\":null}}").as_bytes()).unwrap();
        assert_eq!(ok.pipeline, None);
        assert_eq!(ok.session_source, SessionSource::Cli);
        assert_eq!(ok.hostname, "unknown");
        assert_eq!(ok.rocky_version, "<pre-audit>");
        for field in [
            "session_source",
            "hostname",
            "rocky_version",
            "check_outcomes",
        ] {
            let e = decode_run_record(format!("{base},\"{field}\":null}}").as_bytes()).unwrap_err();
            assert_eq!(e.field, field);
        }
    }

    #[test]
    fn integers_must_fit_their_type() {
        for (value, ok) in [
            ("0", true),
            ("18446744073709551615", true),
            ("-1", false),
            ("1.0", false),
            ("18446744073709551616", false),
            ("\"5\"", false),
        ] {
            let text = format!(r#"{{"timestamp":"2026-05-29T11:04:25.265Z","row_count":{value}}}"#);
            assert_eq!(
                decode_check_snapshot(text.as_bytes()).is_ok(),
                ok,
                "{value}"
            );
        }
        let attempt = PINNED_EXECUTION.replace(
            "\"output_column_hashes\":null",
            "\"output_column_hashes\":null,\"attempts\":[{\"attempt\":4294967296,\"outcome\":\"failed\",\"duration_ms\":1}]",
        );
        assert_eq!(
            decode_model_execution(attempt.as_bytes())
                .unwrap_err()
                .field,
            "attempts[0].attempt"
        );
    }

    #[test]
    fn writer_extensions_are_read_and_checked() {
        let ext = PINNED_EXECUTION.replace(
            "\"output_column_hashes\":null",
            "\"output_column_hashes\":null,\"source_path\":\"models/a.sql\",\"materialization\":\"content_addressed\",\"target_table\":\"a.b.c\"",
        );
        let m = decode_model_execution(ext.as_bytes()).unwrap();
        assert_eq!(m.source_path.as_deref(), Some("models/a.sql"));
        assert_eq!(m.materialization, Some(Materialization::ContentAddressed));
        assert_eq!(m.target_table.as_deref(), Some("a.b.c"));
        assert_eq!(
            m.to_rocky_json(),
            PINNED_EXECUTION,
            "Rocky drops the extensions"
        );
        let bad = ext.replace("a.b.c", "a.b");
        assert_eq!(
            decode_model_execution(bad.as_bytes()).unwrap_err().field,
            "target_table"
        );
    }

    proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_run_record(&bytes);
            let _ = decode_model_execution(&bytes);
            let _ = decode_provenance_record(&bytes);
            let _ = decode_check_history(&bytes);
            let _ = decode_branch_record(&bytes);
        }

        #[test]
        fn a_field_replaced_by_any_value_decodes_or_names_that_field(
            index in 0usize..10,
            replacement in prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
                Just(serde_json::json!([])),
                Just(serde_json::json!({})),
            ],
        ) {
            let mut value: Value = serde_json::from_str(PINNED_PROVENANCE).unwrap();
            let object = value.as_object_mut().unwrap();
            let key = object.keys().nth(index).unwrap().clone();
            object.insert(key.clone(), replacement);
            match decode_provenance_record(value.to_string().as_bytes()) {
                Ok(rec) => {
                    let again = decode_provenance_record(rec.to_rocky_json().as_bytes());
                    prop_assert_eq!(again.as_ref(), Ok(&rec));
                }
                Err(e) => prop_assert!(e.field.starts_with(&key), "{} vs {}", e.field, key),
            }
        }
    }

    #[test]
    fn hostile_values_are_errors_not_panics() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for decode in [
            |b: &[u8]| decode_run_record(b).map(|_| ()),
            |b: &[u8]| decode_provenance_record(b).map(|_| ()),
            |b: &[u8]| decode_check_history(b).map(|_| ()),
        ] {
            assert!(decode(deep.as_bytes()).is_err());
            assert!(decode(b"\xff\xfe").is_err());
            assert!(decode(b"").is_err());
            assert!(decode(b"null").is_err());
            assert!(decode(br#"{"run_id":1,"run_id":2}"#).is_err());
        }
    }
}
