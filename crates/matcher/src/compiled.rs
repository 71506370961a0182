//! Many indicators compiled into shared indexes.
//!
//! Every indicator is reduced to *anchors*: conditions on one value at one object path that
//! must hold somewhere in an event for the indicator to match it. Anchors live in indexes
//! shared by all indicators:
//!
//! - exact values (`=`, `IN`) in one hash table keyed by (path, value);
//! - CIDR blocks (`ISSUBSET`) in per-path tables keyed by prefix length and masked address;
//! - literals that a `LIKE` value must contain, in Aho-Corasick automata per path;
//! - `MATCHES` expressions in regex sets per path.
//!
//! An event looks up each of its values once per index; the indicators found are candidates,
//! and only candidates are evaluated in full. An indicator that is one exact comparison needs
//! no evaluation at all: the hash hit is the match, and it keeps no syntax tree, which holds
//! memory to a couple of hundred bytes per indicator.
//!
//! Automata and regex sets are sharded (a few thousand entries each); adding or removing an
//! indicator marks one shard dirty, and only dirty shards are rebuilt, at the next match.
//!
//! Indicators spanning several observations (`AND`, `OR`, `FOLLOWEDBY` between observations,
//! qualifiers) keep the recent observations that satisfied one of their parts, bounded in
//! number and age, and are evaluated over those when a new one arrives.

use std::collections::VecDeque;

use hashbrown::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use pattern::{Literal, PathStep};
use serde_json::Value;
use stix::Timestamp;

use crate::eval;
use crate::net::Net;
use crate::observation::Observation;
use crate::prepare::{CmpExpr, ObsExpr, Op, Prepared};
use crate::PatternError;

/// Literals per Aho-Corasick shard: large enough that an event scans few automata, small
/// enough that rebuilding one after a change stays in the milliseconds.
const SHARD: usize = 16_384;
/// Expressions per regex set shard; regex sets grow expensive faster than automata.
const REGEX_SHARD: usize = 256;
/// Temporal indicators remember at most this many observations each…
const MAX_PENDING: usize = 64;
/// …and none older than this, unless a WITHIN qualifier asks for longer.
const DEFAULT_HORIZON_MICROS: i64 = 24 * 3600 * 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("`{0}` is not an indicator id")]
    Id(String),
    #[error("{id}: {source}")]
    Pattern {
        id: String,
        source: Box<PatternError>,
    },
}

/// An indicator matched observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub indicator: String,
    /// Ids of the observed-data that together satisfy the pattern (`None` for observations
    /// that had no observed-data).
    pub observations: Vec<Option<String>>,
}

type Slot = u32;

/// How a candidate that is not decided by its anchor hit alone is evaluated.
enum Evaluation {
    /// The whole pattern on the event.
    Single(Prepared),
    /// Over remembered observations.
    Temporal(Temporal),
}

struct Temporal {
    prepared: Prepared,
    horizon: i64,
    pending: VecDeque<Observation>,
}

/// One indicator. Kept small: a million of them must fit in a few hundred megabytes.
struct Entry {
    /// The UUID of the indicator's id, as two words to avoid 16-byte alignment.
    uuid: [u64; 2],
    valid_from: i64,
    valid_until: i64,
    /// `None`: an anchor hit is the match.
    evaluation: Option<Box<Evaluation>>,
    anchors: Box<[Anchor]>,
}

/// Where an indicator sits in the indexes, so that removing it touches only its places. The
/// exact index is found again by hash and slot, so the value is not stored twice.
#[derive(Clone, Debug)]
enum Anchor {
    Exact {
        path: u32,
        hash: u64,
    },
    Cidr {
        path: u32,
        net: Box<Net>,
    },
    Contains {
        path: u32,
        shard: u32,
    },
    Regex {
        path: u32,
        shard: u32,
    },
    /// Any object of this type makes the indicator a candidate.
    Unanchored(Box<str>),
}

/// A value as the exact index keys it: strings as themselves, integers tagged so that `1`
/// and `'1'` stay apart.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Str(Box<str>),
    Int(i64),
}

