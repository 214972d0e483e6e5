//! Row-count source 4 (`spec/warehouse.md` "Row counts"): the count of a full-refresh model's
//! own SELECT, re-run now in the warehouse, for the table's latest write.
//!
//! Rocky 1.71 records no count of a transformation table (`rows_affected` is null off the
//! content-addressed path and only the replication runner writes `check_history`). But a full
//! refresh replaces the table with exactly the rows of one SELECT, and the project at the commit
//! gives that SELECT byte for byte once its statements recompute the recorded `sql_hash`. Run
//! again over the same upstream rows, it must return as many rows as the table holds.
//!
//! "The same upstream rows" is the whole argument, so every precondition below is about it, and
//! each one that fails keeps the check `unverifiable` with its reason (never a failure):
//!
//! - the adapter is DuckDB (the SQL is re-run by DuckDB; another dialect's semantics differ);
//! - exactly the statements recorded: the model's statements recompute the recorded `sql_hash`;
//! - the SELECT is deterministic: no sampling, no table function, no clock, random, sequence or
//!   session function;
//! - every table it reads is named `catalog.schema.table` (or is a CTE of the query), lives in
//!   the warehouse file's catalog, is a base table (a view's own inputs are not visible here),
//!   and is not the model's own table;
//! - every such upstream was last written by an execution the ledger records and ties to that
//!   table (`target_table`, the project at this run's commit for this run's models, or Rocky's
//!   replication progress row `{run_id}|{table}`), which finished before this model started, and
//!   no recorded execution that may have written it (same table name) finished after that;
//! - no recorded execution that may have written the model's own table finished after this
//!   model started (the latest write).
//!
//! A table written outside Rocky (a seed, another tool) has no recorded writer, so whether its
//! rows changed since the run is not known: such a model stays unverifiable.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Ctx;
use super::project::RockyModels;
use super::view::{ModelView, RunView};
use crate::evidence::ledger::{self, JsonTable, Ledger};
use crate::evidence::warehouse::{TableRef, Warehouse};
use crate::rocky::sql_hash::{SqlHashVerdict, judge};
use crate::rocky::statements::{self, Dialect, RunInputs, Strategy};

/// Rocky's replication progress rows, `{run_id}|{catalog.schema.table}`: which table a
/// replication run wrote.
const RUN_PROGRESS_ENTRIES: JsonTable<'static> = redb::TableDefinition::new("run_progress_entries");

/// The recounted rows and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recount {
    /// Rows the model's SELECT returns now.
    pub rows: u64,
    /// The source, for the finding.
    pub source: String,
}

