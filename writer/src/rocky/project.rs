//! Loading a Rocky project as Rocky 1.71 does: `rocky.toml`, the pipeline and its dialect, model
//! discovery and configuration resolution (spec/hashes.md sections 12.2 to 12.5).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{ProjectError, TemplateError};
use crate::identity::Adapter;
use crate::ir::{FormatOptions, LakehouseFormat, TableRef};
use crate::rocky::env::substitute_env;
use crate::rocky::glob::ModelsGlob;
use crate::rocky::render::is_identifier;
use crate::rocky::strategy::{Fields, StrategyConfig};
use crate::rocky::templates::{
    Assumption, ModelSpec, RunInputs, Statements, SurrogateKey, check_surrogate_keys,
    rocky_statements,
};
use crate::rocky::tree::{FileTree, TreeEntry, join};
use crate::rocky::{NotRecomputableReason, ProjectErrorReason};

/// Rocky's limit on directory depth below the models base.
const MAX_DEPTH: usize = 64;

/// What to load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectInputs {
    /// The directory holding `rocky.toml`, repository-relative (`""` = the root).
    pub project_dir: String,
    /// The pipeline (`RunRecord.pipeline`); `None`: the project's only transformation pipeline.
    pub pipeline: Option<String>,
    /// Stated environment values for `${VAR}` placeholders; every other variable is taken as
    /// unset, and each default used is an assumption.
    pub env: BTreeMap<String, String>,
}

/// The language of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A `.sql` file.
    Sql,
    /// A `.rocky` DSL file (its SQL is the DSL lowering, not reproduced here).
    Rocky,
}

/// Where a model's own configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSource {
    /// `<stem>.toml` beside the model.
    Sidecar,
    /// `---toml` frontmatter inside the `.sql` file.
    Frontmatter,
    /// None (a `.rocky` file without a sidecar).
    None,
}

/// Which source decided a resolved field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The model's own configuration.
    Model,
    /// The model's group file.
    Group,
    /// The directory's `_defaults.toml`.
    Defaults,
    /// Rocky's built-in fallback.
    Fallback,
    /// The model's name (for `target.table`).
    Name,
}

/// The deciding source of each resolved field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DecidedBy {
    /// Of the strategy.
    pub strategy: Source,
    /// Of `target.catalog`.
    pub catalog: Source,
    /// Of `target.schema`.
    pub schema: Source,
    /// Of `target.table`.
    pub table: Source,
}

/// One model as Rocky resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The model name (unique in the project).
    pub name: String,
    /// The model file, repository-relative.
    pub path: String,
    /// `.sql` or `.rocky`.
    pub language: Language,
    /// Where its own configuration came from.
    pub config: ConfigSource,
    /// The resolved target, strategy, format and keys; `spec.sql` is the trimmed SQL (empty for
    /// `.rocky` models).
    pub spec: ModelSpec,
    /// Which source decided each field.
    pub decided_by: DecidedBy,
    /// The group it belongs to.
    pub group: Option<String>,
    /// `${VAR:-default}` defaults used by the files that configure it (`rocky.toml`, its
    /// directory's `_defaults.toml`, its group file and its own configuration).
    pub env_assumptions: Vec<Assumption>,
}

impl ResolvedModel {
    /// The model's SQL as loaded (`None` for `.rocky` models).
    pub fn sql(&self) -> Option<&str> {
        (self.language == Language::Sql).then_some(self.spec.sql.as_str())
    }

    /// Rocky's statements for one execution of this model on `dialect`.
    pub fn statements(
        &self,
        dialect: Adapter,
        run: &RunInputs,
    ) -> Result<Statements, TemplateError> {
        if self.language == Language::Rocky {
            return Err(TemplateError::NotRecomputable {
                reason: NotRecomputableReason::RockyDslModel,
                detail: format!(
                    "{} is a .rocky model: its SQL is the DSL lowering",
                    self.path
                ),
            });
        }
        rocky_statements(dialect, &self.spec, run)
    }
}

/// A loaded project: the pipeline, its dialect and its models in Rocky's load order (per walked
/// directory, `.sql` models by name, then `.rocky` models by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProject {
    /// The pipeline used.
    pub pipeline: String,
    /// The dialect from `rocky.toml`, or why it gives none (`adapter_missing`,
    /// `adapter_type_unsupported`): the models still resolve, and the dialect must come from
    /// elsewhere (the `env_hash` pre-image, or the caller).
    pub dialect: Result<Adapter, ProjectError>,
    /// The adapter block's `warehouse` (Snowflake dynamic tables).
    pub warehouse: Option<String>,
    /// The models.
    pub models: Vec<ResolvedModel>,
}

impl ResolvedProject {
    /// Rocky's statements for `model` on `dialect`, with the adapter's `warehouse` used when
    /// `run` states none. The returned assumptions are the run-variable ones; the model's
    /// `env_assumptions` are assumptions of the same result too (spec/hashes.md 12.1).
    pub fn statements(
        &self,
        model: &ResolvedModel,
        dialect: Adapter,
        run: &RunInputs,
    ) -> Result<Statements, TemplateError> {
        if run.snowflake_warehouse.is_none() && self.warehouse.is_some() {
            let mut run = run.clone();
            run.snowflake_warehouse.clone_from(&self.warehouse);
            return model.statements(dialect, &run);
        }
        model.statements(dialect, run)
    }
}

