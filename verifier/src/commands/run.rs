//! `rocky-verify run <run_id|latest>`: verifies one run against independent sources.
//!
//! # Steps
//!
//! 1. Open the ledger read-only ([`crate::ledger`]); check its schema version.
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

mod artifacts;
mod code;
mod columns;
pub mod decode;
mod delta;
mod fingerprint;
pub(crate) mod output;
pub(crate) mod project;
mod provenance;
pub(crate) mod row_count;
pub(crate) mod view;
mod who;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::ledger::{self, Ledger};
use crate::model::run_id::RunIdShape;
use crate::report::{Check, Outcome, Proof, Report, Subject};
use crate::warehouse::Warehouse;
use view::{ArtifactRow, ProvRow, RunView};

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A run id or `latest`.
    pub run_id: String,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The git repository.
    pub repo: PathBuf,
    /// Whether the user named `repo` (`--repo`); `false` when it is the default `.`, where an
    /// absent commit may only mean the wrong folder.
    pub repo_explicit: bool,
    /// `--adapter`: the dialect for Rocky fingerprints when neither `rocky.toml` at the commit
    /// nor the recorded `env_hash` names one.
    pub adapter: Option<crate::rocky::statements::Dialect>,
    /// A DuckDB file, if given.
    pub warehouse: Option<PathBuf>,
    /// The artifacts folder, if given.
    pub artifacts: Option<PathBuf>,
    /// `--strict`.
    pub strict: bool,
    /// The two passes over the whole ledger: the file's BLAKE3 and exact refcounts (`false`
    /// with `--no-ledger-scan`). Every check of the run itself runs either way.
    pub ledger_scan: bool,
    /// `--lake`: a local copy of the bucket holding the content-addressed tables' Delta logs.
    pub lake: Option<PathBuf>,
}

/// Opens the ledger for a command, pushing `ledger.open` / `ledger.schema_version` checks when it
/// cannot be used. Returns the ledger only when its records can be read.
pub fn open_ledger(report: &mut Report, path: &std::path::Path) -> Option<Ledger> {
    let display = path.display().to_string();
    let ledger = match Ledger::open(path, &display) {
        Ok(l) => l,
        Err(e) => {
            report.push(Check::unknown(
                CheckId::LedgerOpen,
                Subject::file(&display),
                e.code(),
                Proof::BytesVerified,
                e.to_string(),
            ));
            return None;
        }
    };
    report.ledger = Some(ledger.info.clone());
    if let Err(reason) = ledger::check_schema_version(ledger.info.schema_version.as_deref()) {
        report.push(Check::unknown(
            CheckId::LedgerSchemaVersion,
            Subject::file(&display),
            Code::SchemaVersionUnexpected,
            Proof::Recomputed,
            reason,
        ));
        return None;
    }
    Some(ledger)
}

/// Pushes an `unknown` check for a ledger read that failed mid-way.
pub(crate) fn ledger_read_failed(report: &mut Report, e: &VerifyError) {
    let file = report
        .ledger
        .as_ref()
        .map(|l| l.path.clone())
        .unwrap_or_default();
    report.push(Check::unknown(
        CheckId::LedgerOpen,
        Subject::file(&file),
        e.code(),
        Proof::BytesVerified,
        e.to_string(),
    ));
}

/// Everything the checks of one run share.
pub(crate) struct Ctx<'a> {
    pub report: &'a mut Report,
    pub opts: &'a RunOptions,
    pub run_id: String,
    /// The run record, if the run has one (decoded or best-effort).
    pub run: Option<RunView>,
    /// Whether the run record decoded.
    pub run_valid: bool,
    /// This run's artifact rows that decoded.
    pub artifacts: Vec<ArtifactRow>,
    /// This run's provenance rows that decoded.
    pub provs: Vec<ProvRow>,
    /// Who produced the hashes this run's checks ask about.
    pub producers: Producers,
    /// Every decodable run record of the ledger, for the "latest writer of a table" rule.
    pub all_runs: Vec<RunView>,
    /// Model index -> the provenance row that joined to it.
    pub prov_of_model: BTreeMap<usize, usize>,
    /// What `gate` adds (all `None` for `run`).
    pub hooks: Hooks<'a>,
    /// The Rocky project at the run's commit, loaded once by the git checks ([`code`]); read it
    /// with [`Ctx::rocky_models`] / [`Ctx::rocky_project`] (module [`project`]).
    pub project: Option<project::RunProject>,
}

