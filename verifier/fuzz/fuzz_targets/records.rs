//! Every ledger record decoder on arbitrary bytes: a decoder may refuse, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocky_verify::model::records;

fuzz_target!(|data: &[u8]| {
    let _ = records::decode_run_record(data);
    let _ = records::decode_model_execution(data);
    let _ = records::decode_artifact_record(data);
    let _ = records::decode_provenance_record(data);
    let _ = records::decode_upstream_identity(data);
    let _ = records::decode_input_index_entry(data);
    let _ = records::decode_watermark_state(data);
    let _ = records::decode_check_history(data);
    let _ = records::decode_branch_record(data);
});
