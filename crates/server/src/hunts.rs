//! Hunting through the event archive. Retro-hunts: indicators new to an organisation's set are
//! run over its archived events of the last `retro_hunt` days, one hunt at a time beside live
//! matching, and their hits become alerts marked `retro`. Ad-hoc hunts: an analyst's pattern
//! over its organisation's events, started with `POST /api/hunts`, followed with
//! `GET /api/hunts/{id}`, cancelled with `DELETE /api/hunts/{id}`.
//!
//! A retro-hunt covers only events observed before the indicators entered the set (events
//! after that were matched against them live), and skips any event that already has an alert
//! from the same indicator: an event whose sensor time is older than its arrival was matched
//! live too, and a set that lost an indicator and regained it must not alert twice.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use detect::hunt::when::parse_instant;
use detect::{Arrivals, HuntError, HuntHit, HuntSink, HuntSummary, Hunter, Progress, Scope};
use kawal_core::{Alert, OrgId};
use serde::Deserialize;
use serde_json::{json, Value};
use stix::Timestamp;
use tokio::sync::mpsc;

use crate::auth::principal;
use crate::error::ApiError;
use crate::AppState;

/// Events matched just before an indicator arrived may still be on their way to the archive
/// (their alerts are stored first); a retro-hunt waits this long after the arrival.
const RETRO_GRACE: Duration = Duration::from_secs(1);
/// Retro-hunt alerts stored per transaction.
const RETRO_BATCH: usize = 512;
/// Hits an ad-hoc hunt keeps to show; it counts them all.
const KEPT_HITS: usize = 1_000;
/// Ad-hoc hunts running at once, over every organisation: each takes a core.
const MAX_RUNNING: usize = 4;
/// Finished hunts kept for their results, over every organisation; the oldest go first.
const MAX_KEPT: usize = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the retro-hunts of indicators as they arrive, one at a time.
pub(crate) async fn retro_hunts(state: AppState, mut arrivals: mpsc::UnboundedReceiver<Arrivals>) {
    while let Some(arrived) = arrivals.recv().await {
        let since_arrival = Timestamp::now()
            .as_micros()
            .saturating_sub(arrived.at.as_micros());
        let waited = Duration::from_micros(u64::try_from(since_arrival).unwrap_or(0));
        if let Some(wait) = RETRO_GRACE.checked_sub(waited) {
            tokio::time::sleep(wait).await;
        }
        let worker = state.clone();
        let (org, count) = (arrived.org, arrived.indicators.len());
        match tokio::task::spawn_blocking(move || retro_hunt(&worker, arrived)).await {
            Ok(Ok(raised)) => tracing::info!(
                org,
                indicators = count,
                alerts = raised,
                "retro-hunt for new indicators done"
            ),
            Ok(Err(e)) => tracing::warn!(org, error = %e, "retro-hunt failed"),
            Err(e) => tracing::error!(error = %e, "the retro-hunt task stopped"),
        }
    }
}

