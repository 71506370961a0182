//! Hunting: STIX patterns or indicators run over the archive, for one organisation, between two
//! instants.
//!
//! A [`Hunter`] holds the patterns. Matching is the matcher's (`IndicatorSet`), so a hunt
//! finds what live matching would have found on the same events; the hunter only decides
//! which events need matching at all:
//!
//! 1. segments and blocks outside the time range, or without events of the organisation, are
//!    not read;
//! 2. when every pattern needs one of a few whole values (see `needles`), segments and blocks
//!    whose value filter holds none of them are not read;
//! 3. in a block that is read, the needles are looked for in the decompressed bytes; only
//!    events containing, for some pattern, a needle of each of its clauses are decoded and
//!    matched;
//! 4. when no comparison follows a reference, only the objects of the types the patterns name
//!    are decoded, and of those only the properties the comparisons read (see `project`).
//!
//! Patterns over several observations (`FOLLOWEDBY`, `REPEATS`, `WITHIN`, `AND` and `OR`
//! between observations) keep state from event to event, so every event in scope is matched
//! against them, in archive order; they disable steps 2 and 3 for the hunt. A hunt reads a
//! [`Snapshot`]: events appended after it was taken are not seen.
//!
//! A retro-hunt for an indicator that just arrived:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::ops::ControlFlow;
//! use std::time::Duration;
//! use detect::{Archive, ArchiveConfig, ArchivedEvent, HuntHit, Hunter, Scope};
//! use stix::Timestamp;
//!
//! let dir = tempfile::tempdir()?;
//! let archive = Archive::open(dir.path().join("archive"), ArchiveConfig::default())?;
//! let now = Timestamp::now();
//! archive.append(&ArchivedEvent {
//!     at: now,
//!     owner: 7,
//!     source: "zeek:dns".to_owned(),
//!     objects: vec![serde_json::json!({"type": "domain-name", "value": "c2.example"})],
//! })?;
//! archive.flush()?;
//!
//! let mut hunter = Hunter::new();
//! hunter.add_indicator(
//!     "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
//!     "[domain-name:value = 'c2.example']",
//!     None,
//!     None,
//! )?;
//! let scope = Scope::recent(7, now, Duration::from_secs(7 * 86_400));
//! let mut alerts = Vec::new();
//! let summary = hunter.run(&archive.snapshot(), &scope, &mut |hit: HuntHit| {
//!     alerts.push(hit);
//!     ControlFlow::Continue(())
//! })?;
//! assert_eq!(alerts.len(), 1);
//! assert_eq!(summary.progress.fraction(), 1.0);
//! # Ok(())
//! # }
//! ```

mod needles;
mod project;
pub mod when;

use std::collections::HashMap;
use std::io;
use std::ops::ControlFlow;
use std::path::PathBuf;

use aho_corasick::AhoCorasick;
use matcher::{CmpExpr, IndicatorSet, ObsExpr, Observation};
use memchr::memmem;
use pattern::PathStep;
use serde_json::Value;
use stix::Timestamp;

pub use crate::archive::EventRef;
use crate::archive::{decode_objects, value_hash, ArchiveError, Bloom, Record, Scope, Snapshot};

pub use needles::{requirements, Clause, Needle};
use project::Projection;

/// More filter keys than this and a filter would let nearly every block through anyway.
const MAX_FILTER_KEYS: usize = 64;
/// Up to this many needles are sought one by one; more go into one automaton.
const MAX_SINGLE_NEEDLES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    #[error("pattern {index}: {source}")]
    Pattern {
        index: usize,
        source: Box<matcher::PatternError>,
    },
    #[error("pattern {index}: {source}")]
    Indicator {
        index: usize,
        source: Box<matcher::IndicatorError>,
    },
    #[error("cannot build the needle search: {0}")]
    Search(String),
}

/// A pattern matched archived events.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntHit {
    /// Which of the hunter's patterns, in the order they were added.
    pub pattern: usize,
    /// The indicator's id, for patterns added as indicators.
    pub indicator: Option<String>,
    /// The event that completed the match.
    pub at: Timestamp,
    pub source: String,
    pub objects: Vec<Value>,
    /// Every event of the match (one, unless the pattern spans several observations).
    pub events: Vec<EventRef>,
}