/// A model name to its `(warn, error)` relative row-count drift, if the policy has one.
pub(crate) type ToleranceFn<'a> = dyn Fn(&str) -> Option<(f64, f64)> + 'a;

/// What `gate` adds when it runs these checks over many runs; [`Hooks::default`] is `run`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Hooks<'a> {
    /// Only these models of the run (`ModelExecution.model_name`) are checked.
    pub scope: Option<&'a BTreeSet<String>>,
    /// A warehouse opened once for every run (instead of opening `opts.warehouse` per run).
    pub warehouse: Option<&'a Warehouse>,
    /// `(warn, error)` relative row-count drift allowed for a model whose count is not exact.
    pub tolerance: Option<&'a ToleranceFn<'a>>,
    /// The ledger's recorded counts of every table (`check_history` snapshots, downstream
    /// watermark counts), read once for every run.
    pub counts: Option<&'a row_count::CountEvidence>,
    /// Do not run the git checks (no repository was given).
    pub skip_code: bool,
}

/// `(run_id, model_name)` of the `output_artifacts` rows naming each hash a run's checks ask
/// about.
#[derive(Debug, Default)]
pub(crate) struct Producers {
    /// Hash to the rows whose `blake3_hash` is that hash.
    pub by_hash: BTreeMap<String, Vec<(String, String)>>,
    /// Whether `by_hash` holds every such row of the ledger (a full scan), or only this run's
    /// own rows and the first producer found of each upstream.
    pub counted: bool,
}

/// One run's rows as read from the ledger.
#[derive(Debug, Default)]
pub(crate) struct RunRows {
    /// The `run_history` value, if there is one.
    pub run_bytes: Option<Vec<u8>>,
    /// `output_artifacts` rows keyed `{run_id}|...`.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// `input_provenance` rows keyed `{run_id}|...`.
    pub provs: Vec<(String, Vec<u8>)>,
}

impl RunRows {
    /// Reads one run's rows (nothing for an id containing `|`, which would match another run's
    /// key prefix).
    pub fn read(ledger: &Ledger, run_id: &str) -> Result<RunRows, VerifyError> {
        if run_id.contains('|') {
            return Ok(RunRows::default());
        }
        let prefix = format!("{run_id}|");
        Ok(RunRows {
            run_bytes: ledger.get(ledger::RUN_HISTORY, run_id)?,
            artifacts: ledger.rows(ledger::OUTPUT_ARTIFACTS, &prefix)?,
            provs: ledger.rows(ledger::INPUT_PROVENANCE, &prefix)?,
        })
    }
}

impl<'a> Ctx<'a> {
    /// A context for one run, before anything is loaded.
    pub fn new(
        report: &'a mut Report,
        opts: &'a RunOptions,
        run_id: &str,
        producers: Producers,
        all_runs: Vec<RunView>,
        hooks: Hooks<'a>,
    ) -> Ctx<'a> {
        Ctx {
            report,
            opts,
            run_id: run_id.to_owned(),
            run: None,
            run_valid: false,
            artifacts: Vec::new(),
            provs: Vec::new(),
            producers,
            all_runs,
            prov_of_model: BTreeMap::new(),
            hooks,
            project: None,
        }
    }

    /// Whether a model execution is in the gate's scope (always, for `run`).
    pub fn in_scope(&self, m: &view::ModelView) -> bool {
        self.hooks.scope.is_none_or(|s| s.contains(&m.name))
    }

    /// Whether rows of a project model name (artifact / provenance `model_name`) are in scope:
    /// the model execution they join to is, or the name itself is a scoped model.
    pub fn project_in_scope(&self, project: &str) -> bool {
        let Some(scope) = self.hooks.scope else {
            return true;
        };
        scope.contains(project)
            || self
                .model_for_project_name(project)
                .and_then(|i| self.models().get(i))
                .is_some_and(|m| scope.contains(&m.name))
    }

    /// The names checks of this run may carry as `subject.model` while in scope.
    pub fn scope_names(&self) -> Option<BTreeSet<String>> {
        let scope = self.hooks.scope?;
        let mut names = scope.clone();
        for p in self
            .provs
            .iter()
            .map(|p| p.model_name.as_str())
            .chain(self.artifacts.iter().map(|a| a.model_name.as_str()))
        {
            if self.project_in_scope(p) {
                names.insert(p.to_owned());
            }
        }
        Some(names)
    }

    /// Number of `output_artifacts` rows (all runs) naming `hash`; `None` when the ledger was not
    /// scanned in full (`--no-ledger-scan`), so only a lower bound is known.
    pub fn refcount(&self, hash: &str) -> Option<usize> {
        self.producers
            .counted
            .then(|| self.producers.by_hash.get(hash).map_or(0, Vec::len))
    }

    /// The provenance row joined to model `index`.
    pub fn prov_for(&self, index: usize) -> Option<&ProvRow> {
        self.prov_of_model.get(&index).map(|&p| &self.provs[p])
    }

    /// Models of the run (empty when there is no run record).
    pub fn models(&self) -> &[view::ModelView] {
        self.run.as_ref().map_or(&[], |r| r.models.as_slice())
    }

    /// The model execution a project model name (artifact / provenance `model_name`) belongs to.
    pub fn model_for_project_name(&self, project: &str) -> Option<usize> {
        if let Some(p) = self.provs.iter().position(|p| p.model_name == project)
            && let Some((&m, _)) = self.prov_of_model.iter().find(|&(_, &pi)| pi == p)
        {
            return Some(m);
        }
        let models = self.models();
        let by_name: Vec<usize> = models
            .iter()
            .filter(|m| m.name == project && !m.failed())
            .map(|m| m.index)
            .collect();
        (by_name.len() == 1).then(|| by_name[0])
    }
}

