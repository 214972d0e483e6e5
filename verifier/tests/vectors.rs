//! Runs every case of every file in `spec/vectors/` against the verifier, as one named trial per
//! case, so the verifier agrees with the shared spec data case by case.
//!
//! The files are read at run time from the repository's `spec/` (never a copy), so a new or
//! changed vector is picked up without touching this file. A file or case shape this harness does
//! not understand is a failing trial, never a silent pass. A case the verifier deliberately does
//! not implement is an *ignored* trial whose name carries the reason, so skips are visible and
//! counted. Record vectors and Rocky's replay goldens are also validated against
//! `spec/records/*.schema.json` with boon (JSON Schema 2020-12).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
// The very parsers the binary uses: `run.id`, `latest` and every record field go through these.
use rocky_verify::evidence::artifact;
use rocky_verify::model::records::{self, RecordError};
use rocky_verify::model::run_id::{self, RunIdForm};
use rocky_verify::model::timestamp::Timestamp;
use rocky_verify::{canon, commands, identity, normalize, siphash};
use serde_json::{Map, Value, json};

/// The verifier's folder, read at run time: several checkouts share one target dir, so cargo may
/// reuse a test binary built in another checkout, and the compile-time path would point there.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn vectors_dir() -> PathBuf {
    manifest_dir().join("../spec/vectors")
}

fn schemas_dir() -> PathBuf {
    manifest_dir().join("../spec/records")
}

fn repo_root() -> PathBuf {
    manifest_dir().join("..")
}

fn goldens_dir() -> PathBuf {
    manifest_dir().join("../fixtures/rocky/replay-provenance-goldens")
}

/// Keys a case may carry besides `name`, `input`, `expected` and `expected_error`
/// (`spec/vectors/README.md`, "File shape").
const EXTRA_CASE_KEYS: &[&str] = &[
    "kind",
    "record_type",
    "expected_preimage",
    "expected_preimage_hex",
    "expected_normalized_sql",
    "source",
    "note",
    "why",
];

type Outcome = Result<(), Failed>;

// Rocky semantics (types, statement templates, project resolution): a module of its own.
mod rocky_vectors;
// Rocky's output column hashes (`column_hashes.json`).
mod column_vectors;

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    collect_vector_files(&mut trials);
    collect_golden_fixtures(&mut trials);
    libtest_mimic::run(&args, trials).exit();
}

// ---------------------------------------------------------------------------------------------
// Discovery and file shape

fn fail_now(name: String, message: String) -> Trial {
    Trial::test(name, move || Err(message.into()))
}

fn collect_vector_files(trials: &mut Vec<Trial>) {
    let vectors = vectors_dir();
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&vectors) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            trials.push(fail_now(
                "vectors::directory".into(),
                format!("cannot read {}: {e}", vectors.display()),
            ));
            return;
        }
    };
    paths.sort();
    let mut json_files = Vec::new();
    for path in paths {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        if file == "README.md" {
            continue;
        }
        let Some(stem) = file.strip_suffix(".json").map(str::to_owned) else {
            trials.push(fail_now(
                format!("vectors::{file}"),
                "not a .json vector file and not README.md: this harness does not know it".into(),
            ));
            continue;
        };
        json_files.push(file.clone());
        let doc = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
        {
            Ok(doc) => doc,
            Err(e) => {
                trials.push(fail_now(format!("{stem}::file"), format!("{file}: {e}")));
                continue;
            }
        };
        let (cases, problems) = file_shape(&doc);
        let shape_problems = problems.join("; ");
        trials.push(Trial::test(format!("{stem}::file_shape"), move || {
            if shape_problems.is_empty() {
                Ok(())
            } else {
                Err(shape_problems.into())
            }
        }));
        for case in cases {
            trials.extend(case_trial(&stem, case));
        }
    }
    trials.push(Trial::test("vectors::readme_lists_every_file", move || {
        let readme = std::fs::read_to_string(vectors.join("README.md"))
            .map_err(|e| format!("README.md: {e}"))?;
        let missing: Vec<&String> = json_files
            .iter()
            .filter(|f| !readme.contains(&format!("`{f}`")))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("not in README.md: {missing:?}").into())
        }
    }));
}

