//! `examples/github-actions.yml` works as written: its steps run here in order, every `run:` step
//! exactly as the file says (bash, `-eo pipefail`, the job's and step's `env`, `GITHUB_OUTPUT`,
//! `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`), and every action replaced by its local equivalent:
//!
//! | action | local equivalent |
//! |---|---|
//! | `actions/checkout` (the pipeline's repository) | `git clone` of the demo's project, full history |
//! | `actions/checkout` with `repository:` (the verifier) | `git clone` of this repository |
//! | `actions/cache` (build cache) | nothing: the warm target directory is already here |
//! | `actions/download-artifact` | a copy of the pipeline run's evidence, chosen by `run-id` |
//! | `actions/cache/restore`, `actions/cache/save` | a folder standing for the cache service |
//! | `github/codeql-action/upload-sarif`, `mikepenz/action-junit-report` | the file must exist and parse |
//!
//! `gh` (the GitHub CLI the workflow calls) is a small script answering `gh run list` from the
//! local list of pipeline runs. The install step builds nothing here: cargo is already running
//! these tests and holds the target directory, so `ROCKY_VERIFY_PREBUILT` points
//! `scripts/install` at the binaries under test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rocky_e2e::{repo_root, verifier_bin};
use yaml_rust2::{Yaml, YamlLoader};

