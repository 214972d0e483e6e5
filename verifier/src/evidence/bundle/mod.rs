//! An evidence bundle (`spec/bundle.md`): a directory, or a `.tar` of one, holding
//! `manifest.json` and copies of a deployment's evidence.
//!
//! # Steps of [`Bundle::open`]
//!
//! 1. Read `manifest.json` (bounded), hash it (the bundle id), and check it ([`manifest`]).
//! 2. Directory form: walk the tree with `lstat` (never following a link), refusing links,
//!    devices and paths that break the rules ([`paths`]). Tar form: read entries one by one
//!    ([`tar`]) and unpack each listed file into a private temporary directory, hashing as it is
//!    written; nothing is ever written outside that directory.
//! 3. Compare the files with the manifest: missing, unexpected, resized and changed files are
//!    [`Finding`]s (the bundle was tampered with: the checks fail); a structure that cannot be
//!    trusted to name files at all is a [`BundleError`] (exit 2).
//!
//! # Side effects
//!
//! Reads the bundle; a `.tar` is unpacked into a fresh `rocky-verify-bundle-*` directory under
//! the system temporary directory (mode 0700), removed when the [`Bundle`] is dropped.

pub mod facts;
pub mod manifest;
pub mod paths;
pub mod tar;
pub mod tiers;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

use crate::checks::catalogue::Code;
pub use manifest::Manifest;

/// Why a bundle could not be verified at all (exit 2).
#[derive(Debug, Error, Diagnostic)]
pub enum BundleError {
    /// The manifest is absent, too large, malformed or breaks a rule.
    #[error("bundle {bundle}: {reason}")]
    #[diagnostic(
        code(rocky_verify::bundle_manifest_invalid),
        help(
            "a bundle's manifest.json must follow spec/bundle.md section 2; re-collect the bundle"
        )
    )]
    ManifestInvalid {
        /// The bundle as given.
        bundle: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry of the bundle is hostile or unreadable (a link, a bad path, a broken tar).
    #[error("bundle {bundle}: {reason}")]
    #[diagnostic(
        code(rocky_verify::bundle_entry_invalid),
        help(
            "bundles hold only regular files and folders at safe relative paths (spec/bundle.md 5.1, 5.2)"
        )
    )]
    EntryInvalid {
        /// The bundle as given.
        bundle: String,
        /// What is wrong, naming the entry.
        reason: String,
    },
}

impl BundleError {
    /// The finding code of the refusal.
    pub fn code(&self) -> Code {
        match self {
            BundleError::ManifestInvalid { .. } => Code::BundleManifestInvalid,
            BundleError::EntryInvalid { .. } => Code::BundleEntryInvalid,
        }
    }

    /// The reason, without the bundle's name.
    pub fn reason(&self) -> &str {
        match self {
            BundleError::ManifestInvalid { reason, .. }
            | BundleError::EntryInvalid { reason, .. } => reason,
        }
    }
}

/// One way the files differ from the manifest (`spec/bundle.md` 5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A listed file is absent.
    Missing {
        /// Bundle path.
        path: String,
    },
    /// A file is present that the manifest does not list.
    Unexpected {
        /// Bundle path.
        path: String,
    },
    /// A file's length differs.
    Size {
        /// Bundle path.
        path: String,
        /// Manifest size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// A file's BLAKE3 differs.
    Hash {
        /// Bundle path.
        path: String,
        /// Manifest hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
}

impl Finding {
    /// The bundle path the finding is about.
    pub fn path(&self) -> &str {
        match self {
            Finding::Missing { path }
            | Finding::Unexpected { path }
            | Finding::Size { path, .. }
            | Finding::Hash { path, .. } => path,
        }
    }
}

/// An opened bundle whose files were compared with its manifest.
#[derive(Debug)]
pub struct Bundle {
    root: PathBuf,
    /// The bundle path as given.
    pub display: String,
    /// BLAKE3 of the `manifest.json` bytes.
    pub id: String,
    /// The parsed, checked manifest.
    pub manifest: Manifest,
    /// How the files differ from the manifest (empty: intact).
    pub findings: Vec<Finding>,
    /// Whether it was a `.tar` (unpacked into a temporary directory).
    pub from_tar: bool,
    _temp: Option<tempfile::TempDir>,
}

/// Most directory entries a directory bundle may hold before the walk gives up.
const MAX_WALK: usize = manifest::MAX_FILES + 65_536;

/// Opens a regular file without following a link at its last component and without blocking.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// BLAKE3 and length of a file's bytes.
fn hash_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n: u64 = 0;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((h.finalize().to_hex().to_string(), n))
}

