//! The two copies of a tiered ledger (`spec/bundle.md` section 3): byte-identical,
//! row-identical, or diverged.

use std::path::Path;

use super::manifest::Comparison;
use crate::evidence::ledger::{self, JsonTable, Ledger};

/// The tables whose rows are compared (the ones the verifier reads).
pub const COMPARED: [(&str, JsonTable<'static>); 5] = [
    ("run_history", ledger::RUN_HISTORY),
    ("output_artifacts", ledger::OUTPUT_ARTIFACTS),
    ("input_provenance", ledger::INPUT_PROVENANCE),
    ("input_index", ledger::INPUT_INDEX),
    ("check_history", ledger::CHECK_HISTORY),
];

/// What the verifier found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierComparison {
    /// The verdict.
    pub result: Comparison,
    /// The tables (and `metadata.schema_version`) whose rows differ, for a divergence.
    pub differing: Vec<&'static str>,
}

fn file_hash(path: &Path) -> Result<String, String> {
    let f = crate::evidence::regular_file::open(path).map_err(|e| e.to_string())?;
    let (h, _) = super::hash_reader(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
    Ok(h)
}

/// A digest of every row of `table`: each key and value length-prefixed, in key order.
fn table_digest(l: &Ledger, table: JsonTable<'_>) -> Result<[u8; 32], String> {
    let mut h = blake3::Hasher::new();
    l.visit(table, None, false, |k, v| {
        h.update(&(k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update(&(v.len() as u64).to_le_bytes());
        h.update(v);
        true
    })
    .map_err(|e| e.to_string())?;
    Ok(*h.finalize().as_bytes())
}

/// Compares two ledger files.
///
/// # Errors
///
/// A copy that cannot be read or opened as a ledger (the comparison is then unknown).
pub fn compare(a: (&Path, &str), b: (&Path, &str)) -> Result<TierComparison, String> {
    if file_hash(a.0)? == file_hash(b.0)? {
        return Ok(TierComparison {
            result: Comparison::ByteIdentical,
            differing: Vec::new(),
        });
    }
    let la = Ledger::open(a.0, a.1).map_err(|e| e.to_string())?;
    let lb = Ledger::open(b.0, b.1).map_err(|e| e.to_string())?;
    let mut differing = Vec::new();
    let version = |l: &Ledger| l.metadata("schema_version").map_err(|e| e.to_string());
    if version(&la)? != version(&lb)? {
        differing.push("metadata.schema_version");
    }
    for (name, table) in COMPARED {
        if table_digest(&la, table)? != table_digest(&lb, table)? {
            differing.push(name);
        }
    }
    Ok(TierComparison {
        result: if differing.is_empty() {
            Comparison::RowIdentical
        } else {
            Comparison::Diverged
        },
        differing,
    })
}
