//! `spec/vectors/rocky_types.json` and `spec/vectors/sql_templates.json` against the verifier's
//! `rocky` module: Rocky's type mapping, statement templates, `sql_hash` and project resolution
//! (`spec/warehouse.md` "Columns and types", `spec/hashes.md` section 12).

use std::collections::BTreeMap;

use libtest_mimic::Failed;
use rocky_verify::rocky::project::{
    AdapterResolution, ConfigFile, Language, LoadOptions, Project, ResolvedModel,
};
use rocky_verify::rocky::sql_hash::{Recomputed, fingerprint};
use rocky_verify::rocky::statements::{
    self, Dialect, FormatOptions, LakehouseFormat, ModelSql, RunInputs, StatementsError, Strategy,
    SurrogateKey, Target,
};
use rocky_verify::rocky::tree::MemoryTree;
use rocky_verify::rocky::types::{self, RockyType};
use serde_json::{Value, json};

use super::{Outcome, eq, field, text};

pub fn rocky_types_case(case: &Value) -> Outcome {
    let warehouse = text(case, "/input/warehouse_type")?;
    let mapped = types::map_warehouse_type(warehouse);
    match text(case, "/kind")? {
        "map" => eq(
            "RockyType",
            mapped.to_ir_json(),
            field(case, "/expected")?.clone(),
        ),
        "compare" => {
            let ir = RockyType::from_ir_json(field(case, "/input/ir_type")?)
                .map_err(|e| e.to_string())?;
            let verdict = types::compare(&ir, warehouse);
            eq("verdict", verdict.code(), text(case, "/expected/verdict")?)?;
            eq(
                "compatible",
                verdict.is_compatible(),
                text(case, "/expected/verdict")? != "mismatch",
            )?;
            eq(
                "mapped",
                mapped.to_ir_json(),
                field(case, "/expected/mapped")?.clone(),
            )
        }
        other => Err(format!("vector shape: unknown kind {other:?}").into()),
    }
}

pub fn sql_templates_case(case: &Value) -> Outcome {
    match text(case, "/kind")? {
        "statements" => statements_case(case),
        "project" => project_case(case),
        other => Err(format!("vector shape: unknown kind {other:?}").into()),
    }
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, Failed> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Failed::from("vector shape: strings expected"))
            })
            .collect(),
        Some(_) => Err("vector shape: array expected".into()),
    }
}

fn target(v: &Value) -> Result<Target, Failed> {
    let part = |k: &str| -> Result<String, Failed> {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("vector shape: target {k}").into())
    };
    Ok(Target {
        catalog: part("catalog")?,
        schema: part("schema")?,
        table: part("table")?,
    })
}

fn run_inputs(v: &Value) -> Result<RunInputs, Failed> {
    let mut run = RunInputs::default();
    if let Some(vars) = v.get("run_vars").and_then(Value::as_object) {
        for (k, val) in vars {
            let val = val.as_str().ok_or("vector shape: run_vars")?;
            run.run_vars.insert(k.clone(), val.to_owned());
        }
    }
    run.snowflake_warehouse = v
        .get("snowflake_warehouse")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if v.get("partition_keys").is_some() {
        run.partition_keys = Some(strings(v.get("partition_keys"))?);
    }
    if v.get("typed_column_names").is_some() {
        run.typed_column_names = Some(strings(v.get("typed_column_names"))?);
    }
    Ok(run)
}

/// The expected-outcome JSON of one recomputation.
fn outcome_json(r: &Recomputed) -> Value {
    match r {
        Recomputed::Statements(s) => {
            let mut o = json!({
                "outcome": "statements",
                "statements": s.statements,
                "sql_hash": fingerprint(&s.statements),
            });
            if !s.assumptions.is_empty() {
                o["assumptions"] = json!(
                    s.assumptions
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                );
            }
            o
        }
        Recomputed::RockyRejects(r) => json!({"outcome": "rocky_rejects", "reason": r.code()}),
        Recomputed::NotRecomputable(r) => {
            json!({"outcome": "not_recomputable", "reason": r.code()})
        }
    }
}

