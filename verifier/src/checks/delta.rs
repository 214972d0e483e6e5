//! The lakehouse log (`spec/delta-log.md`), with `--lake`: each of the run's artifact rows has
//! its `add` in the table's Delta log at `commit_version` (`delta.add`), the log reads
//! (`delta.log`), and every `add` in it is accounted for by a ledger row or tombstone
//! (`delta.orphan`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redb::TableDefinition;
use serde_json::{Value, json};

use super::view::{ArtifactRow, str_field};
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::delta_log::{self, DeltaLog, DeltaLogError};
use crate::evidence::ledger::{self, JsonTable, Ledger, StringFilter};
use crate::report::{Check, Proof, Subject};

/// `tombstones`: `{rfc3339 evicted_at}|{blake3_hash}` to `TombstoneRecord` (`spec/ledger.md`).
const TOMBSTONES: JsonTable<'static> = TableDefinition::new("tombstones");

/// One table the run wrote, and its rows.
struct Table {
    /// `key_prefix`, relative to `--lake`.
    prefix: String,
    /// Taken from `file_path`, not from the IR's `storage_prefix`.
    inferred: bool,
    /// The IR declares partition columns.
    partitioned: bool,
    rows: Vec<ArtifactRow>,
}

/// Every Delta check for the run; nothing without `--lake`.
///
/// # Errors
///
/// A ledger read failure.
pub fn check(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let Some(lake) = ctx.opts.lake.clone() else {
        return Ok(());
    };
    if !lake.is_dir() {
        ctx.report.push(Check::unknown(
            CheckId::DeltaLog,
            Subject::run(&ctx.run_id),
            Code::DeltaLogMissing,
            Proof::BytesVerified,
            format!("--lake {} is not a readable folder", lake.display()),
        ));
        return Ok(());
    }
    for table in tables(ctx) {
        let subject = Subject::run(&ctx.run_id).with_table(&table.prefix);
        if let Some(why) = delta_log::unsafe_prefix_reason(&table.prefix) {
            ctx.report.push(Check::unknown(
                CheckId::DeltaLog,
                subject,
                Code::DeltaLogMissing,
                Proof::BytesVerified,
                format!(
                    "the table prefix {:?} {why}, so it is not followed",
                    table.prefix
                ),
            ));
            continue;
        }
        let log = match delta_log::read(&lake.join(&table.prefix)) {
            Ok(log) => log,
            Err(e) => {
                let code = match e {
                    DeltaLogError::Missing { .. } => Code::DeltaLogMissing,
                    DeltaLogError::Io { .. } | DeltaLogError::TooManyEntries { .. } => {
                        Code::DeltaLogInvalid
                    }
                };
                ctx.report.push(Check::unknown(
                    CheckId::DeltaLog,
                    subject,
                    code,
                    Proof::BytesVerified,
                    format!(
                        "{e}: the {} artifact row(s) of table {} were not replayed",
                        table.rows.len(),
                        table.prefix
                    ),
                ));
                continue;
            }
        };
        log_check(ctx, &subject, &table, &log);
        for row in &table.rows {
            add_check(ctx, &table, &log, row);
        }
        if ctx.opts.ledger_scan {
            orphans(ctx, ledger, &subject, &table, &log)?;
        } else {
            ctx.report.not_verified.push(format!(
                "--no-ledger-scan: the adds of {}'s Delta log were not looked up in the ledger \
                 (orphans not checked)",
                table.prefix
            ));
        }
    }
    Ok(())
}

/// The run's in-scope artifact rows grouped by table; a row whose table cannot be told is an
/// `unknown` `delta.log` check.
fn tables(ctx: &mut Ctx<'_>) -> Vec<Table> {
    let mut by_prefix: BTreeMap<String, Table> = BTreeMap::new();
    let rows: Vec<ArtifactRow> = ctx
        .artifacts
        .iter()
        .filter(|r| ctx.project_in_scope(&r.model_name))
        .cloned()
        .collect();
    for row in rows {
        let materialization = ctx
            .provs
            .iter()
            .find(|p| p.model_name == row.model_name)
            .and_then(|p| p.ir.as_ref()?.get("materialization").cloned());
        let from_ir = materialization
            .as_ref()
            .and_then(|m| str_field(m, "storage_prefix"))
            .and_then(|s| delta_log::key_prefix(&s));
        let partitioned = materialization
            .as_ref()
            .and_then(|m| {
                m.get("partition_columns")?
                    .as_array()
                    .map(|a| !a.is_empty())
            })
            .unwrap_or(false);
        let (prefix, inferred) = match from_ir {
            Some(p) => (p, false),
            None => match delta_log::key_prefix_from_file_path(&row.file_path) {
                Some(p) => (p, true),
                None => {
                    ctx.report.push(Check::unknown(
                        CheckId::DeltaLog,
                        Subject::model(&ctx.run_id, &row.model_name)
                            .with_artifact(&row.blake3_hash),
                        Code::DeltaLogMissing,
                        Proof::BytesVerified,
                        format!(
                            "no storage_prefix in a provenance IR and no folder in file_path {:?}: \
                             the table's log cannot be found",
                            row.file_path
                        ),
                    ));
                    continue;
                }
            },
        };
        let t = by_prefix.entry(prefix.clone()).or_insert_with(|| Table {
            prefix,
            inferred,
            partitioned: false,
            rows: Vec::new(),
        });
        t.inferred &= inferred;
        t.partitioned |= partitioned;
        t.rows.push(row);
    }
    by_prefix.into_values().collect()
}

