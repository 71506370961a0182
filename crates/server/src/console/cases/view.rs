//! One case as the person's organisation may read it: its header with the status changes the
//! workflow allows, the merged timeline, tasks, linked objects and whom it is shared with, and
//! the forms to work on it. A form is shown only where the case allows that work (the owner
//! changes the case and shares it; partners contribute when the owner lets them), and the
//! `Exchange` method behind each form decides again.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kawal_core::cases::timeline::Entry;
use kawal_core::cases::{
    CaseEventKind, CaseStatus, CaseUpdate, CaseView, NewTask, Severity, Share, TaskStatus,
};
use kawal_core::Organisation;
use serde_json::Value;
use stix::Tlp;

use super::{choices, due_date, due_label, severity_label, SEVERITIES};
use crate::cases::announce;
use crate::console::session::{Form, Viewer};
use crate::console::{
    encode, object_href, render, short_time, tlp_badge, tlp_choices, Choice, Chrome, PageError,
};
use crate::AppState;

const TASK_STATUSES: [(TaskStatus, &str); 4] = [
    (TaskStatus::Open, "open"),
    (TaskStatus::InProgress, "in-progress"),
    (TaskStatus::Done, "done"),
    (TaskStatus::Cancelled, "cancelled"),
];

fn task_status_label(status: TaskStatus) -> &'static str {
    TASK_STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("open", |(_, label)| label)
}

/// A status the case may move to from where it stands, as a button.
pub(crate) struct Transition {
    pub value: &'static str,
    pub label: String,
}

fn transitions(from: CaseStatus) -> Vec<Transition> {
    CaseStatus::ALL
        .into_iter()
        .filter(|to| from.transition(*to).is_ok())
        .map(|to| Transition {
            value: to.as_str(),
            label: if to < from {
                format!("Reopen ({to})")
            } else {
                format!("Move to {to}")
            },
        })
        .collect()
}

pub(crate) struct EntryRow {
    pub at: String,
    pub kind: String,
    pub organisation: String,
    pub tlp_class: String,
    pub tlp_label: String,
    pub summary: String,
    /// A note's full text, under its summary.
    pub content: Option<String>,
    pub href: String,
}

pub(crate) struct TaskRow {
    pub id: String,
    pub sequence: u32,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub status: String,
    pub due: String,
    /// The statuses offered when the person's organisation made the task (only it updates
    /// it).
    pub statuses: Vec<Choice>,
}

