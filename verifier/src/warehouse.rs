//! The DuckDB warehouse a run's claims are compared with (`spec/warehouse.md`).
//!
//! # Side effects
//!
//! Opens an in-memory DuckDB and `ATTACH`es the file `READ_ONLY` under each catalog name the ledger
//! uses, with extension auto-install and auto-load off, so nothing is created, written,
//! checkpointed or downloaded. Every identifier is double-quoted (`"` doubled inside) and every
//! value from the ledger is a bound parameter.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use duckdb::{Config, Connection, params};
use serde_json::Value;

use crate::error::VerifyError;

/// A `catalog.schema.table` name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableRef {
    /// Catalog (database) name.
    pub catalog: String,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
}

impl TableRef {
    /// Parses `catalog.schema.table` (exactly three non-empty dot-separated parts).
    pub fn parse(s: &str) -> Option<TableRef> {
        let mut parts = s.split('.');
        let (c, sc, t) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || c.is_empty() || sc.is_empty() || t.is_empty() {
            return None;
        }
        Some(TableRef {
            catalog: c.to_owned(),
            schema: sc.to_owned(),
            table: t.to_owned(),
        })
    }

    /// The IR's `target` object `{catalog, schema, table}`.
    pub fn from_ir_target(target: &Value) -> Option<TableRef> {
        let part = |k: &str| target.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(TableRef {
            catalog: part("catalog")?,
            schema: part("schema")?,
            table: part("table")?,
        })
    }

    /// The fully quoted SQL name.
    pub fn quoted(&self) -> String {
        format!(
            "{}.{}.{}",
            quote_ident(&self.catalog),
            quote_ident(&self.schema),
            quote_ident(&self.table)
        )
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.schema, self.table)
    }
}

/// Quotes a SQL identifier: wrapped in `"`, with `"` doubled inside.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quotes a SQL string literal: wrapped in `'`, with `'` doubled inside. Only used for the
/// user-given `--warehouse` path in `ATTACH`, which takes no bound parameters.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The DuckDB `information_schema.columns.data_type` a `RockyType` maps to, or `None` for types
/// that are not compared (`spec/warehouse.md`).
pub fn duckdb_type(rocky: &Value) -> Option<String> {
    if let Some(s) = rocky.as_str() {
        return Some(
            match s {
                "Boolean" => "BOOLEAN",
                "Int32" => "INTEGER",
                "Int64" => "BIGINT",
                "Float32" => "FLOAT",
                "Float64" => "DOUBLE",
                "String" => "VARCHAR",
                "Date" => "DATE",
                "Timestamp" => "TIMESTAMP WITH TIME ZONE",
                "TimestampNtz" => "TIMESTAMP",
                "Binary" => "BLOB",
                _ => return None,
            }
            .to_owned(),
        );
    }
    let d = rocky.get("Decimal")?;
    let p = d.get("precision")?.as_u64()?;
    let s = d.get("scale")?.as_u64()?;
    Some(format!("DECIMAL({p},{s})"))
}

/// A DuckDB file attached read-only, once per catalog name the ledger uses.
///
/// DuckDB will not attach one file twice in one database, so each catalog name gets its own
/// in-memory DuckDB with the file attached `READ_ONLY` under that name (read-only attaches share
/// the file).
pub struct Warehouse {
    path_text: String,
    conns: RefCell<BTreeMap<String, Connection>>,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("path", &self.path_text)
            .finish()
    }
}

fn db_err(e: duckdb::Error) -> String {
    e.to_string()
}

/// An in-memory DuckDB with `path` attached read-only as `catalog`; extension auto-install and
/// auto-load are off, so nothing is downloaded.
fn attach(path_text: &str, catalog: &str) -> Result<Connection, String> {
    let config = Config::default()
        .enable_autoload_extension(false)
        .and_then(|c| c.with("autoinstall_known_extensions", "false"))
        .map_err(db_err)?;
    let conn = Connection::open_in_memory_with_flags(config).map_err(db_err)?;
    let sql = format!(
        "ATTACH {} AS {} (READ_ONLY)",
        quote_literal(path_text),
        quote_ident(catalog)
    );
    conn.execute_batch(&sql).map_err(db_err)?;
    Ok(conn)
}

