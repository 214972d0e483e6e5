//! `--pseudonymize KEYFILE` (`spec/bundle.md` section 7): people's names, hosts and e-mail
//! addresses replaced by keyed-BLAKE3 pseudonyms in a finished report, before any format is
//! written, so no format can print an original.
//!
//! The originals are collected from the evidence the report is about (each run's
//! `triggering_identity` and `hostname`, the author and committer e-mail of its commit) and,
//! as a safety net, every e-mail-shaped token in the report's text.

use std::collections::BTreeMap;
use std::path::Path;

use crate::evidence::ledger::{self, Ledger};
use crate::report::Report;

/// What kind of value a pseudonym stands for (part of the hashed input, so one value gets
/// different pseudonyms as an identity and as a host name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `triggering_identity`.
    Identity,
    /// `hostname`.
    Hostname,
    /// An e-mail address.
    Email,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Identity => "identity",
            Kind::Hostname => "hostname",
            Kind::Email => "email",
        }
    }
}

/// A key and the originals to replace.
pub struct Pseudonymizer {
    key: [u8; 32],
    originals: BTreeMap<String, Kind>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key or the originals.
        f.debug_struct("Pseudonymizer")
            .field("originals", &self.originals.len())
            .finish()
    }
}

/// Parses a key file: exactly 32 bytes, or 64 hex characters and at most one `\n`.
///
/// # Errors
///
/// A sentence saying what the file must hold.
pub fn parse_key(bytes: &[u8]) -> Result<[u8; 32], String> {
    if let Ok(key) = <[u8; 32]>::try_from(bytes) {
        return Ok(key);
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if text.len() == 64 && text.iter().all(u8::is_ascii_hexdigit) {
        let mut key = [0u8; 32];
        for (i, pair) in text.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            key[i] = u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
        }
        return Ok(key);
    }
    Err(
        "a pseudonymisation key file holds exactly 32 bytes, or 64 hex characters (and at most \
         one newline)"
            .to_owned(),
    )
}

/// Reads a key file (at most a few bytes are read).
///
/// # Errors
///
/// An unreadable file or a malformed key.
pub fn read_key(path: &Path) -> Result<[u8; 32], String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    crate::evidence::regular_file::open(path)
        .map_err(|e| e.to_string())?
        .take(128)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The pseudonym of `value` as `kind` under `key`: `anon-` and 16 hex of
/// BLAKE3-keyed(key, label ‖ 0x00 ‖ value).
pub fn pseudonym(key: &[u8; 32], kind: Kind, value: &str) -> String {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(kind.label().as_bytes());
    h.update(&[0]);
    h.update(value.as_bytes());
    format!("anon-{}", &h.finalize().to_hex()[..16])
}

/// Whether `c` can be part of an e-mail token.
fn email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '@')
}

/// The e-mail-shaped tokens of `text`: `local@domain.tld`.
fn emails(text: &str) -> Vec<String> {
    text.split(|c: char| !email_char(c))
        .filter_map(|t| {
            let t = t.trim_matches('.');
            let (local, domain) = t.split_once('@')?;
            let ok = !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.');
            ok.then(|| t.to_owned())
        })
        .collect()
}