fn statements_case(case: &Value) -> Outcome {
    let input = field(case, "/input")?;
    let dialect = Dialect::from_name(text(case, "/input/adapter")?).ok_or("unknown adapter")?;
    let format = match input.get("format").and_then(Value::as_str) {
        None => None,
        Some(f) => Some(LakehouseFormat::parse(f).ok_or("vector shape: format")?),
    };
    let format_options = match input.get("format_options") {
        None | Some(Value::Null) => FormatOptions::default(),
        Some(o) => FormatOptions::from_json(o)?,
    };
    let mut sources = Vec::new();
    for s in input
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        sources.push(target(s)?);
    }
    let mut surrogate_keys = Vec::new();
    for k in input
        .get("surrogate_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        surrogate_keys.push(SurrogateKey {
            name: k
                .get("name")
                .and_then(Value::as_str)
                .ok_or("vector shape")?
                .to_owned(),
            columns: strings(k.get("columns"))?,
        });
    }
    let model = ModelSql {
        sql: text(case, "/input/sql")?.to_owned(),
        target: target(field(case, "/input/target")?)?,
        strategy: Strategy::from_json(field(case, "/input/strategy")?)?,
        format,
        format_options,
        sources,
        surrogate_keys,
    };
    let got = match statements::statements(dialect, &model, &run_inputs(input)?) {
        Ok(s) => Recomputed::Statements(s),
        Err(StatementsError::RockyRejects(r)) => Recomputed::RockyRejects(r),
        Err(StatementsError::NotRecomputable(r)) => Recomputed::NotRecomputable(r),
    };
    if let (Some(pre), Recomputed::Statements(s)) = (case.get("expected_preimage"), &got) {
        eq(
            "pre-image",
            Some(s.statements.join(";\n").as_str()),
            pre.as_str(),
        )?;
    }
    eq(
        "outcome",
        outcome_json(&got),
        field(case, "/expected")?.clone(),
    )
}

fn model_json(m: &ResolvedModel, dialect: Option<Dialect>, run: &RunInputs) -> Value {
    let t = |t: &Target| json!({"catalog": t.catalog, "schema": t.schema, "table": t.table});
    let recompute = match dialect {
        Some(d) => outcome_json(&m.recompute(d, run)),
        None => Value::Null,
    };
    json!({
        "name": m.name,
        "path": m.path,
        "language": match m.language { Language::Sql => "sql", Language::RockyDsl => "rocky" },
        "config": match m.config {
            ConfigFile::Sidecar(_) => "sidecar",
            ConfigFile::Frontmatter => "frontmatter",
            ConfigFile::None => "none",
        },
        "strategy": m.strategy.to_json(),
        "target": t(&m.target),
        "decided_by": {
            "strategy": m.decided_by.strategy.code(),
            "catalog": m.decided_by.catalog.code(),
            "schema": m.decided_by.schema.code(),
            "table": m.decided_by.table.code(),
        },
        "sql": m.sql,
        "env_assumptions": m.env_assumptions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "recompute": recompute,
    })
}

fn project_case(case: &Value) -> Outcome {
    let files = field(case, "/input/files")?
        .as_object()
        .ok_or("vector shape: files")?;
    let tree: MemoryTree = files
        .iter()
        .map(|(p, c)| {
            (
                p.clone(),
                c.as_str().unwrap_or_default().as_bytes().to_vec(),
            )
        })
        .collect();
    let env: BTreeMap<String, String> = field(case, "/input/env")?
        .as_object()
        .ok_or("vector shape: env")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let opts = LoadOptions {
        project_dir: text(case, "/input/project_dir")?.to_owned(),
        pipeline: field(case, "/input/pipeline")?.as_str().map(str::to_owned),
        env,
    };
    let run = match case.pointer("/input/run_inputs") {
        Some(r) => run_inputs(r)?,
        None => RunInputs::default(),
    };
    let want = field(case, "/expected")?;
    let got = match Project::load(&tree, &opts) {
        Err(e) => json!({"outcome": "project_error", "reason": e.code()}),
        Ok(p) => match &p.adapter {
            AdapterResolution::Unresolved(e) => {
                json!({"outcome": "adapter_unresolved", "reason": e.code()})
            }
            AdapterResolution::Config {
                dialect, warehouse, ..
            } => {
                let mut run = run.clone();
                if run.snowflake_warehouse.is_none() {
                    run.snowflake_warehouse = warehouse.clone();
                }
                json!({
                    "outcome": "resolved",
                    "pipeline": p.pipeline,
                    "adapter": dialect.name(),
                    "models": p.models.iter().map(|m| model_json(m, Some(*dialect), &run)).collect::<Vec<_>>(),
                })
            }
        },
    };
    eq("project", got, want.clone())
}
