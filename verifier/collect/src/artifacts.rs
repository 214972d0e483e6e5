//! The artifacts the selected runs name and their tables' Delta logs, read from a local folder or
//! from S3 with bounded parallel transfers, hashed on the fly into `artifacts/<blake3>.parquet`
//! and `lake/<key_prefix>/_delta_log/<v:020>.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;

use crate::error::CollectError;
use crate::manifest::{FileEntry, S3Facts, file_uri};
use crate::out::OutDir;
use crate::s3::{Bucket, Fetched, Listed};
use crate::scope::Scope;

/// Where the artifacts are.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local folder: `<DIR>/<file_path>`, else `<DIR>/<blake3>.parquet`; Delta logs at
    /// `<DIR>/<key_prefix>/_delta_log/`.
    Local(PathBuf),
    /// A bucket, and an optional prefix the ledger's bucket-relative keys are under.
    S3 {
        /// The bucket.
        bucket: Bucket,
        /// Prepended to a key that does not already start with it (`""`: keys as recorded).
        prefix: String,
    },
}

/// Test hook: after the listing, wait (at most 60 s) until this file exists, so a test can change
/// an object between the listing and the read deterministically. Read-only: nothing is written.
pub const HOLD_ENV: &str = "ROCKY_COLLECT_HOLD_AFTER_LISTING";

/// A Delta log commit file name: 20 digits and `.json`.
fn is_commit_name(name: &str) -> bool {
    name.len() == 25 && name.ends_with(".json") && name[..20].bytes().all(|b| b.is_ascii_digit())
}

/// One transfer: from a key (or local path) to a bundle path.
#[derive(Debug, Clone)]
struct Job {
    /// The source key or path.
    from: String,
    /// The bundle path, or `None` for an artifact named by its hash once read.
    to: Option<String>,
}

/// What the collection gathered.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Manifest entries.
    pub entries: Vec<FileEntry>,
    /// Artifacts whose bytes do not hash to the recorded `blake3_hash` (recorded, file_path,
    /// actual): kept under their actual hash for the verifier to judge.
    pub mismatched: Vec<(String, String, String)>,
}

fn s3_key(prefix: &str, file_path: &str) -> String {
    let key = match file_path.strip_prefix("s3://") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, k)| k),
        None => file_path,
    };
    let key = key.trim_start_matches('/');
    if prefix.is_empty() || key.starts_with(&format!("{prefix}/")) {
        key.to_owned()
    } else {
        format!("{prefix}/{key}")
    }
}

/// Gathers the artifacts and Delta logs of `scope` from `source`, at most `parallel` transfers
/// at a time.
///
/// # Errors
///
/// [`CollectError::ArtifactMissing`], [`CollectError::ObjectChanged`], and transport or I/O
/// errors.
pub async fn gather(
    scope: &Scope,
    source: &Source,
    parallel: usize,
    out: &mut OutDir,
) -> Result<Gathered, CollectError> {
    match source {
        Source::Local(dir) => gather_local(scope, dir, out),
        Source::S3 { bucket, prefix } => gather_s3(scope, bucket, prefix, parallel, out).await,
    }
}

/// Streams `reader` into the new file `dest`, hashing it.
fn copy_hashing(mut reader: impl Read, dest: &Path) -> Result<(u64, String), CollectError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| CollectError::io(dest, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CollectError::io(dest, e)),
        };
        hasher.update(&buf[..n]);
        w.write_all(&buf[..n])
            .map_err(|e| CollectError::io(dest, e))?;
        size += n as u64;
    }
    w.flush().map_err(|e| CollectError::io(dest, e))?;
    Ok((size, hasher.finalize().to_hex().to_string()))
}

/// A temporary bundle path for an artifact whose hash is not known yet.
fn temp_name(i: usize) -> String {
    format!("artifacts/incoming-{i}.partial")
}

/// Renames a fetched artifact to `artifacts/<blake3>.parquet` (or drops it when an identical
/// file is already there) and returns its bundle path, or `None` when it was a duplicate.
fn settle(
    out: &mut OutDir,
    temp_rel: &str,
    hash: &str,
    seen: &mut BTreeSet<String>,
) -> Result<Option<String>, CollectError> {
    let temp = out.root().join(temp_rel);
    out.release(temp_rel);
    if !seen.insert(hash.to_owned()) {
        std::fs::remove_file(&temp).map_err(|e| CollectError::io(&temp, e))?;
        return Ok(None);
    }
    let rel = format!("artifacts/{hash}.parquet");
    let dest = out.reserve(&rel)?;
    std::fs::rename(&temp, &dest).map_err(|e| CollectError::io(&dest, e))?;
    Ok(Some(rel))
}

