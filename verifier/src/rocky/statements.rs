//! The statements Rocky 1.71 fingerprints for one transformation model execution
//! (`spec/hashes.md` 12.6 to 12.8): model SQL, run variables, surrogate-key wrap, target rendering
//! and the per-dialect templates for every strategy.
//!
//! Pure: no I/O. The result is either the exact statement list, a [`Rejection`] (Rocky's own SQL
//! generation fails, so it records a failed entry with `""`), or a [`NotRecomputable`] (an input
//! Rocky had is not in the evidence).

use std::collections::BTreeMap;

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use serde_json::Value;

use super::run_vars;

/// A warehouse dialect (one adapter per pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    /// `duckdb`.
    DuckDb,
    /// `databricks`.
    Databricks,
    /// `snowflake`.
    Snowflake,
    /// `bigquery`.
    BigQuery,
    /// `trino`.
    Trino,
}

impl Dialect {
    /// Every dialect, in the order `env_hash` candidates are tried.
    pub const ALL: [Dialect; 5] = [
        Dialect::DuckDb,
        Dialect::Databricks,
        Dialect::Snowflake,
        Dialect::BigQuery,
        Dialect::Trino,
    ];

    /// The adapter `type` / `env_hash` adapter name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Databricks => "databricks",
            Dialect::Snowflake => "snowflake",
            Dialect::BigQuery => "bigquery",
            Dialect::Trino => "trino",
        }
    }

    /// The dialect an adapter `type` names; `None` for non-warehouse types.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    fn string_type(self) -> &'static str {
        match self {
            Dialect::Databricks | Dialect::BigQuery => "STRING",
            _ => "VARCHAR",
        }
    }
}

/// `catalog.schema.table` as configured (unrendered).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// Catalog (BigQuery: project); may be empty.
    pub catalog: String,
    /// Schema (BigQuery: dataset).
    pub schema: String,
    /// Table.
    pub table: String,
}

/// A `time_interval` / `microbatch` granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Keys `%Y-%m-%dT%H`.
    Hour,
    /// Keys `%Y-%m-%d`.
    Day,
    /// Keys `%Y-%m`.
    Month,
    /// Keys `%Y`.
    Year,
}

impl Granularity {
    fn parse(s: &str) -> Option<Granularity> {
        Some(match s {
            "hour" => Granularity::Hour,
            "day" => Granularity::Day,
            "month" => Granularity::Month,
            "year" => Granularity::Year,
            _ => return None,
        })
    }

    /// The spelling in TOML.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
            Granularity::Year => "year",
        }
    }
}

/// A model's `[strategy]` (`spec/hashes.md` 12.5.1), defaults filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `full_refresh`.
    FullRefresh,
    /// `incremental`.
    Incremental {
        /// Not used in SQL generation.
        timestamp_column: String,
    },
    /// `merge`.
    Merge {
        /// Join keys.
        unique_key: Vec<String>,
        /// `None`: all columns (resolved from the typed columns).
        update_columns: Option<Vec<String>>,
    },
    /// `time_interval`.
    TimeInterval {
        /// The partition column.
        time_column: String,
        /// Key granularity.
        granularity: Granularity,
        /// Extra partitions recomputed per run.
        lookback: u32,
        /// Keys per statement.
        batch_size: u32,
        /// Lower bound for `--missing`.
        first_partition: Option<String>,
    },
    /// `ephemeral`.
    Ephemeral,
    /// `delete_insert`.
    DeleteInsert {
        /// Partition columns.
        partition_by: Vec<String>,
    },
    /// `microbatch`.
    Microbatch {
        /// Validated as an identifier only.
        timestamp_column: String,
        /// Default `hour`.
        granularity: Granularity,
    },
    /// `view`.
    View,
    /// `materialized_view`.
    MaterializedView,
    /// `dynamic_table` (Snowflake).
    DynamicTable {
        /// Snowflake lag specifier.
        target_lag: String,
    },
    /// `content_addressed`.
    ContentAddressed {
        /// Object-store prefix.
        storage_prefix: String,
        /// Partition columns.
        partition_columns: Vec<String>,
    },
}

/// A `[strategy]` or `[format_options]` table of a model sidecar that does not read as Rocky
/// reads it (the project does not load; `toml_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigTableError {
    /// The value is not a table.
    #[error("[{0}] is not a table")]
    NotATable(&'static str),
    /// A field is missing or mistyped.
    #[error("[{table}] {field}: {problem}")]
    Field {
        /// `strategy` or `format_options`.
        table: &'static str,
        /// The field.
        field: String,
        /// What it must be.
        problem: String,
    },
    /// A field is mistyped (the message names only the field).
    #[error("[{table}] {field}")]
    Bare {
        /// `strategy` or `format_options`.
        table: &'static str,
        /// The field.
        field: &'static str,
    },
}

