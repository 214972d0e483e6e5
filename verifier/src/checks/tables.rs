//! The ledger tables outside one run's joins (issue 16): `metadata`, `watermarks`,
//! `check_history`, `branches`, rows that name no recorded run, the whole `input_index`, and
//! each table's Delta versions across runs.
//!
//! `gate` checks them ledger-wide ([`check_gate`]); `run` checks what concerns its run
//! ([`check_run`]): the metadata against its record, the watermarks and check history of its
//! tables, and rows of runs newer than `latest` that have no record ([`orphans_after`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use redb::TableDefinition;
use serde_json::{Value, json};

use super::consistency::{compare_versions, index_check, index_diffs, table_of, timestamped};
use super::{decode, view};
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::ledger::{self, JsonTable, Ledger};
use crate::model::records;
use crate::report::{Check, Proof, Report, Subject};

/// `watermarks`: `catalog.schema.table` to `WatermarkState`.
const WATERMARKS: JsonTable<'static> = TableDefinition::new("watermarks");
/// `branches`: branch name to `BranchRecord`.
const BRANCHES: JsonTable<'static> = TableDefinition::new("branches");
/// `tombstones` (schema v19).
const TOMBSTONES: JsonTable<'static> = TableDefinition::new("tombstones");

/// Rocky trims a table's check history to its last 10 snapshots (`record_row_count(.., 10)`).
const ROCKY_MAX_HISTORY: usize = 10;
/// Clock slack around a run's window (same process clock; NTP may step it).
const SLACK_MS: i64 = 1000;

/// One run record as these checks need it: what they read of it, taken in one pass over the
/// parsed value (the gate holds one per run of the ledger, so not the value itself).
pub(crate) struct RunFact {
    pub id: String,
    pub start: DateTime<Utc>,
    pub finish: DateTime<Utc>,
    /// The table names the run's executions record (`model_name`, and rocky-writer's
    /// `target_table`).
    tables: BTreeSet<String>,
    /// Whether the run recorded a `row_count` check outcome (Rocky's replication check, which
    /// appends a `check_history` snapshot first).
    ran_row_count: bool,
    /// The schema version its keys need, and which key ([`field_version`]).
    version: (u64, String),
    /// Whether it carries rocky-writer's extension fields ([`writer_fields`]).
    writer_fields: bool,
}

impl RunFact {
    fn from_bytes(id: &str, bytes: &[u8]) -> Option<RunFact> {
        RunFact::from_value(id, &decode::value(bytes)?)
    }

    /// A run record's value already parsed (the gate parses every record once).
    pub(crate) fn from_value(id: &str, value: &Value) -> Option<RunFact> {
        if !value.is_object() {
            return None;
        }
        let (_, start) = view::ts_field(value, "started_at")?;
        let (_, finish) = view::ts_field(value, "finished_at")?;
        let mut tables = BTreeSet::new();
        for m in value
            .get("models_executed")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = view::str_field(m, "model_name") {
                tables.insert(n);
            }
            if let Some(t) = view::str_field(m, "target_table") {
                tables.insert(t);
            }
        }
        let ran_row_count = value
            .get("check_outcomes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c.get("name").and_then(Value::as_str) == Some("row_count"));
        Some(RunFact {
            id: id.to_owned(),
            start,
            finish,
            tables,
            ran_row_count,
            version: field_version(value),
            writer_fields: writer_fields(value),
        })
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        let slack = TimeDelta::milliseconds(SLACK_MS);
        t >= self.start - slack && t <= self.finish + slack
    }

    fn tables(&self) -> BTreeSet<String> {
        self.tables.clone()
    }

    fn ran_row_count(&self) -> bool {
        self.ran_row_count
    }
}

