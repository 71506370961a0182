//! Following a log file as sensors write it: appends are read as they land, rotation is
//! survived, and how far the file has been read is kept in the data directory so that a
//! restart neither reads a line twice nor skips one.
//!
//! The file is polled rather than watched: it works the same on every filesystem, and a
//! sensor's log grows in bursts anyway. Rotation is recognised two ways:
//! - **rename and a new file** (logrotate's default, Zeek's archiving): the path names another
//!   file. The old one is read to its end first, including a last line without its newline,
//!   then the new one from its start.
//! - **copytruncate**: the same file is shorter than what was read, or no longer starts with
//!   the bytes read from it (the writer has already written past the old length). It is read
//!   again from its start (whatever was written between the copy and the truncation is lost
//!   to every reader, not only this one).
//!
//! The position saved is the end of the last line whose events are matched and whose alerts
//! are stored, with the file's identity (device and inode) and a hash of its first bytes, so
//! that a file replaced while the server was stopped is read from its start instead of from
//! an offset that belongs to another file. Lines after that position are read again after a
//! crash; none before it is. A Zeek TSV log's `#` headers before the position are read again
//! on resuming, since the lines after them need the layout they give.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stix::Timestamp;

use super::format::LineReader;
use super::pipeline::{Intake, Queued, Refusal};

/// How long an idle file waits before it is looked at again.
const POLL: Duration = Duration::from_millis(200);
/// Bytes at the start of a file whose hash tells it apart from another at the same path.
const HEAD: usize = 1024;
/// A line longer than this is refused rather than held in memory.
const MAX_LINE: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which file a path names: device and inode.
pub(crate) type Identity = (u64, u64);

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<Identity> {
    None
}

/// One file being read; its first bytes are kept as they are read.
#[derive(Debug)]
pub(crate) struct FileMark {
    identity: Option<Identity>,
    head: Mutex<Vec<u8>>,
}

/// A position in a file, reached once an event is stored.
#[derive(Debug, Clone)]
pub(crate) struct ReadTo {
    file: Arc<FileMark>,
    offset: u64,
}

/// The position kept in the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Saved {
    path: PathBuf,
    device: Option<u64>,
    inode: Option<u64>,
    offset: u64,
    /// SHA-256 (hex) of the file's first `head_len` bytes.
    head_sha256: String,
    head_len: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How far a tailed file has been read and stored; written by the matching task.
pub(crate) struct Progress {
    path: PathBuf,
    state_file: PathBuf,
    last: Mutex<Option<Saved>>,
}

impl Progress {
    /// The position of `path` is kept in `<state_dir>/<hash of the path>.json`.
    pub fn new(path: &Path, state_dir: &Path) -> Self {
        let name = sha256_hex(path.as_os_str().as_encoded_bytes());
        Progress {
            path: path.to_owned(),
            state_file: state_dir.join(format!("{}.json", &name[..24])),
            last: Mutex::new(None),
        }
    }

    fn load(&self) -> Option<Saved> {
        let text = std::fs::read_to_string(&self.state_file).ok()?;
        match serde_json::from_str::<Saved>(&text) {
            Ok(saved) if saved.path == self.path => Some(saved),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(file = %self.state_file.display(), error = %e, "a tail position that cannot be read is ignored");
                None
            }
        }
    }

    /// Records that everything up to `read_to` is stored.
    pub fn stored(&self, read_to: ReadTo) {
        let head = lock(&read_to.file.head);
        let head_len = (read_to.offset as usize).min(head.len());
        let saved = Saved {
            path: self.path.clone(),
            device: read_to.file.identity.map(|i| i.0),
            inode: read_to.file.identity.map(|i| i.1),
            offset: read_to.offset,
            head_sha256: sha256_hex(&head[..head_len]),
            head_len: head_len as u64,
        };
        drop(head);
        let mut last = lock(&self.last);
        if last.as_ref() == Some(&saved) {
            return;
        }
        match write_atomically(&self.state_file, &saved) {
            Ok(()) => *last = Some(saved),
            Err(e) => {
                tracing::error!(file = %self.state_file.display(), error = %e, "the tail position could not be saved; lines may be read again after a restart")
            }
        }
    }
}

fn write_atomically(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let text = serde_json::to_vec(saved).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.new");
    let mut file = File::create(&temporary)?;
    file.write_all(&text)?;
    // Durable before it replaces the old position: a crash leaves one or the other.
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// What the path shows, compared with the file being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// The same file, as long as what was read or longer.
    Same,
    /// Nothing at the path (between a rename and the new file): keep the old one.
    Missing,
    /// Another file at the path: finish the old one, then read the new one from its start.
    Replaced,
    /// The same file, shorter than what was read: read it again from its start.
    Truncated,
}

