//! The check catalogue: every check id and every finding code the verifier knows, with what a
//! check establishes, where its findings point and the help a stopping finding prints.
//!
//! `spec/report.md` lists the same vocabulary; `tests/catalogue.rs` compares the two both ways,
//! so neither can gain or lose an id, a code or a (code, check) pair without the other.
//! [`crate::report::Check`] takes these enums, not strings, and (in debug builds) refuses a code
//! the catalogue does not pair with its check, so what is emitted is what is documented.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::report::Proof;

/// Where a check's findings are best located on disk (SARIF locations, GitHub annotations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    /// The artifact file the subject names (`<artifacts>/<hash>.parquet`).
    ArtifactFile,
    /// The warehouse file.
    Warehouse,
    /// The ledger (or the file or model source the subject names).
    Ledger,
}

macro_rules! check_ids {
    ($($variant:ident = $id:literal, $points:ident, $about:literal;)*) => {
        /// A stable dotted check id (`spec/report.md`, section "Checks").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CheckId {
            $(
                #[doc = $about]
                $variant,
            )*
        }

        impl CheckId {
            /// Every check, in the order the catalogue lists them.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant),*];

            /// The dotted id, e.g. `artifact.blake3`.
            pub const fn as_str(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)* }
            }

            /// What the check establishes (the spec's "Checks" table).
            pub const fn about(self) -> &'static str {
                match self { $(CheckId::$variant => $about,)* }
            }

            /// Where its findings point.
            pub const fn points(self) -> Points {
                match self { $(CheckId::$variant => Points::$points,)* }
            }
        }
    };
}

