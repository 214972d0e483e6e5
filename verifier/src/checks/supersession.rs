//! Supersession: which later run rewrote a table this run wrote, so a count or content check
//! compares the warehouse with the run that last wrote it, never with a superseded one.
//!
//! One rule, in one place, for both commands. `run` decodes the later `run_history` rows whose
//! bytes hold one of [`names`]; `gate` has decoded every run once. Either way the candidates are
//! held in [`Writers`], indexed by every name under which a run can write a table
//! ([`names_written`]), and [`superseded_by`] applies the exact rule ([`writes`]) to them.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use super::view::{ProvRow, RunView};
use crate::evidence::warehouse::TableRef;

/// Whether run `r` wrote `target`: a model that did not fail and records that `target_table`,
/// or records none and is named like the table in the target's catalog. A run that records no
/// catalog (schema v5, Rocky's transformation runs) may have written the table of that name in
/// any catalog, so it is taken as a writer: a count is never compared with a superseded one.
pub(crate) fn writes(r: &RunView, target: &TableRef) -> bool {
    let full = target.to_string();
    r.models
        .iter()
        .filter(|o| !o.failed())
        .any(|o| match &o.target_table {
            Some(t) => *t == full,
            None => {
                o.name == target.table
                    && r.target_catalog
                        .as_deref()
                        .is_none_or(|c| c == target.catalog)
            }
        })
}

/// Every bare table name under which [`writes`] can match `r`: each model's name and the table
/// part of its `target_table`. `writes(r, t)` implies `t.table` is one of them.
pub(crate) fn names_written(r: &RunView) -> impl Iterator<Item = String> + '_ {
    r.models.iter().filter(|o| !o.failed()).flat_map(|o| {
        std::iter::once(o.name.clone()).chain(
            o.target_table
                .as_deref()
                .and_then(TableRef::parse)
                .map(|t| t.table),
        )
    })
}

/// Every bare name a table this run's models wrote can have, whichever way the warehouse checks
/// resolve it: the provenance IR target, `target_table`, or the model name (Rocky's project
/// discovery and the ledger's own keys resolve a model to a table of the model's name). A later
/// run can only supersede this one if its record holds one of these names.
pub(crate) fn names(ctx: &Ctx<'_>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for m in ctx.models() {
        names.insert(m.name.clone());
        if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
            names.insert(t.table);
        }
        if let Some(t) = ctx.prov_for(m.index).and_then(ProvRow::target) {
            names.insert(t.table);
        }
    }
    names
}

/// Runs that may have rewritten tables, indexed by [`names_written`], each name's runs ordered
/// by start time (equal starts keep their order: the later row is the later writer).
#[derive(Debug, Clone, Default)]
pub(crate) struct Writers<'r> {
    runs: Cow<'r, [RunView]>,
    by_name: Cow<'r, BTreeMap<String, Vec<usize>>>,
}

impl Writers<'static> {
    /// Indexes `runs` (runs without a start time can supersede nothing and are left out).
    pub fn new(runs: Vec<RunView>) -> Writers<'static> {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in runs.iter().enumerate() {
            if r.started.is_none() {
                continue;
            }
            let mut seen = BTreeSet::new();
            for name in names_written(r) {
                if seen.insert(name.clone()) {
                    by_name.entry(name).or_default().push(i);
                }
            }
        }
        for list in by_name.values_mut() {
            list.sort_by_key(|&i| runs[i].started.as_ref().map(|s| s.1));
        }
        Writers {
            runs: Cow::Owned(runs),
            by_name: Cow::Owned(by_name),
        }
    }
}

impl Writers<'_> {
    /// A view of the same index that borrows it (the gate shares one index with every run).
    pub fn borrowed(&self) -> Writers<'_> {
        Writers {
            runs: Cow::Borrowed(&self.runs),
            by_name: Cow::Borrowed(&self.by_name),
        }
    }

    /// Every run indexed.
    pub fn runs(&self) -> &[RunView] {
        &self.runs
    }

    /// The latest run other than `run_id`, started after `start`, that wrote `target`.
    fn latest_writer(
        &self,
        run_id: &str,
        start: chrono::DateTime<chrono::Utc>,
        target: &TableRef,
    ) -> Option<&RunView> {
        self.by_name
            .get(&target.table)?
            .iter()
            .rev()
            .map(|&i| &self.runs[i])
            .take_while(|r| r.started.as_ref().is_some_and(|(_, s)| *s > start))
            .filter(|r| r.run_id.as_deref() != Some(run_id))
            .find(|r| writes(r, target))
    }
}

