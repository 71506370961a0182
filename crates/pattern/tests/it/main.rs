//! Integration tests of the pattern crate: one binary, data-driven from `tests/data/`.

mod api;
mod corpus;
mod data;
mod fuzzed;
mod inspector;
mod printer;
mod rendered;
mod roundtrip;
