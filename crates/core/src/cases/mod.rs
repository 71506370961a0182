//! Cross-border incident coordination. A case is a STIX 2.1 `incident` carrying the Kawal case
//! extension ([`CASE_EXTENSION`]: status, severity, category, who is affected, assignees, due
//! date, whether partners may contribute) and every object stored beside it in its case
//! collection: notes, opinions, tasks (`x-kawal-task`, [`TASK_EXTENSION`]), relationships that
//! link indicators, malware or vulnerabilities, sightings with their observed-data, and
//! evidence (`artifact`s and the `file`s naming them, the bytes kept by the server). Each state change is a new version of the incident, so the history a
//! reader may see is the case's timeline, and every contribution is an ordinary STIX object
//! read through [`crate::policy::may_read`].
//!
//! This module is pure: building and reading case objects, the status workflow, the
//! timeline, metrics, CACAO playbooks, evidence and the rule partners' contributions are held
//! to. The exchange's operations on cases are in `exchange`, those on the playbook library in
//! `library`.

pub mod cacao;
mod contribute;
pub mod evidence;
mod exchange;
mod library;
pub mod metrics;
pub mod timeline;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use stix::{Timestamp, Tlp};

pub use contribute::contribution_refusal;
pub use exchange::{
    CaseEvent, CaseEventKind, CaseSummary, CaseUpdate, CaseView, EscalateRequest, EvidenceAdded,
    EvidenceFile, NewCase, NewTask, Share,
};
pub use library::PlaybookSummary;

/// The extension-definition carrying case properties on an `incident` (a property
/// extension). The OASIS CTI TC's Incident Core extension is a draft whose
/// `investigation_status` (new, open, closed) cannot express triage, containment and
/// resolution, so cases use this one; its definition is published by every instance.
pub const CASE_EXTENSION: &str = "extension-definition--a378d48f-4048-4feb-9807-f1d66692ceff";
/// The extension-definition of the `x-kawal-task` object type (a new SDO).
pub const TASK_EXTENSION: &str = "extension-definition--f95b0c38-9108-4374-9bf9-7e7d1c712c36";
/// The extension-definition carrying a CACAO 2.0 playbook on a `course-of-action`.
pub const PLAYBOOK_EXTENSION: &str = "extension-definition--c5328bec-0be3-4d28-8cd3-45173ec97a65";
/// The identity that publishes Kawal's extension definitions (the same on every instance, so
/// the definitions are the same objects everywhere).
pub const KAWAL_IDENTITY: &str = "identity--bcdd55ca-65ec-4cd7-a2fb-a8aae224c202";
/// The type of case tasks.
pub const TASK_TYPE: &str = "x-kawal-task";
/// When the published definitions were written; they never change, so neither does this.
const DEFINITIONS_CREATED: &str = "2025-01-01T00:00:00.000Z";

/// Where a case stands. Cases move forward (skipping states is allowed: a contained incident
/// may be found already resolved); they go back only by being reopened to `in-progress`, from
/// `contained`, `resolved` or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    New,
    Triage,
    InProgress,
    Contained,
    Resolved,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::New,
        CaseStatus::Triage,
        CaseStatus::InProgress,
        CaseStatus::Contained,
        CaseStatus::Resolved,
        CaseStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::Triage => "triage",
            CaseStatus::InProgress => "in-progress",
            CaseStatus::Contained => "contained",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
        }
    }

    /// Whether a case may move from `self` to `to`; the reason when it may not.
    pub fn transition(self, to: CaseStatus) -> Result<(), String> {
        let reopening = to == CaseStatus::InProgress
            && matches!(
                self,
                CaseStatus::Contained | CaseStatus::Resolved | CaseStatus::Closed
            );
        if to > self || reopening {
            Ok(())
        } else if to == self {
            Err(format!("the case is already `{self}`"))
        } else {
            Err(format!(
                "a case goes from `{self}` only forward, or back to `in-progress` when reopened; not to `{to}`"
            ))
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, CaseStatus::Resolved | CaseStatus::Closed)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CaseStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a case status; expected new, triage, in-progress, contained, resolved or closed")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "`{s}` is not a severity; expected low, medium, high or critical"
            )),
        }
    }
}

