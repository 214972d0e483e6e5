//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), as GitHub code scanning
//! reads it: one run, one result per finding, `ruleId` = the finding code.
//!
//! Levels: `fail` is `error`, `unknown` and `warn` are `warning`. A waived finding keeps the
//! level of the outcome it had and carries an accepted external suppression with the waiver's
//! reason (SARIF section 3.35), so code scanning shows it as dismissed instead of dropping it.
//!
//! Claims unverifiable by design (a self-reported identity, a 64-bit fingerprint) are not
//! results: code scanning keeps a result open until a later analysis stops reporting it, and
//! these never stop (nothing in the repository can fix them), so they would be permanent alerts
//! that train readers to ignore the tab. They stay in every other report (JSON, JUnit
//! `<skipped>`, Markdown, the human "did not verify" block), and `--strict` turns them into
//! failures, which are results.
//!
//! Locations: the artifact file, else the model's source file (recorded `source_path`, or the
//! file the code checks found: [`Locator::with_found_sources`]), else the file the subject
//! names, the warehouse, the ledger.
//!
//! Rules: one per code, described from the catalogue: what it means, what its checks establish,
//! and how to reproduce it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Locator;
use crate::checks::catalogue::{CheckId, Code};
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

/// The rule of a finding code: a short description, what its checks establish, and help.
fn rule_json(id: &str) -> Value {
    let code = Code::parse(id);
    let checks: Vec<CheckId> = code.map(|c| c.checks().to_vec()).unwrap_or_default();
    let short = code
        .and_then(Code::rule)
        .map(str::to_owned)
        .or_else(|| {
            checks
                .first()
                .map(|c| format!("{} fails: {}", c.as_str(), c.about()))
        })
        .unwrap_or_else(|| format!("rocky-verify finding {id}"));
    let proves: Vec<String> = checks
        .iter()
        .map(|c| format!("{} checks that {}.", c.as_str(), c.about()))
        .collect();
    let kind = if id.ends_with("_mismatch") {
        "The ledger's claim (`expected`) and what the independent source shows (`actual`) differ."
    } else if id.ends_with("_missing") {
        "Something the ledger names, or needs, is absent from the ledger or its source."
    } else if id.ends_with("_invalid") {
        "A recorded value is malformed, so nothing can be compared with it."
    } else {
        "Something is present that should not be, or the claim could not be judged; the result's \
         message says which."
    };
    let stop = checks
        .iter()
        .find_map(|c| code.and_then(|k| c.stop_help(k)))
        .map(|h| format!(" {h}."))
        .unwrap_or_default();
    let help = format!(
        "{kind}{stop} The result's properties hold `expected` and `actual`; `rocky-verify run \
         <run_id> --json` shows the check with its subject. Finding code `{id}` in \
         rocky-verify's report format (spec/report.md)."
    );
    json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": short },
        "fullDescription": { "text": if proves.is_empty() { short.clone() } else { proves.join(" ") } },
        "help": { "text": help },
        "properties": { "tags": ["rocky-verify"] }
    })
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
    let locator = &locator.with_found_sources(report);
    // Passes and by-design limits are not results (module docs); waived findings are.
    let findings: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| {
            !matches!(c.outcome, Outcome::Pass | Outcome::Unverifiable) || c.waiver.is_some()
        })
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
    let rules_json: Vec<Value> = rules.iter().map(|(id, _)| rule_json(id)).collect();
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
