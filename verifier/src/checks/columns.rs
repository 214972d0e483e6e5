//! Column-level evidence (`spec/hashes.md` section 13): each execution's
//! `output_column_hashes` recomputed from its artifact file (`column.hashes`), and each
//! downstream's `consumed_column_hashes` against the upstream build's recorded output hashes
//! (`column.consumed`): a chain of custody from one model's bytes to the columns the next one
//! read.

use serde_json::{Value, json};

use super::view::{ModelView, RunView};
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::artifact::locate;
use crate::evidence::column_hash::{self, ColumnDigest};
use crate::evidence::ledger::{self, Ledger};
use crate::report::{Check, Proof, Subject};
use crate::rocky::sql_hash::TEMPLATE_RELEASE_PREFIX;

/// The most earlier run records read back while looking for an upstream's last build.
const MAX_RUNS_BACK: usize = 10_000;

/// Both column checks for the run.
///
/// # Errors
///
/// A ledger read failure.
pub fn check(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    output_hashes(ctx);
    consumed_hashes(ctx, ledger)
}

/// Whether a column-hash mismatch can fail: the run's Rocky links the arrow-ipc whose encoding
/// is recomputed (1.71.x locks 58.4.0; `spec/hashes.md` 13.1).
fn encoding_applies(rocky_version: Option<&str>) -> bool {
    rocky_version.is_some_and(|v| v.starts_with(TEMPLATE_RELEASE_PREFIX))
}

/// `column.hashes`: every recorded list against the artifact's recomputed columns.
fn output_hashes(ctx: &mut Ctx<'_>) {
    let models: Vec<ModelView> = ctx
        .models()
        .iter()
        .filter(|m| {
            !m.failed()
                && m.output_column_hashes
                    .as_ref()
                    .is_some_and(|c| !c.is_empty())
        })
        .filter(|m| ctx.in_scope(m))
        .cloned()
        .collect();
    if models.is_empty() {
        return;
    }
    let Some(dir) = ctx.opts.artifacts.clone().filter(|d| d.is_dir()) else {
        ctx.report.not_verified.push(format!(
            "no --artifacts folder: the output_column_hashes of {} execution(s) were not recomputed",
            models.len()
        ));
        return;
    };
    let rocky_version = ctx.run.as_ref().and_then(|r| r.rocky_version.clone());
    for m in &models {
        let recorded = m.output_column_hashes.clone().unwrap_or_default();
        let subject = Subject::model(&ctx.run_id, &m.name);
        // The artifact rows of this run that belong to the execution.
        let rows: Vec<String> = ctx
            .artifacts
            .iter()
            .filter(|a| ctx.model_for_project_name(&a.model_name) == Some(m.index))
            .map(|a| a.blake3_hash.clone())
            .collect();
        let hash = match rows.as_slice() {
            [h] => h.clone(),
            [] => {
                ctx.report.push(Check::unknown(
                    CheckId::ColumnHashes,
                    subject,
                    Code::ArtifactFileMissing,
                    Proof::Recomputed,
                    "no output_artifacts row of this run joins to the execution, so there is no \
                     file to recompute its output_column_hashes from",
                ));
                continue;
            }
            _ => {
                ctx.report.push(Check::unknown(
                    CheckId::ColumnHashes,
                    subject,
                    Code::ArtifactFileMissing,
                    Proof::Recomputed,
                    format!(
                        "{} output_artifacts rows join to the execution; column hashes cover one \
                         unpartitioned file",
                        rows.len()
                    ),
                ));
                continue;
            }
        };
        let subject = subject.with_artifact(&hash);
        let Some(path) = locate(&dir, &hash).filter(|p| p.is_file()) else {
            ctx.report.push(Check::unknown(
                CheckId::ColumnHashes,
                subject,
                Code::ArtifactFileMissing,
                Proof::Recomputed,
                format!("{hash}.parquet is not in the artifacts folder"),
            ));
            continue;
        };
        let digests = match column_hash::recompute_file(&path) {
            Ok(d) => d,
            Err(e) => {
                let code = if e.is_unsupported_type() {
                    Code::ColumnTypeUnexpected
                } else {
                    Code::ArtifactParquetInvalid
                };
                ctx.report.push(Check::unknown(
                    CheckId::ColumnHashes,
                    subject,
                    code,
                    Proof::Recomputed,
                    format!("{hash}.parquet: {e}"),
                ));
                continue;
            }
        };
        judge(ctx, &subject, &recorded, &digests, rocky_version.as_deref());
    }
}

