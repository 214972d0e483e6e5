//! Provenance: the run's `input_provenance` rows, their own hashes (via
//! [`crate::commands::record::check_provenance`]) and their joins with the rest of the ledger.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::view::{ProvRow, Upstream};
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::commands::record::check_provenance_with;
use crate::error::VerifyError;
use crate::evidence::artifact::{self, locate};
use crate::evidence::ledger::{Ledger, split_provenance_key};
use crate::report::{Check, Proof, Subject};

/// Decodes the run's provenance rows and runs the per-record checks.
pub fn load(ctx: &mut Ctx<'_>, rows: &[(String, Vec<u8>)]) {
    for (key, bytes) in rows {
        let (k_run, k_model) = split_provenance_key(key).unwrap_or((key, ""));
        let subject = Subject::model(&ctx.run_id, k_model);
        let decoded = decode::read_provenance_record(bytes);
        let record = match decoded.record {
            Ok(r) => r,
            Err(bad) => {
                ctx.report.push(bad.check(
                    CheckId::ProvenanceRecord,
                    subject,
                    format!("the input_provenance row does not decode: {}", bad.reason),
                ));
                continue;
            }
        };
        let Some(value) = decoded.value else {
            continue;
        };
        let row = ProvRow::from_value(&value, record);
        let run_in_value = super::view::str_field(&value, "run_id").unwrap_or_default();
        if k_run != run_in_value || k_model != row.model_name {
            ctx.report.push(Check::fail(
                CheckId::LedgerKeys,
                subject.clone(),
                Code::LedgerKeyMismatch,
                Proof::Recomputed,
                json!(format!("{}|{}", run_in_value, row.model_name)),
                json!(key),
                "the input_provenance key and the record's run_id/model_name differ",
            ));
        }
        ctx.provs.push(row);
    }
}

/// The cross-ledger provenance checks.
///
/// # Errors
///
/// A ledger read failure (the caller reports it as `unknown`).
pub fn check(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let provs = ctx.provs.clone();
    for (pi, p) in provs.iter().enumerate() {
        if !ctx.project_in_scope(&p.model_name) {
            continue;
        }
        let subject = Subject::model(&ctx.run_id, &p.model_name);
        let model = ctx
            .prov_of_model
            .iter()
            .find(|&(_, &x)| x == pi)
            .map(|(&m, _)| m);

        // The record's own hashes; its recipe_hash against the joined ModelExecution's, which
        // Rocky computes from the same IR (`spec/hashes.md` section 5).
        let claimed = model
            .and_then(|i| ctx.models().get(i))
            .and_then(|m| m.recipe_hash.clone());
        let own = check_provenance_with(&p.record, &subject, claimed.as_deref());
        for c in own {
            ctx.report.push(c);
        }

        // The provenance must describe a model this run executed (its IR names the target; an
        // IR that does not parse is already a failed provenance.canonical check).
        if ctx.run.is_some() && p.target().is_some() {
            match model {
                Some(_) => ctx.report.push(Check::pass(
                    CheckId::ProvenanceModel,
                    subject.clone(),
                    Proof::Recomputed,
                    json!(p.target().map(|t| t.to_string())),
                    Value::Null,
                    "the provenance's target joins to a model execution of this run",
                )),
                None => ctx.report.push(Check::fail(
                    CheckId::ProvenanceModel,
                    subject.clone(),
                    Code::ModelExecutionMissing,
                    Proof::Recomputed,
                    json!(p.target().map(|t| t.to_string())),
                    Value::Null,
                    "provenance for a model this run did not execute",
                )),
            }
        }

        // output_blake3 vs this run's artifact rows for the model.
        let mine: BTreeSet<&str> = ctx
            .artifacts
            .iter()
            .filter(|a| a.model_name == p.model_name)
            .map(|a| a.blake3_hash.as_str())
            .collect();
        let claimed: BTreeSet<&str> = p.output_blake3.iter().map(String::as_str).collect();
        ctx.report.push(if mine == claimed {
            Check::pass(
                CheckId::ProvenanceOutputs,
                subject.clone(),
                Proof::Recomputed,
                json!(claimed),
                json!(mine),
                "output_blake3 names exactly the run's artifacts for the model",
            )
        } else {
            Check::fail(
                CheckId::ProvenanceOutputs,
                subject.clone(),
                Code::ProvenanceOutputMismatch,
                Proof::Recomputed,
                json!(claimed),
                json!(mine),
                "output_blake3 disagrees with the run's output_artifacts rows for the model",
            )
        });

        check_index(ctx, ledger, &subject, p)?;
        for u in &p.upstreams {
            check_upstream(ctx, &subject, u);
        }
    }
    if !provs.is_empty() {
        ctx.report.verified.push(format!(
            "{} provenance record(s) checked against the run's artifacts and upstream rows",
            provs.len()
        ));
    }
    Ok(())
}

