//! `rocky-verify run <run_id|latest>`: verifies one run against independent sources.
//!
//! # Steps
//!
//! 1. Open the ledger read-only ([`crate::evidence::ledger`]); check its schema version.
//! 2. Who and when: the run record, its enums, its id, its time window and each model's
//!    ([`who`]).
//! 3. Code: the recorded commit, branch, config and model sources in git ([`code`]).
//! 4. Output: the warehouse tables, row counts and columns ([`output`], with `--warehouse`).
//! 5. Artifacts: every `output_artifacts` row of the run, and with `--artifacts` the files'
//!    bytes ([`artifacts`]) and their columns' hashes ([`columns`], which also follows each
//!    consumed column hash to its upstream build); with `--lake`, each table's Delta log
//!    ([`delta`]).
//! 6. Provenance: every `input_provenance` row of the run, and its joins ([`provenance`]).
//! 7. The summary: what this verified and what it did not.
//!
//! # Side effects
//!
//! Reads the ledger, the repository, the warehouse and the artifact files; writes none of them.

use std::collections::BTreeSet;

use crate::checks::catalogue::{CheckId, Code};
use crate::checks::supersession::{self, Writers};
use crate::checks::view::RunView;
use crate::checks::{
    Ctx, Hooks, RunRows, admit_ledger, check_loaded, decode, hashing_alongside, ledger_read_failed,
    load, producers_of, record_digest, summarize_checks,
};
use crate::error::VerifyError;
use crate::evidence::ledger::{self, Ledger};
use crate::model::run_id::RunIdShape;
pub use crate::plan::RunOptions;
use crate::plan::{Lineage, Plan};
use crate::report::{Check, Proof, Report, Subject};

/// Verifies one run. Never panics on hostile input and never returns an error: everything that
/// goes wrong is a check in the report.
pub fn verify_run(opts: &RunOptions) -> Report {
    let display = opts.ledger.display().to_string();
    verify_run_on(opts, Ledger::open(&opts.ledger, &display))
}

/// [`verify_run`] on a ledger already opened (from bytes in memory, from a bundle); `opts.ledger`
/// is then not read.
pub fn verify_run_on(opts: &RunOptions, opened: Result<Ledger, VerifyError>) -> Report {
    let mut report = Report::new("run", Some(opts.run_id.clone()), opts.strict);
    let Some(ledger) = admit_ledger(&mut report, opened) else {
        report
            .not_verified
            .push("the ledger could not be read: nothing was verified".to_owned());
        return report;
    };
    let ((), digest) = hashing_alongside(&ledger, opts.ledger_scan, || {
        if let Err(e) = run_with_ledger(&mut report, &ledger, opts) {
            ledger_read_failed(&mut report, &e);
        }
    });
    record_digest(&mut report, digest);
    report
}

