//! Human output for every command: one renderer, laid out for the terminal's width.
//!
//! A `run` report leads with the summary that answers the four audit questions (who, when, what
//! code, what output: [`summary`]), then the findings (fail, then unknown, each with what the
//! ledger claims, what the independent source shows and where: [`findings`]), a compact line per
//! model, and what was and was not verified. The per-check lists come with `--verbose`; `--quiet`
//! prints only the findings and the verdict. Colour is decoration only: the words PASS, FAIL,
//! UNKNOWN, UNVERIFIABLE and WARN are always printed, and a pass below the strong proof levels
//! says its level (`PASS (heuristic)`).

pub mod findings;
pub mod summary;
pub mod tables;
pub mod width;

use std::io::{self, Write};

use crate::report::{Check, Outcome, Proof, Report};

/// How to print a report for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// ANSI colour on the outcome words.
    pub color: bool,
    /// Columns to fit ([`width::detect`]).
    pub width: usize,
    /// Only the findings and the verdict.
    pub quiet: bool,
    /// Every check, grouped by model.
    pub verbose: bool,
}

impl Options {
    /// Plain output at `width` columns (tests, snapshots).
    pub fn plain(width: usize) -> Options {
        Options {
            color: false,
            width,
            quiet: false,
            verbose: false,
        }
    }
}

/// The upper-case word for an outcome.
pub fn outcome_word(o: Outcome) -> &'static str {
    super::outcome_word(o)
}

/// The outcome word with the proof level when a pass rests on less than bytes or a
/// recomputation: `PASS (heuristic)`, `PASS (fingerprint-only)`.
pub fn outcome_label(c: &Check) -> String {
    match (c.outcome, c.proof) {
        (Outcome::Pass, Proof::Heuristic) => "PASS (heuristic)".to_owned(),
        (Outcome::Pass, Proof::FingerprintOnly) => "PASS (fingerprint-only)".to_owned(),
        (o, _) => outcome_word(o).to_owned(),
    }
}

