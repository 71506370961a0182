//! Evaluation semantics on hand-made observations.

mod compiled;
mod fuzzed;
mod replace;
mod semantics;
mod stix2_matcher;
