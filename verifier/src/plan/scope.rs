//! Which runs the gate checks: the latest successful run of each model, `--since`, `--last`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::checks::view::{self, RunView};

/// Which runs the gate checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The latest successful run of each model (each target table).
    Latest,
    /// Every run that started within this long before now, or at or after this run id's start.
    Since(String),
    /// The N runs that started last.
    Last(usize),
}

/// The scope as the report shows it.
pub fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Latest => "latest successful run of each model".to_owned(),
        Scope::Since(s) => format!("runs since {s}"),
        Scope::Last(n) => format!("last {n} run(s)"),
    }
}

/// Parses `30d`, `12h`, `90m`, `2w` (a whole number and one unit).
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        'm' => TimeDelta::try_minutes(n),
        'h' => TimeDelta::try_hours(n),
        'd' => TimeDelta::try_days(n),
        'w' => TimeDelta::try_weeks(n),
        _ => None,
    }
}

/// A model's identity across runs: its target table, or the run's catalog and its name, or
/// (Rocky's transformation runs record no `target_catalog`) its name alone, which is the table.
pub(crate) fn model_key(r: &RunView, m: &view::ModelView) -> String {
    match (&m.target_table, &r.target_catalog) {
        (Some(t), _) => t.clone(),
        (None, Some(c)) => format!("{c}.?.{}", m.name),
        (None, None) => format!("?.?.{}", m.name),
    }
}

/// Runs in scope (in start order) and the model names to check in each (before any
/// `--model` / `--select` filter).
pub fn choose_runs(
    all_runs: &[RunView],
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Vec<(String, BTreeSet<String>)>, String> {
    let dated: Vec<(&RunView, DateTime<Utc>, &str)> = all_runs
        .iter()
        .filter_map(|r| Some((r, r.started.as_ref()?.1, r.run_id.as_deref()?)))
        .collect();
    let all_models = |r: &RunView| -> BTreeSet<String> {
        r.models
            .iter()
            .filter(|m| !m.failed())
            .map(|m| m.name.clone())
            .collect()
    };
    let mut chosen: BTreeMap<(DateTime<Utc>, String), BTreeSet<String>> = BTreeMap::new();
    match scope {
        Scope::Latest => {
            let mut latest: BTreeMap<String, (DateTime<Utc>, &str, &str)> = BTreeMap::new();
            for (r, start, id) in &dated {
                for m in r.models.iter().filter(|m| !m.failed()) {
                    let key = model_key(r, m);
                    let e = latest.entry(key).or_insert((*start, id, &m.name));
                    if (*start, *id) >= (e.0, e.1) {
                        *e = (*start, id, &m.name);
                    }
                }
            }
            for (start, id, name) in latest.into_values() {
                chosen
                    .entry((start, id.to_owned()))
                    .or_default()
                    .insert(name.to_owned());
            }
        }
        Scope::Since(s) => {
            let from = match parse_duration(s) {
                Some(d) => now - d,
                None => dated
                    .iter()
                    .find(|(_, _, id)| *id == s)
                    .map(|(_, t, _)| *t)
                    .ok_or_else(|| {
                        let near =
                            crate::model::run_id::nearest(s, dated.iter().map(|(_, _, id)| *id));
                        let hint = if near.is_empty() {
                            String::new()
                        } else {
                            format!("; did you mean {}?", near.join(", "))
                        };
                        format!(
                            "--since {s:?} is neither a duration (30d, 12h, 90m, 2w) nor the id \
                             of a run in the ledger{hint}"
                        )
                    })?,
            };
            for (r, start, id) in dated.iter().filter(|(_, t, _)| *t >= from) {
                chosen.insert((*start, (*id).to_owned()), all_models(r));
            }
        }
        Scope::Last(n) => {
            let mut sorted = dated.clone();
            sorted.sort_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
            for (r, start, id) in sorted.iter().rev().take(*n) {
                chosen.insert((*start, (*id).to_owned()), all_models(r));
            }
        }
    }
    Ok(chosen
        .into_iter()
        .map(|((_, id), models)| (id, models))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(parse_duration("30d"), Some(TimeDelta::days(30)));
        assert_eq!(parse_duration("12h"), Some(TimeDelta::hours(12)));
        assert_eq!(parse_duration("2w"), Some(TimeDelta::weeks(2)));
        assert_eq!(parse_duration("90m"), Some(TimeDelta::minutes(90)));
        assert_eq!(parse_duration("run-20260101-000000-000"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("-1d"), None);
    }
}
