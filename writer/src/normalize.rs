//! The `skip_hash` SQL normaliser (spec/hashes.md section 4, `NORMALIZER_VERSION = 1`).
//!
//! A port of Rocky's `rocky_sql::normalize::normalize`: parse one statement with sqlparser 0.62.0
//! under Rocky's own dialect, rename table and CTE aliases to positional tokens `_t0`, `_t1`, ...
//! and re-emit the statement with sqlparser's `Display`. Byte-exact agreement with Rocky holds
//! only with sqlparser 0.62.0 (pinned in the workspace).

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
    visit_expressions_mut, visit_relations_mut,
};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

/// The normaliser version folded into `skip_hash` pre-images.
pub const NORMALIZER_VERSION: u64 = 1;

/// Rocky's own `DatabricksDialect` (not sqlparser's): six overrides, everything else the trait
/// default. Being a distinct type, sqlparser's `dialect_of!` checks never match it.
#[derive(Debug, Default, Clone, Copy)]
pub struct RockyDialect;

impl Dialect for RockyDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_ascii_alphabetic() || ch == '_'
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_ascii_alphanumeric() || ch == '_'
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }
    fn supports_group_by_expr(&self) -> bool {
        true
    }
    fn supports_named_fn_args_with_eq_operator(&self) -> bool {
        true
    }
    fn supports_select_wildcard_except(&self) -> bool {
        true
    }
}

/// Normalises `sql` for `skip_hash`; `None` when it is not exactly one parseable statement.
pub fn normalize(sql: &str) -> Option<String> {
    let mut statements = Parser::parse_sql(&RockyDialect, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let mut statement = statements.pop()?;
    if let Statement::Query(query) = &mut statement {
        rename_aliases(query);
    }
    Some(statement.to_string())
}

/// Like [`normalize`] for raw source bytes: `None` when they are not UTF-8.
pub fn normalize_bytes(sql: &[u8]) -> Option<String> {
    normalize(std::str::from_utf8(sql).ok()?)
}

fn rename_aliases(query: &mut Query) {
    // 1. Collect alias names in first-seen order along the FROM/JOIN/CTE path.
    let mut collected = Vec::new();
    collect_query(query, &mut collected);

    // 2. Count definitions in every query of the statement, expression sub-queries included.
    let mut counter = DefinitionCounter::default();
    let _ = query.visit(&mut counter);

    // 3. Assign tokens, skipping names defined more than once.
    let mut tokens: HashMap<String, String> = HashMap::new();
    for name in collected {
        if tokens.contains_key(&name) || counter.counts.get(&name).copied().unwrap_or(0) > 1 {
            continue;
        }
        let token = format!("_t{}", tokens.len());
        tokens.insert(name, token);
    }
    // 4. Nothing to rename.
    if tokens.is_empty() {
        return;
    }

    // 5. Rewrite the definitions along the same path.
    rewrite_query_definitions(query, &tokens);

    // 6. Single-part relation names that are renamed aliases (CTE references).
    let _ = visit_relations_mut(query, |name| {
        if let [ObjectNamePart::Identifier(ident)] = name.0.as_mut_slice()
            && let Some(token) = tokens.get(&ident.value)
        {
            *ident = Ident::new(token.clone());
        }
        ControlFlow::<()>::Continue(())
    });

    // 7. Two-part column references qualified by a renamed alias.
    let _ = visit_expressions_mut(query, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() == 2
            && let Some(token) = tokens.get(&parts[0].value)
        {
            parts[0] = Ident::new(token.clone());
        }
        ControlFlow::<()>::Continue(())
    });
}

fn collect_query(query: &Query, out: &mut Vec<String>) {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            out.push(cte.alias.name.value.clone());
            collect_query(&cte.query, out);
        }
    }
    collect_set_expr(&query.body, out);
}