/// Hunts for the arrived indicators in their organisation's archived events; stores and
/// broadcasts the alerts; returns how many were raised.
fn retro_hunt(state: &AppState, arrived: Arrivals) -> Result<usize, String> {
    let Some(archive) = state.archive() else {
        return Ok(0);
    };
    let org = arrived.org;
    let mut hunter = Hunter::new();
    let mut hunted = Vec::new();
    for indicator in arrived.indicators {
        // The set took these patterns, so the hunter does too; an indicator refused anyway is
        // left out rather than failing the others.
        match hunter.add_indicator(
            &indicator.info.id,
            &indicator.pattern,
            indicator.valid_from,
            indicator.valid_until,
        ) {
            Ok(_) => hunted.push(indicator),
            Err(e) => {
                tracing::warn!(indicator = %indicator.info.id, error = %e, "not retro-hunted")
            }
        }
    }
    let window = i64::try_from(archive.retro_hunt.as_micros()).unwrap_or(i64::MAX);
    let scope = Scope {
        owner: org,
        since: Timestamp::from_micros(arrived.at.as_micros().saturating_sub(window)),
        until: arrived.at,
    };
    let snapshot = archive.snapshot();
    let mut pending: Vec<Alert> = Vec::new();
    let mut raised = 0;
    let mut failure: Option<String> = None;
    let store = |alerts: &mut Vec<Alert>| -> Result<(), String> {
        state
            .exchange()
            .record_alerts(alerts)
            .map_err(|e| e.to_string())?;
        for alert in alerts.drain(..) {
            state.monitoring().broadcast(alert);
        }
        Ok(())
    };
    let mut sink = |hit: HuntHit| {
        let Some(indicator) = hunted.get(hit.pattern) else {
            return ControlFlow::Continue(());
        };
        let existing = match state
            .exchange()
            .alerts_on_event(org, &indicator.info.id, hit.at)
        {
            Ok(existing) => existing,
            Err(e) => {
                failure = Some(e.to_string());
                return ControlFlow::Break(());
            }
        };
        if existing
            .iter()
            .any(|a| a.source == hit.source && a.objects == hit.objects)
        {
            return ControlFlow::Continue(());
        }
        pending.push(indicator.retro_alert(org, &hit));
        raised += 1;
        if pending.len() >= RETRO_BATCH {
            if let Err(e) = store(&mut pending) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    };
    let summary = hunter
        .run(&snapshot, &scope, &mut sink)
        .map_err(|e| e.to_string())?;
    if let Some(e) = failure {
        return Err(e);
    }
    store(&mut pending)?;
    for damage in &summary.damaged {
        tracing::warn!(path = %damage.path.display(), reason = %damage.reason, "retro-hunt skipped a damaged part of the archive");
    }
    Ok(raised)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

struct JobState {
    status: Status,
    /// 0 to 100.
    progress: f64,
    hits: Vec<Value>,
    hits_total: u64,
    summary: Option<Value>,
    error: Option<String>,
}

/// One ad-hoc hunt, for one organisation.
pub(crate) struct Job {
    pub id: String,
    pub org: OrgId,
    pub pattern: String,
    pub since: Timestamp,
    pub until: Timestamp,
    cancelled: AtomicBool,
    state: Mutex<JobState>,
}

impl Job {
    pub fn status(&self) -> Status {
        lock(&self.state).status
    }

    /// Asks the hunt to stop; it does at its next block.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        let mut state = lock(&self.state);
        if state.status == Status::Running {
            state.status = Status::Cancelled;
        }
    }

    fn hit(&self, hit: HuntHit) -> ControlFlow<()> {
        let mut state = lock(&self.state);
        state.hits_total += 1;
        if state.hits.len() < KEPT_HITS {
            state.hits.push(json!({
                "at": hit.at,
                "source": hit.source,
                "objects": hit.objects,
                "events": hit.events.len(),
            }));
        }
        self.flow()
    }

    fn progress(&self, progress: &Progress) -> ControlFlow<()> {
        lock(&self.state).progress = progress.fraction() * 100.0;
        self.flow()
    }

    fn flow(&self) -> ControlFlow<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Records how the hunt ended; a hunt cancelled meanwhile stays cancelled.
    pub fn finish(&self, outcome: Result<HuntSummary, String>) {
        let mut state = lock(&self.state);
        match outcome {
            Ok(summary) => {
                if summary.cancelled {
                    state.status = Status::Cancelled;
                } else if state.status == Status::Running {
                    state.status = Status::Done;
                    state.progress = 100.0;
                }
                state.summary = Some(json!({
                    "segments": summary.progress.segments_total,
                    "segments_skipped": summary.segments_skipped,
                    "blocks_read": summary.blocks_read,
                    "blocks_skipped": summary.blocks_skipped,
                    "events_in_scope": summary.events_in_scope,
                    "events_matched": summary.events_matched,
                    "hits": summary.hits,
                    "damaged": summary.damaged.len(),
                }));
            }
            Err(e) => {
                state.status = Status::Failed;
                state.error = Some(e);
            }
        }
    }

    pub fn view(&self) -> Value {
        let state = lock(&self.state);
        json!({
            "id": self.id,
            "status": state.status.name(),
            "progress": state.progress,
            "pattern": self.pattern,
            "since": self.since,
            "until": self.until,
            "hits": state.hits,
            "hits_total": state.hits_total,
            "hits_truncated": state.hits_total > state.hits.len() as u64,
            "summary": state.summary,
            "error": state.error,
        })
    }
}

/// Sends a hunt's findings to its job.
struct JobSink<'a>(&'a Job);

