//! Detection: what sensors enforce and match, derived from shared indicators.

pub mod feeds;
