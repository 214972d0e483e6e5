//! The gate's policy file (`rocky-verify.toml`, `spec/gate.md` section 2): row-count tolerances,
//! skipped checks and waivers, validated with line numbers.
//!
//! Parse, don't validate: [`Policy::parse`] turns the TOML text into checked types or into
//! [`PolicyError`]s, each pointing at the offending span (a miette diagnostic with the source).

use chrono::NaiveDate;
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

/// One problem in a policy file, with where it is.
#[derive(Debug, Error, Diagnostic)]
#[error("{path}:{line}:{column}: {message}")]
#[diagnostic(code(rocky_verify::policy_invalid))]
pub struct PolicyError {
    /// The policy path as given.
    pub path: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong, lowercase, context first.
    pub message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

/// A glob over model names or check ids: `*` matches any run of characters, `?` one character;
/// everything else is literal. Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A glob from its text.
    pub fn new(text: &str) -> Glob {
        Glob(text.to_owned())
    }

    /// The glob's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` matches the whole glob.
    pub fn matches(&self, s: &str) -> bool {
        glob_match(self.0.as_bytes(), s.as_bytes())
    }
}

/// Iterative wildcard matching with one backtrack point (linear for practical patterns).
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || (p[pi] != b'*' && p[pi] == s[si])) {
            // `?` matches one byte; a multi-byte UTF-8 character needs one `?` per byte, which
            // only matters for non-ASCII model names.
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Relative row-count drift allowed for the models of a `[[tolerance]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    /// Which models (first matching `[[tolerance]]` wins).
    pub models: Vec<Glob>,
    /// Drift above this is a warning.
    pub warn: f64,
    /// Drift above this is a failure.
    pub error: f64,
}

/// A `[[skip]]`: checks the gate does not run, with the reason that is reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// Check ids (glob, e.g. `warehouse.columns` or `artifact.*`).
    pub check: Glob,
    /// Models it applies to; every model (and checks about no model) when empty.
    pub models: Vec<Glob>,
    /// Why (required, reported).
    pub reason: String,
}

/// A `[[waiver]]`: accepted drift that stops failing the gate until `expires`.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    /// Check ids (glob).
    pub check: Glob,
    /// Models (glob); every model when `None`.
    pub model: Option<Glob>,
    /// Only findings with this code, when given.
    pub code: Option<String>,
    /// Why (required, reported).
    pub reason: String,
    /// Last day the waiver is active (UTC); it has expired from the next day on.
    pub expires: NaiveDate,
    /// 1-based line of the `[[waiver]]` in the policy file, for reports.
    pub line: usize,
}

impl Waiver {
    /// Whether the waiver is still active on `today` (the expiry day itself is included).
    pub fn active_on(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }

    /// A short description: `check X model Y code Z`.
    pub fn describe(&self) -> String {
        let mut s = format!("check {}", self.check.as_str());
        if let Some(m) = &self.model {
            s.push_str(&format!(" model {}", m.as_str()));
        }
        if let Some(c) = &self.code {
            s.push_str(&format!(" code {c}"));
        }
        s
    }
}

/// The proof a `[require]` entry asks of a claim, weakest first (`spec/gate.md` section 2,
/// "Minimum proof").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequiredLevel {
    /// The record carries the claim (a value that can be checked at all).
    Present,
    /// A passing check at proof `heuristic` or better.
    Heuristic,
    /// A passing check at proof `fingerprint-only` or better.
    FingerprintOnly,
    /// A passing check at proof `recomputed` or better.
    Recomputed,
    /// A passing check at proof `bytes-verified`.
    BytesVerified,
}

impl RequiredLevel {
    /// Every level with its policy spelling, weakest first.
    pub const ALL: &'static [(&'static str, RequiredLevel)] = &[
        ("present", RequiredLevel::Present),
        ("heuristic", RequiredLevel::Heuristic),
        ("fingerprint-only", RequiredLevel::FingerprintOnly),
        ("recomputed", RequiredLevel::Recomputed),
        ("bytes-verified", RequiredLevel::BytesVerified),
    ];

    /// The policy spelling.
    pub fn as_str(self) -> &'static str {
        RequiredLevel::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("present", |(s, _)| s)
    }

    fn parse(s: &str) -> Option<RequiredLevel> {
        RequiredLevel::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, l)| *l)
    }
}

/// A `[require]` entry: the minimum proof of one claim (a check id) for every subject in scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// The claim: a check id such as `model.sql_hash` or `git.commit`.
    pub claim: String,
    /// The weakest proof accepted.
    pub level: RequiredLevel,
    /// 1-based line of the entry, for reports.
    pub line: usize,
}

/// The claims a `[require]` entry may name: checks that establish a recorded claim (the gate's
/// own `gate.*` checks are not claims).
pub fn requirable(claim: &str) -> bool {
    crate::checks::catalogue::CheckId::ALL
        .iter()
        .any(|c| c.as_str() == claim && !claim.starts_with("gate."))
}

/// A validated policy. [`Policy::default`] is what the gate uses without `--policy`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Warnings make the gate exit 1.
    pub fail_on_warning: bool,
    /// `require_signed_commits`: a run's commit must carry a signature by a trusted signer
    /// (`--allowed-signers`); unsigned, unknown-signer and uncheckable signatures then fail.
    pub require_signed_commits: bool,
    /// Runs older than this many days may be deleted by Rocky's retention sweep.
    pub retention_days: Option<u32>,
    /// Row-count tolerances, in file order.
    pub tolerances: Vec<Tolerance>,
    /// Skipped checks, in file order.
    pub skips: Vec<Skip>,
    /// Waivers, in file order.
    pub waivers: Vec<Waiver>,
    /// `[require]`: minimum proof per claim, in file order.
    pub require: Vec<Requirement>,
    /// `downgrade = "fail"`: a proof downgrade fails the gate (default: a warning).
    pub downgrade_fails: bool,
}

impl Policy {
    /// The `(warn, error)` tolerance of `model`: the first `[[tolerance]]` whose glob matches.
    pub fn tolerance_for(&self, model: &str) -> Option<(f64, f64)> {
        self.tolerances
            .iter()
            .find(|t| t.models.iter().any(|g| g.matches(model)))
            .map(|t| (t.warn, t.error))
    }

    /// The `[[skip]]` covering a check about `model` (None: a check about no model).
    pub fn skip_for(&self, check: &str, model: Option<&str>) -> Option<&Skip> {
        self.skips.iter().find(|s| {
            s.check.matches(check)
                && (s.models.is_empty()
                    || model.is_some_and(|m| s.models.iter().any(|g| g.matches(m))))
        })
    }

    /// The index of the first `[[skip]]` covering a check about `model`.
    pub fn skip_index(&self, check: &str, model: Option<&str>) -> Option<usize> {
        let s = self.skip_for(check, model)?;
        self.skips.iter().position(|x| std::ptr::eq(x, s))
    }

    /// The index of the first waiver active on `today` that matches a finding.
    pub fn waiver_index(
        &self,
        check: &str,
        model: Option<&str>,
        code: Option<&str>,
        today: NaiveDate,
    ) -> Option<usize> {
        let w = self
            .waivers_for(check, model, code)
            .find(|w| w.active_on(today))?;
        self.waivers.iter().position(|x| std::ptr::eq(x, w))
    }

    /// Every waiver matching a finding (in file order).
    pub fn waivers_for<'a>(
        &'a self,
        check: &'a str,
        model: Option<&'a str>,
        code: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Waiver> + 'a {
        self.waivers.iter().filter(move |w| {
            w.check.matches(check)
                && w.model
                    .as_ref()
                    .is_none_or(|g| model.is_some_and(|m| g.matches(m)))
                && w.code.as_deref().is_none_or(|c| Some(c) == code)
        })
    }

    /// Parses and validates a policy file's text. `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// Every problem found, each with its line and column: TOML syntax, unknown keys, wrong
    /// types, a missing `reason`, `warn` above `error`, a bad `expires` date.
    pub fn parse(path: &str, text: &str) -> Result<Policy, Vec<PolicyError>> {
        let mut v = Validator {
            path,
            text,
            errors: Vec::new(),
        };
        // Unknown keys first, every one of them: serde's `deny_unknown_fields` would stop at the
        // first and hide the rest (spec/gate.md promises every problem at once).
        v.unknown_keys();
        let raw: RawPolicy = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span();
                v.error(span, e.message().trim_end(), "here", None);
                return Err(v.errors);
            }
        };
        let policy = v.check(raw);
        if v.errors.is_empty() {
            Ok(policy)
        } else {
            Err(v.errors)
        }
    }
}

