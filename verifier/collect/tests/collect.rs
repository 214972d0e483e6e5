//! rocky-collect end to end, on real servers (redis-server, moto's S3 server): a test
//! deployment's ledger in S3 and Valkey, its artifacts and Delta logs in S3, collected into a
//! bundle whose manifest the test checks byte by byte; tier divergence; an object changed
//! between listing and read; bad input; the tar form; and (when `rocky-verify` has `--bundle`)
//! offline verification inside a network namespace with no interfaces.

mod support;

mod e2e;
mod inputs;
mod tiers;
