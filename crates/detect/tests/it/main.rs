//! Integration tests of the detect crate: the matching loop's indicator sets against a real
//! exchange, and generated feeds loaded by the tools that consume them, where installed.

mod monitor;
mod tools;
