//! Rocky's 16-hex `sql_hash` recomputed (`spec/hashes.md` 12): from the provenance IR of a
//! content-addressed execution (the ledger alone), else from the project at the run's commit
//! ([`super::project`]) with Rocky 1.71's statement templates.
//!
//! A match passes at proof level `fingerprint-only` ("recomputed (64-bit fingerprint)"): the
//! value is an unkeyed 64-bit SipHash, so it binds the run to the code only as far as a checksum
//! can. A mismatch fails only where `spec/hashes.md` 12.1 says it is evidence: a Rocky 1.71.x
//! run, no assumed input. Everything else is unverifiable or unknown with its reason.

use serde_json::{Value, json};

use super::Ctx;
use super::project::{self, RockyModels};
use super::view::{ModelView, RunView};
use crate::checks::catalogue::{CheckId, Code};
use crate::report::{Check, Proof, Subject};
use crate::rocky::project::ResolvedModel;
use crate::rocky::sql_hash::{
    self, Recomputed, SqlHashVerdict, TEMPLATE_RELEASE_PREFIX, UnverifiableReason, judge,
};
use crate::rocky::statements::{RunInputs, Statements};

/// Why the project at the commit could not be read at all.
#[derive(Debug, Clone)]
pub(super) enum Unavailable {
    /// The repository did not open.
    Repo(String),
    /// The run recorded no `git_commit`.
    NoCommit,
    /// The commit is not in the repository, or the repository could not be read (the
    /// `git.commit` finding says which).
    Commit(String),
}

/// The version text for messages.
fn version_text(version: Option<&str>) -> String {
    version.map_or_else(
        || "a run that records no rocky_version".to_owned(),
        |v| format!("Rocky {v}"),
    )
}

/// Whether the run's release uses the templates implemented here.
fn templates_apply(version: Option<&str>) -> bool {
    version.is_some_and(sql_hash::templates_apply_to)
}

/// Judges a content-addressed execution from its provenance IR (`[model_ir.sql]`), when the
/// execution joins to one; `false` when it does not (git decides then).
pub(super) fn from_ir(ctx: &mut Ctx<'_>, m: &ModelView, recorded: &str, run: &RunView) -> bool {
    let Some(prov) = ctx.prov_for(m.index) else {
        return false;
    };
    if prov.strategy().as_deref() != Some("ContentAddressed") {
        return false;
    }
    let Some(sql) = prov
        .ir
        .as_ref()
        .and_then(|ir| ir.get("sql"))
        .and_then(Value::as_str)
    else {
        return false;
    };
    let source = format!(
        "the content-addressed IR of input_provenance `{}` (its sql, the single statement Rocky \
         fingerprints)",
        prov.model_name
    );
    let recomputed = Recomputed::Statements(Statements {
        statements: vec![sql.to_owned()],
        assumptions: Vec::new(),
    });
    let version = run.rocky_version.as_deref();
    let verdict = judge(recorded, &recomputed, &[], version.unwrap_or_default());
    let expected = sql_hash::fingerprint(&[sql.to_owned()]);
    let subject = Subject::model(&ctx.run_id, &m.name);
    let check = match verdict {
        SqlHashVerdict::Recomputed { sql_hash } => Check::pass(
            CheckId::ModelSqlHash,
            subject,
            Proof::FingerprintOnly,
            json!(recorded),
            json!(sql_hash),
            format!("recomputed (64-bit fingerprint) from {source}"),
        ),
        SqlHashVerdict::Mismatch { expected } => Check::fail(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashMismatch,
            Proof::FingerprintOnly,
            json!(recorded),
            json!(expected),
            format!(
                "sql_hash is not the 64-bit fingerprint of {source}: the recorded value does \
                 not belong to the recorded IR"
            ),
        ),
        SqlHashVerdict::Unverifiable(reason) => Check::unverifiable(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashUnexpected,
            Proof::FingerprintOnly,
            json!(recorded),
            reason_text(&reason, &source, Some(&expected), version),
        ),
    };
    ctx.report.push(check);
    true
}

