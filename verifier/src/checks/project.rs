//! The Rocky project at a run's `git_commit`, loaded once per run, and the accessor other checks
//! use to ask which model wrote an execution's table.
//!
//! The git checks ([`super::code`]) load it as soon as the recorded commit is found in the
//! repository: `rocky.toml` at the commit, the run's pipeline (`RunRecord.pipeline`), Rocky's
//! discovery and per-model configuration (`spec/hashes.md` 12.2 to 12.5, [`crate::rocky::project`])
//! and the adapter (12.2 item 4: `rocky.toml`, else the `env_hash` pre-image, else `--adapter`).
//! It then sits in [`Ctx::project`] for every later check of the run.
//!
//! # For other checks
//!
//! ```ignore
//! match ctx.rocky_models(&m.name) {
//!     RockyModels::Models(models) => { /* strategy, target, decided_by of each */ }
//!     RockyModels::Invalid(e) => { /* the project does not load: e.code() */ }
//!     RockyModels::NotLoaded => { /* no repository, commit or git checks for this run */ }
//! }
//! ```
//!
//! [`describe`] says, for a finding's message, which file decided a model's strategy and target.

use crate::rocky::project::{
    AdapterResolution, ConfigFile, DecidedBy, LoadOptions, Project, ProjectError, ResolvedModel,
};
use crate::rocky::sql_hash::dialect_from_env_hash;
use crate::rocky::statements::Dialect;
use crate::rocky::tree::GitCommitTree;

use super::Ctx;
use super::view::RunView;
use crate::evidence::git::Repo;

/// Where the dialect for Rocky's statements came from (`spec/hashes.md` 12.2 item 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdapterSource {
    /// `rocky.toml` at the commit: the pipeline's `target.adapter` block.
    Config {
        /// The adapter's name in `rocky.toml`.
        adapter: String,
    },
    /// The recorded `env_hash` recomputes with this adapter name, and with no other.
    EnvHash,
    /// `--adapter`.
    Flag,
}

/// The dialect a run's statements are recomputed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdapterChoice {
    /// The dialect.
    pub dialect: Dialect,
    /// Which source gave it.
    pub source: AdapterSource,
    /// The Snowflake adapter block's `warehouse` (`dynamic_table`), from `rocky.toml` only.
    pub warehouse: Option<String>,
}

impl AdapterChoice {
    /// "duckdb (rocky.toml adapter `local`)" and the like, for messages.
    pub fn describe(&self) -> String {
        let from = match &self.source {
            AdapterSource::Config { adapter } => format!("rocky.toml adapter `{adapter}`"),
            AdapterSource::EnvHash => "the env_hash pre-image".to_owned(),
            AdapterSource::Flag => "--adapter".to_owned(),
        };
        format!("{} (from {from})", self.dialect.name())
    }
}

/// The project of one run, as loaded from git.
#[derive(Debug, Clone)]
pub(crate) struct RunProject {
    /// The repository searched, as the user gave it (for messages).
    pub repo: String,
    /// The commit whose tree was read.
    pub commit: String,
    /// The project, or why it does not load as Rocky 1.71 would.
    pub loaded: Result<Project, ProjectError>,
    /// The dialect, when some source names one.
    pub adapter: Option<AdapterChoice>,
}

/// What Rocky's discovery at the run's commit says about one execution's table.
#[derive(Debug, Clone)]
pub(crate) enum RockyModels<'p> {
    /// No project for this run: the git checks did not run (`gate` without `--repo`), the run
    /// records no `git_commit`, or the repository or the commit could not be read.
    NotLoaded,
    /// The project at the commit does not load as Rocky 1.71 would; `ProjectError::code` is the
    /// reason code of `spec/hashes.md` 12.10.
    Invalid(&'p ProjectError),
    /// Every model whose resolved `target.table` is the execution's `model_name` (Rocky records
    /// the table, not the model name), in Rocky's load order. Empty: no model of the pipeline
    /// writes that table (a replication or snapshot entry, or a model removed at the commit).
    /// Each [`ResolvedModel`] carries its file (`path`), `strategy`, `target` (catalog, schema,
    /// table) and `decided_by` (which source decided each; [`describe`] renders it).
    Models(Vec<&'p ResolvedModel>),
}

impl<'a> Ctx<'a> {
    /// The Rocky project at this run's commit, if the git checks loaded one.
    pub fn rocky_project(&self) -> Option<&RunProject> {
        self.project.as_ref()
    }

    /// The resolved model(s) Rocky's discovery gives for a `ModelExecution.model_name` (the
    /// target table) at the run's commit. Call after [`super::code::check`] has run (it is step
    /// 3 of `run`; `gate` runs it when it has a `--repo`), else the answer is `NotLoaded`.
    pub fn rocky_models(&self, model_name: &str) -> RockyModels<'_> {
        let Some(p) = self.project.as_ref() else {
            return RockyModels::NotLoaded;
        };
        match &p.loaded {
            Err(e) => RockyModels::Invalid(e),
            Ok(project) => RockyModels::Models(project.models_for_table(model_name)),
        }
    }
}

