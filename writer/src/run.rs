//! Recording a run: [`RunDraft`] in, one write transaction, [`RecordedRun`] out.

use std::collections::BTreeSet;
use std::fs;
use std::path::Component;

use chrono::{DateTime, Duration, Utc};
use redb::ReadableTable;

use crate::artifact::{WrittenArtifact, content_address_of_file_name};
use crate::check::Anomaly;
use crate::error::{CheckError, RecordError};
use crate::identity::{self, Adapter};
use crate::ir::{MaterializationStrategy, ModelIr, TableRef};
use crate::ledger::{
    INPUT_INDEX, INPUT_PROVENANCE, Ledger, OUTPUT_ARTIFACTS, RUN_HISTORY, WATERMARKS,
    append_row_count, to_json,
};
use crate::records::{
    ArtifactRecord, AttemptRecord, CheckOutcome, ExecutionStatus, HashScheme, InputIndexEntry,
    MaterializationKind, ModelExecution, ProvenanceRecord, RunRecord, RunStatus, RunTrigger,
    SessionSource, UpstreamIdentity, WatermarkState, ts,
};

/// The largest `-N` suffix tried before giving up on a run id.
const MAX_RUN_ID_SUFFIX: u32 = 100_000;

/// Rocky's run id for a start time: `run-YYYYmmdd-HHMMSS-mmm` (UTC, milliseconds truncated).
pub fn base_run_id(started_at: &DateTime<Utc>) -> String {
    format!("run-{}", started_at.format("%Y%m%d-%H%M%S-%3f"))
}

/// The first free id: `base` itself, else `base-N` with the smallest N >= 1 not taken.
pub fn free_run_id(base: &str, mut taken: impl FnMut(&str) -> bool) -> Option<String> {
    if !taken(base) {
        return Some(base.to_owned());
    }
    (1..=MAX_RUN_ID_SUFFIX)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken(id))
}

/// The project config file whose bytes `config_hash` and `config_blake3` cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Repo-relative path; recorded in `config_path` unless it is `rocky.toml`.
    pub path: String,
    /// The raw bytes, before any env-var substitution.
    pub bytes: Vec<u8>,
}

/// One model of a run, as the engine executed it.
#[derive(Debug, Clone)]
pub struct ModelDraft {
    /// The model's IR. Its `sql` must be the source text exactly.
    pub ir: ModelIr,
    /// Repo-relative, `/`-separated path of the model's SQL file (no `..`, no leading `/`).
    pub source_path: String,
    /// The source file's bytes exactly as committed: `sql_hash` is their blake3. When they are
    /// not UTF-8, `skip_hash` is None (as in Rocky) and no provenance row is written.
    pub source: Vec<u8>,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// Finish time.
    pub finished_at: DateTime<Utc>,
    /// Outcome. A failed model is recorded as Rocky records one: the run's start and finish,
    /// duration 0, `sql_hash` `""` and no hashes.
    pub status: ExecutionStatus,
    /// Rows written; defaults to the artifacts' row count on the content-addressed path.
    pub rows_affected: Option<u64>,
    /// Bytes scanned, when the adapter reports it.
    pub bytes_scanned: Option<u64>,
    /// Tenant.
    pub tenant: Option<String>,
    /// Content-addressed outputs, written under the ledger's folder.
    pub artifacts: Vec<WrittenArtifact>,
    /// The read set, for `input_hash` and provenance.
    pub upstreams: Vec<UpstreamIdentity>,
    /// Retry attempts (omitted from the record when empty).
    pub attempts: Vec<AttemptRecord>,
}

