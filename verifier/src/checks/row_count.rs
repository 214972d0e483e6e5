//! Row counts: the warehouse's count of a model's table against what the ledger recorded about
//! it (`spec/warehouse.md` "Row counts").
//!
//! Rocky records `rows_affected` only on the content-addressed path (null elsewhere) and no
//! materialization in `ModelExecution`, so the expected count has three possible sources, in
//! order of precedence, and every finding names the one it used:
//!
//! 1. `rows_affected`, when the model's strategy replaces the table whole (full refresh,
//!    content-addressed);
//! 2. the table's `check_history` snapshot taken inside the run's window;
//! 3. the `row_count` of a downstream provenance record's `watermark` upstream for the table,
//!    recorded after the model finished;
//! 4. for a full refresh only, the model's own SELECT counted again in the warehouse, when
//!    [`super::recount`] can show its inputs are the rows it read.
//!
//! Sources 2 and 3 count the whole table after the run wrote it, so they hold only while no later
//! run rewrote the table (the supersession rule, checked first).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::Ctx;
use super::view::ModelView;
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::ledger::{self, Ledger};
use crate::evidence::warehouse::{TableRef, Warehouse};
use crate::model::records::UpstreamIdentity;
use crate::report::{Check, Outcome, Proof, Subject};

/// How long after the run's `finished_at` a `check_history` snapshot still counts as taken in the
/// run. Rocky stamps the snapshot and `finished_at` from one clock in one process, snapshot
/// first; rocky-writer stamps its snapshots when it records the run, a moment after the
/// `finished_at` its caller gives. No slack before `started_at`: a snapshot from just before the
/// run belongs to an earlier run.
pub(crate) const SNAPSHOT_SLACK: TimeDelta = TimeDelta::seconds(1);

/// The materialization strategies the row-count rule tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrategyKind {
    FullRefresh,
    ContentAddressed,
    Incremental,
    Merge,
    DeleteInsert,
    Microbatch,
    TimeInterval,
    View,
    MaterializedView,
    DynamicTable,
    Ephemeral,
    /// A name this verifier does not know (never exact).
    Other(String),
}

impl StrategyKind {
    /// Parses an IR strategy (`FullRefresh`) or a snake_case name (`full_refresh`).
    pub fn parse(name: &str) -> StrategyKind {
        let folded: String = name
            .chars()
            .filter(|c| *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "fullrefresh" => StrategyKind::FullRefresh,
            "contentaddressed" => StrategyKind::ContentAddressed,
            "incremental" => StrategyKind::Incremental,
            "merge" => StrategyKind::Merge,
            "deleteinsert" => StrategyKind::DeleteInsert,
            "microbatch" => StrategyKind::Microbatch,
            "timeinterval" => StrategyKind::TimeInterval,
            "view" => StrategyKind::View,
            "materializedview" => StrategyKind::MaterializedView,
            "dynamictable" => StrategyKind::DynamicTable,
            "ephemeral" => StrategyKind::Ephemeral,
            _ => StrategyKind::Other(name.to_owned()),
        }
    }

    /// The strategy a model of the project at the commit resolves to.
    #[allow(dead_code)] // the seam for the project accessor (issue 12 item 2)
    pub fn from_project(s: &crate::rocky::statements::Strategy) -> StrategyKind {
        use crate::rocky::statements::Strategy as S;
        match s {
            S::FullRefresh => StrategyKind::FullRefresh,
            S::ContentAddressed { .. } => StrategyKind::ContentAddressed,
            S::Incremental { .. } => StrategyKind::Incremental,
            S::Merge { .. } => StrategyKind::Merge,
            S::DeleteInsert { .. } => StrategyKind::DeleteInsert,
            S::Microbatch { .. } => StrategyKind::Microbatch,
            S::TimeInterval { .. } => StrategyKind::TimeInterval,
            S::View => StrategyKind::View,
            S::MaterializedView => StrategyKind::MaterializedView,
            S::DynamicTable { .. } => StrategyKind::DynamicTable,
            S::Ephemeral => StrategyKind::Ephemeral,
        }
    }

