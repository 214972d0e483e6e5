//! Output: the warehouse tables each model wrote (`spec/warehouse.md`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Ctx;
use super::row_count::{self, CountEvidence};
use super::view::{ModelView, RunView};
use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::ledger::Ledger;
use crate::evidence::warehouse::{TableRef, Warehouse, WarehouseError};
use crate::report::{Check, Proof, Subject};
use crate::rocky::types::{self, RockyType, TypeVerdict};

/// Where a model's table was found, and how sure that is.
struct Target {
    table: TableRef,
    proof: Proof,
    /// Which source named the table, when the ledger does not (the project at the commit).
    decided: Option<String>,
}

/// Runs the warehouse checks (only with `--warehouse`).
///
/// # Errors
///
/// A ledger read failure (the recorded counts of the run's tables are read from the ledger).
pub fn check(ctx: &mut Ctx<'_>, ledger: &Ledger) -> Result<(), VerifyError> {
    let Some(path) = ctx.opts.warehouse.clone() else {
        return Ok(());
    };
    let Some(run) = ctx.run.clone() else {
        return Ok(());
    };
    let models: Vec<ModelView> = run
        .models
        .iter()
        .filter(|m| !m.failed() && ctx.in_scope(m))
        .cloned()
        .collect();
    if let Some(shared) = ctx.hooks.warehouse {
        return check_models(ctx, ledger, shared, &models, &run, &path);
    }

    // The catalog to attach the file as: the one the run's tables live in.
    let named = catalogs_named(&run).chain(
        ctx.provs
            .iter()
            .filter_map(|p| p.target().map(|t| t.catalog)),
    );
    let catalog = crate::evidence::warehouse::catalog_for(&path, named);

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
            return Ok(());
        }
    };
    check_models(ctx, ledger, &wh, &models, &run, &path)
}

/// The catalogs a run record names for its tables: `target_catalog`, then each model's
/// `target_table` catalog (the rest of the rule is [`crate::evidence::warehouse::catalog_for`]).
pub(crate) fn catalogs_named(run: &RunView) -> impl Iterator<Item = String> + '_ {
    run.target_catalog.iter().cloned().chain(
        run.models
            .iter()
            .filter_map(|m| m.target_table.as_deref().and_then(TableRef::parse))
            .map(|t| t.catalog),
    )
}

fn check_models(
    ctx: &mut Ctx<'_>,
    ledger: &Ledger,
    wh: &Warehouse,
    models: &[ModelView],
    run: &super::view::RunView,
    path: &std::path::Path,
) -> Result<(), VerifyError> {
    // Each model's table, resolved once: by what the run records or the project declares, else
    // by the ledger's own keys (replicated tables).
    let resolved: Vec<Result<Target, TargetUnknown>> = models
        .iter()
        .map(|m| {
            resolve(ctx, wh, m, run.target_catalog.as_deref()).or_else(|reason| {
                named_by_ledger(ledger, m, run.target_catalog.as_deref()).ok_or(reason)
            })
        })
        .collect();
    // One UNION ALL count over every table, before the per-model checks.
    let tables: Vec<TableRef> = resolved
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|t| t.table.clone()))
        .collect();
    wh.prefetch_counts(&tables);
    // The ledger's recorded counts of those tables: the gate read them once for every run; `run`
    // reads the rows that can name them (with --no-ledger-scan only this run's provenance rows
    // and those keyed after it, where later runs' downstreams are).
    let own;
    let evidence = match ctx.hooks.counts {
        Some(shared) => shared,
        None => {
            let names: BTreeSet<String> = tables.iter().map(ToString::to_string).collect();
            let from = (!ctx.opts.ledger_scan).then(|| format!("{}|", ctx.run_id));
            own = CountEvidence::load(ledger, Some(&names), from.as_deref())?;
            &own
        }
    };
    let mut checked = 0usize;
    for (m, resolved) in models.iter().zip(resolved) {
        let subject = Subject::model(&ctx.run_id, &m.name);
        let target = match resolved {
            Ok(t) => t,
            Err(reason) => {
                ctx.report.push(Check::unknown(
                    CheckId::WarehouseTable,
                    subject,
                    Code::TargetTableMissing,
                    Proof::Heuristic,
                    reason.to_string(),
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
                match &target.decided {
                    Some(how) => format!("table {} exists (target from {how})", target.table),
                    None => format!("table {} exists", target.table),
                },
            )),
            Ok(false) => {
                ctx.report.push(Check::fail(
                    CheckId::WarehouseTable,
                    subject,
                    Code::WarehouseTableMissing,
                    target.proof,
                    json!(target.table.to_string()),
                    Value::Null,
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
                    reason.to_string(),
                ));
                continue;
            }
        }
        checked += 1;
        let strategy = row_count::strategy_from_ledger(ctx, m)
            .or_else(|| row_count::strategy_from_project(ctx, m));
        super::table_content::check_kind(ctx, wh, &target.table, &subject, &strategy);
        super::table_content::check_content(ctx, wh, m, &target.table, &subject, &strategy);
        row_count::check(
            ctx,
            wh,
            ledger,
            m,
            &target.table,
            &subject,
            strategy,
            evidence,
        );
        check_columns(ctx, wh, m, &target, &subject);
    }
    if checked > 0 {
        ctx.report.verified.push(format!(
            "{checked} table(s) found in the warehouse {}",
            path.display()
        ));
    }
    Ok(())
}