fn commit_file(prefix: &str, version: u64) -> String {
    format!("{prefix}/_delta_log/{version:020}.json")
}

/// `delta.log`: the folder read; each unreadable commit is named.
fn log_check(ctx: &mut Ctx<'_>, subject: &Subject, table: &Table, log: &DeltaLog) {
    let bad: Vec<String> = log
        .commits
        .iter()
        .filter_map(|(v, c)| c.as_ref().err().map(|e| format!("{v:020}.json: {e}")))
        .collect();
    let how = if table.inferred {
        "the table folder inferred from file_path"
    } else {
        "the table folder from the IR's storage_prefix"
    };
    ctx.report.push(if bad.is_empty() {
        Check::pass(
            CheckId::DeltaLog,
            subject.clone(),
            Proof::BytesVerified,
            Value::Null,
            json!(log.range()),
            format!(
                "{} commit(s) read from {}/_delta_log ({how})",
                log.commits.len(),
                table.prefix
            ),
        )
    } else {
        Check::unknown(
            CheckId::DeltaLog,
            subject.clone(),
            Code::DeltaLogInvalid,
            Proof::BytesVerified,
            format!(
                "{} of {} commit(s) of {}/_delta_log do not read: {}",
                bad.len(),
                log.commits.len(),
                table.prefix,
                bad.join("; ")
            ),
        )
    });
}

/// `delta.add` for one artifact row.
fn add_check(ctx: &mut Ctx<'_>, table: &Table, log: &DeltaLog, row: &ArtifactRow) {
    let subject = Subject::model(&ctx.run_id, &row.model_name).with_artifact(&row.blake3_hash);
    let Some(version) = row.commit_version else {
        ctx.report.push(Check::unknown(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaLogInvalid,
            Proof::BytesVerified,
            "the artifact row records no commit_version",
        ));
        return;
    };
    let subject = Subject {
        file: Some(commit_file(&table.prefix, version)),
        ..subject
    };
    let Some(rel) = row
        .file_path
        .strip_prefix(&table.prefix)
        .and_then(|r| r.strip_prefix('/'))
    else {
        ctx.report.push(Check::fail(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaAddMismatch,
            Proof::BytesVerified,
            json!(row.file_path),
            json!(format!("{}/<add.path>", table.prefix)),
            format!(
                "file_path is not under the table's prefix {}/",
                table.prefix
            ),
        ));
        return;
    };
    let commit = match log.commits.get(&version) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            ctx.report.push(Check::unknown(
                CheckId::DeltaAdd,
                subject,
                Code::DeltaLogInvalid,
                Proof::BytesVerified,
                format!("commit {version} does not read: {e}"),
            ));
            return;
        }
        None => {
            ctx.report.push(missing_commit(subject, log, version));
            return;
        }
    };
    let Some(add) = commit.adds.iter().find(|a| a.path == rel) else {
        let paths: Vec<&str> = commit.adds.iter().map(|a| a.path.as_str()).collect();
        ctx.report.push(Check::fail(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaAddMissing,
            Proof::BytesVerified,
            json!(rel),
            json!(paths),
            format!("commit {version} adds no file {rel:?}"),
        ));
        return;
    };
    if table.partitioned || rel.contains('/') {
        ctx.report.push(Check::pass(
            CheckId::DeltaAdd,
            subject,
            Proof::BytesVerified,
            json!(rel),
            json!(add.path),
            format!(
                "commit {version} adds {rel:?}; a partitioned row records the sums over its groups, \
                 so size and numRecords are not compared"
            ),
        ));
        return;
    }
    let rows_affected = ctx
        .model_for_project_name(&row.model_name)
        .and_then(|i| ctx.models().get(i))
        .and_then(|m| m.rows_affected);
    let logged = json!({"path": add.path, "size": add.size, "numRecords": add.num_records});
    let recorded = json!({"path": rel, "size": row.size_bytes, "numRecords": rows_affected});
    let mut wrong = Vec::new();
    if row.size_bytes != Some(add.size) {
        wrong.push(format!(
            "add.size is {} but size_bytes is {:?}",
            add.size, row.size_bytes
        ));
    }
    let mut unchecked = Vec::new();
    match (add.num_records, rows_affected) {
        (Some(n), Some(r)) if n != r => {
            wrong.push(format!("numRecords is {n} but rows_affected is {r}"));
        }
        (Some(_), Some(_)) => {}
        (None, _) => unchecked.push("the add's stats carry no numRecords"),
        (_, None) => unchecked.push("no rows_affected joins to the row"),
    }
    ctx.report.push(if wrong.is_empty() {
        let note = if unchecked.is_empty() {
            String::new()
        } else {
            format!(" (rows not compared: {})", unchecked.join("; "))
        };
        Check::pass(
            CheckId::DeltaAdd,
            subject,
            Proof::BytesVerified,
            recorded,
            logged,
            format!("commit {version} adds {rel:?} with the recorded size and row count{note}"),
        )
    } else {
        Check::fail(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaAddMismatch,
            Proof::BytesVerified,
            recorded,
            logged,
            format!("commit {version} adds {rel:?}, but {}", wrong.join("; ")),
        )
    });
}