/// The case properties an incident version carries in [`CASE_EXTENSION`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    pub status: CaseStatus,
    pub severity: Severity,
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_organisation_refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_assets: Vec<String>,
    /// Organisations (their identities) the case is assigned to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignee_refs: Vec<String>,
    /// People, by the names their organisations know them by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignee_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Whether organisations the case is shared with may add notes, tasks they own, links and
    /// sightings.
    #[serde(default)]
    pub contributions: bool,
}

impl CaseFields {
    /// Checks what a client may set: a known category length, timestamps, identity ids.
    pub fn check(&self) -> Result<(), String> {
        let category = self.category.trim();
        if category.is_empty() || category.len() > 100 {
            return Err("`category` must be 1 to 100 characters".to_owned());
        }
        if let Some(due) = &self.due {
            Timestamp::parse(due).map_err(|e| format!("`due`: {e}"))?;
        }
        for (name, refs) in [
            (
                "affected_organisation_refs",
                &self.affected_organisation_refs,
            ),
            ("assignee_refs", &self.assignee_refs),
        ] {
            if let Some(bad) = refs.iter().find(|r| !r.starts_with("identity--")) {
                return Err(format!("`{name}`: `{bad}` is not an identity id"));
            }
        }
        Ok(())
    }
}

/// The newest readable version of a case's incident, read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseState {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub created_by_ref: Option<String>,
    #[serde(flatten)]
    pub fields: CaseFields,
}

/// Reads the case out of an incident version; `None` for an incident without the case
/// extension (or one that does not parse), which is then not a case.
pub fn read_case(raw: &str) -> Option<CaseState> {
    let value: Value = serde_json::from_str(raw).ok()?;
    if value.get("type")?.as_str()? != "incident" {
        return None;
    }
    let fields: CaseFields =
        serde_json::from_value(value.get("extensions")?.get(CASE_EXTENSION)?.clone()).ok()?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let time = |key: &str| text(key).and_then(|t| Timestamp::parse(&t).ok());
    let created = time("created")?;
    Some(CaseState {
        id: text("id")?,
        name: text("name").unwrap_or_default(),
        description: text("description"),
        created,
        modified: time("modified").unwrap_or(created),
        created_by_ref: text("created_by_ref"),
        fields,
    })
}

/// A new `modified` for the next version of an object last modified at `previous`: now, or
/// one microsecond later than `previous` when the clock has not moved past it.
pub fn next_version(previous: Timestamp, now: Timestamp) -> Timestamp {
    now.max(Timestamp::from_micros(
        previous.as_micros().saturating_add(1),
    ))
}

fn marking(tlp: Tlp) -> Value {
    json!([tlp.marking_ref()])
}

/// An incident version carrying the case. `created` stays the case's creation for every
/// version.
pub fn incident_object(
    state: &CaseState,
    created_by: &str,
    tlp: Tlp,
) -> Result<String, serde_json::Error> {
    let mut extension = serde_json::to_value(&state.fields)?;
    if let Value::Object(map) = &mut extension {
        map.insert("extension_type".to_owned(), json!("property-extension"));
    }
    let mut object = json!({
        "type": "incident",
        "spec_version": "2.1",
        "id": state.id,
        "created": state.created.to_string(),
        "modified": state.modified.to_string(),
        "created_by_ref": created_by,
        "name": state.name,
        "object_marking_refs": marking(tlp),
        "extensions": { CASE_EXTENSION: extension },
    });
    if let Some(description) = &state.description {
        object["description"] = json!(description);
    }
    serde_json::to_string(&object)
}

/// A fresh STIX id of the type.
pub fn new_id(type_name: &str) -> String {
    format!("{type_name}--{}", uuid::Uuid::new_v4())
}