impl ConfigTableError {
    fn field(table: &'static str, field: &str, problem: impl Into<String>) -> Self {
        ConfigTableError::Field {
            table,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

impl Strategy {
    /// The `[strategy] type` spelling, which is also the ledger's strategy label.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::FullRefresh => "full_refresh",
            Strategy::Incremental { .. } => "incremental",
            Strategy::Merge { .. } => "merge",
            Strategy::TimeInterval { .. } => "time_interval",
            Strategy::Ephemeral => "ephemeral",
            Strategy::DeleteInsert { .. } => "delete_insert",
            Strategy::Microbatch { .. } => "microbatch",
            Strategy::View => "view",
            Strategy::MaterializedView => "materialized_view",
            Strategy::DynamicTable { .. } => "dynamic_table",
            Strategy::ContentAddressed { .. } => "content_addressed",
        }
    }

    /// Parses the `[strategy]` table (as JSON; `null` counts as absent). Extra fields are ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigTableError`] for the first missing or mistyped field, or an unknown `type`.
    pub fn from_json(v: &Value) -> Result<Strategy, ConfigTableError> {
        let o = v
            .as_object()
            .ok_or(ConfigTableError::NotATable("strategy"))?;
        let get = |k: &str| o.get(k).filter(|v| !v.is_null());
        let string = |k: &str| -> Result<String, ConfigTableError> {
            get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ConfigTableError::field("strategy", k, "a string is required"))
        };
        let strings = |k: &str| -> Result<Option<Vec<String>>, ConfigTableError> {
            match get(k) {
                None => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|s| {
                        s.as_str().map(str::to_owned).ok_or_else(|| {
                            ConfigTableError::field("strategy", k, "strings expected")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(ConfigTableError::field(
                    "strategy",
                    k,
                    "an array is required",
                )),
            }
        };
        let required = |k: &str| -> Result<Vec<String>, ConfigTableError> {
            strings(k)?.ok_or_else(|| ConfigTableError::field("strategy", k, "required"))
        };
        let grain = |k: &str,
                     default: Option<Granularity>|
         -> Result<Granularity, ConfigTableError> {
            match get(k) {
                None => default.ok_or_else(|| ConfigTableError::field("strategy", k, "required")),
                Some(g) => g.as_str().and_then(Granularity::parse).ok_or_else(|| {
                    ConfigTableError::field("strategy", k, "hour, day, month or year")
                }),
            }
        };
        let uint = |k: &str, default: u32| -> Result<u32, ConfigTableError> {
            match get(k) {
                None => Ok(default),
                Some(n) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ConfigTableError::field("strategy", k, "an unsigned 32-bit integer")
                    }),
            }
        };
        let kind = get("type")
            .map(|t| {
                t.as_str().ok_or(ConfigTableError::field(
                    "strategy",
                    "type",
                    "a string is required",
                ))
            })
            .transpose()?
            .unwrap_or("full_refresh");
        Ok(match kind {
            "full_refresh" => Strategy::FullRefresh,
            "incremental" => Strategy::Incremental {
                timestamp_column: string("timestamp_column")?,
            },
            "merge" => Strategy::Merge {
                unique_key: required("unique_key")?,
                update_columns: strings("update_columns")?,
            },
            "time_interval" => {
                let batch_size = uint("batch_size", 1)?;
                if batch_size == 0 {
                    return Err(ConfigTableError::field(
                        "strategy",
                        "batch_size",
                        "must be non-zero",
                    ));
                }
                Strategy::TimeInterval {
                    time_column: string("time_column")?,
                    granularity: grain("granularity", None)?,
                    lookback: uint("lookback", 0)?,
                    batch_size,
                    first_partition: get("first_partition")
                        .map(|v| {
                            v.as_str().map(str::to_owned).ok_or(ConfigTableError::field(
                                "strategy",
                                "first_partition",
                                "a string",
                            ))
                        })
                        .transpose()?,
                }
            }
            "ephemeral" => Strategy::Ephemeral,
            "delete_insert" => Strategy::DeleteInsert {
                partition_by: required("partition_by")?,
            },
            "microbatch" => Strategy::Microbatch {
                timestamp_column: string("timestamp_column")?,
                granularity: grain("granularity", Some(Granularity::Hour))?,
            },
            "view" => Strategy::View,
            "materialized_view" => Strategy::MaterializedView,
            "dynamic_table" => Strategy::DynamicTable {
                target_lag: string("target_lag")?,
            },
            "content_addressed" => Strategy::ContentAddressed {
                storage_prefix: string("storage_prefix")?,
                partition_columns: strings("partition_columns")?.unwrap_or_default(),
            },
            other => {
                return Err(ConfigTableError::field(
                    "strategy",
                    "type",
                    format!("unknown variant {other:?}"),
                ));
            }
        })
    }

    /// The strategy as the JSON object of `vectors/sql_templates.json` (every field, defaults
    /// filled, absent optionals `null`).
    pub fn to_json(&self) -> Value {
        use serde_json::json;
        let mut v = match self {
            Strategy::Incremental { timestamp_column } => {
                json!({ "timestamp_column": timestamp_column })
            }
            Strategy::Merge {
                unique_key,
                update_columns,
            } => json!({ "unique_key": unique_key, "update_columns": update_columns }),
            Strategy::TimeInterval {
                time_column,
                granularity,
                lookback,
                batch_size,
                first_partition,
            } => json!({
                "time_column": time_column, "granularity": granularity.name(),
                "lookback": lookback, "batch_size": batch_size, "first_partition": first_partition,
            }),
            Strategy::DeleteInsert { partition_by } => json!({ "partition_by": partition_by }),
            Strategy::Microbatch {
                timestamp_column,
                granularity,
            } => json!({ "timestamp_column": timestamp_column, "granularity": granularity.name() }),
            Strategy::DynamicTable { target_lag } => json!({ "target_lag": target_lag }),
            Strategy::ContentAddressed {
                storage_prefix,
                partition_columns,
            } => {
                json!({ "storage_prefix": storage_prefix, "partition_columns": partition_columns })
            }
            _ => json!({}),
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), Value::from(self.name()));
        }
        v
    }
}

