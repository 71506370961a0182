//! Live updates over server-sent events: the newest objects the person may read, as they are
//! indexed, and the newest alerts of their organisation. Each poll reads through
//! `Exchange::latest` or `Exchange::latest_alerts`, so the streams show nothing a page would
//! not.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stix::Timestamp;

use super::alerts::{self, Filters};
use super::session::Viewer;
use super::{object_href, PageError};
use crate::AppState;

const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
pub(crate) struct After {
    after: Option<i64>,
}

pub(crate) async fn latest(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(after): Query<After>,
) -> Result<Response, PageError> {
    // A reconnecting browser says where it stopped.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let cursor = resumed.or(after.after).map(Timestamp::from_micros);
    let who = viewer.principal;
    let stream = futures_util::stream::unfold(
        (state, who, cursor, Vec::<Event>::new()),
        |(state, who, mut cursor, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop() {
                    return Some((
                        Ok::<Event, Infallible>(event),
                        (state, who, cursor, pending),
                    ));
                }
                tokio::time::sleep(POLL_EVERY).await;
                let (asker, since) = (who.clone(), cursor);
                let found = state
                    .blocking(move |ex| ex.latest(&asker, since, 20))
                    .await
                    .ok()?;
                if let Some(newest) = found.first() {
                    cursor = Some(newest.date_added);
                }
                // Sent oldest first, so the list ends with the newest on top.
                pending = found
                    .iter()
                    .map(|hit| {
                        let data = serde_json::json!({
                            "id": hit.id,
                            "href": object_href(&hit.id, &hit.collection),
                            "name": hit.name,
                            "type": hit.type_name,
                            "collection": hit.collection_title,
                            "tlp": hit.tlp.as_str(),
                        });
                        Event::default()
                            .event("object")
                            .id(hit.date_added.as_micros().to_string())
                            .data(data.to_string())
                    })
                    .collect();
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Alerts are looked for when monitoring announces one, and at least this often.
const ALERTS_AT_LEAST_EVERY: Duration = Duration::from_secs(2);

/// `GET /live/alerts?after=SEQ&…filters`: the organisation's alerts stored after `after`
/// that match the alerts page's filters, oldest first, each as an `alert` event whose id is
/// its position (so a reconnecting browser resumes where it stopped).
pub(crate) async fn alerts(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let filters = Filters::parse(query.as_deref());
    let mut filter = filters
        .to_filter(50)
        .map_err(|e| PageError::new(axum::http::StatusCode::BAD_REQUEST, e))?;
    let after = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "after")
            .and_then(|(_, v)| v.parse::<i64>().ok())
    });
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    filter.before = None;
    filter.oldest_first = true;
    filter.after = resumed.or(after).or(Some(0));
    let who = viewer.principal;
    // Refused at once for a role that reads no alerts, rather than as an empty stream.
    let (asker, org) = (who.clone(), state.clone());
    let (reader, titles) = org
        .blocking(move |ex| {
            let reader = ex.alert_reader(&asker)?;
            Ok((reader, alerts::titles(&ex.visible_collections(&asker)?)))
        })
        .await?;
    let wake = state.monitoring().subscribe(reader);
    let stream = futures_util::stream::unfold(
        (state, who, filter, wake, Vec::<Event>::new(), true),
        // `at_once`: look again without waiting (at the start, and while a burst is read).
        move |(state, who, mut filter, mut wake, mut pending, mut at_once)| {
            let titles = titles.clone();
            async move {
                loop {
                    if let Some(event) = pending.pop() {
                        return Some((
                            Ok::<Event, Infallible>(event),
                            (state, who, filter, wake, pending, at_once),
                        ));
                    }
                    if !at_once {
                        tokio::select! {
                            _ = wake.recv() => {}
                            _ = tokio::time::sleep(ALERTS_AT_LEAST_EVERY) => {}
                        }
                    }
                    let (asker, wanted) = (who.clone(), filter.clone());
                    let found = state
                        .blocking(move |ex| ex.latest_alerts(&asker, wanted))
                        .await
                        .ok()?;
                    if let Some(newest) = found.last() {
                        filter.after = Some(newest.seq);
                    }
                    at_once = found.len() >= filter.limit;
                    // Oldest first from the store; popped from the end, so reversed first.
                    pending = found
                        .iter()
                        .rev()
                        .map(|listed| {
                            let row = alerts::row(listed, &titles);
                            Event::default()
                                .event("alert")
                                .id(row.seq.to_string())
                                .json_data(&row)
                                .unwrap_or_else(|_| Event::default().comment("unencodable alert"))
                        })
                        .collect();
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
