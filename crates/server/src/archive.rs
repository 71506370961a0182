//! The server's event archive: every normalised event is appended to it by one writer thread,
//! which owns all writes (appends, flushes, retention, sealing at shutdown). Sources hand it
//! their batches and wait until the batch is flushed, so an event is durable in the archive
//! before its submission is acknowledged (and before a tailed file's position moves past it).
//! Batches that arrive while the writer is busy are gathered and flushed together: one sync
//! serves every source waiting at that moment, as a group commit would. A source may also hand
//! over part of a batch without waiting ([`EventArchive::send`]), so that the writer copies
//! and compresses it while the source matches the rest.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use detect::archive::RetentionReport;
use detect::{Archive, EncodedEvents, Snapshot};

/// Commands the writer takes before it flushes, at most.
const GROUP: usize = 256;
/// Emptied buffers kept for reuse, at most.
const SPARE_BUFFERS: usize = 16;

/// The archive as the server is given it: opened by the process, written only by the
/// server's writer thread.
#[derive(Clone)]
pub struct ArchiveSettings {
    pub archive: Arc<Archive>,
    /// How far back a retro-hunt for a new indicator looks.
    pub retro_hunt: Duration,
    /// How often retention is applied.
    pub retention_every: Duration,
}

enum Command {
    Append {
        events: EncodedEvents,
        /// Whether the sender waits for the events to be durable, or only appended.
        flush: bool,
        done: mpsc::SyncSender<Result<(), String>>,
    },
    Retention {
        done: mpsc::SyncSender<Result<RetentionReport, String>>,
    },
    Close {
        done: mpsc::SyncSender<Result<(), String>>,
    },
}

/// The server's handle on the archive: appends go to the writer thread; anyone may take a
/// snapshot to hunt through.
pub(crate) struct EventArchive {
    archive: Arc<Archive>,
    commands: mpsc::Sender<Command>,
    pub retro_hunt: Duration,
    pub retention_every: Duration,
    /// Events that could not be archived, for `/metrics`.
    pub failures: AtomicU64,
    /// Buffers the writer emptied. A part of a batch encodes a few hundred kilobytes:
    /// reused, they spare the allocator mapping, faulting in and returning that much memory
    /// for every part, on threads other than the one that frees it.
    spare: Arc<Mutex<Vec<EncodedEvents>>>,
}

impl EventArchive {
    pub fn start(settings: ArchiveSettings) -> EventArchive {
        let (commands, received) = mpsc::channel();
        let archive = settings.archive.clone();
        let spare = Arc::new(Mutex::new(Vec::new()));
        let returned = spare.clone();
        // The thread ends when the last handle is dropped and the queue is empty.
        std::thread::spawn(move || write_loop(&archive, received, &returned));
        EventArchive {
            archive: settings.archive,
            commands,
            retro_hunt: settings.retro_hunt,
            retention_every: settings.retention_every,
            failures: AtomicU64::new(0),
            spare,
        }
    }

    /// An empty buffer to encode events into, for [`EventArchive::send`] or
    /// [`EventArchive::append`]; a new one is made for `events` events.
    pub fn buffer(&self, events: usize) -> EncodedEvents {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| EncodedEvents::with_capacity(events))
    }

    /// Every event flushed so far.
    pub fn snapshot(&self) -> Snapshot {
        self.archive.snapshot()
    }

    fn tell<T>(
        &self,
        command: impl FnOnce(mpsc::SyncSender<Result<T, String>>) -> Command,
    ) -> Answer<T> {
        let (done, answer) = mpsc::sync_channel(1);
        match self.commands.send(command(done)) {
            Ok(()) => Answer(Some(answer)),
            Err(_) => Answer(None),
        }
    }

    fn ask<T>(
        &self,
        command: impl FnOnce(mpsc::SyncSender<Result<T, String>>) -> Command,
    ) -> Result<T, String> {
        self.tell(command).wait()
    }

    /// Appends the events and returns once they are flushed, with every event sent before
    /// them. Blocks: call it on the blocking pool.
    pub fn append(&self, events: EncodedEvents) -> Result<(), String> {
        let count = events.len() as u64;
        let appended = self.ask(|done| Command::Append {
            events,
            flush: true,
            done,
        });
        if appended.is_err() {
            self.failures.fetch_add(count, Ordering::Relaxed);
        }
        appended
    }

    /// Hands the events to the writer without waiting; they are durable once a later
    /// [`EventArchive::append`] returns. The answer says whether they were appended.
    pub fn send(&self, events: EncodedEvents) -> Answer<()> {
        self.tell(|done| Command::Append {
            events,
            flush: false,
            done,
        })
    }

    /// Waits for the events handed over by [`EventArchive::send`], counting those not
    /// appended as failures.
    pub fn appended(&self, sent: Vec<(u64, Answer<()>)>) -> Result<(), String> {
        let mut outcome = Ok(());
        for (count, answer) in sent {
            if let Err(e) = answer.wait() {
                self.failures.fetch_add(count, Ordering::Relaxed);
                outcome = outcome.and(Err(e));
            }
        }
        outcome
    }

    pub fn enforce_retention(&self) -> Result<RetentionReport, String> {
        self.ask(|done| Command::Retention { done })
    }

    /// Flushes and seals the segment being written.
    pub fn close(&self) -> Result<(), String> {
        self.ask(|done| Command::Close { done })
    }
}

