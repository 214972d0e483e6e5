//! Properties of `rocky_writer::rocky`: the type mapper ignores case and surrounding Unicode
//! whitespace and never invents nested types; `Unknown` is compatible with every type and the
//! verdict's compatibility is symmetric; text without a placeholder marker passes run-variable
//! and environment substitution unchanged; identifiers render on every dialect and anything
//! else is rejected; a run of trailing semicolons never reaches the surrogate-key wrap; consecutive
//! partition windows tile time; the recorded fingerprint is always that of the statements.

use std::collections::BTreeMap;

use proptest::prelude::*;

use rocky_writer::identity::{Adapter, sql_fingerprint};
use rocky_writer::ir::{RockyType, TableRef, TimeGrain, TypedColumn};
use rocky_writer::rocky::{
    self, ModelSpec, RunInputs, StrategyConfig, SurrogateKey, compatibility, map_warehouse_type,
    rocky_statements,
};

const ADAPTERS: [Adapter; 5] = [
    Adapter::Duckdb,
    Adapter::Databricks,
    Adapter::Snowflake,
    Adapter::Bigquery,
    Adapter::Trino,
];

/// Spellings the mapper knows, plus look-alikes it must not.
fn type_spelling() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "boolean",
            "bool",
            "tinyint",
            "byte",
            "smallint",
            "short",
            "int",
            "integer",
            "bigint",
            "long",
            "float",
            "real",
            "double",
            "double precision",
            "string",
            "varchar",
            "text",
            "binary",
            "date",
            "timestamp",
            "timestamp_ntz",
            "variant",
            "decimal",
            "numeric(10, 2)",
            "decimal(+7,+3)",
            "int64",
            "timestamp with time zone",
            "varchar(10)",
            "array<int>",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_ (),0-9<>]{0,20}",
    ]
}

/// An ASCII case scramble: full Unicode case mapping is not an involution, ASCII's is.
fn scramble_case(s: &str, flips: &[bool]) -> String {
    s.chars()
        .zip(flips.iter().cycle())
        .map(|(c, flip)| {
            if *flip {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

fn white_space() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{2028}',
        ]),
        0..4,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn rocky_type() -> impl Strategy<Value = RockyType> {
    let leaf = prop_oneof![
        Just(RockyType::Boolean),
        Just(RockyType::Int32),
        Just(RockyType::Int64),
        Just(RockyType::Float32),
        Just(RockyType::Float64),
        Just(RockyType::String),
        Just(RockyType::Date),
        Just(RockyType::Timestamp),
        Just(RockyType::TimestampNtz),
        Just(RockyType::Binary),
        Just(RockyType::Variant),
        Just(RockyType::Unknown),
        (any::<u8>(), any::<u8>())
            .prop_map(|(precision, scale)| RockyType::Decimal { precision, scale }),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| RockyType::Array(Box::new(t))),
            (inner.clone(), inner.clone())
                .prop_map(|(k, v)| RockyType::Map(Box::new(k), Box::new(v))),
            prop::collection::vec(("[a-z]{1,4}", inner, any::<bool>()), 0..3).prop_map(|cols| {
                RockyType::Struct(
                    cols.into_iter()
                        .map(|(name, data_type, nullable)| TypedColumn {
                            name,
                            data_type,
                            nullable,
                        })
                        .collect(),
                )
            }),
        ]
    })
}

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,10}"
}

fn non_ident() -> impl Strategy<Value = String> {
    // At least one character outside [A-Za-z0-9_], or empty.
    prop_oneof![
        Just(String::new()),
        ("[A-Za-z0-9_]{0,4}", "[-. ;\"'`é/]", "[A-Za-z0-9_]{0,4}")
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
    ]
}

fn grain() -> impl Strategy<Value = TimeGrain> {
    prop::sample::select(vec![
        TimeGrain::Hour,
        TimeGrain::Day,
        TimeGrain::Month,
        TimeGrain::Year,
    ])
}