/// How far a hunt has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub segments_done: usize,
    pub segments_total: usize,
    pub hits: u64,
}

impl Progress {
    /// Done, from 0 to 1, by bytes of the segments in scope.
    pub fn fraction(&self) -> f64 {
        if self.bytes_total == 0 {
            1.0
        } else {
            (self.bytes_done as f64 / self.bytes_total as f64).min(1.0)
        }
    }
}

/// Where a hunt sends what it finds. Returning `Break` from either method cancels the hunt.
pub trait HuntSink {
    fn hit(&mut self, hit: HuntHit) -> ControlFlow<()>;

    /// Called after each block and each segment.
    fn progress(&mut self, _progress: &Progress) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl<F: FnMut(HuntHit) -> ControlFlow<()>> HuntSink for F {
    fn hit(&mut self, hit: HuntHit) -> ControlFlow<()> {
        self(hit)
    }
}

/// A segment or block the hunt could not read; the hunt went on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HuntSummary {
    pub progress: Progress,
    pub segments_skipped: usize,
    /// Segments deleted by retention after the snapshot was taken.
    pub segments_removed: usize,
    pub blocks_read: u64,
    pub blocks_skipped: u64,
    /// Events of the organisation in the time range, in the blocks read.
    pub events_in_scope: u64,
    /// Events decoded and matched.
    pub events_matched: u64,
    pub hits: u64,
    pub cancelled: bool,
    pub damaged: Vec<Damage>,
}

struct Definition {
    indicator: Option<String>,
    pattern: String,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
    /// `None`: spans several observations.
    clauses: Option<Vec<Vec<u32>>>,
    /// The most selective of the clauses.
    designated: usize,
    /// The object types and first properties the pattern's comparisons read.
    reads: Vec<(String, Option<String>)>,
    /// Whether some comparison follows a `_ref` or `_refs` property to another object.
    follows_refs: bool,
}

/// What a pattern reads of an event: per comparison, the object type and the first property
/// of its path (`None` when the path starts otherwise); and whether some path follows a
/// reference to another object.
fn shape(expr: &ObsExpr, reads: &mut Vec<(String, Option<String>)>, follows_refs: &mut bool) {
    fn comparison(
        expr: &CmpExpr,
        reads: &mut Vec<(String, Option<String>)>,
        follows_refs: &mut bool,
    ) {
        match expr {
            CmpExpr::Test(test) => {
                let first = match test.steps.first() {
                    Some(PathStep::Key(k)) => Some(k.clone()),
                    _ => None,
                };
                reads.push((test.object_type.clone(), first));
                *follows_refs |= test.steps.iter().any(
                    |s| matches!(s, PathStep::Key(k) if k.ends_with("_ref") || k.ends_with("_refs")),
                );
            }
            CmpExpr::And(parts) | CmpExpr::Or(parts) => parts
                .iter()
                .for_each(|p| comparison(p, reads, follows_refs)),
        }
    }
    match expr {
        ObsExpr::Leaf(cmp) => comparison(cmp, reads, follows_refs),
        ObsExpr::And(parts) | ObsExpr::Or(parts) | ObsExpr::FollowedBy(parts) => {
            parts.iter().for_each(|p| shape(p, reads, follows_refs))
        }
        ObsExpr::Within(inner, _)
        | ObsExpr::Repeats(inner, _)
        | ObsExpr::StartStop(inner, _, _) => shape(inner, reads, follows_refs),
    }
}

/// The patterns of a hunt, ready to run over snapshots of the archive.
#[derive(Default)]
pub struct Hunter {
    definitions: Vec<Definition>,
    needles: Vec<Needle>,
    needle_ids: HashMap<Needle, u32>,
}

/// The indicator id a pattern gets inside the hunt's indicator sets: its index in the hunter,
/// in the last twelve digits.
fn internal_id(index: usize) -> String {
    format!("indicator--00000000-0000-4000-8000-{index:012x}")
}

fn index_of(internal: &str) -> Option<usize> {
    let tail = internal.get(internal.len().checked_sub(12)?..)?;
    usize::from_str_radix(tail, 16).ok()
}

impl Hunter {
    pub fn new() -> Hunter {
        Hunter::default()
    }

    pub fn len(&self) -> usize {
        self.definitions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.definitions.is_empty()
    }

