//! One module per subcommand; each returns a [`crate::report::Report`].

pub mod artifact;
pub mod bundle;
pub mod gate;
pub mod record;
pub mod run;
pub mod runs;
pub mod warehouse_sql;