/// A table the ledger itself names for `m` when nothing else resolves it: Rocky keys a replicated
/// table's `check_history` row by `catalog.schema.table` (and nothing records it in the run), so
/// exactly one such key whose table is the model name (in the run's catalog, when recorded) names
/// it. Several, or none, leave the original reason.
fn named_by_ledger(ledger: &Ledger, m: &ModelView, target_catalog: Option<&str>) -> Option<Target> {
    let keys = ledger
        .keys(crate::evidence::ledger::CHECK_HISTORY, "")
        .ok()?;
    let named: Vec<TableRef> = keys
        .iter()
        .filter_map(|k| TableRef::parse(k))
        .filter(|t| t.table == m.name && target_catalog.is_none_or(|c| c == t.catalog))
        .collect();
    match named.as_slice() {
        [t] => Some(Target {
            table: t.clone(),
            proof: Proof::Heuristic,
            decided: Some(format!("the ledger's check_history key {t}")),
        }),
        _ => None,
    }
}

/// Why the table a model wrote could not be determined (`target_table_missing`, unknown).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TargetUnknown {
    /// Nothing recorded or declared names it, and no catalog to look in.
    #[error(
        "no provenance IR target, no target_table and no target_catalog recorded, and no model \
         of the project at the commit writes this table: cannot tell which table the model \
         wrote"
    )]
    NothingNamesIt,
    /// The warehouse could not list the catalog's tables.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// No schema of the catalog has a table of the model's name.
    #[error("no schema of catalog {catalog:?} has a table named {table:?}")]
    NoSchema {
        /// The run's catalog.
        catalog: String,
        /// The model name.
        table: String,
    },
    /// Several schemas do.
    #[error("{count} schemas of catalog {catalog:?} have a table named {table:?}: ambiguous")]
    Ambiguous {
        /// How many.
        count: usize,
        /// The run's catalog.
        catalog: String,
        /// The model name.
        table: String,
    },
}

fn resolve(
    ctx: &Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    target_catalog: Option<&str>,
) -> Result<Target, TargetUnknown> {
    if let Some(t) = ctx.prov_for(m.index).and_then(|p| p.target()) {
        return Ok(Target {
            table: t,
            proof: Proof::Recomputed,
            decided: None,
        });
    }
    if let Some(t) = m.target_table.as_deref().and_then(TableRef::parse) {
        return Ok(Target {
            table: t,
            proof: Proof::Recomputed,
            decided: None,
        });
    }
    // Rocky records no target for a transformation model: the project at the run's commit
    // declares it (sidecar, `_defaults.toml`, group or Rocky's fallback), resolved as Rocky
    // resolves it. Several models writing one table name are used only if they agree.
    if let super::project::RockyModels::Models(ms) = ctx.rocky_models(&m.name) {
        let mut found: Vec<(TableRef, String)> = ms
            .iter()
            .map(|r| {
                (
                    TableRef {
                        catalog: r.target.catalog.clone(),
                        schema: r.target.schema.clone(),
                        table: r.target.table.clone(),
                    },
                    super::project::describe(r),
                )
            })
            .collect();
        found.sort();
        found.dedup_by(|a, b| a.0 == b.0);
        if let [(table, how)] = found.as_slice() {
            return Ok(Target {
                table: table.clone(),
                proof: Proof::Recomputed,
                decided: Some(how.clone()),
            });
        }
    }
    let Some(catalog) = target_catalog else {
        return Err(TargetUnknown::NothingNamesIt);
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
            decided: None,
        }),
        [] => Err(TargetUnknown::NoSchema {
            catalog: catalog.to_owned(),
            table: m.name.clone(),
        }),
        many => Err(TargetUnknown::Ambiguous {
            count: many.len(),
            catalog: catalog.to_owned(),
            table: m.name.clone(),
        }),
    }
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
    let nullable = prov.nullable_columns();
    if expected.is_empty() {
        return;
    }
    // A later run rewrote the table: its columns now answer to that run's IR, not this one's.
    if let Some(later) = super::supersession::superseded_by(ctx, &target.table) {
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
                reason.to_string(),
            ));
            return;
        }
    };
    let mut failures = 0usize;
    let mut types = TypeTally::default();
    let mut checks = Vec::new();
    for (name, ir_value) in &expected {
        let col_subject = subject.clone().with_column(name);
        let Some((_, db_type)) = actual.iter().find(|(n, _)| n == name) else {
            failures += 1;
            checks.push(Check::fail(
                CheckId::WarehouseColumns,
                col_subject,
                Code::ColumnMissing,
                Proof::Recomputed,
                json!({"name": name, "data_type": ir_value}),
                Value::Null,
                format!("column {name:?} of the IR is not in {}", target.table),
            ));
            continue;
        };
        // spec/warehouse.md "Compatibility": the warehouse string is mapped to a RockyType as
        // Rocky maps it, and only a disagreement of type families is evidence.
        let ir_type = match RockyType::from_ir_json(ir_value) {
            Ok(t) => t,
            Err(e) => {
                types.not_compared.push(format!("{name} ({e})"));
                continue;
            }
        };
        match types::compare(&ir_type, db_type) {
            TypeVerdict::Mismatch { mapped } => {
                failures += 1;
                checks.push(Check::fail(
                    CheckId::WarehouseColumns,
                    col_subject,
                    Code::ColumnTypeMismatch,
                    Proof::Recomputed,
                    ir_value.clone(),
                    json!({"data_type": db_type, "rocky_type": mapped.to_ir_json()}),
                    format!(
                        "column {name:?}: the IR's type is {}, but the warehouse reports {db_type:?}, \
                         which Rocky maps to {}: another type family",
                        types::verbatim(ir_value),
                        types::verbatim(&mapped.to_ir_json())
                    ),
                ));
            }
            TypeVerdict::Same => types.same += 1,
            TypeVerdict::SameFamily(_) => types.same_family.push(format!(
                "{name}: IR {}, warehouse {db_type:?} ({})",
                types::verbatim(ir_value),
                types::verbatim(&types::map_warehouse_type(db_type).to_ir_json())
            )),
            TypeVerdict::UnknownInIr => types.unknown.push(format!("{name} (Unknown in the IR)")),
            TypeVerdict::UnknownInWarehouse => types
                .unknown
                .push(format!("{name} ({db_type:?} maps to Unknown)")),
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
                Value::Null,
                json!({"name": name, "data_type": db_type}),
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
            json!(expected.iter().map(|(n, _)| n).collect::<Vec<_>>()),
            json!(
                actual
                    .iter()
                    .map(|(n, t)| json!([n, t]))
                    .collect::<Vec<_>>()
            ),
            types.describe(expected.len()),
        ));
    }
    for c in checks {
        ctx.report.push(c);
    }
    if failures == 0 {
        column_shape(ctx, wh, &nullable, &expected, &actual, target, subject);
    }
}

