//! The exchange's operations, independent of any protocol: authentication, reading through the
//! access policy, ingest (validate → store), status resources, administration and the audit
//! trail. TAXII, REST and the command line are thin layers over these.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use stix::{Timestamp, Tlp};

use crate::auth;
use crate::log::{audit_leaf, ObjectLeaf};
use crate::model::{
    AuditEvent, Collection, InsertOutcome, NewVersion, OrgId, Organisation, Principal, Role,
    SharingGroup, StoredVersion, Token, Writers,
};
use crate::policy;
use crate::store::{AuditQuery, NewCollection, Scan, Store, StoreError, StoredStatus};

/// What went wrong, in terms every protocol layer can map to its own status codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(what) => Error::Conflict(format!("{what} already exists")),
            other => Error::Store(other),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Which versions of each object a read returns (TAXII `match[version]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSelect {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    pub at: Vec<Timestamp>,
}

impl Default for VersionSelect {
    /// TAXII's default is the newest version.
    fn default() -> Self {
        VersionSelect {
            all: false,
            first: false,
            last: true,
            at: Vec::new(),
        }
    }
}

impl VersionSelect {
    pub fn all() -> Self {
        VersionSelect {
            all: true,
            first: false,
            last: false,
            at: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub added_after: Option<Timestamp>,
    pub limit: Option<usize>,
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionSelect,
    pub spec_versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<StoredVersion>,
    pub more: bool,
    pub next: Option<String>,
}

impl Page {
    pub fn date_added_first(&self) -> Option<Timestamp> {
        self.items.first().map(|v| v.date_added)
    }
    pub fn date_added_last(&self) -> Option<Timestamp> {
        self.items.last().map(|v| v.date_added)
    }
}

/// A TAXII 2.1 status resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub request_timestamp: String,
    pub total_count: usize,
    pub success_count: usize,
    pub successes: Vec<StatusDetail>,
    pub failure_count: usize,
    pub failures: Vec<StatusDetail>,
    pub pending_count: usize,
    pub pendings: Vec<StatusDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

/// One readable version of an object, as the REST object view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub version: Timestamp,
    pub date_added: Timestamp,
    /// SHA-256 of the bytes served, which the version's log leaf commits to.
    pub sha256: [u8; 32],
    /// The TLP that governs the version: its marking, else the collection's default.
    pub tlp: Tlp,
    /// Its leaf in the transparency log.
    pub leaf: Option<u64>,
    /// The organisation that stored it, and the recipients it named (for RED).
    pub producer: OrgId,
    pub recipients: Vec<OrgId>,
    /// The object, byte for byte as received.
    pub raw: String,
}

/// What an administrator asks for when adding a collection; organisations and the group are
/// named.
#[derive(Debug, Clone)]
pub struct NewCollectionRequest {
    pub title: String,
    pub description: Option<String>,
    pub group: String,
    /// `None`: every member of the group may write.
    pub writers: Option<Vec<String>>,
    pub default_tlp: Tlp,
    pub public: bool,
}

/// An indicator version that may go into a protection feed, with the TLP that governs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedIndicator {
    pub collection: String,
    pub tlp: Tlp,
    /// The object's JSON text.
    pub raw: String,
}

/// A collection as one principal sees it.
#[derive(Debug, Clone)]
pub struct CollectionView {
    pub collection: Collection,
    pub can_read: bool,
    pub can_write: bool,
}

/// What an administrator manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminScope {
    /// Organisations, sharing groups, collections, and every account, token and audit event.
    Instance,
    /// The accounts, tokens and audit events of this organisation.
    Organisation(OrgId),
}

impl AdminScope {
    /// Whether this scope covers what belongs to `org`.
    pub fn covers(self, org: OrgId) -> bool {
        match self {
            AdminScope::Instance => true,
            AdminScope::Organisation(own) => own == org,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most objects a page holds, whatever the client asks.
    pub max_page: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_page: 10_000 }
    }
}

const INSTANCE_ORG: &str = "instance_org";
const AUDIT_BUFFER: usize = 512;

pub struct Exchange {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Token id → (argon2 hash, SHA-256 of the secret) of secrets already verified, so that
    /// argon2 runs once per token rather than once per request.
    verified: Mutex<HashMap<String, (String, [u8; 32])>>,
    audit_buffer: Mutex<Vec<AuditEvent>>,
    /// Whether writes append to the transparency log (config `transparency_log`, on by
    /// default).
    logging: bool,
    validating: Gate,
}

/// At most `limit` holders at once; the rest wait their turn.
struct Gate {
    inside: Mutex<usize>,
    turn: std::sync::Condvar,
    limit: usize,
}

impl Gate {
    fn new(limit: usize) -> Gate {
        Gate {
            inside: Mutex::new(0),
            turn: std::sync::Condvar::new(),
            limit: limit.max(1),
        }
    }

    fn pass<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut inside = self
                .inside
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while *inside >= self.limit {
                inside = self
                    .turn
                    .wait(inside)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            *inside += 1;
        }
        let out = f();
        *self
            .inside
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
        self.turn.notify_one();
        out
    }
}

impl Exchange {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Exchange {
            store,
            limits,
            verified: Mutex::new(HashMap::new()),
            audit_buffer: Mutex::new(Vec::new()),
            logging: true,
            // One core is left to the store's single writer, which every POST waits for in
            // turn: validating on every core had it share a core with two validations
            // (measured: about 5 % fewer objects/s at 10,000 and 300,000 objects).
            validating: Gate::new(
                std::thread::available_parallelism()
                    .map_or(1, std::num::NonZeroUsize::get)
                    .saturating_sub(1),
            ),
        }
    }

    /// An exchange whose writes append nothing to the transparency log, for an instance that
    /// shares nothing it must prove (a sensor hub) or to measure what the log costs. The log
    /// then covers only what was stored while it was on.
    pub fn without_transparency_log(mut self) -> Self {
        self.logging = false;
        self
    }

    pub fn keeps_transparency_log(&self) -> bool {
        self.logging
    }

    fn log_kept(&self) -> Result<()> {
        if self.logging {
            Ok(())
        } else {
            Err(Error::NotFound(
                "this server keeps no transparency log (transparency_log = false)".to_owned(),
            ))
        }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    // ---- authentication ----------------------------------------------------------------

    pub fn authenticate(&self, token_id: &str, secret: &str) -> Result<Principal> {
        let result = self.verify_token(token_id, secret);
        if let Err(e) = &result {
            let attempt = format!("token:{}", token_id.chars().take(16).collect::<String>());
            self.record_event(attempt, None, "authenticate", "", &format!("refused: {e}"));
        }
        result
    }

    fn verify_token(&self, token_id: &str, secret: &str) -> Result<Principal> {
        let refused = || Error::Unauthenticated("unknown token or wrong secret".to_owned());
        if !auth::is_token_id(token_id) {
            return Err(refused());
        }
        let token = self.store.token(token_id)?.ok_or_else(refused)?;
        if token.revoked {
            return Err(Error::Unauthenticated(format!(
                "token {token_id} has been revoked"
            )));
        }
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let cached = || {
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token_id)
                .is_some_and(|(hash, known)| *hash == token.secret_hash && *known == digest)
        };
        if !cached() {
            if !auth::verify_secret_unless(secret, &token.secret_hash, cached) {
                return Err(refused());
            }
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(token_id.to_owned(), (token.secret_hash.clone(), digest));
        }
        Ok(Principal::Token {
            token_id: token.id,
            org: token.org,
            role: token.role,
        })
    }

    // ---- collections -------------------------------------------------------------------

    pub fn visible_collections(&self, who: &Principal) -> Result<Vec<CollectionView>> {
        let views: Vec<CollectionView> = self
            .store
            .collections()?
            .into_iter()
            .filter(|c| policy::may_see_collection(who, c))
            .map(|c| self.view(who, c))
            .collect();
        self.record(
            who,
            "read",
            "collections",
            &format!("{} collections", views.len()),
        );
        Ok(views)
    }

    fn view(&self, who: &Principal, collection: Collection) -> CollectionView {
        CollectionView {
            can_read: policy::may_see_collection(who, &collection),
            can_write: policy::may_write(who, &collection),
            collection,
        }
    }

    /// The collection if the principal may see it. Unknown and invisible collections look the
    /// same, so that a collection's existence does not leak.
    pub fn collection(&self, who: &Principal, id: &str) -> Result<CollectionView> {
        match self.store.collection(id)? {
            Some(c) if policy::may_see_collection(who, &c) => Ok(self.view(who, c)),
            _ if *who == Principal::Anonymous => Err(Error::Unauthenticated(
                "this collection requires authentication".to_owned(),
            )),
            _ => {
                self.record(who, "read", &format!("collection/{id}"), "not found");
                Err(Error::NotFound(format!(
                    "no collection with id `{id}` is visible to you"
                )))
            }
        }
    }

    // ---- reading -----------------------------------------------------------------------

    /// One page of the collection's objects that the principal may read, in `date_added`
    /// order, after the filters of the query.
    pub fn list(
        &self,
        who: &Principal,
        collection_id: &str,
        query: &ListQuery,
        with_content: bool,
    ) -> Result<Page> {
        let view = self.collection(who, collection_id)?;
        let page = self.page(who.org(), &view.collection, query, with_content)?;
        self.record(
            who,
            "read",
            collection_id,
            &format!("{} objects", page.items.len()),
        );
        Ok(page)
    }

    /// All versions of one object that the principal may read, selected by the query; a
    /// `NotFound` error when it may read none at all.
    pub fn object(
        &self,
        who: &Principal,
        collection_id: &str,
        object_id: &str,
        query: &ListQuery,
        with_content: bool,
    ) -> Result<Page> {
        let view = self.collection(who, collection_id)?;
        let reader = who.org();
        let readable = self
            .store
            .versions(collection_id, object_id, false)?
            .iter()
            .any(|v| policy::may_read(reader, &view.collection, v));
        if !readable {
            self.record(
                who,
                "read",
                &format!("{collection_id}/{object_id}"),
                "not found",
            );
            return Err(Error::NotFound(format!(
                "no object with id `{object_id}` in collection `{collection_id}` is visible to you"
            )));
        }
        let query = ListQuery {
            ids: vec![object_id.to_owned()],
            ..query.clone()
        };
        let page = self.page(reader, &view.collection, &query, with_content)?;
        self.record(
            who,
            "read",
            &format!("{collection_id}/{object_id}"),
            &format!("{} versions", page.items.len()),
        );
        Ok(page)
    }

    /// Every version of one object that the principal may read, oldest first, with the SHA-256
    /// of its bytes, the TLP that governs it and its leaf in the transparency log; a `NotFound`
    /// error when it may read none.
    pub fn object_versions(
        &self,
        who: &Principal,
        collection_id: &str,
        object_id: &str,
    ) -> Result<Vec<ObjectVersion>> {
        let view = self.collection(who, collection_id)?;
        let mut query = ListQuery {
            versions: VersionSelect::all(),
            ..ListQuery::default()
        };
        let mut versions = Vec::new();
        loop {
            let page = self.object(who, collection_id, object_id, &query, true)?;
            for v in page.items {
                let leaf = self.store.leaf_of(collection_id, object_id, v.version)?;
                let raw = v.raw.clone().unwrap_or_default();
                versions.push(ObjectVersion {
                    version: v.version,
                    date_added: v.date_added,
                    sha256: Sha256::digest(raw.as_bytes()).into(),
                    tlp: policy::effective_tlp(&view.collection, &v),
                    leaf,
                    producer: v.producer,
                    recipients: v.recipients.clone(),
                    raw,
                });
            }
            match page.next {
                Some(next) => query.next = Some(next),
                None => break,
            }
        }
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }

    pub(crate) fn page(
        &self,
        reader: Option<OrgId>,
        collection: &Collection,
        query: &ListQuery,
        with_content: bool,
    ) -> Result<Page> {
        let limit = query
            .limit
            .unwrap_or(self.limits.max_page)
            .clamp(1, self.limits.max_page);
        let mut cursor = match &query.next {
            Some(next) => Some(parse_cursor(next)?),
            None => None,
        };
        let scan = Scan {
            added_after: query.added_after,
            ids: query.ids.clone(),
            types: query.types.clone(),
            spec_versions: query.spec_versions.clone(),
            batch: (limit + 1).min(5_000),
            with_content,
            bulk: false,
        };
        let mut selector = Selector {
            store: &*self.store,
            collection,
            reader,
            select: &query.versions,
            known: HashMap::new(),
        };
        let mut items = Vec::new();
        loop {
            let batch = self.store.scan(&collection.id, cursor, &scan)?;
            let exhausted = batch.len() < scan.batch;
            for version in batch {
                cursor = Some(version.date_added);
                if policy::may_read(reader, collection, &version) && selector.selected(&version)? {
                    if items.len() == limit {
                        let next = items
                            .last()
                            .map(|v: &StoredVersion| format_cursor(v.date_added));
                        return Ok(Page {
                            items,
                            more: true,
                            next,
                        });
                    }
                    items.push(version);
                }
            }
            if exhausted {
                return Ok(Page {
                    items,
                    more: false,
                    next: None,
                });
            }
        }
    }

    /// Every object of a collection the principal may read, newest version of each, as a
    /// STIX 2.1 bundle whose objects are the stored bytes.
    pub fn export(&self, who: &Principal, collection_id: &str) -> Result<String> {
        let view = self.collection(who, collection_id)?;
        let mut query = ListQuery::default();
        let mut objects = Vec::new();
        loop {
            let page = self.page(who.org(), &view.collection, &query, true)?;
            objects.extend(page.items.into_iter().filter_map(|v| v.raw));
            match page.next {
                Some(next) => query.next = Some(next),
                None => break,
            }
        }
        self.record(
            who,
            "export",
            collection_id,
            &format!("{} objects", objects.len()),
        );
        Ok(format!(
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[{}]}}",
            uuid::Uuid::new_v4(),
            objects.join(",")
        ))
    }

    /// The newest readable version of every indicator the principal's organisation may use
    /// in its protection feeds, from every collection feeds draw on for it
    /// ([`policy::may_feed_from`]). Versions are read as that organisation reads them, through
    /// [`policy::may_read`], then held to the relay rule [`policy::may_relay_to_feed`].
    pub fn feed_indicators(&self, who: &Principal) -> Result<Vec<FeedIndicator>> {
        let Some(consumer) = who.org() else {
            return Err(Error::Unauthenticated(
                "feeds are fetched with an organisation's token".to_owned(),
            ));
        };
        let mut indicators = Vec::new();
        for collection in self.store.collections()? {
            if !policy::may_feed_from(who, &collection) {
                continue;
            }
            let mut query = ListQuery {
                types: vec!["indicator".to_owned()],
                ..ListQuery::default()
            };
            loop {
                let page = self.page(Some(consumer), &collection, &query, true)?;
                for version in page.items {
                    if !policy::may_relay_to_feed(consumer, &collection, &version) {
                        continue;
                    }
                    let tlp = policy::effective_tlp(&collection, &version);
                    if let Some(raw) = version.raw {
                        indicators.push(FeedIndicator {
                            collection: collection.id.clone(),
                            tlp,
                            raw,
                        });
                    }
                }
                match page.next {
                    Some(next) => query.next = Some(next),
                    None => break,
                }
            }
        }
        Ok(indicators)
    }

    /// A number that changes whenever what a feed is made of may have changed: the size of
    /// the transparency log, which grows with every stored version, every deletion and every
    /// administrative action (organisations, groups, collections, tokens), whichever process
    /// made it. `None` on an instance that keeps no log: then nothing marks a change.
    pub fn change_stamp(&self) -> Result<Option<u64>> {
        if !self.logging {
            return Ok(None);
        }
        Ok(Some(self.store.log_head()?.0))
    }

    // ---- writing -----------------------------------------------------------------------

    /// Validates and stores the objects of a TAXII envelope or STIX bundle. Invalid objects are
    /// reported as failures; their valid neighbours are stored. A member that is not a writer
    /// of the collection may add only sightings (`crate::sightings`), all or nothing.
    pub fn add_objects(
        &self,
        who: &Principal,
        collection_id: &str,
        body: &str,
        recipients: &[String],
    ) -> Result<Status> {
        let (collection, mode) = self.collection_to_write(who, collection_id)?;
        let producer = who
            .org()
            .ok_or_else(|| Error::Forbidden("anonymous clients may not add objects".to_owned()))?;
        let recipients = self.resolve_recipients(&collection, recipients)?;
        let (raws, accepted, failures) = self.validating.pass(|| {
            let raws = stix::parse_envelope(body).map_err(|e| Error::BadRequest(e.to_string()))?;
            let (mut accepted, mut failures) = (Vec::with_capacity(raws.len()), Vec::new());
            for checked in check_all(&raws) {
                match checked {
                    Ok(new) => accepted.push(new),
                    Err(failure) => failures.push(failure),
                }
            }
            Ok::<_, Error>((raws, accepted, failures))
        })?;
        let request_timestamp = Timestamp::now();

        let producer_identity = self
            .store
            .org(producer)?
            .map(|o| o.identity_id)
            .unwrap_or_default();
        match &mode {
            WriteMode::Writer => self.note_case_collection(&collection, &accepted)?,
            WriteMode::SightingsOnly => {
                if let Some(reason) =
                    self.sighting_only_refusal(who, &collection, &producer_identity, &accepted)?
                {
                    self.record(who, "write", collection_id, "denied: not only sightings");
                    return Err(Error::Forbidden(reason));
                }
            }
            WriteMode::Contributions { incident, floor } => {
                if let Some(reason) = self.case_contribution_refusal(
                    &collection,
                    producer,
                    &producer_identity,
                    incident,
                    *floor,
                    &accepted,
                )? {
                    self.record(who, "write", collection_id, "denied: not a contribution");
                    return Err(Error::Forbidden(reason));
                }
            }
        }
        let built = std::cell::RefCell::new(None);
        let status_of = |outcomes: &[InsertOutcome]| {
            let status = write_status(
                &accepted,
                outcomes,
                failures.clone(),
                raws.len(),
                request_timestamp,
            );
            // A plain struct always serialises.
            let json = serde_json::to_string(&status).unwrap_or_default();
            let stored = StoredStatus {
                id: status.id.clone(),
                owner: producer,
                json,
            };
            *built.borrow_mut() = Some(status);
            stored
        };
        self.store.insert_versions(
            collection_id,
            producer,
            &recipients,
            &accepted,
            self.logging,
            &status_of,
        )?;
        let status = built.into_inner().ok_or_else(|| {
            Error::Store(StoreError::Backend("the store wrote no status".to_owned()))
        })?;
        self.record(
            who,
            "write",
            collection_id,
            &format!(
                "status {}: {} stored, {} refused",
                status.id, status.success_count, status.failure_count
            ),
        );
        Ok(status)
    }
}

/// What a principal may add to a collection.
enum WriteMode {
    /// Anything: it is one of the collection's writers.
    Writer,
    /// Sightings of indicators it may read ([`policy::may_add_sighting`]).
    SightingsOnly,
    /// Contributions to the case the collection holds ([`policy::may_contribute`]), marked no
    /// less restrictively than `floor`, the TLP of its incident.
    Contributions { incident: String, floor: Tlp },
}

impl Exchange {
    /// The collection a principal writes to, and what it may add there: a member that is not a
    /// writer may contribute to the case the collection holds, if its owner allows it, or add
    /// sightings.
    fn collection_to_write(
        &self,
        who: &Principal,
        collection_id: &str,
    ) -> Result<(Collection, WriteMode)> {
        if let Some(collection) = self.store.collection(collection_id)? {
            if policy::may_write(who, &collection) {
                return Ok((collection, WriteMode::Writer));
            }
            if let Some((incident, floor)) = self.contribution_target(who, &collection)? {
                return Ok((collection, WriteMode::Contributions { incident, floor }));
            }
            if policy::may_add_sightings_to(who, &collection) {
                return Ok((collection, WriteMode::SightingsOnly));
            }
        }
        // Unknown and invisible collections answer as reads do.
        self.collection(who, collection_id)?;
        self.record(who, "write", collection_id, "denied");
        Err(Error::Forbidden(match who.role() {
            Some(role) if !role.writes_content() => format!("role `{role}` may not add objects"),
            _ => format!("your organisation may not write to collection `{collection_id}`"),
        }))
    }
}

/// The TAXII status of a write: one entry per object, in envelope order within successes and
/// within failures.
fn write_status(
    accepted: &[NewVersion],
    outcomes: &[InsertOutcome],
    mut failures: Vec<StatusDetail>,
    total: usize,
    request_timestamp: Timestamp,
) -> Status {
    let mut successes = Vec::with_capacity(outcomes.len());
    for (new, outcome) in accepted.iter().zip(outcomes.iter().cloned()) {
        let id = new.object.id.clone();
        match outcome {
                InsertOutcome::Added { version, leaf, .. } => successes.push(StatusDetail {
                    id,
                    version: version.to_string(),
                    message: leaf.map(|leaf| format!("logged at leaf {leaf}")),
                }),
                InsertOutcome::AlreadyPresent { version } => successes.push(StatusDetail {
                    id,
                    version: version.to_string(),
                    message: Some("this version was already stored".to_owned()),
                }),
                InsertOutcome::Conflict { version } => failures.push(StatusDetail {
                    message: Some(format!(
                        "{id}: property `modified`: a different object with this id and version is already stored; a new version needs a later `modified`"
                    )),
                    id,
                    version: version.to_string(),
                }),
            }
    }
    Status {
        id: uuid::Uuid::new_v4().to_string(),
        status: "complete".to_owned(),
        request_timestamp: request_timestamp.to_string(),
        total_count: total,
        success_count: successes.len(),
        successes,
        failure_count: failures.len(),
        failures,
        pending_count: 0,
        pendings: Vec::new(),
    }
}

impl Exchange {
    fn resolve_recipients(&self, collection: &Collection, names: &[String]) -> Result<Vec<OrgId>> {
        let orgs = if names.is_empty() {
            Vec::new()
        } else {
            self.store.orgs()?
        };
        names
            .iter()
            .map(|name| {
                let org = orgs
                    .iter()
                    .find(|o| o.name == *name || o.identity_id == *name)
                    .ok_or_else(|| Error::BadRequest(format!("recipient `{name}` is not a known organisation")))?;
                if !collection.members.contains(&org.id) {
                    return Err(Error::BadRequest(format!(
                        "recipient `{name}` is not a member of the sharing group of collection `{}`",
                        collection.id
                    )));
                }
                Ok(org.id)
            })
            .collect()
    }

    /// Deletes the selected versions of an object. Only the producing organisation may delete
    /// a version; nobody deletes what they cannot read.
    pub fn delete_object(
        &self,
        who: &Principal,
        collection_id: &str,
        object_id: &str,
        select: &VersionSelect,
        spec_versions: &[String],
    ) -> Result<usize> {
        let view = self.collection(who, collection_id)?;
        if !view.can_write {
            return Err(Error::Forbidden(format!(
                "you may not delete from collection `{collection_id}`"
            )));
        }
        let reader = who.org();
        let versions: Vec<StoredVersion> = self
            .store
            .versions(collection_id, object_id, false)?
            .into_iter()
            .filter(|v| policy::may_read(reader, &view.collection, v))
            .collect();
        if versions.is_empty() {
            return Err(Error::NotFound(format!(
                "no object with id `{object_id}` in collection `{collection_id}` is visible to you"
            )));
        }
        let first = versions.iter().map(|v| v.version).min();
        let last = versions.iter().map(|v| v.version).max();
        let chosen: Vec<&StoredVersion> = versions
            .iter()
            .filter(|v| spec_versions.is_empty() || spec_versions.contains(&v.spec_version))
            .filter(|v| {
                select.all
                    || (select.first && Some(v.version) == first)
                    || (select.last && Some(v.version) == last)
                    || select.at.contains(&v.version)
            })
            .collect();
        if chosen.iter().any(|v| Some(v.producer) != reader) {
            self.record(
                who,
                "delete",
                &format!("{collection_id}/{object_id}"),
                "denied",
            );
            return Err(Error::Forbidden(
                "only the organisation that produced a version may delete it".to_owned(),
            ));
        }
        let at: Vec<Timestamp> = chosen.iter().map(|v| v.version).collect();
        let removed = if at.is_empty() {
            0
        } else {
            let deleted_at = Timestamp::now();
            let default_tlp = view.collection.default_tlp;
            let orgs = self.store.orgs()?;
            let leaf = |v: &StoredVersion, sha256: &[u8; 32]| {
                let producer = orgs
                    .iter()
                    .find(|o| o.id == v.producer)
                    .map(|o| o.identity_id.as_str())
                    .unwrap_or("");
                self.logging.then(|| {
                    ObjectLeaf {
                        deletion: true,
                        collection: collection_id,
                        id: object_id,
                        version: v.version,
                        date_added: deleted_at,
                        producer,
                        tlp: v.tlp.unwrap_or(default_tlp),
                        sha256: *sha256,
                    }
                    .encode()
                })
            };
            self.store
                .delete_versions(collection_id, object_id, &at, &leaf)?
        };
        self.record(
            who,
            "delete",
            &format!("{collection_id}/{object_id}"),
            &format!("{removed} versions"),
        );
        Ok(removed)
    }

    pub fn status(&self, who: &Principal, id: &str) -> Result<Status> {
        let not_found = || Error::NotFound(format!("no status resource `{id}` is visible to you"));
        let stored = self
            .store
            .status(id)?
            .filter(|s| who.org() == Some(s.owner));
        self.record(
            who,
            "read",
            &format!("status/{id}"),
            if stored.is_some() { "ok" } else { "not found" },
        );
        let stored = stored.ok_or_else(not_found)?;
        serde_json::from_str(&stored.json)
            .map_err(|e| Error::Store(StoreError::Backend(format!("stored status {id}: {e}"))))
    }

    // ---- administration ----------------------------------------------------------------

    /// The organisation that runs this instance, once bootstrapped.
    pub fn instance_org(&self) -> Result<Option<Organisation>> {
        match self.store.setting(INSTANCE_ORG)? {
            Some(id) => Ok(id
                .parse()
                .ok()
                .map(|id| self.store.org(id))
                .transpose()?
                .flatten()),
            None => Ok(None),
        }
    }

    /// On an empty store: creates the instance's organisation and an admin token, and returns
    /// `TOKEN_ID:SECRET`. Returns `None` when the instance already exists.
    pub fn bootstrap(&self, org_name: &str) -> Result<Option<String>> {
        if self.instance_org()?.is_some() {
            return Ok(None);
        }
        let org = match self.store.org_by_name(org_name)? {
            Some(org) => org,
            None => self.store.create_org(org_name, None, &new_identity_id())?,
        };
        self.store.set_setting(INSTANCE_ORG, &org.id.to_string())?;
        let (token, secret) = self.issue_token(org.id, Role::Admin)?;
        self.record_admin(
            &Principal::Local {
                org: org.id,
                role: Role::Admin,
            },
            "bootstrap",
            &org.name,
            "ok",
        )?;
        Ok(Some(format!("{}:{secret}", token.id)))
    }

    /// Instance administration (organisations, groups, collections) belongs to admin tokens of
    /// the instance's own organisation and to the local command line.
    pub(crate) fn require_instance_admin(&self, who: &Principal) -> Result<()> {
        match who {
            Principal::Local { .. } => Ok(()),
            _ if who.org_admin().is_some()
                && self
                    .instance_org()?
                    .is_some_and(|o| Some(o.id) == who.org_admin()) =>
            {
                Ok(())
            }
            Principal::Anonymous => Err(Error::Unauthenticated(
                "administration requires an admin token".to_owned(),
            )),
            _ => Err(Error::Forbidden(
                "administration requires an admin token of the instance's organisation".to_owned(),
            )),
        }
    }

    /// What the principal administers: the whole instance (the command line and admins of
    /// the instance's organisation) or its own organisation (the admins of any other). The
    /// same checks every administrative method makes; nobody else administers anything.
    pub fn admin_scope(&self, who: &Principal) -> Result<AdminScope> {
        match self.require_instance_admin(who) {
            Ok(()) => Ok(AdminScope::Instance),
            Err(e) => who.org_admin().map(AdminScope::Organisation).ok_or(e),
        }
    }

    pub fn add_org(
        &self,
        who: &Principal,
        name: &str,
        country: Option<&str>,
    ) -> Result<Organisation> {
        self.require_instance_admin(who)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::BadRequest(
                "an organisation name must be 1 to 200 characters".to_owned(),
            ));
        }
        if let Some(cc) = country {
            if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::BadRequest(format!(
                    "country `{cc}` is not an ISO 3166-1 alpha-2 code such as MY or KH"
                )));
            }
        }
        let org = self.store.create_org(name, country, &new_identity_id())?;
        self.record_admin(who, "org.add", name, "ok")?;
        Ok(org)
    }

    pub fn orgs(&self, who: &Principal) -> Result<Vec<Organisation>> {
        if *who == Principal::Anonymous {
            return Err(Error::Unauthenticated(
                "listing organisations requires a token".to_owned(),
            ));
        }
        Ok(self.store.orgs()?)
    }

    fn org_named(&self, name: &str) -> Result<Organisation> {
        self.store
            .org_by_name(name)?
            .ok_or_else(|| Error::BadRequest(format!("organisation `{name}` does not exist")))
    }

    pub fn add_group(
        &self,
        who: &Principal,
        name: &str,
        members: &[String],
    ) -> Result<SharingGroup> {
        self.require_instance_admin(who)?;
        if name.trim().is_empty() {
            return Err(Error::BadRequest("a sharing group needs a name".to_owned()));
        }
        // The server names the group of each case after it; sharing a case grows that group.
        if name.trim().starts_with("case:") {
            return Err(Error::BadRequest(
                "names beginning with `case:` are kept for the sharing groups of cases".to_owned(),
            ));
        }
        let ids = members
            .iter()
            .map(|m| self.org_named(m).map(|o| o.id))
            .collect::<Result<Vec<_>>>()?;
        let group = self.store.create_group(name.trim(), &ids)?;
        self.record_admin(who, "group.add", name, "ok")?;
        Ok(group)
    }

    pub fn groups(&self, who: &Principal) -> Result<Vec<SharingGroup>> {
        self.require_instance_admin(who)?;
        Ok(self.store.groups()?)
    }

    /// Adds organisations to a sharing group. The groups of cases grow only when their owners
    /// share them, so they are refused here.
    pub fn add_group_members(
        &self,
        who: &Principal,
        group: &str,
        members: &[String],
    ) -> Result<SharingGroup> {
        self.require_instance_admin(who)?;
        let found = self
            .store
            .group_by_name(group)?
            .ok_or_else(|| Error::BadRequest(format!("sharing group `{group}` does not exist")))?;
        if found.name.starts_with("case:") {
            return Err(Error::BadRequest(format!(
                "`{group}` is the sharing group of a case; the case's owner shares it"
            )));
        }
        if members.is_empty() {
            return Err(Error::BadRequest(
                "name the organisations to add to the group".to_owned(),
            ));
        }
        let ids = members
            .iter()
            .map(|m| self.org_named(m).map(|o| o.id))
            .collect::<Result<Vec<_>>>()?;
        self.store.add_group_members(found.id, &ids)?;
        self.record_admin(who, "group.members", &found.name, &members.join(", "))?;
        self.store
            .group_by_name(group)?
            .ok_or_else(|| Error::NotFound(format!("sharing group `{group}` disappeared")))
    }

    /// The sharing groups the principal's organisation belongs to (cases' own groups left
    /// out): the audiences it may name when it shares a case.
    pub fn own_groups(&self, who: &Principal) -> Result<Vec<SharingGroup>> {
        let Some(org) = who.org() else {
            return Err(Error::Unauthenticated(
                "sharing groups are listed for an organisation".to_owned(),
            ));
        };
        Ok(self
            .store
            .groups()?
            .into_iter()
            .filter(|g| g.members.contains(&org) && !g.name.starts_with("case:"))
            .collect())
    }

    /// Every collection, for the instance's administrators, who manage them without reading
    /// their content.
    pub fn administered_collections(&self, who: &Principal) -> Result<Vec<Collection>> {
        self.require_instance_admin(who)?;
        Ok(self.store.collections()?)
    }

    pub fn add_collection(
        &self,
        who: &Principal,
        new: &NewCollectionRequest,
    ) -> Result<Collection> {
        self.require_instance_admin(who)?;
        let NewCollectionRequest {
            title,
            description,
            group,
            writers,
            default_tlp,
            public,
        } = new;
        if title.trim().is_empty() {
            return Err(Error::BadRequest("a collection needs a title".to_owned()));
        }
        let group = self
            .store
            .group_by_name(group)?
            .ok_or_else(|| Error::BadRequest(format!("sharing group `{group}` does not exist")))?;
        let writers = match writers.as_deref() {
            None => Writers::AllMembers,
            Some(names) => {
                let mut ids = Vec::new();
                for name in names {
                    let org = self.org_named(name)?;
                    if !group.members.contains(&org.id) {
                        return Err(Error::BadRequest(format!(
                            "writer `{name}` is not a member of sharing group `{}`",
                            group.name
                        )));
                    }
                    ids.push(org.id);
                }
                Writers::Only(ids)
            }
        };
        let collection = self.store.create_collection(&NewCollection {
            id: uuid::Uuid::new_v4().to_string(),
            title: title.trim().to_owned(),
            description: description.clone(),
            group: group.id,
            writers,
            default_tlp: *default_tlp,
            public: *public,
        })?;
        self.record_admin(who, "collection.add", &collection.id, "ok")?;
        Ok(collection)
    }

    /// Issues a token for an organisation. Instance admins issue for any organisation; an
    /// organisation's own admins for their organisation.
    pub fn add_token(
        &self,
        who: &Principal,
        org_name: &str,
        role: Role,
    ) -> Result<(Token, String)> {
        let org = self.org_named(org_name)?;
        if self.require_instance_admin(who).is_err() {
            match who {
                _ if who.org_admin() == Some(org.id) => {}
                Principal::Anonymous => {
                    return Err(Error::Unauthenticated(
                        "issuing tokens requires an admin token".to_owned(),
                    ))
                }
                _ => {
                    return Err(Error::Forbidden(
                        "only admins of the organisation or of the instance may issue its tokens"
                            .to_owned(),
                    ))
                }
            }
        }
        let (token, secret) = self.issue_token(org.id, role)?;
        self.record_admin(
            who,
            "token.add",
            &token.id,
            &format!("org {} role {role}", org.name),
        )?;
        Ok((token, secret))
    }

    pub(crate) fn issue_token(&self, org: OrgId, role: Role) -> Result<(Token, String)> {
        let (id, secret) = auth::new_token_credentials();
        let secret_hash =
            auth::hash_secret(&secret).map_err(|e| Error::Store(StoreError::Backend(e)))?;
        let token = Token {
            id,
            org,
            role,
            secret_hash,
            created: Timestamp::now(),
            revoked: false,
        };
        self.store.create_token(&token)?;
        Ok((token, secret))
    }

    pub fn revoke_token(&self, who: &Principal, token_id: &str) -> Result<()> {
        let token = self
            .store
            .token(token_id)?
            .ok_or_else(|| Error::NotFound(format!("no token `{token_id}`")))?;
        if self.require_instance_admin(who).is_err() && who.org_admin() != Some(token.org) {
            return Err(Error::Forbidden(
                "only admins of the organisation or of the instance may revoke its tokens"
                    .to_owned(),
            ));
        }
        self.store.revoke_token(token_id)?;
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token_id);
        self.record_admin(who, "token.revoke", token_id, "ok")?;
        Ok(())
    }

    /// Tokens an admin may manage: all for instance admins, their own organisation's otherwise.
    pub fn tokens(&self, who: &Principal) -> Result<Vec<Token>> {
        let all = self.store.tokens()?;
        if self.require_instance_admin(who).is_ok() {
            return Ok(all);
        }
        match who {
            _ if who.org_admin().is_some() => Ok(all
                .into_iter()
                .filter(|t| Some(t.org) == who.org_admin())
                .collect()),
            Principal::Anonymous => Err(Error::Unauthenticated(
                "listing tokens requires an admin token".to_owned(),
            )),
            _ => Err(Error::Forbidden(
                "listing tokens requires an admin token".to_owned(),
            )),
        }
    }

    // ---- audit trail ---------------------------------------------------------------------

    /// Appends to the audit trail. Events are buffered and written in batches by
    /// [`Exchange::flush_audit`], which the server calls on a short timer and at shutdown.
    pub fn record(&self, who: &Principal, action: &str, target: &str, outcome: &str) {
        self.record_event(who.actor(), who.org(), action, target, outcome);
    }

    /// Records an administrative action in the audit trail and, durably, in the transparency
    /// log, so that changes to who may read what are as verifiable as the content.
    pub(crate) fn record_admin(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        outcome: &str,
    ) -> Result<()> {
        let event = AuditEvent {
            at: Timestamp::now(),
            actor: who.actor(),
            org: who.org(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
        };
        if self.logging {
            self.store.append_log(&[audit_leaf(&event)])?;
        }
        self.record(who, action, target, outcome);
        Ok(())
    }

    pub(crate) fn record_event(
        &self,
        actor: String,
        org: Option<OrgId>,
        action: &str,
        target: &str,
        outcome: &str,
    ) {
        let event = AuditEvent {
            at: Timestamp::now(),
            actor,
            org,
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
        };
        let full = {
            let mut buffer = self
                .audit_buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            buffer.push(event);
            buffer.len() >= AUDIT_BUFFER
        };
        if full {
            // A failed write keeps the events buffered for the next flush.
            let _ = self.flush_audit();
        }
    }

    pub fn flush_audit(&self) -> Result<()> {
        let events = std::mem::take(
            &mut *self
                .audit_buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if events.is_empty() {
            return Ok(());
        }
        self.store.append_audit(&events).map_err(|e| {
            let mut buffer = self
                .audit_buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let newer = std::mem::replace(&mut *buffer, events);
            buffer.extend(newer);
            Error::from(e)
        })
    }

    /// Instance admins search the whole trail; an organisation's admins see their own.
    pub fn audit(&self, who: &Principal, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        Ok(self
            .audit_page(who, query)?
            .into_iter()
            .map(|(_, event)| event)
            .collect())
    }

    /// As [`Exchange::audit`], with each event's position, which `before` takes to page on.
    pub fn audit_page(
        &self,
        who: &Principal,
        mut query: AuditQuery,
    ) -> Result<Vec<(i64, AuditEvent)>> {
        self.flush_audit()?;
        match self.admin_scope(who) {
            Ok(AdminScope::Instance) => {}
            Ok(AdminScope::Organisation(org)) => query.org = Some(org),
            Err(Error::Unauthenticated(_)) => {
                return Err(Error::Unauthenticated(
                    "the audit trail requires an admin token".to_owned(),
                ))
            }
            Err(_) => {
                return Err(Error::Forbidden(
                    "the audit trail requires an admin token".to_owned(),
                ))
            }
        }
        query.limit = query.limit.clamp(1, 10_000);
        Ok(self.store.audit(&query)?)
    }
}

fn new_identity_id() -> String {
    format!("identity--{}", uuid::Uuid::new_v4())
}

/// Cursors are the `date_added` (in microseconds) of the last object of the previous page;
/// `date_added` is strictly increasing, so the next page starts exactly after it.
fn format_cursor(date_added: Timestamp) -> String {
    format!("{:x}", date_added.as_micros())
}

fn parse_cursor(next: &str) -> Result<Timestamp> {
    i64::from_str_radix(next, 16)
        .ok()
        .filter(|_| !next.is_empty() && next.len() <= 16)
        .map(Timestamp::from_micros)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "`next` value `{next}` was not issued by this server"
            ))
        })
}

/// Validates each object (STIX rules, then its pattern) and hashes its bytes. Objects are
/// independent, so large envelopes are split across the machine's cores; results keep the
/// envelope's order.
fn check_all(
    raws: &[&serde_json::value::RawValue],
) -> Vec<std::result::Result<NewVersion, StatusDetail>> {
    let check = |(index, raw): (usize, &&serde_json::value::RawValue)| match stix::parse_object(
        raw.get(),
    ) {
        Ok(object) => match check_pattern(&object) {
            None => {
                let sha256 = Sha256::digest(object.raw().as_bytes()).into();
                let tlp = object.tlp();
                Ok(NewVersion {
                    object,
                    sha256,
                    tlp,
                })
            }
            Some(reason) => Err(StatusDetail {
                id: object.id.clone(),
                version: object.version().map(|v| v.to_string()).unwrap_or_default(),
                message: Some(format!("{}: {reason}", object.id)),
            }),
        },
        Err(rejection) => {
            let (id, version) = identify(raw.get(), index);
            Err(StatusDetail {
                id,
                version,
                message: Some(rejection.to_string()),
            })
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if workers < 2 || raws.len() < 256 {
        return raws.iter().enumerate().map(check).collect();
    }
    let chunk = raws.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = raws
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, raw)| check((n * chunk + i, raw)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A validation thread cannot panic on input (no unwrap on it); if one did, its objects
        // are refused rather than lost silently.
        handles
            .into_iter()
            .zip(raws.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join().unwrap_or_else(|_| {
                    part.iter()
                        .enumerate()
                        .map(|(i, raw)| {
                            let (id, version) = identify(raw.get(), i);
                            Err(StatusDetail {
                                id,
                                version,
                                message: Some("the object could not be validated".to_owned()),
                            })
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// An indicator whose pattern is STIX patterning must carry a pattern that parses; the
/// refusal shows the pattern with a caret under the fault.
fn check_pattern(object: &stix::Object) -> Option<String> {
    let (pattern_type, text) = object.pattern.as_ref()?;
    if pattern_type != "stix" {
        return None;
    }
    pattern::parse(text)
        .err()
        .map(|diagnostic| format!("property `pattern`: {}", diagnostic.render(text)))
}

/// Best-effort id and version of an object that failed validation, for its status entry.
fn identify(raw: &str, index: usize) -> (String, String) {
    let value: Option<Value> = serde_json::from_str(raw).ok();
    let text = |key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let id = text("id").unwrap_or_else(|| format!("objects[{index}]"));
    // Only a real timestamp is a version; text that failed to parse is named in the message.
    let version = text("modified")
        .or_else(|| text("created"))
        .and_then(|t| Timestamp::parse(&t).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    (id, version)
}

/// Decides, for versions the reader may read, whether the version filter selects them. First
/// and last are relative to what the reader may read: a newer version the reader may not see
/// does not hide the newest one it may.
struct Selector<'a> {
    store: &'a dyn Store,
    collection: &'a Collection,
    reader: Option<OrgId>,
    select: &'a VersionSelect,
    known: HashMap<String, (Timestamp, Timestamp)>,
}

impl Selector<'_> {
    fn selected(&mut self, version: &StoredVersion) -> Result<bool> {
        let s = self.select;
        if s.all || s.at.contains(&version.version) {
            return Ok(true);
        }
        let wants_first = s.first && !version.oldest;
        let wants_last = s.last && !version.newest;
        if (s.first && version.oldest) || (s.last && version.newest) {
            return Ok(true);
        }
        if !wants_first && !wants_last {
            return Ok(false);
        }
        let (oldest, newest) = match self.known.get(&version.id) {
            Some(bounds) => *bounds,
            None => {
                let readable: Vec<Timestamp> = self
                    .store
                    .versions(&self.collection.id, &version.id, false)?
                    .iter()
                    .filter(|v| policy::may_read(self.reader, self.collection, v))
                    .map(|v| v.version)
                    .collect();
                let bounds = (
                    readable.iter().copied().min().unwrap_or(version.version),
                    readable.iter().copied().max().unwrap_or(version.version),
                );
                self.known.insert(version.id.clone(), bounds);
                bounds
            }
        };
        Ok((wants_first && version.version == oldest) || (wants_last && version.version == newest))
    }
}

/// The log's stored node hashes, read through the store.
struct StoreHashes<'a>(&'a dyn Store);

#[derive(Debug, thiserror::Error)]
enum LogReadError {
    #[error("node {0} of the log is not stored")]
    Missing(tlog::NodeId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl tlog::HashReader for StoreHashes<'_> {
    type Error = LogReadError;

    fn hash_at(&self, level: u8, index: u64) -> std::result::Result<tlog::Hash, LogReadError> {
        let node = tlog::NodeId::new(level, index);
        self.hashes_at(&[node])?
            .pop()
            .ok_or(LogReadError::Missing(node))
    }

    fn hashes_at(
        &self,
        nodes: &[tlog::NodeId],
    ) -> std::result::Result<Vec<tlog::Hash>, LogReadError> {
        let found = self.0.log_hashes(nodes)?;
        nodes
            .iter()
            .zip(found)
            .map(|(n, h)| h.ok_or(LogReadError::Missing(*n)))
            .collect()
    }
}

fn log_error<E: std::error::Error>(e: tlog::proof::ProveError<E>) -> Error {
    match e {
        tlog::proof::ProveError::Read(read) => Error::Store(StoreError::Backend(read.to_string())),
        other => Error::BadRequest(other.to_string()),
    }
}

impl Exchange {
    // ---- transparency log ------------------------------------------------------------------

    /// The newest signed checkpoint (a C2SP signed note).
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        self.log_kept()?;
        Ok(self.store.latest_checkpoint()?)
    }

    /// Signs and keeps a checkpoint when the log has grown since the last one; returns the
    /// size it covers.
    pub fn checkpoint(&self, origin: &str, signer: &tlog::note::Signer) -> Result<Option<u64>> {
        if !self.logging {
            return Ok(None);
        }
        let (size, root) = self.store.log_head()?;
        // A signed size must never be lost by a crash: a checkpoint that the log could not
        // reproduce afterwards would look like a fork to every witness.
        self.store.sync()?;
        let last = self.store.latest_checkpoint()?.map(|(s, _)| s);
        if last.is_some_and(|s| s >= size) || (size == 0 && last.is_some()) {
            return Ok(None);
        }
        let note = tlog::checkpoint::Checkpoint::new(origin, size, root)
            .and_then(|c| c.sign(&[signer]))
            .map_err(|e| {
                Error::Store(StoreError::Backend(format!(
                    "cannot sign a checkpoint: {e}"
                )))
            })?;
        self.store.save_checkpoint(size, &note)?;
        Ok(Some(size))
    }

    fn checked_size(&self, size: u64) -> Result<()> {
        let (head, _) = self.store.log_head()?;
        if size > head {
            return Err(Error::BadRequest(format!(
                "the log has {head} leaves; size {size} is beyond it"
            )));
        }
        Ok(())
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<tlog::Hash>> {
        self.log_kept()?;
        self.checked_size(size)?;
        tlog::proof::inclusion_proof(&StoreHashes(&*self.store), index, size).map_err(log_error)
    }

    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<tlog::Hash>> {
        self.log_kept()?;
        self.checked_size(new)?;
        tlog::proof::consistency_proof(&StoreHashes(&*self.store), old, new).map_err(log_error)
    }

    /// A C2SP tile of the log, if the log is big enough to hold it.
    pub fn log_tile(&self, tile: &tlog::TileId) -> Result<Vec<u8>> {
        self.log_kept()?;
        tlog::tile::tile_bytes(&StoreHashes(&*self.store), tile)
            .map_err(|e| Error::NotFound(format!("tile {tile} is not in the log: {e}")))
    }

    /// A C2SP entry bundle: the leaves of one tile, length-prefixed.
    pub fn log_entry_bundle(&self, bundle: &tlog::tile::EntryBundleId) -> Result<Vec<u8>> {
        self.log_kept()?;
        let start = bundle.first_entry();
        let end = start + u64::from(bundle.width());
        let leaves = self.store.log_leaves(start, end)?;
        // Leaves come back in index order, so the first one out of place marks a gap.
        let gap = (start..end)
            .find(|want| leaves.get((want - start) as usize).map(|(i, _)| *i) != Some(*want));
        if let Some(missing) = gap {
            let (head, _) = self.store.log_head()?;
            return Err(if missing < head {
                Error::Store(StoreError::Backend(format!(
                    "leaf {missing} is missing from the log's store"
                )))
            } else {
                Error::NotFound(format!(
                    "entry bundle {bundle} is not in the log yet: it has {head} leaves"
                ))
            });
        }
        tlog::tile::encode_entry_bundle(leaves.iter().map(|(_, l)| l.as_slice()))
            .map_err(|e| Error::BadRequest(e.to_string()))
    }
}
