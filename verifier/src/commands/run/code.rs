//! Code: the recorded commit, branch, config file and model sources, checked in git.

use serde_json::{Value, json};

use super::Ctx;
use crate::artifact::is_hex64;
use crate::checks::catalogue::{CheckId, Code};
use crate::git::{BranchState, Repo};
use crate::report::{Check, Proof, Subject};
use crate::{identity, siphash};

/// The strong `sql_hash` scheme (`spec/hashes.md` section 1).
const STRONG_SCHEME: &str = "v1+blake3-sql";

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Runs the git checks; needs a run record.
pub fn check(ctx: &mut Ctx<'_>) {
    let Some(run) = ctx.run.clone() else { return };
    let scope = ctx.hooks.scope;
    let run_subject = Subject::run(&ctx.run_id);

    // Claims that need no repository.
    for m in run
        .models
        .iter()
        .filter(|m| scope.is_none_or(|s| s.contains(&m.name)))
    {
        check_sql_hash_form(ctx, m);
        check_env_hash(ctx, m, run.rocky_version.as_deref());
    }

    let repo = match Repo::open(&ctx.opts.repo) {
        Ok(r) => r,
        Err(e) => {
            ctx.report.push(Check::unknown(
                CheckId::GitRepo,
                run_subject,
                Code::RepoMissing,
                Proof::BytesVerified,
                e.to_string(),
            ));
            return;
        }
    };

    let Some(commit) = run.git_commit.clone() else {
        // Rocky records null when it ran outside a git work tree: there is no claim to check,
        // which is not the same as a check that could not run.
        ctx.report.push(Check::unverifiable(
            CheckId::GitCommit,
            run_subject,
            Code::GitCommitMissing,
            Proof::Unverifiable,
            Value::Null,
            "the run recorded no git_commit: its code cannot be tied to a commit",
        ));
        return;
    };
    match repo.has_commit(&commit) {
        Ok(true) => ctx.report.push(Check::pass(
            CheckId::GitCommit,
            run_subject.clone(),
            Proof::BytesVerified,
            json!(commit),
            json!(commit),
            format!("commit {commit} is in the repository"),
        )),
        Ok(false) => {
            ctx.report.push(Check::fail(
                CheckId::GitCommit,
                run_subject,
                Code::GitCommitMissing,
                Proof::BytesVerified,
                Value::Null,
                json!(commit),
                format!("the recorded commit {commit} is not a commit in the repository"),
            ));
            return;
        }
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::GitCommit,
                run_subject,
                Code::GitCommitMissing,
                Proof::BytesVerified,
                format!("the repository could not be read: {reason}"),
            ));
            return;
        }
    }

    if let Some(branch) = run.git_branch.as_deref() {
        let check = match repo.branch_contains(branch, &commit) {
            Ok(BranchState::Contains(r)) => Check::pass(
                CheckId::GitBranch,
                run_subject.clone(),
                Proof::BytesVerified,
                json!(r),
                json!(branch),
                format!("{r} contains the commit"),
            ),
            Ok(BranchState::DoesNotContain(r, tip)) => Check::fail(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMismatch,
                Proof::BytesVerified,
                json!(tip),
                json!(branch),
                format!("{r} (at {tip}) does not contain {commit}"),
            ),
            Ok(BranchState::Missing) => Check::unknown(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMissing,
                Proof::BytesVerified,
                format!("no branch {branch:?} in the repository"),
            ),
            Err(reason) => Check::unknown(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMissing,
                Proof::BytesVerified,
                reason.to_string(),
            ),
        };
        ctx.report.push(check);
    }

    check_config(ctx, &repo, &commit, &run);
    for m in run
        .models
        .iter()
        .filter(|m| scope.is_none_or(|s| s.contains(&m.name)))
    {
        check_source(ctx, &repo, &commit, m);
    }
    ctx.report
        .verified
        .push(format!("git_commit {commit} is in the repository"));
}

