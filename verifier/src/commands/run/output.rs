//! Output: the warehouse tables each model wrote (`spec/warehouse.md`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Ctx;
use super::view::ModelView;
use crate::checks::catalogue::{CheckId, Code};
use crate::report::{Check, Proof, Subject};
use crate::warehouse::{TableRef, Warehouse, duckdb_type};

/// Where a model's table was found, and how sure that is.
struct Target {
    table: TableRef,
    proof: Proof,
}

/// Runs the warehouse checks (only with `--warehouse`).
pub fn check(ctx: &mut Ctx<'_>) {
    let Some(path) = ctx.opts.warehouse.clone() else {
        return;
    };
    let Some(run) = ctx.run.clone() else { return };
    let models: Vec<ModelView> = run
        .models
        .iter()
        .filter(|m| !m.failed() && ctx.in_scope(m))
        .cloned()
        .collect();
    if let Some(shared) = ctx.hooks.warehouse {
        return check_models(ctx, shared, &models, &run, &path);
    }

    // The catalog to attach the file as: the one the run's tables live in.
    let catalog = run
        .target_catalog
        .clone()
        .or_else(|| ctx.provs.iter().find_map(|p| p.target().map(|t| t.catalog)))
        .or_else(|| {
            models.iter().find_map(|m| {
                m.target_table
                    .as_deref()
                    .and_then(TableRef::parse)
                    .map(|t| t.catalog)
            })
        })
        .or_else(|| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .unwrap_or_else(|| "warehouse".to_owned());

    let wh = match Warehouse::open(&path, &catalog) {
        Ok(w) => w,
        Err(e) => {
            ctx.report.push(Check::unknown(
                CheckId::WarehouseOpen,
                Subject::run(&ctx.run_id),
                Code::WarehouseInvalid,
                Proof::Recomputed,
                e.to_string(),
            ));
            return;
        }
    };
    check_models(ctx, &wh, &models, &run, &path);
}

/// The warehouse tables the in-scope models of a loaded run wrote, where they resolve.
pub fn targets(ctx: &Ctx<'_>, wh: &Warehouse) -> Vec<TableRef> {
    let Some(run) = ctx.run.as_ref() else {
        return Vec::new();
    };
    run.models
        .iter()
        .filter(|m| !m.failed() && ctx.in_scope(m))
        .filter_map(|m| resolve(ctx, wh, m, run.target_catalog.as_deref()).ok())
        .map(|t| t.table)
        .collect()
}

fn check_models(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    models: &[ModelView],
    run: &super::view::RunView,
    path: &std::path::Path,
) {
    // One UNION ALL count over every table, before the per-model checks.
    wh.prefetch_counts(&targets(ctx, wh));
    let mut checked = 0usize;
    for m in models {
        let subject = Subject::model(&ctx.run_id, &m.name);
        let target = match resolve(ctx, wh, m, run.target_catalog.as_deref()) {
            Ok(t) => t,
            Err(reason) => {
                ctx.report.push(Check::unknown(
                    CheckId::WarehouseTable,
                    subject,
                    Code::TargetTableMissing,
                    Proof::Heuristic,
                    reason,
                ));
                continue;
            }
        };
        let subject = subject.with_table(&target.table.to_string());
        match wh.table_exists(&target.table) {
            Ok(true) => ctx.report.push(Check::pass(
                CheckId::WarehouseTable,
                subject.clone(),
                target.proof,
                json!(target.table.to_string()),
                json!(target.table.to_string()),
                format!("table {} exists", target.table),
            )),
            Ok(false) => {
                ctx.report.push(Check::fail(
                    CheckId::WarehouseTable,
                    subject,
                    Code::WarehouseTableMissing,
                    target.proof,
                    Value::Null,
                    json!(target.table.to_string()),
                    format!("table {} is not in the warehouse", target.table),
                ));
                continue;
            }
            Err(reason) => {
                ctx.report.push(Check::unknown(
                    CheckId::WarehouseTable,
                    subject,
                    Code::WarehouseInvalid,
                    target.proof,
                    reason,
                ));
                continue;
            }
        }
        checked += 1;
        check_count(ctx, wh, m, &target, &subject);
        check_columns(ctx, wh, m, &target, &subject);
    }
    if checked > 0 {
        ctx.report.verified.push(format!(
            "{checked} table(s) found in the warehouse {}",
            path.display()
        ));
    }
}

fn resolve(
    ctx: &Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    target_catalog: Option<&str>,
) -> Result<Target, String> {
    if let Some(t) = ctx.prov_for(m.index).and_then(|p| p.target()) {
        return Ok(Target {
            table: t,
            proof: Proof::Recomputed,
        });
    }
    if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
        return Ok(Target {
            table: t,
            proof: Proof::Recomputed,
        });
    }
    let Some(catalog) = target_catalog else {
        return Err(
            "no provenance IR target, no target_table and no target_catalog recorded: \
                    cannot tell which table the model wrote"
                .to_owned(),
        );
    };
    let schemas = wh.schemas_with_table(catalog, &m.name)?;
    match schemas.as_slice() {
        [schema] => Ok(Target {
            table: TableRef {
                catalog: catalog.to_owned(),
                schema: schema.clone(),
                table: m.name.clone(),
            },
            proof: Proof::Heuristic,
        }),
        [] => Err(format!(
            "no schema of catalog {catalog:?} has a table named {:?}",
            m.name
        )),
        many => Err(format!(
            "{} schemas of catalog {catalog:?} have a table named {:?}: ambiguous",
            many.len(),
            m.name
        )),
    }
}

