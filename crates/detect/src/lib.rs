//! Detection: what sensors enforce and match, derived from shared indicators.

pub mod feeds;
pub mod monitor;

pub use monitor::{Monitor, MonitorError};
