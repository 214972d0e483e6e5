//! `git.signature`: SSH-signed commits made with `ssh-keygen -Y sign` and git2's
//! `commit_signed`, checked against an allowed-signers file. Every tampered or untrusted case has
//! the untampered, trusted control beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{Run, Scenario, run_bin};

const RUN2: &str = "run-20260530-110422-643";

/// An ed25519 key pair in `dir` named `name`; returns (private key path, public key line).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_owned())
}

/// `ssh-keygen -Y sign -n git` over `data`: the armored signature.
fn ssh_sign(key: &Path, data: &[u8]) -> String {
    let file = key.with_extension("payload");
    std::fs::write(&file, data).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "git", "-f"])
        .arg(key)
        .arg(&file)
        .status()
        .expect("ssh-keygen -Y sign runs");
    assert!(st.success());
    std::fs::read_to_string(file.with_extension("payload.sig")).unwrap()
}

/// Replaces the scenario's commit with one of the same tree carrying `sign(buffer)` as its
/// signature (`None`: unsigned), optionally with a tampered message after signing; points
/// `main` and both runs at it.
/// Makes the armored signature of a commit buffer.
type Signer<'a> = &'a dyn Fn(&[u8]) -> String;

fn resign(s: &mut Scenario, sign: Option<Signer<'_>>, tamper: bool) -> String {
    let repo = git2::Repository::open(s.path("repo")).unwrap();
    let old = repo
        .find_commit(git2::Oid::from_str(&s.commit).unwrap())
        .unwrap();
    let sig = old.author();
    let buffer = repo
        .commit_create_buffer(&sig, &sig, "models", &old.tree().unwrap(), &[])
        .unwrap();
    let text = buffer.as_str().unwrap().to_owned();
    let oid = match sign {
        Some(sign) => {
            let armored = sign(text.as_bytes());
            let content = if tamper {
                text.replace("\nmodels", "\nmodels (edited)")
            } else {
                text.clone()
            };
            repo.commit_signed(&content, &armored, None).unwrap()
        }
        None => repo
            .commit(None, &sig, &sig, "models", &old.tree().unwrap(), &[])
            .unwrap(),
    };
    repo.reference("refs/heads/main", oid, true, "test: signed commit")
        .unwrap();
    let id = oid.to_string();
    s.commit = id.clone();
    s.run1["git_commit"] = Value::from(id.clone());
    s.run2["git_commit"] = Value::from(id.clone());
    id
}

fn signature_check(r: &Run) -> Value {
    let c = r.check("git.signature");
    assert_eq!(c.len(), 1, "{}", r.dump());
    c[0].clone()
}

fn allowed(s: &Scenario, line: &str) -> String {
    let p = s.path("allowed_signers");
    std::fs::write(&p, format!("# trusted\n{line}\n")).unwrap();
    p.display().to_string()
}

#[test]
fn a_commit_signed_by_an_allowed_key_is_a_verified_signer() {
    let mut s = Scenario::new();
    let (key, public) = keygen(s.dir.path(), "alice");
    let commit = resign(&mut s, Some(&|b: &[u8]| ssh_sign(&key, b)), false);
    s.write();
    let file = allowed(&s, &format!("alice@example.com {public}"));
    let r = s.verify(RUN2, &["--allowed-signers", &file]);
    let c = signature_check(&r);
    assert_eq!(c["outcome"], "pass", "{}", r.dump());
    assert_eq!(c["proof"], "signature-verified");
    assert_eq!(c["signature"]["format"], "ssh");
    assert_eq!(c["signature"]["commit"], commit.as_str());
    assert_eq!(c["signature"]["verified"], true);
    assert_eq!(c["signature"]["principals"][0], "alice@example.com");
    assert!(
        c["signature"]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("SHA256:"))
    );
    assert_eq!(r.code, 0, "{}", r.dump());

    // Without a signer option the check does not run at all (no behaviour change).
    let r = s.verify(RUN2, &[]);
    assert!(r.check("git.signature").is_empty(), "{}", r.dump());
}

