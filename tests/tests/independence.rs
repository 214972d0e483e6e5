//! The verifier must be built independently of the writer: it may not depend, directly or
//! transitively, on `rocky-writer` or on any project crate outside `verifier/`. If it did, a bug in
//! shared code would make both sides agree with each other and with nothing real.
//!
//! The check reads `cargo metadata` for `verifier/Cargo.toml` (its own workspace and lockfile) and
//! walks the resolved graph from the verifier's root over normal and build dependencies.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Names of crates in the verifier's normal+build dependency closure that break independence.
fn offending_dependencies(manifest: &Path) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let verifier_dir = manifest
        .parent()
        .expect("manifest has a folder")
        .canonicalize()
        .unwrap();

    let packages: HashMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = meta["resolve"]["root"]
        .as_str()
        .expect("the verifier is the resolve root");

    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal_or_build = dep["dep_kinds"].as_array().unwrap().iter().any(|k| {
                let kind = &k["kind"];
                kind.is_null() || kind == "build"
            });
            if normal_or_build {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }

    let mut bad = BTreeSet::new();
    for id in seen {
        let pkg = packages[id];
        let name = pkg["name"].as_str().unwrap();
        let is_path_crate = pkg["source"].is_null();
        let manifest_path = PathBuf::from(pkg["manifest_path"].as_str().unwrap());
        let inside_verifier = manifest_path.starts_with(&verifier_dir);
        // Any project crate (rocky-*) but the verifier itself, or any path crate outside
        // verifier/. (Third-party names may contain "writer", e.g. ar_archive_writer.)
        let project_crate = name.starts_with("rocky-") && name != "rocky-verify";
        if project_crate || (is_path_crate && !inside_verifier) {
            bad.insert(name.to_owned());
        }
    }
    bad
}

#[test]
fn verifier_depends_on_no_writer_and_no_project_crate_outside_verifier() {
    let manifest = repo_root().join("verifier/Cargo.toml");
    let bad = offending_dependencies(&manifest);
    assert!(
        bad.is_empty(),
        "the verifier's dependency graph includes {bad:?}"
    );
}

#[test]
fn the_independence_check_catches_a_writer_dependency() {
    // Control case: a copy of the verifier manifest with the writer added must be caught, or the
    // test above could pass by inspecting nothing.
    let root = repo_root();
    let scratch = std::env::temp_dir().join(format!("rocky-e2e-indep-{}", std::process::id()));
    let crate_dir = scratch.join("verifier");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), "").unwrap();
    let manifest = format!(
        "[package]\nname = \"rocky-verify-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         [workspace]\n[lib]\npath = \"src/lib.rs\"\n\
         [dependencies]\nrocky-writer = {{ path = {:?} }}\n",
        root.join("writer").display().to_string()
    );
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    // The probe has no lockfile; resolve it against the root lockfile's versions offline.
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let bad = offending_dependencies(&crate_dir.join("Cargo.toml"));
    std::fs::remove_dir_all(&scratch).ok();
    assert!(
        bad.contains("rocky-writer"),
        "a writer dependency went unnoticed: {bad:?}"
    );
}
