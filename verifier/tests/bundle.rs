//! `rocky-verify run|gate --bundle` (`spec/bundle.md`): bundles built here from the two-run
//! scenario (ledger, bare git repository, artifacts, DuckDB file or warehouse facts), verified as
//! a directory and as a tar written by GNU tar. Each tamper is compared with the untampered
//! control; hostile tars are hand-built block by block.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::{self, RUN2, Run, Scenario, blake3_hex, set};

/// What stands for the warehouse in a bundle.
enum Wh {
    None,
    Duckdb,
    Facts(Value),
}

/// A bundle directory next to the scenario: `<scenario>/bundle`.
fn bundle_root(s: &Scenario) -> PathBuf {
    s.path("bundle")
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

/// The scenario's warehouse as facts (`spec/bundle.md` section 6), canonical (serde_json's
/// sorted maps, compact).
fn facts(row_counts: [u64; 3]) -> Value {
    let cols = |names: [&str; 2]| {
        json!([
            {"data_type": "BIGINT", "name": names[0], "ordinal": 1},
            {"data_type": "BIGINT", "name": names[1], "ordinal": 2},
        ])
    };
    json!({
        "complete_catalogs": ["tgt"],
        "facts_format": 1,
        "source": {"client": "duckdb", "client_version": "1.5.6", "dialect": "duckdb",
                   "read_at": "2026-12-01T17:00:00Z"},
        "tables": [
            {"catalog": "tgt", "columns": cols(["order_id", "customer_id"]), "exists": true,
             "row_count": row_counts[0], "schema": "raw", "table": "raw_orders"},
            {"catalog": "tgt", "columns": cols(["id", "bucket"]), "exists": true,
             "row_count": row_counts[1], "schema": "raw", "table": "seed_events"},
            {"catalog": "tgt", "columns": cols(["order_id", "customer_id"]), "exists": true,
             "row_count": row_counts[2], "schema": "raw", "table": "stg_orders"},
        ],
    })
}

/// Every regular file under `root` but the top-level manifest, bundle-relative, sorted.
fn files_of(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &path, out);
            } else if path != "manifest.json" {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out.sort();
    out
}

