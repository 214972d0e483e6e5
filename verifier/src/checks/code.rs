//! Code: the recorded commit, branch, config file and model sources, checked in git.

use serde_json::{Value, json};

use super::project::RockyModels;
use super::view::ModelView;
use super::{Ctx, fingerprint, project};
use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::artifact::is_hex64;
use crate::evidence::git::{BranchState, Repo};
use crate::report::{Check, Proof, Subject};
use crate::rocky::project::ProjectError;
use crate::{identity, siphash};

/// The strong `sql_hash` scheme (`spec/hashes.md` section 1).
const STRONG_SCHEME: &str = "v1+blake3-sql";

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How a recorded `sql_hash` is to be checked, decided by its form and `hash_scheme` alone.
enum SqlHashForm {
    /// Settled already (a check was pushed) or nothing recorded.
    Settled,
    /// The strong form: checked against the source blob in [`check_source`].
    Strong,
    /// A Rocky fingerprint: recomputed from the provenance IR or the project at the commit.
    Fingerprint(String),
}

/// Runs the git checks; needs a run record.
pub fn check(ctx: &mut Ctx<'_>) {
    let Some(run) = ctx.run.clone() else { return };
    let scope = ctx.hooks.scope;
    let run_subject = Subject::run(&ctx.run_id);
    // Every git finding names the repository searched, as the user gave it.
    let repo_label = ctx.opts.repo.display().to_string();

    // Claims that need no repository. Rocky fingerprints the ledger alone can settle (a
    // content-addressed IR) are judged here; the others wait for the project at the commit.
    let mut pending: Vec<(ModelView, String)> = Vec::new();
    for m in run
        .models
        .iter()
        .filter(|m| scope.is_none_or(|s| s.contains(&m.name)))
    {
        if let SqlHashForm::Fingerprint(h) = check_sql_hash_form(ctx, m)
            && !fingerprint::from_ir(ctx, m, &h, &run)
        {
            pending.push((m.clone(), h));
        }
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
            fingerprint::unavailable(
                ctx,
                &pending,
                &fingerprint::Unavailable::Repo(format!("{repo_label} is not a git repository")),
            );
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
        fingerprint::unavailable(ctx, &pending, &fingerprint::Unavailable::NoCommit);
        return;
    };
    match repo.has_commit(&commit) {
        Ok(true) => ctx.report.push(Check {
            // Shown in the summary; a commit that cannot be described still passes.
            commit: repo.commit_info(&commit).ok(),
            ..Check::pass(
                CheckId::GitCommit,
                run_subject.clone(),
                Proof::BytesVerified,
                json!(commit),
                json!(commit),
                format!("commit {commit} is in the repository {repo_label}"),
            )
        }),
        Ok(false) => {
            ctx.report
                .push(absent_commit(ctx, &repo, &repo_label, &commit));
            fingerprint::unavailable(
                ctx,
                &pending,
                &fingerprint::Unavailable::Commit(format!(
                    "commit {commit} is not in the repository {repo_label}"
                )),
            );
            return;
        }
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::GitCommit,
                run_subject,
                Code::GitCommitMissing,
                Proof::BytesVerified,
                format!("the repository {repo_label} could not be read: {reason}"),
            ));
            fingerprint::unavailable(
                ctx,
                &pending,
                &fingerprint::Unavailable::Commit(format!(
                    "the repository {repo_label} could not be read: {reason}"
                )),
            );
            return;
        }
    }

    // Who signed the commit, when asked (--allowed-signers, --gpg-keyring, the policy).
    if ctx.opts.signers.wanted() {
        super::signature::check(ctx, &repo, &commit);
    }

    if let Some(branch) = run.git_branch.as_deref() {
        let check = match repo.branch_contains(branch, &commit) {
            Ok(BranchState::Contains(r)) => Check::pass(
                CheckId::GitBranch,
                run_subject.clone(),
                Proof::BytesVerified,
                json!(branch),
                json!(r),
                format!("{r} contains the commit (repository {repo_label})"),
            ),
            Ok(BranchState::DoesNotContain(r, tip)) => Check::fail(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMismatch,
                Proof::BytesVerified,
                json!(branch),
                json!(tip),
                format!("{r} (at {tip}) does not contain {commit} (repository {repo_label})"),
            ),
            Ok(BranchState::Missing) => Check::unknown(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMissing,
                Proof::BytesVerified,
                format!("no branch {branch:?} in the repository {repo_label}"),
            ),
            Err(reason) => Check::unknown(
                CheckId::GitBranch,
                run_subject.clone(),
                Code::GitBranchMissing,
                Proof::BytesVerified,
                format!("the repository {repo_label} could not be read: {reason}"),
            ),
        };
        ctx.report.push(check);
    }

    // The project at the commit, once for every check of the run (see `project`).
    ctx.project = Some(project::load(
        &repo,
        &repo_label,
        &commit,
        &run,
        ctx.opts.adapter,
    ));

    check_config(ctx, &repo, &repo_label, &commit, &run);
    for m in run
        .models
        .iter()
        .filter(|m| scope.is_none_or(|s| s.contains(&m.name)))
    {
        check_source(ctx, &repo, &repo_label, &commit, m);
    }
    for (m, h) in &pending {
        fingerprint::check(ctx, m, h, &run);
    }
    ctx.report.verified.push(format!(
        "git_commit {commit} is in the repository {repo_label}"
    ));
}