fn check_config(ctx: &mut Ctx<'_>, repo: &Repo, commit: &str, run: &super::view::RunView) {
    let subject = Subject::run(&ctx.run_id);
    let path = run
        .config_path
        .clone()
        .unwrap_or_else(|| "rocky.toml".to_owned());
    let subject_file = Subject {
        file: Some(path.clone()),
        ..subject.clone()
    };
    let recorded = run.config_hash.clone();
    if recorded.as_deref() == Some("unknown") {
        ctx.report.push(Check::unverifiable(
            CheckId::GitConfigHash,
            subject_file.clone(),
            Code::ConfigHashUnexpected,
            Proof::FingerprintOnly,
            json!("unknown"),
            "config_hash is \"unknown\": Rocky could not read its config when it ran",
        ));
        if run.config_blake3.is_none() {
            return;
        }
    }
    let bytes = match repo.blob_at(commit, &path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            ctx.report.push(Check::fail(
                CheckId::GitConfigHash,
                subject_file,
                Code::ConfigFileMissing,
                Proof::BytesVerified,
                Value::Null,
                super::opt(recorded.as_deref()),
                format!("{path} is not in the tree of {commit}"),
            ));
            return;
        }
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::GitConfigHash,
                subject_file,
                Code::ConfigFileMissing,
                Proof::BytesVerified,
                reason.to_string(),
            ));
            return;
        }
    };
    if let Some(rec) = recorded.filter(|r| r != "unknown") {
        let got = siphash::config_fingerprint(&bytes);
        ctx.report.push(if got == rec {
            Check::pass(
                CheckId::GitConfigHash,
                subject_file.clone(),
                Proof::FingerprintOnly,
                json!(got),
                json!(rec),
                format!("{path} at the commit matches config_hash (a 64-bit SipHash fingerprint)"),
            )
        } else {
            Check::fail(
                CheckId::GitConfigHash,
                subject_file.clone(),
                Code::ConfigHashMismatch,
                Proof::FingerprintOnly,
                json!(got),
                json!(rec),
                format!("{path} at the commit does not match config_hash"),
            )
        });
    }
    if let Some(rec) = run.config_blake3.clone() {
        let got = identity::blake3_hex(&bytes);
        ctx.report.push(if got == rec {
            Check::pass(
                CheckId::GitConfigBlake3,
                subject_file,
                Proof::Recomputed,
                json!(got),
                json!(rec),
                format!("the BLAKE3 of {path} at the commit matches config_blake3"),
            )
        } else {
            Check::fail(
                CheckId::GitConfigBlake3,
                subject_file,
                Code::ConfigHashMismatch,
                Proof::Recomputed,
                json!(got),
                json!(rec),
                format!("the BLAKE3 of {path} at the commit does not match config_blake3"),
            )
        });
    }
}

/// `sql_hash` claims that are settled by their form alone (fingerprints, empty, malformed).
fn check_sql_hash_form(ctx: &mut Ctx<'_>, m: &super::view::ModelView) {
    let subject = Subject::model(&ctx.run_id, &m.name);
    let Some(h) = m.sql_hash.as_deref() else {
        return;
    };
    let strong = m.hash_scheme.as_deref() == Some(STRONG_SCHEME);
    let check = if is_hex16(h) {
        Check::unverifiable(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashUnexpected,
            Proof::FingerprintOnly,
            json!(h),
            "sql_hash is a 64-bit SipHash fingerprint of SQL Rocky generated; it cannot be recomputed",
        )
    } else if strong && is_hex64(h) {
        return; // the strong form: checked against the source blob in check_source
    } else if strong {
        Check::fail(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashInvalid,
            Proof::BytesVerified,
            Value::Null,
            json!(h),
            format!("sql_hash under {STRONG_SCHEME} must be 64 lowercase hex"),
        )
    } else if h.is_empty() {
        Check::unverifiable(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashUnexpected,
            Proof::Unverifiable,
            json!(h),
            "sql_hash is empty (Rocky records \"\" for replication, local DuckDB and failed entries)",
        )
    } else {
        Check::unverifiable(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashUnexpected,
            Proof::Unverifiable,
            json!(h),
            format!(
                "sql_hash {h:?} under hash_scheme {:?} is not a form this verifier can check",
                m.hash_scheme
            ),
        )
    };
    ctx.report.push(check);
}

