//! The commits the selected runs reference, copied from `--repo` into `git/`: a bare repository
//! holding each commit with its tree and blobs (one pack), and one ref per commit,
//! `refs/tags/rocky-verify/<sha>` (spec/bundle.md section 4). No transport and no hook is used:
//! objects are packed from the source's object database and indexed into the new one.
//!
//! The branches the runs record are copied too, as the source holds them at collection time:
//! `refs/heads/<branch>` and `refs/remotes/<remote>/<branch>` (with a `[remote]` section naming
//! the remote, no URL anyone can fetch), plus the commit objects reachable from their tips and
//! from the recorded commits (commits only, no trees): enough for the verifier to tell whether a
//! branch contains a commit, which needs the merge base of the two histories.

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
    /// Branch refs copied (full ref name, tip).
    pub branches: Vec<(String, String)>,
}

/// Copies `commits` and the refs of `branches` from the repository at `repo` into `git/` of
/// the bundle.
///
/// # Errors
///
/// [`CollectError::Git`] when the repository cannot be opened or the copy fails.
pub fn collect(
    repo: &Path,
    commits: &BTreeSet<String>,
    branches: &BTreeSet<String>,
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
        let tips = branch_tips(&src, branches);
        if !tips.is_empty() {
            // The histories the merge base walks: commit objects only (a tree is never read).
            let mut walk = src.revwalk().map_err(err)?;
            for oid in oids.iter().chain(tips.iter().map(|(_, tip)| tip)) {
                walk.push(*oid).map_err(err)?;
            }
            for oid in walk {
                pb.insert_object(oid.map_err(err)?, None).map_err(err)?;
            }
        }
        c.branches = tips
            .iter()
            .map(|(r, t)| (r.clone(), t.to_string()))
            .collect();
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
    let mut remotes = BTreeSet::new();
    for (refname, tip) in &c.branches {
        let tip = Oid::from_str(tip).map_err(err)?;
        dst.reference(refname, tip, false, "rocky-collect")
            .map_err(err)?;
        if let Some(rest) = refname.strip_prefix("refs/remotes/") {
            remotes.insert(remote_of(&src, rest));
        }
    }
    if !remotes.is_empty() {
        // The verifier looks for `refs/remotes/<remote>/<branch>` of the remotes the config
        // names; a URL is what makes git list a remote, and this one leads nowhere.
        let mut config = dst.config().map_err(err)?;
        for r in remotes.into_iter().flatten() {
            config
                .set_str(&format!("remote.{r}.url"), "rocky-collect:no-fetch")
                .map_err(err)?;
        }
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

/// The source's refs for each branch that exist and point at a commit: `refs/heads/<b>`, then
/// `refs/remotes/<remote>/<b>` for each remote the source's config names (the refs the verifier
/// looks at).
fn branch_tips(src: &Repository, branches: &BTreeSet<String>) -> Vec<(String, Oid)> {
    let remotes: Vec<String> = src
        .remotes()
        .map(|r| r.iter().flatten().flatten().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut tips = Vec::new();
    for b in branches {
        let candidates = std::iter::once(format!("refs/heads/{b}"))
            .chain(remotes.iter().map(|r| format!("refs/remotes/{r}/{b}")));
        for refname in candidates {
            // A recorded name git would not accept as a ref is skipped, never guessed at.
            if !git2::Reference::is_valid_name(&refname) {
                continue;
            }
            if let Ok(tip) = src
                .find_reference(&refname)
                .and_then(|r| r.peel_to_commit())
            {
                tips.push((refname, tip.id()));
            }
        }
    }
    tips
}

/// The remote a `refs/remotes/` ref (without that prefix) belongs to: the longest remote name of
/// the source that prefixes it (remote names may hold `/`).
fn remote_of(src: &Repository, rest: &str) -> Option<String> {
    let remotes = src.remotes().ok()?;
    remotes
        .iter()
        .flatten()
        .flatten()
        .filter(|r| rest.starts_with(&format!("{r}/")))
        .max_by_key(|r| r.len())
        .map(str::to_owned)
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