/// The gate's ledger-wide checks, over every `run_history` row (`history`) and the run records
/// among them that read (`runs`, parsed by the gate once for all its checks).
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn check_gate(
    report: &mut Report,
    ledger: &Ledger,
    history: &[(String, Vec<u8>)],
    runs: &[RunFact],
) -> Result<(), VerifyError> {
    let ids: BTreeSet<&str> = history.iter().map(|(k, _)| k.as_str()).collect();
    metadata(report, ledger, runs)?;
    watermarks(report, ledger, runs, None)?;
    check_history(report, ledger, runs, None)?;
    branches(report, ledger)?;
    orphans(report, ledger, &ids, runs)?;
    input_index(report, ledger)?;
    versions(report, ledger)?;
    Ok(())
}

/// `run`'s share: metadata against its record, its tables' watermarks and check history.
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn check_run(
    report: &mut Report,
    ledger: &Ledger,
    run_id: &str,
    run_bytes: Option<&[u8]>,
) -> Result<(), VerifyError> {
    let Some(run) = run_bytes.and_then(|b| RunFact::from_bytes(run_id, b)) else {
        return Ok(());
    };
    let runs = [run];
    metadata(report, ledger, &runs)?;
    watermarks(report, ledger, &runs, Some(&runs[0]))?;
    check_history(report, ledger, &runs, Some(&runs[0]))?;
    Ok(())
}

/// The schema version that introduced a key of a run record or model entry (reference 2.2:
/// v6 the audit fields, v11 the recipe identity, v12 output column hashes, v13 consumed column
/// hashes, v16 attempts, v17 check_outcomes, v21 pipeline and submission_id). Rocky writes
/// every key its struct has (`null` included; `attempts` only when not empty), so a key's
/// presence means a Rocky of at least that version wrote the record.
fn field_version(run: &Value) -> (u64, String) {
    let mut best = (0u64, String::new());
    let mut see = |v: u64, what: String| {
        if v > best.0 {
            best = (v, what);
        }
    };
    const RUN_KEYS: &[(&str, u64)] = &[
        ("triggering_identity", 6),
        ("session_source", 6),
        ("git_commit", 6),
        ("hostname", 6),
        ("rocky_version", 6),
        ("check_outcomes", 17),
        ("pipeline", 21),
        ("submission_id", 21),
    ];
    const MODEL_KEYS: &[(&str, u64)] = &[
        ("recipe_hash", 11),
        ("env_hash", 11),
        ("hash_scheme", 11),
        ("input_proof_class", 11),
        ("output_column_hashes", 12),
        ("attempts", 16),
    ];
    for (k, v) in RUN_KEYS {
        if run.get(*k).is_some() {
            see(*v, format!("run field {k}"));
        }
    }
    for m in run
        .get("models_executed")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for (k, v) in MODEL_KEYS {
            if m.get(*k).is_some() {
                see(*v, format!("model field {k}"));
            }
        }
        for u in m
            .get("upstream_freshness")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if u.get("consumed_column_hashes").is_some() {
                see(13, "upstream_freshness consumed_column_hashes".to_owned());
            }
        }
    }
    best
}

/// Whether a run record carries rocky-writer's extension fields.
fn writer_fields(run: &Value) -> bool {
    run.get("config_blake3").is_some()
        || run
            .get("models_executed")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|m| {
                ["source_path", "materialization", "target_table"]
                    .iter()
                    .any(|k| m.get(*k).is_some())
            })
}

/// Whether `producer` is rocky-writer's spelling, `rocky-writer/<version>`.
fn producer_ok(p: &str) -> bool {
    p.strip_prefix("rocky-writer/").is_some_and(|v| {
        !v.is_empty()
            && v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    })
}