/// A note on the case.
pub fn note_object(
    incident: &str,
    created_by: &str,
    abstract_: Option<&str>,
    content: &str,
    tlp: Tlp,
    at: Timestamp,
) -> String {
    let mut note = json!({
        "type": "note",
        "spec_version": "2.1",
        "id": new_id("note"),
        "created": at.to_string(),
        "modified": at.to_string(),
        "created_by_ref": created_by,
        "content": content,
        "object_refs": [incident],
        "object_marking_refs": marking(tlp),
    });
    if let Some(a) = abstract_ {
        note["abstract"] = json!(a);
    }
    note.to_string()
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    Open,
    InProgress,
    Done,
    Cancelled,
}

impl TaskStatus {
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Open | TaskStatus::InProgress)
    }
}

impl FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(json!(s)).map_err(|_| {
            format!("`{s}` is not a task status; expected open, in-progress, done or cancelled")
        })
    }
}

/// A case task (`x-kawal-task`), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub created: String,
    pub modified: String,
    pub created_by_ref: String,
    pub incident_ref: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: TaskStatus,
    /// The organisation (its identity) that owns the task.
    pub owner_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Its place among the case's tasks (a playbook's step order).
    #[serde(default)]
    pub sequence: u32,
    /// The playbook step it was made from, as `<playbook id>/<step id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_step: Option<String>,
}

impl Task {
    pub fn to_object(&self, tlp: Tlp) -> Result<String, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let Value::Object(map) = &mut value {
            let mut head = Map::new();
            head.insert("type".to_owned(), json!(TASK_TYPE));
            head.insert("spec_version".to_owned(), json!("2.1"));
            map.extend(head);
            map.insert("object_marking_refs".to_owned(), marking(tlp));
            map.insert(
                "extensions".to_owned(),
                json!({ TASK_EXTENSION: { "extension_type": "new-sdo" } }),
            );
        }
        serde_json::to_string(&value)
    }

    /// A task read back from its stored text; `None` for anything else.
    pub fn read(raw: &str) -> Option<Task> {
        let value: Value = serde_json::from_str(raw).ok()?;
        if value.get("type")?.as_str()? != TASK_TYPE {
            return None;
        }
        serde_json::from_value(value).ok()
    }
}

/// A `related-to` relationship from the incident to a linked object.
pub fn link_object(
    incident: &str,
    target: &str,
    relationship_type: &str,
    created_by: &str,
    tlp: Tlp,
    at: Timestamp,
) -> String {
    json!({
        "type": "relationship",
        "spec_version": "2.1",
        "id": new_id("relationship"),
        "created": at.to_string(),
        "modified": at.to_string(),
        "created_by_ref": created_by,
        "relationship_type": relationship_type,
        "source_ref": incident,
        "target_ref": target,
        "object_marking_refs": marking(tlp),
    })
    .to_string()
}

/// How a CACAO playbook is carried as a STIX `course-of-action`.
#[derive(Debug, Clone)]
pub struct CourseOfAction<'a> {
    pub id: &'a str,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub created_by: &'a str,
    /// Unmarked, the collection's default TLP governs it.
    pub tlp: Option<Tlp>,
    /// The library's course of action a case's copy was made from.
    pub template_ref: Option<&'a str>,
}

/// The course of action carrying `playbook` ([`PLAYBOOK_EXTENSION`]).
pub fn playbook_object(playbook: &cacao::Playbook, course: &CourseOfAction<'_>) -> String {
    let mut extension = json!({
        "extension_type": "property-extension",
        "playbook": playbook.document,
    });
    if let Some(template) = course.template_ref {
        extension["template_ref"] = json!(template);
    }
    let mut object = json!({
        "type": "course-of-action",
        "spec_version": "2.1",
        "id": course.id,
        "created": course.created.to_string(),
        "modified": course.modified.to_string(),
        "created_by_ref": course.created_by,
        "name": playbook.name,
        "extensions": { PLAYBOOK_EXTENSION: extension },
    });
    if let Some(description) = &playbook.description {
        object["description"] = json!(description);
    }
    if let Some(tlp) = course.tlp {
        object["object_marking_refs"] = marking(tlp);
    }
    object.to_string()
}

