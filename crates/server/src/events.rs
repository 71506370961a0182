//! Monitoring over HTTP: sensors submit events (`POST /api/events`, NDJSON), which are
//! normalised and matched against the indicators their organisation may read; alerts are
//! stored before the submission is acknowledged, listed at `/api/alerts`, streamed as
//! server-sent events at `/api/alerts/stream`, and counted at `/metrics`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use detect::sightings::{Aggregator, MAX_OBSERVABLES};
use kawal_core::model::OrgId;
use kawal_core::{Alert, AlertQuery};
use serde_json::json;
use stix::Timestamp;
use tokio::sync::broadcast;

use crate::auth::principal;
use crate::error::ApiError;
use crate::sources::format::EventFormat;
use crate::sources::pipeline::{observe_batch, Refusal, RefusedSamples, Registry};
use crate::AppState;

/// Refused events whose reasons a submission's answer quotes, at most.
const QUOTED_REFUSALS: usize = 10;
/// Alerts kept, per organisation, for streaming subscribers that fall behind.
const STREAM_BUFFER: usize = 4096;
/// How often the monitor's indicator sets catch up with writes, revocations and deletions.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);
/// The source name of events submitted over HTTP.
const HTTP_SOURCE: &str = "http";
/// Submissions of at least twice this many lines are halved between two threads.
const HALVED_FROM: usize = 256;

/// Alerts as they are stored, to whoever follows an organisation's. Each organisation's
/// alerts have a buffer of their own: a subscriber that falls behind is told how many of its
/// own organisation's alerts it missed, never a count of anyone else's, and a burst of alerts
/// for one organisation does not push another's out.
pub(crate) struct AlertStreams {
    by_org: Mutex<HashMap<OrgId, broadcast::Sender<Arc<Alert>>>>,
}

impl AlertStreams {
    fn new() -> Self {
        AlertStreams {
            by_org: Mutex::new(HashMap::new()),
        }
    }

    fn by_org(&self) -> MutexGuard<'_, HashMap<OrgId, broadcast::Sender<Arc<Alert>>>> {
        self.by_org.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, alert: Alert) {
        // No subscriber is not an error.
        if let Some(org) = self.by_org().get(&alert.org) {
            let _ = org.send(Arc::new(alert));
        }
    }

    /// One organisation's alerts.
    fn of(&self, org: OrgId) -> broadcast::Receiver<Arc<Alert>> {
        self.by_org()
            .entry(org)
            .or_insert_with(|| broadcast::channel(STREAM_BUFFER).0)
            .subscribe()
    }
}

pub struct Monitoring {
    pub monitor: detect::Monitor,
    alerts: AlertStreams,
    /// Every stored alert, counted into its sighting's window as it is broadcast: a task
    /// reading a stream could fall behind a burst and undercount.
    pub(crate) sightings: Mutex<Aggregator>,
    /// Counters of every source, HTTP first.
    pub(crate) sources: Registry,
    /// The last refused events of each organisation.
    pub(crate) refused: RefusedSamples,
}

impl Monitoring {
    pub fn new(monitor: detect::Monitor, sighting_window: Duration) -> Self {
        let sources = Registry::default();
        sources.source(HTTP_SOURCE);
        Monitoring {
            monitor,
            alerts: AlertStreams::new(),
            sightings: Mutex::new(Aggregator::new(sighting_window, MAX_OBSERVABLES)),
            sources,
            refused: RefusedSamples::default(),
        }
    }

    /// Counts a stored alert into its sighting and sends it to the streams that follow its
    /// organisation.
    pub(crate) fn broadcast(&self, alert: Alert) {
        self.sightings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(&alert, Timestamp::now());
        self.alerts.send(alert);
    }

