//! Search and summaries over shared content for the web console. The store keeps a full-text
//! index and per-day counts apart from the objects, filled after ingest by an indexer that
//! follows each collection's `date_added` and the deletions; every hit and every count is
//! passed through [`policy::may_read`] as the reader before it is shown or counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use stix::{Timestamp, Tlp};

use crate::exchange::{Error, Exchange, Result};
use crate::model::{Collection, OrgId, Principal, StoredVersion};
use crate::policy;

/// What the indexer keeps of one object version: the words worth finding it by, and the
/// properties the console filters and links on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Name, description, pattern, labels, aliases, values, external ids, id and type, one
    /// per line.
    pub text: String,
    pub name: Option<String>,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    pub revoked: bool,
    /// `source_ref` of a relationship, `sighting_of_ref` of a sighting.
    pub first_ref: Option<String>,
    /// `target_ref` of a relationship.
    pub second_ref: Option<String>,
}

const TEXT_PROPERTIES: [&str; 7] = [
    "name",
    "description",
    "pattern",
    "value",
    "x_mitre_shortname",
    "abstract",
    "content",
];
const LIST_PROPERTIES: [&str; 6] = [
    "labels",
    "aliases",
    "x_mitre_aliases",
    "x_mitre_platforms",
    "kill_chain_phases",
    "indicator_types",
];

/// The searchable text of an object's JSON; objects that do not parse index their id only.
pub fn document(raw: &str) -> Document {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(raw) else {
        return Document::default();
    };
    let text_of = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let time_of = |key: &str| text_of(key).and_then(|t| Timestamp::parse(&t).ok());
    let mut lines: Vec<String> = Vec::new();
    for key in ["id", "type"].iter().chain(TEXT_PROPERTIES.iter()) {
        lines.extend(text_of(key));
    }
    for key in LIST_PROPERTIES {
        for item in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match item {
                Value::String(s) => lines.push(s.clone()),
                Value::Object(phase) => lines.extend(
                    phase
                        .get("phase_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                ),
                _ => {}
            }
        }
    }
    for reference in object
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.extend(
            reference
                .get("external_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        );
    }
    if let Some(Value::Object(hashes)) = object.get("hashes") {
        lines.extend(hashes.values().filter_map(Value::as_str).map(str::to_owned));
    }
    let kind = text_of("type").unwrap_or_default();
    let (first_ref, second_ref) = match kind.as_str() {
        "relationship" => (text_of("source_ref"), text_of("target_ref")),
        "sighting" => (text_of("sighting_of_ref"), None),
        _ => (None, None),
    };
    Document {
        text: lines.join("\n"),
        name: text_of("name")
            .or_else(|| text_of("value"))
            .or_else(|| text_of("relationship_type")),
        created: time_of("created"),
        modified: time_of("modified"),
        revoked: object.get("revoked").and_then(Value::as_bool) == Some(true),
        first_ref,
        second_ref,
    }
}

/// Turns what a person typed into an FTS5 query that cannot be malformed: each word becomes a
/// quoted phrase (so `198.51.100.7` or `T1059.001` match as written), all of them required, the
/// last one also as a prefix so results follow typing. `None` when nothing searchable remains.
pub fn fts_query(typed: &str) -> Option<String> {
    let words: Vec<String> = typed
        .split_whitespace()
        .map(|w| w.replace('"', "\"\""))
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(16)
        .collect();
    let (last, rest) = words.split_last()?;
    let mut parts: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    parts.push(format!("\"{last}\"*"));
    Some(parts.join(" AND "))
}

/// One indexed version, with what the policy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedVersion {
    pub collection: String,
    pub version: StoredVersion,
    pub name: Option<String>,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    pub revoked: bool,
    pub first_ref: Option<String>,
    pub second_ref: Option<String>,
}

/// A query the store answers from its index, newest `date_added` first. Filters that do not
/// depend on who reads are applied by the store.
#[derive(Debug, Clone, Default)]
pub struct IndexQuery {
    /// FTS5 syntax, from [`fts_query`].
    pub fts: Option<String>,
    /// Only these collections (never empty when sent to the store).
    pub collections: Vec<String>,
    pub types: Vec<String>,
    pub producers: Vec<OrgId>,
    pub ids: Vec<String>,
    /// Versions whose first or second reference is one of these.
    pub refs: Vec<String>,
    pub created: (Option<Timestamp>, Option<Timestamp>),
    pub modified: (Option<Timestamp>, Option<Timestamp>),
    pub revoked: Option<bool>,
    /// Only versions added strictly before this instant (the paging cursor).
    pub added_before: Option<Timestamp>,
    pub limit: usize,
}

/// Indexed versions of one group, by what the policy needs to decide who reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub collection: String,
    /// The type; in per-day counts, `sighting` or [`OTHER_TYPES`].
    pub type_name: String,
    /// Days since 1970-01-01 (UTC) of `date_added`, in per-day counts.
    pub day: Option<i64>,
    pub producer: OrgId,
    pub tlp: Option<Tlp>,
    pub recipients: Vec<OrgId>,
    pub count: u64,
}

