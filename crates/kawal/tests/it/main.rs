//! End-to-end tests: the HTTP server on real loopback sockets, and the real binary.

mod accounts;
mod bad_input;
mod browser;
mod cases;
mod cli;
mod console;
mod console_admin;
mod console_alerts;
mod console_cases;
mod console_editor;
mod console_import;
mod durability;
mod feeds;
mod harness;
mod hunts;
mod log;
mod monitoring;
mod no_loss;
mod object_view;
mod openapi;
mod patterns;
mod sightings;
mod sources;
mod taxii;
mod tlp;
mod witness;
