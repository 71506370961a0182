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

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use pattern::{Literal, PathStep};
use serde_json::Value;
use stix::Timestamp;

use crate::eval;
use crate::net::Net;
use crate::observation::Observation;
use crate::prepare::{CmpExpr, ObsExpr, Op, Prepared};
use crate::PatternError;

const SHARD: usize = 2048;
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

/// How an indicator is decided once it is a candidate.
enum Decision {
    /// The anchor hit is the match.
    Exact,
    /// Evaluate the whole pattern on the event.
    Single(Box<Prepared>),
    /// Evaluate over remembered observations.
    Temporal(Box<Temporal>),
}

struct Temporal {
    prepared: Prepared,
    horizon: i64,
    pending: VecDeque<Observation>,
}

struct Entry {
    uuid: u128,
    valid_from: i64,
    valid_until: i64,
    decision: Decision,
    anchors: Vec<Anchor>,
    /// Object types that make this indicator a candidate without any anchor.
    unanchored: Vec<Box<str>>,
}

#[derive(Clone, Debug)]
enum Anchor {
    Exact {
        path: u32,
        key: Key,
    },
    Cidr {
        path: u32,
        net: Net,
    },
    Contains {
        path: u32,
        literal: Box<str>,
        shard: usize,
    },
    Regex {
        path: u32,
        shard: usize,
    },
}

/// A value as the exact index keys it: strings as themselves, integers tagged so that `1`
/// and `'1'` stay apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Str(Box<str>),
    Int(i64),
}

struct ExactEntry {
    path: u32,
    key: Key,
    slots: Vec<Slot>,
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
    members: Vec<(String, Slot)>,
    set: Option<regex::RegexSet>,
    dirty: bool,
}

/// Indexes over many indicators; see the module documentation.
pub struct IndicatorSet {
    entries: Vec<Option<Entry>>,
    free: Vec<Slot>,
    by_uuid: HashMap<u128, Slot>,
    paths: Vec<(Box<str>, Vec<PathStep>)>,
    path_ids: HashMap<(Box<str>, Vec<PathStep>), u32>,
    /// Object type → paths some index looks at.
    paths_by_type: HashMap<Box<str>, Vec<u32>>,
    path_users: Vec<usize>,
    exact: hashbrown::HashTable<ExactEntry>,
    hasher: hashbrown::DefaultHashBuilder,
    cidr: HashMap<u32, CidrIndex>,
    contains: HashMap<u32, Vec<ContainsShard>>,
    regexes: HashMap<u32, Vec<RegexShard>>,
    unanchored: HashMap<Box<str>, Vec<Slot>>,
    /// Per-match scratch: candidate marks stamped with the event generation.
    marks: Vec<u32>,
    generation: u32,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        IndicatorSet::new()
    }
}