/// `ledger.metadata`: the schema stamp is never below what the records and tables need (Rocky
/// raises the stamp on a read-write open, never lowers it, and refuses a newer one), and
/// `producer`, which only rocky-writer writes, is its spelling, and is there when every run
/// record is rocky-writer's.
fn metadata(report: &mut Report, ledger: &Ledger, runs: &[RunFact]) -> Result<(), VerifyError> {
    let stamp = ledger
        .info
        .schema_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok());
    let mut need = (0u64, String::new());
    for r in runs {
        let v = r.version.clone();
        if v.0 > need.0 {
            need = (v.0, format!("{} of {}", v.1, r.id));
        }
    }
    let tables: BTreeSet<String> = ledger.table_names()?.into_iter().collect();
    for (t, v) in [("fulfill_state", 22u64), ("product_approvals", 22)] {
        if tables.contains(t) && v > need.0 {
            need = (v, format!("table {t}"));
        }
    }
    for (t, v) in [
        (TOMBSTONES, 19u64),
        (ledger::INPUT_INDEX, 9),
        (ledger::INPUT_PROVENANCE, 9),
        (ledger::OUTPUT_ARTIFACTS, 7),
    ] {
        if v > need.0 && !ledger.key_range(t, None, None, false, 1)?.is_empty() {
            use redb::TableHandle;
            need = (v, format!("rows in {}", t.name()));
        }
    }
    let mut problems = Vec::new();
    if let Some(n) = stamp
        && n < need.0
    {
        report.push(Check::fail(
            CheckId::LedgerMetadata,
            Subject::default(),
            Code::SchemaVersionMismatch,
            Proof::Recomputed,
            json!(need.0),
            json!(n),
            format!(
                "metadata.schema_version is {n}, but the ledger holds {} (schema version {}): \
                 Rocky never lowers the stamp",
                need.1, need.0
            ),
        ));
        problems.push(());
    }
    match ledger.info.producer.as_deref() {
        Some(p) if !producer_ok(p) => {
            report.push(Check::fail(
                CheckId::LedgerMetadata,
                Subject::default(),
                Code::ProducerMismatch,
                Proof::Recomputed,
                json!("rocky-writer/<version>"),
                json!(p),
                format!("metadata.producer {p:?} is not rocky-writer/<version>, the only producer that writes one"),
            ));
            problems.push(());
        }
        None if !runs.is_empty() && runs.iter().all(|r| r.writer_fields) => {
            report.push(Check::fail(
                CheckId::LedgerMetadata,
                Subject::default(),
                Code::ProducerMissing,
                Proof::Recomputed,
                json!("rocky-writer/<version>"),
                Value::Null,
                "every run record carries rocky-writer's extension fields, but the ledger has no \
                 metadata.producer (rocky-writer stamps it when it creates a ledger)",
            ));
            problems.push(());
        }
        _ => {}
    }
    if problems.is_empty() {
        report.push(Check::pass(
            CheckId::LedgerMetadata,
            Subject::default(),
            Proof::Recomputed,
            json!(need.0),
            json!({"schema_version": ledger.info.schema_version, "producer": ledger.info.producer}),
            format!(
                "schema_version {} covers every field and table the ledger holds (needs {})",
                ledger.info.schema_version.as_deref().unwrap_or("?"),
                need.0
            ),
        ));
    }
    Ok(())
}

