//! Time-interval partition windows (`TimeGrain`, `plan_partition::batch_keys`;
//! spec/hashes.md section 12.8, "Time interval").

use chrono::{Months, NaiveDate, NaiveDateTime, TimeDelta};

use crate::error::TemplateError;
use crate::ir::TimeGrain;
use crate::rocky::NotRecomputableReason;

/// A half-open window `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant inside the window.
    pub start: NaiveDateTime,
    /// First instant after it.
    pub end: NaiveDateTime,
}

impl Window {
    /// The start as Rocky formats it (`%Y-%m-%d %H:%M:%S`).
    pub fn start_text(&self) -> String {
        self.start.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The end as Rocky formats it.
    pub fn end_text(&self) -> String {
        self.end.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn invalid(detail: String) -> TemplateError {
    TemplateError::NotRecomputable {
        reason: NotRecomputableReason::PartitionKeyInvalid,
        detail,
    }
}

/// `n` ASCII digits as a number, or `None`.
fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The start of a partition key's window; the key must be the canonical spelling for the
/// granularity (`%Y-%m-%dT%H`, `%Y-%m-%d`, `%Y-%m`, `%Y`, with a four-digit year).
pub fn key_start(grain: TimeGrain, key: &str) -> Result<NaiveDateTime, TemplateError> {
    let bad = || {
        invalid(format!(
            "partition key {key:?} is not a canonical {grain:?} key"
        ))
    };
    let parts: Vec<&str> = key.split(['-', 'T']).collect();
    let widths: &[usize] = match grain {
        TimeGrain::Hour => &[4, 2, 2, 2],
        TimeGrain::Day => &[4, 2, 2],
        TimeGrain::Month => &[4, 2],
        TimeGrain::Year => &[4],
    };
    if parts.len() != widths.len() || parts.iter().zip(widths).any(|(p, w)| p.len() != *w) {
        return Err(bad());
    }
    // The separators must sit where the format puts them: `T` only before the hour.
    let expected_separators = ["-", "-", "T"];
    let mut pos = 0;
    for (i, p) in parts.iter().enumerate().take(parts.len() - 1) {
        pos += p.len();
        if &key[pos..pos + 1] != expected_separators[i] {
            return Err(bad());
        }
        pos += 1;
    }
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| digits(p))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let year = i32::try_from(nums[0]).map_err(|_| bad())?;
    let month = nums.get(1).copied().unwrap_or(1);
    let day = nums.get(2).copied().unwrap_or(1);
    let hour = nums.get(3).copied().unwrap_or(0);
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .ok_or_else(bad)
}

/// The instant after a partition that starts at `start`.
fn next(grain: TimeGrain, start: NaiveDateTime) -> Option<NaiveDateTime> {
    match grain {
        TimeGrain::Hour => start.checked_add_signed(TimeDelta::hours(1)),
        TimeGrain::Day => start.checked_add_signed(TimeDelta::days(1)),
        TimeGrain::Month => start.checked_add_months(Months::new(1)),
        TimeGrain::Year => start.checked_add_months(Months::new(12)),
    }
}

/// The window one execution covered: from the first key's start to the last key's end. The keys
/// must be consecutive and ascending (Rocky batches only consecutive keys); anything else did not
/// come from one Rocky execution and is `partition_key_invalid`.
pub fn batch_window(grain: TimeGrain, keys: &[String]) -> Result<Window, TemplateError> {
    let (first, rest) = keys
        .split_first()
        .ok_or_else(|| TemplateError::NotRecomputable {
            reason: NotRecomputableReason::PartitionWindowUnknown,
            detail: "no partition keys for the execution".into(),
        })?;
    let start = key_start(grain, first)?;
    let overflow = || invalid("partition window is out of range".into());
    let mut end = next(grain, start).ok_or_else(overflow)?;
    for key in rest {
        let s = key_start(grain, key)?;
        if s != end {
            return Err(invalid(format!(
                "partition key {key:?} does not follow the previous key of the batch"
            )));
        }
        end = next(grain, s).ok_or_else(overflow)?;
    }
    Ok(Window { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(grain: TimeGrain, keys: &[&str]) -> Result<(String, String), String> {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        batch_window(grain, &keys)
            .map(|w| (w.start_text(), w.end_text()))
            .map_err(|e| e.code().to_owned())
    }

    #[test]
    fn windows_per_grain() {
        let ok = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
        assert_eq!(
            w(TimeGrain::Hour, &["2026-01-31T23"]),
            ok("2026-01-31 23:00:00", "2026-02-01 00:00:00")
        );
        assert_eq!(
            w(TimeGrain::Day, &["2024-02-28", "2024-02-29"]),
            ok("2024-02-28 00:00:00", "2024-03-01 00:00:00")
        );
        assert_eq!(
            w(TimeGrain::Month, &["2025-12"]),
            ok("2025-12-01 00:00:00", "2026-01-01 00:00:00")
        );
        assert_eq!(
            w(TimeGrain::Year, &["0999"]),
            ok("0999-01-01 00:00:00", "1000-01-01 00:00:00")
        );
        // chrono (which Rocky formats with too) signs years past 9999.
        assert_eq!(
            w(TimeGrain::Year, &["9999"]),
            ok("9999-01-01 00:00:00", "+10000-01-01 00:00:00")
        );
    }

    #[test]
    fn non_canonical_keys_are_refused() {
        for (grain, key) in [
            (TimeGrain::Day, "2026-1-01"),
            (TimeGrain::Day, "2026-01-01T00"),
            (TimeGrain::Day, "2026-02-30"),
            (TimeGrain::Hour, "2026-01-01T24"),
            (TimeGrain::Hour, "2026-01-01-01"),
            (TimeGrain::Hour, "2026T01-01-01"),
            (TimeGrain::Month, "2026-13"),
            (TimeGrain::Month, "+202-01"),
            (TimeGrain::Year, "26"),
        ] {
            assert_eq!(
                w(grain, &[key]),
                Err("partition_key_invalid".into()),
                "{key}"
            );
        }
    }

    #[test]
    fn gaps_and_disorder_in_a_batch_are_refused() {
        assert_eq!(
            w(TimeGrain::Day, &["2026-01-01", "2026-01-03"]),
            Err("partition_key_invalid".into())
        );
        assert_eq!(
            w(TimeGrain::Day, &["2026-01-02", "2026-01-01"]),
            Err("partition_key_invalid".into())
        );
        assert_eq!(
            w(TimeGrain::Day, &[]),
            Err("partition_window_unknown".into())
        );
    }
}
