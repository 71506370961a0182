//! Integration tests of the detect crate: normalisers on the sample logs in `testdata/`, matched
//! through the real `matcher`; the monitor's indicator sets against a real exchange; the archive
//! and hunting through the public API; generated feeds loaded by the tools that consume them,
//! where installed.

mod archive;
mod common;
mod corrupt;
mod hunt;
mod mapping;
mod monitor;
mod never_panics;
mod pool;
mod suricata;
mod syslog;
mod tools;
mod zeek;
