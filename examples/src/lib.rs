//! # rocky-examples: the demo pipeline
//!
//! A small but real pipeline, recorded with `rocky-writer` so that `rocky-verify` has something
//! true to check:
//!
//! - three plain-SQL models (`raw_orders -> stg_orders -> fct_revenue`) and a `rocky.toml`,
//!   committed into a real git repository;
//! - executed against a DuckDB warehouse file (`CREATE OR REPLACE TABLE ... AS <model sql>`);
//! - each model's table exported as deterministic content-addressed Parquet;
//! - the run recorded in a redb ledger with every audit field, artifacts and provenance whose
//!   upstreams are content hashes (strong).
//!
//! The end-to-end tests build their scenarios with this crate too, so the demo and the tests
//! exercise the same path.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Duration, TimeZone, Utc};
use rocky_writer::artifact::{ParquetSettings, write_content_addressed};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::records::UpstreamIdentity;
use rocky_writer::{ConfigFile, Ledger, ModelDraft, RecordedRun, RunDraft, WriterClock};

pub mod remote;

/// The warehouse catalog: DuckDB names a database after its file stem (`demo.duckdb`).
pub const CATALOG: &str = "demo";
/// The warehouse schema.
pub const SCHEMA: &str = "main";
/// The engine version the demo records (`RunRecord.rocky_version`).
pub const ENGINE_VERSION: &str = concat!("rocky-demo/", env!("CARGO_PKG_VERSION"));

/// One model of the demo: name, upstream model names.
pub struct ModelSpec {
    /// Model (and table) name.
    pub name: &'static str,
    /// Models it reads, in the order they appear in its SQL.
    pub upstreams: &'static [&'static str],
}

/// The three models, in execution order.
pub const MODELS: [ModelSpec; 3] = [
    ModelSpec {
        name: "raw_orders",
        upstreams: &[],
    },
    ModelSpec {
        name: "stg_orders",
        upstreams: &["raw_orders"],
    },
    ModelSpec {
        name: "fct_revenue",
        upstreams: &["stg_orders"],
    },
];

/// The initial model sources, embedded so the demo needs nothing but this crate.
pub const RAW_ORDERS_SQL: &str = include_str!("../models/raw_orders.sql");
/// See [`RAW_ORDERS_SQL`].
pub const STG_ORDERS_SQL: &str = include_str!("../models/stg_orders.sql");
/// See [`RAW_ORDERS_SQL`].
pub const FCT_REVENUE_SQL: &str = include_str!("../models/fct_revenue.sql");
/// The second version of `fct_revenue`, committed before the second run.
pub const FCT_REVENUE_V2_SQL: &str = include_str!("../models/fct_revenue.v2.sql");
/// The project's `rocky.toml`.
pub const ROCKY_TOML: &str = include_str!("../models/rocky.toml");

