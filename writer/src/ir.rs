//! `ModelIr`: the model description whose canonical JSON is `recipe_hash`'s pre-image
//! (spec/hashes.md section 5).
//!
//! Field encodings and omission rules reproduce Rocky's serde attributes, so
//! `canon::to_canonical_string_of(&ir)` is byte-identical to Rocky's `model_ir_canonical_json`.

use serde::{Deserialize, Serialize};

use crate::canon;
use crate::normalize::{self, NORMALIZER_VERSION};

/// A fully qualified table: `catalog.schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableRef {
    /// Catalog (database) name.
    pub catalog: String,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
}

impl TableRef {
    /// A table reference from its three parts.
    pub fn new(
        catalog: impl Into<String>,
        schema: impl Into<String>,
        table: impl Into<String>,
    ) -> Self {
        TableRef {
            catalog: catalog.into(),
            schema: schema.into(),
            table: table.into(),
        }
    }

    /// The ledger key and identity form `catalog.schema.table`.
    pub fn key(&self) -> String {
        format!("{}.{}.{}", self.catalog, self.schema, self.table)
    }

    /// Whether every part is non-empty and free of `.` and control characters, so that
    /// [`TableRef::key`] splits back into the same three parts.
    pub fn is_well_formed(&self) -> bool {
        [&self.catalog, &self.schema, &self.table]
            .iter()
            .all(|p| !p.is_empty() && !p.contains('.') && !p.chars().any(char::is_control))
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.schema, self.table)
    }
}

/// Rocky's column type (`RockyType`), externally tagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RockyType {
    Boolean,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Date,
    Timestamp,
    TimestampNtz,
    Binary,
    Variant,
    Unknown,
    /// `{"Decimal":{"precision":p,"scale":s}}`. Both are `u8` in Rocky (`rocky_ir::types`), and its
    /// type mapper yields any scale from 0 to 255 (`DECIMAL(10,200)`), so the scale is unsigned.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// `{"Array":T}`.
    Array(Box<RockyType>),
    /// `{"Map":[K,V]}`.
    Map(Box<RockyType>, Box<RockyType>),
    /// `{"Struct":[{name,data_type,nullable},...]}`.
    Struct(Vec<TypedColumn>),
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedColumn {
    /// Column name.
    pub name: String,
    /// Column type.
    pub data_type: RockyType,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

/// One end of a lineage edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    /// Model name.
    pub model: String,
    /// Column name.
    pub column: String,
}

/// How a target column derives from a source column (`TransformKind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TransformKind {
    Direct,
    Cast,
    TryCast,
    /// `{"Aggregation":"<fn>"}`.
    Aggregation(String),
    Expression,
}

/// A column-level lineage edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageEdge {
    /// Upstream column.
    pub source: ColumnRef,
    /// Downstream column.
    pub target: ColumnRef,
    /// The transformation between them.
    pub transform: TransformKind,
}

/// Time granularity (`TimeGrain`, lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TimeGrain {
    Hour,
    Day,
    Month,
    Year,
}

/// `"All"` or `{"Explicit":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ColumnSelection {
    All,
    Explicit(Vec<String>),
}

/// How the model is materialised, internally tagged by `"strategy"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy")]
#[allow(missing_docs)]
pub enum MaterializationStrategy {
    FullRefresh,
    View,
    MaterializedView,
    Ephemeral,
    Incremental {
        timestamp_column: String,
    },
    Merge {
        unique_key: Vec<String>,
        update_columns: ColumnSelection,
    },
    DynamicTable {
        target_lag: String,
    },
    /// `window` is written as `null` when None and must be None when hashing.
    TimeInterval {
        time_column: String,
        granularity: TimeGrain,
        window: Option<serde_json::Value>,
    },
    DeleteInsert {
        partition_by: Vec<String>,
    },
    Microbatch {
        timestamp_column: String,
        granularity: TimeGrain,
    },
    ContentAddressed {
        storage_prefix: String,
        partition_columns: Vec<String>,
    },
}

/// Governance settings; `permissions_file` is always present (possibly `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    /// Path of a permissions file, or null.
    pub permissions_file: Option<String>,
    /// Whether missing catalogs are created.
    pub auto_create_catalogs: bool,
    /// Whether missing schemas are created.
    pub auto_create_schemas: bool,
}

/// A column masking strategy (`MaskStrategy`, lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum MaskStrategy {
    Hash,
    Redact,
    Partial,
    None,
}

/// A masked column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMask {
    /// Column name.
    pub column: String,
    /// How it is masked.
    pub strategy: MaskStrategy,
}

