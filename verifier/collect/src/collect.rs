//! One collection, start to end: the ledger copies, the scope they select, the artifacts and
//! Delta logs, the commits, the warehouse facts, then `manifest.json` (written last, so a bundle
//! without one is visibly unfinished; an unfinished bundle is removed).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rocky_verify::evidence::ledger::Ledger;
use serde_json::{Value, json};

use crate::artifacts::{self, Source};
use crate::error::CollectError;
use crate::ledger::{self, KeyOptions, Tier};
use crate::location::Location;
use crate::manifest::{FileEntry, Manifest, bundle_id, file_uri};
use crate::out::OutDir;
use crate::s3::Bucket;
use crate::scope::{self, Selection};
use crate::warehouse::{self, Client};

/// Where the warehouse facts come from.
#[derive(Debug, Clone)]
pub enum WarehouseInput {
    /// A DuckDB file read directly.
    Duckdb(PathBuf),
    /// Result files of `rocky-verify warehouse-sql`, run by the auditor.
    Results {
        /// The files (columns and row counts).
        files: Vec<PathBuf>,
        /// Which client wrote them.
        client: Client,
        /// Its version, when given.
        client_version: Option<String>,
        /// When the queries ran, when given (else the import time).
        read_at: Option<DateTime<Utc>>,
    },
}

/// Everything a collection needs.
#[derive(Debug, Clone)]
pub struct Request {
    /// One or two ledger locations.
    pub ledgers: Vec<Location>,
    /// Remote key options.
    pub keys: KeyOptions,
    /// The git repository.
    pub repo: Option<PathBuf>,
    /// Where the artifacts are.
    pub artifacts: Option<Location>,
    /// The warehouse.
    pub warehouse: Option<WarehouseInput>,
    /// The runs.
    pub selection: Selection,
    /// Transfers at a time.
    pub parallel: usize,
    /// The bundle.
    pub out: PathBuf,
}

/// What a finished collection reports.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// BLAKE3 of `manifest.json`.
    pub bundle_id: String,
    /// Files in the bundle (manifest excluded).
    pub files: usize,
    /// Runs selected.
    pub runs: usize,
    /// How the two tiers compare, when there are two.
    pub comparison: Option<&'static str>,
    /// Things the auditor should know (absent commits, artifacts whose bytes do not match).
    pub warnings: Vec<String>,
}

