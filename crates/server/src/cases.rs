//! Cases over REST: `/api/cases` (list, open), `/api/cases/{id}` (the case with its timeline,
//! tasks, links and audience; changes), notes, tasks, links, STIX contributions, sharing,
//! export, escalation of alerts, metrics, and the published extension definitions. Every
//! change that stores a new version announces a case event to the case webhooks of the
//! organisations that may read that version.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kawal_core::cases::{
    self, CaseEventKind, CaseFields, CaseStatus, CaseUpdate, EscalateRequest, NewCase, NewTask,
    Severity, Share, TaskStatus,
};
use kawal_core::Principal;
use serde::Deserialize;
use serde_json::{json, Value};
use stix::Tlp;

use crate::error::ApiError;
use crate::rest::{created, json_body, ok, run, who, RestResult};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/extensions", get(extensions))
        .route("/api/cases", get(list).post(open))
        .route("/api/cases/metrics", get(metrics))
        .route("/api/cases/escalate", post(escalate))
        .route("/api/cases/{id}", get(view).patch(update))
        .route("/api/cases/{id}/notes", post(add_note))
        .route("/api/cases/{id}/tasks", post(add_task))
        .route("/api/cases/{id}/tasks/{object}", put(set_task))
        .route("/api/cases/{id}/links", post(add_link))
        .route("/api/cases/{id}/objects", post(add_objects))
        .route("/api/cases/{id}/share", post(share))
        .route("/api/cases/{id}/playbooks", post(instantiate))
        .route("/api/cases/{id}/export", get(export))
}

fn bad(what: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{what}: {why}")).rest()
}

fn tlp(value: Option<&str>) -> Result<Option<Tlp>, ApiError> {
    value
        .map(|t| t.parse::<Tlp>().map_err(|e| bad("tlp", e)))
        .transpose()
}

/// Tells the case webhooks that `object` of `case` has a new version. Runs after the answer's
/// work is stored; a failure to compute the audience is logged, never the caller's problem.
pub(crate) async fn announce(
    state: &AppState,
    who: &Principal,
    case: &str,
    object: &str,
    kind: CaseEventKind,
) {
    let (who, case, object) = (who.clone(), case.to_owned(), object.to_owned());
    match state
        .blocking(move |ex| ex.case_event(&who, &case, &object, kind))
        .await
    {
        Ok(Some(event)) => {
            // Nobody listening is not an error: no case webhooks are configured.
            let _ = state.case_events().send(Arc::new(event));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e.description, "a case event could not be announced"),
    }
}

async fn extensions() -> Response {
    let definitions: Vec<Value> = cases::extension_definitions()
        .iter()
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    Json(json!({
        "type": "bundle",
        "id": "bundle--6b617761-6c2d-4000-8000-00000000e000",
        "objects": definitions
    }))
    .into_response()
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.cases(&who)).await?))
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.case_metrics(&who)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCaseBody {
    name: String,
    description: Option<String>,
    severity: Option<String>,
    category: Option<String>,
    #[serde(default)]
    affected_organisation_refs: Vec<String>,
    #[serde(default)]
    affected_assets: Vec<String>,
    #[serde(default)]
    assignee_refs: Vec<String>,
    #[serde(default)]
    assignee_users: Vec<String>,
    due: Option<String>,
    tlp: Option<String>,
}

impl NewCaseBody {
    fn into_case(self) -> Result<NewCase, ApiError> {
        let severity = match self.severity.as_deref() {
            Some(s) => s.parse::<Severity>().map_err(|e| bad("severity", e))?,
            None => Severity::Medium,
        };
        Ok(NewCase {
            name: self.name,
            description: self.description,
            fields: CaseFields {
                status: CaseStatus::New,
                severity,
                category: self.category.unwrap_or_else(|| "uncategorised".to_owned()),
                affected_organisation_refs: self.affected_organisation_refs,
                affected_assets: self.affected_assets,
                assignee_refs: self.assignee_refs,
                assignee_users: self.assignee_users,
                due: self.due,
                contributions: false,
            },
            tlp: tlp(self.tlp.as_deref())?,
        })
    }
}

