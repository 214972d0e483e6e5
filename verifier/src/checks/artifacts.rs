//! Artifacts: the run's `output_artifacts` rows, and with `--artifacts` the files themselves,
//! found only by their content address.

use std::path::Path;

use serde_json::{Value, json};

use super::view::ArtifactRow;
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::artifact::{self, basename, is_hex64, locate, unsafe_path_reason};
use crate::evidence::ledger::split_artifact_key;
use crate::report::{Check, Proof, Subject};

/// Decodes the run's artifact rows; bad rows and key/value disagreements become checks.
pub fn load(ctx: &mut Ctx<'_>, rows: &[(String, Vec<u8>)]) {
    for (key, bytes) in rows {
        let (k_run, k_model, k_path) = split_artifact_key(key).unwrap_or((key, "", ""));
        let subject = Subject::model(&ctx.run_id, k_model);
        let decoded = decode::read_artifact_record(bytes);
        if let Err(bad) = decoded.record {
            ctx.report.push(bad.check(
                CheckId::ArtifactRecord,
                Subject {
                    file: Some(k_path.to_owned()),
                    ..subject
                },
                format!("the output_artifacts row does not decode: {}", bad.reason),
            ));
            continue;
        }
        let Some(value) = decoded.value else {
            continue;
        };
        let row = ArtifactRow::from_value(&value);
        let run_in_value = super::view::str_field(&value, "run_id").unwrap_or_default();
        if k_run != run_in_value || k_model != row.model_name || k_path != row.file_path {
            ctx.report.push(Check::fail(
                CheckId::LedgerKeys,
                subject.with_artifact(&row.blake3_hash),
                Code::LedgerKeyMismatch,
                Proof::Recomputed,
                json!(format!(
                    "{}|{}|{}",
                    run_in_value, row.model_name, row.file_path
                )),
                json!(key),
                "the output_artifacts key and the record's run_id/model_name/file_path differ",
            ));
        }
        ctx.artifacts.push(row);
    }
}

/// Checks every artifact row of the run.
pub fn check(ctx: &mut Ctx<'_>) {
    let dir = ctx.opts.artifacts.clone();
    if let Some(d) = &dir
        && !d.is_dir()
    {
        ctx.report.push(Check::unknown(
            CheckId::ArtifactFile,
            Subject::run(&ctx.run_id),
            Code::ArtifactFileMissing,
            Proof::BytesVerified,
            format!("--artifacts {} is not a readable folder", d.display()),
        ));
        return check_rows(ctx, None);
    }
    check_rows(ctx, dir.as_deref());
}

