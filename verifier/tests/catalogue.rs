//! The check catalogue (`src/checks/catalogue.rs`) against `spec/report.md`, both ways: every
//! check id, every finding code, and which checks carry which code. A check or code added on one
//! side only, or a (code, check) pair the spec does not list, fails here.

use std::collections::{BTreeMap, BTreeSet};

use rocky_verify::checks::catalogue::{CheckId, Code};

use crate::util::manifest_dir;

/// The rows of the markdown table under `heading` (up to the next heading): cells, trimmed.
fn table(spec: &str, heading: &str) -> Vec<Vec<String>> {
    let start = spec
        .find(heading)
        .unwrap_or_else(|| panic!("spec/report.md has no {heading:?}"));
    spec[start + heading.len()..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The backticked names in a cell.
fn ticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn spec() -> String {
    std::fs::read_to_string(manifest_dir().join("../spec/report.md")).expect("spec/report.md")
}

#[test]
fn the_checks_table_is_the_catalogue() {
    let spec = spec();
    let rows = table(&spec, "## Checks\n");
    let in_spec: BTreeMap<String, String> = rows
        .iter()
        .map(|r| (ticked(&r[0]).into_iter().next().unwrap(), r[1].clone()))
        .collect();
    let in_code: BTreeMap<String, String> = CheckId::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.about().to_owned()))
        .collect();
    assert_eq!(rows.len(), in_spec.len(), "a check is listed twice");
    assert_eq!(in_spec, in_code, "spec/report.md 'Checks' vs the catalogue");
}

#[test]
fn the_codes_table_is_the_catalogue_with_the_same_checks_per_code() {
    let spec = spec();
    let emitted: BTreeMap<String, BTreeSet<String>> = table(&spec, "## Finding codes\n")
        .iter()
        .map(|r| (ticked(&r[0]).into_iter().next().unwrap(), ticked(&r[1])))
        .collect();
    let in_code: BTreeMap<String, BTreeSet<String>> = Code::ALL
        .iter()
        .filter(|c| !c.checks().is_empty())
        .map(|c| {
            let checks = c.checks().iter().map(|k| k.as_str().to_owned()).collect();
            (c.as_str().to_owned(), checks)
        })
        .collect();
    assert_eq!(
        emitted, in_code,
        "spec/report.md 'Finding codes' vs the catalogue"
    );

    // Reserved codes: in the catalogue (records and vectors use them) but carried by no check.
    let reserved: BTreeSet<String> = table(&spec, "### Reserved codes\n")
        .iter()
        .map(|r| ticked(&r[0]).into_iter().next().unwrap())
        .collect();
    let in_code: BTreeSet<String> = Code::ALL
        .iter()
        .filter(|c| c.checks().is_empty())
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(
        reserved, in_code,
        "spec/report.md 'Reserved codes' vs the catalogue"
    );

    // A planned check id must not already be a check: once it is, its code moves up.
    for r in table(&spec, "### Reserved codes\n") {
        for planned in ticked(&r[1]) {
            assert!(
                CheckId::ALL.iter().all(|c| c.as_str() != planned),
                "{planned} is emitted now: move its code to the 'Finding codes' table"
            );
        }
    }
}

#[test]
fn the_tables_parse_as_tables() {
    // Control: the parser above sees the rows it should, so an empty parse cannot pass.
    let spec = spec();
    assert!(table(&spec, "## Checks\n").len() > 40);
    assert!(table(&spec, "## Finding codes\n").len() > 60);
    assert_eq!(table(&spec, "### Reserved codes\n").len(), 1);
}