impl ModelDraft {
    /// A successful model whose source is `ir.sql`, with no artifacts or upstreams.
    pub fn new(
        ir: ModelIr,
        source_path: impl Into<String>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Self {
        let source = ir.sql.clone().into_bytes();
        ModelDraft {
            ir,
            source_path: source_path.into(),
            source,
            started_at,
            finished_at,
            status: ExecutionStatus::Success,
            rows_affected: None,
            bytes_scanned: None,
            tenant: None,
            artifacts: Vec::new(),
            upstreams: Vec::new(),
            attempts: Vec::new(),
        }
    }
}

/// Everything about a run that the engine knows; the writer derives the rest (run id, hashes,
/// keys, provenance).
#[derive(Debug, Clone)]
pub struct RunDraft {
    /// Run start.
    pub started_at: DateTime<Utc>,
    /// Run finish.
    pub finished_at: DateTime<Utc>,
    /// Run status.
    pub status: RunStatus,
    /// Trigger.
    pub trigger: RunTrigger,
    /// Session source.
    pub session_source: SessionSource,
    /// `$USER` or similar.
    pub triggering_identity: Option<String>,
    /// Git commit of the project tree the models were read from.
    pub git_commit: Option<String>,
    /// Git branch.
    pub git_branch: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Target catalog.
    pub target_catalog: Option<String>,
    /// Host name.
    pub hostname: String,
    /// The engine's version: `RunRecord.rocky_version` and `env_hash`'s `engine_version`.
    pub engine_version: String,
    /// The adapter named in `env_hash`.
    pub adapter: Adapter,
    /// The config file; `None` records `config_hash = "unknown"`.
    pub config: Option<ConfigFile>,
    /// Check outcomes.
    pub check_outcomes: Vec<CheckOutcome>,
    /// Pipeline name.
    pub pipeline: Option<String>,
    /// Submission id.
    pub submission_id: Option<String>,
    /// Models executed.
    pub models: Vec<ModelDraft>,
    /// Watermarks to set in the same transaction.
    pub watermarks: Vec<(TableRef, DateTime<Utc>)>,
    /// Row counts to append to check history in the same transaction.
    pub row_counts: Vec<(TableRef, u64)>,
    /// Whether to write `input_index` and `input_provenance` rows (Rocky's `[reuse] enabled`).
    pub record_reuse: bool,
    /// Whether to re-hash every artifact file before recording it (default true).
    pub verify_artifacts: bool,
}

impl RunDraft {
    /// A successful manual CLI run on host `unknown`, with no models.
    pub fn new(
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        engine_version: impl Into<String>,
    ) -> Self {
        RunDraft {
            started_at,
            finished_at,
            status: RunStatus::Success,
            trigger: RunTrigger::Manual,
            session_source: SessionSource::Cli,
            triggering_identity: None,
            git_commit: None,
            git_branch: None,
            idempotency_key: None,
            target_catalog: None,
            hostname: "unknown".into(),
            engine_version: engine_version.into(),
            adapter: Adapter::Duckdb,
            config: None,
            check_outcomes: Vec::new(),
            pipeline: None,
            submission_id: None,
            models: Vec::new(),
            watermarks: Vec::new(),
            row_counts: Vec::new(),
            record_reuse: true,
            verify_artifacts: true,
        }
    }
}

/// What [`Ledger::record_run`] wrote.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    /// The run id (with a `-N` suffix if the base id was taken).
    pub run_id: String,
    /// The `run_history` value.
    pub record: RunRecord,
    /// The `output_artifacts` values.
    pub artifacts: Vec<ArtifactRecord>,
    /// The `input_provenance` values.
    pub provenance: Vec<ProvenanceRecord>,
    /// The `input_index` values.
    pub input_index: Vec<InputIndexEntry>,
    /// Row-count anomalies found while appending check history.
    pub anomalies: Vec<(TableRef, Anomaly)>,
}

/// Checks a repo-relative, `/`-separated path.
pub fn validate_repo_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') {
        return Err("leading '/'");
    }
    if path.contains('\\') {
        return Err("contains '\\'");
    }
    if path.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    for part in path.split('/') {
        match part {
            "" => return Err("empty component"),
            "." | ".." => return Err("'.' or '..' component"),
            _ => {}
        }
    }
    Ok(())
}

fn materialization_kind(m: &MaterializationStrategy) -> Option<MaterializationKind> {
    match m {
        MaterializationStrategy::FullRefresh => Some(MaterializationKind::FullRefresh),
        MaterializationStrategy::Incremental { .. } => Some(MaterializationKind::Incremental),
        MaterializationStrategy::Merge { .. } => Some(MaterializationKind::Merge),
        MaterializationStrategy::ContentAddressed { .. } => {
            Some(MaterializationKind::ContentAddressed)
        }
        MaterializationStrategy::View => Some(MaterializationKind::View),
        _ => None,
    }
}