/// Writes `manifest.json` for the files under `root`; returns its bytes.
fn write_manifest(root: &Path, ledger: Value, warehouse: Value) -> Vec<u8> {
    let files: Vec<Value> = files_of(root)
        .iter()
        .map(|p| {
            let bytes = std::fs::read(root.join(p)).unwrap();
            let generated = p.starts_with("git/") || p == "warehouse/facts.json";
            json!({
                "blake3": blake3_hex(&bytes), "fetched_at": "2026-12-01T17:00:01Z", "path": p,
                "redis_key": null, "s3_etag": null, "s3_last_modified": null, "s3_version_id": null,
                "size": bytes.len(),
                "source_uri": if generated { "generated:".to_owned() } else { format!("file:///srv/rocky/{p}") },
            })
        })
        .collect();
    let manifest = json!({
        "bundle_format": 1, "collector": {"name": "rocky-collect", "version": "0.1.0"},
        "created_at": "2026-12-01T17:00:02Z", "files": files, "ledger": ledger,
        "selection": {"last": null, "run": RUN2, "since": null}, "warehouse": warehouse,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    std::fs::write(root.join("manifest.json"), &bytes).unwrap();
    bytes
}

fn one_copy() -> Value {
    json!({"comparison": null, "copies": [{"path": "ledger/state.redb", "tier": "local"}]})
}

/// Builds the bundle directory from a written scenario; returns the manifest bytes.
fn build(s: &Scenario, wh: Wh) -> Vec<u8> {
    let root = bundle_root(s);
    copy(&s.ledger(), &root.join("ledger/state.redb"));
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("rocky.toml".to_owned(), util::ROCKY_TOML.to_vec())];
    for m in &s.models {
        files.push((format!("models/{}.sql", m.name), m.sql.clone().into_bytes()));
        copy(
            &s.artifact_file(m.name),
            &root.join(format!("artifacts/{}.parquet", m.hash)),
        );
    }
    // The same files, signature and time as the scenario's repository: the same commit.
    let commit = util::make_repo(&root.join("git"), true, &files);
    assert_eq!(commit, s.commit);
    let warehouse = match wh {
        Wh::None => Value::Null,
        Wh::Duckdb => {
            copy(
                &s.path("tgt.duckdb"),
                &root.join("warehouse/warehouse.duckdb"),
            );
            json!({"kind": "duckdb_file", "path": "warehouse/warehouse.duckdb"})
        }
        Wh::Facts(f) => {
            std::fs::create_dir_all(root.join("warehouse")).unwrap();
            std::fs::write(
                root.join("warehouse/facts.json"),
                serde_json::to_vec(&f).unwrap(),
            )
            .unwrap();
            json!({"kind": "facts", "path": "warehouse/facts.json"})
        }
    };
    write_manifest(&root, one_copy(), warehouse)
}

/// Rewrites the manifest after a change the collector itself made (not a tamper).
fn remanifest(s: &Scenario, ledger: Value) {
    let root = bundle_root(s);
    let old: Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    write_manifest(&root, ledger, old["warehouse"].clone());
}

/// `tar -cf` of the bundle directory with GNU tar, manifest first.
fn tar_of(s: &Scenario, name: &str) -> PathBuf {
    let root = bundle_root(s);
    let out = s.path(name);
    let mut args = vec![
        "-cf".to_owned(),
        out.display().to_string(),
        "-C".to_owned(),
        root.display().to_string(),
        "manifest.json".to_owned(),
    ];
    for d in ["ledger", "git", "artifacts", "lake", "warehouse"] {
        if root.join(d).exists() {
            args.push(d.to_owned());
        }
    }
    let st = std::process::Command::new("tar")
        .args(&args)
        .status()
        .unwrap();
    assert!(st.success());
    out
}

fn verify(bundle: &Path, extra: &[&str]) -> Run {
    let mut a = util::args(&["run", RUN2, "--json", "--bundle"]);
    a.push(bundle.display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    util::run_bin(&a, None)
}

fn begin(r: &Run) -> &Value {
    &r.lines[0]["data"]
}

/// The control: a complete bundle, as a directory and as a tar, verifies offline with every
/// usual check, carries its id, and names no temporary path.
#[test]
fn an_untampered_bundle_passes_as_a_directory_and_as_a_tar() {
    let s = Scenario::new();
    s.write();
    let manifest = build(&s, Wh::Duckdb);
    let id = blake3_hex(&manifest);
    let dir = verify(&bundle_root(&s), &[]);
    assert_eq!(dir.code, 0, "{}", dir.dump());
    assert!(dir.failing().is_empty(), "{}", dir.dump());
    assert!(dir.codes("unknown").is_empty(), "{}", dir.dump());
    assert_eq!(begin(&dir)["bundle"]["id"], id.as_str());
    assert_eq!(begin(&dir)["ledger"]["path"], "ledger/state.redb");
    let first = &dir.checks()[0];
    assert_eq!(first["check"], "bundle.manifest");
    assert_eq!(first["outcome"], "pass");
    for check in [
        "git.commit",
        "model.source",
        "warehouse.row_count",
        "warehouse.columns",
        "artifact.blake3",
        "provenance.input_hash",
    ] {
        assert!(
            dir.check(check).iter().any(|c| c["outcome"] == "pass"),
            "{check} passed: {}",
            dir.dump()
        );
    }

    let tar = tar_of(&s, "b.tar");
    let t1 = verify(&tar, &[]);
    let t2 = verify(&tar, &[]);
    assert_eq!(t1.code, 0, "{}", t1.dump());
    assert_eq!(
        t1.stdout, t2.stdout,
        "the same bundle twice: the same bytes"
    );
    // Directory and tar give the same report but for the bundle path as given.
    let mask = |r: &Run| {
        let mut lines = r.lines.clone();
        lines[0]["data"]["bundle"]["path"] = json!("<bundle>");
        lines
    };
    assert_eq!(mask(&dir), mask(&t1));
    assert!(!t1.stdout.contains("rocky-verify-bundle-"), "{}", t1.stdout);
    // Only begin.bundle.path (as given) names where the bundle is.
    let after_begin = dir.stdout.split_once('\n').unwrap().1;
    assert!(
        !after_begin.contains(&bundle_root(&s).display().to_string()),
        "paths are bundle-relative: {}",
        dir.stdout
    );
    // Human output carries the id in its header, and is deterministic too.
    let human = |p: &Path| {
        util::run_bin(
            &util::args(&["run", RUN2, "--bundle", &p.display().to_string()]),
            None,
        )
    };
    let h1 = human(&tar);
    assert_eq!(h1.code, 0, "{}", h1.dump());
    assert!(h1.stdout.contains(&format!("id {id}")), "{}", h1.stdout);
    assert_eq!(h1.stdout, human(&tar).stdout);
    // Nothing was left behind in the temporary directory.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("rocky-verify-bundle-")
        })
        .count();
    // Other tests may be mid-run; the binary itself removes its own on exit. Only check that
    // this test's runs did not accumulate dozens.
    assert!(leftovers < 16, "{leftovers} unpacked bundles left behind");
}

