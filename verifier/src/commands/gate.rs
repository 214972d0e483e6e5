//! `rocky-verify gate`: the CI drift gate (`spec/gate.md`). It runs `run`'s checks over every
//! model in scope (by default the latest successful run of each model: what the warehouse should
//! reflect now), adds the ledger-wide checks (orphan files both ways, the history checkpoint),
//! applies the policy (tolerances, skips, waivers) and leaves the report for the CI formats.
//!
//! # Steps
//!
//! 1. Read and validate the policy (`--policy`); a bad policy stops the gate (exit 2).
//! 2. Open the ledger read-only and read the ledger-wide facts once.
//! 3. Choose the scope: which runs, and which models of each.
//! 4. Open the warehouse once; count every in-scope table in one batched query.
//! 5. For each run in scope, `run`'s checks restricted to its in-scope models.
//! 6. Artifacts folder: files with no ledger row, ledger rows with no file.
//! 7. Checkpoint: runs that vanished or changed since the last gate; save the new checkpoint.
//! 8. Policy: drop skipped checks, waive matching findings, fail expired waivers.
//!
//! # Side effects
//!
//! Reads the policy, the ledger, the repository, the warehouse and the artifacts; writes none of
//! them. With `--checkpoint` it writes (atomically) the checkpoint file, its own state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::checks::catalogue::{CheckId, Code};
use crate::checks::supersession::Writers;
use crate::checks::view::RunView;
use crate::checks::{self as run, Ctx, Hooks, RunRows, checkpoint, orphans, row_count, tables};
use crate::evidence::ledger::{self, Ledger};
use crate::evidence::warehouse::{TableRef, Warehouse};
use crate::output::{Locator, join};
pub use crate::plan::scope::{Scope, parse_duration};
use crate::plan::scope::{choose_runs, scope_text};
use crate::plan::{Lineage, ModelFilter, Plan, RunOptions, Skips, policy};
use crate::report::{Check, Outcome, Proof, Report, Subject, WaiverNote};
use policy::{Policy, PolicyError};

/// What `gate` was asked to do.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// The ledger file.
    pub ledger: PathBuf,
    /// The git repository; code checks are skipped without it.
    pub repo: Option<PathBuf>,
    /// A DuckDB file.
    pub warehouse: Option<PathBuf>,
    /// The artifacts folder.
    pub artifacts: Option<PathBuf>,
    /// The policy file.
    pub policy: Option<PathBuf>,
    /// The checkpoint file (read, then written).
    pub checkpoint: Option<PathBuf>,
    /// Which runs.
    pub scope: Scope,
    /// `--strict`.
    pub strict: bool,
    /// The time waivers, retention and `--since` are judged at.
    pub now: DateTime<Utc>,
    /// Draw a progress bar on stderr when the gate takes more than about a second.
    pub progress: bool,
    /// `--adapter`: the dialect for Rocky fingerprints when the project and `env_hash` name
    /// none.
    pub adapter: Option<crate::rocky::statements::Dialect>,
    /// `--model` / `--select`: only these models of the runs in scope.
    pub models: Option<ModelFilter>,
    /// `--allow-empty`: a gate that checked nothing passes instead of failing closed.
    pub allow_empty: bool,
    /// `--allowed-signers` / `--gpg-keyring` (the policy adds `require_signed_commits`).
    pub signers: crate::plan::SignerOptions,
    /// `--lake`: the folder holding the content-addressed tables' Delta logs.
    pub lake: Option<PathBuf>,
}

/// The gate's report and what the CI formats need besides it.
#[derive(Debug)]
pub struct GateOutcome {
    /// The report.
    pub report: Report,
    /// Where findings live on disk.
    pub locator: Locator,
    /// Policy problems, to print as diagnostics.
    pub policy_errors: Vec<PolicyError>,
}

