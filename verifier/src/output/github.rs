//! GitHub Actions workflow commands (`::error file=...,title=...::message`), one per finding:
//! `fail` is `::error`, `unknown` and `warn` are `::warning`, a waived finding is `::notice`.
//! Claims unverifiable by design are not annotated (they are in every other report).
//!
//! Escaping follows the Actions toolkit (`@actions/core` `command.ts`): in the message `%`, `\r`
//! and `\n` become `%25`, `%0D`, `%0A`; in property values `:` and `,` also become `%3A`, `%2C`.

use std::fmt::Write as _;

use super::{Locator, title};
use crate::checks::catalogue::Code;
use crate::report::{Outcome, Report};

/// Escapes a command's message (the part after `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (`file=`, `title=`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands for a report, one per line.
pub fn render(report: &Report, locator: &Locator) -> String {
    let locator = &locator.with_found_sources(report);
    let mut out = String::new();
    for c in &report.checks {
        let command = match (c.outcome, &c.waiver) {
            (_, Some(_)) => "notice",
            (Outcome::Fail, _) => "error",
            (Outcome::Unknown | Outcome::Warn, _) => "warning",
            (Outcome::Pass | Outcome::Unverifiable, None) => continue,
        };
        let mut props = Vec::new();
        if let Some(file) = locator.location(c) {
            props.push(format!("file={}", escape_property(&file)));
        }
        let code = c.code.map_or("", Code::as_str);
        props.push(format!(
            "title={}",
            escape_property(&format!("rocky-verify {code}: {}", title(c)))
        ));
        // A waived finding's message already ends with "(waived until ...: reason)".
        let message = c.message.clone();
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            props.join(","),
            escape_data(&message)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_toolkit() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        // `::` inside a message cannot end the command early: it is data after the first `::`.
        assert_eq!(escape_data("x::y"), "x::y");
    }
}
