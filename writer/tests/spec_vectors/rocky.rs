//! `rocky_types.json` and `sql_templates.json` through `rocky_writer::rocky`.
//!
//! Outcomes are rebuilt as the vectors' JSON and compared as whole values, so an extra or
//! missing field (an assumption, a model, a `decided_by` source) fails the case. Unknown input
//! keys fail too: an input the writer silently ignored could make a case pass for the wrong
//! reason.

use std::collections::BTreeMap;

use libtest_mimic::Failed;
use serde_json::{Value, json};

use rocky_writer::TemplateError;
use rocky_writer::identity::Adapter;
use rocky_writer::ir::{FormatOptions, LakehouseFormat, RockyType, TableRef};
use rocky_writer::rocky::{
    self, FileTree, ModelSpec, ProjectInputs, ResolvedProject, RunInputs, Statements,
    StrategyConfig, SurrogateKey,
};

use super::{Outcome, check_eq, fail, from_value, str_field};

/// Fails on any key outside `known`.
fn only_keys(v: &Value, known: &[&str], what: &str) -> Outcome {
    let Some(obj) = v.as_object() else {
        return fail(format!("{what} is not an object"));
    };
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => fail(format!(
            "{what} has a key this harness does not know: {k:?}"
        )),
        None => Ok(()),
    }
}

pub(crate) fn rocky_types(case: &Value) -> Outcome {
    let input = &case["input"];
    let warehouse_type = str_field(input, "warehouse_type")?;
    match str_field(case, "kind")? {
        "map" => {
            only_keys(input, &["adapter", "warehouse_type"], "input")?;
            let mapped = rocky::map_warehouse_type(warehouse_type);
            check_eq("mapped type", json!(mapped), case["expected"].clone())
        }
        "compare" => {
            only_keys(input, &["ir_type", "warehouse_type"], "input")?;
            let ir: RockyType = from_value(&input["ir_type"])?;
            let (verdict, mapped) = rocky::compare(&ir, warehouse_type);
            check_eq(
                "verdict",
                json!({"verdict": verdict.code(), "mapped": mapped}),
                case["expected"].clone(),
            )?;
            // The verdict's serde form is its code.
            check_eq("verdict serde", json!(verdict), json!(verdict.code()))
        }
        other => fail(format!("unknown kind {other}")),
    }
}

fn adapter(name: &str) -> Result<Adapter, Failed> {
    from_value(&json!(name))
}

/// JSON (the vectors' form of a `[strategy]` table) to TOML; `null` means absent.
fn to_toml(v: &Value) -> Result<Option<toml::Value>, Failed> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => return fail(format!("non-integer number {n} in a strategy")),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .map(|i| to_toml(i)?.ok_or_else(|| Failed::from("null inside an array")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut t = toml::Table::new();
            for (k, v) in map {
                if let Some(v) = to_toml(v)? {
                    t.insert(k.clone(), v);
                }
            }
            toml::Value::Table(t)
        }
    }))
}

fn strategy(v: &Value) -> Result<StrategyConfig, Failed> {
    match to_toml(v)? {
        Some(toml::Value::Table(t)) => StrategyConfig::from_toml(&t).map_err(Failed::from),
        _ => fail("strategy is not an object"),
    }
}

/// The execution inputs of a statements case (or a project case's `run_inputs`).
fn run_inputs(input: &Value) -> Result<RunInputs, Failed> {
    let opt = |key: &str| input.get(key).filter(|v| !v.is_null());
    Ok(RunInputs {
        run_vars: opt("run_vars")
            .map(from_value::<BTreeMap<String, String>>)
            .transpose()?
            .unwrap_or_default(),
        snowflake_warehouse: opt("snowflake_warehouse").map(from_value).transpose()?,
        partition_keys: opt("partition_keys").map(from_value).transpose()?,
        typed_column_names: opt("typed_column_names").map(from_value).transpose()?,
        provenance_sql: None,
    })
}

const RUN_INPUT_KEYS: &[&str] = &[
    "run_vars",
    "snowflake_warehouse",
    "partition_keys",
    "typed_column_names",
];