fn check_rows(ctx: &mut Ctx<'_>, dir: Option<&Path>) {
    let rows: Vec<_> = ctx
        .artifacts
        .iter()
        .filter(|r| ctx.project_in_scope(&r.model_name))
        .cloned()
        .collect();
    let mut verified_files = 0usize;
    for row in &rows {
        let h = row.blake3_hash.as_str();
        let subject = Subject::model(&ctx.run_id, &row.model_name).with_artifact(h);
        if !is_hex64(h) {
            ctx.report.push(Check::fail(
                CheckId::ArtifactRecord,
                subject,
                Code::ArtifactHashInvalid,
                Proof::Recomputed,
                json!(h),
                Value::Null,
                "the recorded blake3_hash is not 64 lowercase hex",
            ));
            continue;
        }
        let refcount = ctx.refcount(h).map_or_else(
            || "refcount not counted: --no-ledger-scan".to_owned(),
            |n| format!("refcount {n}"),
        );
        // The recorded path: it is never followed, but evidence that tries to escape is wrong.
        if let Some(why) = unsafe_path_reason(&row.file_path) {
            ctx.report.push(Check::fail(
                CheckId::ArtifactPath,
                subject.clone(),
                Code::ArtifactPathInvalid,
                Proof::Recomputed,
                json!(row.file_path),
                Value::Null,
                format!("the recorded file_path {why}"),
            ));
        } else if basename(&row.file_path) != format!("{h}.parquet") {
            ctx.report.push(Check::fail(
                CheckId::ArtifactPath,
                subject.clone(),
                Code::ArtifactPathMismatch,
                Proof::Recomputed,
                json!(row.file_path),
                json!(format!("{h}.parquet")),
                "the recorded file_path's name is not <blake3_hash>.parquet",
            ));
        } else {
            ctx.report.push(Check::pass(
                CheckId::ArtifactPath,
                subject.clone(),
                Proof::Recomputed,
                json!(row.file_path),
                json!(format!("{h}.parquet")),
                format!("file_path is named by its content address ({refcount})"),
            ));
        }

        let Some(dir) = dir else { continue };
        let Some(path) = locate(dir, h) else { continue };
        if !path.is_file() {
            ctx.report.push(Check::fail(
                CheckId::ArtifactFile,
                subject,
                Code::ArtifactFileMissing,
                Proof::BytesVerified,
                Value::Null,
                json!(format!("{h}.parquet")),
                format!("{h}.parquet is not in the artifacts folder"),
            ));
            continue;
        }
        let fh = match artifact::hash_file(&path) {
            Ok(fh) => fh,
            Err(e) => {
                ctx.report.push(Check::unknown(
                    CheckId::ArtifactBlake3,
                    subject,
                    Code::ArtifactFileMissing,
                    Proof::BytesVerified,
                    format!("{h}.parquet cannot be read: {e}"),
                ));
                continue;
            }
        };
        if fh.blake3 == h {
            verified_files += 1;
            ctx.report.push(Check::pass(
                CheckId::ArtifactBlake3,
                subject.clone(),
                Proof::BytesVerified,
                json!(h),
                json!(fh.blake3),
                format!("the bytes hash to their name and blake3_hash ({refcount})"),
            ));
        } else {
            ctx.report.push(Check::fail(
                CheckId::ArtifactBlake3,
                subject.clone(),
                Code::ArtifactHashMismatch,
                Proof::BytesVerified,
                json!(h),
                json!(fh.blake3),
                format!("bytes of {h}.parquet hash to {} ({refcount})", fh.blake3),
            ));
        }
        match row.size_bytes {
            Some(size) if size == fh.size => ctx.report.push(Check::pass(
                CheckId::ArtifactSize,
                subject.clone(),
                Proof::BytesVerified,
                json!(size),
                json!(fh.size),
                format!("{size} bytes, as recorded"),
            )),
            recorded => ctx.report.push(Check::fail(
                CheckId::ArtifactSize,
                subject.clone(),
                Code::ArtifactSizeMismatch,
                Proof::BytesVerified,
                json!(recorded),
                json!(fh.size),
                format!(
                    "the file is {} bytes but size_bytes is {recorded:?}",
                    fh.size
                ),
            )),
        }
        let facts = match artifact::read_footer(&path) {
            Ok(f) => {
                ctx.report.push(Check::pass(
                    CheckId::ArtifactParquet,
                    subject.clone(),
                    Proof::BytesVerified,
                    Value::Null,
                    f.to_json(),
                    format!(
                        "the Parquet footer reads: {} rows, {} columns, created_by {:?}",
                        f.rows,
                        f.columns.len(),
                        f.created_by.as_deref().unwrap_or("")
                    ),
                ));
                f
            }
            Err(reason) if reason.not_judged() => {
                ctx.report.push(Check::unknown(
                    CheckId::ArtifactParquet,
                    subject,
                    Code::ArtifactParquetUnexpected,
                    Proof::BytesVerified,
                    format!("the Parquet footer was not judged: {reason}"),
                ));
                continue;
            }
            Err(reason) => {
                ctx.report.push(Check::fail(
                    CheckId::ArtifactParquet,
                    subject,
                    Code::ArtifactParquetInvalid,
                    Proof::BytesVerified,
                    Value::Null,
                    Value::Null,
                    format!("the Parquet footer does not read: {reason}"),
                ));
                continue;
            }
        };
        let model = ctx.model_for_project_name(&row.model_name);
        let rows_affected = model
            .and_then(|i| ctx.models().get(i))
            .and_then(|m| m.rows_affected);
        let check = match (model, rows_affected) {
            (None, _) => Check::unknown(
                CheckId::ArtifactRows,
                subject,
                Code::RowsAffectedMissing,
                Proof::BytesVerified,
                format!(
                    "no model execution of this run joins to model {:?}",
                    row.model_name
                ),
            ),
            (Some(_), None) => Check::unknown(
                CheckId::ArtifactRows,
                subject,
                Code::RowsAffectedMissing,
                Proof::BytesVerified,
                "rows_affected is null: the run recorded no row count to compare",
            ),
            (Some(_), Some(n)) if i64::try_from(n) == Ok(facts.rows) => Check::pass(
                CheckId::ArtifactRows,
                subject,
                Proof::BytesVerified,
                json!(n),
                json!(facts.rows),
                format!("the file holds {n} rows, as rows_affected says"),
            ),
            (Some(_), Some(n)) => Check::fail(
                CheckId::ArtifactRows,
                subject,
                Code::ArtifactRowCountMismatch,
                Proof::BytesVerified,
                json!(n),
                json!(facts.rows),
                format!(
                    "the file holds {} rows but rows_affected is {n}",
                    facts.rows
                ),
            ),
        };
        ctx.report.push(check);
    }
    if verified_files > 0 {
        ctx.report.verified.push(format!(
            "{verified_files} artifact file(s) hash to their recorded BLAKE3"
        ));
    }
}
