//! Output: what a model's warehouse relation *is* and what it *holds*, beyond its name, count
//! and columns (`spec/warehouse.md` "Kind and content").
//!
//! - **Kind.** A strategy that creates a table (full refresh, incremental, merge, content-addressed
//!   ...) must have left a base table, and `view` a view: a table swapped for a view over the same
//!   rows passes every count and column check, yet no longer holds what the run wrote.
//! - **Content.** A content-addressed model's artifact is the exact result of its query, so the
//!   table it wrote holds exactly the artifact's rows. They are compared as multisets inside
//!   DuckDB (`EXCEPT ALL` both ways over the same named columns), so a same-count `UPDATE` fails.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::Ctx;
use super::row_count::{StrategyInput, StrategyKind};
use super::view::ModelView;
use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::artifact::locate;
use crate::evidence::warehouse::{TableKind, TableRef, Warehouse};
use crate::report::{Check, Proof, Subject};

/// The relation a strategy leaves on DuckDB, when it is one the verifier knows.
fn expected_kind(s: &StrategyKind) -> Option<TableKind> {
    match s {
        StrategyKind::FullRefresh
        | StrategyKind::ContentAddressed
        | StrategyKind::Incremental
        | StrategyKind::Merge
        | StrategyKind::DeleteInsert
        | StrategyKind::Microbatch
        | StrategyKind::TimeInterval => Some(TableKind::Table),
        StrategyKind::View => Some(TableKind::View),
        // DuckDB has no materialized views or dynamic tables (Rocky refuses them there), an
        // ephemeral model has no relation, and an unknown name promises nothing.
        StrategyKind::MaterializedView
        | StrategyKind::DynamicTable
        | StrategyKind::Ephemeral
        | StrategyKind::Other(_) => None,
    }
}

/// `warehouse.kind`: the relation is the kind the model's strategy creates.
pub(crate) fn check_kind(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    table: &TableRef,
    subject: &Subject,
    strategy: &StrategyInput,
) {
    if facts_only(ctx, wh) {
        return;
    }
    let Some((strategy, decided)) = strategy else {
        // A replicated table: Rocky records no strategy for it and the project names none.
        // Said once in "not verified" rather than as a check per table, which would only repeat
        // that a replication has no model.
        let line = "warehouse.kind: no strategy is recorded or declared for replicated tables, \
                    so whether they are tables or views is not checked";
        if !ctx.report.not_verified.iter().any(|l| l == line) {
            ctx.report.not_verified.push(line.to_owned());
        }
        return;
    };
    let Some(expected) = expected_kind(strategy) else {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseKind,
            subject.clone(),
            Code::TableKindUnexpected,
            Proof::Unverifiable,
            json!(strategy.name()),
            format!(
                "strategy {} creates no relation whose kind DuckDB reports",
                strategy.name()
            ),
        ));
        return;
    };
    if let Some(later) = super::supersession::superseded_by(ctx, table) {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseKind,
            subject.clone(),
            Code::TableSupersededUnexpected,
            Proof::Unverifiable,
            Value::Null,
            format!("superseded by run {later}, which wrote {table} later"),
        ));
        return;
    }
    let how = decided.describe();
    match wh.kind(table) {
        Ok(Some(actual)) if actual == expected => ctx.report.push(Check::pass(
            CheckId::WarehouseKind,
            subject.clone(),
            Proof::Recomputed,
            json!(expected.name()),
            json!(actual.name()),
            format!(
                "{table} is a {}, as strategy {} (from {how}) creates",
                actual.name(),
                strategy.name()
            ),
        )),
        Ok(Some(actual)) => ctx.report.push(Check::fail(
            CheckId::WarehouseKind,
            subject.clone(),
            Code::TableKindMismatch,
            Proof::Recomputed,
            json!(expected.name()),
            json!(actual.name()),
            format!(
                "{table} is a {}, but strategy {} (from {how}) creates a {}",
                actual.name(),
                strategy.name(),
                expected.name()
            ),
        )),
        // warehouse.table reported the missing table already.
        Ok(None) => {}
        Err(reason) => ctx.report.push(Check::unknown(
            CheckId::WarehouseKind,
            subject.clone(),
            Code::WarehouseInvalid,
            Proof::Recomputed,
            reason.to_string(),
        )),
    }
}

