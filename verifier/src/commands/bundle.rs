//! `--bundle DIR|FILE.tar` for `run` and `gate` (`spec/bundle.md` section 5): open the bundle,
//! point the usual inputs at its contents, and after the checks put the bundle's own findings
//! first and make every path in the report bundle-relative.

use std::path::{Path, PathBuf};

use crate::checks::bundle::{attach, refusal};
use crate::evidence::bundle::Bundle;
use crate::report::Report;

/// Opens a bundle; a refused one becomes a report holding the refusal (exit 2).
///
/// # Errors
///
/// The report to print when the bundle cannot be verified at all.
pub fn open(
    path: &Path,
    command: &'static str,
    subject: Option<String>,
    strict: bool,
) -> Result<Bundle, Box<Report>> {
    Bundle::open(path).map_err(|e| {
        let mut report = Report::new(command, subject, strict);
        report.push(refusal(&e));
        report
            .not_verified
            .push("the bundle could not be opened: nothing was verified".to_owned());
        Box::new(report)
    })
}

/// The prefixes to strip so that report paths are bundle-relative: the root as used, and its
/// canonical form (git reports canonical paths), longest first.
fn prefixes(bundle: &Bundle) -> Vec<String> {
    let mut roots: Vec<PathBuf> = vec![bundle.root().to_owned()];
    if let Ok(c) = bundle.root().canonicalize() {
        roots.push(c);
    }
    let mut out: Vec<String> = roots
        .iter()
        .map(|r| {
            let mut s = r.display().to_string();
            if !s.ends_with('/') {
                s.push('/');
            }
            s
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// Rewrites `text` so no path names where the bundle happens to be on disk.
pub fn relative(bundle: &Bundle) -> impl FnMut(&mut String) {
    let prefixes = prefixes(bundle);
    move |s: &mut String| {
        for p in &prefixes {
            if s.contains(p.as_str()) {
                *s = s.replace(p.as_str(), "");
            }
            let bare = &p[..p.len() - 1];
            if s.as_str() == bare {
                *s = ".".to_owned();
            }
        }
    }
}

/// After the checks: the bundle's findings first, its id in `begin`, paths bundle-relative.
pub fn finish(report: &mut Report, bundle: &Bundle) {
    attach(report, bundle);
    let mut rel = relative(bundle);
    report.rewrite_strings(&mut rel);
}

/// The `run` options with the bundle's contents as inputs.
pub fn run_options(mut opts: crate::plan::RunOptions, bundle: &Bundle) -> crate::plan::RunOptions {
    // A bundle without a ledger points at a path inside it that does not exist: the ledger
    // check then says so (unknown), as for a missing --ledger file.
    opts.ledger = bundle
        .ledger()
        .unwrap_or_else(|| bundle.root().join("ledger"));
    opts.repo = bundle.repo().unwrap_or_else(|| bundle.root().join("git"));
    opts.repo_explicit = bundle.repo().is_some();
    opts.artifacts = bundle.artifacts();
    opts.lake = bundle.lake();
    opts.warehouse = bundle.warehouse();
    opts
}

/// The `gate` arguments with the bundle's contents as inputs.
pub fn gate_args(args: &crate::cli::GateArgs, bundle: &Bundle) -> crate::cli::GateArgs {
    let mut a = args.clone();
    a.ledger = Some(
        bundle
            .ledger()
            .unwrap_or_else(|| bundle.root().join("ledger")),
    );
    a.repo = bundle.repo();
    a.lake = bundle.lake();
    a.artifacts = bundle.artifacts();
    a.warehouse = bundle.warehouse();
    a
}

/// Reads the `--pseudonymize` key, if one was given.
///
/// # Errors
///
/// The key file cannot be read or is malformed (a usage error: exit 2).
pub fn key(args: &crate::cli::BundleArgs) -> Result<Option<[u8; 32]>, String> {
    args.pseudonymize
        .as_deref()
        .map(crate::output::pseudonym::read_key)
        .transpose()
}

/// Pseudonymises a finished report (the last step before any format is written).
pub fn pseudonymize(
    report: &mut Report,
    key: [u8; 32],
    ledger: Option<&Path>,
    repo: Option<&Path>,
) {
    let mut p = crate::output::pseudonym::Pseudonymizer::new(key);
    p.collect(report, ledger, repo);
    p.apply(report);
}

/// `run` with `--bundle` and `--pseudonymize` applied around [`crate::commands::run::verify_run`].
pub fn verify_run_cli(
    opts: crate::plan::RunOptions,
    args: &crate::cli::BundleArgs,
    key: Option<[u8; 32]>,
) -> Report {
    let bundle = match &args.bundle {
        Some(p) => match open(p, "run", Some(opts.run_id.clone()), opts.strict) {
            Ok(b) => Some(b),
            Err(report) => return *report,
        },
        None => None,
    };
    let opts = match &bundle {
        Some(b) => run_options(opts, b),
        None => opts,
    };
    let mut report = crate::commands::run::verify_run(&opts);
    if let Some(b) = &bundle {
        finish(&mut report, b);
    }
    if let Some(k) = key {
        pseudonymize(&mut report, k, Some(&opts.ledger), Some(&opts.repo));
    }
    report
}