/// Decides what happened at the path: `reading` is the identity of the open file, `read` how
/// many bytes of it were read, `at_path` the identity and length of what the path names now;
/// `rewritten` says whether the file no longer starts with the bytes read from it, which is
/// how a truncation is seen when the writer has already written past the old length.
pub(crate) fn change(
    reading: Option<Identity>,
    read: u64,
    at_path: Option<(Option<Identity>, u64)>,
    rewritten: impl FnOnce() -> bool,
) -> Change {
    match at_path {
        None => Change::Missing,
        Some((Some(now), _)) if reading.is_some_and(|r| r != now) => Change::Replaced,
        Some((_, len)) if len < read => Change::Truncated,
        Some(_) if rewritten() => Change::Truncated,
        Some(_) => Change::Same,
    }
}

/// Whether the file at `path` starts otherwise than the bytes of `mark` read so far.
fn rewritten(path: &Path, mark: &FileMark) -> bool {
    let head = lock(&mark.head);
    let mut now = vec![0; head.len()];
    match File::open(path).and_then(|mut f| f.read_exact(&mut now)) {
        Ok(()) => now != *head,
        // Shorter than what was read: the length tells.
        Err(_) => false,
    }
}

/// Where to start reading a file found at start-up, given the saved position: its offset
/// when it is the same file (identity, first bytes) and still that long, else the start.
fn resume_offset(
    saved: Option<&Saved>,
    identity: Option<Identity>,
    len: u64,
    head_hash: impl FnOnce(u64) -> Option<String>,
) -> u64 {
    let Some(saved) = saved else { return 0 };
    let same_identity = match (identity, saved.device, saved.inode) {
        (Some((device, inode)), Some(d), Some(i)) => device == d && inode == i,
        (None, None, None) => true,
        _ => false,
    };
    if !same_identity || len < saved.offset {
        return 0;
    }
    if head_hash(saved.head_len).as_deref() != Some(saved.head_sha256.as_str()) {
        return 0;
    }
    saved.offset
}

/// A tailed file's configuration.
pub(crate) struct Tail {
    pub path: PathBuf,
    pub reader: LineReader,
    pub intake: Intake,
    pub progress: Arc<Progress>,
    pub stop: Arc<AtomicBool>,
}

/// The file being read.
struct Open {
    file: File,
    mark: Arc<FileMark>,
    /// Bytes read from the file.
    read: u64,
    /// End of the last complete line taken from it.
    consumed: u64,
    pending: Vec<u8>,
    /// Dropping the rest of a line that was too long.
    skipping: bool,
}

impl Open {
    fn at(path: &Path, offset: u64) -> std::io::Result<Open> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let mut head = vec![0; HEAD.min(offset as usize)];
        file.read_exact(&mut head)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Open {
            file,
            mark: Arc::new(FileMark {
                identity: identity(&meta),
                head: Mutex::new(head),
            }),
            read: offset,
            consumed: offset,
            pending: Vec::new(),
            skipping: false,
        })
    }
}

enum Flow {
    Continue,
    Stop,
}

