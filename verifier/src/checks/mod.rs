//! The checks: what the verifier concludes from the evidence, one module per kind of evidence.
//!
//! [`catalogue`] names every check and finding code. The engine here ([`Ctx`], [`load`],
//! [`check_loaded`]) runs the checks of one run; `run` runs it once, `gate` once per run in
//! scope. The checks read the evidence ([`crate::evidence`]) and push [`crate::report::Check`]s;
//! they never write anything.
//!
//! - [`who`]: the run record, its enums, id and time window (who and when).
//! - [`code`], [`fingerprint`], [`project`]: the commit, config and model sources in git, and
//!   Rocky's `sql_hash` recomputed from them (what code).
//! - [`signature`]: who signed the commit (`--allowed-signers`).
//! - [`warehouse`], [`row_count`]: tables, row counts and columns in the warehouse (what output).
//! - [`artifacts`], [`columns`], [`delta`]: artifact bytes, column hashes, Delta logs.
//! - [`provenance`]: input provenance rows and their joins.
//! - [`checkpoint`], [`orphans`]: what only the gate checks (history, orphan files).
//! - [`consistency`], [`tables`]: records against each other, and the tables outside one run's
//!   joins (watermarks, check history, branches, metadata, rows of no run, input_index).
//! - [`ledger_open`]: opening the ledger and binding the report to its bytes.

pub mod catalogue;

mod artifacts;
pub mod bundle;
pub(crate) mod checkpoint;
mod code;
mod columns;
pub(crate) mod consistency;
pub mod decode;
mod delta;
pub(crate) mod downgrade;
mod fingerprint;
pub(crate) mod ledger_open;
pub(crate) mod orphans;
pub(crate) mod project;
mod provenance;
mod recount;
pub(crate) mod row_count;
mod signature;
pub(crate) mod supersession;
mod table_content;
pub(crate) mod tables;
pub(crate) mod view;
pub(crate) mod warehouse;
mod who;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::checks::catalogue::CheckId;
use crate::error::VerifyError;
use crate::evidence::ledger::{self, Ledger};
use crate::evidence::warehouse::Warehouse;
use crate::plan::RunOptions;
use crate::report::{Outcome, Report};
use view::{ArtifactRow, ProvRow, RunView};

pub use ledger_open::{admit_ledger, open_ledger};
pub(crate) use ledger_open::{hashing_alongside, ledger_read_failed, record_digest};

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
    /// The runs that may have rewritten this run's tables since ([`supersession`]).
    pub writers: supersession::Writers<'a>,
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
    /// The policy's skips (`gate --policy`): a group of checks all skipped for every model in
    /// scope is not run at all.
    pub skips: Option<&'a crate::plan::Skips<'a>>,
}

/// The checks each group of the engine can emit, for [`Hooks::skips`]. Only groups nothing
/// later reads from are listed (the git checks load the project the others use).
const WAREHOUSE_CHECKS: &[CheckId] = &[
    CheckId::WarehouseOpen,
    CheckId::WarehouseTable,
    CheckId::WarehouseRowCount,
    CheckId::WarehouseColumns,
];
const COLUMN_CHECKS: &[CheckId] = &[CheckId::ColumnHashes, CheckId::ColumnConsumed];
const DELTA_CHECKS: &[CheckId] = &[CheckId::DeltaLog, CheckId::DeltaAdd, CheckId::DeltaOrphan];

