//! The gate between raw ledger bytes and the checks: a record is *valid* when
//! [`crate::model::records`] decodes it; the checks then read fields through [`super::view`].

use serde_json::Value;

use crate::checks::catalogue::{CheckId, Code};
use crate::report::{Check, Proof, Subject};

/// The largest single ledger value the verifier decodes. Real records are kilobytes; a value
/// past this is refused (could not verify), not parsed into memory and not judged.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// The deepest JSON nesting the verifier decodes (serde_json's own recursion limit is 128).
pub const MAX_DEPTH: usize = 127;

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

fn gate<T, E>(
    bytes: &[u8],
    code_if_too_big: Code,
    decode: impl FnOnce(&[u8]) -> Result<T, E>,
    code: impl Fn(&E) -> Code,
    fmt: impl Fn(&E) -> String,
) -> Result<T, Invalid> {
    if let Some(reason) = beyond_limits(bytes) {
        return Err(Invalid {
            code: code_if_too_big,
            reason,
            beyond_limits: true,
        });
    }
    decode(bytes).map_err(|e| Invalid {
        code: code(&e),
        reason: fmt(&e),
        beyond_limits: false,
    })
}

/// Validates a `RunRecord` value.
pub fn run_record(bytes: &[u8]) -> Result<(), Invalid> {
    let r = crate::model::records::decode_run_record;
    gate(
        bytes,
        Code::RunRecordInvalid,
        r,
        |e| e.code(),
        |e| e.to_string(),
    )
    .map(|_| ())
}

/// Validates one `ModelExecution`.
pub fn model_execution(bytes: &[u8]) -> Result<(), Invalid> {
    let r = crate::model::records::decode_model_execution;
    gate(
        bytes,
        Code::ModelExecutionInvalid,
        r,
        |e| e.code(),
        |e| e.to_string(),
    )
    .map(|_| ())
}

/// Validates an `ArtifactRecord`.
pub fn artifact_record(bytes: &[u8]) -> Result<(), Invalid> {
    let r = crate::model::records::decode_artifact_record;
    gate(
        bytes,
        Code::ArtifactRecordInvalid,
        r,
        |e| e.code(),
        |e| e.to_string(),
    )
    .map(|_| ())
}

/// Decodes a `ProvenanceRecord` (needed whole for `check_provenance`).
pub fn provenance_record(bytes: &[u8]) -> Result<crate::model::records::ProvenanceRecord, Invalid> {
    let r = crate::model::records::decode_provenance_record;
    gate(
        bytes,
        Code::ProvenanceRecordInvalid,
        r,
        |e| e.code(),
        |e| e.to_string(),
    )
}
