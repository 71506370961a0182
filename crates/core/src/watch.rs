//! What an organisation's sensors match against: the indicator versions it may read, followed
//! incrementally. Monitoring polls [`Exchange::indicator_updates`] with the cursors of its last
//! call, so a TAXII write reaches the sensors of every entitled organisation within one poll,
//! and each poll reads only what was added since.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use stix::Timestamp;

use crate::exchange::{Error, Exchange, Result};
use crate::model::{
    Acknowledgement, Alert, AlertFilter, AlertQuery, Collection, ListedAlert, OrgId, Principal,
    Role, StoredVersion,
};
use crate::policy;
use crate::store::Scan;

/// Rows read per store call while following a collection.
const BATCH: usize = 2_000;

/// Where a reader stands in each collection it follows: the `date_added` of the last version
/// it has been shown (or skipped as unreadable).
pub type Cursors = BTreeMap<String, Timestamp>;

/// Where following an organisation's collections got to, after
/// [`Exchange::indicator_updates`] has handed over every new version.
#[derive(Debug, Default)]
pub struct IndicatorUpdates {
    /// The cursors to pass to the next call.
    pub cursors: Cursors,
    /// Collections the organisation followed before and may no longer read.
    pub lost: Vec<String>,
}

/// Whether an organisation's sensors may match against a collection's content: it is a member
/// of the collection's sharing group, or the collection is public (where only CLEAR content is
/// readable to non-members, as [`policy::may_read`] decides per version).
fn followed(org: OrgId, collection: &Collection) -> bool {
    collection.public || collection.members.contains(&org)
}

impl Exchange {
    /// Every indicator version of `collection` added after `cursor` that `org` may read, in
    /// `date_added` order, through [`policy::may_read`]; returns the `date_added` of the last
    /// version scanned, readable or not, so the next call skips what this one saw.
    fn each_readable_indicator(
        &self,
        org: OrgId,
        collection: &Collection,
        mut cursor: Option<Timestamp>,
        with_content: bool,
        mut each: impl FnMut(StoredVersion),
    ) -> Result<Option<Timestamp>> {
        let scan = Scan {
            added_after: None,
            ids: Vec::new(),
            types: vec!["indicator".to_owned()],
            spec_versions: Vec::new(),
            batch: BATCH,
            with_content,
            bulk: cursor.is_none(),
        };
        loop {
            let batch = self.store().scan(&collection.id, cursor, &scan)?;
            let exhausted = batch.len() < BATCH;
            for version in batch {
                cursor = Some(version.date_added);
                if policy::may_read(Some(org), collection, &version) {
                    each(version);
                }
            }
            if exhausted {
                return Ok(cursor);
            }
        }
    }

    /// Hands `each` every indicator version added, since `cursors`, to the collections `org`
    /// may read, oldest first within each collection, with its content and its collection's
    /// id, each through [`policy::may_read`] as that organisation. Versions are read a batch
    /// at a time, so a first read of a million indicators never holds them all.
    pub fn indicator_updates(
        &self,
        org: OrgId,
        cursors: &Cursors,
        mut each: impl FnMut(&str, StoredVersion),
    ) -> Result<IndicatorUpdates> {
        let mut updates = IndicatorUpdates::default();
        let mut following = BTreeSet::new();
        for collection in self.store().collections()? {
            if !followed(org, &collection) {
                continue;
            }
            following.insert(collection.id.clone());
            let since = cursors.get(&collection.id).copied();
            let cursor = self.each_readable_indicator(org, &collection, since, true, |v| {
                each(&collection.id, v);
            })?;
            if let Some(cursor) = cursor {
                updates.cursors.insert(collection.id.clone(), cursor);
            }
        }
        updates.lost = cursors
            .keys()
            .filter(|c| !following.contains(*c))
            .cloned()
            .collect();
        Ok(updates)
    }

    /// How far deletions have got ([`crate::store::Store::deletion_mark`]): while it stays
    /// the same, nothing an organisation could read has gone, and following
    /// [`Exchange::indicator_updates`] alone keeps its view whole.
    pub fn deletion_mark(&self) -> Result<i64> {
        Ok(self.store().deletion_mark()?)
    }

    /// The indicators `org` may read now, by the UUID of their id, newest readable version
    /// each: what monitoring reconciles its set with, after a deletion, to drop indicators
    /// that are gone. Keyed by UUID to keep a million of them small; an id that is not an
    /// indicator's could not be matched anyway.
    pub fn readable_indicators(&self, org: OrgId) -> Result<HashMap<Uuid, Timestamp>> {
        let mut readable = HashMap::new();
        for collection in self.store().collections()? {
            if followed(org, &collection) {
                self.each_readable_indicator(org, &collection, None, false, |v| {
                    if let Ok(("indicator", uuid)) = stix::parse_id(&v.id) {
                        let newest = readable.entry(uuid).or_insert(v.version);
                        *newest = (*newest).max(v.version);
                    }
                })?;
            }
        }
        Ok(readable)
    }
}

