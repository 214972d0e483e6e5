//! The bundle being written: a folder created fresh for `--out` (or, for `--out X.tar`, a private
//! staging folder that is archived into the tar at the end). Every path inside is checked against
//! spec/bundle.md section 5.1 before anything is created, files are created new (never opened if
//! they exist), and nothing is written anywhere else.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CollectError;

/// Top-level folders a bundle may hold (spec/bundle.md section 1).
pub const TOP_LEVEL: &[&str] = &["ledger", "artifacts", "lake", "git", "warehouse"];

/// Why `path` breaks a bundle path rule, if it does (spec/bundle.md section 5.1).
pub fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.len() > 1024 {
        return Some("is empty or longer than 1024 bytes");
    }
    if path.starts_with('/') || path.ends_with('/') {
        return Some("starts or ends with '/'");
    }
    if path
        .chars()
        .any(|c| c == '\\' || (c as u32) < 0x20 || c == '\u{7f}')
    {
        return Some("contains a backslash, a NUL or a control character");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 32 {
        return Some("is deeper than 32 components");
    }
    if parts
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == ".." || c.len() > 255)
    {
        return Some("has an empty, '.', '..' or over-long component");
    }
    if !TOP_LEVEL.contains(&parts[0]) || parts.len() < 2 {
        return Some("is not under ledger/, artifacts/, lake/, git/ or warehouse/");
    }
    None
}

/// Where the bundle ends up.
#[derive(Debug)]
enum Target {
    Dir,
    /// The staging folder, held so that it is removed when the bundle is dropped.
    Tar(#[allow(dead_code)] tempfile::TempDir),
}

/// The bundle being written.
#[derive(Debug)]
pub struct OutDir {
    /// `--out` as given.
    out: PathBuf,
    /// The folder the files go to (`out` itself, or the tar's staging folder).
    root: PathBuf,
    target: Target,
    /// Lower-cased path to path, to refuse two paths that differ only in case.
    folded: BTreeMap<String, String>,
    done: bool,
}

impl OutDir {
    /// Creates the output. `--out` must not exist; a name ending in `.tar` makes a tar.
    ///
    /// # Errors
    ///
    /// [`CollectError::Out`] when it exists or its parent folder does not.
    pub fn create(out: &Path) -> Result<OutDir, CollectError> {
        let bad = |reason: String| CollectError::Out {
            path: out.to_owned(),
            reason,
        };
        if fs::symlink_metadata(out).is_ok() {
            return Err(bad(
                "already exists; a bundle is never written over anything".into(),
            ));
        }
        let is_tar = out.extension().is_some_and(|e| e == "tar");
        if is_tar {
            // The tar is written at the end in one go; the files wait in a private folder
            // (mode 0700, removed when done).
            let staging = tempfile::Builder::new()
                .prefix("rocky-collect-")
                .tempdir()
                .map_err(|e| bad(format!("cannot create a staging folder: {e}")))?;
            // Claim the name now (empty, created new), so a second collector cannot race us.
            File::options()
                .write(true)
                .create_new(true)
                .open(out)
                .map_err(|e| bad(e.to_string()))?;
            Ok(OutDir {
                out: out.to_owned(),
                root: staging.path().to_owned(),
                target: Target::Tar(staging),
                folded: BTreeMap::new(),
                done: false,
            })
        } else {
            fs::create_dir(out).map_err(|e| bad(e.to_string()))?;
            Ok(OutDir {
                out: out.to_owned(),
                root: out.to_owned(),
                target: Target::Dir,
                folded: BTreeMap::new(),
                done: false,
            })
        }
    }

    /// Reserves the bundle path `rel` and returns where to write it (its folders created).
    ///
    /// # Errors
    ///
    /// [`CollectError::Out`] when `rel` breaks a path rule or collides (also by case) with a
    /// path already reserved.
    pub fn reserve(&mut self, rel: &str) -> Result<PathBuf, CollectError> {
        if let Some(why) = path_problem(rel) {
            return Err(CollectError::Out {
                path: self.out.clone(),
                reason: format!("bundle path {rel:?} {why}"),
            });
        }
        let folded = rel.to_ascii_lowercase();
        if let Some(prev) = self.folded.get(&folded) {
            return Err(CollectError::Out {
                path: self.out.clone(),
                reason: format!("bundle path {rel:?} collides with {prev:?}"),
            });
        }
        self.folded.insert(folded, rel.to_owned());
        let full = self.root.join(rel);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(|e| CollectError::io(parent, e))?;
        }
        Ok(full)
    }

