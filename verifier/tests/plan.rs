//! The plan (`src/plan/`): what `run` and `gate` check, decided before checking. `--model` and
//! `--select` narrow the models (names, globs, dbt-style `+` lineage), the gate fails closed
//! when nothing would be checked, and a policy skip of a whole group of checks keeps it from
//! running. Each narrowing has the unnarrowed control beside it. Also the errors of issue 15
//! item 8 that the binary prints (mistyped run id, a folder as --warehouse).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{RUN1, RUN2, Run, Scenario, run_bin};

fn gate_with(s: &Scenario, sources: &[(&str, &str)], extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec![
        "gate".into(),
        "--json".into(),
        "--ledger".into(),
        s.ledger().display().to_string(),
    ];
    for (flag, rel) in sources {
        args.push((*flag).into());
        args.push(s.path(rel).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    run_bin(&args, None)
}

const ALL: &[(&str, &str)] = &[
    ("--repo", "repo"),
    ("--warehouse", "tgt.duckdb"),
    ("--artifacts", "artifacts"),
];

fn models_checked(r: &Run) -> BTreeSet<String> {
    r.checks()
        .iter()
        .filter_map(|c| c["subject"]["model"].as_str().map(str::to_owned))
        .collect()
}

fn empty_finding(r: &Run) -> Option<String> {
    r.check("gate.scope")
        .iter()
        .find(|c| c["code"] == "scope_empty_unexpected")
        .map(|c| c["reason"].as_str().unwrap_or_default().to_owned())
}

fn not_verified(r: &Run) -> Vec<String> {
    r.summary()["not_verified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_gate_that_checks_nothing_fails_closed_unless_allowed() {
    let s = Scenario::new();
    s.write();
    // Control: every source, the default scope: clean, exit 0.
    let full = gate_with(&s, ALL, &[]);
    assert_eq!(full.code, 0, "{}", full.dump());
    assert_eq!(empty_finding(&full), None);

    // No independent source at all.
    let bare = gate_with(&s, &[], &[]);
    assert_eq!(bare.code, 2, "{}", bare.dump());
    let why = empty_finding(&bare).expect("a scope_empty_unexpected finding");
    assert!(
        why.contains("no --warehouse, --artifacts, --repo or --checkpoint"),
        "{why}"
    );
    let allowed = gate_with(&s, &[], &["--allow-empty"]);
    assert_eq!(allowed.code, 0, "{}", allowed.dump());
    assert!(
        not_verified(&allowed)
            .iter()
            .any(|l| l.starts_with("nothing was checked (accepted by --allow-empty)"))
    );

    // A scope that selects no run, and a selector that matches no model.
    for extra in [
        &["--last", "0"][..],
        &["--since", "1h"],
        &["--model", "nope"],
    ] {
        let r = gate_with(&s, ALL, extra);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.dump());
        assert!(empty_finding(&r).is_some(), "{extra:?}: {}", r.dump());
        let mut more = extra.to_vec();
        more.push("--allow-empty");
        assert_eq!(gate_with(&s, ALL, &more).code, 0, "{more:?}");
    }
    let r = gate_with(&s, ALL, &["--model", "nope"]);
    assert!(
        empty_finding(&r)
            .unwrap()
            .contains("\"nope\" matches no model")
    );
}

#[test]
fn model_and_select_narrow_the_gate_and_follow_lineage() {
    let s = Scenario::new();
    s.write();
    let all = gate_with(&s, ALL, &[]);
    assert_eq!(
        models_checked(&all),
        ["raw_orders", "seed_events", "stg_orders"]
            .map(String::from)
            .into(),
        "{}",
        all.dump()
    );

    let one = gate_with(&s, ALL, &["--model", "stg_orders"]);
    assert_eq!(one.code, 0, "{}", one.dump());
    assert_eq!(
        models_checked(&one),
        BTreeSet::from(["stg_orders".to_owned()])
    );
    assert_eq!(one.summary()["gate"]["models"], 1);

    let glob = gate_with(&s, ALL, &["--model", "s*"]);
    assert_eq!(
        models_checked(&glob),
        ["seed_events", "stg_orders"].map(String::from).into()
    );

    // stg_orders read raw_orders' artifact (run 1): `+stg_orders` adds it, `raw_orders+` adds
    // stg_orders, and a plain name adds neither.
    let up = gate_with(&s, ALL, &["--select", "+stg_orders"]);
    assert_eq!(
        models_checked(&up),
        ["raw_orders", "stg_orders"].map(String::from).into(),
        "{}",
        up.dump()
    );
    assert_eq!(up.summary()["gate"]["runs"], 2);
    let down = gate_with(&s, ALL, &["--select", "raw_orders+"]);
    assert_eq!(
        models_checked(&down),
        ["raw_orders", "stg_orders"].map(String::from).into()
    );
    let plain = gate_with(&s, ALL, &["--select", "raw_orders"]);
    assert_eq!(
        models_checked(&plain),
        BTreeSet::from(["raw_orders".to_owned()])
    );

    // A malformed selector is a usage error (exit 2) from clap.
    let bad = run_bin(
        &["gate", "--select", "+"].map(String::from),
        Some(s.dir.path()),
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not a term"), "{}", bad.dump());
}

#[test]
fn run_takes_the_same_selector() {
    let s = Scenario::new();
    s.write();
    let all = s.verify(RUN2, &[]);
    assert_eq!(
        models_checked(&all),
        ["seed_events", "stg_orders"].map(String::from).into(),
        "{}",
        all.dump()
    );
    let one = s.verify(RUN2, &["--model", "seed_events"]);
    assert_eq!(one.code, 0, "{}", one.dump());
    assert_eq!(
        models_checked(&one),
        BTreeSet::from(["seed_events".to_owned()])
    );
    // The run record's own checks still run.
    assert!(!one.check("run.id").is_empty());

    let none = s.verify(RUN2, &["--model", "raw_orders"]);
    assert_eq!(none.code, 2, "{}", none.dump());
    let c = none.check("run.scope");
    assert_eq!(c.len(), 1, "{}", none.dump());
    assert_eq!(c[0]["code"], "scope_empty_unexpected");
    assert!(c[0]["reason"].as_str().unwrap().contains("seed_events"));
}

#[test]
fn a_policy_skip_of_a_whole_group_keeps_it_from_running() {
    let s = Scenario::new();
    s.write();
    std::fs::write(
        s.path("policy.toml"),
        "[[skip]]\ncheck = \"warehouse.*\"\nreason = \"no warehouse in this job\"\n",
    )
    .unwrap();
    let sources: Vec<(&str, &str)> = ALL
        .iter()
        .copied()
        .chain([("--policy", "policy.toml")])
        .collect();
    let r = gate_with(&s, &sources, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    assert!(
        r.checks()
            .iter()
            .all(|c| !c["check"].as_str().unwrap().starts_with("warehouse.")),
        "{}",
        r.dump()
    );
    assert!(
        not_verified(&r)
            .iter()
            .any(|l| l == "skipped by policy: warehouse.* (not run): no warehouse in this job"),
        "{}",
        r.dump()
    );
    // Control: without the policy the warehouse checks run.
    let control = gate_with(&s, ALL, &[]);
    assert!(!control.check("warehouse.row_count").is_empty());
}

#[test]
fn a_mistyped_run_id_gets_the_nearest_ids() {
    let s = Scenario::new();
    s.write();
    // One digit swapped in RUN2.
    let typo = RUN2.replace("643", "634");
    let r = s.verify(&typo, &[]);
    assert_eq!(r.code, 2, "{}", r.dump());
    let c = r.check("run.record");
    let reason = c[0]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("did you mean {RUN2}")), "{reason}");
    // Control: an id nothing resembles gets no guess.
    let r = s.verify("golden", &[]);
    let reason = r.check("run.record")[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!reason.contains("did you mean"), "{reason}");
    // --since takes the same hint.
    let r = gate_with(&s, ALL, &["--since", &RUN1.replace("run-", "run_")]);
    let scope: Vec<&Value> = r.check("gate.scope");
    assert!(
        scope.iter().any(|c| c["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("did you mean {RUN1}"))),
        "{}",
        r.dump()
    );
}

#[test]
fn a_folder_given_as_the_warehouse_is_named_a_directory() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(
        RUN2,
        &["--warehouse", &s.path("artifacts").display().to_string()],
    );
    let text = r
        .check("warehouse.open")
        .iter()
        .chain(r.check("warehouse.table").iter())
        .filter_map(|c| c["reason"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("is a directory"), "{}", r.dump());
    assert!(!text.contains("no such file"), "{text}");
}