impl Exchange {
    /// Which organisation's events a principal may submit: its own, with a `sensor` or
    /// `analyst` token.
    pub fn event_owner(&self, who: &Principal) -> Result<OrgId> {
        match (who.org(), who.role()) {
            (Some(org), Some(Role::Sensor | Role::Analyst)) => Ok(org),
            (Some(_), Some(role)) => Err(Error::Forbidden(format!(
                "role `{role}` may not submit events; use a sensor token"
            ))),
            _ => Err(Error::Unauthenticated(
                "events are submitted with an organisation's sensor token".to_owned(),
            )),
        }
    }

    /// Stores alerts durably; called before the events that raised them are acknowledged.
    pub fn record_alerts(&self, alerts: &[Alert]) -> Result<()> {
        if !alerts.is_empty() {
            self.store().append_alerts(alerts)?;
        }
        Ok(())
    }

    /// Which organisation's alerts a principal may read: its own, with a role that reads
    /// content.
    pub fn alert_reader(&self, who: &Principal) -> Result<OrgId> {
        match (who.org(), who.role()) {
            (Some(org), Some(role)) if role.reads_content() => Ok(org),
            (Some(_), Some(role)) => Err(Error::Forbidden(format!(
                "role `{role}` may not read alerts"
            ))),
            _ => Err(Error::Unauthenticated(
                "alerts are read with an organisation's token".to_owned(),
            )),
        }
    }

    /// Whose refused sensor events a principal may read: its own organisation's, with an
    /// `admin` or `analyst` token, since they hold the events' text.
    pub fn refusal_reader(&self, who: &Principal) -> Result<OrgId> {
        match (who.org(), who.role()) {
            (Some(org), Some(Role::Admin | Role::Analyst)) => Ok(org),
            (Some(_), Some(role)) => Err(Error::Forbidden(format!(
                "role `{role}` may not read refused events; use an admin or analyst token"
            ))),
            _ => Err(Error::Unauthenticated(
                "refused events are read with an organisation's token".to_owned(),
            )),
        }
    }

    /// The principal's organisation's alerts (the query's `org` is replaced by it).
    pub fn alerts(&self, who: &Principal, mut query: AlertQuery) -> Result<Vec<(i64, Alert)>> {
        query.org = self.alert_reader(who)?;
        Ok(self.store().alerts(&query)?)
    }

    /// The principal's organisation's alerts, newest first, with their acknowledgements (the
    /// filter's `org` is replaced by it; at most 500).
    pub fn latest_alerts(
        &self,
        who: &Principal,
        mut filter: AlertFilter,
    ) -> Result<Vec<ListedAlert>> {
        filter.org = self.alert_reader(who)?;
        filter.limit = filter.limit.clamp(1, 500);
        Ok(self.store().latest_alerts(&filter)?)
    }

    /// Records that the principal (an admin or analyst of the alert's organisation) has
    /// looked at an alert. The first acknowledgement stays; acknowledging again returns it.
    pub fn acknowledge_alert(&self, who: &Principal, id: &str) -> Result<Acknowledgement> {
        let org = match (who.org(), who.role()) {
            (Some(org), Some(Role::Admin | Role::Analyst)) => org,
            (Some(_), Some(role)) => {
                return Err(Error::Forbidden(format!(
                    "role `{role}` may not acknowledge alerts; an analyst or admin does"
                )))
            }
            _ => {
                return Err(Error::Unauthenticated(
                    "alerts are acknowledged by a member of their organisation".to_owned(),
                ))
            }
        };
        let actor = who.actor();
        let target = format!("alert {id}");
        match self
            .store()
            .acknowledge_alert(org, id, &actor, Timestamp::now())?
        {
            Some(ack) => {
                let outcome = if ack.by == actor {
                    "ok".to_owned()
                } else {
                    format!("already acknowledged by {}", ack.by)
                };
                self.record(who, "acknowledge", &target, &outcome);
                Ok(ack)
            }
            None => {
                self.record(who, "acknowledge", &target, "not found");
                Err(Error::NotFound(format!(
                    "your organisation has no alert `{id}`"
                )))
            }
        }
    }
}

impl Exchange {
    /// Whose archived events a principal may hunt through: its own organisation's, with an
    /// `admin` or `analyst` token, since hunts show the events themselves.
    pub fn hunt_owner(&self, who: &Principal) -> Result<OrgId> {
        match (who.org(), who.role()) {
            (Some(org), Some(Role::Admin | Role::Analyst)) => Ok(org),
            (Some(_), Some(role)) => Err(Error::Forbidden(format!(
                "role `{role}` may not hunt through archived events; use an admin or analyst token"
            ))),
            _ => Err(Error::Unauthenticated(
                "hunts are run with an organisation's token".to_owned(),
            )),
        }
    }

    /// The alerts `org` already has from `indicator` on events observed at `observed`: a
    /// retro-hunt raises none for an event that has one.
    pub fn alerts_on_event(
        &self,
        org: OrgId,
        indicator: &str,
        observed: Timestamp,
    ) -> Result<Vec<Alert>> {
        let query = AlertQuery {
            org,
            after: None,
            indicator: Some(indicator.to_owned()),
            observed_since: Some(observed),
            observed_until: Some(Timestamp::from_micros(
                observed.as_micros().saturating_add(1),
            )),
            retro: None,
            limit: 10_000,
        };
        Ok(self
            .store()
            .alerts(&query)?
            .into_iter()
            .map(|(_, alert)| alert)
            .collect())
    }
}
