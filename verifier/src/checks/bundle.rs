//! The bundle's own checks (`spec/bundle.md` sections 3 and 5.3): the files against the
//! manifest (`bundle.manifest`) and the two copies of a tiered ledger (`bundle.tiers`).

use serde_json::json;

use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::bundle::manifest::Comparison;
use crate::evidence::bundle::{Bundle, BundleError, Finding, tiers};
use crate::report::{Check, Proof, Report, Subject};

/// The `bundle.manifest` checks: one `fail` per difference, or one `pass`.
pub fn manifest_checks(bundle: &Bundle) -> Vec<Check> {
    if bundle.findings.is_empty() {
        return vec![Check::pass(
            CheckId::BundleManifest,
            Subject::default(),
            Proof::BytesVerified,
            json!(bundle.manifest.files.len()),
            json!(bundle.manifest.files.len()),
            format!(
                "all {} files of the bundle are those its manifest lists (size and BLAKE3), and \
                 no other",
                bundle.manifest.files.len()
            ),
        )];
    }
    bundle
        .findings
        .iter()
        .map(|f| {
            let subject = Subject::file(f.path());
            let (code, expected, actual, message) = match f {
                Finding::Missing { path } => (
                    Code::BundleFileMissing,
                    json!(path),
                    json!(null),
                    format!("bundle tampered: {path} is listed in the manifest but absent"),
                ),
                Finding::Unexpected { path } => (
                    Code::BundleFileUnexpected,
                    json!(null),
                    json!(path),
                    format!("bundle tampered: {path} is in the bundle but not in its manifest"),
                ),
                Finding::Size {
                    path,
                    expected,
                    actual,
                } => (
                    Code::BundleSizeMismatch,
                    json!(expected),
                    json!(actual),
                    format!(
                        "bundle tampered: {path} is {actual} bytes, the manifest says {expected}"
                    ),
                ),
                Finding::Hash {
                    path,
                    expected,
                    actual,
                } => (
                    Code::BundleHashMismatch,
                    json!(expected),
                    json!(actual),
                    format!(
                        "bundle tampered: the bytes of {path} hash to {actual}, the manifest \
                         says {expected}"
                    ),
                ),
            };
            Check::fail(
                CheckId::BundleManifest,
                subject,
                code,
                Proof::BytesVerified,
                expected,
                actual,
                message,
            )
        })
        .collect()
}

/// The refusal of a bundle whose structure cannot be trusted: an `unknown` `bundle.manifest`
/// check (exit 2), also printed as a diagnostic.
pub fn refusal(e: &BundleError) -> Check {
    Check::unknown(
        CheckId::BundleManifest,
        Subject::default(),
        e.code(),
        Proof::BytesVerified,
        e.to_string(),
    )
}

/// The `bundle.tiers` check, when the bundle holds two ledger copies.
pub fn tier_checks(bundle: &Bundle) -> Vec<Check> {
    let copies = bundle.ledger_copies();
    let [(pa, ca), (pb, cb)] = copies.as_slice() else {
        return Vec::new();
    };
    let claimed = bundle.manifest.ledger.as_ref().and_then(|l| l.comparison);
    let subject = Subject::file(&ca.path);
    let found = match tiers::compare((pa, &ca.path), (pb, &cb.path)) {
        Ok(found) => found,
        Err(e) => {
            return vec![Check::unknown(
                CheckId::BundleTiers,
                subject,
                Code::BundleTierInvalid,
                Proof::BytesVerified,
                format!(
                    "the ledger copies {} and {} could not be compared: {e}",
                    ca.path, cb.path
                ),
            )];
        }
    };
    let claim_text = claimed.map_or("none", Comparison::as_str);
    let mut out = Vec::new();
    if claimed != Some(found.result) {
        out.push(Check::fail(
            CheckId::BundleTiers,
            subject.clone(),
            Code::BundleClaimMismatch,
            Proof::BytesVerified,
            json!(found.result.as_str()),
            json!(claim_text),
            format!(
                "the manifest says the ledger copies are {claim_text}, but they are {}",
                found.result.as_str()
            ),
        ));
    }
    let tiers_text = format!(
        "{:?} ({}) and {:?} ({})",
        ca.tier, ca.path, cb.tier, cb.path
    );
    out.push(match found.result {
        Comparison::ByteIdentical => Check::pass(
            CheckId::BundleTiers,
            subject,
            Proof::BytesVerified,
            json!("byte_identical"),
            json!(claim_text),
            format!("the ledger copies {tiers_text} are byte-identical"),
        ),
        Comparison::RowIdentical => Check::pass(
            CheckId::BundleTiers,
            subject,
            Proof::Recomputed,
            json!("row_identical"),
            json!(claim_text),
            format!(
                "the ledger copies {tiers_text} differ in bytes but hold the same rows of {} \
                 (other tables not compared)",
                tiers::COMPARED.map(|(n, _)| n).join(", ")
            ),
        ),
        Comparison::Diverged => Check::fail(
            CheckId::BundleTiers,
            subject,
            Code::LedgerTiersMismatch,
            Proof::Recomputed,
            json!(found.differing),
            json!(claim_text),
            format!(
                "the ledger copies {tiers_text} diverge in {}: a stale tier can shadow newer \
                 state; the first copy was verified",
                found.differing.join(", ")
            ),
        ),
    });
    out
}

/// Puts the bundle's checks first in `report`, and its facts in `begin` and the summary.
pub fn attach(report: &mut Report, bundle: &Bundle) {
    let mut checks = manifest_checks(bundle);
    checks.extend(tier_checks(bundle));
    checks.append(&mut report.checks);
    report.checks = checks;
    report.bundle = Some(crate::report::BundleInfo {
        id: bundle.id.clone(),
        path: bundle.display.clone(),
        collector: format!(
            "{}/{}",
            bundle.manifest.collector.name, bundle.manifest.collector.version
        ),
        created_at: bundle.manifest.created_at.clone(),
    });
    if bundle.findings.is_empty() {
        report.verified.insert(
            0,
            format!(
                "the bundle's files are the ones its manifest lists (bundle id {})",
                bundle.id
            ),
        );
    }
    report.not_verified.push(
        "where the bundle's files came from (source URIs, ETags, fetch times) is the collector's \
         word: the verifier is offline"
            .to_owned(),
    );
    if bundle.ledger().is_none() {
        report
            .not_verified
            .push("the bundle holds no ledger".to_owned());
    }
    if bundle
        .manifest
        .ledger
        .as_ref()
        .is_some_and(|l| l.copies.len() == 2)
    {
        report.not_verified.push(
            "ledger tiers: only the tables the verifier reads were compared row by row".to_owned(),
        );
    }
    if bundle
        .manifest
        .warehouse
        .as_ref()
        .is_some_and(|w| w.kind == crate::evidence::bundle::manifest::WarehouseKind::Facts)
    {
        report.not_verified.push(
            "the warehouse is represented by facts (row counts and columns as a client \
             reported them): data read back from the tables is not checked"
                .to_owned(),
        );
    }
}
