//! What will be checked, decided before any check runs: the runs and models in scope
//! ([`scope`], [`select`]) and the checks a policy skips ([`policy`]). `run` and `gate` build a
//! [`Plan`] first and hand it to the check engine.

pub mod policy;
pub mod scope;
pub mod select;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::checks::catalogue::CheckId;
pub use scope::Scope;
pub use select::{Lineage, ModelFilter, SelectError};

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// A run id or `latest`.
    pub run_id: String,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The git repository.
    pub repo: PathBuf,
    /// Whether the user named `repo` (`--repo`); `false` when it is the default `.`, where an
    /// absent commit may only mean the wrong folder.
    pub repo_explicit: bool,
    /// `--adapter`: the dialect for Rocky fingerprints when neither `rocky.toml` at the commit
    /// nor the recorded `env_hash` names one.
    pub adapter: Option<crate::rocky::statements::Dialect>,
    /// A DuckDB file, if given.
    pub warehouse: Option<PathBuf>,
    /// The artifacts folder, if given.
    pub artifacts: Option<PathBuf>,
    /// `--strict`.
    pub strict: bool,
    /// The two passes over the whole ledger: the file's BLAKE3 and exact refcounts (`false`
    /// with `--no-ledger-scan`). Every check of the run itself runs either way.
    pub ledger_scan: bool,
    /// `--lake`: a local copy of the bucket holding the content-addressed tables' Delta logs.
    pub lake: Option<PathBuf>,
    /// `--model` / `--select`: only these models of the run are checked (`None`: all).
    pub models: Option<ModelFilter>,
    /// Whose commit signatures are trusted.
    pub signers: SignerOptions,
}

/// `--allowed-signers`, `--gpg-keyring` and the policy's `require_signed_commits`.
#[derive(Debug, Clone, Default)]
pub struct SignerOptions {
    /// An SSH allowed-signers file.
    pub allowed_signers: Option<PathBuf>,
    /// A GPG keyring (OpenPGP signatures are reported as not checkable).
    pub gpg_keyring: Option<PathBuf>,
    /// Unsigned or unverified commits fail instead of being unverifiable.
    pub require_signed: bool,
}

impl SignerOptions {
    /// Whether the commit signature check runs at all: only when asked for.
    pub fn wanted(&self) -> bool {
        self.allowed_signers.is_some() || self.gpg_keyring.is_some() || self.require_signed
    }
}

/// What a command will check, decided before any check runs: the runs in scope and, for each,
/// the models (`ModelExecution.model_name`) whose checks run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Run ids in start order, each with the models to check.
    pub runs: Vec<(String, BTreeSet<String>)>,
    /// The `--model` / `--select` selector, as the report shows it, when one was given.
    pub selector: Option<String>,
    /// Runs the scope chose before the selector was applied.
    pub runs_before_selector: usize,
}

impl Plan {
    /// The plan for `runs` (from [`scope::choose_runs`] or `run`'s one run) narrowed by
    /// `filter`: each run keeps the models the selector names (with the upstreams and
    /// downstreams `lineage` adds); a run left with none is dropped.
    pub fn new(
        runs: Vec<(String, BTreeSet<String>)>,
        filter: Option<&ModelFilter>,
        lineage: &Lineage,
    ) -> Plan {
        let before = runs.len();
        let Some(filter) = filter else {
            return Plan {
                runs,
                selector: None,
                runs_before_selector: before,
            };
        };
        let all: BTreeSet<String> = runs.iter().flat_map(|(_, m)| m.iter().cloned()).collect();
        let chosen = filter.select(&all, lineage);
        let runs = runs
            .into_iter()
            .filter_map(|(id, models)| {
                let kept: BTreeSet<String> = models.intersection(&chosen).cloned().collect();
                (!kept.is_empty()).then_some((id, kept))
            })
            .collect();
        Plan {
            runs,
            selector: Some(filter.text().to_owned()),
            runs_before_selector: before,
        }
    }

    /// Number of model checks planned (a model in two runs counts twice).
    pub fn models(&self) -> usize {
        self.runs.iter().map(|(_, m)| m.len()).sum()
    }

    /// Why the plan checks no run at all, if it does not.
    pub fn why_empty(&self, scope: &str) -> Option<String> {
        if !self.runs.is_empty() {
            return None;
        }
        Some(match &self.selector {
            Some(sel) if self.runs_before_selector > 0 => format!(
                "the selector {sel:?} matches no model of the {} run(s) in scope ({scope})",
                self.runs_before_selector
            ),
            _ => format!("the scope ({scope}) selects no run"),
        })
    }
}

/// The policy's `[[skip]]` entries, decided per check before the checks run: a group of
/// checks is not run at all when every check of it is skipped for every model in scope, and
/// the rest are dropped as they are reported.
#[derive(Debug, Clone, Copy)]
pub struct Skips<'a> {
    policy: &'a policy::Policy,
}

impl<'a> Skips<'a> {
    /// The skips of `policy`.
    pub fn new(policy: &'a policy::Policy) -> Skips<'a> {
        Skips { policy }
    }

    /// Whether the policy skips `check` about `model`. The gate's own checks (`gate.*`) are
    /// never skipped.
    pub fn skips(&self, check: CheckId, model: Option<&str>) -> bool {
        !check.as_str().starts_with("gate.")
            && self.policy.skip_index(check.as_str(), model).is_some()
    }

    /// Whether every check in `checks` is skipped for every model in `models` and for checks
    /// about no model: the group need not run.
    pub fn skips_all(&self, checks: &[CheckId], models: &BTreeSet<String>) -> bool {
        checks
            .iter()
            .all(|&c| self.skips(c, None) && models.iter().all(|m| self.skips(c, Some(m))))
    }
}