/// Runs the gate. Never panics on hostile input and never returns an error: everything that goes
/// wrong is a check in the report.
pub fn verify_gate(opts: &GateOptions) -> GateOutcome {
    let mut out = GateOutcome {
        report: Report::new("gate", Some(scope_text(&opts.scope)), opts.strict),
        locator: Locator {
            ledger: Some(opts.ledger.display().to_string()),
            warehouse: opts.warehouse.as_ref().map(|p| p.display().to_string()),
            artifacts: opts.artifacts.as_ref().map(|p| p.display().to_string()),
            sources: BTreeMap::new(),
            repo: opts.repo.as_ref().map(|p| p.display().to_string()),
        },
        policy_errors: Vec::new(),
    };
    let policy = match load_policy(opts) {
        Ok(p) => p,
        Err(failure) => {
            let (check, errors) = *failure;
            out.report.push(check);
            out.policy_errors = errors;
            out.report
                .not_verified
                .push("the policy could not be used: nothing was verified".to_owned());
            return out;
        }
    };
    out.report.fail_on_warning = policy.fail_on_warning;
    let Some(ledger) = run::open_ledger(&mut out.report, &opts.ledger) else {
        out.report
            .not_verified
            .push("the ledger could not be read: nothing was verified".to_owned());
        return out;
    };
    let mut state = GateState::default();
    let ((), digest) = run::hashing_alongside(&ledger, true, || {
        if let Err(e) = gate_with_ledger(&mut out, &ledger, opts, &policy, &mut state) {
            run::ledger_read_failed(&mut out.report, &e);
        }
    });
    run::record_digest(&mut out.report, digest);
    apply_policy(&mut out.report, &policy, opts.now);
    fail_closed(&mut out.report, opts, &state);
    summarize(&mut out.report, opts, &policy, &state);
    out
}

/// The gate fails closed (`spec/gate.md` section 1): a gate that checked nothing is an
/// `unknown` `gate.scope` (exit 2), never a clean pass, unless `--allow-empty` accepts it.
fn fail_closed(report: &mut Report, opts: &GateOptions, state: &GateState) {
    // A scope that could not be read is already reported, as is a ledger that would not open.
    if report
        .checks
        .iter()
        .any(|c| c.check == CheckId::GateScope && c.outcome == Outcome::Unknown)
    {
        return;
    }
    let no_source = opts.warehouse.is_none()
        && opts.artifacts.is_none()
        && opts.repo.is_none()
        && opts.checkpoint.is_none();
    let why = state.empty.clone().or_else(|| {
        no_source.then(|| {
            "no --warehouse, --artifacts, --repo or --checkpoint was given, so the ledger's \
             claims were compared with no independent source"
                .to_owned()
        })
    });
    let Some(why) = why else { return };
    if opts.allow_empty {
        report.not_verified.push(format!(
            "nothing was checked (accepted by --allow-empty): {why}"
        ));
    } else {
        report.push(Check::unknown(
            CheckId::GateScope,
            Subject::default(),
            Code::ScopeEmptyUnexpected,
            Proof::Recomputed,
            format!(
                "nothing was checked: {why}; the gate fails closed (--allow-empty accepts this)"
            ),
        ));
    }
}

/// Facts gathered along the way for the summary.
#[derive(Debug, Default)]
struct GateState {
    /// Why nothing was checked, when nothing was (the gate then fails closed).
    empty: Option<String>,
    runs: usize,
    /// The ids of the runs in scope, in start order.
    run_ids: Vec<String>,
    models: usize,
    checkpoint_written: Option<bool>,
}

type PolicyFailure = Box<(Check, Vec<PolicyError>)>;

fn load_policy(opts: &GateOptions) -> Result<Policy, PolicyFailure> {
    let Some(path) = &opts.policy else {
        return Ok(Policy::default());
    };
    let shown = path.display().to_string();
    let unknown = |reason: String| {
        Check::unknown(
            CheckId::GatePolicy,
            Subject::file(&shown),
            Code::PolicyInvalid,
            Proof::Recomputed,
            reason,
        )
    };
    let text = match crate::evidence::regular_file::open(path)
        .map_err(crate::evidence::regular_file::OpenError::into_io)
        .and_then(|mut f| {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut b).map(|_| b)
        }) {
        Ok(b) => match String::from_utf8(b) {
            Ok(t) => t,
            Err(_) => {
                return Err(Box::new((
                    unknown(format!("{shown} is not UTF-8 text")),
                    Vec::new(),
                )));
            }
        },
        Err(e) => {
            return Err(Box::new((
                unknown(format!("cannot read {shown}: {e}")),
                Vec::new(),
            )));
        }
    };
    Policy::parse(&shown, &text).map_err(|errors| {
        let reason = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Box::new((unknown(reason), errors))
    })
}

