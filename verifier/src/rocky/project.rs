//! A Rocky project at a commit: `rocky.toml`, model discovery and per-model configuration
//! resolution, as Rocky 1.71 does them (`spec/hashes.md` 12.2 to 12.5).
//!
//! Works over any [`ProjectTree`]. Every rule that decides a hashed byte is mirrored; keys that
//! cannot change a statement are not interpreted (a project Rocky would reject for them has no
//! successful executions to compare).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::sql_hash::Recomputed;
use super::statements::{
    self, Assumption, Dialect, FormatOptions, LakehouseFormat, ModelSql, NotRecomputable,
    RunInputs, StatementsError, Strategy, SurrogateKey, Target,
};
use super::tree::{EntryKind, ProjectTree, TreeError, join};

/// Rocky's walk refuses trees nested deeper than this below the models base.
pub const MAX_DEPTH: usize = 64;

/// Why the project at the commit does not load as Rocky would load it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// No `rocky.toml` in the project directory.
    #[error("no rocky.toml at {0}")]
    ConfigMissing(String),
    /// A TOML file does not parse, or a key read here has the wrong type.
    #[error("{path}: {reason}")]
    TomlInvalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `${VAR}` without a default and without a stated value.
    #[error("{path}: ${{{var}}} has no default and no value was given")]
    EnvVarUnset {
        /// The file.
        path: String,
        /// The variable.
        var: String,
    },
    /// No (single) transformation pipeline named.
    #[error("pipeline {0:?} is not in rocky.toml")]
    PipelineMissing(String),
    /// The pipeline does not run models.
    #[error("pipeline {name:?} is a {kind} pipeline, not transformation")]
    PipelineNotTransformation {
        /// The pipeline.
        name: String,
        /// Its type.
        kind: String,
    },
    /// `target.adapter` names no `[adapter.<name>]`.
    #[error("adapter {0:?} is not in rocky.toml")]
    AdapterMissing(String),
    /// The adapter is not a warehouse Rocky generates SQL for.
    #[error("adapter type {0:?} is not duckdb, databricks, snowflake, bigquery or trino")]
    AdapterTypeUnsupported(String),
    /// A models glob this implementation does not interpret.
    #[error("models glob {0:?} is not supported")]
    ModelsGlobUnsupported(String),
    /// A symlink in the models tree (Rocky follows them; a git tree cannot).
    #[error("{0} is a symlink; Rocky would follow it, this tree cannot")]
    SymlinkInTree(String),
    /// More than 64 levels.
    #[error("{0} nests deeper than 64 levels")]
    DepthExceeded(String),
    /// The tree could not be read.
    #[error(transparent)]
    TreeUnreadable(#[from] TreeError),
    /// No model file matches the glob.
    #[error("no models under {0}")]
    NoModels(String),
    /// An inline `.sql` without `---toml` frontmatter.
    #[error("{0}: no sidecar and no ---toml frontmatter")]
    MissingFrontmatter(String),
    /// Neither the model nor `_defaults.toml` gives a catalog or schema.
    #[error("model {model}: no target.{field}")]
    MissingTarget {
        /// The model.
        model: String,
        /// `catalog` or `schema`.
        field: &'static str,
    },
    /// `_defaults.toml` holds a per-model key.
    #[error("{path}: {field} is not allowed in _defaults.toml")]
    DefaultsFieldInvalid {
        /// The file.
        path: String,
        /// The key.
        field: String,
    },
    /// `group` names no `groups/<name>.toml`.
    #[error("model {model}: unknown group {group:?}")]
    UnknownGroup {
        /// The model.
        model: String,
        /// The group.
        group: String,
    },
    /// An enforced group's field set locally.
    #[error("model {model}: group {group:?} is enforced and sets {field}")]
    GroupOverride {
        /// The model.
        model: String,
        /// The group.
        group: String,
        /// The field.
        field: &'static str,
    },
    /// `[args]` with a pinned `target.schema` under a schema template.
    #[error("model {model}: [args] together with a pinned target.schema in group {group:?}")]
    GroupArgsWithPinnedSchema {
        /// The model.
        model: String,
        /// The group.
        group: String,
    },
    /// A `{placeholder}` left after filling the schema template.
    #[error("model {model}: schema_template left {resolved:?}")]
    GroupSchemaUnfilled {
        /// The model.
        model: String,
        /// The filled text.
        resolved: String,
    },
    /// The filled schema is not an identifier.
    #[error("model {model}: schema_template gave {resolved:?}, not an identifier")]
    GroupSchemaInvalid {
        /// The model.
        model: String,
        /// The filled text.
        resolved: String,
    },
    /// A malformed `[[surrogate_key]]`.
    #[error("model {model}: surrogate_key: {reason}")]
    SurrogateKeyInvalid {
        /// The model.
        model: String,
        /// Why.
        reason: String,
    },
    /// Two models share a name.
    #[error("two models are named {0:?}")]
    DuplicateModel(String),
}

impl ProjectError {
    /// The reason code of `spec/hashes.md` 12.10.
    pub fn code(&self) -> &'static str {
        match self {
            ProjectError::ConfigMissing(_) => "config_missing",
            ProjectError::TomlInvalid { .. } => "toml_invalid",
            ProjectError::EnvVarUnset { .. } => "env_var_unset",
            ProjectError::PipelineMissing(_) => "pipeline_missing",
            ProjectError::PipelineNotTransformation { .. } => "pipeline_not_transformation",
            ProjectError::AdapterMissing(_) => "adapter_missing",
            ProjectError::AdapterTypeUnsupported(_) => "adapter_type_unsupported",
            ProjectError::ModelsGlobUnsupported(_) => "models_glob_unsupported",
            ProjectError::SymlinkInTree(_) => "symlink_in_tree",
            ProjectError::DepthExceeded(_) => "depth_exceeded",
            ProjectError::TreeUnreadable(_) => "tree_unreadable",
            ProjectError::NoModels(_) => "no_models",
            ProjectError::MissingFrontmatter(_) => "missing_frontmatter",
            ProjectError::MissingTarget { .. } => "missing_target",
            ProjectError::DefaultsFieldInvalid { .. } => "defaults_field_invalid",
            ProjectError::UnknownGroup { .. } => "unknown_group",
            ProjectError::GroupOverride { .. } => "group_override",
            ProjectError::GroupArgsWithPinnedSchema { .. } => "group_args_with_pinned_schema",
            ProjectError::GroupSchemaUnfilled { .. } => "group_schema_unfilled",
            ProjectError::GroupSchemaInvalid { .. } => "group_schema_invalid",
            ProjectError::SurrogateKeyInvalid { .. } => "surrogate_key_invalid",
            ProjectError::DuplicateModel(_) => "duplicate_model",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment substitution

/// `${VAR}` values the caller states for the run; every other variable is assumed unset.
pub type Env = BTreeMap<String, String>;

/// Rocky's `substitute_env_vars` over one TOML text (`spec/hashes.md` 12.3), returning the text
/// and the variables whose default was assumed.
///
/// # Errors
///
/// [`ProjectError::EnvVarUnset`] for `${VAR}` without default and without a value.
pub fn substitute_env(
    path: &str,
    text: &str,
    env: &Env,
) -> Result<(String, Vec<Assumption>), ProjectError> {
    let mut out = String::with_capacity(text.len());
    let mut assumed = Vec::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(rel) = text[at..].find("${") {
        let start = at + rel;
        let body_start = start + 2;
        // `[^}]+`: at least one character, up to the first `}`.
        let Some(close) = text[body_start..].find('}').map(|c| c + body_start) else {
            break;
        };
        if close == body_start {
            at = start + 1;
            continue;
        }
        let end = close + 1;
        let line_start = text[..start].rfind('\n').map_or(0, |p| p + 1);
        out.push_str(&text[copied..start]);
        if text[line_start..].trim_start().starts_with('#') {
            out.push_str(&text[start..end]);
        } else {
            let body = &text[body_start..close];
            match body.split_once(":-") {
                Some((var, default)) => match env.get(var).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push_str(default);
                        assumed.push(Assumption::EnvDefault(var.to_owned()));
                    }
                },
                None => match env.get(body) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(ProjectError::EnvVarUnset {
                            path: path.to_owned(),
                            var: body.to_owned(),
                        });
                    }
                },
            }
        }
        copied = end;
        at = end;
    }
    out.push_str(&text[copied..]);
    Ok((out, assumed))
}