fn time_range(
    what: impl Into<String>,
    start: &DateTime<Utc>,
    end: &DateTime<Utc>,
) -> Result<(), RecordError> {
    if end < start {
        return Err(RecordError::TimeRange {
            what: what.into(),
            started_at: ts::format(start),
            finished_at: ts::format(end),
        });
    }
    Ok(())
}

/// A model's rows, prepared outside the write transaction.
struct PreparedModel {
    execution: ModelExecution,
    project_name: String,
    /// `(file_path, artifact)` per output.
    outputs: Vec<(String, WrittenArtifact)>,
    /// `(input_hash, skip_hash, ir json, upstreams, proof class)` when provenance is recorded.
    provenance: Option<(
        String,
        String,
        String,
        Vec<UpstreamIdentity>,
        crate::records::ProofClass,
    )>,
}

impl Ledger {
    /// Records a run, its model executions, artifacts, provenance, watermarks and check history
    /// in one write transaction (`Durability::Immediate`). Either all of it is in the ledger
    /// afterwards or none of it.
    ///
    /// The run id is `run-YYYYmmdd-HHMMSS-mmm` from `started_at`, with `-N` appended when taken
    /// (decided inside the transaction). For each successful model the writer computes
    /// `sql_hash` (blake3 of the source bytes, scheme `v1+blake3-sql`), `skip_hash`,
    /// `recipe_hash` and `env_hash`; with `record_reuse`, each successful model with artifacts
    /// and a `skip_hash` also gets `input_index` and `input_provenance` rows.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`]; on error nothing is written. Input errors include
    /// [`RecordError::InvalidSourcePath`], [`RecordError::SqlSourceMismatch`],
    /// [`RecordError::PathOutsideLedger`], [`RecordError::ArtifactChanged`],
    /// [`RecordError::InvalidTableRef`], [`RecordError::InvalidUpstream`],
    /// [`RecordError::TimeRange`], [`RecordError::DuplicateModel`].
    pub fn record_run(&self, draft: RunDraft) -> Result<RecordedRun, RecordError> {
        time_range("run", &draft.started_at, &draft.finished_at)?;
        let env_hash = identity::env_hash(&draft.engine_version, draft.adapter);
        let (config_hash, config_blake3, config_path) = match &draft.config {
            None => ("unknown".to_owned(), None, None),
            Some(cfg) => {
                validate_repo_path(&cfg.path).map_err(|reason| RecordError::InvalidConfigPath {
                    path: cfg.path.clone(),
                    reason,
                })?;
                let path = (cfg.path != "rocky.toml").then(|| cfg.path.clone());
                (
                    identity::config_hash(&cfg.bytes),
                    Some(identity::config_blake3(&cfg.bytes)),
                    path,
                )
            }
        };
        let tables = draft
            .watermarks
            .iter()
            .map(|(t, _)| t)
            .chain(draft.row_counts.iter().map(|(t, _)| t));
        for table in tables {
            if !table.is_well_formed() {
                return Err(RecordError::InvalidTableRef { key: table.key() });
            }
        }

        let mut names = BTreeSet::new();
        let mut prepared = Vec::with_capacity(draft.models.len());
        for model in &draft.models {
            if !names.insert(model.ir.name.clone()) {
                return Err(RecordError::DuplicateModel {
                    name: model.ir.name.clone(),
                });
            }
            prepared.push(self.prepare_model(&draft, model, &env_hash)?);
        }
        // Rocky lists successful materialisations first, then failed entries.
        prepared.sort_by_key(|p| p.execution.status == ExecutionStatus::Failed);

        let recorded_at = self.clock.now();
        let txn = self.begin_write()?;
        let recorded = {
            let mut runs = txn.open_table(RUN_HISTORY)?;
            let base = base_run_id(&draft.started_at);
            let mut lookup_error = None;
            let run_id = free_run_id(&base, |id| match runs.get(id) {
                Ok(v) => v.is_some(),
                Err(e) => {
                    lookup_error.get_or_insert(e);
                    true
                }
            });
            if let Some(e) = lookup_error {
                return Err(e.into());
            }
            let run_id = run_id.ok_or(RecordError::RunIdExhausted { base })?;

            let mut artifacts_out = Vec::new();
            let mut provenance_out = Vec::new();
            let mut index_out = Vec::new();
            {
                let mut artifacts = txn.open_table(OUTPUT_ARTIFACTS)?;
                let mut provenance = txn.open_table(INPUT_PROVENANCE)?;
                let mut index = txn.open_table(INPUT_INDEX)?;
                for p in &prepared {
                    for (file_path, a) in &p.outputs {
                        let record = ArtifactRecord {
                            blake3_hash: a.blake3_hash.clone(),
                            run_id: run_id.clone(),
                            model_name: p.project_name.clone(),
                            file_path: file_path.clone(),
                            commit_version: 0,
                            size_bytes: a.size_bytes,
                            written_at: recorded_at,
                        };
                        let key = format!("{run_id}|{}|{file_path}", p.project_name);
                        artifacts.insert(key.as_str(), to_json(&record).as_slice())?;
                        artifacts_out.push(record);
                    }
                    if let Some((input_hash, skip_hash, ir_json, upstreams, proof_class)) =
                        &p.provenance
                    {
                        let output_blake3: Vec<String> = p
                            .outputs
                            .iter()
                            .map(|(_, a)| a.blake3_hash.clone())
                            .collect();
                        let output_path: Vec<String> =
                            p.outputs.iter().map(|(f, _)| f.clone()).collect();
                        let record = ProvenanceRecord {
                            run_id: run_id.clone(),
                            model_name: p.project_name.clone(),
                            input_hash: input_hash.clone(),
                            skip_hash: skip_hash.clone(),
                            model_ir_canonical_json: ir_json.clone(),
                            upstreams: upstreams.clone(),
                            output_blake3: output_blake3.clone(),
                            output_path: output_path.clone(),
                            proof_class: *proof_class,
                            recorded_at,
                        };
                        let entry = InputIndexEntry {
                            input_hash: input_hash.clone(),
                            run_id: run_id.clone(),
                            model_name: p.project_name.clone(),
                            output_blake3,
                            output_path,
                            proof_class: *proof_class,
                            recorded_at,
                        };
                        let key = format!("{run_id}|{}", p.project_name);
                        provenance.insert(key.as_str(), to_json(&record).as_slice())?;
                        index.insert(input_hash.as_str(), to_json(&entry).as_slice())?;
                        provenance_out.push(record);
                        index_out.push(entry);
                    }
                }
            }

            {
                let mut watermarks = txn.open_table(WATERMARKS)?;
                for (table, last_value) in &draft.watermarks {
                    let state = WatermarkState {
                        last_value: *last_value,
                        updated_at: recorded_at,
                    };
                    watermarks.insert(table.key().as_str(), to_json(&state).as_slice())?;
                }
            }
            let mut anomalies = Vec::new();
            for (table, count) in &draft.row_counts {
                match append_row_count(&txn, table, *count, recorded_at, &self.check_config) {
                    Ok(Some(a)) => anomalies.push((table.clone(), a)),
                    Ok(None) => {}
                    Err(CheckError::Storage(e)) => return Err(RecordError::Storage(e)),
                    Err(CheckError::CorruptValue { key, source }) => {
                        return Err(RecordError::CorruptValue {
                            table: "check_history",
                            key,
                            source,
                        });
                    }
                    Err(_) => return Err(RecordError::InvalidTableRef { key: table.key() }),
                }
            }

            let record = RunRecord {
                run_id: run_id.clone(),
                started_at: draft.started_at,
                finished_at: draft.finished_at,
                status: draft.status,
                models_executed: prepared.iter().map(|p| p.execution.clone()).collect(),
                trigger: draft.trigger,
                config_hash,
                triggering_identity: draft.triggering_identity.clone(),
                session_source: draft.session_source,
                git_commit: draft.git_commit.clone(),
                git_branch: draft.git_branch.clone(),
                idempotency_key: draft.idempotency_key.clone(),
                target_catalog: draft.target_catalog.clone(),
                hostname: draft.hostname.clone(),
                rocky_version: draft.engine_version.clone(),
                check_outcomes: draft.check_outcomes.clone(),
                pipeline: draft.pipeline.clone(),
                submission_id: draft.submission_id.clone(),
                config_blake3,
                config_path,
            };
            runs.insert(run_id.as_str(), to_json(&record).as_slice())?;
            RecordedRun {
                run_id,
                record,
                artifacts: artifacts_out,
                provenance: provenance_out,
                input_index: index_out,
                anomalies,
            }
        };
        txn.commit()?;
        Ok(recorded)
    }

