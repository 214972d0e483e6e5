//! The command line: clap structs (`Args`) turned into a validated [`Config`] (ripgrep's
//! low-level / high-level split), so commands never see raw clap types.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes, as documented in `--help` (the facts of spec/exit-codes.md, inlined: the spec
/// does not ship with a binary).
const AFTER_HELP: &str = "\
Exit codes:
  0  every check that ran passed (unverifiable-by-design claims are listed, not failed,
     unless --strict)
  1  at least one check FAILED: the evidence is wrong. Failure wins over 2, so a CI job that
     retries on 2 can never retry away evidence of tampering
  2  nothing failed, but something that should have been checked could not be (unreadable or
     locked ledger, missing repository, warehouse or file), or bad usage

rocky-verify never writes what it reads and makes no network calls.";

/// Examples shown by `run --help`.
const RUN_EXAMPLES: &str = "\
Examples:
  # Audit the newest run with every independent source
  rocky-verify run latest --ledger .rocky-state.redb --repo . \\
      --warehouse warehouse.duckdb --artifacts artifacts/

  # One run, as JSON Lines for a script; fingerprint-only claims fail the exit code
  rocky-verify run run-20260530-110422-643 --json --strict";

/// Examples shown by `artifact --help`.
const ARTIFACT_EXAMPLES: &str = "\
Examples:
  # Is this file what its name says? (the BLAKE3 of its bytes against its name)
  rocky-verify artifact artifacts/736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet

  # ...and which runs recorded it
  rocky-verify artifact artifacts/<hash>.parquet --ledger .rocky-state.redb";

/// Examples shown by `runs --help`.
const RUNS_EXAMPLES: &str = "\
Examples:
  rocky-verify runs --ledger .rocky-state.redb
  rocky-verify runs --state-path .rocky-state.redb --json";

/// Examples shown by `record --help`.
const RECORD_EXAMPLES: &str = "\
Examples:
  # An exported ProvenanceRecord on its own: canonical IR, skip_hash, input_hash, proof_class
  rocky-verify record provenance.json

  # Also bind it to a recipe_hash you hold from elsewhere (a manifest's program_hash)
  rocky-verify record provenance.json --recipe-hash cc14d017a9fa965f2e73a0de45e41a1fe82947b4f514d3c3c63ea53b98730884";

/// Examples shown by `gate --help`.
const GATE_EXAMPLES: &str = "\
Examples:
  # After every pipeline run: the latest run of each model against the warehouse and artifacts
  rocky-verify gate --ledger .rocky-state.redb --repo . --warehouse warehouse.duckdb \\
      --artifacts artifacts/ --policy rocky-verify.toml --checkpoint gate-checkpoint.json \\
      --junit gate.xml --sarif gate.sarif --markdown \"$GITHUB_STEP_SUMMARY\" --github

  # Everything recorded in the last day, as JSON Lines
  rocky-verify gate --since 1d --json

  # Only some models: by name or glob, or dbt-style with their upstreams (+) or downstreams
  rocky-verify gate --repo . --warehouse warehouse.duckdb --select '+fct_revenue stg_*'

Exit codes: 0 clean (warnings allowed unless the policy sets fail_on_warning), 1 drift or
tampering found, 2 could not verify, or nothing was checked (no run or model in scope, or no
--warehouse, --artifacts, --repo or --checkpoint) unless --allow-empty. Failure wins over 2.

The policy file (rocky-verify.toml) holds version, fail_on_warning, retention_days,
require_signed_commits, [[tolerance]] (models, warn, error), [[skip]] (check, models, reason)
and [[waiver]] (check, model, code, reason, expires); every problem in it is reported at once.";

/// Offline auditor for Rocky run ledgers and content-addressed Parquet artifacts.
#[derive(Debug, Parser)]
#[command(name = "rocky-verify", version, about, after_help = AFTER_HELP)]
pub struct Args {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,

