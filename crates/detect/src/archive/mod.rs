//! The local event archive: every normalised event, kept for hunting.
//!
//! Events are appended to segment files under one directory,
//! `<dir>/<yyyy-mm-dd>/<hh>-<seq>.seg`, named after the time window of the segment's first
//! event. A segment is a sequence of LZ4-compressed blocks; each block carries its time range,
//! its owners and a Bloom filter of the (organisation, string value) pairs its events contain
//! (identifiers, `id` and `*_ref(s)`, excepted: each event has its own), and a sealed segment
//! ends with a footer listing its blocks and a filter of its own (see `format`). Hunts read these to skip segments and blocks that cannot match.
//!
//! - **Durability.** [`Archive::append`] buffers; [`Archive::flush`] writes the buffered block
//!   and syncs the file (and new directories), so every event appended before a successful
//!   `flush` survives a crash. After a crash, the segment being written has no footer; opening
//!   the archive reads its blocks in order, drops the torn tail (an incomplete block, or one
//!   whose checksum fails) and seals what is left.
//! - **Rotation.** A segment is sealed when it reaches `segment_bytes`, or when an event falls
//!   in a later time window than the segment's first event. Windows only move forward: a late
//!   event goes into the current segment, whose time range records it.
//! - **Retention.** [`Archive::enforce_retention`] deletes whole sealed segments: those whose
//!   newest event is older than the maximum age, then the oldest until the archive fits the
//!   maximum size.
//! - **One writer.** One process opens the archive with [`Archive::open`] (which seals what a
//!   crash left open, so it must not run beside a live writer); others read it with
//!   [`Snapshot::load`], which changes nothing and reads an open segment up to its last
//!   complete block.
//! - **Tenancy.** Every event carries its owner organisation; reads and hunts name one owner
//!   and see only its events.

mod filter;
pub(crate) mod format;

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kawal_core::model::OrgId;
use serde_json::Value;
use stix::Timestamp;

pub use filter::{value_hash, Bloom};
pub(crate) use format::{is_identifier, is_timestamp};
pub use format::{BlockIndex, BlockMeta, ReadError, Record, StoredObject};

use format::{ReadAt, SegmentHeader, Summary};

/// The largest event (its objects as JSON) the archive takes.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// One archived event: the cyber-observables a sensor event was normalised to.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedEvent {
    pub at: Timestamp,
    pub owner: OrgId,
    /// Where the event came from (sensor, log type), as the normaliser names it.
    pub source: String,
    /// STIX 2.1 cyber-observable objects.
    pub objects: Vec<Value>,
}

/// Events as the archive stores them: their records back to back, and the filter keys of
/// their values. Encoding is most of an append's work; sources do it on their own threads,
/// a part of a batch into one buffer, so that the archive's single writer only copies bytes
/// (and frees three buffers, not two per event made on another thread).
#[derive(Debug, Clone, Default)]
pub struct EncodedEvents {
    records: Vec<u8>,
    keys: Vec<u64>,
    events: Vec<EncodedMeta>,
}

#[derive(Debug, Clone, Copy)]
struct EncodedMeta {
    at: i64,
    owner: OrgId,
    /// Where its record and its keys end in the buffers.
    record_end: usize,
    keys_end: usize,
}

/// Bytes set aside per event: a sensor event's record is a few hundred.
const RECORD_BYTES_GUESS: usize = 768;