/// The finding for a recorded commit the repository does not hold. Only a full clone the user
/// named is evidence: a shallow clone lacks old commits by construction, and the default `.`
/// may simply be the wrong folder (a wrong folder and a rewritten history look the same).
fn absent_commit(ctx: &Ctx<'_>, repo: &Repo, repo_label: &str, commit: &str) -> Check {
    let subject = Subject::run(&ctx.run_id);
    if repo.is_shallow() {
        return Check::unknown(
            CheckId::GitCommit,
            subject,
            Code::GitCommitMissing,
            Proof::BytesVerified,
            format!(
                "commit {commit} is not in the repository {repo_label}, a shallow clone: fetch \
                 the full history (git fetch --unshallow)"
            ),
        );
    }
    if !ctx.opts.repo_explicit {
        return Check::unknown(
            CheckId::GitCommit,
            subject,
            Code::GitCommitMissing,
            Proof::BytesVerified,
            format!(
                "commit {commit} is not in the repository {repo_label} (the current directory: \
                 --repo was not given, and a wrong folder and a rewritten history look the \
                 same); pass --repo with the project's repository"
            ),
        );
    }
    Check::fail(
        CheckId::GitCommit,
        subject,
        Code::GitCommitMissing,
        Proof::BytesVerified,
        json!(commit),
        Value::Null,
        format!("the recorded commit {commit} is not a commit in the repository {repo_label}"),
    )
}

fn check_config(
    ctx: &mut Ctx<'_>,
    repo: &Repo,
    repo_label: &str,
    commit: &str,
    run: &super::view::RunView,
) {
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
                super::opt(recorded.as_deref()),
                Value::Null,
                format!("{path} is not in the tree of {commit} (repository {repo_label})"),
            ));
            return;
        }
        Err(reason) => {
            ctx.report.push(Check::unknown(
                CheckId::GitConfigHash,
                subject_file,
                Code::ConfigFileMissing,
                Proof::BytesVerified,
                format!("the repository {repo_label} could not be read: {reason}"),
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
                json!(rec),
                json!(got),
                format!(
                    "{path} at the commit matches config_hash (a 64-bit SipHash fingerprint; \
                     repository {repo_label})"
                ),
            )
        } else {
            Check::fail(
                CheckId::GitConfigHash,
                subject_file.clone(),
                Code::ConfigHashMismatch,
                Proof::FingerprintOnly,
                json!(rec),
                json!(got),
                format!(
                    "{path} at the commit does not match config_hash (repository {repo_label})"
                ),
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
                json!(rec),
                json!(got),
                format!(
                    "the BLAKE3 of {path} at the commit matches config_blake3 (repository \
                     {repo_label})"
                ),
            )
        } else {
            Check::fail(
                CheckId::GitConfigBlake3,
                subject_file,
                Code::ConfigHashMismatch,
                Proof::Recomputed,
                json!(rec),
                json!(got),
                format!(
                    "the BLAKE3 of {path} at the commit does not match config_blake3 \
                     (repository {repo_label})"
                ),
            )
        });
    }
}