/// Ledger-wide facts, read once for every run in scope.
struct LedgerFacts {
    /// Every `run_history` row (key, raw value).
    history: Vec<(String, Vec<u8>)>,
    /// Every run record that decodes, indexed by the tables it wrote (the supersession rule).
    writers: Writers<'static>,
    /// Hash to every `(run_id, model_name)` row naming it (all runs).
    producers: BTreeMap<String, Vec<(String, String)>>,
    /// Every table's recorded counts (`check_history`, downstream watermark counts).
    counts: row_count::CountEvidence,
    /// Run id to its index in `writers.runs()`.
    by_id: BTreeMap<String, usize>,
    /// Every `run_history` value that is an object with start and finish times, for the
    /// ledger-wide table checks (parsed in the same pass as `writers`).
    run_facts: Vec<tables::RunFact>,
}

/// Reads `run_history` values on every core, order kept, parsing each once: the view the scope
/// needs (for every value that is a JSON object with a run id and a start time) and what the
/// ledger-wide table checks read of it ([`tables::RunFact`]). The strict record
/// decode (its enums, timestamps, every field) is `run`'s check, done for the runs in scope only:
/// decoding every record of a 10k-run ledger strictly would cost more than the whole warehouse
/// side.
fn decode_runs(history: &[(String, Vec<u8>)]) -> Vec<(Option<RunView>, Option<tables::RunFact>)> {
    let one = |key: &str, bytes: &[u8]| -> (Option<RunView>, Option<tables::RunFact>) {
        let Some(v) = crate::checks::decode::value(bytes) else {
            return (None, None);
        };
        let view = RunView::from_value(&v);
        let view = (view.run_id.is_some() && view.started.is_some()).then_some(view);
        (view, tables::RunFact::from_value(key, &v))
    };
    // A row the decoder gave up on reads as not a run; the gate reports those as undecodable.
    crate::par::map(history, |(k, b)| one(k, b), |_| (None, None))
}

impl LedgerFacts {
    fn load(ledger: &Ledger) -> Result<LedgerFacts, crate::error::VerifyError> {
        let history = ledger.rows(ledger::RUN_HISTORY, "")?;
        let (views, facts): (Vec<_>, Vec<_>) = decode_runs(&history).into_iter().unzip();
        let all_runs: Vec<RunView> = views.into_iter().flatten().collect();
        let run_facts = facts.into_iter().flatten().collect();
        let by_id = all_runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r.run_id.clone()?, i)))
            .collect();
        let producers = run::scan_producers(ledger, None)?;
        let counts = row_count::CountEvidence::load(ledger, None, None)?;
        let writers = Writers::new(all_runs);
        Ok(LedgerFacts {
            history,
            writers,
            producers,
            counts,
            by_id,
            run_facts,
        })
    }

    fn run(&self, id: &str) -> Option<&RunView> {
        self.by_id.get(id).map(|&i| &self.writers.runs()[i])
    }

    /// The producers of every hash one run's rows name (its artifacts and its upstreams).
    fn producers_for(&self, rows: &RunRows) -> BTreeMap<String, Vec<(String, String)>> {
        let (own, upstream) = run::hashes_named(&rows.artifacts, &rows.provs);
        own.into_iter()
            .chain(upstream)
            .filter_map(|h| Some((h.clone(), self.producers.get(&h)?.clone())))
            .collect()
    }
}