/// What the column names and types do not show: the order of the columns and `NOT NULL`
/// constraints. Neither is something Rocky promises or creates (schema evolution appends columns;
/// its statements declare no constraint), so both are reported, never failed.
fn column_shape(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    nullable: &[String],
    expected: &[(String, Value)],
    actual: &[(String, String)],
    target: &Target,
    subject: &Subject,
) {
    let ir_order: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let wh_order: Vec<&str> = actual.iter().map(|(n, _)| n.as_str()).collect();
    if ir_order != wh_order {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseColumns,
            subject.clone(),
            Code::ColumnOrderUnexpected,
            Proof::Unverifiable,
            json!(wh_order),
            format!(
                "the columns of {} are in another order than the IR's ({}); Rocky does not \
                 promise column order, so this is reported, not failed",
                target.table,
                ir_order.join(", ")
            ),
        ));
    }
    let Ok(not_null) = wh.not_null_columns(&target.table) else {
        return;
    };
    for name in nullable.iter().filter(|n| not_null.contains(*n)) {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseColumns,
            subject.clone().with_column(name),
            Code::ColumnNullabilityUnexpected,
            Proof::Unverifiable,
            json!({"name": name, "not_null": true}),
            format!(
                "column {name:?} of {} is NOT NULL, which the IR does not declare and Rocky's \
                 statements never create: the table was altered outside the run",
                target.table
            ),
        ));
    }
}

/// How the IR's column types compared with the warehouse's, for the passing check's message.
#[derive(Default)]
struct TypeTally {
    /// Columns whose mapped type is the IR's.
    same: usize,
    /// Columns of one family but another type: compatible, not exact.
    same_family: Vec<String>,
    /// Columns where either side is `Unknown`: compatible with anything.
    unknown: Vec<String>,
    /// Columns whose IR type is not a `RockyType` (the IR's own checks report that).
    not_compared: Vec<String>,
}

impl TypeTally {
    fn describe(&self, columns: usize) -> String {
        let mut text = format!(
            "the {columns} columns of the IR are in the table; {} type(s) exactly as Rocky maps them",
            self.same
        );
        if !self.same_family.is_empty() {
            text.push_str(&format!(
                "; same family, not exact: {}",
                self.same_family.join(", ")
            ));
        }
        if !self.unknown.is_empty() {
            text.push_str(&format!(
                "; compatible as Unknown: {}",
                self.unknown.join(", ")
            ));
        }
        if !self.not_compared.is_empty() {
            text.push_str(&format!("; not compared: {}", self.not_compared.join(", ")));
        }
        text
    }
}
