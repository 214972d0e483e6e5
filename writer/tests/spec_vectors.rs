//! Runs every case of every file in `spec/vectors/` (read at run time from the real spec folder)
//! through the writer's own code.
//!
//! Each case is one trial named `<file>::<case>`. A case the writer does not implement is an
//! ignored trial whose name says why, so skips are named and counted; a file with no handler is
//! reported the same way, case by case, so a new vector file cannot be silently skipped.

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use rocky_writer::SipHasher13;
use rocky_writer::artifact::content_address_of_file_name;
use rocky_writer::canon::{self, CanonicalCheckError};
use rocky_writer::identity::{self, Adapter};
use rocky_writer::ir::ModelIr;
use rocky_writer::normalize::normalize;
use rocky_writer::records::{
    ArtifactRecord, BranchRecord, CheckSnapshot, InputIndexEntry, ModelExecution, ProvenanceRecord,
    RunRecord, UpstreamIdentity, WatermarkState, ts,
};
use rocky_writer::run::{base_run_id, free_run_id};

/// Rocky's templates and type mapping (`rocky_types.json`, `sql_templates.json`).
#[path = "spec_vectors/rocky.rs"]
mod rocky;

/// This crate's folder, read at run time: several checkouts share one target dir, so cargo may
/// reuse a test binary built in another checkout, and the compile-time path would point there.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn vectors_dir() -> PathBuf {
    manifest_dir().join("../spec/vectors")
}

fn repo_root() -> PathBuf {
    manifest_dir().join("..")
}

type Outcome = Result<(), Failed>;

fn fail<T>(msg: impl std::fmt::Display) -> Result<T, Failed> {
    Err(Failed::from(msg.to_string()))
}