/// The gate on a bundle: same checks as on the loose inputs, the bundle's manifest first.
#[test]
fn the_gate_verifies_a_bundle() {
    let s = Scenario::new();
    s.write();
    build(&s, Wh::Duckdb);
    let tar = tar_of(&s, "b.tar");
    let r = util::run_bin(
        &util::args(&["gate", "--json", "--bundle", &tar.display().to_string()]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert_eq!(r.checks()[0]["check"], "bundle.manifest");
    assert!(!r.check("warehouse.row_count").is_empty(), "{}", r.dump());
    // --bundle replaces the loose inputs: giving both is a usage error.
    let r = util::run_bin(
        &util::args(&[
            "run",
            RUN2,
            "--bundle",
            &tar.display().to_string(),
            "--repo",
            ".",
        ]),
        None,
    );
    assert_eq!(r.code, 2, "{}", r.dump());
}

/// Each tamper of the bundle is a `bundle.manifest` failure (exit 1) with its code, against the
/// untampered control above.
#[test]
fn each_tamper_is_a_bundle_failure() {
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper, &str); 4] = [
        (
            "missing file",
            |root| {
                let a = root.join("artifacts");
                let first = std::fs::read_dir(&a).unwrap().next().unwrap().unwrap();
                std::fs::remove_file(first.path()).unwrap();
            },
            "bundle_file_missing",
        ),
        (
            "extra file",
            |root| std::fs::write(root.join("artifacts/notes.txt"), b"hi").unwrap(),
            "bundle_file_unexpected",
        ),
        (
            "changed byte",
            |root| util::flip_byte(&root.join("ledger/state.redb"), 20_000),
            "bundle_hash_mismatch",
        ),
        (
            "appended byte",
            |root| {
                let p = root.join("git/HEAD");
                let mut b = std::fs::read(&p).unwrap();
                b.push(b'\n');
                std::fs::write(p, b).unwrap();
            },
            "bundle_size_mismatch",
        ),
    ];
    for (what, tamper, code) in cases {
        let s = Scenario::new();
        s.write();
        build(&s, Wh::Duckdb);
        tamper(&bundle_root(&s));
        for r in [
            verify(&bundle_root(&s), &[]),
            verify(&tar_of(&s, "t.tar"), &[]),
        ] {
            assert_eq!(r.code, 1, "{what}: {}", r.dump());
            let bad: Vec<&Value> = r
                .check("bundle.manifest")
                .into_iter()
                .filter(|c| c["outcome"] == "fail")
                .collect();
            assert_eq!(bad.len(), 1, "{what}: {}", r.dump());
            assert_eq!(bad[0]["code"], code, "{what}");
            assert!(
                bad[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("bundle tampered")
            );
        }
    }
}

/// An edited manifest: a valid edit changes the bundle id (and then no longer matches the
/// files); an edit that breaks the canonical form is refused (exit 2).
#[test]
fn an_edited_manifest_changes_the_id_or_is_refused() {
    let s = Scenario::new();
    s.write();
    let manifest = build(&s, Wh::None);
    let control = verify(&bundle_root(&s), &[]);
    assert_eq!(begin(&control)["bundle"]["id"], blake3_hex(&manifest));
    let path = bundle_root(&s).join("manifest.json");
    let text = String::from_utf8(manifest.clone()).unwrap();

    // Claim another hash for the ledger: a hash mismatch, and another id.
    let mut m: Value = serde_json::from_str(&text).unwrap();
    let entry = m["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["path"] == "ledger/state.redb")
        .unwrap();
    entry["blake3"] = json!("0".repeat(64));
    let edited = serde_json::to_vec(&m).unwrap();
    std::fs::write(&path, &edited).unwrap();
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.failing().contains("bundle_hash_mismatch"));
    assert_eq!(begin(&r)["bundle"]["id"], blake3_hex(&edited));
    assert_ne!(begin(&r)["bundle"]["id"], begin(&control)["bundle"]["id"]);

    // Pretty-printed: not canonical, refused before anything is read.
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["bundle_manifest_invalid"]));
    assert!(r.stderr.contains("not canonical"), "{}", r.stderr);
    assert_eq!(r.checks().len(), 1, "nothing else ran: {}", r.dump());
}