fn model_spec(input: &Value) -> Result<ModelSpec, Failed> {
    let target: TableRef = from_value(&input["target"])?;
    let mut spec = ModelSpec::new(
        target,
        str_field(input, "sql")?,
        strategy(&input["strategy"])?,
    );
    if let Some(f) = input.get("format").filter(|v| !v.is_null()) {
        spec.format = Some(from_value::<LakehouseFormat>(f)?);
    }
    if let Some(o) = input.get("format_options").filter(|v| !v.is_null()) {
        only_keys(
            o,
            &["partition_by", "cluster_by", "table_properties", "comment"],
            "format_options",
        )?;
        spec.format_options = from_value::<FormatOptions>(o)?;
    }
    if let Some(s) = input.get("sources").filter(|v| !v.is_null()) {
        spec.sources = from_value(s)?;
    }
    if let Some(keys) = input.get("surrogate_keys").filter(|v| !v.is_null()) {
        let keys = keys.as_array().ok_or("surrogate_keys is not an array")?;
        for k in keys {
            only_keys(k, &["name", "columns"], "surrogate key")?;
            spec.surrogate_keys.push(SurrogateKey {
                name: str_field(k, "name")?.to_owned(),
                columns: from_value(&k["columns"])?,
            });
        }
    }
    Ok(spec)
}

/// A recomputation as the vectors write it.
fn outcome_json(result: &Result<Statements, TemplateError>) -> Value {
    match result {
        Ok(s) => {
            let mut v = json!({
                "outcome": "statements",
                "statements": s.statements,
                "sql_hash": s.sql_hash,
            });
            if !s.assumptions.is_empty() {
                let a: Vec<String> = s.assumptions.iter().map(ToString::to_string).collect();
                v["assumptions"] = json!(a);
            }
            v
        }
        Err(e) => json!({"outcome": e.outcome(), "reason": e.code()}),
    }
}

pub(crate) fn sql_templates(case: &Value) -> Outcome {
    let input = &case["input"];
    match str_field(case, "kind")? {
        "statements" => {
            let mut known = vec![
                "adapter",
                "target",
                "sql",
                "strategy",
                "format",
                "format_options",
                "sources",
                "surrogate_keys",
            ];
            known.extend(RUN_INPUT_KEYS);
            only_keys(input, &known, "input")?;
            let dialect = adapter(str_field(input, "adapter")?)?;
            let result = rocky::rocky_statements(dialect, &model_spec(input)?, &run_inputs(input)?);
            check_eq("outcome", outcome_json(&result), case["expected"].clone())?;
            if let (Some(preimage), Ok(s)) = (case.get("expected_preimage"), &result) {
                check_eq(
                    "pre-image",
                    json!(s.statements.join(";\n")),
                    preimage.clone(),
                )?;
            }
            Ok(())
        }
        "project" => project(case),
        other => fail(format!("unknown kind {other}")),
    }
}

fn project(case: &Value) -> Outcome {
    let input = &case["input"];
    only_keys(
        input,
        &["files", "project_dir", "pipeline", "env", "run_inputs"],
        "input",
    )?;
    let files: BTreeMap<String, String> = from_value(&input["files"])?;
    let tree = FileTree::from_files(files).or_else(|e| fail(format!("tree: {e}")))?;
    let inputs = ProjectInputs {
        project_dir: str_field(input, "project_dir")?.to_owned(),
        pipeline: from_value(&input["pipeline"])?,
        env: from_value(&input["env"])?,
    };
    let run = match input.get("run_inputs") {
        Some(r) => {
            only_keys(r, RUN_INPUT_KEYS, "run_inputs")?;
            run_inputs(r)?
        }
        None => RunInputs::default(),
    };
    let actual = match rocky::load_project(&tree, &inputs) {
        Err(e) => json!({"outcome": "project_error", "reason": e.reason.code()}),
        Ok(p) => resolved_json(&p, &run),
    };
    check_eq("project", actual, case["expected"].clone())
}

fn resolved_json(p: &ResolvedProject, run: &RunInputs) -> Value {
    let dialect = match &p.dialect {
        Err(e) => return json!({"outcome": "adapter_unresolved", "reason": e.reason.code()}),
        Ok(d) => *d,
    };
    let models: Vec<Value> = p
        .models
        .iter()
        .map(|m| {
            let env: Vec<String> = m.env_assumptions.iter().map(ToString::to_string).collect();
            json!({
                "name": m.name,
                "path": m.path,
                "language": m.language,
                "config": m.config,
                "strategy": m.spec.strategy,
                "target": {
                    "catalog": m.spec.target.catalog,
                    "schema": m.spec.target.schema,
                    "table": m.spec.target.table,
                },
                "decided_by": m.decided_by,
                "sql": m.sql(),
                "env_assumptions": env,
                "recompute": outcome_json(&p.statements(m, dialect, run)),
            })
        })
        .collect();
    json!({
        "outcome": "resolved",
        "pipeline": p.pipeline,
        "adapter": dialect.name(),
        "models": models,
    })
}
