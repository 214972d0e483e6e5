//! `rocky-verify-gen` writes completions and man pages from the live clap definition; they must
//! name every subcommand and the flags users rely on, or they have drifted.

use std::process::Command;

#[test]
fn completions_and_man_pages_cover_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rocky-verify-gen"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bash = std::fs::read_to_string(dir.path().join("completions/rocky-verify.bash")).unwrap();
    for word in [
        "run",
        "artifact",
        "runs",
        "record",
        "--state-path",
        "--warehouse",
        "--json",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    for file in [
        "_rocky-verify",
        "rocky-verify.fish",
        "_rocky-verify.ps1",
        "rocky-verify.elv",
    ] {
        let text = std::fs::read_to_string(dir.path().join("completions").join(file)).unwrap();
        assert!(
            text.contains("artifact"),
            "{file} lacks the artifact subcommand"
        );
    }
    let man = std::fs::read_to_string(dir.path().join("man/rocky-verify.1")).unwrap();
    assert!(man.contains(".TH rocky-verify"), "not a man page");
    for sub in ["run", "artifact", "runs", "record", "gate"] {
        let page = dir.path().join(format!("man/rocky-verify-{sub}.1"));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|_| panic!("{} missing", page.display()));
        assert!(
            text.contains("Examples"),
            "{sub}'s man page has no examples"
        );
    }
}

#[test]
fn generator_without_an_output_folder_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_rocky-verify-gen"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