/// Per-day counts tell sightings apart from everything else, under this name.
pub const OTHER_TYPES: &str = "other";

/// What the store counts for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub by_type: Vec<CountRow>,
    /// Since the day asked for.
    pub by_day: Vec<CountRow>,
}

/// One sighted object: how many sighting versions name it in all, and those versions
/// grouped by everything the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightedCounts {
    pub object: String,
    pub total: u64,
    pub groups: Vec<CountRow>,
}

/// What a person searches for on the Explore page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub text: String,
    pub types: Vec<String>,
    pub collections: Vec<String>,
    pub producers: Vec<OrgId>,
    pub tlps: Vec<Tlp>,
    pub created: (Option<Timestamp>, Option<Timestamp>),
    pub modified: (Option<Timestamp>, Option<Timestamp>),
    pub revoked: Option<bool>,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
}

/// One object found, at the newest of its matching versions the reader may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub collection: String,
    pub collection_title: String,
    pub id: String,
    pub type_name: String,
    pub name: Option<String>,
    pub version: Timestamp,
    pub date_added: Timestamp,
    pub producer: OrgId,
    pub tlp: Tlp,
    pub revoked: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub types: BTreeMap<String, usize>,
    pub collections: BTreeMap<String, usize>,
    pub producers: BTreeMap<OrgId, usize>,
    pub tlps: BTreeMap<Tlp, usize>,
    pub revoked: BTreeMap<bool, usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Readable objects found, up to [`SEARCH_EXAMINED`] versions examined.
    pub total: usize,
    /// More versions matched than were examined: `total` is a lower bound.
    pub truncated: bool,
    pub facets: Facets,
}

/// The most matching versions one search examines. Counts beyond it are shown as a lower
/// bound, so that a search costs the same on a large exchange as on a small one.
pub const SEARCH_EXAMINED: usize = 20_000;
const SEARCH_BATCH: usize = 2_000;

/// Readable content by type and per day, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub by_type: BTreeMap<String, u64>,
    /// Versions added per day (days since the epoch), oldest first.
    pub added_by_day: BTreeMap<i64, u64>,
    pub sightings_by_day: BTreeMap<i64, u64>,
    /// The readable indicators (or other objects) most sighted in sightings the reader may
    /// read, most first.
    pub top_sighted: Vec<Sighted>,
}

/// An object and how many readable sightings name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighted {
    pub id: String,
    /// A collection in which the reader reads it.
    pub collection: String,
    pub type_name: String,
    pub name: Option<String>,
    pub sightings: u64,
}

/// How many of the most sighted objects the dashboard shows.
pub const TOP_SIGHTED: usize = 10;

/// The most sighted objects looked at for one dashboard: for a reader who may read few of the
/// sightings, the list is drawn from these.
const SIGHTED_EXAMINED: usize = 2_000;

/// A relationship between two objects the reader may read, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub relationship: String,
    pub kind: String,
    pub source: String,
    pub target: String,
}