check_ids! {
    LedgerOpen = "ledger.open", Ledger, "the ledger file opens read-only as a redb 2 database";
    LedgerSchemaVersion = "ledger.schema_version", Ledger, "the ledger's schema version is one the verifier reads";
    LedgerKeys = "ledger.keys", Ledger, "each row's key agrees with the value it holds";
    LedgerCheckpoint = "ledger.checkpoint", Ledger, "run records are byte for byte those the gate's checkpoint saw";
    RunRecord = "run.record", Ledger, "the run record exists and decodes";
    RunId = "run.id", Ledger, "the run id is its started_at";
    RunWindow = "run.window", Ledger, "started_at is not after finished_at";
    RunIdentity = "run.identity", Ledger, "the triggering identity (self-reported by design)";
    ModelRecord = "model.record", Ledger, "each model execution decodes";
    ModelWindow = "model.window", Ledger, "model times lie in the run's window and match duration_ms";
    GitRepo = "git.repo", Ledger, "the repository opens";
    GitCommit = "git.commit", Ledger, "the recorded commit is in the repository";
    GitBranch = "git.branch", Ledger, "the recorded branch contains the commit";
    GitConfigBlake3 = "git.config_blake3", Ledger, "the config file at the commit hashes to config_blake3";
    GitConfigHash = "git.config_hash", Ledger, "the config file at the commit matches config_hash (fingerprint)";
    ModelSource = "model.source", Ledger, "the model's source file is at the commit";
    ModelSqlHash = "model.sql_hash", Ledger, "sql_hash recomputes from the model at the commit";
    ModelEnvHash = "model.env_hash", Ledger, "env_hash recomputes from its recorded inputs";
    WarehouseOpen = "warehouse.open", Warehouse, "the warehouse opens read-only";
    WarehouseTable = "warehouse.table", Warehouse, "the model's target table exists";
    WarehouseRowCount = "warehouse.row_count", Warehouse, "the rows read from the table are the count the run recorded (rows_affected, an in-window check_history snapshot or a downstream watermark count)";
    WarehouseColumns = "warehouse.columns", Warehouse, "the table's columns and types match the IR";
    ArtifactRecord = "artifact.record", ArtifactFile, "each output_artifacts row decodes";
    ArtifactPath = "artifact.path", ArtifactFile, "the recorded path is safe and named by its hash";
    ArtifactFile = "artifact.file", ArtifactFile, "the artifact file exists";
    ArtifactName = "artifact.name", ArtifactFile, "the file name is a content address";
    ArtifactBlake3 = "artifact.blake3", ArtifactFile, "the file's bytes hash to the recorded BLAKE3";
    ArtifactSize = "artifact.size", ArtifactFile, "the file's size is the recorded size";
    ArtifactParquet = "artifact.parquet", ArtifactFile, "the file's Parquet footer reads";
    ArtifactRows = "artifact.rows", ArtifactFile, "the file holds rows_affected rows";
    ArtifactLedger = "artifact.ledger", ArtifactFile, "a ledger row names the file's hash";
    ArtifactProvenance = "artifact.provenance", ArtifactFile, "a provenance record names the file as an output or an upstream";
    ArtifactOrphan = "artifact.orphan", ArtifactFile, "every artifact file is named by a ledger row";
    ProvenanceRecord = "provenance.record", Ledger, "the provenance record decodes";
    ProvenanceCanonical = "provenance.canonical", Ledger, "the IR is canonical JSON";
    ProvenanceSkipHash = "provenance.skip_hash", Ledger, "skip_hash recomputes from the IR";
    ProvenanceInputHash = "provenance.input_hash", Ledger, "input_hash recomputes from skip_hash, target and upstreams";
    ProvenanceRecipeHash = "provenance.recipe_hash", Ledger, "recipe_hash is the BLAKE3 of the IR";
    ProvenanceProofClass = "provenance.proof_class", Ledger, "proof_class is no stronger than the upstreams allow";
    ProvenanceUpstream = "provenance.upstream", Ledger, "content upstreams were produced by ledger rows and hash to their files";
    ProvenanceOutputs = "provenance.outputs", Ledger, "output_blake3 matches the run's artifacts";
    ProvenanceModel = "provenance.model", Ledger, "the run executed the model the provenance describes";
    ProvenanceIndex = "provenance.index", Ledger, "the input_index entry decodes and names the provenance's outputs";
    ColumnHashes = "column.hashes", ArtifactFile, "output_column_hashes recompute from the artifact file's columns";
    ColumnConsumed = "column.consumed", Ledger, "each consumed column hash is the upstream build's recorded output column hash";
    DeltaLog = "delta.log", Ledger, "the table's Delta log is there and its commits read";
    DeltaAdd = "delta.add", Ledger, "the artifact's add is in the Delta log at commit_version with its path, size and numRecords";
    DeltaOrphan = "delta.orphan", Ledger, "every add in the table's Delta log is accounted for by a ledger row or tombstone";
    GateScope = "gate.scope", Ledger, "the gate's scope names runs the ledger holds";
    GatePolicy = "gate.policy", Ledger, "the gate's policy file reads and is valid";
    GateWaiver = "gate.waiver", Ledger, "no policy waiver is past its expiry";
    RunScope = "run.scope", Ledger, "the --model / --select selector names models of the run";
    GitSignature = "git.signature", Ledger, "the commit's signature verifies against a trusted signer";
    BundleManifest = "bundle.manifest", Ledger, "every file of the bundle is the one its manifest lists (path, size, BLAKE3), and no other";
    BundleTiers = "bundle.tiers", Ledger, "the bundle's two ledger copies hold the same rows, as its manifest says";
    RunStatus = "run.status", Ledger, "the run's status agrees with its model executions (Rocky's derive_run_status)";
    RunModels = "run.models", Ledger, "no model execution is recorded twice";
    RunTarget = "run.target", Ledger, "target_catalog is the catalog of the run's provenance targets";
    RunRecordsWindow = "run.records_window", Ledger, "the run's artifact, provenance and input_index rows were recorded inside its window";
    ArtifactExecution = "artifact.execution", ArtifactFile, "the artifact row names a successful execution of its run whose bytes_written is the row's size_bytes";
    ArtifactCommitVersion = "artifact.commit_version", Ledger, "a table's commit_version does not decrease from one run to a later one";
    ProvenanceOutputPath = "provenance.output_path", Ledger, "output_path names the file_path of the run's artifact row for each output hash";
    ProvenanceProofRule = "provenance.proof_rule", Ledger, "proof_class is exactly what the upstream kinds give (strong iff every upstream is content)";
    ProvenancePresent = "provenance.present", Ledger, "a content-addressed execution has the provenance row its input_index entry or its writer says it has";
    LedgerInputIndex = "ledger.input_index", Ledger, "every input_index entry is keyed by its input_hash and repeats a provenance row; every provenance row has its entry";
    LedgerOrphans = "ledger.orphans", Ledger, "every artifact, provenance and input_index row names a run the ledger records";
    LedgerWatermarks = "ledger.watermarks", Ledger, "each watermarks row decodes and names a table a recorded run wrote";
    LedgerCheckHistory = "ledger.check_history", Ledger, "each check_history blob decodes, in time order, with a snapshot in the window of each run that checked row counts";
    LedgerBranches = "ledger.branches", Ledger, "each branches row decodes, keyed by its name, with schema_prefix branch__<name>";
    LedgerMetadata = "ledger.metadata", Ledger, "schema_version and producer agree with the fields the records carry";
    WarehouseKind = "warehouse.kind", Warehouse, "the relation is the kind (table or view) the model's strategy creates";
    WarehouseContent = "warehouse.content", Warehouse, "a content-addressed model's table holds exactly its artifact's rows";
    GateDowngrade = "gate.downgrade", Ledger, "each claim is as checkable as in the model's previous run";
    GateRequire = "gate.require", Ledger, "each claim has at least the proof the policy's [require] asks";
}