/// `sql_hash` claims that are settled by their form alone (empty, malformed, a downgrade), and
/// which of the others need the source blob or a recomputed fingerprint.
fn check_sql_hash_form(ctx: &mut Ctx<'_>, m: &ModelView) -> SqlHashForm {
    let subject = Subject::model(&ctx.run_id, &m.name);
    let Some(h) = m.sql_hash.as_deref() else {
        return SqlHashForm::Settled;
    };
    let strong = m.hash_scheme.as_deref() == Some(STRONG_SCHEME);
    let check = if strong && is_hex64(h) {
        return SqlHashForm::Strong;
    } else if strong && is_hex16(h) {
        // No producer writes a fingerprint under the strong scheme: this is the strong hash
        // replaced by a forgeable 64-bit one, and must never reach the recomputation.
        Check::fail(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashInvalid,
            Proof::BytesVerified,
            json!(h),
            Value::Null,
            format!(
                "sql_hash is a 16-hex fingerprint under {STRONG_SCHEME}, which records the \
                 64-hex BLAKE3 of the source: a downgrade to a forgeable 64-bit value"
            ),
        )
    } else if strong {
        Check::fail(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashInvalid,
            Proof::BytesVerified,
            json!(h),
            Value::Null,
            format!("sql_hash under {STRONG_SCHEME} must be 64 lowercase hex"),
        )
    } else if is_hex16(h) {
        return SqlHashForm::Fingerprint(h.to_owned());
    } else if is_hex64(h) {
        // Under `v1` or no scheme Rocky writes a 16-hex fingerprint or "" (spec/hashes.md
        // section 1); a 64-hex value there is the strong hash with its scheme downgraded, which
        // would otherwise leave it unchecked.
        Check::fail(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashInvalid,
            Proof::BytesVerified,
            json!(STRONG_SCHEME),
            json!({"sql_hash": h, "hash_scheme": m.hash_scheme}),
            format!(
                "sql_hash is a 64-hex BLAKE3 but hash_scheme is {:?}, under which producers \
                 record a 16-hex fingerprint: the scheme and the hash's shape disagree",
                m.hash_scheme
            ),
        )
    } else if h.is_empty() {
        let why = if m.failed() {
            "Rocky records \"\" for every failed entry"
        } else {
            "Rocky records \"\" for replication and snapshot entries, which fingerprint no \
             statement"
        };
        Check::unverifiable(
            CheckId::ModelSqlHash,
            subject,
            Code::SqlHashUnexpected,
            Proof::Unverifiable,
            json!(h),
            format!("sql_hash is empty: {why}"),
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
    SqlHashForm::Settled
}

/// How the file a model execution ran was found.
enum Found {
    /// The ledger records its path (`source_path`, rocky-writer).
    Recorded,
    /// Rocky's discovery at the commit resolves the execution's table to this model.
    Discovered(String),
    /// Found by file name anywhere in the tree (the project does not load as Rocky would).
    ByName(String),
}

fn check_source(ctx: &mut Ctx<'_>, repo: &Repo, repo_label: &str, commit: &str, m: &ModelView) {
    let subject = Subject::model(&ctx.run_id, &m.name);
    let project_name = ctx.prov_for(m.index).map(|p| p.model_name.clone());
    let unreadable = |subject: Subject, reason: &dyn std::fmt::Display| {
        Check::unknown(
            CheckId::ModelSource,
            subject,
            Code::ModelSourceMissing,
            Proof::BytesVerified,
            format!("the repository {repo_label} could not be read: {reason}"),
        )
    };
    let mut found: Option<(String, Vec<u8>, Found)> = None;
    let mut fallback_note = String::new();
    match m.source_path.clone() {
        Some(path) => match repo.blob_at(commit, &path) {
            Ok(Some(bytes)) => found = Some((path, bytes, Found::Recorded)),
            Ok(None) => {
                ctx.report.push(Check::fail(
                    CheckId::ModelSource,
                    subject,
                    Code::ModelSourceMissing,
                    Proof::BytesVerified,
                    json!(path),
                    Value::Null,
                    format!(
                        "source_path {path} is not in the tree of {commit} (repository \
                         {repo_label})"
                    ),
                ));
                return;
            }
            Err(reason) => {
                ctx.report.push(unreadable(subject, &reason));
                return;
            }
        },
        None => match ctx.rocky_models(&m.name) {
            // Rocky records no source path; its discovery at the commit says which file wrote
            // the table (ModelExecution.model_name is the target table, not the model name).
            RockyModels::Models(models) => {
                let Some(first) = models.first() else {
                    let pipeline = ctx
                        .rocky_project()
                        .and_then(|p| p.loaded.as_ref().ok())
                        .map(|p| p.pipeline.clone())
                        .unwrap_or_default();
                    // Not a recorded claim, so its absence is not evidence (replication and
                    // snapshot entries have no model file at all).
                    ctx.report.push(Check::unverifiable(
                        CheckId::ModelSource,
                        subject,
                        Code::ModelSourceMissing,
                        Proof::Recomputed,
                        Value::Null,
                        format!(
                            "the ledger records no source path, and Rocky's discovery at \
                             {commit} in repository {repo_label} finds no model of pipeline \
                             `{pipeline}` with target table `{}` (replication and snapshot \
                             entries have none)",
                            m.name
                        ),
                    ));
                    return;
                };
                let mut how = format!(
                    "Rocky's discovery resolves table `{}` to {}",
                    m.name,
                    project::describe(first)
                );
                if models.len() > 1 {
                    let others: Vec<&str> = models[1..].iter().map(|o| o.path.as_str()).collect();
                    how.push_str(&format!(
                        " (also written by {}: ambiguous across schemas)",
                        others.join(", ")
                    ));
                }
                let path = first.path.clone();
                match repo.blob_at(commit, &path) {
                    Ok(Some(bytes)) => found = Some((path, bytes, Found::Discovered(how))),
                    Ok(None) => {
                        ctx.report.push(unreadable(
                            subject,
                            &format!("{path} was discovered but is not a file"),
                        ));
                        return;
                    }
                    Err(reason) => {
                        ctx.report.push(unreadable(subject, &reason));
                        return;
                    }
                }
            }
            RockyModels::Invalid(ProjectError::PipelineNotTransformation { name, kind }) => {
                // A replication or snapshot run: its entries are tables copied, not models, so
                // a file of the same name would prove nothing.
                ctx.report.push(Check::unverifiable(
                    CheckId::ModelSource,
                    subject,
                    Code::ModelSourceMissing,
                    Proof::Recomputed,
                    Value::Null,
                    format!(
                        "the run's pipeline `{name}` is a {kind} pipeline in rocky.toml at \
                         {commit} (repository {repo_label}): its entries have no model file"
                    ),
                ));
                return;
            }
            RockyModels::Invalid(e) => {
                fallback_note = format!(
                    "; the project does not load as Rocky would ({}), so the file was looked \
                     for by name",
                    e.code()
                );
            }
            RockyModels::NotLoaded => {}
        },
    }
    // Without Rocky's discovery: models may live in any folder (`models_dir`, sub-folders), so
    // look for the file by name, first where Rocky's default layout puts it.
    if found.is_none() {
        let stems: Vec<&str> = [project_name.as_deref(), Some(m.name.as_str())]
            .into_iter()
            .flatten()
            .collect();
        let mut paths: Vec<String> = stems
            .iter()
            .take(1)
            .flat_map(|n| [format!("models/{n}.sql"), format!("models/{n}.rocky")])
            .collect();
        let names: Vec<String> = stems
            .iter()
            .flat_map(|n| [format!("{n}.sql"), format!("{n}.rocky")])
            .collect();
        match repo.files_named(commit, &names) {
            Ok(more) => paths.extend(more),
            Err(reason) => {
                ctx.report.push(unreadable(subject, &reason));
                return;
            }
        }
        for path in paths {
            if let Ok(Some(bytes)) = repo.blob_at(commit, &path) {
                found = Some((path, bytes, Found::ByName(fallback_note.clone())));
                break;
            }
        }
    }
    let Some((path, bytes, how)) = found else {
        // Not a recorded claim (Rocky records no path), so its absence is not evidence.
        ctx.report.push(Check::unverifiable(
            CheckId::ModelSource,
            subject,
            Code::ModelSourceMissing,
            Proof::Heuristic,
            Value::Null,
            format!(
                "the ledger records no source path, and no file named {name}.sql or \
                 {name}.rocky is in the tree of {commit} (repository {repo_label}){fallback_note}",
                name = project_name.as_deref().unwrap_or(m.name.as_str())
            ),
        ));
        return;
    };
    let file_subject = Subject {
        file: Some(path.clone()),
        ..subject.clone()
    };
    let (proof, message) = match &how {
        Found::Recorded => (
            Proof::BytesVerified,
            format!("source_path {path} exists at the commit (repository {repo_label})"),
        ),
        Found::Discovered(how) => (
            Proof::Recomputed,
            format!(
                "{path} exists at the commit (repository {repo_label}): no source_path \
                 recorded; {how}"
            ),
        ),
        Found::ByName(note) => (
            Proof::Heuristic,
            format!(
                "{path} exists at the commit (repository {repo_label}; found by name: no \
                 source_path recorded{note})"
            ),
        ),
    };
    ctx.report.push(Check::pass(
        CheckId::ModelSource,
        file_subject.clone(),
        proof,
        super::opt(m.source_path.as_deref()),
        json!(path),
        message,
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
            json!(h),
            json!(got),
            format!("sql_hash is the BLAKE3 of {path} at the commit (repository {repo_label})"),
        )
    } else {
        Check::fail(
            CheckId::ModelSqlHash,
            file_subject,
            Code::SqlHashMismatch,
            Proof::BytesVerified,
            json!(h),
            json!(got),
            format!(
                "sql_hash is not the BLAKE3 of {path} at the commit (repository {repo_label}): \
                 the SQL that ran is not the committed SQL"
            ),
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
            json!(recorded),
            json!(identity::env_hash(version, adapter)),
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
            json!(recorded),
            json!(identity::env_hash(version, "duckdb")),
            format!(
                "env_hash does not recompute from rocky_version {version} with any known adapter"
            ),
        ),
    });
}