fn err(reason: ProjectErrorReason, path: &str, detail: impl Into<String>) -> ProjectError {
    ProjectError {
        reason,
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// Reads a UTF-8 file, or `None` when absent.
fn read_text<'t>(tree: &'t FileTree, path: &str) -> Result<Option<&'t str>, ProjectError> {
    match tree.get(path) {
        None => Ok(None),
        Some(TreeEntry::Symlink) => Err(err(
            ProjectErrorReason::SymlinkInTree,
            path,
            "a symlink cannot be followed in a tree",
        )),
        Some(TreeEntry::File(bytes)) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| err(ProjectErrorReason::TreeUnreadable, path, "not UTF-8")),
    }
}

/// A TOML text after `${VAR}` substitution, parsed.
struct TomlDoc {
    table: toml::Table,
    env_defaults: Vec<String>,
}

fn parse_toml(
    text: &str,
    path: &str,
    env: &BTreeMap<String, String>,
) -> Result<TomlDoc, ProjectError> {
    let substituted = substitute_env(text, env).map_err(|mut e| {
        e.path = path.to_owned();
        e
    })?;
    let table = toml::from_str::<toml::Table>(&substituted.text).map_err(|e| {
        err(
            ProjectErrorReason::TomlInvalid,
            path,
            e.to_string().trim().to_owned(),
        )
    })?;
    Ok(TomlDoc {
        table,
        env_defaults: substituted.defaults_used,
    })
}

fn invalid(path: &str) -> impl Fn(String) -> ProjectError + '_ {
    move |detail| err(ProjectErrorReason::TomlInvalid, path, detail)
}

/// Loads the project in `tree` as Rocky 1.71 would for one pipeline.
pub fn load_project(
    tree: &FileTree,
    inputs: &ProjectInputs,
) -> Result<ResolvedProject, ProjectError> {
    let project_dir = inputs.project_dir.trim_matches('/');
    let config_path = join(project_dir, "rocky.toml");
    let text = read_text(tree, &config_path)?.ok_or_else(|| {
        err(
            ProjectErrorReason::ConfigMissing,
            &config_path,
            "no rocky.toml",
        )
    })?;
    let config = parse_toml(text, &config_path, &inputs.env)?;
    let bad = invalid(&config_path);

    let adapters = named_blocks(&config.table, "adapter", &["type"]).map_err(&bad)?;
    let pipelines = named_blocks(
        &config.table,
        "pipeline",
        &[
            "source",
            "type",
            "models",
            "tables",
            "unique_key",
            "source_dir",
        ],
    )
    .map_err(&bad)?;
    let pipeline_type = |p: &toml::Table| -> Result<String, ProjectError> {
        Ok(Fields(p)
            .opt_string("type")
            .map_err(&bad)?
            .unwrap_or_else(|| "replication".to_owned()))
    };
    let (pipeline_name, pipeline) = match &inputs.pipeline {
        Some(name) => {
            let p = pipelines.get(name.as_str()).ok_or_else(|| {
                err(
                    ProjectErrorReason::PipelineMissing,
                    &config_path,
                    format!("no pipeline {name:?}"),
                )
            })?;
            (name.clone(), *p)
        }
        None => {
            let mut transformation = Vec::new();
            for (name, p) in &pipelines {
                if pipeline_type(p)? == "transformation" {
                    transformation.push((name.to_string(), *p));
                }
            }
            if transformation.len() != 1 {
                return Err(err(
                    ProjectErrorReason::PipelineMissing,
                    &config_path,
                    format!(
                        "no pipeline named and {} transformation pipelines",
                        transformation.len()
                    ),
                ));
            }
            transformation.remove(0)
        }
    };
    let ty = pipeline_type(pipeline)?;
    if ty != "transformation" {
        return Err(err(
            ProjectErrorReason::PipelineNotTransformation,
            &config_path,
            format!("pipeline {pipeline_name:?} has type {ty:?}"),
        ));
    }
    let p = Fields(pipeline);
    let adapter_name = p
        .opt_table("target")
        .map_err(&bad)?
        .map(|t| Fields(t).opt_string("adapter"))
        .transpose()
        .map_err(&bad)?
        .flatten()
        .unwrap_or_else(|| "default".to_owned());
    let models_glob = p
        .opt_string("models")
        .map_err(&bad)?
        .unwrap_or_else(|| "models/**".to_owned());

    let mut warehouse = None;
    let dialect = match adapters.get(adapter_name.as_str()) {
        None => Err(err(
            ProjectErrorReason::AdapterMissing,
            &config_path,
            format!("no [adapter.{adapter_name}] block"),
        )),
        Some(block) => {
            let a = Fields(block);
            warehouse = a.opt_string("warehouse").map_err(&bad)?;
            let ty = a.opt_string("type").map_err(&bad)?.unwrap_or_default();
            match ty.as_str() {
                "duckdb" => Ok(Adapter::Duckdb),
                "databricks" => Ok(Adapter::Databricks),
                "snowflake" => Ok(Adapter::Snowflake),
                "bigquery" => Ok(Adapter::Bigquery),
                "trino" => Ok(Adapter::Trino),
                other => Err(err(
                    ProjectErrorReason::AdapterTypeUnsupported,
                    &config_path,
                    format!("adapter {adapter_name:?} has type {other:?}, not a warehouse"),
                )),
            }
        }
    };

    let glob = ModelsGlob::parse(&models_glob, |rel| tree.is_dir(&join(project_dir, rel)))
        .map_err(|d| err(ProjectErrorReason::ModelsGlobUnsupported, &config_path, d))?;
    let loader = Loader {
        tree,
        project_dir,
        glob: &glob,
        env: &inputs.env,
        config_env: config.env_defaults,
    };
    let models = loader.load_models()?;
    Ok(ResolvedProject {
        pipeline: pipeline_name,
        dialect,
        warehouse,
        models,
    })
}

