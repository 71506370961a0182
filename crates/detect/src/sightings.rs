//! Sightings: alerts aggregated per organisation, indicator and collection over a window, so
//! that a burst of matching events becomes one STIX `sighting` with a count rather than one
//! object per event.
//!
//! A window opens with the first alert of its key and closes `window` later on the clock the
//! caller passes in (the server's timer, and its shutdown). A closed window becomes an envelope
//! of one `observed-data` (the distinct cyber-observables seen, bounded) and one `sighting` of
//! the indicator, made by the organisation's identity and marked with the TLP the caller
//! chooses. Nothing here reads a clock or does IO.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use kawal_core::{Alert, OrgId};
use serde_json::{json, Map, Value};
use stix::{Timestamp, Tlp};

/// How long, by default, alerts of one indicator are gathered into one sighting.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// How many distinct cyber-observables, by default, one sighting carries. Events whose
/// observables would go beyond it are counted but not shown, so one noisy indicator cannot
/// make a sighting of unbounded size.
pub const MAX_OBSERVABLES: usize = 64;

/// The largest `count` STIX 2.1 allows on a sighting.
const MAX_COUNT: u64 = 999_999_999;

/// What one sighting is about: whose sensors, which indicator, read from which collection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SightingKey {
    pub org: OrgId,
    pub indicator: String,
    pub collection: String,
}

/// The alerts of one key gathered so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub key: SightingKey,
    /// When, on the caller's clock, the first alert was recorded.
    pub opened: Timestamp,
    /// Matching events.
    pub count: u64,
    /// When the earliest and latest of those events happened.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Distinct cyber-observables, in the order first seen; at most the aggregator's bound.
    pub observables: Vec<Value>,
    /// Events whose observables were left out because of the bound.
    pub omitted: u64,
    /// Where the events came from (`http`, `syslog`, a file…).
    pub sources: BTreeSet<String>,
    pub indicator_name: Option<String>,
}

/// Open windows, keyed.
#[derive(Debug)]
pub struct Aggregator {
    window: Duration,
    max_observables: usize,
    open: BTreeMap<SightingKey, Window>,
}

impl Aggregator {
    pub fn new(window: Duration, max_observables: usize) -> Self {
        Aggregator {
            window,
            max_observables,
            open: BTreeMap::new(),
        }
    }

    /// Open windows.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Counts an alert into its key's window, opening one at `now` if none is open.
    pub fn record(&mut self, alert: &Alert, now: Timestamp) {
        let key = SightingKey {
            org: alert.org,
            indicator: alert.indicator.clone(),
            collection: alert.collection.clone(),
        };
        let window = self.open.entry(key.clone()).or_insert_with(|| Window {
            key,
            opened: now,
            count: 0,
            first_seen: alert.observed,
            last_seen: alert.observed,
            observables: Vec::new(),
            omitted: 0,
            sources: BTreeSet::new(),
            indicator_name: None,
        });
        window.count += 1;
        window.first_seen = window.first_seen.min(alert.observed);
        window.last_seen = window.last_seen.max(alert.observed);
        window.sources.insert(alert.source.clone());
        if alert.indicator_name.is_some() {
            window.indicator_name.clone_from(&alert.indicator_name);
        }
        // An event's observables refer to one another (a flow to its addresses), so they are
        // kept or left out together.
        let known: HashSet<&str> = window.observables.iter().filter_map(object_id).collect();
        let mut fresh: Vec<&Value> = Vec::new();
        for object in &alert.objects {
            if let Some(id) = object_id(object) {
                if !known.contains(id) && !fresh.iter().any(|o| object_id(o) == Some(id)) {
                    fresh.push(object);
                }
            }
        }
        if window.observables.len() + fresh.len() <= self.max_observables {
            let fresh: Vec<Value> = fresh.into_iter().cloned().collect();
            window.observables.extend(fresh);
        } else {
            window.omitted += 1;
        }
    }

    /// Closes and returns the windows open for `window` or longer at `now`.
    pub fn close_due(&mut self, now: Timestamp) -> Vec<Window> {
        let span = i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX);
        let due: Vec<SightingKey> = self
            .open
            .iter()
            .filter(|(_, w)| now.as_micros().saturating_sub(w.opened.as_micros()) >= span)
            .map(|(k, _)| k.clone())
            .collect();
        due.iter().filter_map(|k| self.open.remove(k)).collect()
    }

    /// Closes every window (at shutdown).
    pub fn close_all(&mut self) -> Vec<Window> {
        std::mem::take(&mut self.open).into_values().collect()
    }
}

fn object_id(object: &Value) -> Option<&str> {
    object.get("id").and_then(Value::as_str)
}