    /// Whether the table holds exactly the run's rows afterwards (so its count must equal
    /// `rows_affected`, or a count of the table taken after the run): the strategy replaces it
    /// whole. Incremental, merge, delete+insert, microbatch and time-interval runs change part
    /// of a table that accumulates; views and dynamic tables are recomputed by the warehouse.
    pub fn exact(&self) -> bool {
        matches!(
            self,
            StrategyKind::FullRefresh | StrategyKind::ContentAddressed
        )
    }

    /// The snake_case name (Rocky's sidecar spelling).
    pub fn name(&self) -> &str {
        match self {
            StrategyKind::FullRefresh => "full_refresh",
            StrategyKind::ContentAddressed => "content_addressed",
            StrategyKind::Incremental => "incremental",
            StrategyKind::Merge => "merge",
            StrategyKind::DeleteInsert => "delete_insert",
            StrategyKind::Microbatch => "microbatch",
            StrategyKind::TimeInterval => "time_interval",
            StrategyKind::View => "view",
            StrategyKind::MaterializedView => "materialized_view",
            StrategyKind::DynamicTable => "dynamic_table",
            StrategyKind::Ephemeral => "ephemeral",
            StrategyKind::Other(s) => s,
        }
    }
}

/// Which source decided a model's strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecidedBy {
    /// rocky-writer's `ModelExecution.materialization` extension.
    Materialization,
    /// The provenance record's IR (`materialization.strategy`).
    ProvenanceIr,
    /// The project's configuration at the run's commit, and which file of it decided.
    Project(crate::rocky::project::DecidedBy),
}

impl DecidedBy {
    pub(crate) fn describe(self) -> String {
        match self {
            DecidedBy::Materialization => "the ledger's materialization field".to_owned(),
            DecidedBy::ProvenanceIr => "the provenance IR".to_owned(),
            DecidedBy::Project(d) => format!("the project at the commit ({})", d.code()),
        }
    }
}

/// A model's strategy and which source decided it: the seam the project configuration at the
/// commit plugs into (issue 12 item 2). Today it is filled from the ledger only: rocky-writer's
/// `materialization` extension, else the provenance IR (which Rocky writes only for
/// content-addressed models).
pub(crate) type StrategyInput = Option<(StrategyKind, DecidedBy)>;

/// The strategy the project at the run's commit declares for the table `m` wrote, when every
/// model writing that table agrees (Rocky records none in `ModelExecution`).
pub(crate) fn strategy_from_project(ctx: &Ctx<'_>, m: &ModelView) -> StrategyInput {
    let super::project::RockyModels::Models(ms) = ctx.rocky_models(&m.name) else {
        return None;
    };
    let (first, rest) = ms.split_first()?;
    if rest.iter().any(|r| r.strategy != first.strategy) {
        return None;
    }
    Some((
        StrategyKind::from_project(&first.strategy),
        DecidedBy::Project(first.decided_by.strategy),
    ))
}

/// The strategy the ledger itself records for `m` (see [`StrategyInput`]).
pub(crate) fn strategy_from_ledger(ctx: &Ctx<'_>, m: &ModelView) -> StrategyInput {
    if let Some(kind) = &m.materialization {
        return Some((StrategyKind::parse(kind), DecidedBy::Materialization));
    }
    let ir = ctx
        .prov_for(m.index)
        .and_then(super::view::ProvRow::strategy)?;
    Some((StrategyKind::parse(&ir), DecidedBy::ProvenanceIr))
}

/// Where a recorded count of a whole table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObservedBy {
    /// A `check_history` snapshot.
    CheckHistory,
    /// A `watermark` upstream identity of a downstream provenance record.
    Watermark {
        /// The downstream's run.
        run_id: String,
        /// The downstream model (project name).
        model: String,
    },
}

/// One recorded count of a whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    /// When it was recorded (snapshot `timestamp`, provenance `recorded_at`).
    pub at: DateTime<Utc>,
    /// That time as recorded.
    pub at_text: String,
    /// The count.
    pub rows: u64,
    /// Its source.
    pub by: ObservedBy,
}

impl Observed {
    fn describe(&self, table: &str) -> String {
        match &self.by {
            ObservedBy::CheckHistory => format!(
                "the check_history snapshot of {table} taken at {} (in the run's window)",
                self.at_text
            ),
            ObservedBy::Watermark { run_id, model } => format!(
                "the watermark row_count of {table} recorded by {run_id}/{model} at {}",
                self.at_text
            ),
        }
    }
}