/// Errors of the demo pipeline.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A git operation failed.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// DuckDB failed.
    #[error("duckdb: {0}")]
    Duckdb(#[from] duckdb::Error),
    /// Arrow failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The writer refused to write an artifact.
    #[error("artifact: {0}")]
    Artifact(#[from] rocky_writer::ArtifactError),
    /// The writer refused to open the ledger.
    #[error("ledger: {0}")]
    Open(#[from] rocky_writer::OpenError),
    /// The writer refused to record the run.
    #[error("record: {0}")]
    Record(#[from] rocky_writer::RecordError),
    /// Remote state failed (the remote demo).
    #[error("remote state: {0}")]
    Sync(#[from] rocky_writer::remote::SyncError),
    /// The remote demo is not configured.
    #[error("remote demo: {reason}")]
    Remote {
        /// What is missing.
        reason: String,
    },
    /// A model produced a column type the demo does not map.
    #[error("model {model}: column {column} has unsupported type {data_type}")]
    UnsupportedType {
        /// Model.
        model: String,
        /// Column.
        column: String,
        /// Arrow type.
        data_type: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where everything of one demo lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The demo's root folder.
    pub root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }
    /// The git repository (working tree) of the project.
    pub fn project(&self) -> PathBuf {
        self.root.join("project")
    }
    /// The ledger, at Rocky's default name in the project folder (git-ignored).
    pub fn ledger(&self) -> PathBuf {
        self.project().join(".rocky-state.redb")
    }
    /// The content-addressed Parquet folder (git-ignored).
    pub fn artifacts(&self) -> PathBuf {
        self.project().join("artifacts")
    }
    /// The DuckDB warehouse file.
    pub fn warehouse(&self) -> PathBuf {
        self.root
            .join("warehouse")
            .join(format!("{CATALOG}.duckdb"))
    }
    /// A model's source path, relative to the project.
    pub fn model_path(name: &str) -> String {
        format!("models/{name}.sql")
    }
}

/// Where timestamps come from: the real clock, or a fixed, deterministic one (for documentation
/// whose output must not change between runs).
#[derive(Debug, Clone)]
pub enum Clock {
    /// `Utc::now()`.
    Real,
    /// Starts at the given instant and advances by `step` on every reading. Runs recorded with it
    /// also record the identity `demo` instead of `$USER`.
    Fixed {
        /// The next reading.
        next: DateTime<Utc>,
        /// How far each reading advances.
        step: Duration,
    },
}

impl Clock {
    /// The fixed clock used by AUDIT.md: 2026-11-20T09:00:00Z, 250 ms per reading.
    pub fn fixed() -> Self {
        Clock::Fixed {
            next: Utc
                .with_ymd_and_hms(2026, 11, 20, 9, 0, 0)
                .single()
                .expect("valid date"),
            step: Duration::milliseconds(250),
        }
    }

    /// Reads the clock.
    pub fn now(&mut self) -> DateTime<Utc> {
        match self {
            Clock::Real => Utc::now(),
            Clock::Fixed { next, step } => {
                let t = *next;
                *next = t + *step;
                t
            }
        }
    }

    /// Moves a fixed clock forward (a pause between runs); the real clock ignores it.
    pub fn advance(&mut self, by: Duration) {
        if let Clock::Fixed { next, .. } = self {
            *next += by;
        }
    }
}

/// Who the demo says ran it: `$USER`, else `demo`.
fn identity() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "demo".to_owned())
}

fn signature(clock: &mut Clock) -> Result<git2::Signature<'static>, git2::Error> {
    let t = clock.now();
    git2::Signature::new(
        "Demo Engineer",
        "demo@example.com",
        &git2::Time::new(t.timestamp(), 0),
    )
}

/// Writes `text` to `project/rel`, creating folders.
pub fn write_project_file(layout: &Layout, rel: &str, text: &str) -> Result<(), DemoError> {
    let path = layout.project().join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::write(&path, text).map_err(io(&path))
}

/// Creates the project: model files, `rocky.toml`, `.gitignore`, and a git repository on branch
/// `main` with one commit. Returns the commit id.
pub fn create_project(layout: &Layout, clock: &mut Clock) -> Result<String, DemoError> {
    let project = layout.project();
    fs::create_dir_all(&project).map_err(io(&project))?;
    write_project_file(layout, &Layout::model_path("raw_orders"), RAW_ORDERS_SQL)?;
    write_project_file(layout, &Layout::model_path("stg_orders"), STG_ORDERS_SQL)?;
    write_project_file(layout, &Layout::model_path("fct_revenue"), FCT_REVENUE_SQL)?;
    write_project_file(layout, "rocky.toml", ROCKY_TOML)?;
    write_project_file(
        layout,
        ".gitignore",
        "/.rocky-state.redb\n/.rocky-state.redb.lock\n/artifacts/\n",
    )?;
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    git2::Repository::init_opts(&project, &opts)?;
    commit_all(layout, clock, "Add the orders pipeline")
}

/// Stages every file of the working tree and commits it on the current branch.
pub fn commit_all(layout: &Layout, clock: &mut Clock, message: &str) -> Result<String, DemoError> {
    let repo = git2::Repository::open(layout.project())?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let sig = signature(clock)?;
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit()?),
        Err(_) => None,
    };
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let id = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
    Ok(id.to_string())
}

/// The commit and branch the working tree is on.
pub fn head(layout: &Layout) -> Result<(String, Option<String>), DemoError> {
    let repo = git2::Repository::open(layout.project())?;
    let head = repo.head()?;
    let commit = head.peel_to_commit()?.id().to_string();
    let branch = head.shorthand().ok().map(str::to_owned);
    Ok((commit, branch))
}

fn rocky_type(model: &str, column: &str, data_type: &DataType) -> Result<RockyType, DemoError> {
    Ok(match data_type {
        DataType::Boolean => RockyType::Boolean,
        DataType::Int32 => RockyType::Int32,
        DataType::Int64 => RockyType::Int64,
        DataType::Float32 => RockyType::Float32,
        DataType::Float64 => RockyType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => RockyType::String,
        DataType::Date32 => RockyType::Date,
        DataType::Timestamp(TimeUnit::Microsecond, None) => RockyType::TimestampNtz,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => RockyType::Timestamp,
        DataType::Binary | DataType::LargeBinary => RockyType::Binary,
        // Rocky's Decimal scale is unsigned; a negative Arrow scale has no RockyType.
        DataType::Decimal128(p, s) if *s >= 0 => RockyType::Decimal {
            precision: *p,
            scale: s.unsigned_abs(),
        },
        other => {
            return Err(DemoError::UnsupportedType {
                model: model.to_owned(),
                column: column.to_owned(),
                data_type: other.to_string(),
            });
        }
    })
}

