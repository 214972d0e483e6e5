//! Consistency of one run's records with each other (issue 16): what the evidence can expose
//! when a single field of one record is edited while every hash inside that record still
//! recomputes.
//!
//! Each rule here is one Rocky makes true by construction (the reference is cited at each);
//! where Rocky's semantics leave a relation open, the check passes, says nothing, or is
//! `unverifiable` with the reason, never `fail`.
//!
//! - `run.status`: `RunStatus` against the entries (`derive_run_status`).
//! - `run.models`: no success entry recorded twice.
//! - `run.target`: `target_catalog` against the provenance targets.
//! - `run.records_window`: `written_at` / `recorded_at` inside the run's window.
//! - `artifact.execution`: each artifact row joins to a successful execution, `bytes_written`.
//! - `artifact.commit_version`: a table's Delta version does not go back in a later run.
//! - `provenance.output_path`, `provenance.proof_rule`, `provenance.present`.
//! - `ledger.input_index` for this run's provenance rows (the gate checks the whole table in
//!   [`super::tables`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::view::{self, ModelView, ProvRow, Upstream};
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::ledger::{self, Ledger};
use crate::report::{Check, Proof, Subject};

/// Clock slack for "recorded inside the run's window": the run's times and a row's time come
/// from the same process's wall clock (`Utc::now()`), which NTP may step by a little.
const SLACK_MS: i64 = 1000;

/// The consistency checks of one loaded run.
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn check(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let prefix = format!("{}|", ctx.run_id);
    if ctx.run_id.contains('|') {
        return Ok(());
    }
    let artifacts: Vec<(String, Value)> = ledger
        .rows(ledger::OUTPUT_ARTIFACTS, &prefix)?
        .into_iter()
        .filter_map(|(k, b)| Some((k, decode::value(&b).filter(Value::is_object)?)))
        .collect();
    let gate = ctx.hooks.scope.is_some();

    if ctx.run.is_some() {
        run_status(ctx);
        run_models(ctx);
        run_target(ctx);
    }
    records_window(ctx, ledger, &artifacts)?;
    artifact_execution(ctx, &artifacts);
    provenance_rules(ctx, &artifacts);
    provenance_present(ctx, ledger)?;
    // The gate checks the whole input_index and every table's versions once, ledger-wide.
    if !gate {
        index_of_run(ctx, ledger)?;
        // What needs other runs' rows is read only with the full scan, and reports only
        // findings, so `--no-ledger-scan` runs the same checks with the same verdicts on a
        // consistent ledger.
        if ctx.opts.ledger_scan {
            commit_versions(ctx, ledger, &artifacts)?;
            index_naming_run(ctx, ledger)?;
        }
    }
    Ok(())
}

/// `run.status`: Rocky derives the status from its tallies (`RunOutput::derive_run_status`):
/// `Success` when nothing failed and the run was not interrupted, `Failure` when something did
/// and nothing was built, `PartialFailure` otherwise. Every `failed` entry comes from an error
/// that also counted a failed table, and every `success` entry is a materialization (progress).
/// So `Success` has no `failed` entry and `Failure` no `success` entry; `PartialFailure` fits
/// any mix (an interrupt, or replicated tables that have no entries).
fn run_status(ctx: &mut Ctx<'_>) {
    let Some(run) = ctx.run.as_ref() else { return };
    let Some(status) = run.status.clone() else {
        return;
    };
    let ok = run.models.iter().filter(|m| is_success(m)).count();
    let failed = run.models.iter().filter(|m| m.failed()).count();
    let subject = Subject::run(&ctx.run_id);
    let actual = json!({"status": status, "success_entries": ok, "failed_entries": failed});
    let bad = match status.as_str() {
        "Success" if failed > 0 => Some(format!(
            "status Success but {failed} model execution(s) failed: Rocky records Success only \
             when no table failed"
        )),
        "Failure" if ok > 0 => Some(format!(
            "status Failure but {ok} model execution(s) succeeded: Rocky records Failure only \
             when nothing was built"
        )),
        "Success" | "Failure" | "PartialFailure" => None,
        // The skipped statuses are written by paths that build nothing; no rule to apply.
        _ => return,
    };
    ctx.report.push(match bad {
        Some(msg) => Check::fail(
            CheckId::RunStatus,
            subject,
            Code::RunStatusMismatch,
            Proof::Recomputed,
            Value::Null,
            actual,
            msg,
        ),
        None => Check::pass(
            CheckId::RunStatus,
            subject,
            Proof::Recomputed,
            Value::Null,
            actual,
            format!("status {status} agrees with {ok} success and {failed} failed entries"),
        ),
    });
}

