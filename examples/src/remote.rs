//! The demo's remote mode: the same two runs, each on a wiped working folder (an ephemeral CI
//! runner), with the ledger kept in S3 and Valkey (tiered) between them.
//!
//! `<root>/origin/project` plays the git remote: the runner clones it for every run, so the
//! only thing that carries state from one run to the next is the remote state backend.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Duration;
use rocky_writer::RecordedRun;
use rocky_writer::remote::{
    Backend, S3Location, StateConfig, StateSync, SyncReport, ValkeyLocation,
};

use crate::{
    Clock, DemoError, FCT_REVENUE_V2_SQL, Layout, commit_all, create_project, run_pipeline,
};

/// Where the remote demo keeps things.
#[derive(Debug, Clone)]
pub struct RemoteLayout {
    /// The demo's root folder.
    pub root: PathBuf,
}

impl RemoteLayout {
    /// The stand-in for the git remote (`origin/project`).
    pub fn origin(&self) -> Layout {
        Layout::new(self.root.join("origin"))
    }
    /// The runner's working folder, wiped before every run.
    pub fn work(&self) -> Layout {
        Layout::new(self.root.join("work"))
    }
}

/// The state backend from the environment: bucket `ROCKY_STATE_BUCKET` (default `rocky-state`)
/// at `AWS_ENDPOINT_URL` (credentials and region from the usual `AWS_*` variables), Valkey at
/// `VALKEY_URL`, Rocky's default prefixes.
pub fn backend_from_env() -> Result<Backend, DemoError> {
    let bucket = std::env::var("ROCKY_STATE_BUCKET").unwrap_or_else(|_| "rocky-state".into());
    let valkey = std::env::var("VALKEY_URL").map_err(|_| DemoError::Remote {
        reason: "VALKEY_URL is not set".into(),
    })?;
    Ok(Backend::Tiered {
        s3: S3Location::new(bucket),
        valkey: ValkeyLocation::new(valkey),
    })
}

/// One line per transfer leg, for the demo's output.
pub fn describe(report: &SyncReport) -> Vec<String> {
    let mut lines = Vec::new();
    for t in report.download.iter().chain(report.upload.iter()) {
        let legs: Vec<String> = t
            .legs
            .iter()
            .map(|l| format!("{} {} {} ({} bytes)", l.tier, l.key, l.outcome, l.bytes))
            .collect();
        lines.push(format!(
            "{}: {} [{}]",
            t.direction.event(),
            t.outcome,
            legs.join("; ")
        ));
    }
    if let Some(reason) = report.upload_suppressed {
        lines.push(format!("state.upload: suppressed ({reason})"));
    }
    lines
}

fn wipe(dir: &Path) -> Result<(), DemoError> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|source| DemoError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// One run on a fresh runner: wipe, clone, download state, run, upload state.
fn run_on_fresh_runner(
    remote: &RemoteLayout,
    sync: &mut StateSync,
    clock: &mut Clock,
    log: &mut dyn FnMut(String),
) -> Result<RecordedRun, DemoError> {
    let work = remote.work();
    wipe(&work.root)?;
    let origin = remote.origin().project();
    git2::Repository::clone(&origin.to_string_lossy(), work.project())?;
    let session = sync.acquire(work.ledger())?;
    let before = rocky_writer::Ledger::create_or_open(work.ledger())?
        .runs()
        .map(|r| r.len())
        .unwrap_or(0);
    log(format!(
        "downloaded state: {:?}, {before} run(s) already recorded",
        session.authority()
    ));
    let run = run_pipeline(&work, clock)?;
    let report = sync.finalize(session)?;
    for line in describe(&report) {
        log(line);
    }
    Ok(run)
}

/// The remote demo: checks `state_rw`, then runs the pipeline twice, each time on a wiped
/// runner, with `fct_revenue` changed in a commit between the runs. Returns both runs; the
/// second runner's folder (`work/`) is left for `rocky-verify`.
pub fn build_remote_demo(
    remote: &RemoteLayout,
    config: StateConfig,
    clock: &mut Clock,
    log: &mut dyn FnMut(String),
) -> Result<[RecordedRun; 2], DemoError> {
    let mut sync = StateSync::new(config)?;
    sync.probe()?;
    log("state_rw: ok (probe written, read back and deleted on Valkey and S3)".into());
    create_project(&remote.origin(), clock)?;
    log("== run 1 on a wiped runner".into());
    let first = run_on_fresh_runner(remote, &mut sync, clock, log)?;
    clock.advance(Duration::hours(1));
    crate::write_project_file(
        &remote.origin(),
        &Layout::model_path("fct_revenue"),
        FCT_REVENUE_V2_SQL,
    )?;
    commit_all(
        &remote.origin(),
        clock,
        "fct_revenue: add the average order value",
    )?;
    log("== run 2 on a wiped runner".into());
    let second = run_on_fresh_runner(remote, &mut sync, clock, log)?;
    Ok([first, second])
}