/// Whether the character before or after a match keeps it from being a whole token.
fn joins(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Replaces whole-token occurrences of `from` in `text`.
fn replace_tokens(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        // The character just before the match: in the unscanned text, or at the end of what
        // was already written when the match starts it.
        let before = rest[..i]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back());
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if joins(before) || joins(after) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

impl Pseudonymizer {
    /// A pseudonymizer with `key` and nothing collected yet.
    pub fn new(key: [u8; 32]) -> Self {
        Pseudonymizer {
            key,
            originals: BTreeMap::new(),
        }
    }

    /// Adds one original value (empty values, and Rocky's `unknown` host placeholder, are not
    /// personal data and would clobber ordinary words).
    pub fn add(&mut self, kind: Kind, value: &str) {
        if value.is_empty() || (kind == Kind::Hostname && value == "unknown") {
            return;
        }
        self.originals.entry(value.to_owned()).or_insert(kind);
    }

    /// Collects `triggering_identity`, `hostname` and `git_commit` of the runs the report names
    /// from the ledger, then the commits' author and committer e-mails from the repository.
    /// Sources that cannot be read add nothing (the e-mail scan still runs).
    pub fn collect(&mut self, report: &Report, ledger_path: Option<&Path>, repo: Option<&Path>) {
        let mut run_ids: Vec<String> = report.subject.iter().cloned().collect();
        run_ids.extend(
            report
                .checks
                .iter()
                .filter_map(|c| c.subject.run_id.clone()),
        );
        run_ids.extend(
            report
                .runs
                .iter()
                .filter_map(|r| r.get("run_id")?.as_str().map(str::to_owned)),
        );
        run_ids.sort();
        run_ids.dedup();
        let mut commits = Vec::new();
        if let Some(path) = ledger_path
            && let Ok(l) = Ledger::open(path, &path.display().to_string())
        {
            for id in &run_ids {
                let Ok(Some(bytes)) = l.get(ledger::RUN_HISTORY, id) else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
                if let Some(who) = field("triggering_identity") {
                    self.add(Kind::Identity, &who);
                }
                if let Some(host) = field("hostname") {
                    self.add(Kind::Hostname, &host);
                }
                if let Some(c) = field("git_commit") {
                    commits.push(c);
                }
            }
        }
        if let Some(repo) = repo
            && let Ok(r) = git2::Repository::open(repo)
        {
            for c in &commits {
                let Ok(oid) = git2::Oid::from_str(c) else {
                    continue;
                };
                let Ok(commit) = r.find_commit(oid) else {
                    continue;
                };
                for sig in [commit.author(), commit.committer()] {
                    if let Ok(e) = sig.email() {
                        self.add(Kind::Email, e);
                    }
                }
            }
        }
    }

    /// Replaces every original (whole tokens, longest first) and every e-mail-shaped token in
    /// every string of the report.
    pub fn apply(&self, report: &mut Report) {
        let mut ordered: Vec<(&String, Kind)> =
            self.originals.iter().map(|(v, k)| (v, *k)).collect();
        ordered.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
        let replacements: Vec<(String, String)> = ordered
            .iter()
            .flat_map(|(v, k)| {
                let p = pseudonym(&self.key, *k, v);
                // Messages quote values with Rust's Debug escaping; replace that form too.
                let debug = format!("{v:?}");
                let escaped = debug[1..debug.len() - 1].to_owned();
                let mut pairs = vec![((*v).clone(), p.clone())];
                if escaped != **v {
                    pairs.push((escaped, p));
                }
                pairs
            })
            .collect();
        let key = self.key;
        report.rewrite_strings(&mut |s: &mut String| {
            let mut text = std::mem::take(s);
            for (from, to) in &replacements {
                if text.contains(from.as_str()) {
                    text = replace_tokens(&text, from, to);
                }
            }
            for e in emails(&text) {
                if e.starts_with("anon-") {
                    continue;
                }
                let p = pseudonym(&key, Kind::Email, &e);
                text = replace_tokens(&text, &e, &p);
            }
            *s = text;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_or_64_hex() {
        assert!(parse_key(&[7u8; 32]).is_ok());
        let hex = "ab".repeat(32);
        assert_eq!(parse_key(hex.as_bytes()).unwrap(), [0xab; 32]);
        assert_eq!(
            parse_key(format!("{hex}\n").as_bytes()).unwrap(),
            [0xab; 32]
        );
        assert!(parse_key(b"short").is_err());
        assert!(parse_key(format!("{hex}\n\n").as_bytes()).is_err());
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_kind() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let a = pseudonym(&k1, Kind::Identity, "alice");
        assert_eq!(a, pseudonym(&k1, Kind::Identity, "alice"));
        assert_ne!(a, pseudonym(&k2, Kind::Identity, "alice"));
        assert_ne!(a, pseudonym(&k1, Kind::Hostname, "alice"));
        assert_ne!(a, pseudonym(&k1, Kind::Identity, "bob"));
        assert!(a.starts_with("anon-") && a.len() == 21);
    }

    #[test]
    fn every_string_of_a_report_is_rewritten() {
        use crate::report::{Check, CheckId, Code, Proof, Subject};
        let mut r = Report::new("run", Some("run-1".into()), false);
        r.push(Check::unverifiable(
            CheckId::RunIdentity,
            Subject::run("run-1"),
            Code::TriggeringIdentityUnexpected,
            Proof::Unverifiable,
            serde_json::json!({"who": "alice", "host": "ci-01"}),
            "triggering_identity \"alice\" on ci-01, committed by t@example.com",
        ));
        r.not_verified
            .push("mail bob@corp.example.org about it".into());
        r.runs
            .push(serde_json::json!({"triggering_identity": "alice"}));
        let mut p = Pseudonymizer::new([9u8; 32]);
        p.add(Kind::Identity, "alice");
        p.add(Kind::Hostname, "ci-01");
        p.add(Kind::Hostname, "unknown");
        let before = format!("{r:?}");
        p.apply(&mut r);
        let after = format!("{r:?}");
        for original in ["alice", "ci-01", "t@example.com", "bob@corp.example.org"] {
            assert!(before.contains(original));
            assert!(!after.contains(original), "{original} left in {after}");
        }
        let alice = pseudonym(&[9u8; 32], Kind::Identity, "alice");
        assert_eq!(r.runs[0]["triggering_identity"], alice.as_str());
        assert!(
            r.checks[0].message.contains(&alice),
            "{}",
            r.checks[0].message
        );
        assert!(
            r.checks[0]
                .message
                .contains(&pseudonym(&[9u8; 32], Kind::Email, "t@example.com"))
        );
    }

    #[test]
    fn only_whole_tokens_are_replaced() {
        assert_eq!(
            replace_tokens("ci ran specific", "ci", "X"),
            "X ran specific"
        );
        assert_eq!(replace_tokens("\"ci\"", "ci", "X"), "\"X\"");
        assert_eq!(
            emails("by alice@example.com, and a@b"),
            vec!["alice@example.com"]
        );
    }
}