impl CheckId {
    /// The "what this verified" line of `run` and `gate` summaries for a check of this kind
    /// that passed, if it has one.
    pub const fn verified_line(self) -> Option<&'static str> {
        Some(match self {
            CheckId::RunId => "the run id is its started_at",
            CheckId::ModelWindow => "model times lie inside the run's window and match duration_ms",
            CheckId::GitBranch => "the recorded branch contains the commit",
            CheckId::GitConfigBlake3 => {
                "the config file at the commit matches config_blake3 (BLAKE3)"
            }
            CheckId::GitConfigHash => {
                "the config file at the commit matches config_hash (64-bit fingerprint only)"
            }
            CheckId::ModelSqlHash => {
                "model sources at the commit hash to their sql_hash (BLAKE3 of the bytes)"
            }
            CheckId::WarehouseRowCount => {
                "warehouse row counts, read from the tables, equal the counts the runs recorded"
            }
            CheckId::WarehouseColumns => "warehouse columns and types match the IR's typed_columns",
            CheckId::ArtifactRows => "artifact files hold rows_affected rows",
            CheckId::ProvenanceSkipHash => "skip_hash recomputes from the IR",
            CheckId::ProvenanceInputHash => {
                "input_hash recomputes from skip_hash, target and upstreams"
            }
            CheckId::ProvenanceRecipeHash => "recipe_hash is the BLAKE3 of the provenance IR",
            CheckId::ProvenanceUpstream => "content upstreams were produced by ledger rows",
            CheckId::ColumnHashes => {
                "output column hashes recompute from the artifact files' columns (Arrow IPC, BLAKE3)"
            }
            CheckId::ColumnConsumed => {
                "consumed column hashes are the upstream builds' recorded output column hashes"
            }
            CheckId::DeltaAdd => {
                "artifact rows have their add in the table's Delta log (path, size, numRecords)"
            }
            CheckId::DeltaOrphan => "every add in the replayed Delta logs is accounted for",
            _ => return None,
        })
    }

    /// The "what this verified" line for a pass of this check at proof level `proof`: the line
    /// of [`CheckId::verified_line`], except where one check's passes mean different things at
    /// different levels (a BLAKE3 of the committed source against a recomputed Rocky
    /// fingerprint).
    pub const fn verified_line_at(self, proof: Proof) -> Option<&'static str> {
        match (self, proof) {
            (CheckId::ModelSqlHash, Proof::FingerprintOnly) => Some(
                "Rocky sql_hash fingerprints recompute from the project at the commit \
                 (64-bit fingerprint only)",
            ),
            _ => self.verified_line(),
        }
    }

    /// The help printed under a finding of this check that stopped its command before the
    /// real checks could run (an `unknown` `ledger.open`, say), if it is one.
    pub const fn stop_help(self, code: Code) -> Option<&'static str> {
        match (self, code) {
            (CheckId::LedgerOpen, Code::LedgerLockedUnexpected) => {
                Some("a writer has the ledger open; verify a copy, or wait for the run to finish")
            }
            (CheckId::LedgerOpen, _) => {
                Some("--ledger must name a redb 2 ledger (Rocky's .rocky-state.redb)")
            }
            (CheckId::LedgerSchemaVersion, _) => Some(
                "this rocky-verify reads ledgers up to schema version 22: upgrade rocky-verify to read a newer ledger",
            ),
            (CheckId::RunRecord, Code::RunRecordMissing) => {
                Some("`rocky-verify runs` lists the ledger's runs")
            }
            (CheckId::GateScope, Code::ScopeEmptyUnexpected) => Some(
                "give --warehouse, --artifacts, --repo or --checkpoint, widen the scope \
                 (--since, --last, --model, --select), or pass --allow-empty",
            ),
            (CheckId::RunScope, _) => {
                Some("`rocky-verify runs` and the run's report list its models")
            }
            (CheckId::ArtifactFile, _) => Some("check the file path"),
            (CheckId::BundleManifest, Code::BundleManifestInvalid) => Some(
                "a bundle's manifest.json must follow spec/bundle.md section 2; re-collect the bundle",
            ),
            (CheckId::BundleManifest, Code::BundleEntryInvalid) => Some(
                "bundles hold only regular files and folders at safe relative paths \
                 (spec/bundle.md 5.1, 5.2)",
            ),
            _ => None,
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, [$($check:ident),*];)*) => {
        /// A stable snake_case finding code (`spec/report.md`, section "Finding codes").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = concat!("`", $code, "`")]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the order the catalogue lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The snake_case code, e.g. `artifact_hash_mismatch`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The checks that emit this code. Empty for a reserved code: one no report emits
            /// yet (a planned check), or one only the spec vectors use.
            pub const fn checks(self) -> &'static [CheckId] {
                match self { $(Code::$variant => &[$(CheckId::$check),*],)* }
            }
        }
    };
}

