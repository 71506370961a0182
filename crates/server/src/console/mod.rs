//! The web console: server-rendered pages (askama templates in `templates/`, checked at
//! compile time) for people signed in with an account, one stylesheet and one small script
//! module from `static/`, embedded in the binary. Every page reads through the same
//! `Exchange` methods as the APIs, as the person's organisation and role.
//!
//! Pages: sign-in (`/sign-in`, `/sign-out`), dashboard (`/`), explore (`/explore`), object
//! (`/objects/{id}`), indicator editor (`/indicators/new`, saved by `POST /indicators`, its
//! pattern checked by `POST /console/pattern-check`), alerts (`/alerts`, acknowledged by
//! `POST /alerts/{id}/acknowledge`, newer ones streamed at `/live/alerts`), import (`/import`, the script's uploads
//! at `POST /import/jobs` followed at `/import/{job}`), cases (`/cases…`), API tokens (`/tokens`),
//! administration (`/admin/…`); the dashboard's live list follows `/live/latest` (server-sent events).

mod admin;
mod alerts;
mod cases;
mod dashboard;
mod diff;
mod explore;
mod import;
mod indicators;
mod live;
mod object;
mod session;
mod svg;
mod tokens;

use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use stix::Tlp;

use crate::error::ApiError;
use crate::AppState;

pub(crate) use import::Imports;
pub(crate) use session::SignInLimiter;
use session::Viewer;

/// The Content-Security-Policy of every console response: nothing inline, nothing from
/// elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../static/console.css");
const SCRIPT: &str = include_str!("../../static/console.js");

/// Changes with every release, so browsers may cache the assets for long.
const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/explore", get(explore::page))
        .route("/objects/{id}", get(object::page))
        .route("/indicators/new", get(indicators::form))
        .route("/indicators", axum::routing::post(indicators::save))
        .route(
            "/console/pattern-check",
            axum::routing::post(indicators::pattern_check),
        )
        .route("/alerts", get(alerts::page))
        .route(
            "/alerts/{id}/acknowledge",
            axum::routing::post(alerts::acknowledge),
        )
        .route("/live/alerts", get(live::alerts))
        .route("/import", get(import::form).post(import::upload))
        .route("/import/jobs", axum::routing::post(import::start))
        .route("/import/{job}", get(import::progress))
        .route("/tokens", get(tokens::page).post(tokens::create))
        .merge(cases::routes())
        .merge(admin::routes())
        .route("/sign-in", get(session::form).post(session::sign_in))
        .route("/sign-out", axum::routing::post(session::sign_out))
        .route("/live/latest", get(live::latest))
        .route("/static/console.css", get(stylesheet))
        .route("/static/console.js", get(script))
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// A link of the main navigation. Only pages that exist are listed.
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub(crate) struct ChromeUser {
    pub username: String,
    pub org_name: String,
    pub role: String,
    pub csrf: String,
}

/// What the layout shows around every page.
pub(crate) struct Chrome {
    pub user: Option<ChromeUser>,
    pub nav: Vec<NavItem>,
    pub asset_version: &'static str,
}

const NAV: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/explore", "Explore"),
    ("/alerts", "Alerts"),
    ("/cases", "Cases"),
    ("/indicators/new", "New indicator"),
    ("/import", "Import"),
    ("/tokens", "API tokens"),
];

/// Shown to administrators only, the people `Exchange::admin_scope` lets in.
const ADMIN_NAV: (&str, &str) = ("/admin", "Admin");

impl Chrome {
    pub fn anonymous() -> Self {
        Chrome {
            user: None,
            nav: Vec::new(),
            asset_version: ASSET_VERSION,
        }
    }

