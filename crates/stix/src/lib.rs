//! STIX 2.1 objects as they were received, with the common properties Kawal needs typed,
//! validation against what the specification makes mandatory, and TLP markings.
//!
//! An [`Object`] keeps the exact JSON text it was parsed from: the exchange stores and serves
//! those bytes unchanged so that anyone holding an object can recompute its hash.

mod envelope;
mod id;
mod object;
pub mod sco_id;
mod timestamp;
pub mod tlp;
pub mod types;
mod validate;
pub mod vocab;

pub use envelope::{parse_envelope, EnvelopeError};
pub use id::{parse_id, IdError};
pub use object::{parse_object, Object, Rejection, Violation};
pub use sco_id::deterministic_id;
pub use timestamp::{Timestamp, TimestampError};
pub use tlp::Tlp;
pub use types::{category, Category};

/// The STIX version this crate validates.
pub const SPEC_VERSION: &str = "2.1";