/// `ledger.watermarks`: each row decodes, is keyed `catalog.schema.table`, and names a table a
/// recorded run wrote (Rocky sets watermarks only in a run; a row no run explains is reported
/// as unverifiable, since retention may have deleted its runs). With `only`, the rows of that
/// run's tables.
fn watermarks(
    report: &mut Report,
    ledger: &Ledger,
    runs: &[RunFact],
    only: Option<&RunFact>,
) -> Result<(), VerifyError> {
    let rows = ledger.rows(WATERMARKS, "")?;
    let written: BTreeSet<String> = runs.iter().flat_map(RunFact::tables).collect();
    let mine = only.map(RunFact::tables);
    let mut checked = 0usize;
    let mut findings = 0usize;
    for (key, bytes) in &rows {
        let table = key.rsplit('.').next().unwrap_or_default().to_owned();
        if let Some(m) = &mine
            && !m.contains(&table)
            && !m.contains(key)
        {
            continue;
        }
        checked += 1;
        let subject = Subject::default().with_table(key);
        let parts = key.split('.').count();
        let decoded = records::decode_watermark_state(bytes);
        if let Err(e) = &decoded {
            findings += 1;
            report.push(Check::fail(
                CheckId::LedgerWatermarks,
                subject,
                Code::WatermarkStateInvalid,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                format!("watermarks[{key}] does not decode: {e}"),
            ));
            continue;
        }
        if parts < 3 || key.split('.').any(str::is_empty) {
            findings += 1;
            report.push(Check::fail(
                CheckId::LedgerWatermarks,
                subject,
                Code::WatermarkStateInvalid,
                Proof::Recomputed,
                json!("catalog.schema.table"),
                json!(key),
                format!("watermarks key {key:?} is not catalog.schema.table"),
            ));
            continue;
        }
        if only.is_none() && !written.contains(&table) && !written.contains(key) {
            findings += 1;
            report.push(Check::unverifiable(
                CheckId::LedgerWatermarks,
                subject,
                Code::WatermarkStateUnexpected,
                Proof::Unverifiable,
                json!(key),
                format!(
                    "no run record names table {table}: a watermark set outside a recorded run \
                     (inserted), or its runs were deleted by retention"
                ),
            ));
        }
    }
    if checked > 0 && findings == 0 {
        report.push(Check::pass(
            CheckId::LedgerWatermarks,
            Subject::default(),
            Proof::Recomputed,
            Value::Null,
            json!(checked),
            format!("{checked} watermark row(s) decode and name tables recorded runs wrote"),
        ));
    }
    Ok(())
}

/// `ledger.check_history`: each blob decodes, its snapshots in time order (Rocky appends
/// `Utc::now()`). On a Rocky ledger (no rocky-writer producer, whose API records counts
/// outside runs), a run that recorded a `row_count` check outcome has a snapshot in its window
/// (Rocky appends it just before the check), unless a history trimmed to 10 dropped it. A
/// snapshot in no run's window is not a finding: a replication run that crashed before
/// finalize leaves its snapshot and no run record.
fn check_history(
    report: &mut Report,
    ledger: &Ledger,
    runs: &[RunFact],
    only: Option<&RunFact>,
) -> Result<(), VerifyError> {
    let rocky = !super::consistency::writer_ledger(ledger);
    let rows = ledger.rows(ledger::CHECK_HISTORY, "")?;
    let mine = only.map(RunFact::tables);
    let mut all: Vec<(String, Vec<DateTime<Utc>>)> = Vec::new();
    let mut findings = 0usize;
    let mut checked = 0usize;
    for (key, bytes) in &rows {
        let subject = Subject::default().with_table(key);
        let history = match records::decode_check_history(bytes) {
            Ok(h) => h,
            Err(e) => {
                let table = key.rsplit('.').next().unwrap_or_default();
                if mine
                    .as_ref()
                    .is_none_or(|m| m.contains(table) || m.contains(key))
                {
                    findings += 1;
                    report.push(Check::fail(
                        CheckId::LedgerCheckHistory,
                        subject,
                        Code::CheckHistoryInvalid,
                        Proof::Recomputed,
                        Value::Null,
                        Value::Null,
                        format!("check_history[{key}] does not decode: {e}"),
                    ));
                }
                continue;
            }
        };
        let times: Vec<DateTime<Utc>> = history.iter().map(|s| s.timestamp.utc).collect();
        all.push((key.clone(), times.clone()));
        let table = key.rsplit('.').next().unwrap_or_default();
        if mine
            .as_ref()
            .is_some_and(|m| !m.contains(table) && !m.contains(key))
        {
            continue;
        }
        checked += 1;
        if let Some(i) = times.windows(2).position(|w| w[1] < w[0]) {
            findings += 1;
            report.push(Check::fail(
                CheckId::LedgerCheckHistory,
                subject.clone(),
                Code::CheckHistoryInvalid,
                Proof::Recomputed,
                Value::Null,
                json!([history[i].timestamp.text, history[i + 1].timestamp.text]),
                format!(
                    "check_history[{key}] snapshot {} is older than the one before it: snapshots \
                     are appended in time order",
                    i + 1
                ),
            ));
        }
    }
    if rocky {
        let wanted: Vec<&RunFact> = match only {
            Some(r) => vec![r],
            None => runs.iter().collect(),
        };
        for r in wanted.into_iter().filter(|r| r.ran_row_count()) {
            let found = all.iter().any(|(_, ts)| ts.iter().any(|t| r.contains(*t)));
            // A full history whose oldest snapshot is after the run may have trimmed it.
            let trimmed = all.iter().any(|(_, ts)| {
                ts.len() >= ROCKY_MAX_HISTORY && ts.first().is_some_and(|f| *f > r.start)
            });
            if !found && !trimmed {
                findings += 1;
                report.push(Check::fail(
                    CheckId::LedgerCheckHistory,
                    Subject::run(&r.id),
                    Code::CheckHistoryMissing,
                    Proof::Recomputed,
                    json!("a snapshot inside the run's window"),
                    Value::Null,
                    "the run recorded a row_count check, which Rocky precedes with a \
                     check_history snapshot, but no table's history has one in its window",
                ));
            }
            checked += 1;
        }
    }
    if checked > 0 && findings == 0 {
        report.push(Check::pass(
            CheckId::LedgerCheckHistory,
            Subject::default(),
            Proof::Recomputed,
            Value::Null,
            json!(checked),
            format!("{checked} check history blob(s) and run(s) agree (decoding, order, windows)"),
        ));
    }
    Ok(())
}

