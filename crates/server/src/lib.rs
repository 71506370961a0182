//! HTTP for Kawal: TAXII 2.1 under `/taxii2/` and `/kawal/`, the REST API under `/api/`
//! (protection feeds at `/api/feeds/{format}`); sensor events from HTTP, syslog and tailed
//! files (`sources`); sightings shared back and alert webhooks; cases and their evidence files.
//! Only this crate knows HTTP; every decision about content is made by `core`.

mod archive;
mod auth;
mod cases;
pub mod console;
mod error;
mod events;
mod evidence;
mod feeds;
mod filters;
mod hunts;
mod log;
mod negotiate;
mod openapi;
mod rest;
mod sightings;
pub mod sources;
mod taxii;
mod webhooks;
mod witness;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::Router;
use kawal_core::Exchange;

pub use archive::ArchiveSettings;
pub use error::ApiError;
pub use evidence::{EvidenceSettings, DEFAULT_MAX_BYTES as DEFAULT_EVIDENCE_MAX_BYTES};
pub use negotiate::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
pub use taxii::{API_ROOT, RECIPIENTS_HEADER};
pub use webhooks::{signature as webhook_signature, Webhook};
pub use witness::{origin_hex, WITNESS_KEY_PATH};

/// How often console sessions past their expiry are removed.
const SESSION_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The transparency log's identity: the origin line of its checkpoints and the key that signs
/// them.
#[derive(Clone)]
pub struct LogConfig {
    pub origin: String,
    pub signer: Arc<tlog::note::Signer>,
    pub checkpoint_every: Duration,
    /// Witnesses each new checkpoint is submitted to for cosigning.
    pub witnesses: Vec<LogWitness>,
}

/// A witness this log asks for cosignatures (C2SP tlog-witness).
#[derive(Clone, Debug)]
pub struct LogWitness {
    pub verifier: tlog::cosignature::CosignatureVerifier,
    /// Its submission prefix: checkpoints are posted to `<url>/add-checkpoint`.
    pub url: String,
}

#[derive(Clone)]
pub struct ServerConfig {
    pub log: Option<LogConfig>,
    /// This server as a witness of other logs: its cosigning key and the logs it witnesses.
    pub witness: Option<Arc<tlog::witness::Witness>>,
    pub title: String,
    /// The URL clients reach this server at; derived from the Host header when unset.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    /// Operators' mappings from the config file, by name (`?format=mapping:<name>`).
    pub mappings: BTreeMap<String, Arc<detect::normalise::Mapping>>,
    /// How long alerts of one indicator are gathered into one sighting.
    pub sighting_window: Duration,
    /// Receivers of alerts.
    pub webhooks: Vec<Webhook>,
    /// Receivers of case events (opened, shared, status, contributions, overdue tasks).
    pub case_webhooks: Vec<Webhook>,
    /// How often open tasks are checked against their due dates.
    pub overdue_every: Duration,
    /// Where case evidence files are kept; without it uploads and downloads are refused.
    pub evidence: Option<EvidenceSettings>,
    /// The event archive, which this server alone writes; without it events are matched
    /// but neither kept nor hunted.
    pub archive: Option<ArchiveSettings>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            log: None,
            witness: None,
            title: "Kawal".to_owned(),
            public_url: None,
            max_body_bytes: 32 * 1024 * 1024,
            mappings: BTreeMap::new(),
            sighting_window: detect::sightings::DEFAULT_WINDOW,
            webhooks: Vec::new(),
            case_webhooks: Vec::new(),
            overdue_every: Duration::from_secs(60),
            evidence: None,
            archive: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    exchange: Arc<Exchange>,
    config: ServerConfig,
    feeds: feeds::FeedCache,
    monitoring: events::Monitoring,
    archive: Option<archive::EventArchive>,
    hunts: hunts::Hunts,
    sign_in_limiter: console::SignInLimiter,
    imports: console::Imports,
    case_events: tokio::sync::broadcast::Sender<Arc<kawal_core::cases::CaseEvent>>,
    hook_counters: webhooks::HookCounters,
}