/// `warehouse.content`: a content-addressed model's table holds exactly its artifact's rows.
pub(crate) fn check_content(
    ctx: &mut Ctx<'_>,
    wh: &Warehouse,
    m: &ModelView,
    table: &TableRef,
    subject: &Subject,
    strategy: &StrategyInput,
) {
    if !matches!(strategy, Some((StrategyKind::ContentAddressed, _))) || facts_only(ctx, wh) {
        return;
    }
    let unverifiable = |ctx: &mut Ctx<'_>, code: Code, reason: String| {
        ctx.report.push(Check::unverifiable(
            CheckId::WarehouseContent,
            subject.clone(),
            code,
            Proof::Unverifiable,
            Value::Null,
            reason,
        ));
    };
    if let Some(later) = super::supersession::superseded_by(ctx, table) {
        return unverifiable(
            ctx,
            Code::TableSupersededUnexpected,
            format!("superseded by run {later}, which wrote {table} later"),
        );
    }
    let Some(dir) = ctx.opts.artifacts.clone() else {
        return unverifiable(
            ctx,
            Code::TableContentUnexpected,
            "no --artifacts folder: the table's rows are not compared with the artifact's".into(),
        );
    };
    let rows: Vec<String> = ctx
        .artifacts
        .iter()
        .filter(|a| a.model_name == m.name)
        .map(|a| a.blake3_hash.clone())
        .collect();
    let file: PathBuf = match rows.as_slice() {
        [h] => match locate(&dir, h) {
            Some(f) => f,
            None => {
                return unverifiable(
                    ctx,
                    Code::TableContentUnexpected,
                    format!("the artifact row's blake3_hash {h:?} is not a content address"),
                );
            }
        },
        [] => {
            return unverifiable(
                ctx,
                Code::TableContentUnexpected,
                "the run has no output_artifacts row for the model".into(),
            );
        }
        many => {
            // Partitioned output: one file per partition, with the partition columns dropped
            // from the files (they live in the path), so no file holds whole rows.
            return unverifiable(
                ctx,
                Code::TableContentUnexpected,
                format!(
                    "{} artifact files (partitioned output): the files do not hold whole rows",
                    many.len()
                ),
            );
        }
    };
    // Bytes that do not hash to their content address (artifact.blake3 failed or could not be
    // read) are not the artifact the run recorded: comparing the table with them would report the
    // tampered file's rows as the table's problem. artifact.blake3 already says what is wrong.
    if let [h] = rows.as_slice()
        && let Some(c) = ctx.report.checks.iter().find(|c| {
            c.check == CheckId::ArtifactBlake3
                && c.subject.artifact.as_deref() == Some(h.as_str())
                && c.outcome != crate::report::Outcome::Pass
        })
    {
        let outcome = format!("{:?}", c.outcome).to_lowercase();
        return unverifiable(
            ctx,
            Code::TableContentUnexpected,
            format!(
                "the artifact's bytes are not verified (artifact.blake3 is {outcome}), so its \
                 rows are not evidence about the table"
            ),
        );
    }
    // Only a regular file goes to DuckDB (a FIFO or a device would block or never end); the
    // artifact checks report a missing or non-regular file.
    if crate::evidence::regular_file::open(&file).is_err() {
        return unverifiable(
            ctx,
            Code::TableContentUnexpected,
            format!("the artifact file {} cannot be read", file.display()),
        );
    }
    let table_cols: Vec<String> = match wh.columns(table) {
        Ok(c) => c.into_iter().map(|(n, _)| n).collect(),
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::WarehouseContent,
                subject.clone(),
                Code::WarehouseInvalid,
                Proof::Recomputed,
                reason.to_string(),
            ));
            return;
        }
    };
    let file_cols = match wh.parquet_columns(&table.catalog, &file) {
        Ok(c) => c,
        Err(reason) => {
            // An unreadable artifact is artifact.parquet's finding; here it only stops the
            // comparison.
            return unverifiable(
                ctx,
                Code::TableContentUnexpected,
                format!("the artifact's columns cannot be read: {reason}"),
            );
        }
    };
    let mut a = table_cols.clone();
    let mut b = file_cols.clone();
    a.sort();
    b.sort();
    if a != b || a.is_empty() {
        // Rocky names a lake file's columns by their Delta column-mapping physical names and
        // drops partition columns, so different names are not evidence of different rows.
        return unverifiable(
            ctx,
            Code::TableContentUnexpected,
            format!(
                "the artifact's columns {file_cols:?} are not the table's {table_cols:?} (Delta \
                 column mapping or partition columns): rows cannot be compared by name"
            ),
        );
    }
    match wh.rows_differ_from_parquet(table, &table_cols, &file) {
        Ok((0, 0)) => ctx.report.push(Check::pass(
            CheckId::WarehouseContent,
            subject.clone(),
            Proof::Recomputed,
            json!(file.display().to_string()),
            json!(table.to_string()),
            format!(
                "{table} holds exactly the rows of its artifact (compared as multisets over {} \
                 columns)",
                table_cols.len()
            ),
        )),
        Ok((only_table, only_file)) => ctx.report.push(Check::fail(
            CheckId::WarehouseContent,
            subject.clone(),
            Code::TableContentMismatch,
            Proof::Recomputed,
            json!({"rows_only_in_artifact": only_file}),
            json!({"rows_only_in_table": only_table}),
            format!(
                "{table} does not hold its artifact's rows: {only_table} row(s) of the table are \
                 not in the artifact and {only_file} row(s) of the artifact are not in the table"
            ),
        )),
        Err(reason) => ctx.report.push(Check::unknown(
            CheckId::WarehouseContent,
            subject.clone(),
            Code::WarehouseInvalid,
            Proof::Recomputed,
            reason.to_string(),
        )),
    }
}

/// Whether the warehouse is a bundle's facts file (`spec/bundle.md`), which records row counts
/// and columns but neither a table's kind nor its rows: said once in "not verified".
fn facts_only(ctx: &mut Ctx<'_>, wh: &Warehouse) -> bool {
    if !wh.is_facts() {
        return false;
    }
    let line = "warehouse.kind, warehouse.content: the warehouse is a facts file (row counts and \
                columns only), so table kinds and table rows are not checked";
    if !ctx.report.not_verified.iter().any(|l| l == line) {
        ctx.report.not_verified.push(line.to_owned());
    }
    true
}