fn check_upstream(ctx: &mut Ctx<'_>, subject: &Subject, u: &Upstream) {
    // Watermark upstreams are reported by check_provenance_with (unverifiable by design).
    let Upstream::Content { key, hash } = u else {
        return;
    };
    let subject = subject.clone().with_upstream(key).with_artifact(hash);
    let producers = ctx
        .producers
        .by_hash
        .get(hash.as_str())
        .cloned()
        .unwrap_or_default();
    if producers.is_empty() {
        ctx.report.push(Check::fail(
            CheckId::ProvenanceUpstream,
            subject,
            Code::UpstreamArtifactMissing,
            Proof::Recomputed,
            json!(hash),
            Value::Null,
            format!("no output_artifacts row produced upstream {key} with this hash"),
        ));
        return;
    }
    let who: Vec<String> = producers.iter().map(|(r, m)| format!("{r}/{m}")).collect();
    let Some(dir) = ctx.opts.artifacts.clone().filter(|d| d.is_dir()) else {
        ctx.report.push(Check::pass(
            CheckId::ProvenanceUpstream,
            subject,
            Proof::Recomputed,
            json!(hash),
            json!(who),
            format!("upstream {key} was produced by {}", who.join(", ")),
        ));
        return;
    };
    let Some(path) = locate(&dir, hash) else {
        ctx.report.push(Check::fail(
            CheckId::ProvenanceUpstream,
            subject,
            Code::UpstreamHashMismatch,
            Proof::Recomputed,
            json!(hash),
            Value::Null,
            "the upstream hash is not 64 lowercase hex",
        ));
        return;
    };
    if !path.is_file() {
        ctx.report.push(Check::fail(
            CheckId::ProvenanceUpstream,
            subject,
            Code::ArtifactFileMissing,
            Proof::BytesVerified,
            Value::Null,
            json!(format!("{hash}.parquet")),
            format!("upstream {key}: {hash}.parquet is not in the artifacts folder"),
        ));
        return;
    }
    ctx.report.push(match artifact::hash_file(&path) {
        Ok(fh) if fh.blake3 == *hash => Check::pass(
            CheckId::ProvenanceUpstream,
            subject,
            Proof::BytesVerified,
            json!(hash),
            json!(fh.blake3),
            format!(
                "upstream {key}'s file hashes to the recorded hash; produced by {}",
                who.join(", ")
            ),
        ),
        Ok(fh) => Check::fail(
            CheckId::ProvenanceUpstream,
            subject,
            Code::UpstreamHashMismatch,
            Proof::BytesVerified,
            json!(hash),
            json!(fh.blake3),
            format!("upstream {key}'s file hashes to {}", fh.blake3),
        ),
        Err(e) => Check::unknown(
            CheckId::ProvenanceUpstream,
            subject,
            Code::ArtifactFileMissing,
            Proof::BytesVerified,
            format!("{hash}.parquet cannot be read: {e}"),
        ),
    });
}

/// The `input_index` entry under the record's `input_hash`: it must decode, and when it names this
/// run and model (a later build with the same inputs may have replaced it) its outputs must be the
/// provenance's.
fn check_index(
    ctx: &mut Ctx<'_>,
    ledger: &Ledger,
    subject: &Subject,
    p: &ProvRow,
) -> Result<(), VerifyError> {
    let key = p.record.input_hash.as_str();
    let Some(bytes) = ledger.get(crate::evidence::ledger::INPUT_INDEX, key)? else {
        ctx.report.not_verified.push(format!(
            "{}: no input_index entry under its input_hash (reuse index not recorded)",
            p.model_name
        ));
        return Ok(());
    };
    let entry = match crate::model::records::decode_input_index_entry(&bytes) {
        Ok(e) => e,
        Err(e) => {
            ctx.report.push(Check::fail(
                CheckId::ProvenanceIndex,
                subject.clone(),
                e.code(),
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                format!("the input_index entry {key} does not decode: {e}"),
            ));
            return Ok(());
        }
    };
    if entry.run_id != ctx.run_id || entry.model_name != p.model_name {
        ctx.report.not_verified.push(format!(
            "{}: the input_index entry names a later build ({}/{}) with the same input_hash",
            p.model_name, entry.run_id, entry.model_name
        ));
        return Ok(());
    }
    let claimed: BTreeSet<&str> = p.output_blake3.iter().map(String::as_str).collect();
    let indexed: BTreeSet<&str> = entry.output_blake3.iter().map(String::as_str).collect();
    ctx.report
        .push(if claimed == indexed && entry.input_hash == key {
            Check::pass(
                CheckId::ProvenanceIndex,
                subject.clone(),
                Proof::Recomputed,
                json!(claimed),
                json!(indexed),
                "the input_index entry agrees with the provenance record's outputs",
            )
        } else {
            Check::fail(
                CheckId::ProvenanceIndex,
                subject.clone(),
                Code::ProvenanceOutputMismatch,
                Proof::Recomputed,
                json!(claimed),
                json!(indexed),
                "the input_index entry and the provenance record name different outputs",
            )
        });
    Ok(())
}
