//! Detection: events from sensors (syslog, NDJSON, Zeek and Suricata logs) parsed, normalised to
//! STIX 2.1 cyber-observables, matched against shared indicators, archived and hunted over;
//! protection feeds derived from indicators.
//!
//! - `event`: payloads (JSON objects, `key=value` lines) and timestamps as sensors write them.
//! - `syslog`: RFC 5424 and RFC 3164 messages; TCP framing (RFC 6587) and UDP datagrams.
//! - `normalise`: Zeek, Suricata EVE and operator-configured mappings to cyber-observables.
//! - `monitor`: each organisation's compiled set of the indicators it may read, kept current.
//! - `sightings`: alerts gathered per organisation, indicator and collection over a window into
//!   one STIX `sighting` with its `observed-data`.
//! - `archive`: the local event archive (compressed, time-partitioned segments; durability at
//!   `flush`; retention by age and size).
//! - `hunt`: STIX patterns and indicator sets run over the archive for one organisation,
//!   skipping what cannot match.
//! - `feeds`: blocklists, Suricata rules, RPZ zones and nftables sets from indicators.

pub mod archive;
pub mod event;
pub mod feeds;
pub mod hunt;
pub mod monitor;
pub mod normalise;
pub mod sightings;
pub mod syslog;

pub use archive::{
    Archive, ArchiveConfig, ArchiveError, ArchivedEvent, EncodedEvents, EventRef, Retention, Scope,
    Snapshot,
};
pub use event::{Payload, PayloadError};
pub use hunt::{HuntError, HuntHit, HuntSink, HuntSummary, Hunter, Progress};
pub use monitor::{AddedIndicator, Arrivals, Monitor, MonitorError, Refreshed};
pub use normalise::{NormaliseError, Normalised};
