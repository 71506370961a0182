//! The storage boundary. The SQLite engine lives in the `store` crate; another engine
//! (PostgreSQL) implements the same trait and must pass the same conformance suite
//! (`conformance` module, feature `conformance`).

use stix::{Timestamp, Tlp};

use crate::model::{
    AuditEvent, Collection, GroupId, InsertOutcome, NewVersion, OrgId, Organisation, Role, Session,
    SharingGroup, StoredVersion, Token, User, Writers,
};
use crate::search::{Counts, IndexQuery, IndexedVersion, SightedCounts};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} does not exist")]
    Missing(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Builds the status resource of a write from what happened to each version; it is stored in
/// the same transaction, so a status exists exactly when its objects do.
pub type StatusFn<'a> = dyn Fn(&[InsertOutcome]) -> StoredStatus + 'a;

/// Builds the log leaf of a version being deleted, given the SHA-256 of its bytes; `None`
/// when the instance keeps no transparency log.
pub type DeletionLeafFn<'a> = dyn Fn(&StoredVersion, &[u8; 32]) -> Option<Vec<u8>> + 'a;

#[derive(Debug, Clone)]
pub struct NewCollection {
    /// A random UUID, as TAXII requires.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub group: GroupId,
    pub writers: Writers,
    pub default_tlp: Tlp,
    pub public: bool,
}

/// An upload of evidence bytes (kept content-addressed by their SHA-256): the artifact and the
/// file object it stored in a collection. Only these grant reading the bytes, never an artifact
/// that merely names the hash, so knowing a hash is not having the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// Lowercase hex.
    pub sha256: String,
    pub collection: String,
    pub artifact: String,
    pub file: String,
}

/// A scan of one collection in `date_added` order. Filters that do not depend on who reads are
/// applied by the store; the access policy and version selection are applied by the caller.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Only versions added strictly after this instant.
    pub added_after: Option<Timestamp>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub spec_versions: Vec<String>,
    pub batch: usize,
    pub with_content: bool,
    /// The caller reads the collection from its beginning (monitoring's first load, its
    /// reconciliations): the store reads it without keeping its pages in the process's
    /// memory.
    pub bulk: bool,
}

/// A stored TAXII status resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatus {
    pub id: String,
    /// Only this organisation may read the status.
    pub owner: OrgId,
    pub json: String,
}

/// Which audit events to find, newest first. Text filters are exact for `actor` and
/// `action` (the names the trail uses), a substring for `target` and a prefix for `outcome`
/// (`refused` finds every refusal, whatever its reason).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub org: Option<OrgId>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events stored before this position (as returned with each event): the next page.
    pub before: Option<i64>,
    pub limit: usize,
}

/// The latest checkpoint this instance cosigned as a witness of a log (C2SP tlog-witness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedCheckpoint {
    pub size: u64,
    pub root: tlog::Hash,
    /// The checkpoint with the log's signatures and this witness's cosignature, as served to
    /// monitors.
    pub note: String,
}

/// What a compare-and-swap of a witnessed checkpoint found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitnessSwap {
    Swapped,
    /// Another submission moved the log's state first; this is its size now.
    Moved {
        current: u64,
    },
}

