//! Integration tests of the detect crate: generated feeds loaded by the tools that consume
//! them, where those tools are installed.

mod tools;