fn gather_local(scope: &Scope, dir: &Path, out: &mut OutDir) -> Result<Gathered, CollectError> {
    let mut g = Gathered::default();
    let mut seen = BTreeSet::new();
    let mut done_sources = BTreeSet::new();
    for (i, row) in scope.artifacts.iter().enumerate() {
        let r = &row.record;
        let mut candidates = Vec::new();
        if rocky_verify::evidence::artifact::unsafe_path_reason(&r.file_path).is_none()
            && !r.file_path.contains("://")
        {
            candidates.push(dir.join(&r.file_path));
        }
        if rocky_verify::evidence::artifact::locate(dir, &r.blake3_hash).is_some() {
            candidates.push(dir.join(format!("{}.parquet", r.blake3_hash)));
        }
        let Some((path, file)) = candidates.iter().find_map(|p| {
            rocky_verify::evidence::regular_file::open(p)
                .ok()
                .map(|f| (p.clone(), f))
        }) else {
            return Err(CollectError::ArtifactMissing {
                run_id: r.run_id.clone(),
                file_path: r.file_path.clone(),
                looked: dir.display().to_string(),
            });
        };
        if !done_sources.insert(path.clone()) {
            continue;
        }
        let temp_rel = temp_name(i);
        let temp = out.reserve(&temp_rel)?;
        let (size, hash) = copy_hashing(file, &temp)?;
        if hash != r.blake3_hash {
            g.mismatched
                .push((r.blake3_hash.clone(), r.file_path.clone(), hash.clone()));
        }
        if let Some(rel) = settle(out, &temp_rel, &hash, &mut seen)? {
            g.entries.push(FileEntry {
                path: rel,
                size,
                blake3: hash,
                source_uri: file_uri(&path),
                fetched_at: Utc::now(),
                s3: None,
                redis_key: None,
            });
        }
    }
    for prefix in &scope.table_prefixes {
        let log = dir.join(prefix).join("_delta_log");
        let Ok(read) = std::fs::read_dir(&log) else {
            continue;
        };
        let mut names: Vec<String> = read
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| is_commit_name(n))
            .collect();
        names.sort();
        for name in names {
            let path = log.join(&name);
            let file = rocky_verify::evidence::regular_file::open(&path)
                .map_err(|e| CollectError::io(&path, e.into_io()))?;
            let rel = format!("lake/{prefix}/_delta_log/{name}");
            let dest = out.reserve(&rel)?;
            let (size, hash) = copy_hashing(file, &dest)?;
            g.entries.push(FileEntry {
                path: rel,
                size,
                blake3: hash,
                source_uri: file_uri(&path),
                fetched_at: Utc::now(),
                s3: None,
                redis_key: None,
            });
        }
    }
    Ok(g)
}

/// Lists `prefixes` (each once; one under another is covered by it).
async fn list_all(
    bucket: &Bucket,
    prefixes: &BTreeSet<String>,
) -> Result<BTreeMap<String, Listed>, CollectError> {
    let mut roots: Vec<&String> = Vec::new();
    for p in prefixes {
        if !roots
            .iter()
            .any(|r| p == *r || p.starts_with(&format!("{r}/")))
        {
            roots.push(p);
        }
    }
    let mut listed = BTreeMap::new();
    for root in roots {
        for item in bucket.list(root).await? {
            listed.insert(item.key.clone(), item);
        }
    }
    Ok(listed)
}

