//! The one path every event takes, whatever brought it: normalised (or refused with a
//! reason) → matched by `detect::Monitor` against its organisation's indicators → alerts
//! stored durably and broadcast to streams → events archived → the batch acknowledged once
//! its events are flushed. Alerts are stored before their events are archived so that a
//! retro-hunt, which skips events that already have an alert, never sees an archived event
//! whose live alert is still on its way. Counters are kept per source, and the last refusals
//! per reason are sampled per organisation so that an operator can see what was not
//! understood.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use detect::normalise::{NormaliseError, Normalised};
use detect::EncodedEvents;
use kawal_core::{Alert, OrgId};
use matcher::Observation;
use serde::Serialize;
use stix::Timestamp;
use tokio::sync::mpsc;

use crate::archive::EventArchive;
use crate::AppState;

/// Refusals kept per organisation and reason.
const SAMPLES_PER_REASON: usize = 10;
/// Longest event text kept in a sample.
const SAMPLE_BYTES: usize = 512;
/// Events taken from a source's queue at a time.
pub(crate) const BATCH: usize = 512;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why an event was not matched.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    /// A stable label for counting.
    pub reason: &'static str,
    pub message: String,
    /// The event as received, cut short.
    pub event: String,
}

impl Refusal {
    pub fn new(reason: &'static str, message: String, event: &str) -> Self {
        let mut end = event.len().min(SAMPLE_BYTES);
        while !event.is_char_boundary(end) {
            end -= 1;
        }
        Refusal {
            reason,
            message,
            event: event[..end].to_owned(),
        }
    }

    pub fn normalise(e: &NormaliseError, event: &str) -> Self {
        Refusal::new(e.reason(), e.to_string(), event)
    }
}

/// What one source did, for `/metrics`.
#[derive(Default)]
pub(crate) struct SourceCounters {
    pub received: AtomicU64,
    pub normalised: AtomicU64,
    pub matched: AtomicU64,
    pub alerts: AtomicU64,
    /// Events waiting between the source and matching.
    pub queued: AtomicU64,
    pub refused: Mutex<BTreeMap<&'static str, u64>>,
    pub dropped: Mutex<BTreeMap<&'static str, u64>>,
}

impl SourceCounters {
    pub fn drop_event(&self, reason: &'static str) {
        *lock(&self.dropped).entry(reason).or_default() += 1;
    }
}

/// Every source's counters, in the order the sources were started.
#[derive(Default)]
pub(crate) struct Registry {
    sources: Mutex<Vec<(String, Arc<SourceCounters>)>>,
}

impl Registry {
    /// The counters of the source of that name, made on first use.
    pub fn source(&self, name: &str) -> Arc<SourceCounters> {
        let mut sources = lock(&self.sources);
        if let Some((_, counters)) = sources.iter().find(|(n, _)| n == name) {
            return counters.clone();
        }
        let counters = Arc::new(SourceCounters::default());
        sources.push((name.to_owned(), counters.clone()));
        counters
    }

    pub fn all(&self) -> Vec<(String, Arc<SourceCounters>)> {
        lock(&self.sources).clone()
    }
}

/// One refused event, as `/api/events/refused` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RefusedSample {
    pub at: Timestamp,
    pub source: String,
    pub message: String,
    pub event: String,
}

#[derive(Default)]
struct ReasonSamples {
    count: u64,
    last: VecDeque<RefusedSample>,
}

/// The last refusals of each organisation, per reason.
#[derive(Default)]
pub(crate) struct RefusedSamples {
    orgs: Mutex<HashMap<OrgId, BTreeMap<&'static str, ReasonSamples>>>,
}

