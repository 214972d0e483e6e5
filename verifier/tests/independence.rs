//! The verifier's build graph (`verifier/Cargo.toml`, normal and build dependencies) contains no
//! project crate from outside `verifier/` (the writer above all) and no networking crate: an
//! offline auditor must share no code with what it audits and must not be able to phone home.
//!
//! One exception is tolerated and pinned here: `libduckdb-sys` 1.10506.1 declares `ureq` (with
//! rustls) as a non-optional *build* dependency, used by its build script only when
//! `DUCKDB_DOWNLOAD_LIB` is set. Those crates run at build time and are not linked into
//! `rocky-verify`; the test still fails if any networking crate reaches the binary itself, or the
//! build graph by any other route.
//!
//! The workspace's other member, `rocky-collect` (verifier/collect/), is where the network code
//! lives: it must never reach rocky-writer (by any dependency kind), and none of its network
//! crates may reach `rocky-verify`'s own normal dependencies.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates that exist to talk to a network.
const NETWORKING: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "h3",
    "ureq",
    "rustls",
    "native-tls",
    "openssl",
    "openssl-sys",
    "curl",
    "curl-sys",
    "libssh2-sys",
    "ssh2",
    "isahc",
    "surf",
    "attohttpc",
    "tokio-rustls",
    "tokio-native-tls",
    "quinn",
    "tungstenite",
    "object_store",
    "ring",
];

/// The one build script allowed to carry networking build-dependencies (see the module docs).
const TOLERATED_BUILD_SCRIPT: &str = "libduckdb-sys";