pub(crate) struct LinkRow {
    pub relationship_type: String,
    pub target: String,
    pub href: String,
    pub organisation: String,
    pub tlp_class: String,
    pub tlp_label: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    csrf: String,
    error: Option<String>,
    id: String,
    action_base: String,
    name: String,
    description: String,
    status: String,
    severity: String,
    category: String,
    owner: String,
    tlp_class: String,
    tlp_label: String,
    created: String,
    modified: String,
    due: String,
    assignees: Vec<String>,
    affected: Vec<String>,
    assets: Vec<String>,
    transitions: Vec<Transition>,
    is_owner: bool,
    can_contribute: bool,
    contributions: bool,
    timeline: Vec<EntryRow>,
    tasks: Vec<TaskRow>,
    links: Vec<LinkRow>,
    organisations: Vec<String>,
    /// The case's other organisations, which a TLP:RED note may be addressed to.
    red_readers: Vec<String>,
    /// Organisations a task may be given to: any of the case's for its owner, a partner's
    /// own for a partner.
    task_owners: Vec<Choice>,
    /// Organisations not yet on the case, and the sharing groups the owner belongs to.
    share_orgs: Vec<String>,
    share_groups: Vec<String>,
    tlps: Vec<Choice>,
    severities: Vec<Choice>,
    assignee_users: String,
    due_value: String,
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn entry_row(entry: &Entry, collection: &str) -> EntryRow {
    let (tlp_class, tlp_label) = tlp_badge(entry.tlp);
    let content = (entry.kind == "note")
        .then(|| text_of(&entry.object, "content"))
        .flatten()
        .filter(|content| Some(content) != Some(&entry.summary));
    EntryRow {
        at: short_time(entry.at),
        kind: entry.kind.to_owned(),
        organisation: entry.organisation.clone(),
        tlp_class,
        tlp_label,
        summary: entry.summary.clone(),
        content,
        href: object_href(&entry.id, collection),
    }
}

/// Everything the page needs besides the case: the organisations (to name identities and
/// offer partners), the groups the person's organisation may share with, and its identity.
struct Context {
    orgs: Vec<Organisation>,
    own_groups: Vec<String>,
    own_identity: String,
}

fn case_page(viewer: &Viewer, view: CaseView, context: Context, error: Option<String>) -> CasePage {
    let by_identity: BTreeMap<&str, &str> = context
        .orgs
        .iter()
        .map(|o| (o.identity_id.as_str(), o.name.as_str()))
        .collect();
    let org_of = |identity: &str| {
        by_identity
            .get(identity)
            .map_or_else(|| identity.to_owned(), |name| (*name).to_owned())
    };
    let state = &view.state;
    let fields = &state.fields;
    let (tlp_class, tlp_label) = tlp_badge(view.tlp);
    let owner_works = view.is_owner && view.can_contribute;
    let task_owners: Vec<Choice> = if view.is_owner {
        view.organisations
            .iter()
            .map(|o| Choice {
                value: o.clone(),
                label: o.clone(),
                selected: *o == viewer.org_name,
            })
            .collect()
    } else {
        vec![Choice {
            value: viewer.org_name.clone(),
            label: viewer.org_name.clone(),
            selected: true,
        }]
    };
    let mut assignees: Vec<String> = fields.assignee_refs.iter().map(|r| org_of(r)).collect();
    assignees.extend(fields.assignee_users.iter().cloned());
    CasePage {
        chrome: Chrome::for_viewer(viewer, "/cases"),
        csrf: viewer.csrf.clone(),
        error,
        action_base: format!("/cases/{}", encode(&state.id)),
        id: state.id.clone(),
        name: state.name.clone(),
        description: state.description.clone().unwrap_or_default(),
        status: fields.status.to_string(),
        severity: severity_label(fields.severity).to_owned(),
        category: fields.category.clone(),
        owner: view.owner.clone(),
        tlp_class,
        tlp_label,
        created: short_time(state.created),
        modified: short_time(state.modified),
        due: fields.due.as_deref().map(due_label).unwrap_or_default(),
        assignees,
        affected: fields
            .affected_organisation_refs
            .iter()
            .map(|r| org_of(r))
            .collect(),
        assets: fields.affected_assets.clone(),
        transitions: if owner_works {
            transitions(fields.status)
        } else {
            Vec::new()
        },
        is_owner: owner_works,
        can_contribute: view.can_contribute,
        contributions: fields.contributions,
        timeline: view
            .timeline
            .iter()
            .map(|e| entry_row(e, &view.collection))
            .collect(),
        tasks: view
            .tasks
            .iter()
            .map(|t| TaskRow {
                statuses: if view.can_contribute && t.created_by_ref == context.own_identity {
                    TASK_STATUSES
                        .iter()
                        .map(|(s, label)| Choice {
                            value: (*label).to_owned(),
                            label: (*label).to_owned(),
                            selected: *s == t.status,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                id: t.id.clone(),
                sequence: t.sequence,
                name: t.name.clone(),
                description: t.description.clone().unwrap_or_default(),
                owner: org_of(&t.owner_ref),
                status: task_status_label(t.status).to_owned(),
                due: t.due.as_deref().map(due_label).unwrap_or_default(),
            })
            .collect(),
        links: view
            .links
            .iter()
            .map(|l| {
                let (tlp_class, tlp_label) = tlp_badge(l.tlp);
                LinkRow {
                    relationship_type: l.relationship_type.clone(),
                    href: format!("/objects/{}", encode(&l.target_ref)),
                    target: l.target_ref.clone(),
                    organisation: l.organisation.clone(),
                    tlp_class,
                    tlp_label,
                }
            })
            .collect(),
        share_orgs: context
            .orgs
            .iter()
            .filter(|o| !view.organisations.contains(&o.name))
            .map(|o| o.name.clone())
            .collect(),
        share_groups: context.own_groups,
        red_readers: view
            .organisations
            .iter()
            .filter(|o| **o != viewer.org_name)
            .cloned()
            .collect(),
        organisations: view.organisations.clone(),
        task_owners,
        tlps: tlp_choices(view.tlp),
        severities: choices(SEVERITIES, severity_label(fields.severity)),
        assignee_users: fields.assignee_users.join(", "),
        due_value: fields
            .due
            .as_deref()
            .and_then(|d| d.get(..10))
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The case page, with the refusal of a form above it when there is one.
async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: String,
    refusal: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let own_org = viewer.user.org;
    let (view, context) = state
        .blocking(move |ex| {
            let view = ex.case(&who, &id)?;
            let context = Context {
                orgs: ex.orgs(&who)?,
                own_groups: ex.own_groups(&who)?.into_iter().map(|g| g.name).collect(),
                own_identity: ex
                    .store()
                    .org(own_org)?
                    .map(|o| o.identity_id)
                    .unwrap_or_default(),
            };
            Ok((view, context))
        })
        .await?;
    let (status, error) = match refusal {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = case_page(viewer, view, context, error);
    Ok((status, render(&page)).into_response())
}

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    show(&state, &viewer, id, None).await
}

/// What a form's change came to: back to the case at `anchor`, with the case event announced,
/// or the case page again with the refusal.
async fn after(
    state: &AppState,
    viewer: &Viewer,
    id: String,
    done: Result<Vec<(String, CaseEventKind)>, crate::error::ApiError>,
    anchor: &str,
) -> Result<Response, PageError> {
    match done {
        Ok(events) => {
            for (object, kind) in events {
                announce(state, &viewer.principal, &id, &object, kind).await;
            }
            Ok(Redirect::to(&format!("/cases/{}#{anchor}", encode(&id))).into_response())
        }
        Err(e) => show(state, viewer, id, Some((e.status, e.description))).await,
    }
}

fn bad_form(message: impl Into<String>) -> crate::error::ApiError {
    crate::error::ApiError::bad_request(message.into())
}

fn tlp_of(form: &Form) -> Result<Option<Tlp>, crate::error::ApiError> {
    form.text("tlp")
        .map(|t| t.parse::<Tlp>().map_err(|e| bad_form(format!("TLP: {e}"))))
        .transpose()
}

pub(crate) async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = match form.get("status").unwrap_or("").parse::<CaseStatus>() {
        Ok(status) => {
            let (who, case) = (viewer.principal.clone(), id.clone());
            let update = CaseUpdate {
                status: Some(status),
                ..CaseUpdate::default()
            };
            state
                .blocking(move |ex| ex.update_case(&who, &case, &update))
                .await
                .map(|_| vec![(id.clone(), CaseEventKind::Status)])
        }
        Err(e) => Err(bad_form(e)),
    };
    after(&state, &viewer, id, done, "timeline").await
}

pub(crate) async fn set_details(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = match form.get("severity").unwrap_or("medium").parse::<Severity>() {
        Ok(severity) => {
            let update = CaseUpdate {
                severity: Some(severity),
                category: form.text("category"),
                assignee_users: Some(
                    form.get("assignee_users")
                        .unwrap_or("")
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ),
                due: form.get("due").and_then(due_date),
                ..CaseUpdate::default()
            };
            let (who, case) = (viewer.principal.clone(), id.clone());
            state
                .blocking(move |ex| ex.update_case(&who, &case, &update))
                .await
                .map(|_| vec![(id.clone(), CaseEventKind::Contribution)])
        }
        Err(e) => Err(bad_form(e)),
    };
    after(&state, &viewer, id, done, "details").await
}

pub(crate) async fn add_note(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = async {
        let tlp = tlp_of(&form)?;
        let (who, case) = (viewer.principal.clone(), id.clone());
        let summary = form.text("abstract");
        let content = form.get("content").unwrap_or("").to_owned();
        let recipients = form.all("recipient");
        state
            .blocking(move |ex| {
                ex.add_case_note(&who, &case, summary.as_deref(), &content, tlp, &recipients)
            })
            .await
            .map(|note| vec![(note, CaseEventKind::Contribution)])
    }
    .await;
    after(&state, &viewer, id, done, "timeline").await
}

pub(crate) async fn add_task(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = async {
        let tlp = tlp_of(&form)?;
        let task = NewTask {
            name: form.text("name").unwrap_or_default(),
            description: form.text("description"),
            owner: form.text("owner"),
            due: form.get("due").and_then(due_date),
            tlp,
            recipients: form.all("recipient"),
            playbook_step: None,
        };
        let (who, case) = (viewer.principal.clone(), id.clone());
        state
            .blocking(move |ex| ex.add_case_tasks(&who, &case, &[task]))
            .await
            .map(|ids| {
                ids.into_iter()
                    .map(|t| (t, CaseEventKind::Contribution))
                    .collect()
            })
    }
    .await;
    after(&state, &viewer, id, done, "tasks").await
}

pub(crate) async fn set_task_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let task = form.text("task").unwrap_or_default();
    let done = match form.get("status").unwrap_or("").parse::<TaskStatus>() {
        Ok(status) => {
            let (who, case, object) = (viewer.principal.clone(), id.clone(), task.clone());
            state
                .blocking(move |ex| ex.set_task_status(&who, &case, &object, status))
                .await
                .map(|()| vec![(task, CaseEventKind::Contribution)])
        }
        Err(e) => Err(bad_form(e)),
    };
    after(&state, &viewer, id, done, "tasks").await
}

pub(crate) async fn add_link(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = async {
        let tlp = tlp_of(&form)?;
        let target = form.text("target").unwrap_or_default();
        let relationship = form.text("relationship_type");
        let (who, case) = (viewer.principal.clone(), id.clone());
        state
            .blocking(move |ex| ex.link_to_case(&who, &case, &target, relationship.as_deref(), tlp))
            .await
            .map(|link| vec![(link, CaseEventKind::Contribution)])
    }
    .await;
    after(&state, &viewer, id, done, "links").await
}

pub(crate) async fn share(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let done = match tlp_of(&form) {
        Ok(Some(tlp)) => {
            let share = Share {
                organisations: form.all("organisation"),
                groups: form.all("group"),
                tlp,
                contributions: form.get("contributions") == Some("on"),
            };
            let (who, case) = (viewer.principal.clone(), id.clone());
            state
                .blocking(move |ex| ex.share_case(&who, &case, &share))
                .await
                .map(|_| vec![(id.clone(), CaseEventKind::Shared)])
        }
        Ok(None) => Err(bad_form("choose the TLP the case is shared at")),
        Err(e) => Err(e),
    };
    after(&state, &viewer, id, done, "sharing").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_offer_only_what_the_workflow_allows() {
        let values = |from| {
            transitions(from)
                .into_iter()
                .map(|t| t.value)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            values(CaseStatus::New),
            ["triage", "in-progress", "contained", "resolved", "closed"]
        );
        assert_eq!(values(CaseStatus::Resolved), ["in-progress", "closed"]);
        assert_eq!(values(CaseStatus::Closed), ["in-progress"]);
        assert_eq!(
            transitions(CaseStatus::Closed)[0].label,
            "Reopen (in-progress)"
        );
    }
}