/// A symbolic link inside a directory bundle is refused, never followed.
#[test]
fn a_symlink_in_a_directory_bundle_is_refused() {
    let s = Scenario::new();
    s.write();
    build(&s, Wh::None);
    let root = bundle_root(&s);
    std::os::unix::fs::symlink("/etc/passwd", root.join("artifacts/evil")).unwrap();
    let r = verify(&root, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["bundle_entry_invalid"]));
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
}

/// A git/config that would lead git outside the bundle is refused; the plain one libgit2
/// writes is the control (the untampered test above).
#[test]
fn a_git_config_pointing_outside_is_refused() {
    let s = Scenario::new();
    s.write();
    build(&s, Wh::None);
    let config = bundle_root(&s).join("git/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[include]\n\tpath = /etc/gitconfig\n");
    std::fs::write(&config, text).unwrap();
    remanifest(&s, one_copy());
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["bundle_entry_invalid"]));
    assert!(r.stderr.contains("outside the bundle"), "{}", r.stderr);
}

// ---- hand-built tars ----

/// A ustar header (written here, independently of the verifier's reader).
fn header(name: &str, flag: u8, size: u64, link: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar of `(name, type flag, data, link target)` entries.
fn tar_bytes(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, flag, data, link) in entries {
        out.extend(header(name, *flag, data.len() as u64, link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend([0u8; 1024]);
    out
}

/// A valid manifest listing `files` (path, bytes).
fn manifest_for(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut sorted = files.to_vec();
    sorted.sort();
    let entries: Vec<Value> = sorted
        .iter()
        .map(|(p, b)| {
            json!({"blake3": blake3_hex(b), "fetched_at": "2026-12-01T17:00:01Z", "path": p,
                   "redis_key": null, "s3_etag": null, "s3_last_modified": null,
                   "s3_version_id": null, "size": b.len(), "source_uri": "generated:"})
        })
        .collect();
    serde_json::to_vec(&json!({
        "bundle_format": 1, "collector": {"name": "rocky-collect", "version": "0.1.0"},
        "created_at": "2026-12-01T17:00:02Z", "files": entries, "ledger": null,
        "selection": {"last": null, "run": null, "since": null}, "warehouse": null,
    }))
    .unwrap()
}

/// Every hostile tar is refused with exit 2 and a diagnostic naming the problem; nothing is
/// written outside the private directory (the would-be targets stay absent).
#[test]
fn hostile_tars_are_refused_without_writing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let escape = dir.path().join("escaped");
    let escape_rel = format!("artifacts/../../../../../..{}", escape.display());
    let m = manifest_for(&[("artifacts/a.bin", b"abc")]);
    let abs = escape.display().to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot path",
            tar_bytes(&[
                ("manifest.json", b'0', &m, ""),
                (&escape_rel, b'0', b"abc", ""),
            ]),
            "has a .. component",
        ),
        (
            "absolute path",
            tar_bytes(&[("manifest.json", b'0', &m, ""), (&abs, b'0', b"abc", "")]),
            "is absolute",
        ),
        (
            "symlink",
            tar_bytes(&[
                ("manifest.json", b'0', &m, ""),
                ("artifacts/a.bin", b'2', b"", "/etc/passwd"),
            ]),
            "symbolic link",
        ),
        (
            "hard link",
            tar_bytes(&[
                ("manifest.json", b'0', &m, ""),
                ("artifacts/a.bin", b'1', b"", "manifest.json"),
            ]),
            "hard link",
        ),
        (
            "duplicate entry",
            tar_bytes(&[
                ("manifest.json", b'0', &m, ""),
                ("artifacts/a.bin", b'0', b"abc", ""),
                ("artifacts/a.bin", b'0', b"abc", ""),
            ]),
            "appears twice",
        ),
        (
            "manifest not first",
            tar_bytes(&[
                ("artifacts/a.bin", b'0', b"abc", ""),
                ("manifest.json", b'0', &m, ""),
            ]),
            "must be the first file",
        ),
        (
            "a fifo",
            tar_bytes(&[
                ("manifest.json", b'0', &m, ""),
                ("artifacts/a.bin", b'6', b"", ""),
            ]),
            "FIFO",
        ),
    ];
    for (what, bytes, needle) in cases {
        let path = dir.path().join("h.tar");
        std::fs::write(&path, &bytes).unwrap();
        let r = verify(&path, &[]);
        assert_eq!(r.code, 2, "{what}: {}", r.dump());
        assert_eq!(
            r.codes("unknown"),
            set(&["bundle_entry_invalid"]),
            "{what}: {}",
            r.dump()
        );
        assert!(r.stderr.contains(needle), "{what}: {}", r.stderr);
        assert!(!escape.exists(), "{what}: wrote outside");
    }

    // An entry whose data is cut short: refused, not hung.
    let mut cut = tar_bytes(&[
        ("manifest.json", b'0', &m, ""),
        ("artifacts/a.bin", b'0', &[1u8; 3000], ""),
    ]);
    cut.truncate(512 * 3 + 100);
    let path = dir.path().join("cut.tar");
    std::fs::write(&path, &cut).unwrap();
    let r = verify(&path, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.stderr.contains("cut short"), "{}", r.stderr);

    // An oversized entry (larger than the manifest says) is a size mismatch, not unpacked.
    let big = tar_bytes(&[
        ("manifest.json", b'0', &m, ""),
        ("artifacts/a.bin", b'0', &[7u8; 5000], ""),
    ]);
    std::fs::write(&path, &big).unwrap();
    let r = verify(&path, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.failing().contains("bundle_size_mismatch"), "{}", r.dump());

    // Control: the same tar with the right entry is intact (exit 2 only because the bundle
    // holds no ledger, which the ledger check reports).
    let ok = tar_bytes(&[
        ("manifest.json", b'0', &m, ""),
        ("artifacts/a.bin", b'0', b"abc", ""),
    ]);
    std::fs::write(&path, &ok).unwrap();
    let r = verify(&path, &[]);
    let manifest_checks = r.check("bundle.manifest");
    assert_eq!(manifest_checks.len(), 1, "{}", r.dump());
    assert_eq!(manifest_checks[0]["outcome"], "pass", "{}", r.dump());
}

