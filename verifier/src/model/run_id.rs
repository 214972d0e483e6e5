//! Run ids (`spec/hashes.md` section 11): the one parser behind `run.id`, `latest`, the
//! supersession rule and the `run_id.json` vectors.
//!
//! Rocky writes `run-` + UTC `%Y%m%d-%H%M%S-%3f` of `started_at` and `run-apply-<uuid v4>`;
//! rocky-writer adds a `-N` suffix (`N >= 1`, no leading zero) on a collision.

use chrono::{DateTime, Utc};

/// What a run id is, by its text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunIdShape<'a> {
    /// `run-YYYYmmdd-HHMMSS-mmm[-N]`: `stamp` is `YYYYmmdd-HHMMSS-mmm`, `suffix` the `N`.
    Timestamped {
        /// The 19-byte time part.
        stamp: &'a str,
        /// rocky-writer's collision suffix, if any.
        suffix: Option<u64>,
    },
    /// `run-apply-<uuid>`, lowercase hex as a UUID's `Display` writes it: carries no time.
    Apply,
    /// Anything else (test ids such as `golden-run`, hand-written ids).
    Other,
}

impl<'a> RunIdShape<'a> {
    /// Reads `id`.
    pub fn of(id: &'a str) -> RunIdShape<'a> {
        let Some(rest) = id.strip_prefix("run-") else {
            return RunIdShape::Other;
        };
        if let Some(uuid) = rest.strip_prefix("apply-") {
            return if is_uuid(uuid) {
                RunIdShape::Apply
            } else {
                RunIdShape::Other
            };
        }
        let Some(stamp) = rest.get(..19) else {
            return RunIdShape::Other;
        };
        let shaped = stamp.bytes().enumerate().all(|(i, c)| match i {
            8 | 15 => c == b'-',
            _ => c.is_ascii_digit(),
        });
        if !shaped {
            return RunIdShape::Other;
        }
        let suffix = match &rest[19..] {
            "" => None,
            s => match s.strip_prefix('-') {
                Some(n)
                    if !n.is_empty()
                        && !n.starts_with('0')
                        && n.bytes().all(|c| c.is_ascii_digit()) =>
                {
                    match n.parse::<u64>() {
                        Ok(n) => Some(n),
                        Err(_) => return RunIdShape::Other,
                    }
                }
                _ => return RunIdShape::Other,
            },
        };
        RunIdShape::Timestamped { stamp, suffix }
    }
}

/// 8-4-4-4-12 lowercase hex.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// The time part of the run id Rocky derives from a start: UTC `%Y%m%d-%H%M%S-%3f`, milliseconds
/// truncated, never rounded (as Rocky's generator does).
pub fn id_stamp(started_at: &DateTime<Utc>) -> String {
    started_at.format("%Y%m%d-%H%M%S-%3f").to_string()
}

/// The run id Rocky derives from a run's start: `run-` + [`id_stamp`].
pub fn rocky_run_id(started_at: &DateTime<Utc>) -> String {
    format!("run-{}", id_stamp(started_at))
}

/// How a run id relates to its run's `started_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunIdForm {
    /// `run-YYYYmmdd-HHMMSS-mmm`, optionally with rocky-writer's `-N` suffix (`N >= 1`); `matches`
    /// tells whether the time equals `started_at` truncated to milliseconds.
    Timestamped {
        /// Whether the id's time is `started_at` truncated to milliseconds.
        matches: bool,
        /// rocky-writer's collision suffix, if any.
        suffix: Option<u64>,
    },
    /// `run-apply-<uuid>`: carries no time.
    Apply,
    /// Anything else (test ids such as `golden-run`, hand-written ids).
    Other,
}

/// Classifies `run_id` against `started_at` (`spec/hashes.md` section 11).
pub fn classify_run_id(run_id: &str, started_at: &DateTime<Utc>) -> RunIdForm {
    match RunIdShape::of(run_id) {
        RunIdShape::Timestamped { stamp, suffix } => RunIdForm::Timestamped {
            matches: stamp == id_stamp(started_at),
            suffix,
        },
        RunIdShape::Apply => RunIdForm::Apply,
        RunIdShape::Other => RunIdForm::Other,
    }
}

/// Up to three of `known` closest to `wanted` by edit distance (Levenshtein, in characters),
/// closest first, for "did you mean" hints on a mistyped run id. Only ids within a fifth of
/// `wanted`'s length in edits (at least 2) count: a hint that is not a near miss only misleads.
pub fn nearest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (wanted.chars().count() / 5).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let d = edit_distance(wanted, k, limit)?;
            Some((d, k))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Levenshtein distance of `a` and `b`, or `None` once it must exceed `limit` (so a ledger of
/// 100k run ids is ranked in one cheap pass).
fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        if cur.iter().min().is_some_and(|&m| m > limit) {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::timestamp::Timestamp;

    #[test]
    fn shapes() {
        assert_eq!(
            RunIdShape::of("run-20260530-110422-643"),
            RunIdShape::Timestamped {
                stamp: "20260530-110422-643",
                suffix: None
            }
        );
        assert_eq!(
            RunIdShape::of("run-20260530-110422-643-12"),
            RunIdShape::Timestamped {
                stamp: "20260530-110422-643",
                suffix: Some(12)
            }
        );
        for other in [
            "run-20260530-110422-643-0",
            "run-20260530-110422-643-05",
            "run-20260530-110422-643-+5",
            "run-20260530-110422-643-99999999999999999999",
            "run-20260530-110422-643x",
            "run-20260530-110422-64",
            "run-apply-3f0c",
            "run-apply-3F0C1A2B-1C2D-4E5F-8A9B-0C1D2E3F4A5B",
            "golden-run",
            "run_2026-05-30T11-04-22Z_8f1a",
            "",
        ] {
            assert_eq!(RunIdShape::of(other), RunIdShape::Other, "{other}");
        }
        assert_eq!(
            RunIdShape::of("run-apply-3f0c1a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"),
            RunIdShape::Apply
        );
    }

    #[test]
    fn the_stamp_truncates_milliseconds() {
        let t = Timestamp::parse("2026-05-30T11:04:22.643999Z").unwrap().utc;
        assert_eq!(id_stamp(&t), "20260530-110422-643");
        assert_eq!(rocky_run_id(&t), "run-20260530-110422-643");
    }

    #[test]
    fn nearest_ids_are_near_misses_closest_first() {
        let known = [
            "run-20260530-110422-643",
            "run-20260530-110422-648",
            "run-20260530-120000-000",
            "golden-run",
        ];
        assert_eq!(
            nearest("run-20260530-110422-634", known),
            ["run-20260530-110422-643", "run-20260530-110422-648"]
        );
        assert_eq!(nearest("golden_run", known), ["golden-run"]);
        // Control: nothing near, no hint.
        assert!(nearest("fct_revenue", known).is_empty());
        assert_eq!(edit_distance("kitten", "sitting", 5), Some(3));
        assert_eq!(edit_distance("kitten", "sitting", 2), None);
    }
}