impl Tail {
    /// Runs until `stop` is set or matching has stopped. Blocking: runs on its own thread.
    pub fn run(mut self) {
        let mut open = self.first_open();
        while !self.stop.load(Ordering::Relaxed) {
            let Some(current) = open.as_mut() else {
                std::thread::sleep(POLL);
                match Open::at(&self.path, 0) {
                    Ok(o) => {
                        self.reader.reset();
                        open = Some(o);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "cannot open the tailed file")
                    }
                }
                continue;
            };
            let at_path = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (identity(&m), m.len()));
            // Looked at before each read: a file truncated and written again must not be
            // read from the old offset.
            let path = &self.path;
            let mark = &current.mark;
            match change(mark.identity, current.read, at_path, || {
                rewritten(path, mark)
            }) {
                Change::Same | Change::Missing => match self.read_available(current) {
                    Ok((Flow::Stop, _)) => return,
                    Ok((Flow::Continue, true)) => {}
                    Ok((Flow::Continue, false)) => std::thread::sleep(POLL),
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "cannot read the tailed file");
                        std::thread::sleep(POLL);
                    }
                },
                Change::Truncated => {
                    tracing::info!(path = %self.path.display(), "the tailed file was truncated; reading it from its start");
                    match Open::at(&self.path, 0) {
                        Ok(o) => {
                            self.reader.reset();
                            open = Some(o);
                        }
                        Err(_) => open = None,
                    }
                }
                Change::Replaced => {
                    // Writers may still have appended to the old file since it was read.
                    loop {
                        match self.read_available(current) {
                            Ok((Flow::Stop, _)) => return,
                            Ok((Flow::Continue, true)) => continue,
                            _ => break,
                        }
                    }
                    if !current.pending.is_empty() && !current.skipping {
                        let last = std::mem::take(&mut current.pending);
                        current.consumed = current.read;
                        let offset = current.consumed;
                        if let Flow::Stop = self.line(&last, &current.mark, offset) {
                            return;
                        }
                    }
                    tracing::info!(path = %self.path.display(), "the tailed file was rotated; reading the new one");
                    self.reader.reset();
                    open = Open::at(&self.path, 0).ok();
                }
            }
        }
    }

    /// Opens the file at start-up where the saved position says, reading the headers that
    /// come before it.
    fn first_open(&mut self) -> Option<Open> {
        let meta = std::fs::metadata(&self.path).ok()?;
        let saved = self.progress.load();
        let offset = resume_offset(saved.as_ref(), identity(&meta), meta.len(), |len| {
            let mut head = vec![0; len as usize];
            File::open(&self.path)
                .and_then(|mut f| f.read_exact(&mut head))
                .ok()?;
            Some(sha256_hex(&head))
        });
        if let Some(saved) = &saved {
            if offset != saved.offset {
                tracing::warn!(path = %self.path.display(), "the tailed file is not the one read before the restart; reading it from its start");
            }
        }
        if offset > 0 {
            if let Err(e) = self.replay_headers(offset) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the headers before the saved position");
            }
        }
        Open::at(&self.path, offset).ok()
    }

    fn replay_headers(&mut self, offset: u64) -> std::io::Result<()> {
        let mut prefix = Vec::new();
        File::open(&self.path)?
            .take(offset)
            .read_to_end(&mut prefix)?;
        let now = Timestamp::now();
        for line in prefix.split(|b| *b == b'\n') {
            let text = super::event_text(line);
            if self.reader.is_header(&text) {
                // Their refusals were counted when they were first read.
                let _ = self.reader.line(text.trim_end_matches('\r'), now);
            }
        }
        Ok(())
    }

    /// Reads what was appended; says whether anything was.
    fn read_available(&mut self, open: &mut Open) -> std::io::Result<(Flow, bool)> {
        let mut chunk = vec![0; CHUNK];
        let n = open.file.read(&mut chunk)?;
        if n == 0 {
            return Ok((Flow::Continue, false));
        }
        {
            // The head holds the file's bytes up to what was read, until it is full.
            let mut head = lock(&open.mark.head);
            if head.len() < HEAD {
                let take = (HEAD - head.len()).min(n);
                head.extend_from_slice(&chunk[..take]);
            }
        }
        open.read += n as u64;
        open.pending.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(newline) = open.pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + newline;
            open.consumed += (newline + 1) as u64;
            if open.skipping {
                open.skipping = false;
            } else {
                let line = open.pending[start..end].to_vec();
                if let Flow::Stop = self.line(&line, &open.mark, open.consumed) {
                    return Ok((Flow::Stop, true));
                }
            }
            start = end + 1;
        }
        open.pending.drain(..start);
        if open.pending.len() > MAX_LINE {
            let refusal = Refusal::new(
                "too_long",
                format!("a line is longer than {MAX_LINE} bytes"),
                &String::from_utf8_lossy(&open.pending[..256]),
            );
            open.consumed += open.pending.len() as u64;
            open.pending.clear();
            open.skipping = true;
            let sent = self.intake.send_blocking(Queued {
                event: Err(refusal),
                read_to: Some(ReadTo {
                    file: open.mark.clone(),
                    offset: open.consumed,
                }),
            });
            if !sent {
                return Ok((Flow::Stop, true));
            }
        }
        Ok((Flow::Continue, true))
    }

    fn line(&mut self, bytes: &[u8], mark: &Arc<FileMark>, offset: u64) -> Flow {
        let text = super::event_text(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let Some(result) = self.reader.line(text, Timestamp::now()) else {
            return Flow::Continue;
        };
        let event = result.map_err(|e| Refusal::normalise(&e, text));
        let sent = self.intake.send_blocking(Queued {
            event,
            read_to: Some(ReadTo {
                file: mark.clone(),
                offset,
            }),
        });
        if sent {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_told_from_growth() {
        let file = Some((1, 10));
        let change = |reading, read, at_path| change(reading, read, at_path, || false);
        assert_eq!(change(file, 100, Some((Some((1, 10)), 100))), Change::Same);
        assert_eq!(change(file, 100, Some((Some((1, 10)), 250))), Change::Same);
        assert_eq!(change(file, 100, None), Change::Missing);
        // Renamed away and a new file made: another inode, whatever its length.
        assert_eq!(
            change(file, 100, Some((Some((1, 11)), 500))),
            Change::Replaced
        );
        assert_eq!(
            change(file, 100, Some((Some((1, 11)), 0))),
            Change::Replaced
        );
        // Copied and truncated in place: the same inode, shorter.
        assert_eq!(
            change(file, 100, Some((Some((1, 10)), 20))),
            Change::Truncated
        );
        // Without identities, shrinking is all that can be seen.
        assert_eq!(change(None, 100, Some((None, 20))), Change::Truncated);
        // Truncated and written past the old length before it was looked at: the start
        // of the file changed.
        assert_eq!(
            super::change(file, 100, Some((Some((1, 10)), 300)), || true),
            Change::Truncated
        );
    }

    fn saved(offset: u64) -> Saved {
        Saved {
            path: PathBuf::from("/logs/dns.log"),
            device: Some(1),
            inode: Some(10),
            offset,
            head_sha256: sha256_hex(b"#separator"),
            head_len: 10,
        }
    }

    #[test]
    fn a_restart_resumes_only_in_the_same_file() {
        let head = |_: u64| Some(sha256_hex(b"#separator"));
        assert_eq!(resume_offset(None, Some((1, 10)), 500, head), 0);
        assert_eq!(
            resume_offset(Some(&saved(300)), Some((1, 10)), 500, head),
            300
        );
        // Another file at the path.
        assert_eq!(
            resume_offset(Some(&saved(300)), Some((1, 11)), 500, head),
            0
        );
        // Truncated while stopped.
        assert_eq!(
            resume_offset(Some(&saved(300)), Some((1, 10)), 200, head),
            0
        );
        // The inode reused by a file that starts differently.
        let other = |_: u64| Some(sha256_hex(b"#different"));
        assert_eq!(
            resume_offset(Some(&saved(300)), Some((1, 10)), 500, other),
            0
        );
    }

    /// Follows a file through appends, a rename rotation and a copytruncate, collecting
    /// each line's event (a mapping that takes `ip=`).
    #[test]
    fn every_line_is_read_once_through_rotations() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("events.log");
        let mapping = detect::normalise::Mapping::from_toml(
            "name = \"m\"\n[fields]\nip = \"ipv4-addr:value\"\n",
        )
        .expect("a mapping");
        let format = super::super::format::EventFormat::Mapping(Arc::new(mapping));
        let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
        let intake = Intake::for_test(sender);
        let progress = Arc::new(Progress::new(&path, dir.path()));
        let stop = Arc::new(AtomicBool::new(false));
        let tail = Tail {
            path: path.clone(),
            reader: LineReader::new(format, None),
            intake,
            progress: progress.clone(),
            stop: stop.clone(),
        };
        let append = |text: &str| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("appendable");
            f.write_all(text.as_bytes()).expect("written");
        };
        append("ip=10.0.0.1\nip=10.0.0.2\nip=10.0");
        let thread = std::thread::spawn(move || tail.run());
        let mut seen = Vec::new();
        let mut next = |seen: &mut Vec<String>| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let item: Queued = loop {
                match receiver.try_recv() {
                    Ok(item) => break item,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => panic!("no event within 10 s after {seen:?}: {e}"),
                }
            };
            let event = item.event.expect("normalised");
            seen.push(event.objects[0]["value"].as_str().unwrap_or("").to_owned());
            progress.stored(item.read_to.expect("a position"));
        };
        next(&mut seen);
        next(&mut seen);
        append(".0.3\n");
        next(&mut seen);
        // Rotation by rename: the old file's last line has no newline yet.
        append("ip=10.0.0.4");
        std::fs::rename(&path, dir.path().join("events.log.1")).expect("renamed");
        append("ip=10.0.0.5\n");
        next(&mut seen);
        next(&mut seen);
        // Copytruncate, and the writer at once writes as much as before.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .expect("truncated");
        append("ip=10.0.0.6\n");
        next(&mut seen);
        stop.store(true, Ordering::Relaxed);
        thread.join().expect("the tail stops");
        assert_eq!(
            seen,
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        let saved = progress.load().expect("a saved position");
        assert_eq!(saved.offset, "ip=10.0.0.6\n".len() as u64);
    }
}