impl Bundle {
    /// Opens a bundle directory or `.tar` file and compares its files with its manifest.
    ///
    /// # Errors
    ///
    /// [`BundleError`] when the bundle's structure cannot be trusted (exit 2); differences
    /// between the files and the manifest are [`Bundle::findings`], not errors.
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        let display = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| BundleError::ManifestInvalid {
            bundle: display.clone(),
            reason: format!("cannot open: {e}"),
        })?;
        let bundle = if meta.is_dir() {
            Self::open_dir(path, display)?
        } else if meta.is_file() {
            Self::open_tar(path, display)?
        } else {
            return Err(BundleError::EntryInvalid {
                bundle: display,
                reason: "is neither a directory nor a regular (.tar) file".to_owned(),
            });
        };
        if let Some(reason) = git_config_problem(&bundle.root) {
            return Err(Self::entry_err(&bundle.display, reason));
        }
        Ok(bundle)
    }

    fn manifest_err(display: &str, reason: impl Into<String>) -> BundleError {
        BundleError::ManifestInvalid {
            bundle: display.to_owned(),
            reason: reason.into(),
        }
    }

    fn entry_err(display: &str, reason: impl Into<String>) -> BundleError {
        BundleError::EntryInvalid {
            bundle: display.to_owned(),
            reason: reason.into(),
        }
    }

    fn open_dir(root: &Path, display: String) -> Result<Bundle, BundleError> {
        let mpath = root.join(paths::MANIFEST);
        let lmeta = std::fs::symlink_metadata(&mpath)
            .map_err(|e| Self::manifest_err(&display, format!("manifest.json: {e}")))?;
        if !lmeta.is_file() {
            return Err(Self::entry_err(
                &display,
                "manifest.json is not a regular file (links are not followed)",
            ));
        }
        if lmeta.len() > manifest::MAX_MANIFEST_BYTES {
            return Err(Self::manifest_err(
                &display,
                format!(
                    "manifest.json is {} bytes, more than the limit of {}",
                    lmeta.len(),
                    manifest::MAX_MANIFEST_BYTES
                ),
            ));
        }
        let mut bytes = Vec::new();
        open_nofollow(&mpath)
            .and_then(|f| {
                f.take(manifest::MAX_MANIFEST_BYTES + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| Self::manifest_err(&display, format!("manifest.json: {e}")))?;
        let id = blake3::hash(&bytes).to_hex().to_string();
        let manifest = manifest::parse(&bytes).map_err(|r| Self::manifest_err(&display, r))?;
        drop(bytes);

        let present = walk(root).map_err(|r| Self::entry_err(&display, r))?;
        let mut findings = Vec::new();
        for f in &manifest.files {
            match present.get(&f.path) {
                None => findings.push(Finding::Missing {
                    path: f.path.clone(),
                }),
                Some(&size) if size != f.size => findings.push(Finding::Size {
                    path: f.path.clone(),
                    expected: f.size,
                    actual: size,
                }),
                Some(_) => {
                    let (hash, _) = open_nofollow(&root.join(&f.path))
                        .and_then(|file| hash_reader(BufReader::new(file)))
                        .map_err(|e| Self::entry_err(&display, format!("{}: {e}", f.path)))?;
                    if hash != f.blake3 {
                        findings.push(Finding::Hash {
                            path: f.path.clone(),
                            expected: f.blake3.clone(),
                            actual: hash,
                        });
                    }
                }
            }
        }
        let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        for p in present.keys() {
            if !listed.contains(p.as_str()) {
                findings.push(Finding::Unexpected { path: p.clone() });
            }
        }
        sort_findings(&mut findings);
        Ok(Bundle {
            root: root.to_owned(),
            display,
            id,
            manifest,
            findings,
            from_tar: false,
            _temp: None,
        })
    }

    fn open_tar(path: &Path, display: String) -> Result<Bundle, BundleError> {
        let file = crate::evidence::regular_file::open(path)
            .map_err(|e| Self::manifest_err(&display, e.to_string()))?;
        let mut tar = tar::TarReader::new(BufReader::with_capacity(1 << 20, file));
        let err = |r: String| Self::entry_err(&display, r);
        let mut early_dirs = Vec::new();
        // 1. The manifest, first of the file entries.
        let (manifest, id) = loop {
            let Some(e) = tar.next_entry().map_err(err)? else {
                return Err(Self::manifest_err(
                    &display,
                    "the archive has no manifest.json",
                ));
            };
            match e.kind {
                tar::Kind::Dir => {
                    if let Some(p) = paths::check_shape(&e.path) {
                        return Err(err(format!("entry {:?} {p}", e.path)));
                    }
                    early_dirs.push(e.path);
                }
                tar::Kind::File if e.path == paths::MANIFEST => {
                    if e.size > manifest::MAX_MANIFEST_BYTES {
                        return Err(Self::manifest_err(
                            &display,
                            format!(
                                "manifest.json is {} bytes, more than the limit of {}",
                                e.size,
                                manifest::MAX_MANIFEST_BYTES
                            ),
                        ));
                    }
                    let mut bytes = Vec::new();
                    tar.read_data(|b| {
                        bytes.extend_from_slice(b);
                        Ok(())
                    })
                    .map_err(err)?;
                    let id = blake3::hash(&bytes).to_hex().to_string();
                    let m = manifest::parse(&bytes).map_err(|r| Self::manifest_err(&display, r))?;
                    break (m, id);
                }
                tar::Kind::File => {
                    return Err(err(format!(
                        "entry {:?} comes before manifest.json, which must be the first file",
                        e.path
                    )));
                }
            }
        };

        // 2. A private directory to unpack into.
        let temp = tempfile::Builder::new()
            .prefix("rocky-verify-bundle-")
            .tempdir()
            .map_err(|e| err(format!("cannot create a temporary directory: {e}")))?;
        let root = temp.path().to_owned();
        let mkdir = |rel: &str| -> Result<(), String> {
            std::fs::create_dir_all(root.join(rel)).map_err(|e| format!("{rel}: {e}"))
        };
        for d in &early_dirs {
            mkdir(d).map_err(err)?;
        }
        let by_path: BTreeMap<&str, &manifest::FileEntry> = manifest
            .files
            .iter()
            .map(|f| (f.path.as_str(), f))
            .collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut findings = Vec::new();
        while let Some(e) = tar.next_entry().map_err(err)? {
            if e.kind == tar::Kind::Dir {
                if let Some(p) = paths::check_shape(&e.path) {
                    return Err(err(format!("entry {:?} {p}", e.path)));
                }
                mkdir(&e.path).map_err(err)?;
                continue;
            }
            if e.path == paths::MANIFEST {
                return Err(err("manifest.json appears twice".to_owned()));
            }
            if let Some(p) = paths::check_shape(&e.path) {
                return Err(err(format!("entry {:?} {p}", e.path)));
            }
            if e.size > manifest::MAX_FILE_SIZE {
                return Err(err(format!("entry {:?} is over the 1 TiB limit", e.path)));
            }
            if !seen.insert(e.path.clone()) {
                return Err(err(format!("entry {:?} appears twice", e.path)));
            }
            let Some(listed) = by_path.get(e.path.as_str()) else {
                findings.push(Finding::Unexpected { path: e.path });
                tar.skip_data().map_err(err)?;
                continue;
            };
            if listed.size != e.size {
                findings.push(Finding::Size {
                    path: e.path,
                    expected: listed.size,
                    actual: e.size,
                });
                tar.skip_data().map_err(err)?;
                continue;
            }
            let target = root.join(&e.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|x| err(format!("{}: {x}", e.path)))?;
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(&target)
                .map_err(|x| err(format!("{}: {x}", e.path)))?;
            let mut hasher = blake3::Hasher::new();
            tar.read_data(|b| {
                hasher.update(b);
                out.write_all(b).map_err(|x| format!("{}: {x}", e.path))
            })
            .map_err(err)?;
            let hash = hasher.finalize().to_hex().to_string();
            if hash != listed.blake3 {
                findings.push(Finding::Hash {
                    path: e.path,
                    expected: listed.blake3.clone(),
                    actual: hash,
                });
            }
        }
        for f in &manifest.files {
            if !seen.contains(&f.path) {
                findings.push(Finding::Missing {
                    path: f.path.clone(),
                });
            }
        }
        sort_findings(&mut findings);
        Ok(Bundle {
            root,
            display,
            id,
            manifest,
            findings,
            from_tar: true,
            _temp: Some(temp),
        })
    }

    /// Where the bundle's files are (the directory, or the temporary unpacked copy).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether any listed file is under `prefix` (`"git/"`, say).
    fn has_under(&self, prefix: &str) -> bool {
        self.manifest
            .files
            .iter()
            .any(|f| f.path.starts_with(prefix))
    }

    /// The ledger copies: their absolute path and manifest entry, the verified one first.
    pub fn ledger_copies(&self) -> Vec<(PathBuf, &manifest::LedgerCopy)> {
        self.manifest
            .ledger
            .iter()
            .flat_map(|l| l.copies.iter())
            .map(|c| (self.root.join(&c.path), c))
            .collect()
    }

    /// The ledger to verify (the first copy).
    pub fn ledger(&self) -> Option<PathBuf> {
        self.ledger_copies().into_iter().next().map(|(p, _)| p)
    }

    /// The bare repository, when the bundle holds one.
    pub fn repo(&self) -> Option<PathBuf> {
        self.has_under("git/").then(|| self.root.join("git"))
    }

    /// The artifacts folder, when the bundle holds artifacts.
    pub fn artifacts(&self) -> Option<PathBuf> {
        self.has_under("artifacts/")
            .then(|| self.root.join("artifacts"))
    }

    /// The lake folder (Delta logs), when the bundle holds one.
    pub fn lake(&self) -> Option<PathBuf> {
        self.has_under("lake/").then(|| self.root.join("lake"))
    }

    /// The warehouse file (DuckDB or facts JSON), when the bundle holds one.
    pub fn warehouse(&self) -> Option<PathBuf> {
        self.manifest
            .warehouse
            .as_ref()
            .map(|w| self.root.join(&w.path))
    }

    /// The manifest entry of a bundle path.
    pub fn entry(&self, path: &str) -> Option<&manifest::FileEntry> {
        self.manifest
            .files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.manifest.files[i])
    }
}

