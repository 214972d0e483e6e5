//! Properties: canonical JSON is idempotent and order-insensitive; every hashed field changes
//! its hash; upstream order does not change `input_hash`; `skip_hash` ignores SQL layout while
//! `recipe_hash` does not; ledger records survive a serialise/parse round trip.

use proptest::prelude::*;
use serde_json::{Map, Value};

use rocky_writer::canon::{parse_strict, to_canonical_string};
use rocky_writer::identity::{self, Adapter};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::records::{UpstreamIdentity, WatermarkState, ts};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e300f64..1.0e300).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}é😀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,6}", inner), 0..6).prop_map(|entries| Value::Object(
                entries.into_iter().collect::<Map<String, Value>>()
            )),
        ]
    })
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}"
}

fn table_ref() -> impl Strategy<Value = TableRef> {
    (ident(), ident(), ident()).prop_map(|(c, s, t)| TableRef::new(c, s, t))
}

fn ir() -> impl Strategy<Value = ModelIr> {
    (
        ident(),
        ident(),
        table_ref(),
        prop::collection::vec((ident(), any::<bool>()), 1..4),
    )
        .prop_map(|(name, col, target, cols)| {
            ModelIr::new(
                name,
                // The `c_` prefix keeps a generated name from being a keyword (`from`, `end`,
                // `select`), which would make the SQL unparseable and `skip_hash` absent.
                format!("SELECT c_{col} FROM cat.sch.src WHERE c_{col} > 0"),
                target,
                MaterializationStrategy::ContentAddressed {
                    storage_prefix: "s3://b/p".into(),
                    partition_columns: vec![],
                },
                cols.into_iter()
                    .map(|(n, nullable)| TypedColumn {
                        name: n,
                        data_type: RockyType::Int64,
                        nullable,
                    })
                    .collect(),
            )
        })
}

fn upstreams() -> impl Strategy<Value = Vec<UpstreamIdentity>> {
    prop::collection::btree_set(table_ref().prop_map(|t| t.key()), 0..6)
        .prop_flat_map(|keys| {
            let n = keys.len();
            (
                Just(keys),
                prop::collection::vec((any::<bool>(), any::<[u8; 32]>(), any::<Option<u32>>()), n),
            )
        })
        .prop_map(|(keys, details)| {
            keys.into_iter()
                .zip(details)
                .map(|(key, (content, bytes, rows))| {
                    if content {
                        UpstreamIdentity::Content {
                            upstream_key: key,
                            blake3_hash: blake3::hash(&bytes).to_hex().to_string(),
                        }
                    } else {
                        UpstreamIdentity::Watermark {
                            upstream_key: key,
                            max_ts: None,
                            row_count: rows.map(u64::from),
                        }
                    }
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn canonical_json_is_idempotent(v in json_value()) {
        let once = to_canonical_string(&v);
        let reparsed = parse_strict(&once).unwrap();
        prop_assert_eq!(to_canonical_string(&reparsed), once.clone());
        prop_assert!(rocky_writer::canon::is_canonical(&once).unwrap());
    }

    #[test]
    fn canonical_json_ignores_key_insertion_order(entries in prop::collection::btree_map("\\PC{0,6}", json_value(), 0..8)) {
        let forward: Map<String, Value> = entries.clone().into_iter().collect();
        let backward: Map<String, Value> = entries.into_iter().rev().collect();
        prop_assert_eq!(to_canonical_string(&Value::Object(forward)), to_canonical_string(&Value::Object(backward)));
    }

    #[test]
    fn upstream_order_does_not_change_input_hash(ups in upstreams(), seed in any::<u64>()) {
        let mut shuffled = ups.clone();
        // A deterministic Fisher-Yates from the seed.
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(
            identity::input_hash("skip", "a.b.c", &ups),
            identity::input_hash("skip", "a.b.c", &shuffled)
        );
        prop_assert_eq!(identity::proof_class(&ups), identity::proof_class(&shuffled));
    }

    #[test]
    fn changing_any_input_hash_field_changes_the_hash(ups in upstreams(), skip in "[0-9a-f]{64}", target in table_ref()) {
        let base = identity::input_hash(&skip, &target.key(), &ups);
        prop_assert_ne!(identity::input_hash(&format!("{skip}0"), &target.key(), &ups), base.clone());
        prop_assert_ne!(identity::input_hash(&skip, &format!("{}x", target.key()), &ups), base.clone());
        let mut more = ups.clone();
        more.push(UpstreamIdentity::Content { upstream_key: "zz.zz.zz".into(), blake3_hash: "0".repeat(64) });
        prop_assert_ne!(identity::input_hash(&skip, &target.key(), &more), base.clone());
        if let Some(UpstreamIdentity::Content { blake3_hash, .. }) = ups.first() {
            let mut changed = ups.clone();
            if let UpstreamIdentity::Content { blake3_hash: h, .. } = &mut changed[0] {
                *h = blake3::hash(blake3_hash.as_bytes()).to_hex().to_string();
            }
            prop_assert_ne!(identity::input_hash(&skip, &target.key(), &changed), base);
        }
    }

    #[test]
    fn changing_any_ir_field_changes_recipe_hash_and_hashed_fields_change_skip_hash(ir in ir(), which in 0usize..6) {
        let mut changed = ir.clone();
        let skip_should_change = match which {
            0 => { changed.name.push('x'); false }
            1 => { changed.sql.push(' '); false }
            2 => { changed.target.table.push('x'); true }
            3 => { changed.typed_columns[0].nullable ^= true; true }
            4 => { changed.governance.auto_create_schemas = true; true }
            _ => { changed.sql = changed.sql.replace("> 0", "> 1"); true }
        };
        prop_assert_ne!(changed.recipe_hash(), ir.recipe_hash());
        let (a, b) = (ir.skip_hash().unwrap(), changed.skip_hash().unwrap());
        if skip_should_change { prop_assert_ne!(a, b); } else { prop_assert_eq!(a, b); }
    }

    #[test]
    fn skip_hash_ignores_sql_layout_and_comments(ir in ir(), spaces in "[ \n\t]{1,4}") {
        let mut relaid = ir.clone();
        relaid.sql = format!("{spaces}{}{spaces}-- trailing comment", ir.sql.replace(' ', &format!(" /* c */{spaces}")));
        prop_assert_eq!(relaid.skip_hash(), ir.skip_hash());
        prop_assert_ne!(relaid.recipe_hash(), ir.recipe_hash());
    }

    #[test]
    fn env_hash_covers_version_and_adapter(v in "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}") {
        prop_assert_ne!(identity::env_hash(&v, Adapter::Duckdb), identity::env_hash(&format!("{v}.1"), Adapter::Duckdb));
        prop_assert_ne!(identity::env_hash(&v, Adapter::Duckdb), identity::env_hash(&v, Adapter::Trino));
    }

    #[test]
    fn timestamps_round_trip_through_records(secs in 0i64..4_102_444_800, nanos in 0u32..1_000_000_000) {
        let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
        let state = WatermarkState { last_value: t, updated_at: t };
        let text = serde_json::to_string(&state).unwrap();
        prop_assert_eq!(serde_json::from_str::<WatermarkState>(&text).unwrap(), state);
        prop_assert!(ts::format(&t).ends_with('Z'));
    }
}