/// STIX `created` and `modified` are compared at millisecond precision by many consumers.
fn to_millis(t: Timestamp) -> Timestamp {
    Timestamp::from_micros(t.as_micros().div_euclid(1000) * 1000)
}

impl Window {
    /// The STIX 2.1 objects that report this window, as a TAXII envelope: the observables,
    /// one `observed-data` naming them (when any were kept) and one `sighting` of the
    /// indicator, made by `identity` at `now` and all marked `tlp`.
    pub fn envelope(&self, identity: &str, tlp: Tlp, now: Timestamp) -> String {
        let marking = json!([tlp.marking_ref()]);
        let stamp = to_millis(now).to_string();
        let count = self.count.clamp(1, MAX_COUNT);
        let mut objects: Vec<Value> = self
            .observables
            .iter()
            .filter_map(|o| {
                let mut copy: Map<String, Value> = o.as_object()?.clone();
                copy.entry("spec_version").or_insert_with(|| json!("2.1"));
                copy.insert("object_marking_refs".to_owned(), marking.clone());
                Some(Value::Object(copy))
            })
            .collect();
        let refs: Vec<&str> = objects.iter().filter_map(object_id).collect();
        let observed_data = (!refs.is_empty()).then(|| {
            json!({
                "type": "observed-data",
                "spec_version": "2.1",
                "id": format!("observed-data--{}", uuid::Uuid::new_v4()),
                "created": stamp,
                "modified": stamp,
                "created_by_ref": identity,
                "first_observed": self.first_seen.to_string(),
                "last_observed": self.last_seen.to_string(),
                "number_observed": count,
                "object_refs": refs,
                "object_marking_refs": marking,
            })
        });
        let mut sighting = json!({
            "type": "sighting",
            "spec_version": "2.1",
            "id": format!("sighting--{}", uuid::Uuid::new_v4()),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": identity,
            "description": self.description(),
            "first_seen": self.first_seen.to_string(),
            "last_seen": self.last_seen.to_string(),
            "count": count,
            "sighting_of_ref": self.key.indicator,
            "where_sighted_refs": [identity],
            "object_marking_refs": marking,
        });
        if let (Some(data), Some(map)) = (&observed_data, sighting.as_object_mut()) {
            map.insert("observed_data_refs".to_owned(), json!([data["id"]]));
        }
        objects.extend(observed_data);
        objects.push(sighting);
        json!({ "objects": objects }).to_string()
    }

