//! The gate between raw ledger bytes and the checks: a record is *valid* when
//! [`crate::records`] decodes it; the checks then read fields through [`super::view`].

use serde_json::Value;

/// A record that did not decode: its finding code and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `*_invalid` finding code.
    pub code: &'static str,
    /// Why.
    pub reason: String,
}

/// Parses ledger bytes as a JSON value (serde_json's recursion limit bounds nesting), for the
/// views; `None` if they are not JSON at all.
pub fn value(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

fn gate<T, E>(
    r: Result<T, E>,
    code: impl Fn(&E) -> &'static str,
    fmt: impl Fn(&E) -> String,
) -> Result<(), Invalid> {
    r.map(|_| ()).map_err(|e| Invalid {
        code: code(&e),
        reason: fmt(&e),
    })
}

/// Validates a `RunRecord` value.
pub fn run_record(bytes: &[u8]) -> Result<(), Invalid> {
    gate(
        crate::records::decode_run_record(bytes),
        |e| e.code(),
        |e| e.to_string(),
    )
}

/// Validates one `ModelExecution`.
pub fn model_execution(bytes: &[u8]) -> Result<(), Invalid> {
    gate(
        crate::records::decode_model_execution(bytes),
        |e| e.code(),
        |e| e.to_string(),
    )
}

/// Validates an `ArtifactRecord`.
pub fn artifact_record(bytes: &[u8]) -> Result<(), Invalid> {
    gate(
        crate::records::decode_artifact_record(bytes),
        |e| e.code(),
        |e| e.to_string(),
    )
}

/// Decodes a `ProvenanceRecord` (needed whole for `check_provenance`).
pub fn provenance_record(bytes: &[u8]) -> Result<crate::records::ProvenanceRecord, Invalid> {
    crate::records::decode_provenance_record(bytes).map_err(|e| Invalid {
        code: e.code(),
        reason: e.to_string(),
    })
}