/// `ledger.branches`: each row decodes, its `name` is its key and `schema_prefix` is
/// `branch__<name>` (Rocky's branch.rs builds both from the name).
fn branches(report: &mut Report, ledger: &Ledger) -> Result<(), VerifyError> {
    let rows = ledger.rows(BRANCHES, "")?;
    let mut bad = 0usize;
    for (key, bytes) in &rows {
        let problem = match records::decode_branch_record(bytes) {
            Err(e) => Some(format!("does not decode: {e}")),
            Ok(b) if b.name != *key => Some(format!("names {:?} under key {key:?}", b.name)),
            Ok(b) if b.schema_prefix != format!("branch__{}", b.name) => Some(format!(
                "schema_prefix {:?} is not branch__{}",
                b.schema_prefix, b.name
            )),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            bad += 1;
            report.push(Check::fail(
                CheckId::LedgerBranches,
                Subject::default().with_table(key),
                Code::BranchRecordInvalid,
                Proof::Recomputed,
                Value::Null,
                Value::Null,
                format!("branches[{key}] {p}"),
            ));
        }
    }
    if !rows.is_empty() && bad == 0 {
        report.push(Check::pass(
            CheckId::LedgerBranches,
            Subject::default(),
            Proof::Recomputed,
            Value::Null,
            json!(rows.len()),
            format!(
                "{} branch row(s) decode and agree with their keys",
                rows.len()
            ),
        ));
    }
    Ok(())
}

/// Run id to the number of rows naming it and their earliest time.
type Orphans = BTreeMap<String, (usize, Option<DateTime<Utc>>)>;

