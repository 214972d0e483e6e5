//! The width human output is laid out for, and word wrapping that never splits a word: a hash,
//! a table name or a path is either whole on a line or whole on the next one.

use std::io::IsTerminal;

/// Narrowest layout: below this, lines are left long rather than made unreadable.
pub const MIN_WIDTH: usize = 40;

/// Width when stdout is not a terminal and `COLUMNS` is unset (a log file, a pipe).
pub const DEFAULT_WIDTH: usize = 100;

/// The width to lay out for: `COLUMNS` when it is a number (POSIX: it overrides the terminal),
/// else the terminal's width when stdout is one, else [`DEFAULT_WIDTH`]; never below
/// [`MIN_WIDTH`].
pub fn detect() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    let width = columns.or_else(terminal_width).unwrap_or(DEFAULT_WIDTH);
    width.max(MIN_WIDTH)
}

#[cfg(unix)]
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we own; a failure leaves it
    // zeroed, which is treated as unknown.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

#[cfg(not(unix))]
fn terminal_width() -> Option<usize> {
    let _ = std::io::stdout().is_terminal();
    None
}

/// Display width of a string: characters, not bytes (ledger strings are mostly ASCII; a wide
/// character may make a line one column longer, never split).
pub fn len(s: &str) -> usize {
    s.chars().count()
}

/// Wraps `text` to `width` columns: the first line starts after `first` (already written by the
/// caller, counted in the width), later lines with `indent` spaces. Words are split on white
/// space only; a word longer than a line stays whole on a line of its own.
pub fn wrap(text: &str, width: usize, first: usize, indent: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = first;
    let mut start = first;
    for word in text.split_whitespace() {
        let w = len(word);
        if !line.is_empty() && used + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            used = indent;
            start = indent;
        }
        if !line.is_empty() {
            line.push(' ');
            used += 1;
        }
        line.push_str(word);
        used += w;
    }
    let _ = start;
    lines.push(line);
    lines
}

/// [`wrap`], joined with newlines and the indent: ready to print after a prefix of `first`
/// columns.
pub fn wrapped(text: &str, width: usize, first: usize, indent: usize) -> String {
    wrap(text, width, first, indent).join(&format!("\n{}", " ".repeat(indent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_never_split_and_lines_fit_when_words_do() {
        let hash = "56f545769dc21e4866df65776d8b71777f3889f91f7040293afae189cf29310a";
        let text =
            format!("ledger project/.rocky-state.redb (3686400 bytes, blake3 {hash}, schema 22)");
        for width in [40, 80, 120] {
            let lines = wrap(&text, width, 0, 4);
            assert!(lines.iter().any(|l| l.contains(hash)), "{lines:?}");
            for l in &lines {
                // Only a line holding the over-long word itself may exceed the width.
                assert!(len(l) + 4 <= width.max(len(hash) + 4 + 8), "{width}: {l:?}");
            }
            assert_eq!(
                lines.join(" ").split_whitespace().collect::<Vec<_>>(),
                text.split_whitespace().collect::<Vec<_>>()
            );
        }
        assert!(wrap(&text, 200, 0, 4).len() == 1);
    }

    #[test]
    fn a_word_longer_than_the_line_stays_whole() {
        let lines = wrap("a bcdefghij k", 5, 0, 0);
        assert_eq!(lines, ["a", "bcdefghij", "k"]);
    }
}