    fn prepare_model(
        &self,
        draft: &RunDraft,
        model: &ModelDraft,
        env_hash: &str,
    ) -> Result<PreparedModel, RecordError> {
        let ir = &model.ir;
        let name = &ir.name;
        if name.is_empty() || name.contains('|') || name.chars().any(char::is_control) {
            return Err(RecordError::InvalidModelName {
                name: name.clone(),
                reason: "empty, or contains '|' or a control character",
            });
        }
        if !ir.target.is_well_formed() {
            return Err(RecordError::InvalidTableRef {
                key: ir.target.key(),
            });
        }
        validate_repo_path(&model.source_path).map_err(|reason| {
            RecordError::InvalidSourcePath {
                model: name.clone(),
                path: model.source_path.clone(),
                reason,
            }
        })?;
        let source_text = std::str::from_utf8(&model.source).ok();
        if let Some(text) = source_text
            && text != ir.sql
        {
            return Err(RecordError::SqlSourceMismatch {
                model: name.clone(),
                source_path: model.source_path.clone(),
            });
        }
        time_range(
            format!("model {name}"),
            &model.started_at,
            &model.finished_at,
        )?;
        for up in &model.upstreams {
            let key = up.upstream_key();
            let bad = |reason| RecordError::InvalidUpstream {
                model: name.clone(),
                upstream_key: key.to_owned(),
                reason,
            };
            let parts: Vec<&str> = key.split('.').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(bad("upstream_key is not catalog.schema.table"));
            }
            match up {
                UpstreamIdentity::Content { blake3_hash, .. }
                    if !identity::is_blake3_hex(blake3_hash) =>
                {
                    return Err(bad("blake3_hash is not 64 lowercase hex"));
                }
                UpstreamIdentity::Watermark {
                    max_ts: Some(t), ..
                } if ts::parse(t).is_err() => {
                    return Err(bad("max_ts is not an RFC 3339 timestamp"));
                }
                _ => {}
            }
        }

