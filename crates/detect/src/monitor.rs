//! The matching loop's state: for each organisation that monitors, the compiled set of every
//! indicator it may read, kept current while events flow.
//!
//! An organisation's set follows its readable collections through
//! [`Exchange::indicator_updates`] (new versions since the last poll, read through the access
//! policy as that organisation), so a TAXII write or revocation reaches its sensors within one
//! poll. Deleted indicators leave the set when it is reconciled with
//! [`Exchange::readable_indicators`], which a refresh does only when
//! [`Exchange::deletion_mark`] moved (reading a million ids costs seconds), or when the
//! organisation no longer follows a collection it followed. Reading happens
//! outside the set's lock; only applying what was read holds it, a few thousand versions at a
//! time, so matching never waits for the database and a first load of a million indicators
//! never holds them all as read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use kawal_core::{Alert, Cursors, Exchange, OrgId};
use matcher::{IndicatorSet, Observation};
use serde_json::{Map, Value};
use stix::Timestamp;
use uuid::Uuid;

use crate::hunt::HuntHit;
use crate::normalise::Fields;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Exchange(#[from] kawal_core::Error),
}

impl From<MonitorError> for kawal_core::Error {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::Exchange(e) => e,
        }
    }
}

/// What monitoring knows of one indicator it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorInfo {
    pub id: String,
    pub collection: String,
    /// `modified` of the version in the set.
    pub version: Timestamp,
    pub name: Option<String>,
}

/// Counts of what one organisation's set did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub added: usize,
    pub replaced: usize,
    pub removed: usize,
    /// Versions not matched: other pattern languages, patterns that do not compile, versions
    /// older than the one in the set.
    pub ignored: usize,
}

/// An indicator that entered an organisation's set: what a retro-hunt runs, exactly as it was
/// put in the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedIndicator {
    pub info: IndicatorInfo,
    pub pattern: String,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
}

impl AddedIndicator {
    /// The alert for a retro-hunt hit of this indicator in `org`'s archived events.
    pub fn retro_alert(&self, org: OrgId, hit: &HuntHit) -> Alert {
        Alert {
            id: uuid::Uuid::new_v4().to_string(),
            org,
            observed: hit.at,
            raised: Timestamp::now(),
            indicator: self.info.id.clone(),
            indicator_name: self.info.name.clone(),
            collection: self.info.collection.clone(),
            source: hit.source.clone(),
            retro: true,
            objects: hit.objects.clone(),
            fields: Map::new(),
        }
    }
}

/// Indicators that entered one organisation's set in one refresh, or whose pattern or validity
/// changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    pub org: OrgId,
    /// Taken under the set's lock before the indicators went in: events matched before this
    /// instant could not raise their alerts, events matched after it could.
    pub at: Timestamp,
    pub indicators: Vec<AddedIndicator>,
}

/// What a refresh of every loaded set did.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub applied: Applied,
    /// Per organisation, the indicators that were not in its set before (not those of a set
    /// loaded for the first time, whose events were never matched without them while it
    /// existed).
    pub arrivals: Vec<Arrivals>,
    /// The organisations whose sets could not be brought up to date this time; the others
    /// were.
    pub failures: Vec<(OrgId, MonitorError)>,
}

/// One organisation's indicators, compiled.
pub struct OrgIndicators {
    org: OrgId,
    set: IndicatorSet,
    /// By the UUID of the indicator's id.
    known: HashMap<Uuid, Known>,
    /// Ids written otherwise than as the lowercase text of their UUID, which `known` keeps.
    unusual_ids: HashMap<Uuid, Box<str>>,
    /// Collection ids, which `Known::collection` indexes.
    collections: Vec<Box<str>>,
    cursors: Cursors,
    /// [`Exchange::deletion_mark`] when the set was last loaded or reconciled.
    deletion_mark: Option<i64>,
    /// Arrivals applied by a refresh that then failed. They are in the set, so the versions
    /// read again next time are no longer new: the next refresh that succeeds reports these,
    /// so that their retro-hunts still run.
    unreported: Vec<Arrivals>,
}