/// A sidecar `format` (lakehouse DDL; Databricks only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakehouseFormat {
    /// `delta_table`.
    DeltaTable,
    /// `iceberg_table`.
    IcebergTable,
    /// `materialized_view`.
    MaterializedView,
    /// `streaming_table`.
    StreamingTable,
    /// `table`.
    Table,
    /// `view`.
    View,
}

impl LakehouseFormat {
    /// Parses the sidecar spelling.
    pub fn parse(s: &str) -> Option<LakehouseFormat> {
        Some(match s {
            "delta_table" => LakehouseFormat::DeltaTable,
            "iceberg_table" => LakehouseFormat::IcebergTable,
            "materialized_view" => LakehouseFormat::MaterializedView,
            "streaming_table" => LakehouseFormat::StreamingTable,
            "table" => LakehouseFormat::Table,
            "view" => LakehouseFormat::View,
            _ => return None,
        })
    }
}

/// `[format_options]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatOptions {
    /// `PARTITIONED BY` columns.
    pub partition_by: Vec<String>,
    /// `CLUSTER BY` columns.
    pub cluster_by: Vec<String>,
    /// `TBLPROPERTIES`, in declared order.
    pub table_properties: Vec<(String, String)>,
    /// `COMMENT`.
    pub comment: Option<String>,
}

impl FormatOptions {
    /// Parses `[format_options]` (as JSON; `null` counts as absent).
    ///
    /// # Errors
    ///
    /// [`ConfigTableError`] for the first mistyped field.
    pub fn from_json(v: &Value) -> Result<FormatOptions, ConfigTableError> {
        let o = v
            .as_object()
            .ok_or(ConfigTableError::NotATable("format_options"))?;
        let get = |k: &str| o.get(k).filter(|v| !v.is_null());
        let strings = |k: &str| -> Result<Vec<String>, ConfigTableError> {
            match get(k) {
                None => Ok(Vec::new()),
                Some(a) => a
                    .as_array()
                    .ok_or(ConfigTableError::field("format_options", k, "an array"))?
                    .iter()
                    .map(|s| {
                        s.as_str().map(str::to_owned).ok_or(ConfigTableError::field(
                            "format_options",
                            k,
                            "strings",
                        ))
                    })
                    .collect(),
            }
        };
        let table_properties = match get("table_properties") {
            None => Vec::new(),
            Some(a) => a
                .as_array()
                .ok_or(ConfigTableError::field(
                    "format_options",
                    "table_properties",
                    "an array",
                ))?
                .iter()
                .map(|pair| match pair.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                    _ => Err(ConfigTableError::field(
                        "format_options",
                        "table_properties",
                        "[key, value] string pairs",
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(FormatOptions {
            partition_by: strings("partition_by")?,
            cluster_by: strings("cluster_by")?,
            table_properties,
            comment: get("comment")
                .map(|c| {
                    c.as_str().map(str::to_owned).ok_or(ConfigTableError::Bare {
                        table: "format_options",
                        field: "comment",
                    })
                })
                .transpose()?,
        })
    }
}

/// One `[[surrogate_key]]` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurrogateKey {
    /// Output column.
    pub name: String,
    /// Input columns (non-empty identifiers).
    pub columns: Vec<String>,
}

/// Everything the project at the commit says about one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSql {
    /// The model SQL, trimmed as loaded (before run variables and the surrogate wrap).
    pub sql: String,
    /// Resolved target.
    pub target: Target,
    /// Resolved strategy.
    pub strategy: Strategy,
    /// Sidecar `format`.
    pub format: Option<LakehouseFormat>,
    /// Sidecar `[format_options]`.
    pub format_options: FormatOptions,
    /// `[[sources]]`, checked like the target.
    pub sources: Vec<Target>,
    /// `[[surrogate_key]]` blocks.
    pub surrogate_keys: Vec<SurrogateKey>,
}

/// What a run used that the ledger does not record, as far as the caller knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInputs {
    /// `--var` values the caller states.
    pub run_vars: BTreeMap<String, String>,
    /// The Snowflake adapter's `warehouse` (for `dynamic_table`).
    pub snowflake_warehouse: Option<String>,
    /// The partition keys of this execution (`time_interval`; several for a batch).
    pub partition_keys: Option<Vec<String>>,
    /// The IR's `typed_columns` names in order (implicit `merge` columns); `Some(vec![])` when
    /// known to be empty.
    pub typed_column_names: Option<Vec<String>>,
}

/// An input assumed because the ledger does not record it; a mismatch under an assumption is not
/// evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assumption {
    /// `@var(name, default)`: no `--var name` assumed.
    RunVarDefault(String),
    /// `${VAR:-default}`: `VAR` assumed unset or empty.
    EnvDefault(String),
}

impl std::fmt::Display for Assumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Assumption::RunVarDefault(n) => write!(f, "run_var_default:{n}"),
            Assumption::EnvDefault(n) => write!(f, "env_default:{n}"),
        }
    }
}

/// Recomputed statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The exact list Rocky fingerprints.
    pub statements: Vec<String>,
    /// Run-variable defaults used.
    pub assumptions: Vec<Assumption>,
}

