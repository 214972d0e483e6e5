//! Alias renaming: steps 1 to 7 of `spec/hashes.md` section 4.
//!
//! Table and CTE aliases are replaced by positional tokens `_t0`, `_t1`, ... so that two models that
//! differ only in alias names normalise to the same text. A name defined more than once anywhere in
//! the statement is left alone, because renaming it could change which definition a reference
//! binds to.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectNamePart, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
    visit_expressions_mut, visit_relations_mut,
};

/// Renames the aliases of a `Statement::Query` in place (steps 1 to 7). Step 8, printing, is the
/// caller's.
pub(super) fn rename_aliases(statement: &mut Statement) {
    let Statement::Query(query) = statement else {
        return;
    };

    // Step 1: aliases along the FROM/JOIN/CTE path, in first-seen order.
    let mut collected = Vec::new();
    collect_query(query, &mut collected);

    // Step 2: how many times each name is defined anywhere, expression sub-queries included.
    let mut counter = DefinitionCounter::default();
    let _ = statement.visit(&mut counter);

    // Step 3: tokens in collected order, skipping names defined more than once.
    let mut renames: HashMap<String, String> = HashMap::new();
    for name in collected {
        if counter.counts.get(&name).copied().unwrap_or(0) > 1 || renames.contains_key(&name) {
            continue;
        }
        let token = format!("_t{}", renames.len());
        renames.insert(name, token);
    }

    // Step 4: nothing to rename.
    if renames.is_empty() {
        return;
    }

    // Step 5: the definitions, along the step-1 path.
    if let Statement::Query(query) = statement {
        rewrite_query(query, &renames);
    }

    // Step 6: single-part relation names (CTE references), statement-wide.
    let _ = visit_relations_mut(statement, |name| {
        if let [ObjectNamePart::Identifier(ident)] = name.0.as_mut_slice()
            && let Some(token) = renames.get(&ident.value)
        {
            *ident = Ident::new(token.as_str());
        }
        ControlFlow::<()>::Continue(())
    });

    // Step 7: two-part column references `alias.column`, statement-wide.
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr
            && let [first, _] = parts.as_mut_slice()
            && let Some(token) = renames.get(&first.value)
        {
            *first = Ident::new(token.as_str());
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Step 1 for a query: each CTE name then its body, then the query's own body.
fn collect_query(query: &Query, out: &mut Vec<String>) {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            out.push(cte.alias.name.value.clone());
            collect_query(&cte.query, out);
        }
    }
    collect_set_expr(&query.body, out);
}

/// Step 1 for a query body: FROM items and joins of a `Select`, both branches of a set operation,
/// a parenthesised query. Expressions are not entered.
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
        SetExpr::Query(query) => collect_query(query, out),
        SetExpr::SetOperation { left, right, .. } => {
            collect_set_expr(left, out);
            collect_set_expr(right, out);
        }
        _ => {}
    }
}

/// Step 1 for a table factor: a `Table` alias (table-valued functions included), or a `Derived`
/// alias followed by its sub-query. Other factor kinds are ignored.
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

/// Step 2: for every `Query` in the statement, its own CTE names and the aliases of the immediate
/// FROM/JOIN `Table`/`Derived` factors of its body. Nested queries are counted when the walker
/// reaches them.
#[derive(Default)]
struct DefinitionCounter {
    counts: HashMap<String, usize>,
}

impl DefinitionCounter {
    fn count(&mut self, name: &str) {
        *self.counts.entry(name.to_owned()).or_insert(0) += 1;
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
            // A parenthesised query is a `Query` of its own: the walker counts it.
            _ => {}
        }
    }

    fn count_factor(&mut self, factor: &TableFactor) {
        if let TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } = factor
        {
            self.count(&alias.name.value);
        }
    }
}

impl Visitor for DefinitionCounter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.count(&cte.alias.name.value);
            }
        }
        self.count_body(&query.body);
        ControlFlow::Continue(())
    }
}

/// Step 5 for a query: the same path as [`collect_query`], replacing every renamed definition with
/// an unquoted token.
fn rewrite_query(query: &mut Query, renames: &HashMap<String, String>) {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            rename_ident(&mut cte.alias.name, renames);
            rewrite_query(&mut cte.query, renames);
        }
    }
    rewrite_set_expr(&mut query.body, renames);
}