/// The newest version seen of an indicator, whether or not it is in the set (a revoked one is
/// remembered so that an older version read later does not bring it back). A million are
/// kept, so each is small: its id is the map's key and its collection an index.
struct Known {
    version: Timestamp,
    name: Option<Box<str>>,
    /// A hash of what was matched (pattern and validity), to tell a new pattern from a
    /// version that changed only other properties.
    matched: u64,
    collection: u32,
    active: bool,
}

fn fingerprint(pattern: &Option<(String, Option<Timestamp>, Option<Timestamp>)>) -> u64 {
    use std::hash::{Hash, Hasher};
    // Compared only within one process's run: the standard hasher is enough.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pattern.hash(&mut h);
    h.finish()
}

/// Versions applied to a set under one hold of its lock while it is read from the store.
const APPLIED_TOGETHER: usize = 4_096;

fn indicator_key(id: &str) -> Option<Uuid> {
    match stix::parse_id(id) {
        Ok(("indicator", uuid)) => Some(uuid),
        _ => None,
    }
}

fn canonical_id(uuid: &Uuid) -> String {
    format!("indicator--{}", uuid.hyphenated())
}

/// A version read from the store, reduced to what matching needs.
struct Candidate {
    info: IndicatorInfo,
    /// `None` when the version must not match: revoked, or not a STIX pattern.
    pattern: Option<(String, Option<Timestamp>, Option<Timestamp>)>,
}

fn candidate(collection: &str, raw: &str) -> Option<Candidate> {
    let object: Value = serde_json::from_str(raw).ok()?;
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let time = |key: &str| text(key).and_then(|t| Timestamp::parse(t).ok());
    let id = text("id")?.to_owned();
    let version = time("modified").or_else(|| time("created"))?;
    let revoked = object.get("revoked").and_then(Value::as_bool) == Some(true);
    let stix_pattern = text("pattern_type") == Some("stix");
    let pattern = match (revoked, stix_pattern, text("pattern")) {
        (false, true, Some(pattern)) => {
            Some((pattern.to_owned(), time("valid_from"), time("valid_until")))
        }
        _ => None,
    };
    Some(Candidate {
        info: IndicatorInfo {
            id,
            collection: collection.to_owned(),
            version,
            name: text("name").map(str::to_owned),
        },
        pattern,
    })
}