fn toml_invalid(path: &str, reason: impl Into<String>) -> ProjectError {
    ProjectError::TomlInvalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Substitutes and parses one TOML text into JSON (so the typed readers are shared with the
/// vectors).
fn parse_toml(
    path: &str,
    text: &str,
    env: &Env,
    assumptions: &mut Vec<Assumption>,
) -> Result<serde_json::Map<String, Value>, ProjectError> {
    let (text, assumed) = substitute_env(path, text, env)?;
    assumptions.extend(assumed);
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| toml_invalid(path, e.to_string()))?;
    match serde_json::to_value(table).map_err(|e| toml_invalid(path, e.to_string()))? {
        Value::Object(o) => Ok(o),
        _ => Err(toml_invalid(path, "not a table")),
    }
}

fn read_text(tree: &dyn ProjectTree, path: &str) -> Result<Option<String>, ProjectError> {
    match tree.read(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| toml_invalid(path, "not UTF-8")),
    }
}

fn opt_str(
    o: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, ProjectError> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(toml_invalid(path, format!("{key}: a string is required"))),
    }
}

fn opt_table<'a>(
    o: &'a serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, ProjectError> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::Object(t)) => Ok(Some(t)),
        Some(_) => Err(toml_invalid(path, format!("[{key}] must be a table"))),
    }
}

// ---------------------------------------------------------------------------------------------
// rocky.toml

/// One `[adapter.<name>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterDecl {
    /// `type`.
    pub adapter_type: String,
    /// `warehouse` (Snowflake).
    pub warehouse: Option<String>,
}

/// One `[pipeline.<name>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineDecl {
    /// `type` (default `replication`).
    pub kind: String,
    /// `models` (default `models/**`).
    pub models: String,
    /// `target.adapter` (default `default`).
    pub target_adapter: String,
}

/// What `rocky.toml` says about adapters and pipelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RockyConfig {
    /// Adapters by name.
    pub adapters: BTreeMap<String, AdapterDecl>,
    /// Pipelines by name.
    pub pipelines: BTreeMap<String, PipelineDecl>,
    /// `${VAR:-default}` defaults used in `rocky.toml`.
    pub assumptions: Vec<Assumption>,
}

impl RockyConfig {
    /// Parses `rocky.toml` text (`spec/hashes.md` 12.3).
    ///
    /// # Errors
    ///
    /// [`ProjectError::TomlInvalid`] / [`ProjectError::EnvVarUnset`].
    pub fn parse(path: &str, text: &str, env: &Env) -> Result<RockyConfig, ProjectError> {
        let mut assumptions = Vec::new();
        let mut root = parse_toml(path, text, env, &mut assumptions)?;
        // Shorthands: a bare [adapter] / [pipeline] is the one named `default`.
        for (key, markers) in [
            ("adapter", &["type"][..]),
            (
                "pipeline",
                &[
                    "source",
                    "type",
                    "models",
                    "tables",
                    "unique_key",
                    "source_dir",
                ][..],
            ),
        ] {
            let bare = root
                .get(key)
                .and_then(Value::as_object)
                .is_some_and(|t| markers.iter().any(|m| t.contains_key(*m)));
            if bare && let Some(v) = root.remove(key) {
                let mut wrapped = serde_json::Map::new();
                wrapped.insert("default".into(), v);
                root.insert(key.into(), Value::Object(wrapped));
            }
        }
        let mut adapters = BTreeMap::new();
        if let Some(t) = opt_table(&root, "adapter", path)? {
            for (name, a) in t {
                let a = a.as_object().ok_or_else(|| {
                    toml_invalid(path, format!("[adapter.{name}] is not a table"))
                })?;
                let adapter_type = opt_str(a, "type", path)?
                    .ok_or_else(|| toml_invalid(path, format!("[adapter.{name}] has no type")))?;
                adapters.insert(
                    name.clone(),
                    AdapterDecl {
                        adapter_type,
                        warehouse: opt_str(a, "warehouse", path)?,
                    },
                );
            }
        }
        let mut pipelines = BTreeMap::new();
        if let Some(t) = opt_table(&root, "pipeline", path)? {
            for (name, p) in t {
                let p = p.as_object().ok_or_else(|| {
                    toml_invalid(path, format!("[pipeline.{name}] is not a table"))
                })?;
                let target_adapter = match opt_table(p, "target", path)? {
                    Some(t) => opt_str(t, "adapter", path)?,
                    None => None,
                };
                pipelines.insert(
                    name.clone(),
                    PipelineDecl {
                        kind: opt_str(p, "type", path)?.unwrap_or_else(|| "replication".into()),
                        models: opt_str(p, "models", path)?.unwrap_or_else(|| "models/**".into()),
                        target_adapter: target_adapter.unwrap_or_else(|| "default".into()),
                    },
                );
            }
        }
        Ok(RockyConfig {
            adapters,
            pipelines,
            assumptions,
        })
    }

    /// The named transformation pipeline, or the only one when `name` is `None`.
    ///
    /// # Errors
    ///
    /// [`ProjectError::PipelineMissing`] / [`ProjectError::PipelineNotTransformation`].
    pub fn pipeline(&self, name: Option<&str>) -> Result<(String, &PipelineDecl), ProjectError> {
        let (name, p) = match name {
            Some(n) => (
                n.to_owned(),
                self.pipelines
                    .get(n)
                    .ok_or_else(|| ProjectError::PipelineMissing(n.to_owned()))?,
            ),
            None => {
                let mut t = self
                    .pipelines
                    .iter()
                    .filter(|(_, p)| p.kind == "transformation");
                match (t.next(), t.next()) {
                    (Some((n, p)), None) => (n.clone(), p),
                    _ => return Err(ProjectError::PipelineMissing(String::new())),
                }
            }
        };
        if p.kind != "transformation" {
            return Err(ProjectError::PipelineNotTransformation {
                name,
                kind: p.kind.clone(),
            });
        }
        Ok((name, p))
    }