fn is_success(m: &ModelView) -> bool {
    m.status.as_deref() == Some("success")
}

/// `run.models`: a success entry is one materialization; a partitioned model has one per
/// partition, each with its own times. Two success entries with the same name and the same
/// start and finish are one entry recorded twice. (Failed entries repeat legitimately: a model
/// with several compile diagnostics gets one per diagnostic, all with the run's window.)
fn run_models(ctx: &mut Ctx<'_>) {
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut dups = Vec::new();
    for m in ctx.models().iter().filter(|m| is_success(m)) {
        let (Some((s, _)), Some((f, _))) = (&m.started, &m.finished) else {
            continue;
        };
        let key = (m.name.clone(), s.clone(), f.clone());
        if let Some(first) = seen.insert(key, m.index) {
            dups.push((first, m.index, m.name.clone()));
        }
    }
    // rocky-writer records `model_name` as its `target_table`'s table (Rocky's rule: the entry
    // names the table); an entry whose two names differ was renamed.
    let mut renamed = Vec::new();
    for m in ctx.models() {
        if let Some(t) = m
            .target_table
            .as_deref()
            .and_then(crate::evidence::warehouse::TableRef::parse)
            && t.table != m.name
        {
            renamed.push((m.name.clone(), t.to_string()));
        }
    }
    for (name, table) in &renamed {
        ctx.report.push(Check::fail(
            CheckId::RunModels,
            Subject::model(&ctx.run_id, name),
            Code::ModelExecutionUnexpected,
            Proof::Recomputed,
            json!(table),
            json!(name),
            format!(
                "the execution is named {name} but its target_table is {table}: the entry \
                 names the table it wrote"
            ),
        ));
    }
    let n = ctx.models().iter().filter(|m| is_success(m)).count();
    if dups.is_empty() && renamed.is_empty() {
        if n > 0 {
            ctx.report.push(Check::pass(
                CheckId::RunModels,
                Subject::run(&ctx.run_id),
                Proof::Recomputed,
                Value::Null,
                json!(n),
                format!("{n} success entries, none recorded twice"),
            ));
        }
        return;
    }
    if dups.is_empty() {
        return;
    }
    for (first, again, name) in dups {
        ctx.report.push(Check::fail(
            CheckId::RunModels,
            Subject::model(&ctx.run_id, &name),
            Code::ModelExecutionUnexpected,
            Proof::Recomputed,
            Value::Null,
            json!([first, again]),
            format!(
                "models_executed[{again}] repeats models_executed[{first}] ({name}, same start \
                 and finish): one execution recorded twice"
            ),
        ));
    }
}

/// `run.target`: when the run records a `target_catalog` and its provenance (or rocky-writer's
/// `target_table`) names targets, at least one of them is in that catalog. Nothing is said
/// when either side is absent (Rocky's transformation runs record `null`).
fn run_target(ctx: &mut Ctx<'_>) {
    let Some(catalog) = ctx.run.as_ref().and_then(|r| r.target_catalog.clone()) else {
        return;
    };
    // A pipeline's catalog template (`{source}`) is not a catalog name to compare.
    if catalog.contains('{') {
        return;
    }
    let mut targets: BTreeSet<String> = ctx
        .provs
        .iter()
        .filter_map(|p| p.target().map(|t| t.catalog))
        .collect();
    for m in ctx.models() {
        if let Some(t) = m
            .target_table
            .as_deref()
            .and_then(crate::evidence::warehouse::TableRef::parse)
        {
            targets.insert(t.catalog);
        }
    }
    if targets.is_empty() {
        return;
    }
    let subject = Subject::run(&ctx.run_id);
    ctx.report.push(if targets.contains(&catalog) {
        Check::pass(
            CheckId::RunTarget,
            subject,
            Proof::Recomputed,
            json!(targets),
            json!(catalog),
            "target_catalog is the catalog of the run's recorded targets",
        )
    } else {
        Check::fail(
            CheckId::RunTarget,
            subject,
            Code::TargetCatalogMismatch,
            Proof::Recomputed,
            json!(targets),
            json!(catalog),
            format!(
                "target_catalog {catalog:?} is none of the catalogs the run's provenance and \
                 targets name"
            ),
        )
    });
}

