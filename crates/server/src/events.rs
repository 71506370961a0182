//! Monitoring over HTTP: sensors submit events (`POST /api/events`, NDJSON), which are
//! normalised and matched against the indicators their organisation may read; alerts are
//! stored before the submission is acknowledged, listed at `/api/alerts`, streamed as
//! server-sent events at `/api/alerts/stream`, and counted at `/metrics`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use detect::normalise::{suricata, zeek, NormaliseError, Normalised, ZeekLog};
use kawal_core::{Alert, AlertQuery};
use serde_json::json;
use stix::Timestamp;
use tokio::sync::broadcast;

use crate::auth::principal;
use crate::error::ApiError;
use crate::AppState;

/// Refused events whose reasons a submission's answer quotes, at most.
const QUOTED_REFUSALS: usize = 10;
/// Alerts kept for streaming subscribers that fall behind.
const STREAM_BUFFER: usize = 4096;
/// How often the monitor's indicator sets catch up with writes, revocations and deletions.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

pub struct Monitoring {
    pub monitor: detect::Monitor,
    alerts: broadcast::Sender<Arc<Alert>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    normalised: AtomicU64,
    matched: AtomicU64,
    alerts: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl Monitoring {
    pub fn new(monitor: detect::Monitor) -> Self {
        Monitoring {
            monitor,
            alerts: broadcast::channel(STREAM_BUFFER).0,
            counters: Counters::default(),
        }
    }

    /// Every alert raised from now on, whichever source's events raised it.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.alerts.subscribe()
    }

    fn refused(&self, reason: &'static str) {
        *self
            .counters
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", post(submit))
        .route("/api/alerts", get(list))
        .route("/api/alerts/stream", get(stream))
        .route("/metrics", get(metrics))
}

/// How the lines of a submission are read.
#[derive(Clone, Copy)]
enum Format {
    /// Suricata EVE when the line has `event_type`, Zeek JSON when it has `_path`.
    Auto,
    Suricata,
    Zeek(ZeekLog),
}

fn parse_format(text: &str) -> Result<Format, String> {
    match text {
        "auto" => Ok(Format::Auto),
        "suricata" => Ok(Format::Suricata),
        other => other
            .strip_prefix("zeek.")
            .and_then(ZeekLog::from_path)
            .map(Format::Zeek)
            .ok_or_else(|| {
                format!("`{other}` is not a format: use auto, suricata or zeek.<conn|dns|http|ssl|files|x509>")
            }),
    }
}

fn normalise(format: Format, line: &str) -> Result<Normalised, NormaliseError> {
    match format {
        Format::Suricata => suricata::eve_line(line),
        Format::Zeek(log) => zeek::json_line(line, Some(log)),
        Format::Auto if line.contains("\"event_type\"") => suricata::eve_line(line),
        Format::Auto if line.contains("\"_path\"") => zeek::json_line(line, None),
        // Not a JSON object at all: the JSON reader says where it breaks.
        Format::Auto if !line.trim_start().starts_with('{') => suricata::eve_line(line),
        Format::Auto => Err(NormaliseError::Unsupported(
            "this line: it is neither Suricata EVE (`event_type`) nor Zeek JSON (`_path`); name the format with ?format="
                .to_owned(),
        )),
    }
}

async fn submit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let mut format = Format::Auto;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match &*name {
            "format" => {
                format = parse_format(&value)
                    .map_err(|e| ApiError::bad_request(format!("format: {e}")).rest())?
            }
            _ => {
                return Err(ApiError::bad_request(format!("unknown URL parameter `{name}`")).rest())
            }
        }
    }
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    let org = state
        .blocking(move |ex| ex.event_owner(&who))
        .await
        .map_err(ApiError::rest)?;
    let worker = state.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let monitoring = worker.monitoring();
        let text = String::from_utf8_lossy(&body);
        let (mut received, mut normalised) = (0u64, 0u64);
        let mut refusals = Vec::new();
        let mut alerts = Vec::new();
        let mut matched = 0u64;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            received += 1;
            match normalise(format, line) {
                Ok(event) => {
                    normalised += 1;
                    let raised = monitoring
                        .monitor
                        .observe(org, "http", &event.into_observation())?;
                    matched += u64::from(!raised.is_empty());
                    alerts.extend(raised);
                }
                Err(e) => {
                    monitoring.refused(e.reason());
                    if refusals.len() < QUOTED_REFUSALS {
                        refusals.push(json!({"line": number + 1, "reason": e.reason(), "message": e.to_string()}));
                    }
                }
            }
        }
        // Stored before the answer: an acknowledged submission's alerts survive a crash.
        worker.exchange().record_alerts(&alerts)?;
        let c = &monitoring.counters;
        c.received.fetch_add(received, Ordering::Relaxed);
        c.normalised.fetch_add(normalised, Ordering::Relaxed);
        c.matched.fetch_add(matched, Ordering::Relaxed);
        c.alerts.fetch_add(alerts.len() as u64, Ordering::Relaxed);
        let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
        let answer = json!({
            "received": received,
            "normalised": normalised,
            "refused": received - normalised,
            "refusals": refusals,
            "alerts": ids,
        });
        for alert in alerts {
            // No subscriber is not an error.
            let _ = monitoring.alerts.send(Arc::new(alert));
        }
        Ok::<_, kawal_core::Error>(answer)
    })
    .await
    .map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the request was aborted: {e}"))
            .rest()
    })?
    .map_err(|e| ApiError::from(e).rest())?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