/// Persistent state of an exchange instance. Methods block; async callers run them on a
/// blocking pool. Writes are durable when the method returns.
pub trait Store: Send + Sync + 'static {
    fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    fn create_org(
        &self,
        name: &str,
        country: Option<&str>,
        identity_id: &str,
    ) -> StoreResult<Organisation>;
    fn org(&self, id: OrgId) -> StoreResult<Option<Organisation>>;
    fn org_by_name(&self, name: &str) -> StoreResult<Option<Organisation>>;
    fn orgs(&self) -> StoreResult<Vec<Organisation>>;

    fn create_group(&self, name: &str, members: &[OrgId]) -> StoreResult<SharingGroup>;
    fn group_by_name(&self, name: &str) -> StoreResult<Option<SharingGroup>>;
    fn groups(&self) -> StoreResult<Vec<SharingGroup>>;
    /// Adds organisations to a sharing group; members already in it stay once.
    fn add_group_members(&self, group: GroupId, orgs: &[OrgId]) -> StoreResult<()>;

    fn create_collection(&self, new: &NewCollection) -> StoreResult<Collection>;
    fn collection(&self, id: &str) -> StoreResult<Option<Collection>>;
    fn collections(&self) -> StoreResult<Vec<Collection>>;

    fn create_token(&self, token: &Token) -> StoreResult<()>;
    fn token(&self, id: &str) -> StoreResult<Option<Token>>;
    fn tokens(&self) -> StoreResult<Vec<Token>>;
    /// Returns false when no such token exists.
    fn revoke_token(&self, id: &str) -> StoreResult<bool>;

    /// Stores the versions in one transaction, giving each added version a `date_added`
    /// strictly greater than every `date_added` handed out before, and, when `logged`,
    /// appending its leaf to the transparency log in the same transaction, together with the
    /// status resource `status(outcomes)`. The leaf is the `log::ObjectLeaf` of the stored
    /// row (the producer's identity, the version's TLP or else the collection's default), so a
    /// store may keep only its hash and render its text from the row when asked; it must keep
    /// the text once the row is deleted.
    fn insert_versions(
        &self,
        collection: &str,
        producer: OrgId,
        recipients: &[OrgId],
        versions: &[NewVersion],
        logged: bool,
        status: &StatusFn<'_>,
    ) -> StoreResult<Vec<InsertOutcome>>;
    /// Up to `scan.batch` versions with `date_added` greater than `after`, oldest first.
    fn scan(
        &self,
        collection: &str,
        after: Option<Timestamp>,
        scan: &Scan,
    ) -> StoreResult<Vec<StoredVersion>>;
    /// Every version of one object in the collection, oldest version first.
    fn versions(
        &self,
        collection: &str,
        id: &str,
        with_content: bool,
    ) -> StoreResult<Vec<StoredVersion>>;
    /// Removes the given versions of an object and appends their deletion leaves, in one
    /// transaction; returns how many were removed. `leaf` is given each removed version and
    /// the SHA-256 of its bytes.
    fn delete_versions(
        &self,
        collection: &str,
        id: &str,
        versions: &[Timestamp],
        leaf: &DeletionLeafFn<'_>,
    ) -> StoreResult<usize>;

    /// The sequence number of the latest deletion of a version (0 before any). Deleting is
    /// the only way content leaves an audience (sharing groups, collections and tokens'
    /// organisations only grow), so a reader that kept this number knows whether anything it
    /// could read may have gone; an operation that narrows an audience must advance it too.
    fn deletion_mark(&self) -> StoreResult<i64>;

    /// Appends leaves that record no stored object (administrative actions).
    fn append_log(&self, leaves: &[Vec<u8>]) -> StoreResult<()>;
    /// The log's size and root hash, as committed; see [`Store::sync`] before signing it.
    fn log_head(&self) -> StoreResult<(u64, tlog::Hash)>;
    /// Makes everything committed so far durable. Writes are durable when they return, but a
    /// reader may see a commit shortly before it is: call this after reading what is about to
    /// be vouched for (a signed checkpoint) and before vouching.
    fn sync(&self) -> StoreResult<()>;
    /// Stored node hashes (see `tlog::tree`); `None` for a node not (yet) complete.
    fn log_hashes(&self, nodes: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>>;
    /// The stored leaves among `[start, end)`, with their indexes, in order.
    fn log_leaves(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, Vec<u8>)>>;
    /// The leaf index of a stored object version (none if it was stored while the log was off).
    fn leaf_of(&self, collection: &str, id: &str, version: Timestamp) -> StoreResult<Option<u64>>;
    fn save_checkpoint(&self, size: u64, note: &str) -> StoreResult<()>;
    /// The newest signed checkpoint: its size and note.
    fn latest_checkpoint(&self) -> StoreResult<Option<(u64, String)>>;

    /// The latest checkpoint cosigned for the log `origin`.
    fn witnessed(&self, origin: &str) -> StoreResult<Option<WitnessedCheckpoint>>;
    /// Replaces the checkpoint cosigned for `origin` by `new` only if its size is still
    /// `old_size` (a log never cosigned counts as size 0), atomically, so that concurrent
    /// submissions cannot roll the witness back.
    fn swap_witnessed(
        &self,
        origin: &str,
        old_size: u64,
        new: &WitnessedCheckpoint,
    ) -> StoreResult<WitnessSwap>;

    fn save_status(&self, status: &StoredStatus) -> StoreResult<()>;
    fn status(&self, id: &str) -> StoreResult<Option<StoredStatus>>;

    fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Records whether `org`'s monitoring shares its sightings into the collection.
    fn set_sighting_sharing(&self, collection: &str, org: OrgId, share: bool) -> StoreResult<()>;
    /// The collections `org` withholds its sightings from (sharing is on unless set off).
    fn sightings_withheld(&self, org: OrgId) -> StoreResult<Vec<String>>;
    /// Stores alerts (ids already present are ignored).
    fn append_alerts(&self, alerts: &[crate::model::Alert]) -> StoreResult<()>;
    /// Alerts matching the query with their positions, oldest first.
    fn alerts(
        &self,
        query: &crate::model::AlertQuery,
    ) -> StoreResult<Vec<(i64, crate::model::Alert)>>;
    /// One alert of an organisation.
    fn alert(&self, org: OrgId, id: &str) -> StoreResult<Option<crate::model::Alert>>;
    /// Alerts matching the filter, newest first unless it asks for oldest first, with their
    /// acknowledgements.
    fn latest_alerts(
        &self,
        filter: &crate::model::AlertFilter,
    ) -> StoreResult<Vec<crate::model::ListedAlert>>;
    /// Records that `by` acknowledged the organisation's alert at `at`, unless it was
    /// acknowledged before; returns the acknowledgement in force (the first), or `None` when
    /// the organisation has no such alert.
    fn acknowledge_alert(
        &self,
        org: OrgId,
        id: &str,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<Option<crate::model::Acknowledgement>>;
    /// Records that a collection holds a case; marking it again changes nothing.
    fn mark_case_collection(&self, collection: &str) -> StoreResult<()>;
    /// The collections that hold cases, in the order they were marked.
    fn case_collections(&self) -> StoreResult<Vec<String>>;
    /// Records that an upload of the bytes `sha256` stored an artifact (and the file naming
    /// it) in a collection; recording it again changes nothing.
    fn record_evidence(&self, evidence: &EvidenceRecord) -> StoreResult<()>;
    /// What the uploads of the bytes `sha256` stored, in the order they were recorded.
    fn evidence(&self, sha256: &str) -> StoreResult<Vec<EvidenceRecord>>;
    /// Newest first, each with its position in the trail.
    fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<(i64, AuditEvent)>>;

    fn create_user(
        &self,
        org: OrgId,
        username: &str,
        role: Role,
        password_hash: &str,
    ) -> StoreResult<User>;
    fn user(&self, id: i64) -> StoreResult<Option<User>>;
    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    fn users(&self) -> StoreResult<Vec<User>>;
    /// Disables or enables an account; disabling closes its sessions. Returns false when no
    /// such account exists.
    fn set_user_disabled(&self, id: i64, disabled: bool) -> StoreResult<bool>;
    /// Removes an account and its sessions. Returns false when no such account exists.
    fn delete_user(&self, id: i64) -> StoreResult<bool>;
    fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// The session whose secret has this SHA-256.
    fn session(&self, secret_sha256: &[u8; 32]) -> StoreResult<Option<Session>>;
    /// Returns false when no such session exists.
    fn delete_session(&self, secret_sha256: &[u8; 32]) -> StoreResult<bool>;
    /// Removes sessions that expired at or before `now`; returns how many.
    fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<usize>;

    /// Brings the search index and the counts up to date with up to `batch` versions stored
    /// and up to `batch` versions deleted since it last ran, never inside an ingest's
    /// transaction nor holding its writer; returns how many it handled (fewer than `batch`
    /// when it has caught up). Until it runs, search shows deleted versions and misses new
    /// ones.
    fn index_step(&self, batch: usize) -> StoreResult<usize>;
    /// How long ago a transaction last committed: a short time means an ingest is under way,
    /// and work that can wait (the search index) leaves the machine to it.
    fn since_last_commit(&self) -> std::time::Duration;
    /// Indexed versions matching the query, newest `date_added` first. With full text, the
    /// `limit` kept are the most recently indexed matches (which differ from the newest by
    /// `date_added` only among versions indexed together).
    fn search(&self, query: &IndexQuery) -> StoreResult<Vec<IndexedVersion>>;
    /// Indexed versions counted by collection, type and everything the policy looks at, and
    /// per day added from `since_day` on.
    fn counts(&self, since_day: i64) -> StoreResult<Counts>;
    /// Indexed sightings by the object they sight, most sighted first (then by id), `limit`
    /// objects from the `offset`-th.
    fn sighted(&self, offset: usize, limit: usize) -> StoreResult<Vec<SightedCounts>>;
}