/// A borrowed [`Key`], for lookups that allocate nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyRef<'a> {
    Str(&'a str),
    Int(i64),
}

impl Key {
    fn as_ref(&self) -> KeyRef<'_> {
        match self {
            Key::Str(s) => KeyRef::Str(s),
            Key::Int(i) => KeyRef::Int(*i),
        }
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            KeyRef::Str(s) => {
                h.write_u8(0);
                h.write(s.as_bytes());
            }
            KeyRef::Int(i) => {
                h.write_u8(1);
                h.write_i64(*i);
            }
        }
    }
}

/// Most values are sought by one indicator; those keep their slot inline.
enum Slots {
    One(Slot),
    // Boxed so that `Slots` is two words: most values have one seeker, and every word
    // counts a million times over.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Slot>>),
}

impl Slots {
    fn as_slice(&self) -> &[Slot] {
        match self {
            Slots::One(s) => std::slice::from_ref(s),
            Slots::Many(v) => v,
        }
    }

    fn push(&mut self, slot: Slot) {
        match self {
            Slots::One(first) => *self = Slots::Many(Box::new(vec![*first, slot])),
            Slots::Many(v) => v.push(slot),
        }
    }

    /// Removes the slot; returns whether none is left.
    fn remove(&mut self, slot: Slot) -> bool {
        match self {
            Slots::One(s) => *s == slot,
            Slots::Many(v) => {
                v.retain(|s| *s != slot);
                if let [only] = v[..] {
                    *self = Slots::One(only);
                    return false;
                }
                v.is_empty()
            }
        }
    }
}

struct ExactEntry {
    path: u32,
    key: Key,
    slots: Slots,
}

#[derive(Default)]
struct CidrIndex {
    /// prefix length → masked address → indicators; IPv4 and IPv6 apart.
    v4: HashMap<u8, HashMap<u128, Vec<Slot>>>,
    v6: HashMap<u8, HashMap<u128, Vec<Slot>>>,
}

#[derive(Default)]
struct ContainsShard {
    literals: Vec<(Box<str>, Slot)>,
    automaton: Option<aho_corasick::AhoCorasick>,
    dirty: bool,
}

struct RegexShard {
    members: Vec<(Box<str>, Slot)>,
    set: Option<regex::RegexSet>,
    dirty: bool,
}

/// Indexes over many indicators; see the module documentation.
pub struct IndicatorSet {
    entries: Vec<Option<Entry>>,
    free: Vec<Slot>,
    /// Slots by the hash of their indicator's UUID.
    by_uuid: hashbrown::HashTable<Slot>,
    paths: Vec<(Box<str>, Vec<PathStep>)>,
    path_ids: HashMap<(Box<str>, Vec<PathStep>), u32>,
    /// Object type → paths some index looks at.
    paths_by_type: HashMap<Box<str>, Vec<u32>>,
    path_users: Vec<usize>,
    /// Indexes into `exact_entries`, by hash of (path, value).
    exact: hashbrown::HashTable<u32>,
    exact_entries: Vec<ExactEntry>,
    hasher: hashbrown::DefaultHashBuilder,
    cidr: HashMap<u32, CidrIndex>,
    contains: HashMap<u32, Vec<ContainsShard>>,
    regexes: HashMap<u32, Vec<RegexShard>>,
    unanchored: HashMap<Box<str>, Vec<Slot>>,
    /// Per-match scratch: candidate marks stamped with the event generation.
    marks: Vec<u32>,
    generation: u32,
    /// Per-match scratch, kept to spare an allocation per event.
    scratch: Vec<Slot>,
    /// Whether some automaton or regex set waits for a rebuild.
    stale: bool,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        IndicatorSet::new()
    }
}

fn indicator_uuid(id: &str) -> Result<[u64; 2], IndicatorError> {
    match stix::parse_id(id) {
        Ok(("indicator", uuid)) => {
            let (high, low) = uuid.as_u64_pair();
            Ok([high, low])
        }
        _ => Err(IndicatorError::Id(id.to_owned())),
    }
}

