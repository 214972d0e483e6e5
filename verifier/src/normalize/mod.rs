//! Rocky's SQL normaliser (`NORMALIZER_VERSION = 1`, `spec/hashes.md` section 4), byte for byte.
//!
//! `skip_hash` covers `normalize(ModelIr.sql)`, which is sqlparser 0.62.0's `Display` of the parsed
//! statement after alias renaming. Agreement with Rocky therefore needs the very same parser version
//! (pinned `=0.62.0` in Cargo.toml), a dialect with exactly Rocky's six overrides
//! ([`RockyDialect`]) and the renaming pass of [`rename`].
//!
//! sqlparser's AST is walked recursively (parse, `Visit`, `Display`, `Drop`), and a long chain such
//! as `1+1+...+1` nests one level per operator even though the parser's own depth guard does not
//! count it. [`try_normalize`] therefore runs on a thread whose stack grows with the input, and
//! refuses inputs above [`MAX_SQL_BYTES`], so hostile SQL in a ledger cannot overflow the stack.

mod rename;

use sqlparser::ast::Statement;
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

/// The normaliser version folded into `skip_hash` (`normalizer_version`).
pub const NORMALIZER_VERSION: u64 = 1;

/// The longest SQL text [`try_normalize`] accepts: 4 MiB.
///
/// Model SQL is hand-written text; a model four megabytes long is not a model but an attack on the
/// verifier. Refusing it is reported as "could not check", never as a mismatch.
pub const MAX_SQL_BYTES: usize = 4 * 1024 * 1024;

/// Stack for the normaliser thread: a base, plus a budget per input byte, because every nesting
/// level of the AST costs at least two bytes of SQL (`+1`). Measured in a debug build, chains of
/// `+`, `||`, `UNION` and `JOIN` a few megabytes long need at most 16 stack bytes per SQL byte;
/// 64 leaves a margin of four. At the 4 MiB limit this reserves 272 MiB of address space, which the
/// OS commits only as far as it is touched.
const BASE_STACK_BYTES: usize = 16 * 1024 * 1024;
const STACK_BYTES_PER_SQL_BYTE: usize = 64;

/// Rocky's own dialect (`rocky_sql::dialect::DatabricksDialect`), not sqlparser's
/// `DatabricksDialect`: sqlparser's `dialect_of!` checks never match it, and everything not
/// overridden here is the `Dialect` trait default (delimited identifiers `"` and `` ` ``, no
/// backslash escapes in strings).
#[derive(Debug, Clone, Copy, Default)]
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

/// Why the normaliser could not give an answer (as opposed to answering `None`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The SQL is longer than [`MAX_SQL_BYTES`].
    #[error("model SQL is {len} bytes, longer than the normaliser's limit of {limit} bytes")]
    TooLarge {
        /// Length of the SQL.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The normaliser thread could not be started or did not finish (a bug, or no memory).
    #[error("normaliser failed: {0}")]
    Internal(String),
}

/// Rocky's `normalize(sql)`: `Some(text)` for exactly one statement, `None` for zero statements,
/// several, or a parse error.
///
/// An input the normaliser refuses ([`try_normalize`]'s errors) also gives `None`; a check that
/// must tell "Rocky would give None" from "could not normalise" calls [`try_normalize`].
pub fn normalize(sql: &str) -> Option<String> {
    try_normalize(sql).ok().flatten()
}

/// [`normalize`], with the cases where the verifier could not run the normaliser kept apart.
///
/// # Errors
///
/// [`NormalizeError::TooLarge`] above [`MAX_SQL_BYTES`]; [`NormalizeError::Internal`] if the
/// worker thread cannot be spawned or panics.
pub fn try_normalize(sql: &str) -> Result<Option<String>, NormalizeError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(NormalizeError::TooLarge {
            len: sql.len(),
            limit: MAX_SQL_BYTES,
        });
    }
    let stack = BASE_STACK_BYTES.saturating_add(sql.len().saturating_mul(STACK_BYTES_PER_SQL_BYTE));
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("rocky-verify-normalize".to_owned())
            .stack_size(stack)
            .spawn_scoped(scope, || normalize_on_this_thread(sql))
            .map_err(|e| NormalizeError::Internal(format!("cannot start thread: {e}")))?;
        worker
            .join()
            .map_err(|_| NormalizeError::Internal("normaliser panicked".to_owned()))
    })
}

