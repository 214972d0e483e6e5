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

// --- Completions, driven through real shells -------------------------------------------------
//
// Reading the generated file proves nothing about what a shell does with it (a bash script once
// listed every option yet completed none, clap-rs/clap#6421). Each shell here loads the script and
// completes `rocky-verify <sub> --` for every subcommand; what it offers must include every long
// option the clap definition gives that subcommand.

use std::collections::BTreeMap;
use std::path::Path;

use clap::CommandFactory;

/// Every subcommand's visible long options, from the very definition the binary parses with.
fn expected_options() -> BTreeMap<String, Vec<String>> {
    let cmd = rocky_verify::cli::Args::command();
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| {
            let longs = s
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            (s.get_name().to_owned(), longs)
        })
        .collect()
}

/// A shell the test needs: under CI (`CI` set) a missing one fails the test, elsewhere it is
/// skipped by name (scripts/test-tools installs it from Debian's packages).
fn shell_available(name: &str) -> bool {
    let found = Command::new(name)
        .arg("-c")
        .arg("exit 0")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed; run scripts/test-tools"
        );
        println!("SKIPPED (not installed: {name}): {name} completion test");
    }
    found
}

fn run_shell(shell: &str, args: &[&str], script: &str) -> String {
    // A HOME of its own: fish (and a shell reading its rc files) writes config and history
    // there, and a shared folder such as the system temp dir collides between two checkouts.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(shell)
        .args(args)
        .arg(script)
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What bash's completion function, loaded from `script`, offers for `rocky-verify <words..> <cur>`.
fn bash_offers(script: &Path, words: &[&str], cur: &str) -> Vec<String> {
    let mut all: Vec<String> = std::iter::once("rocky-verify".to_owned())
        .chain(words.iter().map(|w| (*w).to_owned()))
        .collect();
    let prev = all.last().unwrap().clone();
    all.push(cur.to_owned());
    let quoted: Vec<String> = all.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_rocky__verify rocky-verify '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        all.len() - 1
    );
    run_shell("bash", &["--norc", "--noprofile", "-c"], &program)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn missing(offered: &[String], wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| !offered.contains(w))
        .cloned()
        .collect()
}

fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rocky-verify-gen"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    dir
}

#[test]
fn bash_completes_every_subcommand_and_each_of_its_options() {
    if !shell_available("bash") {
        return;
    }
    let dir = generated();
    let script = dir.path().join("completions/rocky-verify.bash");
    let expected = expected_options();
    assert!(expected.len() >= 5, "{expected:?}");
    let subs = bash_offers(&script, &[], "");
    for sub in expected.keys() {
        assert!(subs.contains(sub), "bash does not offer {sub}: {subs:?}");
    }
    for (sub, longs) in &expected {
        let offered = bash_offers(&script, &[sub], "--");
        let lacking = missing(&offered, longs);
        assert!(
            lacking.is_empty(),
            "bash `rocky-verify {sub} --` lacks {lacking:?}"
        );
    }
}

#[test]
fn bash_check_catches_clap_completes_unfixed_script() {
    // Control: clap_complete's script as it comes (hyphenated binary name, clap-rs/clap#6421)
    // completes no subcommand option; the check above must see that, or it proves nothing.
    if !shell_available("bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("raw.bash");
    let mut raw = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::Bash,
        &mut rocky_verify::cli::Args::command(),
        "rocky-verify",
        &mut raw,
    );
    std::fs::write(&script, raw).unwrap();
    let offered = bash_offers(&script, &["gate"], "--");
    assert!(
        !offered.contains(&"--ledger".to_owned()),
        "the unfixed script completed gate's options ({offered:?}): is clap-rs/clap#6421 fixed? \
         then this control needs another broken script"
    );
}

#[test]
fn fish_completes_every_subcommand_and_each_of_its_options() {
    if !shell_available("fish") {
        return;
    }
    let dir = generated();
    let script = dir.path().join("completions/rocky-verify.fish");
    for (sub, longs) in expected_options() {
        let program = format!(
            "source '{}'; complete --do-complete 'rocky-verify {sub} --'",
            script.display()
        );
        let offered: Vec<String> = run_shell("fish", &["--no-config", "-c"], &program)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect();
        let lacking = missing(&offered, &longs);
        assert!(
            lacking.is_empty(),
            "fish `rocky-verify {sub} --` lacks {lacking:?}"
        );
    }
}