fn key_of_literal(literal: &Literal) -> Option<Key> {
    match literal {
        Literal::String(s) => Some(Key::Str(s.as_str().into())),
        Literal::Int(i) => Some(Key::Int(*i)),
        _ => None,
    }
}

fn key_of_value(value: &Value) -> Option<KeyRef<'_>> {
    match value {
        Value::String(s) => Some(KeyRef::Str(s)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(KeyRef::Int),
        _ => None,
    }
}

/// A substring every match of the regular expression contains, long enough to filter with.
fn regex_literal(source: &str) -> Option<String> {
    use regex_syntax::hir::{Hir, HirKind};
    fn required(hir: &Hir, out: &mut Vec<String>) {
        match hir.kind() {
            HirKind::Literal(l) => out.push(String::from_utf8_lossy(&l.0).into_owned()),
            HirKind::Capture(c) => required(&c.sub, out),
            HirKind::Repetition(r) if r.min >= 1 => required(&r.sub, out),
            HirKind::Concat(parts) => {
                // Adjacent literals form one longer required run.
                let mut run = String::new();
                for part in parts {
                    if let HirKind::Literal(l) = part.kind() {
                        run.push_str(&String::from_utf8_lossy(&l.0));
                    } else {
                        out.push(std::mem::take(&mut run));
                        required(part, out);
                    }
                }
                out.push(run);
            }
            _ => {}
        }
    }
    let hir = regex_syntax::parse(source).ok()?;
    let mut found = Vec::new();
    required(&hir, &mut found);
    found
        .into_iter()
        .max_by_key(|s| s.chars().count())
        .filter(|s| s.chars().count() >= 3)
}

/// The longest run of plain characters a LIKE pattern requires, if it is long enough to
/// filter with.
fn like_literal(like: &str) -> Option<String> {
    like.split(['%', '_'])
        .max_by_key(|s| s.chars().count())
        .filter(|s| s.chars().count() >= 3)
        .map(str::to_owned)
}

/// What an anchor needs before slots and shards are assigned.
enum Need {
    Exact(String, Vec<PathStep>, Key),
    Cidr(String, Vec<PathStep>, Net),
    Contains(String, Vec<PathStep>, String),
    Regex(String, Vec<PathStep>, String),
}

impl Need {
    /// Roughly how many unrelated events the anchor lets through, relatively.
    fn cost(&self) -> usize {
        match self {
            Need::Exact(..) => 1,
            Need::Cidr(..) => 2,
            Need::Contains(..) => 4,
            Need::Regex(..) => 16,
        }
    }
}

/// Whether a path reads values no index sees: decoded binary properties (the indexes read
/// JSON values, a `_hex` or `_bin` property is compared as the bytes it encodes).
fn reads_binary(steps: &[PathStep]) -> bool {
    steps
        .iter()
        .any(|s| matches!(s, PathStep::Key(k) if k.ends_with("_hex") || k.ends_with("_bin")))
}

/// Anchors for a comparison expression: conditions one of which must hold for it to hold;
/// `None` when no index can narrow it down.
fn anchors(cmp: &CmpExpr) -> Option<Vec<Need>> {
    match cmp {
        CmpExpr::Test(t) if !t.negated => {
            let at = || (t.object_type.clone(), t.steps.clone());
            match &t.op {
                _ if reads_binary(&t.steps) => None,
                Op::Eq(l) => key_of_literal(l).map(|k| vec![Need::Exact(at().0, at().1, k)]),
                Op::In(set) => set
                    .iter()
                    .map(|l| key_of_literal(l).map(|k| Need::Exact(at().0, at().1, k)))
                    .collect(),
                Op::IsSubset(net) => Some(vec![Need::Cidr(at().0, at().1, *net)]),
                Op::Like { like, .. } => {
                    like_literal(like).map(|lit| vec![Need::Contains(at().0, at().1, lit)])
                }
                Op::Matches { text, .. } => Some(vec![match regex_literal(text.as_str()) {
                    Some(literal) => Need::Contains(at().0, at().1, literal),
                    None => Need::Regex(at().0, at().1, text.as_str().to_owned()),
                }]),
                _ => None,
            }
        }
        CmpExpr::Test(_) => None,
        // One part's anchors suffice: take the part that lets the fewest events through.
        CmpExpr::And(parts) => parts
            .iter()
            .filter_map(anchors)
            .min_by_key(|needs| needs.iter().map(Need::cost).sum::<usize>()),
        CmpExpr::Or(parts) => parts
            .iter()
            .map(anchors)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect()),
    }
}

