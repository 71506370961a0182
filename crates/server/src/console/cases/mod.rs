//! Case pages: the list of cases the person may read (`/cases`, filtered by status, severity
//! and category in the URL), opening a case and escalating alerts into one, the case itself
//! (`/cases/{id}`, in `view`) and the response metrics (`/cases/metrics`, in `metrics`).
//! Everything goes through the `Exchange` case methods, so the access policy and the rule
//! partners' contributions are held to apply unchanged, and every change announces its case
//! event as the REST API does.

mod metrics;
mod view;

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kawal_core::cases::{
    CaseEventKind, CaseFields, CaseStatus, CaseSummary, EscalateRequest, NewCase, Severity,
};
use stix::Tlp;

use super::session::{Form, Viewer};
use super::{encode, render, short_time, tlp_badge, tlp_choices, Choice, Chrome, PageError};
use crate::cases::announce;
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list).post(open))
        .route("/cases/escalate", post(escalate))
        .route("/cases/metrics", get(metrics::page))
        .route("/cases/{id}", get(view::page))
        .route("/cases/{id}/status", post(view::set_status))
        .route("/cases/{id}/details", post(view::set_details))
        .route("/cases/{id}/notes", post(view::add_note))
        .route("/cases/{id}/tasks", post(view::add_task))
        .route("/cases/{id}/tasks/status", post(view::set_task_status))
        .route("/cases/{id}/links", post(view::add_link))
        .route("/cases/{id}/share", post(view::share))
}

pub(crate) const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

pub(crate) fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn choices<'a>(values: impl IntoIterator<Item = &'a str>, selected: &str) -> Vec<Choice> {
    values
        .into_iter()
        .map(|v| Choice {
            value: v.to_owned(),
            label: v.to_owned(),
            selected: v == selected,
        })
        .collect()
}

/// A date from a form (`YYYY-MM-DD`, the end of that day in UTC) or a full RFC 3339 time, as
/// case and task due dates are stored.
pub(crate) fn due_date(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        None
    } else if text.len() == 10 {
        Some(format!("{text}T23:59:59Z"))
    } else {
        Some(text.to_owned())
    }
}

/// A stored due date as people read it.
pub(crate) fn due_label(due: &str) -> String {
    stix::Timestamp::parse(due).map_or_else(|_| due.to_owned(), short_time)
}

pub(crate) struct CaseRow {
    pub href: String,
    pub name: String,
    pub status: String,
    pub severity: String,
    pub category: String,
    pub owner: String,
    pub tlp_class: String,
    pub tlp_label: String,
    pub modified: String,
    pub due: String,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    chrome: Chrome,
    csrf: String,
    error: Option<String>,
    cases: Vec<CaseRow>,
    total_label: String,
    statuses: Vec<Choice>,
    severities: Vec<Choice>,
    categories: Vec<Choice>,
    /// Whether the person's role works on cases (opens them, escalates alerts).
    works_on_cases: bool,
    /// Cases the person's organisation owns, which alerts may be escalated into.
    own_cases: Vec<Choice>,
    new_severities: Vec<Choice>,
    tlps: Vec<Choice>,
}

/// The filters of the list, from the URL.
#[derive(Default)]
struct Filters {
    status: String,
    severity: String,
    category: String,
}

impl Filters {
    fn parse(raw: Option<&str>) -> Self {
        let mut filters = Filters::default();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match &*name {
                "status" => filters.status = value.into_owned(),
                "severity" => filters.severity = value.into_owned(),
                "category" => filters.category = value.into_owned(),
                _ => {}
            }
        }
        filters
    }

    fn keeps(&self, case: &CaseSummary) -> bool {
        let fields = &case.state.fields;
        (self.status.is_empty() || fields.status.as_str() == self.status)
            && (self.severity.is_empty() || severity_label(fields.severity) == self.severity)
            && (self.category.is_empty() || fields.category == self.category)
    }
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    filters: Filters,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let cases = state.blocking(move |ex| ex.cases(&who)).await?;
    let categories: BTreeSet<String> = cases
        .iter()
        .map(|c| c.state.fields.category.clone())
        .collect();
    let own_cases = cases
        .iter()
        .filter(|c| c.owner == viewer.org_name)
        .map(|c| Choice {
            value: c.state.id.clone(),
            label: c.state.name.clone(),
            selected: false,
        })
        .collect();
    let shown: Vec<CaseRow> = cases
        .iter()
        .filter(|c| filters.keeps(c))
        .map(|c| {
            let (tlp_class, tlp_label) = tlp_badge(c.tlp);
            CaseRow {
                href: format!("/cases/{}", encode(&c.state.id)),
                name: c.state.name.clone(),
                status: c.state.fields.status.to_string(),
                severity: severity_label(c.state.fields.severity).to_owned(),
                category: c.state.fields.category.clone(),
                owner: c.owner.clone(),
                tlp_class,
                tlp_label,
                modified: short_time(c.state.modified),
                due: c
                    .state
                    .fields
                    .due
                    .as_deref()
                    .map(due_label)
                    .unwrap_or_default(),
            }
        })
        .collect();
    let total_label = match shown.len() {
        0 => "No case matches.".to_owned(),
        1 => "1 case".to_owned(),
        n => format!("{n} cases"),
    };
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = CasesPage {
        chrome: Chrome::for_viewer(viewer, "/cases"),
        csrf: viewer.csrf.clone(),
        error,
        cases: shown,
        total_label,
        statuses: choices(CaseStatus::ALL.map(CaseStatus::as_str), &filters.status),
        severities: choices(SEVERITIES, &filters.severity),
        categories: choices(categories.iter().map(String::as_str), &filters.category),
        works_on_cases: viewer.user.role.writes_content(),
        own_cases,
        new_severities: choices(SEVERITIES, "medium"),
        tlps: tlp_choices(Tlp::Amber),
    };
    Ok((status, render(&page)).into_response())
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    list_page(&state, &viewer, Filters::parse(raw.as_deref()), None).await
}

