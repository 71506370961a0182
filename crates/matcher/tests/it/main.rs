//! Evaluation semantics on hand-made observations.

mod semantics;