/// Why Rocky 1.71's own SQL generation fails for a model (it then records a failed entry, `""`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// A name is not `[A-Za-z0-9_]+`.
    #[error("{what} {value:?} is not an identifier")]
    InvalidIdentifier {
        /// Which name.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// A BigQuery project id is malformed.
    #[error("BigQuery project id {0:?} is malformed")]
    InvalidProjectId(String),
    /// `format` on a dialect without lakehouse DDL.
    #[error("format is rendered on Databricks only, not {0}")]
    FormatUnsupported(&'static str),
    /// A `[format_options]` value Rocky refuses.
    #[error("format option refused: {0}")]
    InvalidFormatOption(String),
    /// Managed-Iceberg constraints.
    #[error("iceberg_table option refused: {0}")]
    ManagedIcebergViolation(String),
    /// `merge` without `unique_key`.
    #[error("merge without unique_key")]
    MergeWithoutKey,
    /// `merge` on Trino.
    #[error("merge is not supported on trino")]
    MergeUnsupported,
    /// `UPDATE SET *` on a dialect without it.
    #[error("merge updating all columns is not supported on {0}")]
    MergeUpdateAllUnsupported(&'static str),
    /// `materialized_view` on DuckDB or Trino.
    #[error("materialized_view is not supported on {0}")]
    MaterializedViewUnsupported(&'static str),
    /// `dynamic_table` off Snowflake.
    #[error("dynamic_table is not supported on {0}")]
    DynamicTableUnsupported(&'static str),
    /// A malformed `target_lag`.
    #[error("target_lag {0:?} is not ASCII letters, digits and spaces")]
    InvalidTargetLag(String),
}

impl Rejection {
    /// The reason code of `spec/hashes.md` 12.10.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::InvalidIdentifier { .. } => "invalid_identifier",
            Rejection::InvalidProjectId(_) => "invalid_project_id",
            Rejection::FormatUnsupported(_) => "format_unsupported",
            Rejection::InvalidFormatOption(_) => "invalid_format_option",
            Rejection::ManagedIcebergViolation(_) => "managed_iceberg_violation",
            Rejection::MergeWithoutKey => "merge_without_key",
            Rejection::MergeUnsupported => "merge_unsupported",
            Rejection::MergeUpdateAllUnsupported(_) => "merge_update_all_unsupported",
            Rejection::MaterializedViewUnsupported(_) => "materialized_view_unsupported",
            Rejection::DynamicTableUnsupported(_) => "dynamic_table_unsupported",
            Rejection::InvalidTargetLag(_) => "invalid_target_lag",
        }
    }
}

/// Why the statements cannot be recomputed from the evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotRecomputable {
    /// `.rocky` DSL: the lowering is not ported.
    #[error(".rocky model: Rocky's DSL lowering (rocky-lang) is not ported, so its SQL is unknown")]
    RockyDslModel,
    /// `@var(name)` without a default and without a stated value.
    #[error("@var({0}) has no inline default and --var values are not recorded")]
    RunVarValueUnknown(String),
    /// Implicit merge columns without the typed column names.
    #[error(
        "merge without update_columns needs the typechecker's column names, not recorded for this model"
    )]
    MergeColumnsUntyped,
    /// `time_interval` without the run's partition keys.
    #[error("time_interval needs the partition keys of the run (partitions rows)")]
    PartitionWindowUnknown,
    /// A partition key that does not parse for the granularity.
    #[error("partition key {key:?} is not a {granularity} key")]
    PartitionKeyInvalid {
        /// The key.
        key: String,
        /// The granularity.
        granularity: &'static str,
    },
    /// Snowflake `dynamic_table` without the adapter's warehouse.
    #[error("dynamic_table needs the Snowflake adapter's warehouse")]
    SnowflakeWarehouseUnknown,
}

impl NotRecomputable {
    /// The reason code of `spec/hashes.md` 12.10.
    pub fn code(&self) -> &'static str {
        match self {
            NotRecomputable::RockyDslModel => "rocky_dsl_model",
            NotRecomputable::RunVarValueUnknown(_) => "run_var_value_unknown",
            NotRecomputable::MergeColumnsUntyped => "merge_columns_untyped",
            NotRecomputable::PartitionWindowUnknown => "partition_window_unknown",
            NotRecomputable::PartitionKeyInvalid { .. } => "partition_key_invalid",
            NotRecomputable::SnowflakeWarehouseUnknown => "snowflake_warehouse_unknown",
        }
    }
}

/// Either way recomputation ends without statements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementsError {
    /// Rocky's generation fails: it records a failed entry with `""`.
    #[error("Rocky 1.71 rejects this model: {0}")]
    RockyRejects(Rejection),
    /// An input Rocky had is not in the evidence.
    #[error("not recomputable: {0}")]
    NotRecomputable(NotRecomputable),
}

impl From<Rejection> for StatementsError {
    fn from(r: Rejection) -> Self {
        StatementsError::RockyRejects(r)
    }
}

impl From<NotRecomputable> for StatementsError {
    fn from(r: NotRecomputable) -> Self {
        StatementsError::NotRecomputable(r)
    }
}

/// `[A-Za-z0-9_]+`, non-empty.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn ident(what: &'static str, value: &str) -> Result<(), Rejection> {
    if is_identifier(value) {
        Ok(())
    } else {
        Err(Rejection::InvalidIdentifier {
            what,
            value: value.to_owned(),
        })
    }
}

/// `^[a-z][a-z0-9-]{4,28}[a-z0-9]$`.
fn is_gcp_project_id(s: &str) -> bool {
    let b = s.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..b.len() - 1]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
}