fn collect_set_expr(body: &SetExpr, out: &mut Vec<String>) {
    match body {
        SetExpr::Select(select) => {
            for table in &select.from {
                collect_factor(&table.relation, out);
                for join in &table.joins {
                    collect_factor(&join.relation, out);
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            collect_set_expr(left, out);
            collect_set_expr(right, out);
        }
        SetExpr::Query(query) => collect_query(query, out),
        _ => {}
    }
}

fn collect_factor(factor: &TableFactor, out: &mut Vec<String>) {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        } => out.push(alias.name.value.clone()),
        TableFactor::Derived {
            alias, subquery, ..
        } => {
            if let Some(alias) = alias {
                out.push(alias.name.value.clone());
            }
            collect_query(subquery, out);
        }
        _ => {}
    }
}

/// Counts, per alias name, how many times it is defined across all queries of a statement.
#[derive(Default)]
struct DefinitionCounter {
    counts: HashMap<String, usize>,
}

impl DefinitionCounter {
    fn bump(&mut self, name: &Ident) {
        *self.counts.entry(name.value.clone()).or_insert(0) += 1;
    }

    fn count_body(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                for table in &select.from {
                    self.count_factor(&table.relation);
                    for join in &table.joins {
                        self.count_factor(&join.relation);
                    }
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.count_body(left);
                self.count_body(right);
            }
            _ => {}
        }
    }

    fn count_factor(&mut self, factor: &TableFactor) {
        match factor {
            TableFactor::Table {
                alias: Some(alias), ..
            }
            | TableFactor::Derived {
                alias: Some(alias), ..
            } => self.bump(&alias.name),
            _ => {}
        }
    }
}

impl Visitor for DefinitionCounter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.bump(&cte.alias.name);
            }
        }
        self.count_body(&query.body);
        ControlFlow::Continue(())
    }
}

fn rename_ident(ident: &mut Ident, tokens: &HashMap<String, String>) {
    if let Some(token) = tokens.get(&ident.value) {
        *ident = Ident::new(token.clone());
    }
}

fn rewrite_query_definitions(query: &mut Query, tokens: &HashMap<String, String>) {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            rename_ident(&mut cte.alias.name, tokens);
            rewrite_query_definitions(&mut cte.query, tokens);
        }
    }
    rewrite_set_expr_definitions(&mut query.body, tokens);
}

fn rewrite_set_expr_definitions(body: &mut SetExpr, tokens: &HashMap<String, String>) {
    match body {
        SetExpr::Select(select) => {
            for table in &mut select.from {
                rewrite_factor_definition(&mut table.relation, tokens);
                for join in &mut table.joins {
                    rewrite_factor_definition(&mut join.relation, tokens);
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr_definitions(left, tokens);
            rewrite_set_expr_definitions(right, tokens);
        }
        SetExpr::Query(query) => rewrite_query_definitions(query, tokens),
        _ => {}
    }
}

fn rewrite_factor_definition(factor: &mut TableFactor, tokens: &HashMap<String, String>) {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        } => rename_ident(&mut alias.name, tokens),
        TableFactor::Derived {
            alias, subquery, ..
        } => {
            if let Some(alias) = alias {
                rename_ident(&mut alias.name, tokens);
            }
            rewrite_query_definitions(subquery, tokens);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn spec_examples_normalise_as_documented() {
        assert_eq!(
            normalize("select id /* c */ from cat.sch.t -- x\n where id > 10").as_deref(),
            Some("SELECT id FROM cat.sch.t WHERE id > 10")
        );
        assert_eq!(
            normalize("WITH foo AS (SELECT id FROM cat.sch.t) SELECT f.id FROM foo f").as_deref(),
            Some("WITH _t0 AS (SELECT id FROM cat.sch.t) SELECT _t1.id FROM _t0 _t1")
        );
        let ambiguous = "SELECT a.id FROM cat.sch.t AS a WHERE a.id IN (SELECT a.id FROM cat.sch.u AS a WHERE a.id > 0)";
        assert_eq!(normalize(ambiguous).as_deref(), Some(ambiguous));
    }

    #[test]
    fn zero_or_several_statements_or_garbage_give_none() {
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("SELECT 1; SELECT 2"), None);
        assert_eq!(normalize("SELEC FROM"), None);
    }
}