/// A manifest far beyond the limit (a million entries would be ~250 MB) is refused from its
/// header's size before a byte of it is read: bounded memory, a clear message, exit 2.
#[test]
fn a_huge_manifest_is_refused_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // Tar form: the header claims 300 MB and no data follows.
    let mut t = header("manifest.json", b'0', 300_000_000, "");
    t.extend([0u8; 1024]);
    let path = dir.path().join("huge.tar");
    std::fs::write(&path, &t).unwrap();
    let r = verify(&path, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert_eq!(r.codes("unknown"), set(&["bundle_manifest_invalid"]));
    assert!(r.stderr.contains("more than the limit"), "{}", r.stderr);
    // Directory form: a sparse 300 MB manifest.json.
    let root = dir.path().join("b");
    std::fs::create_dir(&root).unwrap();
    let f = std::fs::File::create(root.join("manifest.json")).unwrap();
    f.set_len(300_000_000).unwrap();
    let r = verify(&root, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.stderr.contains("more than the limit"), "{}", r.stderr);
}

/// Tiered copies: byte-identical passes; diverged rows fail (`ledger_tiers_mismatch`); a
/// manifest that claims otherwise fails too (`bundle_claim_mismatch`).
#[test]
fn tiered_copies_are_compared() {
    let tiered = |cmp: &str| {
        json!({"comparison": cmp, "copies": [
            {"path": "ledger/state.redb", "tier": "s3"},
            {"path": "ledger/valkey.redb", "tier": "valkey"}]})
    };
    // Identical.
    let s = Scenario::new();
    s.write();
    build(&s, Wh::None);
    copy(&s.ledger(), &bundle_root(&s).join("ledger/valkey.redb"));
    remanifest(&s, tiered("byte_identical"));
    let r = verify(&bundle_root(&s), &[]);
    let t = r.check("bundle.tiers");
    assert_eq!(t.len(), 1, "{}", r.dump());
    assert_eq!(t[0]["outcome"], "pass", "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());

    // The second tier is an older state: only run 1.
    let valkey = bundle_root(&s).join("ledger/valkey.redb");
    std::fs::remove_file(&valkey).unwrap();
    util::write_ledger(
        &valkey,
        &s.metadata,
        &[(
            "run_history",
            vec![(util::RUN1.to_owned(), serde_json::to_vec(&s.run1).unwrap())],
        )],
    );
    remanifest(&s, tiered("diverged"));
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["ledger_tiers_mismatch"]), "{}", r.dump());
    // The same, claimed identical by the manifest.
    remanifest(&s, tiered("byte_identical"));
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(
        r.failing(),
        set(&["ledger_tiers_mismatch", "bundle_claim_mismatch"]),
        "{}",
        r.dump()
    );
}

