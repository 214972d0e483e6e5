//! A model's `[strategy]` table as Rocky 1.71 reads it (spec/hashes.md section 12.5.1).

use serde::Serialize;

use crate::ir::TimeGrain;

/// The strategy variants of a model configuration, with defaults filled in.
///
/// Serialises as the spec's vectors write it: tagged by `type`, every field present, absent
/// optionals as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StrategyConfig {
    FullRefresh,
    Incremental {
        timestamp_column: String,
    },
    Merge {
        unique_key: Vec<String>,
        /// `None`: absent, meaning every column (resolved from the IR's typed columns).
        update_columns: Option<Vec<String>>,
    },
    TimeInterval {
        time_column: String,
        granularity: TimeGrain,
        lookback: u64,
        batch_size: u64,
        first_partition: Option<String>,
    },
    Ephemeral,
    DeleteInsert {
        partition_by: Vec<String>,
    },
    Microbatch {
        timestamp_column: String,
        granularity: TimeGrain,
    },
    View,
    MaterializedView,
    DynamicTable {
        target_lag: String,
    },
    ContentAddressed {
        storage_prefix: String,
        partition_columns: Vec<String>,
    },
}

impl StrategyConfig {
    /// The strategy label Rocky writes into the ledger (`ModelExecution` strategy).
    pub fn label(&self) -> &'static str {
        match self {
            StrategyConfig::FullRefresh => "full_refresh",
            StrategyConfig::Incremental { .. } => "incremental",
            StrategyConfig::Merge { .. } => "merge",
            StrategyConfig::TimeInterval { .. } => "time_interval",
            StrategyConfig::Ephemeral => "ephemeral",
            StrategyConfig::DeleteInsert { .. } => "delete_insert",
            StrategyConfig::Microbatch { .. } => "microbatch",
            StrategyConfig::View => "view",
            StrategyConfig::MaterializedView => "materialized_view",
            StrategyConfig::DynamicTable { .. } => "dynamic_table",
            StrategyConfig::ContentAddressed { .. } => "content_addressed",
        }
    }

    /// Parses a `[strategy]` table. Extra fields are ignored, as Rocky ignores them; an unknown
    /// `type`, a missing required field or a wrong TOML type is an error (the message says
    /// which). A table without `type` is refused: Rocky's default applies only when the whole
    /// `[strategy]` table is absent.
    pub fn from_toml(table: &toml::Table) -> Result<StrategyConfig, String> {
        let ty = match table.get("type") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(_) => return Err("strategy type is not a string".into()),
            None => return Err("strategy table has no type".into()),
        };
        let f = Fields(table);
        Ok(match ty {
            "full_refresh" => StrategyConfig::FullRefresh,
            "incremental" => StrategyConfig::Incremental {
                timestamp_column: f.string("timestamp_column")?,
            },
            "merge" => StrategyConfig::Merge {
                unique_key: f.strings("unique_key")?,
                update_columns: f.opt_strings("update_columns")?,
            },
            "time_interval" => {
                let batch_size = f.opt_u64("batch_size")?.unwrap_or(1);
                if batch_size == 0 {
                    return Err("time_interval batch_size must be non-zero".into());
                }
                StrategyConfig::TimeInterval {
                    time_column: f.string("time_column")?,
                    granularity: f.grain("granularity")?.ok_or("granularity missing")?,
                    lookback: f.opt_u64("lookback")?.unwrap_or(0),
                    batch_size,
                    first_partition: f.opt_string("first_partition")?,
                }
            }
            "ephemeral" => StrategyConfig::Ephemeral,
            "delete_insert" => StrategyConfig::DeleteInsert {
                partition_by: f.strings("partition_by")?,
            },
            "microbatch" => StrategyConfig::Microbatch {
                timestamp_column: f.string("timestamp_column")?,
                granularity: f.grain("granularity")?.unwrap_or(TimeGrain::Hour),
            },
            "view" => StrategyConfig::View,
            "materialized_view" => StrategyConfig::MaterializedView,
            "dynamic_table" => StrategyConfig::DynamicTable {
                target_lag: f.string("target_lag")?,
            },
            "content_addressed" => StrategyConfig::ContentAddressed {
                storage_prefix: f.string("storage_prefix")?,
                partition_columns: f.opt_strings("partition_columns")?.unwrap_or_default(),
            },
            other => return Err(format!("unknown strategy type {other:?}")),
        })
    }
}

/// Typed field access on a TOML table, with messages naming the key.
pub(crate) struct Fields<'a>(pub(crate) &'a toml::Table);

impl<'a> Fields<'a> {
    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{key} is not a string")),
        }
    }

    pub(crate) fn string(&self, key: &str) -> Result<String, String> {
        self.opt_string(key)?
            .ok_or_else(|| format!("{key} missing"))
    }

    pub(crate) fn opt_strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(format!("{key} holds a value that is not a string")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("{key} is not an array of strings")),
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        self.opt_strings(key)?
            .ok_or_else(|| format!("{key} missing"))
    }

    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => u64::try_from(*i)
                .map(Some)
                .map_err(|_| format!("{key} is negative")),
            Some(_) => Err(format!("{key} is not an integer")),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{key} is not a boolean")),
        }
    }

    pub(crate) fn opt_table(&self, key: &str) -> Result<Option<&'a toml::Table>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(t)),
            Some(_) => Err(format!("{key} is not a table")),
        }
    }

    fn grain(&self, key: &str) -> Result<Option<TimeGrain>, String> {
        Ok(match self.opt_string(key)?.as_deref() {
            None => None,
            Some("hour") => Some(TimeGrain::Hour),
            Some("day") => Some(TimeGrain::Day),
            Some("month") => Some(TimeGrain::Month),
            Some("year") => Some(TimeGrain::Year),
            Some(other) => return Err(format!("{key} {other:?} is not hour, day, month or year")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StrategyConfig, String> {
        StrategyConfig::from_toml(&toml::from_str::<toml::Table>(text).unwrap())
    }

    #[test]
    fn defaults_are_filled() {
        assert_eq!(
            parse("type = \"time_interval\"\ntime_column = \"ts\"\ngranularity = \"day\"").unwrap(),
            StrategyConfig::TimeInterval {
                time_column: "ts".into(),
                granularity: TimeGrain::Day,
                lookback: 0,
                batch_size: 1,
                first_partition: None,
            }
        );
        assert_eq!(
            parse("type = \"microbatch\"\ntimestamp_column = \"ts\"").unwrap(),
            StrategyConfig::Microbatch {
                timestamp_column: "ts".into(),
                granularity: TimeGrain::Hour,
            }
        );
        assert_eq!(
            parse("type = \"content_addressed\"\nstorage_prefix = \"s3://b/p\"").unwrap(),
            StrategyConfig::ContentAddressed {
                storage_prefix: "s3://b/p".into(),
                partition_columns: vec![],
            }
        );
    }

    #[test]
    fn bad_tables_are_refused() {
        for text in [
            "type = \"merge\"",
            "type = \"merge\"\nunique_key = \"id\"",
            "type = \"time_interval\"\ntime_column = \"ts\"\ngranularity = \"week\"",
            "type = \"time_interval\"\ntime_column = \"ts\"\ngranularity = \"day\"\nbatch_size = 0",
            "type = \"time_interval\"\ntime_column = \"ts\"\ngranularity = \"day\"\nlookback = -1",
            "type = \"snapshot\"",
            "type = 1",
            "timestamp_column = \"ts\"",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn extra_fields_are_ignored() {
        assert_eq!(
            parse("type = \"view\"\nextra = 1").unwrap(),
            StrategyConfig::View
        );
    }
}
