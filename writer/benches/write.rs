//! Benchmarks (simple timing loops, run with `cargo bench -p rocky-writer`):
//!
//! 1. content-addressed write of a 1M-row batch (encode, blake3, temp file, fsync, link, fsync
//!    folder) against a plain `ArrowWriter` into memory with the same settings, as a ratio;
//! 2. runs recorded per second, without and with one small artifact per run.
//!
//! Set `ROCKY_BENCH_DIR` to choose the folder the files are written in (default: the system temp
//! folder).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::Utc;
use parquet::arrow::ArrowWriter;

use rocky_writer::artifact::{ParquetSettings, write_content_addressed};
use rocky_writer::ir::{MaterializationStrategy, ModelIr, RockyType, TableRef, TypedColumn};
use rocky_writer::{Ledger, ModelDraft, RunDraft};

fn batch(rows: usize) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]);
    let n = rows as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n)),
        Arc::new(StringArray::from_iter((0..n).map(|i| {
            (i % 11 != 0).then(|| format!("customer-{}", i % 50_000))
        }))),
        Arc::new(Float64Array::from_iter(
            (0..n).map(|i| (i % 13 != 0).then_some((i % 10_000) as f64 * 0.01)),
        )),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..n).map(|i| 1_700_000_000_000_000 + i * 997),
        )),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("ROCKY_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent; keep that fast.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rows = if quick { 10_000 } else { 1_000_000 };
    let iterations = if quick { 1 } else { 21 };
    let batch = batch(rows);
    let settings = ParquetSettings::pinned();
    let dir = bench_dir();

    let mut plain = Vec::new();
    let mut ours = Vec::new();
    let mut size = 0;
    let run_plain = |size: &mut usize| {
        let start = Instant::now();
        // The same up-front reservation `encode_parquet` makes, so only hashing and I/O differ.
        let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
        let mut writer =
            ArrowWriter::try_new(&mut out, batch.schema(), Some(settings.writer_properties()))
                .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let elapsed = start.elapsed();
        *size = out.len();
        elapsed
    };
    let run_ours = || {
        let start = Instant::now();
        let written = write_content_addressed(dir.path(), &batch, &settings).unwrap();
        let elapsed = start.elapsed();
        assert!(!written.already_existed);
        std::fs::remove_file(&written.path).unwrap();
        elapsed
    };
    // One warm-up of each, then alternate which goes first so neither gets the warmer caches.
    run_plain(&mut size);
    run_ours();
    for i in 0..iterations {
        if i % 2 == 0 {
            plain.push(run_plain(&mut size));
            ours.push(run_ours());
        } else {
            ours.push(run_ours());
            plain.push(run_plain(&mut size));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p_min, o_min) = (*plain.iter().min().unwrap(), *ours.iter().min().unwrap());
    let (p, o) = (median(plain), median(ours));
    println!(
        "content-addressed write, {rows} rows ({size} bytes), {iterations} runs each: \
         plain ArrowWriter to memory median {:.1} ms (best {:.1}), content-addressed to disk \
         median {:.1} ms (best {:.1}); ratio of medians {:.3}, ratio of bests {:.3}",
        ms(p),
        ms(p_min),
        ms(o),
        ms(o_min),
        o.as_secs_f64() / p.as_secs_f64(),
        o_min.as_secs_f64() / p_min.as_secs_f64()
    );
    if !quick {
        // Where the difference goes: hashing the bytes, and writing + fsyncing them.
        let bytes = rocky_writer::artifact::encode_parquet(&batch, &settings).unwrap();
        let start = Instant::now();
        let _ = blake3::hash(&bytes);
        let hash_time = start.elapsed();
        let start = Instant::now();
        let path = dir.path().join("probe.bin");
        let mut f = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        f.sync_all().unwrap();
        let io_time = start.elapsed();
        std::fs::remove_file(&path).unwrap();
        println!(
            "  of which: blake3 of the file {:.2} ms, write + fsync {:.2} ms",
            ms(hash_time),
            ms(io_time)
        );
    }

    let runs = if quick { 5 } else { 300 };
    for with_artifact in [false, true] {
        let dir = bench_dir();
        let ledger = Ledger::create_or_open(dir.path().join(".rocky-state.redb")).unwrap();
        let small = self::batch(1_000);
        let start = Instant::now();
        for i in 0..runs {
            let now = Utc::now();
            let mut run = RunDraft::new(now, now, "bench");
            let ir = ModelIr::new(
                "orders",
                format!("SELECT id FROM wh.raw.src WHERE id > {i}"),
                TableRef::new("wh", "main", "orders"),
                MaterializationStrategy::ContentAddressed {
                    storage_prefix: "out".into(),
                    partition_columns: vec![],
                },
                vec![TypedColumn {
                    name: "id".into(),
                    data_type: RockyType::Int64,
                    nullable: false,
                }],
            );
            let mut model = ModelDraft::new(ir, "models/orders.sql", now, now);
            if with_artifact {
                let sliced = small.slice(0, 1 + (i % 999));
                model.artifacts.push(
                    write_content_addressed(&dir.path().join("out"), &sliced, &settings).unwrap(),
                );
            }
            run.models.push(model);
            ledger.record_run(run).unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "record_run {}: {runs} runs in {:.2} s, {:.0} runs/s",
            if with_artifact {
                "with one artifact written and re-hashed"
            } else {
                "one model, no artifact"
            },
            secs,
            runs as f64 / secs
        );
    }
}