/// Every run with no `run_history` row that rows name.
fn orphan_rows(
    ledger: &Ledger,
    has_record: &dyn Fn(&str) -> bool,
    from: Option<&str>,
) -> Result<Orphans, VerifyError> {
    let mut out: Orphans = BTreeMap::new();
    let mut note = |run: &str, t: Option<DateTime<Utc>>| {
        let e = out.entry(run.to_owned()).or_insert((0, None));
        e.0 += 1;
        if let Some(t) = t {
            e.1 = Some(e.1.map_or(t, |x| x.min(t)));
        }
    };
    for (table, field) in [
        (ledger::OUTPUT_ARTIFACTS, "written_at"),
        (ledger::INPUT_PROVENANCE, "recorded_at"),
    ] {
        ledger.visit(table, from, false, |key, bytes| {
            let run = key.split_once('|').map_or(key, |(r, _)| r);
            if !has_record(run) {
                let t = decode::value(bytes).and_then(|v| view::ts_field(&v, field));
                note(run, t.map(|x| x.1));
            }
            true
        })?;
    }
    if from.is_none() {
        ledger.visit(ledger::INPUT_INDEX, None, false, |_, bytes| {
            if let Some(v) = decode::value(bytes)
                && let Some(run) = view::str_field(&v, "run_id")
                && !has_record(&run)
            {
                note(&run, view::ts_field(&v, "recorded_at").map(|x| x.1));
            }
            true
        })?;
    }
    Ok(out)
}

/// `ledger.orphans` (gate): rows naming a run with no record. Rocky's retention sweep deletes
/// the oldest `run_history` rows and keeps the rest, so rows older than every run record are
/// unverifiable; any other orphan is a finding (a crash before finalize, or a deleted record),
/// which a deleted latest run cannot hide.
fn orphans(
    report: &mut Report,
    ledger: &Ledger,
    ids: &BTreeSet<&str>,
    runs: &[RunFact],
) -> Result<(), VerifyError> {
    let found = orphan_rows(ledger, &|r| ids.contains(r), None)?;
    let oldest = runs.iter().map(|r| r.start).min();
    let newest = runs.iter().map(|r| r.start).max();
    for (run, (n, t)) in &found {
        let subject = Subject::run(run);
        let older = match (t, oldest) {
            (Some(t), Some(o)) => *t < o,
            _ => false,
        };
        if older {
            report.push(Check::unverifiable(
                CheckId::LedgerOrphans,
                subject,
                Code::RunRecordMissing,
                Proof::Unverifiable,
                json!(n),
                format!(
                    "{n} row(s) name {run}, which has no run_history row; they are older than \
                     every run record, as Rocky's retention sweep leaves them"
                ),
            ));
            continue;
        }
        let newer = matches!((t, newest), (Some(t), Some(nw)) if *t > nw) || newest.is_none();
        report.push(Check::fail(
            CheckId::LedgerOrphans,
            subject,
            Code::RunRecordMissing,
            Proof::Recomputed,
            json!(run),
            json!(n),
            format!(
                "{n} artifact, provenance or input_index row(s) name {run}, which has no \
                 run_history row{}",
                if newer {
                    " (newer than the newest run record: a deleted latest run, or a crash \
                     before finalize)"
                } else {
                    ""
                }
            ),
        ));
    }
    if found.is_empty() {
        report.push(Check::pass(
            CheckId::LedgerOrphans,
            Subject::default(),
            Proof::Recomputed,
            Value::Null,
            json!(ids.len()),
            "every artifact, provenance and input_index row names a recorded run",
        ));
    }
    Ok(())
}

/// `run latest`: rows of runs whose ids sort after the chosen run and that have no record, so a
/// deleted latest run record does not silently make an older run the latest.
///
/// # Errors
///
/// A ledger read failure.
pub(crate) fn orphans_after(
    report: &mut Report,
    ledger: &Ledger,
    run_id: &str,
) -> Result<(), VerifyError> {
    // '}' sorts after '|', so this starts just past the chosen run's own rows.
    let from = format!("{run_id}}}");
    let lookup = |r: &str| ledger.get(ledger::RUN_HISTORY, r).ok().flatten().is_some();
    let found = orphan_rows(ledger, &lookup, Some(&from))?;
    for (run, (n, _)) in found {
        report.push(Check::fail(
            CheckId::LedgerOrphans,
            Subject::run(&run),
            Code::RunRecordMissing,
            Proof::Recomputed,
            json!(run),
            json!(n),
            format!(
                "{n} artifact or provenance row(s) name {run}, a run after {run_id} with no \
                 run_history row: the latest run's record is missing (deleted, or a crash \
                 before finalize)"
            ),
        ));
    }
    Ok(())
}

