//! The TLP property: for random communities, objects, markings and recipients, every read path
//! (protection feeds included) returns exactly what the sharing rules allow — no more, no less.

use std::collections::{BTreeMap, BTreeSet};

use kawal_core::{Principal, Role};
use proptest::prelude::*;
use stix::Tlp;

use crate::harness::*;

#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) orgs: usize,
    /// Members of each group (indexes into orgs).
    pub(crate) groups: Vec<BTreeSet<usize>>,
    pub(crate) collections: Vec<CollectionSpec>,
    pub(crate) objects: Vec<ObjectSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct CollectionSpec {
    pub(crate) group: usize,
    pub(crate) default_tlp: Tlp,
    pub(crate) public: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ObjectSpec {
    pub(crate) collection: usize,
    pub(crate) producer: usize,
    /// Index into MARKINGS for each marking on the object.
    pub(crate) markings: Vec<usize>,
    pub(crate) recipients: BTreeSet<usize>,
    /// Which of a few shared ids, so that several versions of one object occur.
    pub(crate) id: usize,
    pub(crate) month: u32,
}

/// TLP 2.0, TLP 1.0 and one marking that is not a TLP marking.
const MARKINGS: [(&str, Option<Tlp>); 9] = [
    (stix::tlp::TLP2_CLEAR, Some(Tlp::Clear)),
    (stix::tlp::TLP2_GREEN, Some(Tlp::Green)),
    (stix::tlp::TLP2_AMBER, Some(Tlp::Amber)),
    (stix::tlp::TLP2_AMBER_STRICT, Some(Tlp::AmberStrict)),
    (stix::tlp::TLP2_RED, Some(Tlp::Red)),
    (stix::tlp::TLP1_WHITE, Some(Tlp::Clear)),
    (stix::tlp::TLP1_AMBER, Some(Tlp::Amber)),
    (stix::tlp::TLP1_RED, Some(Tlp::Red)),
    (
        "marking-definition--4a7c5a6e-6e7b-4a8e-9a51-1d9c0e7e2a11",
        None,
    ),
];

fn tlp() -> impl Strategy<Value = Tlp> {
    prop::sample::select(Tlp::ALL.to_vec())
}

pub(crate) fn world() -> impl Strategy<Value = World> {
    (2usize..=4).prop_flat_map(|orgs| {
        let group = prop::collection::btree_set(0..orgs, 1..=orgs);
        prop::collection::vec(group, 1..=2).prop_flat_map(move |groups| {
            let g = groups.len();
            let collection =
                (0..g, tlp(), any::<bool>()).prop_map(|(group, default_tlp, public)| {
                    CollectionSpec {
                        group,
                        default_tlp,
                        public,
                    }
                });
            let groups = groups.clone();
            prop::collection::vec(collection, 1..=3).prop_flat_map(move |collections| {
                let groups = groups.clone();
                let c = collections.len();
                let object = (
                    0..c,
                    0..orgs,
                    prop::collection::vec(0..MARKINGS.len(), 0..=2),
                    prop::collection::btree_set(0..orgs, 0..=orgs),
                    0usize..4,
                    1u32..=6,
                )
                    .prop_map(
                        |(collection, producer, markings, recipients, id, month)| ObjectSpec {
                            collection,
                            producer,
                            markings,
                            recipients,
                            id,
                            month,
                        },
                    );
                let (groups, collections) = (groups.clone(), collections.clone());
                prop::collection::vec(object, 0..=14).prop_map(move |objects| World {
                    orgs,
                    groups: groups.clone(),
                    collections: collections.clone(),
                    objects,
                })
            })
        })
    })
}

pub(crate) fn org_name(i: usize) -> String {
    format!("ORG-{i}")
}

/// The sharing rules of the design, written independently of the server's code.
pub(crate) fn allowed(
    world: &World,
    reader: Option<usize>,
    object: &ObjectSpec,
    recipients: &BTreeSet<usize>,
) -> bool {
    let c = &world.collections[object.collection];
    let members = &world.groups[c.group];
    if reader == Some(object.producer) {
        return true;
    }
    let member = reader.is_some_and(|r| members.contains(&r));
    let marked = object.markings.iter().filter_map(|m| MARKINGS[*m].1).max();
    match marked.unwrap_or(c.default_tlp) {
        Tlp::Clear => member || c.public,
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => member,
        Tlp::Red => member && reader.is_some_and(|r| recipients.contains(&r)),
    }
}

pub(crate) fn raw(object: &ObjectSpec, nth: usize) -> String {
    let markings: Vec<String> = object
        .markings
        .iter()
        .map(|m| format!("\"{}\"", MARKINGS[*m].0))
        .collect();
    let marking_refs = if markings.is_empty() {
        String::new()
    } else {
        format!(",\"object_marking_refs\":[{}]", markings.join(","))
    };
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{:012}","created":"2020-01-01T00:00:00.000Z","modified":"2020-{:02}-01T00:00:00.000Z","name":"n{nth}","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"{marking_refs}}}"#,
        object.id,
        object.month,
        nth % 250
    )
}

