//! The verification report: checks, outcomes, proof levels, and the JSON Lines encoding of
//! `spec/report.md`.
//!
//! A [`Check`] records one claim and what became of it. Bad evidence is a `fail` check pushed onto
//! the report, never an `Err`: every check runs, and the exit code is derived from all of them
//! (`spec/exit-codes.md`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Value, json};

pub use crate::checks::catalogue::{CheckId, Code};

/// The report format version written in every `begin` line.
pub const FORMAT_VERSION: u64 = 1;

/// Exit code: every check that ran passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: at least one check failed (the evidence is wrong).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: nothing failed, but something that should have been checked could not be.
pub const EXIT_INCOMPLETE: i32 = 2;

/// What became of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Checked against an independent source, and it agrees.
    Pass,
    /// Checked, and the evidence is wrong.
    Fail,
    /// Should have been checked but could not be.
    Unknown,
    /// Cannot be checked by design.
    Unverifiable,
    /// `gate` only: checked, and it disagrees by more than the policy's warning tolerance but not
    /// its error tolerance. Exit 0 unless the policy sets `fail_on_warning`.
    Warn,
}

/// How strong the evidence behind an outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Proof {
    /// A hash computed over the stored bytes themselves.
    #[serde(rename = "bytes-verified")]
    BytesVerified,
    /// A value re-derived from its inputs with the spec's algorithm.
    #[serde(rename = "recomputed")]
    Recomputed,
    /// A cryptographic signature over the bytes verified against a key the user trusts (a
    /// commit signed by a key in `--allowed-signers`).
    #[serde(rename = "signature-verified")]
    SignatureVerified,
    /// Only a short non-cryptographic fingerprint could be compared.
    #[serde(rename = "fingerprint-only")]
    FingerprintOnly,
    /// The claim rests on a heuristic.
    #[serde(rename = "heuristic")]
    Heuristic,
    /// Nothing independent exists to compare with.
    #[serde(rename = "unverifiable")]
    Unverifiable,
}

/// What a check is about. Only the keys that apply are serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Subject {
    /// A subject naming a run.
    pub fn run(run_id: &str) -> Self {
        Subject {
            run_id: Some(run_id.to_owned()),
            ..Subject::default()
        }
    }
    /// A subject naming a model of a run.
    pub fn model(run_id: &str, model: &str) -> Self {
        Subject {
            model: Some(model.to_owned()),
            ..Subject::run(run_id)
        }
    }
    /// A subject naming a file.
    pub fn file(file: &str) -> Self {
        Subject {
            file: Some(file.to_owned()),
            ..Subject::default()
        }
    }
    /// Adds an artifact hash.
    pub fn with_artifact(mut self, artifact: &str) -> Self {
        self.artifact = Some(artifact.to_owned());
        self
    }
    /// Adds a table name.
    pub fn with_table(mut self, table: &str) -> Self {
        self.table = Some(table.to_owned());
        self
    }
    /// Adds a column name.
    pub fn with_column(mut self, column: &str) -> Self {
        self.column = Some(column.to_owned());
        self
    }
    /// Adds an upstream key.
    pub fn with_upstream(mut self, upstream: &str) -> Self {
        self.upstream = Some(upstream.to_owned());
        self
    }
}

/// One check and its result: one `check` line of the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable dotted check id, e.g. `artifact.blake3`.
    pub check: CheckId,
    /// What the check is about.
    pub subject: Subject,
    /// The outcome.
    pub outcome: Outcome,
    /// Finding code from `spec/report.md`; `None` exactly when the outcome is `Pass`.
    pub code: Option<Code>,
    /// Proof level.
    pub proof: Proof,
    /// What the ledger (or the file under audit) claims: the recorded hash, size, count or name.
    pub expected: Value,
    /// What the independent source shows: the recomputed hash, the bytes on disk, the rows read
    /// from the warehouse, the git object. `spec/report.md` "Direction of expected and actual".
    pub actual: Value,
    /// Why it could not be checked (required for `Unknown` and `Unverifiable`).
    pub reason: Option<String>,
    /// One human sentence.
    pub message: String,
    /// `gate` only: the policy waiver that turned this finding into `unverifiable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverNote>,
    /// `git.signature` only: the commit's signature, for summaries ("signed (ssh SHA256:...)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureNote>,
    /// `git.commit` only: the commit as git shows it (author, date, subject, signature), read
    /// from the repository by the check; omitted elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
}