fn git(args: &[&str], dir: &Path) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null | Yaml::BadValue => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The GitHub context the workflow's `${{ }}` expressions read, for one triggering event.
struct Context {
    event_name: &'static str,
    trigger_run_id: Option<String>,
    env: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Context {
    /// Evaluates the expressions this workflow uses; an unknown one fails the test, so the
    /// workflow cannot grow an expression this harness silently gets wrong.
    fn expr(&self, e: &str) -> String {
        let e = e.trim();
        if let Some(var) = e.strip_prefix("env.") {
            return self.env.get(var).cloned().unwrap_or_default();
        }
        if let Some(rest) = e.strip_prefix("steps.") {
            let (step, out) = rest.split_once(".outputs.").unwrap();
            return self.outputs[step].get(out).cloned().unwrap_or_default();
        }
        match e {
            "github.event.workflow_run.id" => self.trigger_run_id.clone().unwrap_or_default(),
            "github.token" => "local-token".to_owned(),
            "github.run_id" => "900".to_owned(),
            "runner.os" => "Linux".to_owned(),
            "always()" => "true".to_owned(),
            "github.event_name != 'workflow_run' || github.event.workflow_run.conclusion == 'success'" => {
                (self.event_name != "workflow_run" || self.trigger_run_id.is_some()).to_string()
            }
            other => panic!("the harness does not know the expression `{other}`"),
        }
    }

    fn subst(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").unwrap() + start;
            out.push_str(&self.expr(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn condition(&self, y: &Yaml) -> bool {
        match y {
            Yaml::BadValue | Yaml::Null => true,
            y => {
                let c = s(y);
                let c = c.trim().trim_start_matches("${{").trim_end_matches("}}");
                self.expr(c) == "true"
            }
        }
    }
}

/// Local stand-ins for what GitHub holds: pipeline runs with their evidence, and the cache.
struct Local {
    root: PathBuf,
    pipeline_repo: PathBuf,
    runs: BTreeMap<String, PathBuf>,
    cache: PathBuf,
}

/// Runs the workflow's `gate` job; returns the gate step's exit code and the workspace.
fn run_job(local: &Local, ctx: &mut Context, name: &str) -> (Option<i32>, PathBuf) {
    let text = std::fs::read_to_string(repo_root().join("examples/github-actions.yml")).unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    for (k, v) in doc["env"].as_hash().unwrap() {
        ctx.env.insert(s(k), s(v));
    }
    let job = &doc["jobs"]["gate"];
    assert!(
        ctx.condition(&job["if"]),
        "the job would not run for {name}"
    );

    let work = local.root.join(name);
    let ws = work.join("workspace");
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let files = work.join("runner");
    std::fs::create_dir_all(&files).unwrap();
    let (output, path_file, summary) = (
        files.join("output"),
        files.join("path"),
        files.join("summary.md"),
    );
    let bin = files.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // `gh run list ... --jq '.[0].databaseId'`: the newest local pipeline run, as GitHub answers.
    let newest = local.runs.keys().next_back().unwrap();
    std::fs::write(
        bin.join("gh"),
        format!(
            "#!/bin/sh\ncase \"$1 $2\" in\n  'run list') echo {newest} ;;\n  *) echo \"gh stand-in: $*\" >&2; exit 1 ;;\nesac\n"
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(bin.join("gh"))
        .status()
        .unwrap();

    let mut gate_code = None;
    let mut failed = false;
    for step in job["steps"].as_vec().unwrap() {
        if failed && !ctx.condition(&step["if"]) {
            continue;
        }
        let with = |k: &str| ctx.subst(&s(&step["with"][k]));
        if let Yaml::String(uses) = &step["uses"] {
            let action = uses.split('@').next().unwrap();
            match action {
                "actions/checkout" => {
                    let (from, dest) = match &step["with"]["repository"] {
                        Yaml::BadValue => (local.pipeline_repo.clone(), ws.clone()),
                        _ => (repo_root(), ws.join(with("path"))),
                    };
                    if step["with"]["repository"] == Yaml::BadValue {
                        assert_eq!(
                            s(&step["with"]["fetch-depth"]),
                            "0",
                            "the pipeline checkout must fetch the full history"
                        );
                    }
                    let out = Command::new("git")
                        .arg("clone")
                        .arg("--quiet")
                        .arg(&from)
                        .arg(&dest)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                "actions/cache" => {}
                "actions/download-artifact" => {
                    assert_eq!(with("name"), ctx.env["EVIDENCE_ARTIFACT"]);
                    let run_id = with("run-id");
                    let evidence = local
                        .runs
                        .get(&run_id)
                        .unwrap_or_else(|| panic!("no pipeline run {run_id:?} has evidence"));
                    copy_dir(evidence, &ws.join(with("path")));
                }
                "actions/cache/restore" => {
                    let saved = local.cache.join("checkpoint.json");
                    if saved.is_file() {
                        let dest = ws.join(with("path"));
                        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                        std::fs::copy(saved, dest).unwrap();
                    }
                }
                "actions/cache/save" => {
                    let src = ws.join(with("path"));
                    if src.is_file() {
                        std::fs::create_dir_all(&local.cache).unwrap();
                        std::fs::copy(src, local.cache.join("checkpoint.json")).unwrap();
                    }
                }
                "github/codeql-action/upload-sarif" => {
                    let sarif = std::fs::read(ws.join(with("sarif_file"))).unwrap();
                    let v: serde_json::Value = serde_json::from_slice(&sarif).unwrap();
                    assert_eq!(v["version"], "2.1.0");
                }
                "mikepenz/action-junit-report" => {
                    let xml = std::fs::read_to_string(ws.join(with("report_paths"))).unwrap();
                    assert!(xml.contains("<testsuite"), "{xml}");
                }
                other => panic!("the harness has no local equivalent for {other}"),
            }
            continue;
        }
        let script = ctx.subst(&s(&step["run"]));
        let mut path = std::fs::read_to_string(&path_file)
            .unwrap_or_default()
            .lines()
            .rev()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        path.push(bin.display().to_string());
        path.push(std::env::var("PATH").unwrap());
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(&ws)
            .envs(&ctx.env)
            .env("HOME", &home)
            .env("PATH", path.join(":"))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_REPOSITORY", "example/pipeline")
            .env("GITHUB_WORKSPACE", &ws)
            .env("ROCKY_VERIFY_PREBUILT", verifier_bin().parent().unwrap());
        if let Some(vars) = step["env"].as_hash() {
            for (k, v) in vars {
                cmd.env(s(k), ctx.subst(&s(v)));
            }
        }
        let _ = std::fs::remove_file(&output);
        let out = cmd.output().unwrap();
        let step_name = s(&step["name"]);
        println!(
            "step {step_name}: exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(text) = std::fs::read_to_string(&output) {
            let id = s(&step["id"]);
            for line in text.lines() {
                let (k, v) = line.split_once('=').unwrap();
                ctx.outputs
                    .entry(id.clone())
                    .or_default()
                    .insert(k.into(), v.into());
            }
        }
        if step_name == "Gate" {
            gate_code = out.status.code();
        }
        if !out.status.success() {
            failed = true;
            assert_eq!(step_name, "Gate", "step {step_name} failed");
        }
    }
    (gate_code, ws)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The demo pipeline's evidence, packed as the pipeline workflow uploads it.
fn local_github(root: &Path) -> Local {
    let demo = root.join("demo");
    let layout = rocky_examples::Layout::new(&demo);
    rocky_examples::build_demo(&layout, &mut rocky_examples::Clock::fixed()).unwrap();
    let evidence = root.join("runs/41");
    std::fs::create_dir_all(&evidence).unwrap();
    std::fs::copy(layout.ledger(), evidence.join(".rocky-state.redb")).unwrap();
    std::fs::copy(layout.warehouse(), evidence.join("warehouse.duckdb")).unwrap();
    copy_dir(&layout.artifacts(), &evidence.join("artifacts"));
    // The pipeline repository has more than one commit: a shallow checkout would lose the first run's.
    let log = Command::new("git")
        .args(["rev-list", "--count", "HEAD"])
        .current_dir(layout.project())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&log.stdout)
            .trim()
            .parse::<u32>()
            .unwrap()
            >= 2
    );
    git(&["status", "--short"], &layout.project());
    Local {
        root: root.to_path_buf(),
        pipeline_repo: layout.project(),
        runs: BTreeMap::from([("41".to_owned(), evidence)]),
        cache: root.join("cache"),
    }
}

#[test]
fn the_example_workflow_runs_as_written_on_a_schedule_and_after_a_pipeline_run() {
    let dir = tempfile::tempdir().unwrap();
    let local = local_github(dir.path());

    // A scheduled run: no triggering run, so the workflow must find the latest pipeline run itself.
    let mut ctx = Context {
        event_name: "schedule",
        trigger_run_id: None,
        env: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    let (code, ws) = run_job(&local, &mut ctx, "scheduled");
    assert_eq!(code, Some(0), "the gate did not pass on clean evidence");
    assert_eq!(ctx.outputs["pipeline"]["run-id"], "41");
    assert!(ws.join(".rocky-verify/gate-checkpoint.json").is_file());
    assert!(
        local.cache.join("checkpoint.json").is_file(),
        "checkpoint not saved"
    );
    let installed = ws.parent().unwrap().join("home/.local/bin/rocky-verify");
    assert!(installed.is_file(), "the install step installed nothing");

    // After a pipeline run: that run's evidence, and the checkpoint the scheduled run saved.
    let mut ctx = Context {
        event_name: "workflow_run",
        trigger_run_id: Some("41".to_owned()),
        env: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    let (code, _) = run_job(&local, &mut ctx, "triggered");
    assert_eq!(code, Some(0));
}

#[test]
fn the_example_workflow_fails_on_tampered_evidence() {
    // Control for the test above: the same steps, the same harness, one flipped artifact byte.
    let dir = tempfile::tempdir().unwrap();
    let local = local_github(dir.path());
    let artifacts = local.runs["41"].join("artifacts");
    let victim = std::fs::read_dir(&artifacts)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let mut ctx = Context {
        event_name: "workflow_dispatch",
        trigger_run_id: None,
        env: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    let (code, _) = run_job(&local, &mut ctx, "tampered");
    assert_eq!(
        code,
        Some(1),
        "the gate did not fail on a flipped artifact byte"
    );
}