#[test]
fn a_signer_the_file_does_not_list_is_unverifiable_and_fails_when_required() {
    let mut s = Scenario::new();
    let (key, _) = keygen(s.dir.path(), "mallory");
    let (_, other) = keygen(s.dir.path(), "alice");
    resign(&mut s, Some(&|b: &[u8]| ssh_sign(&key, b)), false);
    s.write();
    let file = allowed(&s, &format!("alice@example.com {other}"));
    let r = s.verify(RUN2, &["--allowed-signers", &file]);
    let c = signature_check(&r);
    assert_eq!(c["outcome"], "unverifiable", "{}", r.dump());
    assert_eq!(c["code"], "signer_unexpected");
    assert_eq!(c["signature"]["verified"], false);
    assert_ne!(r.code, 1, "an unknown signer is not evidence of tampering");

    // Under a gate policy requiring signed commits the same commit fails.
    std::fs::write(s.path("policy.toml"), "require_signed_commits = true\n").unwrap();
    let r = gate(&s, &["--allowed-signers", &file, "--policy"], "policy.toml");
    let checks = r.check("git.signature");
    assert!(!checks.is_empty(), "{}", r.dump());
    for c in checks {
        assert_eq!(c["outcome"], "fail", "{}", r.dump());
        assert_eq!(c["code"], "signer_unexpected");
    }
    assert_eq!(r.code, 1, "{}", r.dump());
}

fn gate(s: &Scenario, extra: &[&str], rel: &str) -> Run {
    let mut args: Vec<String> = vec!["gate".into(), "--json".into()];
    for (flag, p) in [("--ledger", ".rocky-state.redb"), ("--repo", "repo")] {
        args.push(flag.into());
        args.push(s.path(p).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args.push(s.path(rel).display().to_string());
    run_bin(&args, None)
}

#[test]
fn a_commit_altered_after_signing_fails() {
    let mut s = Scenario::new();
    let (key, public) = keygen(s.dir.path(), "alice");
    resign(&mut s, Some(&|b: &[u8]| ssh_sign(&key, b)), true);
    s.write();
    let file = allowed(&s, &format!("alice@example.com {public}"));
    let r = s.verify(RUN2, &["--allowed-signers", &file]);
    let c = signature_check(&r);
    assert_eq!(c["outcome"], "fail", "{}", r.dump());
    assert_eq!(c["code"], "signature_mismatch");
    assert_eq!(r.code, 1);
}

#[test]
fn unsigned_and_gpg_signed_commits_are_unverifiable_with_the_reason() {
    let mut s = Scenario::new();
    resign(&mut s, None, false);
    s.write();
    let file = allowed(&s, "");
    let r = s.verify(RUN2, &["--allowed-signers", &file]);
    let c = signature_check(&r);
    assert_eq!(
        (c["outcome"].as_str(), c["code"].as_str()),
        (Some("unverifiable"), Some("signature_missing")),
        "{}",
        r.dump()
    );
    assert_eq!(c["signature"]["format"], "none");

    let mut s = Scenario::new();
    let pgp =
        "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n";
    resign(&mut s, Some(&|_: &[u8]| pgp.to_owned()), false);
    s.write();
    let keyring = s.path("keyring.gpg");
    std::fs::write(&keyring, b"").unwrap();
    let r = s.verify(RUN2, &["--gpg-keyring", &keyring.display().to_string()]);
    let c = signature_check(&r);
    assert_eq!(c["outcome"], "unverifiable", "{}", r.dump());
    assert_eq!(c["code"], "signature_unexpected");
    assert!(
        c["reason"]
            .as_str()
            .is_some_and(|m| m.contains("GPG verification not supported")),
        "{}",
        r.dump()
    );
}

#[test]
fn a_bad_allowed_signers_file_is_could_not_check() {
    let mut s = Scenario::new();
    let (key, _) = keygen(s.dir.path(), "alice");
    resign(&mut s, Some(&|b: &[u8]| ssh_sign(&key, b)), false);
    s.write();
    let file = allowed(&s, "alice@example.com ssh-ed25519 not-a-key");
    let r = s.verify(RUN2, &["--allowed-signers", &file]);
    let c = signature_check(&r);
    assert_eq!(c["outcome"], "unknown", "{}", r.dump());
    assert_eq!(c["code"], "signers_invalid");
    assert_eq!(r.code, 2);
}
