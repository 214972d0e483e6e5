//! `rocky-verify runs`: every run in the ledger, newest first.
//!
//! # Side effects
//!
//! Reads the ledger read-only; writes nothing.

use std::path::Path;

use serde_json::{Value, json};

use crate::checks::catalogue::{CheckId, Code};
use crate::checks::open_ledger;
use crate::checks::view::RunView;
use crate::evidence::ledger;
use crate::report::{Check, Proof, Report, Subject};

/// Lists the runs of a ledger: one `run` line each, plus a `fail` check for every
/// `run_history` row that does not decode.
pub fn list_runs(path: &Path) -> Report {
    let mut report = Report::new("runs", None, false);
    let Some(ledger) = open_ledger(&mut report, path) else {
        return report;
    };
    let ((), digest) = crate::checks::hashing_alongside(&ledger, true, || {
        list_with_ledger(&mut report, &ledger, path);
    });
    crate::checks::record_digest(&mut report, digest);
    report
}

fn list_with_ledger(report: &mut Report, ledger: &ledger::Ledger, path: &Path) {
    let rows = match ledger.rows(ledger::RUN_HISTORY, "") {
        Ok(r) => r,
        Err(e) => {
            report.push(Check::unknown(
                CheckId::LedgerOpen,
                Subject::file(&path.display().to_string()),
                e.code(),
                Proof::BytesVerified,
                e.to_string(),
            ));
            return;
        }
    };
    let mut lines: Vec<Line> = Vec::with_capacity(rows.len());
    for (line, check) in describe_all(&rows) {
        if let Some(c) = check {
            report.push(c);
        }
        lines.push(line);
    }
    // Newest first; undecodable rows (no usable time) last, by key.
    lines.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let decodable = lines.iter().filter(|l| l.2["decodable"] == true).count();
    report.runs = lines.into_iter().map(|l| l.2).collect();
    // The listing's one claim, as a check, so the counts and the verified line agree.
    if decodable > 0 {
        report.push(Check::pass(
            CheckId::RunRecord,
            Subject::file(&path.display().to_string()),
            Proof::Recomputed,
            json!(rows.len()),
            json!(decodable),
            format!(
                "{decodable} of {} run_history row(s) decode strictly",
                rows.len()
            ),
        ));
        report.verified.push(format!(
            "{decodable} of {} run_history row(s) decode",
            rows.len()
        ));
    }
    report
        .not_verified
        .push("listing only: `rocky-verify run <id>` verifies a run".to_owned());
}

/// One listed run: its start (for ordering), its key, and its JSON line.
type Line = (Option<chrono::DateTime<chrono::Utc>>, String, Value);

/// Every row described, in row order, on every core: decoding 100k run records strictly is
/// what `runs` spends its time on.
fn describe_all(rows: &[(String, Vec<u8>)]) -> Vec<(Line, Option<Check>)> {
    // A row the decoder gave up on is kept: listed as not decodable, reported as unknown.
    crate::par::map(rows, describe, unreadable)
}

/// One `run_history` row: its listing line, and a `run.record` failure when it does not decode.
fn describe((key, bytes): &(String, Vec<u8>)) -> (Line, Option<Check>) {
    use crate::model::records::{self, RecordType};
    // One parse serves the strict verdict and the listed fields (read only when it decodes).
    let value = records::parse_document(bytes, RecordType::RunRecord);
    let decoded = value
        .as_ref()
        .map_err(Clone::clone)
        .and_then(records::run_record_from_value);
    let view = value.as_ref().map(RunView::from_value).unwrap_or_default();
    let check = decoded.as_ref().err().map(|e| {
        Check::fail(
            CheckId::RunRecord,
            Subject::run(key),
            e.code(),
            Proof::Recomputed,
            Value::Null,
            Value::Null,
            format!("the run_history row {key} does not decode: {e}"),
        )
    });
    let ok = decoded.is_ok();
    let pick = |s: Option<String>| if ok { s } else { None };
    let line = (
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
    );
    (line, check)
}

/// A row the decoder gave up on: listed as not decodable, reported as could not verify.
fn unreadable((key, _): &(String, Vec<u8>)) -> (Line, Option<Check>) {
    let line = (
        None,
        key.clone(),
        json!({
            "run_id": key, "started_at": null, "finished_at": null, "status": null,
            "models": null, "trigger": null, "triggering_identity": null, "git_commit": null,
            "decodable": false,
        }),
    );
    let check = Check::unknown(
        CheckId::RunRecord,
        Subject::run(key),
        Code::RunRecordInvalid,
        Proof::Recomputed,
        format!("the decoder gave up on the run_history row {key}"),
    );
    (line, Some(check))
}
