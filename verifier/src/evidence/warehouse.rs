//! The DuckDB warehouse a run's claims are compared with (`spec/warehouse.md`).
//!
//! # Side effects
//!
//! Opens an in-memory DuckDB and `ATTACH`es the file `READ_ONLY` under each catalog name the ledger
//! uses, with extension auto-install and auto-load off, so nothing is created, written,
//! checkpointed or downloaded. Every identifier is double-quoted (`"` doubled inside) and every
//! value from the ledger is a bound parameter.
//!
//! # Batching
//!
//! Lookups are answered from per-catalog snapshots taken with one query per kind: the first
//! question about a catalog reads all of `information_schema.tables` (or `.columns`) for it, and
//! [`Warehouse::prefetch_counts`] counts many tables per `UNION ALL` query. `run` and `gate`
//! ask the same questions; a thousand tables cost a dozen queries, not three thousand.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
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

/// An alias for a table that none of its columns is named (compared case-insensitively, as
/// DuckDB resolves identifiers): `count(alias)` must mean the row, and a column of that name
/// would be taken instead.
fn row_alias(columns: &[(String, String)]) -> String {
    let mut alias = String::from("rv_row");
    while columns
        .iter()
        .any(|(c, _)| c.to_lowercase() == alias.to_lowercase())
    {
        alias.push('_');
    }
    alias
}

/// What a warehouse relation is (`information_schema.tables.table_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableKind {
    /// `BASE TABLE`.
    Table,
    /// `VIEW`.
    View,
    /// Anything else (`LOCAL TEMPORARY`, ...), as DuckDB spells it.
    Other(String),
}

impl TableKind {
    fn from_table_type(t: &str) -> TableKind {
        match t {
            "BASE TABLE" => TableKind::Table,
            "VIEW" => TableKind::View,
            other => TableKind::Other(other.to_owned()),
        }
    }

    /// How a report names it.
    pub fn name(&self) -> &str {
        match self {
            TableKind::Table => "table",
            TableKind::View => "view",
            TableKind::Other(s) => s,
        }
    }
}

/// A DuckDB file attached read-only, once per catalog name the ledger uses.
///
/// DuckDB will not attach one file twice in one database, so each catalog name gets its own
/// in-memory DuckDB with the file attached `READ_ONLY` under that name (read-only attaches share
/// the file).
pub struct Warehouse {
    path_text: String,
    conns: RefCell<BTreeMap<String, Connection>>,
    cache: RefCell<Cache>,
    /// Warehouse facts (`spec/bundle.md` section 6) instead of a database: every question is
    /// answered from them and no DuckDB is opened.
    facts: Option<FactsIndex>,
}

/// Warehouse facts by table.
struct FactsIndex {
    tables: BTreeMap<TableRef, crate::evidence::bundle::facts::TableFacts>,
    complete: BTreeSet<String>,
    /// `client at read_at`, for messages.
    source: String,
}

impl FactsIndex {
    fn new(f: crate::evidence::bundle::facts::Facts) -> FactsIndex {
        let source = format!("{} at {}", f.source.client, f.source.read_at);
        let tables = f
            .tables
            .into_iter()
            .map(|t| {
                let key = TableRef {
                    catalog: t.catalog.clone(),
                    schema: t.schema.clone(),
                    table: t.table.clone(),
                };
                (key, t)
            })
            .collect();
        FactsIndex {
            tables,
            complete: f.complete_catalogs.into_iter().collect(),
            source,
        }
    }

    fn table(&self, t: &TableRef) -> Result<&crate::evidence::bundle::facts::TableFacts, String> {
        self.tables.get(t).ok_or_else(|| {
            format!(
                "{t} is not in the warehouse facts (read by {}); they list only the tables \
                 collected",
                self.source
            )
        })
    }
}

/// Tables counted by one `UNION ALL` query. DuckDB plans a union of n tables in more than linear
/// time (1k tables in one query: 0.45 s; in batches of 100: 0.35 s, the whole gate included), so
/// counts go in batches of this size: still one query per hundred tables, not one per table.
const COUNT_BATCH: usize = 100;

