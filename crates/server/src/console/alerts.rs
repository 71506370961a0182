//! Alerts: the person's organisation's alerts, newest first, filtered by indicator,
//! collection, source, retro-hunt, acknowledgement and observation time (all in the URL), with
//! the newest arriving live (`/live/alerts`, server-sent events) and a form to acknowledge
//! each. Alerts are read through `Exchange::latest_alerts`, which holds them to their
//! organisation; acknowledgements go through `Exchange::acknowledge_alert`, which audits them.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kawal_core::{AlertFilter, ListedAlert, Role};
use serde::Serialize;
use serde_json::Value;
use stix::Timestamp;

use super::session::{local_path, Form, Viewer};
use super::{encode, object_href, render, short_time, Chrome, PageError};
use crate::AppState;

const PER_PAGE: usize = 50;

/// One alert as a row of the list, and as the live stream sends it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AlertRow {
    pub id: String,
    pub seq: i64,
    pub observed: String,
    pub indicator: String,
    pub indicator_label: String,
    pub indicator_href: String,
    pub collection_title: String,
    pub source: String,
    pub retro: bool,
    pub objects: String,
    /// The event's other fields, briefly: what finds the original event.
    pub event: String,
    /// Who acknowledged it and when, as shown.
    pub acknowledged: Option<String>,
    pub acknowledge_url: String,
}

/// The first `shown` items, then how many more there are: `a, b, c and 2 more`.
fn brief<T>(
    items: impl ExactSizeIterator<Item = T>,
    shown: usize,
    each: impl Fn(T) -> String,
) -> String {
    let total = items.len();
    let mut parts: Vec<String> = items.take(shown).map(each).collect();
    if total > shown {
        parts.push(format!("and {} more", total - shown));
    }
    parts.join(", ")
}

/// What the event's observables were, briefly: `ipv4-addr 203.0.113.9, domain-name …`.
fn observables(objects: &[Value]) -> String {
    brief(objects.iter(), 3, |o| {
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("object");
        let value = ["value", "name", "path"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str));
        match value {
            Some(v) => format!("{kind} {v}"),
            None => kind.to_owned(),
        }
    })
}

/// The event's fields no observable took, briefly: `dns={…}, flow_id=1, in_iface=eth0`.
fn event_fields(fields: &serde_json::Map<String, Value>) -> String {
    const LONGEST: usize = 40;
    brief(fields.iter(), 4, |(name, value)| {
        let shown = match value {
            Value::String(s) if s.chars().count() > LONGEST => {
                format!("{}…", s.chars().take(LONGEST).collect::<String>())
            }
            Value::String(s) => s.clone(),
            Value::Object(_) => "{…}".to_owned(),
            Value::Array(_) => "[…]".to_owned(),
            other => other.to_string(),
        };
        format!("{name}={shown}")
    })
}

pub(crate) fn row(listed: &ListedAlert, titles: &HashMap<String, String>) -> AlertRow {
    let alert = &listed.alert;
    AlertRow {
        id: alert.id.clone(),
        seq: listed.seq,
        observed: short_time(alert.observed),
        indicator: alert.indicator.clone(),
        indicator_label: alert
            .indicator_name
            .clone()
            .unwrap_or_else(|| alert.indicator.clone()),
        indicator_href: object_href(&alert.indicator, &alert.collection),
        collection_title: titles
            .get(&alert.collection)
            .cloned()
            .unwrap_or_else(|| alert.collection.clone()),
        source: alert.source.clone(),
        retro: alert.retro,
        objects: observables(&alert.objects),
        event: event_fields(&alert.fields),
        acknowledged: listed.acknowledged.as_ref().map(|ack| {
            format!(
                "{} at {}",
                ack.by.strip_prefix("user:").unwrap_or(&ack.by),
                short_time(ack.at)
            )
        }),
        acknowledge_url: format!("/alerts/{}/acknowledge", encode(&alert.id)),
    }
}

/// The filters of the alerts page, as written in its URL.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub indicator: String,
    pub collection: String,
    pub source: String,
    /// `""`, `live` or `retro`.
    pub retro: String,
    /// `""`, `open` or `acknowledged`.
    pub ack: String,
    pub since: String,
    pub until: String,
    pub before: Option<i64>,
}

impl Filters {
    pub fn parse(query: Option<&str>) -> Filters {
        let mut filters = Filters::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.trim().to_owned();
            match &*name {
                "indicator" => filters.indicator = value,
                "collection" => filters.collection = value,
                "source" => filters.source = value,
                "retro" => filters.retro = value,
                "ack" => filters.ack = value,
                "since" => filters.since = value,
                "until" => filters.until = value,
                "before" => filters.before = value.parse().ok(),
                _ => {}
            }
        }
        filters
    }

    /// The query string of these filters (without the page), for links and the live stream.
    pub fn query(&self) -> String {
        [
            ("indicator", &self.indicator),
            ("collection", &self.collection),
            ("source", &self.source),
            ("retro", &self.retro),
            ("ack", &self.ack),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The store's filter, or what in the URL is not understood.
    pub fn to_filter(&self, limit: usize) -> Result<AlertFilter, String> {
        let day = |text: &str, field: &str| -> Result<Option<Timestamp>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            Timestamp::parse(&format!("{text}T00:00:00Z"))
                .map(Some)
                .map_err(|_| format!("`{text}` in {field} is not a date of the form YYYY-MM-DD"))
        };
        let text = |t: &String| (!t.is_empty()).then(|| t.clone());
        Ok(AlertFilter {
            oldest_first: false,
            org: 0,
            before: self.before,
            after: None,
            indicator: text(&self.indicator),
            collection: text(&self.collection),
            source: text(&self.source),
            retro: match self.retro.as_str() {
                "" => None,
                "retro" => Some(true),
                "live" => Some(false),
                other => return Err(format!("`{other}` is not live or retro")),
            },
            acknowledged: match self.ack.as_str() {
                "" => None,
                "acknowledged" => Some(true),
                "open" => Some(false),
                other => return Err(format!("`{other}` is not open or acknowledged")),
            },
            observed_since: day(&self.since, "observed from")?,
            // The whole of the last day.
            observed_until: day(&self.until, "observed until")?
                .map(|t| Timestamp::from_micros(t.as_micros() + kawal_core::search::DAY_MICROS)),
            limit,
        })
    }
}