/// Objects around one object, reached through relationships the reader may read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbourhood {
    /// Object id → (type, name, distance from the centre), each readable.
    pub nodes: BTreeMap<String, (String, Option<String>, usize)>,
    pub edges: Vec<Edge>,
}

pub const DAY_MICROS: i64 = 86_400_000_000;

/// The day (since the epoch) an instant falls in.
pub fn day_of(at: Timestamp) -> i64 {
    at.as_micros().div_euclid(DAY_MICROS)
}

impl Exchange {
    /// The collections the principal may read, by id.
    fn readable_collections(&self, who: &Principal) -> Result<HashMap<String, Collection>> {
        Ok(self
            .store()
            .collections()?
            .into_iter()
            .filter(|c| policy::may_see_collection(who, c))
            .map(|c| (c.id.clone(), c))
            .collect())
    }

    fn require_reader(who: &Principal) -> Result<()> {
        match who.role() {
            Some(role) if role.reads_content() => Ok(()),
            Some(role) => Err(Error::Forbidden(format!(
                "role `{role}` may not read content"
            ))),
            None => Ok(()),
        }
    }

    /// Versions from the index that the principal may read, in the index's order, each once
    /// per object and collection (the first met), until `enough` says stop or `examined`
    /// versions were looked at. Returns whether more remained.
    fn each_readable(
        &self,
        who: &Principal,
        collections: &HashMap<String, Collection>,
        mut query: IndexQuery,
        examined: usize,
        mut each: impl FnMut(&Collection, IndexedVersion) -> bool,
    ) -> Result<bool> {
        if query.collections.is_empty() {
            return Ok(false);
        }
        let reader = who.org();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut looked = 0;
        query.limit = query.limit.clamp(1, examined.max(1));
        loop {
            let batch = self.store().search(&query)?;
            let exhausted = batch.len() < query.limit;
            for indexed in batch {
                looked += 1;
                query.added_before = Some(indexed.version.date_added);
                let Some(collection) = collections.get(&indexed.collection) else {
                    continue;
                };
                if !policy::may_read(reader, collection, &indexed.version) {
                    continue;
                }
                if !seen.insert((indexed.collection.clone(), indexed.version.id.clone())) {
                    continue;
                }
                if !each(collection, indexed) {
                    return Ok(true);
                }
                if looked >= examined {
                    return Ok(!exhausted);
                }
            }
            if exhausted {
                return Ok(false);
            }
            if looked >= examined {
                return Ok(true);
            }
        }
    }

    /// The collection, type and name of the newest version of an object the principal may
    /// read, from the index; `None` when it may read none.
    fn readable_object(
        &self,
        who: &Principal,
        collections: &HashMap<String, Collection>,
        id: &str,
    ) -> Result<Option<(String, String, Option<String>)>> {
        let mut found = None;
        self.each_readable(
            who,
            collections,
            IndexQuery {
                collections: collections.keys().cloned().collect(),
                ids: vec![id.to_owned()],
                limit: 50,
                ..IndexQuery::default()
            },
            500,
            |collection, indexed| {
                found = Some((
                    collection.id.clone(),
                    indexed.version.type_name.clone(),
                    indexed.name,
                ));
                false
            },
        )?;
        Ok(found)
    }