/// Largest `git/config` read.
const MAX_GIT_CONFIG: u64 = 64 * 1024;

/// Why the bundle's `git/config` is refused (`spec/bundle.md` section 4): settings that point
/// git outside the bundle (`core.worktree`, `include`/`includeIf` of other files) or name a
/// program (`core.fsmonitor`). libgit2 runs no program, but follows includes and work trees.
fn git_config_problem(root: &Path) -> Option<String> {
    let path = root.join("git/config");
    let file = open_nofollow(&path).ok()?;
    let mut text = String::new();
    if file
        .take(MAX_GIT_CONFIG + 1)
        .read_to_string(&mut text)
        .is_err()
        || text.len() as u64 > MAX_GIT_CONFIG
    {
        return Some("git/config is not UTF-8 text of at most 64 KiB".to_owned());
    }
    // Section headers `[include]` / `[includeIf "..."]`, and `worktree` / `fsmonitor` keys
    // (git keys are case-insensitive); an `extensions.worktreeConfig` flag is not a path.
    for line in text.lines() {
        let l = line.trim().to_ascii_lowercase();
        if l.starts_with("[include") {
            return Some(
                "git/config has an include, which would lead git outside the bundle".to_owned(),
            );
        }
        let key = l.split('=').next().unwrap_or("").trim();
        if key == "worktree" || key == "fsmonitor" {
            return Some(format!(
                "git/config sets {key}, which would lead git outside the bundle"
            ));
        }
    }
    None
}