fn check_eq<T: PartialEq + std::fmt::Debug>(what: &str, actual: T, expected: T) -> Outcome {
    if actual == expected {
        Ok(())
    } else {
        fail(format!("{what}: expected {expected:?}, got {actual:?}"))
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, Failed> {
    match v.get(key).and_then(Value::as_str) {
        Some(s) => Ok(s),
        None => fail(format!("vector field {key:?} missing or not a string")),
    }
}

fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, Failed> {
    serde_json::from_value(v.clone()).or_else(|e| fail(format!("vector value does not parse: {e}")))
}

fn hex_decode(s: &str) -> Result<Vec<u8>, Failed> {
    if !s.len().is_multiple_of(2) {
        return fail("odd-length hex");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).or_else(|_| fail("bad hex")))
        .collect()
}

/// A case handler.
type Handler = fn(&Value) -> Outcome;

fn handler_for(file_stem: &str) -> Option<Handler> {
    Some(match file_stem {
        "siphash" => siphash,
        "canonical_json" => canonical_json,
        "canonical_check" => canonical_check,
        "normalizer" => normalizer,
        "skip_hash" => skip_hash,
        "input_hash" => input_hash,
        "recipe_hash" => recipe_hash,
        "env_hash" => env_hash,
        "proof_class" => proof_class,
        "records" => records,
        "run_id" => run_id,
        "timestamps" => timestamps,
        "content_address" => content_address,
        "rocky_types" => rocky::rocky_types,
        "sql_templates" => rocky::sql_templates,
        _ => return None,
    })
}

fn siphash(case: &Value) -> Outcome {
    let input = &case["input"];
    let expected = str_field(case, "expected")?;
    let actual = match str_field(case, "kind")? {
        "sql_hash" => {
            let statements: Vec<String> = from_value(&input["statements"])?;
            identity::sql_fingerprint(&statements)
        }
        "config_hash" => identity::config_hash(str_field(input, "config_text")?.as_bytes()),
        other => return fail(format!("unknown kind {other}")),
    };
    check_eq("fingerprint", actual.as_str(), expected)?;
    if let Some(hex) = case.get("expected_preimage_hex").and_then(Value::as_str) {
        let mut h = SipHasher13::new();
        h.write(&hex_decode(hex)?);
        check_eq(
            "fingerprint of the stated pre-image",
            format!("{:016x}", h.finish()).as_str(),
            expected,
        )?;
    }
    Ok(())
}

fn canonical_json(case: &Value) -> Outcome {
    let text = str_field(&case["input"], "json_text")?;
    let value: Value = serde_json::from_str(text).or_else(|e| fail(format!("json_text: {e}")))?;
    check_eq(
        "canonical text",
        canon::to_canonical_string(&value).as_str(),
        str_field(case, "expected")?,
    )
}

fn canonical_check(case: &Value) -> Outcome {
    let text = str_field(&case["input"], "text")?;
    let result = canon::is_canonical(text);
    match case.get("expected_error").and_then(Value::as_str) {
        Some("ir_canonical_json_invalid") => match result {
            Err(CanonicalCheckError::InvalidJson(_)) => Ok(()),
            other => fail(format!("expected invalid json, got {other:?}")),
        },
        Some(code) => fail(format!("unknown expected_error {code}")),
        None => {
            let expected = case["expected"]["canonical"]
                .as_bool()
                .ok_or("expected.canonical missing")?;
            match result {
                Ok(c) => check_eq("canonical", c, expected),
                Err(e) => fail(format!("unexpected error {e}")),
            }
        }
    }
}

fn normalizer(case: &Value) -> Outcome {
    let sql = str_field(&case["input"], "sql")?;
    let expected = case["expected"].as_str();
    check_eq("normalised sql", normalize(sql).as_deref(), expected)
}

fn parse_ir(text: &str) -> Result<ModelIr, Failed> {
    serde_json::from_str(text).or_else(|e| {
        fail(format!(
            "model_ir_canonical_json does not parse as ModelIr: {e}"
        ))
    })
}

fn skip_hash(case: &Value) -> Outcome {
    let text = str_field(&case["input"], "model_ir_canonical_json")?;
    let ir = parse_ir(text)?;
    // ModelIr's omission rules reproduce the recorded canonical text exactly.
    check_eq(
        "ModelIr re-canonicalised",
        ir.canonical_json().as_str(),
        text,
    )?;
    check_eq(
        "skip_hash",
        identity::skip_hash(&ir).as_deref(),
        case["expected"].as_str(),
    )?;
    if let Some(p) = case.get("expected_preimage").and_then(Value::as_str) {
        check_eq(
            "skip_hash pre-image",
            ir.skip_hash_preimage().as_deref(),
            Some(p),
        )?;
    }
    if let Some(n) = case.get("expected_normalized_sql") {
        check_eq("normalised sql", normalize(&ir.sql).as_deref(), n.as_str())?;
    }
    Ok(())
}

fn input_hash(case: &Value) -> Outcome {
    let input = &case["input"];
    let skip = str_field(input, "skip_hash")?;
    let target = str_field(input, "target_identity")?;
    let upstreams: Vec<UpstreamIdentity> = from_value(&input["upstreams"])?;
    if let Some(p) = case.get("expected_preimage").and_then(Value::as_str) {
        check_eq(
            "pre-image",
            identity::input_hash_preimage(skip, target, &upstreams).as_str(),
            p,
        )?;
    }
    check_eq(
        "input_hash",
        identity::input_hash(skip, target, &upstreams).as_str(),
        str_field(case, "expected")?,
    )
}

fn recipe_hash(case: &Value) -> Outcome {
    let text = str_field(&case["input"], "model_ir_canonical_json")?;
    let expected = str_field(case, "expected")?;
    check_eq(
        "recipe_hash",
        identity::recipe_hash_of_canonical(text).as_str(),
        expected,
    )?;
    // Where the text is a whole ModelIr, building it from the typed IR gives the same hash.
    if let Ok(ir) = serde_json::from_str::<ModelIr>(text) {
        check_eq(
            "recipe_hash of the typed IR",
            identity::recipe_hash(&ir).as_str(),
            expected,
        )?;
    }
    Ok(())
}

fn env_hash(case: &Value) -> Outcome {
    let input = &case["input"];
    if input["exec_config"] != serde_json::json!({}) {
        return fail("exec_config is always {} in v1");
    }
    let adapter: Adapter = from_value(&input["adapter"])?;
    let version = str_field(input, "engine_version")?;
    if let Some(p) = case.get("expected_preimage").and_then(Value::as_str) {
        check_eq(
            "pre-image",
            identity::env_hash_preimage(version, adapter).as_str(),
            p,
        )?;
    }
    check_eq(
        "env_hash",
        identity::env_hash(version, adapter).as_str(),
        str_field(case, "expected")?,
    )
}

fn proof_class(case: &Value) -> Outcome {
    let upstreams: Vec<UpstreamIdentity> = from_value(&case["input"]["upstreams"])?;
    let actual = serde_json::to_value(identity::proof_class(&upstreams)).unwrap();
    check_eq("proof_class", &actual, &case["expected"])
}

/// Parses `text` as `T` and re-serialises it as the writer would.
fn reparse<T: DeserializeOwned + Serialize>(text: &str) -> Result<(Value, String), String> {
    let record: T = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&record).map_err(|e| e.to_string())?;
    Ok((
        value,
        serde_json::to_string(&record).map_err(|e| e.to_string())?,
    ))
}