/// Source 4 for one execution `m` of this run that wrote `table`, or why it does not apply.
pub(crate) fn recount(
    ctx: &Ctx<'_>,
    wh: &Warehouse,
    ledger: &Ledger,
    m: &ModelView,
    table: &TableRef,
) -> Result<Recount, String> {
    let Some(p) = ctx.rocky_project() else {
        return Err(
            "the project at the run's commit is not loaded (no --repo, no commit, or the \
                    commit is not in the repository), so the model's SELECT is not known"
                .to_owned(),
        );
    };
    let Some(adapter) = &p.adapter else {
        return Err("no adapter is known for the run, so the model's SELECT is not known".into());
    };
    if adapter.dialect != Dialect::DuckDb {
        return Err(format!(
            "the model's SQL is {} SQL: only DuckDB SQL is re-run in the DuckDB warehouse",
            adapter.dialect.name()
        ));
    }
    let Some(recorded) = m.sql_hash.as_deref() else {
        return Err("no sql_hash is recorded, so the SELECT that ran is not known".to_owned());
    };
    let RockyModels::Models(models) = ctx.rocky_models(&m.name) else {
        return Err("the project at the commit does not load".to_owned());
    };
    let version = ctx
        .run
        .as_ref()
        .and_then(|r| r.rocky_version.clone())
        .unwrap_or_default();
    let inputs = RunInputs::default();
    let mut selects = Vec::new();
    for model in &models {
        let recomputed = model.recompute(Dialect::DuckDb, &inputs);
        let verdict = judge(recorded, &recomputed, &model.env_assumptions, &version);
        if !matches!(verdict, SqlHashVerdict::Recomputed { .. }) {
            continue;
        }
        if model.strategy != Strategy::FullRefresh || model.format.is_some() {
            return Err(format!(
                "model `{}` is not a plain full refresh",
                model.name
            ));
        }
        let Some(sql) = model.model_sql() else {
            continue;
        };
        if let Ok((select, _)) = statements::final_select(Dialect::DuckDb, &sql, &inputs) {
            selects.push((model.path.clone(), select));
        }
    }
    selects.dedup_by(|a, b| a.1 == b.1);
    let [(path, select)] = selects.as_slice() else {
        return Err(format!(
            "{} model(s) of the project at {} recompute the recorded sql_hash, so the SELECT \
             that ran is not known exactly",
            selects.len(),
            p.commit
        ));
    };
    let tree = Warehouse::parse_select(select)
        .map_err(|e| format!("the model's SELECT does not parse in DuckDB: {e}"))?;
    let upstreams = analyse(&tree)?;
    for u in &upstreams {
        if same_table(u, table) {
            return Err(format!("the model reads its own table {u}"));
        }
        if !u.catalog.eq_ignore_ascii_case(&table.catalog) {
            return Err(format!(
                "the model reads {u}, outside the warehouse file's catalog {}",
                table.catalog
            ));
        }
        match wh.is_view(u) {
            Ok(Some(false)) => {}
            Ok(Some(true)) => {
                return Err(format!(
                    "the model reads the view {u}, whose own inputs are not checked here"
                ));
            }
            Ok(None) => return Err(format!("the model reads {u}, which the warehouse lacks")),
            Err(e) => return Err(format!("{u} cannot be looked up: {e}")),
        }
    }
    let Some((_, started)) = m.started.clone() else {
        return Err("the model's started_at is not recorded".to_owned());
    };
    let mut names: Vec<&str> = upstreams.iter().map(|u| u.table.as_str()).collect();
    names.push(&table.table);
    let writes = Writes::of(ledger)?;
    writes.all_decode(&names)?;
    let own = ctx.run_id.as_str();
    // The latest write of the model's own table.
    if let Some(w) = writes
        .may_write(table)
        .find(|w| !(w.run_id == own && w.index == m.index) && w.after(started))
    {
        return Err(format!(
            "{table} may have been written again since this model started (run {}, model {})",
            w.run_id, w.model
        ));
    }
    for u in &upstreams {
        if let Some(w) = writes.may_write(u).find(|w| w.after(started)) {
            return Err(format!(
                "{u} may have been written since this model started (run {}, model {}), so its \
                 rows now are not the rows the model read",
                w.run_id, w.model
            ));
        }
        let latest = writes
            .may_write(u)
            .max_by_key(|w| w.finished)
            .ok_or_else(|| {
                format!(
                    "no run in the ledger wrote {u} (a table written outside Rocky: whether its \
                     rows changed since the run is not known)"
                )
            })?;
        if !definite(ctx, ledger, latest, u)? {
            return Err(format!(
                "the last execution the ledger records under the name of {u} (run {}, model \
                 {}) cannot be tied to {u}, so whether its rows changed since is not known",
                latest.run_id, latest.model
            ));
        }
    }
    let rows = wh
        .recount(&table.catalog, select)
        .map_err(|e| format!("the model's SELECT does not run in the warehouse: {e}"))?;
    let read: Vec<String> = upstreams.iter().map(ToString::to_string).collect();
    Ok(Recount {
        rows,
        source: format!(
            "the model's SELECT recomputed from {path} at {} (its statements recompute the \
             recorded sql_hash), re-run over {}, none written since this model ran,",
            p.commit,
            if read.is_empty() {
                "no table".to_owned()
            } else {
                read.join(", ")
            }
        ),
    })
}