fn rewrite_set_expr(body: &mut SetExpr, renames: &HashMap<String, String>) {
    match body {
        SetExpr::Select(select) => {
            for table in &mut select.from {
                rewrite_factor(&mut table.relation, renames);
                for join in &mut table.joins {
                    rewrite_factor(&mut join.relation, renames);
                }
            }
        }
        SetExpr::Query(query) => rewrite_query(query, renames),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left, renames);
            rewrite_set_expr(right, renames);
        }
        _ => {}
    }
}

fn rewrite_factor(factor: &mut TableFactor, renames: &HashMap<String, String>) {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        } => rename_ident(&mut alias.name, renames),
        TableFactor::Derived {
            alias, subquery, ..
        } => {
            if let Some(alias) = alias {
                rename_ident(&mut alias.name, renames);
            }
            rewrite_query(subquery, renames);
        }
        _ => {}
    }
}

fn rename_ident(ident: &mut Ident, renames: &HashMap<String, String>) {
    if let Some(token) = renames.get(&ident.value) {
        *ident = Ident::new(token.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize;

    fn n(sql: &str) -> String {
        normalize(sql).unwrap_or_else(|| panic!("no parse: {sql}"))
    }

    #[test]
    fn joins_are_renamed_in_order_and_references_follow() {
        assert_eq!(
            n(
                "SELECT o.order_id, c.name, p.sku, o.total FROM tgt.raw.orders o JOIN tgt.raw.customers c ON o.customer_id = c.id JOIN tgt.raw.products p ON o.product_id = p.id"
            ),
            "SELECT _t0.order_id, _t1.name, _t2.sku, _t0.total FROM tgt.raw.orders _t0 JOIN tgt.raw.customers _t1 ON _t0.customer_id = _t1.id JOIN tgt.raw.products _t2 ON _t0.product_id = _t2.id"
        );
    }

    #[test]
    fn table_function_alias_is_renamed_with_its_column_list() {
        assert_eq!(
            n("SELECT i AS id, i % 3 AS bucket FROM generate_series(1, 10) AS t(i)"),
            "SELECT i AS id, i % 3 AS bucket FROM generate_series(1, 10) AS _t0 (i)"
        );
    }

    #[test]
    fn quoted_aliases_become_unquoted_tokens_and_match_ignoring_quotes() {
        assert_eq!(
            n("SELECT \"x\".a FROM t AS \"x\""),
            "SELECT _t0.a FROM t AS _t0"
        );
    }

    #[test]
    fn matching_is_case_sensitive() {
        // `A.id` does not refer to the renamed `a`.
        assert_eq!(n("SELECT A.id FROM t a"), "SELECT A.id FROM t _t0");
    }

    #[test]
    fn three_part_references_are_left_alone() {
        assert_eq!(
            n("SELECT a.b.c, a.b FROM t a"),
            "SELECT a.b.c, _t0.b FROM t _t0"
        );
    }

    #[test]
    fn derived_tables_are_renamed_then_their_inside() {
        assert_eq!(
            n("SELECT s.x FROM (SELECT u.x FROM t u) s"),
            "SELECT _t0.x FROM (SELECT _t1.x FROM t _t1) _t0"
        );
    }

    #[test]
    fn set_operations_collect_left_then_right() {
        assert_eq!(
            n("SELECT a.x FROM t a UNION ALL SELECT b.x FROM u b"),
            "SELECT _t0.x FROM t _t0 UNION ALL SELECT _t1.x FROM u _t1"
        );
    }

    #[test]
    fn expression_subquery_aliases_are_not_collected_but_do_count() {
        // `s` is defined only in an expression sub-query: counted once, never collected, so kept.
        assert_eq!(
            n("SELECT a.x FROM t a WHERE a.x IN (SELECT s.x FROM u s)"),
            "SELECT _t0.x FROM t _t0 WHERE _t0.x IN (SELECT s.x FROM u s)"
        );
    }

    #[test]
    fn cte_references_in_expression_subqueries_are_renamed() {
        assert_eq!(
            n("WITH c AS (SELECT 1 AS x) SELECT x FROM c WHERE x IN (SELECT x FROM c)"),
            "WITH _t0 AS (SELECT 1 AS x) SELECT x FROM _t0 WHERE x IN (SELECT x FROM _t0)"
        );
    }

    #[test]
    fn a_name_defined_twice_is_skipped_and_later_names_keep_counting_from_zero() {
        assert_eq!(
            n("SELECT a.x, b.y FROM t a JOIN (SELECT a.y FROM u a) b ON a.x = b.y"),
            "SELECT a.x, _t0.y FROM t a JOIN (SELECT a.y FROM u a) _t0 ON a.x = _t0.y"
        );
    }
}
