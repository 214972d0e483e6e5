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
use clap_complete::Shell;
use rocky_verify::cli::Args;

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
        written.push(clap_complete::generate_to(
            shell,
            &mut cmd,
            "rocky-verify",
            &completions,
        )?);
    }
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    let cmd = Args::command();
    // One page for the tool and one per subcommand (`rocky-verify-run.1`, ...), as git does.
    clap_mangen::generate_to(cmd, &man)?;
    for entry in std::fs::read_dir(&man)? {
        written.push(entry?.path());
    }
    written.sort();
    Ok(written)
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