/// The run after this one that also wrote `target` (the table a model of it resolved to), if any.
pub(crate) fn superseded_by(ctx: &Ctx<'_>, target: &TableRef) -> Option<String> {
    let (_, start) = ctx.run.as_ref()?.started.as_ref()?;
    ctx.writers
        .latest_writer(&ctx.run_id, *start, target)
        .and_then(|r| r.run_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::view::ModelView;
    use proptest::prelude::*;

    fn ts(minute: i64) -> (String, chrono::DateTime<chrono::Utc>) {
        let t = chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(minute);
        (t.to_rfc3339(), t)
    }

    fn model(name: &str, target: Option<&str>, failed: bool) -> ModelView {
        ModelView {
            name: name.to_owned(),
            target_table: target.map(str::to_owned),
            status: Some(if failed { "failed" } else { "success" }.to_owned()),
            ..ModelView::default()
        }
    }

    fn run(id: &str, minute: i64, catalog: Option<&str>, models: Vec<ModelView>) -> RunView {
        RunView {
            run_id: Some(id.to_owned()),
            started: Some(ts(minute)),
            target_catalog: catalog.map(str::to_owned),
            models,
            ..RunView::default()
        }
    }

    fn table(s: &str) -> TableRef {
        TableRef::parse(s).unwrap()
    }

    #[test]
    fn the_latest_later_writer_wins_and_earlier_or_other_tables_do_not() {
        let t = table("wh.main.orders");
        let w = Writers::new(vec![
            run("r0", 0, Some("wh"), vec![model("orders", None, false)]),
            run("r2", 2, Some("wh"), vec![model("orders", None, false)]),
            run("r3", 3, Some("wh"), vec![model("other", None, false)]),
            run(
                "r4",
                4,
                Some("other_wh"),
                vec![model("orders", None, false)],
            ),
            run(
                "r5",
                5,
                None,
                vec![model("x", Some("wh.main.orders"), true)],
            ),
        ]);
        let start = ts(1).1;
        assert_eq!(
            w.latest_writer("r1", start, &t)
                .and_then(|r| r.run_id.clone()),
            Some("r2".to_owned()),
            "r4 is another catalog, r5's model failed, r3 wrote another table"
        );
        // Control: nothing after r2 wrote it.
        assert!(w.latest_writer("r2", ts(2).1, &t).is_none());
        // A run recording no catalog may have written it in any catalog.
        let w = Writers::new(vec![run("r9", 9, None, vec![model("orders", None, false)])]);
        assert!(w.latest_writer("r1", start, &t).is_some());
    }

    #[test]
    fn equal_starts_take_the_later_row() {
        let t = table("wh.main.orders");
        let w = Writers::new(vec![
            run("a", 5, Some("wh"), vec![model("orders", None, false)]),
            run("b", 5, Some("wh"), vec![model("orders", None, false)]),
        ]);
        assert_eq!(
            w.latest_writer("r1", ts(1).1, &t)
                .and_then(|r| r.run_id.clone()),
            Some("b".to_owned())
        );
    }

    fn arb_run() -> impl Strategy<Value = RunView> {
        let name = prop::sample::select(vec!["orders", "stg", "dim"]);
        let target = prop::option::of(prop::sample::select(vec![
            "wh.main.orders",
            "wh.main.stg",
            "x.y.dim",
            "not a table",
        ]));
        let catalog = prop::option::of(prop::sample::select(vec!["wh", "x"]));
        (
            0i64..20,
            catalog,
            prop::collection::vec((name, target, any::<bool>()), 0..4),
        )
            .prop_map(|(minute, catalog, models)| {
                run(
                    &format!("r{minute}"),
                    minute,
                    catalog,
                    models.into_iter().map(|(n, t, f)| model(n, t, f)).collect(),
                )
            })
    }

    proptest! {
        /// The index never hides a writer: the indexed lookup agrees with applying [`writes`] to
        /// every run (the reference rule, no index).
        #[test]
        fn index_agrees_with_the_rule(runs in prop::collection::vec(arb_run(), 0..12),
                                      start in 0i64..20,
                                      t in prop::sample::select(vec!["wh.main.orders", "x.main.orders", "wh.main.stg", "x.y.dim"])) {
            let t = table(t);
            let start = ts(start).1;
            let expected = runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.run_id.as_deref() != Some("me"))
                .filter(|(_, r)| r.started.as_ref().is_some_and(|(_, s)| *s > start))
                .filter(|(_, r)| writes(r, &t))
                .max_by(|a, b| a.1.started.as_ref().map(|s| s.1).cmp(&b.1.started.as_ref().map(|s| s.1)).then(a.0.cmp(&b.0)))
                .map(|(i, _)| i);
            let w = Writers::new(runs.clone());
            let got = w.latest_writer("me", start, &t).map(|r| {
                w.runs().iter().position(|x| std::ptr::eq(x, r)).unwrap()
            });
            prop_assert_eq!(got, expected);
            for r in &runs {
                if writes(r, &t) {
                    prop_assert!(names_written(r).any(|n| n == t.table));
                }
            }
        }
    }
}