/// Whether the model replaces its table whole, so `COUNT(*)` must equal `rows_affected`.
fn exact_count(ctx: &Ctx<'_>, m: &ModelView) -> Result<(), String> {
    let kind = m
        .materialization
        .clone()
        .or_else(|| ctx.prov_for(m.index).and_then(|p| p.strategy()));
    match kind.as_deref() {
        Some("full_refresh" | "content_addressed" | "FullRefresh" | "ContentAddressed") => Ok(()),
        Some(other) => Err(format!(
            "materialization {other}: the table accumulates, so its count is not the run's rows"
        )),
        None => {
            Err("no materialization recorded: cannot tell whether the count is exact".to_owned())
        }
    }
}

/// The run after this one that also wrote `target`, if any.
fn superseded_by(ctx: &Ctx<'_>, m: &ModelView, target: &TableRef) -> Option<String> {
    let run = ctx.run.as_ref()?;
    let (_, start) = run.started.as_ref()?;
    let full = target.to_string();
    ctx.all_runs
        .iter()
        .filter(|r| r.run_id.as_deref() != Some(ctx.run_id.as_str()))
        .filter(|r| r.started.as_ref().is_some_and(|(_, s)| s > start))
        .filter(|r| {
            r.models.iter().any(|o| {
                !o.failed()
                    && match (&o.target_table, &m.target_table) {
                        (Some(a), _) => *a == full,
                        (None, _) => {
                            o.name == target.table
                                && r.target_catalog.as_deref() == Some(target.catalog.as_str())
                        }
                    }
            })
        })
        .max_by(|a, b| {
            a.started
                .as_ref()
                .map(|s| s.1)
                .cmp(&b.started.as_ref().map(|s| s.1))
        })
        .and_then(|r| r.run_id.clone())
}

fn check_count(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    target: &Target,
    subject: &Subject,
) {
    if let Some(later) = superseded_by(ctx, m, &target.table) {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountUnexpected,
            Proof::Unverifiable,
            json!(m.rows_affected),
            format!(
                "superseded by run {later}, which wrote {} later",
                target.table
            ),
        ));
        return;
    }
    if let Err(reason) = exact_count(ctx, m) {
        if let Some(tolerance) = ctx.hooks.tolerance {
            return check_tolerant_count(ctx, wh, m, target, subject, tolerance, &reason);
        }
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountUnexpected,
            Proof::Unverifiable,
            json!(m.rows_affected),
            reason,
        ));
        return;
    }
    let Some(rows) = m.rows_affected else {
        ctx.report.push(Check::unknown(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowsAffectedMissing,
            Proof::Recomputed,
            "rows_affected is null: the run recorded no row count to compare",
        ));
        return;
    };
    match wh.count(&target.table) {
        Ok(n) if n == rows => ctx.report.push(Check::pass(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Proof::Recomputed,
            json!(n),
            json!(rows),
            format!("COUNT(*) of {} is {n}, as recorded", target.table),
        )),
        Ok(n) => ctx.report.push(Check::fail(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountMismatch,
            Proof::Recomputed,
            json!(n),
            json!(rows),
            format!(
                "COUNT(*) of {} is {n} but rows_affected is {rows}",
                target.table
            ),
        )),
        Err(reason) => ctx.report.push(Check::unknown(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::WarehouseInvalid,
            Proof::Recomputed,
            reason,
        )),
    }
}