/// Quotes a SQL identifier (`"` doubled inside).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn table_ref(name: &str) -> TableRef {
    TableRef::new(CATALOG, SCHEMA, name)
}

/// Runs every model against the warehouse as the working tree has it, writes each table as
/// content-addressed Parquet and records the run, claiming the commit `HEAD` points at.
///
/// The model text executed is the working-tree file; the recorded `git_commit` is `HEAD`. When the
/// two differ (an uncommitted edit), the run is recorded anyway, exactly as a careless engine
/// would, and `rocky-verify` reports the mismatch (`sql_hash_mismatch`).
pub fn run_pipeline(layout: &Layout, clock: &mut Clock) -> Result<RecordedRun, DemoError> {
    let (commit, branch) = head(layout)?;
    let warehouse = layout.warehouse();
    if let Some(parent) = warehouse.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let artifacts = layout.artifacts();
    fs::create_dir_all(&artifacts).map_err(io(&artifacts))?;
    let config_path = layout.project().join("rocky.toml");
    let config = fs::read(&config_path).map_err(io(&config_path))?;

    let mut ledger = Ledger::create_or_open(layout.ledger())?;
    let conn = duckdb::Connection::open(&warehouse)?;
    let settings = ParquetSettings::pinned();

    let started_at = clock.now();
    let mut models = Vec::new();
    let mut outputs: Vec<(&str, String)> = Vec::new();
    let mut row_counts = Vec::new();
    for spec in &MODELS {
        let rel = Layout::model_path(spec.name);
        let path = layout.project().join(&rel);
        let source = fs::read(&path).map_err(io(&path))?;
        let sql = String::from_utf8_lossy(&source).into_owned();
        let target = table_ref(spec.name);
        let qualified = format!(
            "{}.{}.{}",
            quote_ident(CATALOG),
            quote_ident(SCHEMA),
            quote_ident(spec.name)
        );

        let model_started = clock.now();
        conn.execute_batch(&format!("CREATE OR REPLACE TABLE {qualified} AS\n{sql}"))?;
        // ORDER BY ALL: the exported bytes depend only on the table's contents.
        let batches: Vec<RecordBatch> = conn
            .prepare(&format!("SELECT * FROM {qualified} ORDER BY ALL"))?
            .query_arrow([])?
            .collect();
        let schema = batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
        let batch = arrow::compute::concat_batches(&schema, &batches)?;
        let artifact = write_content_addressed(&artifacts, &batch, &settings)?;
        let model_finished = clock.now();

        let typed_columns = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(TypedColumn {
                    name: f.name().clone(),
                    data_type: rocky_type(spec.name, f.name(), f.data_type())?,
                    nullable: f.is_nullable(),
                })
            })
            .collect::<Result<Vec<_>, DemoError>>()?;
        let materialization = MaterializationStrategy::ContentAddressed {
            storage_prefix: format!("artifacts/{}", spec.name),
            partition_columns: Vec::new(),
        };
        let mut ir = ModelIr::new(
            spec.name,
            sql,
            target.clone(),
            materialization,
            typed_columns,
        );
        ir.sources = spec.upstreams.iter().map(|u| table_ref(u)).collect();

        let mut draft = ModelDraft::new(ir, rel, model_started, model_finished);
        draft.source = source;
        draft.rows_affected = Some(artifact.row_count);
        draft.upstreams = spec
            .upstreams
            .iter()
            .map(|u| {
                let hash = outputs
                    .iter()
                    .find(|(name, _)| name == u)
                    .map(|(_, h)| h.clone())
                    .expect("models run in dependency order");
                UpstreamIdentity::Content {
                    upstream_key: table_ref(u).key(),
                    blake3_hash: hash,
                }
            })
            .collect();
        outputs.push((spec.name, artifact.blake3_hash.clone()));
        row_counts.push((target, artifact.row_count));
        draft.artifacts.push(artifact);
        models.push(draft);
    }
    let finished_at = clock.now();

    let mut run = RunDraft::new(started_at, finished_at, ENGINE_VERSION);
    // A fixed clock also fixes the identity, so documented output is the same for every reader.
    let who = if matches!(clock, Clock::Fixed { .. }) {
        "demo".to_owned()
    } else {
        identity()
    };
    run.triggering_identity = Some(who);
    run.git_commit = Some(commit);
    run.git_branch = branch;
    run.target_catalog = Some(CATALOG.to_owned());
    run.hostname = "demo-host".to_owned();
    run.config = Some(ConfigFile {
        path: "rocky.toml".to_owned(),
        bytes: config,
    });
    run.models = models;
    run.row_counts = row_counts;
    run.record_reuse = true;
    // The writer's own stamps (`recorded_at`, `written_at`, check history) come from the same
    // clock: under the fixed one, the instant the run finished, so the ledger's bytes are the
    // same on every machine.
    if matches!(clock, Clock::Fixed { .. }) {
        ledger.set_clock(WriterClock::from_fn(move || finished_at));
    }
    Ok(ledger.record_run(run)?)
}