/// `ledger.input_index` (gate): every entry against the provenance row it names, and every
/// provenance row's entry.
fn input_index(report: &mut Report, ledger: &Ledger) -> Result<(), VerifyError> {
    let provs: BTreeMap<String, Vec<u8>> = ledger
        .rows(ledger::INPUT_PROVENANCE, "")?
        .into_iter()
        .collect();
    let entries = ledger.rows(ledger::INPUT_INDEX, "")?;
    let keys: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    for (key, bytes) in &entries {
        let e = match records::decode_input_index_entry(bytes) {
            Ok(e) => e,
            Err(err) => {
                report.push(Check::fail(
                    CheckId::ProvenanceIndex,
                    Subject::default(),
                    err.code(),
                    Proof::Recomputed,
                    Value::Null,
                    Value::Null,
                    format!("the input_index entry {key} does not decode: {err}"),
                ));
                continue;
            }
        };
        let subject = Subject::model(&e.run_id, &e.model_name);
        let pkey = format!("{}|{}", e.run_id, e.model_name);
        match provs
            .get(&pkey)
            .map(|b| records::decode_provenance_record(b))
        {
            None => report.push(Check::fail(
                CheckId::LedgerInputIndex,
                subject,
                Code::ProvenanceRecordMissing,
                Proof::Recomputed,
                json!(pkey),
                Value::Null,
                format!(
                    "the input_index entry {key} names the provenance row {pkey}, which is not \
                     there (Rocky writes both in one transaction)"
                ),
            )),
            Some(Err(_)) => {} // provenance.record reports it
            Some(Ok(p)) => report.push(index_check(subject, key, index_diffs(key, &e, &p))),
        }
    }
    for (pkey, bytes) in &provs {
        let Some(v) = decode::value(bytes) else {
            continue;
        };
        let Some(h) = view::str_field(&v, "input_hash") else {
            continue;
        };
        if !keys.contains(h.as_str()) {
            let (run, model) = pkey.split_once('|').unwrap_or((pkey, ""));
            report.push(Check::fail(
                CheckId::LedgerInputIndex,
                Subject::model(run, model),
                Code::InputIndexEntryMissing,
                Proof::Recomputed,
                json!(h),
                Value::Null,
                format!(
                    "provenance row {pkey} has no input_index entry under its input_hash {h}: \
                     Rocky writes it with the row and a later build only overwrites it"
                ),
            ));
        }
    }
    Ok(())
}

/// `artifact.commit_version` (gate): every run's rows against every other run's rows of the
/// same tables.
fn versions(report: &mut Report, ledger: &Ledger) -> Result<(), VerifyError> {
    let mut by_run: BTreeMap<String, BTreeMap<(String, String), u64>> = BTreeMap::new();
    let mut all: Vec<(String, (String, String), u64)> = Vec::new();
    ledger.visit(ledger::OUTPUT_ARTIFACTS, None, false, |key, bytes| {
        let run = key.split_once('|').map_or(key, |(r, _)| r);
        if let Some(v) = decode::value(bytes)
            && let (Some(t), Some(c)) = (table_of(&v), view::u64_field(&v, "commit_version"))
        {
            by_run
                .entry(run.to_owned())
                .or_default()
                .insert(t.clone(), c);
            all.push((run.to_owned(), t, c));
        }
        true
    })?;
    for (run, mine) in &by_run {
        if !timestamped(run) {
            continue;
        }
        let others: Vec<_> = all.iter().filter(|(r, _, _)| r != run).cloned().collect();
        compare_versions(report, run, mine, &others, true);
    }
    Ok(())
}
