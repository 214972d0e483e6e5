//! The findings: every check that failed, then every one that could not be checked, then the
//! gate's warnings, each with where it is, what the ledger claims (`expected`) and what the
//! independent source shows (`actual`), or why it could not be checked.

use std::io::{self, Write};

use serde_json::Value;

use super::{Options, outcome_word, paint, width};
use crate::report::{Check, Outcome, Report};

/// Findings listed without `--verbose`; the rest are counted (every report format lists all).
pub const MAX_SHOWN: usize = 50;

const INDENT: usize = 4;
const LABEL: usize = 9;

/// Where a check is: its run (when the report is not about that run alone), model, table,
/// column, upstream, artifact and file.
pub fn where_text(c: &Check, report_subject: Option<&str>) -> String {
    let s = &c.subject;
    let mut parts = Vec::new();
    if let Some(r) = s.run_id.as_deref().filter(|r| Some(*r) != report_subject) {
        parts.push(format!("run {r}"));
    }
    if let Some(m) = &s.model {
        parts.push(format!("model {m}"));
    }
    if let Some(t) = &s.table {
        parts.push(format!("table {t}"));
    }
    if let Some(col) = &s.column {
        parts.push(format!("column {col}"));
    }
    if let Some(u) = &s.upstream {
        parts.push(format!("upstream {u}"));
    }
    if let Some(a) = &s.artifact {
        parts.push(format!("artifact {a}"));
    }
    if let Some(f) = s.file.as_deref().filter(|f| Some(*f) != report_subject) {
        parts.push(format!("file {f}"));
    }
    if parts.is_empty() {
        match report_subject {
            Some(r) => format!("run {r}"),
            None => "the ledger".to_owned(),
        }
    } else {
        parts.join(" · ")
    }
}

/// A JSON value as text: strings bare, `null` as `-`, anything else compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rank(o: Outcome) -> Option<u8> {
    match o {
        Outcome::Fail => Some(0),
        Outcome::Unknown => Some(1),
        Outcome::Warn => Some(2),
        Outcome::Pass | Outcome::Unverifiable => None,
    }
}

/// The findings in the order they are listed: fail, unknown, warn; report order within each.
pub fn ordered(report: &Report) -> Vec<&Check> {
    let mut f: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| rank(c.outcome).is_some())
        .collect();
    f.sort_by_key(|c| rank(c.outcome));
    f
}

fn labelled(out: &mut dyn Write, label: &str, text: &str, w: usize) -> io::Result<()> {
    let pad = " ".repeat(INDENT);
    writeln!(
        out,
        "{pad}{label:<LABEL$}{}",
        width::wrapped(text, w, INDENT + LABEL, INDENT + LABEL)
    )
}

/// Writes the findings block (nothing when there are none).
///
/// # Errors
///
/// The write error.
pub fn write(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    let all = ordered(report);
    if all.is_empty() {
        if !opts.quiet {
            writeln!(out, "Findings: none")?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let count = |o: Outcome| all.iter().filter(|c| c.outcome == o).count();
    let counts: Vec<String> = [
        (Outcome::Fail, "fail"),
        (Outcome::Unknown, "could not be checked"),
        (Outcome::Warn, "warn"),
    ]
    .iter()
    .filter(|(o, _)| count(*o) > 0)
    .map(|(o, word)| format!("{} {word}", count(*o)))
    .collect();
    writeln!(out, "Findings ({}):", counts.join(", "))?;
    writeln!(
        out,
        "  {}",
        width::wrapped(
            "(expected: what the ledger claims; actual: what the independent source shows)",
            opts.width,
            2,
            2
        )
    )?;
    let limit = if opts.verbose { usize::MAX } else { MAX_SHOWN };
    let subject = report.subject.as_deref();
    for c in all.iter().take(limit) {
        let word = outcome_word(c.outcome);
        let head = format!(
            "{} {}",
            c.check,
            c.code.map_or("", crate::checks::catalogue::Code::as_str)
        );
        writeln!(
            out,
            "  {} {}",
            paint(word, c.outcome, opts.color),
            width::wrapped(&head, opts.width, 3 + word.len(), INDENT)
        )?;
        labelled(out, "where", &where_text(c, subject), opts.width)?;
        match c.outcome {
            Outcome::Unknown => {
                labelled(out, "reason", c.reason.as_deref().unwrap_or(""), opts.width)?;
            }
            _ => {
                labelled(out, "message", &c.message, opts.width)?;
                if !c.expected.is_null() || !c.actual.is_null() {
                    labelled(out, "expected", &value_text(&c.expected), opts.width)?;
                    labelled(out, "actual", &value_text(&c.actual), opts.width)?;
                }
            }
        }
    }
    if all.len() > limit {
        writeln!(
            out,
            "  and {} more (--verbose or --json lists them all)",
            all.len() - limit
        )?;
    }
    writeln!(out)
}
