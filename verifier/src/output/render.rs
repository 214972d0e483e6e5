//! Human output: a table per run and per model, then the "what this verified / what it did not"
//! block and the verdict. Colour is decoration only: the words PASS, FAIL, UNKNOWN and
//! UNVERIFIABLE are always printed.

use std::io::{self, Write};

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde_json::Value;

use crate::report::{Check, Outcome, Report};

pub(crate) fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Unknown => "UNKNOWN",
        Outcome::Unverifiable => "UNVERIFIABLE",
        Outcome::Warn => "WARN",
    }
}

pub(crate) fn outcome_cell(o: Outcome, color: bool) -> Cell {
    let cell = Cell::new(outcome_word(o));
    if !color {
        return cell;
    }
    cell.fg(match o {
        Outcome::Pass => Color::Green,
        Outcome::Fail => Color::Red,
        Outcome::Unknown => Color::Yellow,
        Outcome::Unverifiable => Color::Cyan,
        Outcome::Warn => Color::Magenta,
    })
}

pub(crate) fn new_table(color: bool, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120);
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(header.to_vec());
    t
}

/// The header line naming the evidence bundle verified (`--bundle`), if any.
pub(crate) fn write_bundle_line(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if let Some(b) = &report.bundle {
        writeln!(
            out,
            "bundle {} (id {}, collected by {} at {})",
            b.path, b.id, b.collector, b.created_at
        )?;
    }
    Ok(())
}

/// Short text naming what a check is about, beyond the group it is printed in.
fn subject_text(c: &Check, report_subject: Option<&str>) -> String {
    let s = &c.subject;
    let mut parts = Vec::new();
    if let Some(t) = &s.table {
        parts.push(t.clone());
    }
    if let Some(col) = &s.column {
        parts.push(format!("column {col}"));
    }
    if let Some(u) = &s.upstream {
        parts.push(format!("upstream {u}"));
    }
    if let Some(a) = &s.artifact {
        parts.push(a.chars().take(12).collect::<String>() + "...");
    }
    if let Some(f) = s.file.as_deref().filter(|f| Some(*f) != report_subject) {
        parts.push(f.to_owned());
    }
    parts.join(" ")
}

fn checks_table(checks: &[&Check], report_subject: Option<&str>, color: bool) -> Table {
    let mut t = new_table(color, &["check", "about", "outcome", "code", "message"]);
    for c in checks {
        t.add_row(vec![
            Cell::new(c.check.as_str()),
            Cell::new(subject_text(c, report_subject)),
            outcome_cell(c.outcome, color),
            Cell::new(c.code.map_or("", |c| c.as_str())),
            Cell::new(&c.message),
        ]);
    }
    t
}

/// Writes a report for a person.
///
/// # Errors
///
/// The write error (a closed pipe is handled by the caller).
pub fn write_human(report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let subject = report.subject.as_deref().unwrap_or("");
    writeln!(out, "rocky-verify {} {subject}", report.command)?;
    write_bundle_line(report, out)?;
    if let Some(l) = &report.ledger {
        writeln!(
            out,
            "ledger {} ({} bytes, blake3 {}, schema {}, producer {})",
            l.path,
            l.size_bytes,
            l.blake3.as_deref().unwrap_or("not computed"),
            l.schema_version.as_deref().unwrap_or("none"),
            l.producer.as_deref().unwrap_or("Rocky"),
        )?;
    }
    writeln!(out)?;

    if !report.runs.is_empty() {
        writeln!(out, "{}", runs_table(&report.runs, color))?;
        writeln!(out)?;
    }

    // Checks without a model first (the run, the ledger, git), then one table per model.
    let general: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.subject.model.is_none())
        .collect();
    if !general.is_empty() {
        let title = match report.command {
            "run" => format!("run {subject}"),
            _ => subject.to_owned(),
        };
        writeln!(out, "{title}")?;
        writeln!(
            out,
            "{}",
            checks_table(&general, report.subject.as_deref(), color)
        )?;
        writeln!(out)?;
    }
    let mut models: Vec<(&str, &str)> = Vec::new();
    for c in &report.checks {
        if let Some(m) = c.subject.model.as_deref() {
            let run = c.subject.run_id.as_deref().unwrap_or("");
            if !models.contains(&(run, m)) {
                models.push((run, m));
            }
        }
    }
    for (run, m) in models {
        let checks: Vec<&Check> = report
            .checks
            .iter()
            .filter(|c| {
                c.subject.model.as_deref() == Some(m)
                    && c.subject.run_id.as_deref().unwrap_or("") == run
            })
            .collect();
        if report.command == "run" || run.is_empty() {
            writeln!(out, "model {m}")?;
        } else {
            writeln!(out, "run {run} model {m}")?;
        }
        writeln!(
            out,
            "{}",
            checks_table(&checks, report.subject.as_deref(), color)
        )?;
        writeln!(out)?;
    }

    write_summary(report, out)
}

/// The closing block every human report ends with: what was verified, what was not, and the
/// verdict line. The `warn` count (the gate's tolerance band) is shown only by the gate.
pub fn write_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if !report.verified.is_empty() {
        writeln!(out, "What this verified:")?;
        for line in &report.verified {
            writeln!(out, "  - {line}")?;
        }
    }
    if !report.not_verified.is_empty() {
        writeln!(out, "What this did not verify:")?;
        for line in &report.not_verified {
            writeln!(out, "  - {line}")?;
        }
    }
    let c = report.counts();
    let verdict = match report.exit_code() {
        0 => "OK",
        1 => "FAILED",
        _ => "INCOMPLETE",
    };
    let warn = if report.command == "gate" {
        format!("{} warn, ", c.warn)
    } else {
        String::new()
    };
    writeln!(
        out,
        "verdict: {verdict} (exit {}): {} pass, {} fail, {warn}{} unknown, {} unverifiable{}",
        report.exit_code(),
        c.pass,
        c.fail,
        c.unknown,
        c.unverifiable,
        if report.strict { " (--strict)" } else { "" },
    )
}

fn runs_table(runs: &[Value], color: bool) -> Table {
    let mut t = new_table(
        color,
        &[
            "run id", "started", "status", "models", "trigger", "identity", "commit",
        ],
    );
    let text = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for r in runs {
        let commit = r["git_commit"]
            .as_str()
            .map_or("-".to_owned(), |c| c.chars().take(12).collect());
        let status = if r["decodable"] == true {
            Cell::new(text(&r["status"]))
        } else {
            outcome_cell(Outcome::Fail, color).add_attribute(comfy_table::Attribute::Bold)
        };
        t.add_row(vec![
            Cell::new(text(&r["run_id"])),
            Cell::new(text(&r["started_at"])),
            status,
            Cell::new(text(&r["models"])),
            Cell::new(text(&r["trigger"])),
            Cell::new(text(&r["triggering_identity"])),
            Cell::new(commit),
        ]);
    }
    t
}
