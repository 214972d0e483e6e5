//! Aligned columns that fit the width: the runs listing, the compact per-model lines and the
//! `--verbose` per-check lists. A row too wide for the width is printed as a first line and
//! indented `header value` lines instead, so no cell is ever cut inside a word.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::Value;

use super::findings::{value_text, where_text};
use super::{Options, outcome_label, outcome_word, paint, width};
use crate::checks::catalogue::Code;
use crate::output::{cases, severity};
use crate::report::{Check, Outcome, Proof, Report};

/// One cell: its text and, for an outcome cell, the outcome that colours it.
pub struct Cell {
    text: String,
    outcome: Option<Outcome>,
}

impl Cell {
    /// A plain cell.
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            outcome: None,
        }
    }
    /// A cell coloured as `o`.
    pub fn outcome(text: impl Into<String>, o: Outcome) -> Cell {
        Cell {
            text: text.into(),
            outcome: Some(o),
        }
    }
    fn show(&self, color: bool) -> String {
        match self.outcome {
            Some(o) => paint(&self.text, o, color),
            None => self.text.clone(),
        }
    }
}

const GAP: usize = 2;
const INDENT: usize = 2;
/// The last column, when it is wrapped, keeps at least this many columns.
const MIN_LAST: usize = 24;

/// Writes `rows` under `headers`, aligned; the last column wraps (by words) in the space left.
/// When the other columns leave it less than [`MIN_LAST`], every row is stacked instead.
///
/// # Errors
///
/// The write error.
pub fn write_columns(
    out: &mut dyn Write,
    headers: &[&str],
    rows: &[Vec<Cell>],
    opts: &Options,
) -> io::Result<()> {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| width::len(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(n) {
            widths[i] = widths[i].max(width::len(&cell.text));
        }
    }
    let lead: usize = INDENT + widths[..n - 1].iter().map(|w| w + GAP).sum::<usize>();
    let pad = |s: &str, w: usize| " ".repeat(w.saturating_sub(width::len(s)));
    if lead + MIN_LAST.min(widths[n - 1]) <= opts.width {
        let mut line = " ".repeat(INDENT);
        for (i, h) in headers.iter().enumerate() {
            line.push_str(h);
            if i + 1 < n {
                line.push_str(&pad(h, widths[i] + GAP));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        for row in rows {
            let mut line = " ".repeat(INDENT);
            for (i, cell) in row.iter().enumerate().take(n) {
                if i + 1 < n {
                    line.push_str(&cell.show(opts.color));
                    line.push_str(&pad(&cell.text, widths[i] + GAP));
                } else {
                    let text = width::wrapped(&cell.text, opts.width, lead, lead);
                    line.push_str(&match cell.outcome {
                        Some(o) => paint(&text, o, opts.color),
                        None => text,
                    });
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        return Ok(());
    }
    // Stacked: the first cell, then `header  value` lines.
    let label = headers
        .iter()
        .skip(1)
        .map(|h| width::len(h))
        .max()
        .unwrap_or(0)
        + GAP;
    for row in rows {
        let first = row.first().map(|c| c.show(opts.color)).unwrap_or_default();
        writeln!(out, "{}{first}", " ".repeat(INDENT))?;
        for (h, cell) in headers.iter().zip(row.iter()).skip(1) {
            if cell.text.is_empty() {
                continue;
            }
            let at = INDENT * 2 + label;
            let text = width::wrapped(&cell.text, opts.width, at, at);
            let text = match cell.outcome {
                Some(o) => paint(&text, o, opts.color),
                None => text,
            };
            writeln!(out, "{}{h}{}{text}", " ".repeat(INDENT * 2), pad(h, label))?;
        }
    }
    Ok(())
}

/// `runs`: one row per run, newest first.
///
/// # Errors
///
/// The write error.
pub fn write_runs(runs: &[Value], out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    let rows: Vec<Vec<Cell>> = runs
        .iter()
        .map(|r| {
            let commit = r["git_commit"]
                .as_str()
                .map_or("-".to_owned(), |c| c.chars().take(7).collect());
            let status = if r["decodable"] == true {
                Cell::new(value_text(&r["status"]))
            } else {
                Cell::outcome("FAIL (does not decode)", Outcome::Fail)
            };
            vec![
                Cell::new(value_text(&r["run_id"])),
                Cell::new(value_text(&r["started_at"])),
                status,
                Cell::new(value_text(&r["models"])),
                Cell::new(value_text(&r["trigger"])),
                Cell::new(commit),
                Cell::new(value_text(&r["triggering_identity"])),
            ]
        })
        .collect();
    write_columns(
        out,
        &[
            "run id", "started", "status", "models", "trigger", "commit", "identity",
        ],
        &rows,
        opts,
    )
}

/// The name of a case's group as a row shows it: the model alone when the report is about one
/// run.
fn group_name(group: &str, report: &Report) -> String {
    match report.subject.as_deref() {
        Some(run) if report.command == "run" => {
            if group == format!("run {run}") {
                return "run".to_owned();
            }
            group
                .strip_suffix(&format!(" ({run})"))
                .unwrap_or(group)
                .to_owned()
        }
        _ => group.to_owned(),
    }
}

/// The compact form: one row per model (and one for the run or ledger): its worst outcome, how
/// many of its checks passed, and the checks that did not, with their codes.
///
/// # Errors
///
/// The write error.
pub fn write_groups(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    let all = cases(report);
    // Per group: worst outcome, passing cases, all cases, heuristic passes, the others.
    let mut groups: BTreeMap<&str, (Outcome, usize, usize, usize, Vec<String>)> = BTreeMap::new();
    let mut order = Vec::new();
    for case in &all {
        let e = groups.entry(case.group.as_str()).or_insert_with(|| {
            order.push(case.group.as_str());
            (Outcome::Pass, 0, 0, 0, Vec::new())
        });
        let o = case.outcome();
        if severity(o) > severity(e.0) {
            e.0 = o;
        }
        e.2 += 1;
        if o == Outcome::Pass {
            e.1 += 1;
            if case
                .checks
                .iter()
                .any(|c| matches!(c.proof, Proof::Heuristic | Proof::FingerprintOnly))
            {
                e.3 += 1;
            }
        } else {
            let mut codes: Vec<&str> = case
                .checks
                .iter()
                .filter_map(|c| c.code.map(Code::as_str))
                .collect();
            codes.sort_unstable();
            codes.dedup();
            e.4.push(format!(
                "{} {} ({})",
                case.check,
                outcome_word(o).to_lowercase(),
                codes.join(", ")
            ));
        }
    }
    if order.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Cell>> = order
        .iter()
        .map(|g| {
            let (o, passed, total, weak, other) = &groups[g];
            let word = if *o == Outcome::Pass && *weak > 0 {
                format!("PASS ({weak} weak)")
            } else {
                outcome_word(*o).to_owned()
            };
            vec![
                Cell::new(group_name(g, report)),
                Cell::outcome(word, *o),
                Cell::new(format!("{passed}/{total}")),
                Cell::new(other.join("; ")),
            ]
        })
        .collect();
    let subject = if report.command == "run" {
        "model"
    } else {
        "subject"
    };
    write_columns(
        out,
        &[subject, "outcome", "checks passed", "not passed"],
        &rows,
        opts,
    )?;
    if groups.values().any(|g| g.0 == Outcome::Pass && g.3 > 0) {
        writeln!(
            out,
            "  (weak: passed on a 64-bit fingerprint or a heuristic only; --verbose shows which)"
        )?;
    }
    writeln!(out)
}

/// `--verbose` (and `artifact`, `record`): every check, grouped by model, two lines each: the
/// outcome with its proof level, the check, its code and where; then the message.
///
/// # Errors
///
/// The write error.
pub fn write_checks(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    let mut order: Vec<String> = Vec::new();
    let mut by_group: BTreeMap<String, Vec<&Check>> = BTreeMap::new();
    for c in &report.checks {
        let g = group_name(&crate::output::group_of(c), report);
        if !by_group.contains_key(&g) {
            order.push(g.clone());
        }
        by_group.entry(g).or_default().push(c);
    }
    let subject = report.subject.as_deref();
    let label_w = report
        .checks
        .iter()
        .map(|c| outcome_label(c).len())
        .max()
        .unwrap_or(4);
    for g in order {
        let title = if g == "run" {
            format!("run {}", subject.unwrap_or(""))
        } else if report.command == "run" && g != "ledger" {
            format!("model {g}")
        } else {
            g.clone()
        };
        writeln!(out, "{title}")?;
        for c in &by_group[&g] {
            let label = outcome_label(c);
            let mut head = c.check.as_str().to_owned();
            if let Some(code) = c.code {
                head.push(' ');
                head.push_str(code.as_str());
            }
            let about = where_text(c, subject);
            // The model is the group's title already.
            let about = about
                .split(" · ")
                .filter(|p| !p.starts_with("model "))
                .collect::<Vec<_>>()
                .join(" · ");
            if !about.is_empty() && about != format!("run {}", subject.unwrap_or("")) {
                head.push_str(&format!(" · {about}"));
            }
            let at = INDENT + label_w + 1;
            writeln!(
                out,
                "{}{}{} {}",
                " ".repeat(INDENT),
                paint(&label, c.outcome, opts.color),
                " ".repeat(label_w - label.len()),
                width::wrapped(&head, opts.width, at, at)
            )?;
            writeln!(
                out,
                "{}{}",
                " ".repeat(at + 1),
                width::wrapped(&c.message, opts.width, at + 1, at + 1)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}
