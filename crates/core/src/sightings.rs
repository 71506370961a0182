//! Sightings shared back to an indicator's producer. A member of a collection's group that is
//! not one of its writers may still add sightings of the indicators it may read
//! ([`policy::may_add_sighting`]); ingest holds such a write to exactly that — see
//! [`sighting_only_refusal`]. Each organisation may withhold its monitoring's sightings from
//! a collection.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use stix::Tlp;

use crate::exchange::{Error, Exchange, Result};
use crate::model::{Collection, NewVersion, OrgId, Principal, Role};
use crate::policy;

/// Where and how monitoring shares a sighting of one indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingTarget {
    /// The STIX identity of the organisation whose sensors saw it.
    pub identity: String,
    /// The collection's default TLP, or the indicator's if that is more restrictive, so that
    /// a sighting never reaches anyone who may not read what was sighted.
    pub tlp: Tlp,
    /// For a RED sighting, the indicator's producer, so that it may read where its indicator
    /// hit.
    pub recipients: Vec<String>,
}

impl Exchange {
    /// Whether `org`'s monitoring shares its sightings into the collection (on unless the
    /// organisation turned it off).
    pub fn shares_sightings(&self, org: OrgId, collection_id: &str) -> Result<bool> {
        Ok(!self
            .store()
            .sightings_withheld(org)?
            .iter()
            .any(|c| c == collection_id))
    }

    /// The collections whose sightings the principal's organisation withholds.
    pub fn sightings_withheld(&self, who: &Principal) -> Result<Vec<String>> {
        match who.org() {
            Some(org) => Ok(self.store().sightings_withheld(org)?),
            None => Ok(Vec::new()),
        }
    }

    /// Turns the sharing of the principal's organisation's sightings into a collection on or
    /// off. Admins and analysts of a member organisation decide.
    pub fn set_sighting_sharing(
        &self,
        who: &Principal,
        collection_id: &str,
        share: bool,
    ) -> Result<()> {
        let view = self.collection(who, collection_id)?;
        let org = match (who.org(), who.role()) {
            (Some(org), Some(Role::Admin | Role::Analyst))
                if view.collection.members.contains(&org) =>
            {
                org
            }
            (Some(_), Some(Role::Admin | Role::Analyst)) => {
                return Err(Error::Forbidden(format!(
                    "your organisation is not a member of the sharing group of collection `{collection_id}`"
                )))
            }
            _ => {
                return Err(Error::Forbidden(
                    "only admins and analysts decide where their organisation's sightings go"
                        .to_owned(),
                ))
            }
        };
        self.store()
            .set_sighting_sharing(collection_id, org, share)?;
        self.record_admin(
            who,
            "sightings.share",
            collection_id,
            if share { "on" } else { "off" },
        )
    }

    /// How `org`'s monitoring shares a sighting of `indicator` back into the collection it was
    /// read from; `None` when the organisation withholds its sightings from that collection
    /// or may no longer read the indicator there.
    pub fn sighting_target(
        &self,
        org: OrgId,
        collection_id: &str,
        indicator: &str,
    ) -> Result<Option<SightingTarget>> {
        if !self.shares_sightings(org, collection_id)? {
            return Ok(None);
        }
        let Some(collection) = self.store().collection(collection_id)? else {
            return Ok(None);
        };
        let sighted = self
            .store()
            .versions(collection_id, indicator, false)?
            .into_iter()
            .filter(|v| policy::may_add_sighting(&Principal::Monitoring { org }, &collection, v))
            .max_by_key(|v| v.version);
        let (Some(sighted), Some(own)) = (sighted, self.store().org(org)?) else {
            return Ok(None);
        };
        let tlp = collection
            .default_tlp
            .max(policy::effective_tlp(&collection, &sighted));
        let mut recipients = Vec::new();
        if tlp == Tlp::Red && sighted.producer != org {
            if let Some(producer) = self.store().org(sighted.producer)? {
                if collection.members.contains(&producer.id) {
                    recipients.push(producer.identity_id);
                }
            }
        }
        Ok(Some(SightingTarget {
            identity: own.identity_id,
            tlp,
            recipients,
        }))
    }

