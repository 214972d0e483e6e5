//! Warehouse facts (`spec/bundle.md` section 6): row counts and columns read by the collector
//! or imported from an auditor's own client, standing in for a DuckDB file.

use serde::{Deserialize, Serialize};

use super::manifest::is_utc_time;

/// Largest facts file read.
pub const MAX_FACTS_BYTES: u64 = 64 * 1024 * 1024;

/// `warehouse/facts.json`. Fields in canonical key order (see [`super::manifest::Manifest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Catalogs whose every table is listed.
    pub complete_catalogs: Vec<String>,
    /// `1`.
    pub facts_format: u64,
    /// Which client read the facts, and when.
    pub source: FactsSource,
    /// One entry per table, sorted by (catalog, schema, table).
    pub tables: Vec<TableFacts>,
}

/// `source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsSource {
    /// `duckdb`, `snowsql`, `bq` or `databricks-sql-cli`.
    pub client: String,
    /// The client's version, if known.
    pub client_version: Option<String>,
    /// `duckdb`, `snowflake`, `databricks` or `bigquery`.
    pub dialect: String,
    /// When the queries ran.
    pub read_at: String,
}

/// One table's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFacts {
    /// Catalog (database, project).
    pub catalog: String,
    /// Columns in ordinal order, `None` when not read.
    pub columns: Option<Vec<ColumnFact>>,
    /// Whether `information_schema` has the table.
    pub exists: bool,
    /// The count, `None` when not counted.
    pub row_count: Option<u64>,
    /// Schema (dataset).
    pub schema: String,
    /// Table name.
    pub table: String,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnFact {
    /// The warehouse's type string.
    pub data_type: String,
    /// Column name.
    pub name: String,
    /// 1-based position.
    pub ordinal: u64,
}

/// The clients `source.client` may name.
pub const CLIENTS: [&str; 4] = ["duckdb", "snowsql", "bq", "databricks-sql-cli"];
/// The dialects `source.dialect` may name.
pub const DIALECTS: [&str; 4] = ["duckdb", "snowflake", "databricks", "bigquery"];

/// Parses and checks facts bytes (canonical JSON, every rule of section 6).
///
/// # Errors
///
/// One sentence naming the broken rule.
pub fn parse(bytes: &[u8]) -> Result<Facts, String> {
    if bytes.len() as u64 > MAX_FACTS_BYTES {
        return Err(format!(
            "warehouse facts are {} bytes, more than the limit of {MAX_FACTS_BYTES}",
            bytes.len()
        ));
    }
    let f: Facts = serde_json::from_slice(bytes).map_err(|e| format!("warehouse facts: {e}"))?;
    let canonical = serde_json::to_vec(&f).map_err(|e| format!("warehouse facts: {e}"))?;
    if canonical != bytes {
        return Err(
            "warehouse facts are not canonical JSON, or lack a key (spec/bundle.md 6)".to_owned(),
        );
    }
    if f.facts_format != 1 {
        return Err(format!("facts_format {} is not 1", f.facts_format));
    }
    if !CLIENTS.contains(&f.source.client.as_str()) {
        return Err(format!("unknown client {:?}", f.source.client));
    }
    if !DIALECTS.contains(&f.source.dialect.as_str()) {
        return Err(format!("unknown dialect {:?}", f.source.dialect));
    }
    if !is_utc_time(&f.source.read_at) {
        return Err("source.read_at is not an RFC 3339 UTC time".to_owned());
    }
    if !f.complete_catalogs.windows(2).all(|w| w[0] < w[1]) {
        return Err("complete_catalogs are not sorted and unique".to_owned());
    }
    let key = |t: &TableFacts| (t.catalog.clone(), t.schema.clone(), t.table.clone());
    if !f.tables.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return Err("tables are not sorted by (catalog, schema, table) and unique".to_owned());
    }
    for t in &f.tables {
        let name = format!("{}.{}.{}", t.catalog, t.schema, t.table);
        if !t.exists && t.row_count.is_some() {
            return Err(format!("{name} does not exist but has a row count"));
        }
        if let Some(cols) = &t.columns
            && !cols.windows(2).all(|w| w[0].ordinal < w[1].ordinal)
        {
            return Err(format!("{name}: columns are not in ordinal order"));
        }
    }
    Ok(f)
}