/// A commit's signature as `git.signature` found it (`spec/report.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureNote {
    /// `ssh`, `openpgp`, `x509`, `unknown`, or `none` for an unsigned commit.
    pub format: String,
    /// The commit.
    pub commit: String,
    /// The signing key's `SHA256:...` fingerprint (SSH), when the signature could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The signature algorithm (`ssh-ed25519`, `rsa-sha2-512`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// The principals `--allowed-signers` lists for the key (empty: none).
    pub principals: Vec<String>,
    /// Whether the signature verified and its key is trusted (the check passed).
    pub verified: bool,
}

impl Check {
    /// The check with its commit signature attached.
    pub fn with_signature(mut self, note: SignatureNote) -> Check {
        self.signature = Some(note);
        self
    }
}

/// A commit as the repository shows it, for the summary's "Who" and "Code" lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// The full object id.
    pub id: String,
    /// The author's name.
    pub author: String,
    /// The author's email.
    pub email: String,
    /// The author date, RFC 3339 in UTC.
    pub date: String,
    /// The first line of the message.
    pub subject: String,
    /// Who signed it, when a signature was verified (e.g. `ssh SHA256:...`); `None` when the
    /// commit is unsigned or no signature check ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The waiver that covers a finding (`spec/gate.md`): the check keeps its code, its outcome
/// becomes `unverifiable`, and this says what it would have been and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaiverNote {
    /// The waiver's reason.
    pub reason: String,
    /// Its last active day, `YYYY-MM-DD`.
    pub expires: String,
    /// The outcome the check had before the waiver (`fail` or `warn`).
    pub outcome: Outcome,
    /// The `[[waiver]]`'s line in the policy file.
    pub line: usize,
}

impl Check {
    /// A check that agreed with its independent source.
    pub fn pass(
        check: CheckId,
        subject: Subject,
        proof: Proof,
        expected: Value,
        actual: Value,
        message: impl Into<String>,
    ) -> Self {
        Check {
            check,
            subject,
            outcome: Outcome::Pass,
            code: None,
            proof,
            expected,
            actual,
            reason: None,
            message: message.into(),
            waiver: None,
            signature: None,
            commit: None,
        }
    }

    /// A check that found the evidence wrong.
    pub fn fail(
        check: CheckId,
        subject: Subject,
        code: Code,
        proof: Proof,
        expected: Value,
        actual: Value,
        message: impl Into<String>,
    ) -> Self {
        documented(check, code);
        Check {
            check,
            subject,
            outcome: Outcome::Fail,
            code: Some(code),
            proof,
            expected,
            actual,
            reason: None,
            message: message.into(),
            waiver: None,
            signature: None,
            commit: None,
        }
    }

    /// A check that should have run but could not.
    pub fn unknown(
        check: CheckId,
        subject: Subject,
        code: Code,
        proof: Proof,
        reason: impl Into<String>,
    ) -> Self {
        documented(check, code);
        let reason = reason.into();
        Check {
            check,
            subject,
            outcome: Outcome::Unknown,
            code: Some(code),
            proof,
            expected: Value::Null,
            actual: Value::Null,
            message: format!("could not check: {reason}"),
            reason: Some(reason),
            waiver: None,
            signature: None,
            commit: None,
        }
    }

    /// A claim that cannot be checked by design. `claimed` is what the ledger says (it goes in
    /// `expected`; nothing independent fills `actual`).
    pub fn unverifiable(
        check: CheckId,
        subject: Subject,
        code: Code,
        proof: Proof,
        claimed: Value,
        reason: impl Into<String>,
    ) -> Self {
        documented(check, code);
        let reason = reason.into();
        Check {
            check,
            subject,
            outcome: Outcome::Unverifiable,
            code: Some(code),
            proof,
            expected: claimed,
            actual: Value::Null,
            message: format!("not verifiable: {reason}"),
            reason: Some(reason),
            waiver: None,
            signature: None,
            commit: None,
        }
    }
}

/// In debug builds (every test run), refuses a code the catalogue does not pair with its check:
/// what a report emits is what `spec/report.md` documents (`tests/catalogue.rs`).
fn documented(check: CheckId, code: Code) {
    debug_assert!(
        code.emitted_by(check),
        "{code} is not a documented code of {check}: add the pair to checks/catalogue.rs and \
         spec/report.md"
    );
}

