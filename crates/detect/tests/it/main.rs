//! Normalisers on the sample logs in `testdata/`, matched through the real `matcher`.

mod common;
mod mapping;
mod never_panics;
mod suricata;
mod syslog;
mod zeek;
