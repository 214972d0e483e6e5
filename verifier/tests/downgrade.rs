//! Issue 16 item 2: a claim that was checkable in a model's previous run and is not now is a
//! `gate.downgrade` finding (a warning, a failure when the policy says so); `[require]` asks a
//! minimum proof per claim; `hash_scheme` and the shape of `sql_hash` agree (`run` and `gate`).
//! Every tamper is compared with the untampered control.

use serde_json::{Value, json};

use crate::util::{self, RUN1, RUN2, Run, Scenario, set};

/// The scenario with `stg_orders` also executed in run 1, so it has a previous run to compare
/// with (same content, same artifact file: content addressing dedups it).
fn two_runs_of_stg() -> Scenario {
    let mut s = Scenario::new();
    let mut prev = s.run2_model("stg_orders").clone();
    prev["started_at"] = json!("2026-05-29T09:00:01.600Z");
    prev["finished_at"] = json!("2026-05-29T09:00:01.900Z");
    prev["duration_ms"] = json!(300);
    s.run1["models_executed"].as_array_mut().unwrap().push(prev);
    let stg = s.model("stg_orders");
    let path = format!("artifacts/{}.parquet", stg.hash);
    let row = json!({
        "blake3_hash": stg.hash, "run_id": RUN1, "model_name": "stg_orders", "file_path": path,
        "commit_version": 0, "size_bytes": stg.parquet.len(), "written_at": "2026-05-29T09:00:01.950Z",
    });
    s.artifacts.push((format!("{RUN1}|stg_orders|{path}"), row));
    s
}