fn indicator_uuid(id: &str) -> Result<u128, IndicatorError> {
    match stix::parse_id(id) {
        Ok(("indicator", uuid)) => Ok(uuid.as_u128()),
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

fn key_of_value(value: &Value) -> Option<Key> {
    match value {
        Value::String(s) => Some(Key::Str(s.as_str().into())),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Key::Int),
        _ => None,
    }
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
                Op::Matches { text, .. } => {
                    Some(vec![Need::Regex(at().0, at().1, text.as_str().to_owned())])
                }
                _ => None,
            }
        }
        CmpExpr::Test(_) => None,
        CmpExpr::And(parts) => parts.iter().filter_map(anchors).min_by_key(Vec::len),
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
            by_uuid: HashMap::new(),
            paths: Vec::new(),
            path_ids: HashMap::new(),
            paths_by_type: HashMap::new(),
            path_users: Vec::new(),
            exact: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            cidr: HashMap::new(),
            contains: HashMap::new(),
            regexes: HashMap::new(),
            unanchored: HashMap::new(),
            marks: Vec::new(),
            generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        indicator_uuid(id).is_ok_and(|u| self.by_uuid.contains_key(&u))
    }

    fn hash(&self, path: u32, key: &Key) -> u64 {
        let mut h = self.hasher.build_hasher();
        path.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    }

    fn intern_path(&mut self, object_type: String, steps: Vec<PathStep>) -> u32 {
        let key = (object_type.into_boxed_str(), steps);
        if let Some(&id) = self.path_ids.get(&key) {
            self.path_users[id as usize] += 1;
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
        let decision = if is_exact(prepared.expr()) {
            Decision::Exact
        } else if prepared.is_temporal() {
            let horizon = longest_window(prepared.expr()).unwrap_or(DEFAULT_HORIZON_MICROS);
            Decision::Temporal(Box::new(Temporal {
                prepared,
                horizon,
                pending: VecDeque::new(),
            }))
        } else {
            Decision::Single(Box::new(prepared))
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as Slot
            }
        };
        let mut anchors = Vec::with_capacity(needs.len());
        for need in needs {
            anchors.push(self.add_anchor(need, slot));
        }
        for object_type in &unanchored {
            self.unanchored
                .entry(object_type.clone())
                .or_default()
                .push(slot);
        }
        self.entries[slot as usize] = Some(Entry {
            uuid,
            valid_from: valid_from.map_or(i64::MIN, Timestamp::as_micros),
            valid_until: valid_until.map_or(i64::MAX, Timestamp::as_micros),
            decision,
            anchors,
            unanchored,
        });
        self.by_uuid.insert(uuid, slot);
        Ok(())
    }

    fn add_anchor(&mut self, need: Need, slot: Slot) -> Anchor {
        match need {
            Need::Exact(t, steps, key) => {
                let path = self.intern_path(t, steps);
                let hash = self.hash(path, &key);
                let hasher = &self.hasher;
                let rehash = |e: &ExactEntry| {
                    let mut h = hasher.build_hasher();
                    e.path.hash(&mut h);
                    e.key.hash(&mut h);
                    h.finish()
                };
                match self
                    .exact
                    .entry(hash, |e| e.path == path && e.key == key, rehash)
                {
                    hashbrown::hash_table::Entry::Occupied(mut o) => o.get_mut().slots.push(slot),
                    hashbrown::hash_table::Entry::Vacant(v) => {
                        v.insert(ExactEntry {
                            path,
                            key: key.clone(),
                            slots: vec![slot],
                        });
                    }
                }
                Anchor::Exact { path, key }
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
                Anchor::Cidr { path, net }
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
                let literal: Box<str> = literal.into();
                shards[shard].literals.push((literal.clone(), slot));
                shards[shard].dirty = true;
                Anchor::Contains {
                    path,
                    literal,
                    shard,
                }
            }
            Need::Regex(t, steps, source) => {
                let path = self.intern_path(t, steps);
                let shards = self.regexes.entry(path).or_default();
                let shard = match shards.iter().position(|s| s.members.len() < SHARD / 8) {
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
                shards[shard].members.push((source, slot));
                shards[shard].dirty = true;
                Anchor::Regex { path, shard }
            }
        }
    }

    /// Removes an indicator (revoked, expired, withdrawn). Returns whether it was present.
    pub fn remove(&mut self, id: &str) -> bool {
        indicator_uuid(id).is_ok_and(|uuid| self.remove_uuid(uuid))
    }

    fn remove_uuid(&mut self, uuid: u128) -> bool {
        let Some(slot) = self.by_uuid.remove(&uuid) else {
            return false;
        };
        let Some(entry) = self.entries[slot as usize].take() else {
            return false;
        };
        for anchor in entry.anchors {
            match anchor {
                Anchor::Exact { path, key } => {
                    let hash = self.hash(path, &key);
                    if let Ok(mut found) = self
                        .exact
                        .find_entry(hash, |e| e.path == path && e.key == key)
                    {
                        found.get_mut().slots.retain(|s| *s != slot);
                        if found.get().slots.is_empty() {
                            found.remove();
                        }
                    }
                    self.release_path(path);
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
                Anchor::Contains {
                    path,
                    literal,
                    shard,
                } => {
                    if let Some(s) = self.contains.get_mut(&path).and_then(|v| v.get_mut(shard)) {
                        s.literals
                            .retain(|(l, owner)| !(*owner == slot && *l == literal));
                        s.dirty = true;
                    }
                    self.release_path(path);
                }
                Anchor::Regex { path, shard } => {
                    if let Some(s) = self.regexes.get_mut(&path).and_then(|v| v.get_mut(shard)) {
                        s.members.retain(|(_, owner)| *owner != slot);
                        s.dirty = true;
                    }
                    self.release_path(path);
                }
            }
        }
        for object_type in entry.unanchored {
            if let Some(list) = self.unanchored.get_mut(&object_type) {
                list.retain(|s| *s != slot);
            }
        }
        self.free.push(slot);
        true
    }

    /// Rebuilds the automata and regex sets that changed since the last match.
    fn rebuild_dirty(&mut self) {
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
                shard.set =
                    regex::RegexSet::new(shard.members.iter().map(|(r, _)| r.as_str())).ok();
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

    /// The indicators that may match this observation.
    fn candidates(&mut self, observation: &Observation) -> Vec<Slot> {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
        let mut found = Vec::new();
        let mut hits: Vec<Slot> = Vec::new();
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
                for value in eval::select_json(observation, object, steps) {
                    if let Some(key) = key_of_value(value) {
                        let hash = self.hash(path, &key);
                        if let Some(e) = self.exact.find(hash, |e| e.path == path && e.key == key) {
                            hits.extend(&e.slots);
                        }
                    }
                    let Some(raw) = value.as_str() else { continue };
                    if let Some(index) = self.cidr.get(&path) {
                        if let Some(ip) = Net::parse(raw) {
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
                    // LIKE and MATCHES see the NFC form of the value (see `eval::nfc`).
                    let text = eval::nfc(raw);
                    let text = text.as_ref();
                    if let Some(shards) = self.contains.get(&path) {
                        for shard in shards {
                            if let Some(ac) = &shard.automaton {
                                for m in ac.find_overlapping_iter(text) {
                                    hits.push(shard.literals[m.pattern().as_usize()].1);
                                }
                            }
                        }
                    }
                    if let Some(shards) = self.regexes.get(&path) {
                        for shard in shards {
                            if let Some(set) = &shard.set {
                                hits.extend(set.matches(text).iter().map(|i| shard.members[i].1));
                            }
                        }
                    }
                }
            }
        }
        for slot in hits {
            self.mark(slot, &mut found);
        }
        found
    }

    /// Matches one observation against every active indicator; temporal indicators also
    /// consider the observations they remember.
    pub fn match_observation(&mut self, observation: &Observation) -> Vec<Hit> {
        self.rebuild_dirty();
        let candidates = self.candidates(observation);
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
            let indicator = format!("indicator--{}", uuid_text(entry.uuid));
            match &mut entry.decision {
                Decision::Exact => hits.push(Hit {
                    indicator,
                    observations: vec![observation.id.clone()],
                }),
                Decision::Single(prepared) => {
                    if prepared.matches_one(observation) {
                        hits.push(Hit {
                            indicator,
                            observations: vec![observation.id.clone()],
                        });
                    }
                }
                Decision::Temporal(state) => {
                    if let Some(observations) = state.observe(observation) {
                        hits.push(Hit {
                            indicator,
                            observations,
                        });
                    }
                }
            }
        }
        hits
    }
}

fn uuid_text(uuid: u128) -> String {
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