    /// Why a write by a member that is not a writer may not be stored, if it may not: each
    /// object must be a sighting of an indicator the principal may sight, or hang from one.
    pub(crate) fn sighting_only_refusal(
        &self,
        who: &Principal,
        collection: &Collection,
        identity: &str,
        objects: &[NewVersion],
    ) -> Result<Option<String>> {
        let mut floors = BTreeMap::new();
        for object in objects.iter().filter(|o| o.object.type_name == "sighting") {
            let Some(sighted) = reference(object, "sighting_of_ref") else {
                continue;
            };
            if floors.contains_key(&sighted) {
                continue;
            }
            let readable = self
                .store()
                .versions(&collection.id, &sighted, false)?
                .into_iter()
                .filter(|v| policy::may_add_sighting(who, collection, v))
                .max_by_key(|v| v.version);
            if let Some(version) = readable {
                floors.insert(sighted, policy::effective_tlp(collection, &version));
            }
        }
        Ok(sighting_only_refusal(
            objects,
            identity,
            collection.default_tlp,
            |id| floors.get(id).copied(),
        ))
    }
}

fn parsed(object: &NewVersion) -> Option<Value> {
    serde_json::from_str(object.object.raw()).ok()
}

fn reference(object: &NewVersion, key: &str) -> Option<String> {
    parsed(object)?.get(key)?.as_str().map(str::to_owned)
}