impl HuntSink for JobSink<'_> {
    fn hit(&mut self, hit: HuntHit) -> ControlFlow<()> {
        self.0.hit(hit)
    }

    fn progress(&mut self, progress: &Progress) -> ControlFlow<()> {
        self.0.progress(progress)
    }
}

/// Every organisation's ad-hoc hunts, oldest first.
#[derive(Default)]
pub(crate) struct Hunts {
    jobs: Mutex<VecDeque<Arc<Job>>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Busy;

impl Hunts {
    /// Registers a running hunt; `Busy` when too many are running already.
    pub fn start(
        &self,
        org: OrgId,
        pattern: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Arc<Job>, Busy> {
        let mut jobs = lock(&self.jobs);
        if jobs
            .iter()
            .filter(|j| j.status() == Status::Running)
            .count()
            >= MAX_RUNNING
        {
            return Err(Busy);
        }
        while jobs.len() >= MAX_KEPT {
            match jobs.iter().position(|j| j.status() != Status::Running) {
                Some(oldest_finished) => {
                    jobs.remove(oldest_finished);
                }
                None => break,
            }
        }
        let job = Arc::new(Job {
            id: uuid::Uuid::new_v4().to_string(),
            org,
            pattern: pattern.to_owned(),
            since,
            until,
            cancelled: AtomicBool::new(false),
            state: Mutex::new(JobState {
                status: Status::Running,
                progress: 0.0,
                hits: Vec::new(),
                hits_total: 0,
                summary: None,
                error: None,
            }),
        });
        jobs.push_back(job.clone());
        Ok(job)
    }

    /// The organisation's hunt of that id; another organisation's is not found.
    pub fn get(&self, org: OrgId, id: &str) -> Option<Arc<Job>> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id == id && j.org == org)
            .cloned()
    }

    /// Cancels the organisation's hunt if it is running, or forgets it if it is finished;
    /// returns how it stood.
    pub fn cancel(&self, org: OrgId, id: &str) -> Option<Value> {
        let mut jobs = lock(&self.jobs);
        let at = jobs.iter().position(|j| j.id == id && j.org == org)?;
        let job = jobs[at].clone();
        if job.status() == Status::Running {
            job.cancel();
        } else {
            jobs.remove(at);
        }
        Some(job.view())
    }

