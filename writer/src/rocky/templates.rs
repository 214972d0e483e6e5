//! The statements Rocky 1.71 fingerprints into `sql_hash` for one transformation model
//! (`sql_gen::generate_transformation_sql_with_warehouse` and the dialects; spec/hashes.md
//! sections 12.6 to 12.9).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::error::TemplateError;
use crate::identity::{Adapter, sql_fingerprint};
use crate::ir::{FormatOptions, LakehouseFormat, TableRef};
use crate::rocky::render::{check_identifier, format_table_ref, is_identifier, reject};
use crate::rocky::run_vars::substitute_run_vars;
use crate::rocky::strategy::StrategyConfig;
use crate::rocky::window::batch_window;
use crate::rocky::{NotRecomputableReason, ProjectErrorReason, RejectReason};

/// A `[[surrogate_key]]` entry: a hash column added over `columns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurrogateKey {
    /// The added column's name.
    pub name: String,
    /// The hashed columns, in order.
    pub columns: Vec<String>,
}

/// A resolved model, as Rocky has it after loading the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The target table; the catalog may be `""` (DuckDB and Snowflake then render two parts).
    pub target: TableRef,
    /// The model SQL as loaded (trimmed), before run variables and the surrogate-key wrap.
    pub sql: String,
    /// The resolved strategy.
    pub strategy: StrategyConfig,
    /// The lakehouse `format`, if the model sets one.
    pub format: Option<LakehouseFormat>,
    /// `[format_options]` (empty when absent).
    pub format_options: FormatOptions,
    /// `[[sources]]`: checked like the target, never rendered into the statements.
    pub sources: Vec<TableRef>,
    /// `[[surrogate_key]]` entries.
    pub surrogate_keys: Vec<SurrogateKey>,
}

impl ModelSpec {
    /// A model with the given target, SQL and strategy and nothing else set.
    pub fn new(target: TableRef, sql: impl Into<String>, strategy: StrategyConfig) -> Self {
        ModelSpec {
            target,
            sql: sql.into(),
            strategy,
            format: None,
            format_options: FormatOptions::default(),
            sources: Vec::new(),
            surrogate_keys: Vec::new(),
        }
    }
}

/// Inputs of one execution that the model files do not hold. Each `None` means "not known";
/// the statements that need it are then `not_recomputable`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInputs {
    /// Stated `--var` values. A reference without one uses its inline default, as an assumption.
    pub run_vars: BTreeMap<String, String>,
    /// The Snowflake adapter's `warehouse` (for dynamic tables).
    pub snowflake_warehouse: Option<String>,
    /// The partition keys of one time-interval execution (one key, or the keys of one batch).
    pub partition_keys: Option<Vec<String>>,
    /// The IR's `typed_columns` names in typechecker order (for a merge without
    /// `update_columns`); `Some(vec![])` means known to be empty.
    pub typed_column_names: Option<Vec<String>>,
    /// For a content-addressed model, the provenance IR's `sql`, which is then the statement as
    /// is (it already holds run variables and the surrogate-key wrap).
    pub provenance_sql: Option<String>,
}

/// Something a recomputation had to assume because the ledger does not record it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Assumption {
    /// `@var(name, default)` took its inline default: no `--var` value was stated.
    RunVarDefault(String),
    /// `${VAR:-default}` took its default: no value for `VAR` was stated.
    EnvDefault(String),
}

impl fmt::Display for Assumption {
    /// `run_var_default:<name>` / `env_default:<VAR>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assumption::RunVarDefault(n) => write!(f, "run_var_default:{n}"),
            Assumption::EnvDefault(n) => write!(f, "env_default:{n}"),
        }
    }
}

/// Rocky's statements for one execution, and their fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The statements, in execution order, exactly as hashed.
    pub statements: Vec<String>,
    /// `sql_fingerprint(statements)`: the `sql_hash` Rocky records.
    pub sql_hash: String,
    /// What had to be assumed to produce them.
    pub assumptions: Vec<Assumption>,
}

/// The model SQL `S` with its assumptions (section 12.6).
struct ModelSql {
    sql: String,
    assumptions: Vec<Assumption>,
}