pub(crate) struct CollectionChoice {
    pub id: String,
    pub title: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    csrf: String,
    can_acknowledge: bool,
    filters: Filters,
    collections: Vec<CollectionChoice>,
    error: Option<String>,
    rows: Vec<AlertRow>,
    /// The live stream of newer alerts, on the first page only.
    live_url: Option<String>,
    older: Option<String>,
    newest: Option<String>,
    here: String,
}

/// Readable collections' titles, by id.
pub(crate) fn titles(views: &[kawal_core::CollectionView]) -> HashMap<String, String> {
    views
        .iter()
        .filter(|v| v.can_read)
        .map(|v| (v.collection.id.clone(), v.collection.title.clone()))
        .collect()
}

/// `GET /alerts`.
pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let filters = Filters::parse(query.as_deref());
    let parsed = filters.to_filter(PER_PAGE);
    let who = viewer.principal.clone();
    let wanted = parsed.clone().ok();
    let (listed, views) = state
        .blocking(move |ex| {
            let views = ex.visible_collections(&who)?;
            let listed = match wanted {
                Some(filter) => ex.latest_alerts(&who, filter)?,
                None => Vec::new(),
            };
            Ok((listed, views))
        })
        .await?;
    let titles = titles(&views);
    let rows: Vec<AlertRow> = listed.iter().map(|l| row(l, &titles)).collect();
    let base = filters.query();
    let joined = |extra: String| {
        if base.is_empty() {
            format!("/alerts?{extra}")
        } else {
            format!("/alerts?{base}&{extra}")
        }
    };
    let newest_seq = rows.first().map_or(0, |r| r.seq);
    let page = AlertsPage {
        chrome: Chrome::for_viewer(&viewer, "/alerts"),
        csrf: viewer.csrf.clone(),
        can_acknowledge: matches!(viewer.user.role, Role::Admin | Role::Analyst),
        collections: {
            let mut choices: Vec<CollectionChoice> = titles
                .iter()
                .map(|(id, title)| CollectionChoice {
                    id: id.clone(),
                    title: title.clone(),
                    selected: *id == filters.collection,
                })
                .collect();
            choices.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
            choices
        },
        error: parsed.err(),
        live_url: (filters.before.is_none()).then(|| {
            let mut url = format!("/live/alerts?after={newest_seq}");
            if !base.is_empty() {
                url.push('&');
                url.push_str(&base);
            }
            url
        }),
        older: (rows.len() == PER_PAGE)
            .then(|| rows.last().map(|r| joined(format!("before={}", r.seq))))
            .flatten(),
        newest: filters.before.is_some().then(|| {
            if base.is_empty() {
                "/alerts".to_owned()
            } else {
                format!("/alerts?{base}")
            }
        }),
        here: match (&query, filters.before) {
            (Some(q), _) if !q.is_empty() => format!("/alerts?{q}"),
            _ => "/alerts".to_owned(),
        },
        filters,
        rows,
    };
    Ok(render(&page))
}

/// `POST /alerts/{id}/acknowledge`: then back to the list it was sent from.
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let back = local_path(form.get("back").unwrap_or("/alerts"));
    let who = viewer.principal.clone();
    state
        .blocking(move |ex| ex.acknowledge_alert(&who, &id))
        .await
        .map_err(|e| match e.status {
            StatusCode::NOT_FOUND => PageError::new(e.status, e.description),
            _ => e.into(),
        })?;
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url_and_refuse_nonsense() {
        let filters = Filters::parse(Some(
            "indicator=indicator--1&source=syslog%3Audp&retro=retro&ack=open&since=2024-05-01&until=2024-05-02&before=9&junk=1",
        ));
        assert_eq!(
            filters.query(),
            "indicator=indicator--1&source=syslog%3Audp&retro=retro&ack=open&since=2024-05-01&until=2024-05-02"
        );
        let filter = filters.to_filter(10).unwrap();
        assert_eq!(filter.retro, Some(true));
        assert_eq!(filter.acknowledged, Some(false));
        assert_eq!(filter.before, Some(9));
        assert_eq!(
            filter.observed_until,
            Some(Timestamp::parse("2024-05-03T00:00:00Z").unwrap())
        );
        for bad in ["retro=maybe", "ack=later", "since=yesterday"] {
            assert!(Filters::parse(Some(bad)).to_filter(10).is_err(), "{bad}");
        }
    }

    #[test]
    fn observables_are_summarised() {
        let objects: Vec<Value> = (0..5)
            .map(|i| serde_json::json!({"type": "ipv4-addr", "value": format!("198.51.100.{i}")}))
            .collect();
        assert_eq!(
            observables(&objects),
            "ipv4-addr 198.51.100.0, ipv4-addr 198.51.100.1, ipv4-addr 198.51.100.2, and 2 more"
        );
        assert_eq!(observables(&[serde_json::json!({"type": "x"})]), "x");
    }
}
