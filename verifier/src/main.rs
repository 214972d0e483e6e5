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
use rocky_verify::commands::{artifact, gate, record, run, runs};
use rocky_verify::output::{self as formats, render};
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
        } => run::verify_run(&run::RunOptions {
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
        }),
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
    }
}

fn main() -> ExitCode {
    // clap prints usage errors to stderr and exits 2 (INCOMPLETE), help and version exit 0.
    let mut args = Args::parse();
    // No --ledger: Rocky's own places, or a clear error naming every path tried (exit 2, as for
    // any other usage error).
    let ledger = match &mut args.command {
        Command::Run { ledger, .. } | Command::Runs { ledger } => Some(ledger),
        Command::Gate(g) => Some(&mut g.ledger),
        Command::Artifact { .. } | Command::Record { .. } => None,
    };
    if let Some(slot) = ledger
        && slot.is_none()
    {
        match rocky_verify::evidence::ledger::locate_default(std::path::Path::new(".")) {
            Ok(found) => *slot = Some(found),
            Err(message) => {
                let _ = writeln!(io::stderr(), "rocky-verify: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let config = Config::from_args(args);
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
        Output::Human { color } if report.command == "gate" => {
            formats::human::write(&report, &mut out, color)
        }
        Output::Human { color } => render::write_human(&report, &mut out, color),
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
    if config.output != Output::Json && code != 0 {
        let c = report.counts();
        let _ = writeln!(
            io::stderr(),
            "rocky-verify: {} of {} checks FAILED, {} could not be checked",
            c.fail,
            c.pass + c.fail + c.unknown + c.unverifiable,
            c.unknown
        );
    }
    ExitCode::from(code as u8)
}