/// `text` in the outcome's colour when `color` (the text itself is unchanged).
pub fn paint(text: &str, o: Outcome, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match o {
        Outcome::Pass => "32",
        Outcome::Fail => "31",
        Outcome::Unknown => "33",
        Outcome::Unverifiable => "36",
        Outcome::Warn => "35",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// Writes a report for a person.
///
/// # Errors
///
/// The write error (a closed pipe is handled by the caller).
pub fn write(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    if !opts.quiet {
        write_header(report, out, opts)?;
        if report.command == "run" {
            summary::write(report, out, opts)?;
            writeln!(out)?;
        }
        if !report.runs.is_empty() {
            tables::write_runs(&report.runs, out, opts)?;
            writeln!(out)?;
        }
    }
    findings::write(report, out, opts)?;
    if !opts.quiet {
        let per_check = opts.verbose || matches!(report.command, "artifact" | "record");
        if per_check {
            tables::write_checks(report, out, opts)?;
        } else if matches!(report.command, "run" | "gate") {
            tables::write_groups(report, out, opts)?;
        }
        write_blocks(report, out, opts)?;
    }
    write_verdict(report, out)
}

/// `rocky-verify <command> <subject>` and the ledger read, wrapped to the width.
fn write_header(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    let subject = report.subject.as_deref().unwrap_or("");
    writeln!(
        out,
        "{}",
        width::wrapped(
            &format!("rocky-verify {} {subject}", report.command),
            opts.width,
            0,
            4
        )
    )?;
    // The evidence bundle verified (`--bundle`), if any: its id binds the report to its bytes.
    if let Some(b) = &report.bundle {
        let text = format!(
            "bundle {} (id {}, collected by {} at {})",
            b.path, b.id, b.collector, b.created_at
        );
        writeln!(out, "{}", width::wrapped(&text, opts.width, 0, 4))?;
    }
    if let Some(l) = &report.ledger {
        let text = format!(
            "ledger {} ({} bytes, blake3 {}, schema {}, producer {})",
            l.path,
            l.size_bytes,
            l.blake3.as_deref().unwrap_or("not computed"),
            l.schema_version.as_deref().unwrap_or("none"),
            l.producer.as_deref().unwrap_or("Rocky"),
        );
        writeln!(out, "{}", width::wrapped(&text, opts.width, 0, 4))?;
    }
    writeln!(out)
}

/// A bulleted list, each item wrapped with a hanging indent.
fn write_list(out: &mut dyn Write, title: &str, items: &[String], w: usize) -> io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(out, "{title}")?;
    for line in items {
        writeln!(out, "  - {}", width::wrapped(line, w, 4, 4))?;
    }
    Ok(())
}

/// What this verified, and what it did not. `run` and `gate` list what they verified with
/// `--verbose` only (their summary and per-model lines say it in short); what they did not verify
/// is always listed.
fn write_blocks(report: &Report, out: &mut dyn Write, opts: &Options) -> io::Result<()> {
    if opts.verbose || !matches!(report.command, "run" | "gate") || report.verified.len() <= 3 {
        write_list(out, "What this verified:", &report.verified, opts.width)?;
    } else {
        writeln!(
            out,
            "What this verified: {} kinds of claim (--verbose lists them)",
            report.verified.len()
        )?;
    }
    write_list(
        out,
        "What this did not verify:",
        &report.not_verified,
        opts.width,
    )
}

/// The closing line every human report ends with. The `warn` count (the gate's tolerance band)
/// is shown only by the gate.
pub fn write_verdict(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let c = report.counts();
    let warn = if report.command == "gate" {
        format!("{} warn, ", c.warn)
    } else {
        String::new()
    };
    writeln!(
        out,
        "verdict: {} (exit {}): {} pass, {} fail, {warn}{} unknown, {} unverifiable{}",
        verdict_word(report),
        report.exit_code(),
        c.pass,
        c.fail,
        c.unknown,
        c.unverifiable,
        if report.strict { " (--strict)" } else { "" },
    )
}

/// `OK`, `FAILED` or `INCOMPLETE`, from the exit code.
pub fn verdict_word(report: &Report) -> &'static str {
    match report.exit_code() {
        0 => "OK",
        1 => "FAILED",
        _ => "INCOMPLETE",
    }
}

/// Most checks the stderr line names before "and N more".
const STDERR_NAMES: usize = 6;

/// The last line on stderr for a report that did not pass: the verdict and the checks behind
/// it, by name (`artifact.blake3 fct_revenue`), not only their number. `None` for exit 0.
pub fn stderr_line(report: &Report) -> Option<String> {
    let code = report.exit_code();
    if code == 0 {
        return None;
    }
    let name = |outcome: Outcome| -> Vec<String> {
        report
            .checks
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(super::title)
            .collect()
    };
    let list = |names: Vec<String>| -> String {
        let mut shown: Vec<String> = names.iter().take(STDERR_NAMES).cloned().collect();
        if names.len() > STDERR_NAMES {
            shown.push(format!("and {} more", names.len() - STDERR_NAMES));
        }
        shown.join(", ")
    };
    let mut parts = Vec::new();
    let failed = name(Outcome::Fail);
    if !failed.is_empty() {
        parts.push(format!("{} FAILED: {}", failed.len(), list(failed)));
    }
    if report.strict {
        let unv = name(Outcome::Unverifiable);
        if !unv.is_empty() {
            parts.push(format!(
                "{} unverifiable (--strict): {}",
                unv.len(),
                list(unv)
            ));
        }
    }
    if report.fail_on_warning {
        let warned = name(Outcome::Warn);
        if !warned.is_empty() {
            parts.push(format!(
                "{} warned (fail_on_warning): {}",
                warned.len(),
                list(warned)
            ));
        }
    }
    let unknown = name(Outcome::Unknown);
    if !unknown.is_empty() {
        parts.push(format!(
            "{} could not be checked: {}",
            unknown.len(),
            list(unknown)
        ));
    }
    if parts.is_empty() {
        parts.push(format!("{} (exit {code})", verdict_word(report)));
    }
    Some(format!("rocky-verify: {}", parts.join("; ")))
}
