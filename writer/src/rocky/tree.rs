//! An in-memory file tree: what a Rocky project holds at one commit, as repository paths to
//! bytes. rocky-writer reads no git; an engine fills this from its checkout or object store.

use std::collections::BTreeMap;

use crate::error::ProjectError;
use crate::rocky::ProjectErrorReason;

/// One entry of a [`FileTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntry {
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A symbolic link. Rocky follows links; a tree cannot, so a link inside the walked models
    /// tree is reported (`symlink_in_tree`) rather than guessed at.
    Symlink,
}

/// Repository-relative paths (`/`-separated, no `.`/`..`/empty components) to entries.
/// Directories are implied by the paths under them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTree {
    entries: BTreeMap<String, TreeEntry>,
}

/// The children of one directory, each list in ascending byte order.
#[derive(Debug, Default)]
pub(crate) struct DirListing {
    pub(crate) files: Vec<String>,
    pub(crate) dirs: Vec<String>,
    pub(crate) symlinks: Vec<String>,
}

fn bad_path(path: &str, why: &str) -> ProjectError {
    ProjectError {
        reason: ProjectErrorReason::TreeUnreadable,
        path: path.to_owned(),
        detail: format!("not a clean repository-relative path: {why}"),
    }
}

/// Joins a directory (`""` = root) and a relative path.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    match (dir.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (false, true) => dir.to_owned(),
        (false, false) => format!("{dir}/{rel}"),
    }
}

impl FileTree {
    /// An empty tree.
    pub fn new() -> Self {
        FileTree::default()
    }

    /// A tree of regular files.
    pub fn from_files<P: Into<String>, B: Into<Vec<u8>>>(
        files: impl IntoIterator<Item = (P, B)>,
    ) -> Result<Self, ProjectError> {
        let mut tree = FileTree::new();
        for (p, b) in files {
            tree.insert(p.into(), TreeEntry::File(b.into()))?;
        }
        Ok(tree)
    }

    /// Adds a file or link. Refuses unclean paths and a path that is both a file and a
    /// directory (`tree_unreadable`).
    pub fn insert(&mut self, path: String, entry: TreeEntry) -> Result<(), ProjectError> {
        if path.is_empty() || path.starts_with('/') {
            return Err(bad_path(&path, "empty or absolute"));
        }
        if path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(bad_path(&path, "empty, `.` or `..` component"));
        }
        let mut prefix = String::new();
        for component in path.split('/') {
            if !prefix.is_empty() {
                if self.entries.contains_key(&prefix) {
                    return Err(bad_path(&path, "a parent is a file"));
                }
                prefix.push('/');
            }
            prefix.push_str(component);
        }
        if self.is_dir(&path) {
            return Err(bad_path(&path, "already a directory"));
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// The entry at a path.
    pub fn get(&self, path: &str) -> Option<&TreeEntry> {
        self.entries.get(path)
    }

    /// A regular file's bytes.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        match self.entries.get(path) {
            Some(TreeEntry::File(b)) => Some(b),
            _ => None,
        }
    }

    /// Whether a directory exists (has anything under it); `""` is the root.
    pub fn is_dir(&self, path: &str) -> bool {
        if path.is_empty() {
            return !self.entries.is_empty();
        }
        let prefix = format!("{path}/");
        self.entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    /// The direct children of a directory.
    pub(crate) fn list(&self, dir: &str) -> DirListing {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut listing = DirListing::default();
        for (path, entry) in self.entries.range(prefix.clone()..) {
            let Some(rest) = path.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((child, _)) => {
                    if listing.dirs.last().map(String::as_str) != Some(child) {
                        listing.dirs.push(child.to_owned());
                    }
                }
                None => match entry {
                    TreeEntry::File(_) => listing.files.push(rest.to_owned()),
                    TreeEntry::Symlink => listing.symlinks.push(rest.to_owned()),
                },
            }
        }
        // Map order is byte order of full paths, where `a/x` sorts before `a.b`; children must be
        // in byte order of their own names.
        listing.dirs.sort();
        listing.dirs.dedup();
        listing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_children_in_byte_order() {
        let t = FileTree::from_files([
            ("m/b.sql", "x"),
            ("m/a/x.sql", "x"),
            ("m/a.b/y.sql", "x"),
            ("m/A/z.sql", "x"),
            ("m/a.sql", "x"),
        ])
        .unwrap();
        let l = t.list("m");
        assert_eq!(l.files, vec!["a.sql", "b.sql"]);
        assert_eq!(l.dirs, vec!["A", "a", "a.b"]);
        assert!(t.is_dir("m/a") && !t.is_dir("m/a.sql") && !t.is_dir("m/c"));
    }

    #[test]
    fn unclean_paths_are_refused() {
        for p in ["", "/a", "a//b", "a/./b", "a/../b", "a/"] {
            assert!(FileTree::from_files([(p, "x")]).is_err(), "{p:?}");
        }
        assert!(FileTree::from_files([("a", "x"), ("a/b", "y")]).is_err());
        assert!(FileTree::from_files([("a/b", "x"), ("a", "y")]).is_err());
    }
}