impl EncodedEvents {
    pub fn with_capacity(events: usize) -> EncodedEvents {
        EncodedEvents {
            records: Vec::with_capacity(events * RECORD_BYTES_GUESS),
            keys: Vec::with_capacity(events * 8),
            events: Vec::with_capacity(events),
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets the events, keeping the memory for the next ones.
    pub fn clear(&mut self) {
        self.records.clear();
        self.keys.clear();
        self.events.clear();
    }

    /// Encodes one more event; one refused leaves those before it as they were.
    pub fn push(
        &mut self,
        at: Timestamp,
        owner: OrgId,
        source: &str,
        objects: &[Value],
    ) -> Result<(), ArchiveError> {
        if source.len() > usize::from(u16::MAX) {
            return Err(ArchiveError::SourceTooLong(source.len()));
        }
        if objects.len() > usize::from(u16::MAX) {
            return Err(ArchiveError::TooManyObjects(objects.len()));
        }
        let EncodedEvents {
            records,
            keys,
            events,
        } = self;
        let (record_start, keys_start) = (records.len(), keys.len());
        let at = at.as_micros();
        // A value repeated within the event is a repeated key; the block's keys are made
        // unique once, when it is written.
        format::encode_record(records, at, owner, source, objects, &mut |value| {
            keys.push(value_hash(owner, value.as_bytes()));
        });
        let record_len = records.len() - record_start;
        if record_len > MAX_EVENT_BYTES {
            records.truncate(record_start);
            keys.truncate(keys_start);
            return Err(ArchiveError::EventTooLarge(record_len));
        }
        events.push(EncodedMeta {
            at,
            owner,
            record_end: records.len(),
            keys_end: keys.len(),
        });
        Ok(())
    }

    /// Each event's time, owner, record and keys.
    fn each(&self) -> impl Iterator<Item = (i64, OrgId, &[u8], &[u64])> {
        let mut starts = (0, 0);
        self.events.iter().map(move |e| {
            let (record_start, keys_start) =
                std::mem::replace(&mut starts, (e.record_end, e.keys_end));
            (
                e.at,
                e.owner,
                &self.records[record_start..e.record_end],
                &self.keys[keys_start..e.keys_end],
            )
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Segments whose newest event is older than this are deleted.
    pub max_age: Option<Duration>,
    /// The oldest segments are deleted until the archive is no larger than this.
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// Uncompressed bytes gathered into one block: the unit hunts skip or read.
    pub block_bytes: usize,
    /// A segment is sealed once its file reaches this size.
    pub segment_bytes: u64,
    /// A segment holds events of one window of this length (by its first event).
    pub segment_window: Duration,
    pub retention: Retention,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            block_bytes: 64 << 10,
            segment_bytes: 64 << 20,
            segment_window: Duration::from_secs(3600),
            retention: Retention::default(),
        }
    }
}

impl ArchiveConfig {
    fn check(&self) -> Result<(), ArchiveError> {
        if self.block_bytes == 0 || self.block_bytes > 16 << 20 {
            return Err(ArchiveError::Config(format!(
                "block_bytes must be between 1 and {} (is {})",
                16 << 20,
                self.block_bytes
            )));
        }
        if self.segment_bytes < format::HEADER_LEN + 1 {
            return Err(ArchiveError::Config(format!(
                "segment_bytes must be larger than {} (is {})",
                format::HEADER_LEN,
                self.segment_bytes
            )));
        }
        if self.segment_window.as_micros() == 0
            || self.segment_window.as_micros() > i64::MAX as u128
        {
            return Err(ArchiveError::Config(
                "segment_window must be at least one microsecond".to_owned(),
            ));
        }
        Ok(())
    }

    fn window_micros(&self) -> i64 {
        i64::try_from(self.segment_window.as_micros()).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: ReadError },
    #[error("event source is {0} bytes long; at most 65535 are kept")]
    SourceTooLong(usize),
    #[error("event takes {0} bytes; at most {MAX_EVENT_BYTES} are kept")]
    EventTooLarge(usize),
    #[error("event has {0} objects; at most 65535 are kept")]
    TooManyObjects(usize),
    #[error("invalid archive configuration: {0}")]
    Config(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_error(path: &Path) -> impl FnOnce(ReadError) -> ArchiveError + '_ {
    move |source| match source {
        ReadError::Io(source) => ArchiveError::Io {
            path: path.to_owned(),
            source,
        },
        source => ArchiveError::Read {
            path: path.to_owned(),
            source,
        },
    }
}

/// What opening the archive found besides intact sealed segments.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Segments that were being written when the process stopped, now sealed: path, bytes
    /// dropped from the torn tail, and why reading stopped there.
    pub recovered: Vec<(PathBuf, u64, Option<String>)>,
    /// Files that are not readable segments; left in place, not used.
    pub damaged: Vec<(PathBuf, String)>,
}

/// A sealed segment as the archive keeps it in memory.
#[derive(Debug)]
struct Sealed {
    path: PathBuf,
    seq: u64,
    bytes: u64,
    summary: Summary,
    sections_crc: u32,
}

/// The segment being written.
struct Active {
    path: PathBuf,
    file: File,
    seq: u64,
    end: u64,
    blocks: Vec<BlockIndex>,
    owners: BTreeSet<OrgId>,
    /// Filter keys of the whole segment (deduplicated from time to time).
    keys: Vec<u64>,
    keys_deduplicated: usize,
}

/// The block being gathered.
#[derive(Default)]
struct Pending {
    raw: Vec<u8>,
    events: u32,
    min_at: i64,
    max_at: i64,
    owners: BTreeSet<OrgId>,
    keys: Vec<u64>,
}

struct State {
    sealed: Vec<Arc<Sealed>>,
    active: Option<Active>,
    pending: Pending,
    /// The window of the current segment: [start, end).
    window: Option<(i64, i64)>,
    next_seq: u64,
    /// Directories created since the last flush; synced by it so new files stay reachable.
    unsynced_dirs: Vec<PathBuf>,
}

/// The event archive. Appends, flushes and retention are serialised inside; hunts work on a
/// [`Snapshot`] and run alongside them.
pub struct Archive {
    dir: PathBuf,
    config: ArchiveConfig,
    state: Mutex<State>,
    report: OpenReport,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_removed: usize,
    pub bytes_removed: u64,
    pub events_removed: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveStats {
    pub segments: usize,
    pub bytes: u64,
    /// Events in blocks written to segment files (not those still gathered in memory).
    pub events: u64,
}

fn segment_path(dir: &Path, window_start: i64, seq: u64) -> PathBuf {
    let text = Timestamp::from_micros(window_start).to_string();
    // `YYYY-MM-DDTHH:…`; a year past 9999 has more digits, so split at the `T`.
    let (day, rest) = text.split_once('T').unwrap_or((text.as_str(), "00"));
    let hour = rest.get(..2).unwrap_or("00");
    dir.join(day).join(format!("{hour}-{seq:010}.seg"))
}

/// The segment files under the archive directory, by sequence number.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, ArchiveError> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    for day in fs::read_dir(dir).map_err(io_error(dir))? {
        let day = day.map_err(io_error(dir))?.path();
        if !day.is_dir() {
            continue;
        }
        for file in fs::read_dir(&day).map_err(io_error(&day))? {
            let path = file.map_err(io_error(&day))?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_seq);
            if let Some(seq) = seq {
                found.push((seq, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads what a segment holds without changing it; `None` when it holds no complete block.
fn view_segment(path: &Path, seq: u64) -> Result<Option<SegmentView>, ArchiveError> {
    let file = File::open(path).map_err(io_error(path))?;
    let size = file.size().map_err(io_error(path))?;
    if size < format::HEADER_LEN {
        return Ok(None);
    }
    let header = SegmentHeader::read(&file).map_err(read_error(path))?;
    if header.seq != seq {
        return Err(read_error(path)(ReadError::Corrupt {
            offset: 16,
            reason: format!("header names segment {}, the file name {seq}", header.seq).into(),
        }));
    }
    if let Some((summary, sections_crc)) = format::read_summary(&file).map_err(read_error(path))? {
        return Ok(Some(SegmentView {
            path: path.to_owned(),
            seq,
            bytes: size,
            events: summary.events,
            min_at: summary.min_at,
            max_at: summary.max_at,
            owners: summary.owners.clone(),
            layout: Layout::Sealed {
                summary,
                sections_crc,
            },
        }));
    }
    let recovered = format::recover(&file).map_err(read_error(path))?;
    if recovered.blocks.is_empty() {
        return Ok(None);
    }
    let blocks = recovered.blocks;
    Ok(Some(SegmentView {
        path: path.to_owned(),
        seq,
        bytes: recovered.valid_len,
        events: blocks.iter().map(|b| u64::from(b.events)).sum(),
        min_at: blocks.iter().map(|b| b.min_at).min().unwrap_or(0),
        max_at: blocks.iter().map(|b| b.max_at).max().unwrap_or(0),
        owners: recovered.owners,
        layout: Layout::Open { blocks },
    }))
}

fn parse_seq(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    let (_, seq) = stem.split_once('-')?;
    (!seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()))
        .then(|| seq.parse().ok())
        .flatten()
}

/// Writes at an offset: reads move the file's cursor, so every write says where it goes.
fn write_at(file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

fn sync_dir(path: &Path) -> Result<(), ArchiveError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_error(path))
}

impl Archive {
    /// Opens (creating it if needed) the archive in `dir`, sealing any segment a crash left
    /// open.
    pub fn open(dir: impl AsRef<Path>, config: ArchiveConfig) -> Result<Archive, ArchiveError> {
        config.check()?;
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let mut report = OpenReport::default();
        let found = list_segments(&dir)?;
        let next_seq = found.last().map_or(1, |(seq, _)| seq.saturating_add(1));
        let mut sealed = Vec::new();
        for (seq, path) in found {
            match Self::open_segment(&path, seq, &mut report) {
                Ok(Some(segment)) => sealed.push(Arc::new(segment)),
                Ok(None) => {}
                Err(ArchiveError::Read { source, .. }) => {
                    report.damaged.push((path, source.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Archive {
            dir,
            config,
            state: Mutex::new(State {
                sealed,
                active: None,
                pending: Pending::default(),
                window: None,
                next_seq,
                unsynced_dirs: Vec::new(),
            }),
            report,
        })
    }

    /// Reads a segment found on disk; seals it if a crash left it open; `None` when nothing
    /// of it was worth keeping (it is removed).
    fn open_segment(
        path: &Path,
        seq: u64,
        report: &mut OpenReport,
    ) -> Result<Option<Sealed>, ArchiveError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        let size = file.size().map_err(io_error(path))?;
        if size < format::HEADER_LEN {
            // Created, but its header never reached the disk: nothing was accepted into it.
            drop(file);
            fs::remove_file(path).map_err(io_error(path))?;
            return Ok(None);
        }
        let header = SegmentHeader::read(&file).map_err(read_error(path))?;
        if header.seq != seq {
            return Err(read_error(path)(ReadError::Corrupt {
                offset: 16,
                reason: format!("header names segment {}, the file name {seq}", header.seq).into(),
            }));
        }
        if let Some((summary, sections_crc)) =
            format::read_summary(&file).map_err(read_error(path))?
        {
            return Ok(Some(Sealed {
                path: path.to_owned(),
                seq,
                bytes: size,
                summary,
                sections_crc,
            }));
        }
        let recovered = format::recover(&file).map_err(read_error(path))?;
        report.recovered.push((
            path.to_owned(),
            size - recovered.valid_len,
            recovered.torn.as_ref().map(ToString::to_string),
        ));
        if recovered.blocks.is_empty() {
            drop(file);
            fs::remove_file(path).map_err(io_error(path))?;
            return Ok(None);
        }
        file.set_len(recovered.valid_len).map_err(io_error(path))?;
        // The blocks' keys are not kept, only their filters: the recovered segment gets an
        // "unknown" segment filter, and hunts consult its block filters.
        let owners: Vec<OrgId> = recovered.owners;
        let footer = format::encode_footer(
            recovered.valid_len,
            &recovered.blocks,
            &Bloom::unknown(),
            &owners,
        );
        write_at(&file, recovered.valid_len, &footer).map_err(io_error(path))?;
        file.sync_all().map_err(io_error(path))?;
        let (summary, sections_crc) = format::read_summary(&file)
            .map_err(read_error(path))?
            .ok_or_else(|| {
                read_error(path)(ReadError::Corrupt {
                    offset: recovered.valid_len,
                    reason: "the footer just written does not read back".into(),
                })
            })?;
        Ok(Some(Sealed {
            path: path.to_owned(),
            seq,
            bytes: file.size().map_err(io_error(path))?,
            summary,
            sections_crc,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &ArchiveConfig {
        &self.config
    }

    /// What opening found: segments recovered after a crash, files not used.
    pub fn report(&self) -> &OpenReport {
        &self.report
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the files inconsistent (every write is
        // undone on failure), so the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn append(&self, event: &ArchivedEvent) -> Result<(), ArchiveError> {
        self.append_batch(std::slice::from_ref(event))
    }

    /// Appends events; they are durable after the next successful [`Archive::flush`]. An
    /// event refused (too large, too many objects, a write that failed) stops the batch: the
    /// events before it are appended, it and those after it are not.
    pub fn append_batch(&self, events: &[ArchivedEvent]) -> Result<(), ArchiveError> {
        let mut encoded = EncodedEvents::with_capacity(events.len());
        let mut refused = None;
        for event in events {
            if let Err(e) = encoded.push(event.at, event.owner, &event.source, &event.objects) {
                refused = Some(e);
                break;
            }
        }
        self.append_encoded(&encoded)?;
        refused.map_or(Ok(()), Err)
    }

    /// Appends events encoded by their producers, so that the one writer only copies bytes;
    /// durable after the next successful [`Archive::flush`]. A write that fails stops the
    /// batch: the events before it are appended, the others are not.
    pub fn append_encoded(&self, events: &EncodedEvents) -> Result<(), ArchiveError> {
        let mut state = self.lock();
        for (at, owner, record, keys) in events.each() {
            if let Some((_, end)) = state.window {
                if at >= end {
                    self.write_pending(&mut state)?;
                    self.seal_active(&mut state)?;
                }
            }
            if state.window.is_none() {
                let width = self.config.window_micros();
                let start = at.div_euclid(width).saturating_mul(width);
                state.window = Some((start, start.saturating_add(width)));
            }
            let pending = &mut state.pending;
            pending.keys.extend_from_slice(keys);
            pending.raw.extend_from_slice(record);
            if pending.events == 0 {
                pending.min_at = at;
                pending.max_at = at;
            }
            pending.min_at = pending.min_at.min(at);
            pending.max_at = pending.max_at.max(at);
            pending.events += 1;
            pending.owners.insert(owner);
            // A block lists its owners with a 16-bit count.
            if pending.raw.len() >= self.config.block_bytes
                || pending.owners.len() >= usize::from(u16::MAX)
            {
                self.write_pending(&mut state)?;
                if state
                    .active
                    .as_ref()
                    .is_some_and(|a| a.end >= self.config.segment_bytes)
                {
                    self.seal_active(&mut state)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the gathered block and syncs: everything appended so far survives a crash.
    pub fn flush(&self) -> Result<(), ArchiveError> {
        let mut state = self.lock();
        self.write_pending(&mut state)?;
        if let Some(active) = &state.active {
            active.file.sync_data().map_err(io_error(&active.path))?;
        }
        for dir in std::mem::take(&mut state.unsynced_dirs) {
            sync_dir(&dir)?;
        }
        Ok(())
    }

    /// Flushes and seals the current segment.
    pub fn close(&self) -> Result<(), ArchiveError> {
        self.flush()?;
        let mut state = self.lock();
        self.seal_active(&mut state)?;
        state.window = None;
        Ok(())
    }

    fn create_segment(&self, state: &mut State) -> Result<(), ArchiveError> {
        let (window_start, _) = state.window.unwrap_or((state.pending.min_at, 0));
        let seq = state.next_seq;
        let path = segment_path(&self.dir, window_start, seq);
        if let Some(day) = path.parent() {
            if !day.exists() {
                fs::create_dir_all(day).map_err(io_error(day))?;
                state.unsynced_dirs.push(self.dir.clone());
            }
            state.unsynced_dirs.push(day.to_owned());
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        state.next_seq = state.next_seq.saturating_add(1);
        let header = SegmentHeader { seq, window_start };
        if let Err(e) = file.write_all(&header.encode()) {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(io_error(&path)(e));
        }
        state.active = Some(Active {
            path,
            file,
            seq,
            end: format::HEADER_LEN,
            blocks: Vec::new(),
            owners: BTreeSet::new(),
            keys: Vec::new(),
            keys_deduplicated: 0,
        });
        Ok(())
    }

    fn write_pending(&self, state: &mut State) -> Result<(), ArchiveError> {
        if state.pending.events == 0 {
            return Ok(());
        }
        if state.active.is_none() {
            self.create_segment(state)?;
        }
        let State {
            pending, active, ..
        } = state;
        let Some(active) = active.as_mut() else {
            return Ok(());
        };
        pending.keys.sort_unstable();
        pending.keys.dedup();
        let meta = BlockMeta {
            events: pending.events,
            raw_len: pending.raw.len() as u32,
            min_at: pending.min_at,
            max_at: pending.max_at,
            owners: pending.owners.iter().copied().collect(),
            filter: Bloom::build(&pending.keys),
        };
        let encoded = format::encode_block(&pending.raw, &meta).map_err(io_error(&active.path))?;
        if let Err(e) = write_at(&active.file, active.end, &encoded.frame) {
            // Cut the partial frame so that the next attempt appends after whole blocks.
            let _ = active.file.set_len(active.end);
            let _ = active.file.sync_data();
            return Err(io_error(&active.path)(e));
        }
        active.blocks.push(BlockIndex {
            offset: active.end,
            meta_len: encoded.meta_len,
            payload_len: encoded.payload_len,
            events: meta.events,
            min_at: meta.min_at,
            max_at: meta.max_at,
        });
        active.end += encoded.frame.len() as u64;
        active.owners.extend(pending.owners.iter().copied());
        active.keys.extend_from_slice(&pending.keys);
        if active.keys.len() > 2 * active.keys_deduplicated.max(1 << 16) {
            active.keys.sort_unstable();
            active.keys.dedup();
            active.keys_deduplicated = active.keys.len();
        }
        pending.raw.clear();
        pending.keys.clear();
        pending.owners.clear();
        pending.events = 0;
        Ok(())
    }

    fn seal_active(&self, state: &mut State) -> Result<(), ArchiveError> {
        let Some(active) = state.active.as_mut() else {
            state.window = None;
            return Ok(());
        };
        active.keys.sort_unstable();
        active.keys.dedup();
        let owners: Vec<OrgId> = active.owners.iter().copied().collect();
        let footer = format::encode_footer(
            active.end,
            &active.blocks,
            &Bloom::build(&active.keys),
            &owners,
        );
        let sealed =
            write_at(&active.file, active.end, &footer).and_then(|()| active.file.sync_data());
        if let Err(e) = sealed {
            let _ = active.file.set_len(active.end);
            return Err(io_error(&active.path)(e));
        }
        let path = active.path.clone();
        let (summary, sections_crc) = format::read_summary(&active.file)
            .map_err(read_error(&path))?
            .ok_or_else(|| {
                read_error(&path)(ReadError::Corrupt {
                    offset: 0,
                    reason: "the footer just written does not read back".into(),
                })
            })?;
        let segment = Sealed {
            bytes: active.end + footer.len() as u64,
            seq: active.seq,
            path,
            summary,
            sections_crc,
        };
        state.sealed.push(Arc::new(segment));
        state.active = None;
        state.window = None;
        Ok(())
    }

    /// Applies the configured retention as of `now`.
    pub fn enforce_retention(&self, now: Timestamp) -> Result<RetentionReport, ArchiveError> {
        let retention = self.config.retention.clone();
        let mut report = RetentionReport::default();
        let mut state = self.lock();
        let mut doomed: Vec<Arc<Sealed>> = Vec::new();
        if let Some(age) = retention.max_age {
            let age = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cutoff = now.as_micros().saturating_sub(age);
            let (old, kept): (Vec<_>, Vec<_>) = state
                .sealed
                .drain(..)
                .partition(|s| s.summary.max_at < cutoff);
            state.sealed = kept;
            doomed.extend(old);
        }
        if let Some(max_bytes) = retention.max_bytes {
            let active = state.active.as_ref().map_or(0, |a| a.end);
            let mut total: u64 = state.sealed.iter().map(|s| s.bytes).sum::<u64>() + active;
            let mut by_age: Vec<Arc<Sealed>> = std::mem::take(&mut state.sealed);
            by_age.sort_by_key(|s| (s.summary.max_at, s.seq));
            let mut kept = Vec::new();
            for segment in by_age {
                if total > max_bytes {
                    total -= segment.bytes;
                    doomed.push(segment);
                } else {
                    kept.push(segment);
                }
            }
            kept.sort_by_key(|s| s.seq);
            state.sealed = kept;
        }
        drop(state);
        for segment in doomed {
            match fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Keep listing it: it is still on disk.
                    let mut state = self.lock();
                    state.sealed.push(segment.clone());
                    state.sealed.sort_by_key(|s| s.seq);
                    return Err(io_error(&segment.path)(e));
                }
            }
            report.segments_removed += 1;
            report.bytes_removed += segment.bytes;
            report.events_removed += segment.summary.events;
            if let Some(day) = segment.path.parent() {
                // Fails while other segments remain in the day's directory, as it should.
                let _ = fs::remove_dir(day);
            }
        }
        Ok(report)
    }

    /// Applies the configured retention as of the current time.
    pub fn enforce_retention_now(&self) -> Result<RetentionReport, ArchiveError> {
        self.enforce_retention(Timestamp::now())
    }

    pub fn stats(&self) -> ArchiveStats {
        let state = self.lock();
        let mut stats = ArchiveStats {
            segments: state.sealed.len(),
            bytes: state.sealed.iter().map(|s| s.bytes).sum(),
            events: state.sealed.iter().map(|s| s.summary.events).sum(),
        };
        if let Some(active) = &state.active {
            stats.segments += 1;
            stats.bytes += active.end;
            stats.events += active
                .blocks
                .iter()
                .map(|b| u64::from(b.events))
                .sum::<u64>();
        }
        stats
    }

    /// The segments as they are now: every block written so far (an unflushed block is not
    /// included; call [`Archive::flush`] first to see everything appended).
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let mut segments: Vec<SegmentView> = state
            .sealed
            .iter()
            .map(|s| SegmentView {
                path: s.path.clone(),
                seq: s.seq,
                bytes: s.bytes,
                events: s.summary.events,
                min_at: s.summary.min_at,
                max_at: s.summary.max_at,
                owners: s.summary.owners.clone(),
                layout: Layout::Sealed {
                    summary: s.summary.clone(),
                    sections_crc: s.sections_crc,
                },
            })
            .collect();
        if let Some(active) = state.active.as_ref().filter(|a| !a.blocks.is_empty()) {
            segments.push(SegmentView {
                path: active.path.clone(),
                seq: active.seq,
                bytes: active.end,
                events: active.blocks.iter().map(|b| u64::from(b.events)).sum(),
                min_at: active.blocks.iter().map(|b| b.min_at).min().unwrap_or(0),
                max_at: active.blocks.iter().map(|b| b.max_at).max().unwrap_or(0),
                owners: active.owners.iter().copied().collect(),
                layout: Layout::Open {
                    blocks: active.blocks.clone(),
                },
            });
        }
        segments.sort_by_key(|s| s.seq);
        Snapshot { segments }
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        // Best effort: an error here has nobody to go to, and a crash is recovered from anyway.
        let _ = self.close();
    }
}

/// Decodes the objects of a record whose type `wanted` accepts.
pub fn decode_objects(
    record: &Record<'_>,
    mut wanted: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<Value>, serde_json::Error> {
    let mut objects = Vec::with_capacity(record.object_count());
    for object in record.objects() {
        if wanted(object.object_type) {
            objects.push(serde_json::from_slice(object.json)?);
        }
    }
    Ok(objects)
}

/// Where an event is in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventRef {
    pub segment: u64,
    /// Offset of the event's block in the segment file.
    pub block: u64,
    /// Position of the event in its block.
    pub index: u32,
}

impl EventRef {
    pub(crate) fn encode(&self) -> String {
        format!("{}:{}:{}", self.segment, self.block, self.index)
    }

    pub(crate) fn decode(text: &str) -> Option<EventRef> {
        let mut parts = text.split(':');
        let event = EventRef {
            segment: parts.next()?.parse().ok()?,
            block: parts.next()?.parse().ok()?,
            index: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(event)
    }
}

/// Which events a read or a hunt covers: one organisation's, in `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub owner: OrgId,
    pub since: Timestamp,
    pub until: Timestamp,
}

impl Scope {
    /// The organisation's events of the last `window` before `now`: what a retro-hunt for a
    /// new indicator covers.
    pub fn recent(owner: OrgId, now: Timestamp, window: Duration) -> Scope {
        let micros = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        Scope {
            owner,
            since: Timestamp::from_micros(now.as_micros().saturating_sub(micros)),
            until: Timestamp::from_micros(now.as_micros().saturating_add(1)),
        }
    }

    pub fn overlaps(&self, min_at: i64, max_at: i64) -> bool {
        min_at < self.until.as_micros() && max_at >= self.since.as_micros()
    }

    pub fn contains(&self, owner: OrgId, at: i64) -> bool {
        owner == self.owner && at >= self.since.as_micros() && at < self.until.as_micros()
    }
}

#[derive(Debug, Clone)]
enum Layout {
    Sealed { summary: Summary, sections_crc: u32 },
    Open { blocks: Vec<BlockIndex> },
}

/// One segment as a snapshot saw it.
#[derive(Debug, Clone)]
pub struct SegmentView {
    pub path: PathBuf,
    pub seq: u64,
    pub bytes: u64,
    pub events: u64,
    pub min_at: i64,
    pub max_at: i64,
    /// Sorted.
    pub owners: Vec<OrgId>,
    layout: Layout,
}

impl SegmentView {
    /// Whether the segment may hold events of the scope.
    pub fn may_hold(&self, scope: &Scope) -> bool {
        scope.overlaps(self.min_at, self.max_at) && self.owners.binary_search(&scope.owner).is_ok()
    }

    /// Opens the segment for reading its blocks.
    pub fn open(&self) -> Result<SegmentReader, ArchiveError> {
        let file = File::open(&self.path).map_err(io_error(&self.path))?;
        let size = file.size().map_err(io_error(&self.path))?;
        let (blocks, filter) = match &self.layout {
            Layout::Sealed {
                summary,
                sections_crc,
            } => {
                let (blocks, filter) = format::read_index(&file, summary, *sections_crc)
                    .map_err(read_error(&self.path))?;
                (blocks, Some(filter))
            }
            Layout::Open { blocks } => (blocks.clone(), None),
        };
        Ok(SegmentReader {
            path: self.path.clone(),
            file,
            size,
            blocks,
            filter,
        })
    }
}

/// A segment opened for reading.
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    size: u64,
    blocks: Vec<BlockIndex>,
    filter: Option<Bloom>,
}

impl SegmentReader {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn blocks(&self) -> &[BlockIndex] {
        &self.blocks
    }

    /// The filter of the whole segment; `None` while the segment is being written, and an
    /// "unknown" filter (everything may be present) for a segment recovered after a crash.
    pub fn filter(&self) -> Option<&Bloom> {
        self.filter.as_ref()
    }

    /// A block's owners and value filter.
    pub fn meta(&self, block: &BlockIndex) -> Result<BlockMeta, ArchiveError> {
        format::read_meta(&self.file, block, self.size).map_err(read_error(&self.path))
    }

    /// Reads, checks and decompresses a block into `raw`; returns its meta.
    pub fn read_block(
        &self,
        block: &BlockIndex,
        raw: &mut Vec<u8>,
    ) -> Result<BlockMeta, ArchiveError> {
        let frame = format::read_indexed_frame(&self.file, block, self.size)
            .map_err(read_error(&self.path))?;
        frame.decompress(raw).map_err(read_error(&self.path))?;
        Ok(frame.meta)
    }

    /// The records of a block read by [`SegmentReader::read_block`].
    pub fn records<'a>(
        &'a self,
        block: &BlockIndex,
        raw: &'a [u8],
    ) -> impl Iterator<Item = Result<Record<'a>, ArchiveError>> + 'a {
        let base = block.offset + format::FRAME_HEADER_LEN + u64::from(block.meta_len);
        format::records(raw, base).map(move |r| r.map_err(read_error(&self.path)))
    }
}

/// The archive's segments at one moment, in the order they were written.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub segments: Vec<SegmentView>,
}

impl Snapshot {
    /// The segments in `dir` as they are on disk, changing nothing: how a process other than
    /// the one writing (the command line while the server runs) reads the archive. A segment
    /// still being written is read up to its last complete block; files that are not readable
    /// segments are listed in the report and left out.
    pub fn load(dir: impl AsRef<Path>) -> Result<(Snapshot, OpenReport), ArchiveError> {
        let dir = dir.as_ref();
        let mut report = OpenReport::default();
        let mut segments = Vec::new();
        for (seq, path) in list_segments(dir)? {
            match view_segment(&path, seq) {
                Ok(Some(view)) => segments.push(view),
                Ok(None) => {}
                // Deleted by the writer's retention since the directory was listed.
                Err(ArchiveError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound => {}
                Err(ArchiveError::Read { source, .. }) => {
                    report.damaged.push((path, source.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((Snapshot { segments }, report))
    }

    /// Calls `visit` with every event of the scope, in archive order, decoding each; stops at
    /// the first damaged block with its error.
    pub fn read(
        &self,
        scope: &Scope,
        mut visit: impl FnMut(ArchivedEvent) -> ControlFlow<()>,
    ) -> Result<(), ArchiveError> {
        let mut raw = Vec::new();
        for segment in self.segments.iter().filter(|s| s.may_hold(scope)) {
            let reader = segment.open()?;
            for block in reader.blocks() {
                if !scope.overlaps(block.min_at, block.max_at) {
                    continue;
                }
                let meta = reader.read_block(block, &mut raw)?;
                if meta.owners.binary_search(&scope.owner).is_err() {
                    continue;
                }
                for record in reader.records(block, &raw) {
                    let record = record?;
                    if !scope.contains(record.owner, record.at) {
                        continue;
                    }
                    let objects =
                        decode_objects(&record, |_| true).map_err(|e| ArchiveError::Read {
                            path: reader.path().to_owned(),
                            source: ReadError::Corrupt {
                                offset: block.offset,
                                reason: format!("event objects are not JSON: {e}").into(),
                            },
                        })?;
                    let event = ArchivedEvent {
                        at: Timestamp::from_micros(record.at),
                        owner: record.owner,
                        source: record.source.to_owned(),
                        objects,
                    };
                    if visit(event).is_break() {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The event at `at`, if it is there and belongs to `owner`: for instance each event of a
    /// hunt hit that spans several.
    pub fn event(
        &self,
        owner: OrgId,
        at: &EventRef,
    ) -> Result<Option<ArchivedEvent>, ArchiveError> {
        let Some(segment) = self.segments.iter().find(|s| s.seq == at.segment) else {
            return Ok(None);
        };
        if segment.owners.binary_search(&owner).is_err() {
            return Ok(None);
        }
        let reader = segment.open()?;
        let Some(block) = reader.blocks().iter().find(|b| b.offset == at.block) else {
            return Ok(None);
        };
        let mut raw = Vec::new();
        reader.read_block(block, &mut raw)?;
        let Some(record) = reader.records(block, &raw).nth(at.index as usize) else {
            return Ok(None);
        };
        let record = record?;
        if record.owner != owner {
            return Ok(None);
        }
        let objects = decode_objects(&record, |_| true).map_err(|e| ArchiveError::Read {
            path: reader.path().to_owned(),
            source: ReadError::Corrupt {
                offset: block.offset,
                reason: format!("event objects are not JSON: {e}").into(),
            },
        })?;
        Ok(Some(ArchivedEvent {
            at: Timestamp::from_micros(record.at),
            owner: record.owner,
            source: record.source.to_owned(),
            objects,
        }))
    }
}
