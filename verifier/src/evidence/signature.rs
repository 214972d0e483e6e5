//! Commit signatures: the `gpgsig` header git stores in a signed commit, an SSH
//! `allowed_signers` file, and SSH signature verification (SSHSIG, as `git verify-commit` with
//! `gpg.format = ssh` and `gpg.ssh.allowedSignersFile`). Pure Rust through `ssh-key`; no
//! ssh-keygen process is run. OpenPGP and X.509 signatures are recognised, not verified.

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ssh_key::{HashAlg, PublicKey, SshSig};

use crate::evidence::git::Repo;

/// The namespace git signs commits in (`ssh-keygen -Y sign -n git`).
pub const GIT_NAMESPACE: &str = "git";

/// What a commit carries.
#[derive(Debug)]
pub enum CommitSignature {
    /// No `gpgsig` header.
    Unsigned,
    /// An armored SSH signature and the bytes it signs (the commit without its `gpgsig`).
    Ssh {
        /// The `-----BEGIN SSH SIGNATURE-----` block.
        armored: String,
        /// The signed commit bytes.
        signed: Vec<u8>,
    },
    /// Another kind of signature, by name ("OpenPGP", "X.509"), which this verifier does not
    /// check.
    Other(&'static str),
}

/// Reads the signature of commit `hex`.
///
/// # Errors
///
/// The commit cannot be read.
pub fn of_commit(repo: &Repo, hex: &str) -> Result<CommitSignature, String> {
    let oid = git2::Oid::from_str(hex).map_err(|e| e.message().to_owned())?;
    let (sig, signed) = match repo.git2().extract_signature(&oid, None) {
        Ok(pair) => pair,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(CommitSignature::Unsigned),
        Err(e) => return Err(e.message().to_owned()),
    };
    let text = String::from_utf8_lossy(&sig).into_owned();
    let first = text.trim_start();
    Ok(if first.starts_with("-----BEGIN SSH SIGNATURE-----") {
        CommitSignature::Ssh {
            armored: text,
            signed: signed.to_vec(),
        }
    } else if first.starts_with("-----BEGIN PGP SIGNATURE-----") {
        CommitSignature::Other("OpenPGP")
    } else if first.starts_with("-----BEGIN SIGNED MESSAGE-----") {
        CommitSignature::Other("X.509")
    } else {
        CommitSignature::Other("unrecognised")
    })
}

/// One line of an allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// Principal patterns (`*` and `?` wildcards; a leading `!` negates).
    pub principals: Vec<String>,
    /// `namespaces="git,file"`: the namespaces this key may sign (all when absent).
    pub namespaces: Option<Vec<String>>,
    /// `valid-after=`: not valid before this instant.
    pub valid_after: Option<DateTime<Utc>>,
    /// `valid-before=`: not valid from this instant on.
    pub valid_before: Option<DateTime<Utc>>,
    /// The key.
    pub key: PublicKey,
    /// 1-based line in the file.
    pub line: usize,
}

/// A parsed allowed-signers file.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Every usable line; `cert-authority` lines are skipped (certificates are not supported).
    pub signers: Vec<AllowedSigner>,
}

/// Why an allowed-signers file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SignersError {
    /// The file.
    pub path: String,
    /// What is wrong (with the line number for a bad line).
    pub reason: String,
}

impl AllowedSigners {
    /// Reads and parses the file.
    ///
    /// # Errors
    ///
    /// Unreadable file, or a line that does not parse (every bad line is listed).
    pub fn load(path: &Path) -> Result<AllowedSigners, SignersError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SignersError {
            path: shown.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        AllowedSigners::parse(&text).map_err(|reason| SignersError {
            path: shown,
            reason,
        })
    }

    /// Parses the `ssh-keygen(1)` ALLOWED SIGNERS format: `principals [options] keytype key
    /// [comment]`, `#` comments and blank lines ignored.
    ///
    /// # Errors
    ///
    /// Every line that does not parse, joined.
    pub fn parse(text: &str) -> Result<AllowedSigners, String> {
        let mut signers = Vec::new();
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line, i + 1) {
                Ok(Some(s)) => signers.push(s),
                Ok(None) => {}
                Err(e) => problems.push(format!("line {}: {e}", i + 1)),
            }
        }
        if problems.is_empty() {
            Ok(AllowedSigners { signers })
        } else {
            Err(problems.join("; "))
        }
    }

    /// The principals allowed to sign with `key` in `namespace` at `when`, as git's
    /// `ssh-keygen -Y find-principals` would list them.
    pub fn principals_for(
        &self,
        key: &ssh_key::public::KeyData,
        namespace: &str,
        when: DateTime<Utc>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.signers {
            if s.key.key_data() != key
                || s.namespaces
                    .as_ref()
                    .is_some_and(|ns| !ns.iter().any(|n| glob_match(n, namespace)))
                || s.valid_after.is_some_and(|t| when < t)
                || s.valid_before.is_some_and(|t| when >= t)
            {
                continue;
            }
            out.extend(s.principals.iter().filter(|p| !p.starts_with('!')).cloned());
        }
        out
    }

    /// Whether `key` is listed at all (whatever its namespace or validity window).
    pub fn lists(&self, key: &ssh_key::public::KeyData) -> bool {
        self.signers.iter().any(|s| s.key.key_data() == key)
    }
}

