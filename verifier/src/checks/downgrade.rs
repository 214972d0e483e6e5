//! `gate` only: proof downgrades between a model's runs, and the policy's minimum proof per claim
//! (`spec/gate.md` section 2, "Downgrades and minimum proof").
//!
//! An attacker who can edit the ledger need not forge a hash: turning a checkable claim into an
//! uncheckable one (a null `git_commit`, `config_hash` `"unknown"`, the strong `sql_hash` swapped
//! for a 16-hex fingerprint, `content_addressed` relabelled `incremental`) hides a change just as
//! well, because each of those is honestly `unverifiable`. So the gate compares how checkable each
//! claim of a model's run is with the same model's previous run, read from the records alone.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use serde_json::json;

use super::row_count::StrategyKind;
use super::view::{ModelView, RunView};
use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::artifact::is_hex64;
use crate::plan::policy::{Policy, RequiredLevel};
use crate::report::{Check, Outcome, Proof, Report, Subject};

/// The strong `sql_hash` scheme (`spec/hashes.md` section 1).
const STRONG_SCHEME: &str = "v1+blake3-sql";

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How checkable one recorded claim is, from the record alone: a higher level allows a stronger
/// check. `(claim, level, what the record holds)`.
pub(crate) type Claim = (&'static str, u8, String);

/// The claims of model `m` in `run` and how checkable each is.
pub(crate) fn claims(run: &RunView, m: &ModelView) -> Vec<Claim> {
    let show = |v: &Option<String>| {
        v.as_deref()
            .map_or("absent".to_owned(), |s| format!("{s:?}"))
    };
    let present = |ok: bool| u8::from(ok);
    let commit = run
        .git_commit
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    let blake = run.config_blake3.as_deref().is_some_and(is_hex64);
    let fingerprint = run.config_hash.as_deref().is_some_and(is_hex16);
    let strong = m.hash_scheme.as_deref() == Some(STRONG_SCHEME);
    let sql = match m.sql_hash.as_deref() {
        Some(h) if strong && is_hex64(h) => 3,
        Some(h) if !strong && is_hex16(h) => 2,
        _ => 0,
    };
    let sql_shown = format!(
        "sql_hash {} under hash_scheme {}",
        show(&m.sql_hash),
        show(&m.hash_scheme)
    );
    // rocky-writer records the materialization; Rocky records none (level 0 in every run, so
    // never a downgrade).
    let count = match m.materialization.as_deref() {
        Some(k) if StrategyKind::parse(k).exact() => 2,
        Some(_) => 1,
        None => 0,
    };
    vec![
        (
            "git.commit",
            present(commit),
            format!("git_commit {}", show(&run.git_commit)),
        ),
        (
            "git.config_blake3",
            present(blake),
            format!("config_blake3 {}", show(&run.config_blake3)),
        ),
        (
            "git.config_hash",
            present(fingerprint),
            format!("config_hash {}", show(&run.config_hash)),
        ),
        ("model.sql_hash", sql, sql_shown),
        (
            "model.env_hash",
            present(m.env_hash.as_deref().is_some_and(is_hex64)),
            format!("env_hash {}", show(&m.env_hash)),
        ),
        (
            "provenance.recipe_hash",
            present(m.recipe_hash.as_deref().is_some_and(is_hex64)),
            format!("recipe_hash {}", show(&m.recipe_hash)),
        ),
        (
            "column.hashes",
            present(
                m.output_column_hashes
                    .as_ref()
                    .is_some_and(|h| !h.is_empty()),
            ),
            match &m.output_column_hashes {
                Some(h) => format!("{} output column hash(es)", h.len()),
                None => "no output_column_hashes".to_owned(),
            },
        ),
        (
            "warehouse.row_count",
            count,
            format!("materialization {}", show(&m.materialization)),
        ),
    ]
}

/// A model's identity across runs (the gate's `model_key`).
pub(crate) type KeyFn<'a> = dyn Fn(&RunView, &ModelView) -> String + 'a;

/// Run id to its index in `all_runs` (the first row of an id, as a linear search finds it).
fn runs_by_id(all_runs: &[RunView]) -> HashMap<&str, usize> {
    let mut by_id = HashMap::with_capacity(all_runs.len());
    for (i, r) in all_runs.iter().enumerate() {
        if let Some(id) = r.run_id.as_deref() {
            by_id.entry(id).or_insert(i);
        }
    }
    by_id
}

/// Every non-failed entry of each model (by [`KeyFn`]) across all runs, ordered by
/// `(started_at, run_id)`: a model's previous run is found by binary search, not by walking every
/// run for every model (the gate looks at a thousand models of a ten-thousand-run ledger).
struct ModelHistory<'r> {
    /// Model key to `(start, run id, run index, model index)`; one entry per run and key (the
    /// run's first model with that key).
    by_key: HashMap<String, Vec<Entry<'r>>>,
}

