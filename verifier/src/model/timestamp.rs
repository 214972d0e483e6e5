//! RFC 3339 timestamps: the one parser every record field, view and vector goes through.
//!
//! Hand-written rather than chrono's `parse_from_rfc3339`, which also accepts `t`, a space and
//! fractions of any length: a record Rocky wrote never holds those, and one grammar for strict
//! decoding and for the checks means a timestamp is either read the same everywhere or refused.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};

use crate::checks::catalogue::Code;

/// A timestamp as recorded: the exact text, and the instant it denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The text exactly as found in the record.
    pub text: String,
    /// The instant, in UTC.
    pub utc: DateTime<Utc>,
}

/// Why a timestamp text was refused (finding code `timestamp_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}: {text:?}")]
pub struct TimestampError {
    /// The text (truncated to 64 characters).
    pub text: String,
    /// What is wrong.
    pub problem: &'static str,
}

impl TimestampError {
    /// The finding code, `timestamp_invalid`.
    pub fn code(&self) -> Code {
        Code::TimestampInvalid
    }
}

impl Timestamp {
    /// Parses RFC 3339 date-time text: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1 to 9
    /// digits, and `Z` or a numeric offset `+HH:MM` / `-HH:MM`. Impossible dates and times are
    /// refused; second 60 is accepted as a leap second. Any offset is converted to UTC; use
    /// [`Timestamp::is_utc_text`] to see whether the text itself was UTC.
    ///
    /// # Errors
    ///
    /// [`TimestampError`] for any other text.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let parsed = parse_rfc3339(text).map_err(|problem| TimestampError {
            text: text.chars().take(64).collect(),
            problem,
        })?;
        Ok(Timestamp {
            text: text.to_owned(),
            utc: parsed.utc,
        })
    }

    /// Parses a timestamp in one of the forms Rocky writes into records: UTC as `Z` or `+00:00`,
    /// with 0, 3, 6 or 9 fraction digits (chrono's `SecondsFormat::AutoSi`; `to_rfc3339()`).
    ///
    /// # Errors
    ///
    /// [`TimestampError`] for any other text, including valid RFC 3339 with another offset or
    /// fraction length.
    pub fn parse_record(text: &str) -> Result<Timestamp, TimestampError> {
        let err = |problem| TimestampError {
            text: text.chars().take(64).collect(),
            problem,
        };
        let parsed = parse_rfc3339(text).map_err(err)?;
        if !matches!(parsed.fraction_digits, 0 | 3 | 6 | 9) {
            return Err(err("fraction is not 0, 3, 6 or 9 digits"));
        }
        if !parsed.utc_text {
            return Err(err("offset is not UTC (Z or +00:00)"));
        }
        Ok(Timestamp {
            text: text.to_owned(),
            utc: parsed.utc,
        })
    }

    /// Whether the text is written in UTC (`Z` or `+00:00`).
    pub fn is_utc_text(&self) -> bool {
        self.text.ends_with('Z') || self.text.ends_with("+00:00")
    }

    /// The instant in chrono's serde form (`Z`, and the shortest of 0, 3, 6 or 9 fraction digits
    /// that is exact): how Rocky writes a `DateTime<Utc>`.
    pub fn normalized(&self) -> String {
        self.utc.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

struct ParsedRfc3339 {
    utc: DateTime<Utc>,
    fraction_digits: usize,
    utc_text: bool,
}

fn parse_rfc3339(text: &str) -> Result<ParsedRfc3339, &'static str> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Result<u32, &'static str> {
        let part = b.get(range).ok_or("too short")?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err("expected digits");
        }
        Ok(part
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let expect = |at: usize, c: u8, problem: &'static str| -> Result<(), &'static str> {
        if b.get(at) == Some(&c) {
            Ok(())
        } else {
            Err(problem)
        }
    };
    let year = digits(0..4)?;
    expect(4, b'-', "expected '-' after the year")?;
    let month = digits(5..7)?;
    expect(7, b'-', "expected '-' after the month")?;
    let day = digits(8..10)?;
    expect(10, b'T', "expected 'T' between date and time")?;
    let hour = digits(11..13)?;
    expect(13, b':', "expected ':' after the hour")?;
    let minute = digits(14..16)?;
    expect(16, b':', "expected ':' after the minute")?;
    let second = digits(17..19)?;
    let mut at = 19;
    let mut nanos = 0u32;
    let mut fraction_digits = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        fraction_digits = at - start;
        if !(1..=9).contains(&fraction_digits) {
            return Err("fraction must have 1 to 9 digits");
        }
        nanos = digits(start..at)? * 10u32.pow(u32::try_from(9 - fraction_digits).unwrap_or(0));
    }
    let (offset_seconds, utc_text) = match &b[at..] {
        b"Z" => (0i32, true),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = digits(at + 1..at + 3)?;
            let mm = digits(at + 4..at + 6)?;
            let _ = (h1, h2, m1, m2);
            if hh > 23 || mm > 59 {
                return Err("offset out of range");
            }
            let magnitude =
                i32::try_from(hh * 3600 + mm * 60).map_err(|_| "offset out of range")?;
            let zero = magnitude == 0;
            (
                if *sign == b'-' { -magnitude } else { magnitude },
                zero && *sign == b'+',
            )
        }
        [] => return Err("no time zone"),
        _ => return Err("expected 'Z' or an offset +HH:MM"),
    };
    let year = i32::try_from(year).map_err(|_| "year out of range")?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or("no such date")?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err("no such time");
    }
    // RFC 3339 writes a leap second as :60; chrono represents it as :59 with nanos >= 1e9.
    let time = if second == 60 {
        NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos)
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }
    .ok_or("no such time")?;
    let local = NaiveDateTime::new(date, time);
    let naive_utc = local
        .checked_sub_signed(chrono::TimeDelta::seconds(i64::from(offset_seconds)))
        .ok_or("out of range")?;
    Ok(ParsedRfc3339 {
        utc: Utc.from_utc_datetime(&naive_utc),
        fraction_digits,
        utc_text,
    })
}
