//! Administration pages. Who sees which section comes from `Exchange::admin_scope`, the check
//! every administrative `Exchange` method makes: the instance's administrators manage
//! organisations, sharing groups, collections and every account, token and audit event; an
//! organisation's administrators manage its own accounts, tokens and audit events. Every
//! change goes through the `Exchange` method that enforces it and writes the audit trail, and
//! every form carries the session's form token.

mod audit;
mod community;
mod people;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kawal_core::{AdminScope, OrgId, Organisation};

use super::session::Viewer;
use super::{render, Chrome, NavItem, PageError};
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route(
            "/admin/organisations",
            get(community::organisations).post(community::add_organisation),
        )
        .route(
            "/admin/groups",
            get(community::groups).post(community::add_group),
        )
        .route("/admin/groups/members", post(community::add_members))
        .route(
            "/admin/collections",
            get(community::collections).post(community::add_collection),
        )
        .route("/admin/users", get(people::users).post(people::add_user))
        .route("/admin/users/change", post(people::change_user))
        .route("/admin/tokens", get(people::tokens))
        .route("/admin/tokens/revoke", post(people::revoke_token))
        .route("/admin/audit", get(audit::page))
}

const INSTANCE_SECTIONS: [(&str, &str); 6] = [
    ("/admin/organisations", "Organisations"),
    ("/admin/groups", "Sharing groups"),
    ("/admin/collections", "Collections"),
    ("/admin/users", "Users"),
    ("/admin/tokens", "Tokens"),
    ("/admin/audit", "Audit trail"),
];

/// An organisation's administrators see the last three sections, which cover their own.
const ORGANISATION_SECTIONS: usize = 3;

fn sections(scope: AdminScope) -> &'static [(&'static str, &'static str)] {
    match scope {
        AdminScope::Instance => &INSTANCE_SECTIONS,
        AdminScope::Organisation(_) => {
            &INSTANCE_SECTIONS[INSTANCE_SECTIONS.len() - ORGANISATION_SECTIONS..]
        }
    }
}

/// What every administration page shows around its own content.
pub(crate) struct AdminChrome {
    pub sections: Vec<NavItem>,
    /// The form token every form of the page carries.
    pub csrf: String,
    /// Whether the whole instance is administered, rather than one organisation.
    pub instance: bool,
    pub scope_label: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

impl AdminChrome {
    fn new(viewer: &Viewer, scope: AdminScope, current: &str) -> Self {
        AdminChrome {
            sections: sections(scope)
                .iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
            csrf: viewer.csrf.clone(),
            instance: scope == AdminScope::Instance,
            scope_label: match scope {
                AdminScope::Instance => "the whole instance".to_owned(),
                AdminScope::Organisation(_) => viewer.org_name.clone(),
            },
            error: None,
            notice: None,
        }
    }
}

/// The outcome of a form, shown on the page it returns to.
pub(crate) enum Outcome {
    Shown,
    Done(String),
    Failed(StatusCode, String),
}

impl Outcome {
    fn apply(self, admin: &mut AdminChrome) -> StatusCode {
        match self {
            Outcome::Shown => StatusCode::OK,
            Outcome::Done(notice) => {
                admin.notice = Some(notice);
                StatusCode::OK
            }
            Outcome::Failed(status, error) => {
                admin.error = Some(error);
                status
            }
        }
    }

    /// A refused change: its reason is shown above the form, with the refusal's status.
    fn failed(e: crate::error::ApiError) -> Self {
        Outcome::Failed(e.status, e.description)
    }
}

/// The page's frame, once `Exchange::admin_scope` has let the viewer in.
pub(crate) async fn admin_chrome(
    state: &AppState,
    viewer: &Viewer,
    current: &str,
) -> Result<(Chrome, AdminChrome, AdminScope), PageError> {
    let who = viewer.principal.clone();
    let scope = state.blocking(move |ex| ex.admin_scope(&who)).await?;
    Ok((
        Chrome::for_viewer(viewer, "/admin"),
        AdminChrome::new(viewer, scope, current),
        scope,
    ))
}

/// Refuses sections that belong to the instance's administrators.
pub(crate) fn instance_only(scope: AdminScope, what: &str) -> Result<(), PageError> {
    match scope {
        AdminScope::Instance => Ok(()),
        AdminScope::Organisation(_) => Err(PageError::new(
            StatusCode::FORBIDDEN,
            format!("{what} are managed by the administrators of the instance's organisation."),
        )),
    }
}

/// Renders a page with the status its outcome calls for.
pub(crate) fn respond<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    (status, render(page)).into_response()
}

/// Names of the organisations by id.
pub(crate) fn org_names(orgs: &[Organisation]) -> BTreeMap<OrgId, String> {
    orgs.iter().map(|o| (o.id, o.name.clone())).collect()
}

pub(crate) fn name_of(names: &BTreeMap<OrgId, String>, id: OrgId) -> String {
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("organisation {id}"))
}

async fn index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let scope = state.blocking(move |ex| ex.admin_scope(&who)).await?;
    let first = sections(scope).first().map_or("/", |(href, _)| *href);
    Ok(Redirect::to(first).into_response())
}