async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new = json_body::<NewCaseBody>(body)?.into_case()?;
    let view = run(&state, {
        let who = who.clone();
        move |ex| ex.open_case(&who, &new)
    })
    .await?;
    announce(
        &state,
        &who,
        &view.state.id,
        &view.state.id,
        CaseEventKind::Created,
    )
    .await;
    created(json!(view))
}

async fn view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.case(&who, &id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<String>,
    severity: Option<String>,
    category: Option<String>,
    name: Option<String>,
    description: Option<String>,
    affected_organisation_refs: Option<Vec<String>>,
    affected_assets: Option<Vec<String>>,
    assignee_refs: Option<Vec<String>>,
    assignee_users: Option<Vec<String>>,
    due: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body: UpdateBody = json_body(body)?;
    let update = CaseUpdate {
        status: body
            .status
            .as_deref()
            .map(|s| s.parse::<CaseStatus>().map_err(|e| bad("status", e)))
            .transpose()?,
        severity: body
            .severity
            .as_deref()
            .map(|s| s.parse::<Severity>().map_err(|e| bad("severity", e)))
            .transpose()?,
        category: body.category,
        name: body.name,
        description: body.description,
        affected_organisation_refs: body.affected_organisation_refs,
        affected_assets: body.affected_assets,
        assignee_refs: body.assignee_refs,
        assignee_users: body.assignee_users,
        due: body.due,
    };
    let kind = if update.status.is_some() {
        CaseEventKind::Status
    } else {
        CaseEventKind::Contribution
    };
    let view = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.update_case(&who, &id, &update)
    })
    .await?;
    announce(&state, &who, &id, &id, kind).await;
    ok(json!(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    content: String,
    #[serde(rename = "abstract")]
    summary: Option<String>,
    tlp: Option<String>,
    #[serde(default)]
    recipients: Vec<String>,
}

async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let note: NoteBody = json_body(body)?;
    let tlp = tlp(note.tlp.as_deref())?;
    let note_id = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| {
            ex.add_case_note(
                &who,
                &id,
                note.summary.as_deref(),
                &note.content,
                tlp,
                &note.recipients,
            )
        }
    })
    .await?;
    announce(&state, &who, &id, &note_id, CaseEventKind::Contribution).await;
    created(json!({ "id": note_id }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    name: String,
    description: Option<String>,
    owner: Option<String>,
    due: Option<String>,
    tlp: Option<String>,
    #[serde(default)]
    recipients: Vec<String>,
}

async fn add_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let task: TaskBody = json_body(body)?;
    let new = NewTask {
        tlp: tlp(task.tlp.as_deref())?,
        name: task.name,
        description: task.description,
        owner: task.owner,
        due: task.due,
        recipients: task.recipients,
        playbook_step: None,
    };
    let ids = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.add_case_tasks(&who, &id, &[new])
    })
    .await?;
    for task in &ids {
        announce(&state, &who, &id, task, CaseEventKind::Contribution).await;
    }
    created(json!({ "id": ids.first() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskStatusBody {
    status: String,
}

async fn set_task(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body: TaskStatusBody = json_body(body)?;
    let status: TaskStatus = body.status.parse().map_err(|e| bad("status", e))?;
    run(&state, {
        let (who, id, task) = (who.clone(), id.clone(), task.clone());
        move |ex| ex.set_task_status(&who, &id, &task, status)
    })
    .await?;
    announce(&state, &who, &id, &task, CaseEventKind::Contribution).await;
    ok(json!({ "id": task, "status": status }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    target_ref: String,
    relationship_type: Option<String>,
    tlp: Option<String>,
}

async fn add_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let link: LinkBody = json_body(body)?;
    let tlp = tlp(link.tlp.as_deref())?;
    let link_id = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| {
            ex.link_to_case(
                &who,
                &id,
                &link.target_ref,
                link.relationship_type.as_deref(),
                tlp,
            )
        }
    })
    .await?;
    announce(&state, &who, &id, &link_id, CaseEventKind::Contribution).await;
    created(json!({ "id": link_id }))
}

/// STIX objects added to the case as a TAXII POST to its collection would add them: a TAXII
/// envelope or a STIX bundle; `X-Kawal-Recipients` names the readers of RED objects.
async fn add_objects(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    let body = String::from_utf8(body.to_vec()).map_err(|e| bad("body", e))?;
    let recipients: Vec<String> = match headers.get(crate::RECIPIENTS_HEADER) {
        None => Vec::new(),
        Some(value) => value
            .to_str()
            .map_err(|_| bad(crate::RECIPIENTS_HEADER, "not valid text"))?
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let status = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.add_to_case(&who, &id, &body, &recipients)
    })
    .await?;
    for success in &status.successes {
        announce(&state, &who, &id, &success.id, CaseEventKind::Contribution).await;
    }
    Ok((StatusCode::ACCEPTED, Json(json!(status))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareBody {
    #[serde(default)]
    organisations: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    tlp: String,
    #[serde(default)]
    contributions: bool,
}

async fn share(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body: ShareBody = json_body(body)?;
    let share = Share {
        tlp: body.tlp.parse::<Tlp>().map_err(|e| bad("tlp", e))?,
        organisations: body.organisations,
        groups: body.groups,
        contributions: body.contributions,
    };
    let view = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.share_case(&who, &id, &share)
    })
    .await?;
    announce(&state, &who, &id, &id, CaseEventKind::Shared).await;
    ok(json!(view))
}

async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let bundle = run(&state, move |ex| ex.case_bundle(&who, &id)).await?;
    let mut response = bundle.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/stix+json;version=2.1"),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateBody {
    alerts: Vec<String>,
    case: Option<String>,
    new: Option<NewCaseBody>,
}

async fn escalate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body: EscalateBody = json_body(body)?;
    let opening = body.case.is_none();
    let request = EscalateRequest {
        alerts: body.alerts,
        case: body.case,
        new: body.new.map(NewCaseBody::into_case).transpose()?,
    };
    let view = run(&state, {
        let who = who.clone();
        move |ex| ex.escalate(&who, &request)
    })
    .await?;
    let kind = if opening {
        CaseEventKind::Created
    } else {
        CaseEventKind::Contribution
    };
    announce(&state, &who, &view.state.id, &view.state.id, kind).await;
    Ok((StatusCode::CREATED, Json(json!(view))).into_response())
}

/// Announces, every `overdue_every`, the open tasks that passed their due date, each once.
pub(crate) async fn announce_overdue(state: AppState) {
    let mut tick = tokio::time::interval(state.config().overdue_every);
    loop {
        tick.tick().await;
        match state
            .blocking(|ex| ex.overdue_task_events(stix::Timestamp::now()))
            .await
        {
            Ok(events) => {
                for event in events {
                    let _ = state.case_events().send(Arc::new(event));
                }
            }
            Err(e) => tracing::warn!(error = %e.description, "overdue tasks could not be checked"),
        }
    }
}

/// A CACAO 2.0 playbook (the JSON document) instantiated on the case.
async fn instantiate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    let document = String::from_utf8(body.to_vec()).map_err(|e| bad("body", e))?;
    let (course, tasks) = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.instantiate_playbook(&who, &id, &document)
    })
    .await?;
    for object in std::iter::once(&course).chain(&tasks) {
        announce(&state, &who, &id, object, CaseEventKind::Contribution).await;
    }
    created(json!({ "course_of_action": course, "tasks": tasks }))
}
