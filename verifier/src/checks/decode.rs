//! The gate between raw ledger bytes and the checks: a record is *valid* when
//! [`crate::model::records`] decodes it; the checks then read fields through [`super::view`].

use serde_json::Value;

use crate::checks::catalogue::{CheckId, Code};
use crate::model::records::{
    self, ArtifactRecord, ModelExecution, ProvenanceRecord, RecordError, RecordType, RunRecord,
};
use crate::report::{Check, Proof, Subject};

/// The largest single ledger value the verifier decodes. Real records are kilobytes; a value
/// past this is refused (could not verify), not parsed into memory and not judged.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// The deepest JSON nesting the verifier decodes: the strict parser's own limit, so a value the
/// byte scan lets through is never refused later for depth (one limit, not two).
pub const MAX_DEPTH: usize = crate::canon::MAX_NESTING;

/// A record that did not decode: its finding code and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `*_invalid` finding code.
    pub code: Code,
    /// Why.
    pub reason: String,
    /// The value exceeds the verifier's limits, so it was not judged: could not verify, not
    /// evidence of tampering.
    pub beyond_limits: bool,
}

impl Invalid {
    /// The check for this record: `unknown` when it was beyond the verifier's limits, else
    /// `fail` (the evidence is malformed).
    pub fn check(&self, check: CheckId, subject: Subject, message: String) -> Check {
        if self.beyond_limits {
            Check::unknown(check, subject, self.code, Proof::Recomputed, message)
        } else {
            Check::fail(
                check,
                subject,
                self.code,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                message,
            )
        }
    }
}

/// Why `bytes` are beyond what the verifier decodes (size or nesting), if they are. Nesting is
/// measured by a byte scan that skips string contents, before any parser recurses.
pub fn beyond_limits(bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_VALUE_BYTES {
        return Some(format!(
            "the value is {} bytes, over the verifier's limit of {MAX_VALUE_BYTES} bytes for one \
             ledger value",
            bytes.len()
        ));
    }
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (max > MAX_DEPTH).then(|| {
        format!("the value nests {max} levels deep, over the verifier's limit of {MAX_DEPTH}")
    })
}

