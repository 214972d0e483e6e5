//! `rocky-verify`: parse arguments, run one command, print its report, exit with the report's
//! code (`spec/exit-codes.md`). A closed stdout ends the program quietly with the code it would
//! have had.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use rocky_verify::checks::catalogue::CheckId;
use rocky_verify::cli::{self, Args, Command, Config, Output};
use rocky_verify::commands::{artifact, bundle, gate, record, run, runs, warehouse_sql};
use rocky_verify::output::human;
use rocky_verify::report::{Check, EXIT_INCOMPLETE, Outcome, Report};

/// A check that stopped a command before its real checks could run, shown as a diagnostic.
#[derive(Debug)]
struct Stopped {
    message: String,
    code: &'static str,
    help: Option<&'static str>,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Stopped {}

impl Diagnostic for Stopped {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("rocky_verify::{}", self.code)))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

/// The checks that mean "nothing else could be verified".
fn stopping(check: &Check) -> Option<Stopped> {
    if check.outcome != Outcome::Unknown {
        return None;
    }
    let code = check.code?;
    // A missing artifact of a run is one finding among many; only `artifact <file>` stops on it.
    if check.check == CheckId::ArtifactFile && check.subject.run_id.is_some() {
        return None;
    }
    let help = Some(check.check.stop_help(code)?);
    Some(Stopped {
        message: check.reason.clone().unwrap_or_default(),
        code: code.as_str(),
        help,
    })
}

fn print_diagnostics(report: &Report, color: bool) {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme);
    for check in &report.checks {
        let Some(diag) = stopping(check) else {
            continue;
        };
        let mut text = String::new();
        if handler.render_report(&mut text, &diag).is_ok() {
            // Best effort: stderr may be closed too.
            let _ = writeln!(io::stderr(), "rocky-verify: {}", text.trim_end());
        }
    }
}

fn execute(command: &Command) -> Report {
    match command {
        Command::Run {
            run_id,
            ledger,
            repo,
            warehouse,
            artifacts,
            strict,
            no_ledger_scan,
            lake,
            adapter,
            select,
            signers,
            bundle,
        } => bundle::verify_run_cli(
            run::RunOptions {
                run_id: run_id.clone(),
                ledger: ledger.clone().unwrap_or_default(),
                repo: repo.clone().unwrap_or_else(|| ".".into()),
                repo_explicit: repo.is_some(),
                warehouse: warehouse.clone(),
                artifacts: artifacts.clone(),
                strict: *strict,
                ledger_scan: !no_ledger_scan,
                lake: lake.clone(),
                adapter: adapter.adapter.map(cli::Adapter::dialect),
                models: select.filter(),
                signers: rocky_verify::plan::SignerOptions {
                    allowed_signers: signers.allowed_signers.clone(),
                    gpg_keyring: signers.gpg_keyring.clone(),
                    require_signed: false,
                },
            },
            bundle,
            // Read (and refused when malformed) in main before anything runs.
            bundle::key(bundle).ok().flatten(),
        ),
        Command::Artifact { file, ledger } => artifact::verify_artifact(file, ledger.as_deref()),
        Command::Runs { ledger } => {
            runs::list_runs(ledger.as_deref().unwrap_or(std::path::Path::new("")))
        }
        Command::Record {
            file,
            recipe_hash,
            strict,
        } => record::verify_record_file(file, recipe_hash.as_deref(), *strict),
        Command::Gate(args) => gate::verify_gate(&gate::options(args, false)).report,
        // Handled in main: it prints SQL, not a report.
        Command::WarehouseSql { .. } => Report::new("run", None, false),
    }
}

/// Usage errors of `--bundle` / `--pseudonymize` found before anything runs (exit 2).
fn bundle_usage(command: &Command) -> Result<(), String> {
    let (args, lake) = match command {
        Command::Run { bundle, lake, .. } => (bundle, lake.is_some()),
        Command::Gate(g) => (&g.bundle, g.lake.is_some()),
        _ => return Ok(()),
    };
    if lake && args.bundle.is_some() {
        return Err("--bundle replaces --lake (the bundle's lake/ folder is used)".to_owned());
    }
    bundle::key(args).map(|_| ())
}

fn main() -> ExitCode {
    // clap prints usage errors to stderr and exits 2 (INCOMPLETE), help and version exit 0.
    let mut args = Args::parse();
    if let Command::WarehouseSql {
        dialect,
        run,
        ledger,
    } = &args.command
    {
        return ExitCode::from(warehouse_sql::main(*dialect, run, ledger) as u8);
    }
    // No --ledger (and no --bundle, which brings its own): Rocky's own places, or a clear error
    // naming every path tried (exit 2, as for any other usage error).
    let ledger = match &mut args.command {
        Command::Run { ledger, bundle, .. } if bundle.bundle.is_none() => Some(ledger),
        Command::Runs { ledger } => Some(ledger),
        Command::Gate(g) if g.bundle.bundle.is_none() => Some(&mut g.ledger),
        _ => None,
    };
    if let Some(slot) = ledger
        && slot.is_none()
    {
        match rocky_verify::evidence::ledger::locate_default(std::path::Path::new(".")) {
            Ok(found) => *slot = Some(found),
            Err(message) => {
                let _ = writeln!(io::stderr(), "rocky-verify: {message}");
                return ExitCode::from(EXIT_INCOMPLETE as u8);
            }
        }
    }
    let config = Config::from_args(args);
    if let Err(e) = bundle_usage(&config.command) {
        let _ = writeln!(io::stderr(), "rocky-verify: {e}");
        return ExitCode::from(EXIT_INCOMPLETE as u8);
    }
    let (report, code) = match &config.command {
        // The gate also writes its CI files, annotations and policy diagnostics.
        Command::Gate(args) => gate::run_cli(args, config.output, config.stderr_color),
        command => {
            let report = execute(command);
            let code = report.exit_code();
            (report, code)
        }
    };
    print_diagnostics(&report, config.stderr_color);

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match config.output {
        Output::Json => report.write_json_lines(&mut out),
        Output::Human { color } => human::write(
            &report,
            &mut out,
            &human::Options {
                color,
                width: human::width::detect(),
                quiet: config.quiet,
                verbose: config.verbose,
            },
        ),
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        // A closed pipe (`rocky-verify runs | head`) is not an error: exit with the verdict.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(io::stderr(), "rocky-verify: cannot write the report: {e}");
            return ExitCode::from(EXIT_INCOMPLETE as u8);
        }
    }
    if config.output != Output::Json
        && code != 0
        && let Some(line) = human::stderr_line(&report)
    {
        // The last line names the checks behind the exit code, not only their number.
        let _ = writeln!(io::stderr(), "{line}");
    }
    ExitCode::from(code as u8)
}