/// Runs a collection.
///
/// # Errors
///
/// Any [`CollectError`]; the output is then removed.
pub async fn collect(req: &Request) -> Result<Outcome, CollectError> {
    if req.ledgers.is_empty() || req.ledgers.len() > 2 {
        return Err(CollectError::Usage(
            "give --ledger once, or twice for the two tiers of a tiered store".into(),
        ));
    }
    if let [a, b] = req.ledgers.as_slice()
        && tier_of(a) == tier_of(b)
    {
        return Err(CollectError::Usage(format!(
            "both --ledger values are {} ledgers; the two copies of a tiered store are one S3 \
             and one Valkey (or a local file)",
            tier_of(a).as_str()
        )));
    }
    let mut out = OutDir::create(&req.out)?;
    let mut files: Vec<FileEntry> = Vec::new();
    let mut warnings = Vec::new();

    // 1. The ledger copies, the authoritative tier first.
    let mut copies = Vec::new();
    for loc in &req.ledgers {
        copies.push(ledger::fetch(loc, &req.keys, &mut out).await?);
    }
    copies.sort_by_key(|c| c.tier);
    let comparison = if let [a, b] = copies.as_slice() {
        let c = ledger::compare(
            (&out.root().join(&a.entry.path), &a.entry),
            (&out.root().join(&b.entry.path), &b.entry),
        )?;
        if c == ledger::Comparison::Diverged {
            warnings.push(format!(
                "the {} and {} copies of the ledger hold different rows (recorded as diverged)",
                a.tier.as_str(),
                b.tier.as_str()
            ));
        }
        Some(c)
    } else {
        None
    };
    let ledger_json = json!({
        "comparison": comparison.map(ledger::Comparison::as_str),
        "copies": copies.iter().map(|c| json!({"path": c.entry.path, "tier": c.tier.as_str()})).collect::<Vec<_>>(),
    });
    files.extend(copies.iter().map(|c| c.entry.clone()));

    // 2. The scope, from the authoritative copy (read-only, through the verifier's reader).
    let first = &copies[0];
    let scope = {
        let path = out.root().join(&first.entry.path);
        let l =
            Ledger::open(&path, &first.entry.path).map_err(|e| CollectError::LedgerInvalid {
                uri: first.entry.source_uri.clone(),
                reason: e.to_string(),
            })?;
        scope::resolve(&l, &first.entry.source_uri, &req.selection)?
    };

    // 3. Artifacts and Delta logs.
    if let Some(loc) = &req.artifacts {
        let source = match loc {
            Location::Local(dir) => {
                if !dir.is_dir() {
                    return Err(CollectError::Usage(format!(
                        "--artifacts {}: not a folder",
                        dir.display()
                    )));
                }
                Source::Local(dir.clone())
            }
            Location::S3 { bucket, prefix, .. } => Source::S3 {
                bucket: Bucket::from_env(bucket)?,
                prefix: prefix.clone(),
            },
            Location::Valkey { .. } => {
                return Err(CollectError::Usage(
                    "--artifacts: a folder or s3://BUCKET[/PREFIX], not Valkey".into(),
                ));
            }
        };
        let g = artifacts::gather(&scope, &source, req.parallel, &mut out).await?;
        for (want, path, got) in &g.mismatched {
            warnings.push(format!(
                "artifact {path}: recorded BLAKE3 {want}, its bytes hash to {got} (kept as \
                 artifacts/{got}.parquet; the verification will report it)"
            ));
        }
        files.extend(g.entries);
    }

    // 4. The commits.
    if let Some(repo) = &req.repo {
        let c = crate::git::collect(repo, &scope.commits, &scope.branches, &mut out)?;
        for (hex, why) in &c.absent {
            warnings.push(format!(
                "commit {hex} is not in {}: {why} (the bundle does not hold it)",
                repo.display()
            ));
        }
        for b in &scope.branches {
            let copied = c
                .branches
                .iter()
                .any(|(r, _)| r == &format!("refs/heads/{b}") || r.ends_with(&format!("/{b}")));
            if !copied && !c.commits.is_empty() {
                warnings.push(format!(
                    "branch {b:?} is not in {} (neither refs/heads/ nor a remote's): the bundle \
                     cannot show whether it contains the run's commit",
                    repo.display()
                ));
            }
        }
        files.extend(c.entries);
    }

    // 5. The warehouse facts.
    let warehouse_json = match &req.warehouse {
        None => Value::Null,
        Some(input) => {
            let facts = match input {
                WarehouseInput::Duckdb(path) => warehouse::from_duckdb(path, &scope.tables)?,
                WarehouseInput::Results {
                    files: paths,
                    client,
                    client_version,
                    read_at,
                } => {
                    let mut raw = Vec::new();
                    for (i, p) in paths.iter().enumerate() {
                        use std::io::Read;
                        let mut f = rocky_verify::evidence::regular_file::open(p)
                            .map_err(|e| CollectError::io(p, e.into_io()))?;
                        let mut bytes = Vec::new();
                        f.read_to_end(&mut bytes)
                            .map_err(|e| CollectError::io(p, e))?;
                        // The raw results, kept for reference (hashed, not read by the verifier).
                        let ext = p
                            .extension()
                            .and_then(|e| e.to_str())
                            .filter(|e| matches!(*e, "csv" | "json" | "jsonl" | "txt"))
                            .unwrap_or("txt");
                        let rel = format!("warehouse/results-{}.{ext}", i + 1);
                        out.write_new(&rel, &bytes)?;
                        files.push(FileEntry {
                            path: rel,
                            size: bytes.len() as u64,
                            blake3: blake3::hash(&bytes).to_hex().to_string(),
                            source_uri: file_uri(p),
                            fetched_at: Utc::now(),
                            s3: None,
                            redis_key: None,
                        });
                        raw.push((p.clone(), bytes));
                    }
                    warehouse::from_results(
                        &raw,
                        *client,
                        client_version.clone(),
                        *read_at,
                        &scope.tables,
                    )?
                }
            };
            let bytes = facts.to_bytes();
            let rel = "warehouse/facts.json";
            out.write_new(rel, &bytes)?;
            files.push(FileEntry {
                path: rel.into(),
                size: bytes.len() as u64,
                blake3: blake3::hash(&bytes).to_hex().to_string(),
                source_uri: "generated:".into(),
                fetched_at: Utc::now(),
                s3: None,
                redis_key: None,
            });
            json!({"kind": "facts", "path": rel})
        }
    };

    // 6. The manifest, last.
    let manifest = Manifest {
        files,
        ledger: ledger_json,
        selection: req.selection.to_json(),
        warehouse: warehouse_json,
        created_at: Utc::now(),
    };
    let bytes = manifest.to_bytes();
    let n = manifest.files.len();
    out.finish(&bytes)?;
    Ok(Outcome {
        bundle_id: bundle_id(&bytes),
        files: n,
        runs: scope.runs.len(),
        comparison: comparison.map(ledger::Comparison::as_str),
        warnings,
    })
}

/// The tier a location denotes (for messages).
pub fn tier_of(loc: &Location) -> Tier {
    match loc {
        Location::Local(_) => Tier::Local,
        Location::S3 { .. } => Tier::S3,
        Location::Valkey { .. } => Tier::Valkey,
    }
}