/// The ledger's recorded counts of whole tables: `check_history` snapshots and downstream
/// `watermark` upstream counts, by `catalog.schema.table`.
#[derive(Debug, Default)]
pub(crate) struct CountEvidence {
    /// Each table's snapshots, oldest first, or why its `check_history` row does not decode.
    snapshots: BTreeMap<String, Result<Vec<Observed>, String>>,
    /// Each table's downstream watermark counts.
    watermarks: BTreeMap<String, Vec<Observed>>,
}

impl CountEvidence {
    /// Reads the evidence about `tables` (every table for `None`). Provenance rows are read from
    /// key `provenance_from` on (every row for `None`), and a row is decoded only when its
    /// bytes can name a wanted table in a watermark upstream.
    ///
    /// # Errors
    ///
    /// A ledger read failure.
    pub fn load(
        ledger: &Ledger,
        tables: Option<&BTreeSet<String>>,
        provenance_from: Option<&str>,
    ) -> Result<CountEvidence, VerifyError> {
        let mut out = CountEvidence::default();
        let history = match tables {
            None => ledger.rows(ledger::CHECK_HISTORY, "")?,
            Some(set) => {
                let mut rows = Vec::new();
                for t in set {
                    if let Some(bytes) = ledger.get(ledger::CHECK_HISTORY, t)? {
                        rows.push((t.clone(), bytes));
                    }
                }
                rows
            }
        };
        for (table, bytes) in history {
            let decoded = super::decode::beyond_limits(&bytes)
                .map_or_else(
                    || {
                        crate::model::records::decode_check_history(&bytes)
                            .map_err(|e| e.to_string())
                    },
                    Err,
                )
                .map(|snaps| {
                    snaps
                        .into_iter()
                        .map(|s| Observed {
                            at: s.timestamp.utc,
                            at_text: s.timestamp.text,
                            rows: s.row_count,
                            by: ObservedBy::CheckHistory,
                        })
                        .collect()
                });
            out.snapshots.insert(table, decoded);
        }

        let wanted: BTreeSet<String> = match tables {
            Some(set) => set.clone(),
            None => BTreeSet::from(["watermark".to_owned()]),
        };
        if wanted.is_empty() {
            return Ok(out);
        }
        let filter = ledger::StringFilter::new(&wanted);
        ledger.visit(
            ledger::INPUT_PROVENANCE,
            provenance_from,
            false,
            |_, bytes| {
                if !filter.may_contain(bytes) {
                    return true;
                }
                // Only a record that decodes is evidence (a bad one is the provenance checks').
                let Ok(record) = super::decode::provenance_record(bytes) else {
                    return true;
                };
                for u in &record.upstreams {
                    if let UpstreamIdentity::Watermark {
                        upstream_key,
                        row_count: Some(rows),
                        ..
                    } = u
                        && tables.is_none_or(|t| t.contains(upstream_key))
                    {
                        out.watermarks
                            .entry(upstream_key.clone())
                            .or_default()
                            .push(Observed {
                                at: record.recorded_at.utc,
                                at_text: record.recorded_at.text.clone(),
                                rows: *rows,
                                by: ObservedBy::Watermark {
                                    run_id: record.run_id.clone(),
                                    model: record.model_name.clone(),
                                },
                            });
                    }
                }
                true
            },
        )?;
        Ok(out)
    }

    /// The last snapshot of `table` taken in `[start, finish + SNAPSHOT_SLACK]`, or why there is
    /// none to use.
    fn snapshot_in(
        &self,
        table: &str,
        start: DateTime<Utc>,
        finish: DateTime<Utc>,
    ) -> Result<&Observed, String> {
        let snaps = match self.snapshots.get(table) {
            None => return Err(format!("no check_history row for {table}")),
            Some(Err(e)) => {
                return Err(format!(
                    "the check_history row of {table} does not decode: {e}"
                ));
            }
            Some(Ok(s)) => s,
        };
        let inside = snaps
            .iter()
            .filter(|s| s.at >= start && s.at <= finish + SNAPSHOT_SLACK)
            .max_by_key(|s| s.at);
        match inside {
            // Rocky records 0 when its own count query returned no row for the table
            // (`unwrap_or(0)`), so a 0 snapshot is not evidence of an empty table.
            Some(s) if s.rows == 0 => Err(format!(
                "the check_history snapshot of {table} in the run's window records 0 rows, which \
                 Rocky also records when its own count failed"
            )),
            Some(s) => Ok(s),
            None => Err(format!(
                "none of the {} check_history snapshot(s) of {table} was taken in the run's window",
                snaps.len()
            )),
        }
    }