/// Produces the statements Rocky 1.71 fingerprints for `model` on `dialect`, or the reason it
/// cannot. The first failing check decides the reason, in the spec's order: target and sources,
/// lakehouse DDL, then the strategy's own checks; inputs the evidence lacks are asked for only
/// after every check Rocky would fail regardless of them.
pub fn rocky_statements(
    dialect: Adapter,
    model: &ModelSpec,
    run: &RunInputs,
) -> Result<Statements, TemplateError> {
    let t = format_table_ref(dialect, &model.target)?;
    for source in &model.sources {
        format_table_ref(dialect, source)?;
    }
    let sql = || model_sql(dialect, model, run);
    let done = |statements: Vec<String>, s: ModelSql| Statements {
        sql_hash: sql_fingerprint(&statements),
        statements,
        assumptions: s.assumptions,
    };

    if let (Some(format), StrategyConfig::FullRefresh) = (model.format, &model.strategy) {
        if dialect != Adapter::Databricks {
            return Err(reject(
                RejectReason::FormatUnsupported,
                format!("format {format:?} renders only on databricks"),
            ));
        }
        check_format_options(format, &model.format_options)?;
        let s = sql()?;
        let statement = lakehouse_ddl(format, &model.format_options, &t, &s.sql);
        return Ok(done(vec![statement], s));
    }

    match &model.strategy {
        StrategyConfig::FullRefresh => {
            let s = sql()?;
            let statements = if dialect == Adapter::Trino {
                vec![
                    format!("DROP TABLE IF EXISTS {t}"),
                    format!("CREATE TABLE {t} AS\n{}", s.sql),
                ]
            } else {
                vec![format!("CREATE OR REPLACE TABLE {t} AS\n{}", s.sql)]
            };
            Ok(done(statements, s))
        }
        StrategyConfig::Incremental { .. } => {
            let s = sql()?;
            Ok(done(vec![format!("INSERT INTO {t}\n{}", s.sql)], s))
        }
        StrategyConfig::Microbatch {
            timestamp_column, ..
        } => {
            check_identifier("timestamp_column", timestamp_column)?;
            let s = sql()?;
            Ok(done(vec![format!("INSERT INTO {t}\n{}", s.sql)], s))
        }
        StrategyConfig::DeleteInsert { partition_by } => {
            for c in partition_by {
                check_identifier("partition_by column", c)?;
            }
            let k = partition_by.join(", ");
            let s = sql()?;
            let statements = vec![
                format!(
                    "DELETE FROM {t} WHERE ({k}) IN (SELECT DISTINCT {k} FROM ({}) AS _rocky_incoming)",
                    s.sql
                ),
                format!("INSERT INTO {t}\n{}", s.sql),
            ];
            Ok(done(statements, s))
        }
        StrategyConfig::Merge {
            unique_key,
            update_columns,
        } => {
            let stmt = merge(dialect, &t, unique_key, update_columns.as_deref(), run, sql)?;
            Ok(done(vec![stmt.0], stmt.1))
        }
        StrategyConfig::View => {
            let s = sql()?;
            Ok(done(
                vec![format!("CREATE OR REPLACE VIEW {t} AS\n{}", s.sql)],
                s,
            ))
        }
        StrategyConfig::MaterializedView => {
            if matches!(dialect, Adapter::Duckdb | Adapter::Trino) {
                return Err(reject(
                    RejectReason::MaterializedViewUnsupported,
                    format!("{} has no materialized views", dialect.name()),
                ));
            }
            let s = sql()?;
            Ok(done(
                vec![format!(
                    "CREATE OR REPLACE MATERIALIZED VIEW {t} AS\n{}",
                    s.sql
                )],
                s,
            ))
        }
        StrategyConfig::DynamicTable { target_lag } => {
            if dialect != Adapter::Snowflake {
                return Err(reject(
                    RejectReason::DynamicTableUnsupported,
                    format!("{} has no dynamic tables", dialect.name()),
                ));
            }
            let lag_ok = !target_lag.is_empty()
                && target_lag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ');
            if !lag_ok {
                return Err(reject(
                    RejectReason::InvalidTargetLag,
                    format!("target_lag {target_lag:?} is not ASCII letters, digits and spaces"),
                ));
            }
            let w = run.snowflake_warehouse.as_deref().ok_or_else(|| {
                TemplateError::NotRecomputable {
                    reason: NotRecomputableReason::SnowflakeWarehouseUnknown,
                    detail: "the snowflake adapter's warehouse is not known".into(),
                }
            })?;
            check_identifier("warehouse", w)?;
            let s = sql()?;
            Ok(done(
                vec![format!(
                    "CREATE OR REPLACE DYNAMIC TABLE {t}\n  TARGET_LAG = '{target_lag}'\n  WAREHOUSE = {w}\nAS\n{}",
                    s.sql
                )],
                s,
            ))
        }
        // Nothing runs, but Rocky still records a success with the fingerprint of `[]`.
        StrategyConfig::Ephemeral => Ok(Statements {
            sql_hash: sql_fingerprint::<&str>(&[]),
            statements: Vec::new(),
            assumptions: Vec::new(),
        }),
        StrategyConfig::TimeInterval {
            time_column,
            granularity,
            ..
        } => {
            check_identifier("time_column", time_column)?;
            let keys =
                run.partition_keys
                    .as_deref()
                    .ok_or_else(|| TemplateError::NotRecomputable {
                        reason: NotRecomputableReason::PartitionWindowUnknown,
                        detail: "the partition keys of the execution are not known".into(),
                    })?;
            let window = batch_window(*granularity, keys)?;
            let (a, b) = (window.start_text(), window.end_text());
            let f = format!("{time_column} >= '{a}' AND {time_column} < '{b}'");
            let s = sql()?;
            let filled = s
                .sql
                .replace("'@start_date'", &format!("'{a}'"))
                .replace("@start_date", &format!("'{a}'"))
                .replace("'@end_date'", &format!("'{b}'"))
                .replace("@end_date", &format!("'{b}'"));
            let statements = match dialect {
                Adapter::Duckdb => vec![
                    "BEGIN".to_owned(),
                    format!("DELETE FROM {t} WHERE {f}"),
                    format!("INSERT INTO {t}\n{filled}"),
                    "COMMIT".to_owned(),
                ],
                Adapter::Databricks => vec![format!("INSERT INTO {t} REPLACE WHERE {f}\n{filled}")],
                Adapter::Snowflake => vec![format!(
                    "BEGIN;\nDELETE FROM {t} WHERE {f};\nINSERT INTO {t}\n{filled};\nCOMMIT"
                )],
                Adapter::Bigquery => vec![format!(
                    "BEGIN TRANSACTION;\nDELETE FROM {t} WHERE {f};\nINSERT INTO {t}\n{filled};\nCOMMIT TRANSACTION"
                )],
                Adapter::Trino => vec![
                    format!("DELETE FROM {t} WHERE {f}"),
                    format!("INSERT INTO {t}\n{filled}"),
                ],
            };
            Ok(done(statements, s))
        }
        StrategyConfig::ContentAddressed { .. } => {
            let s = sql()?;
            Ok(done(vec![s.sql.clone()], s))
        }
    }
}