    pub fn for_viewer(viewer: &Viewer, current: &str) -> Self {
        Chrome {
            user: Some(ChromeUser {
                username: viewer.user.username.clone(),
                org_name: viewer.org_name.clone(),
                role: viewer.user.role.to_string(),
                csrf: viewer.csrf.clone(),
            }),
            nav: NAV
                .iter()
                .chain(viewer.principal.org_admin().map(|_| &ADMIN_NAV))
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
            asset_version: ASSET_VERSION,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    message: String,
}

/// A console failure, shown as a page rather than as an API error object.
#[derive(Debug)]
pub(crate) struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Where the person should go instead (sign-in when no session is open).
    pub redirect: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
            redirect: None,
        }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::new(e.status, e.description)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect {
            return Redirect::to(&to).into_response();
        }
        let title = match self.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Not understood",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            _ => "Something went wrong",
        };
        let page = ErrorPage {
            chrome: Chrome::anonymous(),
            title: title.to_owned(),
            message: self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// Renders a page; a template that fails to render (it cannot, with the types checked at
/// compile time, but writing can) becomes a plain 500 rather than a panic.
pub(crate) fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// One option of a select: what it posts, what people read, whether it is chosen.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The TLP options of a form, `selected` chosen.
pub(crate) fn tlp_choices(selected: Tlp) -> Vec<Choice> {
    Tlp::ALL
        .into_iter()
        .map(|t| Choice {
            value: t.as_str().to_owned(),
            label: tlp_badge(t).1,
            selected: t == selected,
        })
        .collect()
}

/// The CSS class and label of a TLP badge.
pub(crate) fn tlp_badge(tlp: Tlp) -> (String, String) {
    (
        format!("tlp-{}", tlp.as_str().replace('+', "-")),
        format!("TLP:{}", tlp.as_str().to_ascii_uppercase()),
    )
}

/// An object's page, in the collection it was found in.
pub(crate) fn object_href(id: &str, collection: &str) -> String {
    format!("/objects/{}?collection={}", encode(id), encode(collection))
}

pub(crate) fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A timestamp as people read it: to the second, in UTC.
pub(crate) fn short_time(at: stix::Timestamp) -> String {
    let text = at.to_string();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{} UTC", seconds.replace('T', " ")),
        None => text.replace('T', " ").replace('Z', " UTC"),
    }
}

/// Keeps the search index and the dashboard's counts close behind ingest and deletions:
/// indexes in batches while there is work, then looks again shortly. It runs on its own
/// thread at the lowest CPU priority: on a busy machine ingest, TAXII reads and proofs come
/// first and the index catches up in the idle time between them. The store's indexer writes
/// only the index's own database, so ingest never waits for it either. Dropping the returned
/// sender stops the thread.
pub fn spawn_indexer(state: AppState) -> std::io::Result<std::sync::mpsc::Sender<()>> {
    const BATCH: usize = 1_000;
    const IDLE: Duration = Duration::from_millis(200);
    const INGEST_GAP: Duration = Duration::from_millis(100);
    const INDEX_AT_LEAST_EVERY: Duration = Duration::from_secs(1);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("search-indexer".into())
        .spawn(move || {
            lower_own_priority();
            let mut last_batch = Instant::now();
            loop {
                // Indexing beside an ingest slows the ingest by more than the CPU it takes
                // (10-15 % at 100,000 objects, even in the idle scheduling class), so the
                // index waits while commits keep coming, but takes a batch at least every
                // second so that it never falls behind without bound.
                let store = state.exchange().store();
                if store.since_last_commit() < INGEST_GAP
                    && last_batch.elapsed() < INDEX_AT_LEAST_EVERY
                {
                    if !matches!(
                        stopped.recv_timeout(INGEST_GAP),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    ) {
                        return;
                    }
                    continue;
                }
                last_batch = Instant::now();
                match store.index_step(BATCH) {
                    Ok(n) if n == BATCH => {
                        if !matches!(
                            stopped.try_recv(),
                            Err(std::sync::mpsc::TryRecvError::Empty)
                        ) {
                            return;
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "the search index could not be updated"),
                }
                if !matches!(
                    stopped.recv_timeout(IDLE),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                ) {
                    return;
                }
            }
        })?;
    Ok(stop)
}

/// Moves the calling thread to the idle scheduling class: it runs only on a core that nothing
/// else wants. On Linux the scheduling class belongs to the thread, so the rest of the server
/// keeps its own.
fn lower_own_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param that outlives the call; pid 0 names the calling
    // thread.
    let status = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if status != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "the indexer keeps its priority");
    }
}