/// A progress bar that appears only once the work has taken about a second (and only when asked:
/// a terminal, not `--json`).
struct Progress {
    bar: indicatif::ProgressBar,
    enabled: bool,
    shown: bool,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, len: usize) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len as u64),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("rocky-verify: gate {bar:30} {pos}/{len} runs")
        {
            bar.set_style(style);
        }
        Progress {
            bar,
            enabled,
            shown: false,
            started: Instant::now(),
        }
    }

    fn tick(&mut self) {
        self.bar.inc(1);
        if self.enabled && !self.shown && self.started.elapsed().as_millis() >= 1000 {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn gate_with_ledger(
    out: &mut GateOutcome,
    ledger: &Ledger,
    opts: &GateOptions,
    policy: &Policy,
    state: &mut GateState,
) -> Result<(), crate::error::VerifyError> {
    let facts = LedgerFacts::load(ledger)?;
    let report = &mut out.report;

    let chosen = match choose_runs(facts.writers.runs(), &opts.scope, opts.now) {
        Ok(s) => s,
        Err(reason) => {
            report.push(Check::unknown(
                CheckId::GateScope,
                Subject::default(),
                Code::RunRecordMissing,
                Proof::Recomputed,
                reason,
            ));
            return Ok(());
        }
    };
    // The plan: runs in scope, narrowed by --model / --select (following the ledger's lineage
    // only when the selector asks for upstreams or downstreams).
    let lineage = match &opts.models {
        Some(f) if f.needs_lineage() => Lineage::from_ledger(ledger)?,
        _ => Lineage::default(),
    };
    let plan = Plan::new(chosen, opts.models.as_ref(), &lineage);
    state.empty = plan.why_empty(&scope_text(&opts.scope));
    let in_scope = plan.runs;
    state.runs = in_scope.len();
    state.models = in_scope.iter().map(|(_, m)| m.len()).sum();

    // Runs whose record is not even readable are never in a scope (no time): report them.
    let decodable: BTreeSet<&str> = facts
        .writers
        .runs()
        .iter()
        .filter_map(|r| r.run_id.as_deref())
        .collect();
    let undecodable: Vec<String> = facts
        .history
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !decodable.contains(k.as_str()))
        .collect();

    // Model sources, for locations.
    let repo_dir = opts.repo.as_ref().map(|p| p.display().to_string());
    for (run_id, models) in &in_scope {
        if let Some(r) = facts.run(run_id) {
            for m in r.models.iter().filter(|m| models.contains(&m.name)) {
                if let Some(src) = &m.source_path {
                    let path = repo_dir
                        .as_deref()
                        .map_or_else(|| src.clone(), |d| join(d, src));
                    out.locator
                        .sources
                        .insert((run_id.clone(), m.name.clone()), path);
                }
            }
        }
    }

    // The warehouse, opened once for every run.
    let mut run_opts = RunOptions {
        run_id: String::new(),
        ledger: opts.ledger.clone(),
        repo: opts.repo.clone().unwrap_or_else(|| PathBuf::from(".")),
        // The gate runs the git checks only on a --repo it was given.
        repo_explicit: opts.repo.is_some(),
        adapter: opts.adapter,
        warehouse: opts.warehouse.clone(),
        artifacts: opts.artifacts.clone(),
        strict: opts.strict,
        ledger_scan: true,
        // The gate's plan already holds the selected models of each run.
        models: None,
        signers: crate::plan::SignerOptions {
            allowed_signers: opts.signers.allowed_signers.clone(),
            gpg_keyring: opts.signers.gpg_keyring.clone(),
            require_signed: policy.require_signed_commits,
        },
        lake: opts.lake.clone(),
    };
    let warehouse = match &opts.warehouse {
        None => None,
        Some(path) => {
            let named = in_scope
                .iter()
                .filter_map(|(id, _)| facts.run(id))
                .flat_map(crate::checks::warehouse::catalogs_named);
            let catalog = crate::evidence::warehouse::catalog_for(path, named);
            match Warehouse::open(path, &catalog) {
                Ok(w) => Some(w),
                Err(e) => {
                    report.push(Check::unknown(
                        CheckId::WarehouseOpen,
                        Subject::file(&path.display().to_string()),
                        Code::WarehouseInvalid,
                        Proof::Recomputed,
                        e.to_string(),
                    ));
                    run_opts.warehouse = None;
                    None
                }
            }
        }
    };

    let tolerance = |model: &str| policy.tolerance_for(model);
    let skips = Skips::new(policy);
    let base = Hooks {
        skips: Some(&skips),
        scope: None,
        warehouse: warehouse.as_ref(),
        tolerance: Some(&tolerance),
        counts: Some(&facts.counts),
        skip_code: opts.repo.is_none(),
    };

    // Plan: the tables every in-scope model names, counted in one batched query before any
    // run's checks. Provenance may resolve a model to another table; `count` then asks DuckDB
    // for that one on its own, so this only decides how much is batched, never a result.
    let mut planned = Vec::with_capacity(in_scope.len());
    for (run_id, models) in &in_scope {
        let mut targets = Vec::new();
        if let Some(r) = facts.run(run_id) {
            for m in r.models.iter().filter(|m| models.contains(&m.name)) {
                if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
                    targets.push(t);
                } else if let (Some(c), Some(wh)) = (&r.target_catalog, &warehouse)
                    && let Ok(schemas) = wh.schemas_with_table(c, &m.name)
                    && let [schema] = schemas.as_slice()
                {
                    targets.push(TableRef {
                        catalog: c.clone(),
                        schema: schema.clone(),
                        table: m.name.clone(),
                    });
                }
            }
        }
        planned.push((run_id, models, targets));
    }
    if let Some(wh) = &warehouse {
        let all: Vec<_> = planned.iter().flat_map(|p| p.2.iter().cloned()).collect();
        wh.prefetch_counts(&all);
    }

    let mut progress = Progress::new(opts.progress, planned.len() + undecodable.len());
    for id in &undecodable {
        let rows = RunRows::read(ledger, id)?;
        let mut ctx = Ctx::new(
            report,
            &run_opts,
            id,
            run::Producers::default(),
            Writers::default(),
            base,
        );
        run::load(&mut ctx, &rows);
        progress.tick();
    }
    for (run_id, models, _) in &planned {
        let rows = &RunRows::read(ledger, run_id)?;
        let first = report.checks.len();
        let mut ctx = Ctx::new(
            report,
            &run_opts,
            run_id,
            run::Producers {
                by_hash: facts.producers_for(rows),
                counted: true,
                versions: None,
            },
            facts.writers.borrowed(),
            scoped(&base, models),
        );
        run::load(&mut ctx, rows);
        run::check_loaded(&mut ctx, ledger)?;
        // Model-level checks of models outside the scope (the record checks run for the whole
        // run record) are not the gate's business.
        let names = ctx.scope_names();
        if let Some(names) = names {
            let mut i = 0usize;
            report.checks.retain(|c| {
                i += 1;
                i <= first
                    || c.subject.run_id.as_deref() != Some(run_id.as_str())
                    || c.subject.model.as_ref().is_none_or(|m| names.contains(m))
            });
        }
        progress.tick();
    }
    progress.finish();

    // The tables outside one run's joins, and rows of no run (issue 16), ledger-wide.
    let ledger_wide = report.checks.len();
    tables::check_gate(report, ledger, &facts.history, &facts.run_facts)?;

    if let Some(dir) = &opts.artifacts {
        orphans::check(report, ledger, dir)?;
    }
    // With --model / --select, the ledger-wide passes keep only the selected models' findings
    // (checks about no model, such as orphan files and tables, stay).
    if opts.models.is_some() {
        let selected: BTreeSet<&String> = planned.iter().flat_map(|p| p.1.iter()).collect();
        let mut i = 0usize;
        report.checks.retain(|c| {
            i += 1;
            i <= ledger_wide
                || c.subject
                    .model
                    .as_ref()
                    .is_none_or(|m| selected.contains(m))
        });
    }
    // Proof downgrades against each model's previous run, then the policy's minimum proof
    // (which reads every check above).
    crate::checks::downgrade::check_downgrades(
        report,
        facts.writers.runs(),
        &in_scope,
        &crate::plan::scope::model_key,
        policy,
    );
    crate::checks::downgrade::check_requirements(report, facts.writers.runs(), &in_scope, policy);
    state.run_ids = in_scope.iter().map(|(id, _)| id.clone()).collect();
    if let Some(path) = &opts.checkpoint {
        state.checkpoint_written = Some(check_checkpoint(report, &facts, path, policy, opts.now));
    }
    Ok(())
}

