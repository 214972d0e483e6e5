//! `git.signature`: who signed the run's commit. With `--allowed-signers` an SSH-signed commit
//! whose signature verifies over the commit's bytes, by a key the file allows for git, has a
//! verified signer (proof `signature-verified`), as `git verify-commit` would say "Good "git"
//! signature". Runs only when asked (`--allowed-signers`, `--gpg-keyring` or the policy's
//! `require_signed_commits`).
//!
//! A signature that does not verify is a `fail` (the commit or its signature was altered). An
//! unsigned commit, an unknown signer and a signature this verifier cannot check (OpenPGP,
//! X.509, other SSH key types) are `unverifiable`, or `fail` under `require_signed_commits`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Ctx;
use crate::checks::catalogue::{CheckId, Code};
use crate::evidence::git::Repo;
use crate::evidence::signature::{self, AllowedSigners, CommitSignature, SshVerdict};
use crate::report::{Check, Proof, SignatureNote, Subject};

/// Checks the signature of `commit` (known to be in `repo`).
pub(crate) fn check(ctx: &mut Ctx<'_>, repo: &Repo, commit: &str) {
    let opts = &ctx.opts.signers;
    let subject = Subject::run(&ctx.run_id);
    let require = opts.require_signed;
    let signers = match &opts.allowed_signers {
        None => None,
        Some(path) => match AllowedSigners::load(path) {
            Ok(s) => Some((s, path.display().to_string())),
            Err(e) => {
                ctx.report.push(Check::unknown(
                    CheckId::GitSignature,
                    subject,
                    Code::SignersInvalid,
                    Proof::SignatureVerified,
                    format!("the allowed-signers file cannot be used: {e}"),
                ));
                return;
            }
        },
    };
    let note = |format: &str| SignatureNote {
        format: format.to_owned(),
        commit: commit.to_owned(),
        key: None,
        algorithm: None,
        principals: Vec::new(),
        verified: false,
    };
    // Unverifiable by design, or a failure when the policy requires trusted signatures.
    let not_trusted = |code: Code, note: SignatureNote, reason: String| -> Check {
        if require {
            Check::fail(
                CheckId::GitSignature,
                subject.clone(),
                code,
                Proof::SignatureVerified,
                json!("a signature by a trusted signer"),
                note.key.as_ref().map_or(Value::Null, |k| json!(k)),
                format!("{reason} (the policy sets require_signed_commits)"),
            )
            .with_signature(note)
        } else {
            Check::unverifiable(
                CheckId::GitSignature,
                subject.clone(),
                code,
                Proof::Unverifiable,
                Value::Null,
                reason,
            )
            .with_signature(note)
        }
    };
    let found = match signature::of_commit(repo, commit) {
        Ok(f) => f,
        Err(e) => {
            ctx.report.push(Check::unknown(
                CheckId::GitSignature,
                subject,
                Code::SignatureMissing,
                Proof::SignatureVerified,
                format!("the signature of commit {commit} could not be read: {e}"),
            ));
            return;
        }
    };
    let check = match found {
        CommitSignature::Unsigned => not_trusted(
            Code::SignatureMissing,
            note("none"),
            format!("commit {commit} is not signed: who made it is the committer's own claim"),
        ),
        CommitSignature::Other(kind) => {
            let format = match kind {
                "OpenPGP" => "openpgp",
                "X.509" => "x509",
                _ => "unknown",
            };
            let why = if kind == "OpenPGP" {
                "GPG verification not supported: rocky-verify verifies SSH signatures only \
                 (check it with `git verify-commit` and your keyring)"
                    .to_owned()
            } else {
                format!("{kind} signatures are not verified by rocky-verify")
            };
            not_trusted(
                Code::SignatureUnexpected,
                note(format),
                format!("commit {commit} carries an {kind} signature; {why}"),
            )
        }
        CommitSignature::Ssh { armored, signed } => {
            let when = committer_time(repo, commit).unwrap_or_else(Utc::now);
            let empty = AllowedSigners::default();
            let (list, label) = signers
                .as_ref()
                .map_or((&empty, None), |(s, l)| (s, Some(l.as_str())));
            let result = signature::verify_ssh(&armored, &signed, list, when);
            let mut n = note("ssh");
            n.key = result.fingerprint.clone();
            n.algorithm = result.algorithm.clone();
            let key = result.fingerprint.clone().unwrap_or_default();
            match result.verdict {
                SshVerdict::Trusted { principals } => {
                    n.principals = principals.clone();
                    n.verified = true;
                    Check::pass(
                        CheckId::GitSignature,
                        subject.clone(),
                        Proof::SignatureVerified,
                        json!(principals),
                        json!(key),
                        format!(
                            "commit {commit} is signed by {key} ({}), allowed for {} in {}",
                            result.algorithm.unwrap_or_default(),
                            principals.join(", "),
                            label.unwrap_or_default()
                        ),
                    )
                    .with_signature(n)
                }
                SshVerdict::UnknownSigner { listed } => {
                    let reason = match (label, listed) {
                        (None, _) => format!(
                            "commit {commit} carries a valid SSH signature by {key}, but no \
                             --allowed-signers was given to say whose key that is"
                        ),
                        (Some(l), false) => format!(
                            "commit {commit} carries a valid SSH signature by {key}, a key {l} \
                             does not list"
                        ),
                        (Some(l), true) => format!(
                            "commit {commit} carries a valid SSH signature by {key}, but {l} \
                             does not allow that key to sign git commits at the commit's time"
                        ),
                    };
                    not_trusted(Code::SignerUnexpected, n, reason)
                }
                SshVerdict::Bad(why) => Check::fail(
                    CheckId::GitSignature,
                    subject.clone(),
                    Code::SignatureMismatch,
                    Proof::SignatureVerified,
                    json!("a signature over the commit's bytes"),
                    json!(key),
                    format!("commit {commit}: {why}: the commit or its signature was altered"),
                )
                .with_signature(n),
                SshVerdict::Unsupported(why) => not_trusted(
                    Code::SignatureUnexpected,
                    n,
                    format!("commit {commit}: {why}"),
                ),
            }
        }
    };
    ctx.report.push(check);
}

/// The committer's time of `commit` (git's `verify-time` for the validity windows).
fn committer_time(repo: &Repo, commit: &str) -> Option<DateTime<Utc>> {
    let oid = git2::Oid::from_str(commit).ok()?;
    let c = repo.git2().find_commit(oid).ok()?;
    DateTime::from_timestamp(c.committer().when().seconds(), 0)
}