/// `gate`'s row count for a table that accumulates: the warehouse count against the table's last
/// `check_history` count, within the policy's tolerance (`spec/gate.md` section 2).
fn check_tolerant_count(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    target: &Target,
    subject: &Subject,
    tolerance: &super::ToleranceFn<'_>,
    why_not_exact: &str,
) {
    let table = target.table.to_string();
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
        let reason = format!(
            "{why_not_exact}; no [[tolerance]] in the policy matches {}",
            m.name
        );
        ctx.report.push(unverifiable(reason));
        return;
    };
    let Some(&recorded) = ctx.hooks.recorded_counts.and_then(|c| c.get(&table)) else {
        let reason = format!(
            "{why_not_exact}; no check_history row count is recorded for {table} to compare with"
        );
        ctx.report.push(unverifiable(reason));
        return;
    };
    let n = match wh.count(&target.table) {
        Ok(n) => n,
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::WarehouseRowCount,
                subject.clone(),
                Code::WarehouseInvalid,
                Proof::Recomputed,
                reason,
            ));
            return;
        }
    };
    // Relative drift against the recorded count (at least 1, so an empty table is defined).
    #[allow(clippy::cast_precision_loss)]
    let drift = n.abs_diff(recorded) as f64 / recorded.max(1) as f64;
    let text = format!(
        "COUNT(*) of {table} is {n}, the last recorded count is {recorded}: drift {:.2}% \
         (warn above {:.2}%, fail above {:.2}%)",
        drift * 100.0,
        warn * 100.0,
        error * 100.0
    );
    let check = if drift > error {
        Check::fail(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Code::RowCountMismatch,
            Proof::Recomputed,
            json!(n),
            json!(recorded),
            text,
        )
    } else if drift > warn {
        Check {
            outcome: crate::report::Outcome::Warn,
            ..Check::fail(
                CheckId::WarehouseRowCount,
                subject.clone(),
                Code::RowCountMismatch,
                Proof::Recomputed,
                json!(n),
                json!(recorded),
                text,
            )
        }
    } else {
        Check::pass(
            CheckId::WarehouseRowCount,
            subject.clone(),
            Proof::Recomputed,
            json!(n),
            json!(recorded),
            text,
        )
    };
    ctx.report.push(check);
}

fn check_columns(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    target: &Target,
    subject: &Subject,
) {
    let Some(prov) = ctx.prov_for(m.index) else {
        return;
    };
    let expected = prov.typed_columns();
    if expected.is_empty() {
        return;
    }
    // A later run rewrote the table: its columns now answer to that run's IR, not this one's.
    if let Some(later) = superseded_by(ctx, m, &target.table) {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseColumns,
            subject.clone(),
            Code::TableSupersededUnexpected,
            Proof::Unverifiable,
            Value::Null,
            format!(
                "superseded by run {later}, which wrote {} later",
                target.table
            ),
        ));
        return;
    }
    let actual = match wh.columns(&target.table) {
        Ok(c) => c,
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::WarehouseColumns,
                subject.clone(),
                Code::WarehouseInvalid,
                Proof::Recomputed,
                reason,
            ));
            return;
        }
    };
    let mut failures = 0usize;
    let mut not_compared = Vec::new();
    let mut checks = Vec::new();
    for (name, rocky_type) in &expected {
        let col_subject = subject.clone().with_column(name);
        match actual.iter().find(|(n, _)| n == name) {
            None => {
                failures += 1;
                checks.push(Check::fail(
                    CheckId::WarehouseColumns,
                    col_subject,
                    Code::ColumnMissing,
                    Proof::Recomputed,
                    Value::Null,
                    json!({"name": name, "data_type": rocky_type}),
                    format!("column {name:?} of the IR is not in {}", target.table),
                ));
            }
            Some((_, db_type)) => {
                match duckdb_type(rocky_type) {
                    Some(want) if want != *db_type => {
                        failures += 1;
                        checks.push(Check::fail(
                        CheckId::WarehouseColumns,
                        col_subject,
                        Code::ColumnTypeMismatch,
                        Proof::Recomputed,
                        json!(db_type),
                        json!(want),
                        format!("column {name:?} is {db_type} in the warehouse but the IR says {want}"),
                    ));
                    }
                    Some(_) => {}
                    None => not_compared.push(name.clone()),
                }
            }
        }
    }
    let names: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for (name, db_type) in &actual {
        if !names.contains(name.as_str()) {
            failures += 1;
            checks.push(Check::fail(
                CheckId::WarehouseColumns,
                subject.clone().with_column(name),
                Code::ColumnUnexpected,
                Proof::Recomputed,
                json!({"name": name, "data_type": db_type}),
                Value::Null,
                format!(
                    "column {name:?} of {} is not in the IR's typed_columns",
                    target.table
                ),
            ));
        }
    }
    if failures == 0 {
        ctx.report.push(Check::pass(
            CheckId::WarehouseColumns,
            subject.clone(),
            Proof::Recomputed,
            json!(
                actual
                    .iter()
                    .map(|(n, t)| json!([n, t]))
                    .collect::<Vec<_>>()
            ),
            json!(expected.iter().map(|(n, _)| n).collect::<Vec<_>>()),
            if not_compared.is_empty() {
                format!(
                    "the {} columns and their types match the IR",
                    expected.len()
                )
            } else {
                format!(
                    "the {} columns match the IR; types of {} not compared",
                    expected.len(),
                    not_compared.join(", ")
                )
            },
        ));
    }
    for c in checks {
        ctx.report.push(c);
    }
}
