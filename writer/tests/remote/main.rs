//! Remote state against real servers (redis-server, moto's S3 server) started by each test on
//! free loopback ports: the lifecycle and keys, every outcome produced by a real fault, no fault
//! ever leaving a partial remote object, compare-and-swap, interop with Rocky's upload format,
//! and the `state_rw` probe. Needs `scripts/servers install`; a missing server fails the test.

mod cas;
mod faults;
mod interop;
mod lifecycle;
mod support;
