//! `rocky-verify record <file.json> [--recipe-hash HEX]`: checks one `ProvenanceRecord` on its own,
//! and the provenance checks the `run` command applies to every provenance row.
//!
//! Everything here is recomputed from the record's own bytes: the IR's canonical form, its
//! `skip_hash` (with the sqlparser 0.62.0 normaliser), the `input_hash` and the `proof_class`.
//! A record that passes is **self-consistent**, which is not the same as genuine: anyone who can
//! write a record can make its hashes agree. What binds a record to real outputs is the ledger and
//! the artifact bytes, which this command does not read.

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};

use crate::canon::{self, to_canonical_string};
use crate::checks::catalogue::{CheckId, Code};
use crate::identity;
use crate::model::records::{ProvenanceRecord, UpstreamIdentity, decode_provenance_record};
use crate::report::{Check, Outcome, Proof, Report, Subject};

/// The largest record file `record` reads: 16 MiB (a provenance record is a few kilobytes).
pub const MAX_RECORD_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The provenance checks of one record, with no claimed `recipe_hash` to compare against (the
/// `provenance.recipe_hash` check is then `unverifiable`, carrying the recomputed value).
///
/// See [`check_provenance_with`].
pub fn check_provenance(rec: &ProvenanceRecord, subject: &Subject) -> Vec<Check> {
    check_provenance_with(rec, subject, None)
}

/// The provenance checks of one record, in report order.
///
/// # Steps
///
/// 1. `provenance.canonical`: `model_ir_canonical_json` parses strictly and re-encodes to the
///    same bytes (fail `ir_canonical_json_invalid`).
/// 2. `provenance.recipe_hash`: BLAKE3 of the IR bytes, compared with `claimed_recipe_hash` when
///    one is given (fail `recipe_hash_mismatch`); without one, `unverifiable` (`recipe_hash_missing`)
///    with the recomputed value in `actual`.
/// 3. `provenance.skip_hash`: recomputed from the IR (fail `skip_hash_mismatch`).
/// 4. `provenance.input_hash`: recomputed from the recorded `skip_hash`, the IR's target and the
///    recorded upstreams (fail `input_hash_mismatch`).
/// 5. `provenance.proof_class`: the recorded class is not stronger than the upstreams allow (fail
///    `proof_class_mismatch`).
/// 6. `provenance.upstream`, one per watermark upstream: `unverifiable`
///    (`upstream_heuristic_unexpected`). Content upstreams need the ledger and are checked by `run`.
///
/// # Side effects
///
/// None: pure computation (the normaliser runs on a worker thread).
pub fn check_provenance_with(
    rec: &ProvenanceRecord,
    subject: &Subject,
    claimed_recipe_hash: Option<&str>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let ir_bytes = rec.model_ir_canonical_json.as_bytes();

    // 1. Canonical form.
    let ir = match canon::parse_strict(ir_bytes) {
        Ok(ir) => {
            let recanonical = to_canonical_string(&ir);
            let canonical_hash = identity::blake3_hex(recanonical.as_bytes());
            let recorded_hash = identity::blake3_hex(ir_bytes);
            checks.push(if recanonical.as_bytes() == ir_bytes {
                Check::pass(
                    CheckId::ProvenanceCanonical,
                    subject.clone(),
                    Proof::Recomputed,
                    json!(recorded_hash),
                    json!(canonical_hash),
                    "model_ir_canonical_json re-encodes to the same bytes",
                )
            } else {
                Check::fail(
                    CheckId::ProvenanceCanonical,
                    subject.clone(),
                    Code::IrCanonicalJsonInvalid,
                    Proof::Recomputed,
                    json!(recorded_hash),
                    json!(canonical_hash),
                    format!(
                        "model_ir_canonical_json is valid JSON but not canonical: its canonical \
                         form hashes to {canonical_hash}, the recorded text to {recorded_hash}"
                    ),
                )
            });
            Some(ir)
        }
        Err(e) => {
            checks.push(Check::fail(
                CheckId::ProvenanceCanonical,
                subject.clone(),
                Code::IrCanonicalJsonInvalid,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                format!("model_ir_canonical_json does not parse: {e}"),
            ));
            None
        }
    };

    // 2. recipe_hash: by definition the hash of the recorded bytes, canonical or not.
    checks.push(check_recipe_hash(rec, subject, claimed_recipe_hash));

    // 3. skip_hash.
    checks.push(match &ir {
        None => unknown_without_ir(CheckId::ProvenanceSkipHash, subject, "skip_hash"),
        Some(ir) => check_skip_hash(rec, subject, ir),
    });

    // 4. input_hash.
    let upstreams: Vec<Value> = rec
        .upstreams
        .iter()
        .map(UpstreamIdentity::to_json)
        .collect();
    checks.push(match ir.as_ref().map(identity::target_identity) {
        None => unknown_without_ir(CheckId::ProvenanceInputHash, subject, "input_hash"),
        Some(None) => Check::unknown(
            CheckId::ProvenanceInputHash,
            subject.clone(),
            Code::InputHashMismatch,
            Proof::Recomputed,
            "the IR has no target {catalog, schema, table}, so target_identity is unknown",
        ),
        Some(Some(target)) => {
            let recomputed = identity::input_hash(&rec.skip_hash, &target, &upstreams);
            compare(
                CheckId::ProvenanceInputHash,
                subject,
                Code::InputHashMismatch,
                &recomputed,
                &rec.input_hash,
                format!(
                    "input_hash recomputed from the recorded skip_hash, target {target} and {} \
                     upstream(s)",
                    upstreams.len()
                ),
            )
        }
    });

    // 5. proof_class: recorded class must not be stronger than the upstreams allow.
    let allowed = identity::proof_class(&upstreams);
    let stated = rec.proof_class.as_str();
    checks.push(if stated == "strong" && allowed == "heuristic" {
        Check::fail(
            CheckId::ProvenanceProofClass,
            subject.clone(),
            Code::ProofClassMismatch,
            Proof::Recomputed,
            json!(stated),
            json!(allowed),
            "proof_class is strong but a watermark upstream makes it heuristic",
        )
    } else {
        let message = if stated == allowed {
            format!("proof_class {stated} is what the upstreams give")
        } else {
            format!(
                "proof_class {stated} is weaker than the {allowed} the upstreams allow (a \
                 conservative claim)"
            )
        };
        Check::pass(
            CheckId::ProvenanceProofClass,
            subject.clone(),
            Proof::Recomputed,
            json!(stated),
            json!(allowed),
            message,
        )
    });

    // 6. Watermark upstreams are heuristic by design.
    for upstream in &rec.upstreams {
        if let UpstreamIdentity::Watermark { upstream_key, .. } = upstream {
            checks.push(Check::unverifiable(
                CheckId::ProvenanceUpstream,
                subject.clone().with_upstream(upstream_key),
                Code::UpstreamHeuristicUnexpected,
                Proof::Heuristic,
                upstream.to_json(),
                format!(
                    "upstream {upstream_key} is identified by a watermark (max_ts, row_count), \
                     not by content: it cannot be checked against bytes"
                ),
            ));
        }
    }
    checks
}

/// `provenance.recipe_hash`: recomputed BLAKE3 of the recorded IR bytes, compared with a claimed
/// value when there is one.
pub fn check_recipe_hash(
    rec: &ProvenanceRecord,
    subject: &Subject,
    claimed: Option<&str>,
) -> Check {
    let recomputed = identity::recipe_hash(rec.model_ir_canonical_json.as_bytes());
    match claimed {
        Some(claimed) => compare(
            CheckId::ProvenanceRecipeHash,
            subject,
            Code::RecipeHashMismatch,
            &recomputed,
            claimed,
            "recipe_hash = BLAKE3 of model_ir_canonical_json".to_owned(),
        ),
        None => {
            let reason = "no recipe_hash to compare with was given: the value in `actual` is \
                          the IR's recipe_hash, recomputed";
            Check {
                actual: json!(recomputed),
                message: format!(
                    "recipe_hash of the IR is {recomputed}; nothing to compare it with"
                ),
                ..Check::unverifiable(
                    CheckId::ProvenanceRecipeHash,
                    subject.clone(),
                    Code::RecipeHashMissing,
                    Proof::Recomputed,
                    Value::Null,
                    reason,
                )
            }
        }
    }
}

fn check_skip_hash(rec: &ProvenanceRecord, subject: &Subject, ir: &Value) -> Check {
    match identity::try_skip_hash(ir) {
        Ok(Some(recomputed)) => compare(
            CheckId::ProvenanceSkipHash,
            subject,
            Code::SkipHashMismatch,
            &recomputed,
            &rec.skip_hash,
            "skip_hash recomputed from the IR (normaliser v1, sqlparser 0.62.0)".to_owned(),
        ),
        Ok(None) => Check::fail(
            CheckId::ProvenanceSkipHash,
            subject.clone(),
            Code::SkipHashMismatch,
            Proof::Recomputed,
            json!(rec.skip_hash),
            Value::Null,
            "the IR has no skip_hash (typed_columns is empty, or its sql is not exactly one \
             statement the normaliser parses), yet the record states one",
        ),
        Err(e) => Check::unknown(
            CheckId::ProvenanceSkipHash,
            subject.clone(),
            Code::SkipHashMismatch,
            Proof::Recomputed,
            format!("the SQL normaliser could not run: {e}"),
        ),
    }
}

fn unknown_without_ir(check: CheckId, subject: &Subject, what: &str) -> Check {
    Check::unknown(
        check,
        subject.clone(),
        Code::IrCanonicalJsonInvalid,
        Proof::Recomputed,
        format!("{what} cannot be recomputed: model_ir_canonical_json does not parse"),
    )
}

/// Pass when `recomputed == recorded`, else fail with `code`.
fn compare(
    check: CheckId,
    subject: &Subject,
    code: Code,
    recomputed: &str,
    recorded: &str,
    what: String,
) -> Check {
    if recomputed == recorded {
        Check::pass(
            check,
            subject.clone(),
            Proof::Recomputed,
            json!(recorded),
            json!(recomputed),
            what,
        )
    } else {
        Check::fail(
            check,
            subject.clone(),
            code,
            Proof::Recomputed,
            json!(recorded),
            json!(recomputed),
            format!("{what}: expected {recomputed}, found {recorded}"),
        )
    }
}

/// Why a record file could not be read (could not verify).
#[derive(Debug, thiserror::Error)]
enum RecordFileError {
    /// Not openable, or not a regular file.
    #[error(transparent)]
    Open(#[from] crate::evidence::regular_file::OpenError),
    /// Its length cannot be read.
    #[error("cannot stat {}: {source}", path.display())]
    Stat {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Larger than [`MAX_RECORD_FILE_BYTES`].
    #[error(
        "{} is {len} bytes, larger than the {MAX_RECORD_FILE_BYTES}-byte limit for a record",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// Its length.
        len: u64,
    },
    /// A read failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It grew past the limit while being read.
    #[error("{} grew beyond the limit while being read", path.display())]
    Grew {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Reads at most [`MAX_RECORD_FILE_BYTES`] from `path`.
fn read_bounded(path: &Path) -> Result<Vec<u8>, RecordFileError> {
    let file = crate::evidence::regular_file::open(path)?;
    let len = file
        .metadata()
        .map_err(|source| RecordFileError::Stat {
            path: path.to_owned(),
            source,
        })?
        .len();
    if len > MAX_RECORD_FILE_BYTES {
        return Err(RecordFileError::TooLarge {
            path: path.to_owned(),
            len,
        });
    }
    let mut bytes = Vec::new();
    // `take` guards against a file that grows while it is read.
    file.take(MAX_RECORD_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| RecordFileError::Read {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_RECORD_FILE_BYTES {
        return Err(RecordFileError::Grew {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// `rocky-verify record <file.json> [--recipe-hash HEX]`: verifies one provenance record file
/// (compact as stored in the ledger, or pretty-printed like Rocky's golden files).
///
/// # Steps
///
/// 1. Read the file (at most [`MAX_RECORD_FILE_BYTES`]); an unreadable file is `unknown`.
/// 2. Decode it as a `ProvenanceRecord` (fail `provenance_record_invalid`).
/// 3. Run [`check_provenance_with`], comparing `recipe_hash` with `expected_recipe_hash` if given.
///
/// # Side effects
///
/// Reads `path`; writes nothing.
pub fn verify_record_file(path: &Path, expected_recipe_hash: Option<&str>, strict: bool) -> Report {
    let shown = path.display().to_string();
    let mut report = Report::new("record", Some(shown.clone()), strict);
    let file_subject = Subject::file(&shown);

    let bytes = match read_bounded(path) {
        Ok(bytes) => bytes,
        Err(reason) => {
            report.push(Check::unknown(
                CheckId::ProvenanceRecord,
                file_subject,
                Code::ProvenanceRecordInvalid,
                Proof::Recomputed,
                reason.to_string(),
            ));
            report
                .not_verified
                .push("nothing: the record file could not be read".to_owned());
            return report;
        }
    };
    // Nesting past the verifier's limit is refused before any parser recurses: could not
    // verify (exit 2), not a judgement of the record.
    if let Some(reason) = crate::checks::decode::beyond_limits(&bytes) {
        report.push(Check::unknown(
            CheckId::ProvenanceRecord,
            file_subject,
            Code::ProvenanceRecordInvalid,
            Proof::Recomputed,
            reason,
        ));
        report
            .not_verified
            .push("nothing: the record file is beyond the verifier's limits".to_owned());
        return report;
    }
    let rec = match decode_provenance_record(&bytes) {
        Ok(rec) => rec,
        Err(e) => {
            report.push(Check::fail(
                CheckId::ProvenanceRecord,
                file_subject,
                e.code(),
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                e.to_string(),
            ));
            report
                .not_verified
                .push("nothing else: the file is not a valid ProvenanceRecord".to_owned());
            return report;
        }
    };

    let subject = Subject {
        run_id: Some(rec.run_id.clone()),
        model: Some(rec.model_name.clone()),
        ..file_subject
    };
    let checks = check_provenance_with(&rec, &subject, expected_recipe_hash);
    fill_summary(&mut report, &rec, &checks, expected_recipe_hash.is_some());
    for check in checks {
        report.push(check);
    }
    report
}

/// The "what this verified / did not verify" lines, from the checks that actually passed.
fn fill_summary(report: &mut Report, rec: &ProvenanceRecord, checks: &[Check], claimed: bool) {
    let passed = |id: CheckId| {
        checks
            .iter()
            .any(|c| c.check == id && c.outcome == Outcome::Pass)
    };
    let lines = [
        (
            CheckId::ProvenanceCanonical,
            "model_ir_canonical_json is canonical JSON (re-encoded byte for byte)",
        ),
        (
            CheckId::ProvenanceRecipeHash,
            "the IR hashes to the given --recipe-hash",
        ),
        (
            CheckId::ProvenanceSkipHash,
            "skip_hash recomputed from the IR with Rocky's SQL normaliser (sqlparser 0.62.0)",
        ),
        (
            CheckId::ProvenanceInputHash,
            "input_hash recomputed from the recorded skip_hash, the IR's target and the recorded \
             upstreams",
        ),
        (
            CheckId::ProvenanceProofClass,
            "proof_class is no stronger than the recorded upstreams allow",
        ),
    ];
    for (id, line) in lines {
        if passed(id) {
            report.verified.push(line.to_owned());
        }
    }
    let not = &mut report.not_verified;
    if !claimed {
        not.push(
            "no --recipe-hash given: the IR's recipe_hash was computed but compared with nothing"
                .to_owned(),
        );
    }
    not.push(
        "the record is only checked for self-consistency: anyone able to write a record can make \
         its hashes agree; nothing here shows that Rocky produced it"
            .to_owned(),
    );
    not.push(format!(
        "output_blake3 ({} file(s)) and output_path were not checked: this command reads no \
         ledger and no artifacts (use `rocky-verify run`)",
        rec.output_blake3.len()
    ));
    let content = rec
        .upstreams
        .iter()
        .filter(|u| u.kind() == "content")
        .count();
    if content > 0 {
        not.push(format!(
            "{content} content upstream hash(es) were not matched to the artifacts that produced \
             them (needs the ledger)"
        ));
    }
    let watermarks = rec.upstreams.len() - content;
    if watermarks > 0 {
        not.push(format!(
            "{watermarks} watermark upstream(s) are heuristic: a timestamp and row count, not \
             content"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::decode_provenance_record;

    /// This crate's folder, read at run time: several checkouts share one target dir, so cargo
    /// may reuse a test binary built in another checkout, and the compile-time path would point
    /// there.
    fn manifest_dir() -> std::path::PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
    }

    fn golden(name: &str) -> std::path::PathBuf {
        manifest_dir()
            .join("../fixtures/rocky/replay-provenance-goldens")
            .join(name)
    }

    fn outcome_of(checks: &[Check], id: CheckId) -> &Check {
        checks
            .iter()
            .find(|c| c.check == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    #[test]
    fn every_golden_passes_and_recipe_hash_is_unverifiable_without_a_claim() {
        let recipes = [
            (
                "01-no-upstream.json",
                "cc14d017a9fa965f2e73a0de45e41a1fe82947b4f514d3c3c63ea53b98730884",
            ),
            (
                "02-single-content-upstream.json",
                "aaa6e5920f18a63170ebd68d44c7727e750c842cad730411774b526f41efb38d",
            ),
            (
                "03-multi-content-upstream-typed.json",
                "167ec76e3f95a656420cad143179eb7b4e83b557328bd410fb7b1cdb784e8375",
            ),
            (
                "04-masked-column.json",
                "bbfba761d01df723512d6f9d03c8e6ae875430b3d52ddb0186df16facf3051e8",
            ),
        ];
        for (file, recipe) in recipes {
            let report = verify_record_file(&golden(file), None, false);
            let counts = report.counts();
            assert_eq!(
                (counts.fail, counts.unknown),
                (0, 0),
                "{file}: {:#?}",
                report.checks
            );
            assert_eq!(counts.pass, 4, "{file}");
            let r = outcome_of(&report.checks, CheckId::ProvenanceRecipeHash);
            assert_eq!(r.outcome, Outcome::Unverifiable);
            assert_eq!(r.code, Some(Code::RecipeHashMissing));
            assert_eq!(r.actual, json!(recipe));
            assert!(r.reason.is_some());
            assert_eq!(report.exit_code(), 0);
            assert_eq!(
                verify_record_file(&golden(file), None, true).exit_code(),
                1,
                "strict"
            );

            let report = verify_record_file(&golden(file), Some(recipe), false);
            assert_eq!(
                outcome_of(&report.checks, CheckId::ProvenanceRecipeHash).outcome,
                Outcome::Pass
            );
            assert_eq!(report.exit_code(), 0);
            assert_eq!(
                verify_record_file(&golden(file), Some(recipe), true).exit_code(),
                0
            );

            let wrong = format!("{}0", &recipe[..63]);
            let report = verify_record_file(&golden(file), Some(&wrong), false);
            let r = outcome_of(&report.checks, CheckId::ProvenanceRecipeHash);
            assert_eq!(
                (r.outcome, r.code),
                (Outcome::Fail, Some(Code::RecipeHashMismatch))
            );
            assert_eq!(report.exit_code(), 1);
        }
    }

    fn golden_record(file: &str) -> ProvenanceRecord {
        decode_provenance_record(&std::fs::read(golden(file)).unwrap()).unwrap()
    }

    fn only_failure(checks: &[Check]) -> (CheckId, Code) {
        let failed: Vec<&Check> = checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .collect();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        (failed[0].check, failed[0].code.unwrap())
    }

    #[test]
    fn a_tampered_skip_hash_fails_only_skip_and_input_hash() {
        let mut rec = golden_record("03-multi-content-upstream-typed.json");
        rec.skip_hash.replace_range(0..1, "0");
        let checks = check_provenance(&rec, &Subject::default());
        let failed: Vec<_> = checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| c.code)
            .collect();
        assert_eq!(
            failed,
            [Some(Code::SkipHashMismatch), Some(Code::InputHashMismatch)]
        );
    }

    #[test]
    fn a_tampered_upstream_hash_fails_input_hash() {
        let mut rec = golden_record("02-single-content-upstream.json");
        if let UpstreamIdentity::Content { blake3_hash, .. } = &mut rec.upstreams[0] {
            blake3_hash.replace_range(0..1, "3");
        }
        assert_eq!(
            only_failure(&check_provenance(&rec, &Subject::default())),
            (CheckId::ProvenanceInputHash, Code::InputHashMismatch)
        );
    }

    #[test]
    fn a_changed_ir_fails_canonical_or_skip_hash() {
        let mut rec = golden_record("01-no-upstream.json");
        rec.model_ir_canonical_json = rec
            .model_ir_canonical_json
            .replace("bucket\",\"nullable\":false", "bucket\",\"nullable\":true");
        let checks = check_provenance(&rec, &Subject::default());
        assert_eq!(
            only_failure(&checks),
            (CheckId::ProvenanceSkipHash, Code::SkipHashMismatch)
        );

        let mut rec = golden_record("01-no-upstream.json");
        rec.model_ir_canonical_json.push('\n');
        assert_eq!(
            only_failure(&check_provenance(&rec, &Subject::default())),
            (CheckId::ProvenanceCanonical, Code::IrCanonicalJsonInvalid)
        );

        let mut rec = golden_record("01-no-upstream.json");
        rec.model_ir_canonical_json.truncate(10);
        let checks = check_provenance(&rec, &Subject::default());
        assert_eq!(
            only_failure(&checks),
            (CheckId::ProvenanceCanonical, Code::IrCanonicalJsonInvalid)
        );
        assert_eq!(
            outcome_of(&checks, CheckId::ProvenanceSkipHash).outcome,
            Outcome::Unknown
        );
        assert_eq!(
            outcome_of(&checks, CheckId::ProvenanceInputHash).outcome,
            Outcome::Unknown
        );
    }

    #[test]
    fn whitespace_in_sql_changes_recipe_hash_but_not_skip_hash() {
        let mut rec = golden_record("01-no-upstream.json");
        rec.model_ir_canonical_json = rec
            .model_ir_canonical_json
            .replace("SELECT i AS id,", "SELECT  i AS id,");
        let checks = check_provenance_with(
            &rec,
            &Subject::default(),
            Some("cc14d017a9fa965f2e73a0de45e41a1fe82947b4f514d3c3c63ea53b98730884"),
        );
        assert_eq!(
            only_failure(&checks),
            (CheckId::ProvenanceRecipeHash, Code::RecipeHashMismatch)
        );
    }

    #[test]
    fn watermark_upstreams_are_heuristic_and_a_strong_claim_over_them_fails() {
        let rec = decode_provenance_record(br#"{"run_id":"run-1","model_name":"fct_orders","input_hash":"input-def","skip_hash":"logic-key","model_ir_canonical_json":"{\"a\":1}","upstreams":[{"kind":"watermark","upstream_key":"cat.sch.src","max_ts":"2024-01-01T00:00:00Z","row_count":42}],"output_blake3":["out-hash"],"output_path":["s3://b/p.parquet"],"proof_class":"strong","recorded_at":"2024-01-01T12:00:00Z"}"#).unwrap();
        let checks = check_provenance(&rec, &Subject::default());
        let up = outcome_of(&checks, CheckId::ProvenanceUpstream);
        assert_eq!(
            (up.outcome, up.code, up.proof),
            (
                Outcome::Unverifiable,
                Some(Code::UpstreamHeuristicUnexpected),
                Proof::Heuristic
            )
        );
        assert_eq!(up.subject.upstream.as_deref(), Some("cat.sch.src"));
        let pc = outcome_of(&checks, CheckId::ProvenanceProofClass);
        assert_eq!(
            (pc.outcome, pc.code),
            (Outcome::Fail, Some(Code::ProofClassMismatch))
        );
    }

    #[test]
    fn sql_too_large_to_normalise_is_unknown_not_a_mismatch() {
        let mut rec = golden_record("01-no-upstream.json");
        let mut ir: Value = serde_json::from_str(&rec.model_ir_canonical_json).unwrap();
        ir["sql"] = json!(format!(
            "SELECT 1{}",
            " ".repeat(crate::normalize::MAX_SQL_BYTES)
        ));
        rec.model_ir_canonical_json = to_canonical_string(&ir);
        let checks = check_provenance(&rec, &Subject::default());
        let skip = outcome_of(&checks, CheckId::ProvenanceSkipHash);
        assert_eq!(skip.outcome, Outcome::Unknown);
        assert!(
            skip.reason.as_deref().unwrap_or("").contains("normaliser"),
            "{skip:?}"
        );
        // input_hash takes the recorded skip_hash and needs no normaliser.
        assert_eq!(
            outcome_of(&checks, CheckId::ProvenanceInputHash).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn unreadable_and_invalid_files_are_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = verify_record_file(&dir.path().join("nope.json"), None, false);
        assert_eq!(missing.exit_code(), 2);
        assert_eq!(missing.checks[0].outcome, Outcome::Unknown);

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{\"run_id\":").unwrap();
        let report = verify_record_file(&bad, None, false);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.checks[0].code, Some(Code::ProvenanceRecordInvalid));

        // Hostile sizes and depths are refused (could not verify, exit 2), never judged.
        let deep = dir.path().join("deep.json");
        std::fs::write(&deep, "[".repeat(1_000_000)).unwrap();
        let report = verify_record_file(&deep, None, false);
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.checks[0].outcome, Outcome::Unknown);

        let huge = dir.path().join("huge.json");
        let mut text = b"{\"x\":\"".to_vec();
        text.resize(text.len() + (MAX_RECORD_FILE_BYTES as usize), b'a');
        text.extend_from_slice(b"\"}");
        std::fs::write(&huge, text).unwrap();
        let report = verify_record_file(&huge, None, false);
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.checks[0].outcome, Outcome::Unknown);
    }
}