/// `[key]` holding one of `shorthand` directly is the single block `default`; otherwise every
/// entry of `[key]` is a named block.
fn named_blocks<'a>(
    root: &'a toml::Table,
    key: &str,
    shorthand: &[&str],
) -> Result<BTreeMap<&'a str, &'a toml::Table>, String> {
    let mut blocks = BTreeMap::new();
    let Some(table) = Fields(root).opt_table(key)? else {
        return Ok(blocks);
    };
    if shorthand.iter().any(|k| table.contains_key(*k)) {
        blocks.insert("default", table);
        return Ok(blocks);
    }
    for (name, value) in table {
        match value {
            toml::Value::Table(t) => {
                blocks.insert(name.as_str(), t);
            }
            _ => return Err(format!("{key}.{name} is not a table")),
        }
    }
    Ok(blocks)
}

/// `_defaults.toml` of one directory.
#[derive(Default)]
struct Defaults {
    catalog: Option<String>,
    schema: Option<String>,
    strategy: Option<StrategyConfig>,
    env_defaults: Vec<String>,
}

/// `groups/<name>.toml` of one directory.
struct Group {
    schema_template: Option<String>,
    strategy: Option<StrategyConfig>,
    enforce: bool,
    env_defaults: Vec<String>,
}

/// A model's own configuration (sidecar or frontmatter), with the keys of section 12.5.
#[derive(Default)]
struct OwnConfig {
    name: Option<String>,
    strategy: Option<StrategyConfig>,
    catalog: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    sources: Vec<TableRef>,
    format: Option<LakehouseFormat>,
    format_options: FormatOptions,
    group: Option<String>,
    args: BTreeMap<String, String>,
    surrogate_keys: Vec<SurrogateKey>,
    env_defaults: Vec<String>,
}

struct Loader<'a> {
    tree: &'a FileTree,
    project_dir: &'a str,
    glob: &'a ModelsGlob,
    env: &'a BTreeMap<String, String>,
    config_env: Vec<String>,
}

