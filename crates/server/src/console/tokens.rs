//! Self-service API tokens: a signed-in person issues a token for their organisation with at
//! most their own rights, and sees its secret once.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kawal_core::people::may_issue_own_token;
use kawal_core::Role;

use super::session::{Form, Viewer};
use super::{render, Chrome, PageError};
use crate::AppState;

pub(crate) struct Issued {
    pub id: String,
    pub role: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    chrome_csrf: String,
    org_name: String,
    own_role: String,
    roles: Vec<&'static str>,
    issued: Option<Issued>,
    error: Option<String>,
}

fn tokens_page(viewer: &Viewer, issued: Option<Issued>, error: Option<String>) -> TokensPage {
    TokensPage {
        chrome: Chrome::for_viewer(viewer, "/tokens"),
        chrome_csrf: viewer.csrf.clone(),
        org_name: viewer.org_name.clone(),
        own_role: viewer.user.role.to_string(),
        roles: Role::ALL
            .into_iter()
            .filter(|r| may_issue_own_token(viewer.user.role, *r))
            .map(Role::as_str)
            .collect(),
        issued,
        error,
    }
}

pub(crate) async fn page(viewer: Viewer) -> Response {
    render(&tokens_page(&viewer, None, None))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let role = match form.get("role").unwrap_or("").parse::<Role>() {
        Ok(role) => role,
        Err(e) => {
            let page = tokens_page(&viewer, None, Some(e.to_string()));
            return Ok((StatusCode::BAD_REQUEST, render(&page)).into_response());
        }
    };
    let who = viewer.principal.clone();
    let issued = state
        .blocking(move |ex| ex.issue_own_token(&who, role))
        .await;
    match issued {
        Ok((token, secret)) => {
            let issued = Issued {
                secret: format!("{}:{secret}", token.id),
                id: token.id,
                role: token.role.to_string(),
            };
            Ok(render(&tokens_page(&viewer, Some(issued), None)))
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            let page = tokens_page(&viewer, None, Some(e.description));
            Ok((StatusCode::FORBIDDEN, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