    /// Full-text and faceted search over what the principal may read. Hits and facet counts
    /// hold only versions [`policy::may_read`] lets it read.
    pub fn search(&self, who: &Principal, request: &SearchRequest) -> Result<SearchResults> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let wanted: Vec<String> = if request.collections.is_empty() {
            collections.keys().cloned().collect()
        } else {
            request
                .collections
                .iter()
                .filter(|c| collections.contains_key(*c))
                .cloned()
                .collect()
        };
        let query = IndexQuery {
            fts: fts_query(&request.text),
            collections: wanted,
            types: request.types.clone(),
            producers: request.producers.clone(),
            created: request.created,
            modified: request.modified,
            revoked: request.revoked,
            // Every matching version up to the bound is counted, so read them in one query
            // rather than running (and sorting) the match again for each batch.
            limit: SEARCH_EXAMINED,
            ..IndexQuery::default()
        };
        let per_page = request.per_page.clamp(1, 200);
        let skip = request
            .page
            .max(1)
            .saturating_sub(1)
            .saturating_mul(per_page);
        let mut results = SearchResults::default();
        let truncated = self.each_readable(
            who,
            &collections,
            query,
            SEARCH_EXAMINED,
            |collection, indexed| {
                let tlp = policy::effective_tlp(collection, &indexed.version);
                if !request.tlps.is_empty() && !request.tlps.contains(&tlp) {
                    return true;
                }
                let facets = &mut results.facets;
                *facets
                    .types
                    .entry(indexed.version.type_name.clone())
                    .or_default() += 1;
                *facets.collections.entry(collection.id.clone()).or_default() += 1;
                *facets
                    .producers
                    .entry(indexed.version.producer)
                    .or_default() += 1;
                *facets.tlps.entry(tlp).or_default() += 1;
                *facets.revoked.entry(indexed.revoked).or_default() += 1;
                results.total += 1;
                if results.total > skip && results.hits.len() < per_page {
                    results.hits.push(SearchHit {
                        collection: collection.id.clone(),
                        collection_title: collection.title.clone(),
                        id: indexed.version.id.clone(),
                        type_name: indexed.version.type_name.clone(),
                        name: indexed.name,
                        version: indexed.version.version,
                        date_added: indexed.version.date_added,
                        producer: indexed.version.producer,
                        tlp,
                        revoked: indexed.revoked,
                    });
                }
                true
            },
        )?;
        results.truncated = truncated;
        self.record(
            who,
            "search",
            &request.text.chars().take(200).collect::<String>(),
            &format!("{} objects", results.total),
        );
        Ok(results)
    }

    /// The newest objects the principal may read that were added after `after`, newest first.
    pub fn latest(
        &self,
        who: &Principal,
        after: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let query = IndexQuery {
            collections: collections.keys().cloned().collect(),
            // A few unreadable versions among the newest cost another batch, not more.
            limit: limit.saturating_mul(4).clamp(50, SEARCH_BATCH),
            ..IndexQuery::default()
        };
        let mut hits = Vec::new();
        self.each_readable(
            who,
            &collections,
            query,
            SEARCH_EXAMINED,
            |collection, indexed| {
                if after.is_some_and(|a| indexed.version.date_added <= a) {
                    return false;
                }
                hits.push(SearchHit {
                    collection: collection.id.clone(),
                    collection_title: collection.title.clone(),
                    id: indexed.version.id.clone(),
                    type_name: indexed.version.type_name.clone(),
                    name: indexed.name,
                    version: indexed.version.version,
                    date_added: indexed.version.date_added,
                    producer: indexed.version.producer,
                    tlp: policy::effective_tlp(collection, &indexed.version),
                    revoked: indexed.revoked,
                });
                hits.len() < limit
            },
        )?;
        Ok(hits)
    }

    /// The collections in which the principal may read some version of the object.
    pub fn object_locations(&self, who: &Principal, id: &str) -> Result<Vec<Collection>> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let query = IndexQuery {
            collections: collections.keys().cloned().collect(),
            ids: vec![id.to_owned()],
            limit: SEARCH_BATCH,
            ..IndexQuery::default()
        };
        let mut found: BTreeMap<String, Collection> = BTreeMap::new();
        self.each_readable(who, &collections, query, SEARCH_EXAMINED, |c, _| {
            found.insert(c.id.clone(), c.clone());
            true
        })?;
        Ok(found.into_values().collect())
    }

    /// Readable sightings of an object, newest first.
    pub fn sightings_of(&self, who: &Principal, id: &str, limit: usize) -> Result<Vec<SearchHit>> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let query = IndexQuery {
            collections: collections.keys().cloned().collect(),
            types: vec!["sighting".to_owned()],
            refs: vec![id.to_owned()],
            limit: SEARCH_BATCH,
            ..IndexQuery::default()
        };
        let mut hits = Vec::new();
        self.each_readable(who, &collections, query, SEARCH_EXAMINED, |c, indexed| {
            if indexed.first_ref.as_deref() == Some(id) {
                hits.push(SearchHit {
                    collection: c.id.clone(),
                    collection_title: c.title.clone(),
                    id: indexed.version.id.clone(),
                    type_name: indexed.version.type_name.clone(),
                    name: indexed.name,
                    version: indexed.version.version,
                    date_added: indexed.version.date_added,
                    producer: indexed.version.producer,
                    tlp: policy::effective_tlp(c, &indexed.version),
                    revoked: indexed.revoked,
                });
            }
            hits.len() < limit
        })?;
        Ok(hits)
    }

    /// The objects reached from `id` through at most `depth` readable relationships whose
    /// other end the principal may read too; at most `max_nodes` objects.
    pub fn neighbourhood(
        &self,
        who: &Principal,
        id: &str,
        depth: usize,
        max_nodes: usize,
    ) -> Result<Neighbourhood> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let all: Vec<String> = collections.keys().cloned().collect();
        let mut graph = Neighbourhood::default();
        let describe = |object: &str| -> Result<Option<(String, Option<String>)>> {
            let mut found = None;
            self.each_readable(
                who,
                &collections,
                IndexQuery {
                    collections: all.clone(),
                    ids: vec![object.to_owned()],
                    limit: 50,
                    ..IndexQuery::default()
                },
                500,
                |_, indexed| {
                    found = Some((indexed.version.type_name.clone(), indexed.name));
                    false
                },
            )?;
            Ok(found)
        };
        let Some((kind, name)) = describe(id)? else {
            return Ok(graph);
        };
        graph.nodes.insert(id.to_owned(), (kind, name, 0));
        let mut frontier = vec![id.to_owned()];
        let mut edges_seen = BTreeSet::new();
        for distance in 1..=depth {
            let mut next = Vec::new();
            for centre in &frontier {
                let mut relationships = Vec::new();
                self.each_readable(
                    who,
                    &collections,
                    IndexQuery {
                        collections: all.clone(),
                        types: vec!["relationship".to_owned()],
                        refs: vec![centre.clone()],
                        limit: 200,
                        ..IndexQuery::default()
                    },
                    200,
                    |_, indexed| {
                        relationships.push(indexed);
                        true
                    },
                )?;
                for relationship in relationships {
                    let (Some(source), Some(target)) = (
                        relationship.first_ref.clone(),
                        relationship.second_ref.clone(),
                    ) else {
                        continue;
                    };
                    let other = if source == *centre {
                        target.clone()
                    } else {
                        source.clone()
                    };
                    if !graph.nodes.contains_key(&other) {
                        if graph.nodes.len() >= max_nodes {
                            continue;
                        }
                        let Some((kind, name)) = describe(&other)? else {
                            continue;
                        };
                        graph.nodes.insert(other.clone(), (kind, name, distance));
                        next.push(other);
                    }
                    if edges_seen.insert(relationship.version.id.clone()) {
                        graph.edges.push(Edge {
                            relationship: relationship.version.id,
                            kind: relationship.name.unwrap_or_default(),
                            source,
                            target,
                        });
                    }
                }
            }
            frontier = next;
        }
        Ok(graph)
    }

    /// Readable content by type, and added per day since `since`, for the dashboard. The
    /// store keeps counts grouped by everything the policy looks at, so each group is
    /// decided by [`policy::may_read`] as one version would be.
    pub fn summary(&self, who: &Principal, since: Timestamp) -> Result<Summary> {
        Self::require_reader(who)?;
        let collections = self.readable_collections(who)?;
        let reader = who.org();
        let mut summary = Summary::default();
        let counts = self.store().counts(day_of(since))?;
        let readable = |row: &CountRow| {
            collections.get(&row.collection).is_some_and(|collection| {
                let probe = StoredVersion {
                    id: String::new(),
                    type_name: row.type_name.clone(),
                    spec_version: String::new(),
                    version: Timestamp::from_micros(0),
                    date_added: Timestamp::from_micros(0),
                    producer: row.producer,
                    tlp: row.tlp,
                    recipients: row.recipients.clone(),
                    newest: true,
                    oldest: true,
                    raw: None,
                };
                policy::may_read(reader, collection, &probe)
            })
        };
        for row in counts.by_type.iter().filter(|r| readable(r)) {
            *summary.by_type.entry(row.type_name.clone()).or_default() += row.count;
        }
        for row in counts.by_day.iter().filter(|r| readable(r)) {
            let Some(day) = row.day else { continue };
            *summary.added_by_day.entry(day).or_default() += row.count;
            if row.type_name == "sighting" {
                *summary.sightings_by_day.entry(day).or_default() += row.count;
            }
        }
        // Candidates come most sighted first; what the reader may read of each is at most its
        // total, so once the last of the top has at least the next candidate's total, no
        // later one can enter.
        let mut offset = 0;
        let mut examined = 0;
        'candidates: while examined < SIGHTED_EXAMINED {
            let page = self.store().sighted(offset, 50)?;
            offset += page.len();
            for candidate in &page {
                examined += 1;
                let full = summary.top_sighted.len() >= TOP_SIGHTED;
                if full
                    && summary
                        .top_sighted
                        .last()
                        .is_some_and(|last| last.sightings >= candidate.total)
                {
                    break 'candidates;
                }
                let count: u64 = candidate
                    .groups
                    .iter()
                    .filter(|g| readable(g))
                    .map(|g| g.count)
                    .sum();
                if count == 0 {
                    continue;
                }
                // A sighting the reader may read can name an object it may not: left out.
                let Some((collection, type_name, name)) =
                    self.readable_object(who, &collections, &candidate.object)?
                else {
                    continue;
                };
                summary.top_sighted.push(Sighted {
                    id: candidate.object.clone(),
                    collection,
                    type_name,
                    name,
                    sightings: count,
                });
                summary
                    .top_sighted
                    .sort_by(|a, b| b.sightings.cmp(&a.sightings).then_with(|| a.id.cmp(&b.id)));
                summary.top_sighted.truncate(TOP_SIGHTED);
            }
            if page.len() < 50 {
                break;
            }
        }
        self.record(who, "read", "summary", "ok");
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_safe_phrases() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("\"\" *"), None);
        assert_eq!(
            fts_query("apt28 198.51.100.7"),
            Some("\"apt28\" AND \"198.51.100.7\"*".to_owned())
        );
        assert_eq!(
            fts_query("a\"b OR"),
            Some("\"a\"\"b\" AND \"OR\"*".to_owned())
        );
    }

    #[test]
    fn documents_hold_the_useful_text() {
        let doc = document(
            r#"{"type":"attack-pattern","id":"attack-pattern--1","name":"Phishing","created":"2020-01-01T00:00:00Z","modified":"2021-01-01T00:00:00Z","aliases":["Spearphish"],"external_references":[{"source_name":"mitre-attack","external_id":"T1566"}],"kill_chain_phases":[{"kill_chain_name":"k","phase_name":"initial-access"}],"revoked":true,"x_other":"not indexed"}"#,
        );
        for word in [
            "Phishing",
            "Spearphish",
            "T1566",
            "initial-access",
            "attack-pattern--1",
        ] {
            assert!(doc.text.contains(word), "{word} missing from {}", doc.text);
        }
        assert!(!doc.text.contains("not indexed"));
        assert!(doc.revoked);
        assert_eq!(doc.name.as_deref(), Some("Phishing"));
        assert!(doc.modified > doc.created);
        let rel = document(
            r#"{"type":"relationship","id":"relationship--1","relationship_type":"uses","source_ref":"a--1","target_ref":"b--2"}"#,
        );
        assert_eq!(rel.first_ref.as_deref(), Some("a--1"));
        assert_eq!(rel.second_ref.as_deref(), Some("b--2"));
        assert_eq!(document("not json"), Document::default());
    }
}