codes! {
    LedgerInvalid = "ledger_invalid", [LedgerOpen];
    LedgerLockedUnexpected = "ledger_locked_unexpected", [LedgerOpen];
    SchemaVersionUnexpected = "schema_version_unexpected", [LedgerSchemaVersion];
    LedgerKeyMismatch = "ledger_key_mismatch", [LedgerKeys];
    RunRecordMissing = "run_record_missing", [RunRecord, LedgerCheckpoint, GateScope, LedgerOrphans];
    RunRecordInvalid = "run_record_invalid", [RunRecord];
    ModelExecutionInvalid = "model_execution_invalid", [ModelRecord];
    ArtifactRecordInvalid = "artifact_record_invalid", [ArtifactRecord];
    ProvenanceRecordInvalid = "provenance_record_invalid", [ProvenanceRecord];
    InputIndexEntryInvalid = "input_index_entry_invalid", [ProvenanceIndex];
    WatermarkStateInvalid = "watermark_state_invalid", [LedgerWatermarks];
    BranchRecordInvalid = "branch_record_invalid", [LedgerBranches];
    CheckHistoryInvalid = "check_history_invalid", [LedgerCheckHistory];
    TimestampInvalid = "timestamp_invalid", [];
    RunIdMismatch = "run_id_mismatch", [RunId];
    RunWindowInvalid = "run_window_invalid", [RunWindow];
    ModelWindowInvalid = "model_window_invalid", [ModelWindow];
    ModelDurationMismatch = "model_duration_mismatch", [ModelWindow];
    TriggeringIdentityUnexpected = "triggering_identity_unexpected", [RunIdentity];
    TriggeringIdentityMissing = "triggering_identity_missing", [RunIdentity];
    RepoMissing = "repo_missing", [GitRepo];
    GitCommitMissing = "git_commit_missing", [GitCommit];
    GitBranchMismatch = "git_branch_mismatch", [GitBranch];
    GitBranchMissing = "git_branch_missing", [GitBranch];
    ConfigFileMissing = "config_file_missing", [GitConfigHash];
    ConfigHashMismatch = "config_hash_mismatch", [GitConfigHash, GitConfigBlake3];
    ConfigHashUnexpected = "config_hash_unexpected", [GitConfigHash];
    ModelSourceMissing = "model_source_missing", [ModelSource];
    SqlHashMismatch = "sql_hash_mismatch", [ModelSqlHash];
    SqlHashInvalid = "sql_hash_invalid", [ModelSqlHash];
    SqlHashUnexpected = "sql_hash_unexpected", [ModelSqlHash];
    SqlInputsMissing = "sql_inputs_missing", [ModelSqlHash];
    EnvHashMismatch = "env_hash_mismatch", [ModelEnvHash];
    WarehouseInvalid = "warehouse_invalid", [WarehouseOpen, WarehouseTable, WarehouseRowCount, WarehouseColumns, WarehouseKind, WarehouseContent];
    WarehouseTableMissing = "warehouse_table_missing", [WarehouseTable];
    RowCountMismatch = "row_count_mismatch", [WarehouseRowCount];
    RowsAffectedMissing = "rows_affected_missing", [WarehouseRowCount, ArtifactRows];
    RowCountUnexpected = "row_count_unexpected", [WarehouseRowCount];
    TableSupersededUnexpected = "table_superseded_unexpected", [WarehouseColumns, WarehouseKind, WarehouseContent];
    ColumnMissing = "column_missing", [WarehouseColumns];
    ColumnUnexpected = "column_unexpected", [WarehouseColumns];
    ColumnTypeMismatch = "column_type_mismatch", [WarehouseColumns];
    TargetTableMissing = "target_table_missing", [WarehouseTable];
    ArtifactFileMissing = "artifact_file_missing", [ArtifactFile, ArtifactBlake3, ArtifactOrphan, ProvenanceUpstream, ColumnHashes];
    ArtifactHashInvalid = "artifact_hash_invalid", [ArtifactRecord];
    ArtifactPathInvalid = "artifact_path_invalid", [ArtifactPath];
    ArtifactPathMismatch = "artifact_path_mismatch", [ArtifactPath];
    ArtifactNameInvalid = "artifact_name_invalid", [ArtifactName];
    ArtifactHashMismatch = "artifact_hash_mismatch", [ArtifactBlake3];
    ArtifactSizeMismatch = "artifact_size_mismatch", [ArtifactSize];
    ArtifactParquetInvalid = "artifact_parquet_invalid", [ArtifactParquet, ColumnHashes];
    ArtifactParquetUnexpected = "artifact_parquet_unexpected", [ArtifactParquet];
    ArtifactRowCountMismatch = "artifact_row_count_mismatch", [ArtifactRows];
    ArtifactUnexpected = "artifact_unexpected", [ArtifactLedger];
    IrCanonicalJsonInvalid = "ir_canonical_json_invalid", [ProvenanceCanonical, ProvenanceSkipHash, ProvenanceInputHash];
    RecipeHashMismatch = "recipe_hash_mismatch", [ProvenanceRecipeHash];
    RecipeHashMissing = "recipe_hash_missing", [ProvenanceRecipeHash];
    SkipHashMismatch = "skip_hash_mismatch", [ProvenanceSkipHash];
    InputHashMismatch = "input_hash_mismatch", [ProvenanceInputHash];
    ProofClassMismatch = "proof_class_mismatch", [ProvenanceProofClass, ProvenanceProofRule];
    ProvenanceOutputMismatch = "provenance_output_mismatch", [ProvenanceOutputs, ProvenanceIndex];
    UpstreamArtifactMissing = "upstream_artifact_missing", [ProvenanceUpstream];
    UpstreamHashMismatch = "upstream_hash_mismatch", [ProvenanceUpstream];
    UpstreamHeuristicUnexpected = "upstream_heuristic_unexpected", [ProvenanceUpstream];
    ModelExecutionMissing = "model_execution_missing", [ProvenanceModel];
    ArtifactOrphanUnexpected = "artifact_orphan_unexpected", [ArtifactOrphan];
    RunRecordMismatch = "run_record_mismatch", [LedgerCheckpoint];
    CheckpointMissing = "checkpoint_missing", [LedgerCheckpoint];
    CheckpointInvalid = "checkpoint_invalid", [LedgerCheckpoint];
    PolicyInvalid = "policy_invalid", [GatePolicy];
    WaiverExpiredUnexpected = "waiver_expired_unexpected", [GateWaiver];
    ColumnHashMismatch = "column_hash_mismatch", [ColumnHashes];
    ColumnHashUnexpected = "column_hash_unexpected", [ColumnHashes];
    ColumnTypeUnexpected = "column_type_unexpected", [ColumnHashes];
    ConsumedColumnMissing = "consumed_column_missing", [ColumnConsumed];
    ConsumedHashMismatch = "consumed_hash_mismatch", [ColumnConsumed];
    UpstreamColumnsMissing = "upstream_columns_missing", [ColumnConsumed];
    DeltaLogMissing = "delta_log_missing", [DeltaLog];
    DeltaLogInvalid = "delta_log_invalid", [DeltaLog, DeltaAdd, DeltaOrphan];
    DeltaAddMissing = "delta_add_missing", [DeltaAdd];
    DeltaAddMismatch = "delta_add_mismatch", [DeltaAdd];
    DeltaOrphanUnexpected = "delta_orphan_unexpected", [DeltaOrphan];
    ScopeEmptyUnexpected = "scope_empty_unexpected", [GateScope, RunScope];
    SignatureMissing = "signature_missing", [GitSignature];
    SignatureMismatch = "signature_mismatch", [GitSignature];
    SignerUnexpected = "signer_unexpected", [GitSignature];
    SignatureUnexpected = "signature_unexpected", [GitSignature];
    SignersInvalid = "signers_invalid", [GitSignature];
    BundleManifestInvalid = "bundle_manifest_invalid", [BundleManifest];
    BundleEntryInvalid = "bundle_entry_invalid", [BundleManifest];
    BundleFileMissing = "bundle_file_missing", [BundleManifest];
    BundleFileUnexpected = "bundle_file_unexpected", [BundleManifest];
    BundleSizeMismatch = "bundle_size_mismatch", [BundleManifest];
    BundleHashMismatch = "bundle_hash_mismatch", [BundleManifest];
    LedgerTiersMismatch = "ledger_tiers_mismatch", [BundleTiers];
    BundleClaimMismatch = "bundle_claim_mismatch", [BundleTiers];
    BundleTierInvalid = "bundle_tier_invalid", [BundleTiers];
    RunStatusMismatch = "run_status_mismatch", [RunStatus];
    ModelExecutionUnexpected = "model_execution_unexpected", [RunModels];
    TargetCatalogMismatch = "target_catalog_mismatch", [RunTarget];
    RecordWindowInvalid = "record_window_invalid", [RunRecordsWindow];
    ArtifactExecutionMissing = "artifact_execution_missing", [ArtifactExecution];
    BytesWrittenMismatch = "bytes_written_mismatch", [ArtifactExecution];
    CommitVersionMismatch = "commit_version_mismatch", [ArtifactCommitVersion];
    ProvenancePathMismatch = "provenance_path_mismatch", [ProvenanceOutputPath];
    ProvenanceRecordMissing = "provenance_record_missing", [ProvenancePresent, LedgerInputIndex];
    InputIndexMismatch = "input_index_mismatch", [LedgerInputIndex];
    InputIndexEntryMissing = "input_index_entry_missing", [LedgerInputIndex];
    WatermarkStateUnexpected = "watermark_state_unexpected", [LedgerWatermarks];
    CheckHistoryMissing = "check_history_missing", [LedgerCheckHistory];
    SchemaVersionMismatch = "schema_version_mismatch", [LedgerMetadata];
    ProducerMismatch = "producer_mismatch", [LedgerMetadata];
    ProducerMissing = "producer_missing", [LedgerMetadata];
    TableKindMismatch = "table_kind_mismatch", [WarehouseKind];
    TableKindUnexpected = "table_kind_unexpected", [WarehouseKind];
    TableContentMismatch = "table_content_mismatch", [WarehouseContent];
    TableContentUnexpected = "table_content_unexpected", [WarehouseContent];
    ColumnOrderUnexpected = "column_order_unexpected", [WarehouseColumns];
    ColumnNullabilityUnexpected = "column_nullability_unexpected", [WarehouseColumns];
    ProofDowngradeUnexpected = "proof_downgrade_unexpected", [GateDowngrade];
    ProofRequiredMissing = "proof_required_missing", [GateRequire];
}