impl Loader<'_> {
    fn load_models(&self) -> Result<Vec<ResolvedModel>, ProjectError> {
        let base = self.glob.base_path();
        let base_full = join(self.project_dir, &base);
        if let Some(TreeEntry::Symlink) = self.tree.get(&base_full) {
            return Err(err(
                ProjectErrorReason::SymlinkInTree,
                &base_full,
                "the models base is a symlink",
            ));
        }
        let mut models = Vec::new();
        if self.tree.is_dir(&base_full) {
            self.walk(&base, 0, &mut models)?;
        }
        if models.is_empty() {
            return Err(err(
                ProjectErrorReason::NoModels,
                &base_full,
                "no model files match the pipeline's models glob",
            ));
        }
        let mut seen = BTreeSet::new();
        for m in &models {
            if !seen.insert(m.name.as_str()) {
                return Err(err(
                    ProjectErrorReason::DuplicateModel,
                    &m.path,
                    format!("model name {:?} is used twice", m.name),
                ));
            }
        }
        Ok(models)
    }

    /// Pre-order: this directory, then its subdirectories in byte order.
    fn walk(
        &self,
        rel: &str,
        depth: usize,
        out: &mut Vec<ResolvedModel>,
    ) -> Result<(), ProjectError> {
        let full = join(self.project_dir, rel);
        if depth > MAX_DEPTH {
            return Err(err(
                ProjectErrorReason::DepthExceeded,
                &full,
                format!("more than {MAX_DEPTH} levels below the models base"),
            ));
        }
        let listing = self.tree.list(&full);
        if let Some(link) = listing.symlinks.first() {
            return Err(err(
                ProjectErrorReason::SymlinkInTree,
                &join(&full, link),
                "a symlink in the models tree cannot be followed",
            ));
        }
        self.load_dir(rel, &listing.files, out)?;
        for d in &listing.dirs {
            self.walk(&join(rel, d), depth + 1, out)?;
        }
        Ok(())
    }

    fn load_dir(
        &self,
        rel: &str,
        files: &[String],
        out: &mut Vec<ResolvedModel>,
    ) -> Result<(), ProjectError> {
        let matching = |ext: &str| -> Vec<(&str, &str)> {
            files
                .iter()
                .filter_map(|f| {
                    let stem = f.strip_suffix(ext)?;
                    (!stem.is_empty() && self.glob.matches(&join(rel, f)))
                        .then_some((f.as_str(), stem))
                })
                .collect()
        };
        let sql_files = matching(".sql");
        let rocky_files = matching(".rocky");
        if sql_files.is_empty() && rocky_files.is_empty() {
            return Ok(());
        }
        let dir_full = join(self.project_dir, rel);
        let defaults = self.load_defaults(&dir_full)?;
        let groups = self.load_groups(&dir_full)?;
        let has = |name: &str| files.iter().any(|f| f == name);

        let mut sql_models = Vec::new();
        for (file, stem) in sql_files {
            let path = join(&dir_full, file);
            let text = read_text(self.tree, &path)?.unwrap_or_default();
            let sidecar = format!("{stem}.toml");
            let (own, sql, source) = if has(&sidecar) {
                let sidecar_path = join(&dir_full, &sidecar);
                let toml_text = read_text(self.tree, &sidecar_path)?.unwrap_or_default();
                (
                    self.own_config(toml_text, &sidecar_path)?,
                    text.trim(),
                    ConfigSource::Sidecar,
                )
            } else {
                let (front, sql) = split_frontmatter(text).ok_or_else(|| {
                    err(
                        ProjectErrorReason::MissingFrontmatter,
                        &path,
                        "no sidecar and no ---toml frontmatter",
                    )
                })?;
                (
                    self.own_config(front, &path)?,
                    sql,
                    ConfigSource::Frontmatter,
                )
            };
            sql_models.push(self.resolve(
                &path,
                stem,
                Language::Sql,
                source,
                own,
                sql,
                &defaults,
                &groups,
            )?);
        }
        let mut rocky_models = Vec::new();
        for (file, stem) in rocky_files {
            let path = join(&dir_full, file);
            let sidecar = format!("{stem}.toml");
            let model = if has(&sidecar) {
                let sidecar_path = join(&dir_full, &sidecar);
                let toml_text = read_text(self.tree, &sidecar_path)?.unwrap_or_default();
                let own = self.own_config(toml_text, &sidecar_path)?;
                self.resolve(
                    &path,
                    stem,
                    Language::Rocky,
                    ConfigSource::Sidecar,
                    own,
                    "",
                    &defaults,
                    &groups,
                )?
            } else {
                self.rocky_without_sidecar(&path, stem, &defaults)
            };
            rocky_models.push(model);
        }
        sql_models.sort_by(|a, b| a.name.cmp(&b.name));
        rocky_models.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(sql_models);
        out.extend(rocky_models);
        Ok(())
    }

    fn load_defaults(&self, dir_full: &str) -> Result<Defaults, ProjectError> {
        let path = join(dir_full, "_defaults.toml");
        let Some(text) = read_text(self.tree, &path)? else {
            return Ok(Defaults::default());
        };
        let doc = parse_toml(text, &path, self.env)?;
        for key in ["name", "depends_on", "sources"] {
            if doc.table.contains_key(key) {
                return Err(err(
                    ProjectErrorReason::DefaultsFieldInvalid,
                    &path,
                    format!("_defaults.toml cannot set {key}"),
                ));
            }
        }
        let f = Fields(&doc.table);
        let bad = invalid(&path);
        let target = f.opt_table("target").map_err(&bad)?;
        let t = target.map(Fields);
        Ok(Defaults {
            catalog: t
                .as_ref()
                .map(|t| t.opt_string("catalog"))
                .transpose()
                .map_err(&bad)?
                .flatten(),
            schema: t
                .as_ref()
                .map(|t| t.opt_string("schema"))
                .transpose()
                .map_err(&bad)?
                .flatten(),
            strategy: f
                .opt_table("strategy")
                .map_err(&bad)?
                .map(StrategyConfig::from_toml)
                .transpose()
                .map_err(&bad)?,
            env_defaults: doc.env_defaults,
        })
    }

    /// Every `groups/*.toml` of the directory, read whether or not a model uses it.
    fn load_groups(&self, dir_full: &str) -> Result<BTreeMap<String, Group>, ProjectError> {
        let groups_dir = join(dir_full, "groups");
        let mut groups = BTreeMap::new();
        for file in self.tree.list(&groups_dir).files {
            let Some(name) = file.strip_suffix(".toml").filter(|s| !s.is_empty()) else {
                continue;
            };
            let path = join(&groups_dir, &file);
            let text = read_text(self.tree, &path)?.unwrap_or_default();
            let doc = parse_toml(text, &path, self.env)?;
            let bad = invalid(&path);
            // Group files deny unknown keys.
            if let Some(k) = doc.table.keys().find(|k| {
                ![
                    "schema_template",
                    "strategy",
                    "tags",
                    "governance",
                    "enforce",
                ]
                .contains(&k.as_str())
            }) {
                return Err(bad(format!("group file key {k:?} is not allowed")));
            }
            let f = Fields(&doc.table);
            if let Some(tags) = f.opt_table("tags").map_err(&bad)?
                && tags.values().any(|v| !v.is_str())
            {
                return Err(bad("tags values must be strings".into()));
            }
            f.opt_table("governance").map_err(&bad)?;
            groups.insert(
                name.to_owned(),
                Group {
                    schema_template: f.opt_string("schema_template").map_err(&bad)?,
                    strategy: f
                        .opt_table("strategy")
                        .map_err(&bad)?
                        .map(StrategyConfig::from_toml)
                        .transpose()
                        .map_err(&bad)?,
                    enforce: f.opt_bool("enforce").map_err(&bad)?.unwrap_or(false),
                    env_defaults: doc.env_defaults,
                },
            );
        }
        Ok(groups)
    }

    /// Reads the keys of section 12.5 from a sidecar or frontmatter text.
    fn own_config(&self, text: &str, path: &str) -> Result<OwnConfig, ProjectError> {
        let doc = parse_toml(text, path, self.env)?;
        let bad = invalid(path);
        let f = Fields(&doc.table);
        let mut c = OwnConfig {
            name: f.opt_string("name").map_err(&bad)?,
            strategy: f
                .opt_table("strategy")
                .map_err(&bad)?
                .map(StrategyConfig::from_toml)
                .transpose()
                .map_err(&bad)?,
            group: f.opt_string("group").map_err(&bad)?,
            env_defaults: doc.env_defaults.clone(),
            ..OwnConfig::default()
        };
        if let Some(t) = f.opt_table("target").map_err(&bad)? {
            let t = Fields(t);
            c.catalog = t.opt_string("catalog").map_err(&bad)?;
            c.schema = t.opt_string("schema").map_err(&bad)?;
            c.table = t.opt_string("table").map_err(&bad)?;
        }
        for s in array_of_tables(&doc.table, "sources").map_err(&bad)? {
            let s = Fields(s);
            c.sources.push(TableRef::new(
                s.string("catalog").map_err(&bad)?,
                s.string("schema").map_err(&bad)?,
                s.string("table").map_err(&bad)?,
            ));
        }
        c.format = match f.opt_string("format").map_err(&bad)?.as_deref() {
            None => None,
            Some("delta_table") => Some(LakehouseFormat::DeltaTable),
            Some("iceberg_table") => Some(LakehouseFormat::IcebergTable),
            Some("materialized_view") => Some(LakehouseFormat::MaterializedView),
            Some("streaming_table") => Some(LakehouseFormat::StreamingTable),
            Some("table") => Some(LakehouseFormat::Table),
            Some("view") => Some(LakehouseFormat::View),
            Some(other) => return Err(bad(format!("format {other:?} is not a lakehouse format"))),
        };
        if let Some(o) = f.opt_table("format_options").map_err(&bad)? {
            let o_fields = Fields(o);
            c.format_options.partition_by = o_fields
                .opt_strings("partition_by")
                .map_err(&bad)?
                .unwrap_or_default();
            c.format_options.cluster_by = o_fields
                .opt_strings("cluster_by")
                .map_err(&bad)?
                .unwrap_or_default();
            c.format_options.comment = o_fields.opt_string("comment").map_err(&bad)?;
            c.format_options.table_properties = match o.get("table_properties") {
                None => Vec::new(),
                Some(toml::Value::Array(pairs)) => pairs
                    .iter()
                    .map(|p| match p.as_array().map(Vec::as_slice) {
                        Some([toml::Value::String(k), toml::Value::String(v)]) => {
                            Ok((k.clone(), v.clone()))
                        }
                        _ => Err(bad(
                            "table_properties entries must be [key, value] strings".into()
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("table_properties is not an array".into())),
            };
        }
        if let Some(args) = f.opt_table("args").map_err(&bad)? {
            for (k, v) in args {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(format!("args.{k} is not a string")))?;
                c.args.insert(k.clone(), v.to_owned());
            }
        }
        for k in array_of_tables(&doc.table, "surrogate_key").map_err(&bad)? {
            if let Some(extra) = k.keys().find(|key| *key != "name" && *key != "columns") {
                return Err(bad(format!("surrogate_key key {extra:?} is not allowed")));
            }
            let k = Fields(k);
            c.surrogate_keys.push(SurrogateKey {
                name: k.string("name").map_err(&bad)?,
                columns: k.strings("columns").map_err(&bad)?,
            });
        }
        Ok(c)
    }

    /// Section 12.5: precedence of model, group, `_defaults.toml` and fallbacks.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        path: &str,
        stem: &str,
        language: Language,
        config: ConfigSource,
        own: OwnConfig,
        sql: &str,
        defaults: &Defaults,
        groups: &BTreeMap<String, Group>,
    ) -> Result<ResolvedModel, ProjectError> {
        let name = own.name.clone().unwrap_or_else(|| stem.to_owned());
        let group = match &own.group {
            None => None,
            Some(g) => Some(groups.get(g).ok_or_else(|| {
                err(
                    ProjectErrorReason::UnknownGroup,
                    path,
                    format!("no groups/{g}.toml beside the model"),
                )
            })?),
        };
        if let Some(g) = group {
            let pins_strategy = own.strategy.is_some() && g.strategy.is_some();
            let pins_schema = own.schema.is_some() && g.schema_template.is_some();
            if g.enforce && (pins_strategy || pins_schema) {
                return Err(err(
                    ProjectErrorReason::GroupOverride,
                    path,
                    "the model overrides a setting of its enforced group",
                ));
            }
            if !own.args.is_empty() && pins_schema {
                return Err(err(
                    ProjectErrorReason::GroupArgsWithPinnedSchema,
                    path,
                    "[args] with a pinned target.schema under a schema_template",
                ));
            }
        }
        let (strategy, strategy_by) = if let Some(s) = own.strategy.clone() {
            (s, Source::Model)
        } else if let Some(s) = group.and_then(|g| g.strategy.clone()) {
            (s, Source::Group)
        } else if let Some(s) = defaults.strategy.clone() {
            (s, Source::Defaults)
        } else {
            (StrategyConfig::FullRefresh, Source::Fallback)
        };
        let missing = |what: &str| {
            err(
                ProjectErrorReason::MissingTarget,
                path,
                format!("no target.{what} from the model or _defaults.toml"),
            )
        };
        let (catalog, catalog_by) = match (&own.catalog, &defaults.catalog) {
            (Some(c), _) => (c.clone(), Source::Model),
            (None, Some(c)) => (c.clone(), Source::Defaults),
            (None, None) => return Err(missing("catalog")),
        };
        let template = group.and_then(|g| g.schema_template.as_deref());
        let (schema, schema_by) = match (&own.schema, template, &defaults.schema) {
            (Some(s), _, _) => (s.clone(), Source::Model),
            (None, Some(t), _) => (fill_schema_template(t, &own.args, path)?, Source::Group),
            (None, None, Some(s)) => (s.clone(), Source::Defaults),
            (None, None, None) => return Err(missing("schema")),
        };
        let (table, table_by) = match &own.table {
            Some(t) => (t.clone(), Source::Model),
            None => (name.clone(), Source::Name),
        };
        let surrogate_keys = if language == Language::Sql {
            own.surrogate_keys
        } else {
            Vec::new()
        };
        if !matches!(strategy, StrategyConfig::TimeInterval { .. }) {
            check_surrogate_keys(&surrogate_keys).map_err(|e| match e {
                TemplateError::Project { reason, detail } => err(reason, path, detail),
                other => err(
                    ProjectErrorReason::SurrogateKeyInvalid,
                    path,
                    other.to_string(),
                ),
            })?;
        }
        let group_env = group.map_or(&[][..], |g| &g.env_defaults);
        let env_assumptions = env_assumptions(&[
            &self.config_env,
            &defaults.env_defaults,
            group_env,
            &own.env_defaults,
        ]);
        Ok(ResolvedModel {
            name,
            path: path.to_owned(),
            language,
            config,
            spec: ModelSpec {
                target: TableRef::new(catalog, schema, table),
                sql: sql.to_owned(),
                strategy,
                format: own.format,
                format_options: own.format_options,
                sources: own.sources,
                surrogate_keys,
            },
            decided_by: DecidedBy {
                strategy: strategy_by,
                catalog: catalog_by,
                schema: schema_by,
                table: table_by,
            },
            group: own.group,
            env_assumptions,
        })
    }

    /// A `.rocky` model without a sidecar: Rocky's fixed fallbacks, no group.
    fn rocky_without_sidecar(&self, path: &str, stem: &str, defaults: &Defaults) -> ResolvedModel {
        let pick = |v: &Option<String>, fallback: &str| match v {
            Some(v) => (v.clone(), Source::Defaults),
            None => (fallback.to_owned(), Source::Fallback),
        };
        let (catalog, catalog_by) = pick(&defaults.catalog, "warehouse");
        let (schema, schema_by) = pick(&defaults.schema, "default");
        let (strategy, strategy_by) = match &defaults.strategy {
            Some(s) => (s.clone(), Source::Defaults),
            None => (StrategyConfig::FullRefresh, Source::Fallback),
        };
        let env_assumptions = env_assumptions(&[&self.config_env, &defaults.env_defaults]);
        ResolvedModel {
            name: stem.to_owned(),
            path: path.to_owned(),
            language: Language::Rocky,
            config: ConfigSource::None,
            spec: ModelSpec::new(TableRef::new(catalog, schema, stem), "", strategy),
            decided_by: DecidedBy {
                strategy: strategy_by,
                catalog: catalog_by,
                schema: schema_by,
                table: Source::Name,
            },
            group: None,
            env_assumptions,
        }
    }
}

