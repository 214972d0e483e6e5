//! Benchmark of `rocky-verify gate` (filled in below).
fn main() {}