    fn description(&self) -> String {
        let what = match &self.indicator_name {
            Some(name) => format!("Indicator \"{name}\""),
            None => "The indicator".to_owned(),
        };
        let times = if self.count == 1 { "time" } else { "times" };
        let sources: Vec<&str> = self.sources.iter().map(String::as_str).collect();
        let mut text = format!(
            "{what} matched {} {times} in events from {}.",
            self.count,
            sources.join(", ")
        );
        if self.omitted > 0 {
            text.push_str(&format!(
                " The observables of {} of those events are not included.",
                self.omitted
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "identity--6b617761-6c2d-4000-8000-0000000000aa";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(1_700_000_000_000_000 + seconds * 1_000_000)
    }

    fn ip(n: u8) -> Value {
        json!({"type": "ipv4-addr", "id": format!("ipv4-addr--00000000-0000-5000-8000-0000000000{n:02}"), "value": format!("198.51.100.{n}")})
    }

    fn alert(org: OrgId, indicator: u8, observed: i64, objects: Vec<Value>) -> Alert {
        Alert {
            id: uuid::Uuid::new_v4().to_string(),
            org,
            observed: at(observed),
            raised: at(observed),
            indicator: format!("indicator--6b617761-6c2d-4000-8000-0000000000{indicator:02}"),
            indicator_name: Some("c2".to_owned()),
            collection: "c".to_owned(),
            source: if observed % 2 == 0 { "http" } else { "syslog" }.to_owned(),
            retro: false,
            objects,
            fields: serde_json::Map::new(),
        }
    }

    #[test]
    fn alerts_of_one_key_make_one_window_with_its_count_and_span() {
        let mut aggregator = Aggregator::new(Duration::from_secs(60), MAX_OBSERVABLES);
        aggregator.record(&alert(1, 1, 10, vec![ip(1)]), at(100));
        aggregator.record(&alert(1, 1, 5, vec![ip(1)]), at(101));
        aggregator.record(&alert(1, 1, 20, vec![ip(2)]), at(102));
        // Another organisation, another indicator: windows of their own.
        aggregator.record(&alert(2, 1, 10, vec![ip(1)]), at(103));
        aggregator.record(&alert(1, 2, 10, vec![ip(1)]), at(104));
        assert_eq!(aggregator.len(), 3);

        assert!(aggregator.close_due(at(159)).is_empty());
        let closed = aggregator.close_due(at(160));
        assert_eq!(closed.len(), 1);
        let window = &closed[0];
        assert_eq!(window.key.org, 1);
        assert_eq!(window.count, 3);
        assert_eq!((window.first_seen, window.last_seen), (at(5), at(20)));
        assert_eq!(window.observables, [ip(1), ip(2)]);
        assert_eq!(
            window
                .sources
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["http", "syslog"]
        );
        // The others close on their own schedule; everything closes at shutdown.
        assert_eq!(aggregator.close_due(at(163)).len(), 1);
        assert_eq!(aggregator.close_all().len(), 1);
        assert!(aggregator.is_empty());
    }

    #[test]
    fn a_closed_key_opens_a_new_window() {
        let mut aggregator = Aggregator::new(Duration::from_secs(1), MAX_OBSERVABLES);
        aggregator.record(&alert(1, 1, 0, vec![ip(1)]), at(0));
        assert_eq!(aggregator.close_due(at(1))[0].count, 1);
        aggregator.record(&alert(1, 1, 2, vec![ip(1)]), at(2));
        let next = aggregator.close_due(at(3));
        assert_eq!((next[0].count, next[0].opened), (1, at(2)));
    }

    #[test]
    fn observables_are_bounded_event_by_event() {
        let mut aggregator = Aggregator::new(Duration::from_secs(60), 3);
        aggregator.record(&alert(1, 1, 0, vec![ip(1), ip(2)]), at(0));
        // Two more would make four: the event is counted, its observables left out whole.
        aggregator.record(&alert(1, 1, 1, vec![ip(3), ip(4)]), at(0));
        // One already kept and one new fit.
        aggregator.record(&alert(1, 1, 2, vec![ip(2), ip(5)]), at(0));
        let window = &aggregator.close_all()[0];
        assert_eq!(window.count, 3);
        assert_eq!(window.omitted, 1);
        assert_eq!(window.observables, [ip(1), ip(2), ip(5)]);
        assert!(window.description().contains("1 of those events"));
    }

    #[test]
    fn a_window_becomes_valid_stix_naming_the_indicator_and_the_identity() {
        let mut aggregator = Aggregator::new(Duration::from_secs(60), MAX_OBSERVABLES);
        for n in 0..4 {
            aggregator.record(&alert(1, 1, n, vec![ip(1), ip(2)]), at(0));
        }
        let window = &aggregator.close_all()[0];
        let envelope = window.envelope(IDENTITY, Tlp::Amber, at(61));
        let raws = stix::parse_envelope(&envelope).unwrap();
        let objects: Vec<stix::Object> = raws
            .iter()
            .map(|raw| stix::parse_object(raw.get()).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let types: Vec<&str> = objects.iter().map(|o| o.type_name.as_str()).collect();
        assert_eq!(
            types,
            ["ipv4-addr", "ipv4-addr", "observed-data", "sighting"]
        );
        assert!(objects.iter().all(|o| o.tlp() == Some(Tlp::Amber)));
        let value: Value = serde_json::from_str(&envelope).unwrap();
        let observed = &value["objects"][2];
        let sighting = &value["objects"][3];
        assert_eq!(sighting["sighting_of_ref"], window.key.indicator);
        assert_eq!(sighting["where_sighted_refs"], json!([IDENTITY]));
        assert_eq!(sighting["created_by_ref"], IDENTITY);
        assert_eq!(sighting["count"], 4);
        assert_eq!(sighting["first_seen"], at(0).to_string());
        assert_eq!(sighting["last_seen"], at(3).to_string());
        assert_eq!(sighting["observed_data_refs"], json!([observed["id"]]));
        assert_eq!(observed["number_observed"], 4);
        assert_eq!(observed["object_refs"], json!([ip(1)["id"], ip(2)["id"]]));
        let description = sighting["description"].as_str().unwrap();
        assert!(
            description.contains("\"c2\" matched 4 times"),
            "{description}"
        );
        assert!(description.contains("http, syslog"), "{description}");
    }

    #[test]
    fn a_window_without_observables_is_a_sighting_alone() {
        let mut aggregator = Aggregator::new(Duration::from_secs(60), 1);
        aggregator.record(&alert(1, 1, 0, vec![ip(1), ip(2)]), at(0));
        let envelope = aggregator.close_all()[0].envelope(IDENTITY, Tlp::Red, at(1));
        let value: Value = serde_json::from_str(&envelope).unwrap();
        let objects = value["objects"].as_array().unwrap();
        assert_eq!(objects.len(), 1);
        assert!(objects[0].get("observed_data_refs").is_none());
        let raw = objects[0].to_string();
        assert!(stix::parse_object(&raw).is_ok(), "{raw}");
    }
}