fn alert_json(seq: Option<i64>, alert: &Alert) -> serde_json::Value {
    let mut value = json!(alert);
    if let (Some(seq), Some(map)) = (seq, value.as_object_mut()) {
        map.insert("seq".to_owned(), json!(seq));
    }
    value
}

async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let mut q = AlertQuery {
        limit: 100,
        ..AlertQuery::default()
    };
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let bad = |why: String| ApiError::bad_request(format!("{name}: {why}")).rest();
        let time = |v: &str| Timestamp::parse(v).map_err(|e| bad(e.to_string()));
        match &*name {
            "after" => {
                q.after = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not an alert position")))?,
                )
            }
            "indicator" => q.indicator = Some(value.into_owned()),
            "since" => q.observed_since = Some(time(&value)?),
            "until" => q.observed_until = Some(time(&value)?),
            "retro" => {
                q.retro = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not true or false")))?,
                )
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad(format!("`{value}` is not between 1 and 1000")))?
            }
            _ => {
                return Err(ApiError::bad_request(format!("unknown URL parameter `{name}`")).rest())
            }
        }
    }
    let alerts = state
        .blocking(move |ex| ex.alerts(&who, q))
        .await
        .map_err(ApiError::rest)?;
    let next = alerts.last().map(|(seq, _)| *seq);
    let alerts: Vec<_> = alerts
        .iter()
        .map(|(seq, a)| alert_json(Some(*seq), a))
        .collect();
    Ok(Json(json!({ "alerts": alerts, "next": next })).into_response())
}

async fn stream(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let org = state
        .blocking(move |ex| ex.alert_reader(&who))
        .await
        .map_err(ApiError::rest)?;
    let receiver = state.monitoring().subscribe();
    let events = futures_util::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(alert) if alert.org == org => {
                    let event = Event::default()
                        .event("alert")
                        .id(alert.id.clone())
                        .json_data(alert_json(None, &alert))
                        .unwrap_or_else(|_| Event::default().comment("unencodable alert"));
                    return Some((Ok::<_, Infallible>(event), receiver));
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Say so, and point the client at the list to catch up.
                    let event = Event::default().event("lagged").data(format!(
                        "{missed} alerts were not streamed; read them from /api/alerts"
                    ));
                    return Some((Ok(event), receiver));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn metrics(State(state): State<AppState>) -> Response {
    let monitoring = state.monitoring();
    let c = &monitoring.counters;
    let mut text = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        ));
    };
    counter(
        "kawal_events_received_total",
        "Events submitted by sensors.",
        c.received.load(Ordering::Relaxed),
    );
    counter(
        "kawal_events_normalised_total",
        "Events normalised to cyber-observables and matched.",
        c.normalised.load(Ordering::Relaxed),
    );
    counter(
        "kawal_events_matched_total",
        "Events that matched at least one indicator.",
        c.matched.load(Ordering::Relaxed),
    );
    counter(
        "kawal_alerts_total",
        "Alerts raised.",
        c.alerts.load(Ordering::Relaxed),
    );
    text.push_str("# HELP kawal_events_refused_total Events refused, by reason.\n# TYPE kawal_events_refused_total counter\n");
    for (reason, n) in c
        .refused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        text.push_str(&format!(
            "kawal_events_refused_total{{reason=\"{reason}\"}} {n}\n"
        ));
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
