//! Searching the audit trail: by actor, action, target, outcome, organisation and time, newest
//! first, page by page. Every filter is in the URL (`GET /admin/audit?actor=…&before=…`), so
//! a search can be shared with another administrator, who sees what their own scope allows.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use kawal_core::AuditQuery;
use stix::Timestamp;

use super::{admin_chrome, name_of, org_names, respond, AdminChrome};
use crate::console::session::Viewer;
use crate::console::{encode, short_time, Chrome, PageError};
use crate::AppState;

const PER_PAGE: usize = 50;

pub(crate) struct EventRow {
    pub at: String,
    pub actor: String,
    pub org: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub refused: bool,
}

/// The search as typed, shown back in the form.
#[derive(Default)]
pub(crate) struct Filters {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub org: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    admin: AdminChrome,
    filters: Filters,
    orgs: Vec<String>,
    events: Vec<EventRow>,
    older: Option<String>,
    /// The same search from its newest event, once paged on.
    newest: Option<String>,
}

/// This search's URL, from the events before `before` or from the newest.
fn search_href(filters: &Filters, before: Option<i64>) -> String {
    let mut pairs: Vec<String> = [
        ("actor", &filters.actor),
        ("action", &filters.action),
        ("target", &filters.target),
        ("outcome", &filters.outcome),
        ("org", &filters.org),
        ("from", &filters.from),
        ("to", &filters.to),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(n, v)| format!("{n}={}", encode(v)))
    .collect();
    if let Some(seq) = before {
        pairs.push(format!("before={seq}"));
    }
    format!("/admin/audit?{}", pairs.join("&"))
}

/// A date field (`YYYY-MM-DD`) as the first or last instant of that day; a full RFC 3339
/// timestamp is taken as it is.
fn instant(text: &str, end: bool, field: &str) -> Result<Option<Timestamp>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let time = if end { "23:59:59.999999" } else { "00:00:00" };
    Timestamp::parse(&format!("{text}T{time}Z"))
        .or_else(|_| Timestamp::parse(text))
        .map(Some)
        .map_err(|_| format!("`{text}` in {field} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

fn query_of(
    filters: &Filters,
    org: Option<i64>,
    before: Option<i64>,
) -> Result<AuditQuery, String> {
    let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Ok(AuditQuery {
        actor: text(&filters.actor),
        action: text(&filters.action),
        target: text(&filters.target),
        outcome: text(&filters.outcome),
        org,
        since: instant(&filters.from, false, "from")?,
        until: instant(&filters.to, true, "to")?,
        before,
        limit: PER_PAGE,
    })
}

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let (chrome, mut admin, _) = admin_chrome(&state, &viewer, "/admin/audit").await?;
    let mut filters = Filters::default();
    let mut before_text = String::new();
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        let value = value.trim().to_owned();
        match &*name {
            "actor" => filters.actor = value,
            "action" => filters.action = value,
            "target" => filters.target = value,
            "outcome" => filters.outcome = value,
            "org" => filters.org = value,
            "from" => filters.from = value,
            "to" => filters.to = value,
            "before" => before_text = value,
            _ => {}
        }
    }
    let who = viewer.principal.clone();
    let orgs = state.blocking(move |ex| ex.orgs(&who)).await?;
    let names = org_names(&orgs);
    let org = match filters.org.as_str() {
        "" => Ok(None),
        name => orgs
            .iter()
            .find(|o| o.name == name)
            .map(|o| Some(o.id))
            .ok_or_else(|| format!("organisation `{name}` does not exist")),
    };
    let before = match before_text.as_str() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("`{text}` is not a position in the audit trail")),
    };
    let query = org.and_then(|org| before.and_then(|before| query_of(&filters, org, before)));
    let (events, status) = match query {
        Ok(query) => {
            let who = viewer.principal.clone();
            let found = state.blocking(move |ex| ex.audit_page(&who, query)).await?;
            (found, StatusCode::OK)
        }
        Err(message) => {
            admin.error = Some(message);
            (Vec::new(), StatusCode::BAD_REQUEST)
        }
    };
    let older = (events.len() == PER_PAGE)
        .then(|| events.last().map(|(seq, _)| *seq))
        .flatten()
        .map(|seq| search_href(&filters, Some(seq)));
    let newest = (!before_text.is_empty()).then(|| search_href(&filters, None));
    let page = AuditPage {
        orgs: if admin.instance {
            orgs.iter().map(|o| o.name.clone()).collect()
        } else {
            Vec::new()
        },
        chrome,
        admin,
        filters,
        events: events
            .into_iter()
            .map(|(_, e)| EventRow {
                at: short_time(e.at),
                org: e.org.map(|o| name_of(&names, o)).unwrap_or_default(),
                refused: e.outcome.starts_with("refused"),
                actor: e.actor,
                action: e.action,
                target: e.target,
                outcome: e.outcome,
            })
            .collect(),
        older,
        newest,
    };
    Ok(respond(status, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_cover_the_whole_day_and_times_are_taken_as_written() {
        let from = instant("2025-03-01", false, "from").unwrap().unwrap();
        let to = instant("2025-03-01", true, "to").unwrap().unwrap();
        assert_eq!(to.as_micros() - from.as_micros(), 86_400_000_000 - 1);
        let exact = instant("2025-03-01T10:00:00Z", false, "from")
            .unwrap()
            .unwrap();
        assert_eq!(exact.as_micros() - from.as_micros(), 10 * 3_600_000_000);
        assert!(instant("yesterday", false, "from")
            .unwrap_err()
            .contains("`yesterday` in from"));
        assert_eq!(instant("", true, "to").unwrap(), None);
    }
}