type Entry<'r> = (&'r DateTime<Utc>, &'r str, usize, usize);

impl<'r> ModelHistory<'r> {
    fn new(all_runs: &'r [RunView], key: &KeyFn<'_>) -> ModelHistory<'r> {
        let mut by_key: HashMap<String, Vec<Entry<'r>>> = HashMap::new();
        for (ri, r) in all_runs.iter().enumerate() {
            let (Some((_, s)), Some(id)) = (r.started.as_ref(), r.run_id.as_deref()) else {
                continue;
            };
            for (mi, o) in r.models.iter().enumerate().filter(|(_, o)| !o.failed()) {
                let list = by_key.entry(key(r, o)).or_default();
                if list.last().is_none_or(|e| e.2 != ri) {
                    list.push((s, id, ri, mi));
                }
            }
        }
        for list in by_key.values_mut() {
            // Stable: rows with the same start and id keep ledger order, as `max_by` kept the last.
            list.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        }
        ModelHistory { by_key }
    }

    /// The latest entry of model `key` strictly before `(start, run_id)`: `(run id, run index,
    /// model index)`.
    fn before(
        &self,
        key: &str,
        start: &DateTime<Utc>,
        run_id: &str,
    ) -> Option<(&'r str, usize, usize)> {
        let list = self.by_key.get(key)?;
        let n = list.partition_point(|e| (e.0, e.1) < (start, run_id));
        let e = list.get(n.checked_sub(1)?)?;
        Some((e.1, e.2, e.3))
    }
}

/// `gate.downgrade`: for each in-scope model, every claim that was more checkable in the same
/// model's previous run (the latest earlier run with a non-failed entry for its table).
pub(crate) fn check_downgrades(
    report: &mut Report,
    all_runs: &[RunView],
    in_scope: &[(String, BTreeSet<String>)],
    key: &KeyFn<'_>,
    policy: &Policy,
) {
    let required: BTreeSet<&str> = policy.require.iter().map(|r| r.claim.as_str()).collect();
    let (mut compared, mut downgrades) = (0usize, 0usize);
    let by_id = runs_by_id(all_runs);
    let history = ModelHistory::new(all_runs, key);
    for (run_id, names) in in_scope {
        let Some(run) = by_id.get(run_id.as_str()).map(|&i| &all_runs[i]) else {
            continue;
        };
        let Some((_, start)) = &run.started else {
            continue;
        };
        for m in run
            .models
            .iter()
            .filter(|m| !m.failed() && names.contains(&m.name))
        {
            let previous = history
                .before(&key(run, m), start, run_id)
                .map(|(id, ri, mi)| (id, &all_runs[ri], &all_runs[ri].models[mi]));
            let Some((prev_id, prev_run, prev_m)) = previous else {
                continue;
            };
            compared += 1;
            let before = claims(prev_run, prev_m);
            for ((claim, now, shown), (_, then, was)) in claims(run, m).into_iter().zip(before) {
                if now >= then {
                    continue;
                }
                downgrades += 1;
                let fails = policy.downgrade_fails || required.contains(claim);
                let check = Check::fail(
                    CheckId::GateDowngrade,
                    Subject::model(run_id, &m.name),
                    Code::ProofDowngradeUnexpected,
                    Proof::Recomputed,
                    json!({"run_id": prev_id, "claim": claim, "recorded": was}),
                    json!({"run_id": run_id, "claim": claim, "recorded": shown}),
                    format!(
                        "{claim} is less checkable than in the model's previous run {prev_id}: \
                         {was} then, {shown} now"
                    ),
                );
                report.push(Check {
                    outcome: if fails { Outcome::Fail } else { Outcome::Warn },
                    ..check
                });
            }
        }
    }
    if compared > 0 && downgrades == 0 {
        report.push(Check::pass(
            CheckId::GateDowngrade,
            Subject::default(),
            Proof::Recomputed,
            json!(compared),
            json!(compared),
            format!(
                "{compared} model run(s) compared with the model's previous run: no claim is less \
                 checkable"
            ),
        ));
    }
}

fn level_of(proof: Proof) -> Option<RequiredLevel> {
    match proof {
        // A verified signature is a cryptographic proof over the commit's bytes.
        Proof::BytesVerified | Proof::SignatureVerified => Some(RequiredLevel::BytesVerified),
        Proof::Recomputed => Some(RequiredLevel::Recomputed),
        Proof::FingerprintOnly => Some(RequiredLevel::FingerprintOnly),
        Proof::Heuristic => Some(RequiredLevel::Heuristic),
        Proof::Unverifiable => None,
    }
}