/// The merge statement and the `S` it embeds.
fn merge(
    dialect: Adapter,
    t: &str,
    unique_key: &[String],
    update_columns: Option<&[String]>,
    run: &RunInputs,
    sql: impl FnOnce() -> Result<ModelSql, TemplateError>,
) -> Result<(String, ModelSql), TemplateError> {
    if unique_key.is_empty() {
        return Err(reject(
            RejectReason::MergeWithoutKey,
            "merge strategy without unique_key",
        ));
    }
    for k in unique_key {
        check_identifier("unique_key column", k)?;
    }
    // Trino has no merge at all: decided before asking for the update columns.
    if dialect == Adapter::Trino {
        return Err(reject(
            RejectReason::MergeUnsupported,
            "trino has no merge template",
        ));
    }
    // `None`: every column, which no dialect but Databricks can spell.
    let columns: Option<&[String]> = match update_columns {
        Some(cols) => Some(cols),
        None => match run.typed_column_names.as_deref() {
            None => {
                return Err(TemplateError::NotRecomputable {
                    reason: NotRecomputableReason::MergeColumnsUntyped,
                    detail: "merge without update_columns needs the IR's typed column names".into(),
                });
            }
            Some([]) => None,
            Some(names) => Some(names),
        },
    };
    match (dialect, columns) {
        (Adapter::Databricks, None) => {}
        (_, None) => {
            return Err(reject(
                RejectReason::MergeUpdateAllUnsupported,
                format!("{} cannot update all columns in a merge", dialect.name()),
            ));
        }
        // BigQuery interpolates update columns unchecked.
        (Adapter::Bigquery, Some(_)) => {}
        (_, Some(cols)) => {
            for c in cols {
                check_identifier("update column", c)?;
            }
        }
    }
    let s = sql()?;
    let join = |f: &dyn Fn(&String) -> String, items: &[String], sep: &str| {
        items.iter().map(f).collect::<Vec<_>>().join(sep)
    };
    let statement = match dialect {
        Adapter::Duckdb | Adapter::Databricks => {
            let on = join(&|k| format!("t.{k} = s.{k}"), unique_key, " AND ");
            let set = match columns {
                None => "SET *".to_owned(),
                Some(cols) => {
                    // DuckDB leaves the assigned column unqualified.
                    let lhs = if dialect == Adapter::Duckdb { "" } else { "t." };
                    format!("SET {}", join(&|c| format!("{lhs}{c} = s.{c}"), cols, ", "))
                }
            };
            format!(
                "MERGE INTO {t} AS t\nUSING (\n{}\n) AS s\nON {on}\nWHEN MATCHED THEN UPDATE {set}\nWHEN NOT MATCHED THEN INSERT *",
                s.sql
            )
        }
        Adapter::Snowflake => {
            let cols = columns.unwrap_or_default();
            let on = join(&|k| format!("t.\"{k}\" = s.\"{k}\""), unique_key, " AND ");
            let set = join(&|c| format!("t.\"{c}\" = s.\"{c}\""), cols, ", ");
            let names = join(&|c| format!("\"{c}\""), cols, ", ");
            let values = join(&|c| format!("s.\"{c}\""), cols, ", ");
            format!(
                "MERGE INTO {t} AS t\nUSING (\n{}\n) AS s\nON {on}\nWHEN MATCHED THEN UPDATE SET {set}\nWHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})",
                s.sql
            )
        }
        Adapter::Bigquery => {
            let cols = columns.unwrap_or_default();
            let on = join(&|k| format!("target.{k} = source.{k}"), unique_key, " AND ");
            let set = join(&|c| format!("target.{c} = source.{c}"), cols, ", ");
            format!(
                "MERGE INTO {t} AS target\nUSING ({}) AS source\nON {on}\nWHEN MATCHED THEN UPDATE SET {set}\nWHEN NOT MATCHED THEN INSERT ROW",
                s.sql
            )
        }
        Adapter::Trino => {
            return Err(reject(
                RejectReason::MergeUnsupported,
                "trino has no merge template",
            ));
        }
    };
    Ok((statement, s))
}