fn records(case: &Value) -> Outcome {
    let record_type = str_field(case, "record_type")?;
    let text = str_field(&case["input"], "input_text")?;
    let result = match record_type {
        "RunRecord" => reparse::<RunRecord>(text),
        "ModelExecution" => reparse::<ModelExecution>(text),
        "ArtifactRecord" => reparse::<ArtifactRecord>(text),
        "ProvenanceRecord" => reparse::<ProvenanceRecord>(text),
        "InputIndexEntry" => reparse::<InputIndexEntry>(text),
        "UpstreamIdentity" => reparse::<UpstreamIdentity>(text),
        "WatermarkState" => reparse::<WatermarkState>(text),
        "CheckSnapshot" => reparse::<CheckSnapshot>(text),
        "CheckHistory" => reparse::<Vec<CheckSnapshot>>(text),
        "BranchRecord" => reparse::<BranchRecord>(text),
        other => return fail(format!("unknown record_type {other}")),
    };
    if let Some(code) = case.get("expected_error").and_then(Value::as_str) {
        // Unrepresentable by construction: the writer's types cannot hold such a record, so the
        // writer cannot write one.
        return match result {
            Err(_) => Ok(()),
            Ok((_, bytes)) => fail(format!(
                "{code}: the writer's types accepted it and would write {bytes}"
            )),
        };
    }
    let (value, bytes) = result.or_else(|e| fail(format!("does not parse: {e}")))?;
    let expected = &case["expected"];
    let ignored: Vec<&str> = expected
        .get("ignored_by_rocky")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let original: Value = serde_json::from_str(text).unwrap();
    match expected["roundtrip_bytes_equal"].as_bool() {
        Some(true) => check_eq("re-serialised bytes", bytes.as_str(), text)?,
        Some(false) => {
            // Rocky's bytes differ (defaults filled in, unknown keys dropped). The writer keeps
            // its own extension fields and drops keys it does not know.
            for key in &ignored {
                let writer_knows = matches!(
                    *key,
                    "source_path"
                        | "materialization"
                        | "target_table"
                        | "config_blake3"
                        | "config_path"
                );
                check_eq(
                    &format!("key {key} after re-serialising"),
                    value.get(*key),
                    if writer_knows {
                        original.get(*key)
                    } else {
                        None
                    },
                )?;
            }
            if ignored.iter().all(|k| {
                matches!(
                    *k,
                    "source_path"
                        | "materialization"
                        | "target_table"
                        | "config_blake3"
                        | "config_path"
                )
            }) && !ignored.is_empty()
            {
                check_eq(
                    "writer re-serialisation keeps its extensions",
                    bytes.as_str(),
                    text,
                )?;
            }
        }
        None => return fail("expected.roundtrip_bytes_equal missing"),
    }
    if let Some(defaults) = expected.get("defaults").and_then(Value::as_object) {
        for (key, want) in defaults {
            match value.get(key) {
                Some(got) => check_eq(&format!("default of {key}"), got, want)?,
                // Omitted-when-empty fields (ModelExecution.attempts) default to [].
                None if *want == Value::Array(vec![]) => {}
                None => return fail(format!("default of {key}: absent after re-serialising")),
            }
        }
    }
    Ok(())
}

fn run_id(case: &Value) -> Outcome {
    let input = &case["input"];
    let started_at = ts::parse(str_field(input, "started_at")?).or_else(fail)?;
    let existing: Vec<String> = match input.get("existing_ids") {
        Some(v) => from_value(v)?,
        None => Vec::new(),
    };
    let id = free_run_id(&base_run_id(&started_at), |id| {
        existing.iter().any(|e| e == id)
    });
    check_eq("run id", id.as_deref(), Some(str_field(case, "expected")?))
}

