//! Issue 16 item 4: what a model's relation is and what it holds. A table swapped for a view over
//! the same rows, a same-count `UPDATE` of a content-addressed table, column order and a `NOT
//! NULL` the IR does not declare; each against the untampered control.

use crate::util::{RUN2, Scenario, set, warehouse_sql};

fn outcomes(r: &crate::util::Run, check: &str) -> Vec<(String, String)> {
    r.check(check)
        .iter()
        .map(|c| {
            (
                c["subject"]["model"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_control_passes_kind_and_content_for_every_content_addressed_model() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    for check in ["warehouse.kind", "warehouse.content"] {
        let mut got = outcomes(&r, check);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("seed_events".to_owned(), "pass".to_owned()),
                ("stg_orders".to_owned(), "pass".to_owned())
            ],
            "{check}\n{}",
            r.dump()
        );
    }
}

#[test]
fn a_table_replaced_by_a_view_with_the_same_rows_fails() {
    let s = Scenario::new();
    s.write();
    warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE raw.stg_orders RENAME TO stg_orders_copy; \
         CREATE VIEW raw.stg_orders AS SELECT * FROM raw.stg_orders_copy;",
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(r.failing(), set(&["table_kind_mismatch"]), "{}", r.dump());
    // The rows, count and columns are the same: only the kind tells.
    assert!(
        outcomes(&r, "warehouse.content")
            .iter()
            .all(|(_, o)| o == "pass"),
        "{}",
        r.dump()
    );
}

#[test]
fn a_view_strategy_must_be_a_view() {
    // Control: materialization view and a view in the warehouse.
    let mut s = Scenario::new();
    s.run2_model("seed_events")["materialization"] = serde_json::json!("view");
    s.write();
    warehouse_sql(
        &s.path("tgt.duckdb"),
        "ALTER TABLE raw.seed_events RENAME TO seed_copy; \
         CREATE VIEW raw.seed_events AS SELECT * FROM raw.seed_copy;",
    );
    let r = s.verify(RUN2, &[]);
    assert!(
        outcomes(&r, "warehouse.kind").contains(&("seed_events".to_owned(), "pass".to_owned())),
        "{}",
        r.dump()
    );
    assert!(!r.failing().contains("table_kind_mismatch"), "{}", r.dump());

    // The same claim with a base table there.
    let mut s = Scenario::new();
    s.run2_model("seed_events")["materialization"] = serde_json::json!("view");
    s.write();
    let r = s.verify(RUN2, &[]);
    assert!(r.failing().contains("table_kind_mismatch"), "{}", r.dump());
}

#[test]
fn a_same_count_update_of_a_content_addressed_table_fails() {
    let s = Scenario::new();
    s.write();
    warehouse_sql(
        &s.path("tgt.duckdb"),
        "UPDATE raw.stg_orders SET customer_id = 99 WHERE order_id = 2;",
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 1, "{}", r.dump());
    assert_eq!(
        r.failing(),
        set(&["table_content_mismatch"]),
        "{}",
        r.dump()
    );
    let c = r.check("warehouse.content");
    let bad = c.iter().find(|c| c["outcome"] == "fail").unwrap();
    assert_eq!(bad["subject"]["model"], "stg_orders");
    assert_eq!(bad["actual"]["rows_only_in_table"], 1);
    assert_eq!(bad["expected"]["rows_only_in_artifact"], 1);
}

#[test]
fn a_duplicated_row_swapped_for_another_is_a_content_mismatch() {
    // Same count, same set of distinct values on one side: multiset comparison catches it.
    let s = Scenario::new();
    s.write();
    warehouse_sql(
        &s.path("tgt.duckdb"),
        "DELETE FROM raw.stg_orders WHERE order_id = 3; INSERT INTO raw.stg_orders VALUES (1, 7);",
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(
        r.failing(),
        set(&["table_content_mismatch"]),
        "{}",
        r.dump()
    );
}

#[test]
fn without_artifacts_the_content_is_unverifiable_not_passed() {
    let s = Scenario::new();
    s.write();
    let r = s.verify(RUN2, &["--artifacts", s.path("nowhere").to_str().unwrap()]);
    // The folder is missing: artifact checks are unknown; the content is not claimed.
    assert!(
        outcomes(&r, "warehouse.content")
            .iter()
            .all(|(_, o)| o != "pass"),
        "{}",
        r.dump()
    );
}

#[test]
fn column_order_and_an_undeclared_not_null_are_reported_not_failed() {
    let s = Scenario::new();
    s.write();
    warehouse_sql(
        &s.path("tgt.duckdb"),
        "CREATE TABLE raw.stg_tmp AS SELECT customer_id, order_id FROM raw.stg_orders; \
         DROP TABLE raw.stg_orders; \
         CREATE TABLE raw.stg_orders (customer_id BIGINT NOT NULL, order_id BIGINT); \
         INSERT INTO raw.stg_orders SELECT * FROM raw.stg_tmp; DROP TABLE raw.stg_tmp;",
    );
    let r = s.verify(RUN2, &[]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let unv = r.codes("unverifiable");
    assert!(unv.contains("column_order_unexpected"), "{}", r.dump());
    assert!(
        unv.contains("column_nullability_unexpected"),
        "{}",
        r.dump()
    );
    // The rows are compared by name, so the reordering changes nothing in them.
    assert!(
        outcomes(&r, "warehouse.content").contains(&("stg_orders".to_owned(), "pass".to_owned())),
        "{}",
        r.dump()
    );
}
