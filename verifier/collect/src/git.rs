//! The commits the selected runs reference, copied from `--repo` into `git/`: a bare repository
//! holding each commit with its tree and blobs (one pack), and one ref per commit,
//! `refs/tags/rocky-verify/<sha>` (spec/bundle.md section 4). No transport and no hook is used:
//! objects are packed from the source's object database and indexed into the new one.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use chrono::Utc;
use git2::{Oid, Repository, RepositoryInitOptions, RepositoryOpenFlags};

use crate::error::CollectError;
use crate::manifest::FileEntry;
use crate::out::OutDir;

/// What was collected.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every file of `git/`, for the manifest.
    pub entries: Vec<FileEntry>,
    /// Commits written (full hex).
    pub commits: Vec<String>,
    /// Recorded commits the repository does not hold (hex as recorded, and why).
    pub absent: Vec<(String, String)>,
}

/// Copies `commits` from the repository at `repo` into `git/` of the bundle.
///
/// # Errors
///
/// [`CollectError::Git`] when the repository cannot be opened or the copy fails.
pub fn collect(
    repo: &Path,
    commits: &BTreeSet<String>,
    out: &mut OutDir,
) -> Result<Collected, CollectError> {
    let err = |e: git2::Error| CollectError::Git {
        repo: repo.display().to_string(),
        message: e.message().to_owned(),
    };
    // Exactly this folder (no search upwards), never a repository found by accident.
    let src = Repository::open_ext(
        repo,
        RepositoryOpenFlags::NO_SEARCH,
        std::iter::empty::<&str>(),
    )
    .map_err(err)?;
    let mut c = Collected::default();
    let mut oids: Vec<Oid> = Vec::new();
    for hex in commits {
        // Only hex: a recorded "commit" must not be a revision expression (`HEAD~1`, a branch).
        if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.absent
                .push((hex.clone(), "not a hexadecimal commit id".into()));
            continue;
        }
        match src.revparse_single(hex).and_then(|o| o.peel_to_commit()) {
            Ok(commit) => oids.push(commit.id()),
            Err(e) => c.absent.push((hex.clone(), e.message().to_owned())),
        }
    }
    oids.sort();
    oids.dedup();
    if oids.is_empty() {
        // No commit to hold: no git/ at all (a repository without refs would say nothing).
        return Ok(c);
    }

    let dest = out.reserve("git/HEAD")?;
    let git_dir = dest.parent().map(Path::to_owned).unwrap_or_default();
    let mut opts = RepositoryInitOptions::new();
    opts.bare(true).no_reinit(true).external_template(false);
    let dst = Repository::init_opts(&git_dir, &opts).map_err(err)?;
    {
        let mut pb = src.packbuilder().map_err(err)?;
        for oid in &oids {
            pb.insert_commit(*oid).map_err(err)?;
        }
        let mut buf = git2::Buf::new();
        pb.write_buf(&mut buf).map_err(err)?;
        let odb = dst.odb().map_err(err)?;
        let mut w = odb.packwriter().map_err(err)?;
        w.write_all(&buf).map_err(|e| CollectError::Git {
            repo: repo.display().to_string(),
            message: e.to_string(),
        })?;
        w.commit().map_err(err)?;
    }
    for oid in &oids {
        dst.reference(
            &format!("refs/tags/rocky-verify/{oid}"),
            *oid,
            false,
            "rocky-collect",
        )
        .map_err(err)?;
        c.commits.push(oid.to_string());
    }
    drop(dst);

    // Every file libgit2 wrote, checked against the bundle path rules and hashed.
    let mut files = Vec::new();
    walk_files(&git_dir, "git", &mut files).map_err(|e| CollectError::io(&git_dir, e))?;
    files.sort();
    for rel in files {
        // HEAD was reserved above; every other file is reserved now (path rules, case).
        if rel != "git/HEAD" {
            out.reserve(&rel)?;
        }
        let full = out.root().join(&rel);
        let bytes = std::fs::read(&full).map_err(|e| CollectError::io(&full, e))?;
        c.entries.push(FileEntry {
            path: rel,
            size: bytes.len() as u64,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            source_uri: "generated:".into(),
            fetched_at: Utc::now(),
            s3: None,
            redis_key: None,
        });
    }
    Ok(c)
}

fn walk_files(dir: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let r = format!("{rel}/{name}");
        let t = entry.file_type()?;
        if t.is_dir() {
            walk_files(&entry.path(), &r, out)?;
        } else if t.is_file() {
            out.push(r);
        } else {
            return Err(std::io::Error::other(format!(
                "{r}: not a regular file or folder"
            )));
        }
    }
    Ok(())
}
