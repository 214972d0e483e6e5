//! Warehouse facts (`warehouse/facts.json`, spec/bundle.md section 6): read directly from a
//! DuckDB file (row counts by reading the rows, `information_schema` columns), or imported from
//! the results of `rocky-verify warehouse-sql` run by the auditor with snowsql, bq or the
//! Databricks SQL CLI (CSV with a header row, a JSON array of objects, or JSON Lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rocky_verify::evidence::warehouse::{TableRef, Warehouse, quote_ident};
use serde_json::{Value, json};

use crate::error::CollectError;
use crate::manifest::time;

/// One table's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFacts {
    /// Whether `information_schema` lists it.
    pub exists: bool,
    /// Its row count, when counted.
    pub row_count: Option<u64>,
    /// `(name, data_type)` in ordinal order, when read.
    pub columns: Option<Vec<(String, String)>>,
}

/// The whole facts document.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Catalogs whose every table is listed.
    pub complete_catalogs: BTreeSet<String>,
    /// `duckdb`, `snowsql`, `bq` or `databricks-sql-cli`.
    pub client: String,
    /// The client's version, when known.
    pub client_version: Option<String>,
    /// `duckdb`, `snowflake`, `databricks` or `bigquery`.
    pub dialect: String,
    /// When the queries ran.
    pub read_at: DateTime<Utc>,
    /// Per table.
    pub tables: BTreeMap<TableRef, TableFacts>,
}

impl Facts {
    /// Canonical JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tables: Vec<Value> = self
            .tables
            .iter()
            .map(|(t, f)| {
                json!({
                    "catalog": t.catalog,
                    "schema": t.schema,
                    "table": t.table,
                    "exists": f.exists,
                    "row_count": f.row_count,
                    "columns": f.columns.as_ref().map(|cols| cols
                        .iter()
                        .enumerate()
                        .map(|(i, (n, d))| json!({"data_type": d, "name": n, "ordinal": i + 1}))
                        .collect::<Vec<_>>()),
                })
            })
            .collect();
        let v = json!({
            "complete_catalogs": self.complete_catalogs,
            "facts_format": 1,
            "source": {
                "client": self.client,
                "client_version": self.client_version,
                "dialect": self.dialect,
                "read_at": time(self.read_at),
            },
            "tables": tables,
        });
        rocky_verify::canon::to_canonical_string(&v).into_bytes()
    }
}

fn wh_err(path: &Path, m: impl std::fmt::Display) -> CollectError {
    CollectError::Warehouse {
        source_path: path.display().to_string(),
        message: m.to_string(),
    }
}

