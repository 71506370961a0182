//! The exchange's domain: organisations, sharing groups, collections and tokens; the access
//! policy every read goes through; ingest (validate → store); the [`Store`] trait that storage
//! engines implement.

pub mod auth;
pub mod cases;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod exchange;
pub mod log;
pub mod model;
pub mod people;
pub mod policy;
pub mod search;
pub mod sightings;
pub mod store;
pub mod watch;
pub mod witness;

pub use exchange::{
    AdminScope, CollectionView, Error, Exchange, FeedIndicator, Limits, ListQuery,
    NewCollectionRequest, ObjectVersion, Page, Status, StatusDetail, VersionSelect,
};
pub use model::*;
pub use people::{ActiveSession, SignedIn};
pub use search::{SearchHit, SearchRequest, SearchResults};
pub use sightings::SightingTarget;
pub use store::{
    AuditQuery, EvidenceRecord, NewCollection, Scan, Store, StoreError, StoreResult, StoredStatus,
    WitnessSwap, WitnessedCheckpoint,
};
pub use watch::{Cursors, IndicatorUpdates};
pub use witness::WitnessError;
