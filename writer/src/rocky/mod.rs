//! Rocky 1.71's own `sql_hash` statements and warehouse type mapping, for engines that embed
//! rocky-writer and want to record (or pre-compute) exactly what Rocky would.
//!
//! - [`rocky_statements`]: the statements Rocky fingerprints for one resolved model
//!   ([`ModelSpec`]) on one dialect, with the execution's [`RunInputs`]; or a
//!   [`TemplateError`](crate::error::TemplateError) saying Rocky records `""` for it
//!   (`rocky_rejects`) or an input is missing (`not_recomputable`).
//! - [`load_project`]: discovery and configuration resolution of a Rocky project held in a
//!   [`FileTree`] (a map of paths to bytes; this crate reads no git).
//! - [`map_warehouse_type`] and [`compare`]: warehouse type strings to [`RockyType`] and the
//!   compatibility verdict.
//!
//! Normative: spec/hashes.md section 12 and spec/warehouse.md. This is written from the spec
//! alone; rocky-verify implements the same rules independently.
//!
//! [`RockyType`]: crate::ir::RockyType

mod env;
mod glob;
mod project;
mod reason;
mod render;
mod run_vars;
mod strategy;
mod templates;
mod tree;
mod types;
mod window;

pub use env::{EnvSubstituted, substitute_env};
pub use project::{
    ConfigSource, DecidedBy, Language, ProjectInputs, ResolvedModel, ResolvedProject, Source,
    load_project,
};
pub use reason::{NotRecomputableReason, ProjectErrorReason, RejectReason};
pub use render::{format_table_ref, is_bigquery_project_id, is_identifier};
pub use run_vars::{Substituted, substitute_run_vars};
pub use strategy::StrategyConfig;
pub use templates::{Assumption, ModelSpec, RunInputs, Statements, SurrogateKey, rocky_statements};
pub use tree::{FileTree, TreeEntry};
pub use types::{Compatibility, TypeFamily, compare, compatibility, family, map_warehouse_type};
pub use window::{Window, batch_window, key_start};
