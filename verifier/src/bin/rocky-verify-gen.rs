//! `rocky-verify-gen <out-dir>`: writes shell completions (bash, zsh, fish, PowerShell, elvish)
//! to `<out-dir>/completions/` and man pages (`rocky-verify.1` and one per subcommand) to
//! `<out-dir>/man/`, all generated from the same clap definition the binary parses with, so they
//! cannot drift from it.
//!
//! ```sh
//! cargo run --manifest-path verifier/Cargo.toml --bin rocky-verify-gen -- dist
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use rocky_verify::cli::Args;

const BIN: &str = "rocky-verify";

/// clap_complete 4.6's bash script dispatches on a state it spells two ways for a binary whose
/// name has a hyphen: the loop over the typed words builds `rocky__verify__subcmd__gate`, while
/// the case arms that list each subcommand's options say `rocky__subcmd__verify__subcmd__gate`,
/// so no option of any subcommand ever completes (clap-rs/clap#6421, open upstream). Respell the
/// arms the way the loop builds the state. Where a clap_complete release has fixed it, the wrong
/// spelling is absent and this changes nothing; `verifier/tests/completions.rs` drives a real bash
/// either way.
fn respell_bash_arms(script: &str, bin: &str) -> String {
    let wrong = format!("{}__subcmd__", bin.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", bin.replace('-', "__"));
    script.replace(&wrong, &right)
}

fn generate(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut cmd = Args::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, BIN, &mut script);
        let mut script = String::from_utf8(script).expect("clap_complete writes UTF-8");
        if shell == Shell::Bash {
            script = respell_bash_arms(&script, BIN);
        }
        let path = completions.join(shell.file_name(BIN));
        std::fs::write(&path, script)?;
        written.push(path);
    }
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    let mut cmd = Args::command().disable_help_subcommand(true);
    cmd.build();
    // One page for the tool and one per subcommand (`rocky-verify-run.1`, ...), as git does.
    write_man_pages(&cmd, &man)?;
    for entry in std::fs::read_dir(&man)? {
        written.push(entry?.path());
    }
    written.sort();
    Ok(written)
}

/// Writes the man page of `cmd` and of each of its subcommands. clap_mangen renders the
/// after-help text (exit codes, examples) as filled roff text, which joins and re-breaks the
/// lines of every example command; here that text is left out of clap_mangen's page and
/// appended as a no-fill (`.nf`) section, each line as written.
fn write_man_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man_pages(sub, dir)?;
    }
    let extra = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(ToString::to_string);
    let stripped = cmd
        .clone()
        .after_help(None::<&'static str>)
        .after_long_help(None::<&'static str>);
    let page = clap_mangen::Man::new(stripped);
    let mut bytes = Vec::new();
    page.render(&mut bytes)?;
    if let Some(text) = extra {
        bytes.extend_from_slice(verbatim_section("EXAMPLES AND EXIT CODES", &text).as_bytes());
    }
    std::fs::write(dir.join(page.get_filename()), bytes)
}

/// A roff section whose lines are shown exactly as written (no filling, no hyphenation).
fn verbatim_section(title: &str, text: &str) -> String {
    let mut out = format!(".SH \"{title}\"\n.nf\n");
    for line in text.lines() {
        out.push_str(&roff_line(line));
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

/// One line of text as roff input: backslashes and dashes escaped, and a leading `.` or `'`
/// (a roff request) neutralised.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: rocky-verify-gen <out-dir>");
        return ExitCode::from(2);
    };
    match generate(Path::new(out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rocky-verify-gen: {out}: {e}");
            ExitCode::from(2)
        }
    }
}
