//! What the selected runs need: the runs themselves (`--run`, `--since`, `--last`), the artifact
//! rows they name, each content-addressed table's folder, the commits they reference and the
//! warehouse tables they wrote. Read from the ledger with the verifier's own read-only reader.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use rocky_verify::evidence::delta_log;
use rocky_verify::evidence::ledger::{
    CHECK_HISTORY, INPUT_PROVENANCE, Ledger, OUTPUT_ARTIFACTS, RUN_HISTORY,
};
use rocky_verify::evidence::warehouse::TableRef;
use rocky_verify::model::records::{
    ArtifactRecord, RunRecord, decode_artifact_record, decode_provenance_record, decode_run_record,
};
use serde_json::Value;

use crate::error::CollectError;

/// `--run`, `--since`, `--last` (at most one; none selects every run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// One run id.
    pub run: Option<String>,
    /// `<N>d`, a date, an RFC 3339 time, or a run id: runs that started then or later.
    pub since: Option<String>,
    /// The N runs that started last.
    pub last: Option<u64>,
}

impl Selection {
    /// The manifest's `selection` object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"last": self.last, "run": self.run, "since": self.since})
    }
}

/// One artifact row of a selected run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRow {
    /// The decoded record.
    pub record: ArtifactRecord,
    /// The table folder (`key_prefix`) its Delta log lives under, when it can be told.
    pub table_prefixes: Vec<String>,
}

/// Everything the selected runs name.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The selected run ids, oldest first.
    pub runs: Vec<String>,
    /// Their artifact rows.
    pub artifacts: Vec<ArtifactRow>,
    /// Every table folder (`key_prefix`) whose `_delta_log/` is wanted.
    pub table_prefixes: BTreeSet<String>,
    /// The commits the runs record (full or abbreviated hex, as recorded).
    pub commits: BTreeSet<String>,
    /// The branches the runs record (`git_branch`), so the bundle can answer `git.branch`.
    pub branches: BTreeSet<String>,
    /// The warehouse tables the runs wrote.
    pub tables: BTreeSet<TableRef>,
}

fn invalid(uri: &str, e: impl std::fmt::Display) -> CollectError {
    CollectError::LedgerInvalid {
        uri: uri.to_owned(),
        reason: e.to_string(),
    }
}