    /// The alerts of one organisation raised from now on, whichever source's events raised
    /// them.
    pub(crate) fn subscribe(&self, org: OrgId) -> broadcast::Receiver<Arc<Alert>> {
        self.alerts.of(org)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/events", post(submit))
        .route("/api/events/refused", get(refused))
        .route("/api/alerts", get(list))
        .route("/api/alerts/stream", get(stream))
        .route("/metrics", get(metrics))
}

async fn submit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let mut format = EventFormat::Auto;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match &*name {
            "format" => {
                format = EventFormat::parse(&value, &state.config().mappings)
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
        let counters = worker.monitoring().sources.source(HTTP_SOURCE);
        let text = crate::sources::event_text(&body);
        let received = Timestamp::now();
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(number, line)| (number + 1, line))
            .collect();
        let observe = |lines: &[(usize, &str)]| {
            let events = lines.iter().map(|(_, line)| {
                format
                    .normalise(line, received)
                    .map_err(|e| Refusal::normalise(&e, line))
            });
            observe_batch(
                &worker,
                org,
                HTTP_SOURCE,
                &counters,
                events,
                QUOTED_REFUSALS,
                || {},
            )
        };
        // A large submission is halved and each half taken through on its own thread, so
        // that the two POSTs a sensor keeps in flight use both cores. Halves, rather than
        // one thread normalising for another that matches: an event's objects are freed
        // by the thread that made them, which costs less.
        let observed = if lines.len() < 2 * HALVED_FROM {
            observe(&lines)?
        } else {
            let (first, second) = lines.split_at(lines.len() / 2);
            let (first, second) = std::thread::scope(|scope| {
                let second = scope.spawn(|| observe(second));
                let first = observe(first);
                // A panic in either half aborts the request, as it would in one.
                let second = second
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (first, second)
            });
            first?.followed_by(second?, QUOTED_REFUSALS)
        };
        let refusals: Vec<_> = observed
            .refusals
            .iter()
            .map(|(index, r)| json!({"line": lines[*index].0, "reason": r.reason, "message": r.message}))
            .collect();
        Ok::<_, kawal_core::Error>(json!({
            "received": observed.received,
            "normalised": observed.normalised,
            "refused": observed.received - observed.normalised,
            "refusals": refusals,
            "alerts": observed.alerts,
        }))
    })
    .await
    .map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the request was aborted: {e}"))
            .rest()
    })?
    .map_err(|e| ApiError::from(e).rest())?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The caller's organisation's refused events: per reason, how many since the server
