//! The archive and hunting, through the public API.

mod archive;
mod common;
mod corrupt;
mod hunt;