/// `base` restricted to the models of one run.
fn scoped<'a>(base: &Hooks<'a>, models: &'a BTreeSet<String>) -> Hooks<'a> {
    Hooks {
        scope: Some(models),
        ..*base
    }
}

/// Compares the ledger with the checkpoint and saves the new one. Returns whether it was saved.
fn check_checkpoint(
    report: &mut Report,
    facts: &LedgerFacts,
    path: &std::path::Path,
    policy: &Policy,
    now: DateTime<Utc>,
) -> bool {
    let shown = path.display().to_string();
    let old = match checkpoint::Checkpoint::load(path) {
        Ok(c) => c,
        Err(reason) => {
            report.push(Check::unknown(
                CheckId::LedgerCheckpoint,
                Subject::file(&shown),
                Code::CheckpointInvalid,
                Proof::BytesVerified,
                format!("{reason}; it was left as it is"),
            ));
            return false;
        }
    };
    let started: BTreeMap<&str, &str> = facts
        .writers
        .runs()
        .iter()
        .filter_map(|r| Some((r.run_id.as_deref()?, r.started.as_ref()?.0.as_str())))
        .collect();
    let seen: BTreeMap<String, checkpoint::Seen> = facts
        .history
        .iter()
        .map(|(id, bytes)| {
            (
                id.clone(),
                checkpoint::Seen::of(bytes, started.get(id.as_str()).map(|s| (*s).to_owned())),
            )
        })
        .collect();
    let (checks, next) =
        checkpoint::compare(&shown, old.as_ref(), &seen, policy.retention_days, now);
    for c in checks {
        report.push(c);
    }
    match next.save(path) {
        Ok(()) => true,
        Err(e) => {
            report.push(Check::unknown(
                CheckId::LedgerCheckpoint,
                Subject::file(&shown),
                Code::CheckpointInvalid,
                Proof::BytesVerified,
                format!("cannot write {shown}: {e}"),
            ));
            false
        }
    }
}

