//! A redb [`StorageBackend`] that never writes to the evidence file.
//!
//! redb 2 has no read-only open: `Database::open` opens the file read-write, flips a header byte
//! while open and repairs an uncleanly closed file in place (`spec/ledger.md` section 2). This
//! backend serves redb from a read-only [`ReadAt`] source (a file opened `O_RDONLY`, bytes in
//! memory, a member of a bundle) and sends every write and `set_len` to an
//! in-memory copy-on-write overlay of 4 KiB blocks, so whatever redb decides to write (the
//! "god byte", a whole repair) happens in memory only. `sync_data` does nothing.
//!
//! Invariant: the bytes redb sees are exactly "the file, then every write and resize redb made,
//! in order", as with a real file, while the source itself is only ever read at an offset.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use redb::StorageBackend;

use super::source::ReadAt;

/// Overlay block size. 4 KiB matches redb's default page size, so a page write touches one block.
const BLOCK: u64 = 4096;

/// The mutable view redb has of the file.
#[derive(Default)]
struct Overlay {
    /// The logical length redb sees.
    len: u64,
    /// Bytes of the original file at or past this offset are never shown again: redb shrank the
    /// storage below it, so a later growth must read back zeros, not the old file bytes.
    file_visible: u64,
    /// Blocks redb wrote, by block index. A present block is authoritative for its whole range.
    blocks: HashMap<u64, Box<[u8]>>,
}

/// Read-only source plus copy-on-write overlay; see the module docs.
pub struct OverlayBackend {
    file: Arc<dyn ReadAt>,
    state: Mutex<Overlay>,
}

impl fmt::Debug for OverlayBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("OverlayBackend")
            .field("len", &state.len)
            .field("overlay_blocks", &state.blocks.len())
            .finish()
    }
}

impl OverlayBackend {
    /// Wraps `file`, a read-only source whose length is `len`.
    pub fn new(file: Arc<dyn ReadAt>, len: u64) -> Self {
        OverlayBackend {
            file,
            state: Mutex::new(Overlay {
                len,
                file_visible: len,
                blocks: HashMap::new(),
            }),
        }
    }

    /// How many 4 KiB blocks redb has written (into memory) so far.
    pub fn overlay_blocks(&self) -> usize {
        self.lock().blocks.len()
    }

    fn lock(&self) -> MutexGuard<'_, Overlay> {
        // A poisoned lock only means another reader panicked mid-call; the overlay itself is
        // always left consistent (every mutation is a single insert or truncate).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fills `out` with the underlying bytes (file or zeros) at `offset`, ignoring the overlay.
    fn read_base(&self, state: &Overlay, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let end = offset.saturating_add(out.len() as u64);
        let from_file_end = end.min(state.file_visible);
        if offset < from_file_end {
            let n = usize::try_from(from_file_end - offset).map_err(|_| out_of_range())?;
            self.file.read_exact_at(&mut out[..n], offset)?;
            out[n..].fill(0);
        } else {
            out.fill(0);
        }
        Ok(())
    }

    /// A copy of block `index` as redb currently sees it.
    fn block_copy(&self, state: &Overlay, index: u64) -> io::Result<Box<[u8]>> {
        if let Some(block) = state.blocks.get(&index) {
            return Ok(block.clone());
        }
        let mut buf = vec![0u8; BLOCK as usize].into_boxed_slice();
        let start = index * BLOCK;
        // Only the part below the logical length exists; the rest reads as zeros.
        let visible = state.len.saturating_sub(start).min(BLOCK) as usize;
        self.read_base(state, start, &mut buf[..visible])?;
        Ok(buf)
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "read past the end of the ledger",
    )
}

impl StorageBackend for OverlayBackend {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.lock().len)
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        let state = self.lock();
        let end = offset.checked_add(len as u64).ok_or_else(out_of_range)?;
        if end > state.len {
            return Err(out_of_range());
        }
        let mut out = vec![0u8; len];
        let mut pos = offset;
        while pos < end {
            let index = pos / BLOCK;
            let in_block = (pos % BLOCK) as usize;
            let chunk_end = ((index + 1) * BLOCK).min(end);
            let dst = &mut out[(pos - offset) as usize..(chunk_end - offset) as usize];
            match state.blocks.get(&index) {
                Some(block) => dst.copy_from_slice(&block[in_block..in_block + dst.len()]),
                None => self.read_base(&state, pos, dst)?,
            }
            pos = chunk_end;
        }
        Ok(out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut state = self.lock();
        if len < state.len {
            // Shrink: forget overlay blocks wholly past the end, zero the tail of the boundary
            // block, and hide the file's bytes past the new end for any later growth.
            let keep_blocks = len.div_ceil(BLOCK);
            state.blocks.retain(|&index, _| index < keep_blocks);
            if !len.is_multiple_of(BLOCK) {
                let index = len / BLOCK;
                let mut block = self.block_copy(&state, index)?;
                block[(len % BLOCK) as usize..].fill(0);
                state.blocks.insert(index, block);
            }
            state.file_visible = state.file_visible.min(len);
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> Result<(), io::Error> {
        // Nothing is ever persisted: the overlay lives and dies with this process.
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.lock();
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(out_of_range)?;
        let mut pos = offset;
        while pos < end {
            let index = pos / BLOCK;
            let in_block = (pos % BLOCK) as usize;
            let chunk_end = ((index + 1) * BLOCK).min(end);
            let src = &data[(pos - offset) as usize..(chunk_end - offset) as usize];
            let mut block = match state.blocks.remove(&index) {
                Some(block) => block,
                None => self.block_copy(&state, index)?,
            };
            block[in_block..in_block + src.len()].copy_from_slice(src);
            state.blocks.insert(index, block);
            pos = chunk_end;
        }
        // Like a file, a write past the end extends it.
        if end > state.len {
            state.len = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Write;

    fn backend_over(bytes: &[u8]) -> (tempfile::NamedTempFile, OverlayBackend) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let ro = File::open(f.path()).unwrap();
        let b = OverlayBackend::new(Arc::new(ro), bytes.len() as u64);
        (f, b)
    }

    #[test]
    fn writes_are_visible_to_reads_but_never_reach_the_file() {
        let original: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (f, b) = backend_over(&original);
        b.write(4090, &[0xAA; 20]).unwrap();
        let got = b.read(4080, 40).unwrap();
        assert_eq!(&got[..10], &original[4080..4090]);
        assert_eq!(&got[10..30], &[0xAA; 20]);
        assert_eq!(&got[30..], &original[4110..4120]);
        assert_eq!(std::fs::read(f.path()).unwrap(), original);
    }

    #[test]
    fn shrink_then_grow_reads_zeros_not_old_file_bytes() {
        let original = vec![7u8; 9000];
        let (_f, b) = backend_over(&original);
        b.set_len(5000).unwrap();
        assert!(b.read(4990, 20).is_err());
        b.set_len(9000).unwrap();
        let got = b.read(4990, 20).unwrap();
        assert_eq!(&got[..10], &[7u8; 10]);
        assert_eq!(&got[10..], &[0u8; 10]);
        assert_eq!(b.read(8990, 10).unwrap(), vec![0u8; 10]);
    }

    #[test]
    fn writing_past_the_end_extends_with_zeros() {
        let (_f, b) = backend_over(b"abc");
        b.write(10, b"xyz").unwrap();
        assert_eq!(b.len().unwrap(), 13);
        assert_eq!(b.read(0, 13).unwrap(), b"abc\0\0\0\0\0\0\0xyz");
    }
}