impl AppState {
    pub fn new(exchange: Exchange, config: ServerConfig) -> Self {
        let exchange = Arc::new(exchange);
        let monitoring = events::Monitoring::new(
            detect::Monitor::new(exchange.clone()),
            config.sighting_window,
        );
        let archive = config.archive.clone().map(archive::EventArchive::start);
        let hook_counters =
            webhooks::HookCounters::new(config.webhooks.len(), config.case_webhooks.len());
        AppState(Arc::new(Shared {
            exchange,
            config,
            feeds: feeds::FeedCache::default(),
            monitoring,
            archive,
            hunts: hunts::Hunts::default(),
            sign_in_limiter: console::SignInLimiter::default(),
            imports: console::Imports::default(),
            case_events: tokio::sync::broadcast::channel(1024).0,
            hook_counters,
        }))
    }

    pub fn exchange(&self) -> &Exchange {
        &self.0.exchange
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    pub(crate) fn feeds(&self) -> &feeds::FeedCache {
        &self.0.feeds
    }

    pub(crate) fn monitoring(&self) -> &events::Monitoring {
        &self.0.monitoring
    }

    pub(crate) fn archive(&self) -> Option<&archive::EventArchive> {
        self.0.archive.as_ref()
    }

    pub(crate) fn hunts(&self) -> &hunts::Hunts {
        &self.0.hunts
    }

    pub(crate) fn sign_in_limiter(&self) -> &console::SignInLimiter {
        &self.0.sign_in_limiter
    }

    pub(crate) fn imports(&self) -> &console::Imports {
        &self.0.imports
    }

    pub(crate) fn hook_counters(&self) -> &webhooks::HookCounters {
        &self.0.hook_counters
    }

    pub(crate) fn case_events(
        &self,
    ) -> &tokio::sync::broadcast::Sender<Arc<kawal_core::cases::CaseEvent>> {
        &self.0.case_events
    }

    /// Runs a core operation on the blocking pool: storage and argon2 must not stall the
    /// async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Exchange) -> kawal_core::exchange::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || f(state.exchange()))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the request was aborted: {e}"),
                )
            })?
            .map_err(ApiError::from)
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.config().max_body_bytes;
    Router::new()
        .merge(taxii::routes())
        .merge(rest::routes())
        .merge(cases::routes())
        .merge(evidence::routes())
        .merge(feeds::routes())
        .merge(events::routes())
        .merge(hunts::routes())
        .merge(sightings::routes())
        .merge(log::routes())
        .merge(witness::routes())
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(server_timing))
        .with_state(state)
}

/// How long the server spent on a response until its head was ready, as
/// `Server-Timing: app;dur=<milliseconds>`: browsers show it, and the benchmarks read the
/// server's share of a request from it rather than the client's round trip.
async fn server_timing(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let spent = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("app;dur={spent:.2}")) {
        response
            .headers_mut()
            .insert(axum::http::HeaderName::from_static("server-timing"), value);
    }
    response
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no resource at `{}`; TAXII discovery is at /taxii2/ and the REST API is described at /api/openapi.json",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("`{}` does not support {method}", uri.path()),
    )
}