/// The whole demo: create the project, run it, change `fct_revenue` in a second commit, run it
/// again. Returns both recorded runs.
pub fn build_demo(layout: &Layout, clock: &mut Clock) -> Result<[RecordedRun; 2], DemoError> {
    create_project(layout, clock)?;
    let first = run_pipeline(layout, clock)?;
    clock.advance(Duration::hours(1));
    write_project_file(
        layout,
        &Layout::model_path("fct_revenue"),
        FCT_REVENUE_V2_SQL,
    )?;
    commit_all(layout, clock, "fct_revenue: add the average order value")?;
    let second = run_pipeline(layout, clock)?;
    Ok([first, second])
}

/// One thing to break in a built demo, to watch `rocky-verify` catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Flip one byte in the middle of the latest `fct_revenue` Parquet artifact.
    Artifact,
    /// Delete one row of `demo.main.fct_revenue` in the warehouse.
    Warehouse,
    /// Rewrite history: amend the commit the latest run recorded with a changed `fct_revenue`
    /// model and move `main` to the amended commit.
    Model,
}

impl std::str::FromStr for Tamper {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "artifact" => Ok(Tamper::Artifact),
            "warehouse" => Ok(Tamper::Warehouse),
            "model" => Ok(Tamper::Model),
            other => Err(format!(
                "unknown tamper {other:?}: expected artifact, warehouse or model"
            )),
        }
    }
}

/// Applies one [`Tamper`] to a built demo and says what it did.
pub fn tamper(layout: &Layout, what: Tamper) -> Result<String, DemoError> {
    match what {
        Tamper::Artifact => {
            let ledger = Ledger::create_or_open(layout.ledger())?;
            let latest = ledger
                .runs()
                .map_err(|e| DemoError::Io {
                    path: layout.ledger(),
                    source: std::io::Error::other(e),
                })?
                .into_iter()
                .map(|r| r.run_id)
                .max()
                .unwrap_or_default();
            let artifacts = ledger
                .artifacts_for_run(&latest)
                .map_err(|e| DemoError::Io {
                    path: layout.ledger(),
                    source: std::io::Error::other(e),
                })?;
            let hash = artifacts
                .iter()
                .find(|a| a.model_name == "fct_revenue")
                .map(|a| a.blake3_hash.clone())
                .unwrap_or_default();
            let path = layout.artifacts().join(format!("{hash}.parquet"));
            let mut bytes = fs::read(&path).map_err(io(&path))?;
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            fs::write(&path, bytes).map_err(io(&path))?;
            Ok(format!("flipped byte {middle} of {}", path.display()))
        }
        Tamper::Warehouse => {
            let conn = duckdb::Connection::open(layout.warehouse())?;
            let n = conn.execute(
                "DELETE FROM demo.main.fct_revenue WHERE order_date = \
                 (SELECT min(order_date) FROM demo.main.fct_revenue)",
                [],
            )?;
            Ok(format!("deleted {n} row(s) of demo.main.fct_revenue"))
        }
        Tamper::Model => {
            let repo = git2::Repository::open(layout.project())?;
            let head = repo.head()?.peel_to_commit()?;
            let rel = Layout::model_path("fct_revenue");
            let forged = FCT_REVENUE_V2_SQL
                .replace("sum(amount) AS revenue", "sum(amount) * 1.1 AS revenue");
            write_project_file(layout, &rel, &forged)?;
            let mut index = repo.index()?;
            index.add_path(Path::new(&rel))?;
            index.write()?;
            let tree = repo.find_tree(index.write_tree()?)?;
            let amended = head.amend(Some("HEAD"), None, None, None, None, Some(&tree))?;
            Ok(format!(
                "amended commit {} into {amended} with a changed {rel}; main now points at the rewrite",
                head.id()
            ))
        }
    }
}
