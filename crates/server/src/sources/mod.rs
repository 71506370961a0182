//! Event sources besides `POST /api/events`: syslog over UDP and TCP, and files followed as
//! sensors write them. Each source has a bounded queue in front of matching; TCP
//! connections and files stop being read while it is full, UDP datagrams are dropped and
//! counted. Every event then takes the one matching path (`pipeline::observe_batch`) that
//! HTTP submissions take.

pub mod format;
pub(crate) mod pipeline;
mod syslog;
pub(crate) mod tail;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kawal_core::OrgId;

pub use format::EventFormat;

use crate::AppState;

/// Events waiting between a source and matching, at most, by default.
pub const DEFAULT_QUEUE: usize = 4096;

/// Events as text; bytes that are not UTF-8 become U+FFFD, so the event is still read and
/// its refusal, if any, still quoted. Checked by `str::from_utf8` first, which reads a word
/// at a time where the lossy reader reads a byte at a time.
pub(crate) fn event_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A syslog listener: `udp://` or `tcp://` and an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogAddress {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl fmt::Display for SyslogAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(f, "{scheme}://{}", self.addr)
    }
}

impl std::str::FromStr for SyslogAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (transport, rest) = if let Some(rest) = text.strip_prefix("udp://") {
            (Transport::Udp, rest)
        } else if let Some(rest) = text.strip_prefix("tcp://") {
            (Transport::Tcp, rest)
        } else {
            return Err(format!(
                "`{text}` must start with udp:// or tcp:// (for example udp://0.0.0.0:514)"
            ));
        };
        let addr = rest
            .parse()
            .map_err(|_| format!("`{rest}` in `{text}` is not of the form IP:PORT"))?;
        Ok(SyslogAddress { transport, addr })
    }
}

/// A syslog listener whose events belong to `org` (syslog carries no token, so the
/// operator names the owner).
#[derive(Debug, Clone)]
pub struct SyslogSource {
    pub listen: SyslogAddress,
    pub org: OrgId,
    /// How the MSG part is read.
    pub format: EventFormat,
}

/// A file followed as it grows, whose events belong to `org`.
#[derive(Debug, Clone)]
pub struct TailSource {
    pub path: PathBuf,
    pub org: OrgId,
    pub format: EventFormat,
}

#[derive(Debug, Clone)]
pub struct Sources {
    pub syslog: Vec<SyslogSource>,
    pub tail: Vec<TailSource>,
    /// Where tailed files' positions are kept (`<data>/tail`).
    pub state_dir: PathBuf,
    /// Events waiting between each source and matching, at most.
    pub queue: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("syslog listener {listen}: cannot bind: {source}")]
    Bind {
        listen: SyslogAddress,
        source: std::io::Error,
    },
    #[error("cannot create {}, where tailed files' positions are kept: {source}", path.display())]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the thread that tails {}: {source}", path.display())]
    Thread {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The sources receiving events; [`Running::stop`] ends them.
pub struct Running {
    /// Each source's name as alerts and metrics give it (`syslog:udp://…`, a file path).
    pub names: Vec<String>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
    tails: Vec<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds every listener and starts every tail; matching starts at once.
pub async fn start(state: &AppState, sources: Sources) -> Result<Running, SourceError> {
    let mut running = Running {
        names: Vec::new(),
        listeners: Vec::new(),
        tails: Vec::new(),
        workers: Vec::new(),
    };
    for source in sources.syslog {
        let listen = source.listen;
        let failed = |e| SourceError::Bind { listen, source: e };
        // The name says where the listener actually bound (port 0 picks one).
        let mut queue_for = |addr| {
            let name = format!("syslog:{}", SyslogAddress { addr, ..listen });
            let (intake, worker) = pipeline::queue(state, source.org, &name, sources.queue, None);
            running.names.push(name);
            running.workers.push(worker);
            intake
        };
        let task = match listen.transport {
            Transport::Udp => {
                let socket = tokio::net::UdpSocket::bind(listen.addr)
                    .await
                    .map_err(failed)?;
                let intake = queue_for(socket.local_addr().map_err(failed)?);
                tokio::spawn(syslog::udp(socket, source.format, intake))
            }
            Transport::Tcp => {
                let listener = tokio::net::TcpListener::bind(listen.addr)
                    .await
                    .map_err(failed)?;
                let intake = queue_for(listener.local_addr().map_err(failed)?);
                tokio::spawn(syslog::tcp(listener, source.format, intake))
            }
        };
        running.listeners.push(task);
    }
    if !sources.tail.is_empty() {
        std::fs::create_dir_all(&sources.state_dir).map_err(|e| SourceError::StateDir {
            path: sources.state_dir.clone(),
            source: e,
        })?;
    }
    for source in sources.tail {
        let name = source.path.display().to_string();
        let progress = Arc::new(tail::Progress::new(&source.path, &sources.state_dir));
        let (intake, worker) = pipeline::queue(
            state,
            source.org,
            &name,
            sources.queue,
            Some(progress.clone()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let file_log = format::zeek_log_of(&source.path);
        let tail = tail::Tail {
            path: source.path.clone(),
            reader: format::LineReader::new(source.format, file_log),
            intake,
            progress,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("tail {name}"))
            .spawn(move || tail.run())
            .map_err(|e| SourceError::Thread {
                path: source.path.clone(),
                source: e,
            })?;
        running.names.push(name);
        running.workers.push(worker);
        running.tails.push((stop, thread));
    }
    Ok(running)
}

impl Running {
    /// Stops receiving, then lets matching finish what is queued (for at most a few
    /// seconds), so that what was read is stored and tailed positions are saved.
    pub async fn stop(self) {
        for listener in &self.listeners {
            listener.abort();
        }
        for (stop, _) in &self.tails {
            stop.store(true, Ordering::Relaxed);
        }
        let threads: Vec<_> = self.tails.into_iter().map(|(_, t)| t).collect();
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let drained = async {
            let _ = joined.await;
            for worker in self.workers {
                let _ = worker.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .is_err()
        {
            tracing::warn!("event sources did not finish within 5 s; unstored events are read again at the next start where they can be");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::event_text;

    #[test]
    fn event_text_borrows_utf8_and_replaces_what_is_not() {
        assert!(matches!(
            event_text("{\"a\":\"é\"}\n".as_bytes()),
            Cow::Borrowed("{\"a\":\"é\"}\n")
        ));
        assert_eq!(event_text(b"{\"a\":\"\xff\"}"), "{\"a\":\"\u{fffd}\"}");
    }
}
