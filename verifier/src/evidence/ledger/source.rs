//! Where a ledger's bytes come from: the read-at seam under [`super::Ledger`].
//!
//! redb reads a database by offset ([`super::backend::OverlayBackend`]), and the digest reads it
//! front to back; both need only "how long" and "these bytes at this offset". So a ledger can be
//! a file on disk (the usual case, locked by [`super::Ledger::open`]), bytes already in memory
//! (a ledger fetched from remote state, a test), or one member of a larger file (a ledger stored
//! inside an evidence bundle) without redb or the checks knowing which.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Random-access, read-only bytes of known length. Implementations must be safe to read from
/// several threads at once (the digest runs beside the checks).
pub trait ReadAt: Send + Sync + fmt::Debug {
    /// The length in bytes. Fixed for the life of the ledger: it is read once, when opened.
    fn len(&self) -> io::Result<u64>;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `buf` with the bytes at `offset`; a short read is an error, never zeros.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        // pread, not a mapping: a file truncated under us by a process that ignores the lock is
        // then an I/O error, never SIGBUS.
        FileExt::read_exact_at(self, buf, offset)
    }
}

/// A ledger held in memory.
pub struct Memory(Arc<[u8]>);

impl Memory {
    /// Wraps `bytes` (a `Vec<u8>`, a boxed slice or a shared `Arc<[u8]>`).
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Memory(bytes.into())
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("len", &self.0.len())
            .finish()
    }
}

impl ReadAt for Memory {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.len() as u64)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let bytes = slice_at(&self.0, offset, buf.len())?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// `len` bytes of `source` starting at `start`: a ledger stored uncompressed inside a larger file
/// (one member of an evidence bundle). Reads past the window's end are errors, even where the
/// outer file has more bytes, so a ledger can never read into its neighbour.
#[derive(Debug)]
pub struct Window {
    source: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
}

impl Window {
    /// The window `[start, start + len)` of `source`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when the window does not lie inside `source`.
    pub fn new(source: Arc<dyn ReadAt>, start: u64, len: u64) -> io::Result<Self> {
        let end = start.checked_add(len).ok_or_else(past_end)?;
        if end > source.len()? {
            return Err(past_end());
        }
        Ok(Window { source, start, len })
    }
}

impl ReadAt for Window {
    fn len(&self) -> io::Result<u64> {
        Ok(self.len)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).ok_or_else(past_end)?;
        if end > self.len {
            return Err(past_end());
        }
        self.source.read_exact_at(buf, self.start + offset)
    }
}

fn slice_at(bytes: &[u8], offset: u64, len: usize) -> io::Result<&[u8]> {
    let start = usize::try_from(offset).map_err(|_| past_end())?;
    let end = start.checked_add(len).ok_or_else(past_end)?;
    bytes.get(start..end).ok_or_else(past_end)
}

fn past_end() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read past the end of the ledger",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_reads_exactly_and_refuses_past_the_end() {
        let m = Memory::new(b"0123456789".to_vec());
        let mut buf = [0u8; 4];
        m.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"6789");
        assert!(m.read_exact_at(&mut buf, 7).is_err());
        assert!(m.read_exact_at(&mut buf, u64::MAX).is_err());
    }

    #[test]
    fn a_window_never_reads_its_neighbours() {
        let outer: Arc<dyn ReadAt> = Arc::new(Memory::new(b"aaaBBBBccc".to_vec()));
        let w = Window::new(Arc::clone(&outer), 3, 4).unwrap();
        assert_eq!(w.len().unwrap(), 4);
        let mut buf = [0u8; 4];
        w.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"BBBB");
        let mut one = [0u8; 1];
        assert!(w.read_exact_at(&mut one, 4).is_err());
        assert!(Window::new(outer, 8, 3).is_err());
    }
}