    /// The pipeline's dialect and, for Snowflake, the adapter's warehouse.
    ///
    /// # Errors
    ///
    /// [`ProjectError::AdapterMissing`] / [`ProjectError::AdapterTypeUnsupported`].
    pub fn dialect(&self, p: &PipelineDecl) -> Result<(Dialect, Option<String>), ProjectError> {
        let a = self
            .adapters
            .get(&p.target_adapter)
            .ok_or_else(|| ProjectError::AdapterMissing(p.target_adapter.clone()))?;
        let d = Dialect::from_name(&a.adapter_type)
            .ok_or_else(|| ProjectError::AdapterTypeUnsupported(a.adapter_type.clone()))?;
        Ok((d, a.warehouse.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// The models glob

/// A file name's stem and extension as Rust's `Path` splits them (a leading dot starts no
/// extension; `..` has none).
fn split_name(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(0) | None => (name, None),
        Some(_) if name == ".." => (name, None),
        Some(i) => (&name[..i], Some(&name[i + 1..])),
    }
}

fn is_model_source(name: &str) -> bool {
    matches!(split_name(name).1, Some("sql" | "rocky"))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn parent(p: &str) -> &str {
    p.trim_end_matches('/').rfind('/').map_or("", |i| &p[..i])
}

/// Path components without `.` and empty ones.
fn components(p: &str) -> Vec<&str> {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// The pipeline's `models` glob, resolved against the project directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsGlob {
    /// The directory the walk starts at (repository-relative).
    pub base: String,
    /// The glob every model file's repository-relative path must match, by component.
    pub pattern: Vec<String>,
}

impl ModelsGlob {
    /// Resolves `glob` (a pipeline's `models`) as Rocky's `models_base` and
    /// `resolved_models_glob` do (`spec/hashes.md` 12.4).
    ///
    /// # Errors
    ///
    /// [`ProjectError::ModelsGlobUnsupported`] for `[` sets, absolute paths, `\`, `..`, or a
    /// `**` that is not a whole component.
    pub fn resolve(
        tree: &dyn ProjectTree,
        project_dir: &str,
        glob: &str,
    ) -> Result<ModelsGlob, ProjectError> {
        let unsupported = || ProjectError::ModelsGlobUnsupported(glob.to_owned());
        if glob.starts_with('/')
            || glob.contains(['[', '\\'])
            || glob
                .split('/')
                .any(|c| c == ".." || (c.contains("**") && c != "**"))
        {
            return Err(unsupported());
        }
        let is_dir = |p: &str| -> Result<bool, ProjectError> {
            Ok(tree.list_dir(&join(project_dir, p))?.is_some())
        };
        let first_wild = glob.find(['*', '?']);
        let base = match first_wild {
            _ if glob.is_empty() => "models".to_owned(),
            None => {
                if is_model_source(glob.rsplit('/').next().unwrap_or("")) && !is_dir(glob)? {
                    parent(glob).to_owned()
                } else {
                    glob.to_owned()
                }
            }
            Some(w) => {
                let prefix = &glob[..w];
                let b = if prefix.ends_with('/') {
                    prefix.trim_end_matches('/')
                } else {
                    parent(prefix)
                };
                if components(b).is_empty() {
                    "models".to_owned()
                } else {
                    b.to_owned()
                }
            }
        };
        let effective = if glob.is_empty() {
            "models/**".to_owned()
        } else if first_wild.is_some_and(|w| !glob[..w].contains('/')) {
            format!("models/{glob}")
        } else {
            glob.to_owned()
        };
        let resolved = if has_wildcard(&effective)
            || (is_model_source(effective.rsplit('/').next().unwrap_or("")) && !is_dir(&effective)?)
        {
            effective
        } else {
            format!("{effective}/**")
        };
        Ok(ModelsGlob {
            base: components(&join(project_dir, &base)).join("/"),
            pattern: components(&join(project_dir, &resolved))
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
    }

    /// Whether a repository-relative path matches (case-sensitive; `*`, `?` never match `/`;
    /// `**` matches zero or more components).
    pub fn matches(&self, path: &str) -> bool {
        let pat: Vec<&str> = self.pattern.iter().map(String::as_str).collect();
        match_components(&pat, &components(path))
    }
}

fn match_components(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| match_components(rest, &path[i..])),
        Some((p, rest)) => match path.split_first() {
            Some((c, path_rest)) => {
                match_one(p.as_bytes(), c.as_bytes()) && match_components(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one component (by characters for `?`).
fn match_one(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| match_one(rest, &s[i..])),
        Some((b'?', rest)) => {
            // One whole UTF-8 character.
            let Some(&first) = s.first() else {
                return false;
            };
            let width = match first {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            s.len() >= width && match_one(rest, &s[width..])
        }
        Some((c, rest)) => s.first() == Some(c) && match_one(rest, &s[1..]),
    }
}

// ---------------------------------------------------------------------------------------------
// Directory files

#[derive(Debug, Clone, Default)]
struct DirDefaults {
    catalog: Option<String>,
    schema: Option<String>,
    strategy: Option<Strategy>,
    assumptions: Vec<Assumption>,
}

#[derive(Debug, Clone)]
struct Group {
    schema_template: Option<String>,
    strategy: Option<Strategy>,
    enforce: bool,
    assumptions: Vec<Assumption>,
}

fn strategy_of(
    o: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<Option<Strategy>, ProjectError> {
    opt_table(o, "strategy", path)?
        .map(|t| {
            Strategy::from_json(&Value::Object(t.clone()))
                .map_err(|e| toml_invalid(path, e.to_string()))
        })
        .transpose()
}

fn load_defaults(path: &str, text: &str, env: &Env) -> Result<DirDefaults, ProjectError> {
    let mut assumptions = Vec::new();
    let o = parse_toml(path, text, env, &mut assumptions)?;
    for field in ["name", "depends_on", "sources"] {
        if o.contains_key(field) {
            return Err(ProjectError::DefaultsFieldInvalid {
                path: path.to_owned(),
                field: field.to_owned(),
            });
        }
    }
    let (catalog, schema) = match opt_table(&o, "target", path)? {
        Some(t) => (opt_str(t, "catalog", path)?, opt_str(t, "schema", path)?),
        None => (None, None),
    };
    Ok(DirDefaults {
        catalog,
        schema,
        strategy: strategy_of(&o, path)?,
        assumptions,
    })
}

fn load_group(path: &str, text: &str, env: &Env) -> Result<Group, ProjectError> {
    let mut assumptions = Vec::new();
    let o = parse_toml(path, text, env, &mut assumptions)?;
    if let Some(k) = o.keys().find(|k| {
        ![
            "schema_template",
            "strategy",
            "tags",
            "governance",
            "enforce",
        ]
        .contains(&k.as_str())
    }) {
        return Err(toml_invalid(path, format!("unknown group key {k:?}")));
    }
    let enforce = match o.get("enforce") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(toml_invalid(path, "enforce: a boolean is required")),
    };
    Ok(Group {
        schema_template: opt_str(&o, "schema_template", path)?,
        strategy: strategy_of(&o, path)?,
        enforce,
        assumptions,
    })
}

/// Rocky's `ParsedSchema::resolve_template` with single values.
fn fill_template(template: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut copied = 0;
    let mut i = 0;
    while i < template.len() {
        if template.as_bytes()[i] == b'{'
            && let Some(rel) = template[i + 1..].find('}')
        {
            let body = &template[i + 1..i + 1 + rel];
            let name = body.split_once(':').map_or(body, |(n, _)| n);
            if let Some(v) = args.get(name) {
                out.push_str(&template[copied..i]);
                out.push_str(v);
                i += rel + 2;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&template[copied..]);
    out
}

// ---------------------------------------------------------------------------------------------
// Models

/// Which file a model's SQL comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A `.sql` file.
    Sql,
    /// A `.rocky` DSL file (its SQL is Rocky's lowering, not recomputed).
    RockyDsl,
}

/// Where a model's configuration is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// `<stem>.toml` beside the model file.
    Sidecar(String),
    /// `---toml` frontmatter inside the `.sql`.
    Frontmatter,
    /// None (`.rocky` without a sidecar).
    None,
}

/// Which source decided a resolved field (`spec/hashes.md` 12.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The model's own TOML (sidecar or frontmatter).
    Model,
    /// Its group (`groups/<g>.toml`).
    Group,
    /// The directory's `_defaults.toml`.
    Defaults,
    /// Rocky's fallback (`full_refresh`; for `.rocky` without sidecar `warehouse` / `default`).
    Fallback,
    /// `target.table` taken from the model name.
    Name,
}

impl DecidedBy {
    /// The spelling in `vectors/sql_templates.json`.
    pub fn code(self) -> &'static str {
        match self {
            DecidedBy::Model => "model",
            DecidedBy::Group => "group",
            DecidedBy::Defaults => "defaults",
            DecidedBy::Fallback => "fallback",
            DecidedBy::Name => "name",
        }
    }
}

/// The source of each resolved field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// Of `strategy`.
    pub strategy: DecidedBy,
    /// Of `target.catalog`.
    pub catalog: DecidedBy,
    /// Of `target.schema`.
    pub schema: DecidedBy,
    /// Of `target.table`.
    pub table: DecidedBy,
}

/// One model of the project, resolved as Rocky resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The model name (sidecar `name`, else the file stem).
    pub name: String,
    /// The model file (repository-relative).
    pub path: String,
    /// `.sql` or `.rocky`.
    pub language: Language,
    /// Where its configuration is written.
    pub config: ConfigFile,
    /// Trimmed SQL for `.sql` models; `None` for `.rocky`.
    pub sql: Option<String>,
    /// Resolved strategy.
    pub strategy: Strategy,
    /// Resolved target; `target.table` is what `ModelExecution.model_name` records.
    pub target: Target,
    /// Sidecar `format`.
    pub format: Option<LakehouseFormat>,
    /// Sidecar `[format_options]`.
    pub format_options: FormatOptions,
    /// `[[sources]]`.
    pub sources: Vec<Target>,
    /// `[[surrogate_key]]` (never for `.rocky`).
    pub surrogate_keys: Vec<SurrogateKey>,
    /// Which source decided each field.
    pub decided_by: Provenance,
    /// `${VAR:-default}` defaults used in the files that configured this model (and rocky.toml).
    pub env_assumptions: Vec<Assumption>,
}

impl ResolvedModel {
    /// The statement inputs, when the model's SQL is known.
    pub fn model_sql(&self) -> Option<ModelSql> {
        Some(ModelSql {
            sql: self.sql.clone()?,
            target: self.target.clone(),
            strategy: self.strategy.clone(),
            format: self.format,
            format_options: self.format_options.clone(),
            sources: self.sources.clone(),
            surrogate_keys: self.surrogate_keys.clone(),
        })
    }

    /// The statements of one execution of this model on `dialect`.
    pub fn recompute(&self, dialect: Dialect, run: &RunInputs) -> Recomputed {
        let Some(model) = self.model_sql() else {
            return Recomputed::NotRecomputable(NotRecomputable::RockyDslModel);
        };
        match statements::statements(dialect, &model, run) {
            Ok(s) => Recomputed::Statements(s),
            Err(StatementsError::RockyRejects(r)) => Recomputed::RockyRejects(r),
            Err(StatementsError::NotRecomputable(r)) => Recomputed::NotRecomputable(r),
        }
    }
}

/// How to load a project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The directory holding `rocky.toml` (repository-relative; `""` is the root).
    pub project_dir: String,
    /// `RunRecord.pipeline`; `None` uses the only transformation pipeline.
    pub pipeline: Option<String>,
    /// `${VAR}` values to assume.
    pub env: Env,
}

/// Where the dialect came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterResolution {
    /// `[pipeline.<p>] target.adapter` -> `[adapter.<name>] type`.
    Config {
        /// The adapter name.
        adapter: String,
        /// Its dialect.
        dialect: Dialect,
        /// Its `warehouse` (Snowflake).
        warehouse: Option<String>,
    },
    /// `rocky.toml` names no usable warehouse adapter; the caller must use the `env_hash`
    /// pre-image or a flag.
    Unresolved(ProjectError),
}

/// A project at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The pipeline used.
    pub pipeline: String,
    /// The dialect as `rocky.toml` gives it.
    pub adapter: AdapterResolution,
    /// Every model, in Rocky's load order.
    pub models: Vec<ResolvedModel>,
}

impl Project {
    /// Loads `rocky.toml`, walks the pipeline's models and resolves each model's configuration.
    ///
    /// # Errors
    ///
    /// A [`ProjectError`] when the project does not load as Rocky would load it.
    pub fn load(tree: &dyn ProjectTree, opts: &LoadOptions) -> Result<Project, ProjectError> {
        let config_path = join(&opts.project_dir, "rocky.toml");
        let text = read_text(tree, &config_path)?
            .ok_or_else(|| ProjectError::ConfigMissing(config_path.clone()))?;
        let config = RockyConfig::parse(&config_path, &text, &opts.env)?;
        let (pipeline, decl) = config.pipeline(opts.pipeline.as_deref())?;
        let adapter = match config.dialect(decl) {
            Ok((dialect, warehouse)) => AdapterResolution::Config {
                adapter: decl.target_adapter.clone(),
                dialect,
                warehouse,
            },
            Err(e) => AdapterResolution::Unresolved(e),
        };
        let glob = ModelsGlob::resolve(tree, &opts.project_dir, &decl.models)?;
        let models = load_models(tree, &glob, &opts.env, &config.assumptions)?;
        Ok(Project {
            pipeline,
            adapter,
            models,
        })
    }