    /// Write JSON Lines to stdout instead of tables: one object per line (`begin`, `run`, each
    /// `check`, `summary`), each with a `type` and its `data`.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour in human output.
    ///
    /// `auto` colours only a terminal and never when NO_COLOR is set or TERM=dumb; `always`
    /// overrides that. JSON output is never coloured.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Human output: only the findings and the verdict.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Human output: every check, grouped by model, with its proof level.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour a terminal unless NO_COLOR or TERM=dumb.
    Auto,
    /// Always colour human output.
    Always,
    /// Never colour.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify one run: ledger records, git, warehouse, artifacts and provenance.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// The run id, or `latest` for the run that started last.
        run_id: String,
        /// The redb ledger (Rocky's state file).
        ///
        /// Default: where Rocky puts it, the first that exists of models/.rocky-state.redb,
        /// ./.rocky-state.redb and the only .rocky-state/<namespace>.redb.
        #[arg(long, visible_alias = "state-path")]
        ledger: Option<PathBuf>,
        /// The git repository the run's commit must be in (a work tree or a bare repository).
        ///
        /// Default: the current directory. Without --repo a commit absent from it is reported as
        /// could-not-check (exit 2), not as a failure: a wrong folder and a rewritten history
        /// look the same.
        #[arg(long)]
        repo: Option<PathBuf>,
        /// A DuckDB database file to compare row counts and columns with (opened read-only).
        #[arg(long)]
        warehouse: Option<PathBuf>,
        /// A folder holding the run's Parquet artifacts, named `<blake3>.parquet`.
        #[arg(long)]
        artifacts: Option<PathBuf>,
        /// Treat unverifiable-by-design claims (64-bit fingerprints, self-reported identity) as
        /// failures for the exit code.
        #[arg(long)]
        strict: bool,
        /// Skip the two passes over the whole ledger: the file's BLAKE3 (the report is then not
        /// bound to the ledger's bytes) and exact refcounts. Every check of the run itself still
        /// runs, so the time no longer grows with the ledger.
        #[arg(long)]
        no_ledger_scan: bool,
        /// A local copy of the object store the content-addressed tables live in (the bucket
        /// root): each table's Delta log is read from `<DIR>/<key_prefix>/_delta_log/` and
        /// replayed against the run's artifact rows.
        #[arg(long, value_name = "DIR")]
        lake: Option<PathBuf>,
        #[command(flatten)]
        adapter: AdapterArg,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        signers: SignerArgs,
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// Verify one Parquet file: its BLAKE3 against its name, its footer, and (with --ledger)
    /// every ledger row that names it.
    #[command(after_help = ARTIFACT_EXAMPLES)]
    Artifact {
        /// The Parquet file.
        file: PathBuf,
        /// A ledger to look the file's hash up in.
        #[arg(long, visible_alias = "state-path")]
        ledger: Option<PathBuf>,
    },
    /// List every run in the ledger, newest first.
    #[command(after_help = RUNS_EXAMPLES)]
    Runs {
        /// The redb ledger (Rocky's state file).
        ///
        /// Default: where Rocky puts it, the first that exists of models/.rocky-state.redb,
        /// ./.rocky-state.redb and the only .rocky-state/<namespace>.redb.
        #[arg(long, visible_alias = "state-path")]
        ledger: Option<PathBuf>,
    },
    /// CI drift gate: the latest run of each model against the warehouse, the artifacts and the
    /// ledger's own history, with a policy and CI report formats.
    #[command(after_help = GATE_EXAMPLES)]
    Gate(GateArgs),
    /// Verify one ProvenanceRecord JSON file (recipe, skip and input hashes).
    #[command(after_help = RECORD_EXAMPLES)]
    Record {
        /// The record file.
        file: PathBuf,
        /// The recipe_hash the record's IR must hash to.
        #[arg(long, value_name = "HEX")]
        recipe_hash: Option<String>,
        /// Treat unverifiable-by-design claims as failures for the exit code.
        #[arg(long)]
        strict: bool,
    },
    /// Print the SQL an auditor runs with their own client (snowsql, bq, the Databricks SQL
    /// CLI, duckdb) to read the row counts and columns of the tables a run wrote; rocky-collect
    /// --warehouse-results imports the results as warehouse facts.
    #[command(after_help = WAREHOUSE_SQL_EXAMPLES)]
    WarehouseSql {
        /// The warehouse's SQL dialect.
        #[arg(long, value_enum)]
        dialect: SqlDialect,
        /// The run whose tables are queried.
        #[arg(long, value_name = "ID")]
        run: String,
        /// The redb ledger (Rocky's .rocky-state.redb).
        #[arg(
            long,
            visible_alias = "state-path",
            default_value = ".rocky-state.redb"
        )]
        ledger: PathBuf,
    },
}

/// Examples shown by `warehouse-sql --help`.
const WAREHOUSE_SQL_EXAMPLES: &str = "\
Examples:
  rocky-verify warehouse-sql --dialect snowflake --run run-20260530-110422-643 \\
      --ledger .rocky-state.redb > facts.sql";

/// `warehouse-sql --dialect` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlDialect {
    /// Snowflake (snowsql).
    Snowflake,
    /// Databricks (the Databricks SQL CLI).
    Databricks,
    /// BigQuery (bq).
    Bigquery,
    /// DuckDB.
    Duckdb,
}

