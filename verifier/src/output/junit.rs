//! JUnit XML: one `<testsuite>` per model (and one for the ledger and each run). Within it, the
//! passing checks of one check id are one `<testcase>`, and every check that did not pass is a
//! `<testcase>` of its own, so the failure, error and skipped counts are the report's: `fail` is
//! a `<failure type="<code>">`, `unknown` an `<error>`, `unverifiable` (waived findings included)
//! a `<skipped message="<code>: <reason>">`; `warn` passes, its text in `<system-out>`.
//!
//! The shape is the one Jenkins, GitLab and most JUnit readers accept (the Ant schema's
//! `testsuites/testsuite/testcase`, with `skipped` as in Maven Surefire).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Case, cases, check_line};
use crate::checks::catalogue::Code;
use crate::report::Check;
use crate::report::{Outcome, Report};

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (controls other than tab, newline and carriage return; U+FFFE/U+FFFF) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values normalise raw newlines and tabs to spaces; character references
            // survive, so these stay what they were.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.tests += 1;
        match o {
            Outcome::Fail => self.failures += 1,
            Outcome::Unknown => self.errors += 1,
            Outcome::Unverifiable => self.skipped += 1,
            Outcome::Pass | Outcome::Warn => {}
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    fn attrs(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

fn open_case(out: &mut String, case: &Case<'_>, name: &str) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        escape(&format!("rocky-verify.{}", case.group)),
        escape(name)
    );
}

/// One testcase for one check that did not pass: a `<failure>` per failed check, so the
/// document's failure count is the report's. Its `type` is the check's one finding code.
fn finding(out: &mut String, case: &Case<'_>, c: &Check, tally: &mut Tally) {
    tally.add(c.outcome);
    // Named by the check id, as its passing sibling is (readers group by name); what it is
    // about is in the text.
    open_case(out, case, case.check.as_str());
    let code = c.code.map_or("", Code::as_str);
    let text = check_line(c);
    match c.outcome {
        Outcome::Pass => out.push_str("/>\n"),
        Outcome::Warn => {
            let _ = write!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape(&text)
            );
        }
        Outcome::Fail | Outcome::Unknown => {
            let tag = if c.outcome == Outcome::Fail {
                "failure"
            } else {
                "error"
            };
            let _ = write!(
                out,
                ">\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>\n    </testcase>\n",
                escape(code),
                escape(&c.message),
                escape(&text)
            );
        }
        Outcome::Unverifiable => {
            // The reason once: a waived finding's message already holds the waiver's.
            let reason = c.reason.as_deref().unwrap_or(&c.message);
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(&format!("{code}: {reason}"))
            );
        }
    }
}

/// A case's testcases: one per check that did not pass, and one for its passing checks.
fn testcases(out: &mut String, case: &Case<'_>, tally: &mut Tally) {
    let passed = case
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Pass)
        .count();
    if passed > 0 {
        tally.add(Outcome::Pass);
        open_case(out, case, case.check.as_str());
        out.push_str("/>\n");
    }
    for c in case.checks.iter().filter(|c| c.outcome != Outcome::Pass) {
        finding(out, case, c, tally);
    }
}

/// The JUnit XML document for a report.
pub fn render(report: &Report) -> String {
    let all = cases(report);
    let mut suites: BTreeMap<&str, Vec<&Case<'_>>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for c in &all {
        if !suites.contains_key(c.group.as_str()) {
            order.push(&c.group);
        }
        suites.entry(&c.group).or_default().push(c);
    }
    let mut total = Tally::default();
    let mut body = String::new();
    for name in order {
        let mut tally = Tally::default();
        let mut cases_xml = String::new();
        for case in &suites[name] {
            testcases(&mut cases_xml, case, &mut tally);
        }
        total.merge(&tally);
        let _ = write!(
            body,
            "  <testsuite name=\"{}\" {}>\n{cases_xml}  </testsuite>\n",
            escape(name),
            tally.attrs()
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" {}>\n{body}</testsuites>\n",
        escape(&format!("rocky-verify {}", report.command)),
        total.attrs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{1}b\nc"), "a\u{FFFD}b&#10;c");
    }
}