/// The canonical partition-key format of a grain.
fn key_format(grain: TimeGrain) -> &'static str {
    match grain {
        TimeGrain::Hour => "%Y-%m-%dT%H",
        TimeGrain::Day => "%Y-%m-%d",
        TimeGrain::Month => "%Y-%m",
        TimeGrain::Year => "%Y",
    }
}

/// The canonical key of the partition holding the instant `days` days and `hours` hours after
/// 2000-01-01.
fn key_at(grain: TimeGrain, days: i64, hours: i64) -> String {
    let t = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::TimeDelta::days(days)
        + chrono::TimeDelta::hours(hours);
    t.format(key_format(grain)).to_string()
}

proptest! {
    #[test]
    fn type_mapping_ignores_ascii_case_and_surrounding_white_space(
        s in type_spelling(),
        flips in prop::collection::vec(any::<bool>(), 1..8),
        before in white_space(),
        after in white_space(),
    ) {
        let base = map_warehouse_type(&s);
        prop_assert_eq!(map_warehouse_type(&scramble_case(&s, &flips)), base.clone());
        prop_assert_eq!(map_warehouse_type(&format!("{before}{s}{after}")), base);
    }

    #[test]
    fn type_mapping_never_produces_nested_types(s in "\\PC{0,24}") {
        let t = map_warehouse_type(&s);
        prop_assert!(
            !matches!(t, RockyType::Array(_) | RockyType::Map(..) | RockyType::Struct(_)),
            "{:?} -> {:?}", s, t
        );
    }

    #[test]
    fn decimal_parameters_round_trip(p in any::<u8>(), s in any::<u8>(), numeric in any::<bool>()) {
        let word = if numeric { "numeric" } else { "DECIMAL" };
        prop_assert_eq!(
            map_warehouse_type(&format!("{word}({p}, {s})")),
            RockyType::Decimal { precision: p, scale: s }
        );
    }

    #[test]
    fn unknown_is_compatible_with_every_type(t in rocky_type()) {
        prop_assert!(compatibility(&RockyType::Unknown, &t).is_compatible());
        prop_assert!(compatibility(&t, &RockyType::Unknown).is_compatible());
        prop_assert!(compatibility(&t, &t).is_compatible());
    }

    #[test]
    fn compatibility_is_symmetric(a in rocky_type(), b in rocky_type()) {
        prop_assert_eq!(
            compatibility(&a, &b).is_compatible(),
            compatibility(&b, &a).is_compatible()
        );
    }

    #[test]
    fn text_without_markers_is_not_substituted(s in "\\PC{0,40}") {
        prop_assume!(!s.contains("@var(") && !s.contains("${"));
        let sub = rocky::substitute_run_vars(&s, &BTreeMap::new()).unwrap();
        prop_assert_eq!(&sub.sql, &s);
        prop_assert!(sub.defaults_used.is_empty());
        let env = rocky::substitute_env(&s, &BTreeMap::new()).unwrap();
        prop_assert_eq!(&env.text, &s);
    }

    #[test]
    fn stated_run_vars_are_never_assumptions(
        name in "[a-z_][a-z0-9_]{0,6}",
        value in "[a-z0-9 ]{0,6}",
        default in "[a-z0-9 ]{0,6}",
        with_default in any::<bool>(),
    ) {
        let sql = if with_default {
            format!("SELECT @var({name}, {default})")
        } else {
            format!("SELECT @var({name})")
        };
        let given = BTreeMap::from([(name.clone(), value.clone())]);
        let sub = rocky::substitute_run_vars(&sql, &given).unwrap();
        prop_assert_eq!(sub.sql, format!("SELECT {value}"));
        prop_assert!(sub.defaults_used.is_empty());
    }

    #[test]
    fn identifiers_render_on_every_dialect(c in ident(), s in ident(), t in ident()) {
        let target = TableRef::new(c.clone(), s.clone(), t.clone());
        prop_assert_eq!(
            rocky::format_table_ref(Adapter::Duckdb, &target).unwrap(),
            format!("{c}.{s}.{t}")
        );
        prop_assert_eq!(
            rocky::format_table_ref(Adapter::Trino, &target).unwrap(),
            format!("\"{c}\".\"{s}\".\"{t}\"")
        );
        let bq = TableRef::new("my-project-1", s.clone(), t.clone());
        prop_assert_eq!(
            rocky::format_table_ref(Adapter::Bigquery, &bq).unwrap(),
            format!("`my-project-1`.`{s}`.`{t}`")
        );
    }

    #[test]
    fn a_non_identifier_table_is_rejected_everywhere(bad in non_ident()) {
        for dialect in ADAPTERS {
            let catalog = if dialect == Adapter::Bigquery { "my-project" } else { "wh" };
            let target = TableRef::new(catalog, "main", bad.clone());
            let err = rocky::format_table_ref(dialect, &target).unwrap_err();
            prop_assert_eq!(err.code(), "invalid_identifier");
        }
    }

    #[test]
    fn trailing_semicolons_never_reach_the_surrogate_wrap(
        body in "SELECT [a-z]{1,5}( FROM [a-z]{1,5})?",
        semis in 0usize..4,
        trailing in white_space(),
        dialect in prop::sample::select(ADAPTERS.to_vec()),
    ) {
        let key = SurrogateKey { name: "sk".into(), columns: vec!["id".into()] };
        let mut bare = ModelSpec::new(TableRef::new("wh", "main", "t"), body.clone(), StrategyConfig::View);
        bare.surrogate_keys = vec![key];
        let mut semi = bare.clone();
        // Only the semicolons at the very end go (after trimming): `x; ;` keeps `x; `.
        semi.sql = format!("{body}{}{trailing}", ";".repeat(semis));
        let catalog_ok = |mut m: ModelSpec| {
            if dialect == Adapter::Bigquery {
                m.target.catalog = "my-project".into();
            }
            m
        };
        let run = RunInputs::default();
        let a = rocky_statements(dialect, &catalog_ok(bare), &run).unwrap();
        let b = rocky_statements(dialect, &catalog_ok(semi), &run).unwrap();
        prop_assert_eq!(a.statements, b.statements);
    }

    #[test]
    fn consecutive_windows_tile_time(g in grain(), days in 0i64..20_000, hours in 0i64..24, n in 1usize..4) {
        // Each next key is the canonical key of the previous window's end.
        let mut keys = vec![key_at(g, days, hours)];
        for _ in 1..n {
            let w = rocky::batch_window(g, &keys[keys.len() - 1..]).unwrap();
            keys.push(w.end.format(key_format(g)).to_string());
        }
        let batch = rocky::batch_window(g, &keys).unwrap();
        let first = rocky::batch_window(g, &keys[..1]).unwrap();
        let last = rocky::batch_window(g, &keys[keys.len() - 1..]).unwrap();
        prop_assert_eq!(batch.start, first.start);
        prop_assert_eq!(batch.end, last.end);
        prop_assert!(first.start < first.end);
        if n > 1 {
            let mut reversed = keys.clone();
            reversed.reverse();
            prop_assert!(rocky::batch_window(g, &reversed).is_err());
        }
    }

    #[test]
    fn the_fingerprint_is_always_that_of_the_statements(
        sql in "SELECT [a-z0-9 ,]{1,20}",
        dialect in prop::sample::select(ADAPTERS.to_vec()),
        which in 0usize..6,
    ) {
        let strategy = match which {
            0 => StrategyConfig::FullRefresh,
            1 => StrategyConfig::Incremental { timestamp_column: "ts".into() },
            2 => StrategyConfig::View,
            3 => StrategyConfig::DeleteInsert { partition_by: vec!["d".into()] },
            4 => StrategyConfig::Ephemeral,
            _ => StrategyConfig::ContentAddressed {
                storage_prefix: "s3://b/p".into(),
                partition_columns: vec![],
            },
        };
        let catalog = if dialect == Adapter::Bigquery { "my-project" } else { "wh" };
        let model = ModelSpec::new(TableRef::new(catalog, "main", "t"), sql, strategy);
        let s = rocky_statements(dialect, &model, &RunInputs::default()).unwrap();
        prop_assert_eq!(s.sql_hash, sql_fingerprint(&s.statements));
        prop_assert!(s.assumptions.is_empty());
    }
}
