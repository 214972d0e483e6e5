//! Documentation must not drift from the product: the README's main-job and tamper commands are
//! run exactly as written, in a fresh export of the repository, and their output is checked.

use std::path::{Path, PathBuf};
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

/// Exports the committed tree (what a fresh clone has) into a fixed scratch folder.
fn fresh_export() -> PathBuf {
    let dir = std::env::temp_dir().join("rocky-verify-readme-test");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
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
        .arg(&dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    tar.stdin.take().unwrap().write_all(&archive.stdout).unwrap();
    assert!(tar.wait().unwrap().success());
    dir
}

fn sh(dir: &Path, command: &str) -> (i32, String, String) {
    let out = Command::new("bash").arg("-c").arg(command).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn readme_opens_with_the_main_job_and_the_test_command() {
    let commands = readme_commands();
    assert_eq!(commands, ["scripts/demo", "scripts/test"], "README's first block changed");
    // CI must run the same test command the README gives a new user.
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == commands[1]), ".ci/run does not call {}", commands[1]);
}

#[test]
fn readme_main_job_and_tamper_commands_run_as_written() {
    let main_job = readme_commands().into_iter().next().unwrap();
    let dir = fresh_export();

    let (code, stdout, stderr) = sh(&dir, &main_job);
    assert_eq!(code, 0, "{main_job} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("recorded run-"), "{stdout}");
    assert!(stdout.contains("verdict: OK (exit 0)"), "{stdout}");
    assert!(stdout.contains("== rocky-verify exit code: 0"), "{stdout}");

    // The README's tamper command turns the verdict.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(readme.contains("scripts/tamper artifact"), "README lost its tamper command");
    let (code, stdout, stderr) = sh(&dir, "scripts/tamper artifact");
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("artifact_hash_mismatch"), "{stdout}");
    assert!(stdout.contains("verdict: FAILED (exit 1)"), "{stdout}");
}
