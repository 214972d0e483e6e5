//! Read-only access to a project's files: a git commit's tree or an in-memory map.
//!
//! Paths are relative to the tree's root, `/`-separated, without a leading `/`; `""` is the root.

use std::collections::{BTreeMap, BTreeSet};

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed here).
    Symlink,
    /// Anything else (a submodule).
    Other,
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name (one path component).
    pub name: String,
    /// Its kind.
    pub kind: EntryKind,
}

/// A tree could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The object database failed.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A name that is not UTF-8.
    #[error("{path}: a file name that is not UTF-8")]
    NonUtf8Name {
        /// The directory holding it.
        path: String,
    },
}

/// A read-only project tree.
pub trait ProjectTree {
    /// The bytes of the file at `path`; `Ok(None)` when there is no file there.
    ///
    /// # Errors
    ///
    /// [`TreeError`] when the tree cannot be read.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError>;

    /// The entries of the directory at `path`, sorted by name bytes; `Ok(None)` when there is no
    /// directory there.
    ///
    /// # Errors
    ///
    /// [`TreeError`] when the tree cannot be read.
    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError>;
}

/// `a/b` joined with `c` (either may be empty).
pub fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{name}"),
    }
}

/// Files in memory, keyed by path; directories are implied by the paths.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into());
    }
}

impl<P: Into<String>, B: Into<Vec<u8>>> FromIterator<(P, B)> for MemoryTree {
    fn from_iter<I: IntoIterator<Item = (P, B)>>(iter: I) -> Self {
        let mut t = MemoryTree::new();
        for (p, b) in iter {
            t.insert(p, b);
        }
        t
    }
}

impl ProjectTree for MemoryTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(self.files.get(path).cloned())
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        for p in self.files.keys() {
            let Some(rest) = p.strip_prefix(&prefix) else {
                continue;
            };
            match rest.split_once('/') {
                Some((d, _)) => {
                    dirs.insert(d.to_owned());
                }
                None => {
                    files.insert(rest.to_owned());
                }
            }
        }
        if files.is_empty() && dirs.is_empty() {
            return Ok(if path.is_empty() {
                Some(Vec::new())
            } else {
                None
            });
        }
        let mut entries: Vec<DirEntry> = files
            .into_iter()
            .map(|name| DirEntry {
                name,
                kind: EntryKind::File,
            })
            .chain(dirs.into_iter().map(|name| DirEntry {
                name,
                kind: EntryKind::Dir,
            }))
            .collect();
        entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(Some(entries))
    }
}

/// The tree of one commit in a git repository (git2, read-only).
pub struct GitCommitTree<'r> {
    repo: &'r git2::Repository,
    tree: git2::Tree<'r>,
}

impl std::fmt::Debug for GitCommitTree<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCommitTree")
            .field("tree", &self.tree.id())
            .finish()
    }
}

fn git_err(path: &str, e: &git2::Error) -> TreeError {
    TreeError::Unreadable {
        path: path.to_owned(),
        reason: e.message().to_owned(),
    }
}

impl<'r> GitCommitTree<'r> {
    /// The tree of commit `commit_hex` (a full object id).
    ///
    /// # Errors
    ///
    /// [`TreeError::Unreadable`] when the id is malformed or the commit or its tree is absent.
    pub fn new(repo: &'r git2::Repository, commit_hex: &str) -> Result<Self, TreeError> {
        let oid = git2::Oid::from_str(commit_hex).map_err(|e| git_err(commit_hex, &e))?;
        let commit = repo.find_commit(oid).map_err(|e| git_err(commit_hex, &e))?;
        let tree = commit.tree().map_err(|e| git_err(commit_hex, &e))?;
        Ok(GitCommitTree { repo, tree })
    }

    fn entry(&self, path: &str) -> Result<Option<git2::TreeEntry<'static>>, TreeError> {
        if path.is_empty() {
            return Ok(None);
        }
        match self.tree.get_path(std::path::Path::new(path)) {
            Ok(e) => Ok(Some(e.to_owned())),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git_err(path, &e)),
        }
    }
}

impl ProjectTree for GitCommitTree<'_> {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let Some(entry) = self.entry(path)? else {
            return Ok(None);
        };
        if entry.kind() != Some(git2::ObjectType::Blob) || entry.filemode() == 0o120000 {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|e| git_err(path, &e))?;
        Ok(Some(blob.content().to_vec()))
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<DirEntry>>, TreeError> {
        let sub;
        let tree = if path.is_empty() {
            &self.tree
        } else {
            let Some(entry) = self.entry(path)? else {
                return Ok(None);
            };
            if entry.kind() != Some(git2::ObjectType::Tree) {
                return Ok(None);
            }
            sub = self
                .repo
                .find_tree(entry.id())
                .map_err(|e| git_err(path, &e))?;
            &sub
        };
        let mut out = Vec::with_capacity(tree.len());
        for e in tree.iter() {
            let name = e
                .name()
                .map_err(|_| TreeError::NonUtf8Name {
                    path: path.to_owned(),
                })?
                .to_owned();
            let kind = match (e.kind(), e.filemode()) {
                (_, 0o120000) => EntryKind::Symlink,
                (Some(git2::ObjectType::Blob), _) => EntryKind::File,
                (Some(git2::ObjectType::Tree), _) => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            out.push(DirEntry { name, kind });
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_tree_lists_files_and_implied_dirs_in_byte_order() {
        let t: MemoryTree = [("m/b.sql", "x"), ("m/a/c.sql", "y"), ("m/B.toml", "z")]
            .into_iter()
            .collect();
        let names: Vec<(String, EntryKind)> = t
            .list_dir("m")
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        assert_eq!(
            names,
            vec![
                ("B.toml".into(), EntryKind::File),
                ("a".into(), EntryKind::Dir),
                ("b.sql".into(), EntryKind::File)
            ]
        );
        assert_eq!(t.list_dir("nope").unwrap(), None);
        assert_eq!(t.read("m/b.sql").unwrap(), Some(b"x".to_vec()));
        assert_eq!(t.read("m/a").unwrap(), None);
    }
}
