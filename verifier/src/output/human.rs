//! The gate's human output: one table row per model (how many checks passed, what did not),
//! then the findings in detail, the "what this verified / did not" block and the verdict. Sized
//! for a thousand models: passing checks are counted, not listed.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::Cell;

use super::{cases, check_line};
use crate::checks::catalogue::Code;
use crate::output::render::{new_table, outcome_cell};
use crate::report::{Outcome, Report};

/// Writes the gate report for a person.
///
/// # Errors
///
/// The write error (a closed pipe is handled by the caller).
pub fn write(report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    writeln!(out, "rocky-verify {}", report.command)?;
    crate::output::render::write_bundle_line(report, out)?;
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

    let all = cases(report);
    // Per group: worst outcome, passing cases, and the non-pass check ids.
    let mut groups: BTreeMap<&str, (Outcome, usize, Vec<String>)> = BTreeMap::new();
    let mut order = Vec::new();
    for case in &all {
        let e = groups.entry(case.group.as_str()).or_insert_with(|| {
            order.push(case.group.as_str());
            (Outcome::Pass, 0, Vec::new())
        });
        let o = case.outcome();
        if super::severity(o) > super::severity(e.0) {
            e.0 = o;
        }
        if o == Outcome::Pass {
            e.1 += 1;
        } else {
            let codes: Vec<&str> = case
                .checks
                .iter()
                .filter_map(|c| c.code.map(Code::as_str))
                .collect();
            let mut codes = codes;
            codes.sort_unstable();
            codes.dedup();
            e.2.push(format!("{} ({})", case.check, codes.join(", ")));
        }
    }
    if !order.is_empty() {
        let mut t = new_table(color, &["subject", "outcome", "passed", "not passed"]);
        for g in order {
            let (o, passed, other) = &groups[g];
            t.add_row(vec![
                Cell::new(g),
                outcome_cell(*o, color),
                Cell::new(passed),
                Cell::new(other.join("\n")),
            ]);
        }
        writeln!(out, "{t}")?;
        writeln!(out)?;
    }

    let findings: Vec<_> = report
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Unknown | Outcome::Warn))
        .collect();
    if !findings.is_empty() {
        writeln!(out, "Findings:")?;
        let mut t = new_table(color, &["subject", "check", "outcome", "detail"]);
        for c in findings {
            t.add_row(vec![
                Cell::new(super::group_of(c)),
                Cell::new(c.check.as_str()),
                outcome_cell(c.outcome, color),
                Cell::new(check_line(c)),
            ]);
        }
        writeln!(out, "{t}")?;
        writeln!(out)?;
    }

    crate::output::render::write_summary(report, out)
}