fn check_source(ctx: &mut Ctx<'_>, repo: &Repo, commit: &str, m: &super::view::ModelView) {
    let subject = Subject::model(&ctx.run_id, &m.name);
    let project_name = ctx.prov_for(m.index).map(|p| p.model_name.clone());
    let (candidates, recorded) = match m.source_path.clone() {
        Some(p) => (vec![p], true),
        None => {
            let name = project_name.clone().unwrap_or_else(|| m.name.clone());
            (
                vec![format!("models/{name}.sql"), format!("models/{name}.rocky")],
                false,
            )
        }
    };
    let mut found = None;
    for path in &candidates {
        match repo.blob_at(commit, path) {
            Ok(Some(bytes)) => {
                found = Some((path.clone(), bytes));
                break;
            }
            Ok(None) => {}
            Err(reason) => {
                ctx.report.push(Check::unknown(
                    CheckId::ModelSource,
                    subject,
                    Code::ModelSourceMissing,
                    Proof::BytesVerified,
                    reason.to_string(),
                ));
                return;
            }
        }
    }
    // Rocky records no source path, and its models may live in any folder (`models_dir`,
    // sub-folders): look for the file by name anywhere in the commit's tree.
    if found.is_none() && !recorded {
        let names: Vec<String> = [project_name.as_deref(), Some(m.name.as_str())]
            .into_iter()
            .flatten()
            .flat_map(|n| [format!("{n}.sql"), format!("{n}.rocky")])
            .collect();
        match repo.files_named(commit, &names) {
            Ok(paths) => {
                for path in paths {
                    if let Ok(Some(bytes)) = repo.blob_at(commit, &path) {
                        found = Some((path, bytes));
                        break;
                    }
                }
            }
            Err(reason) => {
                ctx.report.push(Check::unknown(
                    CheckId::ModelSource,
                    subject,
                    Code::ModelSourceMissing,
                    Proof::BytesVerified,
                    reason.to_string(),
                ));
                return;
            }
        }
    }
    let Some((path, bytes)) = found else {
        ctx.report.push(if recorded {
            Check::fail(
                CheckId::ModelSource,
                subject,
                Code::ModelSourceMissing,
                Proof::BytesVerified,
                Value::Null,
                json!(candidates[0]),
                format!(
                    "source_path {} is not in the tree of {commit}",
                    candidates[0]
                ),
            )
        } else {
            // Not a recorded claim (Rocky records no path), so its absence is not evidence.
            Check::unverifiable(
                CheckId::ModelSource,
                subject,
                Code::ModelSourceMissing,
                Proof::Heuristic,
                Value::Null,
                format!(
                    "the ledger records no source path, and no file named {name}.sql or \
                     {name}.rocky is in the tree of {commit}",
                    name = project_name.as_deref().unwrap_or(m.name.as_str())
                ),
            )
        });
        return;
    };
    let file_subject = Subject {
        file: Some(path.clone()),
        ..subject.clone()
    };
    ctx.report.push(Check::pass(
        CheckId::ModelSource,
        file_subject.clone(),
        if recorded {
            Proof::BytesVerified
        } else {
            Proof::Heuristic
        },
        json!(path),
        super::opt(m.source_path.as_deref()),
        if recorded {
            format!("source_path {path} exists at the commit")
        } else {
            format!("{path} exists at the commit (found by name: no source_path recorded)")
        },
    ));

    let strong = m.hash_scheme.as_deref() == Some(STRONG_SCHEME);
    let Some(h) = m.sql_hash.as_deref().filter(|h| strong && is_hex64(h)) else {
        return;
    };
    let got = identity::blake3_hex(&bytes);
    ctx.report.push(if got == h {
        Check::pass(
            CheckId::ModelSqlHash,
            file_subject,
            Proof::BytesVerified,
            json!(got),
            json!(h),
            format!("sql_hash is the BLAKE3 of {path} at the commit"),
        )
    } else {
        Check::fail(
            CheckId::ModelSqlHash,
            file_subject,
            Code::SqlHashMismatch,
            Proof::BytesVerified,
            json!(got),
            json!(h),
            format!("sql_hash is not the BLAKE3 of {path} at the commit: the SQL that ran is not the committed SQL"),
        )
    });
}

/// Adapters Rocky names in `env_hash` (`spec/hashes.md` section 9).
const ADAPTERS: &[&str] = &["duckdb", "databricks", "snowflake", "bigquery", "trino"];

/// `env_hash` recomputed from the run's `rocky_version` and each known adapter.
fn check_env_hash(ctx: &mut Ctx<'_>, m: &super::view::ModelView, version: Option<&str>) {
    let Some(recorded) = m.env_hash.as_deref() else {
        return;
    };
    let subject = Subject::model(&ctx.run_id, &m.name);
    let Some(version) = version else { return };
    let hit = ADAPTERS
        .iter()
        .find(|a| identity::env_hash(version, a) == recorded);
    ctx.report.push(match hit {
        Some(adapter) => Check::pass(
            CheckId::ModelEnvHash,
            subject,
            Proof::Recomputed,
            json!(identity::env_hash(version, adapter)),
            json!(recorded),
            format!(
                "env_hash recomputes from rocky_version {version} and adapter {adapter} \
                 (consistency of two self-reported strings only)"
            ),
        ),
        None => Check::fail(
            CheckId::ModelEnvHash,
            subject,
            Code::EnvHashMismatch,
            Proof::Recomputed,
            json!(identity::env_hash(version, "duckdb")),
            json!(recorded),
            format!(
                "env_hash does not recompute from rocky_version {version} with any known adapter"
            ),
        ),
    });
}