/// Serves until `shutdown` completes, flushing the audit trail on a short timer and at the end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let _ = state.blocking(|ex| ex.flush_audit()).await;
            }
        })
    };
    // Indicators new to an organisation's set are hunted for in its archived events, one
    // hunt at a time, beside live matching.
    let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
    let retro_hunter = tokio::spawn(hunts::retro_hunts(state.clone(), arrivals));
    // Monitoring's indicator sets follow writes, revocations and deletions.
    let follower = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(events::REFRESH_EVERY);
            loop {
                tick.tick().await;
                let worker = state.clone();
                let refreshed =
                    tokio::task::spawn_blocking(move || worker.monitoring().monitor.refresh())
                        .await;
                let Ok(refreshed) = refreshed else { continue };
                for (org, e) in &refreshed.failures {
                    tracing::warn!(org, error = %e, "monitoring could not read new indicators");
                }
                if state.archive().is_some() {
                    for arrivals in refreshed.arrivals {
                        let _ = arrived.send(arrivals);
                    }
                }
            }
        })
    };
    let retention = state.archive().map(|archive| {
        let (state, every) = (state.clone(), archive.retention_every);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let worker = state.clone();
                let applied = tokio::task::spawn_blocking(move || {
                    worker.archive().map(|archive| archive.enforce_retention())
                })
                .await;
                match applied {
                    Ok(Some(Ok(report))) if report.segments_removed > 0 => tracing::info!(
                        segments = report.segments_removed,
                        bytes = report.bytes_removed,
                        events = report.events_removed,
                        "archive retention removed old segments"
                    ),
                    Ok(Some(Err(e))) => {
                        tracing::warn!(error = %e, "archive retention could not be applied")
                    }
                    _ => {}
                }
            }
        })
    });
    // Expired sessions open nothing; sweeping them keeps the table to the live ones.
    let session_sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SESSION_SWEEP_EVERY);
            loop {
                tick.tick().await;
                match state.blocking(|ex| ex.expire_sessions()).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::debug!(removed, "expired console sessions removed"),
                    Err(e) => {
                        tracing::warn!(error = %e.description, "expired sessions could not be removed")
                    }
                }
            }
        })
    };
    let (stop_sightings, stopped) = tokio::sync::watch::channel(false);
    let sharer = tokio::spawn(sightings::share_back(
        state.clone(),
        state.config().sighting_window,
        stopped,
    ));
    // Subscribed before serving, so no alert escapes them.
    let hooks: Vec<_> = state
        .config()
        .webhooks
        .iter()
        .zip(&state.hook_counters().alerts)
        .map(|(hook, counted)| {
            tokio::spawn(webhooks::deliver_all(
                hook.clone(),
                state.monitoring().subscribe(hook.org),
                counted.clone(),
            ))
        })
        .collect();
    let case_hooks: Vec<_> = state
        .config()
        .case_webhooks
        .iter()
        .zip(&state.hook_counters().cases)
        .map(|(hook, counted)| {
            tokio::spawn(webhooks::deliver_all(
                hook.clone(),
                state.case_events().subscribe(),
                counted.clone(),
            ))
        })
        .collect();
    let overdue = tokio::spawn(cases::announce_overdue(state.clone()));
    let signed = Arc::new(tokio::sync::Notify::new());
    let checkpointer = state.config().log.clone().map(|log| {
        let (state, signed) = (state.clone(), signed.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(log.checkpoint_every);
            loop {
                tick.tick().await;
                let (origin, signer) = (log.origin.clone(), log.signer.clone());
                match state
                    .blocking(move |ex| ex.checkpoint(&origin, &signer))
                    .await
                {
                    Ok(Some(_)) => signed.notify_one(),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e.description, "could not sign a checkpoint")
                    }
                }
            }
        })
    });
    let submitter = state
        .config()
        .log
        .as_ref()
        .filter(|log| !log.witnesses.is_empty())
        .map(|log| {
            tokio::spawn(witness::submit_checkpoints(
                state.clone(),
                log.witnesses.clone(),
                signed.clone(),
            ))
        });
    // The console's search index and counts follow ingest from outside its transactions.
    let indexer = console::spawn_indexer(state.clone())?;
    let app = router(state.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    flusher.abort();
    drop(indexer);
    follower.abort();
    retro_hunter.abort();
    for task in checkpointer
        .into_iter()
        .chain(submitter)
        .chain(hooks)
        .chain(case_hooks)
        .chain([overdue, session_sweeper])
        .chain(retention)
    {
        task.abort();
    }
    state.hunts().cancel_all();
    // Open windows are shared rather than lost.
    let _ = stop_sightings.send(true);
    if let Err(e) = sharer.await {
        tracing::warn!(error = %e, "sightings could not be shared at shutdown");
    }
    if let Err(e) = state.blocking(|ex| ex.flush_audit()).await {
        tracing::warn!(error = %e.description, "audit events could not be written at shutdown");
    }
    let closing = state.clone();
    if let Ok(Some(Err(e))) =
        tokio::task::spawn_blocking(move || closing.archive().map(|a| a.close())).await
    {
        tracing::warn!(error = %e, "the event archive could not be sealed at shutdown");
    }
    served
}