/// The cases of a vector document, and every way its shape departs from the README's.
fn file_shape(doc: &Value) -> (Vec<Value>, Vec<String>) {
    let mut problems = Vec::new();
    let Some(top) = doc.as_object() else {
        return (Vec::new(), vec!["top level is not an object".into()]);
    };
    let keys: Vec<&str> = top.keys().map(String::as_str).collect();
    for k in &keys {
        if !["_comment", "format_version", "cases"].contains(k) {
            problems.push(format!("unknown top-level key {k:?}"));
        }
    }
    if !top.get("_comment").is_some_and(Value::is_string) {
        problems.push("_comment missing or not a string".into());
    }
    if top.get("format_version") != Some(&json!(1)) {
        problems.push("format_version is not 1".into());
    }
    let Some(cases) = top.get("cases").and_then(Value::as_array) else {
        problems.push("cases missing or not an array".into());
        return (Vec::new(), problems);
    };
    let mut names = BTreeSet::new();
    for (i, case) in cases.iter().enumerate() {
        let Some(c) = case.as_object() else {
            problems.push(format!("case {i} is not an object"));
            continue;
        };
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            problems.push(format!("case {i}: name {name:?} is not snake_case"));
        }
        if !names.insert(name.to_owned()) {
            problems.push(format!("case {i}: duplicate name {name:?}"));
        }
        if !c.contains_key("input") {
            problems.push(format!("{name}: no input"));
        }
        if c.contains_key("expected") == c.contains_key("expected_error") {
            problems.push(format!(
                "{name}: needs exactly one of expected and expected_error"
            ));
        }
        for k in c.keys() {
            let known = ["name", "input", "expected", "expected_error"].contains(&k.as_str())
                || EXTRA_CASE_KEYS.contains(&k.as_str());
            if !known {
                problems.push(format!("{name}: unknown key {k:?}"));
            }
        }
    }
    (cases.clone(), problems)
}

fn case_trial(stem: &str, case: Value) -> Vec<Trial> {
    let name = case
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("unnamed")
        .to_owned();
    let full = format!("{stem}::{name}");
    let runner: fn(&Value) -> Outcome = match stem {
        "siphash" => siphash_case,
        "canonical_json" => canonical_json_case,
        "canonical_check" => canonical_check_case,
        "normalizer" => normalizer_case,
        "skip_hash" => skip_hash_case,
        "input_hash" => input_hash_case,
        "recipe_hash" => recipe_hash_case,
        "env_hash" => env_hash_case,
        "proof_class" => proof_class_case,
        "records" => records_case,
        "timestamps" => timestamps_case,
        "content_address" => content_address_case,
        "column_hashes" => column_vectors::column_hashes_case,
        "rocky_types" => rocky_vectors::rocky_types_case,
        "sql_templates" => rocky_vectors::sql_templates_case,
        "run_id" if case.pointer("/input/existing_ids").is_some() => {
            // Which `-N` rocky-writer picks is the writer's rule (Rocky itself overwrites). The
            // verifier only checks that the suffixed id is well formed and matches started_at.
            return vec![
                Trial::test(format!("{full}::accepted"), move || run_id_case(&case)),
                Trial::test(format!("{full}::suffix_choice [writer-only rule]"), || {
                    Ok(())
                })
                .with_ignored_flag(true),
            ];
        }
        "run_id" => run_id_case,
        "bundle_manifest" => bundle_manifest_case,
        _ => {
            return vec![fail_now(
                full,
                format!(
                    "unknown vector file {stem}.json: add a runner, or an ignored trial with a \
                     reason"
                ),
            )];
        }
    };
    vec![Trial::test(full, move || runner(&case))]
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn field<'a>(v: &'a Value, pointer: &str) -> Result<&'a Value, Failed> {
    v.pointer(pointer)
        .ok_or_else(|| format!("vector shape: {pointer} missing").into())
}

fn text<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, Failed> {
    field(v, pointer)?
        .as_str()
        .ok_or_else(|| format!("vector shape: {pointer} is not a string").into())
}

fn expected_error(case: &Value) -> Option<&str> {
    case.get("expected_error").and_then(Value::as_str)
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}").into())
    }
}

fn hex_decode(s: &str) -> Result<Vec<u8>, Failed> {
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("hex: {e}").into()))
        .collect()
}

