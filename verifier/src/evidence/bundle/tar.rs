//! A small, strict tar reader (`spec/bundle.md` section 5.2, "Tar form"): ustar, pax and GNU
//! headers; regular files and directories only. It hands out entries one at a time and never
//! touches the file system: the caller decides what to write and where.
//!
//! Written here rather than taken from the `tar` crate so that every refusal (links, devices,
//! sparse files, oversized names, a truncated archive) is explicit and no unpacking code that
//! follows links or sets permissions is linked at all.

use std::io::Read;

/// A tar block.
pub const BLOCK: usize = 512;
/// Longest GNU long name or pax `path` accepted.
const MAX_NAME: u64 = 4096;
/// Largest pax header block accepted.
const MAX_PAX: u64 = 64 * 1024;
/// Most headers read before the archive is refused (files, folders and extension headers).
pub const MAX_HEADERS: u64 = 1_200_000;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One entry's header, after any pax or GNU extension headers were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored (a directory's trailing `/` removed).
    pub path: String,
    /// File or directory.
    pub kind: Kind,
    /// Data length in bytes (0 for a directory).
    pub size: u64,
}

/// A reader of entries; after [`TarReader::next_entry`] the caller reads the data with
/// [`TarReader::read_data`] or [`TarReader::skip_data`] before asking for the next.
pub struct TarReader<R: Read> {
    inner: R,
    /// Data bytes of the current entry not read yet, and the padding after them.
    pending: u64,
    padding: u64,
    headers: u64,
    ended: bool,
}

/// Why the archive is refused (one sentence).
pub type TarError = String;

fn octal(field: &[u8]) -> Result<u64, TarError> {
    // GNU base-256 for sizes beyond 8 GiB: high bit of the first byte set.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] != 0x80 {
            return Err("a negative or huge base-256 number in a tar header".to_owned());
        }
        let mut n: u64 = 0;
        for &b in &field[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(b)))
                .ok_or("a base-256 number in a tar header overflows")?;
        }
        return Ok(n);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .filter(|&b| b != b' ')
        .collect();
    if text.is_empty() {
        return Ok(0);
    }
    let mut n: u64 = 0;
    for b in text {
        if !(b'0'..=b'7').contains(&b) {
            return Err("a tar header number is not octal".to_owned());
        }
        n = n
            .checked_mul(8)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or("a tar header number overflows")?;
    }
    Ok(n)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn utf8(bytes: &[u8]) -> Result<String, TarError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a tar entry name is not UTF-8".to_owned())
}

/// Header checksum: the sum of all bytes with the checksum field read as spaces (unsigned, or
/// signed as some old tars wrote it).
fn checksum_ok(h: &[u8; BLOCK]) -> Result<bool, TarError> {
    let stored = octal(&h[148..156])?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    Ok(stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed))
}

