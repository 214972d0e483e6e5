//! `rocky-collect`: gathers a Rocky deployment's evidence into a bundle (spec/bundle.md) that
//! `rocky-verify run|gate --bundle` verifies offline. Prints the bundle id on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rocky_collect::collect::{Request, WarehouseInput, collect};
use rocky_collect::error::CollectError;
use rocky_collect::ledger::KeyOptions;
use rocky_collect::location::Location;
use rocky_collect::scope::Selection;
use rocky_collect::warehouse::Client;

const EXAMPLES: &str = "\
Examples:
  # A tiered store (S3 + Valkey), artifacts in S3, the last 10 runs
  AWS_ENDPOINT_URL=https://s3.example AWS_REGION=eu-west-1 \\
  rocky-collect --ledger s3://state-bucket --ledger valkey://cache:6379 \\
      --repo . --artifacts s3://lake-bucket --warehouse warehouse.duckdb --last 10 --out bundle/

  # One run, a local ledger, Snowflake results run by the auditor with snowsql
  rocky-collect --ledger .rocky-state.redb --repo . --artifacts artifacts/ --run run-20261201-090000-000 \\
      --warehouse-results columns.csv --warehouse-results counts.csv --warehouse-client snowsql \\
      --out bundle.tar";

/// Gather a Rocky deployment's evidence into a bundle that `rocky-verify --bundle` verifies
/// offline.
#[derive(Debug, Parser)]
#[command(name = "rocky-collect", version, after_help = EXAMPLES)]
#[command(group = clap::ArgGroup::new("scope").args(["run", "since", "last"]).multiple(false))]
struct Cli {
    /// The ledger: a local file, s3://BUCKET[/PREFIX] (key <PREFIX>/v22/state.redb, prefix
    /// rocky/state/ by default), or redis://HOST:PORT / valkey://HOST:PORT (key
    /// rocky:state:v22:state.redb). Twice for both tiers of a tiered store.
    #[arg(
        long,
        required = true,
        value_name = "PATH|s3://BUCKET/PREFIX|redis://HOST:PORT"
    )]
    ledger: Vec<String>,
    /// The remote ledger's namespace: `<NAME>.redb` instead of `state.redb` (a ledger kept as
    /// `.rocky-state/<NAME>.redb`).
    #[arg(long, value_name = "NAME")]
    namespace: Option<String>,
    /// The Valkey key prefix (Rocky's `valkey_prefix`).
    #[arg(long, value_name = "PREFIX", default_value = "rocky:state:")]
    valkey_prefix: String,
    /// The git repository holding the commits the runs reference.
    #[arg(long, value_name = "PATH")]
    repo: Option<PathBuf>,
    /// Where the artifacts are: a folder, or s3://BUCKET[/PREFIX] (keys are the ledger's
    /// bucket-relative file_path, under PREFIX when given).
    #[arg(long, value_name = "DIR|s3://BUCKET[/PREFIX]")]
    artifacts: Option<String>,
    /// A DuckDB database file: row counts and columns of the tables in scope.
    #[arg(long, value_name = "FILE.duckdb", conflicts_with = "warehouse_results")]
    warehouse: Option<PathBuf>,
    /// Results of `rocky-verify warehouse-sql`, as saved by the auditor's client (CSV with a
    /// header row, or JSON); once per result file (columns, row counts).
    #[arg(long, value_name = "FILE", requires = "warehouse_client")]
    warehouse_results: Vec<PathBuf>,
    /// The client that wrote --warehouse-results: snowsql, bq, databricks-sql-cli or duckdb.
    #[arg(long, value_name = "CLIENT")]
    warehouse_client: Option<String>,
    /// That client's version, recorded in the facts.
    #[arg(long, value_name = "VERSION")]
    warehouse_client_version: Option<String>,
    /// When the auditor ran the queries (RFC 3339); the import time when not given.
    #[arg(long, value_name = "TIME")]
    warehouse_read_at: Option<String>,
    /// Only this run.
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// Runs that started at or after: `<N>d`, a date (YYYY-MM-DD), an RFC 3339 time, or a run id.
    #[arg(long, value_name = "D")]
    since: Option<String>,
    /// The N runs that started last.
    #[arg(long, value_name = "N")]
    last: Option<u64>,
    /// Transfers at a time.
    #[arg(long, value_name = "N", default_value_t = 16)]
    parallel: usize,
    /// The bundle to create: a new folder, or a new `.tar` file.
    #[arg(long, value_name = "BUNDLE")]
    out: PathBuf,
}

fn request(cli: Cli) -> Result<Request, CollectError> {
    let ledgers = cli
        .ledger
        .iter()
        .map(|l| Location::parse(l))
        .collect::<Result<Vec<_>, _>>()?;
    let artifacts = cli.artifacts.as_deref().map(Location::parse).transpose()?;
    let warehouse = if let Some(w) = cli.warehouse {
        Some(WarehouseInput::Duckdb(w))
    } else if !cli.warehouse_results.is_empty() {
        let name = cli.warehouse_client.unwrap_or_default();
        let client = Client::parse(&name).ok_or_else(|| {
            CollectError::Usage(format!(
                "--warehouse-client {name:?}: snowsql, bq, databricks-sql-cli or duckdb"
            ))
        })?;
        let read_at = cli
            .warehouse_read_at
            .map(|t| {
                rocky_verify::model::records::Timestamp::parse(&t)
                    .map(|t| t.utc)
                    .map_err(|e| CollectError::Usage(format!("--warehouse-read-at: {e}")))
            })
            .transpose()?;
        Some(WarehouseInput::Results {
            files: cli.warehouse_results,
            client,
            client_version: cli.warehouse_client_version,
            read_at,
        })
    } else {
        None
    };
    if cli.parallel == 0 || cli.parallel > 1024 {
        return Err(CollectError::Usage("--parallel: 1 to 1024".into()));
    }
    Ok(Request {
        ledgers,
        keys: KeyOptions {
            namespace: cli.namespace,
            valkey_prefix: Some(cli.valkey_prefix),
        },
        repo: cli.repo,
        artifacts,
        warehouse,
        selection: Selection {
            run: cli.run,
            since: cli.since,
            last: cli.last,
        },
        parallel: cli.parallel,
        out: cli.out,
    })
}

fn run(cli: Cli) -> Result<rocky_collect::collect::Outcome, CollectError> {
    let req = request(cli)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CollectError::Usage(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(collect(&req))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A panic is a bug, never an answer: it becomes exit 2 with the message, not an abort.
    let result = std::panic::catch_unwind(move || run(cli));
    match result {
        Ok(Ok(o)) => {
            for w in &o.warnings {
                eprintln!("rocky-collect: warning: {w}");
            }
            eprintln!(
                "rocky-collect: {} run(s), {} file(s){}",
                o.runs,
                o.files,
                o.comparison
                    .map(|c| format!(", ledger tiers {c}"))
                    .unwrap_or_default()
            );
            println!("{}", o.bundle_id);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            let code = e.exit_code();
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::from(u8::try_from(code).unwrap_or(2))
        }
        Err(_) => {
            eprintln!("rocky-collect: internal error (a panic); nothing was kept");
            ExitCode::from(2)
        }
    }
}