/// Facts about the ledger file a report read (`begin.ledger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerInfo {
    /// The path as the user gave it.
    pub path: String,
    /// BLAKE3 of the whole file as read; `None` when the command was told not to hash it
    /// (`run --no-ledger-scan`) or the read failed (a `ledger.open` check says why).
    pub blake3: Option<String>,
    /// File size in bytes.
    pub size_bytes: u64,
    /// `metadata.schema_version`, if present.
    pub schema_version: Option<String>,
    /// `metadata.producer`, if present (rocky-writer ledgers).
    pub producer: Option<String>,
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed checks.
    pub pass: u64,
    /// Failed checks.
    pub fail: u64,
    /// Checks that could not run.
    pub unknown: u64,
    /// Claims unverifiable by design.
    pub unverifiable: u64,
    /// `gate` warnings (omitted from JSON when zero, so other commands' bytes are unchanged).
    #[serde(skip_serializing_if = "is_zero")]
    pub warn: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A whole report: what one command verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `run`, `artifact`, `runs`, `record` or `gate`.
    pub command: &'static str,
    /// What is being verified.
    pub subject: Option<String>,
    /// The ledger read, if any.
    pub ledger: Option<LedgerInfo>,
    /// Whether `--strict` was given.
    pub strict: bool,
    /// Every check, in report order.
    pub checks: Vec<Check>,
    /// Lines of the "what this verified" block.
    pub verified: Vec<String>,
    /// Lines of the "what this did not verify" block.
    pub not_verified: Vec<String>,
    /// `run` lines (`runs --json`), written after `begin` and before the checks.
    pub runs: Vec<Value>,
    /// `gate` only: warnings count as failures for the exit code (policy `fail_on_warning`).
    pub fail_on_warning: bool,
    /// `gate` only: the summary's `gate` object (scope, policy, waivers, checkpoint).
    pub gate: Option<Value>,
    /// The evidence bundle verified (`--bundle`, `spec/bundle.md`), for `begin.bundle`.
    pub bundle: Option<BundleInfo>,
    /// `run` only: what the run record says about itself, for the human summary (not in JSON:
    /// the checks carry the same values).
    pub facts: RunFacts,
}

/// What a run record says about itself (self-reported), shown in the human summary's "Who" and
/// "When" lines next to what was verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// `triggering_identity`.
    pub identity: Option<String>,
    /// `started_at`, as recorded.
    pub started_at: Option<String>,
    /// `finished_at`, as recorded.
    pub finished_at: Option<String>,
    /// `finished_at - started_at` in milliseconds, when both parse.
    pub duration_ms: Option<i64>,
    /// `trigger`.
    pub trigger: Option<String>,
    /// `rocky_version`.
    pub rocky_version: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// The recorded `git_commit`.
    pub git_commit: Option<String>,
    /// Models executed by the run.
    pub models: usize,
}

/// The bundle a report verified (`begin.bundle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleInfo {
    /// BLAKE3 of the bundle's `manifest.json` bytes.
    pub id: String,
    /// The bundle path as given.
    pub path: String,
    /// `name/version` of the collector.
    pub collector: String,
    /// The manifest's `created_at`.
    pub created_at: String,
}

impl Report {
    /// An empty report for `command`.
    pub fn new(command: &'static str, subject: Option<String>, strict: bool) -> Self {
        Report {
            command,
            subject,
            ledger: None,
            strict,
            checks: Vec::new(),
            verified: Vec::new(),
            not_verified: Vec::new(),
            runs: Vec::new(),
            fail_on_warning: false,
            gate: None,
            facts: RunFacts::default(),
            bundle: None,
        }
    }