/// No commit file at `version`: a hole in the log fails; past the newest commit (a stale copy)
/// or at or before a checkpoint (an engine may have cleaned it up) is unknown.
fn missing_commit(subject: Subject, log: &DeltaLog, version: u64) -> Check {
    let range = log.range();
    let past_end = range.is_none_or(|(_, hi)| version > hi);
    let checkpointed = log.checkpoint.is_some_and(|c| c >= version);
    if past_end || checkpointed {
        let why = if past_end {
            match range {
                Some((_, hi)) => format!("the log copy ends at version {hi} (a stale copy?)"),
                None => "the log copy holds no commit".to_owned(),
            }
        } else {
            "a checkpoint at or after it lets an engine delete older commit files".to_owned()
        };
        Check::unknown(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaAddMissing,
            Proof::BytesVerified,
            format!("no commit file for version {version}: {why}"),
        )
    } else {
        Check::fail(
            CheckId::DeltaAdd,
            subject,
            Code::DeltaAddMissing,
            Proof::BytesVerified,
            json!(version),
            json!(range),
            format!("commit {version} is missing from the log, inside the versions it holds"),
        )
    }
}

/// `delta.orphan`: every add of the log against the ledger's artifact rows and tombstones.
fn orphans(
    ctx: &mut Ctx<'_>,
    ledger: &Ledger,
    subject: &Subject,
    table: &Table,
    log: &DeltaLog,
) -> Result<(), VerifyError> {
    let adds: Vec<(u64, bool, String)> = log
        .commits
        .iter()
        .filter_map(|(v, c)| Some((*v, c.as_ref().ok()?)))
        .flat_map(|(v, c)| {
            c.adds
                .iter()
                .map(move |a| (v, c.by_rocky(), format!("{}/{}", table.prefix, a.path)))
        })
        .collect();
    if adds.is_empty() {
        return Ok(());
    }
    let wanted: BTreeSet<String> = adds.iter().map(|(_, _, p)| p.clone()).collect();
    let named = paths_named(ledger, &wanted)?;
    let mut accounted = 0usize;
    for (version, by_rocky, path) in &adds {
        if named.contains(path) {
            accounted += 1;
            continue;
        }
        let subject = Subject {
            file: Some(commit_file(&table.prefix, *version)),
            ..subject.clone()
        };
        let subject = match crate::evidence::artifact::name_hash(Path::new(path)) {
            Some(h) => subject.with_artifact(&h),
            None => subject,
        };
        ctx.report.push(if table.partitioned || !by_rocky {
            let why = if table.partitioned {
                "the table is partitioned, and Rocky records only the last group's file"
            } else {
                "the commit was not written by Rocky (its engineInfo is not rocky-cli/...)"
            };
            Check::unverifiable(
                CheckId::DeltaOrphan,
                subject,
                Code::DeltaOrphanUnexpected,
                Proof::BytesVerified,
                json!(path),
                format!("commit {version} adds {path:?}, which no ledger row names; {why}"),
            )
        } else {
            Check::fail(
                CheckId::DeltaOrphan,
                subject,
                Code::DeltaOrphanUnexpected,
                Proof::BytesVerified,
                Value::Null,
                json!(path),
                format!(
                    "Rocky's commit {version} adds {path:?}, which no output_artifacts or \
                     tombstones row accounts for"
                ),
            )
        });
    }
    if accounted == adds.len() {
        ctx.report.push(Check::pass(
            CheckId::DeltaOrphan,
            subject.clone(),
            Proof::BytesVerified,
            json!(accounted),
            json!(adds.len()),
            format!(
                "every add of {}'s log ({}) is named by a ledger row or tombstone",
                table.prefix,
                adds.len()
            ),
        ));
    }
    Ok(())
}

/// The wanted `file_path`s some `output_artifacts` row (any run) or `tombstones` row names.
fn paths_named(
    ledger: &Ledger,
    wanted: &BTreeSet<String>,
) -> Result<BTreeSet<String>, VerifyError> {
    let filter = StringFilter::new(wanted);
    let mut named = BTreeSet::new();
    let mut take = |bytes: &[u8]| {
        if filter.may_contain(bytes)
            && let Some(p) = decode::value(bytes).and_then(|v| str_field(&v, "file_path"))
            && filter.wants(&p)
        {
            named.insert(p);
        }
    };
    ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |_, bytes| {
        take(bytes);
        true
    })?;
    ledger.visit(TOMBSTONES, None, false, |_, bytes| {
        take(bytes);
        true
    })?;
    Ok(named)
}
