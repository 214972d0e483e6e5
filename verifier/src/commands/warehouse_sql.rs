//! `rocky-verify warehouse-sql --dialect D --run ID --ledger PATH` (`spec/bundle.md` 6.1): the
//! exact queries an auditor runs with their own client to read the row counts and columns of the
//! tables a run wrote, for warehouses the verifier cannot open (it has no network code).
//!
//! Tables come from the ledger alone: the provenance IR's `target`, then
//! `ModelExecution.target_table`, then the one `check_history` key naming the model's table.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::checks::view::RunView;
use crate::cli::SqlDialect;
use crate::evidence::ledger::{self, Ledger};
use crate::evidence::warehouse::TableRef;
use crate::report::{EXIT_INCOMPLETE, EXIT_OK};

/// A table in scope and where its name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoped {
    /// The table.
    pub table: TableRef,
    /// `ir target`, `target_table` or `check_history`.
    pub source: &'static str,
}

/// The tables `run_id` wrote, as far as the ledger says, and the models whose table it does
/// not name.
///
/// # Errors
///
/// The ledger cannot be read, or has no such run.
pub fn tables_of_run(ledger: &Ledger, run_id: &str) -> Result<(Vec<Scoped>, Vec<String>), String> {
    let run = ledger
        .get(ledger::RUN_HISTORY, run_id)
        .map_err(|e| e.to_string())?;
    let prefix = format!("{run_id}|");
    let provs = ledger
        .rows(ledger::INPUT_PROVENANCE, &prefix)
        .map_err(|e| e.to_string())?;
    if run.is_none() && provs.is_empty() || run_id.contains('|') {
        return Err(format!("no run {run_id} in the ledger"));
    }
    let view = run
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .map(|v| RunView::from_value(&v));
    let mut by_model: BTreeMap<String, Scoped> = BTreeMap::new();
    for (_, bytes) in &provs {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            continue;
        };
        let model = v.get("model_name").and_then(|m| m.as_str()).unwrap_or("");
        let target = v
            .get("model_ir_canonical_json")
            .and_then(|t| t.as_str())
            .and_then(|t| crate::canon::parse_strict(t.as_bytes()).ok())
            .and_then(|ir| TableRef::from_ir_target(ir.get("target")?));
        if let Some(table) = target {
            by_model.insert(
                model.to_owned(),
                Scoped {
                    table,
                    source: "ir target",
                },
            );
        }
    }
    let mut unresolved = Vec::new();
    let history = ledger
        .keys(ledger::CHECK_HISTORY, "")
        .map_err(|e| e.to_string())?;
    for m in view.iter().flat_map(|v| v.models.iter()) {
        if by_model.contains_key(&m.name) {
            continue;
        }
        if let Some(table) = m.target_table.as_deref().and_then(TableRef::parse) {
            by_model.insert(
                m.name.clone(),
                Scoped {
                    table,
                    source: "target_table",
                },
            );
            continue;
        }
        let catalog = view.as_ref().and_then(|v| v.target_catalog.as_deref());
        let matches: Vec<TableRef> = history
            .iter()
            .filter_map(|k| TableRef::parse(k))
            .filter(|t| t.table == m.name && catalog.is_none_or(|c| t.catalog == c))
            .collect();
        if let [one] = matches.as_slice() {
            by_model.insert(
                m.name.clone(),
                Scoped {
                    table: one.clone(),
                    source: "check_history",
                },
            );
        } else {
            unresolved.push(m.name.clone());
        }
    }
    let mut tables: Vec<Scoped> = by_model.into_values().collect();
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    tables.dedup_by(|a, b| a.table == b.table);
    Ok((tables, unresolved))
}

