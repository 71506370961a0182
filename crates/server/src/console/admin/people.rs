//! Accounts and API tokens, of the whole instance or of the administrator's organisation.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kawal_core::Role;

use super::{admin_chrome, name_of, org_names, respond, AdminChrome, Outcome};
use crate::console::session::{Form, Viewer};
use crate::console::{short_time, Chrome, PageError};
use crate::AppState;

pub(crate) struct UserRow {
    pub username: String,
    pub org: String,
    pub role: String,
    pub created: String,
    pub disabled: bool,
    /// The signed-in administrator's own account, which they may not disable or delete.
    pub own: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    admin: AdminChrome,
    users: Vec<UserRow>,
    /// The organisations an account may be added to.
    orgs: Vec<String>,
    roles: Vec<&'static str>,
    min_password: usize,
}

async fn users_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let (chrome, mut admin, scope) = admin_chrome(state, viewer, "/admin/users").await?;
    let who = viewer.principal.clone();
    let (users, orgs) = state
        .blocking(move |ex| Ok((ex.users(&who)?, ex.orgs(&who)?)))
        .await?;
    let names = org_names(&orgs);
    let status = outcome.apply(&mut admin);
    let page = UsersPage {
        chrome,
        admin,
        users: users
            .into_iter()
            .map(|u| UserRow {
                own: u.id == viewer.user.id,
                org: name_of(&names, u.org),
                role: u.role.to_string(),
                created: short_time(u.created),
                disabled: u.disabled,
                username: u.username,
            })
            .collect(),
        orgs: orgs
            .into_iter()
            .filter(|o| scope.covers(o.id))
            .map(|o| o.name)
            .collect(),
        roles: Role::ALL.into_iter().map(Role::as_str).collect(),
        min_password: kawal_core::people::MIN_PASSWORD_CHARS,
    };
    Ok(respond(status, &page))
}

pub(crate) async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    users_page(&state, &viewer, Outcome::Shown).await
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let role = match form.get("role").unwrap_or("").parse::<Role>() {
        Ok(role) => role,
        Err(e) => {
            let outcome = Outcome::Failed(StatusCode::BAD_REQUEST, e.to_string());
            return users_page(&state, &viewer, outcome).await;
        }
    };
    let org = form.text("org").unwrap_or_else(|| viewer.org_name.clone());
    let username = form.text("username").unwrap_or_default();
    // Passwords are taken as typed: spaces may be part of them.
    let password = form.get("password").unwrap_or("").to_owned();
    let who = viewer.principal.clone();
    let added = state
        .blocking(move |ex| ex.add_user(&who, &org, &username, role, &password))
        .await;
    let outcome = match added {
        Ok(user) => Outcome::Done(format!(
            "Account {} ({}) was added; give its password to its holder in person or over a channel you trust.",
            user.username, user.role
        )),
        Err(e) => Outcome::failed(e),
    };
    users_page(&state, &viewer, outcome).await
}

/// Disables, enables or deletes an account.
pub(crate) async fn change_user(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let username = form.text("username").unwrap_or_default();
    let change = form.text("change").unwrap_or_default();
    let who = viewer.principal.clone();
    let name = username.clone();
    let done = state
        .blocking(move |ex| match change.as_str() {
            "disable" => ex
                .set_user_disabled(&who, &name, true)
                .map(|_| "disabled; its sessions were closed"),
            "enable" => ex.set_user_disabled(&who, &name, false).map(|_| "enabled"),
            "delete" => ex.delete_user(&who, &name).map(|()| "deleted"),
            other => Err(kawal_core::Error::BadRequest(format!(
                "`{other}` is not a change to an account; expected disable, enable or delete"
            ))),
        })
        .await;
    let outcome = match done {
        Ok(what) => Outcome::Done(format!("Account {username} was {what}.")),
        Err(e) => Outcome::failed(e),
    };
    users_page(&state, &viewer, outcome).await
}

pub(crate) struct TokenRow {
    pub id: String,
    pub org: String,
    pub role: String,
    pub created: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    admin: AdminChrome,
    tokens: Vec<TokenRow>,
}

async fn tokens_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let (chrome, mut admin, _) = admin_chrome(state, viewer, "/admin/tokens").await?;
    let who = viewer.principal.clone();
    let (mut tokens, orgs) = state
        .blocking(move |ex| Ok((ex.tokens(&who)?, ex.orgs(&who)?)))
        .await?;
    let names = org_names(&orgs);
    // Tokens in use first, newest first within each kind.
    tokens.sort_by(|a, b| (a.revoked, b.created).cmp(&(b.revoked, a.created)));
    let status = outcome.apply(&mut admin);
    let page = TokensPage {
        chrome,
        admin,
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                org: name_of(&names, t.org),
                role: t.role.to_string(),
                created: short_time(t.created),
                revoked: t.revoked,
                id: t.id,
            })
            .collect(),
    };
    Ok(respond(status, &page))
}

pub(crate) async fn tokens(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    tokens_page(&state, &viewer, Outcome::Shown).await
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let token = form.text("token").unwrap_or_default();
    let who = viewer.principal.clone();
    let id = token.clone();
    let revoked = state.blocking(move |ex| ex.revoke_token(&who, &id)).await;
    let outcome = match revoked {
        Ok(()) => Outcome::Done(format!("Token {token} was revoked.")),
        Err(e) => Outcome::failed(e),
    };
    tokens_page(&state, &viewer, outcome).await
}