    /// Adds a check.
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Counts the outcomes.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for check in &self.checks {
            let slot = match check.outcome {
                Outcome::Pass => &mut c.pass,
                Outcome::Fail => &mut c.fail,
                Outcome::Unknown => &mut c.unknown,
                Outcome::Unverifiable => &mut c.unverifiable,
                Outcome::Warn => &mut c.warn,
            };
            *slot = slot.saturating_add(1);
        }
        c
    }

    /// The exit code per `spec/exit-codes.md`: failure wins over unknown; unverifiable counts as
    /// failure only under `--strict`, a gate warning only under `fail_on_warning`.
    pub fn exit_code(&self) -> i32 {
        let c = self.counts();
        if c.fail > 0 || (self.strict && c.unverifiable > 0) || (self.fail_on_warning && c.warn > 0)
        {
            EXIT_FAILED
        } else if c.unknown > 0 {
            EXIT_INCOMPLETE
        } else {
            EXIT_OK
        }
    }

    /// `pass`, `fail` or `unknown`, matching the exit code.
    pub fn verdict(&self) -> &'static str {
        match self.exit_code() {
            EXIT_OK => "pass",
            EXIT_FAILED => "fail",
            _ => "unknown",
        }
    }

    /// The `begin` line's value.
    pub fn begin_json(&self) -> Value {
        let mut v = json!({"type": "begin", "data": {
            "format_version": FORMAT_VERSION,
            "tool": "rocky-verify",
            "tool_version": env!("CARGO_PKG_VERSION"),
            "command": self.command,
            "subject": self.subject,
            "ledger": self.ledger,
            "strict": self.strict,
        }});
        // Only with --bundle, so every other report keeps its bytes.
        if let Some(b) = &self.bundle {
            v["data"]["bundle"] = json!(b);
        }
        v
    }

    /// The `summary` line's value.
    pub fn summary_json(&self) -> Value {
        let mut v = json!({"type": "summary", "data": {
            "verdict": self.verdict(),
            "exit_code": self.exit_code(),
            "strict": self.strict,
            "counts": self.counts(),
            "verified": self.verified,
            "not_verified": self.not_verified,
        }});
        if let Some(gate) = &self.gate {
            v["data"]["gate"] = gate.clone();
        }
        v
    }

    /// Applies `f` to every string a report format can print (subjects, values, reasons,
    /// messages, summary lines, run lines, the gate object; JSON object keys are left alone),
    /// so a rewrite done here reaches every output format. The bundle's own facts are not
    /// rewritten.
    pub fn rewrite_strings(&mut self, f: &mut dyn FnMut(&mut String)) {
        fn value(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
            match v {
                Value::String(s) => f(s),
                Value::Array(a) => a.iter_mut().for_each(|x| value(x, f)),
                Value::Object(o) => o.values_mut().for_each(|x| value(x, f)),
                _ => {}
            }
        }
        if let Some(s) = &mut self.subject {
            f(s);
        }
        if let Some(l) = &mut self.ledger {
            f(&mut l.path);
        }
        for c in &mut self.checks {
            let s = &mut c.subject;
            for field in [
                &mut s.run_id,
                &mut s.model,
                &mut s.artifact,
                &mut s.table,
                &mut s.column,
                &mut s.upstream,
                &mut s.file,
            ]
            .into_iter()
            .flatten()
            {
                f(field);
            }
            value(&mut c.expected, f);
            value(&mut c.actual, f);
            if let Some(r) = &mut c.reason {
                f(r);
            }
            f(&mut c.message);
            if let Some(w) = &mut c.waiver {
                f(&mut w.reason);
            }
            // The commit and signature the human summary shows (author e-mails, principals).
            if let Some(ci) = &mut c.commit {
                for field in [&mut ci.author, &mut ci.email, &mut ci.subject] {
                    f(field);
                }
                if let Some(sig) = &mut ci.signature {
                    f(sig);
                }
            }
            if let Some(sig) = &mut c.signature {
                for p in &mut sig.principals {
                    f(p);
                }
            }
        }
        // The run's self-reported facts shown in the summary's "Who" line.
        if let Some(id) = &mut self.facts.identity {
            f(id);
        }
        for s in self.verified.iter_mut().chain(self.not_verified.iter_mut()) {
            f(s);
        }
        self.runs.iter_mut().for_each(|v| value(v, f));
        if let Some(g) = &mut self.gate {
            value(g, f);
        }
    }

    /// Writes the whole report as JSON Lines (`begin`, every `check`, `summary`).
    pub fn write_json_lines(&self, out: &mut dyn Write) -> io::Result<()> {
        write_line(out, &self.begin_json())?;
        for run in &self.runs {
            write_line(out, &json!({"type": "run", "data": run}))?;
        }
        for check in &self.checks {
            write_line(out, &json!({"type": "check", "data": check}))?;
        }
        write_line(out, &self.summary_json())
    }
}