/// The env defaults of the files that configure a model, in file order, each once.
fn env_assumptions(files: &[&[String]]) -> Vec<Assumption> {
    let mut out: Vec<Assumption> = Vec::new();
    for var in files.iter().flat_map(|f| f.iter()) {
        let a = Assumption::EnvDefault(var.clone());
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn array_of_tables<'a>(root: &'a toml::Table, key: &str) -> Result<Vec<&'a toml::Table>, String> {
    match root.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_table()
                    .ok_or_else(|| format!("{key} entries must be tables"))
            })
            .collect(),
        Some(_) => Err(format!("{key} is not an array of tables")),
    }
}

/// Inline frontmatter: after `trim_start`, `---toml`, then the text up to the first `\n---` is
/// the TOML (trimmed) and the rest the SQL (trimmed).
fn split_frontmatter(text: &str) -> Option<(&str, &str)> {
    let rest = text.trim_start().strip_prefix("---toml")?;
    let (front, sql) = rest.split_once("\n---")?;
    Some((front.trim(), sql.trim()))
}

/// Fills `{name}` / `{name:...}` placeholders from `[args]` (section 12.5).
fn fill_schema_template(
    template: &str,
    args: &BTreeMap<String, String>,
    path: &str,
) -> Result<String, ProjectError> {
    let mut out = String::new();
    let mut i = 0;
    while i < template.len() {
        let rest = &template[i..];
        let c = rest.chars().next().unwrap_or_default();
        if c == '{'
            && let Some(close) = rest.find('}')
        {
            let body = &rest[1..close];
            let arg_name = body.split_once(':').map_or(body, |(n, _)| n);
            if let Some(v) = args.get(arg_name) {
                out.push_str(v);
                i += close + 1;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    if out.contains('{') {
        return Err(err(
            ProjectErrorReason::GroupSchemaUnfilled,
            path,
            format!("schema_template {template:?} leaves {out:?}"),
        ));
    }
    if !is_identifier(&out) {
        return Err(err(
            ProjectErrorReason::GroupSchemaInvalid,
            path,
            format!("filled schema {out:?} is not an identifier"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_template_filling() {
        let args: BTreeMap<String, String> = [
            ("a".to_string(), "x".to_string()),
            ("b".to_string(), "y".to_string()),
        ]
        .into();
        let fill = |t: &str| fill_schema_template(t, &args, "p").map_err(|e| e.reason);
        assert_eq!(fill("s_{a}_{b:fmt}"), Ok("s_x_y".into()));
        assert_eq!(fill("s_{c}"), Err(ProjectErrorReason::GroupSchemaUnfilled));
        assert_eq!(fill("s_{{a}"), Err(ProjectErrorReason::GroupSchemaUnfilled));
        assert_eq!(fill("s_}{a}"), Err(ProjectErrorReason::GroupSchemaInvalid));
        assert_eq!(fill("plain"), Ok("plain".into()));
    }

    #[test]
    fn frontmatter_split() {
        assert_eq!(
            split_frontmatter("\n ---toml\nname = \"a\"\n---\n SELECT 1\n---x\n"),
            Some(("name = \"a\"", "SELECT 1\n---x"))
        );
        assert_eq!(split_frontmatter("SELECT 1"), None);
        assert_eq!(split_frontmatter("---toml\nname = \"a\""), None);
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;
    use crate::rocky::TreeEntry;

    const CONFIG: &str = "[adapter.local]\ntype = \"duckdb\"\n[pipeline.p]\ntype = \"transformation\"\ntarget = { adapter = \"local\" }\n";
    const DEFAULTS: &str = "[target]\ncatalog = \"wh\"\nschema = \"main\"\n";

    fn tree(extra: &[(&str, &str)]) -> FileTree {
        let mut files = vec![("rocky.toml", CONFIG), ("models/_defaults.toml", DEFAULTS)];
        files.extend_from_slice(extra);
        FileTree::from_files(files).unwrap()
    }

    fn load(tree: &FileTree) -> Result<ResolvedProject, ProjectErrorReason> {
        let inputs = ProjectInputs {
            pipeline: Some("p".into()),
            ..ProjectInputs::default()
        };
        load_project(tree, &inputs).map_err(|e| e.reason)
    }

    #[test]
    fn symlinks_in_the_walked_tree_are_refused() {
        let mut t = tree(&[("models/a.sql", "SELECT 1"), ("models/a.toml", "")]);
        t.insert("models/sub/link".into(), TreeEntry::Symlink)
            .unwrap();
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::SymlinkInTree);
        // Outside the models base a link does not matter.
        let mut t = tree(&[("models/a.sql", "SELECT 1"), ("models/a.toml", "")]);
        t.insert("docs/link".into(), TreeEntry::Symlink).unwrap();
        assert!(load(&t).is_ok());
    }

    #[test]
    fn depth_limit_is_64_levels_below_the_base() {
        let at = |levels: usize| format!("models/{}x.sql", "d/".repeat(levels));
        let ok = at(64);
        let t = tree(&[(
            &ok,
            "---toml\n[target]\ncatalog = \"c\"\nschema = \"s\"\n---\nSELECT 1",
        )]);
        assert_eq!(load(&t).unwrap().models.len(), 1);
        let deep = at(65);
        let t = tree(&[(&deep, "SELECT 1")]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::DepthExceeded);
    }

    #[test]
    fn unsupported_globs_and_pipeline_choice() {
        let config = |body: &str| {
            FileTree::from_files([
                ("rocky.toml", body.to_owned()),
                (
                    "models/a.sql",
                    "---toml\n[target]\ncatalog = \"c\"\nschema = \"s\"\n---\nSELECT 1".to_owned(),
                ),
            ])
            .unwrap()
        };
        let bad_glob = config("[pipeline.p]\ntype = \"transformation\"\nmodels = \"../x/**\"\n");
        assert_eq!(
            load(&bad_glob).unwrap_err(),
            ProjectErrorReason::ModelsGlobUnsupported
        );
        let two = config(
            "[pipeline.a]\ntype = \"transformation\"\n[pipeline.b]\ntype = \"transformation\"\n",
        );
        let unnamed = ProjectInputs::default();
        assert_eq!(
            load_project(&two, &unnamed).unwrap_err().reason,
            ProjectErrorReason::PipelineMissing
        );
        assert_eq!(load(&two).unwrap_err(), ProjectErrorReason::PipelineMissing);
        let one = config("[pipeline.a]\ntype = \"transformation\"\n[pipeline.r]\nsource = {}\n");
        let p = load_project(&one, &unnamed).unwrap();
        assert_eq!(p.pipeline, "a");
        assert_eq!(
            p.dialect.unwrap_err().reason,
            ProjectErrorReason::AdapterMissing
        );
        let bad_type = config("[pipeline.p]\ntype = 3\n");
        assert_eq!(
            load(&bad_type).unwrap_err(),
            ProjectErrorReason::TomlInvalid
        );
    }

    #[test]
    fn names_are_unique_across_sql_and_rocky_models() {
        let t = tree(&[
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", ""),
            ("models/x/a.rocky", "from t"),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::DuplicateModel);
    }

    #[test]
    fn rocky_model_with_a_sidecar_resolves_like_sql() {
        let t = FileTree::from_files([
            ("rocky.toml", CONFIG),
            ("models/a.rocky", "from t"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k\"\ncolumns = []\n",
            ),
        ])
        .unwrap();
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::MissingTarget);
        let t = tree(&[
            ("models/a.rocky", "from t"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k\"\ncolumns = []\n",
            ),
        ]);
        // Surrogate keys are never read from .rocky models.
        let p = load(&t).unwrap();
        assert!(p.models[0].spec.surrogate_keys.is_empty());
        assert_eq!(p.models[0].sql(), None);
        let e = p.models[0]
            .statements(Adapter::Duckdb, &RunInputs::default())
            .unwrap_err();
        assert_eq!(e.code(), "rocky_dsl_model");
    }

    #[test]
    fn config_env_defaults_are_every_models_assumption() {
        let t = FileTree::from_files([
            (
                "rocky.toml",
                "[adapter.local]\ntype = \"${KIND:-snowflake}\"\nwarehouse = \"${WH:-W1}\"\n[pipeline.p]\ntype = \"transformation\"\ntarget = { adapter = \"local\" }\n",
            ),
            ("models/_defaults.toml", DEFAULTS),
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", "[strategy]\ntype = \"dynamic_table\"\ntarget_lag = \"${LAG:-1 hour}\"\n"),
        ])
        .unwrap();
        let p = load(&t).unwrap();
        let m = &p.models[0];
        let env: Vec<String> = m.env_assumptions.iter().map(ToString::to_string).collect();
        assert_eq!(
            env,
            ["env_default:KIND", "env_default:WH", "env_default:LAG"]
        );
        let s = p
            .statements(m, p.dialect.clone().unwrap(), &RunInputs::default())
            .unwrap();
        assert!(
            s.statements[0].contains("WAREHOUSE = W1"),
            "{:?}",
            s.statements
        );
        // A stated warehouse wins over the adapter block's.
        let run = RunInputs {
            snowflake_warehouse: Some("W2".into()),
            ..RunInputs::default()
        };
        let s = p.statements(m, Adapter::Snowflake, &run).unwrap();
        assert!(s.statements[0].contains("WAREHOUSE = W2"));
    }

    #[test]
    fn groups_and_defaults_are_per_directory() {
        let t = tree(&[
            ("models/groups/g.toml", "schema_template = \"s_{r}\"\n"),
            ("models/x/_defaults.toml", DEFAULTS),
            ("models/x/a.sql", "SELECT 1"),
            ("models/x/a.toml", "group = \"g\"\n[args]\nr = \"eu\"\n"),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::UnknownGroup);
        let t = tree(&[
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", ""),
            ("models/groups/g.toml", "[tags]\nx = 1\n"),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TomlInvalid);
    }

    #[test]
    fn unreadable_and_unparseable_files() {
        let mut t = tree(&[("models/a.toml", "")]);
        t.insert("models/a.sql".into(), TreeEntry::File(vec![0xff, 0xfe]))
            .unwrap();
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TreeUnreadable);
        let t = tree(&[("models/a.sql", "SELECT 1"), ("models/a.toml", "name = [")]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TomlInvalid);
        let t = tree(&[
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", "[strategy]\nunique_key = []\n"),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TomlInvalid);
        let t = tree(&[
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", "format = \"parquet\"\n"),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TomlInvalid);
        let t = tree(&[
            ("models/a.sql", "SELECT 1"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k\"\ncolumns = [\"a\"]\nextra = 1\n",
            ),
        ]);
        assert_eq!(load(&t).unwrap_err(), ProjectErrorReason::TomlInvalid);
    }

    #[test]
    fn load_order_is_sql_by_name_then_rocky_per_directory_pre_order() {
        let t = tree(&[
            ("models/z.sql", "---toml\nname = \"b\"\n---\nSELECT 1"),
            ("models/y.sql", "---toml\nname = \"c\"\n---\nSELECT 1"),
            ("models/a.rocky", "from t"),
            ("models/sub/_defaults.toml", DEFAULTS),
            ("models/sub/a.sql", "---toml\nname = \"d\"\n---\nSELECT 1"),
        ]);
        let p = load(&t).unwrap();
        let names: Vec<&str> = p.models.iter().map(|m| m.name.as_str()).collect();
        // By resolved name (`z.sql` is `b`), `.rocky` after `.sql`, then the subdirectory.
        assert_eq!(names, ["b", "c", "a", "d"]);
        assert_eq!(p.models[2].path, "models/a.rocky");
    }
}