/// `(schema, table)` within a catalog.
type Name = (String, String);
/// `(column_name, data_type)` lists of every table of one catalog.
type CatalogColumns = BTreeMap<Name, Vec<(String, String)>>;

/// Snapshots of the catalog metadata and counts already read (see "Batching").
#[derive(Default)]
struct Cache {
    /// Catalog to every `(schema, table)` it holds (tables and views), with its
    /// `information_schema.tables.table_type` (`BASE TABLE`, `VIEW`, ...).
    tables: BTreeMap<String, Result<BTreeMap<Name, String>, WarehouseError>>,
    /// Catalog to the `(schema, table, column)`s declared `NOT NULL`.
    not_null: BTreeMap<String, BTreeSet<(String, String, String)>>,
    /// Catalog to every table's `(column_name, data_type)` list, in column order.
    columns: BTreeMap<String, Result<CatalogColumns, WarehouseError>>,
    /// Row counts (see [`Warehouse::count`]).
    counts: BTreeMap<TableRef, u64>,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("path", &self.path_text)
            .finish()
    }
}

/// Why the warehouse could not answer a question (the `warehouse.*` checks report it as
/// could-not-verify). Clone, because a failed catalog read is cached and given to every table
/// that asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarehouseError {
    /// DuckDB's own message (attach, metadata query or count).
    #[error("{0}")]
    DuckDb(String),
    /// A count came back negative.
    #[error("negative count {0}")]
    NegativeCount(i64),
    /// DuckDB's parser refused a model's SQL (or its parse tree was not JSON).
    #[error("{0}")]
    Parse(String),
    /// The warehouse is a bundle's facts file, which does not answer this (`spec/bundle.md`).
    #[error("{0}")]
    Facts(String),
}

fn db_err(e: duckdb::Error) -> WarehouseError {
    WarehouseError::DuckDb(e.to_string())
}