fn object_types(cmp: &CmpExpr, out: &mut Vec<Box<str>>) {
    match cmp {
        CmpExpr::Test(t) => {
            if !out.iter().any(|o| **o == *t.object_type) {
                out.push(t.object_type.as_str().into());
            }
        }
        CmpExpr::And(v) | CmpExpr::Or(v) => v.iter().for_each(|c| object_types(c, out)),
    }
}

fn leaves(expr: &ObsExpr) -> Vec<&CmpExpr> {
    match expr {
        ObsExpr::Leaf(c) => vec![c],
        ObsExpr::And(v) | ObsExpr::Or(v) | ObsExpr::FollowedBy(v) => {
            v.iter().flat_map(leaves).collect()
        }
        ObsExpr::Within(e, _) | ObsExpr::Repeats(e, _) | ObsExpr::StartStop(e, _, _) => leaves(e),
    }
}

fn longest_window(expr: &ObsExpr) -> Option<i64> {
    match expr {
        ObsExpr::Leaf(_) => None,
        ObsExpr::And(v) | ObsExpr::Or(v) | ObsExpr::FollowedBy(v) => {
            v.iter().filter_map(longest_window).max()
        }
        ObsExpr::Within(e, w) => Some(longest_window(e).map_or(*w, |inner| inner.max(*w))),
        ObsExpr::Repeats(e, _) | ObsExpr::StartStop(e, _, _) => longest_window(e),
    }
}

/// A pattern that is one `=` or `IN` on strings or integers, or an OR of such: an index hit
/// decides it.
fn is_exact(expr: &ObsExpr) -> bool {
    fn exact_cmp(c: &CmpExpr) -> bool {
        match c {
            CmpExpr::Test(t) if !t.negated && !reads_binary(&t.steps) => match &t.op {
                Op::Eq(l) => key_of_literal(l).is_some(),
                Op::In(set) => !set.is_empty() && set.iter().all(|l| key_of_literal(l).is_some()),
                _ => false,
            },
            CmpExpr::Or(v) => v.iter().all(exact_cmp),
            _ => false,
        }
    }
    matches!(expr, ObsExpr::Leaf(c) if exact_cmp(c))
}