    /// The latest downstream watermark count of `table` recorded at or after `since`.
    fn watermark_after(&self, table: &str, since: DateTime<Utc>) -> Option<&Observed> {
        self.watermarks
            .get(table)?
            .iter()
            .filter(|o| o.at >= since)
            .max_by_key(|o| o.at)
    }
}

/// The count the table should have and its source.
enum Expected<'e> {
    /// `rows_affected` of this execution.
    RowsAffected(u64),
    /// A recorded count of the whole table.
    Observed(&'e Observed),
    /// The model's SELECT counted again (source 4, [`super::recount`]).
    Recount(super::recount::Recount),
}

/// The recorded counts of the whole table after this execution (sources 2 and 3, in that order),
/// and why each is absent.
fn observed<'e>(
    ctx: &Ctx<'_>,
    m: &ModelView,
    table: &str,
    evidence: &'e CountEvidence,
) -> Result<&'e Observed, String> {
    let run = ctx.run.as_ref();
    let window = run.and_then(|r| Some((r.started.as_ref()?.1, r.finished.as_ref()?.1)));
    let snapshot = match window {
        Some((start, finish)) => evidence.snapshot_in(table, start, finish),
        None => Err("the run's window is not recorded".to_owned()),
    };
    let snapshot_missing = match snapshot {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    // A downstream read the table after this model wrote it.
    let since = m
        .finished
        .as_ref()
        .or_else(|| run.and_then(|r| r.finished.as_ref()))
        .map(|f| f.1);
    match since.and_then(|s| evidence.watermark_after(table, s)) {
        Some(o) => Ok(o),
        None => Err(format!(
            "{snapshot_missing}, and no downstream provenance records a watermark row_count of \
             {table} after the model finished"
        )),
    }
}

/// The `warehouse.row_count` check of one model whose table exists.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    ledger: &Ledger,
    m: &ModelView,
    table: &TableRef,
    subject: &Subject,
    strategy: StrategyInput,
    evidence: &CountEvidence,
) {
    let name = table.to_string();
    let unverifiable = |reason: String| {
        Check::unverifiable(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountUnexpected,
            Proof::Unverifiable,
            json!(m.rows_affected),
            reason,
        )
    };
    if let Some(later) = super::supersession::superseded_by(ctx, table) {
        let c = unverifiable(format!(
            "superseded by run {later}, which wrote {table} later"
        ));
        ctx.report.push(c);
        return;
    }
    let whole = observed(ctx, m, &name, evidence);
    match &strategy {
        Some((kind, by)) if kind.exact() => {
            let decided = format!("{} per {}", kind.name(), by.describe());
            let expected = match (m.rows_affected, &whole) {
                (Some(rows), _) => Expected::RowsAffected(rows),
                (None, Ok(o)) => Expected::Observed(o),
                (None, Err(why)) if *kind == StrategyKind::ContentAddressed => {
                    ctx.report.push(Check::unknown(
                        CheckId::WarehouseRowCount,
                        subject.clone(),
                        Code::RowsAffectedMissing,
                        Proof::Recomputed,
                        format!(
                            "rows_affected is null, which Rocky always records on the \
                             content-addressed path; {why}"
                        ),
                    ));
                    return;
                }
                (None, Err(why)) => {
                    // Source 4: the full refresh's own SELECT, counted again.
                    match super::recount::recount(ctx, wh, ledger, m, table) {
                        Ok(r) => Expected::Recount(r),
                        Err(no_recount) => {
                            let c = unverifiable(format!(
                                "{decided}: rows_affected is null (Rocky records it only on the \
                                 content-addressed path); {why}; the model's SELECT is not \
                                 recounted: {no_recount}"
                            ));
                            ctx.report.push(c);
                            return;
                        }
                    }
                }
            };
            exact(ctx, wh, table, subject, &decided, &expected);
        }
        // No strategy anywhere (a replicated table: no model file, no IR) but a check_history
        // snapshot: that snapshot is Rocky's count of the WHOLE table, taken by the run itself
        // right after it wrote the table (only the replication runner records one), so for a
        // table no later run rewrote it is the count the table must still have. Known
        // accumulating strategies keep the gate's tolerance policy (spec/gate.md).
        None if whole
            .as_ref()
            .is_ok_and(|o| o.by == ObservedBy::CheckHistory) =>
        {
            let o = whole.as_ref().expect("checked above");
            let decided = "no strategy recorded (a replicated table)";
            exact(ctx, wh, table, subject, decided, &Expected::Observed(o));
        }
        _ => {
            let why_not_exact = match &strategy {
                Some((kind, by)) => format!(
                    "{} per {}: the table accumulates or is recomputed, so its count is not the \
                     run's rows",
                    kind.name(),
                    by.describe()
                ),
                None => "no materialization recorded (no provenance IR, no materialization \
                         field): cannot tell whether the count is exact"
                    .to_owned(),
            };
            if let Some(tolerance) = ctx.hooks.tolerance {
                return tolerant(ctx, wh, m, table, subject, tolerance, &why_not_exact, whole);
            }
            let c = unverifiable(match whole {
                Ok(o) => format!(
                    "{why_not_exact}; {} is compared only within a gate [[tolerance]]",
                    o.describe(&name)
                ),
                Err(_) => why_not_exact,
            });
            ctx.report.push(c);
        }
    }
}