/// An in-memory DuckDB with `path` attached read-only as `catalog`; extension auto-install and
/// auto-load are off, so nothing is downloaded.
fn attach(path_text: &str, catalog: &str) -> Result<Connection, WarehouseError> {
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

/// An in-memory DuckDB for SQL taken from a repository (model SELECTs): `path` attached
/// read-only as `catalog` when given, then external access off (no file, URL or new attach) and
/// the configuration locked so the SQL cannot switch it back on.
fn sandbox(attached: Option<(&str, &str)>) -> Result<Connection, WarehouseError> {
    let conn = match attached {
        Some((path_text, catalog)) => attach(path_text, catalog)?,
        None => {
            let config = Config::default()
                .enable_autoload_extension(false)
                .and_then(|c| c.with("autoinstall_known_extensions", "false"))
                .map_err(db_err)?;
            Connection::open_in_memory_with_flags(config).map_err(db_err)?
        }
    };
    conn.execute_batch("SET enable_external_access = false; SET lock_configuration = true;")
        .map_err(db_err)?;
    Ok(conn)
}

/// The catalog a DuckDB file is attached as: the first catalog the ledger names (`named`, most
/// trusted first), else the file's stem (DuckDB's own default alias for an attached file), else
/// `warehouse`. The one rule for `run` and `gate`; tables in other catalogs attach on demand.
pub fn catalog_for(path: &Path, named: impl IntoIterator<Item = String>) -> String {
    named
        .into_iter()
        .next()
        .or_else(|| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .unwrap_or_else(|| "warehouse".to_owned())
}

impl Warehouse {
    /// Attaches `path` read-only as catalog `catalog` (more catalogs are attached on demand).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Warehouse`] when the file does not exist or DuckDB cannot attach it.
    pub fn open(path: &Path, catalog: &str) -> Result<Warehouse, VerifyError> {
        let err = |m: String| VerifyError::Warehouse(format!("{}: {m}", path.display()));
        // DuckDB's READ_ONLY attach of a missing file must not get the chance to create one, and
        // a FIFO or a device must be refused before DuckDB blocks on it: only a regular file,
        // judged without blocking, is attached.
        if let Err(e) = crate::evidence::regular_file::open(path) {
            return Err(VerifyError::Warehouse(e.to_string()));
        }
        if !path.is_file() {
            // Say what is there instead: a folder (a dbt `target/` or a lake) is a common
            // mistake, and "no such file" would send the user looking for a typo.
            let what = match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => {
                    "is a directory; --warehouse takes a DuckDB database file (e.g. warehouse.duckdb)"
                }
                Ok(_) => "is not a regular file; --warehouse takes a DuckDB database file",
                Err(_) => "no such file",
            };
            return Err(err(what.to_owned()));
        }
        if path.extension().is_some_and(|e| e == "json") {
            return Self::open_facts(path);
        }
        let path_text = path
            .to_str()
            .ok_or_else(|| err("path is not UTF-8".to_owned()))?;
        let conn = attach(path_text, catalog).map_err(|e| err(e.to_string()))?;
        let conns = RefCell::new(BTreeMap::from([(catalog.to_owned(), conn)]));
        Ok(Warehouse {
            path_text: path_text.to_owned(),
            conns,
            cache: RefCell::new(Cache::default()),
            facts: None,
        })
    }

    /// Reads warehouse facts (`spec/bundle.md` section 6) from a `.json` file.
    fn open_facts(path: &Path) -> Result<Warehouse, VerifyError> {
        use std::io::Read;
        let err = |m: String| VerifyError::Warehouse(format!("{}: {m}", path.display()));
        let limit = crate::evidence::bundle::facts::MAX_FACTS_BYTES;
        let mut bytes = Vec::new();
        crate::evidence::regular_file::open(path)
            .map_err(|e| err(e.to_string()))?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        let facts = crate::evidence::bundle::facts::parse(&bytes).map_err(err)?;
        Ok(Warehouse {
            path_text: path.display().to_string(),
            conns: RefCell::new(BTreeMap::new()),
            cache: RefCell::new(Cache::default()),
            facts: Some(FactsIndex::new(facts)),
        })
    }

    /// `client at time` when the answers come from warehouse facts, not a database.
    pub fn facts_source(&self) -> Option<&str> {
        self.facts.as_ref().map(|f| f.source.as_str())
    }

    /// Runs `f` on the connection where the file is attached as `catalog`.
    fn with<T>(
        &self,
        catalog: &str,
        f: impl FnOnce(&Connection) -> duckdb::Result<T>,
    ) -> Result<T, WarehouseError> {
        let mut conns = self.conns.borrow_mut();
        if !conns.contains_key(catalog) {
            let conn = attach(&self.path_text, catalog)?;
            conns.insert(catalog.to_owned(), conn);
        }
        f(&conns[catalog]).map_err(db_err)
    }

    /// Reads every `(schema, table)` of `catalog` once (one query), then answers from memory.
    fn tables_of<T>(
        &self,
        catalog: &str,
        f: impl FnOnce(&BTreeMap<Name, String>) -> T,
    ) -> Result<T, WarehouseError> {
        if !self.cache.borrow().tables.contains_key(catalog) {
            let read = self.with(catalog, |c| {
                let mut stmt = c.prepare(
                    "SELECT table_schema, table_name, table_type FROM information_schema.tables \
                     WHERE table_catalog = ?",
                )?;
                let rows = stmt.query_map(params![catalog], |r| {
                    Ok(((r.get(0)?, r.get(1)?), r.get(2)?))
                })?;
                rows.collect::<duckdb::Result<BTreeMap<Name, String>>>()
            });
            self.cache
                .borrow_mut()
                .tables
                .insert(catalog.to_owned(), read);
        }
        let cache = self.cache.borrow();
        match &cache.tables[catalog] {
            Ok(set) => Ok(f(set)),
            Err(e) => Err(e.clone()),
        }
    }

    /// Whether `t` exists (table or view).
    ///
    /// # Errors
    ///
    /// [`WarehouseError`] with DuckDB's message.
    pub fn table_exists(&self, t: &TableRef) -> Result<bool, WarehouseError> {
        if let Some(f) = &self.facts {
            return f.table(t).map(|t| t.exists).map_err(WarehouseError::Facts);
        }
        self.tables_of(&t.catalog, |set| {
            set.contains_key(&(t.schema.clone(), t.table.clone()))
        })
    }

    /// What `t` is: `Some(TableKind)` when it exists, `None` when it does not.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn kind(&self, t: &TableRef) -> Result<Option<TableKind>, WarehouseError> {
        self.tables_of(&t.catalog, |set| {
            set.get(&(t.schema.clone(), t.table.clone()))
                .map(|ty| TableKind::from_table_type(ty))
        })
    }

    /// The columns of `t` declared `NOT NULL` (read with [`Warehouse::columns`]).
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn not_null_columns(&self, t: &TableRef) -> Result<BTreeSet<String>, WarehouseError> {
        self.columns(t)?;
        let cache = self.cache.borrow();
        Ok(cache
            .not_null
            .get(&t.catalog)
            .map(|set| {
                set.iter()
                    .filter(|(s, tb, _)| *s == t.schema && *tb == t.table)
                    .map(|(_, _, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Compares the rows of `t` with the rows of the Parquet file `parquet`, as multisets (order
    /// does not matter, duplicates do), over the named `columns` of both: `(rows of the table not
    /// in the file, rows of the file not in the table)`, each counted with `EXCEPT ALL` inside
    /// DuckDB, so every data block of both is read.
    ///
    /// # Errors
    ///
    /// DuckDB's message: an unreadable table or file, or columns whose types cannot be compared.
    pub fn rows_differ_from_parquet(
        &self,
        t: &TableRef,
        columns: &[String],
        parquet: &Path,
    ) -> Result<(u64, u64), WarehouseError> {
        let file = parquet
            .to_str()
            .ok_or_else(|| WarehouseError::DuckDb("the artifact path is not UTF-8".to_owned()))?;
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let cols = cols.join(", ");
        // The file is named by the caller (a content address under --artifacts); globbing is
        // off so a `*` or `[` in the folder's name is taken literally.
        let src = format!(
            "read_parquet({}, hive_partitioning = false)",
            quote_literal(file)
        );
        let sql = format!(
            "SELECT (SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL \
             SELECT {cols} FROM {src})), \
             (SELECT count(*) FROM (SELECT {cols} FROM {src} EXCEPT ALL \
             SELECT {cols} FROM {table}))",
            table = t.quoted()
        );
        let (a, b): (i64, i64) = self.with(&t.catalog, |c| {
            c.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
        })?;
        Ok((
            u64::try_from(a).unwrap_or_default(),
            u64::try_from(b).unwrap_or_default(),
        ))
    }

    /// The column names of a Parquet file, as DuckDB reads them.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn parquet_columns(
        &self,
        catalog: &str,
        parquet: &Path,
    ) -> Result<Vec<String>, WarehouseError> {
        let file = parquet
            .to_str()
            .ok_or_else(|| WarehouseError::DuckDb("the artifact path is not UTF-8".to_owned()))?;
        let sql = format!(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet({}, \
             hive_partitioning = false))",
            quote_literal(file)
        );
        self.with(catalog, |c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<duckdb::Result<Vec<String>>>()
        })
    }

    /// The schemas of `catalog` that hold a table named `table`, sorted.
    ///
    /// # Errors
    ///
    /// [`WarehouseError`] with DuckDB's message.
    pub fn schemas_with_table(
        &self,
        catalog: &str,
        table: &str,
    ) -> Result<Vec<String>, WarehouseError> {
        if let Some(f) = &self.facts {
            if !f.complete.contains(catalog) {
                return Err(WarehouseError::Facts(format!(
                    "the warehouse facts (read by {}) do not list every table of catalog \
                     {catalog}, so which schema holds {table} cannot be told",
                    f.source
                )));
            }
            return Ok(f
                .tables
                .iter()
                .filter(|(k, v)| k.catalog == catalog && k.table == table && v.exists)
                .map(|(k, _)| k.schema.clone())
                .collect());
        }
        self.tables_of(catalog, |set| {
            set.keys()
                .filter(|(_, t)| t == table)
                .map(|(s, _)| s.clone())
                .collect()
        })
    }

    /// The `SELECT` that counts `t` by reading its rows (see [`Warehouse::count`]), with
    /// `extra` columns before the count (`i` for a batch).
    fn count_select(&self, t: &TableRef, extra: &str) -> Result<String, WarehouseError> {
        let alias = quote_ident(&row_alias(&self.columns(t)?));
        Ok(format!(
            "SELECT {extra}count({alias}) AS n FROM {} AS {alias}",
            t.quoted()
        ))
    }

    /// Counts every table of `tables` that exists and is not counted yet, with one `UNION ALL`
    /// query per catalog and [`COUNT_BATCH`] tables. A query that fails leaves its tables to
    /// [`Warehouse::count`], which then counts (and reports) each on its own.
    pub fn prefetch_counts(&self, tables: &[TableRef]) {
        if self.facts.is_some() {
            return;
        }
        let mut by_catalog: BTreeMap<&str, BTreeSet<&TableRef>> = BTreeMap::new();
        for t in tables {
            if self.cache.borrow().counts.contains_key(t) || !self.table_exists(t).unwrap_or(false)
            {
                continue;
            }
            by_catalog.entry(t.catalog.as_str()).or_default().insert(t);
        }
        for (catalog, set) in by_catalog {
            let all: Vec<&TableRef> = set.into_iter().collect();
            for list in all.chunks(COUNT_BATCH) {
                let selects: Result<Vec<String>, WarehouseError> = list
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.count_select(t, &format!("{i} AS i, ")))
                    .collect();
                let Ok(selects) = selects else { continue };
                let sql = selects.join(" UNION ALL ");
                let rows = self.with(catalog, |c| {
                    let mut stmt = c.prepare(&sql)?;
                    let rows =
                        stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
                    rows.collect::<duckdb::Result<Vec<_>>>()
                });
                if let Ok(rows) = rows {
                    let mut cache = self.cache.borrow_mut();
                    for (i, n) in rows {
                        if let (Some(t), Ok(n)) = (
                            usize::try_from(i).ok().and_then(|i| list.get(i)),
                            u64::try_from(n),
                        ) {
                            cache.counts.insert((*t).clone(), n);
                        }
                    }
                }
            }
        }
    }

    /// The number of rows of `t`, counted by reading them (from
    /// [`Warehouse::prefetch_counts`] when it was counted there).
    ///
    /// DuckDB answers a bare `COUNT(*)` (and `COUNT(col)` of a column its statistics say has no
    /// NULLs) from the row-group metadata alone, so a file whose data blocks were truncated or
    /// zeroed still "counts" (issue 16). `count(r)` of the row itself (`r` the table's alias: a
    /// struct of every column, never NULL, so it counts every row) makes DuckDB read, and
    /// checksum, every column's blocks; a damaged table is then an error, not a count.
    ///
    /// # Errors
    ///
    /// DuckDB's message (an unreadable block included).
    pub fn count(&self, t: &TableRef) -> Result<u64, WarehouseError> {
        if let Some(f) = &self.facts {
            let entry = f.table(t).map_err(WarehouseError::Facts)?;
            return entry.row_count.ok_or_else(|| {
                WarehouseError::Facts(format!(
                    "the warehouse facts (read by {}) have no row count for {t}",
                    f.source
                ))
            });
        }
        if let Some(n) = self.cache.borrow().counts.get(t) {
            return Ok(*n);
        }
        let sql = self.count_select(t, "")?;
        let n: i64 = self.with(&t.catalog, |c| c.query_row(&sql, [], |r| r.get(0)))?;
        let n = u64::try_from(n).map_err(|_| WarehouseError::NegativeCount(n))?;
        self.cache.borrow_mut().counts.insert(t.clone(), n);
        Ok(n)
    }

    /// `(column_name, data_type)` of `t`, in column order (empty for a table that does not
    /// exist). The first call for a catalog reads all of its columns in one query.
    ///
    /// # Errors
    ///
    /// [`WarehouseError`] with DuckDB's message.
    pub fn columns(&self, t: &TableRef) -> Result<Vec<(String, String)>, WarehouseError> {
        if let Some(f) = &self.facts {
            let entry = f.table(t).map_err(WarehouseError::Facts)?;
            if !entry.exists {
                return Ok(Vec::new());
            }
            return entry
                .columns
                .as_ref()
                .map(|cols| {
                    cols.iter()
                        .map(|c| (c.name.clone(), c.data_type.clone()))
                        .collect()
                })
                .ok_or_else(|| {
                    WarehouseError::Facts(format!(
                        "the warehouse facts (read by {}) have no columns for {t}",
                        f.source
                    ))
                });
        }
        let catalog = t.catalog.as_str();
        if !self.cache.borrow().columns.contains_key(catalog) {
            let read = self.with(catalog, |c| {
                let mut stmt = c.prepare(
                    "SELECT table_schema, table_name, column_name, data_type, is_nullable \
                     FROM information_schema.columns WHERE table_catalog = ? \
                     ORDER BY table_schema, table_name, ordinal_position",
                )?;
                let rows = stmt.query_map(params![catalog], |r| {
                    Ok((
                        (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                        (r.get::<_, String>(2)?, r.get::<_, String>(3)?),
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?;
                let mut map = CatalogColumns::new();
                let mut not_null = BTreeSet::new();
                for row in rows {
                    let (name, col, nullable) = row?;
                    if nullable.as_deref() == Some("NO") {
                        not_null.insert((name.0.clone(), name.1.clone(), col.0.clone()));
                    }
                    map.entry(name).or_default().push(col);
                }
                Ok((map, not_null))
            });
            let read = match read {
                Ok((map, not_null)) => {
                    self.cache
                        .borrow_mut()
                        .not_null
                        .insert(catalog.to_owned(), not_null);
                    Ok(map)
                }
                Err(e) => Err(e),
            };
            self.cache
                .borrow_mut()
                .columns
                .insert(catalog.to_owned(), read);
        }
        let cache = self.cache.borrow();
        match &cache.columns[catalog] {
            Ok(map) => Ok(map
                .get(&(t.schema.clone(), t.table.clone()))
                .cloned()
                .unwrap_or_default()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Whether this is a bundle's warehouse facts file rather than a DuckDB database.
    pub fn is_facts(&self) -> bool {
        self.facts.is_some()
    }

    /// Whether `t` is a view (`information_schema.tables.table_type`), `None` when it does not
    /// exist.
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn is_view(&self, t: &TableRef) -> Result<Option<bool>, WarehouseError> {
        self.with(&t.catalog, |c| {
            let mut stmt = c.prepare(
                "SELECT table_type FROM information_schema.tables \
                 WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
            )?;
            let mut rows = stmt.query(params![t.catalog, t.schema, t.table])?;
            match rows.next()? {
                Some(r) => Ok(Some(r.get::<_, String>(0)? == "VIEW")),
                None => Ok(None),
            }
        })
    }

    /// DuckDB's parse tree of `sql` (`json_serialize_sql`): parsed only, nothing is bound or
    /// run, on an empty in-memory database.
    ///
    /// # Errors
    ///
    /// The parser's message, or DuckDB's.
    pub fn parse_select(sql: &str) -> Result<Value, WarehouseError> {
        let conn = sandbox(None)?;
        let text: String = conn
            .query_row(
                &format!(
                    "SELECT CAST(json_serialize_sql({}) AS VARCHAR)",
                    quote_literal(sql)
                ),
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        let tree: Value =
            serde_json::from_str(&text).map_err(|e| WarehouseError::Parse(e.to_string()))?;
        if tree.get("error").and_then(Value::as_bool) == Some(true) {
            let msg = tree
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("unknown parser error");
            return Err(WarehouseError::Parse(msg.to_owned()));
        }
        Ok(tree)
    }

    /// The number of rows `select` returns, run on a fresh connection where the file is attached
    /// read-only as `catalog` and external access is then switched off and the configuration
    /// locked: the query can read that catalog and nothing else (no file, no network, no other
    /// database). The caller has parsed `select` as one SELECT ([`Warehouse::parse_select`]).
    ///
    /// # Errors
    ///
    /// DuckDB's message.
    pub fn recount(&self, catalog: &str, select: &str) -> Result<u64, WarehouseError> {
        let conn = sandbox(Some((&self.path_text, catalog)))?;
        // The newline before `)` ends a trailing `--` comment of the model.
        let sql = format!("SELECT count(*) FROM (\n{select}\n) AS rv_recount");
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(db_err)?;
        u64::try_from(n).map_err(|_| WarehouseError::NegativeCount(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn batched_lookups_agree_with_the_warehouse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE SCHEMA s; CREATE TABLE s.a (x BIGINT, y VARCHAR); \
                 INSERT INTO s.a VALUES (1, 'p'), (2, 'q'); CREATE TABLE main.\"we\"\"ird\" (z DATE); \
                 CREATE TABLE main.a (x BIGINT);",
            )
            .unwrap();
        }
        let wh = Warehouse::open(&path, "w").unwrap();
        let a = TableRef::parse("w.s.a").unwrap();
        let weird = TableRef::parse("w.main.we\"ird").unwrap();
        let gone = TableRef::parse("w.s.gone").unwrap();
        wh.prefetch_counts(&[a.clone(), weird.clone(), gone.clone()]);
        assert_eq!(wh.count(&a), Ok(2));
        assert_eq!(wh.count(&weird), Ok(0));
        assert!(wh.count(&gone).is_err());
        assert_eq!(wh.table_exists(&a), Ok(true));
        assert_eq!(wh.table_exists(&gone), Ok(false));
        assert_eq!(
            wh.schemas_with_table("w", "a"),
            Ok(vec!["main".to_owned(), "s".to_owned()])
        );
        assert_eq!(
            wh.columns(&a).unwrap(),
            vec![
                ("x".to_owned(), "BIGINT".to_owned()),
                ("y".to_owned(), "VARCHAR".to_owned())
            ]
        );
        assert!(wh.columns(&gone).unwrap().is_empty());
        // Another catalog name for the same file is attached on demand.
        let other = TableRef::parse("alias.s.a").unwrap();
        assert_eq!(wh.count(&other), Ok(2));
    }

    #[test]
    fn a_column_named_like_the_row_alias_does_not_replace_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE t (\"RV_ROW\" INT, rv_row_ INT); \
                 INSERT INTO t VALUES (NULL, NULL), (NULL, NULL), (1, NULL);",
            )
            .unwrap();
        let wh = Warehouse::open(&path, "w").unwrap();
        // count("RV_ROW") would be 1 and count(rv_row_) 0: every row is counted, NULLs included.
        assert_eq!(wh.count(&TableRef::parse("w.main.t").unwrap()), Ok(3));
        assert_eq!(
            row_alias(&[
                ("rv_row".into(), String::new()),
                ("RV_ROW_".into(), String::new())
            ]),
            "rv_row__"
        );
    }

    #[test]
    fn the_count_reads_the_data_not_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE t AS SELECT hash(i) AS x, i::VARCHAR AS y FROM range(400000) r(i); \
                 CHECKPOINT;",
            )
            .unwrap();
        let t = TableRef::parse("w.main.t").unwrap();
        // Control: the intact file counts.
        assert_eq!(Warehouse::open(&path, "w").unwrap().count(&t), Ok(400_000));
        // Zero the data blocks in the middle of the file; the catalog and row-group metadata at
        // its end stay readable, so a bare COUNT(*) would still answer 400000.
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        bytes[len / 10..len * 6 / 10].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let wh = Warehouse::open(&path, "w").unwrap();
        let bare: Result<i64, WarehouseError> = wh.with("w", |c| {
            c.query_row("SELECT COUNT(*) FROM w.main.t", [], |r| r.get(0))
        });
        assert_eq!(
            bare,
            Ok(400_000),
            "DuckDB's metadata count survives: the hazard is real"
        );
        let counted = wh.count(&t);
        assert!(counted.is_err(), "{counted:?}");
        wh.prefetch_counts(std::slice::from_ref(&t));
        assert!(wh.count(&t).is_err());
    }
}
