//! Opening evidence: only regular files, and never in a way that can block.
//!
//! `open(2)` on a FIFO blocks until a writer appears, and reading a character device such as
//! `/dev/zero` never ends, so a `--ledger`, a record file or an artifact that is (or links to) one
//! of those would hang the verifier forever. Every evidence file is therefore opened here: with
//! `O_NONBLOCK` (a FIFO opens at once instead of waiting), then judged by `fstat` on the open
//! descriptor, so the file checked is the file read, with no window for a swap between a `stat`
//! of the path and the open. Anything but a regular file is refused with what it is.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a path could not be opened as evidence.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The path exists but is not a regular file.
    #[error("{} is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is ("a directory", "a FIFO (named pipe)", ...).
        kind: &'static str,
    },
    /// The path could not be opened or examined.
    #[error("cannot open {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl OpenError {
    /// The underlying I/O error, for callers that report I/O failures by kind.
    pub fn into_io(self) -> std::io::Error {
        match self {
            OpenError::Io { source, .. } => source,
            e @ OpenError::NotRegular { .. } => {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            }
        }
    }
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` (following symbolic links) read-only, refusing anything but a regular file
/// without ever blocking on it.
///
/// # Errors
///
/// [`OpenError::NotRegular`] for directories, FIFOs, sockets and devices; [`OpenError::Io`] when
/// the path cannot be opened or examined.
pub fn open(path: &Path) -> Result<File, OpenError> {
    let io = |source| OpenError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let t = file.metadata().map_err(io)?.file_type();
    if !t.is_file() {
        return Err(OpenError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(t),
        });
    }
    Ok(file)
}

/// A path that names the very file `file` has open (`/proc/self/fd/N`), for libraries that take
/// a path and open it themselves: they reopen the regular file already judged, not whatever the
/// original path names by then. Falls back to `original` where `/proc` is not mounted.
pub fn path_of(file: &File, original: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    let proc_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if proc_path.exists() {
        proc_path
    } else {
        original.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_opens_and_a_missing_one_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, b"x").unwrap();
        assert!(open(&f).is_ok());
        assert!(matches!(
            open(&dir.path().join("missing")),
            Err(OpenError::Io { .. })
        ));
    }

    #[test]
    fn directories_fifos_and_devices_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        for (p, kind) in [
            (dir.path().to_path_buf(), "a directory"),
            (fifo, "a FIFO (named pipe)"),
            (link, "a character device"),
        ] {
            match open(&p) {
                Err(OpenError::NotRegular { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{}: {other:?}", p.display()),
            }
        }
    }

    #[test]
    fn the_proc_path_names_the_open_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, b"original").unwrap();
        let file = open(&f).unwrap();
        let p = path_of(&file, &f);
        std::fs::remove_file(&f).unwrap();
        std::fs::write(&f, b"replaced").unwrap();
        if p != f {
            assert_eq!(std::fs::read(&p).unwrap(), b"original");
        }
    }
}