/// Checks the lakehouse options in the spec's order.
fn check_format_options(format: LakehouseFormat, o: &FormatOptions) -> Result<(), TemplateError> {
    for c in &o.partition_by {
        check_identifier("partition_by column", c)?;
    }
    for c in &o.cluster_by {
        check_identifier("cluster_by column", c)?;
    }
    let unsafe_text = |v: &str| v.contains('\'') || v.contains("--") || v.contains(';');
    for (k, v) in &o.table_properties {
        let key_ok = k.split('.').all(is_identifier);
        if !key_ok || unsafe_text(v) {
            return Err(reject(
                RejectReason::InvalidFormatOption,
                format!("table property {k:?} = {v:?} cannot be interpolated"),
            ));
        }
    }
    if let Some(c) = &o.comment
        && unsafe_text(c)
    {
        return Err(reject(
            RejectReason::InvalidFormatOption,
            format!("comment {c:?} cannot be interpolated"),
        ));
    }
    if format == LakehouseFormat::IcebergTable {
        if !o.partition_by.is_empty() && !o.cluster_by.is_empty() {
            return Err(reject(
                RejectReason::ManagedIcebergViolation,
                "a managed iceberg table cannot have both partition_by and cluster_by",
            ));
        }
        if let Some((k, _)) = o
            .table_properties
            .iter()
            .find(|(k, _)| k.starts_with("write.format."))
        {
            return Err(reject(
                RejectReason::ManagedIcebergViolation,
                format!("a managed iceberg table cannot set {k:?}"),
            ));
        }
    }
    Ok(())
}

