//! Every way a [`Report`] is written besides JSON Lines (`report.rs`): the human report of every
//! command ([`human`]), and the CI formats of `gate` (`spec/gate.md` section 5): JUnit XML, SARIF
//! 2.1.0, GitHub Actions workflow commands and a Markdown step summary. Each is a hand-written
//! serialiser: the formats are small, and writing them by hand keeps the escaping rules visible
//! and tested.
//!
//! All of them are deterministic: same report, same bytes (no clock read while writing).

pub mod github;
pub mod human;
pub mod junit;
pub mod markdown;
pub mod pseudonym;
pub mod sarif;

use std::collections::BTreeMap;

use crate::checks::catalogue::{CheckId, Code, Points};
use crate::report::{Check, Outcome, Report};

/// Where a finding lives on disk, for SARIF locations and GitHub annotations.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    /// The ledger file as the user gave it.
    pub ledger: Option<String>,
    /// The warehouse file as given.
    pub warehouse: Option<String>,
    /// The artifacts folder as given.
    pub artifacts: Option<String>,
    /// `(run_id, model)` to the model's source file, already joined with the repository path.
    pub sources: BTreeMap<(String, String), String>,
    /// The repository as given (`--repo`), to place the sources the code checks found.
    pub repo: Option<String>,
}

impl Locator {
    /// This locator plus the model sources the report's code checks found in the repository
    /// (`model.source` and `model.sql_hash` subjects name the file), for models whose ledger
    /// rows record no `source_path` (Rocky's own ledgers): a warehouse finding about a model
    /// then points at its SQL, not at the binary warehouse file.
    pub fn with_found_sources(&self, report: &Report) -> Locator {
        let mut l = self.clone();
        for c in report
            .checks
            .iter()
            .filter(|c| matches!(c.check, CheckId::ModelSource | CheckId::ModelSqlHash))
        {
            if let (Some(run), Some(model), Some(file)) =
                (&c.subject.run_id, &c.subject.model, &c.subject.file)
            {
                let path = self
                    .repo
                    .as_deref()
                    .map_or_else(|| file.clone(), |d| join(d, file));
                l.sources
                    .entry((run.clone(), model.clone()))
                    .or_insert(path);
            }
        }
        l
    }

    /// Applies `f` to every path the locator prints (as [`Report::rewrite_strings`] does for
    /// the report: bundle paths made relative, identities pseudonymised).
    pub fn rewrite_strings(&mut self, f: &mut dyn FnMut(&mut String)) {
        for s in [&mut self.ledger, &mut self.warehouse, &mut self.artifacts]
            .into_iter()
            .flatten()
        {
            f(s);
        }
        for s in self.sources.values_mut() {
            f(s);
        }
    }

    /// The file a check is best located at: the artifact file, the model's source, the file the
    /// subject names, the warehouse for warehouse checks, else the ledger.
    pub fn location(&self, c: &Check) -> Option<String> {
        let s = &c.subject;
        if c.check.points() == Points::ArtifactFile
            && let (Some(dir), Some(h)) = (&self.artifacts, &s.artifact)
        {
            return Some(join(dir, &format!("{h}.parquet")));
        }
        if let Some(f) = &s.file
            && s.model.is_none()
        {
            return Some(f.clone());
        }
        if let (Some(run), Some(model)) = (&s.run_id, &s.model)
            && let Some(src) = self.sources.get(&(run.clone(), model.clone()))
        {
            return Some(src.clone());
        }
        if c.check.points() == Points::Warehouse
            && let Some(w) = &self.warehouse
        {
            return Some(w.clone());
        }
        self.ledger.clone()
    }
}

/// `dir/name` with exactly one `/`.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The upper-case word for an outcome, printed whether or not colour is on.
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Unknown => "UNKNOWN",
        Outcome::Unverifiable => "UNVERIFIABLE",
        Outcome::Warn => "WARN",
    }
}

/// What a group of checks is about: a model of a run, a run, or the ledger as a whole.
pub fn group_of(c: &Check) -> String {
    match (&c.subject.model, &c.subject.run_id) {
        (Some(m), Some(r)) => format!("{m} ({r})"),
        (Some(m), None) => m.clone(),
        (None, Some(r)) => format!("run {r}"),
        (None, None) => "ledger".to_owned(),
    }
}

/// How bad an outcome is, for "worst wins" when checks are grouped: fail, unknown,
/// unverifiable, warn, pass.
pub fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 4,
        Outcome::Unknown => 3,
        Outcome::Unverifiable => 2,
        Outcome::Warn => 1,
        Outcome::Pass => 0,
    }
}

/// One JUnit testcase / human row: the checks of one id about one group.
#[derive(Debug)]
pub struct Case<'a> {
    /// [`group_of`] the checks.
    pub group: String,
    /// The check id.
    pub check: CheckId,
    /// The checks, in report order.
    pub checks: Vec<&'a Check>,
}

impl Case<'_> {
    /// The worst outcome of the case.
    pub fn outcome(&self) -> Outcome {
        self.checks
            .iter()
            .map(|c| c.outcome)
            .max_by_key(|o| severity(*o))
            .unwrap_or(Outcome::Pass)
    }
}

/// Groups a report's checks into cases, in order of first appearance.
pub fn cases(report: &Report) -> Vec<Case<'_>> {
    let mut index: BTreeMap<(String, CheckId), usize> = BTreeMap::new();
    let mut out: Vec<Case<'_>> = Vec::new();
    for c in &report.checks {
        let group = group_of(c);
        let key = (group.clone(), c.check);
        let i = *index.entry(key).or_insert_with(|| {
            out.push(Case {
                group,
                check: c.check,
                checks: Vec::new(),
            });
            out.len() - 1
        });
        out[i].checks.push(c);
    }
    out
}

/// One line describing a check for a list inside a case: `[outcome code] subject: message`.
pub fn check_line(c: &Check) -> String {
    let mut about = Vec::new();
    if let Some(t) = &c.subject.table {
        about.push(t.clone());
    }
    if let Some(col) = &c.subject.column {
        about.push(format!("column {col}"));
    }
    if let Some(a) = &c.subject.artifact {
        about.push(format!("artifact {a}"));
    }
    if let Some(u) = &c.subject.upstream {
        about.push(format!("upstream {u}"));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" {}:", about.join(" "))
    };
    format!(
        "[{} {}]{about} {}",
        outcome_word(c.outcome).to_lowercase(),
        c.code.map_or("ok", Code::as_str),
        c.message
    )
}

/// A title for a check: `check model` (or `check run` / `check`).
pub fn title(c: &Check) -> String {
    match (&c.subject.model, &c.subject.run_id) {
        (Some(m), _) => format!("{} {m}", c.check),
        (None, Some(r)) => format!("{} {r}", c.check),
        (None, None) => c.check.as_str().to_owned(),
    }
}
