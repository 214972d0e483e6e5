//! Documentation must not drift from the product: the README's main-job and tamper commands are
//! run exactly as written, in a fresh export of the repository, and their output is checked.

use std::path::Path;
use std::process::Command;

use rocky_e2e::repo_root;

/// The commands of the README's first `sh` block, in order, without comments.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut in_block = false;
    let mut commands = Vec::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            if in_block {
                break;
            }
            in_block = line.trim() == "```sh";
            continue;
        }
        if in_block {
            let cmd = line.split('#').next().unwrap().trim();
            if !cmd.is_empty() {
                commands.push(cmd.to_owned());
            }
        }
    }
    commands
}

/// Exports the committed tree (what a fresh clone has) into a new scratch folder of its own, so
/// two checkouts running this test at once never share or delete each other's export.
fn fresh_export() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let archive = Command::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(["archive", "--format=tar", "HEAD"])
        .output()
        .expect("git archive runs");
    assert!(archive.status.success(), "git archive failed");
    let mut tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    tar.stdin
        .take()
        .unwrap()
        .write_all(&archive.stdout)
        .unwrap();
    assert!(tar.wait().unwrap().success());
    tmp
}

fn sh(dir: &Path, command: &str) -> (i32, String, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        // The documents show output at the default width (a pipe, no COLUMNS).
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn readme_opens_with_the_main_job_and_the_test_command() {
    let commands = readme_commands();
    assert_eq!(
        commands,
        ["./scripts/demo", "./scripts/test"],
        "README's first block changed"
    );
    // CI must run the same test command the README gives a new user.
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == commands[1]),
        ".ci/run does not call {}",
        commands[1]
    );
}

#[test]
fn readme_main_job_and_tamper_commands_run_as_written() {
    let main_job = readme_commands().into_iter().next().unwrap();
    let export = fresh_export();
    let dir = export.path();

    let (code, stdout, stderr) = sh(dir, &main_job);
    assert_eq!(
        code, 0,
        "{main_job} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("recorded run-"), "{stdout}");
    assert!(stdout.contains("verdict: OK (exit 0)"), "{stdout}");
    assert!(stdout.contains("== rocky-verify exit code: 0"), "{stdout}");

    // The README's tamper command turns the verdict.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains("scripts/tamper artifact"),
        "README lost its tamper command"
    );
    let (code, stdout, stderr) = sh(dir, "scripts/tamper artifact");
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("artifact_hash_mismatch"), "{stdout}");
    assert!(stdout.contains("verdict: FAILED (exit 1)"), "{stdout}");
}

/// One `$ command` of a `console` block and the output the document shows for it.
struct Shown {
    command: String,
    output: Vec<String>,
}

/// Every `console` block of `AUDIT.md`, in order.
fn audit_commands() -> Vec<Shown> {
    let text = std::fs::read_to_string(repo_root().join("AUDIT.md")).unwrap();
    let mut shown: Vec<Shown> = Vec::new();
    let mut in_console = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_console = !in_console && line.trim() == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            shown.push(Shown {
                command: cmd.to_owned(),
                output: Vec::new(),
            });
        } else if let Some(last) = shown.last_mut() {
            last.output.push(line.to_owned());
        }
    }
    shown
}

/// `expected` against `actual`, line by line (trailing white space ignored); a line `...` in
/// `expected` stands for any number of lines.
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a.trim_end() == first.trim_end() && lines_match(rest, more)),
    }
}

fn on_path(program: &str, path: &str) -> bool {
    std::env::split_paths(path).any(|d| d.join(program).is_file())
}

#[test]
fn audit_md_commands_print_what_the_document_shows() {
    let shown = audit_commands();
    assert!(
        shown.len() >= 8,
        "AUDIT.md lost its walkthrough ({} commands)",
        shown.len()
    );

    // The walkthrough's demo: ROCKY_DEMO_FIXED_CLOCK=1 scripts/demo, i.e. a fixed clock.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo-out");
    rocky_examples::build_demo(
        &rocky_examples::Layout::new(&root),
        &mut rocky_examples::Clock::fixed(),
    )
    .unwrap();

    // rocky-verify and rocky-demo from the build under test, then the caller's PATH.
    let verifier_dir = rocky_e2e::verifier_bin().parent().unwrap().to_path_buf();
    // rocky-demo: $ROCKY_DEMO_BIN (set by scripts/test), else beside this test's target dir.
    let demo_bin = std::env::var_os("ROCKY_DEMO_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .unwrap()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("rocky-demo")
        });
    assert!(
        demo_bin.is_file(),
        "rocky-demo is not built at {}; run scripts/test (it builds it and sets ROCKY_DEMO_BIN)",
        demo_bin.display()
    );
    let own_dir = demo_bin.parent().unwrap().to_path_buf();
    let path = std::env::join_paths([verifier_dir, own_dir].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let path = path.to_str().unwrap().to_owned();

    let mut skipped = Vec::new();
    for s in &shown {
        // The external tools the walkthrough names; a missing one skips its command, by name.
        let tools: Vec<&str> = [
            "rocky-verify",
            "rocky-demo",
            "git",
            "b3sum",
            "duckdb",
            "grep",
        ]
        .into_iter()
        .filter(|t| s.command.split_whitespace().any(|w| w == *t))
        .collect();
        if let Some(missing) = tools.iter().find(|t| !on_path(t, &path)) {
            println!("SKIPPED (not installed: {missing}): $ {}", s.command);
            skipped.push(s.command.clone());
            continue;
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(&s.command)
            .current_dir(&root)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let actual: Vec<&str> = stdout.lines().collect();
        assert!(
            lines_match(&s.output, &actual),
            "AUDIT.md shows for `$ {}`:\n{}\n\nbut it printed:\n{stdout}\nstderr:\n{}",
            s.command,
            s.output.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "{} of {} AUDIT.md commands checked, {} skipped",
        shown.len() - skipped.len(),
        shown.len(),
        skipped.len()
    );
    // The rocky-verify commands themselves are never skipped.
    assert!(
        skipped.iter().all(|c| !c.starts_with("rocky-verify")),
        "{skipped:?}"
    );
}

#[test]
fn the_wildcard_matcher_is_strict_outside_wildcards() {
    let e = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(lines_match(&e(&["a", "...", "z"]), &["a", "b", "c", "z"]));
    assert!(lines_match(&e(&["a", "...", "z"]), &["a", "z"]));
    assert!(!lines_match(&e(&["a", "...", "z"]), &["a", "b"]));
    assert!(!lines_match(&e(&["a", "b"]), &["a", "b", "c"]));
    assert!(!lines_match(&e(&["a"]), &["b"]));
}