impl<R: Read> TarReader<R> {
    /// A reader at the start of an archive.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            pending: 0,
            padding: 0,
            headers: 0,
            ended: false,
        }
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<(), TarError> {
        self.inner
            .read_exact(block)
            .map_err(|e| format!("the tar archive is cut short or unreadable: {e}"))
    }

    /// Reads all of an extension header's data (bounded by the caller).
    fn read_small(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        let mut data = vec![0u8; usize::try_from(size).map_err(|_| "too large")?];
        self.inner
            .read_exact(&mut data)
            .map_err(|e| format!("the tar archive is cut short or unreadable: {e}"))?;
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.discard(pad)?;
        Ok(data)
    }

    fn discard(&mut self, mut n: u64) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let take = usize::try_from(n.min(buf.len() as u64)).unwrap_or(buf.len());
            self.inner
                .read_exact(&mut buf[..take])
                .map_err(|e| format!("the tar archive is cut short or unreadable: {e}"))?;
            n -= take as u64;
        }
        Ok(())
    }

    /// The next file or directory entry, `None` at the end-of-archive block.
    ///
    /// # Errors
    ///
    /// A refused entry type, a bad checksum, an oversized name, a truncated archive, or data of
    /// the previous entry left unread.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.ended {
            return Ok(None);
        }
        if self.pending != 0 {
            self.skip_data()?;
        }
        let mut long_name: Option<String> = None;
        let mut pax_path: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            self.headers += 1;
            if self.headers > MAX_HEADERS {
                return Err(format!(
                    "the tar archive has more than {MAX_HEADERS} entries"
                ));
            }
            let mut h = [0u8; BLOCK];
            self.read_block(&mut h)?;
            if h.iter().all(|&b| b == 0) {
                self.ended = true;
                if long_name.is_some() || pax_path.is_some() || pax_size.is_some() {
                    return Err("the tar archive ends after an extension header".to_owned());
                }
                return Ok(None);
            }
            if !checksum_ok(&h)? {
                return Err("a tar header checksum is wrong".to_owned());
            }
            let magic = &h[257..263];
            let ustar = magic == b"ustar\0";
            let gnu = magic == b"ustar ";
            if !ustar && !gnu {
                return Err("not a ustar, pax or GNU tar archive (no ustar magic)".to_owned());
            }
            let size = octal(&h[124..136])?;
            let flag = h[156];
            match flag {
                b'L' => {
                    if size > MAX_NAME {
                        return Err("a GNU long name is longer than 4096 bytes".to_owned());
                    }
                    let data = self.read_small(size)?;
                    long_name = Some(utf8(cstr(&data))?);
                }
                b'x' => {
                    if size > MAX_PAX {
                        return Err("a pax header is larger than 64 KiB".to_owned());
                    }
                    let data = self.read_small(size)?;
                    for (k, v) in pax_records(&data)? {
                        match k.as_str() {
                            "path" => {
                                if v.len() as u64 > MAX_NAME {
                                    return Err("a pax path is longer than 4096 bytes".to_owned());
                                }
                                pax_path = Some(v);
                            }
                            "size" => {
                                pax_size = Some(v.parse::<u64>().map_err(|_| {
                                    "a pax size is not a decimal number".to_owned()
                                })?);
                            }
                            _ => {}
                        }
                    }
                }
                b'g' => {
                    if size > MAX_PAX {
                        return Err("a pax global header is larger than 64 KiB".to_owned());
                    }
                    self.read_small(size)?;
                }
                b'0' | 0 | b'5' => {
                    let mut name = cstr(&h[0..100]).to_vec();
                    if ustar {
                        let prefix = cstr(&h[345..500]);
                        if !prefix.is_empty() {
                            let mut full = prefix.to_vec();
                            full.push(b'/');
                            full.extend_from_slice(&name);
                            name = full;
                        }
                    }
                    let mut path = match (pax_path.take(), long_name.take()) {
                        (Some(p), _) => p,
                        (None, Some(l)) => l,
                        (None, None) => utf8(&name)?,
                    };
                    let size = pax_size.take().unwrap_or(size);
                    let kind = if flag == b'5' {
                        Kind::Dir
                    } else if path.ends_with('/') {
                        // Old tars mark a directory only by the trailing slash.
                        Kind::Dir
                    } else {
                        Kind::File
                    };
                    if kind == Kind::Dir {
                        while path.ends_with('/') && path.len() > 1 {
                            path.pop();
                        }
                        if size != 0 {
                            return Err(format!("directory entry {path:?} has data"));
                        }
                    }
                    self.pending = size;
                    self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
                    return Ok(Some(Entry { path, kind, size }));
                }
                other => {
                    let what = match other {
                        b'1' => "a hard link",
                        b'2' => "a symbolic link",
                        b'3' | b'4' => "a device",
                        b'6' => "a FIFO",
                        b'K' => "a GNU long link name",
                        b'S' => "a sparse file",
                        _ => "an entry of an unsupported type",
                    };
                    let name = String::from_utf8_lossy(cstr(&h[0..100])).into_owned();
                    return Err(format!(
                        "{name:?} is {what}: bundles hold only regular files and directories"
                    ));
                }
            }
        }
    }

    /// Reads the current entry's data in chunks, handing each to `sink`, then its padding.
    ///
    /// # Errors
    ///
    /// A truncated archive, or `sink`'s error.
    pub fn read_data(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> Result<(), TarError>,
    ) -> Result<(), TarError> {
        let mut buf = vec![0u8; 256 * 1024];
        while self.pending > 0 {
            let take = usize::try_from(self.pending.min(buf.len() as u64)).unwrap_or(buf.len());
            self.inner
                .read_exact(&mut buf[..take])
                .map_err(|e| format!("the tar archive is cut short or unreadable: {e}"))?;
            self.pending -= take as u64;
            sink(&buf[..take])?;
        }
        let pad = std::mem::take(&mut self.padding);
        self.discard(pad)
    }

    /// Skips the current entry's data.
    ///
    /// # Errors
    ///
    /// A truncated archive.
    pub fn skip_data(&mut self) -> Result<(), TarError> {
        let n = std::mem::take(&mut self.pending) + std::mem::take(&mut self.padding);
        self.discard(n)
    }
}