/// Renders a target for `dialect` (`spec/hashes.md` 12.7).
///
/// # Errors
///
/// [`Rejection::InvalidIdentifier`] / [`Rejection::InvalidProjectId`] as Rocky checks them.
pub fn render_target(dialect: Dialect, t: &Target) -> Result<String, Rejection> {
    let (c, s, tb) = (&t.catalog, &t.schema, &t.table);
    match dialect {
        Dialect::DuckDb | Dialect::Snowflake if c.is_empty() => {
            ident("schema", s)?;
            ident("table", tb)?;
            Ok(if dialect == Dialect::DuckDb {
                format!("{s}.{tb}")
            } else {
                format!("\"{s}\".\"{tb}\"")
            })
        }
        Dialect::DuckDb | Dialect::Databricks => {
            ident("catalog", c)?;
            ident("schema", s)?;
            ident("table", tb)?;
            Ok(format!("{c}.{s}.{tb}"))
        }
        Dialect::Snowflake | Dialect::Trino => {
            // Snowflake checks schema and table before the catalog; the reason is the same.
            ident("catalog", c)?;
            ident("schema", s)?;
            ident("table", tb)?;
            Ok(format!("\"{c}\".\"{s}\".\"{tb}\""))
        }
        Dialect::BigQuery => {
            if !is_gcp_project_id(c) {
                return Err(Rejection::InvalidProjectId(c.clone()));
            }
            ident("schema", s)?;
            ident("table", tb)?;
            Ok(format!("`{c}`.`{s}`.`{tb}`"))
        }
    }
}

/// The `[start, end)` window of one partition key or a batch of keys, UTC
/// (`spec/hashes.md` 12.8, "Time interval").
///
/// # Errors
///
/// [`NotRecomputable::PartitionWindowUnknown`] for no keys; `PartitionKeyInvalid` for a key
/// that does not parse.
pub fn partition_window(
    granularity: Granularity,
    keys: &[String],
) -> Result<(NaiveDateTime, NaiveDateTime), NotRecomputable> {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return Err(NotRecomputable::PartitionWindowUnknown);
    };
    let parse = |k: &str| -> Result<NaiveDateTime, NotRecomputable> {
        let bad = || NotRecomputable::PartitionKeyInvalid {
            key: k.to_owned(),
            granularity: granularity.name(),
        };
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad());
        let t = match granularity {
            Granularity::Hour => {
                NaiveDateTime::parse_from_str(&format!("{k}:00"), "%Y-%m-%dT%H:%M")
                    .map_err(|_| bad())?
            }
            Granularity::Day => date(k)?.and_hms_opt(0, 0, 0).ok_or_else(bad)?,
            Granularity::Month => date(&format!("{k}-01"))?
                .and_hms_opt(0, 0, 0)
                .ok_or_else(bad)?,
            Granularity::Year => date(&format!("{k}-01-01"))?
                .and_hms_opt(0, 0, 0)
                .ok_or_else(bad)?,
        };
        // The key must be the canonical spelling of the instant it names.
        let canonical = t.format(match granularity {
            Granularity::Hour => "%Y-%m-%dT%H",
            Granularity::Day => "%Y-%m-%d",
            Granularity::Month => "%Y-%m",
            Granularity::Year => "%Y",
        });
        if canonical.to_string() != k {
            return Err(bad());
        }
        Ok(t)
    };
    let start = parse(first)?;
    let last = parse(last)?;
    let end = match granularity {
        Granularity::Hour => last.checked_add_signed(Duration::hours(1)),
        Granularity::Day => last.checked_add_signed(Duration::days(1)),
        Granularity::Month => last.checked_add_months(Months::new(1)),
        Granularity::Year => last.checked_add_months(Months::new(12)),
    }
    .ok_or_else(|| NotRecomputable::PartitionKeyInvalid {
        key: keys[keys.len() - 1].clone(),
        granularity: granularity.name(),
    })?;
    Ok((start, end))
}

/// Applies run variables (as assumptions where defaults are used).
///
/// # Errors
///
/// [`NotRecomputable::RunVarValueUnknown`] for a reference with neither a value nor a default.
pub fn apply_run_vars(
    sql: &str,
    run: &RunInputs,
    assumptions: &mut Vec<Assumption>,
) -> Result<String, NotRecomputable> {
    let r = run_vars::substitute(sql, &run.run_vars);
    if let Some(name) = r.missing.into_iter().next() {
        return Err(NotRecomputable::RunVarValueUnknown(name));
    }
    assumptions.extend(r.defaults_used.into_iter().map(Assumption::RunVarDefault));
    Ok(r.sql)
}

/// Rocky's surrogate-key wrap (`spec/hashes.md` 12.6 step 3); `sql` unchanged for no keys.
pub fn apply_surrogate_keys(sql: &str, keys: &[SurrogateKey], dialect: Dialect) -> String {
    if keys.is_empty() {
        return sql.to_owned();
    }
    let st = dialect.string_type();
    let adds: Vec<String> = keys
        .iter()
        .map(|k| {
            let fields: Vec<String> = k
                .columns
                .iter()
                .map(|c| format!("coalesce(cast({c} as {st}), '_dbt_utils_surrogate_key_null_')"))
                .collect();
            let expr = if dialect == Dialect::BigQuery {
                let joined = if fields.is_empty() {
                    "''".to_owned()
                } else {
                    format!("concat({})", fields.join(", '-', "))
                };
                format!("to_hex(md5(cast({joined} as {st})))")
            } else {
                let joined = if fields.is_empty() {
                    "''".to_owned()
                } else {
                    fields.join(" || '-' || ")
                };
                format!("md5(cast({joined} as {st}))")
            };
            format!("CAST({expr} AS {st}) AS {}", k.name)
        })
        .collect();
    let inner = sql.trim().trim_end_matches(';');
    format!(
        "SELECT *, {}\nFROM (\n{inner}\n) AS __rocky_keyed",
        adds.join(", ")
    )
}