/// (collection, object id, month of `modified`)
pub(crate) type VersionKey = (usize, String, String);
/// What was shared, the recipients that took effect, and the exact text.
pub(crate) type StoredSpec = (ObjectSpec, BTreeSet<usize>, String);

/// A world set up on a running instance: its collections' ids, and what was stored.
pub(crate) struct Built {
    pub(crate) it: Instance,
    pub(crate) collection_ids: Vec<String>,
    pub(crate) stored: BTreeMap<VersionKey, StoredSpec>,
}

/// Creates the world's organisations, groups and collections, and shares its objects.
pub(crate) fn build(world: &World) -> Built {
    let it = Instance::start(3, 1024 * 1024);
    let admin = it.admin();
    for i in 0..world.orgs {
        it.ex().add_org(&admin, &org_name(i), None).unwrap();
    }
    for (g, members) in world.groups.iter().enumerate() {
        let names: Vec<String> = members.iter().map(|m| org_name(*m)).collect();
        it.ex()
            .add_group(&admin, &format!("group-{g}"), &names)
            .unwrap();
    }
    let collection_ids: Vec<String> = world
        .collections
        .iter()
        .map(|c| {
            it.ex()
                .add_collection(
                    &admin,
                    &kawal_core::NewCollectionRequest {
                        title: "c".to_owned(),
                        description: None,
                        group: format!("group-{}", c.group),
                        writers: None,
                        default_tlp: c.default_tlp,
                        public: c.public,
                    },
                )
                .unwrap()
                .id
        })
        .collect();
    let orgs = it.ex().store().orgs().unwrap();
    let org_id = |i: usize| orgs.iter().find(|o| o.name == org_name(i)).unwrap().id;

    // What was actually stored: (collection, id, modified) -> (spec, effective recipients, raw).
    let mut stored: BTreeMap<VersionKey, StoredSpec> = BTreeMap::new();
    for (nth, object) in world.objects.iter().enumerate() {
        let c = &world.collections[object.collection];
        let members = &world.groups[c.group];
        if !members.contains(&object.producer) {
            continue; // only members write
        }
        let recipients: BTreeSet<usize> =
            object.recipients.intersection(members).copied().collect();
        let names: Vec<String> = recipients.iter().map(|r| org_name(*r)).collect();
        let text = raw(object, nth);
        let who = Principal::Local {
            org: org_id(object.producer),
            role: Role::Analyst,
        };
        let status = it
            .ex()
            .add_objects(
                &who,
                &collection_ids[object.collection],
                &format!("{{\"objects\":[{text}]}}"),
                &names,
            )
            .unwrap();
        if status.success_count == 1
            && status.successes[0]
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("logged at leaf"))
        {
            let key = (
                object.collection,
                format!("indicator--00000000-0000-4000-8000-{:012}", object.id),
                format!("2020-{:02}-01", object.month),
            );
            stored.insert(key, (object.clone(), recipients, text));
        }
    }

    Built {
        it,
        collection_ids,
        stored,
    }
}

