//! Reason codes of a recomputation that ends without statements (spec/hashes.md section 12.10).

/// Declares a reason-code enum with its `code()` and `Display` (the code).
macro_rules! reason_codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every reason, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The reason code as the spec spells it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

reason_codes! {
    /// Rocky 1.71 cannot generate SQL for the model, so it records a failed entry with `""`.
    RejectReason {
        /// A target, source, partition, key, column or warehouse name is not an identifier.
        InvalidIdentifier => "invalid_identifier",
        /// A BigQuery catalog is not a project id.
        InvalidProjectId => "invalid_project_id",
        /// `format` on a dialect other than Databricks.
        FormatUnsupported => "format_unsupported",
        /// A table property or comment Rocky refuses to interpolate.
        InvalidFormatOption => "invalid_format_option",
        /// A managed Iceberg table with both partitioning and clustering, or a `write.format.*`
        /// property.
        ManagedIcebergViolation => "managed_iceberg_violation",
        /// A merge without `unique_key`.
        MergeWithoutKey => "merge_without_key",
        /// Trino has no merge template.
        MergeUnsupported => "merge_unsupported",
        /// "Update all columns" on a dialect that cannot express it.
        MergeUpdateAllUnsupported => "merge_update_all_unsupported",
        /// DuckDB and Trino have no materialized views.
        MaterializedViewUnsupported => "materialized_view_unsupported",
        /// Dynamic tables exist only on Snowflake.
        DynamicTableUnsupported => "dynamic_table_unsupported",
        /// `target_lag` is not ASCII letters, digits and spaces.
        InvalidTargetLag => "invalid_target_lag",
    }
}

reason_codes! {
    /// An input Rocky had is not in the evidence, so the statements cannot be rebuilt.
    NotRecomputableReason {
        /// A `.rocky` model: its SQL is the DSL lowering, which is not ported.
        RockyDslModel => "rocky_dsl_model",
        /// An `@var(...)` without a stated value or an inline default.
        RunVarValueUnknown => "run_var_value_unknown",
        /// A merge without `update_columns` and without the IR's typed column names.
        MergeColumnsUntyped => "merge_columns_untyped",
        /// A time-interval model without the partition keys of the execution.
        PartitionWindowUnknown => "partition_window_unknown",
        /// A partition key that is not the canonical spelling for the granularity.
        PartitionKeyInvalid => "partition_key_invalid",
        /// A Snowflake dynamic table without the adapter's `warehouse`.
        SnowflakeWarehouseUnknown => "snowflake_warehouse_unknown",
    }
}

reason_codes! {
    /// The project at the commit does not load as Rocky would load it.
    ProjectErrorReason {
        /// No `rocky.toml` in the project directory.
        ConfigMissing => "config_missing",
        /// A TOML file does not parse, or a known key has the wrong type or value.
        TomlInvalid => "toml_invalid",
        /// `${VAR}` without a default and without a stated value.
        EnvVarUnset => "env_var_unset",
        /// The pipeline does not exist, or none was named and there is not exactly one
        /// transformation pipeline.
        PipelineMissing => "pipeline_missing",
        /// The pipeline does not run models.
        PipelineNotTransformation => "pipeline_not_transformation",
        /// The pipeline's target adapter has no `[adapter.<name>]` block.
        AdapterMissing => "adapter_missing",
        /// The adapter's type is not a warehouse this module renders.
        AdapterTypeUnsupported => "adapter_type_unsupported",
        /// A models glob this module refuses (`[` sets, absolute paths, `..`).
        ModelsGlobUnsupported => "models_glob_unsupported",
        /// A symlink inside the walked models tree.
        SymlinkInTree => "symlink_in_tree",
        /// A directory more than 64 levels below the models base.
        DepthExceeded => "depth_exceeded",
        /// A file could not be read (for example it is not UTF-8).
        TreeUnreadable => "tree_unreadable",
        /// No model files.
        NoModels => "no_models",
        /// A `.sql` without a sidecar and without `---toml` frontmatter.
        MissingFrontmatter => "missing_frontmatter",
        /// No catalog or schema from the model or `_defaults.toml`.
        MissingTarget => "missing_target",
        /// `_defaults.toml` holds `name`, `depends_on` or `sources`.
        DefaultsFieldInvalid => "defaults_field_invalid",
        /// `group` names no `groups/<name>.toml`.
        UnknownGroup => "unknown_group",
        /// An enforced group's setting overridden by a member.
        GroupOverride => "group_override",
        /// `[args]` together with a pinned `target.schema` under a `schema_template`.
        GroupArgsWithPinnedSchema => "group_args_with_pinned_schema",
        /// A `schema_template` placeholder left unfilled.
        GroupSchemaUnfilled => "group_schema_unfilled",
        /// A filled `schema_template` that is not an identifier.
        GroupSchemaInvalid => "group_schema_invalid",
        /// A `[[surrogate_key]]` with an empty column list or a non-identifier name or column.
        SurrogateKeyInvalid => "surrogate_key_invalid",
        /// Two models share a name.
        DuplicateModel => "duplicate_model",
    }
}
