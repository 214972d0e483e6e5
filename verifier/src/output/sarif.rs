//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), as GitHub code scanning
//! reads it: one run, one result per check that did not pass, `ruleId` = the finding code.
//!
//! Levels: `fail` is `error`, `unknown` and `warn` are `warning`, `unverifiable` is `note`. A
//! waived finding keeps the level of the outcome it had and carries an accepted external
//! suppression with the waiver's reason (SARIF section 3.35), so code scanning shows it as
//! dismissed instead of dropping it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Locator;
use crate::checks::catalogue::Code;
use crate::report::{Check, Outcome, Report};

/// The `$schema` URI the document names (a name, never fetched).
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(o: Outcome) -> &'static str {
    match o {
        Outcome::Fail => "error",
        Outcome::Unknown | Outcome::Warn => "warning",
        Outcome::Unverifiable | Outcome::Pass => "note",
    }
}

/// Percent-encodes a path for a URI reference: unreserved characters and `/` stay; an absolute
/// path becomes a `file://` URI.
pub fn path_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if path.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

/// The rule description of a finding code (the catalogue's, else a pointer to the spec).
fn describe(code: &str) -> &'static str {
    Code::parse(code)
        .and_then(Code::rule)
        .unwrap_or("a rocky-verify finding (see spec/report.md)")
}

fn result(c: &Check, rule_index: usize, locator: &Locator) -> Value {
    let code = c.code.map_or("unknown", Code::as_str);
    let lvl = match &c.waiver {
        Some(w) => level(w.outcome),
        None => level(c.outcome),
    };
    let mut text = c.message.clone();
    if let Some(reason) = c.reason.as_deref().filter(|r| !c.message.contains(*r)) {
        text.push_str(&format!(" ({reason})"));
    }
    let mut r = json!({
        "ruleId": code,
        "ruleIndex": rule_index,
        "level": lvl,
        "message": { "text": text },
        "partialFingerprints": {
            "rockyVerifyFinding/v1": blake3::hash(
                format!("{}\u{0}{}\u{0}{}", c.check, code, serde_json::to_string(&c.subject).unwrap_or_default()).as_bytes()
            ).to_hex().to_string()
        },
        "properties": {
            "check": c.check,
            "outcome": c.outcome,
            "proof": c.proof,
            "subject": c.subject,
            "expected": c.expected,
            "actual": c.actual,
        }
    });
    if let Some(loc) = locator.location(c) {
        r["locations"] = json!([{
            "physicalLocation": { "artifactLocation": { "uri": path_uri(&loc) } }
        }]);
    }
    if let Some(w) = &c.waiver {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("waived until {}: {}", w.expires, w.reason),
        }]);
    }
    r
}

/// The SARIF log for a report (one run).
pub fn render(report: &Report, locator: &Locator) -> Value {
    let findings: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .collect();
    let mut rule_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &findings {
        let n = rule_ids.len();
        rule_ids
            .entry(c.code.map_or("unknown", Code::as_str))
            .or_insert(n);
    }
    // Rules in first-seen order, so ruleIndex is stable for a given report.
    let mut rules: Vec<(&str, usize)> = rule_ids.iter().map(|(k, v)| (*k, *v)).collect();
    rules.sort_by_key(|(_, i)| *i);
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|(id, _)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": describe(id) },
                "properties": { "tags": ["rocky-verify"] }
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|c| result(c, rule_ids[c.code.map_or("unknown", Code::as_str)], locator))
        .collect();
    let code = report.exit_code();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "rocky-verify",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules_json,
            }},
            "invocations": [{
                "executionSuccessful": code != crate::report::EXIT_INCOMPLETE,
                "exitCode": code,
            }],
            "results": results,
            "properties": {
                "verdict": report.verdict(),
                "counts": report.counts(),
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            path_uri("models/fct revenue.sql"),
            "models/fct%20revenue.sql"
        );
        assert_eq!(path_uri("/tmp/a#b.redb"), "file:///tmp/a%23b.redb");
        assert_eq!(path_uri("caf\u{e9}"), "caf%C3%A9");
    }
}