/// `"<len> <key>=<value>\n"` records of a pax header.
fn pax_records(mut data: &[u8]) -> Result<Vec<(String, String)>, TarError> {
    let bad = || "a pax header record is malformed".to_owned();
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let key = utf8(&record[..eq]).map_err(|_| bad())?;
        let value = utf8(&record[eq + 1..]).map_err(|_| bad())?;
        out.push((key, value));
        data = &data[len..];
    }
    Ok(out)
}

/// Test and fuzz helper: a ustar header block for `path` (≤ 100 bytes) of `flag` and `size`.
pub fn ustar_header(path: &str, flag: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let name = path.as_bytes();
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size_text = format!("{size:011o}");
    h[124..135].copy_from_slice(&size_text.as_bytes()[size_text.len() - 11..]);
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, flag, data) in entries {
            out.extend_from_slice(&ustar_header(p, *flag, data.len() as u64));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; BLOCK * 2]);
        out
    }

    #[test]
    fn files_and_directories_read_back() {
        let a = archive(&[("git/", b'5', b""), ("git/HEAD", b'0', b"ref: x\n")]);
        let mut r = TarReader::new(a.as_slice());
        let d = r.next_entry().unwrap().unwrap();
        assert_eq!((d.path.as_str(), d.kind), ("git", Kind::Dir));
        let f = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (f.path.as_str(), f.kind, f.size),
            ("git/HEAD", Kind::File, 7)
        );
        let mut got = Vec::new();
        r.read_data(|b| {
            got.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, b"ref: x\n");
        assert_eq!(r.next_entry().unwrap(), None);
    }

    #[test]
    fn links_and_devices_are_refused() {
        for flag in [b'1', b'2', b'3', b'4', b'6', b'S'] {
            let a = archive(&[("x", flag, b"")]);
            let e = TarReader::new(a.as_slice()).next_entry().unwrap_err();
            assert!(e.contains("bundles hold only"), "{e}");
        }
    }

    #[test]
    fn a_bad_checksum_and_a_cut_archive_are_refused() {
        let mut a = archive(&[("ledger/x", b'0', b"abc")]);
        a[0] = b'm';
        assert!(TarReader::new(a.as_slice()).next_entry().is_err());
        let a = archive(&[("ledger/x", b'0', &[7u8; 1000])]);
        let mut r = TarReader::new(&a[..BLOCK + 100]);
        r.next_entry().unwrap().unwrap();
        assert!(r.read_data(|_| Ok(())).is_err());
    }

    #[test]
    fn pax_and_gnu_long_names_apply_to_the_next_entry() {
        let long = format!(
            "lake/{}/_delta_log/00000000000000000000.json",
            "p".repeat(120)
        );
        let record = format!("path={long}\n");
        let mut len = record.len() + 4;
        if format!("{len} {record}").len() != len {
            len += 1;
        }
        let pax = format!("{len} {record}");
        let a = archive(&[("pax", b'x', pax.as_bytes()), ("short", b'0', b"z")]);
        let e = TarReader::new(a.as_slice()).next_entry().unwrap().unwrap();
        assert_eq!(e.path, long);
        let a = archive(&[
            ("././@LongLink", b'L', long.as_bytes()),
            ("short", b'0', b"z"),
        ]);
        let e = TarReader::new(a.as_slice()).next_entry().unwrap().unwrap();
        assert_eq!(e.path, long);
    }
}