/// Splits off the next whitespace-delimited field, keeping quoted spans whole.
fn next_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Some((&s[..i], &s[i..])),
            _ => {}
        }
    }
    Some((s, ""))
}

fn parse_line(line: &str, number: usize) -> Result<Option<AllowedSigner>, String> {
    let (principals, rest) = next_field(line).ok_or("no principals")?;
    let principals: Vec<String> = principals
        .trim_matches('"')
        .split(',')
        .map(str::to_owned)
        .collect();
    let (second, after) = next_field(rest).ok_or("no key")?;
    // The options field is present when the next field is not a key type.
    let (options, key_text) = if is_key_type(second) {
        ("", rest)
    } else {
        (second, after)
    };
    let mut namespaces = None;
    let mut valid_after = None;
    let mut valid_before = None;
    for opt in split_options(options) {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), Some(v.trim_matches('"'))),
            None => (opt.to_ascii_lowercase(), None),
        };
        match (name.as_str(), value) {
            ("cert-authority", None) => return Ok(None),
            ("namespaces", Some(v)) => {
                namespaces = Some(v.split(',').map(str::to_owned).collect());
            }
            ("valid-after", Some(v)) => valid_after = Some(parse_time(v)?),
            ("valid-before", Some(v)) => valid_before = Some(parse_time(v)?),
            _ => return Err(format!("unknown option {opt:?}")),
        }
    }
    let (kind, rest) = next_field(key_text).ok_or("no key type")?;
    let (blob, _comment) = next_field(rest).ok_or("no key")?;
    let key = PublicKey::from_openssh(&format!("{kind} {blob}"))
        .map_err(|e| format!("the key does not parse: {e}"))?;
    Ok(Some(AllowedSigner {
        principals,
        namespaces,
        valid_after,
        valid_before,
        key,
        line: number,
    }))
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