/// The id of the library's course of action for a CACAO playbook: the playbook's own UUID, so
/// importing a playbook again (or a newer version of it) makes a version of the same object.
pub fn library_id(playbook_id: &str) -> String {
    let uuid = playbook_id
        .strip_prefix("playbook--")
        .unwrap_or(playbook_id);
    format!("course-of-action--{uuid}")
}

/// The CACAO document a stored course of action carries, as JSON text; `None` for one that
/// carries none.
pub fn carried_playbook(raw: &str) -> Option<String> {
    let value: Value = serde_json::from_str(raw).ok()?;
    if value.get("type")?.as_str()? != "course-of-action" {
        return None;
    }
    let document = value
        .get("extensions")?
        .get(PLAYBOOK_EXTENSION)?
        .get("playbook")?;
    document.is_object().then(|| document.to_string())
}

/// The types a link may point at. Sightings are contributions of their own (STIX
/// relationships may not point at relationship objects).
pub const LINKABLE: [&str; 7] = [
    "indicator",
    "observed-data",
    "malware",
    "vulnerability",
    "identity",
    "course-of-action",
    "artifact",
];

/// The extension definitions of cases, tasks and playbooks, as every instance publishes them.
pub fn extension_definitions() -> Vec<String> {
    let definition = |id: &str, name: &str, description: &str, types: Value, schema: &str| {
        json!({
            "type": "extension-definition",
            "spec_version": "2.1",
            "id": id,
            "created": DEFINITIONS_CREATED,
            "modified": DEFINITIONS_CREATED,
            "created_by_ref": KAWAL_IDENTITY,
            "name": name,
            "description": description,
            "schema": schema,
            "version": "1.0.0",
            "extension_types": types,
        })
        .to_string()
    };
    vec![
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": KAWAL_IDENTITY,
            "created": DEFINITIONS_CREATED,
            "modified": DEFINITIONS_CREATED,
            "name": "Kawal",
            "identity_class": "system",
            "description": "Publisher of the Kawal extension definitions",
        })
        .to_string(),
        definition(
            CASE_EXTENSION,
            "Kawal case",
            "Case properties of an incident: status (new, triage, in-progress, contained, resolved, closed), severity (low, medium, high, critical), category, affected_organisation_refs, affected_assets, assignee_refs, assignee_users, due, contributions (whether partners the case is shared with may contribute).",
            json!(["property-extension"]),
            "/api/extensions/case",
        ),
        definition(
            TASK_EXTENSION,
            "Kawal case task",
            "x-kawal-task: a task of a case (incident_ref), with name, description, status (open, in-progress, done, cancelled), owner_ref (an identity), due, sequence and playbook_step.",
            json!(["new-sdo"]),
            "/api/extensions/task",
        ),
        definition(
            PLAYBOOK_EXTENSION,
            "Kawal CACAO playbook",
            "A CACAO 2.0 playbook carried on a course-of-action, in the property `playbook` of this extension; a case's copy of a playbook from the library names the library's course-of-action in `template_ref`.",
            json!(["property-extension"]),
            "/api/extensions/playbook",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_moves_forward_and_reopens_to_in_progress() {
        use CaseStatus::*;
        assert!(New.transition(Triage).is_ok());
        assert!(New.transition(Contained).is_ok());
        assert!(Resolved.transition(Closed).is_ok());
        assert!(Closed.transition(InProgress).is_ok());
        assert!(Contained.transition(InProgress).is_ok());
        assert!(Triage.transition(New).is_err());
        assert!(Closed.transition(Triage).is_err());
        assert!(Triage.transition(Triage).unwrap_err().contains("already"));
    }

    fn state() -> CaseState {
        CaseState {
            id: "incident--0a0a0a0a-0000-4000-8000-000000000001".to_owned(),
            name: "Telco and ministry".to_owned(),
            description: Some("one campaign".to_owned()),
            created: Timestamp::from_micros(1_700_000_000_000_000),
            modified: Timestamp::from_micros(1_700_000_000_000_001),
            created_by_ref: Some("identity--0a0a0a0a-0000-4000-8000-0000000000aa".to_owned()),
            fields: CaseFields {
                status: CaseStatus::Triage,
                severity: Severity::High,
                category: "intrusion".to_owned(),
                affected_organisation_refs: vec![],
                affected_assets: vec!["core router".to_owned()],
                assignee_refs: vec![],
                assignee_users: vec!["aisyah".to_owned()],
                due: Some("2030-01-01T00:00:00Z".to_owned()),
                contributions: true,
            },
        }
    }

    #[test]
    fn an_incident_is_valid_stix_and_reads_back() {
        let s = state();
        let raw = incident_object(
            &s,
            "identity--0a0a0a0a-0000-4000-8000-0000000000aa",
            Tlp::Amber,
        )
        .unwrap();
        let parsed = stix::parse_object(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.tlp(), Some(Tlp::Amber));
        assert_eq!(read_case(&raw), Some(s));
    }

    #[test]
    fn tasks_notes_links_and_definitions_are_valid_stix() {
        let at = Timestamp::from_micros(1_700_000_000_000_000);
        let by = "identity--0a0a0a0a-0000-4000-8000-0000000000aa";
        let incident = "incident--0a0a0a0a-0000-4000-8000-000000000001";
        let task = Task {
            id: new_id(TASK_TYPE),
            created: at.to_string(),
            modified: at.to_string(),
            created_by_ref: by.to_owned(),
            incident_ref: incident.to_owned(),
            name: "isolate hosts".to_owned(),
            description: None,
            status: TaskStatus::Open,
            owner_ref: by.to_owned(),
            due: None,
            sequence: 1,
            playbook_step: None,
        };
        let raw = task.to_object(Tlp::Amber).unwrap();
        assert_eq!(Task::read(&raw), Some(task));
        let mut all = vec![
            raw,
            note_object(
                incident,
                by,
                Some("first"),
                "seen at the edge",
                Tlp::Red,
                at,
            ),
            link_object(
                incident,
                "indicator--0a0a0a0a-0000-4000-8000-000000000002",
                "related-to",
                by,
                Tlp::Amber,
                at,
            ),
        ];
        all.extend(extension_definitions());
        for raw in all {
            stix::parse_object(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        }
    }

    #[test]
    fn a_playbook_rides_on_a_course_of_action_named_after_it() {
        let document = include_str!("../../testdata/cacao/containment.json");
        let playbook = cacao::parse(document).unwrap_or_else(|f| panic!("{f}"));
        let id = library_id(&playbook.id);
        assert_eq!(id, "course-of-action--6b617761-6c2d-4000-8000-000000000c00");
        let at = Timestamp::from_micros(1_700_000_000_000_000);
        for (tlp, template_ref) in [(None, None), (Some(Tlp::Green), Some(id.as_str()))] {
            let raw = playbook_object(
                &playbook,
                &CourseOfAction {
                    id: &id,
                    created: at,
                    modified: at,
                    created_by: "identity--0a0a0a0a-0000-4000-8000-0000000000aa",
                    tlp,
                    template_ref,
                },
            );
            let parsed = stix::parse_object(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.tlp(), tlp);
            let carried = carried_playbook(&raw).expect("a playbook");
            assert_eq!(
                cacao::parse(&carried).map(|p| p.steps),
                Ok(playbook.steps.clone())
            );
            assert_eq!(raw.contains("template_ref"), template_ref.is_some());
        }
        assert_eq!(
            carried_playbook(&note_object(
                &id,
                "identity--0a0a0a0a-0000-4000-8000-0000000000aa",
                None,
                "x",
                Tlp::Amber,
                at
            )),
            None
        );
    }

    #[test]
    fn versions_always_move_forward() {
        let t = Timestamp::from_micros(10);
        assert_eq!(next_version(t, Timestamp::from_micros(5)).as_micros(), 11);
        assert_eq!(next_version(t, Timestamp::from_micros(50)).as_micros(), 50);
    }
}