/// Reports fingerprints that need the project when it cannot be read.
pub(super) fn unavailable(ctx: &mut Ctx<'_>, pending: &[(ModelView, String)], why: &Unavailable) {
    for (m, recorded) in pending {
        let subject = Subject::model(&ctx.run_id, &m.name);
        let check = match why {
            Unavailable::NoCommit => Check::unverifiable(
                CheckId::ModelSqlHash,
                subject,
                Code::SqlHashUnexpected,
                Proof::FingerprintOnly,
                json!(recorded),
                "the run recorded no git_commit, so the model files Rocky fingerprinted cannot be \
                 read: the 64-bit fingerprint is not recomputed",
            ),
            Unavailable::Repo(reason) | Unavailable::Commit(reason) => Check::unknown(
                CheckId::ModelSqlHash,
                subject,
                Code::SqlInputsMissing,
                Proof::FingerprintOnly,
                format!(
                    "the project at the commit cannot be read ({reason}), so the 64-bit fingerprint is not recomputed"
                ),
            ),
        };
        ctx.report.push(check);
    }
}

/// Judges one execution's recorded fingerprint against every model of the project at the
/// commit that writes its table (`spec/hashes.md` 12.1).
pub(super) fn check(ctx: &mut Ctx<'_>, m: &ModelView, recorded: &str, run: &RunView) {
    let version = run.rocky_version.as_deref();
    let subject = Subject::model(&ctx.run_id, &m.name);
    // What the project says, owned, so the report can be written to afterwards.
    let Some(p) = ctx.rocky_project() else {
        return;
    };
    let at = format!("at {} in repository {}", p.commit, p.repo);
    let adapter = p.adapter.clone();
    let pipeline = p.loaded.as_ref().map(|l| l.pipeline.clone()).ok();
    let found: Result<Vec<ResolvedModel>, String> = match ctx.rocky_models(&m.name) {
        RockyModels::NotLoaded => return,
        RockyModels::Invalid(e) => Err(format!("{}: {e}", e.code())),
        RockyModels::Models(models) => Ok(models.into_iter().cloned().collect()),
    };
    // A blocked recomputation: unknown on 1.71.x (the inputs are missing), unverifiable on any
    // other release (its loader may differ from 1.71's).
    let blocked = |why: String| {
        if templates_apply(version) {
            Check::unknown(
                CheckId::ModelSqlHash,
                subject.clone(),
                Code::SqlInputsMissing,
                Proof::FingerprintOnly,
                why,
            )
        } else {
            Check::unverifiable(
                CheckId::ModelSqlHash,
                subject.clone(),
                Code::SqlHashUnexpected,
                Proof::FingerprintOnly,
                json!(recorded),
                format!(
                    "cross-release: {why}; the loading rules implemented are Rocky \
                     {TEMPLATE_RELEASE_PREFIX}x's, the run is {}, so the 64-bit fingerprint is \
                     not recomputed",
                    version_text(version)
                ),
            )
        }
    };
    let models = match found {
        Ok(models) => models,
        Err(why) => {
            let check = blocked(format!(
                "the project {at} does not load as Rocky would ({why})"
            ));
            ctx.report.push(check);
            return;
        }
    };
    if models.is_empty() {
        let check = blocked(format!(
            "no model of pipeline `{}` {at} has target table `{}`",
            pipeline.unwrap_or_default(),
            m.name
        ));
        ctx.report.push(check);
        return;
    }
    let Some(adapter) = adapter else {
        ctx.report.push(Check::unknown(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlInputsMissing,
            Proof::FingerprintOnly,
            format!(
                "no adapter: rocky.toml {at} names no warehouse adapter and the recorded \
                 env_hash names none; pass --adapter duckdb|databricks|snowflake|bigquery|trino"
            ),
        ));
        return;
    };
    let inputs = RunInputs {
        snowflake_warehouse: adapter.warehouse.clone(),
        ..RunInputs::default()
    };
    let on = format!("on {}", adapter.describe());
    let mut verdicts = Vec::new();
    for model in &models {
        let recomputed = model.recompute(adapter.dialect, &inputs);
        let expected = match &recomputed {
            Recomputed::Statements(s) => Some(sql_hash::fingerprint(&s.statements)),
            Recomputed::RockyRejects(_) => Some(String::new()),
            Recomputed::NotRecomputable(_) => None,
        };
        let verdict = judge(
            recorded,
            &recomputed,
            &model.env_assumptions,
            version.unwrap_or_default(),
        );
        verdicts.push((model, recomputed, expected, verdict));
    }

    // Any candidate that recomputes the value passes (12.1).
    if let Some((model, _, _, SqlHashVerdict::Recomputed { sql_hash })) = verdicts
        .iter()
        .find(|v| matches!(v.3, SqlHashVerdict::Recomputed { .. }))
    {
        ctx.report.push(Check::pass(
            CheckId::ModelSqlHash,
            Subject {
                file: Some(model.path.clone()),
                ..subject
            },
            Proof::FingerprintOnly,
            json!(recorded),
            json!(sql_hash),
            format!(
                "recomputed (64-bit fingerprint): Rocky's statements for {} {on}, {at}",
                project::describe(model)
            ),
        ));
        return;
    }
    // Fails only if every candidate mismatches.
    if verdicts
        .iter()
        .all(|v| matches!(v.3, SqlHashVerdict::Mismatch { .. }))
    {
        let (model, recomputed, expected, _) = &verdicts[0];
        let what = match recomputed {
            Recomputed::RockyRejects(r) => format!(
                "Rocky 1.71 rejects {} {on} ({}: {r}), so it records \"\" for it, not a \
                 fingerprint",
                project::describe(model),
                r.code()
            ),
            _ => format!(
                "sql_hash is not Rocky 1.71's fingerprint of the statements for {} {on}, {at}: \
                 the SQL that ran is not the committed SQL",
                project::describe(model)
            ),
        };
        let others = if verdicts.len() > 1 {
            format!(
                " ({} models write this table; none matches)",
                verdicts.len()
            )
        } else {
            String::new()
        };
        ctx.report.push(Check::fail(
            CheckId::ModelSqlHash,
            Subject {
                file: Some(model.path.clone()),
                ..subject
            },
            Code::SqlHashMismatch,
            Proof::FingerprintOnly,
            json!(recorded),
            json!(expected.clone().unwrap_or_default()),
            format!("{what}{others}"),
        ));
        return;
    }
    let reasons: Vec<String> = verdicts
        .iter()
        .filter_map(|(model, _, expected, verdict)| match verdict {
            SqlHashVerdict::Unverifiable(r) => Some(reason_text(
                r,
                &format!("{} {on}", project::describe(model)),
                expected.as_deref(),
                version,
            )),
            _ => None,
        })
        .collect();
    let file = (models.len() == 1).then(|| models[0].path.clone());
    ctx.report.push(Check::unverifiable(
        CheckId::ModelSqlHash,
        Subject { file, ..subject },
        Code::SqlHashUnexpected,
        Proof::FingerprintOnly,
        json!(recorded),
        reasons.join("; "),
    ));
}

