//! Integration tests of the `tlog` crate, in one binary to keep link time down.

mod checkpoint;
mod flow;
mod note;
mod props;
mod reference;
mod tiles;
mod vectors;
mod witness;