/// started and the last few.
async fn refused(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let org = state
        .blocking(move |ex| ex.refusal_reader(&who))
        .await
        .map_err(ApiError::rest)?;
    let reasons: Vec<_> = state
        .monitoring()
        .refused
        .of(org)
        .into_iter()
        .map(|(reason, count, samples)| json!({"reason": reason, "count": count, "samples": samples}))
        .collect();
    Ok(Json(json!({ "refused": reasons })).into_response())
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
    let receiver = state.monitoring().subscribe(org);
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

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(state): State<AppState>) -> Response {
    let sources = state.monitoring().sources.all();
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, u64)>| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in rows {
            text.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    };
    let per_source = |read: &dyn Fn(&crate::sources::pipeline::SourceCounters) -> u64| {
        sources
            .iter()
            .map(|(name, c)| (format!("source=\"{}\"", label(name)), read(c)))
            .collect::<Vec<_>>()
    };
    let by_reason =
        |read: &dyn Fn(&crate::sources::pipeline::SourceCounters) -> Vec<(&'static str, u64)>| {
            sources
                .iter()
                .flat_map(|(name, c)| {
                    read(c).into_iter().map(move |(reason, n)| {
                        (format!("source=\"{}\",reason=\"{reason}\"", label(name)), n)
                    })
                })
                .collect::<Vec<_>>()
        };
    family(
        "kawal_events_received_total",
        "counter",
        "Events received from sensors, by source.",
        per_source(&|c| c.received.load(Ordering::Relaxed)),
    );
    family(
        "kawal_events_normalised_total",
        "counter",
        "Events normalised to cyber-observables and matched.",
        per_source(&|c| c.normalised.load(Ordering::Relaxed)),
    );
    family(
        "kawal_events_matched_total",
        "counter",
        "Events that matched at least one indicator.",
        per_source(&|c| c.matched.load(Ordering::Relaxed)),
    );
    family(
        "kawal_alerts_total",
        "counter",
        "Alerts raised.",
        per_source(&|c| c.alerts.load(Ordering::Relaxed)),
    );
    family(
        "kawal_events_refused_total",
        "counter",
        "Events refused, by reason; the last of each are at /api/events/refused.",
        by_reason(&|c| {
            let refused = c.refused.lock().unwrap_or_else(PoisonError::into_inner);
            refused.iter().map(|(r, n)| (*r, *n)).collect()
        }),
    );
    family(
        "kawal_events_dropped_total",
        "counter",
        "Events received but never matched: a full queue for a source that cannot push back (UDP), or a storage failure.",
        by_reason(&|c| {
            let dropped = c.dropped.lock().unwrap_or_else(PoisonError::into_inner);
            dropped.iter().map(|(r, n)| (*r, *n)).collect()
        }),
    );
    family(
        "kawal_events_queued",
        "gauge",
        "Events waiting between a source and matching.",
        per_source(&|c| c.queued.load(Ordering::Relaxed)),
    );
    let hooks: Vec<_> = state.hook_counters().all().collect();
    family(
        "kawal_webhook_deliveries_total",
        "counter",
        "Webhook deliveries by outcome: delivered; given_up after every attempt failed; missed, dropped from the stream while the hook was behind (of every organisation, not only the hook's). Hooks are named by kind (alerts, cases) and position in the configuration.",
        hooks
            .iter()
            .flat_map(|(kind, hook, d)| {
                [
                    ("delivered", &d.delivered),
                    ("given_up", &d.given_up),
                    ("missed", &d.missed),
                ]
                .map(|(outcome, n)| {
                    (
                        format!("kind=\"{kind}\",hook=\"{hook}\",outcome=\"{outcome}\""),
                        n.load(Ordering::Relaxed),
                    )
                })
            })
            .collect(),
    );
    family(
        "kawal_webhook_retries_total",
        "counter",
        "Webhook delivery attempts after a failed one.",
        hooks
            .iter()
            .map(|(kind, hook, d)| {
                (
                    format!("kind=\"{kind}\",hook=\"{hook}\""),
                    d.retried.load(Ordering::Relaxed),
                )
            })
            .collect(),
    );
    if let Some(archive) = state.archive() {
        text.push_str(&format!(
            "# HELP kawal_events_archive_failures_total Events matched but not archived (the error is logged).\n# TYPE kawal_events_archive_failures_total counter\nkawal_events_archive_failures_total {}\n",
            archive.failures.load(Ordering::Relaxed)
        ));
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::TryRecvError;

    fn alert(org: OrgId, n: usize) -> Alert {
        Alert {
            id: format!("{org}-{n}"),
            org,
            observed: Timestamp::now(),
            raised: Timestamp::now(),
            indicator: "indicator--00000000-0000-4000-8000-000000000001".to_owned(),
            indicator_name: None,
            collection: "c".to_owned(),
            source: "test".to_owned(),
            retro: false,
            objects: Vec::new(),
            fields: Default::default(),
        }
    }

    #[test]
    fn a_subscriber_that_falls_behind_learns_only_of_its_own_organisations_alerts() {
        let streams = AlertStreams::new();
        let mut quiet = streams.of(1);
        let mut busy = streams.of(2);
        streams.send(alert(1, 0));
        for n in 0..STREAM_BUFFER + 10 {
            streams.send(alert(2, n));
        }
        streams.send(alert(1, 1));

        // A burst of another organisation's alerts pushes none of this one's out.
        assert_eq!(quiet.try_recv().unwrap().id, "1-0");
        assert_eq!(quiet.try_recv().unwrap().id, "1-1");
        assert!(matches!(quiet.try_recv(), Err(TryRecvError::Empty)));
        // The busy organisation's subscriber is told how many of its own it missed.
        assert!(matches!(busy.try_recv(), Err(TryRecvError::Lagged(10))));
        let mut rest = 0;
        while let Ok(a) = busy.try_recv() {
            assert_eq!(a.org, 2);
            rest += 1;
        }
        assert_eq!(rest, STREAM_BUFFER);
        // An organisation nobody follows gets no buffer.
        streams.send(alert(3, 0));
        assert!(!streams.by_org().contains_key(&3));
    }
}