/// Parses ledger bytes as a JSON value (serde_json's recursion limit bounds nesting), for the
/// views; `None` if they are not JSON at all.
pub fn value(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// One ledger value read once: the strict verdict (the typed record, or why it is invalid) and
/// the JSON value the checks' views ([`super::view`]) read, both from a single parse.
#[derive(Debug)]
pub struct Decoded<T> {
    /// The value as JSON: the strict parse when it succeeded, else a lenient one (so the checks
    /// can still run best-effort on a record already judged invalid); `None` when the bytes are
    /// not JSON at all or beyond the limits.
    pub value: Option<Value>,
    /// The strict verdict.
    pub record: Result<T, Invalid>,
}

/// Parses `bytes` once and judges them with `from_value`; see [`Decoded`].
fn decode_once<T>(
    bytes: &[u8],
    record: RecordType,
    from_value: impl FnOnce(&Value) -> Result<T, RecordError>,
) -> Decoded<T> {
    let invalid = |e: RecordError, beyond_limits| Invalid {
        code: e.code(),
        reason: e.to_string(),
        beyond_limits,
    };
    if let Some(reason) = beyond_limits(bytes) {
        return Decoded {
            value: None,
            record: Err(Invalid {
                code: record.invalid_code(),
                reason,
                beyond_limits: true,
            }),
        };
    }
    match records::parse_document(bytes, record) {
        Ok(v) => {
            let record = from_value(&v).map_err(|e| invalid(e, false));
            Decoded {
                value: Some(v),
                record,
            }
        }
        // Invalid JSON for the strict parser (a duplicate key, trailing bytes): the second,
        // lenient parse happens only on this path, for the best-effort views.
        Err(e) => Decoded {
            value: value(bytes),
            record: Err(invalid(e, false)),
        },
    }
}

/// Decodes a `RunRecord` value once: its verdict and its JSON.
pub fn read_run_record(bytes: &[u8]) -> Decoded<RunRecord> {
    decode_once(bytes, RecordType::RunRecord, records::run_record_from_value)
}

/// Decodes an `ArtifactRecord` value once: its verdict and its JSON.
pub fn read_artifact_record(bytes: &[u8]) -> Decoded<ArtifactRecord> {
    decode_once(
        bytes,
        RecordType::ArtifactRecord,
        records::artifact_record_from_value,
    )
}

/// Decodes a `ProvenanceRecord` value once: its verdict and its JSON.
pub fn read_provenance_record(bytes: &[u8]) -> Decoded<ProvenanceRecord> {
    decode_once(
        bytes,
        RecordType::ProvenanceRecord,
        records::provenance_record_from_value,
    )
}

/// Judges one `models_executed` element of an already parsed run record (no re-encoding).
pub fn model_execution_value(v: &Value) -> Result<ModelExecution, Invalid> {
    records::model_execution_from_value(v).map_err(|e| Invalid {
        code: e.code(),
        reason: e.to_string(),
        beyond_limits: false,
    })
}

/// Validates a `RunRecord` value.
pub fn run_record(bytes: &[u8]) -> Result<(), Invalid> {
    read_run_record(bytes).record.map(|_| ())
}

/// Validates one `ModelExecution`.
pub fn model_execution(bytes: &[u8]) -> Result<(), Invalid> {
    decode_once(
        bytes,
        RecordType::ModelExecution,
        records::model_execution_from_value,
    )
    .record
    .map(|_| ())
}

/// Validates an `ArtifactRecord`.
pub fn artifact_record(bytes: &[u8]) -> Result<(), Invalid> {
    read_artifact_record(bytes).record.map(|_| ())
}

/// Decodes a `ProvenanceRecord` (needed whole for `check_provenance`).
pub fn provenance_record(bytes: &[u8]) -> Result<ProvenanceRecord, Invalid> {
    read_provenance_record(bytes).record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::{
        decode_artifact_record, decode_model_execution, decode_provenance_record, decode_run_record,
    };

    /// Every record vector, read in one pass, gets the verdict the standalone strict decoder
    /// gives (the one `tests/vectors.rs` checks against the spec), and the value the views read
    /// is the JSON itself.
    #[test]
    fn one_pass_gives_the_strict_decoders_verdict_and_the_json() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/records.json");
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut compared = 0;
        for case in doc["cases"].as_array().unwrap() {
            let text = case["input"]["input_text"].as_str().unwrap();
            let bytes = text.as_bytes();
            let verdict = |r: Result<(), RecordError>| r.map_err(|e| (e.code(), e.to_string()));
            let mine = |r: Result<(), Invalid>| r.map_err(|e| (e.code, e.reason));
            let (strict, one_pass, value) = match case["record_type"].as_str().unwrap() {
                "RunRecord" => {
                    let d = read_run_record(bytes);
                    let r = d.record.map(|_| ());
                    (
                        verdict(decode_run_record(bytes).map(|_| ())),
                        mine(r),
                        d.value,
                    )
                }
                "ArtifactRecord" => {
                    let d = read_artifact_record(bytes);
                    let r = d.record.map(|_| ());
                    (
                        verdict(decode_artifact_record(bytes).map(|_| ())),
                        mine(r),
                        d.value,
                    )
                }
                "ProvenanceRecord" => {
                    let d = read_provenance_record(bytes);
                    let r = d.record.map(|_| ());
                    (
                        verdict(decode_provenance_record(bytes).map(|_| ())),
                        mine(r),
                        d.value,
                    )
                }
                "ModelExecution" => {
                    let v = value(bytes);
                    let r = v.as_ref().map_or_else(
                        || model_execution(bytes),
                        |v| model_execution_value(v).map(|_| ()),
                    );
                    (
                        verdict(decode_model_execution(bytes).map(|_| ())),
                        mine(r),
                        v,
                    )
                }
                _ => continue,
            };
            let name = case["name"].as_str().unwrap_or("?");
            assert_eq!(strict, one_pass, "{name}");
            assert_eq!(value, super::value(bytes), "{name}");
            compared += 1;
        }
        assert!(compared >= 20, "only {compared} record vectors compared");
    }
}
