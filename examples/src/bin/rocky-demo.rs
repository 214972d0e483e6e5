//! `rocky-demo <dir> [--fixed-clock]`: builds the demo pipeline in `<dir>` (which must not exist
//! or be empty): a git repository with three models, a DuckDB warehouse, two recorded runs.
//!
//! `rocky-demo tamper <dir> <artifact|warehouse|model>`: breaks one thing in a built demo.
//!
//! `rocky-demo remote <dir> [--fixed-clock]`: the two runs on a wiped runner each, with the
//! ledger in S3 and Valkey (tiered) between them: bucket `ROCKY_STATE_BUCKET` (default
//! `rocky-state`) at `AWS_ENDPOINT_URL` with the usual `AWS_*` credentials, and `VALKEY_URL`.

use std::path::PathBuf;
use std::process::ExitCode;

use rocky_examples::{Clock, Layout, build_demo};

fn tamper_main(args: &[String]) -> ExitCode {
    let [dir, what] = args else {
        eprintln!("rocky-demo: usage: rocky-demo tamper <dir> <artifact|warehouse|model>");
        return ExitCode::from(2);
    };
    let what: rocky_examples::Tamper = match what.parse() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("rocky-demo: {e}");
            return ExitCode::from(2);
        }
    };
    match rocky_examples::tamper(&Layout::new(dir), what) {
        Ok(done) => {
            println!("tampered: {done}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rocky-demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn remote_main(args: &[String]) -> ExitCode {
    let mut dir = None;
    let mut clock = Clock::Real;
    for arg in args {
        match arg.as_str() {
            "--fixed-clock" => clock = Clock::fixed(),
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("rocky-demo: usage: rocky-demo remote <dir> [--fixed-clock]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("rocky-demo: usage: rocky-demo remote <dir> [--fixed-clock]");
        return ExitCode::from(2);
    };
    let backend = match rocky_examples::remote::backend_from_env() {
        Ok(b) => b,
        Err(err) => {
            eprintln!("rocky-demo: {err}");
            return ExitCode::from(2);
        }
    };
    let remote = rocky_examples::remote::RemoteLayout { root: dir };
    let config = rocky_writer::remote::StateConfig::new(backend);
    let mut log = |line: String| println!("{line}");
    match rocky_examples::remote::build_remote_demo(&remote, config, &mut clock, &mut log) {
        Ok(runs) => {
            for run in &runs {
                println!(
                    "recorded {} at commit {}",
                    run.run_id,
                    run.record.git_commit.as_deref().unwrap_or("-")
                );
            }
            let work = remote.work();
            println!("ledger:    {}", work.ledger().display());
            println!("repo:      {}", work.project().display());
            println!("warehouse: {}", work.warehouse().display());
            println!("artifacts: {}", work.artifacts().display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rocky-demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("tamper") {
        return tamper_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("remote") {
        return remote_main(&args[1..]);
    }
    let mut dir = None;
    let mut clock = Clock::Real;
    for arg in args {
        match arg.as_str() {
            "--fixed-clock" => clock = Clock::fixed(),
            "-h" | "--help" => {
                println!("usage: rocky-demo <dir> [--fixed-clock]");
                return ExitCode::SUCCESS;
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!(
                    "rocky-demo: unexpected argument {arg:?}; usage: rocky-demo <dir> [--fixed-clock]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("rocky-demo: usage: rocky-demo <dir> [--fixed-clock]");
        return ExitCode::from(2);
    };
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        eprintln!(
            "rocky-demo: {} exists and is not empty; choose a new folder",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let layout = Layout::new(&dir);
    match build_demo(&layout, &mut clock) {
        Ok(runs) => {
            for run in &runs {
                println!(
                    "recorded {} at commit {} ({} models, {} artifacts)",
                    run.run_id,
                    run.record.git_commit.as_deref().unwrap_or("-"),
                    run.record.models_executed.len(),
                    run.artifacts.len()
                );
            }
            println!("ledger:    {}", layout.ledger().display());
            println!("repo:      {}", layout.project().display());
            println!("warehouse: {}", layout.warehouse().display());
            println!("artifacts: {}", layout.artifacts().display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rocky-demo: {err}");
            ExitCode::FAILURE
        }
    }
}
