//! Opening the ledger for a command, and binding the report to the ledger file's bytes.

use std::path::PathBuf;

use crate::checks::catalogue::{CheckId, Code};
use crate::error::VerifyError;
use crate::evidence::ledger::{self, Ledger};
use crate::report::{Check, Proof, Report, Subject};

/// Opens the ledger for a command, pushing `ledger.open` / `ledger.schema_version` checks when it
/// cannot be used. Returns the ledger only when its records can be read.
pub fn open_ledger(report: &mut Report, path: &std::path::Path) -> Option<Ledger> {
    let display = path.display().to_string();
    admit_ledger(report, Ledger::open(path, &display))
}

/// The checks of [`open_ledger`] on a ledger opened some other way ([`Ledger::from_bytes`],
/// [`Ledger::from_source`]), or on the error opening it gave.
pub fn admit_ledger(report: &mut Report, opened: Result<Ledger, VerifyError>) -> Option<Ledger> {
    let ledger = match opened {
        Ok(l) => l,
        Err(e) => {
            let display = match &e {
                VerifyError::Io { path, .. }
                | VerifyError::LedgerInvalid { path, .. }
                | VerifyError::LedgerLocked { path } => path.display().to_string(),
                _ => String::new(),
            };
            report.push(Check::unknown(
                CheckId::LedgerOpen,
                Subject::file(&display),
                e.code(),
                Proof::BytesVerified,
                e.to_string(),
            ));
            return None;
        }
    };
    report.ledger = Some(ledger.info.clone());
    let display = ledger.info.path.clone();
    if let Err(reason) = ledger::check_schema_version(ledger.info.schema_version.as_deref()) {
        report.push(Check::unknown(
            CheckId::LedgerSchemaVersion,
            Subject::file(&display),
            Code::SchemaVersionUnexpected,
            Proof::Recomputed,
            reason.to_string(),
        ));
        return None;
    }
    Some(ledger)
}

/// Pushes an `unknown` check for a ledger read that failed mid-way.
pub(crate) fn ledger_read_failed(report: &mut Report, e: &VerifyError) {
    let file = report
        .ledger
        .as_ref()
        .map(|l| l.path.clone())
        .unwrap_or_default();
    report.push(Check::unknown(
        CheckId::LedgerOpen,
        Subject::file(&file),
        e.code(),
        Proof::BytesVerified,
        e.to_string(),
    ));
}

/// Runs `work` while another thread computes the ledger file's BLAKE3 (when `digest`): the one
/// cost that grows with the whole file, so it overlaps with the checks instead of adding to them.
pub(crate) fn hashing_alongside<R>(
    ledger: &Ledger,
    digest: bool,
    work: impl FnOnce() -> R,
) -> (R, Option<Result<String, VerifyError>>) {
    std::thread::scope(|s| {
        let handle = digest.then(|| s.spawn(|| ledger.digest()));
        let out = work();
        let digest = handle.map(|h| {
            // A panic there (none is known) is a failed read, not a crash.
            h.join().unwrap_or_else(|_| {
                Err(VerifyError::Io {
                    path: PathBuf::new(),
                    source: std::io::Error::other("the ledger digest thread panicked"),
                })
            })
        });
        (out, digest)
    })
}

/// Puts the ledger's BLAKE3 into the report (`begin.ledger.blake3`): `None` means it was not
/// asked for (`--no-ledger-scan`), which the summary says; a failed read is a `ledger.open`
/// check that could not complete.
pub(crate) fn record_digest(report: &mut Report, digest: Option<Result<String, VerifyError>>) {
    match digest {
        Some(Ok(hash)) => {
            if let Some(l) = report.ledger.as_mut() {
                l.blake3 = Some(hash);
            }
        }
        Some(Err(e)) => ledger_read_failed(report, &e),
        None => report.not_verified.push(
            "--no-ledger-scan: the ledger file's BLAKE3 was not computed, so this report is not \
             bound to its bytes, and refcounts were not counted"
                .to_owned(),
        ),
    }
}