/// The run's window, widened by the clock slack.
fn window(ctx: &Ctx<'_>) -> Option<(DateTime<Utc>, DateTime<Utc>, String, String)> {
    let run = ctx.run.as_ref()?;
    let (s_text, s) = run.started.clone()?;
    let (f_text, f) = run.finished.clone()?;
    let slack = TimeDelta::milliseconds(SLACK_MS);
    Some((s - slack, f + slack, s_text, f_text))
}

/// `run.records_window`: Rocky records every artifact row, the provenance and index rows and
/// then the run record (at finalize, `finished_at = Utc::now()`), all after the run started
/// (spec/ledger.md section 5). So each `written_at` / `recorded_at` lies in the window.
fn records_window(
    ctx: &mut Ctx<'_>,
    ledger: &Ledger,
    artifacts: &[(String, Value)],
) -> Result<(), VerifyError> {
    let Some((lo, hi, s_text, f_text)) = window(ctx) else {
        return Ok(());
    };
    // An inverted window is run.window's finding; nothing lies inside it.
    if ctx
        .run
        .as_ref()
        .is_some_and(|r| matches!((&r.started, &r.finished), (Some(s), Some(f)) if s.1 > f.1))
    {
        return Ok(());
    }
    let mut times: Vec<(String, &'static str, String, String)> = Vec::new();
    for (_, a) in artifacts {
        let model = view::str_field(a, "model_name").unwrap_or_default();
        if let Some(t) = view::str_field(a, "written_at") {
            times.push((model, "output_artifacts written_at", t, String::new()));
        }
    }
    for p in &ctx.provs {
        times.push((
            p.model_name.clone(),
            "input_provenance recorded_at",
            p.record.recorded_at.text.clone(),
            String::new(),
        ));
        if let Some(bytes) = ledger.get(ledger::INPUT_INDEX, &p.record.input_hash)?
            && let Ok(e) = crate::model::records::decode_input_index_entry(&bytes)
            && e.run_id == ctx.run_id
        {
            times.push((
                e.model_name.clone(),
                "input_index recorded_at",
                e.recorded_at.text.clone(),
                p.record.input_hash.clone(),
            ));
        }
    }
    if times.is_empty() {
        return Ok(());
    }
    let mut bad = 0usize;
    for (model, what, text, _) in &times {
        if !ctx.project_in_scope(model) {
            continue;
        }
        let Some(t) = view::parse_ts(text) else {
            continue; // the record check reports an unreadable timestamp
        };
        if t < lo || t > hi {
            bad += 1;
            ctx.report.push(Check::fail(
                CheckId::RunRecordsWindow,
                Subject::model(&ctx.run_id, model),
                Code::RecordWindowInvalid,
                Proof::Recomputed,
                json!({"started_at": s_text, "finished_at": f_text}),
                json!(text),
                format!(
                    "{what} {text} is outside the run's window: Rocky records the row during \
                     the run, before the run record"
                ),
            ));
        }
    }
    if bad == 0 {
        ctx.report.push(Check::pass(
            CheckId::RunRecordsWindow,
            Subject::run(&ctx.run_id),
            Proof::Recomputed,
            json!({"started_at": s_text, "finished_at": f_text}),
            json!(times.len()),
            format!(
                "{} row time(s) (artifact written_at, provenance and index recorded_at) lie in \
                 the run's window",
                times.len()
            ),
        ));
    }
    Ok(())
}

/// How an artifact row's project model name maps to an execution.
enum Join {
    Found(usize),
    /// No execution of the run can be it; the reason.
    None(String),
    /// Cannot tell; the reason.
    Unknown(String),
}

fn join_artifact(ctx: &Ctx<'_>, project: &str) -> Join {
    let models = ctx.models();
    if let Some(i) = ctx.model_for_project_name(project) {
        return Join::Found(i);
    }
    // rocky-writer's extension: target_table `catalog.schema.<project>`.
    if let Some(m) = models.iter().find(|m| {
        is_success(m)
            && m.target_table
                .as_deref()
                .and_then(crate::evidence::warehouse::TableRef::parse)
                .is_some_and(|t| t.table == project)
    }) {
        return Join::Found(m.index);
    }
    if !models.iter().any(is_success) {
        return Join::None("the run has no successful model execution".to_owned());
    }
    // rocky-writer's executions all name their table: none of them is this one.
    if models
        .iter()
        .filter(|m| is_success(m))
        .all(|m| m.target_table.is_some())
    {
        return Join::None(format!(
            "no successful execution's target_table is a table named {project}"
        ));
    }
    // The project at the run's commit maps the model name to its table.
    if let Some(p) = ctx.rocky_project()
        && let Ok(project_at) = &p.loaded
    {
        let tables: Vec<&str> = project_at
            .models
            .iter()
            .filter(|m| m.name == project)
            .map(|m| m.target.table.as_str())
            .collect();
        if let Some(&t) = tables.first() {
            return match models.iter().find(|m| is_success(m) && m.name == t) {
                Some(m) => Join::Found(m.index),
                None => Join::None(format!(
                    "the project at the commit gives model {project} the table {t}, which no \
                     successful execution of the run names"
                )),
            };
        }
    }
    Join::Unknown(format!(
        "no execution is named {project} and no provenance or project at the commit maps the \
         model name to its table"
    ))
}

/// `artifact.execution`: Rocky records an artifact row only after a content-addressed write
/// succeeded, and records that materialization's Parquet size as `bytes_written` (reference
/// 4.2, 4.3). A reuse run records a fresh row of the same file: its execution's `bytes_written`
/// is then the same size.
fn artifact_execution(ctx: &mut Ctx<'_>, artifacts: &[(String, Value)]) {
    if ctx.run.is_none() {
        return; // who.rs reports the missing run record
    }
    for (_, a) in artifacts {
        let project = view::str_field(a, "model_name").unwrap_or_default();
        if !ctx.project_in_scope(&project) {
            continue;
        }
        let hash = view::str_field(a, "blake3_hash").unwrap_or_default();
        let size = view::u64_field(a, "size_bytes");
        // rocky-writer records the sum of a model's outputs as its bytes_written.
        let total: Option<u64> = artifacts
            .iter()
            .filter(|(_, b)| view::str_field(b, "model_name").as_deref() == Some(project.as_str()))
            .map(|(_, b)| view::u64_field(b, "size_bytes"))
            .sum();
        let subject = Subject::model(&ctx.run_id, &project).with_artifact(&hash);
        let check = match join_artifact(ctx, &project) {
            Join::None(why) => Check::fail(
                CheckId::ArtifactExecution,
                subject,
                Code::ArtifactExecutionMissing,
                Proof::Recomputed,
                Value::Null,
                json!(project),
                format!("an artifact row of {project} names no execution of the run: {why}"),
            ),
            Join::Unknown(why) => Check::unknown(
                CheckId::ArtifactExecution,
                subject,
                Code::ArtifactExecutionMissing,
                Proof::Recomputed,
                why,
            ),
            Join::Found(i) => {
                let m = &ctx.models()[i];
                // A partitioned model has one entry per partition; Rocky records only the last
                // group's artifact, so any of its entries may be the one.
                let sizes: Vec<Option<u64>> = ctx
                    .models()
                    .iter()
                    .filter(|x| x.name == m.name && is_success(x))
                    .map(|x| x.bytes_written)
                    .collect();
                let name = m.name.clone();
                if sizes
                    .iter()
                    .any(|b| b.is_some() && (*b == size || *b == total))
                {
                    Check::pass(
                        CheckId::ArtifactExecution,
                        subject,
                        Proof::Recomputed,
                        json!(size),
                        json!(size),
                        format!(
                            "the row joins to execution {name}, whose bytes_written is the \
                             row's size_bytes"
                        ),
                    )
                } else if sizes.iter().all(Option::is_none) {
                    Check::unverifiable(
                        CheckId::ArtifactExecution,
                        subject,
                        Code::BytesWrittenMismatch,
                        Proof::Unverifiable,
                        json!(size),
                        format!(
                            "execution {name} records no bytes_written to compare with the \
                             row's size_bytes"
                        ),
                    )
                } else {
                    Check::fail(
                        CheckId::ArtifactExecution,
                        subject,
                        Code::BytesWrittenMismatch,
                        Proof::Recomputed,
                        json!(size),
                        json!(sizes),
                        format!(
                            "execution {name} records bytes_written {sizes:?}, not the \
                             artifact row's size_bytes {size:?}: Rocky records the Parquet \
                             size in both"
                        ),
                    )
                }
            }
        };
        ctx.report.push(check);
    }
}

/// `provenance.output_path` and `provenance.proof_rule`, both from `build_records` in Rocky's
/// reuse.rs: `output_path` and `output_blake3` are built from the same output list (so each
/// path is the artifact row's `file_path` of that hash), and `proof_class` is
/// `proof_class_for(upstreams)`: `strong` iff every upstream is `content`.
fn provenance_rules(ctx: &mut Ctx<'_>, artifacts: &[(String, Value)]) {
    let provs: Vec<ProvRow> = ctx.provs.clone();
    for p in &provs {
        if !ctx.project_in_scope(&p.model_name) {
            continue;
        }
        let subject = Subject::model(&ctx.run_id, &p.model_name);
        let want = if p
            .upstreams
            .iter()
            .all(|u| matches!(u, Upstream::Content { .. }))
            && p.record.upstreams.len() == p.upstreams.len()
        {
            "strong"
        } else {
            "heuristic"
        };
        let got = p.record.proof_class.as_str();
        ctx.report.push(if got == want {
            Check::pass(
                CheckId::ProvenanceProofRule,
                subject.clone(),
                Proof::Recomputed,
                json!(want),
                json!(got),
                format!("proof_class {got} is the minimum over the upstream kinds"),
            )
        } else {
            Check::fail(
                CheckId::ProvenanceProofRule,
                subject.clone(),
                Code::ProofClassMismatch,
                Proof::Recomputed,
                json!(want),
                json!(got),
                format!(
                    "proof_class {got}, but the upstreams give {want} (strong iff every \
                     upstream is content)"
                ),
            )
        });

        // output_path, position for position, against this run's artifact rows of the model.
        let paths = &p.record.output_path;
        if paths.is_empty() && p.output_blake3.is_empty() {
            continue;
        }
        let mut bad = Vec::new();
        if paths.len() != p.output_blake3.len() {
            bad.push(format!(
                "{} output_path entries for {} output_blake3 entries",
                paths.len(),
                p.output_blake3.len()
            ));
        }
        for (h, path) in p.output_blake3.iter().zip(paths) {
            let rows: Vec<String> = artifacts
                .iter()
                .filter(|(_, a)| {
                    view::str_field(a, "model_name").as_deref() == Some(p.model_name.as_str())
                        && view::str_field(a, "blake3_hash").as_deref() == Some(h.as_str())
                })
                .filter_map(|(_, a)| view::str_field(a, "file_path"))
                .collect();
            // No artifact row: provenance.outputs already reports the missing output.
            if !rows.is_empty() && !rows.contains(path) {
                bad.push(format!(
                    "output_path {path:?} for {h} is not the artifact row's file_path {:?}",
                    rows[0]
                ));
            }
        }
        ctx.report.push(if bad.is_empty() {
            Check::pass(
                CheckId::ProvenanceOutputPath,
                subject,
                Proof::Recomputed,
                Value::Null,
                json!(paths),
                "output_path names the artifact rows' file_path of each output",
            )
        } else {
            Check::fail(
                CheckId::ProvenanceOutputPath,
                subject,
                Code::ProvenancePathMismatch,
                Proof::Recomputed,
                Value::Null,
                json!(paths),
                bad.join("; "),
            )
        });
    }
}

/// Whether the ledger was written by rocky-writer (`metadata.producer`), whose runs record a
/// provenance row for every content-addressed model once reuse recording is on.
pub(crate) fn writer_ledger(ledger: &Ledger) -> bool {
    ledger
        .info
        .producer
        .as_deref()
        .is_some_and(|p| p.starts_with("rocky-writer/"))
}

/// `provenance.present`: a successful content-addressed execution with recipe fields and a
/// `skip_hash`. rocky-writer records its provenance whenever the run recorded any (reuse
/// recording on; a model whose IR does not canonicalise has no `skip_hash` and no row); Rocky only for unpartitioned models whose read set resolves to content hashes
/// and with `[reuse] enabled`, so for Rocky a missing row is unverifiable, with the reason.
/// (A deleted row whose `input_index` entry stays is `ledger.input_index`'s finding.)
fn provenance_present(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    if ctx.run.is_none() {
        return Ok(());
    }
    let joined: BTreeSet<usize> = ctx.prov_of_model.keys().copied().collect();
    let writer = writer_ledger(ledger);
    let recording = !ctx.provs.is_empty();
    let candidates: Vec<(usize, String)> = ctx
        .models()
        .iter()
        .filter(|m| is_success(m) && m.recipe_hash.is_some() && m.skip_hash.is_some())
        .filter(|m| {
            m.materialization.as_deref() == Some("content_addressed")
                || (m.materialization.is_none() && m.rows_affected.is_some())
        })
        .filter(|m| ctx.in_scope(m))
        .map(|m| (m.index, m.name.clone()))
        .collect();
    for (i, name) in candidates {
        let subject = Subject::model(&ctx.run_id, &name);
        if joined.contains(&i) {
            ctx.report.push(Check::pass(
                CheckId::ProvenancePresent,
                subject,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                "the content-addressed execution has its provenance row",
            ));
        } else if writer && recording {
            ctx.report.push(Check::fail(
                CheckId::ProvenancePresent,
                subject,
                Code::ProvenanceRecordMissing,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                "rocky-writer recorded provenance for this run but none for this \
                 content-addressed execution (a deleted input_provenance row)",
            ));
        } else {
            ctx.report.push(Check::unverifiable(
                CheckId::ProvenancePresent,
                subject,
                Code::ProvenanceRecordMissing,
                Proof::Unverifiable,
                Value::Null,
                if writer {
                    "the run recorded no provenance (reuse recording off)".to_owned()
                } else {
                    "no provenance row: Rocky records one only with [reuse] enabled, for \
                     unpartitioned models whose inputs all resolve to content hashes"
                        .to_owned()
                },
            ));
        }
    }
    Ok(())
}

/// `ledger.input_index` for this run's provenance rows: the entry under each row's
/// `input_hash` exists (`build_records` makes both, one transaction writes both, a later build
/// overwrites under the same key) and, when it names this row, repeats its fields.
fn index_of_run(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let provs: Vec<ProvRow> = ctx.provs.clone();
    for p in &provs {
        let subject = Subject::model(&ctx.run_id, &p.model_name);
        let key = p.record.input_hash.clone();
        let entry = match ledger.get(ledger::INPUT_INDEX, &key)? {
            None => {
                ctx.report.push(Check::fail(
                    CheckId::LedgerInputIndex,
                    subject,
                    Code::InputIndexEntryMissing,
                    Proof::Recomputed,
                    json!(key),
                    Value::Null,
                    "no input_index entry under the provenance row's input_hash: Rocky writes \
                     the entry with the row and never deletes it",
                ));
                continue;
            }
            Some(bytes) => match crate::model::records::decode_input_index_entry(&bytes) {
                Ok(e) => e,
                Err(_) => continue, // provenance.index reports an entry that does not decode
            },
        };
        if entry.run_id != ctx.run_id || entry.model_name != p.model_name {
            // A later build with the same input_hash overwrote the entry: its own provenance row
            // must exist with that input_hash.
            let other = format!("{}|{}", entry.run_id, entry.model_name);
            let ok = ledger
                .get(ledger::INPUT_PROVENANCE, &other)?
                .and_then(|b| decode::value(&b))
                .and_then(|v| view::str_field(&v, "input_hash"))
                .is_some_and(|h| h == key);
            ctx.report.push(if ok {
                Check::pass(
                    CheckId::LedgerInputIndex,
                    subject,
                    Proof::Recomputed,
                    json!(key),
                    json!(other),
                    format!(
                        "the input_index entry names a later build ({other}) of the same input_hash"
                    ),
                )
            } else {
                Check::fail(
                    CheckId::LedgerInputIndex,
                    subject,
                    Code::InputIndexMismatch,
                    Proof::Recomputed,
                    json!(format!("{}|{}", ctx.run_id, p.model_name)),
                    json!(other),
                    format!(
                        "the input_index entry under this row's input_hash names {other}, which \
                         has no provenance row with that input_hash"
                    ),
                )
            });
            continue;
        }
        let diffs = index_diffs(&key, &entry, &p.record);
        ctx.report.push(index_check(subject, &key, diffs));
    }
    Ok(())
}

/// The fields an entry and the provenance row it names both copy from `build_records`, where
/// they differ.
pub(crate) fn index_diffs(
    key: &str,
    e: &crate::model::records::InputIndexEntry,
    p: &crate::model::records::ProvenanceRecord,
) -> Vec<String> {
    let mut d = Vec::new();
    if e.input_hash != key {
        d.push(format!(
            "the entry's input_hash {} is not its key",
            e.input_hash
        ));
    }
    if p.input_hash != key {
        d.push(format!(
            "the provenance row's input_hash {} is not the key",
            p.input_hash
        ));
    }
    if e.run_id != p.run_id || e.model_name != p.model_name {
        d.push("run_id / model_name".to_owned());
    }
    if e.output_blake3 != p.output_blake3 {
        d.push("output_blake3".to_owned());
    }
    if e.output_path != p.output_path {
        d.push("output_path".to_owned());
    }
    if e.proof_class != p.proof_class {
        d.push(format!(
            "proof_class {} vs the provenance row's {}",
            e.proof_class, p.proof_class
        ));
    }
    if e.recorded_at.utc != p.recorded_at.utc {
        d.push("recorded_at".to_owned());
    }
    d
}

/// The check for one entry against its provenance row.
pub(crate) fn index_check(subject: Subject, key: &str, diffs: Vec<String>) -> Check {
    if diffs.is_empty() {
        Check::pass(
            CheckId::LedgerInputIndex,
            subject,
            Proof::Recomputed,
            json!(key),
            json!(key),
            "the input_index entry repeats its provenance row (key, run, model, outputs, paths, \
             proof class, time)",
        )
    } else {
        Check::fail(
            CheckId::LedgerInputIndex,
            subject,
            Code::InputIndexMismatch,
            Proof::Recomputed,
            json!(key),
            json!(diffs),
            format!(
                "the input_index entry {key} and its provenance row differ: {}",
                diffs.join("; ")
            ),
        )
    }
}

/// The table an artifact row writes: the folder of its `file_path` (Rocky: the table's
/// `key_prefix`; rocky-writer: `artifacts/`, with `commit_version` always 0), with the model.
pub(crate) fn table_of(a: &Value) -> Option<(String, String)> {
    let model = view::str_field(a, "model_name")?;
    let path = view::str_field(a, "file_path")?;
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
    Some((model, dir))
}

/// Another run's `(run_id, (model, table folder), commit_version)`.
pub(crate) type OtherVersion = (String, (String, String), u64);

/// The [`OtherVersion`] an `output_artifacts` row (`key`, `bytes`) gives the commit-version
/// check of run `run_id`: a row of another run, for one of `models` (the models that run wrote).
pub(crate) fn other_version<S: std::borrow::Borrow<str> + Ord>(
    run_id: &str,
    models: &BTreeSet<S>,
    key: &str,
    bytes: &[u8],
) -> Option<OtherVersion> {
    let (run, model, _) = ledger::split_artifact_key(key)?;
    if run == run_id || !models.contains(model) {
        return None;
    }
    let (t, c) = table_version(bytes)?;
    Some((run.to_owned(), t, c))
}

/// [`table_of`] and `commit_version` of an `output_artifacts` value, read without building the
/// whole JSON tree: this runs on every artifact row of the ledger (300k on a 100k-run ledger).
/// Whatever does not read as those three fields with those types is skipped, as with `Value`.
fn table_version(bytes: &[u8]) -> Option<((String, String), u64)> {
    #[derive(serde::Deserialize)]
    struct Slim<'a> {
        #[serde(borrow)]
        model_name: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        file_path: std::borrow::Cow<'a, str>,
        commit_version: u64,
    }
    let a: Slim<'_> = serde_json::from_slice(bytes).ok()?;
    let dir = a
        .file_path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .to_owned();
    Some(((a.model_name.into_owned(), dir), a.commit_version))
}

