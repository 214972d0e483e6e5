//! `rocky-verify artifact <file.parquet>`: one file's BLAKE3 against its name, its Parquet
//! footer, and (with `--ledger`) every ledger row that names its hash.
//!
//! # Side effects
//!
//! Reads the file (memory-mapped) and the ledger read-only; writes nothing.

use std::path::Path;

use serde_json::{Value, json};

use crate::checks::catalogue::{CheckId, Code};
use crate::checks::open_ledger;
use crate::evidence::artifact::{self, name_hash};
use crate::evidence::ledger::{self, split_artifact_key, split_provenance_key};
use crate::report::{Check, Proof, Report, Subject};

/// Verifies one artifact file.
pub fn verify_artifact(file: &Path, ledger_path: Option<&Path>) -> Report {
    let display = file.display().to_string();
    let mut report = Report::new("artifact", Some(display.clone()), false);
    let subject = Subject::file(&display);

    let fh = match artifact::hash_file(file) {
        Ok(fh) => fh,
        Err(e) => {
            report.push(Check::unknown(
                CheckId::ArtifactFile,
                subject,
                Code::ArtifactFileMissing,
                Proof::BytesVerified,
                format!("cannot read {display}: {e}"),
            ));
            return report;
        }
    };
    let subject = subject.with_artifact(&fh.blake3);
    match name_hash(file) {
        Some(named) if named == fh.blake3 => {
            report.push(Check::pass(
                CheckId::ArtifactBlake3,
                subject.clone(),
                Proof::BytesVerified,
                json!(named),
                json!(fh.blake3),
                format!("the {} bytes hash to the file's name", fh.size),
            ));
            report
                .verified
                .push("the file's bytes hash to its name (BLAKE3)".to_owned());
        }
        Some(named) => report.push(Check::fail(
            CheckId::ArtifactBlake3,
            subject.clone(),
            Code::ArtifactHashMismatch,
            Proof::BytesVerified,
            json!(named),
            json!(fh.blake3),
            format!("bytes of {named}.parquet hash to {}", fh.blake3),
        )),
        None => {
            report.push(Check::unverifiable(
                CheckId::ArtifactName,
                subject.clone(),
                Code::ArtifactNameInvalid,
                Proof::BytesVerified,
                json!(fh.blake3),
                format!(
                    "the file name is not <blake3>.parquet, so it claims no content address; its BLAKE3 is {}",
                    fh.blake3
                ),
            ));
            report
                .not_verified
                .push("the file name is not a content address".to_owned());
        }
    }

    match artifact::read_footer(file) {
        Ok(f) => {
            let codecs: Vec<&str> = f.codecs.iter().map(String::as_str).collect();
            report.push(Check::pass(
                CheckId::ArtifactParquet,
                subject.clone(),
                Proof::BytesVerified,
                Value::Null,
                f.to_json(),
                format!(
                    "footer: {} rows in {} row group(s), {} columns, version {}, created_by {:?}, \
                     codecs {}, dictionary {}",
                    f.rows,
                    f.row_groups,
                    f.columns.len(),
                    f.version,
                    f.created_by.as_deref().unwrap_or(""),
                    if codecs.is_empty() {
                        "none".to_owned()
                    } else {
                        codecs.join(",")
                    },
                    if f.dictionary { "on" } else { "off" },
                ),
            ));
        }
        Err(reason) if reason.not_judged() => report.push(Check::unknown(
            CheckId::ArtifactParquet,
            subject.clone(),
            Code::ArtifactParquetUnexpected,
            Proof::BytesVerified,
            format!("the Parquet footer was not judged: {reason}"),
        )),
        Err(reason) => report.push(Check::fail(
            CheckId::ArtifactParquet,
            subject.clone(),
            Code::ArtifactParquetInvalid,
            Proof::BytesVerified,
            Value::Null,
            Value::Null,
            format!("the Parquet footer does not read: {reason}"),
        )),
    }

    let Some(lp) = ledger_path else {
        report
            .not_verified
            .push("no --ledger given: ledger rows naming the hash not looked up".to_owned());
        return report;
    };
    let Some(ledger) = open_ledger(&mut report, lp) else {
        return report;
    };
    let (found, digest) = crate::checks::hashing_alongside(&ledger, true, || {
        ledger_rows(&mut report, &ledger, &fh, &subject)
    });
    crate::checks::record_digest(&mut report, digest);
    if let Err(e) = found {
        report.push(Check::unknown(
            CheckId::LedgerOpen,
            Subject::file(&lp.display().to_string()),
            e.code(),
            Proof::BytesVerified,
            e.to_string(),
        ));
    }
    report
}