impl IndicatorSet {
    pub fn new() -> Self {
        IndicatorSet {
            entries: Vec::new(),
            free: Vec::new(),
            by_uuid: hashbrown::HashTable::new(),
            paths: Vec::new(),
            path_ids: HashMap::new(),
            paths_by_type: HashMap::new(),
            path_users: Vec::new(),
            exact: hashbrown::HashTable::new(),
            exact_entries: Vec::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            cidr: HashMap::new(),
            contains: HashMap::new(),
            regexes: HashMap::new(),
            unanchored: HashMap::new(),
            marks: Vec::new(),
            generation: 0,
            scratch: Vec::new(),
            stale: false,
        }
    }

    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        indicator_uuid(id).is_ok_and(|u| self.slot_of(u).is_some())
    }

    fn uuid_hash(&self, uuid: [u64; 2]) -> u64 {
        self.hasher.hash_one(uuid)
    }

    fn slot_of(&self, uuid: [u64; 2]) -> Option<Slot> {
        let entries = &self.entries;
        self.by_uuid
            .find(self.uuid_hash(uuid), |&s| {
                entries[s as usize].as_ref().is_some_and(|e| e.uuid == uuid)
            })
            .copied()
    }

    fn hash(&self, path: u32, key: KeyRef<'_>) -> u64 {
        hash_key(&self.hasher, path, key)
    }

    fn intern_path(&mut self, object_type: String, steps: Vec<PathStep>) -> u32 {
        let key = (object_type.into_boxed_str(), steps);
        if let Some(&id) = self.path_ids.get(&key) {
            let users = &mut self.path_users[id as usize];
            // A path whose last user left was taken out of the type's list; bring it back.
            if *users == 0 {
                self.paths_by_type.entry(key.0).or_default().push(id);
            }
            *users += 1;
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths_by_type
            .entry(key.0.clone())
            .or_default()
            .push(id);
        self.paths.push(key.clone());
        self.path_ids.insert(key, id);
        self.path_users.push(1);
        id
    }

    fn release_path(&mut self, path: u32) {
        let users = &mut self.path_users[path as usize];
        *users = users.saturating_sub(1);
        if *users == 0 {
            let object_type = self.paths[path as usize].0.clone();
            if let Some(list) = self.paths_by_type.get_mut(&object_type) {
                list.retain(|p| *p != path);
            }
        }
    }

    /// Adds an indicator, or replaces the one with the same id. The indicator is active from
    /// `valid_from` (inclusive) until `valid_until` (exclusive).
    pub fn insert(
        &mut self,
        id: &str,
        pattern_text: &str,
        valid_from: Option<Timestamp>,
        valid_until: Option<Timestamp>,
    ) -> Result<(), IndicatorError> {
        let uuid = indicator_uuid(id)?;
        let parsed = pattern::parse(pattern_text).map_err(|d| IndicatorError::Pattern {
            id: id.to_owned(),
            source: Box::new(PatternError::Syntax(d)),
        })?;
        let prepared = Prepared::new(&parsed).map_err(|e| IndicatorError::Pattern {
            id: id.to_owned(),
            source: Box::new(e.into()),
        })?;
        self.remove_uuid(uuid);

        let mut needs = Vec::new();
        let mut unanchored = Vec::new();
        for leaf in leaves(prepared.expr()) {
            match anchors(leaf) {
                Some(found) if !found.is_empty() => needs.extend(found),
                _ => object_types(leaf, &mut unanchored),
            }
        }
        let evaluation = if is_exact(prepared.expr()) {
            None
        } else if prepared.is_temporal() {
            let horizon = longest_window(prepared.expr()).unwrap_or(DEFAULT_HORIZON_MICROS);
            Some(Box::new(Evaluation::Temporal(Temporal {
                prepared,
                horizon,
                pending: VecDeque::new(),
            })))
        } else {
            Some(Box::new(Evaluation::Single(prepared)))
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as Slot
            }
        };
        let mut anchors = Vec::with_capacity(needs.len() + unanchored.len());
        for need in needs {
            anchors.push(self.add_anchor(need, slot));
        }
        for object_type in unanchored {
            self.unanchored
                .entry(object_type.clone())
                .or_default()
                .push(slot);
            anchors.push(Anchor::Unanchored(object_type));
        }
        self.entries[slot as usize] = Some(Entry {
            uuid,
            valid_from: valid_from.map_or(i64::MIN, Timestamp::as_micros),
            valid_until: valid_until.map_or(i64::MAX, Timestamp::as_micros),
            evaluation,
            anchors: anchors.into_boxed_slice(),
        });
        let hash = self.uuid_hash(uuid);
        let entries = &self.entries;
        let hasher = &self.hasher;
        self.by_uuid.insert_unique(hash, slot, |&s| {
            entries[s as usize]
                .as_ref()
                .map_or(0, |e| hasher.hash_one(e.uuid))
        });
        Ok(())
    }

    fn add_anchor(&mut self, need: Need, slot: Slot) -> Anchor {
        match need {
            Need::Exact(t, steps, key) => {
                let path = self.intern_path(t, steps);
                let hash = self.hash(path, key.as_ref());
                let (hasher, dense) = (&self.hasher, &mut self.exact_entries);
                let existing = self.exact.find(hash, |&i| {
                    let e = &dense[i as usize];
                    e.path == path && e.key == key
                });
                match existing {
                    Some(&i) => dense[i as usize].slots.push(slot),
                    None => {
                        let index = dense.len() as u32;
                        dense.push(ExactEntry {
                            path,
                            key,
                            slots: Slots::One(slot),
                        });
                        let dense = &*dense;
                        let rehash = |&i: &u32| {
                            let e = &dense[i as usize];
                            hash_key(hasher, e.path, e.key.as_ref())
                        };
                        self.exact.insert_unique(hash, index, rehash);
                    }
                }
                Anchor::Exact { path, hash }
            }
            Need::Cidr(t, steps, net) => {
                let path = self.intern_path(t, steps);
                let index = self.cidr.entry(path).or_default();
                let by_prefix = if net.v6 { &mut index.v6 } else { &mut index.v4 };
                by_prefix
                    .entry(net.prefix)
                    .or_default()
                    .entry(net.masked(net.prefix))
                    .or_default()
                    .push(slot);
                Anchor::Cidr {
                    path,
                    net: Box::new(net),
                }
            }
            Need::Contains(t, steps, literal) => {
                let path = self.intern_path(t, steps);
                let shards = self.contains.entry(path).or_default();
                let shard = match shards.iter().position(|s| s.literals.len() < SHARD) {
                    Some(i) => i,
                    None => {
                        shards.push(ContainsShard::default());
                        shards.len() - 1
                    }
                };
                shards[shard].literals.push((literal.into(), slot));
                shards[shard].dirty = true;
                self.stale = true;
                Anchor::Contains {
                    path,
                    shard: shard as u32,
                }
            }
            Need::Regex(t, steps, source) => {
                let path = self.intern_path(t, steps);
                let shards = self.regexes.entry(path).or_default();
                let shard = match shards.iter().position(|s| s.members.len() < REGEX_SHARD) {
                    Some(i) => i,
                    None => {
                        shards.push(RegexShard {
                            members: Vec::new(),
                            set: None,
                            dirty: true,
                        });
                        shards.len() - 1
                    }
                };
                shards[shard].members.push((source.into(), slot));
                shards[shard].dirty = true;
                self.stale = true;
                Anchor::Regex {
                    path,
                    shard: shard as u32,
                }
            }
        }
    }

    /// Removes an indicator (revoked, expired, withdrawn). Returns whether it was present.
    pub fn remove(&mut self, id: &str) -> bool {
        indicator_uuid(id).is_ok_and(|uuid| self.remove_uuid(uuid))
    }

    fn remove_uuid(&mut self, uuid: [u64; 2]) -> bool {
        let hash = self.uuid_hash(uuid);
        let entries = &self.entries;
        let Ok(found) = self.by_uuid.find_entry(hash, |&s| {
            entries[s as usize].as_ref().is_some_and(|e| e.uuid == uuid)
        }) else {
            return false;
        };
        let (slot, _) = found.remove();
        let Some(entry) = self.entries[slot as usize].take() else {
            return false;
        };
        for anchor in entry.anchors.iter().cloned() {
            match anchor {
                Anchor::Exact { path, hash } => {
                    self.remove_exact(path, hash, slot);
                    self.release_path(path);
                }
                Anchor::Unanchored(object_type) => {
                    if let Some(list) = self.unanchored.get_mut(&object_type) {
                        list.retain(|s| *s != slot);
                    }
                }
                Anchor::Cidr { path, net } => {
                    if let Some(index) = self.cidr.get_mut(&path) {
                        let by_prefix = if net.v6 { &mut index.v6 } else { &mut index.v4 };
                        if let Some(slots) = by_prefix
                            .get_mut(&net.prefix)
                            .and_then(|m| m.get_mut(&net.masked(net.prefix)))
                        {
                            slots.retain(|s| *s != slot);
                        }
                    }
                    self.release_path(path);
                }
                Anchor::Contains { path, shard } => {
                    if let Some(s) = self
                        .contains
                        .get_mut(&path)
                        .and_then(|v| v.get_mut(shard as usize))
                    {
                        s.literals.retain(|(_, owner)| *owner != slot);
                        s.dirty = true;
                        self.stale = true;
                    }
                    self.release_path(path);
                }
                Anchor::Regex { path, shard } => {
                    if let Some(s) = self
                        .regexes
                        .get_mut(&path)
                        .and_then(|v| v.get_mut(shard as usize))
                    {
                        s.members.retain(|(_, owner)| *owner != slot);
                        s.dirty = true;
                        self.stale = true;
                    }
                    self.release_path(path);
                }
            }
        }
        self.free.push(slot);
        true
    }

    /// Takes the slot off its exact value; a value nobody seeks any more leaves the dense
    /// vector, whose last entry moves into its place.
    fn remove_exact(&mut self, path: u32, hash: u64, slot: Slot) {
        let dense = &mut self.exact_entries;
        let Ok(found) = self.exact.find_entry(hash, |&i| {
            let e = &dense[i as usize];
            e.path == path && e.slots.as_slice().contains(&slot)
        }) else {
            return;
        };
        let index = *found.get() as usize;
        if !dense[index].slots.remove(slot) {
            return;
        }
        found.remove();
        let last = dense.len() - 1;
        if index != last {
            let moved = hash_key(&self.hasher, dense[last].path, dense[last].key.as_ref());
            if let Some(i) = self.exact.find_mut(moved, |&i| i as usize == last) {
                *i = index as u32;
            }
        }
        dense.swap_remove(index);
    }

    /// Rebuilds the automata and regex sets that changed since the last match.
    fn rebuild_dirty(&mut self) {
        if !std::mem::take(&mut self.stale) {
            return;
        }
        for shards in self.contains.values_mut() {
            for shard in shards.iter_mut().filter(|s| s.dirty) {
                shard.automaton = aho_corasick::AhoCorasick::new(
                    shard.literals.iter().map(|(l, _)| l.as_bytes()),
                )
                .ok();
                shard.dirty = false;
            }
        }
        for shards in self.regexes.values_mut() {
            for shard in shards.iter_mut().filter(|s| s.dirty) {
                shard.set = regex::RegexSet::new(shard.members.iter().map(|(r, _)| &**r)).ok();
                shard.dirty = false;
            }
        }
    }

    fn mark(&mut self, slot: Slot, out: &mut Vec<Slot>) {
        let i = slot as usize;
        if self.marks.len() <= i {
            self.marks.resize(self.entries.len().max(i + 1), 0);
        }
        if self.marks[i] != self.generation {
            self.marks[i] = self.generation;
            out.push(slot);
        }
    }

    /// Fills `found` with the indicators that may match this observation, each once.
    fn candidates(&mut self, observation: &Observation, found: &mut Vec<Slot>) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
        found.clear();
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        for object in observation.objects() {
            let Some(object_type) = object.get("type").and_then(Value::as_str) else {
                continue;
            };
            if let Some(slots) = self.unanchored.get(object_type) {
                hits.extend(slots);
            }
            let Some(paths) = self.paths_by_type.get(object_type) else {
                continue;
            };
            for &path in paths {
                let steps = &self.paths[path as usize].1;
                eval::for_each_json(observation, object, steps, |value| {
                    self.lookup(path, value, &mut hits)
                });
            }
        }
        for &slot in &hits {
            self.mark(slot, found);
        }
        self.scratch = hits;
    }

    /// Adds the indicators whose anchors at `path` this value meets.
    fn lookup(&self, path: u32, value: &Value, hits: &mut Vec<Slot>) {
        if let Some(key) = key_of_value(value) {
            let hash = self.hash(path, key);
            let dense = &self.exact_entries;
            let found = self.exact.find(hash, |&i| {
                let e = &dense[i as usize];
                e.path == path && e.key.as_ref() == key
            });
            if let Some(&i) = found {
                hits.extend(dense[i as usize].slots.as_slice());
            }
        }
        let Some(text) = value.as_str() else { return };
        if let Some(index) = self.cidr.get(&path) {
            if let Some(ip) = Net::parse(text) {
                let by_prefix = if ip.v6 { &index.v6 } else { &index.v4 };
                for (prefix, nets) in by_prefix {
                    if *prefix <= ip.prefix {
                        if let Some(slots) = nets.get(&ip.masked(*prefix)) {
                            hits.extend(slots);
                        }
                    }
                }
            }
        }
        let (contains, regexes) = (self.contains.get(&path), self.regexes.get(&path));
        if contains.is_none() && regexes.is_none() {
            return;
        }
        // LIKE and MATCHES see the NFC form of the value (see `eval::nfc`).
        let text = eval::nfc(text);
        let text = text.as_ref();
        if let Some(shards) = contains {
            for shard in shards {
                if let Some(ac) = &shard.automaton {
                    for m in ac.find_overlapping_iter(text) {
                        hits.push(shard.literals[m.pattern().as_usize()].1);
                    }
                }
            }
        }
        if let Some(shards) = regexes {
            for shard in shards {
                if let Some(set) = &shard.set {
                    hits.extend(set.matches(text).iter().map(|i| shard.members[i].1));
                }
            }
        }
    }

    /// Matches one observation against every active indicator; temporal indicators also
    /// consider the observations they remember.
    pub fn match_observation(&mut self, observation: &Observation) -> Vec<Hit> {
        self.rebuild_dirty();
        let mut candidates = Vec::new();
        self.candidates(observation, &mut candidates);
        let mut hits = Vec::new();
        let (first, last) = (
            observation.first_observed.as_micros(),
            observation.last_observed.as_micros(),
        );
        for slot in candidates {
            let Some(entry) = self.entries[slot as usize].as_mut() else {
                continue;
            };
            if entry.valid_from > last || entry.valid_until <= first {
                continue;
            }
            let observations = match entry.evaluation.as_deref_mut() {
                None => Some(vec![observation.id.clone()]),
                Some(Evaluation::Single(prepared)) => prepared
                    .matches_one(observation)
                    .then(|| vec![observation.id.clone()]),
                Some(Evaluation::Temporal(state)) => state.observe(observation),
            };
            if let Some(observations) = observations {
                hits.push(Hit {
                    indicator: format!("indicator--{}", uuid_text(entry.uuid)),
                    observations,
                });
            }
        }
        hits
    }
}