/// Reads the selection's scope from `ledger` (`uri` names it in errors).
///
/// # Errors
///
/// [`CollectError::LedgerInvalid`] for an unreadable ledger or record, and
/// [`CollectError::Selection`] when nothing is selected or `--run` names an absent run.
pub fn resolve(ledger: &Ledger, uri: &str, sel: &Selection) -> Result<Scope, CollectError> {
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut bad: Option<String> = None;
    ledger
        .visit(RUN_HISTORY, None, false, |key, value| {
            match decode_run_record(value) {
                Ok(r) => runs.push(r),
                Err(e) => bad = Some(format!("run_history {key}: {e}")),
            }
            bad.is_none()
        })
        .map_err(|e| invalid(uri, e))?;
    if let Some(b) = bad {
        return Err(invalid(uri, b));
    }
    runs.sort_by(|a, b| (a.started_at.utc, &a.run_id).cmp(&(b.started_at.utc, &b.run_id)));
    let chosen: Vec<RunRecord> = if let Some(id) = &sel.run {
        let r: Vec<RunRecord> = runs.into_iter().filter(|r| &r.run_id == id).collect();
        if r.is_empty() {
            return Err(CollectError::Selection(format!(
                "--run {id}: the ledger {uri} has no such run"
            )));
        }
        r
    } else if let Some(n) = sel.last {
        let skip = runs
            .len()
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
        runs.into_iter().skip(skip).collect()
    } else if let Some(since) = &sel.since {
        let from = since_instant(since, &runs)?;
        runs.into_iter()
            .filter(|r| r.started_at.utc >= from)
            .collect()
    } else {
        runs
    };
    if chosen.is_empty() {
        return Err(CollectError::Selection(format!(
            "the selection names no run of the ledger {uri}"
        )));
    }

    let check_keys: Vec<TableRef> = ledger
        .keys(CHECK_HISTORY, "")
        .map_err(|e| invalid(uri, e))?
        .iter()
        .filter_map(|k| TableRef::parse(k))
        .collect();
    let mut scope = Scope::default();
    for run in &chosen {
        scope.runs.push(run.run_id.clone());
        if let Some(c) = &run.git_commit
            && !c.is_empty()
        {
            scope.commits.insert(c.clone());
        }
        if let Some(b) = &run.git_branch
            && !b.is_empty()
        {
            scope.branches.insert(b.clone());
        }
        // The IRs recorded for the run: targets and storage prefixes.
        let mut storage_prefixes: Vec<(String, String)> = Vec::new();
        let mut ir_tables: BTreeSet<String> = BTreeSet::new();
        for (key, value) in ledger
            .rows(INPUT_PROVENANCE, &format!("{}|", run.run_id))
            .map_err(|e| invalid(uri, e))?
        {
            let p = decode_provenance_record(&value)
                .map_err(|e| invalid(uri, format!("input_provenance {key}: {e}")))?;
            let Ok(ir) = serde_json::from_str::<Value>(&p.model_ir_canonical_json) else {
                continue;
            };
            if let Some(t) = ir.get("target").and_then(TableRef::from_ir_target) {
                ir_tables.insert(t.table.clone());
                scope.tables.insert(t);
            }
            if let Some(sp) = ir
                .get("materialization")
                .and_then(|m| m.get("storage_prefix"))
                .and_then(Value::as_str)
                .and_then(delta_log::key_prefix)
            {
                storage_prefixes.push((p.model_name.clone(), sp));
            }
        }
        for m in &run.models_executed {
            if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
                scope.tables.insert(t);
            } else if !ir_tables.contains(&m.model_name) {
                // A replicated table: only its check_history key names it (exactly one).
                let named: Vec<&TableRef> = check_keys
                    .iter()
                    .filter(|t| {
                        t.table == m.model_name
                            && run.target_catalog.as_deref().is_none_or(|c| c == t.catalog)
                    })
                    .collect();
                if let [t] = named.as_slice() {
                    scope.tables.insert((*t).clone());
                }
            }
        }
        for (key, value) in ledger
            .rows(OUTPUT_ARTIFACTS, &format!("{}|", run.run_id))
            .map_err(|e| invalid(uri, e))?
        {
            let record = decode_artifact_record(&value)
                .map_err(|e| invalid(uri, format!("output_artifacts {key}: {e}")))?;
            let mut prefixes: Vec<String> = storage_prefixes
                .iter()
                .filter(|(m, _)| *m == record.model_name)
                .map(|(_, p)| p.clone())
                .collect();
            if let Some(p) = delta_log::key_prefix_from_file_path(&record.file_path) {
                prefixes.push(p);
            }
            prefixes.sort();
            prefixes.dedup();
            prefixes.retain(|p| delta_log::unsafe_prefix_reason(p).is_none());
            scope.table_prefixes.extend(prefixes.iter().cloned());
            scope.artifacts.push(ArtifactRow {
                record,
                table_prefixes: prefixes,
            });
        }
    }
    Ok(scope)
}

/// The instant `--since` denotes: `<N>d` (N days before now), `YYYY-MM-DD` (midnight UTC), an
/// RFC 3339 time, or a run id (that run's start).
fn since_instant(text: &str, runs: &[RunRecord]) -> Result<DateTime<Utc>, CollectError> {
    if let Some(days) = text.strip_suffix('d').and_then(|d| d.parse::<i64>().ok())
        && days >= 0
    {
        return chrono::Duration::try_days(days)
            .and_then(|d| Utc::now().checked_sub_signed(d))
            .ok_or_else(|| CollectError::Usage(format!("--since {text}: out of range")));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    if let Ok(t) = rocky_verify::model::records::Timestamp::parse(text) {
        return Ok(t.utc);
    }
    if let Some(r) = runs.iter().find(|r| r.run_id == text) {
        return Ok(r.started_at.utc);
    }
    Err(CollectError::Usage(format!(
        "--since {text}: not <N>d, a date (YYYY-MM-DD), an RFC 3339 time, or a run id of the ledger"
    )))
}