/// The exact statements Rocky 1.71 fingerprints for one execution of `model` on `dialect`.
///
/// # Errors
///
/// [`StatementsError::RockyRejects`] when Rocky's generation fails (the model then records
/// `""`); [`StatementsError::NotRecomputable`] when an unrecorded input is needed.
pub fn statements(
    dialect: Dialect,
    model: &ModelSql,
    run: &RunInputs,
) -> Result<Statements, StatementsError> {
    let (sql, assumptions) = final_select(dialect, model, run)?;
    let statements = generate(dialect, model, &sql, run)?;
    Ok(Statements {
        statements,
        assumptions,
    })
}

/// The model's final SELECT, the `s` every template wraps: run variables substituted, then the
/// surrogate-key wrap (none for `time_interval`, built from the bare IR). The row-count recount
/// (`spec/warehouse.md` source 4) runs exactly this text.
///
/// # Errors
///
/// As [`statements`] for the run-variable step.
pub fn final_select(
    dialect: Dialect,
    model: &ModelSql,
    run: &RunInputs,
) -> Result<(String, Vec<Assumption>), StatementsError> {
    let mut assumptions = Vec::new();
    let mut sql = apply_run_vars(&model.sql, run, &mut assumptions)?;
    if !matches!(model.strategy, Strategy::TimeInterval { .. }) {
        sql = apply_surrogate_keys(&sql, &model.surrogate_keys, dialect);
    }
    Ok((sql, assumptions))
}

/// `sql_gen::generate_transformation_sql_with_warehouse` over the final SQL `s`.
fn generate(
    dialect: Dialect,
    model: &ModelSql,
    s: &str,
    run: &RunInputs,
) -> Result<Vec<String>, StatementsError> {
    let t = render_target(dialect, &model.target)?;
    for source in &model.sources {
        render_target(dialect, source)?;
    }
    if let (Some(format), Strategy::FullRefresh) = (model.format, &model.strategy) {
        return Ok(vec![lakehouse(
            dialect,
            format,
            &t,
            s,
            &model.format_options,
        )?]);
    }
    Ok(match &model.strategy {
        Strategy::FullRefresh if dialect == Dialect::Trino => vec![
            format!("DROP TABLE IF EXISTS {t}"),
            format!("CREATE TABLE {t} AS\n{s}"),
        ],
        Strategy::FullRefresh => vec![format!("CREATE OR REPLACE TABLE {t} AS\n{s}")],
        Strategy::Incremental { .. } => vec![format!("INSERT INTO {t}\n{s}")],
        Strategy::Microbatch {
            timestamp_column, ..
        } => {
            ident("timestamp_column", timestamp_column)?;
            vec![format!("INSERT INTO {t}\n{s}")]
        }
        Strategy::DeleteInsert { partition_by } => {
            for c in partition_by {
                ident("partition_by column", c)?;
            }
            let k = partition_by.join(", ");
            vec![
                format!(
                    "DELETE FROM {t} WHERE ({k}) IN (SELECT DISTINCT {k} FROM ({s}) AS _rocky_incoming)"
                ),
                format!("INSERT INTO {t}\n{s}"),
            ]
        }
        Strategy::View => vec![format!("CREATE OR REPLACE VIEW {t} AS\n{s}")],
        Strategy::MaterializedView => match dialect {
            Dialect::DuckDb | Dialect::Trino => {
                return Err(Rejection::MaterializedViewUnsupported(dialect.name()).into());
            }
            _ => vec![format!("CREATE OR REPLACE MATERIALIZED VIEW {t} AS\n{s}")],
        },
        Strategy::DynamicTable { target_lag } => {
            if dialect != Dialect::Snowflake {
                return Err(Rejection::DynamicTableUnsupported(dialect.name()).into());
            }
            if target_lag.is_empty()
                || !target_lag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ')
            {
                return Err(Rejection::InvalidTargetLag(target_lag.clone()).into());
            }
            let wh = run
                .snowflake_warehouse
                .as_deref()
                .ok_or(NotRecomputable::SnowflakeWarehouseUnknown)?;
            ident("warehouse", wh)?;
            vec![format!(
                "CREATE OR REPLACE DYNAMIC TABLE {t}\n  TARGET_LAG = '{target_lag}'\n  WAREHOUSE = {wh}\nAS\n{s}"
            )]
        }
        Strategy::Ephemeral => Vec::new(),
        Strategy::ContentAddressed { .. } => vec![s.to_owned()],
        Strategy::Merge {
            unique_key,
            update_columns,
        } => vec![merge(
            dialect,
            &t,
            s,
            unique_key,
            update_columns.as_deref(),
            run,
        )?],
        Strategy::TimeInterval {
            time_column,
            granularity,
            ..
        } => {
            ident("time_column", time_column)?;
            let keys = run
                .partition_keys
                .as_deref()
                .ok_or(NotRecomputable::PartitionWindowUnknown)?;
            let (start, end) = partition_window(*granularity, keys)?;
            let a = start.format("%Y-%m-%d %H:%M:%S").to_string();
            let b = end.format("%Y-%m-%d %H:%M:%S").to_string();
            let f = format!("{time_column} >= '{a}' AND {time_column} < '{b}'");
            let (qa, qb) = (format!("'{a}'"), format!("'{b}'"));
            let sp = s
                .replace("'@start_date'", &qa)
                .replace("@start_date", &qa)
                .replace("'@end_date'", &qb)
                .replace("@end_date", &qb);
            match dialect {
                Dialect::DuckDb => vec![
                    "BEGIN".to_owned(),
                    format!("DELETE FROM {t} WHERE {f}"),
                    format!("INSERT INTO {t}\n{sp}"),
                    "COMMIT".to_owned(),
                ],
                Dialect::Databricks => vec![format!("INSERT INTO {t} REPLACE WHERE {f}\n{sp}")],
                Dialect::Snowflake => vec![format!(
                    "BEGIN;\nDELETE FROM {t} WHERE {f};\nINSERT INTO {t}\n{sp};\nCOMMIT"
                )],
                Dialect::BigQuery => vec![format!(
                    "BEGIN TRANSACTION;\nDELETE FROM {t} WHERE {f};\nINSERT INTO {t}\n{sp};\nCOMMIT TRANSACTION"
                )],
                Dialect::Trino => vec![
                    format!("DELETE FROM {t} WHERE {f}"),
                    format!("INSERT INTO {t}\n{sp}"),
                ],
            }
        }
    })
}