fn hash_key(hasher: &hashbrown::DefaultHashBuilder, path: u32, key: KeyRef<'_>) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(path);
    key.hash(&mut h);
    h.finish()
}

fn uuid_text(words: [u64; 2]) -> String {
    let uuid = (u128::from(words[0]) << 64) | u128::from(words[1]);
    let h = format!("{uuid:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Temporal {
    /// Remembers the observation and reports a match that uses it, if there is one.
    fn observe(&mut self, observation: &Observation) -> Option<Vec<Option<String>>> {
        let newest = observation.last_observed.as_micros();
        while self
            .pending
            .front()
            .is_some_and(|o| o.last_observed.as_micros() < newest.saturating_sub(self.horizon))
        {
            self.pending.pop_front();
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(observation.clone());
        let window: Vec<Observation> = self.pending.iter().cloned().collect();
        let newest_index = window.len() - 1;
        let binding = eval::bindings(self.prepared.expr(), &window)
            .into_iter()
            .find(|b| b.iter().any(|(o, _)| *o as usize == newest_index))?;
        let ids = binding
            .iter()
            .map(|(o, _)| window[*o as usize].id.clone())
            .collect();
        // Observations used by a reported match are not reported again.
        let used: Vec<usize> = binding.iter().map(|(o, _)| *o as usize).collect();
        let mut kept = VecDeque::new();
        for (i, o) in self.pending.drain(..).enumerate() {
            if !used.contains(&i) {
                kept.push_back(o);
            }
        }
        self.pending = kept;
        Some(ids)
    }
}