fn gate(s: &Scenario, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["gate".into(), "--json".into()];
    for (flag, rel) in [
        ("--ledger", ".rocky-state.redb"),
        ("--repo", "repo"),
        ("--warehouse", "tgt.duckdb"),
        ("--artifacts", "artifacts"),
    ] {
        if extra.contains(&flag) {
            continue;
        }
        args.push(flag.into());
        args.push(s.path(rel).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    util::run_bin(&args, None)
}

fn policy(s: &Scenario, text: &str) -> String {
    let p = s.path("rocky-verify.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The claims `gate.downgrade` reported, with their outcome.
fn downgrades(r: &Run) -> Vec<(String, String)> {
    r.check("gate.downgrade")
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| {
            (
                c["actual"]["claim"].as_str().unwrap_or_default().to_owned(),
                c["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_control_compares_the_previous_run_and_finds_no_downgrade() {
    let s = two_runs_of_stg();
    s.write();
    let r = gate(&s, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(
        r.failing().is_empty() && r.codes("warn").is_empty(),
        "{}",
        r.dump()
    );
    let passed = r.check("gate.downgrade");
    assert_eq!(passed.len(), 1, "{}", r.dump());
    assert_eq!(passed[0]["outcome"], "pass");
    assert_eq!(passed[0]["actual"], 1, "one model run had a previous run");
    // The gate says which runs it covered.
    assert_eq!(
        r.summary()["gate"]["run_ids"],
        json!([RUN1, RUN2]),
        "{}",
        r.dump()
    );
}

/// Applies `edit` to run 2's record and `stg_orders` entry; returns the gate's report.
fn tampered(edit: impl FnOnce(&mut Value, &mut Value), extra: &[&str]) -> Run {
    let mut s = two_runs_of_stg();
    let mut run = s.run2.clone();
    let mut m = s.run2_model("stg_orders").clone();
    edit(&mut run, &mut m);
    s.run2 = run;
    *s.run2_model("stg_orders") = m;
    s.write();
    let extra: Vec<String> = extra
        .iter()
        .map(|a| {
            if *a == "POLICY_FAIL" {
                policy(&s, "downgrade = \"fail\"\n")
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
    if !extra.is_empty() && extra[0].ends_with(".toml") {
        args.insert(0, "--policy");
    }
    gate(&s, &args)
}

#[test]
fn each_downgrade_of_the_issue_is_a_warning_by_default() {
    type Edit = fn(&mut Value, &mut Value);
    let cases: [(&str, Edit, &str); 6] = [
        (
            "git_commit null",
            |r, _| r["git_commit"] = Value::Null,
            "git.commit",
        ),
        (
            "config_hash unknown",
            |r, _| r["config_hash"] = json!("unknown"),
            "git.config_hash",
        ),
        (
            "config_blake3 removed",
            |r, _| {
                r.as_object_mut().unwrap().remove("config_blake3");
            },
            "git.config_blake3",
        ),
        (
            "sql_hash as a fingerprint under the strong scheme",
            |_, m| m["sql_hash"] = json!("0123456789abcdef"),
            "model.sql_hash",
        ),
        (
            "hash_scheme downgraded to v1",
            |_, m| m["hash_scheme"] = json!("v1"),
            "model.sql_hash",
        ),
        (
            "content_addressed relabelled incremental",
            |_, m| m["materialization"] = json!("incremental"),
            "warehouse.row_count",
        ),
    ];
    for (what, edit, claim) in cases {
        let r = tampered(edit, &[]);
        assert_eq!(
            downgrades(&r),
            vec![(claim.to_owned(), "warn".to_owned())],
            "{what}\n{}",
            r.dump()
        );
        assert!(
            r.codes("warn").contains("proof_downgrade_unexpected"),
            "{what}"
        );
        // With the policy's `downgrade = "fail"` the same edit fails the gate.
        let r = tampered(edit, &["POLICY_FAIL"]);
        assert_eq!(r.code, 1, "{what}\n{}", r.dump());
        assert_eq!(
            downgrades(&r),
            vec![(claim.to_owned(), "fail".to_owned())],
            "{what}\n{}",
            r.dump()
        );
    }
}

#[test]
fn hash_scheme_and_the_hash_shape_must_agree_in_run_too() {
    // Control: the strong scheme with a 64-hex hash passes.
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN2, &[]);
    assert!(r.failing().is_empty(), "{}", r.dump());

    for (scheme, hash) in [
        (json!("v1"), json!(util::blake3_hex(b"x"))),
        (Value::Null, json!(util::blake3_hex(b"x"))),
        (json!("v1+blake3-sql"), json!("0123456789abcdef")),
    ] {
        let mut s = Scenario::new();
        s.run2_model("stg_orders")["hash_scheme"] = scheme.clone();
        s.run2_model("stg_orders")["sql_hash"] = hash.clone();
        s.write();
        let r = s.verify(RUN2, &[]);
        assert_eq!(r.code, 1, "{scheme} {hash}\n{}", r.dump());
        assert!(r.failing().contains("sql_hash_invalid"), "{}", r.dump());
    }
}

#[test]
fn require_asks_a_minimum_proof_per_claim() {
    let s = two_runs_of_stg();
    s.write();
    // rocky-writer's strong sql_hash is bytes-verified: recomputed is met.
    let p = policy(
        &s,
        "[require]\n\"model.sql_hash\" = \"recomputed\"\n\"git.commit\" = \"present\"\n",
    );
    let r = gate(&s, &["--policy", &p]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let req = r.check("gate.require");
    assert_eq!(req.len(), 2, "{}", r.dump());
    assert!(req.iter().all(|c| c["outcome"] == "pass"), "{}", r.dump());

    // Without --repo no sql_hash check runs: the requirement cannot be established (exit 2).
    let r = gate(
        &s,
        &[
            "--policy",
            &p,
            "--repo",
            s.path("nowhere").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.dump());
    assert!(
        r.codes("unknown").contains("proof_required_missing"),
        "{}",
        r.dump()
    );

    // A null git_commit in the latest run: `present` fails, and the downgrade of a required
    // claim fails too.
    let r = tampered(
        |run, _| run["git_commit"] = Value::Null,
        &[&policy(&s, "[require]\n\"git.commit\" = \"present\"\n")],
    );
    assert_eq!(r.code, 1, "{}", r.dump());
    assert!(
        r.failing().contains("proof_required_missing"),
        "{}",
        r.dump()
    );
    assert_eq!(
        downgrades(&r),
        vec![("git.commit".to_owned(), "fail".to_owned())],
        "{}",
        r.dump()
    );
}

#[test]
fn a_fingerprint_does_not_meet_recomputed() {
    // Rocky's own shape: a 16-hex sql_hash and no scheme, recomputed only as a fingerprint.
    let mut s = Scenario::new();
    for m in s.run2["models_executed"].as_array_mut().unwrap() {
        m["hash_scheme"] = Value::Null;
        m["sql_hash"] = json!("0123456789abcdef");
    }
    s.write();
    let p = policy(&s, "[require]\n\"model.sql_hash\" = \"recomputed\"\n");
    let r = gate(&s, &["--policy", &p]);
    let req = r.check("gate.require");
    assert!(
        req.iter().any(|c| c["outcome"] != "pass"),
        "a fingerprint never meets recomputed\n{}",
        r.dump()
    );
    assert_eq!(
        set(&[]),
        r.codes("warn"),
        "no previous run of these models: nothing to downgrade\n{}",
        r.dump()
    );
}