/// `--bundle` and `--pseudonymize`, shared by `run` and `gate` (`spec/bundle.md`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BundleArgs {
    /// Verify an evidence bundle (a directory or a .tar written by rocky-collect): its manifest
    /// first, then every usual check on its ledger, git, artifacts, Delta logs and warehouse,
    /// offline. Replaces --ledger, --repo, --warehouse, --artifacts (and --lake).
    #[arg(
        long,
        value_name = "DIR|FILE.tar",
        conflicts_with_all = ["ledger", "repo", "warehouse", "artifacts"]
    )]
    pub bundle: Option<PathBuf>,
    /// Replace triggering identities, host names and commit e-mail addresses in every output
    /// format with keyed-BLAKE3 pseudonyms (same value, same pseudonym under one key). KEYFILE
    /// holds 32 bytes or 64 hex characters; keep it secret.
    #[arg(long, value_name = "KEYFILE")]
    pub pseudonymize: Option<PathBuf>,
}

/// `rocky-verify gate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The redb ledger (Rocky's state file).
    ///
    /// Default: where Rocky puts it, the first that exists of models/.rocky-state.redb,
    /// ./.rocky-state.redb and the only .rocky-state/<namespace>.redb.
    #[arg(long, visible_alias = "state-path")]
    pub ledger: Option<PathBuf>,
    /// The git repository; without it commits and model sources are not checked.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// A DuckDB database file to compare tables, row counts and columns with (read-only).
    #[arg(long)]
    pub warehouse: Option<PathBuf>,
    /// The folder of `<blake3>.parquet` artifacts (checked both ways: missing and orphan files).
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// The policy file (rocky-verify.toml): tolerances, skipped checks, waivers.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The gate's checkpoint of run records (created if absent, then updated atomically).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Check every run since a duration before now (30d, 12h, 90m, 2w) or since a run id.
    #[arg(long, value_name = "DURATION|RUN_ID", conflicts_with = "last")]
    pub since: Option<String>,
    /// Check the N runs that started last.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a SARIF 2.1.0 report.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Write a Markdown summary (e.g. "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print GitHub Actions annotations (::error / ::warning / ::notice): on stdout before the
    /// table, or on stderr with --json (stdout then holds JSON Lines only).
    #[arg(long)]
    pub github: bool,
    /// Treat unverifiable-by-design claims (waived findings included) as failures.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 even when nothing was checked (no run or model in scope, or no --warehouse,
    /// --artifacts, --repo or --checkpoint). Without it such a gate fails closed with exit 2.
    #[arg(long)]
    pub allow_empty: bool,
    #[command(flatten)]
    pub adapter: AdapterArg,
    /// A local copy of the object store the content-addressed tables live in: each run's
    /// Delta log entries are replayed against its artifact rows, as `run --lake` does.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<PathBuf>,
    #[command(flatten)]
    pub bundle: BundleArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub signers: SignerArgs,
}

/// `--model` / `--select`, shared by `run` and `gate`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Check only this model (a model name or a glob such as `fct_*`); repeat for more.
    #[arg(long = "model", value_name = "NAME|GLOB", value_parser = model_term)]
    pub models: Vec<String>,
    /// Check only the models a dbt-style selector names: space-separated names or globs,
    /// `+name` adds its upstreams, `name+` its downstreams (the lineage the ledger's provenance
    /// records). With --model, the union.
    #[arg(long, value_name = "EXPR", value_parser = select_expr)]
    pub select: Option<String>,
}

impl SelectArgs {
    /// The parsed filter (`None`: every model). The values were validated by clap.
    pub fn filter(&self) -> Option<crate::plan::ModelFilter> {
        crate::plan::ModelFilter::parse(&self.models, self.select.as_deref())
            .ok()
            .flatten()
    }
}

fn model_term(s: &str) -> Result<String, String> {
    crate::plan::ModelFilter::parse(&[s.to_owned()], None)
        .map(|_| s.to_owned())
        .map_err(|e| e.reason)
}

fn select_expr(s: &str) -> Result<String, String> {
    crate::plan::ModelFilter::parse(&[], Some(s))
        .map(|_| s.to_owned())
        .map_err(|e| e.reason)
}

/// `--allowed-signers` / `--gpg-keyring`, shared by `run` and `gate`: whose commit signatures
/// make the commit's signer a verified identity.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignerArgs {
    /// An SSH allowed-signers file (the format of git's gpg.ssh.allowedSignersFile): a commit
    /// signed by a key listed there for the `git` namespace has a verified signer.
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// A GPG keyring of trusted signers. rocky-verify does not verify OpenPGP signatures
    /// itself: GPG-signed commits are reported as unverifiable with the reason.
    #[arg(long, value_name = "FILE")]
    pub gpg_keyring: Option<PathBuf>,
}