/// Writes one compact JSON value and a newline.
///
/// An envelope `{"type": T, "data": D}` is written with `type` first (as `spec/report.md` shows
/// it), so a reader skimming a log sees the line's kind before its payload.
pub fn write_line(out: &mut dyn Write, value: &Value) -> io::Result<()> {
    if let Some(obj) = value.as_object()
        && obj.len() == 2
        && let (Some(kind), Some(data)) = (obj.get("type"), obj.get("data"))
    {
        out.write_all(b"{\"type\":")?;
        serde_json::to_writer(&mut *out, kind)?;
        out.write_all(b",\"data\":")?;
        serde_json::to_writer(&mut *out, data)?;
        return out.write_all(b"}\n");
    }
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(outcomes: &[Outcome], strict: bool) -> Report {
        let mut r = Report::new("run", None, strict);
        for o in outcomes {
            let s = Subject::run("r");
            r.push(match o {
                Outcome::Pass => Check::pass(
                    CheckId::ArtifactBlake3,
                    s,
                    Proof::Recomputed,
                    json!(1),
                    json!(1),
                    "ok",
                ),
                Outcome::Fail => Check::fail(
                    CheckId::ArtifactBlake3,
                    s,
                    Code::ArtifactHashMismatch,
                    Proof::Recomputed,
                    json!(1),
                    json!(2),
                    "bad",
                ),
                Outcome::Unknown => Check::unknown(
                    CheckId::ArtifactBlake3,
                    s,
                    Code::ArtifactFileMissing,
                    Proof::Recomputed,
                    "no input",
                ),
                Outcome::Unverifiable => Check::unverifiable(
                    CheckId::ArtifactBlake3,
                    s,
                    Code::ArtifactFileMissing,
                    Proof::FingerprintOnly,
                    json!("abc"),
                    "64-bit fingerprint",
                ),
                Outcome::Warn => Check {
                    outcome: Outcome::Warn,
                    ..Check::fail(
                        CheckId::ArtifactBlake3,
                        s,
                        Code::ArtifactHashMismatch,
                        Proof::Recomputed,
                        json!(1),
                        json!(2),
                        "drifted",
                    )
                },
            });
        }
        r
    }

    #[test]
    fn failure_wins_over_unknown_so_a_retry_on_2_never_hides_tampering() {
        assert_eq!(
            report_with(&[Outcome::Unknown, Outcome::Fail], false).exit_code(),
            1
        );
        assert_eq!(
            report_with(&[Outcome::Unknown, Outcome::Pass], false).exit_code(),
            2
        );
        assert_eq!(report_with(&[Outcome::Pass], false).exit_code(), 0);
    }

    #[test]
    fn unverifiable_fails_only_under_strict() {
        assert_eq!(
            report_with(&[Outcome::Pass, Outcome::Unverifiable], false).exit_code(),
            0
        );
        assert_eq!(
            report_with(&[Outcome::Pass, Outcome::Unverifiable], true).exit_code(),
            1
        );
    }

    #[test]
    fn warnings_fail_only_under_fail_on_warning() {
        let mut r = report_with(&[Outcome::Pass, Outcome::Warn], false);
        assert_eq!(r.exit_code(), 0);
        r.fail_on_warning = true;
        assert_eq!(r.exit_code(), 1);
        // Failure still wins over unknown with warnings around.
        let r = report_with(&[Outcome::Warn, Outcome::Unknown], false);
        assert_eq!(r.exit_code(), 2);
    }

    #[test]
    fn counts_omit_warn_unless_there_are_warnings() {
        let r = report_with(&[Outcome::Pass], false);
        assert!(r.summary_json()["data"]["counts"].get("warn").is_none());
        let r = report_with(&[Outcome::Warn], false);
        assert_eq!(r.summary_json()["data"]["counts"]["warn"], 1);
    }

    #[test]
    fn an_empty_report_passes_but_counts_nothing() {
        let r = report_with(&[], false);
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.counts(), Counts::default());
    }

    #[test]
    fn json_lines_start_with_begin_and_end_with_summary() {
        let r = report_with(&[Outcome::Fail, Outcome::Unknown], false);
        let mut buf = Vec::new();
        r.write_json_lines(&mut buf).unwrap();
        let buf_copy = buf.clone();
        let lines: Vec<Value> = String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["type"], "begin");
        let text = String::from_utf8(buf_copy).unwrap();
        assert!(
            text.lines().all(|l| l.starts_with("{\"type\":\"")),
            "type comes first: {text}"
        );
        assert_eq!(lines[1]["data"]["code"], "artifact_hash_mismatch");
        assert_eq!(lines[2]["data"]["reason"], "no input");
        assert_eq!(lines[3]["data"]["verdict"], "fail");
        assert_eq!(lines[3]["data"]["exit_code"], 1);
    }
}