/// Verifies one run. Never panics on hostile input and never returns an error: everything that
/// goes wrong is a check in the report.
pub fn verify_run(opts: &RunOptions) -> Report {
    let mut report = Report::new("run", Some(opts.run_id.clone()), opts.strict);
    let Some(ledger) = open_ledger(&mut report, &opts.ledger) else {
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

/// Runs `work` while another thread computes the ledger file's BLAKE3 (when `digest`): the one
/// cost that grows with the whole file, so it overlaps with the checks instead of adding to them.
pub(crate) fn hashing_alongside<R>(
    ledger: &Ledger,
    digest: bool,
    work: impl FnOnce() -> R,
) -> (R, Option<Result<String, VerifyError>>) {
    std::thread::scope(|s| {
        let handle = digest.then(|| s.spawn(|| ledger.digest()));
        let out = work();
        let digest = handle.map(|h| {
            // A panic there (none is known) is a failed read, not a crash.
            h.join().unwrap_or_else(|_| {
                Err(VerifyError::Io {
                    path: PathBuf::new(),
                    source: std::io::Error::other("the ledger digest thread panicked"),
                })
            })
        });
        (out, digest)
    })
}

/// Puts the ledger's BLAKE3 into the report (`begin.ledger.blake3`): `None` means it was not
/// asked for (`--no-ledger-scan`), which the summary says; a failed read is a `ledger.open`
/// check that could not complete.
pub(crate) fn record_digest(report: &mut Report, digest: Option<Result<String, VerifyError>>) {
    match digest {
        Some(Ok(hash)) => {
            if let Some(l) = report.ledger.as_mut() {
                l.blake3 = Some(hash);
            }
        }
        Some(Err(e)) => ledger_read_failed(report, &e),
        None => report.not_verified.push(
            "--no-ledger-scan: the ledger file's BLAKE3 was not computed, so this report is not \
             bound to its bytes, and refcounts were not counted"
                .to_owned(),
        ),
    }
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
        let e = VerifyError::RunNotFound {
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
    let rows = RunRows {
        run_bytes: run_bytes.map(<[u8]>::to_vec),
        artifacts: artifact_rows,
        provs: prov_rows,
    };
    let mut ctx = Ctx::new(
        report,
        opts,
        &run_id,
        producers,
        Vec::new(),
        Hooks::default(),
    );
    load(&mut ctx, &rows);
    // Runs that may have rewritten this run's tables since (only the warehouse checks ask). A
    // later run can only have written one of them if its record holds the table's name, so the
    // others are not decoded: an old run of a large ledger has many later runs.
    if opts.warehouse.is_some() {
        let filter = ledger::StringFilter::new(&table_names(&ctx));
        let mut later = Vec::new();
        for key in later_candidates(&keys, Some(&run_id)) {
            if let Some(bytes) = ledger.get(ledger::RUN_HISTORY, key)?
                && filter.may_contain(&bytes)
            {
                later.push(bytes);
            }
        }
        ctx.all_runs = super::par::map(&later, |b| run_view(b), |_| None)
            .into_iter()
            .flatten()
            .collect();
    }
    check_loaded(&mut ctx, ledger)?;
    // 7. Summary lines that depend on everything above.
    summarize(&mut ctx);
    Ok(())
}

/// The view of a run record that decodes strictly (a record that does not is not a run here).
fn run_view(bytes: &[u8]) -> Option<RunView> {
    let v = decode::value(bytes)?;
    decode::run_record(bytes).ok()?;
    Some(RunView::from_value(&v))
}

/// Every name a table this run's models wrote can have in a later run's record: the bare table
/// name of the provenance IR target or of `target_table`, or the model name (see
/// `output::superseded_by`, which matches `target_table` in full or the model name).
fn table_names(ctx: &Ctx<'_>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for m in ctx.models() {
        names.insert(m.name.clone());
        if let Some(t) = m
            .target_table
            .as_deref()
            .and_then(crate::warehouse::TableRef::parse)
        {
            names.insert(t.table);
        }
        if let Some(t) = ctx.prov_for(m.index).and_then(ProvRow::target) {
            names.insert(t.table);
        }
    }
    names
}

/// Step 2 and the decoding the joins need: the run record, then its provenance and artifact
/// rows (bad rows are checks), then the provenance-to-model joins.
pub(crate) fn load(ctx: &mut Ctx<'_>, rows: &RunRows) {
    // 2. Who and when.
    who::check_run(
        ctx,
        rows.run_bytes.as_deref(),
        !rows.artifacts.is_empty() || !rows.provs.is_empty(),
    );
    provenance::load(ctx, &rows.provs);
    artifacts::load(ctx, &rows.artifacts);
    join_models(ctx);
}

/// Steps 3 to 6 on a loaded run: code, output, artifacts, provenance.
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn check_loaded(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    // 3. Code.
    if !ctx.hooks.skip_code {
        code::check(ctx);
    }
    // 4. Output.
    output::check(ctx, ledger)?;
    // 5. Artifacts, their columns (`output_column_hashes`, consumed hashes) and, with
    // `--lake`, the tables' Delta logs.
    artifacts::check(ctx);
    columns::check(ctx, ledger)?;
    delta::check(ctx, ledger)?;
    // 6. Provenance.
    provenance::check(ctx, ledger)
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

/// Who produced each hash this run's checks ask about: the run's own artifacts (for refcounts)
/// and its provenance upstreams (the one-hop check). A producer is an `output_artifacts` row
/// whose JSON `blake3_hash` equals the hash, exact string equality: Rocky's `refcount_for_hash`
/// (spec/ledger.md section 6). Keys are never trusted to name the hash.
///
/// With `full_scan`, every row of the table is read, so the lists are complete and refcounts
/// exact. Without it, this run's own rows count, and each upstream is searched for from this
/// run's key backwards (producers run before their consumers, and run ids sort by start time),
/// then forwards, stopping once every upstream has a producer. An upstream that has none is
/// therefore only ever reported after the whole table was read.
pub(crate) fn producers_of(
    ledger: &Ledger,
    run_id: &str,
    artifact_rows: &[(String, Vec<u8>)],
    prov_rows: &[(String, Vec<u8>)],
    full_scan: bool,
) -> Result<Producers, VerifyError> {
    let mut own = BTreeSet::new();
    for (_, bytes) in artifact_rows {
        if let Some(h) = decode::value(bytes).and_then(|v| view::str_field(&v, "blake3_hash")) {
            own.insert(h);
        }
    }
    let mut upstream = BTreeSet::new();
    for (_, bytes) in prov_rows {
        let Some(v) = decode::value(bytes) else {
            continue;
        };
        for up in v
            .get("upstreams")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(h) = view::str_field(up, "blake3_hash") {
                upstream.insert(h);
            }
        }
    }
    let mut out = Producers {
        by_hash: BTreeMap::new(),
        counted: full_scan,
    };
    if full_scan {
        let wanted: BTreeSet<String> = own.union(&upstream).cloned().collect();
        if !wanted.is_empty() {
            let filter = ledger::StringFilter::new(&wanted);
            ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |key, bytes| {
                if let Some(h) = named_hash(&filter, bytes) {
                    out.by_hash.entry(h).or_default().push(artifact_owner(key));
                }
                true
            })?;
        }
        return Ok(out);
    }
    for (key, bytes) in artifact_rows {
        if let Some(h) = decode::value(bytes).and_then(|v| view::str_field(&v, "blake3_hash")) {
            out.by_hash.entry(h).or_default().push(artifact_owner(key));
        }
    }
    let mut missing: BTreeSet<String> = upstream
        .into_iter()
        .filter(|h| !out.by_hash.contains_key(h))
        .collect();
    // Backwards from just before this run's rows, then forwards from just after them ('}'
    // follows '|'), so this run's own rows, counted above, are not read twice.
    for (start, backwards) in [(format!("{run_id}|"), true), (format!("{run_id}}}"), false)] {
        if missing.is_empty() {
            break;
        }
        let mut filter = ledger::StringFilter::new(&missing);
        ledger.visit(
            ledger::OUTPUT_ARTIFACTS,
            Some(&start),
            backwards,
            |key, bytes| {
                if let Some(h) = named_hash(&filter, bytes) {
                    out.by_hash
                        .entry(h.clone())
                        .or_default()
                        .push(artifact_owner(key));
                    missing.remove(&h);
                    filter = ledger::StringFilter::new(&missing);
                }
                !missing.is_empty()
            },
        )?;
    }
    Ok(out)
}

/// The wanted hash an `ArtifactRecord` value names in `blake3_hash` (exact string equality after
/// decoding, as Rocky's `refcount_for_hash`); values that cannot name one are not decoded.
fn named_hash(filter: &ledger::StringFilter, bytes: &[u8]) -> Option<String> {
    if !filter.may_contain(bytes) {
        return None;
    }
    decode::value(bytes)
        .and_then(|v| view::str_field(&v, "blake3_hash"))
        .filter(|h| filter.wants(h))
}

/// `(run_id, model_name)` from an `output_artifacts` key; a key that does not split (not a
/// Rocky key) is kept whole as the run.
fn artifact_owner(key: &str) -> (String, String) {
    ledger::split_artifact_key(key).map_or_else(
        || (key.to_owned(), String::new()),
        |(run, model, _)| (run.to_owned(), model.to_owned()),
    )
}

/// Joins each provenance row to the model execution it describes: by rocky-writer's
/// `target_table`, else by the IR target's table name (ModelExecution.model_name is the table).
fn join_models(ctx: &mut Ctx<'_>) {
    let mut map = BTreeMap::new();
    for (pi, p) in ctx.provs.iter().enumerate() {
        let Some(target) = p.target() else { continue };
        let full = target.to_string();
        let models = ctx.models();
        let hit = models
            .iter()
            .find(|m| m.target_table.as_deref() == Some(full.as_str()))
            .or_else(|| {
                models
                    .iter()
                    .find(|m| m.target_table.is_none() && m.name == target.table && !m.failed())
            });
        if let Some(m) = hit {
            map.entry(m.index).or_insert(pi);
        }
    }
    ctx.prov_of_model = map;
}

fn summarize(ctx: &mut Ctx<'_>) {
    summarize_checks(ctx.report);
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
}

/// The "what this verified" lines for the kinds of check that passed, and one "not verified"
/// line per kind of check that was unknown or unverifiable.
pub(crate) fn summarize_checks(r: &mut Report) {
    for check in CheckId::ALL {
        // One line per meaning: a check's passes at different proof levels may say different
        // things (CheckId::verified_line_at), in the order they first appear.
        let mut lines: Vec<(&str, usize)> = Vec::new();
        for c in r
            .checks
            .iter()
            .filter(|c| c.check == *check && c.outcome == Outcome::Pass)
        {
            let Some(line) = check.verified_line_at(c.proof) else {
                continue;
            };
            match lines.iter_mut().find(|(l, _)| *l == line) {
                Some((_, n)) => *n += 1,
                None => lines.push((line, 1)),
            }
        }
        for (line, n) in lines {
            r.verified.push(format!("{line} ({n} check(s))"));
        }
    }
    // Every claim that could not be checked or is unverifiable by design, once per kind.
    let mut seen = std::collections::BTreeSet::new();
    let mut lines = Vec::new();
    for c in r
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Unverifiable | Outcome::Unknown))
    {
        if seen.insert((c.check, c.code)) {
            let n = r
                .checks
                .iter()
                .filter(|o| o.check == c.check && o.code == c.code && o.outcome == c.outcome)
                .count();
            let reason = c.reason.as_deref().unwrap_or("");
            let kind = if c.outcome == Outcome::Unknown {
                "could not check"
            } else {
                "unverifiable"
            };
            lines.push(format!("{} ({n}, {kind}): {reason}", c.check));
        }
    }
    r.not_verified.extend(lines);
}

/// The JSON value of an optional string (for `expected` / `actual`).
pub(crate) fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
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