    /// The models whose resolved `target.table` is `table` (`ModelExecution.model_name`).
    pub fn models_for_table(&self, table: &str) -> Vec<&ResolvedModel> {
        self.models
            .iter()
            .filter(|m| m.target.table == table)
            .collect()
    }

    /// The model named `name`.
    pub fn model(&self, name: &str) -> Option<&ResolvedModel> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// Pre-order walk of the models tree (`model_walk::walk_model_dirs`), children in byte order.
fn walk(tree: &dyn ProjectTree, base: &str) -> Result<Vec<String>, ProjectError> {
    let mut dirs = Vec::new();
    let mut stack = vec![(base.to_owned(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = tree.list_dir(&dir)?;
        dirs.push(dir.clone());
        let Some(entries) = entries else { continue };
        let mut children = Vec::new();
        for e in entries {
            match e.kind {
                EntryKind::Dir => children.push(join(&dir, &e.name)),
                EntryKind::Symlink => return Err(ProjectError::SymlinkInTree(join(&dir, &e.name))),
                EntryKind::File | EntryKind::Other => {}
            }
        }
        if children.is_empty() {
            continue;
        }
        if depth + 1 > MAX_DEPTH {
            return Err(ProjectError::DepthExceeded(dir));
        }
        stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
    }
    Ok(dirs)
}

fn load_models(
    tree: &dyn ProjectTree,
    glob: &ModelsGlob,
    env: &Env,
    config_assumptions: &[Assumption],
) -> Result<Vec<ResolvedModel>, ProjectError> {
    let mut models = Vec::new();
    for dir in walk(tree, &glob.base)? {
        let Some(entries) = tree.list_dir(&dir)? else {
            continue;
        };
        let files: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.name.as_str())
            .collect();
        let selected = |ext: &str| -> Vec<&str> {
            files
                .iter()
                .copied()
                .filter(|n| split_name(n).1 == Some(ext) && glob.matches(&join(&dir, n)))
                .collect()
        };
        let (sql_files, rocky_files) = (selected("sql"), selected("rocky"));
        // A directory without a selected model file is not read at all (Rocky's participation
        // rule): its _defaults.toml and groups may even be malformed.
        if sql_files.is_empty() && rocky_files.is_empty() {
            continue;
        }
        let defaults_path = join(&dir, "_defaults.toml");
        let defaults = match read_text(tree, &defaults_path)? {
            Some(t) => Some(load_defaults(&defaults_path, &t, env)?),
            None => None,
        };
        let mut groups = BTreeMap::new();
        let groups_dir = join(&dir, "groups");
        for e in tree.list_dir(&groups_dir)?.unwrap_or_default() {
            let (stem, ext) = split_name(&e.name);
            if ext != Some("toml") {
                continue;
            }
            let path = join(&groups_dir, &e.name);
            let Some(text) = read_text(tree, &path)? else {
                continue;
            };
            groups.insert(stem.to_owned(), load_group(&path, &text, env)?);
        }
        let ctx = DirContext {
            defaults: defaults.as_ref(),
            groups: &groups,
            env,
            config_assumptions,
        };
        let mut dir_sql = Vec::new();
        for name in sql_files {
            dir_sql.push(load_sql_model(tree, &dir, name, &ctx)?);
        }
        dir_sql.sort_by(|a, b| a.name.cmp(&b.name));
        let mut dir_rocky = Vec::new();
        for name in rocky_files {
            dir_rocky.push(load_rocky_model(tree, &dir, name, &ctx)?);
        }
        dir_rocky.sort_by(|a, b| a.name.cmp(&b.name));
        models.extend(dir_sql);
        models.extend(dir_rocky);
    }
    if models.is_empty() {
        return Err(ProjectError::NoModels(glob.base.clone()));
    }
    let mut seen = BTreeSet::new();
    for m in &models {
        if !seen.insert(m.name.as_str()) {
            return Err(ProjectError::DuplicateModel(m.name.clone()));
        }
    }
    Ok(models)
}

struct DirContext<'a> {
    defaults: Option<&'a DirDefaults>,
    groups: &'a BTreeMap<String, Group>,
    env: &'a Env,
    config_assumptions: &'a [Assumption],
}

fn not_utf8(path: &str) -> ProjectError {
    ProjectError::TreeUnreadable(TreeError::Unreadable {
        path: path.to_owned(),
        reason: "not UTF-8".into(),
    })
}

fn read_model_file(tree: &dyn ProjectTree, path: &str) -> Result<String, ProjectError> {
    let bytes = tree.read(path)?.ok_or_else(|| {
        ProjectError::TreeUnreadable(TreeError::Unreadable {
            path: path.to_owned(),
            reason: "listed but not readable".into(),
        })
    })?;
    String::from_utf8(bytes).map_err(|_| not_utf8(path))
}

/// `split_frontmatter`: `---toml` after `trim_start`, split at the first `\n---`.
fn split_frontmatter(content: &str) -> Option<(&str, &str)> {
    let after = content.trim_start().strip_prefix("---toml")?;
    let (front, sql) = after.split_once("\n---")?;
    Some((front.trim(), sql.trim()))
}

fn load_sql_model(
    tree: &dyn ProjectTree,
    dir: &str,
    file: &str,
    ctx: &DirContext<'_>,
) -> Result<ResolvedModel, ProjectError> {
    let path = join(dir, file);
    let stem = split_name(file).0;
    let sidecar_path = join(dir, &format!("{stem}.toml"));
    let content = read_model_file(tree, &path)?;
    let (toml_text, toml_path, sql, config) = match tree.read(&sidecar_path)? {
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| not_utf8(&sidecar_path))?;
            let sql = content.trim().to_owned();
            (
                text,
                sidecar_path.clone(),
                sql,
                ConfigFile::Sidecar(sidecar_path),
            )
        }
        None => {
            let (front, sql) = split_frontmatter(&content)
                .ok_or_else(|| ProjectError::MissingFrontmatter(path.clone()))?;
            (
                front.to_owned(),
                path.clone(),
                sql.to_owned(),
                ConfigFile::Frontmatter,
            )
        }
    };
    let mut m = resolve(&toml_path, &toml_text, stem, ctx, true)?;
    m.path = path;
    m.language = Language::Sql;
    m.config = config;
    m.sql = Some(sql);
    Ok(m)
}