fn no_error_expected(case: &Value) -> Outcome {
    match expected_error(case) {
        Some(code) => Err(format!(
            "vector shape: this file has no must-reject rule, yet expected_error {code:?}"
        )
        .into()),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Hashes and canonical JSON

fn siphash_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let want = text(case, "/expected")?;
    let got = match text(case, "/kind")? {
        "sql_hash" => {
            let statements: Vec<&str> = field(case, "/input/statements")?
                .as_array()
                .ok_or("vector shape: statements is not an array")?
                .iter()
                .map(|s| {
                    s.as_str()
                        .ok_or("vector shape: a statement is not a string")
                })
                .collect::<Result<_, _>>()?;
            siphash::sql_fingerprint(&statements)
        }
        "config_hash" => siphash::config_fingerprint(text(case, "/input/config_text")?.as_bytes()),
        other => return Err(format!("vector shape: unknown kind {other:?}").into()),
    };
    eq("fingerprint", got.as_str(), want)?;
    // The pre-image, hashed without a terminator, gives the same value: a check that the bytes
    // hashed are exactly the stated ones.
    if let Some(hex) = case.get("expected_preimage_hex").and_then(Value::as_str) {
        eq(
            "fingerprint of expected_preimage_hex",
            siphash::config_fingerprint(&hex_decode(hex)?).as_str(),
            want,
        )?;
    }
    Ok(())
}

fn canonical_json_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let input = text(case, "/input/json_text")?;
    let value = canon::parse_strict(input.as_bytes()).map_err(|e| format!("parse: {e}"))?;
    let want = text(case, "/expected")?;
    eq(
        "canonical",
        canon::to_canonical_string(&value).as_str(),
        want,
    )?;
    eq(
        "expected is canonical",
        canon::is_canonical(want.as_bytes()).ok(),
        Some(true),
    )
}

fn canonical_check_case(case: &Value) -> Outcome {
    let input = text(case, "/input/text")?;
    let got = canon::is_canonical(input.as_bytes());
    match (expected_error(case), got) {
        (Some("ir_canonical_json_invalid"), Err(_)) => Ok(()),
        (Some(code), Ok(c)) => Err(format!("expected {code}, got canonical={c}").into()),
        (Some(code), Err(e)) => {
            Err(format!("unknown expected_error {code:?} (parse error was {e})").into())
        }
        (None, Ok(c)) => eq(
            "canonical",
            c,
            field(case, "/expected/canonical")?
                .as_bool()
                .ok_or("vector shape")?,
        ),
        (None, Err(e)) => Err(format!("unexpected parse error: {e}").into()),
    }
}

/// `bundle_manifest.json`: the manifest parser and checker `--bundle` uses
/// (`spec/bundle.md` sections 2, 5.1, 5.2).
fn bundle_manifest_case(case: &Value) -> Outcome {
    use rocky_verify::evidence::bundle::manifest;
    let input = text(case, "/input/text")?;
    match (expected_error(case), manifest::parse(input.as_bytes())) {
        (Some("bundle_manifest_invalid"), Err(_)) => Ok(()),
        (Some(code), Ok(_)) => Err(format!("expected {code}, the manifest was accepted").into()),
        (Some(code), Err(e)) => Err(format!("unknown expected_error {code:?} ({e})").into()),
        (None, Err(e)) => Err(format!("refused: {e}").into()),
        (None, Ok(m)) => {
            eq(
                "valid",
                true,
                field(case, "/expected/valid")?
                    .as_bool()
                    .ok_or("vector shape")?,
            )?;
            eq(
                "files",
                m.files.len() as u64,
                field(case, "/expected/files")?
                    .as_u64()
                    .ok_or("vector shape")?,
            )
        }
    }
}

fn normalizer_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let sql = text(case, "/input/sql")?;
    let want = field(case, "/expected")?.as_str();
    eq("normalize", normalize::normalize(sql).as_deref(), want)
}

fn parse_ir(case: &Value) -> Result<(String, Value), Failed> {
    let ir_text = text(case, "/input/model_ir_canonical_json")?.to_owned();
    let ir = canon::parse_strict(ir_text.as_bytes()).map_err(|e| format!("IR: {e}"))?;
    Ok((ir_text, ir))
}

