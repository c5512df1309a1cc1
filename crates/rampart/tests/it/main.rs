//! The integration tests: the real binary on loopback, asked by real
//! clients and beside Knot, NSD, BIND and dnsdist. One test binary (as
//! ripgrep has) instead of one per file: the helpers in `common` are
//! compiled and the test program linked once, not seventeen times.

mod common;

mod check;
mod cli;
mod console;
mod defences;
mod differential;
mod dnsdist_compat;
mod dnssec_secondary;
mod dnssec_serve;
mod dnssec_sign;
mod encrypted;
mod logs;
mod pools;
mod replication;
mod server;
mod shield;
mod tls_client;
mod web;