fn load_rocky_model(
    tree: &dyn ProjectTree,
    dir: &str,
    file: &str,
    ctx: &DirContext<'_>,
) -> Result<ResolvedModel, ProjectError> {
    let path = join(dir, file);
    let stem = split_name(file).0;
    let sidecar_path = join(dir, &format!("{stem}.toml"));
    let mut m = match tree.read(&sidecar_path)? {
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| not_utf8(&sidecar_path))?;
            let mut m = resolve(&sidecar_path, &text, stem, ctx, false)?;
            m.config = ConfigFile::Sidecar(sidecar_path);
            m
        }
        None => {
            // Rocky's fallbacks for a sidecar-less DSL model: no group, no format.
            let d = ctx.defaults;
            let pick = |v: Option<String>, fallback: &str| match v {
                Some(v) => (v, DecidedBy::Defaults),
                None => (fallback.to_owned(), DecidedBy::Fallback),
            };
            let (catalog, c_by) = pick(d.and_then(|d| d.catalog.clone()), "warehouse");
            let (schema, s_by) = pick(d.and_then(|d| d.schema.clone()), "default");
            let (strategy, st_by) = match d.and_then(|d| d.strategy.clone()) {
                Some(s) => (s, DecidedBy::Defaults),
                None => (Strategy::FullRefresh, DecidedBy::Fallback),
            };
            let mut env_assumptions = ctx.config_assumptions.to_vec();
            env_assumptions.extend(d.map(|d| d.assumptions.clone()).unwrap_or_default());
            ResolvedModel {
                name: stem.to_owned(),
                path: String::new(),
                language: Language::RockyDsl,
                config: ConfigFile::None,
                sql: None,
                strategy,
                target: Target {
                    catalog,
                    schema,
                    table: stem.to_owned(),
                },
                format: None,
                format_options: FormatOptions::default(),
                sources: Vec::new(),
                surrogate_keys: Vec::new(),
                decided_by: Provenance {
                    strategy: st_by,
                    catalog: c_by,
                    schema: s_by,
                    table: DecidedBy::Name,
                },
                env_assumptions: normalized(env_assumptions),
            }
        }
    };
    m.path = path;
    m.language = Language::RockyDsl;
    m.sql = None;
    m.surrogate_keys.clear();
    Ok(m)
}