fn ledger_rows(
    report: &mut Report,
    ledger: &ledger::Ledger,
    fh: &artifact::FileHash,
    subject: &Subject,
) -> Result<(), crate::error::VerifyError> {
    let h = fh.blake3.as_str();
    // Every row of both tables is read, but only values that can name the hash are copied and
    // decoded (ledger::StringFilter), so a large ledger is not held in memory.
    let filter = ledger::StringFilter::new(&std::collections::BTreeSet::from([h.to_owned()]));
    let candidates = |table| -> Result<Vec<(String, Vec<u8>)>, crate::error::VerifyError> {
        let mut out = Vec::new();
        ledger.visit(table, None, false, |key, bytes| {
            if filter.may_contain(bytes) {
                out.push((key.to_owned(), bytes.to_vec()));
            }
            true
        })?;
        Ok(out)
    };
    let mut rows = 0usize;
    for (key, bytes) in candidates(ledger::OUTPUT_ARTIFACTS)? {
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if v.get("blake3_hash").and_then(Value::as_str) != Some(h) {
            continue;
        }
        rows += 1;
        let (run_id, model, _) = split_artifact_key(&key).unwrap_or((&key, "", ""));
        let row_subject = Subject {
            run_id: Some(run_id.to_owned()),
            model: Some(model.to_owned()),
            ..subject.clone()
        };
        let size = v.get("size_bytes").and_then(Value::as_u64);
        report.push(if size == Some(fh.size) {
            Check::pass(
                CheckId::ArtifactLedger,
                row_subject,
                Proof::BytesVerified,
                v.clone(),
                json!(fh.size),
                format!(
                    "output_artifacts row {key} names this hash, size {} bytes",
                    fh.size
                ),
            )
        } else {
            Check::fail(
                CheckId::ArtifactSize,
                row_subject,
                Code::ArtifactSizeMismatch,
                Proof::BytesVerified,
                json!(size),
                json!(fh.size),
                format!(
                    "output_artifacts row {key} records size {size:?}, the file is {} bytes",
                    fh.size
                ),
            )
        });
    }
    if rows == 0 {
        report.push(Check::fail(
            CheckId::ArtifactLedger,
            subject.clone(),
            Code::ArtifactUnexpected,
            Proof::BytesVerified,
            json!(h),
            Value::Null,
            "no output_artifacts row in the ledger names this file's hash",
        ));
    } else {
        report.verified.push(format!(
            "{rows} output_artifacts row(s) name this hash (its refcount)"
        ));
    }

    for (key, bytes) in candidates(ledger::INPUT_PROVENANCE)? {
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let as_output = v
            .get("output_blake3")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(h)));
        let as_upstream = v.get("upstreams").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .find(|u| u.get("blake3_hash").and_then(Value::as_str) == Some(h))
        });
        if !as_output && as_upstream.is_none() {
            continue;
        }
        let (run_id, model) = split_provenance_key(&key).unwrap_or((&key, ""));
        let mut s = Subject {
            run_id: Some(run_id.to_owned()),
            model: Some(model.to_owned()),
            ..subject.clone()
        };
        let role = if as_output {
            "an output".to_owned()
        } else {
            let k = as_upstream
                .and_then(|u| u.get("upstream_key"))
                .and_then(Value::as_str)
                .unwrap_or("");
            s.upstream = Some(k.to_owned());
            format!("the content upstream {k}")
        };
        report.push(Check::pass(
            CheckId::ArtifactProvenance,
            s,
            Proof::BytesVerified,
            json!(h),
            json!(h),
            format!("provenance record {key} names this file as {role}"),
        ));
    }
    Ok(())
}