/// The normaliser itself, on the caller's stack.
fn normalize_on_this_thread(sql: &str) -> Option<String> {
    let mut statements = Parser::parse_sql(&RockyDialect, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let mut statement = statements.pop()?;
    if matches!(statement, Statement::Query(_)) {
        rename::rename_aliases(&mut statement);
    }
    let text = statement.to_string();
    // Dropping the AST is recursive too; it happens here, on the big stack.
    drop(statement);
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let cases = [
            (
                "select id /* c */ from cat.sch.t -- x\n where id > 10",
                "SELECT id FROM cat.sch.t WHERE id > 10",
            ),
            (
                "WITH foo AS (SELECT id FROM cat.sch.t) SELECT f.id FROM foo f",
                "WITH _t0 AS (SELECT id FROM cat.sch.t) SELECT _t1.id FROM _t0 _t1",
            ),
            (
                "SELECT a.id FROM cat.sch.t AS a WHERE a.id IN (SELECT a.id FROM cat.sch.u AS a WHERE a.id > 0)",
                "SELECT a.id FROM cat.sch.t AS a WHERE a.id IN (SELECT a.id FROM cat.sch.u AS a WHERE a.id > 0)",
            ),
            (
                "SELECT 1.50, 1e3, -2, TRUE, NULL FROM t",
                "SELECT 1.50, 1e3, -2, true, NULL FROM t",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn zero_or_several_statements_or_a_parse_error_give_none() {
        for sql in [
            "",
            "   ",
            "-- only a comment",
            "SELECT 1; SELECT 2",
            "SELEC FROM",
            "SELECT (",
        ] {
            assert_eq!(normalize(sql), None, "{sql:?}");
        }
        // A trailing semicolon still leaves exactly one statement.
        assert_eq!(normalize("SELECT 1;").as_deref(), Some("SELECT 1"));
    }

    #[test]
    fn non_query_statements_are_printed_without_renaming() {
        assert_eq!(
            normalize("create table x as select a.id from t a").as_deref(),
            Some("CREATE TABLE x AS SELECT a.id FROM t a")
        );
    }

    #[test]
    fn dialect_identifiers_are_ascii_only() {
        // Non-ASCII letters cannot start or continue an unquoted identifier in Rocky's dialect.
        assert_eq!(normalize("SELECT caf\u{e9} FROM t"), None);
        assert_eq!(
            normalize("SELECT \"caf\u{e9}\" FROM t").as_deref(),
            Some("SELECT \"caf\u{e9}\" FROM t")
        );
    }

    proptest::proptest! {
        #[test]
        fn normalising_is_idempotent_on_sql_made_of_keywords_and_names(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "SELECT", "FROM", "WHERE", "JOIN", "ON", "AS", "WITH", "UNION", "(", ")", ",",
                    "a", "b", "t", "u", "a.x", "b.y", "1", "'s'", "=", "+", "AND", "IN", "*", ";",
                ]),
                0..24,
            ),
        ) {
            let sql = tokens.join(" ");
            if let Some(once) = normalize(&sql) {
                // Renaming again finds only `_tN` names, which map to themselves in order.
                let twice = normalize(&once);
                proptest::prop_assert_eq!(twice.as_deref(), Some(once.as_str()), "{}", sql);
            }
        }
    }

    #[test]
    fn hostile_inputs_do_not_crash() {
        let chain = format!("SELECT 1{}", "+1".repeat(200_000));
        assert!(normalize(&chain).is_some());
        let unions = format!("SELECT 1{}", " UNION SELECT 1".repeat(100_000));
        assert!(normalize(&unions).is_some());
        let parens = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(normalize(&parens), None);
        let minus = format!("SELECT {}1", "-".repeat(100_000));
        let _ = normalize(&minus);
        let nots = format!("SELECT {}1", "NOT ".repeat(50_000));
        let _ = normalize(&nots);
        let subqueries = format!(
            "SELECT {}1{}",
            "(SELECT ".repeat(10_000),
            ")".repeat(10_000)
        );
        assert_eq!(normalize(&subqueries), None);
        let too_big = "x".repeat(MAX_SQL_BYTES + 1);
        assert!(matches!(
            try_normalize(&too_big),
            Err(NormalizeError::TooLarge { .. })
        ));
    }
}