/// The writer's answer to one command.
pub(crate) struct Answer<T>(Option<mpsc::Receiver<Result<T, String>>>);

impl<T> Answer<T> {
    pub fn wait(self) -> Result<T, String> {
        let stopped = || "the archive writer has stopped".to_owned();
        self.0.ok_or_else(stopped)?.recv().map_err(|_| stopped())?
    }
}

fn write_loop(
    archive: &Archive,
    commands: mpsc::Receiver<Command>,
    spare: &Mutex<Vec<EncodedEvents>>,
) {
    while let Ok(first) = commands.recv() {
        let mut waiting = Vec::new();
        let mut after_flush = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(command) = next.take() {
            taken += 1;
            match command {
                Command::Append {
                    mut events,
                    flush,
                    done,
                } => {
                    let appended = archive
                        .append_encoded(&events)
                        .map_err(|e| format!("{} events were not archived: {e}", events.len()));
                    events.clear();
                    let mut spare = spare.lock().unwrap_or_else(PoisonError::into_inner);
                    if spare.len() < SPARE_BUFFERS {
                        spare.push(events);
                    }
                    drop(spare);
                    if flush {
                        waiting.push((done, appended));
                    } else {
                        let _ = done.send(appended);
                    }
                }
                other => after_flush.push(other),
            }
            if taken < GROUP {
                next = commands.try_recv().ok();
            }
        }
        if !waiting.is_empty() {
            let flushed = archive.flush().map_err(|e| e.to_string());
            if let Err(e) = &flushed {
                tracing::error!(error = %e, "the event archive could not be flushed");
            }
            for (done, appended) in waiting {
                let _ = done.send(appended.and(flushed.clone()));
            }
        }
        for command in after_flush {
            match command {
                Command::Retention { done } => {
                    let _ = done.send(archive.enforce_retention_now().map_err(|e| e.to_string()));
                }
                Command::Close { done } => {
                    let _ = done.send(archive.close().map_err(|e| e.to_string()));
                }
                Command::Append { .. } => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stix::Timestamp;

    fn events(of: &[(i64, &str)]) -> EncodedEvents {
        let mut events = EncodedEvents::default();
        for (owner, value) in of {
            let objects = [serde_json::json!({"type": "domain-name", "value": value})];
            events
                .push(Timestamp::now(), *owner, "http", &objects)
                .unwrap();
        }
        events
    }

    #[test]
    fn appended_events_are_flushed_together_and_read_by_other_processes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive");
        let archive = Arc::new(Archive::open(&path, detect::ArchiveConfig::default()).unwrap());
        let writer = EventArchive::start(ArchiveSettings {
            archive,
            retro_hunt: Duration::from_secs(60),
            retention_every: Duration::from_secs(60),
        });
        // Several threads at once: their batches are gathered by the one writer.
        std::thread::scope(|s| {
            for n in 0..4 {
                let writer = &writer;
                s.spawn(move || {
                    writer
                        .append(events(&[(1, &format!("a{n}.example")), (2, "b.example")]))
                        .unwrap()
                });
            }
        });
        assert_eq!(
            writer
                .snapshot()
                .segments
                .iter()
                .map(|s| s.events)
                .sum::<u64>(),
            8
        );
        // Not yet sealed: another process reads it up to its last flushed block.
        let (loaded, _) = Snapshot::load(&path).unwrap();
        assert_eq!(loaded.segments.iter().map(|s| s.events).sum::<u64>(), 8);
        writer.close().unwrap();
        assert_eq!(writer.failures.load(Ordering::Relaxed), 0);
    }
}
