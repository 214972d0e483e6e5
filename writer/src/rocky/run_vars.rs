//! `@var(name)` / `@var(name, default)` run variables in model SQL
//! (`run_vars::substitute_run_vars`, spec/hashes.md section 12.6 step 2).
//!
//! `--var` values are not recorded in the ledger, so a recomputation uses only the values its
//! caller states, else each inline default as an assumption.

use std::collections::BTreeMap;

use crate::error::TemplateError;
use crate::rocky::NotRecomputableReason;

/// One `@var(...)` reference: byte range, name and inline default.
#[derive(Debug, PartialEq, Eq)]
struct VarRef<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    default: Option<&'a str>,
}

/// The result of substituting run variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substituted {
    /// The SQL after substitution.
    pub sql: String,
    /// Names whose inline default was used because no value was stated, in order of first use.
    pub defaults_used: Vec<String>,
}

/// Substitutes run variables as Rocky does, with `given` as the stated `--var` values.
///
/// A reference with neither a stated value nor an inline default is
/// `not_recomputable: run_var_value_unknown` (Rocky would put `NULL` and fail the model with
/// E028, but whether a value was given is not in the evidence).
pub fn substitute_run_vars(
    sql: &str,
    given: &BTreeMap<String, String>,
) -> Result<Substituted, TemplateError> {
    let mut out = Substituted {
        sql: sql.to_owned(),
        defaults_used: Vec::new(),
    };
    if !sql.contains("@var(") {
        return Ok(out);
    }
    let comments = comment_spans(sql.as_bytes());
    let in_comment = |pos: usize| comments.iter().any(|&(s, e)| s <= pos && pos < e);
    let mut result = String::with_capacity(sql.len());
    let mut copied = 0;
    for r in find_refs(sql) {
        if in_comment(r.start) {
            continue;
        }
        let value = if let Some(v) = given.get(r.name) {
            v.as_str()
        } else if let Some(d) = r.default {
            if !out.defaults_used.iter().any(|n| n == r.name) {
                out.defaults_used.push(r.name.to_owned());
            }
            d
        } else {
            return Err(TemplateError::NotRecomputable {
                reason: NotRecomputableReason::RunVarValueUnknown,
                detail: format!(
                    "@var({}) has no inline default and no stated --var value",
                    r.name
                ),
            });
        };
        result.push_str(&sql[copied..r.start]);
        result.push_str(value);
        copied = r.end;
    }
    result.push_str(&sql[copied..]);
    out.sql = result;
    Ok(out)
}

/// Byte ranges of `--` and `/* */` comments, skipping over quoted spans.
fn comment_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                spans.push((i, end));
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(b.len(), |p| i + 2 + p + 2);
                spans.push((i, end));
                i = end;
            }
            _ => i += 1,
        }
    }
    spans
}

/// Non-overlapping matches of Rocky's pattern
/// `@var\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*([^)]*?))?\s*\)`, left to right.
fn find_refs(sql: &str) -> Vec<VarRef<'_>> {
    let mut refs = Vec::new();
    let mut from = 0;
    while let Some(off) = sql[from..].find("@var(") {
        let start = from + off;
        match match_at(sql, start) {
            Some(r) => {
                from = r.end;
                refs.push(r);
            }
            None => from = start + 1,
        }
    }
    refs
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while let Some(c) = s[i..].chars().next() {
        if !c.is_whitespace() {
            break;
        }
        i += c.len_utf8();
    }
    i
}

fn match_at(sql: &str, start: usize) -> Option<VarRef<'_>> {
    let b = sql.as_bytes();
    let mut i = skip_ws(sql, start + "@var(".len());
    let name_start = i;
    if !b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        i += 1;
    }
    let name = &sql[name_start..i];
    i = skip_ws(sql, i);
    match b.get(i) {
        Some(b')') => Some(VarRef {
            start,
            end: i + 1,
            name,
            default: None,
        }),
        Some(b',') => {
            let close = i + 1 + sql[i + 1..].find(')')?;
            Some(VarRef {
                start,
                end: close + 1,
                name,
                default: Some(sql[i + 1..close].trim()),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(sql: &str, given: &[(&str, &str)]) -> Result<Substituted, TemplateError> {
        let given = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        substitute_run_vars(sql, &given)
    }

    #[test]
    fn matches_follow_the_pattern() {
        let refs = find_refs("@var(a) @var( b , x y ) @var(1x) @var(c,) @var(d e) @var(f");
        let got: Vec<_> = refs.iter().map(|r| (r.name, r.default)).collect();
        assert_eq!(got, vec![("a", None), ("b", Some("x y")), ("c", Some(""))]);
    }

    #[test]
    fn references_in_comments_are_kept_and_strings_are_not_comments() {
        let s = sub(
            "SELECT '--' AS a, @var(x, 1) /* @var(y) */ -- @var(z)\n, \"/*\", @var(w, 2)",
            &[],
        )
        .unwrap();
        assert_eq!(
            s.sql,
            "SELECT '--' AS a, 1 /* @var(y) */ -- @var(z)\n, \"/*\", 2"
        );
        assert_eq!(s.defaults_used, vec!["x", "w"]);
    }

    #[test]
    fn escapes_and_doubled_quotes_stay_inside_strings() {
        let s = sub(r"SELECT 'it''s -- no', 'a\'b -- c', @var(v, 3)", &[]).unwrap();
        assert_eq!(s.sql, r"SELECT 'it''s -- no', 'a\'b -- c', 3");
    }

    #[test]
    fn unterminated_block_comment_runs_to_the_end() {
        let s = sub("SELECT 1 /* @var(a)", &[]).unwrap();
        assert_eq!(s.sql, "SELECT 1 /* @var(a)");
    }

    #[test]
    fn stated_value_wins_and_is_not_an_assumption() {
        let s = sub("x = @var(r, d) AND y = @var(r)", &[("r", "v")]).unwrap();
        assert_eq!(s.sql, "x = v AND y = v");
        assert!(s.defaults_used.is_empty());
    }

    #[test]
    fn missing_value_is_not_recomputable() {
        let e = sub("x = @var(r)", &[]).unwrap_err();
        assert_eq!(e.code(), "run_var_value_unknown");
    }

    #[test]
    fn unicode_whitespace_around_the_name() {
        let s = sub("@var(\u{3000}r\u{a0},\u{2003}d\u{2003})", &[]).unwrap();
        assert_eq!(s.sql, "d");
    }
}