fn normalized(mut a: Vec<Assumption>) -> Vec<Assumption> {
    a.sort();
    a.dedup();
    a
}

fn strings(v: &Value, what: &str, path: &str) -> Result<Vec<String>, ProjectError> {
    v.as_array()
        .ok_or_else(|| toml_invalid(path, format!("{what}: an array is required")))?
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or_else(|| toml_invalid(path, format!("{what}: strings are required")))
        })
        .collect()
}

/// `resolve_model_config` over one model's TOML.
fn resolve(
    path: &str,
    text: &str,
    stem: &str,
    ctx: &DirContext<'_>,
    with_surrogate_keys: bool,
) -> Result<ResolvedModel, ProjectError> {
    let mut env_assumptions = ctx.config_assumptions.to_vec();
    let o = parse_toml(path, text, ctx.env, &mut env_assumptions)?;
    let name = opt_str(&o, "name", path)?.unwrap_or_else(|| stem.to_owned());
    let strategy = strategy_of(&o, path)?;
    let (t_catalog, t_schema, t_table) = match opt_table(&o, "target", path)? {
        Some(t) => (
            opt_str(t, "catalog", path)?,
            opt_str(t, "schema", path)?,
            opt_str(t, "table", path)?,
        ),
        None => (None, None, None),
    };
    let mut sources = Vec::new();
    if let Some(list) = o.get("sources") {
        for s in list
            .as_array()
            .ok_or_else(|| toml_invalid(path, "sources: an array of tables is required"))?
        {
            let s = s
                .as_object()
                .ok_or_else(|| toml_invalid(path, "sources: tables are required"))?;
            let part = |k: &str| {
                opt_str(s, k, path)?
                    .ok_or_else(|| toml_invalid(path, format!("sources: {k} is required")))
            };
            sources.push(Target {
                catalog: part("catalog")?,
                schema: part("schema")?,
                table: part("table")?,
            });
        }
    }
    let format = opt_str(&o, "format", path)?
        .map(|f| {
            LakehouseFormat::parse(&f).ok_or_else(|| toml_invalid(path, format!("format {f:?}")))
        })
        .transpose()?;
    let format_options = opt_table(&o, "format_options", path)?
        .map(|t| {
            FormatOptions::from_json(&Value::Object(t.clone()))
                .map_err(|e| toml_invalid(path, e.to_string()))
        })
        .transpose()?
        .unwrap_or_default();
    let group_name = opt_str(&o, "group", path)?;
    let mut args = BTreeMap::new();
    if let Some(t) = opt_table(&o, "args", path)? {
        for (k, v) in t {
            let v = v
                .as_str()
                .ok_or_else(|| toml_invalid(path, format!("args.{k}: a string is required")))?;
            args.insert(k.clone(), v.to_owned());
        }
    }
    let mut surrogate_keys = Vec::new();
    if let Some(list) = o.get("surrogate_key") {
        for k in list
            .as_array()
            .ok_or_else(|| toml_invalid(path, "surrogate_key: an array of tables is required"))?
        {
            let k = k
                .as_object()
                .ok_or_else(|| toml_invalid(path, "surrogate_key: tables are required"))?;
            if let Some(extra) = k.keys().find(|key| *key != "name" && *key != "columns") {
                return Err(toml_invalid(
                    path,
                    format!("surrogate_key: unknown key {extra:?}"),
                ));
            }
            let key_name = opt_str(k, "name", path)?
                .ok_or_else(|| toml_invalid(path, "surrogate_key: name is required"))?;
            let columns = strings(
                k.get("columns")
                    .ok_or_else(|| toml_invalid(path, "surrogate_key: columns is required"))?,
                "surrogate_key.columns",
                path,
            )?;
            surrogate_keys.push(SurrogateKey {
                name: key_name,
                columns,
            });
        }
    }
    if with_surrogate_keys {
        for k in &surrogate_keys {
            let invalid = |reason: String| ProjectError::SurrogateKeyInvalid {
                model: name.clone(),
                reason,
            };
            if !statements::is_identifier(&k.name) {
                return Err(invalid(format!("output column {:?}", k.name)));
            }
            if k.columns.is_empty() {
                return Err(invalid(format!("key {:?} lists no column", k.name)));
            }
            if let Some(c) = k.columns.iter().find(|c| !statements::is_identifier(c)) {
                return Err(invalid(format!("column {c:?}")));
            }
        }
    } else {
        surrogate_keys.clear();
    }

    let group = match &group_name {
        None => None,
        Some(g) => Some(
            ctx.groups
                .get(g)
                .ok_or_else(|| ProjectError::UnknownGroup {
                    model: name.clone(),
                    group: g.clone(),
                })?,
        ),
    };
    let group_label = group_name.clone().unwrap_or_default();
    if let Some(g) = group {
        env_assumptions.extend(g.assumptions.iter().cloned());
        if g.enforce {
            if g.strategy.is_some() && strategy.is_some() {
                return Err(ProjectError::GroupOverride {
                    model: name.clone(),
                    group: group_label.clone(),
                    field: "strategy",
                });
            }
            if g.schema_template.is_some() && t_schema.is_some() {
                return Err(ProjectError::GroupOverride {
                    model: name.clone(),
                    group: group_label.clone(),
                    field: "target.schema",
                });
            }
        }
        if g.schema_template.is_some() && !args.is_empty() && t_schema.is_some() {
            return Err(ProjectError::GroupArgsWithPinnedSchema {
                model: name.clone(),
                group: group_label.clone(),
            });
        }
    }
    let defaults = ctx.defaults;
    if let Some(d) = defaults {
        env_assumptions.extend(d.assumptions.iter().cloned());
    }
    let (strategy, strategy_by) = if let Some(s) = strategy {
        (s, DecidedBy::Model)
    } else if let Some(s) = group.and_then(|g| g.strategy.clone()) {
        (s, DecidedBy::Group)
    } else if let Some(s) = defaults.and_then(|d| d.strategy.clone()) {
        (s, DecidedBy::Defaults)
    } else {
        (Strategy::FullRefresh, DecidedBy::Fallback)
    };
    let (catalog, catalog_by) = match (t_catalog, defaults.and_then(|d| d.catalog.clone())) {
        (Some(c), _) => (c, DecidedBy::Model),
        (None, Some(c)) => (c, DecidedBy::Defaults),
        (None, None) => {
            return Err(ProjectError::MissingTarget {
                model: name,
                field: "catalog",
            });
        }
    };
    let group_schema = match (&t_schema, group.and_then(|g| g.schema_template.as_deref())) {
        (None, Some(template)) => {
            let resolved = fill_template(template, &args);
            if resolved.contains('{') {
                return Err(ProjectError::GroupSchemaUnfilled {
                    model: name,
                    resolved,
                });
            }
            if !statements::is_identifier(&resolved) {
                return Err(ProjectError::GroupSchemaInvalid {
                    model: name,
                    resolved,
                });
            }
            Some(resolved)
        }
        _ => None,
    };
    let (schema, schema_by) = match (
        t_schema,
        group_schema,
        defaults.and_then(|d| d.schema.clone()),
    ) {
        (Some(s), _, _) => (s, DecidedBy::Model),
        (None, Some(s), _) => (s, DecidedBy::Group),
        (None, None, Some(s)) => (s, DecidedBy::Defaults),
        (None, None, None) => {
            return Err(ProjectError::MissingTarget {
                model: name,
                field: "schema",
            });
        }
    };
    let (table, table_by) = match t_table {
        Some(t) => (t, DecidedBy::Model),
        None => (name.clone(), DecidedBy::Name),
    };
    Ok(ResolvedModel {
        name,
        path: String::new(),
        language: Language::Sql,
        config: ConfigFile::Frontmatter,
        sql: None,
        strategy,
        target: Target {
            catalog,
            schema,
            table,
        },
        format,
        format_options,
        sources,
        surrogate_keys,
        decided_by: Provenance {
            strategy: strategy_by,
            catalog: catalog_by,
            schema: schema_by,
            table: table_by,
        },
        env_assumptions: normalized(env_assumptions),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rocky::tree::{GitCommitTree, MemoryTree};

    const DUCK: &str = "[adapter.local]\ntype = \"duckdb\"\n[pipeline.silver]\ntype = \"transformation\"\ntarget = { adapter = \"local\" }\n";
    const DEF: &str = "[target]\ncatalog = \"warehouse\"\nschema = \"main\"\n";

    fn load(files: &[(&str, &str)]) -> Result<Project, ProjectError> {
        let tree: MemoryTree = files.iter().map(|(p, c)| (*p, *c)).collect();
        Project::load(&tree, &LoadOptions::default())
    }

    fn one(files: &[(&str, &str)]) -> ResolvedModel {
        let p = load(files).unwrap();
        assert_eq!(p.models.len(), 1, "{p:?}");
        p.models[0].clone()
    }

    #[test]
    fn sidecar_pairs_by_stem_and_sql_is_trimmed_only() {
        let m = one(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.b.sql", "\u{feff}SELECT 1;\r\n -- c\n\n"),
            ("models/a.b.toml", ""),
        ]);
        assert_eq!(m.name, "a.b");
        assert_eq!(m.config, ConfigFile::Sidecar("models/a.b.toml".into()));
        // A BOM is not White_Space: it stays; CRLF inside stays.
        assert_eq!(m.sql.as_deref(), Some("\u{feff}SELECT 1;\r\n -- c"));
    }

    #[test]
    fn frontmatter_needs_the_marker_and_a_closing_line() {
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.sql", "---toml\nname = 'a'\nSELECT 1"),
        ])
        .unwrap_err();
        assert_eq!(e.code(), "missing_frontmatter");
        let m = one(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.sql", " ---toml\nname = 'x'\n---\n SELECT 1 \n"),
        ]);
        assert_eq!((m.name.as_str(), m.sql.as_deref()), ("x", Some("SELECT 1")));
        assert_eq!(m.config, ConfigFile::Frontmatter);
    }

    #[test]
    fn precedence_sidecar_then_group_then_defaults_then_fallback() {
        let files = [
            ("rocky.toml", DUCK),
            (
                "models/_defaults.toml",
                "[target]\ncatalog = \"c\"\nschema = \"d\"\n[strategy]\ntype = \"view\"\n",
            ),
            (
                "models/groups/g.toml",
                "schema_template = \"s_{r}\"\n[strategy]\ntype = \"ephemeral\"\n",
            ),
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", "group = \"g\"\n[args]\nr = \"x\"\n"),
            ("models/b.sql", "SELECT 1"),
            ("models/b.toml", ""),
        ];
        let p = load(&files).unwrap();
        let a = p.model("a").unwrap();
        assert_eq!(
            (a.strategy.name(), a.target.schema.as_str()),
            ("ephemeral", "s_x")
        );
        assert_eq!(
            (a.decided_by.strategy, a.decided_by.schema),
            (DecidedBy::Group, DecidedBy::Group)
        );
        let b = p.model("b").unwrap();
        assert_eq!((b.strategy.name(), b.target.schema.as_str()), ("view", "d"));
        assert_eq!(b.decided_by.strategy, DecidedBy::Defaults);
        assert_eq!(b.decided_by.table, DecidedBy::Name);
    }

    #[test]
    fn defaults_are_per_directory_and_only_read_where_models_are_selected() {
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/x/a.sql", "SELECT 1"),
            ("models/x/a.toml", ""),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            ProjectError::MissingTarget {
                model: "a".into(),
                field: "catalog"
            }
        );
        // A malformed _defaults.toml beside no model file is never parsed.
        let m = one(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", "[[[ not toml"),
            ("models/x/_defaults.toml", DEF),
            ("models/x/a.sql", "SELECT 1"),
            ("models/x/a.toml", ""),
        ]);
        assert_eq!(m.target.catalog, "warehouse");
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", "depends_on = []\n"),
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", ""),
        ])
        .unwrap_err();
        assert_eq!(e.code(), "defaults_field_invalid");
    }

    #[test]
    fn group_rules() {
        let base = |group: &'static str, sidecar: &'static str| {
            load(&[
                ("rocky.toml", DUCK),
                ("models/_defaults.toml", DEF),
                ("models/groups/g.toml", group),
                ("models/a.sql", "SELECT 1"),
                ("models/a.toml", sidecar),
            ])
        };
        let code = |r: Result<Project, ProjectError>| r.map(|_| "ok").unwrap_or_else(|e| e.code());
        assert_eq!(
            code(base("schema_template = \"m_{r}\"\n", "group = \"g\"\n")),
            "group_schema_unfilled"
        );
        assert_eq!(
            code(base(
                "schema_template = \"m_{r}\"\n",
                "group = \"g\"\n[args]\nr = \"a b\"\n"
            )),
            "group_schema_invalid"
        );
        assert_eq!(
            code(base(
                "schema_template = \"m_{r:-}\"\n",
                "group = \"g\"\n[args]\nr = \"eu\"\n"
            )),
            "ok"
        );
        assert_eq!(
            code(base(
                "enforce = true\n[strategy]\ntype = \"view\"\n",
                "group = \"g\"\n[strategy]\ntype = \"view\"\n"
            )),
            "group_override"
        );
        assert_eq!(
            code(base(
                "enforce = true\nschema_template = \"m\"\n",
                "group = \"g\"\n[target]\nschema = \"p\"\n"
            )),
            "group_override"
        );
        assert_eq!(
            code(base(
                "schema_template = \"m\"\n",
                "group = \"g\"\n[target]\nschema = \"p\"\n"
            )),
            "ok"
        );
        assert_eq!(
            code(base(
                "schema_template = \"m_{r}\"\n",
                "group = \"g\"\n[args]\nr = \"x\"\n[target]\nschema = \"p\"\n"
            )),
            "group_args_with_pinned_schema"
        );
        assert_eq!(code(base("", "group = \"h\"\n")), "unknown_group");
        assert_eq!(code(base("enforced = true\n", "")), "toml_invalid");
    }

    #[test]
    fn env_substitution_rules() {
        let env: Env = [
            ("SET".to_owned(), "v".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ]
        .into();
        let (s, a) = substitute_env(
            "f",
            "a=${SET} b=${EMPTY:-d} c=${NO:-x:-y} ${} $x\n  # ${NOPE}\n",
            &env,
        )
        .unwrap();
        assert_eq!(s, "a=v b=d c=x:-y ${} $x\n  # ${NOPE}\n");
        assert_eq!(
            a,
            vec![
                Assumption::EnvDefault("EMPTY".into()),
                Assumption::EnvDefault("NO".into())
            ]
        );
        assert_eq!(
            substitute_env("f", "x = \"${NOPE}\"", &env)
                .unwrap_err()
                .code(),
            "env_var_unset"
        );
        assert_eq!(
            substitute_env("f", "${unterminated", &env).unwrap().0,
            "${unterminated"
        );
    }

    #[test]
    fn globs_resolve_like_rocky() {
        let t: MemoryTree = [("models/a.sql", ""), ("p/models/x/y.sql", "")]
            .into_iter()
            .collect();
        let g = |p: &str, glob: &str| ModelsGlob::resolve(&t, p, glob);
        assert_eq!(g("", "").unwrap().pattern, vec!["models", "**"]);
        assert_eq!(g("", "models").unwrap().pattern, vec!["models", "**"]);
        assert_eq!(
            g("", "*.sql").unwrap(),
            ModelsGlob {
                base: "models".into(),
                pattern: vec!["models".into(), "*.sql".into()]
            }
        );
        assert_eq!(g("", "models/a.sql").unwrap().base, "models");
        assert_eq!(g("p", "models/x/**").unwrap().base, "p/models/x");
        assert!(g("", "models/[ab].sql").is_err());
        assert!(g("", "../models/**").is_err());
        assert!(g("", "models/a**").is_err());
        let m = g("", "models/**/fct_?.sql").unwrap();
        assert!(m.matches("models/fct_a.sql") && m.matches("models/x/y/fct_b.sql"));
        assert!(!m.matches("models/fct_ab.sql") && !m.matches("other/fct_a.sql"));
        assert!(!g("", "models/*.sql").unwrap().matches("models/x/a.sql"));
    }

    #[test]
    fn surrogate_keys_are_validated_and_not_taken_for_rocky_models() {
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.sql", "SELECT 1"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k-1\"\ncolumns = [\"id\"]\n",
            ),
        ])
        .unwrap_err();
        assert_eq!(e.code(), "surrogate_key_invalid");
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.sql", "SELECT 1"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k\"\ncolumns = [\"id\"]\nsalt = 1\n",
            ),
        ])
        .unwrap_err();
        assert_eq!(e.code(), "toml_invalid");
        let m = one(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.rocky", "from x"),
            (
                "models/a.toml",
                "[[surrogate_key]]\nname = \"k\"\ncolumns = [\"id\"]\n",
            ),
        ]);
        assert!(m.surrogate_keys.is_empty());
        assert_eq!(
            m.recompute(Dialect::DuckDb, &RunInputs::default()),
            Recomputed::NotRecomputable(NotRecomputable::RockyDslModel)
        );
    }

    #[test]
    fn duplicate_names_and_empty_projects_are_errors() {
        let e = load(&[
            ("rocky.toml", DUCK),
            ("models/_defaults.toml", DEF),
            ("models/a.sql", "SELECT 1"),
            ("models/a.toml", ""),
            ("models/b.sql", "SELECT 1"),
            ("models/b.toml", "name = \"a\"\n"),
        ])
        .unwrap_err();
        assert_eq!(e, ProjectError::DuplicateModel("a".into()));
        assert_eq!(
            load(&[("rocky.toml", DUCK)]).unwrap_err().code(),
            "no_models"
        );
    }

    #[test]
    fn a_git_commit_tree_loads_like_the_memory_tree_and_refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let commit = |files: &[(&str, &str, i32)]| -> String {
            let mut index = repo.index().unwrap();
            index.clear().unwrap();
            for (path, content, mode) in files {
                let oid = repo.blob(content.as_bytes()).unwrap();
                let entry = git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode: *mode as u32,
                    uid: 0,
                    gid: 0,
                    file_size: content.len() as u32,
                    id: oid,
                    flags: 0,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                };
                index.add(&entry).unwrap();
            }
            let tree = repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap();
            let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).unwrap();
            repo.commit(None, &sig, &sig, "m", &tree, &[])
                .unwrap()
                .to_string()
        };
        let files = [
            ("rocky.toml", DUCK, 0o100644),
            ("models/_defaults.toml", DEF, 0o100644),
            (
                "models/raw_orders.sql",
                "SELECT * FROM raw.orders\n",
                0o100644,
            ),
            ("models/raw_orders.toml", "", 0o100644),
        ];
        let c1 = commit(&files);
        let tree = GitCommitTree::new(&repo, &c1).unwrap();
        let p = Project::load(&tree, &LoadOptions::default()).unwrap();
        let m = &p.models[0];
        let Recomputed::Statements(s) = m.recompute(Dialect::DuckDb, &RunInputs::default()) else {
            panic!("not recomputed");
        };
        // Reference section 1.3: a DuckDB full_refresh of warehouse.main.raw_orders.
        assert_eq!(
            crate::rocky::sql_hash::fingerprint(&s.statements),
            "8db55759bf0597d4"
        );
        let mut with_link = files.to_vec();
        with_link.push(("models/shared", "../elsewhere", 0o120000));
        let c2 = commit(&with_link);
        let tree = GitCommitTree::new(&repo, &c2).unwrap();
        assert_eq!(
            Project::load(&tree, &LoadOptions::default()).unwrap_err(),
            ProjectError::SymlinkInTree("models/shared".into())
        );
        assert!(GitCommitTree::new(&repo, "0000000000000000000000000000000000000000").is_err());
    }
}
