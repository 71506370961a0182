//! What an organisation a case is shared with may add to the case's collection without being
//! one of its writers ([`crate::policy::may_contribute`] decides whether it may contribute at
//! all).

use serde_json::Value;
use stix::Tlp;

use super::TASK_TYPE;
use crate::model::NewVersion;

fn refs(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// The rule a partner's write to a case is held to. Every object must be one of:
///
/// - a `note` or `opinion` about the incident (`object_refs` names it);
/// - an `x-kawal-task` of the incident (`incident_ref`) that the writer owns (`owner_ref`);
/// - a `relationship` from the incident (`source_ref`): a link;
/// - a `sighting` naming no other place than the writer (`where_sighted_refs`), or an
///   `observed-data`;
/// - a cyber-observable (evidence `artifact`s and what observed-data names);
///
/// every object but observables made under the writer's own identity (`created_by_ref`), none
/// a new version of an object another organisation made (`made_by_other`), and none marked
/// less restrictively than the incident (`floor`), so that a contribution never reaches
/// beyond the case's audience. Returns the first reason an object breaks it.
pub fn contribution_refusal(
    objects: &[NewVersion],
    identity: &str,
    incident: &str,
    floor: Tlp,
    default_tlp: Tlp,
    made_by_other: impl Fn(&str) -> bool,
) -> Option<String> {
    for new in objects {
        let o = &new.object;
        let id = &o.id;
        let Ok(value) = serde_json::from_str::<Value>(o.raw()) else {
            return Some(format!("{id}: the object could not be read"));
        };
        let observable = stix::category(&o.type_name) == Some(stix::Category::Observable);
        let shaped = match o.type_name.as_str() {
            "note" | "opinion" => refs(&value, "object_refs")
                .iter()
                .any(|r| r == incident)
                .then_some(())
                .ok_or("property `object_refs`: a note or opinion on the case names its incident"),
            TASK_TYPE if text(&value, "incident_ref") != Some(incident) => {
                Err("property `incident_ref`: a task of the case names its incident")
            }
            TASK_TYPE if text(&value, "owner_ref") != Some(identity) => {
                Err("property `owner_ref`: your organisation adds only tasks it owns")
            }
            TASK_TYPE => Ok(()),
            "relationship" => (text(&value, "source_ref") == Some(incident))
                .then_some(())
                .ok_or("property `source_ref`: a link starts at the case's incident"),
            "sighting" => refs(&value, "where_sighted_refs")
                .iter()
                .all(|r| r == identity)
                .then_some(())
                .ok_or("property `where_sighted_refs`: may name only your organisation's identity"),
            "observed-data" => Ok(()),
            _ if observable => Ok(()),
            other => {
                return Some(format!(
                    "{id}: an organisation the case is shared with adds notes, opinions, tasks it owns, links, sightings and evidence; not `{other}` objects"
                ))
            }
        };
        if let Err(why) = shaped {
            return Some(format!("{id}: {why}"));
        }
        if !observable && o.created_by_ref.as_deref() != Some(identity) {
            return Some(format!(
                "{id}: property `created_by_ref`: a contribution is made under your organisation's own identity `{identity}`"
            ));
        }
        if made_by_other(id) {
            return Some(format!(
                "{id}: another organisation made this object; only it may add versions of it"
            ));
        }
        let tlp = new.tlp.unwrap_or(default_tlp);
        if tlp < floor {
            return Some(format!(
                "{id}: property `object_marking_refs`: TLP:{} is less restrictive than the case's TLP:{}",
                tlp.as_str().to_uppercase(),
                floor.as_str().to_uppercase()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::cases::{link_object, new_id, note_object, Task, TaskStatus};

    const ME: &str = "identity--6b617761-6c2d-4000-8000-0000000000aa";
    const OTHER: &str = "identity--6b617761-6c2d-4000-8000-0000000000bb";
    const INCIDENT: &str = "incident--6b617761-6c2d-4000-8000-000000000001";
    const INDICATOR: &str = "indicator--6b617761-6c2d-4000-8000-000000000002";

    fn new_version(raw: &str) -> NewVersion {
        let object = stix::parse_object(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        NewVersion {
            sha256: Sha256::digest(raw.as_bytes()).into(),
            tlp: object.tlp(),
            object,
        }
    }

    fn at() -> stix::Timestamp {
        stix::Timestamp::from_micros(1_700_000_000_000_000)
    }

    fn task(owner: &str, by: &str) -> String {
        Task {
            id: new_id(TASK_TYPE),
            created: at().to_string(),
            modified: at().to_string(),
            created_by_ref: by.to_owned(),
            incident_ref: INCIDENT.to_owned(),
            name: "patch".to_owned(),
            description: None,
            status: TaskStatus::Open,
            owner_ref: owner.to_owned(),
            due: None,
            sequence: 0,
            playbook_step: None,
        }
        .to_object(Tlp::Amber)
        .unwrap()
    }

    fn check(raws: &[String]) -> Option<String> {
        let objects: Vec<NewVersion> = raws.iter().map(|r| new_version(r)).collect();
        contribution_refusal(&objects, ME, INCIDENT, Tlp::Amber, Tlp::Amber, |_| false)
    }

    #[test]
    fn notes_owned_tasks_links_and_sightings_are_accepted() {
        let sighting = format!(
            r#"{{"type":"sighting","spec_version":"2.1","id":"sighting--6b617761-6c2d-4000-8000-000000000030","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","sighting_of_ref":"{INDICATOR}","where_sighted_refs":["{ME}"],"created_by_ref":"{ME}"}}"#
        );
        assert_eq!(
            check(&[
                note_object(INCIDENT, ME, None, "seen here too", Tlp::Amber, at()),
                task(ME, ME),
                link_object(INCIDENT, INDICATOR, "related-to", ME, Tlp::Red, at()),
                sighting,
            ]),
            None
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let refused = |raws: &[String], why: &str| {
            let reason = check(raws).expect("refused");
            assert!(reason.contains(why), "{reason}");
        };
        refused(
            &[note_object(INCIDENT, OTHER, None, "x", Tlp::Amber, at())],
            "created_by_ref",
        );
        refused(
            &[note_object(INDICATOR, ME, None, "x", Tlp::Amber, at())],
            "object_refs",
        );
        refused(&[task(OTHER, ME)], "owner_ref");
        refused(
            &[link_object(
                INDICATOR,
                INCIDENT,
                "related-to",
                ME,
                Tlp::Amber,
                at(),
            )],
            "source_ref",
        );
        refused(
            &[note_object(INCIDENT, ME, None, "x", Tlp::Green, at())],
            "less restrictive",
        );
        let incident = format!(
            r#"{{"type":"incident","spec_version":"2.1","id":"{INCIDENT}","created":"2024-01-01T00:00:00.000Z","modified":"2024-02-01T00:00:00.000Z","name":"mine now","created_by_ref":"{ME}"}}"#
        );
        refused(&[incident], "not `incident`");
        let objects = [new_version(&note_object(
            INCIDENT,
            ME,
            None,
            "x",
            Tlp::Amber,
            at(),
        ))];
        let reason = contribution_refusal(&objects, ME, INCIDENT, Tlp::Amber, Tlp::Amber, |_| true)
            .expect("refused");
        assert!(reason.contains("another organisation"), "{reason}");
    }
}