impl OrgIndicators {
    pub fn new(org: OrgId) -> Self {
        OrgIndicators {
            org,
            set: IndicatorSet::new(),
            known: HashMap::new(),
            unusual_ids: HashMap::new(),
            collections: Vec::new(),
            cursors: Cursors::new(),
            deletion_mark: None,
            unreported: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn info(&self, id: &str) -> Option<IndicatorInfo> {
        let uuid = indicator_key(id)?;
        let known = self.known.get(&uuid).filter(|k| k.active)?;
        Some(IndicatorInfo {
            id: self.id_of(&uuid),
            collection: self
                .collections
                .get(known.collection as usize)
                .map_or_else(String::new, |c| c.to_string()),
            version: known.version,
            name: known.name.as_deref().map(str::to_owned),
        })
    }

    fn id_of(&self, uuid: &Uuid) -> String {
        self.unusual_ids
            .get(uuid)
            .map_or_else(|| canonical_id(uuid), |id| id.to_string())
    }

    fn collection(&mut self, id: &str) -> u32 {
        let found = self.collections.iter().position(|c| **c == *id);
        let index = found.unwrap_or_else(|| {
            self.collections.push(id.into());
            self.collections.len() - 1
        });
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    fn apply(
        &mut self,
        candidate: Candidate,
        applied: &mut Applied,
        added: Option<&mut Vec<AddedIndicator>>,
    ) {
        let id = candidate.info.id.clone();
        // Not an indicator's id: it could not be put in the set.
        let Some(key) = indicator_key(&id) else {
            applied.ignored += 1;
            return;
        };
        if let Some(known) = self.known.get(&key) {
            if known.version >= candidate.info.version {
                applied.ignored += 1;
                return;
            }
        }
        let was_active = self.known.get(&key).is_some_and(|k| k.active);
        let matched = fingerprint(&candidate.pattern);
        let same_match = self.known.get(&key).is_some_and(|k| k.matched == matched);
        let active = match &candidate.pattern {
            Some((pattern, from, until)) => self.set.insert(&id, pattern, *from, *until).is_ok(),
            None => false,
        };
        if !active && was_active {
            self.set.remove(&id);
            applied.removed += 1;
        } else if active && was_active {
            applied.replaced += 1;
        } else if active {
            applied.added += 1;
        } else {
            applied.ignored += 1;
        }
        // A new indicator, or a new pattern or validity for one already matched: events seen
        // before did not meet this version, so it arrives for a retro-hunt.
        if active && !(was_active && same_match) {
            if let (Some((pattern, valid_from, valid_until)), Some(added)) =
                (&candidate.pattern, added)
            {
                added.push(AddedIndicator {
                    info: candidate.info.clone(),
                    pattern: pattern.clone(),
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                });
            }
        }
        let collection = self.collection(&candidate.info.collection);
        if id == canonical_id(&key) {
            self.unusual_ids.remove(&key);
        } else {
            self.unusual_ids.insert(key, id.into_boxed_str());
        }
        self.known.insert(
            key,
            Known {
                version: candidate.info.version,
                name: candidate.info.name.map(String::into_boxed_str),
                matched,
                collection,
                active,
            },
        );
    }

    fn forget(&mut self, key: &Uuid, applied: &mut Applied) {
        if let Some(known) = self.known.remove(key) {
            if known.active {
                let id = self.id_of(key);
                self.set.remove(&id);
                applied.removed += 1;
            }
            self.unusual_ids.remove(key);
        }
    }

    /// Alerts for the indicators the event matches; `fields` are the event's fields no
    /// cyber-observable took, which the alerts carry.
    pub fn match_observation(
        &mut self,
        observation: &Observation,
        source: &str,
        fields: &Fields,
    ) -> Vec<Alert> {
        let hits = self.set.match_observation(observation);
        let raised = Timestamp::now();
        hits.into_iter()
            .filter_map(|hit| {
                let info = self.info(&hit.indicator)?;
                Some(Alert {
                    id: uuid::Uuid::new_v4().to_string(),
                    org: self.org,
                    observed: observation.first_observed,
                    raised,
                    indicator: info.id,
                    indicator_name: info.name,
                    collection: info.collection,
                    source: source.to_owned(),
                    retro: false,
                    objects: observation.objects().to_vec(),
                    fields: fields.to_map(),
                })
            })
            .collect()
    }
}

/// Every monitoring organisation's indicators, kept current.
pub struct Monitor {
    exchange: Arc<Exchange>,
    orgs: RwLock<HashMap<OrgId, Arc<Mutex<OrgIndicators>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Monitor {
    pub fn new(exchange: Arc<Exchange>) -> Self {
        Monitor {
            exchange,
            orgs: RwLock::new(HashMap::new()),
        }
    }

    /// The organisation's set, loaded on first use.
    pub fn indicators(&self, org: OrgId) -> Result<Arc<Mutex<OrgIndicators>>, MonitorError> {
        if let Some(set) = self
            .orgs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&org)
        {
            return Ok(set.clone());
        }
        let set = Arc::new(Mutex::new(OrgIndicators::new(org)));
        self.refresh_one(org, &set)?;
        let mut orgs = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        Ok(orgs.entry(org).or_insert(set).clone())
    }

    /// Brings every loaded organisation's set up to date; returns what changed, which
    /// indicators each organisation gained, and which sets could not be read (they are tried
    /// again next time, from where they were).
    pub fn refresh(&self) -> Refreshed {
        let loaded: Vec<_> = self
            .orgs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(org, set)| (*org, set.clone()))
            .collect();
        let mut refreshed = Refreshed::default();
        for (org, set) in loaded {
            let (applied, arrivals) = match self.refresh_one(org, &set) {
                Ok(done) => done,
                Err(e) => {
                    refreshed.failures.push((org, e));
                    continue;
                }
            };
            let total = &mut refreshed.applied;
            total.added += applied.added;
            total.replaced += applied.replaced;
            total.removed += applied.removed;
            total.ignored += applied.ignored;
            refreshed.arrivals.extend(arrivals);
        }
        refreshed
    }

    fn refresh_one(
        &self,
        org: OrgId,
        set: &Mutex<OrgIndicators>,
    ) -> Result<(Applied, Vec<Arrivals>), MonitorError> {
        let mut applied = Applied::default();
        let mut arrivals = std::mem::take(&mut lock(set).unreported);
        match self.read_updates(org, set, &mut applied, &mut arrivals) {
            Ok(()) => Ok((applied, arrivals)),
            Err(e) => {
                lock(set).unreported = arrivals;
                Err(e)
            }
        }
    }

    /// Applies to `set` what `org` may read that it does not hold yet, and reconciles it
    /// after deletions; what arrived goes to `arrivals` as it is applied.
    fn read_updates(
        &self,
        org: OrgId,
        set: &Mutex<OrgIndicators>,
        applied: &mut Applied,
        arrivals: &mut Vec<Arrivals>,
    ) -> Result<(), MonitorError> {
        // Read before the versions, so that a deletion made while they are read moves the
        // mark past what is kept, and the next refresh reconciles again.
        let deletion_mark = self.exchange.deletion_mark()?;
        let (cursors, first_load, deleted) = {
            let set = lock(set);
            let deleted = set.deletion_mark.is_some_and(|mark| mark != deletion_mark);
            (set.cursors.clone(), set.deletion_mark.is_none(), deleted)
        };
        let mut read = Vec::with_capacity(APPLIED_TOGETHER);
        let apply = |read: &mut Vec<Candidate>, applied: &mut Applied, arrivals: &mut Vec<_>| {
            if read.is_empty() {
                return;
            }
            let mut set = lock(set);
            let mut arrived = Arrivals {
                org,
                at: Timestamp::now(),
                indicators: Vec::new(),
            };
            for candidate in read.drain(..) {
                // A set loaded for the first time has no arrivals: no event was matched
                // without them.
                let added = (!first_load).then_some(&mut arrived.indicators);
                set.apply(candidate, applied, added);
            }
            if !arrived.indicators.is_empty() {
                arrivals.push(arrived);
            }
        };
        let updates = self
            .exchange
            .indicator_updates(org, &cursors, |collection, v| {
                if let Some(c) = v.raw.as_deref().and_then(|raw| candidate(collection, raw)) {
                    read.push(c);
                    if read.len() == APPLIED_TOGETHER {
                        apply(&mut read, applied, arrivals);
                    }
                }
            })?;
        apply(&mut read, applied, arrivals);
        // After a deletion, or when a collection is no longer followed, what the set holds
        // may no longer be readable. (A first load read everything readable.)
        let readable = if deleted || !updates.lost.is_empty() {
            Some(self.exchange.readable_indicators(org)?)
        } else {
            None
        };
        let mut set = lock(set);
        set.cursors = updates.cursors;
        if let Some(readable) = readable {
            // Gone from every readable collection (deleted, or the audience changed), or the
            // version in the set is no longer readable: drop it; a readable version comes
            // back with the next full read.
            let stale: Vec<Uuid> = set
                .known
                .iter()
                .filter(|(key, k)| readable.get(*key).is_none_or(|v| *v < k.version))
                .map(|(key, _)| *key)
                .collect();
            // A forgotten indicator with an older version still readable (its newest was
            // deleted, say) gets that version back by reading from the beginning; one with
            // nothing readable left, what a deletion nearly always leaves, needs no reading.
            let reread = stale.iter().any(|key| readable.contains_key(key));
            for key in stale {
                set.forget(&key, applied);
            }
            if reread {
                set.cursors.clear();
            }
        }
        set.deletion_mark = Some(deletion_mark);
        Ok(())
    }

    /// Matching for `org`'s sensors' events; its set is loaded first if it was not.
    pub fn matching(&self, org: OrgId) -> Result<Matching, MonitorError> {
        Ok(Matching(self.indicators(org)?))
    }
}

/// One organisation's set, found once for a batch of its events: finding it for each event
/// made every thread matching at the same time write the same shared counters.
pub struct Matching(Arc<Mutex<OrgIndicators>>);

impl Matching {
    /// Matches one event; `fields` are the event's fields no cyber-observable took, which
    /// its alerts carry.
    pub fn observe(&self, source: &str, observation: &Observation, fields: &Fields) -> Vec<Alert> {
        lock(&self.0).match_observation(observation, source, fields)
    }
}