/// Loads the project at `commit` and picks the adapter.
pub(crate) fn load(
    repo: &Repo,
    repo_label: &str,
    commit: &str,
    run: &RunView,
    flag: Option<Dialect>,
) -> RunProject {
    // rocky-writer records where its config file is; Rocky runs from the directory holding
    // rocky.toml, which is the repository root unless told otherwise.
    let project_dir = run
        .config_path
        .as_deref()
        .and_then(|p| p.rsplit_once('/').map(|(dir, _)| dir.to_owned()))
        .unwrap_or_default();
    let opts = LoadOptions {
        project_dir,
        pipeline: run.pipeline.clone(),
        env: Default::default(),
    };
    let loaded = match GitCommitTree::new(repo.git2(), commit) {
        Ok(tree) => Project::load(&tree, &opts),
        Err(e) => Err(ProjectError::TreeUnreadable(e)),
    };
    let adapter = choose_adapter(loaded.as_ref().ok(), run, flag);
    RunProject {
        repo: repo_label.to_owned(),
        commit: commit.to_owned(),
        loaded,
        adapter,
    }
}

/// `rocky.toml`, else the `env_hash` pre-image shared by the run's executions, else the flag.
fn choose_adapter(
    project: Option<&Project>,
    run: &RunView,
    flag: Option<Dialect>,
) -> Option<AdapterChoice> {
    if let Some(Project {
        adapter:
            AdapterResolution::Config {
                adapter,
                dialect,
                warehouse,
            },
        ..
    }) = project
    {
        return Some(AdapterChoice {
            dialect: *dialect,
            source: AdapterSource::Config {
                adapter: adapter.clone(),
            },
            warehouse: warehouse.clone(),
        });
    }
    // One pipeline, one adapter: every execution's env_hash must name the same one.
    if let Some(version) = run.rocky_version.as_deref() {
        let mut found = run
            .models
            .iter()
            .filter_map(|m| m.env_hash.as_deref())
            .map(|h| dialect_from_env_hash(h, version));
        if let Some(Some(first)) = found.next()
            && found.all(|d| d == Some(first))
        {
            return Some(AdapterChoice {
                dialect: first,
                source: AdapterSource::EnvHash,
                warehouse: None,
            });
        }
    }
    flag.map(|dialect| AdapterChoice {
        dialect,
        source: AdapterSource::Flag,
        warehouse: None,
    })
}

/// The file or rule that decided one field of `m`.
pub(crate) fn decided_by(m: &ResolvedModel, by: DecidedBy) -> String {
    let dir = m.path.rsplit_once('/').map_or("", |(d, _)| d);
    let in_dir = |name: &str| {
        if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        }
    };
    match by {
        DecidedBy::Model => match &m.config {
            ConfigFile::Sidecar(p) => format!("sidecar {p}"),
            ConfigFile::Frontmatter => format!("frontmatter of {}", m.path),
            ConfigFile::None => "the model".to_owned(),
        },
        DecidedBy::Group => format!("its group ({})", in_dir("groups/")),
        DecidedBy::Defaults => in_dir("_defaults.toml"),
        DecidedBy::Fallback => "Rocky's default".to_owned(),
        DecidedBy::Name => "the model name".to_owned(),
    }
}

/// "model `orders` (models/orders.sql): strategy full_refresh from models/_defaults.toml; target
/// warehouse.main.orders (catalog from ..., schema from ..., table from ...)".
pub(crate) fn describe(m: &ResolvedModel) -> String {
    let d = &m.decided_by;
    format!(
        "model `{}` ({}): strategy {} from {}; target {}.{}.{} (catalog from {}, schema from {}, \
         table from {})",
        m.name,
        m.path,
        m.strategy.name(),
        decided_by(m, d.strategy),
        m.target.catalog,
        m.target.schema,
        m.target.table,
        decided_by(m, d.catalog),
        decided_by(m, d.schema),
        decided_by(m, d.table),
    )
}
