//! Integration tests of the detect crate: normalisers on the sample logs in `testdata/`, matched
//! through the real `matcher`; the monitor's indicator sets against a real exchange; generated
//! feeds loaded by the tools that consume them, where installed.

mod common;
mod mapping;
mod monitor;
mod never_panics;
mod suricata;
mod syslog;
mod tools;
mod zeek;