    /// Forgets a reservation (a temporary name that was renamed away).
    pub fn release(&mut self, rel: &str) {
        self.folded.remove(&rel.to_ascii_lowercase());
    }

    /// The folder the files are written to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the new file `rel` with `bytes`.
    ///
    /// # Errors
    ///
    /// As [`OutDir::reserve`], or [`CollectError::Io`].
    pub fn write_new(&mut self, rel: &str, bytes: &[u8]) -> Result<PathBuf, CollectError> {
        let full = self.reserve(rel)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&full)
            .map_err(|e| CollectError::io(&full, e))?;
        f.write_all(bytes).map_err(|e| CollectError::io(&full, e))?;
        Ok(full)
    }

    /// Writes `manifest.json` last and, for a tar, archives the folder (`manifest.json` first,
    /// then every folder and file in path order, with fixed owners, modes and times so that the
    /// same bundle gives the same tar bytes).
    ///
    /// # Errors
    ///
    /// [`CollectError::Io`].
    pub fn finish(mut self, manifest: &[u8]) -> Result<(), CollectError> {
        let mpath = self.root.join("manifest.json");
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&mpath)
            .map_err(|e| CollectError::io(&mpath, e))?;
        f.write_all(manifest)
            .and_then(|()| f.sync_all())
            .map_err(|e| CollectError::io(&mpath, e))?;
        if let Target::Tar(_) = &self.target {
            self.write_tar()?;
        }
        self.done = true;
        Ok(())
    }

    fn write_tar(&self) -> Result<(), CollectError> {
        let io = |p: &Path, e| CollectError::io(p, e);
        let file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.out)
            .map_err(|e| io(&self.out, e))?;
        let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, file));
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        let mut entries: Vec<(String, bool)> = Vec::new();
        walk(&self.root, "", &mut entries).map_err(|e| io(&self.root, e))?;
        entries.sort();
        let append = |builder: &mut tar::Builder<_>, rel: &str, dir: bool| {
            let full = self.root.join(rel);
            let mut header = tar::Header::new_ustar();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            if dir {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, rel, std::io::empty())
            } else {
                let f = File::open(&full)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(f.metadata()?.len());
                builder.append_data(&mut header, rel, f)
            }
        };
        append(&mut builder, "manifest.json", false).map_err(|e| io(&self.out, e))?;
        for (rel, dir) in &entries {
            if rel != "manifest.json" {
                append(&mut builder, rel, *dir).map_err(|e| io(&self.out, e))?;
            }
        }
        let mut w = builder.into_inner().map_err(|e| io(&self.out, e))?;
        w.flush().map_err(|e| io(&self.out, e))?;
        w.get_ref().sync_all().map_err(|e| io(&self.out, e))?;
        Ok(())
    }
}

/// Every entry under `dir` as (relative path, is a folder); symbolic links are never followed
/// (there are none: the collector creates only files and folders).
fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, bool)>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            out.push((r.clone(), true));
            walk(&entry.path(), &r, out)?;
        } else if kind.is_file() {
            out.push((r, false));
        }
    }
    Ok(())
}

impl Drop for OutDir {
    /// An unfinished bundle is removed: it was created fresh by this process, and half a bundle
    /// (no manifest) is of no use to anyone.
    fn drop(&mut self) {
        if !self.done {
            match &self.target {
                Target::Dir => {
                    let _ = fs::remove_dir_all(&self.root);
                }
                Target::Tar(_) => {
                    let _ = fs::remove_file(&self.out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert!(path_problem("artifacts/ab.parquet").is_none());
        assert!(path_problem("lake/a/b/_delta_log/00000000000000000000.json").is_none());
        for bad in [
            "",
            "/ledger/x",
            "ledger/",
            "ledger//x",
            "ledger/../x",
            "ledger/./x",
            "other/x",
            "ledger",
            "ledger/a\\b",
            "ledger/a\nb",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn reserve_refuses_case_collisions_and_existing_out() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let mut o = OutDir::create(&out).unwrap();
        o.reserve("artifacts/A.parquet").unwrap();
        assert!(o.reserve("artifacts/a.parquet").is_err());
        assert!(o.reserve("../x").is_err());
        assert!(OutDir::create(&out).is_err());
        drop(o);
        // Unfinished: removed.
        assert!(!out.exists());
    }
}