/// Warehouse facts instead of a DuckDB file: row counts and columns are checked from them;
/// a wrong count in the facts fails as it would against the database.
#[test]
fn warehouse_facts_stand_in_for_the_database() {
    let s = Scenario::new();
    s.write();
    build(&s, Wh::Facts(facts([4, 10, 3])));
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let rows = r.check("warehouse.row_count");
    assert!(
        !rows.is_empty() && rows.iter().all(|c| c["outcome"] == "pass"),
        "{}",
        r.dump()
    );
    assert!(
        r.check("warehouse.columns")
            .iter()
            .any(|c| c["outcome"] == "pass"),
        "{}",
        r.dump()
    );
    // Tamper: the facts say 9 rows of seed_events (the ledger recorded 10).
    let s = Scenario::new();
    s.write();
    build(&s, Wh::Facts(facts([4, 9, 3])));
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(r.failing().contains("row_count_mismatch"), "{}", r.dump());
    // A table the facts do not list is could-not-check, never missing.
    let mut f = facts([4, 10, 3]);
    f["tables"].as_array_mut().unwrap().remove(1);
    let s = Scenario::new();
    s.write();
    build(&s, Wh::Facts(f));
    let r = verify(&bundle_root(&s), &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(r.failing().is_empty(), "{}", r.dump());
    assert!(
        r.codes("unknown").contains("warehouse_invalid"),
        "{}",
        r.dump()
    );
}

/// `--pseudonymize`: identities, hosts and commit e-mails vanish from every format; one key
/// gives one pseudonym, another key another.
#[test]
fn pseudonymized_reports_hide_people_in_every_format() {
    let s = Scenario::new();
    s.write();
    build(&s, Wh::Duckdb);
    let key1 = s.path("k1");
    let key2 = s.path("k2");
    std::fs::write(&key1, "11".repeat(32)).unwrap();
    std::fs::write(&key2, [2u8; 32]).unwrap();
    let root = bundle_root(&s).display().to_string();
    let plain = verify(&bundle_root(&s), &[]);
    assert!(plain.stdout.contains("alice"), "control shows the identity");
    let a = verify(
        &bundle_root(&s),
        &["--pseudonymize", &key1.display().to_string()],
    );
    let b = verify(
        &bundle_root(&s),
        &["--pseudonymize", &key1.display().to_string()],
    );
    let c = verify(
        &bundle_root(&s),
        &["--pseudonymize", &key2.display().to_string()],
    );
    assert_eq!(a.code, 0, "{}", a.dump());
    assert!(!a.stdout.contains("alice"), "{}", a.stdout);
    assert!(a.stdout.contains("anon-"), "{}", a.stdout);
    assert_eq!(a.stdout, b.stdout, "same key, same pseudonyms");
    assert_ne!(a.stdout, c.stdout, "another key, other pseudonyms");
    // The gate's every format.
    let out = |n: &str| s.path(n).display().to_string();
    let g = util::run_bin(
        &util::args(&[
            "gate",
            "--bundle",
            &root,
            "--pseudonymize",
            &key1.display().to_string(),
            "--junit",
            &out("g.xml"),
            "--sarif",
            &out("g.sarif"),
            "--markdown",
            &out("g.md"),
            "--github",
        ]),
        None,
    );
    assert_eq!(g.code, 0, "{}", g.dump());
    for text in [
        g.stdout.clone(),
        std::fs::read_to_string(out("g.xml")).unwrap(),
        std::fs::read_to_string(out("g.sarif")).unwrap(),
        std::fs::read_to_string(out("g.md")).unwrap(),
    ] {
        for original in ["alice", "ci-01", "t@example.com"] {
            assert!(!text.contains(original), "{original} leaked:\n{text}");
        }
    }
    // A malformed key is a usage error before anything runs.
    std::fs::write(&key2, b"short").unwrap();
    let r = util::run_bin(
        &util::args(&[
            "run",
            RUN2,
            "--bundle",
            &root,
            "--pseudonymize",
            &key2.display().to_string(),
        ]),
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("32 bytes"), "{}", r.stderr);
}

/// `warehouse-sql` prints the queries for the tables the run wrote, and the DuckDB form runs on
/// the scenario's warehouse and gives the counts the ledger recorded.
#[test]
fn warehouse_sql_prints_runnable_queries() {
    let s = Scenario::new();
    s.write();
    let r = util::run_bin(
        &util::args(&[
            "warehouse-sql",
            "--dialect",
            "duckdb",
            "--run",
            RUN2,
            "--ledger",
            &s.ledger().display().to_string(),
        ]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(
        r.stdout.contains("'seed_events' AS table_name"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("'stg_orders' AS table_name"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("raw_orders"),
        "run 1's table is not in scope"
    );
    let counts = r
        .stdout
        .split(";\n")
        .find(|q| q.contains("row_count"))
        .unwrap();
    let conn = duckdb::Connection::open(s.path("tgt.duckdb")).unwrap();
    let rows: Vec<(String, i64)> = conn
        .prepare(counts)
        .unwrap()
        .query_map([], |row| Ok((row.get(2)?, row.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![("seed_events".to_owned(), 10), ("stg_orders".to_owned(), 3)]
    );
    for d in ["snowflake", "databricks", "bigquery"] {
        let r = util::run_bin(
            &util::args(&[
                "warehouse-sql",
                "--dialect",
                d,
                "--run",
                RUN2,
                "--ledger",
                &s.ledger().display().to_string(),
            ]),
            None,
        );
        assert_eq!(r.code, 0, "{d}: {}", r.dump());
        assert!(r.stdout.contains("COUNT(*) AS row_count"), "{d}");
    }
    let r = util::run_bin(
        &util::args(&[
            "warehouse-sql",
            "--dialect",
            "duckdb",
            "--run",
            "run-nope",
            "--ledger",
            &s.ledger().display().to_string(),
        ]),
        None,
    );
    assert_eq!(r.code, 2);
}