/// A metadata column added to the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataColumn {
    /// Column name.
    pub name: String,
    /// SQL type name.
    pub data_type: String,
    /// SQL value expression.
    pub value: String,
}

/// Lakehouse table format (`LakehouseFormat`, snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum LakehouseFormat {
    DeltaTable,
    IcebergTable,
    MaterializedView,
    StreamingTable,
    Table,
    View,
}

/// Format options; each field omitted when empty or None.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatOptions {
    /// Partition columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<String>,
    /// Clustering columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_by: Vec<String>,
    /// Table properties as `[key, value]` pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_properties: Vec<(String, String)>,
    /// Table comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A cost ceiling; each field omitted when None.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostCeiling {
    /// Maximum spend in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd: Option<f64>,
    /// Maximum bytes scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes_scanned: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Rocky's `ModelIr` (rocky-ir `ir.rs`), in declaration order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIr {
    /// The model's project name.
    pub name: String,
    /// The model's SQL, raw (whitespace included).
    pub sql: String,
    /// Output columns.
    pub typed_columns: Vec<TypedColumn>,
    /// Column lineage.
    pub lineage_edges: Vec<LineageEdge>,
    /// Materialisation strategy.
    pub materialization: MaterializationStrategy,
    /// Governance settings.
    pub governance: Governance,
    /// Target table.
    pub target: TableRef,
    /// Masked columns; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_masks: Vec<ColumnMask>,
    /// Single source table; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TableRef>,
    /// Source tables; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<TableRef>,
    /// Column selection; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<ColumnSelection>,
    /// Metadata columns; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_columns: Vec<MetadataColumn>,
    /// Unique key columns; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_key: Vec<String>,
    /// `updated_at` column; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Omitted when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invalidate_hard_deletes: bool,
    /// Lakehouse format; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<LakehouseFormat>,
    /// Format options; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_options: Option<FormatOptions>,
    /// Cost ceiling; omitted when None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_ceiling: Option<CostCeiling>,
}

impl ModelIr {
    /// A minimal IR: no lineage, default governance, every optional field empty.
    pub fn new(
        name: impl Into<String>,
        sql: impl Into<String>,
        target: TableRef,
        materialization: MaterializationStrategy,
        typed_columns: Vec<TypedColumn>,
    ) -> Self {
        ModelIr {
            name: name.into(),
            sql: sql.into(),
            typed_columns,
            lineage_edges: Vec::new(),
            materialization,
            governance: Governance::default(),
            target,
            column_masks: Vec::new(),
            source: None,
            sources: Vec::new(),
            columns: None,
            metadata_columns: Vec::new(),
            unique_key: Vec::new(),
            updated_at: None,
            invalidate_hard_deletes: false,
            format: None,
            format_options: None,
            cost_ceiling: None,
        }
    }

    fn to_value(&self) -> serde_json::Value {
        // ModelIr's fields are all serialisable without error (string keys, no maps).
        serde_json::to_value(self).expect("ModelIr serialises")
    }

    /// The canonical JSON of the whole IR: `ProvenanceRecord.model_ir_canonical_json`.
    pub fn canonical_json(&self) -> String {
        canon::to_canonical_string(&self.to_value())
    }

    /// `recipe_hash`: blake3 of [`ModelIr::canonical_json`].
    pub fn recipe_hash(&self) -> String {
        blake3::hash(self.canonical_json().as_bytes())
            .to_hex()
            .to_string()
    }

    /// The canonical `skip_hash` pre-image, or `None` when `typed_columns` is empty or the SQL
    /// does not normalise.
    pub fn skip_hash_preimage(&self) -> Option<String> {
        if self.typed_columns.is_empty() {
            return None;
        }
        let normalized = normalize::normalize(&self.sql)?;
        let mut value = self.to_value();
        let object = value
            .as_object_mut()
            .expect("ModelIr serialises to an object");
        for key in ["name", "sql", "lineage_edges", "cost_ceiling"] {
            object.remove(key);
        }
        object.insert("normalizer_version".into(), NORMALIZER_VERSION.into());
        object.insert("normalized_sql".into(), normalized.into());
        Some(canon::to_canonical_string(&value))
    }

    /// `skip_hash`: blake3 of [`ModelIr::skip_hash_preimage`].
    pub fn skip_hash(&self) -> Option<String> {
        self.skip_hash_preimage()
            .map(|p| blake3::hash(p.as_bytes()).to_hex().to_string())
    }
}