    /// Adds an ad-hoc pattern; its hits carry no indicator id.
    pub fn add_pattern(&mut self, pattern: &str) -> Result<usize, HuntError> {
        self.add(None, pattern, None, None)
    }

    /// Adds an indicator: its hits carry its id, and only events in its validity window
    /// (`valid_from` inclusive, `valid_until` exclusive) match it, as in live matching.
    pub fn add_indicator(
        &mut self,
        id: &str,
        pattern: &str,
        valid_from: Option<Timestamp>,
        valid_until: Option<Timestamp>,
    ) -> Result<usize, HuntError> {
        self.add(Some(id.to_owned()), pattern, valid_from, valid_until)
    }

    fn add(
        &mut self,
        indicator: Option<String>,
        pattern: &str,
        valid_from: Option<Timestamp>,
        valid_until: Option<Timestamp>,
    ) -> Result<usize, HuntError> {
        let index = self.definitions.len();
        let prepared = matcher::prepare(pattern).map_err(|source| HuntError::Pattern {
            index,
            source: Box::new(source),
        })?;
        // Checked here so that a hunt never fails half-way on a pattern the set refuses.
        IndicatorSet::new()
            .insert(&internal_id(index), pattern, valid_from, valid_until)
            .map_err(|source| HuntError::Indicator {
                index,
                source: Box::new(source),
            })?;
        let (clauses, designated) = match requirements(&prepared) {
            Some(clauses) => {
                let designated = needles::most_selective(&clauses)
                    .and_then(|best| clauses.iter().position(|c| c == best))
                    .unwrap_or(0);
                let ids = clauses
                    .into_iter()
                    .map(|clause| clause.into_iter().map(|n| self.needle_id(n)).collect())
                    .collect();
                (Some(ids), designated)
            }
            None => (None, 0),
        };
        let (mut reads, mut follows_refs) = (Vec::new(), false);
        shape(prepared.expr(), &mut reads, &mut follows_refs);
        self.definitions.push(Definition {
            indicator,
            pattern: pattern.to_owned(),
            valid_from,
            valid_until,
            clauses,
            designated,
            reads,
            follows_refs,
        });
        Ok(index)
    }

    fn needle_id(&mut self, needle: Needle) -> u32 {
        if let Some(&id) = self.needle_ids.get(&needle) {
            return id;
        }
        let id = self.needles.len() as u32;
        self.needles.push(needle.clone());
        self.needle_ids.insert(needle, id);
        id
    }

    /// Runs the patterns over the events of `scope` in `snapshot`.
    pub fn run(
        &self,
        snapshot: &Snapshot,
        scope: &Scope,
        sink: &mut dyn HuntSink,
    ) -> Result<HuntSummary, HuntError> {
        let mut run = Run::new(self, scope)?;
        run.segments(snapshot, sink);
        Ok(run.summary)
    }
}

/// The needles of a hunt, sought in decompressed blocks.
enum Searcher {
    Single(Vec<memmem::Finder<'static>>),
    Automaton(AhoCorasick),
}

impl Searcher {
    fn new(needles: &[&Needle]) -> Result<Searcher, HuntError> {
        let bytes: Vec<Vec<u8>> = needles.iter().map(|n| n.bytes()).collect();
        if bytes.len() <= MAX_SINGLE_NEEDLES {
            Ok(Searcher::Single(
                bytes
                    .iter()
                    .map(|b| memmem::Finder::new(b).into_owned())
                    .collect(),
            ))
        } else {
            AhoCorasick::new(&bytes)
                .map(Searcher::Automaton)
                .map_err(|e| HuntError::Search(e.to_string()))
        }
    }