/// The new case a form describes.
fn new_case(form: &Form) -> Result<NewCase, String> {
    let severity = form
        .get("severity")
        .unwrap_or("medium")
        .parse::<Severity>()?;
    let tlp = form
        .text("tlp")
        .map(|t| t.parse::<Tlp>().map_err(|e| e.to_string()))
        .transpose()?;
    Ok(NewCase {
        name: form.text("name").unwrap_or_default(),
        description: form.text("description"),
        fields: CaseFields {
            status: CaseStatus::New,
            severity,
            category: form
                .text("category")
                .unwrap_or_else(|| "uncategorised".to_owned()),
            affected_organisation_refs: Vec::new(),
            affected_assets: Vec::new(),
            assignee_refs: Vec::new(),
            assignee_users: Vec::new(),
            due: form.get("due").and_then(due_date),
            contributions: false,
        },
        tlp,
    })
}

fn to_case(id: &str) -> Response {
    Redirect::to(&format!("/cases/{}", encode(id))).into_response()
}

async fn open(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let new = match new_case(&form) {
        Ok(new) => new,
        Err(e) => {
            return list_page(
                &state,
                &viewer,
                Filters::default(),
                Some((StatusCode::BAD_REQUEST, e)),
            )
            .await
        }
    };
    let who = viewer.principal.clone();
    let opened = state.blocking(move |ex| ex.open_case(&who, &new)).await;
    match opened {
        Ok(view) => {
            let id = view.state.id;
            announce(&state, &viewer.principal, &id, &id, CaseEventKind::Created).await;
            Ok(to_case(&id))
        }
        Err(e) => {
            list_page(
                &state,
                &viewer,
                Filters::default(),
                Some((e.status, e.description)),
            )
            .await
        }
    }
}

/// Alert ids from the form: checkboxes named `alert`, and a text field `alerts` holding ids
/// separated by spaces, commas or lines.
fn alert_ids(form: &Form) -> Vec<String> {
    let mut ids: Vec<String> = form.all("alert");
    for typed in form.all("alerts") {
        ids.extend(
            typed
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        );
    }
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids
}

/// Escalates alerts of the person's organisation into a case it owns, or into a new one.
async fn escalate(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let case = form.text("case");
    let new = match (&case, form.text("name")) {
        (Some(_), _) | (None, None) => None,
        (None, Some(_)) => match new_case(&form) {
            Ok(new) => Some(new),
            Err(e) => {
                return list_page(
                    &state,
                    &viewer,
                    Filters::default(),
                    Some((StatusCode::BAD_REQUEST, e)),
                )
                .await
            }
        },
    };
    let opening = case.is_none();
    let request = EscalateRequest {
        alerts: alert_ids(&form),
        case,
        new,
    };
    let who = viewer.principal.clone();
    let escalated = state.blocking(move |ex| ex.escalate(&who, &request)).await;
    match escalated {
        Ok(view) => {
            let id = view.state.id;
            let kind = if opening {
                CaseEventKind::Created
            } else {
                CaseEventKind::Contribution
            };
            announce(&state, &viewer.principal, &id, &id, kind).await;
            Ok(to_case(&id))
        }
        Err(e) => {
            list_page(
                &state,
                &viewer,
                Filters::default(),
                Some((e.status, e.description)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_come_from_checkboxes_and_typed_lists_once_each() {
        let form = Form::parse(&Bytes::from_static(
            b"alert=a1&alerts=a2%2C+a3%0Aa1&alerts=&alert=a4",
        ));
        assert_eq!(alert_ids(&form), ["a1", "a4", "a2", "a3"]);
    }

    #[test]
    fn form_dates_become_the_end_of_the_day() {
        assert_eq!(
            due_date("2030-05-01").as_deref(),
            Some("2030-05-01T23:59:59Z")
        );
        assert_eq!(
            due_date("2030-05-01T08:00:00Z").as_deref(),
            Some("2030-05-01T08:00:00Z")
        );
        assert_eq!(due_date("  "), None);
        assert_eq!(due_label("2030-05-01T23:59:59Z"), "2030-05-01 23:59:59 UTC");
    }
}