impl Warehouse {
    /// Attaches `path` read-only as catalog `catalog` (more catalogs are attached on demand).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Warehouse`] when the file does not exist or DuckDB cannot attach it.
    pub fn open(path: &Path, catalog: &str) -> Result<Warehouse, VerifyError> {
        let err = |m: String| VerifyError::Warehouse(format!("{}: {m}", path.display()));
        // DuckDB's READ_ONLY attach of a missing file must not get the chance to create one.
        if !path.is_file() {
            return Err(err("no such file".to_owned()));
        }
        let path_text = path
            .to_str()
            .ok_or_else(|| err("path is not UTF-8".to_owned()))?;
        let conn = attach(path_text, catalog).map_err(err)?;
        let conns = RefCell::new(BTreeMap::from([(catalog.to_owned(), conn)]));
        Ok(Warehouse {
            path_text: path_text.to_owned(),
            conns,
        })
    }

    /// Runs `f` on the connection where the file is attached as `catalog`.
    fn with<T>(
        &self,
        catalog: &str,
        f: impl FnOnce(&Connection) -> duckdb::Result<T>,
    ) -> Result<T, String> {
        let mut conns = self.conns.borrow_mut();
        if !conns.contains_key(catalog) {
            let conn = attach(&self.path_text, catalog)?;
            conns.insert(catalog.to_owned(), conn);
        }
        f(&conns[catalog]).map_err(db_err)
    }

    /// Whether `t` exists (table or view).
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn table_exists(&self, t: &TableRef) -> Result<bool, String> {
        let n: i64 = self.with(&t.catalog, |c| {
            c.query_row(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
                params![t.catalog, t.schema, t.table],
                |r| r.get(0),
            )
        })?;
        Ok(n > 0)
    }

    /// The schemas of `catalog` that hold a table named `table`.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn schemas_with_table(&self, catalog: &str, table: &str) -> Result<Vec<String>, String> {
        self.with(catalog, |c| {
            let mut stmt = c.prepare(
                "SELECT table_schema FROM information_schema.tables \
                 WHERE table_catalog = ? AND table_name = ? ORDER BY table_schema",
            )?;
            let rows = stmt.query_map(params![catalog, table], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    /// `COUNT(*)` of `t`.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn count(&self, t: &TableRef) -> Result<u64, String> {
        let sql = format!("SELECT COUNT(*) FROM {}", t.quoted());
        let n: i64 = self.with(&t.catalog, |c| c.query_row(&sql, [], |r| r.get(0)))?;
        u64::try_from(n).map_err(|_| format!("negative count {n}"))
    }

    /// `(column_name, data_type)` of `t`, in column order.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn columns(&self, t: &TableRef) -> Result<Vec<(String, String)>, String> {
        self.with(&t.catalog, |c| {
            let mut stmt = c.prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_catalog = ? AND table_schema = ? AND table_name = ? \
                 ORDER BY ordinal_position",
            )?;
            let rows = stmt.query_map(params![t.catalog, t.schema, t.table], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(
            quote_ident("a\"b; DROP TABLE x"),
            "\"a\"\"b; DROP TABLE x\""
        );
        let t = TableRef::parse("c.s.t\"x").unwrap();
        assert_eq!(t.quoted(), "\"c\".\"s\".\"t\"\"x\"");
    }

    #[test]
    fn table_names_need_exactly_three_parts() {
        assert!(TableRef::parse("a.b").is_none());
        assert!(TableRef::parse("a.b.c.d").is_none());
        assert!(TableRef::parse("a..c").is_none());
    }

    #[test]
    fn rocky_types_map_to_duckdb_names() {
        assert_eq!(duckdb_type(&json!("Int64")).as_deref(), Some("BIGINT"));
        assert_eq!(
            duckdb_type(&json!("Timestamp")).as_deref(),
            Some("TIMESTAMP WITH TIME ZONE")
        );
        assert_eq!(
            duckdb_type(&json!({"Decimal":{"precision":10,"scale":2}})).as_deref(),
            Some("DECIMAL(10,2)")
        );
        assert_eq!(duckdb_type(&json!("Variant")), None);
        assert_eq!(duckdb_type(&json!({"Array":"Int64"})), None);
    }
}
