//! Who and when: the run record itself, its enums, its id, and the time windows.

use chrono::TimeDelta;
use serde_json::{Value, json};

use super::view::RunView;
use super::{Ctx, decode};
use crate::checks::catalogue::{CheckId, Code};
use crate::model::run_id::{RunIdForm, RunIdShape, classify_run_id, id_stamp};
use crate::report::{Check, Proof, Subject};

const STATUSES: &[&str] = &[
    "Success",
    "PartialFailure",
    "Failure",
    "SkippedIdempotent",
    "SkippedInFlight",
];
const TRIGGERS: &[&str] = &["Manual", "Sensor", "Schedule", "Ci", "Webhook"];
const SESSION_SOURCES: &[&str] = &["cli", "dagster", "lsp", "http_api"];

/// Checks the run record (or its absence), then every model's record and window.
pub fn check_run(ctx: &mut Ctx<'_>, run_bytes: Option<&[u8]>, has_rows: bool) {
    let subject = Subject::run(&ctx.run_id);
    let Some(bytes) = run_bytes else {
        if has_rows {
            ctx.report.push(Check::fail(
                CheckId::RunRecord,
                subject,
                Code::RunRecordMissing,
                Proof::Recomputed,
                json!(ctx.run_id),
                Value::Null,
                format!(
                    "the ledger has artifact or provenance rows for {} but no run_history row \
                     (a crash before finalize, or a retention sweep)",
                    ctx.run_id
                ),
            ));
        }
        return;
    };
    if let Some(reason) = decode::beyond_limits(bytes) {
        ctx.report.push(Check::unknown(
            CheckId::RunRecord,
            subject,
            Code::RunRecordInvalid,
            Proof::Recomputed,
            reason,
        ));
        return;
    }
    // One parse: the strict verdict below and the view the checks read.
    let decoded = decode::read_run_record(bytes);
    let Some(value) = decoded.value.filter(Value::is_object) else {
        ctx.report.push(Check::fail(
            CheckId::RunRecord,
            subject,
            Code::RunRecordInvalid,
            Proof::Recomputed,
            Value::Null,
            Value::Null,
            "the run_history value is not a JSON object",
        ));
        return;
    };
    let run = RunView::from_value(&value);

    // Each model entry on its own, so a bad model is named.
    if let Some(models) = value.get("models_executed").and_then(Value::as_array) {
        for (i, m) in models.iter().enumerate() {
            let name = run
                .models
                .get(i)
                .map_or_else(|| format!("#{i}"), |m| m.name.clone());
            if let Err(bad) = decode::model_execution_value(m) {
                ctx.report.push(bad.check(
                    CheckId::ModelRecord,
                    Subject::model(&ctx.run_id, &name),
                    format!("models_executed[{i}] does not decode: {}", bad.reason),
                ));
            }
        }
    }

    match decoded.record {
        Ok(_) => {
            ctx.run_valid = true;
            check_enums(ctx, &run);
        }
        Err(bad) => ctx.report.push(bad.check(
            CheckId::RunRecord,
            subject.clone(),
            format!("the run record does not decode: {}", bad.reason),
        )),
    }

    // The key and the value must carry the same run id.
    if run.run_id.as_deref() != Some(ctx.run_id.as_str()) {
        ctx.report.push(Check::fail(
            CheckId::LedgerKeys,
            subject.clone(),
            Code::LedgerKeyMismatch,
            Proof::Recomputed,
            super::opt(run.run_id.as_deref()),
            json!(ctx.run_id),
            "the run_history key and the record's run_id differ",
        ));
    }

    check_identity(ctx, &run);
    check_run_id(ctx, &run);
    check_window(ctx, &run);
    ctx.run = Some(run);
}

fn check_enums(ctx: &mut Ctx<'_>, run: &RunView) {
    let fields = [
        ("status", run.status.as_deref(), STATUSES),
        ("trigger", run.trigger.as_deref(), TRIGGERS),
        (
            "session_source",
            run.session_source.as_deref(),
            SESSION_SOURCES,
        ),
    ];
    let mut bad = Vec::new();
    for (name, value, allowed) in fields {
        if !value.is_some_and(|v| allowed.contains(&v)) {
            bad.push(format!("{name} {value:?} is not one of {allowed:?}"));
        }
    }
    let subject = Subject::run(&ctx.run_id);
    let actual = json!({
        "status": run.status, "trigger": run.trigger, "session_source": run.session_source,
    });
    ctx.report.push(if bad.is_empty() {
        Check::pass(
            CheckId::RunRecord,
            subject,
            Proof::Recomputed,
            actual,
            Value::Null,
            format!(
                "the run record decodes; status {}, trigger {}, session_source {}",
                run.status.as_deref().unwrap_or("?"),
                run.trigger.as_deref().unwrap_or("?"),
                run.session_source.as_deref().unwrap_or("?"),
            ),
        )
    } else {
        Check::fail(
            CheckId::RunRecord,
            subject,
            Code::RunRecordInvalid,
            Proof::Recomputed,
            actual,
            Value::Null,
            bad.join("; "),
        )
    });
}