async fn gather_s3(
    scope: &Scope,
    bucket: &Bucket,
    prefix: &str,
    parallel: usize,
    out: &mut OutDir,
) -> Result<Gathered, CollectError> {
    // 1. The keys: each artifact's, and each table folder.
    let mut jobs: Vec<(Job, Option<&rocky_verify::model::records::ArtifactRecord>)> = Vec::new();
    let mut wanted = BTreeSet::new();
    let mut folders = BTreeSet::new();
    for row in &scope.artifacts {
        let key = s3_key(prefix, &row.record.file_path);
        if let Some((folder, _)) = key.rsplit_once('/') {
            folders.insert(folder.to_owned());
        } else {
            folders.insert(String::new());
        }
        if wanted.insert(key.clone()) {
            jobs.push((
                Job {
                    from: key,
                    to: None,
                },
                Some(&row.record),
            ));
        }
    }
    let table_folders: BTreeSet<String> = scope
        .table_prefixes
        .iter()
        .map(|p| (p.clone(), s3_key(prefix, p)))
        .map(|(_, k)| k)
        .collect();
    folders.extend(table_folders.iter().cloned());

    // 2. One listing: the ETag each read must still match.
    let listed = list_all(bucket, &folders).await?;
    for (p, folder) in scope.table_prefixes.iter().map(|p| (p, s3_key(prefix, p))) {
        let log = format!("{folder}/_delta_log/");
        for key in listed.range(log.clone()..).map(|(k, _)| k) {
            let Some(name) = key.strip_prefix(&log) else {
                break;
            };
            if is_commit_name(name) {
                jobs.push((
                    Job {
                        from: key.clone(),
                        to: Some(format!("lake/{p}/_delta_log/{name}")),
                    },
                    None,
                ));
            }
        }
    }
    for (job, record) in &jobs {
        if let Some(r) = record
            && !listed.contains_key(&job.from)
        {
            return Err(CollectError::ArtifactMissing {
                run_id: r.run_id.clone(),
                file_path: r.file_path.clone(),
                looked: bucket.uri(&job.from),
            });
        }
    }
    eprintln!(
        "rocky-collect: listed {} object(s); fetching {}",
        listed.len(),
        jobs.len()
    );
    if let Some(path) = std::env::var_os(HOLD_ENV) {
        let path = PathBuf::from(path);
        for _ in 0..1200 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // 3. Bounded parallel reads, each into its own new file.
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut targets = Vec::new();
    for (i, (job, record)) in jobs.iter().enumerate() {
        let rel = job.to.clone().unwrap_or_else(|| temp_name(i));
        let dest = out.reserve(&rel)?;
        targets.push((
            rel,
            record.map(|r| (r.blake3_hash.clone(), r.file_path.clone())),
        ));
        let what = listed[&job.from].clone();
        let bucket = bucket.clone();
        let sem = Arc::clone(&sem);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, bucket.fetch_to(&what, &dest).await)
        });
    }
    let mut results: Vec<Option<Fetched>> = vec![None; jobs.len()];
    let mut first_err = None;
    while let Some(done) = set.join_next().await {
        match done {
            Ok((i, Ok(f))) => results[i] = Some(f),
            Ok((_, Err(e))) => {
                if first_err.is_none() {
                    first_err = Some(e);
                    // One failure fails the bundle: stop the rest now.
                    set.abort_all();
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                first_err.get_or_insert(CollectError::S3 {
                    uri: bucket.uri(""),
                    message: format!("a transfer task failed: {e}"),
                });
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }

    // 4. Name artifacts by their hash; record everything.
    let mut g = Gathered::default();
    let mut seen = BTreeSet::new();
    for ((rel, recorded), fetched) in targets.into_iter().zip(results) {
        let Some(f) = fetched else {
            continue;
        };
        let path = match &recorded {
            Some((want, file_path)) => {
                if *want != f.blake3 {
                    g.mismatched
                        .push((want.clone(), file_path.clone(), f.blake3.clone()));
                }
                match settle(out, &rel, &f.blake3, &mut seen)? {
                    Some(p) => p,
                    None => continue,
                }
            }
            None => rel,
        };
        g.entries.push(FileEntry {
            path,
            size: f.listed.size,
            blake3: f.blake3,
            source_uri: bucket.uri(&f.listed.key),
            fetched_at: f.fetched_at,
            s3: Some(S3Facts {
                e_tag: f.listed.e_tag,
                version_id: f.listed.version,
                last_modified: f.listed.last_modified,
            }),
            redis_key: None,
        });
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_with_or_without_a_prefix() {
        assert_eq!(s3_key("", "tgt/raw/ab.parquet"), "tgt/raw/ab.parquet");
        assert_eq!(s3_key("", "s3://b/tgt/ab.parquet"), "tgt/ab.parquet");
        assert_eq!(s3_key("mnt", "tgt/ab.parquet"), "mnt/tgt/ab.parquet");
        assert_eq!(s3_key("tgt", "tgt/ab.parquet"), "tgt/ab.parquet");
    }

    #[test]
    fn commit_names() {
        assert!(is_commit_name("00000000000000000003.json"));
        assert!(!is_commit_name("_last_checkpoint"));
        assert!(!is_commit_name("00000000000000000003.checkpoint.parquet"));
    }
}
