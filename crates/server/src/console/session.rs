//! Signing in and out, the session cookie, and the form tokens (CSRF) every post carries.
//!
//! The session cookie `kawal_session` holds a random 256-bit secret (HttpOnly, SameSite=Strict,
//! Secure when the public URL is https); the store keeps only its SHA-256. Each session has its
//! own form token, compared in constant time. The sign-in form, before any session exists,
//! carries a token that must equal the one in its own short-lived cookie.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kawal_core::auth;
use kawal_core::{ActiveSession, Principal, User};
use serde::Deserialize;

use super::{render, Chrome, PageError};
use crate::AppState;

pub const SESSION_COOKIE: &str = "kawal_session";
const SIGN_IN_COOKIE: &str = "kawal_signin";

/// Failed sign-ins allowed per username within [`LIMIT_WINDOW`].
const LIMIT_FAILURES: u32 = 5;
const LIMIT_WINDOW: Duration = Duration::from_secs(300);

/// Slows guessing: after a few failures for one username, sign-in for it is refused for a
/// while, whatever the password.
#[derive(Default)]
pub(crate) struct SignInLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInLimiter {
    fn blocked(&self, username: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .get(&username.to_lowercase())
            .is_some_and(|(n, since)| *n >= LIMIT_FAILURES && since.elapsed() < LIMIT_WINDOW)
    }

    fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, (_, since)| since.elapsed() < LIMIT_WINDOW);
        let entry = failures
            .entry(username.to_lowercase())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&username.to_lowercase());
    }
}

/// The person behind a request, signed in.
pub(crate) struct Viewer {
    pub principal: Principal,
    pub user: User,
    pub org_name: String,
    pub csrf: String,
    active: ActiveSession,
}

impl Viewer {
    /// Refuses a post whose form token is missing or is not this session's.
    pub fn check_form(&self, form: &Form) -> Result<(), PageError> {
        self.check_token(form.get("csrf").unwrap_or(""))
    }

    /// Refuses a request whose form token (from a form field, or the header the script sends
    /// with uploads) is missing or is not this session's.
    pub fn check_token(&self, sent: &str) -> Result<(), PageError> {
        if sent.is_empty() || !auth::constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            return Err(csrf_refusal());
        }
        Ok(())
    }
}

fn csrf_refusal() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form did not carry a valid form token (CSRF protection), so nothing was done. \
         Reload the page and submit the form again.",
    )
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = state
        .config()
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    // Names and values are ours: hex digits and fixed words.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where to go back after signing in: a path on this site, nothing else.
pub(crate) fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let to_sign_in = || {
            let here = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            PageError {
                redirect: Some(format!("/sign-in?next={}", super::encode(&here))),
                ..PageError::new(StatusCode::UNAUTHORIZED, "sign in first")
            }
        };
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_sign_in());
        };
        let found = state
            .blocking(move |ex| {
                let Some(active) = ex.session(&secret)? else {
                    return Ok(None);
                };
                let org_name = ex
                    .store()
                    .org(active.user.org)?
                    .map(|o| o.name)
                    .unwrap_or_default();
                Ok(Some((active, org_name)))
            })
            .await?;
        let Some((active, org_name)) = found else {
            return Err(to_sign_in());
        };
        Ok(Viewer {
            principal: active.principal.clone(),
            user: active.user.clone(),
            csrf: active.session.csrf.clone(),
            org_name,
            active,
        })
    }
}

/// A posted form, `application/x-www-form-urlencoded`.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &Bytes) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value of a field, `None` when it is missing or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every non-blank value of a field that may repeat (checkboxes, multiple selects).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
) -> Response {
    let csrf = auth::new_csrf_token();
    let page = SignInPage {
        chrome: Chrome::anonymous(),
        csrf: csrf.clone(),
        next: local_path(next),
        username: username.to_owned(),
        error,
    };
    let mut response = (status, render(&page)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGN_IN_COOKIE, &csrf, "/sign-in", 3600),
    );
    response
}

pub(crate) async fn form(State(state): State<AppState>, Query(next): Query<Next>) -> Response {
    sign_in_page(
        &state,
        StatusCode::OK,
        next.next.as_deref().unwrap_or("/"),
        "",
        None,
    )
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    let sent = form.get("csrf").unwrap_or("");
    if sent.is_empty() || !auth::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(csrf_refusal());
    }
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let password = form.get("password").unwrap_or("").to_owned();
    let next = local_path(form.get("next").unwrap_or("/"));
    let limiter = state.sign_in_limiter();
    if limiter.blocked(&username) {
        return Ok(sign_in_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &username,
            Some("Too many failed attempts for this account; wait a few minutes.".to_owned()),
        ));
    }
    let who = username.clone();
    let signed = state
        .blocking(move |ex| ex.sign_in(&who, &password, "console"))
        .await;
    match signed {
        Ok(signed) => {
            limiter.succeeded(&username);
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                set_cookie(
                    &state,
                    SESSION_COOKIE,
                    &signed.secret,
                    "/",
                    kawal_core::people::SESSION_LIFETIME_MICROS / 1_000_000,
                ),
            );
            headers.append(
                header::SET_COOKIE,
                set_cookie(&state, SIGN_IN_COOKIE, "", "/sign-in", 0),
            );
            Ok(response)
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => Ok(sign_in_page(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            &username,
            Some(e.description),
        )),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            limiter.failed(&username);
            Ok(sign_in_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                &username,
                Some("Unknown user or wrong password.".to_owned()),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    viewer.check_form(&Form::parse(&body))?;
    let active = viewer.active.clone();
    state.blocking(move |ex| ex.sign_out(&active)).await?;
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", "/", 0),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/explore?q=a"), "/explore?q=a");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("https://evil.example/"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kawal_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn the_limiter_blocks_after_repeated_failures() {
        let limiter = SignInLimiter::default();
        for _ in 0..LIMIT_FAILURES {
            assert!(!limiter.blocked("Ana"));
            limiter.failed("ana");
        }
        assert!(limiter.blocked("ANA"));
        limiter.succeeded("ana");
        assert!(!limiter.blocked("ana"));
    }
}