fn run_with_ledger(
    report: &mut Report,
    ledger: &Ledger,
    opts: &RunOptions,
) -> Result<(), VerifyError> {
    // Run ids in Rocky's timestamp form sort by start time (spec/hashes.md section 11), so
    // `latest` and "runs after this one" need the keys plus only the records they point at: a
    // ledger of 100k runs is never decoded in full.
    let keys = run_keys_to_consider(ledger, &opts.run_id)?;
    let decode_run = |key: &str| -> Result<Option<RunView>, VerifyError> {
        Ok(ledger
            .get(ledger::RUN_HISTORY, key)?
            .and_then(|bytes| run_view(&bytes)))
    };

    let run_id = if opts.run_id == "latest" {
        let mut candidates = Vec::new();
        for key in later_candidates(&keys, None) {
            if let Some(view) = decode_run(key)? {
                candidates.push(view);
            }
        }
        match latest(&candidates, &keys) {
            Some(id) => {
                report.subject = Some(id.clone());
                id
            }
            None => {
                report.push(Check::unknown(
                    CheckId::RunRecord,
                    Subject::default(),
                    Code::RunRecordMissing,
                    Proof::Recomputed,
                    "the ledger holds no decodable run_history row, so there is no latest run",
                ));
                return Ok(());
            }
        }
    } else {
        opts.run_id.clone()
    };

    let prefix = format!("{run_id}|");
    let artifact_rows = ledger.rows(ledger::OUTPUT_ARTIFACTS, &prefix)?;
    let prov_rows = ledger.rows(ledger::INPUT_PROVENANCE, &prefix)?;
    let run_bytes = if run_id.contains('|') {
        None
    } else {
        ledger.get(ledger::RUN_HISTORY, &run_id)?
    };
    let run_bytes = run_bytes.as_deref();

    // A `|` would make the key prefix match another run's model rows; no run id contains one.
    if run_id.contains('|')
        || (run_bytes.is_none() && artifact_rows.is_empty() && prov_rows.is_empty())
    {
        // Only on this error path: every key, to hint at the ids nearest a typo.
        let known = ledger.key_range(ledger::RUN_HISTORY, None, None, false, usize::MAX)?;
        let e = VerifyError::RunNotFound {
            nearest: crate::model::run_id::nearest(&run_id, known.iter().map(String::as_str))
                .into_iter()
                .map(str::to_owned)
                .collect(),
            run_id: run_id.clone(),
        };
        report.push(Check::unknown(
            CheckId::RunRecord,
            Subject::run(&run_id),
            e.code(),
            Proof::Recomputed,
            e.to_string(),
        ));
        return Ok(());
    }

    // A run record beyond the verifier's limits cannot be read, and every other check of the
    // run depends on it: report that once (could not verify) instead of judging the rest.
    if let Some(reason) = run_bytes.and_then(decode::beyond_limits) {
        report.push(Check::unknown(
            CheckId::RunRecord,
            Subject::run(&run_id),
            Code::RunRecordInvalid,
            Proof::Recomputed,
            reason,
        ));
        return Ok(());
    }

    let producers = producers_of(
        ledger,
        &run_id,
        &artifact_rows,
        &prov_rows,
        opts.ledger_scan,
    )?;
    // The plan: which of the run's models are checked (`--model` / `--select`).
    let Some(scope) = plan_models(report, ledger, opts, &run_id, run_bytes)? else {
        return Ok(());
    };
    let rows = RunRows {
        run_bytes: run_bytes.map(<[u8]>::to_vec),
        artifacts: artifact_rows,
        provs: prov_rows,
    };
    let first = report.checks.len();
    let mut ctx = Ctx::new(
        report,
        opts,
        &run_id,
        producers,
        Writers::default(),
        Hooks {
            scope: scope.as_ref(),
            ..Hooks::default()
        },
    );
    load(&mut ctx, &rows);
    // Runs that may have rewritten this run's tables since (only the warehouse checks ask). A
    // later run can only have written one of them if its record holds the table's name, so the
    // others are not decoded: an old run of a large ledger has many later runs.
    if opts.warehouse.is_some() {
        let filter = ledger::StringFilter::new(&supersession::names(&ctx));
        let mut later = Vec::new();
        for key in later_candidates(&keys, Some(&run_id)) {
            if let Some(bytes) = ledger.get(ledger::RUN_HISTORY, key)?
                && filter.may_contain(&bytes)
            {
                later.push(bytes);
            }
        }
        ctx.writers = Writers::new(
            crate::par::map(&later, |b| run_view(b), |_| None)
                .into_iter()
                .flatten()
                .collect(),
        );
    }
    check_loaded(&mut ctx, ledger)?;
    crate::checks::tables::check_run(ctx.report, ledger, &run_id, rows.run_bytes.as_deref())?;
    if opts.run_id == "latest" {
        crate::checks::tables::orphans_after(ctx.report, ledger, &run_id)?;
    }
    // Model-level checks of models the selector left out are not this report's business (the
    // run record's own checks stay).
    if let Some(names) = ctx.scope_names() {
        let mut i = 0usize;
        ctx.report.checks.retain(|c| {
            i += 1;
            i <= first || c.subject.model.as_ref().is_none_or(|m| names.contains(m))
        });
    }
    // 7. Summary lines that depend on everything above.
    summarize(&mut ctx);
    if let (Some(f), Some(models)) = (&opts.models, &scope) {
        ctx.report.not_verified.push(format!(
            "only the models --model / --select {:?} names were checked: {}",
            f.text(),
            models.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

/// The models of the run `--model` / `--select` keep: `Ok(Some(None))` for every model (no
/// selector), `Ok(None)` when the selector names none of them (reported as `run.scope`).
fn plan_models(
    report: &mut Report,
    ledger: &Ledger,
    opts: &RunOptions,
    run_id: &str,
    run_bytes: Option<&[u8]>,
) -> Result<Option<Option<BTreeSet<String>>>, VerifyError> {
    let Some(filter) = &opts.models else {
        return Ok(Some(None));
    };
    let lineage = if filter.needs_lineage() {
        Lineage::from_ledger(ledger)?
    } else {
        Lineage::default()
    };
    let names: BTreeSet<String> = run_bytes
        .and_then(decode::value)
        .map(|v| RunView::from_value(&v))
        .map(|r| r.models.into_iter().map(|m| m.name).collect())
        .unwrap_or_default();
    let plan = Plan::new(
        vec![(run_id.to_owned(), names.clone())],
        Some(filter),
        &lineage,
    );
    if let Some((_, models)) = plan.runs.into_iter().next() {
        return Ok(Some(Some(models)));
    }
    report.push(Check::unknown(
        CheckId::RunScope,
        Subject::run(run_id),
        Code::ScopeEmptyUnexpected,
        Proof::Recomputed,
        format!(
            "the selector {:?} names no model of run {run_id} (its models: {})",
            filter.text(),
            if names.is_empty() {
                "none recorded".to_owned()
            } else {
                names.into_iter().collect::<Vec<_>>().join(", ")
            }
        ),
    ));
    Ok(None)
}

/// The view of a run record that decodes strictly (a record that does not is not a run here).
fn run_view(bytes: &[u8]) -> Option<RunView> {
    let decoded = decode::read_run_record(bytes);
    decoded.record.ok()?;
    Some(RunView::from_value(&decoded.value?))
}

/// The run that started last (ties: the greatest id); undecodable rows are ignored.
fn latest(candidates: &[RunView], keys: &[String]) -> Option<String> {
    let best = candidates
        .iter()
        .filter_map(|r| Some((r.started.as_ref()?.1, r.run_id.clone()?)))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, id)| id);
    // A ledger whose run rows all fail to decode still has a "latest" key to report on.
    best.or_else(|| keys.last().cloned())
}

/// Timestamp-form run ids all lie in `["run-0", "run-:")` (':' follows '9'), sorted by time.
const TIMESTAMP_IDS: (&str, &str) = ("run-0", "run-:");

/// The `run_history` keys `latest` and the supersession rule can need: every key outside the
/// timestamp-form range (apply and test ids, usually few), plus, inside it, the newest few keys
/// (for `latest`) or every key after `run_id`. A 100k-run ledger is not walked in full.
fn run_keys_to_consider(ledger: &Ledger, run_id: &str) -> Result<Vec<String>, VerifyError> {
    let (lo, hi) = TIMESTAMP_IDS;
    let mut keys = ledger.key_range(ledger::RUN_HISTORY, None, Some(lo), false, usize::MAX)?;
    if run_id == "latest" || id_time(run_id).is_none() {
        // The newest timestamp-form id, skipping keys in the range that are not ids at all.
        let mut newest = ledger.key_range(ledger::RUN_HISTORY, Some(lo), Some(hi), true, 64)?;
        // Keep every id of the newest millisecond: `-N` suffixes sort bytewise (`-10` < `-2`),
        // so the numerically newest is picked later by `later_candidates`.
        let top = newest
            .iter()
            .find_map(|k| id_time(k))
            .map(|(time, _)| time.to_owned());
        newest.retain(|k| id_time(k).is_some_and(|(time, _)| Some(time) == top.as_deref()));
        keys.extend(newest);
    } else {
        keys.extend(ledger.key_range(
            ledger::RUN_HISTORY,
            Some(run_id),
            Some(hi),
            false,
            usize::MAX,
        )?);
    }
    keys.extend(ledger.key_range(ledger::RUN_HISTORY, Some(hi), None, false, usize::MAX)?);
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The time part and collision suffix (0 for none) of a timestamp-form run id
/// (`run-YYYYmmdd-HHMMSS-mmm[-N]`), which orders runs by start time.
fn id_time(key: &str) -> Option<(&str, u64)> {
    match RunIdShape::of(key) {
        RunIdShape::Timestamped { stamp, suffix } => Some((stamp, suffix.unwrap_or(0))),
        RunIdShape::Apply | RunIdShape::Other => None,
    }
}

/// Keys of the runs that may have started after `after` (every run for `None`): the
/// timestamp-form ids newer than it (for `None`, only the newest), and every id in another form
/// (`run-apply-<uuid>`, test ids), whose time only their record tells.
fn later_candidates<'k>(keys: &'k [String], after: Option<&str>) -> Vec<&'k str> {
    let floor = after.and_then(id_time);
    let mut newest: Option<(&str, u64, &str)> = None;
    let mut out = Vec::new();
    for key in keys {
        match id_time(key) {
            Some((time, n)) => match (after, floor) {
                (None, _) => {
                    if newest.is_none_or(|(t, m, _)| (time, n) > (t, m)) {
                        newest = Some((time, n, key));
                    }
                }
                (Some(_), Some(f)) if (time, n) > f => out.push(key.as_str()),
                (Some(_), Some(_)) => {}
                // This run's own id is in another form: every run may be later.
                (Some(_), None) => out.push(key.as_str()),
            },
            None => out.push(key.as_str()),
        }
    }
    out.extend(newest.map(|(_, _, k)| k));
    out
}

fn summarize(ctx: &mut Ctx<'_>) {
    summarize_checks(ctx.report);
    if let Some(run) = &ctx.run {
        ctx.report.facts = crate::report::RunFacts {
            identity: run.triggering_identity.clone(),
            started_at: run.started.as_ref().map(|s| s.0.clone()),
            finished_at: run.finished.as_ref().map(|s| s.0.clone()),
            duration_ms: match (&run.started, &run.finished) {
                (Some(s), Some(f)) => Some((f.1 - s.1).num_milliseconds()),
                _ => None,
            },
            trigger: run.trigger.clone(),
            rocky_version: run.rocky_version.clone(),
            status: run.status.clone(),
            git_commit: run.git_commit.clone(),
            models: run.models.len(),
        };
    }
    let r = &mut ctx.report;
    if ctx.opts.warehouse.is_none() {
        r.not_verified
            .push("no --warehouse given: row counts and schemas not checked".to_owned());
    }
    if ctx.opts.artifacts.is_none() {
        r.not_verified.push(
            "no --artifacts given: artifact bytes, sizes and Parquet footers not checked"
                .to_owned(),
        );
    }
    r.not_verified.push(
        "triggering_identity, trigger and session_source are self-reported by the process that \
         recorded the run"
            .to_owned(),
    );
    r.not_verified.push(
        "the ledger is not tamper-evident: a consistent rewrite of every record and file cannot \
         be detected"
            .to_owned(),
    );
    r.not_verified.push(
        "history: deleting or inserting a whole consistent run is caught only against a \
         checkpoint (`rocky-verify gate --checkpoint`); `run` checks one run"
            .to_owned(),
    );
}

#[cfg(test)]
mod key_order_tests {
    use super::*;

    #[test]
    fn timestamp_ids_parse_with_and_without_suffix() {
        assert_eq!(
            id_time("run-20260530-110422-643"),
            Some(("20260530-110422-643", 0))
        );
        assert_eq!(
            id_time("run-20260530-110422-643-12"),
            Some(("20260530-110422-643", 12))
        );
        assert_eq!(id_time("run-apply-3f0c"), None);
        assert_eq!(id_time("run-20260530-110422-64"), None);
        assert_eq!(id_time("run-20260530-110422-643-x"), None);
        assert_eq!(id_time("golden-run"), None);
        // A sign or a leading zero is no collision suffix rocky-writer writes (was read as 5).
        assert_eq!(id_time("run-20260530-110422-643-+5"), None);
        assert_eq!(id_time("run-20260530-110422-643-05"), None);
    }

    #[test]
    fn later_candidates_orders_suffixes_numerically_and_keeps_other_forms() {
        let keys: Vec<String> = [
            "golden-run",
            "run-20260530-110422-643",
            "run-20260530-110422-643-10",
            "run-20260530-110422-643-2",
            "run-apply-00000000-0000-4000-8000-000000000000",
        ]
        .map(String::from)
        .to_vec();
        // Newest timestamp id is -10 (not -2, which sorts after it bytewise), plus other forms.
        let mut latest = later_candidates(&keys, None);
        latest.sort();
        assert_eq!(
            latest,
            [
                "golden-run",
                "run-20260530-110422-643-10",
                "run-apply-00000000-0000-4000-8000-000000000000"
            ]
        );
        let after = later_candidates(&keys, Some("run-20260530-110422-643-2"));
        assert!(after.contains(&"run-20260530-110422-643-10"));
        assert!(!after.contains(&"run-20260530-110422-643"));
    }
}