/// Whether a claim is about a run (one subject per run) rather than a model.
fn run_level(claim: &str) -> bool {
    claim.starts_with("git.") || claim.starts_with("run.") || claim.starts_with("ledger.")
}

/// `gate.require`: every subject in scope has each `[require]`d claim at the policy's level or
/// better, judged from the checks already in the report (`present`: from the record).
pub(crate) fn check_requirements(
    report: &mut Report,
    all_runs: &[RunView],
    in_scope: &[(String, BTreeSet<String>)],
    policy: &Policy,
) {
    let by_id = runs_by_id(all_runs);
    // Each claim's checks by (run id, model), read once instead of once per subject.
    let mut by_subject: HashMap<(&str, &str, Option<&str>), Vec<&Check>> = HashMap::new();
    for c in &report.checks {
        if let Some(run_id) = c.subject.run_id.as_deref() {
            by_subject
                .entry((c.check.as_str(), run_id, c.subject.model.as_deref()))
                .or_default()
                .push(c);
        }
    }
    let mut all_findings = Vec::new();
    for req in &policy.require {
        let claim = req.claim.as_str();
        let mut met = 0usize;
        let mut findings = Vec::new();
        for (run_id, names) in in_scope {
            let run = by_id.get(run_id.as_str()).map(|&i| &all_runs[i]);
            let subjects: Vec<Option<&str>> = if run_level(claim) {
                vec![None]
            } else {
                names.iter().map(|n| Some(n.as_str())).collect()
            };
            for model in subjects {
                let subject = match model {
                    Some(m) => Subject::model(run_id, m),
                    None => Subject::run(run_id),
                };
                let checks: &[&Check] = by_subject
                    .get(&(claim, run_id.as_str(), model))
                    .map_or(&[], Vec::as_slice);
                // `present` is a property of the record: the claim is there to be checked.
                let recorded = run.and_then(|r| {
                    let m = match model {
                        Some(name) => r.models.iter().find(|m| m.name == name)?,
                        None => r.models.first()?,
                    };
                    claims(r, m)
                        .into_iter()
                        .find(|(c, _, _)| *c == claim)
                        .map(|(_, level, shown)| (level > 0, shown))
                });
                let what = format!("{claim} is required at {}", req.level.as_str());
                let line = req.line;
                if req.level == RequiredLevel::Present {
                    let ok = match &recorded {
                        Some((ok, _)) => *ok,
                        None => checks.iter().any(|c| c.outcome != Outcome::Unverifiable),
                    };
                    if ok {
                        met += 1;
                    } else {
                        findings.push(Check::fail(
                            CheckId::GateRequire,
                            subject,
                            Code::ProofRequiredMissing,
                            Proof::Recomputed,
                            json!({"claim": claim, "level": "present", "policy_line": line}),
                            json!(recorded.map(|r| r.1)),
                            format!(
                                "{what} (policy line {line}), but the record does not carry it"
                            ),
                        ));
                    }
                    continue;
                }
                if checks.is_empty() {
                    findings.push(Check::unknown(
                        CheckId::GateRequire,
                        subject,
                        Code::ProofRequiredMissing,
                        Proof::Recomputed,
                        format!(
                            "{what} (policy line {line}), but no {claim} check ran: its evidence \
                             (--repo, --warehouse, --artifacts) was not given"
                        ),
                    ));
                    continue;
                }
                // A failing or unknown check already decides the gate; nothing to add.
                if checks
                    .iter()
                    .any(|c| matches!(c.outcome, Outcome::Fail | Outcome::Unknown))
                {
                    continue;
                }
                let best = checks
                    .iter()
                    .filter(|c| matches!(c.outcome, Outcome::Pass | Outcome::Warn))
                    .filter_map(|c| level_of(c.proof))
                    .max();
                if best.is_some_and(|b| b >= req.level) {
                    met += 1;
                } else {
                    let got = best.map_or("nothing (unverifiable)", RequiredLevel::as_str);
                    findings.push(Check::fail(
                        CheckId::GateRequire,
                        subject,
                        Code::ProofRequiredMissing,
                        Proof::Recomputed,
                        json!({"claim": claim, "level": req.level.as_str(), "policy_line": line}),
                        json!(got),
                        format!(
                            "{what} (policy line {line}), but the best proof established is {got}"
                        ),
                    ));
                }
            }
        }
        if met > 0 && findings.is_empty() {
            all_findings.push(Check::pass(
                CheckId::GateRequire,
                Subject::default(),
                Proof::Recomputed,
                json!({"claim": claim, "level": req.level.as_str()}),
                json!(met),
                format!(
                    "{claim} meets the required {} for all {met} subject(s) in scope",
                    req.level.as_str()
                ),
            ));
        }
        all_findings.extend(findings);
    }
    for f in all_findings {
        report.push(f);
    }
}