        let mut outputs = Vec::with_capacity(model.artifacts.len());
        let mut seen = BTreeSet::new();
        for a in &model.artifacts {
            let file_path = self.check_artifact(a, draft.verify_artifacts)?;
            if !seen.insert(file_path.clone()) {
                return Err(RecordError::DuplicateArtifact {
                    model: name.clone(),
                    path: a.path.clone(),
                });
            }
            outputs.push((file_path, a.clone()));
        }

        let failed = model.status == ExecutionStatus::Failed;
        let skip_hash = if failed || source_text.is_none() {
            None
        } else {
            ir.skip_hash()
        };
        let content_addressed = !outputs.is_empty();
        let execution = if failed {
            ModelExecution {
                model_name: ir.target.table.clone(),
                started_at: draft.started_at,
                finished_at: draft.finished_at,
                duration_ms: 0,
                rows_affected: None,
                status: ExecutionStatus::Failed,
                sql_hash: String::new(),
                skip_hash: None,
                upstream_freshness: None,
                bytes_scanned: None,
                bytes_written: None,
                tenant: model.tenant.clone(),
                recipe_hash: None,
                input_hash: None,
                input_proof_class: None,
                env_hash: None,
                hash_scheme: None,
                output_column_hashes: None,
                attempts: model.attempts.clone(),
                source_path: Some(model.source_path.clone()),
                materialization: materialization_kind(&ir.materialization),
                target_table: Some(ir.target.key()),
            }
        } else {
            let duration_ms = (model.finished_at - model.started_at)
                .num_milliseconds()
                .max(0) as u64;
            let rows = if content_addressed && model.rows_affected.is_none() {
                Some(outputs.iter().map(|(_, a)| a.row_count).sum())
            } else {
                model.rows_affected
            };
            ModelExecution {
                model_name: ir.target.table.clone(),
                started_at: model.started_at,
                finished_at: model.started_at + Duration::milliseconds(duration_ms as i64),
                duration_ms,
                rows_affected: rows,
                status: ExecutionStatus::Success,
                sql_hash: identity::sql_hash_blake3(&model.source),
                skip_hash: skip_hash.clone(),
                upstream_freshness: None,
                bytes_scanned: model.bytes_scanned,
                bytes_written: content_addressed
                    .then(|| outputs.iter().map(|(_, a)| a.size_bytes).sum()),
                tenant: model.tenant.clone(),
                recipe_hash: Some(ir.recipe_hash()),
                input_hash: None,
                input_proof_class: None,
                env_hash: Some(env_hash.to_owned()),
                hash_scheme: Some(HashScheme::V1Blake3Sql),
                output_column_hashes: None,
                attempts: model.attempts.clone(),
                source_path: Some(model.source_path.clone()),
                materialization: materialization_kind(&ir.materialization),
                target_table: Some(ir.target.key()),
            }
        };
        let provenance = match (&skip_hash, draft.record_reuse && content_addressed) {
            (Some(skip), true) => Some((
                identity::input_hash(skip, &ir.target.key(), &model.upstreams),
                skip.clone(),
                ir.canonical_json(),
                model.upstreams.clone(),
                identity::proof_class(&model.upstreams),
            )),
            _ => None,
        };
        Ok(PreparedModel {
            execution,
            project_name: name.clone(),
            outputs,
            provenance,
        })
    }

    /// Checks an artifact lies under the ledger's folder, is named by its hash and still has its
    /// bytes; returns its `/`-separated path relative to the ledger's folder.
    fn check_artifact(&self, a: &WrittenArtifact, rehash: bool) -> Result<String, RecordError> {
        let io = |source| RecordError::Io {
            path: a.path.clone(),
            source,
        };
        let canonical = a.path.canonicalize().map_err(io)?;
        let relative =
            canonical
                .strip_prefix(&self.dir)
                .map_err(|_| RecordError::PathOutsideLedger {
                    path: a.path.clone(),
                    ledger_dir: self.dir.clone(),
                })?;
        let mut parts = Vec::new();
        for c in relative.components() {
            match c {
                Component::Normal(os) => {
                    parts.push(os.to_str().ok_or(RecordError::ArtifactPathInvalid {
                        path: a.path.clone(),
                        reason: "path is not UTF-8",
                    })?)
                }
                _ => {
                    return Err(RecordError::PathOutsideLedger {
                        path: a.path.clone(),
                        ledger_dir: self.dir.clone(),
                    });
                }
            }
        }
        let file_name = parts.last().copied().unwrap_or_default();
        if content_address_of_file_name(file_name) != Some(a.blake3_hash.as_str()) {
            return Err(RecordError::ArtifactPathInvalid {
                path: a.path.clone(),
                reason: "file is not named <blake3_hash>.parquet",
            });
        }
        let changed = |found: String| RecordError::ArtifactChanged {
            path: a.path.clone(),
            expected_size: a.size_bytes,
            found,
        };
        if rehash {
            let bytes = fs::read(&canonical).map_err(io)?;
            let actual = blake3::hash(&bytes).to_hex().to_string();
            if bytes.len() as u64 != a.size_bytes || actual != a.blake3_hash {
                return Err(changed(format!(
                    "{} bytes with blake3 {actual}",
                    bytes.len()
                )));
            }
        } else {
            let len = fs::metadata(&canonical).map_err(io)?.len();
            if len != a.size_bytes {
                return Err(changed(format!("{len} bytes")));
            }
        }
        Ok(parts.join("/"))
    }
}
