//! The git repository a run's `git_commit` must be in (git2, read-only).
//!
//! # Side effects
//!
//! Reads the object database and refs of exactly the `--repo` path given (no search upwards, no
//! `GIT_DIR` from the environment); never writes, never fetches (git2 is built without network
//! transports).

use std::ffi::OsStr;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, RepositoryOpenFlags};

use crate::error::VerifyError;

/// A read of the repository that failed (the object database or the commit graph), as opposed
/// to an answer ("no such commit", "no such file"): the check it served becomes `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GitError {
    /// libgit2's message.
    pub message: String,
}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        GitError {
            message: e.message().to_owned(),
        }
    }
}

/// A repository opened read-only.
pub struct Repo {
    repo: Repository,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("path", &self.repo.path())
            .finish()
    }
}

/// Whether a branch contains a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchState {
    /// The branch tip is the commit or a descendant of it; holds the ref found.
    Contains(String),
    /// The branch exists but does not contain the commit; holds the ref and its tip.
    DoesNotContain(String, String),
    /// No local or remote-tracking branch of that name.
    Missing,
}

/// `true` for a full object id: 40 hex (SHA-1) or 64 hex (SHA-256), any case. `Oid::from_str`
/// accepts abbreviations (zero-padded), which must not count as naming a commit.
pub fn is_full_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Repo {
    /// Opens exactly `path`: a work tree (with `.git`) or a bare repository.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Git`] when `path` is not a repository.
    pub fn open(path: &Path) -> Result<Repo, VerifyError> {
        let repo = Repository::open_ext(
            path,
            RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&OsStr>(),
        )
        .map_err(|e| {
            VerifyError::Git(format!(
                "{} is not a git repository: {}",
                path.display(),
                e.message()
            ))
        })?;
        Ok(Repo { repo })
    }

    /// Whether the repository is bare.
    pub fn is_bare(&self) -> bool {
        self.repo.is_bare()
    }

    /// Whether the repository is a shallow clone (it has a `shallow` file: history below the
    /// grafted commits is absent, so a missing commit says nothing about the recorded one).
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// The underlying repository, for readers that walk a commit's tree
    /// ([`crate::rocky::tree::GitCommitTree`]).
    pub fn git2(&self) -> &Repository {
        &self.repo
    }

    /// `Ok(true)` if `hex` is a full id of a commit object in the repository, `Ok(false)` if it is
    /// not (not a full id, absent, or not a commit).
    ///
    /// # Errors
    ///
    /// A reason when the object database itself cannot be read.
    pub fn has_commit(&self, hex: &str) -> Result<bool, GitError> {
        if !is_full_oid(hex) {
            return Ok(false);
        }
        let oid = Oid::from_str(hex).map_err(GitError::from)?;
        match self.repo.find_object(oid, None) {
            Ok(obj) => Ok(obj.kind() == Some(ObjectType::Commit)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
            Err(e) => Err(GitError::from(e)),
        }
    }

    /// The blob at `path` in the tree of commit `hex`: `Ok(None)` if there is no such file.
    ///
    /// # Errors
    ///
    /// A reason when the commit or the object database cannot be read.
    pub fn blob_at(&self, hex: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let oid = Oid::from_str(hex).map_err(GitError::from)?;
        let commit = self.repo.find_commit(oid).map_err(GitError::from)?;
        let tree = commit.tree().map_err(GitError::from)?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(GitError::from(e)),
        };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let blob = self.repo.find_blob(entry.id()).map_err(GitError::from)?;
        Ok(Some(blob.content().to_vec()))
    }

    /// Paths of every blob in the tree of commit `hex` whose file name is one of `names`, in
    /// path order (for ledgers that record no source path: Rocky's model files may live in any
    /// folder of the project).
    ///
    /// # Errors
    ///
    /// A one-line reason when the commit or its tree cannot be read.
    pub fn files_named(&self, hex: &str, names: &[String]) -> Result<Vec<String>, GitError> {
        let oid = Oid::from_str(hex).map_err(GitError::from)?;
        let commit = self.repo.find_commit(oid).map_err(GitError::from)?;
        let tree = commit.tree().map_err(GitError::from)?;
        let mut found = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob)
                && let Ok(name) = entry.name()
                && names.iter().any(|n| n == name)
            {
                found.push(format!("{dir}{name}"));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(GitError::from)?;
        found.sort();
        Ok(found)
    }

    /// Whether branch `name` (local `refs/heads/<name>`, else a remote-tracking
    /// `refs/remotes/<remote>/<name>`) contains commit `hex`.
    ///
    /// # Errors
    ///
    /// A reason when the commit graph cannot be walked.
    pub fn branch_contains(&self, name: &str, hex: &str) -> Result<BranchState, GitError> {
        let commit = Oid::from_str(hex).map_err(GitError::from)?;
        let mut candidates = vec![format!("refs/heads/{name}")];
        if let Ok(remotes) = self.repo.remotes() {
            for remote in remotes.iter().flatten().flatten() {
                candidates.push(format!("refs/remotes/{remote}/{name}"));
            }
        }
        let mut first_miss = None;
        for refname in candidates {
            let Ok(reference) = self.repo.find_reference(&refname) else {
                continue;
            };
            let Ok(tip) = reference.peel_to_commit() else {
                continue;
            };
            let tip = tip.id();
            let contains = tip == commit
                || self
                    .repo
                    .graph_descendant_of(tip, commit)
                    .map_err(GitError::from)?;
            if contains {
                return Ok(BranchState::Contains(refname));
            }
            first_miss.get_or_insert((refname, tip.to_string()));
        }
        Ok(match first_miss {
            Some((r, tip)) => BranchState::DoesNotContain(r, tip),
            None => BranchState::Missing,
        })
    }
}

impl Repo {
    /// What git shows of commit `hex`: author, author date (UTC) and the message's first line,
    /// for the report's summary. Names that are not UTF-8 are shown lossily: they are displayed,
    /// never compared.
    ///
    /// # Errors
    ///
    /// A reason when the commit cannot be read.
    pub fn commit_info(&self, hex: &str) -> Result<crate::report::CommitInfo, GitError> {
        let oid = Oid::from_str(hex).map_err(GitError::from)?;
        let commit = self.repo.find_commit(oid).map_err(GitError::from)?;
        let author = commit.author();
        let when = author.when();
        let date = chrono::DateTime::from_timestamp(when.seconds(), 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let subject = String::from_utf8_lossy(commit.message_bytes())
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        Ok(crate::report::CommitInfo {
            id: commit.id().to_string(),
            author: String::from_utf8_lossy(author.name_bytes()).into_owned(),
            email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
            date,
            subject,
            signature: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviated_ids_are_not_commit_ids() {
        assert!(is_full_oid(&"a".repeat(40)));
        assert!(!is_full_oid("abc123"));
        assert!(!is_full_oid(&"g".repeat(40)));
    }
}
