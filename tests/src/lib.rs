//! End-to-end harness: links rocky-writer and runs rocky-verify only as a subprocess.