fn merge(
    dialect: Dialect,
    t: &str,
    s: &str,
    keys: &[String],
    update_columns: Option<&[String]>,
    run: &RunInputs,
) -> Result<String, StatementsError> {
    if keys.is_empty() {
        return Err(Rejection::MergeWithoutKey.into());
    }
    if dialect == Dialect::Trino {
        return Err(Rejection::MergeUnsupported.into());
    }
    for k in keys {
        ident("unique_key", k)?;
    }
    // `None` means "all columns": Rocky resolves it from the typed columns; still `None` when
    // they are empty.
    let cols: Option<&[String]> = match update_columns {
        Some(c) => Some(c),
        None => {
            let typed = run
                .typed_column_names
                .as_deref()
                .ok_or(NotRecomputable::MergeColumnsUntyped)?;
            (!typed.is_empty()).then_some(typed)
        }
    };
    let all_unsupported = || Rejection::MergeUpdateAllUnsupported(dialect.name());
    Ok(match dialect {
        Dialect::DuckDb | Dialect::Databricks => {
            let qualify = if dialect == Dialect::Databricks {
                "t."
            } else {
                ""
            };
            let update = match cols {
                None if dialect == Dialect::Databricks => "UPDATE SET *".to_owned(),
                None => return Err(all_unsupported().into()),
                Some(cols) => {
                    for c in cols {
                        ident("update column", c)?;
                    }
                    let sets: Vec<String> = cols
                        .iter()
                        .map(|c| format!("{qualify}{c} = s.{c}"))
                        .collect();
                    format!("UPDATE SET {}", sets.join(", "))
                }
            };
            let on: Vec<String> = keys.iter().map(|k| format!("t.{k} = s.{k}")).collect();
            format!(
                "MERGE INTO {t} AS t\nUSING (\n{s}\n) AS s\nON {}\nWHEN MATCHED THEN {update}\nWHEN NOT MATCHED THEN INSERT *",
                on.join(" AND ")
            )
        }
        Dialect::Snowflake => {
            let cols = cols.ok_or_else(all_unsupported)?;
            for c in cols {
                ident("update column", c)?;
            }
            let on: Vec<String> = keys
                .iter()
                .map(|k| format!("t.\"{k}\" = s.\"{k}\""))
                .collect();
            let sets: Vec<String> = cols
                .iter()
                .map(|c| format!("t.\"{c}\" = s.\"{c}\""))
                .collect();
            let names: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
            let values: Vec<String> = cols.iter().map(|c| format!("s.\"{c}\"")).collect();
            format!(
                "MERGE INTO {t} AS t\nUSING (\n{s}\n) AS s\nON {}\nWHEN MATCHED THEN UPDATE SET {}\nWHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
                on.join(" AND "),
                sets.join(", "),
                names.join(", "),
                values.join(", ")
            )
        }
        Dialect::BigQuery => {
            // BigQuery checks the keys only, never the update columns.
            let cols = cols.ok_or_else(all_unsupported)?;
            let on: Vec<String> = keys
                .iter()
                .map(|k| format!("target.{k} = source.{k}"))
                .collect();
            let sets: Vec<String> = cols
                .iter()
                .map(|c| format!("target.{c} = source.{c}"))
                .collect();
            format!(
                "MERGE INTO {t} AS target\nUSING ({s}) AS source\nON {}\nWHEN MATCHED THEN UPDATE SET {}\nWHEN NOT MATCHED THEN INSERT ROW",
                on.join(" AND "),
                sets.join(", ")
            )
        }
        Dialect::Trino => return Err(Rejection::MergeUnsupported.into()),
    })
}