/// Every `(schema, table)` of the file attached as `catalog`.
fn all_tables(path: &Path, catalog: &str) -> Result<BTreeSet<(String, String)>, String> {
    let e = |e: duckdb::Error| e.to_string();
    let config = duckdb::Config::default()
        .enable_autoload_extension(false)
        .and_then(|c| c.with("autoinstall_known_extensions", "false"))
        .map_err(e)?;
    let conn = duckdb::Connection::open_in_memory_with_flags(config).map_err(e)?;
    let text = path.to_str().ok_or("the path is not UTF-8")?;
    conn.execute_batch(&format!(
        "ATTACH '{}' AS {} (READ_ONLY)",
        text.replace('\'', "''"),
        quote_ident(catalog)
    ))
    .map_err(e)?;
    let mut stmt = conn
        .prepare(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ?",
        )
        .map_err(e)?;
    let rows = stmt
        .query_map([catalog], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(e)?;
    rows.collect::<duckdb::Result<_>>().map_err(e)
}

/// Reads facts for `tables` from the DuckDB file at `path` (opened read-only): every table of
/// each catalog in scope is listed; the tables in scope are counted and their columns read.
///
/// # Errors
///
/// [`CollectError::Warehouse`] when the file cannot be attached.
pub fn from_duckdb(path: &Path, tables: &BTreeSet<TableRef>) -> Result<Facts, CollectError> {
    let read_at = Utc::now();
    let mut facts = Facts {
        complete_catalogs: BTreeSet::new(),
        client: "duckdb".into(),
        client_version: Some(duckdb_version()),
        dialect: "duckdb".into(),
        read_at,
        tables: BTreeMap::new(),
    };
    let catalogs: BTreeSet<&str> = tables.iter().map(|t| t.catalog.as_str()).collect();
    let Some(first) = catalogs.first() else {
        return Ok(facts);
    };
    let wh = Warehouse::open(path, first).map_err(|e| wh_err(path, e))?;
    for catalog in &catalogs {
        let all = all_tables(path, catalog).map_err(|e| wh_err(path, e))?;
        for (schema, table) in all {
            facts.tables.insert(
                TableRef {
                    catalog: (*catalog).to_owned(),
                    schema,
                    table,
                },
                TableFacts {
                    exists: true,
                    row_count: None,
                    columns: None,
                },
            );
        }
        facts.complete_catalogs.insert((*catalog).to_owned());
    }
    for t in tables {
        let exists = wh.table_exists(t).map_err(|e| wh_err(path, e))?;
        let f = if exists {
            TableFacts {
                exists,
                // A count or column read that fails is recorded as not known, not as absent.
                row_count: wh.count(t).ok(),
                columns: wh.columns(t).ok(),
            }
        } else {
            TableFacts {
                exists,
                row_count: None,
                columns: None,
            }
        };
        facts.tables.insert(t.clone(), f);
    }
    Ok(facts)
}

fn duckdb_version() -> String {
    duckdb::Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT version()", [], |r| r.get::<_, String>(0)))
        .unwrap_or_else(|_| "unknown".into())
}

/// The auditor's SQL client, as `--warehouse-client` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Snowflake's snowsql.
    Snowsql,
    /// BigQuery's bq.
    Bq,
    /// The Databricks SQL CLI.
    DatabricksSqlCli,
    /// The DuckDB CLI.
    Duckdb,
}

impl Client {
    /// Parses a `--warehouse-client` value.
    pub fn parse(s: &str) -> Option<Client> {
        Some(match s {
            "snowsql" => Client::Snowsql,
            "bq" => Client::Bq,
            "databricks-sql-cli" | "dbsqlcli" | "databricks" => Client::DatabricksSqlCli,
            "duckdb" => Client::Duckdb,
            _ => return None,
        })
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Client::Snowsql => ("snowsql", "snowflake"),
            Client::Bq => ("bq", "bigquery"),
            Client::DatabricksSqlCli => ("databricks-sql-cli", "databricks"),
            Client::Duckdb => ("duckdb", "duckdb"),
        }
    }
}

/// The rows of one results file, as lower-cased column name to text.
fn parse_results(path: &Path, bytes: &[u8]) -> Result<Vec<BTreeMap<String, String>>, CollectError> {
    let text = std::str::from_utf8(bytes).map_err(|_| wh_err(path, "not UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let object_row = |v: &Value| -> Option<BTreeMap<String, String>> {
        Some(
            v.as_object()?
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), cell(v)))
                .collect(),
        )
    };
    if trimmed.starts_with('[') {
        // bq --format=json / prettyjson, the Databricks CLI's JSON: an array of row objects.
        let v: Value = serde_json::from_str(trimmed).map_err(|e| wh_err(path, e))?;
        return v
            .as_array()
            .map(|a| a.iter().filter_map(object_row).collect())
            .ok_or_else(|| wh_err(path, "a JSON array of row objects was expected"));
    }
    if trimmed.starts_with('{') {
        // JSON Lines: one row object per line.
        let mut rows = Vec::new();
        for (i, line) in trimmed.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line)
                .map_err(|e| wh_err(path, format!("line {}: {e}", i + 1)))?;
            rows.push(
                object_row(&v)
                    .ok_or_else(|| wh_err(path, format!("line {}: not an object", i + 1)))?,
            );
        }
        return Ok(rows);
    }
    // CSV with a header row (snowsql -o output_format=csv, the DuckDB CLI's -csv).
    let records = parse_csv(text);
    let mut it = records.into_iter();
    let header: Vec<String> = it
        .next()
        .ok_or_else(|| wh_err(path, "empty CSV (a header row was expected)"))?
        .into_iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    Ok(it
        .filter(|r| !(r.len() == 1 && r[0].is_empty()))
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect())
}