/// `artifact.commit_version`: each Rocky write appends a Delta commit to the table's log, so
/// a later run's row for the same table never has a lower version. Run ids in Rocky's
/// timestamp form sort by start time; other ids are not ordered and are skipped.
fn commit_versions(
    ctx: &mut Ctx<'_>,
    ledger: &Ledger,
    artifacts: &[(String, Value)],
) -> Result<(), VerifyError> {
    let mine: BTreeMap<(String, String), u64> = artifacts
        .iter()
        .filter_map(|(_, a)| Some((table_of(a)?, view::u64_field(a, "commit_version")?)))
        .collect();
    if mine.is_empty() || !timestamped(&ctx.run_id) {
        return Ok(());
    }
    // `run`'s full scan read them with the producers (one pass over the table); otherwise
    // they are read here.
    let others = match ctx.producers.versions.take() {
        Some(v) => v,
        None => {
            let mut others: Vec<OtherVersion> = Vec::new();
            let models: BTreeSet<&str> = mine.keys().map(|(m, _)| m.as_str()).collect();
            ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |key, bytes| {
                others.extend(other_version(&ctx.run_id, &models, key, bytes));
                true
            })?;
            others
        }
    };
    compare_versions(ctx.report, &ctx.run_id, &mine, &others, false);
    Ok(())
}