fn references(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The rule a sighting-only write is held to. Every object must be one of:
///
/// - a `sighting` whose `sighting_of_ref` the writer may sight (`floor` gives the TLP of that
///   indicator), made by the writer's own identity (`created_by_ref`), naming no other place
///   than it in `where_sighted_refs`;
/// - an `observed-data` named by such a sighting, made by the writer's identity;
/// - a cyber-observable named in the `object_refs` of such an observed-data;
///
/// and none may be marked less restrictively than the indicator it is about, so that a
/// sighting cannot carry an indicator's existence beyond its audience. Returns the first
/// reason an object breaks it.
pub(crate) fn sighting_only_refusal(
    objects: &[NewVersion],
    identity: &str,
    default_tlp: Tlp,
    floor: impl Fn(&str) -> Option<Tlp>,
) -> Option<String> {
    let values: Vec<Option<Value>> = objects.iter().map(parsed).collect();
    let made_by_writer =
        |value: &Value| value.get("created_by_ref").and_then(Value::as_str) == Some(identity);
    let mut strictest = None;
    let mut observed = HashSet::new();
    for (object, value) in objects.iter().zip(&values) {
        let Some(value) = value
            .as_ref()
            .filter(|_| object.object.type_name == "sighting")
        else {
            continue;
        };
        let sighted = value.get("sighting_of_ref").and_then(Value::as_str);
        let Some(tlp) = sighted.and_then(&floor) else {
            return Some(format!(
                "{}: your organisation may add sightings only of indicators in this collection that it may read",
                object.object.id
            ));
        };
        if !made_by_writer(value) {
            return Some(format!(
                "{}: property `created_by_ref`: a sighting is added under your organisation's own identity `{identity}`",
                object.object.id
            ));
        }
        if references(value, "where_sighted_refs")
            .iter()
            .any(|r| r != identity)
        {
            return Some(format!(
                "{}: property `where_sighted_refs`: may name only your organisation's identity `{identity}`",
                object.object.id
            ));
        }
        strictest = strictest.max(Some(tlp));
        observed.extend(references(value, "observed_data_refs"));
    }
    let mut observables = HashSet::new();
    for (object, value) in objects.iter().zip(&values) {
        if object.object.type_name != "observed-data" {
            continue;
        }
        let Some(value) = value
            .as_ref()
            .filter(|_| observed.contains(&object.object.id))
        else {
            return Some(format!(
                "{}: an observed-data is added only with a sighting that names it",
                object.object.id
            ));
        };
        if !made_by_writer(value) {
            return Some(format!(
                "{}: property `created_by_ref`: observed data is added under your organisation's own identity `{identity}`",
                object.object.id
            ));
        }
        observables.extend(references(value, "object_refs"));
    }
    for object in objects {
        let o = &object.object;
        let allowed = match o.type_name.as_str() {
            "sighting" | "observed-data" => true,
            _ => {
                stix::category(&o.type_name) == Some(stix::Category::Observable)
                    && observables.contains(&o.id)
            }
        };
        if !allowed {
            return Some(format!(
                "{}: your organisation may not write to this collection; as a member it may add only sightings of the indicators it may read, their observed-data and the cyber-observables these name",
                o.id
            ));
        }
        let tlp = object.tlp.unwrap_or(default_tlp);
        if strictest.is_some_and(|floor| tlp < floor) {
            return Some(format!(
                "{}: property `object_marking_refs`: TLP:{} is less restrictive than the sighted indicator's",
                o.id,
                tlp.as_str().to_uppercase()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn new_version(raw: &str) -> NewVersion {
        let object = stix::parse_object(raw).unwrap_or_else(|e| panic!("{e}"));
        NewVersion {
            sha256: Sha256::digest(raw.as_bytes()).into(),
            tlp: object.tlp(),
            object,
        }
    }

    const ME: &str = "identity--6b617761-6c2d-4000-8000-0000000000aa";
    const OTHER: &str = "identity--6b617761-6c2d-4000-8000-0000000000bb";
    const INDICATOR: &str = "indicator--6b617761-6c2d-4000-8000-000000000001";
    const UNREADABLE: &str = "indicator--6b617761-6c2d-4000-8000-000000000002";
    const OBSERVED: &str = "observed-data--6b617761-6c2d-4000-8000-000000000010";
    const IP: &str = "ipv4-addr--6b617761-6c2d-5000-8000-000000000020";

    fn sighting(of: &str, by: &str, marking: &str) -> String {
        format!(
            r#"{{"type":"sighting","spec_version":"2.1","id":"sighting--6b617761-6c2d-4000-8000-000000000030","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","sighting_of_ref":"{of}","observed_data_refs":["{OBSERVED}"],"where_sighted_refs":["{by}"],"created_by_ref":"{by}","count":2{marking}}}"#
        )
    }

    fn observed(by: &str) -> String {
        format!(
            r#"{{"type":"observed-data","spec_version":"2.1","id":"{OBSERVED}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":2,"object_refs":["{IP}"],"created_by_ref":"{by}"}}"#
        )
    }

    fn ip() -> String {
        format!(r#"{{"type":"ipv4-addr","id":"{IP}","value":"198.51.100.7"}}"#)
    }

    fn check(raws: &[String], default_tlp: Tlp) -> Option<String> {
        let objects: Vec<NewVersion> = raws.iter().map(|r| new_version(r)).collect();
        sighting_only_refusal(&objects, ME, default_tlp, |id| {
            (id == INDICATOR).then_some(Tlp::Amber)
        })
    }

    #[test]
    fn a_sighting_with_its_observed_data_and_observables_is_accepted() {
        assert_eq!(
            check(
                &[sighting(INDICATOR, ME, ""), observed(ME), ip()],
                Tlp::Amber
            ),
            None
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let refused = |raws: &[String], tlp, why: &str| {
            let reason = check(raws, tlp).expect("refused");
            assert!(reason.contains(why), "{reason}");
        };
        refused(&[sighting(UNREADABLE, ME, "")], Tlp::Amber, "may read");
        refused(
            &[sighting(INDICATOR, OTHER, "")],
            Tlp::Amber,
            "created_by_ref",
        );
        refused(&[observed(ME)], Tlp::Amber, "names it");
        refused(
            &[sighting(INDICATOR, ME, ""), observed(OTHER), ip()],
            Tlp::Amber,
            "created_by_ref",
        );
        // An observable nobody names, and an object of another type.
        refused(
            &[sighting(INDICATOR, ME, ""), ip()],
            Tlp::Amber,
            "may not write",
        );
        let malware = r#"{"type":"malware","spec_version":"2.1","id":"malware--6b617761-6c2d-4000-8000-000000000040","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","is_family":true,"name":"x"}"#;
        refused(
            &[sighting(INDICATOR, ME, ""), malware.to_owned()],
            Tlp::Amber,
            "may not write",
        );
        // Marked, or defaulted, below the indicator's TLP.
        let green = format!(r#","object_marking_refs":["{}"]"#, Tlp::Green.marking_ref());
        refused(
            &[sighting(INDICATOR, ME, &green)],
            Tlp::Amber,
            "less restrictive",
        );
        refused(
            &[sighting(INDICATOR, ME, ""), observed(ME), ip()],
            Tlp::Green,
            "less restrictive",
        );
    }

    #[test]
    fn where_sighted_names_only_the_writer() {
        let raw = sighting(INDICATOR, ME, "").replace(
            &format!(r#""where_sighted_refs":["{ME}"]"#),
            &format!(r#""where_sighted_refs":["{ME}","{OTHER}"]"#),
        );
        let reason = check(&[raw], Tlp::Amber).expect("refused");
        assert!(reason.contains("where_sighted_refs"), "{reason}");
    }
}