/// `--adapter`, shared by `run` and `gate`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct AdapterArg {
    /// The warehouse adapter the runs used, for recomputing Rocky's sql_hash fingerprints.
    ///
    /// Used only when neither the project's rocky.toml at the run's commit nor the recorded
    /// env_hash names the adapter.
    #[arg(long, value_enum, value_name = "ADAPTER")]
    pub adapter: Option<Adapter>,
}

/// The warehouses Rocky generates SQL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Adapter {
    /// DuckDB.
    Duckdb,
    /// Databricks.
    Databricks,
    /// Snowflake.
    Snowflake,
    /// BigQuery.
    Bigquery,
    /// Trino.
    Trino,
}

impl Adapter {
    /// The dialect whose statement templates the adapter uses.
    pub fn dialect(self) -> crate::rocky::statements::Dialect {
        use crate::rocky::statements::Dialect;
        match self {
            Adapter::Duckdb => Dialect::DuckDb,
            Adapter::Databricks => Dialect::Databricks,
            Adapter::Snowflake => Dialect::Snowflake,
            Adapter::Bigquery => Dialect::BigQuery,
            Adapter::Trino => Dialect::Trino,
        }
    }
}

/// Output mode after resolving `--json`, `--color`, the environment and the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// JSON Lines on stdout.
    Json,
    /// Human tables; `color` says whether to use ANSI colour on stdout.
    Human {
        /// Colour stdout.
        color: bool,
    },
}

/// A validated command line.
#[derive(Debug)]
pub struct Config {
    /// What to run.
    pub command: Command,
    /// How to print it.
    pub output: Output,
    /// Whether diagnostics on stderr may use colour.
    pub stderr_color: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--verbose`.
    pub verbose: bool,
}

/// Whether a stream should be coloured: `always` wins; `auto` needs a terminal, no NO_COLOR
/// (any value, even empty) and no TERM=dumb.
pub fn want_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none()
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

impl Config {
    /// Resolves parsed arguments against the environment.
    pub fn from_args(args: Args) -> Config {
        let output = if args.json {
            Output::Json
        } else {
            Output::Human {
                color: want_color(args.color, std::io::stdout().is_terminal()),
            }
        };
        let stderr_color = want_color(args.color, std::io::stderr().is_terminal());
        Config {
            command: args.command,
            output,
            stderr_color,
            quiet: args.quiet,
            verbose: args.verbose,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn state_path_is_an_alias_for_ledger() {
        let a = Args::try_parse_from(["rocky-verify", "runs", "--state-path", "x.redb"]).unwrap();
        match a.command {
            Command::Runs { ledger } => assert_eq!(ledger, Some(PathBuf::from("x.redb"))),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn run_defaults_to_the_rocky_ledger_and_the_current_repo() {
        let a = Args::try_parse_from(["rocky-verify", "run", "latest", "--json"]).unwrap();
        assert!(a.json);
        match a.command {
            Command::Run {
                ledger,
                repo,
                warehouse,
                artifacts,
                strict,
                no_ledger_scan,
                ..
            } => {
                // Not given: looked up where Rocky puts it (`ledger::locate_default`).
                assert_eq!(ledger, None);
                // Not given: `run` reads the current directory but knows it was not told to.
                assert_eq!(repo, None);
                assert!(warehouse.is_none() && artifacts.is_none() && !strict);
                // The whole-ledger digest and refcounts are on unless asked off.
                assert!(!no_ledger_scan);
            }
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn adapter_names_each_dialect_on_run_and_gate() {
        for (name, dialect) in [
            ("duckdb", crate::rocky::statements::Dialect::DuckDb),
            ("bigquery", crate::rocky::statements::Dialect::BigQuery),
        ] {
            let a =
                Args::try_parse_from(["rocky-verify", "run", "latest", "--adapter", name]).unwrap();
            let Command::Run { adapter, .. } = a.command else {
                panic!("not run")
            };
            assert_eq!(adapter.adapter.map(Adapter::dialect), Some(dialect));
            assert_eq!(dialect.name(), name);
            let a = Args::try_parse_from(["rocky-verify", "gate", "--adapter", name]).unwrap();
            let Command::Gate(g) = a.command else {
                panic!("not gate")
            };
            assert_eq!(g.adapter.adapter.map(Adapter::dialect), Some(dialect));
        }
        assert!(
            Args::try_parse_from(["rocky-verify", "run", "x", "--adapter", "postgres"]).is_err()
        );
    }

    #[test]
    fn never_and_always_ignore_the_terminal() {
        assert!(!want_color(ColorChoice::Never, true));
        assert!(want_color(ColorChoice::Always, false));
        assert!(!want_color(ColorChoice::Auto, false));
    }
}