fn timestamps(case: &Value) -> Outcome {
    let text = str_field(&case["input"], "text")?;
    let parsed = ts::parse(text);
    if let Some(code) = case.get("expected_error").and_then(Value::as_str) {
        return match parsed {
            Err(_) => Ok(()),
            Ok(t) => fail(format!("{code}: accepted as {}", ts::format(&t))),
        };
    }
    let t = parsed.or_else(|e| fail(format!("rejected: {e}")))?;
    let expected = &case["expected"];
    check_eq(
        "normalized",
        ts::format(&t).as_str(),
        str_field(expected, "normalized")?,
    )?;
    let offset = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .offset()
        .local_minus_utc();
    check_eq(
        "utc",
        offset == 0,
        expected["utc"].as_bool().ok_or("expected.utc missing")?,
    )
}

fn case_bytes(input: &Value) -> Result<Option<Vec<u8>>, Failed> {
    if let Some(file) = input.get("file").and_then(Value::as_str) {
        let mut bytes =
            std::fs::read(repo_root().join(file)).or_else(|e| fail(format!("{file}: {e}")))?;
        for p in input
            .get("patch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let offset = p["offset"].as_u64().ok_or("patch offset")? as usize;
            bytes[offset] = hex_decode(str_field(p, "byte_hex")?)?[0];
        }
        return Ok(Some(bytes));
    }
    if let Some(hex) = input.get("input_hex").and_then(Value::as_str) {
        return hex_decode(hex).map(Some);
    }
    if let Some(text) = input.get("input_text").and_then(Value::as_str) {
        return Ok(Some(text.as_bytes().to_vec()));
    }
    if let Some(pattern) = input.get("pattern").and_then(Value::as_str) {
        if pattern != "i % 251" {
            return fail(format!("unknown pattern {pattern}"));
        }
        let n = input["length"].as_u64().ok_or("length")? as usize;
        return Ok(Some((0..n).map(|i| (i % 251) as u8).collect()));
    }
    Ok(None)
}

fn content_address(case: &Value) -> Outcome {
    let input = &case["input"];
    let bytes = case_bytes(input)?;
    let expected_error = case.get("expected_error").and_then(Value::as_str);
    match str_field(case, "kind")? {
        "blake3" => {
            let bytes = bytes.ok_or("no bytes")?;
            let expected = &case["expected"];
            check_eq(
                "blake3",
                blake3::hash(&bytes).to_hex().as_str(),
                str_field(expected, "blake3")?,
            )?;
            if let Some(size) = expected.get("size_bytes").and_then(Value::as_u64) {
                check_eq("size", bytes.len() as u64, size)?;
            }
            Ok(())
        }
        "artifact_name" => {
            let name = str_field(input, "file_name")?;
            let Some(hash) = content_address_of_file_name(name) else {
                return check_eq("error", Some("artifact_name_invalid"), expected_error);
            };
            let bytes = bytes.ok_or("no bytes")?;
            let actual = blake3::hash(&bytes).to_hex().to_string();
            if actual != hash {
                return check_eq("error", Some("artifact_hash_mismatch"), expected_error);
            }
            check_eq("error", None, expected_error)?;
            check_eq(
                "blake3",
                actual.as_str(),
                str_field(&case["expected"], "blake3")?,
            )
        }
        other => fail(format!("unknown kind {other}")),
    }
}

fn load_trials() -> Vec<Trial> {
    let vectors_dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&vectors_dir)
        .expect("spec/vectors exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no vector files in {}",
        vectors_dir.display()
    );
    let mut trials = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("vector file is UTF-8");
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc["format_version"], 1, "{stem}: format_version");
        let cases = doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{stem}: no cases"))
            .clone();
        let handler = handler_for(&stem);
        for case in cases {
            let name = case["name"].as_str().unwrap_or("<unnamed>").to_owned();
            match handler {
                Some(h) => trials.push(Trial::test(format!("{stem}::{name}"), move || h(&case))),
                None => trials.push(
                    Trial::test(
                        format!("{stem}::{name} [no writer handler for {stem}.json]"),
                        || Ok(()),
                    )
                    .with_ignored_flag(true),
                ),
            }
        }
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, load_trials()).exit();
}