fn check_identity(ctx: &mut Ctx<'_>, run: &RunView) {
    let subject = Subject::run(&ctx.run_id);
    ctx.report.push(match run.triggering_identity.as_deref() {
        Some(who) if !who.is_empty() => Check::unverifiable(
            CheckId::RunIdentity,
            subject,
            Code::TriggeringIdentityUnexpected,
            Proof::Unverifiable,
            json!(who),
            format!(
                "triggering_identity {who:?} is self-reported ($USER of the recording process); \
                 nothing independent confirms it"
            ),
        ),
        _ => Check::unverifiable(
            CheckId::RunIdentity,
            subject,
            Code::TriggeringIdentityMissing,
            Proof::Unverifiable,
            Value::Null,
            "no triggering_identity was recorded",
        ),
    });
}

fn check_run_id(ctx: &mut Ctx<'_>, run: &RunView) {
    let subject = Subject::run(&ctx.run_id);
    let id = ctx.run_id.clone();
    let check = match (RunIdShape::of(&id), run.started.as_ref()) {
        (RunIdShape::Other, _) => Check::fail(
            CheckId::RunId,
            subject,
            Code::RunIdMismatch,
            Proof::Recomputed,
            json!(id),
            Value::Null,
            "the run id is neither run-YYYYmmdd-HHMMSS-mmm[-N] nor run-apply-<uuid>",
        ),
        (RunIdShape::Apply, _) => Check::pass(
            CheckId::RunId,
            subject,
            Proof::Recomputed,
            json!(id),
            Value::Null,
            "a run-apply-<uuid> id (carries no time to compare)",
        ),
        // No usable started_at: the record check reported it.
        (RunIdShape::Timestamped { .. }, None) => return,
        (RunIdShape::Timestamped { .. }, Some((_, started))) => {
            let want = id_stamp(started);
            // The verdict is `classify_run_id`'s, the function the `run_id.json` vectors test.
            if matches!(
                classify_run_id(&id, started),
                RunIdForm::Timestamped { matches: true, .. }
            ) {
                Check::pass(
                    CheckId::RunId,
                    subject,
                    Proof::Recomputed,
                    json!(id),
                    json!(format!("run-{want}")),
                    "the run id is started_at truncated to milliseconds",
                )
            } else {
                Check::fail(
                    CheckId::RunId,
                    subject,
                    Code::RunIdMismatch,
                    Proof::Recomputed,
                    json!(id),
                    json!(format!("run-{want}")),
                    format!("the run id's time is not started_at (run-{want})"),
                )
            }
        }
    };
    ctx.report.push(check);
}

fn check_window(ctx: &mut Ctx<'_>, run: &RunView) {
    let subject = Subject::run(&ctx.run_id);
    let (Some((s_text, start)), Some((f_text, finish))) = (&run.started, &run.finished) else {
        return;
    };
    ctx.report.push(if start <= finish {
        Check::pass(
            CheckId::RunWindow,
            subject,
            Proof::Recomputed,
            json!({"started_at": s_text, "finished_at": f_text}),
            Value::Null,
            "started_at is not after finished_at",
        )
    } else {
        Check::fail(
            CheckId::RunWindow,
            subject,
            Code::RunWindowInvalid,
            Proof::Recomputed,
            json!({"started_at": s_text, "finished_at": f_text}),
            Value::Null,
            "the run finished before it started",
        )
    });

    for m in &run.models {
        let subject = Subject::model(&ctx.run_id, &m.name);
        let (Some((ms_text, ms)), Some((mf_text, mf))) = (&m.started, &m.finished) else {
            continue;
        };
        let actual =
            json!({"started_at": ms_text, "finished_at": mf_text, "duration_ms": m.duration_ms});
        if ms < start || mf > finish || ms > mf {
            ctx.report.push(Check::fail(
                CheckId::ModelWindow,
                subject,
                Code::ModelWindowInvalid,
                Proof::Recomputed,
                actual,
                json!({"started_at": s_text, "finished_at": f_text}),
                "the model's times are not inside the run's window",
            ));
            continue;
        }
        let Some(d) = m.duration_ms else { continue };
        // A failed entry carries the run's own start and finish with duration 0; its duration is
        // not checked (spec/report.md, model_duration_mismatch).
        let failed_entry = m.failed();
        let delta = *mf - *ms;
        let matches = i64::try_from(d).ok().and_then(TimeDelta::try_milliseconds) == Some(delta);
        ctx.report.push(if matches || failed_entry {
            Check::pass(
                CheckId::ModelWindow,
                subject,
                Proof::Recomputed,
                actual,
                json!({"started_at": s_text, "finished_at": f_text}),
                if failed_entry {
                    "a failed entry inside the run's window".to_owned()
                } else {
                    format!("inside the run's window; finished_at - started_at = {d} ms")
                },
            )
        } else {
            Check::fail(
                CheckId::ModelWindow,
                subject,
                Code::ModelDurationMismatch,
                Proof::Recomputed,
                json!(d),
                json!(delta.num_milliseconds()),
                format!(
                    "finished_at - started_at is {} ms but duration_ms is {d}",
                    delta.num_milliseconds()
                ),
            )
        });
    }
}