/// Runs one world: sets it up, then compares every read path of every reader with the rules.
fn check(world: &World) -> Result<(), TestCaseError> {
    let Built {
        it,
        collection_ids,
        stored,
    } = build(world);
    let mut tokens: Vec<(Option<usize>, Option<String>)> = vec![(None, None)];
    for i in 0..world.orgs {
        tokens.push((Some(i), Some(it.token(&org_name(i), Role::Reader))));
    }
    for (reader, token) in &tokens {
        if let (Some(reader), Some(token)) = (reader, token) {
            check_feed(&it, world, *reader, token, &stored)?;
        }
        let token = token.as_deref();
        let visible_collections = get(&format!("{}/kawal/collections/", it.base), token).json();
        let listed: BTreeSet<String> = visible_collections["collections"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        for (ci, cid) in collection_ids.iter().enumerate() {
            let spec = &world.collections[ci];
            let sees = spec.public || reader.is_some_and(|r| world.groups[spec.group].contains(&r));
            prop_assert_eq!(
                listed.contains(cid),
                sees,
                "collection listing for reader {:?}",
                reader
            );
            let expected: BTreeMap<(String, String), String> = stored
                .iter()
                .filter(|((c, _, _), (o, rec, _))| *c == ci && allowed(world, *reader, o, rec))
                .map(|((_, id, month), (_, _, text))| ((id.clone(), month.clone()), text.clone()))
                .collect();
            let base = format!("{}/kawal/collections/{cid}", it.base);
            if !sees {
                let status = get(&format!("{base}/objects/"), token).status;
                prop_assert!(status == 404 || status == 401);
                continue;
            }
            // objects, every version, paged by 3
            let all = get_all(
                &format!("{base}/objects/?match[version]=all&limit=2"),
                token,
                "objects",
            );
            let got: BTreeMap<(String, String), String> = all
                .iter()
                .map(|o| {
                    (
                        (
                            o["id"].as_str().unwrap().to_owned(),
                            o["modified"].as_str().unwrap()[..10].to_owned(),
                        ),
                        o.to_string(),
                    )
                })
                .collect();
            prop_assert_eq!(all.len(), got.len(), "an object version was returned twice");
            prop_assert_eq!(
                got.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "objects for reader {:?}",
                reader
            );
            for (key, text) in &expected {
                let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
                prop_assert_eq!(&got[key], &parsed.to_string());
            }
            // manifest
            let manifest = get_all(
                &format!("{base}/manifest/?match[version]=all"),
                token,
                "objects",
            );
            prop_assert_eq!(
                manifest.len(),
                expected.len(),
                "manifest for reader {:?}",
                reader
            );
            // newest readable version per id: objects (default last) and REST export
            let mut newest: BTreeMap<String, String> = BTreeMap::new();
            for (id, month) in expected.keys() {
                newest.insert(id.clone(), month.clone());
            }
            let last = get_all(&format!("{base}/objects/"), token, "objects");
            let last: BTreeMap<String, String> = last
                .iter()
                .map(|o| {
                    (
                        o["id"].as_str().unwrap().to_owned(),
                        o["modified"].as_str().unwrap()[..10].to_owned(),
                    )
                })
                .collect();
            prop_assert_eq!(&last, &newest, "last versions for reader {:?}", reader);
            let first = get_all(
                &format!("{base}/objects/?match[version]=first"),
                token,
                "objects",
            );
            prop_assert_eq!(first.len(), newest.len());
            if let Some(token) = token {
                let export = call(
                    "GET",
                    &format!("{}/api/collections/{cid}/export", it.base),
                    &[("Authorization", &bearer(token))],
                    None,
                )
                .json();
                let exported: BTreeMap<String, String> = export["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        (
                            o["id"].as_str().unwrap().to_owned(),
                            o["modified"].as_str().unwrap()[..10].to_owned(),
                        )
                    })
                    .collect();
                prop_assert_eq!(&exported, &newest, "export for reader {:?}", reader);
            }
            // single object and its versions
            for id in newest.keys() {
                let versions =
                    get_all(&format!("{base}/objects/{id}/versions/"), token, "versions");
                let want = expected.keys().filter(|(i, _)| i == id).count();
                prop_assert_eq!(
                    versions.len(),
                    want,
                    "versions of {} for reader {:?}",
                    id,
                    reader
                );
                let one = get(&format!("{base}/objects/{id}/"), token);
                prop_assert_eq!(one.status, 200);
                // The REST view of the object: the same versions, oldest first, as stored.
                let view = rest_object(&it.base, cid, id, token);
                prop_assert_eq!(view.status, 200, "REST view of {}: {}", id, view.body);
                let view = view.json();
                let versions = view["versions"].as_array().unwrap();
                let got: Vec<(String, String)> = versions
                    .iter()
                    .map(|v| {
                        (
                            v["version"].as_str().unwrap()[..10].to_owned(),
                            v["object"].to_string(),
                        )
                    })
                    .collect();
                let want: Vec<(String, String)> = expected
                    .iter()
                    .filter(|((i, _), _)| i == id)
                    .map(|((_, month), text)| {
                        let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
                        (month.clone(), parsed.to_string())
                    })
                    .collect();
                prop_assert_eq!(got, want, "REST view of {} for reader {:?}", id, reader);
                prop_assert!(versions.iter().all(|v| v["leaf"].is_u64()));
            }
            let hidden: BTreeSet<&String> = stored
                .keys()
                .filter(|(c, _, _)| *c == ci)
                .map(|(_, id, _)| id)
                .filter(|id| !newest.contains_key(*id))
                .collect();
            for id in hidden {
                let status = get(&format!("{base}/objects/{id}/"), token).status;
                prop_assert_eq!(
                    status,
                    404,
                    "{} must not be visible to reader {:?}",
                    id,
                    reader
                );
                let status = rest_object(&it.base, cid, id, token).status;
                prop_assert_eq!(status, 404, "REST view of hidden {}", id);
            }
        }
    }
    Ok(())
}

