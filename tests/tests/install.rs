//! `scripts/install` yields a `rocky-verify` that works on its own: after the install folder is
//! renamed, from another working directory, with a bare environment, and with the build tree (the
//! target directory, the clone, the cached DuckDB library) out of reach. Completions and man pages
//! are installed with it.

use std::path::Path;
use std::process::Command;

use rocky_e2e::{repo_root, verifier_bin};

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The installed binary with nothing from the caller: no environment but a system PATH, run from `/`.
fn bare(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/");
    cmd
}

#[test]
fn the_installed_binary_works_after_the_install_folder_moves_and_without_the_build_tree() {
    let built = verifier_bin().parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let (code, stdout, stderr) = run(Command::new(repo_root().join("scripts/install"))
        .arg("--from")
        .arg(built)
        .arg(&prefix));
    assert_eq!(code, 0, "scripts/install failed\n{stdout}\n{stderr}");

    for file in [
        "bin/rocky-verify",
        "lib/rocky-verify/libduckdb.so",
        "share/man/man1/rocky-verify.1",
        "share/man/man1/rocky-verify-run.1",
        "share/bash-completion/completions/rocky-verify",
        "share/zsh/site-functions/_rocky-verify",
        "share/fish/vendor_completions.d/rocky-verify.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }

    // Rename the whole installed tree: only $ORIGIN-relative paths may hold it together.
    let moved = dir.path().join("moved elsewhere");
    std::fs::rename(&prefix, &moved).unwrap();
    let bin = moved.join("bin/rocky-verify");

    // The loader must take DuckDB's library from inside the moved tree, not from a build folder.
    let (code, ldd, _) = run(Command::new("ldd").arg(&bin));
    assert_eq!(code, 0);
    let duck = ldd
        .lines()
        .find(|l| l.contains("libduckdb.so"))
        .unwrap_or_else(|| panic!("ldd shows no libduckdb.so:\n{ldd}"));
    assert!(
        duck.contains(&format!(
            "{}/bin/../lib/rocky-verify/libduckdb.so",
            moved.display()
        )),
        "libduckdb.so resolves outside the installed tree: {duck}"
    );

    let (code, stdout, stderr) = run(bare(&bin).arg("--version"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("rocky-verify "), "{stdout}");

    // A real verification with the installed binary: Rocky's own audit sample.
    let sample = std::fs::read_dir(repo_root().join("fixtures/rocky/audit-sample"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let copy = dir.path().join(sample.file_name().unwrap());
    std::fs::copy(&sample, &copy).unwrap();
    let (code, stdout, stderr) = run(bare(&bin).arg("artifact").arg(&copy));
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The strongest form: in a private mount namespace, cover the build tree (the target
    // directory and the DuckDB cache under ~/.cache, and this clone) with empty folders, then run
    // the installed binary. Needs CAP_SYS_ADMIN (root, as in CI); elsewhere the ldd check above
    // stands alone, and the test says so.
    let home = std::env::var("HOME").unwrap_or_default();
    // `built` is the profile folder (`<target>/debug`), so its parent is the target directory.
    let target = built.parent().unwrap();
    let mut covered: Vec<String> = [
        Path::new(&home).join(".cache").display().to_string(),
        target.display().to_string(),
        repo_root().display().to_string(),
    ]
    .into_iter()
    .filter(|p| Path::new(p).is_dir())
    .collect();
    // Deepest first: a folder covered before one inside it would hide that mount point.
    covered.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let hide: Vec<String> = covered
        .iter()
        .map(|p| format!("mount -t tmpfs tmpfs '{p}'"))
        .collect();
    let script = format!(
        "{} && cd / && exec '{}' artifact '{}'",
        hide.join(" && "),
        bin.display(),
        copy.display()
    );
    let probe = Command::new("unshare").args(["-m", "true"]).status();
    if probe.is_ok_and(|s| s.success()) {
        let (code, stdout, stderr) = run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
        assert_eq!(
            code, 0,
            "the installed binary failed with the build tree hidden:\n{stdout}\n{stderr}"
        );
    } else {
        println!("NOT RUN (unshare -m not permitted here): the hidden-build-tree run");
    }
}
