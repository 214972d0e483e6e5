//! AUDIT.md's DuckDB recipe for Rocky's column-mapped artifacts (the block after
//! `<!-- audit-column-mapping -->`), run as written against a real Rocky artifact
//! (`fixtures/rocky-column-mapping.parquet`, physical columns `col-id` / `col-name` with
//! `PARQUET:field_id` 1 / 2) and a Delta log whose `metaData` maps them: the recipe must show the
//! logical names, where a plain `SELECT *` shows the physical ones.

use crate::util::manifest_dir;

/// The SQL statements of AUDIT.md's column-mapping block.
fn recipe() -> Vec<String> {
    let audit = std::fs::read_to_string(manifest_dir().join("../AUDIT.md")).unwrap();
    let start = audit
        .find("<!-- audit-column-mapping -->")
        .expect("AUDIT.md has the column-mapping recipe");
    let block = &audit[start..];
    let body = &block[block.find("```sql\n").unwrap() + 7..];
    let body = &body[..body.find("```").unwrap()];
    body.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .collect()
}

#[test]
fn the_audit_recipe_reads_a_rocky_artifact_with_its_logical_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lake/orders");
    std::fs::create_dir_all(table.join("_delta_log")).unwrap();
    let file = "736713a2611f762af09ee4445c09157bcfdbf6e07145dd8edf2cfd203d8d5bf0.parquet";
    std::fs::copy(
        manifest_dir().join("tests/fixtures/rocky-column-mapping.parquet"),
        table.join(file),
    )
    .unwrap();
    let field = |name: &str, ty: &str, id: u32| {
        serde_json::json!({"name": name, "type": ty, "nullable": true, "metadata": {
            "delta.columnMapping.id": id, "delta.columnMapping.physicalName": format!("col-{name}")}})
    };
    let schema = serde_json::json!({"type": "struct",
        "fields": [field("id", "long", 1), field("name", "string", 2)]});
    let log = format!(
        "{}\n{}\n",
        serde_json::json!({"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}}),
        serde_json::json!({"metaData": {"id": "t", "format": {"provider": "parquet", "options": {}},
            "schemaString": schema.to_string(), "partitionColumns": [],
            "configuration": {"delta.columnMapping.mode": "name"}}}),
    );
    std::fs::write(table.join("_delta_log/00000000000000000000.json"), log).unwrap();

    let lake = format!("{}/lake/", dir.path().display());
    let statements: Vec<String> = recipe()
        .into_iter()
        .map(|s| s.replace("'lake/", &format!("'{lake}")))
        .collect();
    assert_eq!(statements.len(), 2, "{statements:#?}");
    let conn = duckdb::Connection::open_in_memory().unwrap();

    let mut mapping = conn.prepare(&statements[0]).unwrap();
    let rows: Vec<(String, String, i32)> = mapping
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("id".to_owned(), "col-id".to_owned(), 1),
            ("name".to_owned(), "col-name".to_owned(), 2)
        ]
    );

    let names = |sql: &str| -> (Vec<String>, usize) {
        let mut st = conn.prepare(sql).unwrap();
        let n = st.query_map([], |_| Ok(())).unwrap().count();
        (st.column_names(), n)
    };
    let (logical, n) = names(&statements[1]);
    assert_eq!(logical, ["id", "name"]);
    assert!(n > 0, "the artifact has rows");
    // Control: the same file read plainly shows Rocky's physical names.
    let (physical, m) = names(&format!(
        "SELECT * FROM read_parquet('{lake}orders/{file}')"
    ));
    assert_eq!(physical, ["col-id", "col-name"]);
    assert_eq!(n, m);
}