impl Code {
    /// The code spelled `text`, if the catalogue has one.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// A one-line description of the finding, for the rule table of SARIF reports; the codes
    /// `gate` emits most have one.
    pub const fn rule(self) -> Option<&'static str> {
        Some(match self {
            Code::WarehouseTableMissing => "the table a model wrote is not in the warehouse",
            Code::RowCountMismatch => {
                "the warehouse row count differs from what the ledger recorded"
            }
            Code::ColumnMissing => "a column of the model's IR is not in the warehouse table",
            Code::ColumnUnexpected => "the warehouse table has a column the model's IR does not",
            Code::ColumnTypeMismatch => {
                "a warehouse column's type is of another family than the model's IR says"
            }
            Code::ArtifactFileMissing => "a ledger row names an artifact file that does not exist",
            Code::ArtifactHashMismatch => "an artifact's bytes do not hash to its recorded BLAKE3",
            Code::ArtifactOrphanUnexpected => "a content-addressed file has no ledger row",
            Code::RunRecordMissing => "a run record vanished from the ledger since the checkpoint",
            Code::RunRecordMismatch => "a run record changed since the checkpoint",
            Code::WaiverExpiredUnexpected => "a policy waiver has expired",
            Code::ColumnHashMismatch => {
                "a column of the artifact does not hash to its recorded output column hash"
            }
            Code::ConsumedHashMismatch => {
                "a consumed column hash is not the upstream's recorded output column hash"
            }
            Code::DeltaAddMissing => "the Delta log has no add for an artifact row",
            Code::DeltaOrphanUnexpected => "Rocky added a file to a table that no ledger row names",
            Code::BundleFileMissing => "a file the bundle's manifest lists is not in the bundle",
            Code::BundleFileUnexpected => "the bundle holds a file its manifest does not list",
            Code::BundleSizeMismatch => "a bundle file's size differs from its manifest",
            Code::BundleHashMismatch => "a bundle file's bytes do not hash to its manifest BLAKE3",
            Code::LedgerTiersMismatch => "the two tiers of a tiered ledger hold different rows",
            _ => return None,
        })
    }

    /// Whether `check` may carry this code (the catalogue pairs them).
    pub fn emitted_by(self, check: CheckId) -> bool {
        self.checks().contains(&check)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_and_codes_are_unique_and_well_formed() {
        let ids: BTreeSet<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(ids.len(), CheckId::ALL.len());
        let codes: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), Code::ALL.len());
        for c in Code::ALL {
            let s = c.as_str();
            assert!(
                ["_mismatch", "_missing", "_invalid", "_unexpected"]
                    .iter()
                    .any(|end| s.ends_with(end)),
                "{s} ends in one of the four suffixes spec/report.md allows"
            );
        }
    }

    #[test]
    fn every_check_but_pass_only_ones_has_a_code() {
        // artifact.provenance only ever passes (it reports who names a file); every other check
        // can find something wrong or uncheckable, so some code names it.
        let with_code: BTreeSet<CheckId> = Code::ALL
            .iter()
            .flat_map(|c| c.checks().iter().copied())
            .collect();
        let without: Vec<&str> = CheckId::ALL
            .iter()
            .filter(|c| !with_code.contains(c))
            .map(|c| c.as_str())
            .collect();
        assert_eq!(without, ["artifact.provenance"]);
    }
}
