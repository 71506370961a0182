//! Sightings shared back: every alert is counted into its window (`detect::sightings`); when a
//! window closes — on a timer, and at shutdown — its sighting is added to the indicator's
//! collection as the sensors' organisation, through `Exchange::add_objects` like any write,
//! unless that organisation withholds its sightings from the collection
//! (`PUT /api/collections/{collection}/sightings`).

use std::sync::PoisonError;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use detect::sightings::Window;
use kawal_core::{Exchange, Principal, Status};
use serde::Deserialize;
use serde_json::json;
use stix::Timestamp;
use tokio::sync::watch;

use crate::auth::principal;
use crate::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/collections/{collection}/sightings", put(set_sharing))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sharing {
    share: bool,
}

/// Whether the caller's organisation shares its monitoring's sightings into the collection.
async fn set_sharing(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    let sharing: Sharing = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")).rest())?;
    let share = sharing.share;
    let answer = json!({ "collection": collection, "share": share });
    state
        .blocking(move |ex| ex.set_sighting_sharing(&who, &collection, share))
        .await
        .map_err(ApiError::rest)?;
    Ok(Json(answer).into_response())
}

/// Shares each window of `window` that closed, until `stop` turns true; then shares every
/// open window. The windows count alerts as they are stored (`Monitoring::broadcast`).
pub(crate) async fn share_back(state: AppState, window: Duration, mut stop: watch::Receiver<bool>) {
    let windows = || {
        state
            .monitoring()
            .sightings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    };
    let mut tick = tokio::time::interval(
        (window / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)),
    );
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let closed = windows().close_due(Timestamp::now());
                share_all(&state, closed).await;
            }
            _ = stop.changed() => break,
        }
    }
    let open = windows().close_all();
    share_all(&state, open).await;
}

async fn share_all(state: &AppState, windows: Vec<Window>) {
    if windows.is_empty() {
        return;
    }
    let state = state.clone();
    let shared = tokio::task::spawn_blocking(move || {
        for window in windows {
            let key = &window.key;
            match share(state.exchange(), &window) {
                Ok(Some(status)) if status.failure_count == 0 => tracing::debug!(
                    org = key.org,
                    indicator = %key.indicator,
                    count = window.count,
                    "sighting shared"
                ),
                Ok(Some(status)) => tracing::warn!(
                    org = key.org,
                    indicator = %key.indicator,
                    failures = ?status.failures,
                    "a sighting was only partly stored"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    org = key.org,
                    indicator = %key.indicator,
                    error = %e,
                    "a sighting could not be shared"
                ),
            }
        }
    })
    .await;
    if let Err(e) = shared {
        tracing::warn!(error = %e, "sharing sightings stopped");
    }
}

/// Shares one window's sighting; `None` when its organisation withholds sightings from the
/// collection or may no longer read the indicator.
fn share(exchange: &Exchange, window: &Window) -> kawal_core::exchange::Result<Option<Status>> {
    let key = &window.key;
    let Some(target) = exchange.sighting_target(key.org, &key.collection, &key.indicator)? else {
        return Ok(None);
    };
    let envelope = window.envelope(&target.identity, target.tlp, Timestamp::now());
    exchange
        .add_objects(
            &Principal::Monitoring { org: key.org },
            &key.collection,
            &envelope,
            &target.recipients,
        )
        .map(Some)
}