fn skip_hash_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let (_, ir) = parse_ir(case)?;
    let want = field(case, "/expected")?.as_str();
    eq("skip_hash", identity::skip_hash(&ir).as_deref(), want)?;
    if let Some(sql) = case.get("expected_normalized_sql") {
        let got = ir
            .get("sql")
            .and_then(Value::as_str)
            .and_then(normalize::normalize);
        eq("normalized sql", got.as_deref(), sql.as_str())?;
    }
    if let Some(pre) = case.get("expected_preimage").and_then(Value::as_str) {
        let object = ir.as_object().ok_or("IR is not an object")?;
        let sql = ir
            .get("sql")
            .and_then(Value::as_str)
            .ok_or("IR has no sql")?;
        let normalized = normalize::normalize(sql).ok_or("IR sql does not normalise")?;
        eq(
            "pre-image",
            identity::skip_hash_preimage(object, normalized).as_str(),
            pre,
        )?;
    }
    Ok(())
}

fn input_hash_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let skip = text(case, "/input/skip_hash")?;
    let target = text(case, "/input/target_identity")?;
    let upstreams = field(case, "/input/upstreams")?
        .as_array()
        .ok_or("vector shape")?;
    let want = text(case, "/expected")?;
    eq(
        "input_hash",
        identity::input_hash(skip, target, upstreams).as_str(),
        want,
    )?;
    if let Some(pre) = case.get("expected_preimage").and_then(Value::as_str) {
        eq(
            "pre-image",
            identity::input_hash_preimage(skip, target, upstreams).as_str(),
            pre,
        )?;
    }
    // The same through the record decoder, which is how `provenance.input_hash` gets them.
    let decoded: Vec<Value> = upstreams
        .iter()
        .map(|u| {
            records::decode_upstream_identity(u.to_string().as_bytes())
                .map(|u| u.to_json())
                .map_err(|e| Failed::from(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    eq(
        "input_hash via decoded upstreams",
        identity::input_hash(skip, target, &decoded).as_str(),
        want,
    )
}

fn recipe_hash_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let ir = text(case, "/input/model_ir_canonical_json")?;
    eq(
        "recipe_hash",
        identity::recipe_hash(ir.as_bytes()).as_str(),
        text(case, "/expected")?,
    )
}

fn env_hash_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    if field(case, "/input/exec_config")? != &json!({}) {
        return Err("vector shape: exec_config is not {} (v1 has no exec_config)".into());
    }
    let version = text(case, "/input/engine_version")?;
    let adapter = text(case, "/input/adapter")?;
    eq(
        "env_hash",
        identity::env_hash(version, adapter).as_str(),
        text(case, "/expected")?,
    )?;
    if let Some(pre) = case.get("expected_preimage").and_then(Value::as_str) {
        eq(
            "pre-image",
            identity::env_hash_preimage(version, adapter).as_str(),
            pre,
        )?;
    }
    Ok(())
}

fn proof_class_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let upstreams = field(case, "/input/upstreams")?
        .as_array()
        .ok_or("vector shape")?;
    eq(
        "proof_class",
        identity::proof_class(upstreams),
        text(case, "/expected")?,
    )
}

// ---------------------------------------------------------------------------------------------
// Records

/// What decoding a record gave, in the shapes the vectors talk about.
struct Decoded {
    /// Rocky's serialisation of the decoded value.
    rocky: String,
    /// The decoded value as JSON with every field Rocky has (including defaults Rocky omits).
    view: Value,
    /// rocky-writer extension fields as read by the verifier.
    extensions: Map<String, Value>,
}

fn schema_file(record_type: &str) -> Option<&'static str> {
    Some(match record_type {
        "RunRecord" => "run-record.schema.json",
        "ModelExecution" => "model-execution.schema.json",
        "ArtifactRecord" => "artifact-record.schema.json",
        "ProvenanceRecord" => "provenance-record.schema.json",
        "InputIndexEntry" => "input-index-entry.schema.json",
        "UpstreamIdentity" => "upstream-identity.schema.json",
        "WatermarkState" => "watermark-state.schema.json",
        "CheckSnapshot" => "check-snapshot.schema.json",
        "CheckHistory" => "check-history.schema.json",
        "BranchRecord" => "branch-record.schema.json",
        _ => return None,
    })
}

