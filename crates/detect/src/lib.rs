//! Detection: events from sensors (syslog, NDJSON, Zeek and Suricata logs) parsed, normalised to
//! STIX 2.1 cyber-observables and matched against shared indicators; protection feeds derived
//! from them.
//!
//! - `event`: payloads (JSON objects, `key=value` lines) and timestamps as sensors write them.
//! - `syslog`: RFC 5424 and RFC 3164 messages; TCP framing (RFC 6587) and UDP datagrams.
//! - `normalise`: Zeek, Suricata EVE and operator-configured mappings to cyber-observables.
//! - `monitor`: each organisation's compiled set of the indicators it may read, kept current.
//! - `sightings`: alerts gathered per organisation, indicator and collection over a window into
//!   one STIX `sighting` with its `observed-data`.
//! - `feeds`: blocklists, Suricata rules, RPZ zones and nftables sets from indicators.

pub mod event;
pub mod feeds;
pub mod monitor;
pub mod normalise;
pub mod sightings;
pub mod syslog;

pub use event::{Payload, PayloadError};
pub use monitor::{Monitor, MonitorError};
pub use normalise::{NormaliseError, Normalised};
