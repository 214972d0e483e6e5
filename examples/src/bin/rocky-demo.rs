//! `rocky-demo <dir> [--fixed-clock]`: builds the demo pipeline in `<dir>` (which must not exist
//! or be empty): a git repository with three models, a DuckDB warehouse, two recorded runs.

use std::path::PathBuf;
use std::process::ExitCode;

use rocky_examples::{Clock, Layout, build_demo};

fn main() -> ExitCode {
    let mut dir = None;
    let mut clock = Clock::Real;
    for arg in std::env::args().skip(1) {
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