/// A simple identifier Snowflake resolves without quotes (upper-cased, as when it was created
/// unquoted).
fn simple(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The dialect's quoted identifier, or `None` when the name cannot be quoted safely.
fn ident(d: SqlDialect, s: &str) -> Option<String> {
    if s.is_empty() || s.contains(['\0', '\n', '\r']) {
        return None;
    }
    match d {
        SqlDialect::Duckdb => Some(format!("\"{}\"", s.replace('"', "\"\""))),
        SqlDialect::Snowflake if simple(s) => Some(s.to_owned()),
        SqlDialect::Snowflake => Some(format!("\"{}\"", s.replace('"', "\"\""))),
        SqlDialect::Databricks | SqlDialect::Bigquery => {
            (!s.contains('`')).then(|| format!("`{s}`"))
        }
    }
}

/// The dialect's string literal.
fn literal(d: SqlDialect, s: &str) -> String {
    match d {
        SqlDialect::Duckdb => format!("'{}'", s.replace('\'', "''")),
        // Snowflake reads backslash escapes in single-quoted strings.
        SqlDialect::Snowflake => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
        SqlDialect::Databricks | SqlDialect::Bigquery => {
            format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
        }
    }
}

/// The two statements (columns, row counts) for `tables`, or comments for names left out.
pub fn render(d: SqlDialect, run_id: &str, tables: &[Scoped], unresolved: &[String]) -> String {
    let name = |d| match d {
        SqlDialect::Snowflake => "snowflake",
        SqlDialect::Databricks => "databricks",
        SqlDialect::Bigquery => "bigquery",
        SqlDialect::Duckdb => "duckdb",
    };
    let mut out = format!(
        "-- rocky-verify warehouse-sql: dialect {}, run {}, {} table(s) (spec/bundle.md 6.1)\n",
        name(d),
        run_id.replace(['\n', '\r'], " "),
        tables.len()
    );
    for m in unresolved {
        out.push_str(&format!(
            "-- model {}: the ledger does not name its table; not queried\n",
            m.replace(['\n', '\r'], " ")
        ));
    }
    let mut columns = Vec::new();
    let mut counts = Vec::new();
    for s in tables {
        let t = &s.table;
        let (Some(c), Some(sc), Some(tb)) = (
            ident(d, &t.catalog),
            ident(d, &t.schema),
            ident(d, &t.table),
        ) else {
            out.push_str(&format!(
                "-- {}: a name cannot be quoted safely in this dialect; not queried\n",
                t.to_string().replace(['\n', '\r', '\0'], " ")
            ));
            continue;
        };
        let labels = format!(
            "{} AS table_catalog, {} AS table_schema, {} AS table_name",
            literal(d, &t.catalog),
            literal(d, &t.schema),
            literal(d, &t.table)
        );
        let (ls, lt) = (literal(d, &t.schema), literal(d, &t.table));
        columns.push(match d {
            SqlDialect::Duckdb => format!(
                "SELECT {labels}, column_name, ordinal_position, data_type \
                 FROM information_schema.columns WHERE table_catalog = {} AND table_schema = {ls} \
                 AND table_name = {lt}",
                literal(d, &t.catalog)
            ),
            SqlDialect::Snowflake => format!(
                "SELECT {labels}, column_name, ordinal_position, data_type \
                 FROM {c}.INFORMATION_SCHEMA.COLUMNS WHERE UPPER(table_schema) = UPPER({ls}) \
                 AND UPPER(table_name) = UPPER({lt})"
            ),
            SqlDialect::Databricks => format!(
                "SELECT {labels}, column_name, ordinal_position, full_data_type AS data_type \
                 FROM {c}.information_schema.columns WHERE lower(table_schema) = lower({ls}) \
                 AND lower(table_name) = lower({lt})"
            ),
            SqlDialect::Bigquery => format!(
                "SELECT {labels}, column_name, ordinal_position, data_type \
                 FROM {c}.{sc}.INFORMATION_SCHEMA.COLUMNS WHERE table_name = {lt}"
            ),
        });
        counts.push(match d {
            // Read the rows, not the metadata (spec/warehouse.md "Row counts").
            SqlDialect::Duckdb => format!(
                "SELECT {labels}, count(\"rocky_verify_row\") AS row_count FROM {c}.{sc}.{tb} \
                 AS \"rocky_verify_row\""
            ),
            _ => format!("SELECT {labels}, COUNT(*) AS row_count FROM {c}.{sc}.{tb}"),
        });
    }
    if columns.is_empty() {
        out.push_str("-- no table in scope: nothing to query\n");
        return out;
    }
    out.push_str("\n-- columns\n");
    out.push_str(&columns.join("\nUNION ALL\n"));
    out.push_str("\nORDER BY table_catalog, table_schema, table_name, ordinal_position;\n");
    out.push_str("\n-- row counts\n");
    out.push_str(&counts.join("\nUNION ALL\n"));
    out.push_str("\nORDER BY table_catalog, table_schema, table_name;\n");
    out
}

/// The command: prints the SQL on stdout; exit 2 (with a message on stderr) when the ledger or
/// the run cannot be read.
pub fn main(d: SqlDialect, run_id: &str, ledger_path: &Path) -> i32 {
    let result = Ledger::open(ledger_path, &ledger_path.display().to_string())
        .map_err(|e| e.to_string())
        .and_then(|l| tables_of_run(&l, run_id));
    match result {
        Ok((tables, unresolved)) => {
            let text = render(d, run_id, &tables, &unresolved);
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => EXIT_OK,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
                Err(_) => EXIT_INCOMPLETE,
            }
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rocky-verify: {e}");
            EXIT_INCOMPLETE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(c: &str, s: &str, n: &str) -> Scoped {
        Scoped {
            table: TableRef {
                catalog: c.into(),
                schema: s.into(),
                table: n.into(),
            },
            source: "ir target",
        }
    }

    #[test]
    fn duckdb_sql_runs_on_duckdb_and_names_the_ledger_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let c = duckdb::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE SCHEMA s; CREATE TABLE s.\"o'r\"\"d\" (id BIGINT, v VARCHAR); \
             INSERT INTO s.\"o'r\"\"d\" VALUES (1, 'a'), (2, NULL);",
        )
        .unwrap();
        let sql = render(SqlDialect::Duckdb, "r", &[t("w", "s", "o'r\"d")], &[]);
        let mut parts = sql.split(";\n").filter(|p| p.contains("SELECT"));
        let cols = parts.next().unwrap();
        let rows: Vec<(String, String, i64)> = c
            .prepare(cols)
            .unwrap()
            .query_map([], |r| Ok((r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![
                ("o'r\"d".to_owned(), "id".to_owned(), 1),
                ("o'r\"d".to_owned(), "v".to_owned(), 2)
            ]
        );
        let counts = parts.next().unwrap();
        let n: i64 = c.query_row(counts, [], |r| r.get(3)).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn unsafe_names_are_left_out_with_a_comment() {
        let sql = render(SqlDialect::Bigquery, "r", &[t("p", "d", "a`b")], &[]);
        assert!(sql.contains("cannot be quoted safely"));
        assert!(!sql.contains("SELECT"));
        let sql = render(SqlDialect::Snowflake, "r", &[t("DB", "raw", "x y")], &[]);
        assert!(sql.contains("FROM DB.raw.\"x y\""), "{sql}");
        assert!(sql.contains("DB.INFORMATION_SCHEMA.COLUMNS"));
    }
}