/// One execution's recorded list against the file's columns, paired by position (the file holds
/// physical names, the ledger logical ones).
fn judge(
    ctx: &mut Ctx<'_>,
    subject: &Subject,
    recorded: &[(String, String)],
    digests: &[ColumnDigest],
    rocky_version: Option<&str>,
) {
    let strict = encoding_applies(rocky_version);
    let release = rocky_version.unwrap_or("unknown");
    let mismatch =
        |ctx: &mut Ctx<'_>, subject: Subject, in_file: Value, claimed: Value, message: String| {
            ctx.report.push(if strict {
            Check::fail(
                CheckId::ColumnHashes,
                subject,
                Code::ColumnHashMismatch,
                Proof::Recomputed,
                claimed,
                in_file,
                message,
            )
        } else {
            Check::unverifiable(
                CheckId::ColumnHashes,
                subject,
                Code::ColumnHashUnexpected,
                Proof::Recomputed,
                claimed,
                format!(
                    "{message}; the run is Rocky {release}, and only 1.71.x's arrow-ipc encoding \
                     is recomputed"
                ),
            )
        });
        };
    if recorded.len() != digests.len() {
        let files: Vec<&str> = digests.iter().map(|d| d.file_name.as_str()).collect();
        let names: Vec<&str> = recorded.iter().map(|(c, _)| c.as_str()).collect();
        mismatch(
            ctx,
            subject.clone(),
            json!(files),
            json!(names),
            format!(
                "the file has {} column(s) but output_column_hashes lists {}",
                digests.len(),
                recorded.len()
            ),
        );
        return;
    }
    for ((column, hash), d) in recorded.iter().zip(digests) {
        let subject = subject.clone().with_column(column);
        if *hash == d.hash {
            ctx.report.push(Check::pass(
                CheckId::ColumnHashes,
                subject,
                Proof::Recomputed,
                json!(hash),
                json!(d.hash),
                format!(
                    "column {column:?} (file column {:?}, {}) recomputes to its recorded hash",
                    d.file_name, d.data_type
                ),
            ));
        } else {
            mismatch(
                ctx,
                subject,
                json!(d.hash),
                json!(hash),
                format!(
                    "column {column:?} (file column {:?}, {}) hashes to {}, not the recorded hash",
                    d.file_name, d.data_type, d.hash
                ),
            );
        }
    }
}

/// The upstream build a consumer's hashes are copies of.
struct Producer {
    /// `run_id/model_name`.
    who: String,
    /// Its `output_column_hashes`.
    columns: Vec<(String, String)>,
    /// Found by the bare table name only (no IR target or `target_table` to match in full).
    by_name_only: bool,
}

/// `column.consumed`: every consumed hash against the upstream build's recorded output.
fn consumed_hashes(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let consumers: Vec<ModelView> = ctx
        .models()
        .iter()
        .filter(|m| !m.consumed_column_hashes.is_empty() && ctx.in_scope(m))
        .cloned()
        .collect();
    for m in &consumers {
        for (key, consumed) in &m.consumed_column_hashes {
            let subject = Subject::model(&ctx.run_id, &m.name).with_upstream(key);
            let producer = match producer_in_run(ctx, m.index, key) {
                Found::One(p) => Some(p),
                Found::Ambiguous(n) => {
                    ctx.report.push(Check::unknown(
                        CheckId::ColumnConsumed,
                        subject,
                        Code::UpstreamColumnsMissing,
                        Proof::Recomputed,
                        format!("{n} executions of this run could be upstream {key}"),
                    ));
                    continue;
                }
                Found::None => producer_before(ctx, ledger, key)?,
            };
            let Some(p) = producer else {
                ctx.report.push(Check::unknown(
                    CheckId::ColumnConsumed,
                    subject,
                    Code::UpstreamColumnsMissing,
                    Proof::Recomputed,
                    format!(
                        "no build of upstream {key} with output_column_hashes is in the ledger \
                         (this run's or an earlier one; retention may have removed it)"
                    ),
                ));
                continue;
            };
            let proof = if p.by_name_only {
                Proof::Heuristic
            } else {
                Proof::Recomputed
            };
            for (column, hash) in consumed {
                let subject = subject.clone().with_column(column);
                let upstream = p
                    .columns
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(column));
                ctx.report.push(match upstream {
                    Some((_, h)) if h == hash => Check::pass(
                        CheckId::ColumnConsumed,
                        subject,
                        proof,
                        json!(hash),
                        json!(h),
                        format!(
                            "consumed column {column:?} is {}'s recorded output hash",
                            p.who
                        ),
                    ),
                    Some((_, h)) => Check::fail(
                        CheckId::ColumnConsumed,
                        subject,
                        Code::ConsumedHashMismatch,
                        proof,
                        json!(hash),
                        json!(h),
                        format!(
                            "consumed column {column:?} differs from {}'s recorded output hash {h}",
                            p.who
                        ),
                    ),
                    None => Check::fail(
                        CheckId::ColumnConsumed,
                        subject,
                        Code::ConsumedColumnMissing,
                        proof,
                        json!(column),
                        json!(p.columns.iter().map(|(c, _)| c).collect::<Vec<_>>()),
                        format!(
                            "{} recorded no output column {column:?}, which this execution says \
                             it consumed",
                            p.who
                        ),
                    ),
                });
            }
        }
    }
    Ok(())
}