/// Drives an interactive zsh on a pseudo-terminal (zsh's own zpty module): loads the completion
/// system with the generated `_rocky-verify` on `fpath`, replaces `compadd` with a wrapper that
/// prints every candidate it is handed, and presses TAB after `rocky-verify <sub> --`.
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 3
dir=$1; line=$2
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' menu no"
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __h; builtin compadd -A __h "$@"; print -r -l -- "<<C>>"${^__h}; builtin compadd "$@"; }'
zpty -w z "bindkey '^I' complete-word; print -r -- '<<READY>>'"
out=""
for i in {1..100}; do
  zpty -rt z chunk && out+=$chunk
  [[ $out == *'<<READY>>'*'<<READY>>'* ]] && break
  sleep 0.05
done
zpty -w -n z "$line"$'\t'
zpty -w z $'\C-u'"print -r -- '<<DONE>>'"
out=""
for i in {1..200}; do
  zpty -rt z chunk && out+=$chunk
  [[ $out == *'<<DONE>>'*'<<DONE>>'* ]] && break
  sleep 0.05
done
zpty -d z
print -r -- "$out" | tr -d '\r' | grep -o '<<C>>[^[:space:]]*' | sed 's/^<<C>>//'
"#;

#[test]
fn zsh_completes_every_subcommand_and_each_of_its_options() {
    if !shell_available("zsh") {
        return;
    }
    let dir = generated();
    let completions = dir.path().join("completions");
    let driver = dir.path().join("driver.zsh");
    std::fs::write(&driver, ZSH_DRIVER).unwrap();
    for (sub, longs) in expected_options() {
        let out = Command::new("zsh")
            .arg("-f")
            .arg(&driver)
            .arg(&completions)
            .arg(format!("rocky-verify {sub} --"))
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        let lacking = missing(&offered, &longs);
        assert!(
            lacking.is_empty(),
            "zsh `rocky-verify {sub} --` lacks {lacking:?}; it offered {offered:?}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The man pages' examples keep their lines: each subcommand's after-help text (exit codes,
/// example commands with their `\` continuations) sits in a no-fill section, line for line,
/// instead of being filled into broken lines.
#[test]
fn man_page_examples_are_not_reflowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rocky-verify-gen"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let cmd = rocky_verify::cli::Args::command();
    let mut pages = vec![(
        "rocky-verify".to_owned(),
        cmd.get_after_help().unwrap().to_string(),
    )];
    for sub in cmd.get_subcommands() {
        if let Some(h) = sub.get_after_help() {
            pages.push((format!("rocky-verify-{}", sub.get_name()), h.to_string()));
        }
    }
    assert!(pages.len() >= 5, "every subcommand has examples");
    for (name, help) in pages {
        let page = std::fs::read_to_string(dir.path().join(format!("man/{name}.1"))).unwrap();
        let start = page
            .find("\n.nf\n")
            .unwrap_or_else(|| panic!("{name}: no no-fill section"));
        let end = page[start..].find("\n.fi\n").unwrap() + start;
        let shown: Vec<String> = page[start + 5..end]
            .lines()
            .map(|l| {
                l.strip_prefix("\\&")
                    .unwrap_or(l)
                    .replace("\\-", "-")
                    .replace("\\e", "\\")
            })
            .collect();
        let want: Vec<&str> = help.lines().collect();
        assert_eq!(
            shown, want,
            "{name}: examples changed on the way to the man page"
        );
        // No filled copy of the same text elsewhere on the page.
        assert!(page.matches("Examples:").count() <= 1, "{name}");
        // A continued example line keeps its trailing backslash on its own line.
        if name == "rocky-verify-gate" {
            assert!(
                shown
                    .iter()
                    .any(|l| l.starts_with("  rocky-verify gate --ledger") && l.ends_with('\\')),
                "{shown:#?}"
            );
        }
    }
}

/// `--help` and the man pages do not send users to `spec/*.md`: a binary ships without the
/// repository's spec folder.
#[test]
fn help_and_man_pages_name_no_spec_file() {
    let mut cmd = rocky_verify::cli::Args::command();
    cmd.build();
    let mut texts = vec![(
        "rocky-verify".to_owned(),
        cmd.render_long_help().to_string(),
    )];
    for sub in cmd.get_subcommands_mut() {
        texts.push((
            sub.get_name().to_owned(),
            sub.render_long_help().to_string(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rocky-verify-gen"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for entry in std::fs::read_dir(dir.path().join("man")).unwrap() {
        let p = entry.unwrap().path();
        texts.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for (name, text) in texts {
        assert!(!text.contains("spec/"), "{name} points at spec/:\n{text}");
        assert!(
            !text.contains(".md"),
            "{name} names a markdown file:\n{text}"
        );
    }
}