fn lakehouse(
    dialect: Dialect,
    format: LakehouseFormat,
    t: &str,
    s: &str,
    o: &FormatOptions,
) -> Result<String, Rejection> {
    if dialect != Dialect::Databricks {
        return Err(Rejection::FormatUnsupported(dialect.name()));
    }
    for c in o.partition_by.iter().chain(&o.cluster_by) {
        ident("format column", c)?;
    }
    let unsafe_text = |v: &str| v.contains('\'') || v.contains("--") || v.contains(';');
    for (k, v) in &o.table_properties {
        let key_ok = k.split('.').all(|seg| {
            !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !key_ok {
            return Err(Rejection::InvalidFormatOption(format!(
                "table property key {k:?}"
            )));
        }
        if unsafe_text(v) {
            return Err(Rejection::InvalidFormatOption(format!(
                "table property value {v:?}"
            )));
        }
    }
    if let Some(c) = &o.comment
        && unsafe_text(c)
    {
        return Err(Rejection::InvalidFormatOption(format!("comment {c:?}")));
    }
    if format == LakehouseFormat::IcebergTable {
        if !o.partition_by.is_empty() && !o.cluster_by.is_empty() {
            return Err(Rejection::ManagedIcebergViolation(
                "partition_by together with cluster_by".into(),
            ));
        }
        if let Some((k, _)) = o
            .table_properties
            .iter()
            .find(|(k, _)| k.starts_with("write.format."))
        {
            return Err(Rejection::ManagedIcebergViolation(format!(
                "engine-managed property {k:?}"
            )));
        }
    }
    let list = |prefix: &str, cols: &[String]| {
        if cols.is_empty() {
            String::new()
        } else {
            format!("\n{prefix} ({})", cols.join(", "))
        }
    };
    let p = list("PARTITIONED BY", &o.partition_by);
    let c = list("CLUSTER BY", &o.cluster_by);
    let m = o
        .comment
        .as_ref()
        .map_or_else(String::new, |c| format!("\nCOMMENT '{c}'"));
    let r = if o.table_properties.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = o
            .table_properties
            .iter()
            .map(|(k, v)| format!("'{k}' = '{v}'"))
            .collect();
        format!("\nTBLPROPERTIES ({})", pairs.join(", "))
    };
    let head = match format {
        LakehouseFormat::DeltaTable => format!("CREATE OR REPLACE TABLE {t}\nUSING DELTA{p}{c}"),
        LakehouseFormat::IcebergTable => {
            format!("CREATE OR REPLACE TABLE {t}\nUSING ICEBERG{p}{c}")
        }
        LakehouseFormat::Table => format!("CREATE OR REPLACE TABLE {t}{p}{c}"),
        LakehouseFormat::StreamingTable => format!("CREATE OR REPLACE STREAMING TABLE {t}{p}{c}"),
        LakehouseFormat::MaterializedView => format!("CREATE OR REPLACE MATERIALIZED VIEW {t}"),
        LakehouseFormat::View => format!("CREATE OR REPLACE VIEW {t}"),
    };
    Ok(format!("{head}{m}{r}\nAS\n{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(strategy: Strategy) -> ModelSql {
        ModelSql {
            sql: "SELECT id, amount FROM raw.orders".into(),
            target: Target {
                catalog: "warehouse".into(),
                schema: "main".into(),
                table: "orders".into(),
            },
            strategy,
            format: None,
            format_options: FormatOptions::default(),
            sources: Vec::new(),
            surrogate_keys: Vec::new(),
        }
    }

    #[test]
    fn duckdb_full_refresh_is_one_ctas() {
        let s = statements(
            Dialect::DuckDb,
            &model(Strategy::FullRefresh),
            &RunInputs::default(),
        )
        .unwrap();
        assert_eq!(
            s.statements,
            vec![
                "CREATE OR REPLACE TABLE warehouse.main.orders AS\nSELECT id, amount FROM raw.orders"
            ]
        );
    }

    #[test]
    fn gcp_project_ids() {
        assert!(is_gcp_project_id("warehouse"));
        assert!(is_gcp_project_id("my-proj-1"));
        assert!(!is_gcp_project_id("my-proj-"));
        assert!(!is_gcp_project_id("1project"));
        assert!(!is_gcp_project_id("short"));
        assert!(!is_gcp_project_id(&"a".repeat(31)));
        assert!(is_gcp_project_id(&"a".repeat(30)));
    }

    #[test]
    fn partition_windows() {
        let w = |g, k: &[&str]| {
            partition_window(g, &k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map(|(a, b)| (a.to_string(), b.to_string()))
        };
        assert_eq!(
            w(Granularity::Month, &["2025-12"]).unwrap(),
            ("2025-12-01 00:00:00".into(), "2026-01-01 00:00:00".into())
        );
        assert_eq!(
            w(Granularity::Hour, &["2026-01-01T23"]).unwrap().1,
            "2026-01-02 00:00:00"
        );
        assert!(w(Granularity::Day, &["2026-1-1"]).is_err());
        assert!(w(Granularity::Day, &[]).is_err());
        assert!(w(Granularity::Year, &["20x6"]).is_err());
    }

    #[test]
    fn strategy_json_roundtrips_with_defaults() {
        let s = Strategy::from_json(&serde_json::json!({"type": "time_interval", "time_column": "ts", "granularity": "day"})).unwrap();
        assert_eq!(
            s.to_json(),
            serde_json::json!({"type": "time_interval", "time_column": "ts", "granularity": "day", "lookback": 0, "batch_size": 1, "first_partition": null})
        );
        assert_eq!(
            Strategy::from_json(&serde_json::json!({})).unwrap(),
            Strategy::FullRefresh
        );
        assert!(Strategy::from_json(&serde_json::json!({"type": "merge"})).is_err());
        assert!(Strategy::from_json(&serde_json::json!({"type": "snapshot"})).is_err());
        assert!(
            Strategy::from_json(&serde_json::json!({"type": "time_interval", "time_column": "t", "granularity": "day", "batch_size": 0}))
                .is_err()
        );
    }
}