/// Findings in path order, so a report is the same whichever order a tar held its entries in.
fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| a.path().cmp(b.path()));
}

/// Every regular file under `root` (except the top-level `manifest.json`) with its size,
/// refusing links, special files and paths that break the rules.
fn walk(root: &Path) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_owned(), String::new())];
    let mut visited = 0usize;
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            visited += 1;
            if visited > MAX_WALK {
                return Err(format!("the bundle holds more than {MAX_WALK} entries"));
            }
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| format!("an entry under {rel:?} has a name that is not UTF-8"))?;
            let path = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            if path == paths::MANIFEST {
                continue;
            }
            let t = entry.file_type().map_err(|e| format!("{path}: {e}"))?;
            if t.is_symlink() {
                return Err(format!(
                    "entry {path:?} is a symbolic link: bundles hold only regular files and folders"
                ));
            }
            if t.is_dir() {
                if let Some(p) = paths::check_shape(&path) {
                    return Err(format!("entry {path:?} {p}"));
                }
                stack.push((entry.path(), path));
            } else if t.is_file() {
                if let Some(p) = paths::check_shape(&path) {
                    return Err(format!("entry {path:?} {p}"));
                }
                let len = std::fs::symlink_metadata(entry.path())
                    .map_err(|e| format!("{path}: {e}"))?
                    .len();
                out.insert(path, len);
            } else {
                return Err(format!(
                    "entry {path:?} is a device, FIFO or socket: bundles hold only regular files and folders"
                ));
            }
        }
    }
    Ok(out)
}
