//! Evaluation semantics on hand-made observations.

mod compiled;
mod semantics;
mod stix2_matcher;