/// The reason of an unverifiable verdict, naming what was recomputed from.
fn reason_text(
    reason: &UnverifiableReason,
    source: &str,
    expected: Option<&str>,
    version: Option<&str>,
) -> String {
    let gives = expected.map_or_else(String::new, |e| {
        if e.is_empty() {
            format!("; Rocky 1.71 would record \"\" for {source}")
        } else {
            format!("; {source} gives {e}")
        }
    });
    match reason {
        UnverifiableReason::EmptyByConstruction => {
            "sql_hash is \"\": Rocky records no fingerprint for this entry".to_owned()
        }
        UnverifiableReason::CrossRelease { .. } => format!(
            "cross-release: the statement templates are Rocky {TEMPLATE_RELEASE_PREFIX}x's, the \
             run is {}, and the 64-bit fingerprint differs{gives}",
            version_text(version)
        ),
        UnverifiableReason::UnderAssumptions(list) => {
            let list: Vec<String> = list.iter().map(ToString::to_string).collect();
            format!(
                "recomputed under assumptions ({}): a differing 64-bit fingerprint can come from \
                 the assumed inputs{gives}",
                list.join(", ")
            )
        }
        UnverifiableReason::NotRecomputable(r) => format!(
            "not recomputable ({}): {r}; the 64-bit fingerprint of {source} cannot be rebuilt",
            r.code()
        ),
    }
}
