//! Live updates over server-sent events: the newest objects the person may read, as they are
//! indexed. Each poll reads through `Exchange::latest`, so the stream shows nothing a page
//! would not.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stix::Timestamp;

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