enum Found {
    One(Producer),
    Ambiguous(usize),
    None,
}

/// The last component of `catalog.schema.table`.
fn bare(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// The upstream's build in this run: an execution with column hashes whose target is `key`
/// (provenance IR target or `target_table`), else whose table name is `key`'s last part.
fn producer_in_run(ctx: &Ctx<'_>, consumer: usize, key: &str) -> Found {
    let built: Vec<&ModelView> = ctx
        .models()
        .iter()
        .filter(|m| m.index != consumer && !m.failed() && m.output_column_hashes.is_some())
        .collect();
    let full = |m: &ModelView| {
        m.target_table.clone().or_else(|| {
            ctx.prov_for(m.index)
                .and_then(|p| p.target())
                .map(|t| t.to_string())
        })
    };
    let exact: Vec<&&ModelView> = built
        .iter()
        .filter(|m| full(m).is_some_and(|t| t.eq_ignore_ascii_case(key)))
        .collect();
    let (hits, by_name_only) = if exact.is_empty() {
        let named: Vec<&&ModelView> = built
            .iter()
            .filter(|m| full(m).is_none() && m.name.eq_ignore_ascii_case(bare(key)))
            .collect();
        (named, true)
    } else {
        (exact, false)
    };
    match hits.as_slice() {
        [] => Found::None,
        [m] => Found::One(Producer {
            who: format!("{}/{}", ctx.run_id, m.name),
            columns: m.output_column_hashes.clone().unwrap_or_default(),
            by_name_only,
        }),
        more => Found::Ambiguous(more.len()),
    }
}

/// The upstream's last build before this run: the newest earlier run record holding a
/// successful execution of the table with column hashes (none when that record holds two). Run ids in Rocky's timestamp form
/// sort by time, so the walk goes backwards from this run's key.
fn producer_before(
    ctx: &Ctx<'_>,
    ledger: &Ledger,
    key: &str,
) -> Result<Option<Producer>, VerifyError> {
    let table = bare(key);
    let needle = table.as_bytes();
    let mut found = None;
    let mut seen = 0usize;
    ledger.visit(
        ledger::RUN_HISTORY,
        Some(&ctx.run_id),
        true,
        |run_key, bytes| {
            seen += 1;
            // Only records that can name the table are decoded.
            if memchr::memmem::find(bytes, needle).is_some()
                && let Some(v) = decode::value(bytes)
            {
                let run = RunView::from_value(&v);
                let hits: Vec<&ModelView> = run
                    .models
                    .iter()
                    .filter(|m| {
                        !m.failed()
                            && m.output_column_hashes.is_some()
                            && match &m.target_table {
                                Some(t) => t.eq_ignore_ascii_case(key),
                                None => m.name.eq_ignore_ascii_case(table),
                            }
                    })
                    .collect();
                match hits.as_slice() {
                    [] => {}
                    [m] => {
                        found = Some(Producer {
                            who: format!("{run_key}/{}", m.name),
                            columns: m.output_column_hashes.clone().unwrap_or_default(),
                            by_name_only: m.target_table.is_none(),
                        });
                        return false;
                    }
                    // Two builds of the name in one run: the newest build is not known, and an
                    // older run's would be a guess.
                    _ => return false,
                }
            }
            seen < MAX_RUNS_BACK
        },
    )?;
    Ok(found)
}