/// Databricks lakehouse DDL for a full refresh with `format`.
fn lakehouse_ddl(format: LakehouseFormat, o: &FormatOptions, t: &str, s: &str) -> String {
    let p = if o.partition_by.is_empty() {
        String::new()
    } else {
        format!("\nPARTITIONED BY ({})", o.partition_by.join(", "))
    };
    let c = if o.cluster_by.is_empty() {
        String::new()
    } else {
        format!("\nCLUSTER BY ({})", o.cluster_by.join(", "))
    };
    let m = match o.comment.as_deref() {
        None | Some("") => String::new(),
        Some(comment) => format!("\nCOMMENT '{comment}'"),
    };
    let r = if o.table_properties.is_empty() {
        String::new()
    } else {
        let props: Vec<String> = o
            .table_properties
            .iter()
            .map(|(k, v)| format!("'{k}' = '{v}'"))
            .collect();
        format!("\nTBLPROPERTIES ({})", props.join(", "))
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
    format!("{head}{m}{r}\nAS\n{s}")
}

/// The model SQL `S`: run variables, then (except for time intervals) the surrogate-key wrap.
fn model_sql(
    dialect: Adapter,
    model: &ModelSpec,
    run: &RunInputs,
) -> Result<ModelSql, TemplateError> {
    if let (StrategyConfig::ContentAddressed { .. }, Some(sql)) =
        (&model.strategy, &run.provenance_sql)
    {
        return Ok(ModelSql {
            sql: sql.clone(),
            assumptions: Vec::new(),
        });
    }
    let substituted = substitute_run_vars(&model.sql, &run.run_vars)?;
    let assumptions = substituted
        .defaults_used
        .into_iter()
        .map(Assumption::RunVarDefault)
        .collect();
    let mut sql = substituted.sql;
    let keyed = !matches!(model.strategy, StrategyConfig::TimeInterval { .. });
    if keyed && !model.surrogate_keys.is_empty() {
        sql = wrap_surrogate_keys(dialect, &model.surrogate_keys, &sql)?;
    }
    Ok(ModelSql { sql, assumptions })
}

/// Checks a surrogate-key list as Rocky does before applying it.
pub(crate) fn check_surrogate_keys(keys: &[SurrogateKey]) -> Result<(), TemplateError> {
    for k in keys {
        let ok = is_identifier(&k.name)
            && !k.columns.is_empty()
            && k.columns.iter().all(|c| is_identifier(c));
        if !ok {
            return Err(TemplateError::Project {
                reason: ProjectErrorReason::SurrogateKeyInvalid,
                detail: format!(
                    "surrogate key {:?} over {:?} needs an identifier name and identifier columns",
                    k.name, k.columns
                ),
            });
        }
    }
    Ok(())
}

/// `apply_surrogate_keys`: `SELECT *, <keys>\nFROM (\n<S>\n) AS __rocky_keyed`.
fn wrap_surrogate_keys(
    dialect: Adapter,
    keys: &[SurrogateKey],
    sql: &str,
) -> Result<String, TemplateError> {
    check_surrogate_keys(keys)?;
    let str_ty = match dialect {
        Adapter::Databricks | Adapter::Bigquery => "STRING",
        _ => "VARCHAR",
    };
    let adds: Vec<String> = keys
        .iter()
        .map(|k| {
            let fields: Vec<String> = k
                .columns
                .iter()
                .map(|c| {
                    format!("coalesce(cast({c} as {str_ty}), '_dbt_utils_surrogate_key_null_')")
                })
                .collect();
            let expr = if dialect == Adapter::Bigquery {
                format!(
                    "to_hex(md5(cast(concat({}) as {str_ty})))",
                    fields.join(", '-', ")
                )
            } else {
                format!("md5(cast({} as {str_ty}))", fields.join(" || '-' || "))
            };
            format!("CAST({expr} AS {str_ty}) AS {}", k.name)
        })
        .collect();
    let inner = sql.trim().trim_end_matches(';');
    Ok(format!(
        "SELECT *, {}\nFROM (\n{inner}\n) AS __rocky_keyed",
        adds.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(strategy: StrategyConfig) -> ModelSpec {
        ModelSpec::new(TableRef::new("wh", "main", "t"), "SELECT 1", strategy)
    }

    fn code(dialect: Adapter, m: &ModelSpec, run: &RunInputs) -> String {
        match rocky_statements(dialect, m, run) {
            Ok(s) => format!("statements {:?}", s.statements),
            Err(e) => e.code().to_owned(),
        }
    }

    #[test]
    fn certain_rejections_come_before_missing_inputs() {
        let none = RunInputs::default();
        // Trino rejects a merge whatever its columns would have been.
        let implicit = model(StrategyConfig::Merge {
            unique_key: vec!["id".into()],
            update_columns: None,
        });
        assert_eq!(code(Adapter::Trino, &implicit, &none), "merge_unsupported");
        assert_eq!(
            code(Adapter::Duckdb, &implicit, &none),
            "merge_columns_untyped"
        );
        // A bad time column is rejected even without partition keys.
        let ti = model(StrategyConfig::TimeInterval {
            time_column: "t s".into(),
            granularity: crate::ir::TimeGrain::Day,
            lookback: 0,
            batch_size: 1,
            first_partition: None,
        });
        assert_eq!(code(Adapter::Duckdb, &ti, &none), "invalid_identifier");
        // A bad lag is rejected even without the warehouse; a bad warehouse is rejected too.
        let lag = |l: &str| {
            model(StrategyConfig::DynamicTable {
                target_lag: l.into(),
            })
        };
        assert_eq!(
            code(Adapter::Snowflake, &lag("1-h"), &none),
            "invalid_target_lag"
        );
        let wh = RunInputs {
            snowflake_warehouse: Some("wh-1".into()),
            ..RunInputs::default()
        };
        assert_eq!(
            code(Adapter::Snowflake, &lag("1 h"), &wh),
            "invalid_identifier"
        );
        // An unknown run variable does not hide a rejected target.
        let mut var = model(StrategyConfig::FullRefresh);
        var.sql = "SELECT @var(x)".into();
        var.target.table = "t-1".into();
        assert_eq!(code(Adapter::Duckdb, &var, &none), "invalid_identifier");
    }

    #[test]
    fn only_trailing_semicolons_are_stripped_inside_the_wrap() {
        let mut m = model(StrategyConfig::Incremental {
            timestamp_column: "ts".into(),
        });
        m.sql = "SELECT x; ;".into();
        m.surrogate_keys = vec![SurrogateKey {
            name: "k".into(),
            columns: vec!["x".into()],
        }];
        let s = rocky_statements(Adapter::Duckdb, &m, &RunInputs::default()).unwrap();
        assert!(
            s.statements[0].ends_with("\nFROM (\nSELECT x; \n) AS __rocky_keyed"),
            "{:?}",
            s.statements
        );
    }

    #[test]
    fn provenance_sql_is_the_content_addressed_statement_verbatim() {
        let mut m = model(StrategyConfig::ContentAddressed {
            storage_prefix: "s3://b/p".into(),
            partition_columns: vec![],
        });
        m.sql = "SELECT @var(x)".into();
        let run = RunInputs {
            provenance_sql: Some("SELECT 2;".into()),
            ..RunInputs::default()
        };
        let s = rocky_statements(Adapter::Snowflake, &m, &run).unwrap();
        assert_eq!(s.statements, vec!["SELECT 2;"]);
        assert!(s.assumptions.is_empty());
    }

    #[test]
    fn invalid_surrogate_keys_are_a_project_error_except_for_time_intervals() {
        let mut m = model(StrategyConfig::View);
        m.surrogate_keys = vec![SurrogateKey {
            name: "k".into(),
            columns: vec![],
        }];
        let e = rocky_statements(Adapter::Duckdb, &m, &RunInputs::default()).unwrap_err();
        assert_eq!(
            (e.outcome(), e.code()),
            ("project_error", "surrogate_key_invalid")
        );
        m.strategy = StrategyConfig::TimeInterval {
            time_column: "ts".into(),
            granularity: crate::ir::TimeGrain::Year,
            lookback: 0,
            batch_size: 1,
            first_partition: None,
        };
        let run = RunInputs {
            partition_keys: Some(vec!["2026".into()]),
            ..RunInputs::default()
        };
        assert!(rocky_statements(Adapter::Duckdb, &m, &run).is_ok());
    }

    #[test]
    fn format_checks_apply_to_every_format() {
        let mut m = model(StrategyConfig::FullRefresh);
        m.format = Some(LakehouseFormat::View);
        m.format_options.cluster_by = vec!["a b".into()];
        assert_eq!(
            code(Adapter::Databricks, &m, &RunInputs::default()),
            "invalid_identifier"
        );
        m.format_options.cluster_by.clear();
        m.format_options.comment = Some("a -- b".into());
        assert_eq!(
            code(Adapter::Databricks, &m, &RunInputs::default()),
            "invalid_format_option"
        );
        m.format_options.comment = Some(String::new());
        assert_eq!(
            code(Adapter::Databricks, &m, &RunInputs::default()),
            "statements [\"CREATE OR REPLACE VIEW wh.main.t\\nAS\\nSELECT 1\"]"
        );
    }
}