    pub fn cancel_all(&self) {
        for job in lock(&self.jobs).iter() {
            job.cancel();
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/hunts", post(start))
        .route("/api/hunts/{id}", get(show).delete(cancel))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HuntRequest {
    pattern: String,
    /// An RFC 3339 instant or an age (`7d`); seven days when omitted.
    since: Option<String>,
    /// An RFC 3339 instant or an age; now when omitted.
    until: Option<String>,
}

/// Why a pattern cannot be hunted, with the parser's diagnostic drawn under the pattern.
fn pattern_refusal(pattern: &str, error: &HuntError) -> String {
    match error {
        HuntError::Pattern { source, .. } => match source.as_ref() {
            matcher::PatternError::Syntax(diagnostic) => diagnostic.render(pattern),
            other => other.to_string(),
        },
        HuntError::Indicator { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

async fn hunt_owner(state: &AppState, headers: &HeaderMap) -> Result<OrgId, ApiError> {
    let who = principal(state, headers).await.map_err(ApiError::rest)?;
    state
        .blocking(move |ex| ex.hunt_owner(&who))
        .await
        .map_err(ApiError::rest)
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let org = hunt_owner(&state, &headers).await?;
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    let request: HuntRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")).rest())?;
    let now = Timestamp::now();
    let bound = |name: &str, text: Option<&str>, default: Timestamp| match text {
        Some(text) => parse_instant(text, now)
            .map_err(|e| ApiError::bad_request(format!("{name}: {e}")).rest()),
        None => Ok(default),
    };
    let since = bound(
        "since",
        request.since.as_deref(),
        Timestamp::from_micros(now.as_micros().saturating_sub(7 * 86_400 * 1_000_000)),
    )?;
    // Exclusive: an event of this very microsecond is included when `until` is omitted.
    let until = bound(
        "until",
        request.until.as_deref(),
        Timestamp::from_micros(now.as_micros().saturating_add(1)),
    )?;
    if since >= until {
        return Err(ApiError::bad_request(format!(
            "since ({since}) must be before until ({until})"
        ))
        .rest());
    }
    let mut hunter = Hunter::new();
    hunter.add_pattern(&request.pattern).map_err(|e| {
        ApiError::bad_request(format!(
            "pattern: {}",
            pattern_refusal(&request.pattern, &e)
        ))
        .rest()
    })?;
    if state.archive().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server keeps no event archive to hunt through",
        )
        .rest());
    }
    let job = state
        .hunts()
        .start(org, &request.pattern, since, until)
        .map_err(|Busy| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_RUNNING} hunts are running already; try again when one is done"),
            )
            .rest()
        })?;
    let (worker, running) = (state.clone(), job.clone());
    tokio::task::spawn_blocking(move || {
        let outcome = match worker.archive() {
            Some(archive) => {
                let scope = Scope {
                    owner: running.org,
                    since: running.since,
                    until: running.until,
                };
                hunter
                    .run(&archive.snapshot(), &scope, &mut JobSink(&running))
                    .map_err(|e| e.to_string())
            }
            None => Err("this server keeps no event archive".to_owned()),
        };
        running.finish(outcome);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": job.id, "status": "running", "progress": 0.0})),
    )
        .into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no hunt `{id}` of your organisation")).rest()
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let org = hunt_owner(&state, &headers).await?;
    let job = state.hunts().get(org, &id).ok_or_else(|| not_found(&id))?;
    Ok(Json(job.view()).into_response())
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let org = hunt_owner(&state, &headers).await?;
    let view = state
        .hunts()
        .cancel(org, &id)
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn start(hunts: &Hunts, org: OrgId) -> Result<Arc<Job>, Busy> {
        hunts.start(
            org,
            "[domain-name:value = 'x.example']",
            day("2026-11-01T00:00:00Z"),
            day("2026-11-02T00:00:00Z"),
        )
    }

    #[test]
    fn a_hunt_is_found_by_its_organisation_only() {
        let hunts = Hunts::default();
        let job = start(&hunts, 1).unwrap();
        assert!(hunts.get(1, &job.id).is_some());
        assert!(hunts.get(2, &job.id).is_none());
        assert!(hunts.get(1, "no-such-hunt").is_none());
    }

    #[test]
    fn a_cancelled_hunt_stays_cancelled_and_stops_at_its_next_step() {
        let hunts = Hunts::default();
        let job = start(&hunts, 1).unwrap();
        assert_eq!(
            job.progress(&Progress::default()),
            ControlFlow::Continue(())
        );
        job.cancel();
        assert_eq!(job.status(), Status::Cancelled);
        assert_eq!(job.progress(&Progress::default()), ControlFlow::Break(()));
        job.finish(Ok(HuntSummary::default()));
        assert_eq!(job.view()["status"], "cancelled");
    }

    #[test]
    fn deleting_cancels_a_running_hunt_and_forgets_a_finished_one() {
        let hunts = Hunts::default();
        let running = start(&hunts, 1).unwrap();
        assert!(hunts.cancel(2, &running.id).is_none());
        assert_eq!(hunts.cancel(1, &running.id).unwrap()["status"], "cancelled");
        // Still there, to be read once more; a second delete forgets it.
        assert!(hunts.get(1, &running.id).is_some());
        assert_eq!(hunts.cancel(1, &running.id).unwrap()["status"], "cancelled");
        assert!(hunts.get(1, &running.id).is_none());
    }

    #[test]
    fn a_cancelled_job_stops_a_real_hunt() {
        let dir = tempfile::tempdir().unwrap();
        let archive = detect::Archive::open(dir.path(), detect::ArchiveConfig::default()).unwrap();
        let now = Timestamp::now();
        for n in 0..100 {
            archive
                .append(&detect::ArchivedEvent {
                    at: now,
                    owner: 1,
                    source: "http".to_owned(),
                    objects: vec![json!({"type": "domain-name", "value": format!("{n}.example")})],
                })
                .unwrap();
        }
        archive.flush().unwrap();
        let hunts = Hunts::default();
        let job = start(&hunts, 1).unwrap();
        let mut hunter = Hunter::new();
        hunter
            .add_pattern("[domain-name:value LIKE '%.example']")
            .unwrap();
        let scope = Scope::recent(1, now, Duration::from_secs(60));
        // Cancelled before it runs: it stops at its first step, having reported nothing.
        job.cancel();
        let summary = hunter
            .run(&archive.snapshot(), &scope, &mut JobSink(&job))
            .unwrap();
        assert!(summary.cancelled);
        job.finish(Ok(summary));
        assert_eq!(job.view()["status"], "cancelled");

        let job = start(&hunts, 1).unwrap();
        let summary = hunter
            .run(&archive.snapshot(), &scope, &mut JobSink(&job))
            .unwrap();
        job.finish(Ok(summary));
        let view = job.view();
        assert_eq!(
            (view["status"].clone(), view["hits_total"].clone()),
            (json!("done"), json!(100))
        );
    }

    #[test]
    fn a_finished_hunt_shows_its_hits_progress_and_summary() {
        let hunts = Hunts::default();
        let job = start(&hunts, 1).unwrap();
        for _ in 0..KEPT_HITS + 5 {
            let hit = HuntHit {
                pattern: 0,
                indicator: None,
                at: day("2026-11-01T12:00:00Z"),
                source: "http".to_owned(),
                objects: vec![json!({"type": "domain-name", "value": "x.example"})],
                events: Vec::new(),
            };
            assert!(job.hit(hit).is_continue());
        }
        job.finish(Ok(HuntSummary {
            hits: (KEPT_HITS + 5) as u64,
            ..HuntSummary::default()
        }));
        let view = job.view();
        assert_eq!(view["status"], "done");
        assert_eq!(view["progress"], 100.0);
        assert_eq!(view["hits"].as_array().unwrap().len(), KEPT_HITS);
        assert_eq!(view["hits_total"], KEPT_HITS + 5);
        assert_eq!(view["hits_truncated"], true);
        assert_eq!(view["summary"]["hits"], KEPT_HITS + 5);

        let failed = start(&hunts, 1).unwrap();
        failed.finish(Err("the archive is unreadable".to_owned()));
        assert_eq!(failed.view()["status"], "failed");
        assert_eq!(failed.view()["error"], "the archive is unreadable");
    }

    #[test]
    fn running_hunts_are_limited_and_finished_ones_make_room() {
        let hunts = Hunts::default();
        let running: Vec<_> = (0..MAX_RUNNING)
            .map(|n| start(&hunts, n as OrgId).unwrap())
            .collect();
        assert_eq!(start(&hunts, 99).err(), Some(Busy));
        running[0].finish(Ok(HuntSummary::default()));
        let next = start(&hunts, 99).unwrap();
        assert_eq!(next.status(), Status::Running);
        // Finished hunts are kept up to a limit, the oldest dropped first.
        for job in hunts.jobs.lock().unwrap().iter() {
            job.cancel();
        }
        let first = running[1].id.clone();
        for _ in 0..MAX_KEPT {
            start(&hunts, 1).unwrap().finish(Ok(HuntSummary::default()));
        }
        assert!(hunts.jobs.lock().unwrap().len() <= MAX_KEPT);
        assert!(hunts.get(1, &first).is_none());
    }
}