fn decode(record_type: &str, bytes: &[u8]) -> Result<Result<Decoded, RecordError>, Failed> {
    fn ext(pairs: &[(&str, Option<String>)]) -> Map<String, Value> {
        pairs
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), Value::from(v))))
            .collect()
    }
    let done = |rocky: String, extensions: Map<String, Value>| -> Decoded {
        let view = serde_json::from_str(&rocky).unwrap_or(Value::Null);
        Decoded {
            rocky,
            view,
            extensions,
        }
    };
    Ok(match record_type {
        "RunRecord" => records::decode_run_record(bytes).map(|r| {
            let e = ext(&[
                ("config_blake3", r.config_blake3.clone()),
                ("config_path", r.config_path.clone()),
            ]);
            done(r.to_rocky_json(), e)
        }),
        "ModelExecution" => records::decode_model_execution(bytes).map(|m| {
            let e = ext(&[
                ("source_path", m.source_path.clone()),
                (
                    "materialization",
                    m.materialization.map(|k| k.as_str().to_owned()),
                ),
                ("target_table", m.target_table.clone()),
            ]);
            let mut d = done(m.to_rocky_json(), e);
            // Rocky omits `attempts` when empty, so the view shows the decoded (empty) list.
            if let Some(o) = d.view.as_object_mut() {
                o.entry("attempts").or_insert_with(|| json!([]));
            }
            d
        }),
        "ArtifactRecord" => {
            records::decode_artifact_record(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "ProvenanceRecord" => {
            records::decode_provenance_record(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "InputIndexEntry" => {
            records::decode_input_index_entry(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "UpstreamIdentity" => {
            records::decode_upstream_identity(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "WatermarkState" => {
            records::decode_watermark_state(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "CheckSnapshot" => {
            records::decode_check_snapshot(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        "CheckHistory" => records::decode_check_history(bytes)
            .map(|h| done(records::check_history_to_rocky_json(&h), Map::new())),
        "BranchRecord" => {
            records::decode_branch_record(bytes).map(|r| done(r.to_rocky_json(), Map::new()))
        }
        other => return Err(format!("vector shape: unknown record_type {other:?}").into()),
    })
}

/// Validates `instance` against `spec/records/<file>`, every record schema loaded so `$ref`s
/// between them resolve.
fn validate_schema(file: &str, instance: &Value) -> Result<(), String> {
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let mut ids = BTreeMap::new();
    let schemas = schemas_dir();
    let dir = std::fs::read_dir(&schemas).map_err(|e| format!("{}: {e}", schemas.display()))?;
    for entry in dir {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let bytes = std::fs::read(&path).map_err(|e| format!("{name}: {e}"))?;
        let schema: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{name}: {e}"))?;
        let id = schema
            .get("$id")
            .and_then(Value::as_str)
            .ok_or(format!("{name}: no $id"))?
            .to_owned();
        compiler
            .add_resource(&id, schema)
            .map_err(|e| format!("{name}: {e}"))?;
        ids.insert(name, id);
    }
    let id = ids.get(file).ok_or(format!("no schema {file}"))?;
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(id, &mut schemas)
        .map_err(|e| format!("{file}: {e}"))?;
    schemas
        .validate(instance, index)
        .map_err(|e| format!("{e:#}"))
}

fn records_case(case: &Value) -> Outcome {
    let record_type = text(case, "/record_type")?;
    let input = text(case, "/input/input_text")?;
    let schema = schema_file(record_type)
        .ok_or(format!("vector shape: unknown record_type {record_type:?}"))?;
    let decoded = decode(record_type, input.as_bytes())?;
    if let Some(code) = expected_error(case) {
        let err = match decoded {
            Ok(_) => return Err(format!("decoded, but must be rejected with {code}").into()),
            Err(e) => e,
        };
        eq("finding code", err.code().as_str(), code)?;
        // The schema, a second reading of the same spec, must reject it too.
        if let Ok(instance) = serde_json::from_str::<Value>(input)
            && validate_schema(schema, &instance).is_ok()
        {
            return Err(format!("verifier rejects ({err}), but {schema} accepts it").into());
        }
        return Ok(());
    }
    let d = decoded.map_err(|e| format!("{} ({})", e, e.code()))?;
    let expected = field(case, "/expected")?
        .as_object()
        .ok_or("vector shape: expected is not an object")?;
    for key in expected.keys() {
        if !["roundtrip_bytes_equal", "defaults", "ignored_by_rocky"].contains(&key.as_str()) {
            return Err(format!("vector shape: unknown expected key {key:?}").into());
        }
    }
    let instance: Value = serde_json::from_str(input).map_err(|e| e.to_string())?;
    validate_schema(schema, &instance)
        .map_err(|e| format!("{schema} rejects an accept case: {e}"))?;
    let roundtrip = expected
        .get("roundtrip_bytes_equal")
        .and_then(Value::as_bool)
        .ok_or("vector shape: roundtrip_bytes_equal")?;
    eq(
        "Rocky re-serialisation equals the input",
        d.rocky == input,
        roundtrip,
    )
    .map_err(|e| {
        Failed::from(format!(
            "{}\n  input: {input}\n  rocky: {}",
            e.message().unwrap_or(""),
            d.rocky
        ))
    })?;
    if let Some(defaults) = expected.get("defaults") {
        let defaults = defaults.as_object().ok_or("vector shape: defaults")?;
        for (key, want) in defaults {
            if instance.get(key).is_some() {
                return Err(format!("vector shape: default for {key} but the input has it").into());
            }
            eq(&format!("default of {key}"), d.view.get(key), Some(want))?;
        }
    }
    if let Some(ignored) = expected.get("ignored_by_rocky") {
        for key in ignored.as_array().ok_or("vector shape: ignored_by_rocky")? {
            let key = key.as_str().ok_or("vector shape: ignored_by_rocky")?;
            let present = instance
                .get(key)
                .ok_or(format!("vector shape: {key} not in the input"))?;
            if d.view.get(key).is_some() {
                return Err(format!("{key} is kept in Rocky's serialisation").into());
            }
            if let Some(read) = d.extensions.get(key) {
                eq(&format!("extension {key} as read"), read, present)?;
            }
        }
    }
    Ok(())
}

fn timestamps_case(case: &Value) -> Outcome {
    let input = text(case, "/input/text")?;
    match (expected_error(case), Timestamp::parse(input)) {
        (Some(code), Err(e)) => eq("finding code", e.code().as_str(), code),
        (Some(code), Ok(t)) => Err(format!(
            "accepted as {}, must be rejected with {code}",
            t.normalized()
        )
        .into()),
        (None, Err(e)) => Err(format!("rejected: {e}").into()),
        (None, Ok(t)) => {
            eq(
                "valid",
                true,
                field(case, "/expected/valid")?
                    .as_bool()
                    .ok_or("vector shape")?,
            )?;
            eq(
                "utc",
                t.is_utc_text(),
                field(case, "/expected/utc")?
                    .as_bool()
                    .ok_or("vector shape")?,
            )?;
            eq(
                "normalized",
                t.normalized().as_str(),
                text(case, "/expected/normalized")?,
            )
        }
    }
}

fn run_id_case(case: &Value) -> Outcome {
    no_error_expected(case)?;
    let started = Timestamp::parse(text(case, "/input/started_at")?).map_err(|e| e.to_string())?;
    let want = text(case, "/expected")?;
    match case.pointer("/input/existing_ids") {
        None => {
            eq("run id", run_id::rocky_run_id(&started.utc).as_str(), want)?;
            eq(
                "classified",
                run_id::classify_run_id(want, &started.utc),
                RunIdForm::Timestamped {
                    matches: true,
                    suffix: None,
                },
            )
        }
        Some(existing) => {
            let existing = existing.as_array().ok_or("vector shape: existing_ids")?;
            if existing.iter().any(|e| e.as_str() == Some(want)) {
                return Err("vector: expected id is already taken".into());
            }
            match run_id::classify_run_id(want, &started.utc) {
                RunIdForm::Timestamped { matches: true, .. } => Ok(()),
                other => Err(format!("verifier does not accept {want}: {other:?}").into()),
            }
        }
    }
}

fn bytes_of(case: &Value) -> Result<Option<Vec<u8>>, Failed> {
    let input = field(case, "/input")?;
    let mut bytes = if let Some(file) = input.get("file").and_then(Value::as_str) {
        std::fs::read(repo_root().join(file)).map_err(|e| format!("{file}: {e}"))?
    } else if let Some(hex) = input.get("input_hex").and_then(Value::as_str) {
        hex_decode(hex)?
    } else if let Some(t) = input.get("input_text").and_then(Value::as_str) {
        t.as_bytes().to_vec()
    } else if let Some(pattern) = input.get("pattern").and_then(Value::as_str) {
        if pattern != "i % 251" {
            return Err(format!("vector shape: unknown pattern {pattern:?}").into());
        }
        let n = input
            .get("length")
            .and_then(Value::as_u64)
            .ok_or("vector shape: length")?;
        (0..n).map(|i| (i % 251) as u8).collect()
    } else {
        return Ok(None);
    };
    for p in input
        .get("patch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let offset = p
            .get("offset")
            .and_then(Value::as_u64)
            .ok_or("vector shape: patch offset")?;
        let byte = hex_decode(
            p.get("byte_hex")
                .and_then(Value::as_str)
                .ok_or("vector shape: byte_hex")?,
        )?;
        let slot = usize::try_from(offset)
            .ok()
            .and_then(|o| bytes.get_mut(o))
            .ok_or("patch offset out of range")?;
        *slot = *byte.first().ok_or("vector shape: empty byte_hex")?;
    }
    Ok(Some(bytes))
}

fn content_address_case(case: &Value) -> Outcome {
    match text(case, "/kind")? {
        "blake3" => {
            no_error_expected(case)?;
            let bytes = bytes_of(case)?.ok_or("vector shape: no bytes")?;
            eq(
                "blake3",
                identity::blake3_hex(&bytes).as_str(),
                text(case, "/expected/blake3")?,
            )?;
            let size = field(case, "/expected/size_bytes")?
                .as_u64()
                .ok_or("vector shape")?;
            eq("size", bytes.len() as u64, size)?;
            // An unpatched file also goes through the verifier's own file hasher.
            if let (Some(file), None) = (
                case.pointer("/input/file").and_then(Value::as_str),
                case.pointer("/input/patch"),
            ) {
                let h = artifact::hash_file(&repo_root().join(file)).map_err(|e| e.to_string())?;
                eq(
                    "hash_file",
                    (h.blake3.as_str(), h.size),
                    (text(case, "/expected/blake3")?, size),
                )?;
            }
            Ok(())
        }
        "artifact_name" => {
            let name = text(case, "/input/file_name")?;
            let got: Result<String, &str> = match artifact::name_hash(Path::new(name)) {
                None => Err("artifact_name_invalid"),
                Some(claimed) => {
                    let bytes = bytes_of(case)?.ok_or("vector shape: no bytes")?;
                    let actual = identity::blake3_hex(&bytes);
                    if actual == claimed {
                        Ok(actual)
                    } else {
                        Err("artifact_hash_mismatch")
                    }
                }
            };
            match expected_error(case) {
                Some(code) => eq("finding code", got.err(), Some(code)),
                None => eq(
                    "blake3",
                    got.as_deref().ok(),
                    Some(text(case, "/expected/blake3")?),
                ),
            }
        }
        other => Err(format!("vector shape: unknown kind {other:?}").into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Rocky's replay goldens

fn collect_golden_fixtures(trials: &mut Vec<Trial>) {
    let goldens = goldens_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&goldens) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            trials.push(fail_now(
                "fixtures::replay_goldens".into(),
                format!("{}: {e}", goldens.display()),
            ));
            return;
        }
    };
    files.sort();
    if files.len() != 4 {
        trials.push(fail_now(
            "fixtures::replay_goldens".into(),
            format!("expected 4 goldens, found {}", files.len()),
        ));
    }
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_owned();
        let p = path.clone();
        trials.push(Trial::test(
            format!("fixtures::{stem}::schema"),
            move || {
                let bytes = std::fs::read(&p).map_err(|e| e.to_string())?;
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                validate_schema("provenance-record.schema.json", &value).map_err(Failed::from)
            },
        ));
        trials.push(Trial::test(
            format!("fixtures::{stem}::record_command"),
            move || {
                let report = commands::record::verify_record_file(&path, None, false);
                let c = report.counts();
                eq(
                    "(pass, fail, unknown, unverifiable)",
                    (c.pass, c.fail, c.unknown, c.unverifiable),
                    (4, 0, 0, 1),
                )?;
                eq("exit code", report.exit_code(), 0)
            },
        ));
    }
}
