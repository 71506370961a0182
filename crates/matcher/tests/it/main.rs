//! Evaluation semantics on hand-made observations.

mod compiled;
mod semantics;