/// Skips, waivers and expired waivers (`spec/gate.md` section 2).
fn apply_policy(report: &mut Report, policy: &Policy, now: DateTime<Utc>) {
    let today = now.date_naive();
    let mut skipped = vec![0usize; policy.skips.len()];
    report.checks.retain(|c| {
        // Policy and checkpoint checks are the gate's own and cannot be skipped.
        if c.check.as_str().starts_with("gate.") {
            return true;
        }
        match policy.skip_index(c.check.as_str(), c.subject.model.as_deref()) {
            Some(i) => {
                skipped[i] += 1;
                false
            }
            None => true,
        }
    });
    for (s, n) in policy.skips.iter().zip(&skipped) {
        let models = if s.models.is_empty() {
            String::new()
        } else {
            format!(
                " for {}",
                s.models
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // A group of checks the plan skipped whole never ran, so it adds nothing to `n`.
        let count = if *n == 0 {
            "not run".to_owned()
        } else {
            format!("{n} check(s)")
        };
        report.not_verified.push(format!(
            "skipped by policy: {}{models} ({count}): {}",
            s.check.as_str(),
            s.reason
        ));
    }

    let mut matched = vec![0usize; policy.waivers.len()];
    for c in &mut report.checks {
        if !matches!(c.outcome, Outcome::Fail | Outcome::Warn)
            || c.check.as_str().starts_with("gate.")
        {
            continue;
        }
        let Some(i) = policy.waiver_index(
            c.check.as_str(),
            c.subject.model.as_deref(),
            c.code.map(Code::as_str),
            today,
        ) else {
            continue;
        };
        let w = &policy.waivers[i];
        matched[i] += 1;
        let reason = format!("waived until {}: {}", w.expires, w.reason);
        c.waiver = Some(WaiverNote {
            reason: w.reason.clone(),
            expires: w.expires.to_string(),
            outcome: c.outcome,
            line: w.line,
        });
        c.outcome = Outcome::Unverifiable;
        c.message = format!("{} ({reason})", c.message);
        c.reason = Some(reason);
    }
    for (w, n) in policy.waivers.iter().zip(&matched) {
        if w.active_on(today) {
            report.not_verified.push(format!(
                "waiver active until {} (policy line {}): {}: {} ({n} finding(s) waived)",
                w.expires,
                w.line,
                w.describe(),
                w.reason
            ));
        } else {
            report.push(Check::fail(
                CheckId::GateWaiver,
                Subject::default(),
                Code::WaiverExpiredUnexpected,
                Proof::Recomputed,
                json!(w.expires.to_string()),
                json!(today.to_string()),
                format!(
                    "the waiver at policy line {} ({}) expired on {}: fix the drift or renew the \
                     waiver with a new reason ({})",
                    w.line,
                    w.describe(),
                    w.expires,
                    w.reason
                ),
            ));
        }
    }
}

fn summarize(report: &mut Report, opts: &GateOptions, policy: &Policy, state: &GateState) {
    // The per-run lines of `run`'s checks would repeat once per run: count check kinds instead.
    report.verified.clear();
    if state.runs > 0 {
        report.verified.push(format!(
            "{} model(s) in {} run(s) checked ({}): {}",
            state.models,
            state.runs,
            scope_text(&opts.scope),
            state.run_ids.join(", ")
        ));
    }
    run::summarize_checks(report);
    if opts.warehouse.is_none() {
        report
            .not_verified
            .push("no --warehouse given: tables, row counts and schemas not checked".to_owned());
    }
    if opts.artifacts.is_none() {
        report
            .not_verified
            .push("no --artifacts given: artifact files and orphans not checked".to_owned());
    }
    if opts.repo.is_none() {
        report
            .not_verified
            .push("no --repo given: commits and model sources not checked".to_owned());
    }
    if opts.checkpoint.is_none() {
        report.not_verified.push(
            "no --checkpoint given: deleted or rewritten run records cannot be detected".to_owned(),
        );
    }
    report.not_verified.push(
        "the ledger is not tamper-evident: a consistent rewrite of every record and file cannot \
         be detected"
            .to_owned(),
    );
    let waivers: Vec<Value> = policy
        .waivers
        .iter()
        .map(|w| {
            json!({
                "check": w.check.as_str(),
                "model": w.model.as_ref().map(|g| g.as_str()),
                "code": w.code,
                "reason": w.reason,
                "expires": w.expires.to_string(),
                "line": w.line,
                "active": w.active_on(opts.now.date_naive()),
                "matched": report.checks.iter().filter(|c| c.waiver.as_ref().is_some_and(|n| n.line == w.line)).count(),
            })
        })
        .collect();
    report.gate = Some(json!({
        "scope": scope_text(&opts.scope),
        "runs": state.runs,
        "run_ids": state.run_ids,
        "models": state.models,
        "policy": opts.policy.as_ref().map(|p| p.display().to_string()),
        "fail_on_warning": policy.fail_on_warning,
        "retention_days": policy.retention_days,
        "waivers": waivers,
        "checkpoint": opts.checkpoint.as_ref().map(|p| json!({
            "path": p.display().to_string(),
            "written": state.checkpoint_written.unwrap_or(false),
        })),
    }));
}

/// The gate's options from its command line; `now` is the wall clock.
pub fn options(args: &crate::cli::GateArgs, progress: bool) -> GateOptions {
    GateOptions {
        ledger: args.ledger.clone().unwrap_or_default(),
        repo: args.repo.clone(),
        warehouse: args.warehouse.clone(),
        artifacts: args.artifacts.clone(),
        policy: args.policy.clone(),
        checkpoint: args.checkpoint.clone(),
        scope: match (&args.since, args.last) {
            (Some(s), _) => Scope::Since(s.clone()),
            (None, Some(n)) => Scope::Last(n),
            (None, None) => Scope::Latest,
        },
        strict: args.strict,
        now: Utc::now(),
        progress,
        adapter: args.adapter.adapter.map(crate::cli::Adapter::dialect),
        models: args.select.filter(),
        allow_empty: args.allow_empty,
        signers: crate::plan::SignerOptions {
            allowed_signers: args.signers.allowed_signers.clone(),
            gpg_keyring: args.signers.gpg_keyring.clone(),
            require_signed: false,
        },
        lake: args.lake.clone(),
    }
}

/// Writes a report file whole: a temporary file beside it, then rename.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Special files (a pipe, /dev/stdout) cannot be replaced: write them in place.
    if path.exists() && !path.is_file() {
        return std::fs::write(path, bytes);
    }
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Runs the gate for the command line: the report, the CI files, the annotations and the policy
/// diagnostics. Returns the report (for stdout) and the exit code, which is 2 instead of 0 when
/// a report file could not be written.
pub fn run_cli(
    args: &crate::cli::GateArgs,
    output: crate::cli::Output,
    stderr_color: bool,
) -> (Report, i32) {
    use std::io::{IsTerminal, Write};
    let json = output == crate::cli::Output::Json;
    let progress = !json && std::io::stderr().is_terminal();
    // --bundle: the bundle's contents are the inputs; a refused bundle is the whole report.
    let bundle = match &args.bundle.bundle {
        Some(p) => match crate::commands::bundle::open(p, "gate", None, args.strict) {
            Ok(b) => Some(b),
            Err(report) => {
                let code = report.exit_code();
                return (*report, code);
            }
        },
        None => None,
    };
    let bundled_args = bundle
        .as_ref()
        .map(|b| crate::commands::bundle::gate_args(args, b));
    let args = bundled_args.as_ref().unwrap_or(args);
    let mut outcome = verify_gate(&options(args, progress));
    if let Some(b) = &bundle {
        crate::commands::bundle::finish(&mut outcome.report, b);
        outcome
            .locator
            .rewrite_strings(&mut crate::commands::bundle::relative(b));
    }
    // --pseudonymize: the last step before any format is written (read and checked in main).
    if let Ok(Some(key)) = crate::commands::bundle::key(&args.bundle) {
        crate::commands::bundle::pseudonymize(
            &mut outcome.report,
            key,
            args.ledger.as_deref(),
            args.repo.as_deref(),
        );
    }
    let mut stderr = std::io::stderr();

    if !outcome.policy_errors.is_empty() {
        let theme = if stderr_color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme);
        for e in &outcome.policy_errors {
            let mut text = String::new();
            if handler.render_report(&mut text, e).is_ok() {
                let _ = writeln!(stderr, "rocky-verify: {}", text.trim_end());
            }
        }
    }

    let report = outcome.report;
    let mut code = report.exit_code();
    let mut files: Vec<(&PathBuf, Vec<u8>)> = Vec::new();
    if let Some(p) = &args.junit {
        files.push((p, crate::output::junit::render(&report).into_bytes()));
    }
    if let Some(p) = &args.sarif {
        let doc = crate::output::sarif::render(&report, &outcome.locator);
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        files.push((p, bytes));
    }
    if let Some(p) = &args.markdown {
        files.push((p, crate::output::markdown::render(&report).into_bytes()));
    }
    for (path, bytes) in files {
        if let Err(e) = write_file(path, &bytes) {
            let _ = writeln!(
                stderr,
                "rocky-verify: cannot write the report {}: {e}",
                path.display()
            );
            if code == crate::report::EXIT_OK {
                code = crate::report::EXIT_INCOMPLETE;
            }
        }
    }
    if args.github {
        let text = crate::output::github::render(&report, &outcome.locator);
        // GitHub documents workflow commands on stdout, ahead of the human table here. With
        // --json stdout carries JSON Lines only, so the annotations go to stderr instead.
        let _ = if json {
            stderr.write_all(text.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        };
    }
    (report, code)
}
