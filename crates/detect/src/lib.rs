//! Detection: sensor events normalised to STIX 2.1 cyber-observables, matched against shared
//! indicators, archived, and hunted over.
//!
//! - `archive`: the local event archive (compressed, time-partitioned segments; durability at
//!   `flush`; retention by age and size).
//! - `hunt`: STIX patterns and indicator sets run over the archive for one organisation,
//!   skipping what cannot match.

pub mod archive;
pub mod hunt;

pub use archive::{
    Archive, ArchiveConfig, ArchiveError, ArchivedEvent, EventRef, Retention, Scope, Snapshot,
};
pub use hunt::{HuntError, HuntHit, HuntSink, HuntSummary, Hunter, Progress};