// No `deny_unknown_fields` on these: `Validator::unknown_keys` reports every unknown key.
#[derive(Debug, Deserialize)]
struct RawPolicy {
    version: Option<Spanned<i64>>,
    fail_on_warning: Option<bool>,
    require_signed_commits: Option<bool>,
    retention_days: Option<Spanned<i64>>,
    #[serde(default)]
    tolerance: Vec<Spanned<RawTolerance>>,
    #[serde(default)]
    skip: Vec<Spanned<RawSkip>>,
    #[serde(default)]
    waiver: Vec<Spanned<RawWaiver>>,
    downgrade: Option<Spanned<String>>,
    require: Option<Spanned<toml::Table>>,
}

/// `"glob"` or `["glob", ...]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawTolerance {
    models: Option<Spanned<OneOrMany>>,
    warn: Option<Spanned<f64>>,
    error: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
struct RawSkip {
    check: Option<Spanned<String>>,
    models: Option<Spanned<OneOrMany>>,
    reason: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
struct RawWaiver {
    check: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    code: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

struct Validator<'a> {
    path: &'a str,
    text: &'a str,
    errors: Vec<PolicyError>,
}

type Span = std::ops::Range<usize>;

/// The keys a policy table may hold: the top level, then each `[[tolerance]]`, `[[skip]]` and
/// `[[waiver]]` entry (kept beside the `Raw*` structs they mirror).
const TOP_KEYS: &[&str] = &[
    "version",
    "fail_on_warning",
    "require_signed_commits",
    "retention_days",
    "downgrade",
    "require",
    "tolerance",
    "skip",
    "waiver",
];
const ENTRY_KEYS: &[(&str, &[&str])] = &[
    ("tolerance", &["models", "warn", "error"]),
    ("skip", &["check", "models", "reason"]),
    ("waiver", &["check", "model", "code", "reason", "expires"]),
];

impl Validator<'_> {
    /// Reports every key the policy format does not define, each at its own line. A text that
    /// does not parse is left to the serde pass, which reports the syntax error.
    fn unknown_keys(&mut self) {
        use toml::de::{DeTable, DeValue};
        let Ok(doc) = DeTable::parse(self.text) else {
            return;
        };
        let mut found: Vec<(Span, String, &[&str])> = Vec::new();
        for (key, value) in doc.get_ref() {
            let name: &str = key.get_ref();
            if !TOP_KEYS.contains(&name) {
                found.push((key.span(), format!("unknown key `{name}`"), TOP_KEYS));
                continue;
            }
            let Some((_, allowed)) = ENTRY_KEYS.iter().find(|(t, _)| *t == name) else {
                continue;
            };
            let entries: Vec<&DeTable<'_>> = match value.get_ref() {
                DeValue::Array(a) => a
                    .iter()
                    .filter_map(|e| match e.get_ref() {
                        DeValue::Table(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                DeValue::Table(t) => vec![t],
                _ => Vec::new(),
            };
            for t in entries {
                for k in t.keys() {
                    let inner: &str = k.get_ref();
                    if !allowed.contains(&inner) {
                        found.push((
                            k.span(),
                            format!("unknown key `{inner}` in [[{name}]]"),
                            allowed,
                        ));
                    }
                }
            }
        }
        found.sort_by_key(|(s, _, _)| s.start);
        for (span, message, allowed) in found {
            let help = format!("expected one of: {}", allowed.join(", "));
            self.error(Some(span), &message, "unknown key", Some(&help));
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn error(&mut self, span: Option<Span>, message: &str, label: &str, help: Option<&str>) {
        let (line, column) = span.as_ref().map_or((1, 1), |s| self.position(s.start));
        self.errors.push(PolicyError {
            path: self.path.to_owned(),
            line,
            column,
            message: message.to_owned(),
            src: NamedSource::new(self.path, self.text.to_owned()),
            span: span.map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
            label: label.to_owned(),
            help: help.map(str::to_owned),
        });
    }

    fn required<T>(
        &mut self,
        v: Option<Spanned<T>>,
        table: &Span,
        what: &str,
    ) -> Option<Spanned<T>> {
        if v.is_none() {
            self.error(
                Some(table.clone()),
                &format!("missing required key `{what}`"),
                &format!("this table needs `{what}`"),
                None,
            );
        }
        v
    }

    fn reason(&mut self, v: Option<Spanned<String>>, table: &Span) -> String {
        let Some(r) = self.required(v, table, "reason") else {
            return String::new();
        };
        if r.get_ref().trim().is_empty() {
            self.error(
                Some(r.span()),
                "`reason` is empty",
                "say why",
                Some("a reason is reported with every skipped or waived check"),
            );
        }
        r.into_inner()
    }

    fn globs(&mut self, v: Spanned<OneOrMany>) -> Vec<Glob> {
        let span = v.span();
        let list = v.into_inner().into_vec();
        if list.is_empty() || list.iter().any(|g| g.is_empty()) {
            self.error(
                Some(span),
                "`models` needs at least one non-empty glob",
                "empty",
                None,
            );
        }
        list.iter().map(|g| Glob::new(g)).collect()
    }

    fn fraction(&mut self, v: &Spanned<f64>, what: &str) -> f64 {
        let x = *v.get_ref();
        if !x.is_finite() || x < 0.0 {
            self.error(
                Some(v.span()),
                &format!("`{what}` must be a finite number at least 0"),
                "a relative drift: 0.05 is 5%",
                None,
            );
        }
        x
    }

    fn check(&mut self, raw: RawPolicy) -> Policy {
        if let Some(version) = &raw.version
            && *version.get_ref() != 1
        {
            self.error(
                Some(version.span()),
                &format!("policy version {} is not supported", version.get_ref()),
                "this rocky-verify reads version 1",
                None,
            );
        }
        let retention_days = raw
            .retention_days
            .and_then(|d| match u32::try_from(*d.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.error(
                        Some(d.span()),
                        "`retention_days` must be a whole number of days, at least 1",
                        "here",
                        None,
                    );
                    None
                }
            });

        let mut tolerances = Vec::new();
        for t in raw.tolerance {
            let span = t.span();
            let t = t.into_inner();
            let models = self
                .required(t.models, &span, "models")
                .map(|m| self.globs(m))
                .unwrap_or_default();
            if t.warn.is_none() && t.error.is_none() {
                self.error(
                    Some(span.clone()),
                    "a [[tolerance]] needs `warn`, `error` or both",
                    "neither is set",
                    None,
                );
            }
            let error = t.error.as_ref().map(|e| self.fraction(e, "error"));
            let warn = t.warn.as_ref().map(|w| self.fraction(w, "warn"));
            if let (Some(w), Some(e)) = (&t.warn, error)
                && *w.get_ref() > e
            {
                self.error(
                    Some(w.span()),
                    &format!("`warn` ({}) is above `error` ({e})", w.get_ref()),
                    "warn must be at most error",
                    None,
                );
            }
            // Only `error`: no warning band. Only `warn`: warnings, never a failure.
            let error = error.unwrap_or(f64::INFINITY);
            let warn = warn.unwrap_or(error);
            tolerances.push(Tolerance {
                models,
                warn,
                error,
            });
        }

        let mut skips = Vec::new();
        for s in raw.skip {
            let span = s.span();
            let s = s.into_inner();
            let check = self
                .required(s.check, &span, "check")
                .map(|c| Glob::new(c.get_ref()))
                .unwrap_or_else(|| Glob::new(""));
            let models = s.models.map(|m| self.globs(m)).unwrap_or_default();
            let reason = self.reason(s.reason, &span);
            skips.push(Skip {
                check,
                models,
                reason,
            });
        }

        let mut waivers = Vec::new();
        for w in raw.waiver {
            let span = w.span();
            let (line, _) = self.position(span.start);
            let w = w.into_inner();
            let check = self
                .required(w.check, &span, "check")
                .map(|c| Glob::new(c.get_ref()))
                .unwrap_or_else(|| Glob::new(""));
            let reason = self.reason(w.reason, &span);
            let expires = self
                .required(w.expires, &span, "expires")
                .and_then(|e| self.date(e));
            waivers.push(Waiver {
                check,
                model: w.model.map(|m| Glob::new(m.get_ref())),
                code: w.code.map(Spanned::into_inner),
                reason,
                expires: expires.unwrap_or(NaiveDate::MIN),
                line,
            });
        }

        let downgrade_fails = match &raw.downgrade {
            None => false,
            Some(d) => match d.get_ref().as_str() {
                "warn" => false,
                "fail" => true,
                other => {
                    self.error(
                        Some(d.span()),
                        &format!("`downgrade` must be \"warn\" or \"fail\", not {other:?}"),
                        "here",
                        None,
                    );
                    false
                }
            },
        };
        let require = raw.require.map(|r| self.require(r)).unwrap_or_default();

        Policy {
            fail_on_warning: raw.fail_on_warning.unwrap_or(false),
            require_signed_commits: raw.require_signed_commits.unwrap_or(false),
            retention_days,
            tolerances,
            skips,
            waivers,
            require,
            downgrade_fails,
        }
    }

    /// The `[require]` table: every key a claim, every value a level. The TOML table carries no
    /// span per key, so a bad key is located by searching for it after the table's start.
    fn require(&mut self, table: Spanned<toml::Table>) -> Vec<Requirement> {
        let span = table.span();
        let mut out = Vec::new();
        for (claim, value) in table.into_inner() {
            let at = self.text[span.start.min(self.text.len())..]
                .find(claim.as_str())
                .map(|i| span.start + i)
                .map_or(span.clone(), |i| i..i + claim.len());
            let (line, _) = self.position(at.start);
            if !requirable(&claim) {
                self.error(
                    Some(at.clone()),
                    &format!("`[require]` names {claim:?}, which is not a check id"),
                    "not a claim this verifier checks",
                    Some("a claim is a check id of spec/report.md, e.g. \"model.sql_hash\""),
                );
            }
            let level = match value.as_str() {
                Some(text) => RequiredLevel::parse(text),
                None => None,
            };
            let Some(level) = level else {
                let names: Vec<&str> = RequiredLevel::ALL.iter().map(|(n, _)| *n).collect();
                self.error(
                    Some(at),
                    &format!("`[require]` {claim:?} must be one of {}", names.join(", ")),
                    "not a proof level",
                    None,
                );
                continue;
            };
            out.push(Requirement { claim, level, line });
        }
        out.sort_by_key(|r| r.line);
        out
    }

    /// A TOML local date (`2026-12-31`) or a `"YYYY-MM-DD"` string.
    fn date(&mut self, v: Spanned<toml::Value>) -> Option<NaiveDate> {
        let span = v.span();
        let parsed = match v.get_ref() {
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                dt.date.and_then(|d| {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                })
            }
            toml::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                Some(span),
                "`expires` must be a date like 2026-12-31",
                "not a date",
                Some("a waiver is active through the end of its expiry day (UTC)"),
            );
        }
        parsed
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
version = 1
fail_on_warning = false
retention_days = 90

[[tolerance]]
models = "fct_*"
warn = 0.05
error = 0.2

[[tolerance]]
models = ["raw_*", "stg_orders"]
error = 0.5

[[skip]]
check = "warehouse.columns"
models = "raw_*"
reason = "raw tables follow the source's schema"

[[waiver]]
check = "warehouse.row_count"
model = "raw_orders"
reason = "backfill INC-123"
expires = 2026-12-31
"#;

    #[test]
    fn the_spec_example_parses() {
        let p = Policy::parse("rocky-verify.toml", EXAMPLE).unwrap();
        assert_eq!(p.retention_days, Some(90));
        assert_eq!(p.tolerance_for("fct_revenue"), Some((0.05, 0.2)));
        assert_eq!(p.tolerance_for("stg_orders"), Some((0.5, 0.5)));
        assert_eq!(p.tolerance_for("dim_x"), None);
        assert!(
            p.skip_for("warehouse.columns", Some("raw_orders"))
                .is_some()
        );
        assert!(
            p.skip_for("warehouse.columns", Some("fct_revenue"))
                .is_none()
        );
        let w = &p.waivers[0];
        assert_eq!(w.expires, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(w.line, 20);
        assert!(w.active_on(w.expires));
        assert!(!w.active_on(w.expires.succ_opt().unwrap()));
        assert_eq!(
            p.waivers_for(
                "warehouse.row_count",
                Some("raw_orders"),
                Some("row_count_mismatch")
            )
            .count(),
            1
        );
        assert_eq!(
            p.waivers_for("warehouse.row_count", Some("x"), None)
                .count(),
            0
        );
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        Policy::parse("p.toml", text)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect()
    }

    #[test]
    fn problems_are_reported_with_their_line() {
        let e = errors("[[waiver]]\ncheck = \"warehouse.row_count\"\nexpires = 2026-12-31\n");
        assert_eq!(e, vec![(1, "missing required key `reason`".to_owned())]);

        let e = errors("[[tolerance]]\nmodels = \"x\"\nwarn = 0.5\nerror = 0.1\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, 3, "{e:?}");

        let e = errors("\n\n[[waiver]]\ncheck = \"a.b\"\nreason = \"r\"\nexpires = \"soon\"\n");
        assert_eq!(e[0].0, 6, "{e:?}");

        let e = errors("fail_on_warnings = true\n");
        assert_eq!(e[0].0, 1, "{e:?}");
        assert!(e[0].1.contains("fail_on_warnings"), "{e:?}");

        let e = errors("retention_days = \"90\"\n");
        assert_eq!(e[0].0, 1, "{e:?}");

        let e = errors("a = [\n");
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let e = errors(
            "[[skip]]\ncheck = \"a.b\"\n\n[[waiver]]\ncheck = \"a.b\"\nreason = \"\"\nexpires = 2026-01-01\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].0, 1);
        assert_eq!(e[1].0, 6);
    }

    #[test]
    fn every_unknown_key_is_reported_with_the_other_problems() {
        // Two unknown keys (top level and in an entry) and a value problem: all three, in order.
        let e = errors(
            "fail_on_warnings = true\n[[skip]]\ncheck = \"a.b\"\nreason = \"r\"\nmodel = \"x\"\n\n\
             [[tolerance]]\nmodels = \"x\"\nwarn = 0.5\nerror = 0.1\n",
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!((e[0].0, e[1].0, e[2].0), (1, 5, 9), "{e:?}");
        assert!(e[0].1.contains("fail_on_warnings") && e[1].1.contains("`model` in [[skip]]"));
        // Control: the same policy with the keys spelled right has only the value problem.
        let e = errors(
            "fail_on_warning = true\n[[skip]]\ncheck = \"a.b\"\nreason = \"r\"\nmodels = \"x\"\n\n\
             [[tolerance]]\nmodels = \"x\"\nwarn = 0.5\nerror = 0.1\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn require_entries_are_validated_every_one() {
        let p = Policy::parse(
            "p.toml",
            "downgrade = \"fail\"\n[require]\n\"model.sql_hash\" = \"recomputed\"\n\"git.commit\" = \"present\"\n",
        )
        .unwrap();
        assert!(p.downgrade_fails);
        assert_eq!(
            p.require,
            vec![
                Requirement {
                    claim: "model.sql_hash".into(),
                    level: RequiredLevel::Recomputed,
                    line: 3
                },
                Requirement {
                    claim: "git.commit".into(),
                    level: RequiredLevel::Present,
                    line: 4
                },
            ]
        );
        // Control: no [require] and no downgrade key.
        let p = Policy::parse("p.toml", "").unwrap();
        assert!(p.require.is_empty() && !p.downgrade_fails);

        let e = errors(
            "downgrade = \"never\"\n[require]\n\"model.nope\" = \"recomputed\"\n\"git.commit\" = \"strong\"\n\"gate.policy\" = 3\n",
        );
        // `gate.policy = 3` is two problems: not a claim, not a level.
        let mut lines: Vec<usize> = e.iter().map(|x| x.0).collect();
        lines.sort_unstable();
        assert_eq!(lines, vec![1, 3, 4, 5, 5], "{e:?}");
    }

    #[test]
    fn globs_match_whole_names() {
        let g = Glob::new("fct_*");
        assert!(g.matches("fct_revenue") && g.matches("fct_"));
        assert!(!g.matches("xfct_revenue"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a?c").matches("abc") && !Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*_orders").matches("raw_orders"));
        assert!(Glob::new("a*b*c").matches("aXbYbZc"));
        assert!(!Glob::new("a*b*c").matches("aXbYbZ"));
        assert!(Glob::new("warehouse.*").matches("warehouse.row_count"));
    }
}