/// `(run_id, model_name)` of the `output_artifacts` rows naming each hash a run's checks ask
/// about.
#[derive(Debug, Default)]
pub(crate) struct Producers {
    /// Hash to the rows whose `blake3_hash` is that hash.
    pub by_hash: BTreeMap<String, Vec<(String, String)>>,
    /// Whether `by_hash` holds every such row of the ledger (a full scan), or only this run's
    /// own rows and the first producer found of each upstream.
    pub counted: bool,
    /// `(run_id, (model, table folder), commit_version)` of every other run's row for a model
    /// this run wrote, read in the same full scan (`artifact.commit_version`); `None` when no
    /// full scan was made for this run.
    pub versions: Option<Vec<consistency::OtherVersion>>,
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
        writers: supersession::Writers<'a>,
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
            writers,
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
    // Groups the policy skips whole are not run (decided here, before they run; single checks
    // a skip names are dropped as the gate applies its policy).
    let planned_out = |ctx: &Ctx<'_>, group: &[CheckId]| {
        ctx.hooks.skips.is_some_and(|s| {
            // Every name a check of this run may carry as its model.
            let models = ctx.scope_names().unwrap_or_else(|| {
                ctx.models()
                    .iter()
                    .map(|m| m.name.clone())
                    .chain(ctx.provs.iter().map(|p| p.model_name.clone()))
                    .chain(ctx.artifacts.iter().map(|a| a.model_name.clone()))
                    .collect()
            });
            s.skips_all(group, &models)
        })
    };
    // 4. Artifacts first: the warehouse's content check compares a table with its artifact's
    // rows only once artifact.blake3 has shown the bytes are the ones recorded.
    artifacts::check(ctx);
    // 5. Output (tables, counts, columns, content).
    if !planned_out(ctx, WAREHOUSE_CHECKS) {
        warehouse::check(ctx, ledger)?;
    }
    // The artifacts' columns (`output_column_hashes`, consumed hashes) and, with `--lake`, the
    // tables' Delta logs.
    if !planned_out(ctx, COLUMN_CHECKS) {
        columns::check(ctx, ledger)?;
    }
    if !planned_out(ctx, DELTA_CHECKS) {
        delta::check(ctx, ledger)?;
    }
    // 6. Provenance.
    provenance::check(ctx, ledger)?;
    // 7. The records against each other (issue 16).
    consistency::check(ctx, ledger)
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
    let (own, upstream) = hashes_named(artifact_rows, prov_rows);
    let mut out = Producers {
        by_hash: BTreeMap::new(),
        counted: full_scan,
        versions: None,
    };
    if full_scan {
        // One pass over every row serves both ledger-wide needs of `run`: the exact producers
        // and refcounts, and the other runs' Delta versions of this run's tables.
        let wanted: BTreeSet<String> = own.union(&upstream).cloned().collect();
        let filter = ledger::StringFilter::new(&wanted);
        let models: BTreeSet<String> = artifact_rows
            .iter()
            .filter_map(|(k, _)| ledger::split_artifact_key(k).map(|(_, m, _)| m.to_owned()))
            .collect();
        let mut versions = Vec::new();
        ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |key, bytes| {
            if !wanted.is_empty()
                && let Some(h) = named_hash(&filter, bytes)
            {
                out.by_hash.entry(h).or_default().push(artifact_owner(key));
            }
            versions.extend(consistency::other_version(run_id, &models, key, bytes));
            true
        })?;
        out.versions = Some(versions);
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

/// The hashes one run's rows ask about: `(own, upstream)`, the `blake3_hash` of each of its
/// `output_artifacts` rows and of each content upstream of its `input_provenance` rows. Shared by
/// `run` ([`producers_of`]) and `gate` (which scans the table once for every run).
pub(crate) fn hashes_named(
    artifact_rows: &[(String, Vec<u8>)],
    prov_rows: &[(String, Vec<u8>)],
) -> (BTreeSet<String>, BTreeSet<String>) {
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
    (own, upstream)
}

/// Every `output_artifacts` row of the ledger, by the hash its value names: the exact producers
/// and refcounts (Rocky's `refcount_for_hash`). With a `filter`, only rows that can name one of
/// its hashes are decoded and kept.
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn scan_producers(
    ledger: &Ledger,
    filter: Option<&ledger::StringFilter>,
) -> Result<BTreeMap<String, Vec<(String, String)>>, VerifyError> {
    let mut by_hash: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |key, bytes| {
        let hash = match filter {
            Some(f) => named_hash(f, bytes),
            None => decode::value(bytes).and_then(|v| view::str_field(&v, "blake3_hash")),
        };
        if let Some(h) = hash {
            by_hash.entry(h).or_default().push(artifact_owner(key));
        }
        true
    })?;
    Ok(by_hash)
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
            // Every check that passed is listed: one without a line of its own by what it
            // establishes (the catalogue's `about`).
            let line = check.verified_line_at(c.proof).unwrap_or(check.about());
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