/// The `input_index` entries that name this run: each is keyed by its `input_hash`, and the
/// provenance row it names exists (Rocky writes both in one transaction; retention never
/// deletes either). Only findings are reported (see [`check`]).
fn index_naming_run(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let wanted: BTreeSet<String> = [ctx.run_id.clone()].into_iter().collect();
    let filter = ledger::StringFilter::new(&wanted);
    let mut named: Vec<(String, crate::model::records::InputIndexEntry)> = Vec::new();
    ledger.visit(ledger::INPUT_INDEX, None, false, |key, bytes| {
        if filter.may_contain(bytes)
            && let Ok(e) = crate::model::records::decode_input_index_entry(bytes)
            && e.run_id == ctx.run_id
        {
            named.push((key.to_owned(), e));
        }
        true
    })?;
    for (key, e) in named {
        let subject = Subject::model(&ctx.run_id, &e.model_name);
        let pkey = format!("{}|{}", e.run_id, e.model_name);
        let prov = ledger
            .get(ledger::INPUT_PROVENANCE, &pkey)?
            .and_then(|b| crate::model::records::decode_provenance_record(&b).ok());
        match prov {
            None => ctx.report.push(Check::fail(
                CheckId::LedgerInputIndex,
                subject,
                Code::ProvenanceRecordMissing,
                Proof::Recomputed,
                json!(pkey),
                Value::Null,
                format!(
                    "the input_index entry {key} names the provenance row {pkey}, which is not \
                     there (Rocky writes both in one transaction)"
                ),
            )),
            // Under its own input_hash the entry was compared by index_of_run.
            Some(p) if p.input_hash != key => {
                ctx.report
                    .push(index_check(subject, &key, index_diffs(&key, &e, &p)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether a run id is Rocky's timestamp form (`run-YYYYmmdd-HHMMSS-mmm`), which sorts by time.
pub(crate) fn timestamped(id: &str) -> bool {
    matches!(
        crate::model::run_id::RunIdShape::of(id),
        crate::model::run_id::RunIdShape::Timestamped { .. }
    )
}

/// One run's versions against other runs' rows of the same tables.
pub(crate) fn compare_versions(
    report: &mut crate::report::Report,
    run_id: &str,
    mine: &BTreeMap<(String, String), u64>,
    others: &[(String, (String, String), u64)],
    passes: bool,
) {
    for ((model, dir), v) in mine {
        let subject = Subject::model(run_id, model);
        let clash = others.iter().find(|(run, t, c)| {
            timestamped(run)
                && t.0 == *model
                && t.1 == *dir
                && ((run.as_str() < run_id && c > v) || (run.as_str() > run_id && c < v))
        });
        report.push(match clash {
            Some((run, _, c)) => Check::fail(
                CheckId::ArtifactCommitVersion,
                subject,
                Code::CommitVersionMismatch,
                Proof::Recomputed,
                json!(c),
                json!(v),
                format!(
                    "commit_version {v} of {model} and {run}'s {c} are out of order: a table's \
                     Delta version only grows from one run to a later one"
                ),
            ),
            None if !passes => continue,
            None => Check::pass(
                CheckId::ArtifactCommitVersion,
                subject,
                Proof::Recomputed,
                Value::Null,
                json!(v),
                format!("commit_version {v} is in order with the table's other runs"),
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Report};

    fn t(model: &str, dir: &str) -> (String, String) {
        (model.to_owned(), dir.to_owned())
    }

    fn outcomes(mine: u64, others: &[(&str, u64)]) -> Vec<(Outcome, Option<Code>)> {
        let mut r = Report::new("run", None, false);
        let mine: BTreeMap<_, _> = [(t("m", "p/m"), mine)].into_iter().collect();
        let others: Vec<_> = others
            .iter()
            .map(|(run, c)| ((*run).to_owned(), t("m", "p/m"), *c))
            .collect();
        compare_versions(&mut r, "run-20260530-110422-643", &mine, &others, true);
        r.checks.iter().map(|c| (c.outcome, c.code)).collect()
    }

    #[test]
    fn a_table_version_that_goes_back_in_a_later_run_fails() {
        // Control: versions grow with the runs.
        assert_eq!(
            outcomes(
                5,
                &[
                    ("run-20260529-090000-000", 3),
                    ("run-20260531-090000-000", 7)
                ]
            ),
            [(Outcome::Pass, None)]
        );
        // An earlier run with a higher version, or a later one with a lower version.
        let bad = [(Outcome::Fail, Some(Code::CommitVersionMismatch))];
        assert_eq!(outcomes(2, &[("run-20260529-090000-000", 3)]), bad);
        assert_eq!(outcomes(9, &[("run-20260531-090000-000", 7)]), bad);
        // Ids that do not sort by time are not compared.
        assert_eq!(
            outcomes(9, &[("run-apply-3f0c0000-0000-4000-8000-000000000000", 7)]),
            [(Outcome::Pass, None)]
        );
    }

    #[test]
    fn the_table_is_the_folder_of_the_file_path() {
        let a = json!({"model_name": "m", "file_path": "b/t/m/ab.parquet"});
        assert_eq!(table_of(&a), Some(t("m", "b/t/m")));
    }
}