    /// Calls `found(needle, position)` for every occurrence.
    fn find(&self, haystack: &[u8], mut found: impl FnMut(u32, usize)) {
        match self {
            Searcher::Single(finders) => {
                for (id, finder) in finders.iter().enumerate() {
                    for position in finder.find_iter(haystack) {
                        found(id as u32, position);
                    }
                }
            }
            Searcher::Automaton(ac) => {
                for m in ac.find_overlapping_iter(haystack) {
                    found(m.pattern().as_u32(), m.start());
                }
            }
        }
    }
}

struct Run<'h> {
    hunter: &'h Hunter,
    scope: Scope,
    /// Patterns decided on one event, and those that keep state.
    single: IndicatorSet,
    temporal: Option<IndicatorSet>,
    any_single: bool,
    /// Looks for the needles of the patterns' most selective clauses across a whole block;
    /// its matches are indexes into `designated`.
    searcher: Option<Searcher>,
    designated: Vec<u32>,
    /// Every needle, sought inside one record once a designated needle was found there.
    finders: Vec<memmem::Finder<'static>>,
    /// Single-event patterns by the needles of their most selective clause: a pattern can
    /// pass only through one of these.
    by_needle: Vec<Vec<usize>>,
    always: bool,
    /// Filter keys one of which a block must hold for a single-event pattern to match in it;
    /// `None` when filters cannot decide.
    filter_keys: Option<Vec<u64>>,
    /// What to decode of an event, when no pattern follows references (see `project`).
    projection: Option<Projection>,
    summary: HuntSummary,
    raw: Vec<u8>,
}

