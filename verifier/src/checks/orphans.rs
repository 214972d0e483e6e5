//! Both directions between the ledger and the artifacts folder (`spec/gate.md` section 4):
//! a content-addressed file no `output_artifacts` row names (`artifact_orphan_unexpected`), and a
//! row whose file is gone (`artifact_file_missing`) unless a `tombstones` row records its eviction.
//! The bytes of in-scope artifacts are hashed by `run`'s checks; every other row's file present
//! in the folder (older runs' artifacts included) is hashed here, so a flipped byte in an
//! artifact outside the scope is found too (issue 16).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::artifact::{is_hex64, name_hash};
use crate::evidence::ledger::{self, JsonTable, Ledger, split_artifact_key};
use crate::report::{Check, Proof, Report, Subject};
use redb::TableDefinition;

/// `tombstones`: `{rfc3339 evicted_at}|{blake3_hash}` to `TombstoneRecord` (`spec/ledger.md`).
const TOMBSTONES: JsonTable<'static> = TableDefinition::new("tombstones");

/// Runs both directions and pushes their checks.
///
/// # Errors
///
/// A ledger read failure.
pub fn check(report: &mut Report, ledger: &Ledger, dir: &Path) -> Result<(), VerifyError> {
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            report.push(Check::unknown(
                CheckId::ArtifactOrphan,
                Subject::file(&shown),
                Code::ArtifactFileMissing,
                Proof::BytesVerified,
                format!("--artifacts {shown} is not a readable folder: {e}"),
            ));
            return Ok(());
        }
    };
    let mut files = BTreeSet::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if let Some(h) = name_hash(&path)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            files.insert(h);
        }
    }

    // hash -> the first (run, model) row naming it.
    let mut rows: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (key, bytes) in ledger.rows(ledger::OUTPUT_ARTIFACTS, "")? {
        let Some(h) = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("blake3_hash")?.as_str().map(str::to_owned))
        else {
            continue;
        };
        let (run, model, _) = split_artifact_key(&key).unwrap_or((&key, "", ""));
        rows.entry(h)
            .or_insert_with(|| (run.to_owned(), model.to_owned()));
    }
    let evicted: BTreeMap<String, String> = ledger
        .keys(TOMBSTONES, "")?
        .into_iter()
        .filter_map(|k| {
            let (at, h) = k.rsplit_once('|')?;
            Some((h.to_owned(), at.to_owned()))
        })
        .collect();
    // Artifacts `run`'s checks already looked for (in scope): not reported twice.
    let covered: BTreeSet<String> = report
        .checks
        .iter()
        .filter(|c| c.check == CheckId::ArtifactFile || c.check == CheckId::ArtifactBlake3)
        .filter_map(|c| c.subject.artifact.clone())
        .collect();

    let (mut present, mut missing) = (0usize, 0usize);
    let (mut hashed, mut mismatched) = (0usize, 0usize);
    for (h, (run, model)) in &rows {
        if !is_hex64(h) || covered.contains(h) {
            continue;
        }
        let subject = Subject::model(run, model).with_artifact(h);
        if files.contains(h) {
            present += 1;
            let path = dir.join(format!("{h}.parquet"));
            match crate::evidence::artifact::hash_file(&path) {
                Ok(got) if got.blake3 == *h => hashed += 1,
                Ok(got) => {
                    hashed += 1;
                    mismatched += 1;
                    report.push(Check::fail(
                        CheckId::ArtifactBlake3,
                        subject,
                        Code::ArtifactHashMismatch,
                        Proof::BytesVerified,
                        json!(got.blake3),
                        json!(h),
                        format!(
                            "{h}.parquet (recorded by {run}/{model}, outside the gate's scope) \
                             hashes to {}",
                            got.blake3
                        ),
                    ));
                }
                Err(e) => report.push(Check::unknown(
                    CheckId::ArtifactBlake3,
                    subject,
                    Code::ArtifactFileMissing,
                    Proof::BytesVerified,
                    format!("{h}.parquet cannot be read: {e}"),
                )),
            }
        } else if let Some(at) = evicted.get(h) {
            report.push(Check::pass(
                CheckId::ArtifactFile,
                subject,
                Proof::Recomputed,
                json!(format!("{h}.parquet")),
                json!(at),
                format!("{h}.parquet is gone; a tombstones row records its eviction at {at}"),
            ));
        } else {
            missing += 1;
            report.push(Check::fail(
                CheckId::ArtifactFile,
                subject,
                Code::ArtifactFileMissing,
                Proof::BytesVerified,
                json!(format!("{h}.parquet")),
                Value::Null,
                format!(
                    "the ledger's output_artifacts row for {run}/{model} names {h}.parquet, which \
                     is not in the artifacts folder and has no tombstone"
                ),
            ));
        }
    }
    let mut orphans = 0usize;
    for h in files.iter().filter(|h| !rows.contains_key(*h)) {
        orphans += 1;
        let file = crate::output::join(&shown, &format!("{h}.parquet"));
        report.push(Check::fail(
            CheckId::ArtifactOrphan,
            Subject {
                artifact: Some(h.clone()),
                file: Some(file.clone()),
                ..Subject::default()
            },
            Code::ArtifactOrphanUnexpected,
            Proof::BytesVerified,
            Value::Null,
            json!(file),
            format!(
                "{h}.parquet is named as a content address but no output_artifacts row names it \
                 (a file added by hand, or left by a run that crashed before recording)"
            ),
        ));
    }
    if hashed > mismatched {
        report.verified.push(format!(
            "{} artifact file(s) of rows outside the scope hash to their recorded BLAKE3",
            hashed - mismatched
        ));
    }
    if orphans > 0 || missing > 0 {
        return Ok(());
    }
    report.push(Check::pass(
        CheckId::ArtifactOrphan,
        Subject::file(&shown),
        Proof::BytesVerified,
        json!(rows.len()),
        json!(files.len()),
        format!(
            "{} content-addressed file(s) in the folder, {} distinct hash(es) in the ledger; \
             every row's file is present or evicted ({present} outside the scope, hashed here) and \
             no file is an orphan",
            files.len(),
            rows.len()
        ),
    ));
    Ok(())
}
