//! The matching loop's state: for each organisation that monitors, the compiled set of every
//! indicator it may read, kept current while events flow.
//!
//! An organisation's set follows its readable collections through
//! [`Exchange::indicator_updates`] (new versions since the last poll, read through the access
//! policy as that organisation), so a TAXII write or revocation reaches its sensors within one
//! poll. Deleted indicators and indicators whose audience no longer includes the organisation
//! leave the set when it is reconciled with [`Exchange::readable_indicators`]. Reading happens
//! outside the set's lock; only applying the (small) change holds it, so matching never waits
//! for the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use kawal_core::{Alert, Cursors, Exchange, OrgId};
use matcher::{IndicatorSet, Observation};
use serde_json::Value;
use stix::Timestamp;

use crate::hunt::HuntHit;

/// How often, by default, an organisation's set is reconciled with what it may read now.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);

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
        }
    }
}

/// Indicators that entered one organisation's set in one refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    pub org: OrgId,
    /// Taken under the set's lock before the indicators went in: events matched before this
    /// instant could not raise their alerts, events matched after it could.
    pub at: Timestamp,
    pub indicators: Vec<AddedIndicator>,
}

/// What a refresh of every loaded set did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub applied: Applied,
    /// Per organisation, the indicators that were not in its set before (not those of a set
    /// loaded for the first time, whose events were never matched without them while it
    /// existed).
    pub arrivals: Vec<Arrivals>,
}

/// One organisation's indicators, compiled.
pub struct OrgIndicators {
    org: OrgId,
    set: IndicatorSet,
    known: HashMap<String, Known>,
    cursors: Cursors,
    reconciled: Option<Instant>,
}

/// The newest version seen of an indicator, whether or not it is in the set (a revoked one is
/// remembered so that an older version read later does not bring it back).
struct Known {
    info: IndicatorInfo,
    active: bool,
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
            cursors: Cursors::new(),
            reconciled: None,
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn info(&self, id: &str) -> Option<&IndicatorInfo> {
        self.known.get(id).filter(|k| k.active).map(|k| &k.info)
    }

    fn apply(
        &mut self,
        candidate: Candidate,
        applied: &mut Applied,
        added: &mut Vec<AddedIndicator>,
    ) {
        let id = candidate.info.id.clone();
        if let Some(known) = self.known.get(&id) {
            if known.info.version >= candidate.info.version {
                applied.ignored += 1;
                return;
            }
        }
        let was_active = self.known.get(&id).is_some_and(|k| k.active);
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
            if let Some((pattern, valid_from, valid_until)) = &candidate.pattern {
                added.push(AddedIndicator {
                    info: candidate.info.clone(),
                    pattern: pattern.clone(),
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                });
            }
        } else {
            applied.ignored += 1;
        }
        self.known.insert(
            id,
            Known {
                info: candidate.info,
                active,
            },
        );
    }

    fn forget(&mut self, id: &str, applied: &mut Applied) {
        if let Some(known) = self.known.remove(id) {
            if known.active {
                self.set.remove(id);
                applied.removed += 1;
            }
        }
    }

    pub fn match_observation(
        &mut self,
        observation: &Observation,
        source: &str,
        objects: &[Value],
    ) -> Vec<Alert> {
        let hits = self.set.match_observation(observation);
        let raised = Timestamp::now();
        hits.into_iter()
            .filter_map(|hit| {
                let info = self.info(&hit.indicator)?.clone();
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
                    objects: objects.to_vec(),
                })
            })
            .collect()
    }
}

/// Every monitoring organisation's indicators, kept current.
pub struct Monitor {
    exchange: Arc<Exchange>,
    orgs: RwLock<HashMap<OrgId, Arc<Mutex<OrgIndicators>>>>,
    reconcile_every: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Monitor {
    pub fn new(exchange: Arc<Exchange>) -> Self {
        Monitor {
            exchange,
            orgs: RwLock::new(HashMap::new()),
            reconcile_every: RECONCILE_EVERY,
        }
    }

    /// Reconciling reads every readable indicator's id; deletions and audience changes take
    /// up to this long to reach the sets.
    pub fn reconcile_every(mut self, period: Duration) -> Self {
        self.reconcile_every = period;
        self
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

    /// Brings every loaded organisation's set up to date; returns what changed and which
    /// indicators each organisation gained.
    pub fn refresh(&self) -> Result<Refreshed, MonitorError> {
        let loaded: Vec<_> = self
            .orgs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(org, set)| (*org, set.clone()))
            .collect();
        let mut refreshed = Refreshed::default();
        for (org, set) in loaded {
            let (applied, arrivals) = self.refresh_one(org, &set)?;
            let total = &mut refreshed.applied;
            total.added += applied.added;
            total.replaced += applied.replaced;
            total.removed += applied.removed;
            total.ignored += applied.ignored;
            if !arrivals.indicators.is_empty() {
                refreshed.arrivals.push(arrivals);
            }
        }
        Ok(refreshed)
    }

    fn refresh_one(
        &self,
        org: OrgId,
        set: &Mutex<OrgIndicators>,
    ) -> Result<(Applied, Arrivals), MonitorError> {
        let (cursors, reconcile) = {
            let set = lock(set);
            let due = set
                .reconciled
                .is_none_or(|at| at.elapsed() >= self.reconcile_every);
            (set.cursors.clone(), due)
        };
        let updates = self.exchange.indicator_updates(org, &cursors)?;
        let candidates: Vec<Candidate> = updates
            .versions
            .iter()
            .filter_map(|(collection, v)| candidate(collection, v.raw.as_deref()?))
            .collect();
        let readable = if reconcile {
            Some(self.exchange.readable_indicators(org)?)
        } else {
            None
        };
        let mut applied = Applied::default();
        let mut set = lock(set);
        let mut arrivals = Arrivals {
            org,
            at: Timestamp::now(),
            indicators: Vec::new(),
        };
        for candidate in candidates {
            set.apply(candidate, &mut applied, &mut arrivals.indicators);
        }
        set.cursors = updates.cursors;
        if let Some(readable) = readable {
            // Gone from every readable collection (deleted, or the audience changed), or the
            // version in the set is no longer readable: drop it; a readable version comes
            // back with the next full read.
            let stale: Vec<String> = set
                .known
                .iter()
                .filter(|(id, k)| readable.get(*id).is_none_or(|v| *v < k.info.version))
                .map(|(id, _)| id.clone())
                .collect();
            let reread = !stale.is_empty() || !updates.lost.is_empty();
            for id in stale {
                set.forget(&id, &mut applied);
            }
            if reread {
                // Versions that are readable but older than a forgotten one are found again
                // by reading from the beginning.
                set.cursors.clear();
            }
            set.reconciled = Some(Instant::now());
        }
        Ok((applied, arrivals))
    }

    /// Matches one event of `org`'s sensors.
    pub fn observe(
        &self,
        org: OrgId,
        source: &str,
        observation: &Observation,
    ) -> Result<Vec<Alert>, MonitorError> {
        let set = self.indicators(org)?;
        let mut set = lock(&set);
        Ok(set.match_observation(observation, source, observation.objects()))
    }
}