impl<'h> Run<'h> {
    fn new(hunter: &'h Hunter, scope: &Scope) -> Result<Run<'h>, HuntError> {
        let mut single = IndicatorSet::new();
        let mut temporal = IndicatorSet::new();
        let mut by_needle = vec![Vec::new(); hunter.needles.len()];
        let mut designated: Vec<u32> = Vec::new();
        // A single-event pattern with no clause at all is evaluated on every event.
        let mut always = false;
        for (index, d) in hunter.definitions.iter().enumerate() {
            let set = if d.clauses.is_some() {
                &mut single
            } else {
                &mut temporal
            };
            set.insert(&internal_id(index), &d.pattern, d.valid_from, d.valid_until)
                .map_err(|source| HuntError::Indicator {
                    index,
                    source: Box::new(source),
                })?;
            if let Some(clauses) = d.clauses.as_ref() {
                match clauses.get(d.designated) {
                    Some(best) => {
                        for &n in best {
                            by_needle[n as usize].push(index);
                            designated.push(n);
                        }
                    }
                    None => always = true,
                }
            }
        }
        designated.sort_unstable();
        designated.dedup();
        let any_single = !single.is_empty();
        let temporal = (!temporal.is_empty()).then_some(temporal);
        let filter_keys = if always || temporal.is_some() || designated.len() > MAX_FILTER_KEYS {
            None
        } else {
            designated
                .iter()
                .map(|&n| {
                    hunter.needles[n as usize]
                        .filter_value()
                        .map(|v| value_hash(scope.owner, v.as_bytes()))
                })
                .collect()
        };
        let projection = if hunter.definitions.iter().any(|d| d.follows_refs) {
            None
        } else {
            let mut projection = Projection::default();
            for (object_type, key) in hunter.definitions.iter().flat_map(|d| &d.reads) {
                projection.read(object_type, key.as_deref());
            }
            Some(projection)
        };
        let searcher = if any_single {
            let needles: Vec<&Needle> = designated
                .iter()
                .map(|&n| &hunter.needles[n as usize])
                .collect();
            Some(Searcher::new(&needles)?)
        } else {
            None
        };
        let finders = hunter
            .needles
            .iter()
            .map(|n| memmem::Finder::new(&n.bytes()).into_owned())
            .collect();
        Ok(Run {
            hunter,
            scope: *scope,
            single,
            temporal,
            any_single,
            searcher,
            designated,
            finders,
            by_needle,
            always,
            filter_keys,
            projection,
            summary: HuntSummary::default(),
            raw: Vec::new(),
        })
    }

    fn filter_allows(&self, filter: &Bloom) -> bool {
        match &self.filter_keys {
            Some(keys) => keys.iter().any(|&k| filter.may_contain(k)),
            None => true,
        }
    }

    fn damage(&mut self, path: PathBuf, reason: impl ToString) {
        self.summary.damaged.push(Damage {
            path,
            reason: reason.to_string(),
        });
    }

    fn report(&mut self, sink: &mut dyn HuntSink) -> ControlFlow<()> {
        self.summary.progress.hits = self.summary.hits;
        let flow = sink.progress(&self.summary.progress);
        if flow.is_break() {
            self.summary.cancelled = true;
        }
        flow
    }

    fn segments(&mut self, snapshot: &Snapshot, sink: &mut dyn HuntSink) {
        let scope = self.scope;
        let in_range: Vec<_> = snapshot
            .segments
            .iter()
            .filter(|s| scope.overlaps(s.min_at, s.max_at))
            .collect();
        self.summary.progress.segments_total = in_range.len();
        self.summary.progress.bytes_total = in_range.iter().map(|s| s.bytes).sum();
        if self.hunter.is_empty() || scope.since >= scope.until {
            self.summary.segments_skipped = in_range.len();
            self.summary.progress.segments_done = in_range.len();
            self.summary.progress.bytes_done = self.summary.progress.bytes_total;
            let _ = self.report(sink);
            return;
        }
        let mut bytes_before = 0;
        for segment in in_range {
            let flow = if segment.may_hold(&scope) {
                self.segment(segment, bytes_before, sink)
            } else {
                self.summary.segments_skipped += 1;
                ControlFlow::Continue(())
            };
            bytes_before += segment.bytes;
            self.summary.progress.bytes_done = bytes_before;
            self.summary.progress.segments_done += 1;
            if flow.is_break() || self.report(sink).is_break() {
                self.summary.cancelled = true;
                return;
            }
        }
    }

    fn segment(
        &mut self,
        segment: &crate::archive::SegmentView,
        bytes_before: u64,
        sink: &mut dyn HuntSink,
    ) -> ControlFlow<()> {
        let reader = match segment.open() {
            Ok(reader) => reader,
            Err(ArchiveError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                self.summary.segments_removed += 1;
                return ControlFlow::Continue(());
            }
            Err(e) => {
                self.damage(segment.path.clone(), e);
                return ControlFlow::Continue(());
            }
        };
        if let Some(filter) = reader.filter() {
            if !self.filter_allows(filter) {
                self.summary.segments_skipped += 1;
                return ControlFlow::Continue(());
            }
        }
        let mut raw = std::mem::take(&mut self.raw);
        let mut flow = ControlFlow::Continue(());
        for block in reader.blocks() {
            let done = block.offset + block.frame_len();
            let step = self.block(&reader, segment.seq, block, &mut raw, sink);
            self.summary.progress.bytes_done = bytes_before + done;
            if step.is_break() || self.report(sink).is_break() {
                flow = ControlFlow::Break(());
                break;
            }
        }
        self.raw = raw;
        flow
    }

    fn block(
        &mut self,
        reader: &crate::archive::SegmentReader,
        seq: u64,
        block: &crate::archive::BlockIndex,
        raw: &mut Vec<u8>,
        sink: &mut dyn HuntSink,
    ) -> ControlFlow<()> {
        let scope = self.scope;
        if !scope.overlaps(block.min_at, block.max_at) {
            self.summary.blocks_skipped += 1;
            return ControlFlow::Continue(());
        }
        if self.filter_keys.is_some() {
            let meta = match reader.meta(block) {
                Ok(meta) => meta,
                Err(e) => {
                    self.damage(reader.path().to_owned(), e);
                    return ControlFlow::Continue(());
                }
            };
            if meta.owners.binary_search(&scope.owner).is_err() || !self.filter_allows(&meta.filter)
            {
                self.summary.blocks_skipped += 1;
                return ControlFlow::Continue(());
            }
        }
        let meta = match reader.read_block(block, raw) {
            Ok(meta) => meta,
            Err(e) => {
                self.damage(reader.path().to_owned(), e);
                return ControlFlow::Continue(());
            }
        };
        if meta.owners.binary_search(&scope.owner).is_err() {
            self.summary.blocks_skipped += 1;
            return ControlFlow::Continue(());
        }
        self.summary.blocks_read += 1;
        let records: Result<Vec<Record<'_>>, _> = reader.records(block, raw).collect();
        let records = match records {
            Ok(records) => records,
            Err(e) => {
                self.damage(reader.path().to_owned(), e);
                return ControlFlow::Continue(());
            }
        };
        let candidates = self.candidates(raw, &records);
        for (index, record) in records.iter().enumerate() {
            if !scope.contains(record.owner, record.at) {
                continue;
            }
            self.summary.events_in_scope += 1;
            let single = candidates.get(index).copied().unwrap_or(false);
            if !single && self.temporal.is_none() {
                continue;
            }
            let event = EventRef {
                segment: seq,
                block: block.offset,
                index: index as u32,
            };
            if self
                .match_event(reader, record, event, single, sink)
                .is_break()
            {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Which records some single-event pattern may match, by the needles they contain: the
    /// designated needles are sought across the block, the others only inside the records
    /// where a designated one was found.
    fn candidates(&self, raw: &[u8], records: &[Record<'_>]) -> Vec<bool> {
        let mut candidates = vec![self.always && self.any_single; records.len()];
        if self.always {
            return candidates;
        }
        let Some(searcher) = self.searcher.as_ref().filter(|_| self.any_single) else {
            return candidates;
        };
        let mut found: Vec<(usize, u32)> = Vec::new();
        searcher.find(raw, |index, position| {
            // The record holding the position: the last one starting at or before it.
            let record = records.partition_point(|r| r.start <= position);
            if let (Some(record), Some(&needle)) =
                (record.checked_sub(1), self.designated.get(index as usize))
            {
                found.push((record, needle));
            }
        });
        found.sort_unstable();
        found.dedup();
        let mut rest = found.as_slice();
        let mut checked: Vec<(u32, bool)> = Vec::new();
        while let Some(&(record, _)) = rest.first() {
            let len = rest.iter().take_while(|(r, _)| *r == record).count();
            let (these, after) = rest.split_at(len);
            rest = after;
            let this = &records[record];
            if !self.scope.contains(this.owner, this.at) {
                continue;
            }
            let end = records.get(record + 1).map_or(raw.len(), |next| next.start);
            let bytes = raw.get(this.start..end).unwrap_or_default();
            checked.clear();
            let mut present = |needle: u32| {
                if these.binary_search(&(record, needle)).is_ok() {
                    return true;
                }
                if let Some(&(_, known)) = checked.iter().find(|(n, _)| *n == needle) {
                    return known;
                }
                let known = self
                    .finders
                    .get(needle as usize)
                    .is_some_and(|f| f.find(bytes).is_some());
                checked.push((needle, known));
                known
            };
            candidates[record] = these.iter().any(|&(_, needle)| {
                self.by_needle[needle as usize].iter().any(|&pattern| {
                    self.hunter.definitions[pattern]
                        .clauses
                        .as_ref()
                        .is_some_and(|clauses| {
                            clauses.iter().all(|c| c.iter().any(|&n| present(n)))
                        })
                })
            });
        }
        candidates
    }

    fn match_event(
        &mut self,
        reader: &crate::archive::SegmentReader,
        record: &Record<'_>,
        event: EventRef,
        single: bool,
        sink: &mut dyn HuntSink,
    ) -> ControlFlow<()> {
        let decoded = match &self.projection {
            Some(projection) => projection.decode(record),
            None => decode_objects(record, |_| true),
        };
        let objects = match decoded {
            Ok(objects) if objects.is_empty() => return ControlFlow::Continue(()),
            Ok(objects) => objects,
            Err(e) => {
                self.damage(
                    reader.path().to_owned(),
                    format!(
                        "event {} of block at byte {}: objects are not JSON: {e}",
                        event.index, event.block
                    ),
                );
                return ControlFlow::Continue(());
            }
        };
        self.summary.events_matched += 1;
        let at = Timestamp::from_micros(record.at);
        let mut observation = Observation::of_objects(objects, at);
        let mut hits = Vec::new();
        if single {
            hits.extend(self.single.match_observation(&observation));
        }
        if let Some(temporal) = self.temporal.as_mut() {
            observation.id = Some(event.encode());
            hits.extend(temporal.match_observation(&observation));
        }
        for hit in hits {
            let Some(pattern) = index_of(&hit.indicator) else {
                continue;
            };
            let mut events: Vec<EventRef> = hit
                .observations
                .iter()
                .filter_map(|o| o.as_deref().and_then(EventRef::decode))
                .collect();
            if events.is_empty() {
                events.push(event);
            }
            self.summary.hits += 1;
            let found = HuntHit {
                pattern,
                indicator: self
                    .hunter
                    .definitions
                    .get(pattern)
                    .and_then(|d| d.indicator.clone()),
                at,
                source: record.source.to_owned(),
                objects: match self.projection {
                    // Only some objects were decoded; a hit reports them all.
                    Some(_) => decode_objects(record, |_| true).unwrap_or_default(),
                    None => observation.objects().to_vec(),
                },
                events,
            };
            if sink.hit(found).is_break() {
                self.summary.cancelled = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}
