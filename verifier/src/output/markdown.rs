//! A Markdown step summary (for `$GITHUB_STEP_SUMMARY` or a PR comment): the verdict, the
//! counts, a table of findings (one row per model and check that did not pass), active waivers,
//! and the "what this verified / what it did not" block. Ledger strings are escaped so they can
//! neither break the table nor inject HTML.

use std::fmt::Write as _;

use super::{cases, check_line};
use crate::checks::catalogue::Code;
use crate::output::outcome_word;
use crate::report::{Outcome, Report};

/// Escapes text for a Markdown table cell: HTML-significant characters become entities, `|` is
/// escaped, Markdown punctuation that could start emphasis or links is backslash-escaped, and
/// newlines become spaces.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '[' | ']' | '#' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// Most finding rows a summary lists (GitHub caps a step summary at 1 MiB).
pub const MAX_ROWS: usize = 200;

/// The Markdown document.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let verdict = match report.exit_code() {
        0 => "PASSED",
        1 => "FAILED",
        _ => "INCOMPLETE (could not verify)",
    };
    let _ = writeln!(
        out,
        "## rocky-verify {}: {verdict} (exit {})\n",
        report.command,
        report.exit_code()
    );
    if let Some(b) = &report.bundle {
        let _ = writeln!(
            out,
            "Bundle `{}`: id `{}`, collected by {} at {}.\n",
            b.path.replace('`', "'"),
            b.id,
            b.collector.replace('`', "'"),
            b.created_at.replace('`', "'")
        );
    }
    if let Some(l) = &report.ledger {
        let _ = writeln!(
            out,
            "Ledger `{}`: {} bytes, BLAKE3 {}.\n",
            l.path.replace('`', "'"),
            l.size_bytes,
            l.blake3
                .as_deref()
                .map_or_else(|| "not computed".to_owned(), |b| format!("`{b}`"))
        );
    }
    let c = report.counts();
    let _ = writeln!(
        out,
        "| pass | fail | warn | unknown | unverifiable |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        c.pass, c.fail, c.warn, c.unknown, c.unverifiable
    );

    let findings: Vec<_> = cases(report)
        .into_iter()
        .filter(|k| k.outcome() != Outcome::Pass)
        .collect();
    if findings.is_empty() {
        out.push_str("No findings.\n\n");
    } else {
        let _ = writeln!(out, "### Findings\n");
        out.push_str(
            "| outcome | model / subject | check | code | detail |\n|---|---|---|---|---|\n",
        );
        for case in findings.iter().take(MAX_ROWS) {
            let outcome = case.outcome();
            let worst: Vec<_> = case
                .checks
                .iter()
                .filter(|c| c.outcome == outcome)
                .collect();
            let codes: Vec<&str> = worst
                .iter()
                .filter_map(|c| c.code.map(Code::as_str))
                .collect();
            let mut codes_dedup = codes.clone();
            codes_dedup.dedup();
            let detail: Vec<String> = worst.iter().take(5).map(|c| check_line(c)).collect();
            let mut detail = detail.join("; ");
            if worst.len() > 5 {
                detail.push_str(&format!("; and {} more", worst.len() - 5));
            }
            let waived = if worst.iter().any(|c| c.waiver.is_some()) {
                " (waived)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {}{waived} | {} | {} | {} | {} |",
                outcome_word(outcome),
                cell(&case.group),
                cell(case.check.as_str()),
                cell(&codes_dedup.join(", ")),
                cell(&detail)
            );
        }
        if findings.len() > MAX_ROWS {
            let _ = writeln!(
                out,
                "\n{} more rows are in the JSON, JUnit and SARIF reports.",
                findings.len() - MAX_ROWS
            );
        }
        out.push('\n');
    }

    if !report.verified.is_empty() {
        out.push_str("### What this verified\n\n");
        for line in &report.verified {
            let _ = writeln!(out, "- {}", cell(line));
        }
        out.push('\n');
    }
    if !report.not_verified.is_empty() {
        out.push_str("### What this did not verify\n\n");
        for line in &report.not_verified {
            let _ = writeln!(out, "- {}", cell(line));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("[x](http://y)"), "\\[x\\](http://y)");
    }
}