impl RefusedSamples {
    fn record(&self, org: OrgId, source: &str, refusal: &Refusal) {
        let mut orgs = lock(&self.orgs);
        let samples = orgs
            .entry(org)
            .or_default()
            .entry(refusal.reason)
            .or_default();
        samples.count += 1;
        if samples.last.len() == SAMPLES_PER_REASON {
            samples.last.pop_front();
        }
        samples.last.push_back(RefusedSample {
            at: Timestamp::now(),
            source: source.to_owned(),
            message: refusal.message.clone(),
            event: refusal.event.clone(),
        });
    }

    /// Per reason: how many of the organisation's events were refused since the server
    /// started, and the last few, oldest first.
    pub fn of(&self, org: OrgId) -> Vec<(&'static str, u64, Vec<RefusedSample>)> {
        lock(&self.orgs)
            .get(&org)
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|(reason, s)| (*reason, s.count, s.last.iter().cloned().collect()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What matching a batch did.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub received: u64,
    pub normalised: u64,
    pub alerts: Vec<String>,
    /// The first `quote` refusals, with the event's index in the batch.
    pub refusals: Vec<(usize, Refusal)>,
}

impl Observed {
    /// What matching a batch did, followed by what matching the events after it did; the
    /// first `quote` refusals of both are kept.
    pub fn followed_by(mut self, next: Observed, quote: usize) -> Observed {
        let offset = self.received as usize;
        self.received += next.received;
        self.normalised += next.normalised;
        self.alerts.extend(next.alerts);
        self.refusals.extend(
            next.refusals
                .into_iter()
                .map(|(index, refusal)| (index + offset, refusal)),
        );
        self.refusals.truncate(quote);
        self
    }
}

/// Matches a batch of one organisation's events from one source, stores and broadcasts the
/// alerts, archives the events, then runs `stored` (a tail records how far it has read) and
/// counts. Blocks: call it on the blocking pool.
///
/// The batch goes through in parts of [`ARCHIVED_TOGETHER`] events: each part's alerts are
/// stored and broadcast, then its events handed to the archive writer, which compresses them
/// while the next part is matched. The batch returns once every part is flushed.
pub(crate) fn observe_batch(
    state: &AppState,
    org: OrgId,
    source: &str,
    counters: &SourceCounters,
    events: impl IntoIterator<Item = Result<Normalised, Refusal>>,
    quote: usize,
    stored: impl FnOnce(),
) -> Result<Observed, kawal_core::Error> {
    let monitoring = state.monitoring();
    let matching = monitoring.monitor.matching(org)?;
    let archive = state.archive();
    let mut observed = Observed::default();
    let mut part = Part::new(archive);
    let mut sent = Vec::new();
    let mut matched = 0u64;
    let mut refused: Vec<Refusal> = Vec::new();
    let mut unarchivable = 0u64;
    for (index, event) in events.into_iter().enumerate() {
        observed.received += 1;
        match event {
            Ok(event) => {
                observed.normalised += 1;
                let Normalised {
                    at,
                    objects,
                    unmapped,
                    ..
                } = event;
                let observation = Observation::of_objects(objects, at);
                let raised = matching.observe(source, &observation, &unmapped);
                if archive.is_some() {
                    // Encoded here, after matching, from the objects matching used: the
                    // archive's one writer only copies the bytes.
                    let encoded = part.archived.push(
                        at,
                        org,
                        // As the alerts name it, so that a retro-hunt hit can be compared
                        // with the live alerts of the same event.
                        source,
                        observation.objects(),
                    );
                    if let Err(e) = encoded {
                        unarchivable += 1;
                        tracing::error!(source = %source, error = %e, "an event could not be archived");
                    }
                }
                matched += u64::from(!raised.is_empty());
                part.alerts.extend(raised);
                part.events += 1;
                if part.events == ARCHIVED_TOGETHER {
                    let next = Part::new(archive);
                    let archived =
                        std::mem::replace(&mut part, next).store(state, &mut observed)?;
                    if let Some(archive) = archive.filter(|_| !archived.is_empty()) {
                        sent.push((archived.len() as u64, archive.send(archived)));
                    }
                }
            }
            Err(refusal) => {
                if observed.refusals.len() < quote {
                    observed.refusals.push((index, refusal.clone()));
                }
                refused.push(refusal);
            }
        }
    }
    let last = part.store(state, &mut observed)?;
    if let Some(archive) = archive {
        // Flushed before the events are acknowledged. A failure here does not refuse the
        // events: their alerts are stored, and a sensor that resent them would raise those
        // again. It is logged and counted instead.
        let flushed = if sent.is_empty() && last.is_empty() {
            Ok(())
        } else {
            archive.appended(sent).and(archive.append(last))
        };
        if let Err(e) = flushed {
            tracing::error!(source = %source, error = %e, "events could not be archived");
        }
        archive.failures.fetch_add(unarchivable, Ordering::Relaxed);
    }
    stored();
    counters
        .received
        .fetch_add(observed.received, Ordering::Relaxed);
    counters
        .normalised
        .fetch_add(observed.normalised, Ordering::Relaxed);
    counters.matched.fetch_add(matched, Ordering::Relaxed);
    counters
        .alerts
        .fetch_add(observed.alerts.len() as u64, Ordering::Relaxed);
    if !refused.is_empty() {
        let mut by_reason = lock(&counters.refused);
        for refusal in &refused {
            *by_reason.entry(refusal.reason).or_default() += 1;
            monitoring.refused.record(org, source, refusal);
        }
    }
    Ok(observed)
}

/// Events matched together whose alerts are stored in one transaction and whose archive
/// records go to the writer together.
const ARCHIVED_TOGETHER: usize = 256;

/// A part of a batch being matched.
struct Part {
    events: usize,
    alerts: Vec<Alert>,
    archived: EncodedEvents,
}

impl Part {
    fn new(archive: Option<&EventArchive>) -> Part {
        Part {
            events: 0,
            alerts: Vec::new(),
            archived: archive.map_or_else(EncodedEvents::default, |archive| {
                archive.buffer(ARCHIVED_TOGETHER)
            }),
        }
    }

    /// Stores the part's alerts durably and broadcasts them; returns its events for the
    /// archive, which must see them only now, so that a retro-hunt, which skips events that
    /// already have an alert, never sees an archived event whose live alert is still on its
    /// way.
    fn store(
        self,
        state: &AppState,
        observed: &mut Observed,
    ) -> Result<EncodedEvents, kawal_core::Error> {
        state.exchange().record_alerts(&self.alerts)?;
        let monitoring = state.monitoring();
        for alert in self.alerts {
            observed.alerts.push(alert.id.clone());
            monitoring.broadcast(alert);
        }
        Ok(self.archived)
    }
}

/// An event on its way from a source to matching.
pub(crate) struct Queued {
    pub event: Result<Normalised, Refusal>,
    /// For a tailed file: how far it has been read once this event is stored.
    pub read_to: Option<super::tail::ReadTo>,
}

/// One source's side of its queue.
#[derive(Clone)]
pub(crate) struct Intake {
    sender: mpsc::Sender<Queued>,
    pub counters: Arc<SourceCounters>,
}

impl Intake {
    #[cfg(test)]
    pub fn for_test(sender: mpsc::Sender<Queued>) -> Self {
        Intake {
            sender,
            counters: Arc::default(),
        }
    }

    /// Waits while the queue is full, so that the source stops reading and pushes back on
    /// its sender. `false` once matching has stopped.
    pub async fn send(&self, item: Queued) -> bool {
        let sent = self.sender.send(item).await.is_ok();
        if sent {
            self.counters.queued.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// As [`send`](Self::send), from a thread outside the runtime.
    pub fn send_blocking(&self, item: Queued) -> bool {
        let sent = self.sender.blocking_send(item).is_ok();
        if sent {
            self.counters.queued.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// For a sender that cannot be pushed back on (UDP): a full queue drops the event, and
    /// the drop is counted.
    pub fn offer(&self, item: Queued) {
        match self.sender.try_send(item) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.counters.drop_event("queue_full"),
            Err(mpsc::error::TrySendError::Closed(_)) => self.counters.drop_event("stopped"),
        }
    }
}

/// Makes a source's bounded queue and the task that matches what it brings; the task ends
/// when every [`Intake`] is dropped and the queue is empty.
pub(crate) fn queue(
    state: &AppState,
    org: OrgId,
    source: &str,
    capacity: usize,
    tail: Option<Arc<super::tail::Progress>>,
) -> (Intake, tokio::task::JoinHandle<()>) {
    let counters = state.monitoring().sources.source(source);
    let (sender, mut receiver) = mpsc::channel::<Queued>(capacity.max(1));
    let intake = Intake {
        sender,
        counters: counters.clone(),
    };
    let (state, source) = (state.clone(), source.to_owned());
    let worker = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut batch, BATCH).await > 0 {
            let items = std::mem::take(&mut batch);
            counters
                .queued
                .fetch_sub(items.len() as u64, Ordering::Relaxed);
            let (state, source, counters, tail) = (
                state.clone(),
                source.clone(),
                counters.clone(),
                tail.clone(),
            );
            let done = tokio::task::spawn_blocking(move || {
                let n = items.len() as u64;
                let read_to = items.iter().rev().find_map(|i| i.read_to.clone());
                let events = items.into_iter().map(|i| i.event);
                let outcome = observe_batch(&state, org, &source, &counters, events, 0, || {
                    if let (Some(progress), Some(read_to)) = (&tail, read_to) {
                        progress.stored(read_to);
                    }
                });
                if let Err(e) = &outcome {
                    // Nothing was acknowledged: a tailed file is read again from the last
                    // stored position at the next start.
                    tracing::error!(source = %source, error = %e, events = n, "events could not be matched and stored");
                    *lock(&counters.dropped).entry("store").or_default() += n;
                }
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "the matching task stopped");
            }
        }
    });
    (intake, worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_event() -> Queued {
        Queued {
            event: Err(Refusal::new(
                "syslog",
                "the message is empty".to_owned(),
                "",
            )),
            read_to: None,
        }
    }

    #[test]
    fn a_full_queue_drops_what_cannot_wait_and_counts_it() {
        let (sender, mut receiver) = mpsc::channel(1);
        let intake = Intake::for_test(sender);
        intake.offer(refused_event());
        intake.offer(refused_event());
        intake.offer(refused_event());
        assert_eq!(intake.counters.queued.load(Ordering::Relaxed), 1);
        assert_eq!(
            lock(&intake.counters.dropped).get("queue_full").copied(),
            Some(2)
        );
        assert!(receiver.try_recv().is_ok());
        drop(receiver);
        intake.offer(refused_event());
        assert_eq!(
            lock(&intake.counters.dropped).get("stopped").copied(),
            Some(1)
        );
    }

    #[test]
    fn samples_keep_the_last_few_per_reason_and_organisation() {
        let samples = RefusedSamples::default();
        let (mine, theirs): (OrgId, OrgId) = (1, 2);
        for n in 0..SAMPLES_PER_REASON + 5 {
            let refusal = Refusal::new("json", format!("bad {n}"), &"x".repeat(SAMPLE_BYTES * 2));
            samples.record(mine, "http", &refusal);
        }
        samples.record(theirs, "http", &Refusal::new("empty", String::new(), ""));
        let kept = samples.of(mine);
        assert_eq!(kept.len(), 1);
        let (reason, count, last) = &kept[0];
        assert_eq!(
            (*reason, *count, last.len()),
            ("json", 15, SAMPLES_PER_REASON)
        );
        assert_eq!(last[0].message, "bad 5");
        assert_eq!(last[0].event.len(), SAMPLE_BYTES);
        assert_eq!(samples.of(theirs)[0].0, "empty");
    }
}