/// The warehouse count of `table`, or an `unknown` check when it cannot be read.
fn count_or_report(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    table: &TableRef,
    subject: &Subject,
) -> Option<u64> {
    match wh.count(table) {
        Ok(n) => Some(n),
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::WarehouseRowCount,
                subject.clone(),
                Code::WarehouseInvalid,
                Proof::Recomputed,
                format!("{table} cannot be read to count its rows: {reason}"),
            ));
            None
        }
    }
}

/// Exact equality of the warehouse count with `expected`.
fn exact(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    table: &TableRef,
    subject: &Subject,
    decided: &str,
    expected: &Expected<'_>,
) {
    let Some(n) = count_or_report(ctx, wh, table, subject) else {
        return;
    };
    let (rows, source, verb, hint) = match expected {
        Expected::RowsAffected(rows) => (*rows, "rows_affected".to_owned(), "records", ""),
        Expected::Observed(o) => (o.rows, o.describe(&table.to_string()), "records", ""),
        Expected::Recount(r) => (
            r.rows,
            r.source.clone(),
            "returns",
            ": the table, or a table its SELECT reads, changed since the run",
        ),
    };
    ctx.report.push(if n == rows {
        Check::pass(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Proof::Recomputed,
            json!(rows),
            json!(n),
            format!("{table} holds {n} rows, as {source} {verb} ({decided}: exact)"),
        )
    } else {
        Check::fail(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountMismatch,
            Proof::Recomputed,
            json!(rows),
            json!(n),
            format!("{table} holds {n} rows, but {source} {verb} {rows} ({decided}: exact){hint}"),
        )
    });
}