/// This machine's target triple, from `rustc -vV`: the graph is filtered to the platform the
/// binary is built for, which is also all that the build itself downloads.
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// `cargo metadata` for `manifest`, run with a new, empty `CARGO_HOME`.
///
/// Why an empty one: this test once passed only because the developer's cargo cache happened to
/// hold every crate of the lockfile for every platform (`--offline` needed them; a fresh machine's
/// build had only fetched the host's). Resolving from the lockfile alone, fetching whatever it
/// needs, makes the result the same on every machine and the test can no longer lean on leftovers.
/// The caller's cargo configuration (a registry mirror, say) is carried over.
fn metadata(manifest: &Path) -> Value {
    let home = tempfile::tempdir().unwrap();
    if let Some(old) = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
    {
        for name in ["config.toml", "config", "credentials.toml", "credentials"] {
            if old.join(name).is_file() {
                std::fs::copy(old.join(name), home.path().join(name)).unwrap();
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(host_triple())
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_HOME", home.path())
        .env_remove("CARGO_NET_OFFLINE");
    // The verifier's own manifest has a lockfile that must not move; a probe crate has none.
    if manifest.parent().unwrap().join("Cargo.lock").is_file() {
        cmd.arg("--locked");
    }
    let out = cmd.output().expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata (empty CARGO_HOME, registries must be reachable): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Offending crates in the normal+build closure of the package at `manifest`.
fn offending(manifest: &Path) -> BTreeSet<String> {
    let meta = metadata(manifest);
    let root_dir = manifest.parent().unwrap().canonicalize().unwrap();
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
    let root = meta["resolve"]["root"].as_str().unwrap();
    let name_of = |id: &str| packages[id]["name"].as_str().unwrap().to_owned();

    // Walk normal+build edges; `via_tolerated` marks crates reached only through the tolerated
    // build script's build-dependencies.
    let mut strict_seen = BTreeSet::new();
    let mut all_seen = BTreeSet::new();
    let mut todo = vec![(root, false)];
    while let Some((id, tolerated)) = todo.pop() {
        let first = if tolerated {
            all_seen.insert(id)
        } else {
            strict_seen.insert(id) | all_seen.insert(id)
        };
        if !first {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            for k in dep["dep_kinds"].as_array().unwrap() {
                let kind = &k["kind"];
                if kind.is_null() || kind == "build" {
                    let into_tolerated =
                        tolerated || (kind == "build" && name_of(id) == TOLERATED_BUILD_SCRIPT);
                    todo.push((dep["pkg"].as_str().unwrap(), into_tolerated));
                }
            }
        }
    }
    let mut bad = BTreeSet::new();
    for &id in &all_seen {
        let pkg = packages[id];
        let name = pkg["name"].as_str().unwrap();
        let manifest_path = Path::new(pkg["manifest_path"].as_str().unwrap());
        let outside_path_crate = pkg["source"].is_null() && !manifest_path.starts_with(&root_dir);
        if name.starts_with("rocky-writer") || outside_path_crate {
            bad.insert(name.to_owned());
        }
        let features: Vec<&str> = nodes[id]["features"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let networking =
            NETWORKING.contains(&name) || (name == "tokio" && features.contains(&"net"));
        if networking && strict_seen.contains(id) {
            bad.insert(name.to_owned());
        }
    }
    bad
}

#[test]
fn the_verifier_links_no_network_crate_and_no_project_crate_outside_verifier() {
    let manifest = crate::util::manifest_dir().join("Cargo.toml");
    let bad = offending(&manifest);
    assert!(
        bad.is_empty(),
        "the verifier's build graph includes {bad:?}"
    );
}

#[test]
fn the_check_catches_a_path_crate_outside_and_a_networking_crate() {
    // Control: a probe crate with a path dependency outside its folder and a networking crate
    // must be caught, or the test above could pass by inspecting nothing.
    let dir = tempfile::tempdir().unwrap();
    // Both stand-ins are local path crates, so the probe needs no registry: `outside` lives beside
    // the probe, and a crate named `ureq` lives inside it (so only its name can give it away).
    let outside = dir.path().join("outside");
    let probe = dir.path().join("probe");
    let net = probe.join("vendor/ureq");
    // `outside` is a workspace of its own; the inner `ureq` belongs to the probe's workspace.
    for (d, name, own_workspace) in [(&outside, "outside", true), (&net, "ureq", false)] {
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::write(d.join("src/lib.rs"), "").unwrap();
        let workspace = if own_workspace { "[workspace]\n" } else { "" };
        std::fs::write(
            d.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n{workspace}"
            ),
        )
        .unwrap();
    }
    std::fs::create_dir_all(probe.join("src")).unwrap();
    std::fs::write(probe.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        probe.join("Cargo.toml"),
        "[package]\nname = \"probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n[workspace]\n\
         [dependencies]\noutside = { path = \"../outside\" }\nureq = { path = \"vendor/ureq\" }\n",
    )
    .unwrap();
    let bad = offending(&probe.join("Cargo.toml"));
    assert!(
        bad.contains("outside") && bad.contains("ureq"),
        "not caught: {bad:?}"
    );
}

/// Names of the packages reached from the workspace member `start` over the given dependency
/// kinds (`None` = normal, or "build", "dev"), in the resolve of the verifier's workspace.
fn reached_from(meta: &Value, start: &str, kinds: &[Option<&str>]) -> BTreeSet<String> {
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
    let root = packages
        .iter()
        .find(|(_, p)| p["name"] == start && p["source"].is_null())
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("{start} is not a member of the workspace"));
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let wanted = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| kinds.contains(&k["kind"].as_str()));
            if wanted {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    seen.iter()
        .map(|id| packages[id]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rocky_collect_never_links_the_writer_and_rocky_verify_links_none_of_its_network_crates() {
    // One workspace, one lockfile: rocky-collect (verifier/collect/) is the networked member.
    let meta = metadata(&crate::util::manifest_dir().join("Cargo.toml"));
    let verifier_dir = crate::util::manifest_dir().canonicalize().unwrap();

    // rocky-collect, every kind of dependency (its tests and benches too): no writer, and no
    // project crate from outside verifier/.
    let collect = reached_from(&meta, "rocky-collect", &[None, Some("build"), Some("dev")]);
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if !collect.contains(name) {
            continue;
        }
        assert!(
            !name.starts_with("rocky-writer"),
            "rocky-collect reaches {name}"
        );
        let manifest = Path::new(p["manifest_path"].as_str().unwrap());
        assert!(
            !p["source"].is_null() || manifest.starts_with(&verifier_dir),
            "rocky-collect reaches the path crate {name} outside verifier/ ({})",
            manifest.display()
        );
    }
    // Control: the walk does see the network crates rocky-collect is there to use, and the
    // verifier's library it reads ledgers with.
    for name in ["object_store", "redis", "tokio", "reqwest", "rocky-verify"] {
        assert!(
            collect.contains(name),
            "the walk from rocky-collect misses {name}"
        );
    }

    // rocky-verify's normal dependencies (what its binary links) include none of them. Build
    // dependencies are the strict test's above, which tolerates libduckdb-sys's build script.
    let verify = reached_from(&meta, "rocky-verify", &[None]);
    let networked = [
        "object_store",
        "redis",
        "reqwest",
        "hyper",
        "hyper-util",
        "tokio",
        "rustls",
        "ring",
        "h2",
        "rocky-collect",
    ];
    let found: Vec<&str> = networked
        .iter()
        .copied()
        .filter(|n| verify.contains(*n))
        .collect();
    assert!(found.is_empty(), "rocky-verify reaches {found:?}");
}