/// Comma-separated options, commas inside quotes kept.
fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]`. ssh-keygen reads a time without `Z` in the system time zone; this
/// verifier reads every time as UTC, so a validity window can be off by the zone's offset.
fn parse_time(v: &str) -> Result<DateTime<Utc>, String> {
    let digits = v.strip_suffix('Z').unwrap_or(v);
    let bad = || format!("{v:?} is not a YYYYMMDD[HHMM[SS]][Z] time");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |a: usize, b: usize| digits[a..b].parse::<u32>().map_err(|_| bad());
    let (date, h, m, s) = match digits.len() {
        8 => (&digits[..8], 0, 0, 0),
        12 => (&digits[..8], num(8, 10)?, num(10, 12)?, 0),
        14 => (&digits[..8], num(8, 10)?, num(10, 12)?, num(12, 14)?),
        _ => return Err(bad()),
    };
    let d = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
    let t: NaiveDateTime = d.and_hms_opt(h, m, s).ok_or_else(bad)?;
    Ok(t.and_utc())
}

/// `*` / `?` wildcard match of a whole string.
fn glob_match(pattern: &str, s: &str) -> bool {
    crate::plan::policy::Glob::new(pattern).matches(s)
}

/// The outcome of checking an SSH signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshVerdict {
    /// The signature verifies and the key is allowed: the principals it is allowed for.
    Trusted {
        /// Principals the allowed-signers file lists for the key.
        principals: Vec<String>,
    },
    /// The signature verifies but no line allows the key here (absent, other namespace, or
    /// outside its validity window).
    UnknownSigner {
        /// Whether the key is listed at all (then only its namespace or window excluded it).
        listed: bool,
    },
    /// The signature does not verify over the commit's bytes, or was made for another
    /// namespace.
    Bad(String),
    /// The signature could not be read, or uses an algorithm this verifier does not check.
    Unsupported(String),
}

/// A verified or rejected SSH signature, with what the report shows about it.
#[derive(Debug, Clone)]
pub struct SshCheck {
    /// The verdict.
    pub verdict: SshVerdict,
    /// `SHA256:...` fingerprint of the signing key, when the signature could be read.
    pub fingerprint: Option<String>,
    /// The key's algorithm (`ssh-ed25519`, `rsa-sha2-512`...).
    pub algorithm: Option<String>,
}

/// Verifies an armored SSH signature over `signed` for the `git` namespace, then looks its key
/// up in `signers` at `when` (the committer's time, as git's `verify-time`).
pub fn verify_ssh(
    armored: &str,
    signed: &[u8],
    signers: &AllowedSigners,
    when: DateTime<Utc>,
) -> SshCheck {
    let sig = match SshSig::from_pem(armored.trim()) {
        Ok(s) => s,
        Err(e) => {
            return SshCheck {
                verdict: SshVerdict::Unsupported(format!("the SSH signature does not parse: {e}")),
                fingerprint: None,
                algorithm: None,
            };
        }
    };
    let key = PublicKey::from(sig.public_key().clone());
    let fingerprint = Some(key.fingerprint(HashAlg::Sha256).to_string());
    let algorithm = Some(sig.algorithm().to_string());
    // Only the key types whose verifiers are compiled in: any other (ECDSA, security keys)
    // would fail to verify for want of code, which must never read as a bad signature.
    let supported = matches!(
        sig.public_key(),
        ssh_key::public::KeyData::Ed25519(_) | ssh_key::public::KeyData::Rsa(_)
    );
    let verdict = if !supported {
        SshVerdict::Unsupported(format!(
            "the key type {} is not one this verifier checks (ed25519, RSA)",
            sig.public_key().algorithm()
        ))
    } else if sig.namespace() != GIT_NAMESPACE {
        SshVerdict::Bad(format!(
            "the signature was made for namespace {:?}, not git's {GIT_NAMESPACE:?}",
            sig.namespace()
        ))
    } else {
        match key.verify(GIT_NAMESPACE, signed, &sig) {
            Ok(()) => {
                let principals = signers.principals_for(sig.public_key(), GIT_NAMESPACE, when);
                if principals.is_empty() {
                    SshVerdict::UnknownSigner {
                        listed: signers.lists(sig.public_key()),
                    }
                } else {
                    SshVerdict::Trusted { principals }
                }
            }
            Err(ssh_key::Error::AlgorithmUnknown | ssh_key::Error::AlgorithmUnsupported { .. }) => {
                SshVerdict::Unsupported(format!(
                    "the key type {} is not one this verifier checks (ed25519, RSA)",
                    sig.algorithm()
                ))
            }
            Err(e) => SshVerdict::Bad(format!(
                "the signature does not verify over the commit's bytes: {e}"
            )),
        }
    };
    SshCheck {
        verdict,
        fingerprint,
        algorithm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAyHNKBQgIfqTd+q6RQ+pN0RP0OOXaVhlbnSz6UUYq8c";

    #[test]
    fn allowed_signers_lines_parse_with_and_without_options() {
        let text = format!(
            "# team\n\nalice@example.com {KEY} alice\n\
             \"bob@example.com,carol@*\" namespaces=\"git,file\",valid-after=\"20260101\" {KEY}\n\
             ca@example.com cert-authority {KEY}\n"
        );
        let s = AllowedSigners::parse(&text).unwrap();
        assert_eq!(s.signers.len(), 2, "the cert-authority line is skipped");
        assert_eq!(s.signers[0].principals, ["alice@example.com"]);
        assert_eq!(s.signers[1].principals, ["bob@example.com", "carol@*"]);
        assert_eq!(
            s.signers[1].namespaces.as_deref(),
            Some(&["git".to_owned(), "file".to_owned()][..])
        );
        let key = s.signers[0].key.key_data().clone();
        let jan = "2026-06-01T00:00:00Z".parse().unwrap();
        let before = "2025-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            s.principals_for(&key, "git", jan),
            ["alice@example.com", "bob@example.com", "carol@*"]
        );
        // Before bob's valid-after only alice's line applies; another namespace drops bob too.
        assert_eq!(s.principals_for(&key, "git", before), ["alice@example.com"]);
        assert_eq!(s.principals_for(&key, "mail", jan), ["alice@example.com"]);
    }

    #[test]
    fn bad_lines_are_all_reported() {
        let e = AllowedSigners::parse(&format!(
            "a@b ssh-ed25519 notbase64\nok@x {KEY}\nc@d bogus=1 {KEY}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("line 3") && !e.contains("line 2"),
            "{e}"
        );
        assert!(parse_time("2026010").is_err());
        assert_eq!(
            parse_time("20260102030405Z").unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
    }
}