/// RFC 4180 CSV: quoted fields with `""` escapes, CRLF or LF line ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Finds `want` among names read back from a warehouse: exactly, else the one match that
/// differs only by ASCII case (Snowflake upper-cases unquoted identifiers).
fn matches(rows: &[(TableRef, usize)], want: &TableRef) -> Vec<usize> {
    let exact: Vec<usize> = rows
        .iter()
        .filter(|(t, _)| t == want)
        .map(|(_, i)| *i)
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let folded = |t: &TableRef| {
        (
            t.catalog.to_ascii_lowercase(),
            t.schema.to_ascii_lowercase(),
            t.table.to_ascii_lowercase(),
        )
    };
    rows.iter()
        .filter(|(t, _)| folded(t) == folded(want))
        .map(|(_, i)| *i)
        .collect()
}

/// Imports the result files of the two `warehouse-sql` queries for `tables`.
///
/// # Errors
///
/// [`CollectError::Warehouse`] when a file cannot be read or has neither result's columns.
pub fn from_results(
    files: &[(std::path::PathBuf, Vec<u8>)],
    client: Client,
    client_version: Option<String>,
    read_at: Option<DateTime<Utc>>,
    tables: &BTreeSet<TableRef>,
) -> Result<Facts, CollectError> {
    let mut columns: Vec<(TableRef, usize, String, String)> = Vec::new();
    let mut counts: Vec<(TableRef, u64)> = Vec::new();
    let mut saw_columns = false;
    for (path, bytes) in files {
        let rows = parse_results(path, bytes)?;
        let need = |r: &BTreeMap<String, String>, k: &str| -> Result<String, CollectError> {
            r.get(k)
                .cloned()
                .ok_or_else(|| wh_err(path, format!("a row has no {k} column")))
        };
        let first = rows.first();
        let is_columns = first.is_some_and(|r| r.contains_key("column_name"));
        let is_counts = first.is_some_and(|r| r.contains_key("row_count"));
        if rows.is_empty() {
            // An empty columns result: none of the tables exists. Only a header tells which;
            // an empty file with no header is refused.
            let header = std::str::from_utf8(bytes)
                .unwrap_or("")
                .to_ascii_lowercase();
            if header.contains("column_name") {
                saw_columns = true;
                continue;
            }
            if header.contains("row_count") {
                continue;
            }
            return Err(wh_err(
                path,
                "no rows and no header naming column_name or row_count",
            ));
        }
        for r in &rows {
            let t = TableRef {
                catalog: need(r, "table_catalog")?,
                schema: need(r, "table_schema")?,
                table: need(r, "table_name")?,
            };
            if is_columns {
                let ordinal: usize = need(r, "ordinal_position")?
                    .trim()
                    .parse()
                    .map_err(|_| wh_err(path, "ordinal_position is not a number"))?;
                columns.push((t, ordinal, need(r, "column_name")?, need(r, "data_type")?));
            } else if is_counts {
                let n: u64 = need(r, "row_count")?
                    .trim()
                    .parse()
                    .map_err(|_| wh_err(path, "row_count is not a whole number"))?;
                counts.push((t, n));
            } else {
                return Err(wh_err(
                    path,
                    "neither the columns result (column_name) nor the row counts (row_count)",
                ));
            }
        }
        saw_columns |= is_columns;
    }
    let (name, dialect) = client.names();
    let mut facts = Facts {
        complete_catalogs: BTreeSet::new(),
        client: name.into(),
        client_version,
        dialect: dialect.into(),
        read_at: read_at.unwrap_or_else(Utc::now),
        tables: BTreeMap::new(),
    };
    let col_names: Vec<(TableRef, usize)> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.0.clone(), i))
        .collect();
    let count_names: Vec<(TableRef, usize)> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.0.clone(), i))
        .collect();
    for t in tables {
        let mut cols: Vec<(usize, String, String)> = matches(&col_names, t)
            .into_iter()
            .map(|i| (columns[i].1, columns[i].2.clone(), columns[i].3.clone()))
            .collect();
        cols.sort();
        let count = match matches(&count_names, t).as_slice() {
            [i] => Some(counts[*i].1),
            _ => None,
        };
        let exists = !cols.is_empty();
        facts.tables.insert(
            t.clone(),
            TableFacts {
                // Without a columns result, existence is not known: a count says it exists.
                exists: if saw_columns { exists } else { count.is_some() },
                row_count: if exists || !saw_columns { count } else { None },
                columns: saw_columns
                    .then(|| cols.into_iter().map(|(_, n, d)| (n, d)).collect())
                    .filter(|c: &Vec<(String, String)>| !c.is_empty()),
            },
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_and_crlf() {
        let rows = parse_csv("A,B\r\n\"x,\"\"y\"\"\",2\r\n");
        assert_eq!(rows, vec![vec!["A", "B"], vec!["x,\"y\"", "2"]]);
    }

    #[test]
    fn snowsql_csv_and_bq_json_give_the_same_facts() {
        let t = TableRef::parse("wh.main.orders").unwrap();
        let tables = BTreeSet::from([t.clone(), TableRef::parse("wh.main.gone").unwrap()]);
        let cols_csv =
            b"TABLE_CATALOG,TABLE_SCHEMA,TABLE_NAME,COLUMN_NAME,ORDINAL_POSITION,DATA_TYPE\n\
            WH,MAIN,ORDERS,AMOUNT,2,NUMBER\nWH,MAIN,ORDERS,ID,1,NUMBER\n";
        let counts_csv = b"TABLE_CATALOG,TABLE_SCHEMA,TABLE_NAME,ROW_COUNT\nWH,MAIN,ORDERS,42\n";
        let a = from_results(
            &[
                ("c.csv".into(), cols_csv.to_vec()),
                ("n.csv".into(), counts_csv.to_vec()),
            ],
            Client::Snowsql,
            None,
            None,
            &tables,
        )
        .unwrap();
        let cols_json = br#"[{"table_catalog":"wh","table_schema":"main","table_name":"orders","column_name":"ID","ordinal_position":"1","data_type":"NUMBER"},{"table_catalog":"wh","table_schema":"main","table_name":"orders","column_name":"AMOUNT","ordinal_position":2,"data_type":"NUMBER"}]"#;
        let counts_json = br#"{"table_catalog":"wh","table_schema":"main","table_name":"orders","row_count":"42"}"#;
        let b = from_results(
            &[
                ("c.json".into(), cols_json.to_vec()),
                ("n.json".into(), counts_json.to_vec()),
            ],
            Client::Bq,
            None,
            None,
            &tables,
        )
        .unwrap();
        for f in [&a, &b] {
            let o = &f.tables[&t];
            assert!(o.exists);
            assert_eq!(o.row_count, Some(42));
            assert_eq!(
                o.columns.as_ref().unwrap(),
                &vec![
                    ("ID".to_owned(), "NUMBER".to_owned()),
                    ("AMOUNT".into(), "NUMBER".into())
                ]
            );
            let gone = &f.tables[&TableRef::parse("wh.main.gone").unwrap()];
            assert!(!gone.exists && gone.row_count.is_none() && gone.columns.is_none());
        }
        assert_eq!(a.dialect, "snowflake");
        assert_eq!(b.dialect, "bigquery");
        assert!(rocky_verify::canon::is_canonical(&a.to_bytes()).unwrap());
    }

    #[test]
    fn a_file_with_neither_result_is_refused() {
        let r = from_results(
            &[("x.csv".into(), b"a,b\n1,2\n".to_vec())],
            Client::Snowsql,
            None,
            None,
            &BTreeSet::new(),
        );
        assert!(r.is_err());
    }
}