fn rest_object(base: &str, collection: &str, id: &str, token: Option<&str>) -> Reply {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    call(
        "GET",
        &format!("{base}/api/collections/{collection}/objects/{id}"),
        &headers,
        None,
    )
}

/// The reader's address feed holds, for every indicator it may read in some collection, the
/// address of its newest readable version (across collections, the newest of those), and
/// nothing else.
fn check_feed(
    it: &Instance,
    world: &World,
    reader: usize,
    token: &str,
    stored: &BTreeMap<VersionKey, StoredSpec>,
) -> Result<(), TestCaseError> {
    let mut newest: BTreeMap<(usize, &str), &String> = BTreeMap::new();
    for ((c, id, month), (o, rec, _)) in stored {
        if allowed(world, Some(reader), o, rec) {
            newest.insert((*c, id), month);
        }
    }
    let mut candidates: BTreeMap<&str, (&String, BTreeSet<String>)> = BTreeMap::new();
    for ((c, id), month) in &newest {
        let (_, _, text) = &stored[&(*c, (*id).to_owned(), (*month).clone())];
        let object: serde_json::Value = serde_json::from_str(text).unwrap();
        let pattern = object["pattern"].as_str().unwrap();
        let address = pattern.split('\'').nth(1).unwrap().to_owned();
        let entry = candidates.entry(id).or_insert((month, BTreeSet::new()));
        if *month > entry.0 {
            *entry = (month, BTreeSet::new());
        }
        if *month == entry.0 {
            entry.1.insert(address);
        }
    }
    let reply = call(
        "GET",
        &format!("{}/api/feeds/ip?comments=true", it.base),
        &[("Authorization", &bearer(token))],
        None,
    );
    prop_assert_eq!(reply.status, 200, "{}", reply.body);
    let mut fed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in reply.body.lines() {
        let (address, ids) = line.split_once(" # ").unwrap();
        for id in ids.split(' ') {
            fed.entry(id.to_owned())
                .or_default()
                .insert(address.to_owned());
        }
    }
    prop_assert_eq!(
        fed.keys().map(String::as_str).collect::<Vec<_>>(),
        candidates.keys().copied().collect::<Vec<_>>(),
        "indicators in the feed of reader {}",
        reader
    );
    for (id, addresses) in &fed {
        // Equal versions with different content in two collections: either one governs.
        prop_assert!(
            addresses.len() == 1 && candidates[id.as_str()].1.is_superset(addresses),
            "feed of reader {} has {:?} for {}, expected one of {:?}",
            reader,
            addresses,
            id,
            candidates[id.as_str()].1
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn every_read_path_returns_exactly_what_the_policy_allows(world in world()) {
        check(&world)?;
    }
}
