//! `rocky-verify runs`: every run in the ledger, newest first.
//!
//! # Side effects
//!
//! Reads the ledger read-only; writes nothing.

use std::path::Path;

use serde_json::{Value, json};

use super::run::{open_ledger, view::RunView};
use crate::ledger;
use crate::report::{Check, Proof, Report, Subject};

/// Lists the runs of a ledger: one `run` line each, plus a `fail` check for every
/// `run_history` row that does not decode.
pub fn list_runs(path: &Path) -> Report {
    let mut report = Report::new("runs", None, false);
    let Some(ledger) = open_ledger(&mut report, path) else {
        return report;
    };
    let digest = ledger.digest();
    super::run::record_digest(&mut report, Some(digest));
    let rows = match ledger.rows(ledger::RUN_HISTORY, "") {
        Ok(r) => r,
        Err(e) => {
            report.push(Check::unknown(
                "ledger.open",
                Subject::file(&path.display().to_string()),
                e.code(),
                Proof::BytesVerified,
                e.to_string(),
            ));
            return report;
        }
    };
    let mut lines: Vec<(Option<chrono::DateTime<chrono::Utc>>, String, Value)> = Vec::new();
    for (key, bytes) in &rows {
        let value: Option<Value> = serde_json::from_slice(bytes).ok();
        let decoded = crate::records::decode_run_record(bytes);
        let view = value.as_ref().map(RunView::from_value).unwrap_or_default();
        if let Err(e) = &decoded {
            report.push(Check::fail(
                "run.record",
                Subject::run(key),
                e.code(),
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                format!("the run_history row {key} does not decode: {e}"),
            ));
        }
        let ok = decoded.is_ok();
        let pick = |s: Option<String>| if ok { s } else { None };
        lines.push((
            if ok {
                view.started.as_ref().map(|s| s.1)
            } else {
                None
            },
            key.clone(),
            json!({
                "run_id": key,
                "started_at": pick(view.started.map(|s| s.0)),
                "finished_at": pick(view.finished.map(|s| s.0)),
                "status": pick(view.status),
                "models": if ok { Some(view.models.len()) } else { None },
                "trigger": pick(view.trigger),
                "triggering_identity": pick(view.triggering_identity),
                "git_commit": pick(view.git_commit),
                "decodable": ok,
            }),
        ));
    }
    // Newest first; undecodable rows (no usable time) last, by key.
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let decodable = lines.iter().filter(|l| l.2["decodable"] == true).count();
    report.runs = lines.into_iter().map(|l| l.2).collect();
    report.verified.push(format!(
        "{decodable} of {} run_history row(s) decode",
        rows.len()
    ));
    report
        .not_verified
        .push("listing only: `rocky-verify run <id>` verifies a run".to_owned());
    report
}