fn same_table(a: &TableRef, b: &TableRef) -> bool {
    a.catalog.eq_ignore_ascii_case(&b.catalog)
        && a.schema.eq_ignore_ascii_case(&b.schema)
        && a.table.eq_ignore_ascii_case(&b.table)
}

/// Whether the execution `w` is known to have written `u` (not merely a table of that name).
fn definite(ctx: &Ctx<'_>, ledger: &Ledger, w: &Write, u: &TableRef) -> Result<bool, String> {
    if w.failed {
        return Ok(false);
    }
    if let Some(t) = w.target_table.as_deref() {
        return Ok(TableRef::parse(t).is_some_and(|t| same_table(&t, u)));
    }
    if w.run_id == ctx.run_id
        && let RockyModels::Models(ms) = ctx.rocky_models(&w.model)
        && !ms.is_empty()
        && ms.iter().all(|r| {
            let t = &r.target;
            t.catalog.eq_ignore_ascii_case(&u.catalog)
                && t.schema.eq_ignore_ascii_case(&u.schema)
                && t.table.eq_ignore_ascii_case(&u.table)
        })
    {
        return Ok(true);
    }
    for key in [
        format!("{}|{u}", w.run_id),
        format!("{}|{}", w.run_id, u.to_string().to_lowercase()),
    ] {
        if ledger
            .get(RUN_PROGRESS_ENTRIES, &key)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One recorded execution that may have written a table of a given name.
#[derive(Debug, Clone)]
struct Write {
    run_id: String,
    index: usize,
    model: String,
    target_table: Option<String>,
    failed: bool,
    /// `finished_at` (`None`: not recorded, so possibly any time).
    finished: Option<DateTime<Utc>>,
}

impl Write {
    /// Whether this write may have ended after `t` (an unknown time may have).
    fn after(&self, t: DateTime<Utc>) -> bool {
        self.finished.is_none_or(|f| f >= t)
    }
}

/// Every recorded execution, by lower-cased table name (its `model_name`, and the table of its
/// `target_table` when that differs), and the run records that do not decode.
struct Writes {
    by_name: HashMap<String, Vec<Write>>,
    /// `(key, lower-cased bytes)` of each run record that does not decode.
    undecodable: Vec<(String, Vec<u8>)>,
}

/// Which ledger an index belongs to: its address, path and size.
type LedgerKey = (usize, String, u64);

thread_local! {
    /// The index of the one ledger a command reads (opened read-only and locked for the whole
    /// command, so it cannot change): built once, not once per recounted model. Keyed by the
    /// ledger's address, path and size.
    static INDEX: RefCell<Option<(LedgerKey, Rc<Writes>)>> =
        const { RefCell::new(None) };
}

impl Writes {
    /// The index of `ledger`, read on first use.
    fn of(ledger: &Ledger) -> Result<Rc<Writes>, String> {
        let key: LedgerKey = (
            std::ptr::from_ref(ledger) as usize,
            ledger.info.path.clone(),
            ledger.info.size_bytes,
        );
        if let Some(w) = INDEX.with_borrow(|c| {
            c.as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, w)| Rc::clone(w))
        }) {
            return Ok(w);
        }
        let w = Rc::new(Writes::read(ledger)?);
        INDEX.with_borrow_mut(|c| *c = Some((key, Rc::clone(&w))));
        Ok(w)
    }

    fn read(ledger: &Ledger) -> Result<Writes, String> {
        let mut out = Writes {
            by_name: HashMap::new(),
            undecodable: Vec::new(),
        };
        ledger
            .visit(ledger::RUN_HISTORY, None, false, |key, bytes| {
                let decoded = super::decode::run_record(bytes)
                    .ok()
                    .and_then(|()| super::decode::value(bytes));
                let Some(v) = decoded else {
                    out.undecodable
                        .push((key.to_owned(), bytes.to_ascii_lowercase()));
                    return true;
                };
                let r = RunView::from_value(&v);
                let run_id = r.run_id.clone().unwrap_or_else(|| key.to_owned());
                for m in &r.models {
                    let w = Write {
                        run_id: run_id.clone(),
                        index: m.index,
                        model: m.name.clone(),
                        target_table: m.target_table.clone(),
                        failed: m.failed(),
                        finished: m.finished.as_ref().map(|f| f.1),
                    };
                    let mut names = vec![m.name.to_ascii_lowercase()];
                    if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
                        names.push(t.table.to_ascii_lowercase());
                    }
                    names.dedup();
                    for n in names {
                        out.by_name.entry(n).or_default().push(w.clone());
                    }
                }
                true
            })
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// A run record that names one of `names` (ignoring ASCII case) and does not decode could
    /// hide a write.
    fn all_decode(&self, names: &[&str]) -> Result<(), String> {
        for (key, low) in &self.undecodable {
            if names
                .iter()
                .any(|n| contains(low, n.to_ascii_lowercase().as_bytes()))
            {
                return Err(format!(
                    "run record {key} names one of the tables but does not decode, so whether \
                     it wrote one is not known"
                ));
            }
        }
        Ok(())
    }

    /// The executions that may have written `t`: its `target_table`, or (none recorded, as in
    /// Rocky's ledgers) its name, compared ignoring ASCII case as DuckDB resolves names.
    fn may_write<'w>(&'w self, t: &'w TableRef) -> impl Iterator<Item = &'w Write> + 'w {
        self.by_name
            .get(&t.table.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter(move |w| match w.target_table.as_deref() {
                Some(full) => TableRef::parse(full).is_none_or(|x| same_table(&x, t)),
                None => w.model.eq_ignore_ascii_case(&t.table),
            })
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Functions whose result depends on when, where or how often they run, or on session state.
fn nondeterministic(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("current_")
        || n.starts_with("get_current_")
        || n.contains("random")
        || n.contains("uuid")
        || matches!(
            n.as_str(),
            "now"
                | "today"
                | "setseed"
                | "nextval"
                | "currval"
                | "localtimestamp"
                | "localtime"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "user"
                | "session_user"
                | "version"
                | "getvariable"
                | "txid_current"
                | "rand"
        )
}

/// The tables a parsed SELECT reads (`json_serialize_sql` output), or why the recount cannot
/// trust it.
pub(crate) fn analyse(tree: &Value) -> Result<Vec<TableRef>, String> {
    let stmts = tree
        .get("statements")
        .and_then(Value::as_array)
        .ok_or("the parse tree has no statements")?;
    if stmts.len() != 1 {
        return Err(format!(
            "the model's SQL holds {} statements, not one SELECT",
            stmts.len()
        ));
    }
    let mut ctes = Vec::new();
    collect_ctes(&stmts[0], &mut ctes);
    let mut out: Vec<TableRef> = Vec::new();
    walk(&stmts[0], &ctes, &mut out)?;
    out.sort();
    out.dedup_by(|a, b| same_table(a, b));
    Ok(out)
}

fn collect_ctes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(map) = o
                .get("cte_map")
                .and_then(|c| c.get("map"))
                .and_then(Value::as_array)
            {
                out.extend(
                    map.iter()
                        .filter_map(|e| e.get("key").and_then(Value::as_str))
                        .map(str::to_ascii_lowercase),
                );
            }
            o.values().for_each(|x| collect_ctes(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_ctes(x, out)),
        _ => {}
    }
}

fn walk(v: &Value, ctes: &[String], out: &mut Vec<TableRef>) -> Result<(), String> {
    let o = match v {
        Value::Object(o) => o,
        Value::Array(a) => return a.iter().try_for_each(|x| walk(x, ctes, out)),
        _ => return Ok(()),
    };
    if o.get("sample").is_some_and(|s| !s.is_null()) {
        return Err("the model's SELECT samples rows (USING SAMPLE / TABLESAMPLE)".to_owned());
    }
    if let Some(name) = o.get("function_name").and_then(Value::as_str)
        && nondeterministic(name)
    {
        return Err(format!(
            "the model's SELECT calls {name}(), whose result depends on when or where it runs"
        ));
    }
    // `current_date` and friends without parentheses parse as a one-part column reference and
    // bind to the function (a column of that name is refused too: safe, merely unverifiable).
    if o.get("class").and_then(Value::as_str) == Some("COLUMN_REF")
        && let Some([Value::String(name)]) = o
            .get("column_names")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        && nondeterministic(name)
    {
        return Err(format!(
            "the model's SELECT uses {name}, whose value depends on when or where it runs"
        ));
    }
    let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    if o.get("class").is_none() {
        match o.get("type").and_then(Value::as_str) {
            Some("BASE_TABLE") => {
                let (catalog, schema, table) = (
                    text("catalog_name"),
                    text("schema_name"),
                    text("table_name"),
                );
                if catalog.is_empty()
                    && schema.is_empty()
                    && ctes.contains(&table.to_ascii_lowercase())
                {
                    return Ok(());
                }
                if catalog.is_empty() || schema.is_empty() {
                    let name = [catalog, schema, table]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(".");
                    return Err(format!(
                        "the model reads `{name}`, not named catalog.schema.table, so which \
                         table Rocky's connection resolved it to is not known"
                    ));
                }
                out.push(TableRef {
                    catalog,
                    schema,
                    table,
                });
            }
            Some(kind @ ("TABLE_FUNCTION" | "SHOW_REF" | "COLUMN_DATA" | "DELIM_GET")) => {
                return Err(format!(
                    "the model's SELECT reads a {kind}, not only tables of the warehouse"
                ));
            }
            _ => {}
        }
    }
    o.values().try_for_each(|x| walk(x, ctes, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(sql: &str) -> Result<Vec<String>, String> {
        let tree = Warehouse::parse_select(sql).map_err(|e| e.to_string())?;
        analyse(&tree).map(|v| v.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reads_every_qualified_table_through_joins_subqueries_and_ctes() {
        assert_eq!(
            tables(
                "WITH recent AS (SELECT * FROM w.a.orders WHERE x > 1) \
                 SELECT r.*, c.name FROM recent r JOIN w.a.customers c USING (id) \
                 WHERE r.id IN (SELECT id FROM w.b.allowed) -- trailing"
            )
            .unwrap(),
            ["w.a.customers", "w.a.orders", "w.b.allowed"]
        );
        assert_eq!(tables("SELECT 1 AS one").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn refuses_what_cannot_be_recounted_the_same_way() {
        for (sql, why) in [
            ("SELECT * FROM orders", "not named"),
            ("SELECT * FROM a.orders", "not named"),
            ("SELECT * FROM w.a.t USING SAMPLE 10%", "samples"),
            ("SELECT random() AS r FROM w.a.t", "random"),
            (
                "SELECT * FROM w.a.t WHERE ts > now() - INTERVAL 1 DAY",
                "now",
            ),
            ("SELECT * FROM w.a.t WHERE d = current_date", "current_date"),
            ("SELECT * FROM read_csv('x.csv')", "TABLE_FUNCTION"),
            ("SELECT 1; SELECT 2", "2 statements"),
        ] {
            let e = tables(sql).expect_err(sql);
            assert!(e.contains(why), "{sql}: {e}");
        }
        assert!(Warehouse::parse_select("DELETE FROM w.a.t").is_err());
        assert!(Warehouse::parse_select("SELEC 1").is_err());
    }

    #[test]
    fn only_clock_random_sequence_and_session_functions_are_nondeterministic() {
        for n in [
            "now",
            "NOW",
            "current_timestamp",
            "gen_random_uuid",
            "nextval",
            "random",
        ] {
            assert!(nondeterministic(n), "{n}");
        }
        for n in [
            "sum",
            "count_star",
            "date_trunc",
            "cast",
            "coalesce",
            "row_number",
        ] {
            assert!(!nondeterministic(n), "{n}");
        }
    }
}
