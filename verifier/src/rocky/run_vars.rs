//! Rocky's `@var(name)` / `@var(name, default)` substitution into model SQL
//! (`spec/hashes.md` 12.6; Rocky's `run_vars::substitute_run_vars`), hand-written instead of a regex.
//!
//! The `--var` values of a run are not recorded, so a verifier substitutes the values the caller
//! states and otherwise each inline default, recording that assumption.

use std::collections::BTreeMap;

/// The outcome of substituting one model's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVarSubstitution {
    /// The SQL with every reference outside comments replaced.
    pub sql: String,
    /// Names whose inline default was used because no value was stated, first-seen order.
    pub defaults_used: Vec<String>,
    /// Names referenced with neither a stated value nor an inline default, first-seen order.
    pub missing: Vec<String>,
}

/// Substitutes every `@var(...)` reference outside SQL comments.
pub fn substitute(sql: &str, given: &BTreeMap<String, String>) -> RunVarSubstitution {
    let mut out = RunVarSubstitution {
        sql: String::new(),
        defaults_used: Vec::new(),
        missing: Vec::new(),
    };
    if !sql.contains("@var(") {
        out.sql = sql.to_owned();
        return out;
    }
    let comments = comment_spans(sql);
    let in_comment = |pos: usize| comments.iter().any(|&(s, e)| pos >= s && pos < e);
    let mut result = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(rel) = sql[at..].find("@var(") {
        let start = at + rel;
        let Some(m) = match_reference(sql, start) else {
            // Not a reference here; the scan resumes one character later, as a regex would.
            at = start + 1;
            continue;
        };
        result.push_str(&sql[copied..start]);
        if in_comment(start) {
            result.push_str(&sql[start..m.end]);
        } else if let Some(v) = given.get(m.name) {
            result.push_str(v);
        } else if let Some(d) = m.default {
            result.push_str(d.trim());
            push_once(&mut out.defaults_used, m.name);
        } else {
            result.push_str("NULL");
            push_once(&mut out.missing, m.name);
        }
        copied = m.end;
        at = m.end;
    }
    result.push_str(&sql[copied..]);
    out.sql = result;
    out
}

fn push_once(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

struct Reference<'a> {
    name: &'a str,
    default: Option<&'a str>,
    end: usize,
}

/// `@var\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*([^)]*?))?\s*\)` anchored at `start`; `\s` is Unicode
/// `White_Space` (`char::is_whitespace`).
fn match_reference(sql: &str, start: usize) -> Option<Reference<'_>> {
    let mut i = start + "@var(".len();
    i = skip_ws(sql, i);
    let name_start = i;
    let bytes = sql.as_bytes();
    if !bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        i += 1;
    }
    let name = &sql[name_start..i];
    i = skip_ws(sql, i);
    match bytes.get(i) {
        Some(b')') => Some(Reference {
            name,
            default: None,
            end: i + 1,
        }),
        Some(b',') => {
            // The default runs to the first `)`; its leading whitespace is the regex's `\s*`,
            // its trailing whitespace the final `\s*`; both are trimmed away anyway.
            let close = sql[i + 1..].find(')')? + i + 1;
            Some(Reference {
                name,
                default: Some(&sql[i + 1..close]),
                end: close + 1,
            })
        }
        _ => None,
    }
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while let Some(c) = s[i..].chars().next().filter(|c| c.is_whitespace()) {
        i += c.len_utf8();
    }
    i
}

/// Byte ranges of `--` and `/* */` comments, string-literal aware (Rocky's `comment_spans`).
fn comment_spans(sql: &str) -> Vec<(usize, usize)> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut spans = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < n {
        match quote {
            None => match b[i] {
                q @ (b'\'' | b'"') => {
                    quote = Some(q);
                    i += 1;
                }
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    let s = i;
                    i += 2;
                    while i < n && b[i] != b'\n' {
                        i += 1;
                    }
                    spans.push((s, i));
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    let s = i;
                    i += 2;
                    while i < n && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                        i += 1;
                    }
                    if i < n {
                        i += 2;
                    }
                    spans.push((s, i));
                }
                _ => i += 1,
            },
            Some(q) => {
                if b[i] == b'\\' && i + 1 < n {
                    i += 2;
                } else if b[i] == q {
                    if b.get(i + 1) == Some(&q) {
                        i += 2;
                    } else {
                        quote = None;
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(sql: &str, given: &[(&str, &str)]) -> RunVarSubstitution {
        let g = given
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        substitute(sql, &g)
    }

    #[test]
    fn given_value_then_default_then_null() {
        let r = sub("a=@var(a) b=@var( b , x y ) c=@var(c)", &[("a", "1")]);
        assert_eq!(r.sql, "a=1 b=x y c=NULL");
        assert_eq!(r.defaults_used, vec!["b"]);
        assert_eq!(r.missing, vec!["c"]);
    }

    #[test]
    fn references_in_comments_are_kept_and_strings_open_no_comment() {
        let r = sub(
            "SELECT '--' , @var(x, 1) -- @var(y)\n/* @var(z) */ @var(w,2)",
            &[],
        );
        assert_eq!(r.sql, "SELECT '--' , 1 -- @var(y)\n/* @var(z) */ 2");
        assert!(r.missing.is_empty());
    }

    #[test]
    fn non_references_are_left_alone() {
        let r = sub("@var(1x) @var(a b) @var(a, no close", &[]);
        assert_eq!(r.sql, "@var(1x) @var(a b) @var(a, no close");
        let r = sub("@var(ok,) @var(@var(q, 3))", &[]);
        assert_eq!(r.sql, " @var(3)");
    }

    #[test]
    fn unicode_whitespace_counts_as_space() {
        let r = sub("@var(\u{3000}a\u{a0})", &[("a", "v")]);
        assert_eq!(r.sql, "v");
    }
}