/// `gate`'s row count for a table that is not exact: the warehouse count against the whole
/// table's recorded count, within the policy's tolerance (`spec/gate.md` section 2).
#[allow(clippy::too_many_arguments)]
fn tolerant(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    table: &TableRef,
    subject: &Subject,
    tolerance: &super::ToleranceFn<'_>,
    why_not_exact: &str,
    whole: Result<&Observed, String>,
) {
    let unverifiable = |reason: String| {
        Check::unverifiable(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountUnexpected,
            Proof::Unverifiable,
            json!(m.rows_affected),
            reason,
        )
    };
    let Some((warn, error)) = tolerance(&m.name) else {
        let c = unverifiable(format!(
            "{why_not_exact}; no [[tolerance]] in the policy matches {}",
            m.name
        ));
        ctx.report.push(c);
        return;
    };
    let recorded = match whole {
        Ok(o) => o,
        Err(why) => {
            let c = unverifiable(format!("{why_not_exact}; {why}"));
            ctx.report.push(c);
            return;
        }
    };
    let Some(n) = count_or_report(ctx, wh, table, subject) else {
        return;
    };
    // Relative drift against the recorded count (at least 1, so an empty table is defined).
    #[allow(clippy::cast_precision_loss)]
    let drift = n.abs_diff(recorded.rows) as f64 / recorded.rows.max(1) as f64;
    let text = format!(
        "{table} holds {n} rows, {} records {}: drift {:.2}% (warn above {:.2}%, fail above \
         {:.2}%)",
        recorded.describe(&table.to_string()),
        recorded.rows,
        drift * 100.0,
        warn * 100.0,
        error * 100.0
    );
    let mismatch = |outcome: Outcome| Check {
        outcome,
        ..Check::fail(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountMismatch,
            Proof::Recomputed,
            json!(recorded.rows),
            json!(n),
            text.clone(),
        )
    };
    let check = if drift > error {
        mismatch(Outcome::Fail)
    } else if drift > warn {
        mismatch(Outcome::Warn)
    } else {
        Check::pass(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Proof::Recomputed,
            json!(recorded.rows),
            json!(n),
            text.clone(),
        )
    };
    ctx.report.push(check);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_parse_in_both_spellings_and_only_whole_replacements_are_exact() {
        for (ir, snake, exact) in [
            ("FullRefresh", "full_refresh", true),
            ("ContentAddressed", "content_addressed", true),
            ("Incremental", "incremental", false),
            ("Merge", "merge", false),
            ("DeleteInsert", "delete_insert", false),
            ("Microbatch", "microbatch", false),
            ("TimeInterval", "time_interval", false),
            ("View", "view", false),
            ("MaterializedView", "materialized_view", false),
            ("DynamicTable", "dynamic_table", false),
            ("Ephemeral", "ephemeral", false),
        ] {
            let a = StrategyKind::parse(ir);
            assert_eq!(a, StrategyKind::parse(snake));
            assert_eq!(a.name(), snake);
            assert_eq!(a.exact(), exact, "{ir}");
        }
        let odd = StrategyKind::parse("Snapshot");
        assert_eq!(odd, StrategyKind::Other("Snapshot".to_owned()));
        assert!(!odd.exact());
    }

    #[test]
    fn project_strategies_map_onto_the_same_kinds() {
        use crate::rocky::statements::Strategy as S;
        assert_eq!(
            StrategyKind::from_project(&S::FullRefresh),
            StrategyKind::FullRefresh
        );
        assert!(
            !StrategyKind::from_project(&S::Incremental {
                timestamp_column: "ts".to_owned()
            })
            .exact()
        );
    }

    fn snap(at: &str, rows: u64) -> Observed {
        Observed {
            at: crate::checks::view::parse_ts(at).unwrap(),
            at_text: at.to_owned(),
            rows,
            by: ObservedBy::CheckHistory,
        }
    }

    #[test]
    fn only_a_snapshot_in_the_window_is_used_and_a_zero_one_is_not_evidence() {
        let ts = |s: &str| crate::checks::view::parse_ts(s).unwrap();
        let (start, finish) = (ts("2026-01-01T10:00:00Z"), ts("2026-01-01T10:00:10Z"));
        let mut e = CountEvidence::default();
        e.snapshots.insert(
            "c.s.t".to_owned(),
            Ok(vec![
                snap("2026-01-01T09:59:59.999Z", 5),
                snap("2026-01-01T10:00:05Z", 7),
                snap("2026-01-01T10:00:10.900Z", 8),
                snap("2026-01-01T10:00:11.200Z", 9),
            ]),
        );
        // The last one inside [start, finish + 1 s].
        assert_eq!(e.snapshot_in("c.s.t", start, finish).unwrap().rows, 8);
        // Before the start (no slack there) and after the slack: not this run's.
        let late = ts("2026-01-01T10:00:11.300Z");
        e.snapshots.insert(
            "c.s.u".to_owned(),
            Ok(vec![
                snap("2026-01-01T09:59:59.999Z", 5),
                snap("2026-01-01T10:00:11.200Z", 9),
            ]),
        );
        assert!(e.snapshot_in("c.s.u", start, finish).is_err());
        assert_eq!(e.snapshot_in("c.s.u", start, late).unwrap().rows, 9);
        e.snapshots.insert(
            "c.s.z".to_owned(),
            Ok(vec![snap("2026-01-01T10:00:05Z", 0)]),
        );
        assert!(
            e.snapshot_in("c.s.z", start, finish)
                .unwrap_err()
                .contains("0 rows")
        );
        assert!(e.snapshot_in("c.s.none", start, finish).is_err());
    }
}
