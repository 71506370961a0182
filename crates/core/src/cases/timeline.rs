//! The case's timeline: every version of the case's objects that the reader may read, merged
//! in order, each told as what it changed. The caller passes only readable versions, so a
//! contribution the reader may not see leaves no entry, gap or count behind.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use stix::{Timestamp, Tlp};

use super::evidence::{self, Evidence};
use super::{read_case, CaseState, Task, TASK_TYPE};

/// One readable version of an object of the case.
#[derive(Debug, Clone)]
pub struct CaseObject {
    pub id: String,
    pub type_name: String,
    pub version: Timestamp,
    pub date_added: Timestamp,
    /// The TLP that governs the version.
    pub tlp: Tlp,
    /// The name of the organisation that stored it.
    pub organisation: String,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The version's own time (`modified`, else `created`, else when it was stored).
    pub at: Timestamp,
    pub kind: &'static str,
    pub id: String,
    pub organisation: String,
    pub tlp: Tlp,
    pub summary: String,
    pub object: Value,
}

/// A link from the case to another object, newest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub id: String,
    pub relationship_type: String,
    pub target_ref: String,
    pub organisation: String,
    pub tlp: Tlp,
}

/// What the case's readable versions amount to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Assembled {
    pub timeline: Vec<Entry>,
    /// Newest readable version of each task, in their sequence, then by creation.
    pub tasks: Vec<Task>,
    pub links: Vec<Link>,
    /// Newest readable version of each evidence file, ordered by it.
    pub evidence: Vec<Evidence>,
    /// Every readable version of the incident, oldest first.
    #[serde(skip)]
    pub history: Vec<CaseState>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn clipped(text: &str) -> String {
    const MOST: usize = 140;
    match text.char_indices().nth(MOST) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Merges the versions into one timeline ordered by their time (ties by the order they were
/// stored), with the case's tasks, links and incident history.
pub fn assemble(mut objects: Vec<CaseObject>) -> Assembled {
    objects.sort_by(|a, b| (a.version, a.date_added, &a.id).cmp(&(b.version, b.date_added, &b.id)));
    let mut out = Assembled::default();
    let mut tasks: BTreeMap<String, Task> = BTreeMap::new();
    let mut links: BTreeMap<String, Link> = BTreeMap::new();
    let mut files: Vec<Evidence> = Vec::new();
    let mut previous_case: Option<CaseState> = None;
    for object in objects {
        let value: Value = serde_json::from_str(&object.raw).unwrap_or(Value::Null);
        let (kind, summary) = match object.type_name.as_str() {
            "incident" => match read_case(&object.raw) {
                Some(state) => {
                    let told = match &previous_case {
                        None => (
                            "opened",
                            format!("case opened: {} ({})", state.name, state.fields.status),
                        ),
                        Some(before) if before.fields.status != state.fields.status => (
                            "status",
                            format!("status {} → {}", before.fields.status, state.fields.status),
                        ),
                        Some(_) => ("update", "case details updated".to_owned()),
                    };
                    out.history.push(state.clone());
                    previous_case = Some(state);
                    told
                }
                None => ("object", "incident without case properties".to_owned()),
            },
            "note" => (
                "note",
                clipped(
                    &text(&value, "abstract")
                        .or_else(|| text(&value, "content"))
                        .unwrap_or_default(),
                ),
            ),
            "opinion" => (
                "opinion",
                format!("opinion: {}", text(&value, "opinion").unwrap_or_default()),
            ),
            TASK_TYPE => match Task::read(&object.raw) {
                Some(task) => {
                    let summary = match tasks.get(&task.id) {
                        None => format!("task added: {}", task.name),
                        Some(before) if before.status != task.status => format!(
                            "task {}: {}",
                            task.name,
                            serde_json::to_value(task.status)
                                .ok()
                                .and_then(|s| s.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        ),
                        Some(_) => format!("task updated: {}", task.name),
                    };
                    tasks.insert(task.id.clone(), task);
                    ("task", summary)
                }
                None => ("object", "unreadable task".to_owned()),
            },
            "relationship" => {
                let target = text(&value, "target_ref").unwrap_or_default();
                let relationship_type = text(&value, "relationship_type").unwrap_or_default();
                links.insert(
                    object.id.clone(),
                    Link {
                        id: object.id.clone(),
                        relationship_type: relationship_type.clone(),
                        target_ref: target.clone(),
                        organisation: object.organisation.clone(),
                        tlp: object.tlp,
                    },
                );
                ("link", format!("{relationship_type} {target}"))
            }
            "sighting" => (
                "sighting",
                format!(
                    "sighting of {} ({} times)",
                    text(&value, "sighting_of_ref").unwrap_or_default(),
                    value.get("count").and_then(Value::as_u64).unwrap_or(1)
                ),
            ),
            "observed-data" => (
                "observed-data",
                format!(
                    "{} observables seen",
                    value
                        .get("object_refs")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                ),
            ),
            "artifact" => (
                "evidence",
                format!(
                    "evidence {}",
                    value
                        .get("hashes")
                        .and_then(|h| h.get("SHA-256"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            ),
            "file" => match evidence::read_file(&object.raw, &object.organisation, object.tlp) {
                Some(file) => {
                    let summary = match file.size {
                        Some(size) => format!("evidence file {} ({size} bytes)", file.name),
                        None => format!("evidence file {}", file.name),
                    };
                    files.retain(|f| f.id != file.id);
                    files.push(file);
                    ("evidence", summary)
                }
                None => ("observable", "file observed".to_owned()),
            },
            other if stix::category(other) == Some(stix::Category::Observable) => {
                ("observable", format!("{other} observed"))
            }
            other => ("object", format!("{other} added")),
        };
        out.timeline.push(Entry {
            at: object.version,
            kind,
            id: object.id,
            organisation: object.organisation,
            tlp: object.tlp,
            summary,
            object: value,
        });
    }
    let mut tasks: Vec<Task> = tasks.into_values().collect();
    tasks.sort_by(|a, b| (a.sequence, &a.created, &a.id).cmp(&(b.sequence, &b.created, &b.id)));
    out.tasks = tasks;
    out.links = links.into_values().collect();
    out.evidence = files;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::{incident_object, note_object, CaseFields, CaseStatus, Severity};

    const BY: &str = "identity--0a0a0a0a-0000-4000-8000-0000000000aa";
    const INCIDENT: &str = "incident--0a0a0a0a-0000-4000-8000-000000000001";

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(1_700_000_000_000_000 + micros)
    }

    fn incident(status: CaseStatus, modified: i64) -> CaseObject {
        let state = CaseState {
            id: INCIDENT.to_owned(),
            name: "campaign".to_owned(),
            description: None,
            created: at(0),
            modified: at(modified),
            created_by_ref: Some(BY.to_owned()),
            fields: CaseFields {
                status,
                severity: Severity::High,
                category: "intrusion".to_owned(),
                affected_organisation_refs: vec![],
                affected_assets: vec![],
                assignee_refs: vec![],
                assignee_users: vec![],
                due: None,
                contributions: true,
            },
        };
        CaseObject {
            id: INCIDENT.to_owned(),
            type_name: "incident".to_owned(),
            version: at(modified),
            date_added: at(modified + 5),
            tlp: Tlp::Amber,
            organisation: "MY-CERT".to_owned(),
            raw: incident_object(&state, BY, Tlp::Amber).unwrap(),
        }
    }

    fn note(text: &str, when: i64, org: &str) -> CaseObject {
        let raw = note_object(INCIDENT, BY, None, text, Tlp::Amber, at(when));
        CaseObject {
            id: serde_json::from_str::<Value>(&raw).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            type_name: "note".to_owned(),
            version: at(when),
            date_added: at(when + 1),
            tlp: Tlp::Amber,
            organisation: org.to_owned(),
            raw,
        }
    }

    #[test]
    fn versions_merge_in_time_order_and_status_changes_are_told() {
        let assembled = assemble(vec![
            note("from KH", 20, "KH-CERT"),
            incident(CaseStatus::Triage, 10),
            incident(CaseStatus::New, 0),
            note("from MY", 5, "MY-CERT"),
            incident(CaseStatus::Triage, 30),
        ]);
        let told: Vec<(&str, &str)> = assembled
            .timeline
            .iter()
            .map(|e| (e.kind, e.summary.as_str()))
            .collect();
        assert_eq!(
            told,
            [
                ("opened", "case opened: campaign (new)"),
                ("note", "from MY"),
                ("status", "status new → triage"),
                ("note", "from KH"),
                ("update", "case details updated"),
            ]
        );
        assert_eq!(assembled.history.len(), 3);
    }

    #[test]
    fn long_notes_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(300);
        let s = clipped(&long);
        assert_eq!(s.chars().count(), 141);
    }
}
