//! The behaviour every [`Store`] engine must show. An engine's tests run the whole suite with
//! `kawal_core::store_conformance_tests!(|| MyStore::open_somewhere())`.

use std::collections::HashSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use stix::{Timestamp, Tlp};

use crate::model::{InsertOutcome, NewVersion, Role, Token, Writers};
use crate::store::{
    AuditQuery, EvidenceRecord, NewCollection, Scan, Store, StoredStatus, WitnessSwap,
    WitnessedCheckpoint,
};
use crate::AuditEvent;

/// Runs each named check against a fresh store from the factory.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@each $factory;
            settings_round_trip, orgs_groups_collections, tokens, insert_outcomes,
            date_added_strictly_increases, scan_filters, newest_and_oldest, delete_versions,
            statuses, audit_trail, paging_under_concurrent_writes, transparency_log,
            witness_state, alerts, sighting_sharing, users_and_sessions, search_index,
            group_members_grow, case_collections, evidence_records, alert_acknowledgements);
    };
    (@each $factory:expr; $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                let store = ($factory)();
                $crate::conformance::$check(std::sync::Arc::new(store));
            }
        )*
    };
}

pub fn object(id: &str, modified: &str, extra: &str) -> NewVersion {
    let type_name = id.split("--").next().unwrap_or("x-unknown");
    let required = match type_name {
        "indicator" => {
            r#","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z""#
        }
        _ => "",
    };
    let raw = format!(
        r#"{{"type":"{type_name}","spec_version":"2.1","id":"{id}","created":"2020-01-01T00:00:00.000Z","modified":"{modified}"{required}{extra}}}"#
    );
    new_version(&raw)
}

pub fn new_version(raw: &str) -> NewVersion {
    let object =
        stix::parse_object(raw).unwrap_or_else(|e| panic!("fixture does not validate: {e}"));
    let sha256 = Sha256::digest(raw.as_bytes()).into();
    let tlp = object.tlp();
    NewVersion {
        object,
        sha256,
        tlp,
    }
}

fn setup(store: &dyn Store) -> (i64, i64, String) {
    let a = store
        .create_org(
            "MY-CERT",
            Some("MY"),
            "identity--11111111-1111-4111-8111-111111111111",
        )
        .unwrap();
    let b = store
        .create_org(
            "KH-CERT",
            Some("KH"),
            "identity--22222222-2222-4222-8222-222222222222",
        )
        .unwrap();
    let group = store.create_group("ASEAN", &[a.id, b.id]).unwrap();
    let collection = store
        .create_collection(&NewCollection {
            id: "9cfa669c-ee94-4ece-afd2-f8edac37d8fd".into(),
            title: "Indicators".into(),
            description: None,
            group: group.id,
            writers: Writers::AllMembers,
            default_tlp: Tlp::Amber,
            public: false,
        })
        .unwrap();
    (a.id, b.id, collection.id)
}

const ID1: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const ID2: &str = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";

pub fn settings_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.setting("k").unwrap(), None);
    store.set_setting("k", "1").unwrap();
    store.set_setting("k", "2").unwrap();
    assert_eq!(store.setting("k").unwrap().as_deref(), Some("2"));
}

pub fn orgs_groups_collections(store: Arc<dyn Store>) {
    let (a, b, cid) = setup(&*store);
    assert!(store
        .create_org(
            "MY-CERT",
            None,
            "identity--33333333-3333-4333-8333-333333333333"
        )
        .is_err());
    assert_eq!(store.org_by_name("KH-CERT").unwrap().unwrap().id, b);
    assert_eq!(
        store.org(a).unwrap().unwrap().country.as_deref(),
        Some("MY")
    );
    assert_eq!(store.orgs().unwrap().len(), 2);
    let group = store.group_by_name("ASEAN").unwrap().unwrap();
    assert_eq!(group.members, vec![a.min(b), a.max(b)]);
    assert!(store.create_group("ASEAN", &[]).is_err());
    let c = store.collection(&cid).unwrap().unwrap();
    assert_eq!(
        (c.default_tlp, c.public, c.writers.clone()),
        (Tlp::Amber, false, Writers::AllMembers)
    );
    assert_eq!(c.members.len(), 2);
    let only = store
        .create_collection(&NewCollection {
            id: "0b6f6b4e-4b55-4a4b-9b3c-0c1f9b2a7e10".into(),
            title: "Feed".into(),
            description: Some("read-only feed".into()),
            group: group.id,
            writers: Writers::Only(vec![a]),
            default_tlp: Tlp::Clear,
            public: true,
        })
        .unwrap();
    assert_eq!(only.writers, Writers::Only(vec![a]));
    assert_eq!(store.collections().unwrap().len(), 2);
    assert!(store.collection("unknown").unwrap().is_none());
}

pub fn tokens(store: Arc<dyn Store>) {
    let (a, _, _) = setup(&*store);
    let token = Token {
        id: "0123456789abcdef".into(),
        org: a,
        role: Role::Analyst,
        secret_hash: "$argon2id$fake".into(),
        created: Timestamp::now(),
        revoked: false,
    };
    store.create_token(&token).unwrap();
    assert!(store.create_token(&token).is_err());
    assert_eq!(store.token(&token.id).unwrap().unwrap(), token);
    assert!(store.revoke_token(&token.id).unwrap());
    assert!(!store.revoke_token("ffffffffffffffff").unwrap());
    assert!(store.token(&token.id).unwrap().unwrap().revoked);
    assert_eq!(store.tokens().unwrap().len(), 1);
}

pub fn insert_outcomes(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let v1 = object(ID1, "2020-01-01T00:00:00.000Z", "");
    let v1_other = object(ID1, "2020-01-01T00:00:00.000Z", r#","name":"changed""#);
    let sco = new_version(
        r#"{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}"#,
    );
    let out = store
        .insert_versions(
            &cid,
            a,
            &[],
            &[v1.clone(), v1_other, sco.clone(), v1],
            true,
            &status,
        )
        .unwrap();
    assert!(matches!(out[0], InsertOutcome::Added { .. }));
    assert!(matches!(out[1], InsertOutcome::Conflict { .. }));
    assert!(matches!(out[2], InsertOutcome::Added { .. }));
    assert!(matches!(out[3], InsertOutcome::AlreadyPresent { .. }));
    let again = store
        .insert_versions(&cid, a, &[], &[sco], true, &status)
        .unwrap();
    assert!(
        matches!(again[0], InsertOutcome::AlreadyPresent { .. }),
        "{again:?}"
    );
    let all = store
        .scan(
            &cid,
            None,
            &Scan {
                batch: 100,
                with_content: true,
                ..Scan::default()
            },
        )
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].raw.as_deref().is_some_and(|r| r.contains(ID1)));
}

pub fn date_added_strictly_increases(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let batch: Vec<NewVersion> = (0..200)
        .map(|i| {
            object(
                &format!("indicator--00000000-0000-4000-8000-{i:012}"),
                "2020-01-01T00:00:00.000Z",
                "",
            )
        })
        .collect();
    store
        .insert_versions(&cid, a, &[], &batch[..100], true, &status)
        .unwrap();
    store
        .insert_versions(&cid, a, &[], &batch[100..], true, &status)
        .unwrap();
    let all = store
        .scan(
            &cid,
            None,
            &Scan {
                batch: 1000,
                ..Scan::default()
            },
        )
        .unwrap();
    assert_eq!(all.len(), 200);
    assert!(all.windows(2).all(|w| w[0].date_added < w[1].date_added));
}

pub fn scan_filters(store: Arc<dyn Store>) {
    let (a, b, cid) = setup(&*store);
    store
        .insert_versions(
            &cid,
            a,
            &[b],
            &[object(ID1, "2020-01-01T00:00:00.000Z", "")],
            true,
            &status,
        )
        .unwrap();
    store
        .insert_versions(
            &cid,
            b,
            &[],
            &[object(
                ID2,
                "2020-01-01T00:00:00.000Z",
                r#","name":"x","is_family":true"#,
            )],
            true,
            &status,
        )
        .unwrap();
    let by = |scan: Scan| store.scan(&cid, None, &Scan { batch: 10, ..scan }).unwrap();
    let types = by(Scan {
        types: vec!["malware".into()],
        ..Scan::default()
    });
    assert_eq!(
        (types.len(), types[0].id.as_str(), types[0].producer),
        (1, ID2, b)
    );
    assert_eq!(
        by(Scan {
            ids: vec![ID1.into(), ID2.into()],
            ..Scan::default()
        })
        .len(),
        2
    );
    assert!(by(Scan {
        spec_versions: vec!["2.0".into()],
        ..Scan::default()
    })
    .is_empty());
    let first = by(Scan::default());
    assert_eq!(first[0].recipients, vec![b]);
    assert!(first[0].raw.is_none());
    // A bulk read is the same read, however the store goes about it.
    let content = |bulk| {
        by(Scan {
            with_content: true,
            bulk,
            ..Scan::default()
        })
    };
    assert_eq!(content(true), content(false));
    assert!(content(true).iter().all(|v| v.raw.is_some()));
    let after = by(Scan {
        added_after: Some(first[0].date_added),
        ..Scan::default()
    });
    assert_eq!(after.len(), 1);
    assert_eq!(
        store
            .scan(
                &cid,
                Some(first[1].date_added),
                &Scan {
                    batch: 10,
                    ..Scan::default()
                }
            )
            .unwrap()
            .len(),
        0
    );
    assert!(store
        .scan(
            "no-such-collection",
            None,
            &Scan {
                batch: 10,
                ..Scan::default()
            }
        )
        .unwrap()
        .is_empty());
}

pub fn newest_and_oldest(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let red = format!(r#","object_marking_refs":["{}"]"#, stix::tlp::TLP2_RED);
    store
        .insert_versions(
            &cid,
            a,
            &[],
            &[
                object(ID1, "2020-03-01T00:00:00.000Z", &red),
                object(ID1, "2020-01-01T00:00:00.000Z", ""),
                object(ID1, "2020-02-01T00:00:00.000Z", ""),
            ],
            true,
            &status,
        )
        .unwrap();
    let versions = store.versions(&cid, ID1, true).unwrap();
    let flags: Vec<(bool, bool)> = versions.iter().map(|v| (v.oldest, v.newest)).collect();
    assert_eq!(flags, vec![(true, false), (false, false), (false, true)]);
    assert_eq!(versions[2].tlp, Some(Tlp::Red));
    assert!(versions.windows(2).all(|w| w[0].version < w[1].version));
    assert!(versions.iter().all(|v| v.raw.is_some()));
}

pub fn delete_versions(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let v1 = object(ID1, "2020-01-01T00:00:00.000Z", "");
    let v2 = object(ID1, "2020-02-01T00:00:00.000Z", "");
    store
        .insert_versions(&cid, a, &[], &[v1, v2.clone()], true, &status)
        .unwrap();
    let t1 = Timestamp::parse("2020-01-01T00:00:00.000Z").unwrap();
    let unmoved = store.deletion_mark().unwrap();
    assert_eq!(
        store
            .delete_versions(&cid, ID1, &[t1], &deletion_leaf)
            .unwrap(),
        1
    );
    // Monitoring reconciles only when the mark moved: every deletion moves it.
    let moved = store.deletion_mark().unwrap();
    assert!(moved > unmoved, "{unmoved} → {moved}");
    assert_eq!(
        store
            .delete_versions(&cid, ID1, &[t1], &deletion_leaf)
            .unwrap(),
        0
    );
    assert_eq!(store.deletion_mark().unwrap(), moved);
    let left = store.versions(&cid, ID1, false).unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].newest && left[0].oldest);
    // A date_added is never handed out twice, even once its object is gone.
    let before = left[0].date_added;
    store
        .delete_versions(&cid, ID1, &[left[0].version], &deletion_leaf)
        .unwrap();
    store
        .insert_versions(&cid, a, &[], &[v2], true, &status)
        .unwrap();
    assert!(store.versions(&cid, ID1, false).unwrap()[0].date_added > before);
}

pub fn statuses(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let status = StoredStatus {
        id: "2d086da7-4bdc-4f91-900e-d77486753710".into(),
        owner: a,
        json: "{}".into(),
    };
    store.save_status(&status).unwrap();
    assert_eq!(store.status(&status.id).unwrap(), Some(status));
    assert_eq!(store.status("missing").unwrap(), None);
    // A write's status is stored with it, even when nothing was added.
    let written = std::cell::RefCell::new(String::new());
    let status_fn = |outcomes: &[InsertOutcome]| {
        let s = self::status(outcomes);
        written.borrow_mut().clone_from(&s.id);
        s
    };
    store
        .insert_versions(&cid, a, &[], &[], true, &status_fn)
        .unwrap();
    assert!(store.status(&written.borrow()).unwrap().is_some());
}

pub fn audit_trail(store: Arc<dyn Store>) {
    let (a, b, _) = setup(&*store);
    let event = |i: i64, org, action: &str| AuditEvent {
        at: Timestamp::from_micros(i),
        actor: format!("token:{org}"),
        org: Some(org),
        action: action.into(),
        target: "t".into(),
        outcome: "ok".into(),
    };
    store
        .append_audit(&[
            event(1, a, "read"),
            event(2, b, "write"),
            event(3, a, "write"),
        ])
        .unwrap();
    let all = store
        .audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|(_, e)| e.at.as_micros())
            .collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    // The next page starts before the last position seen, whatever was appended since.
    let first_page = store
        .audit(&AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .unwrap();
    store.append_audit(&[event(4, b, "read")]).unwrap();
    let second_page = store
        .audit(&AuditQuery {
            limit: 2,
            before: first_page.last().map(|(seq, _)| *seq),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        second_page
            .iter()
            .map(|(_, e)| e.at.as_micros())
            .collect::<Vec<_>>(),
        vec![1]
    );
    let find = |query: AuditQuery| -> Vec<i64> {
        store
            .audit(&AuditQuery { limit: 10, ..query })
            .unwrap()
            .iter()
            .map(|(_, e)| e.at.as_micros())
            .collect()
    };
    store
        .append_audit(&[AuditEvent {
            target: "collection/50%_off".into(),
            outcome: "refused: wrong credentials".into(),
            ..event(5, a, "sign-in")
        }])
        .unwrap();
    assert_eq!(
        find(AuditQuery {
            target: Some("50%_".into()),
            ..AuditQuery::default()
        }),
        vec![5]
    );
    // Wildcards typed by the caller match only themselves.
    assert!(find(AuditQuery {
        target: Some("50%x".into()),
        ..AuditQuery::default()
    })
    .is_empty());
    assert_eq!(
        find(AuditQuery {
            outcome: Some("refused".into()),
            ..AuditQuery::default()
        }),
        vec![5]
    );
    assert_eq!(
        find(AuditQuery {
            since: Some(Timestamp::from_micros(2)),
            until: Some(Timestamp::from_micros(3)),
            ..AuditQuery::default()
        }),
        vec![3, 2]
    );
    let writes_of_a = store
        .audit(&AuditQuery {
            org: Some(a),
            action: Some("write".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(writes_of_a.len(), 1);
    assert_eq!(
        store
            .audit(&AuditQuery {
                since: Some(Timestamp::from_micros(2)),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap()
            .len(),
        4
    );
}

/// A reader paging with `next`-style cursors while writers add objects sees every object
/// exactly once, in `date_added` order.
pub fn paging_under_concurrent_writes(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    let total = 2_000;
    let writer = {
        let store = Arc::clone(&store);
        let cid = cid.clone();
        std::thread::spawn(move || {
            for chunk in (0..total).collect::<Vec<_>>().chunks(50) {
                let batch: Vec<NewVersion> = chunk
                    .iter()
                    .map(|i| {
                        object(
                            &format!("indicator--00000000-0000-4000-8000-{i:012}"),
                            "2020-01-01T00:00:00.000Z",
                            "",
                        )
                    })
                    .collect();
                store
                    .insert_versions(&cid, a, &[], &batch, true, &status)
                    .unwrap();
            }
        })
    };
    let mut seen = HashSet::new();
    let mut cursor = None;
    let mut last = None;
    while seen.len() < total {
        let page = store
            .scan(
                &cid,
                cursor,
                &Scan {
                    batch: 37,
                    ..Scan::default()
                },
            )
            .unwrap();
        for v in &page {
            assert!(seen.insert(v.id.clone()), "{} returned twice", v.id);
            assert!(last < Some(v.date_added));
            last = Some(v.date_added);
        }
        cursor = page.last().map(|v| v.date_added).or(cursor);
        if page.is_empty() && writer.is_finished() {
            let rest = store
                .scan(
                    &cid,
                    cursor,
                    &Scan {
                        batch: 37,
                        ..Scan::default()
                    },
                )
                .unwrap();
            assert!(
                !rest.is_empty() || seen.len() == total,
                "paging skipped objects: saw {}",
                seen.len()
            );
        }
    }
    writer.join().unwrap();
    assert_eq!(seen.len(), total);
}

/// A status resource with a fresh id, owned by nobody in particular.
pub fn status(outcomes: &[InsertOutcome]) -> StoredStatus {
    StoredStatus {
        id: uuid::Uuid::new_v4().to_string(),
        owner: 0,
        json: format!("{{\"outcomes\":{}}}", outcomes.len()),
    }
}

/// A leaf naming the version, distinct for every version stored.
pub fn deletion_leaf(v: &crate::StoredVersion, sha256: &[u8; 32]) -> Option<Vec<u8>> {
    Some(format!("deletion {} {} {:02x}", v.id, v.version, sha256[0]).into_bytes())
}

/// Node hashes the store keeps, as `tlog` reads them.
struct Nodes<'a>(&'a dyn Store);

impl tlog::HashReader for Nodes<'_> {
    type Error = std::fmt::Error;
    fn hash_at(&self, level: u8, index: u64) -> Result<tlog::Hash, std::fmt::Error> {
        self.0
            .log_hashes(&[tlog::NodeId::new(level, index)])
            .ok()
            .and_then(|mut v| v.pop().flatten())
            .ok_or(std::fmt::Error)
    }
}

pub fn transparency_log(store: Arc<dyn Store>) {
    let (a, _, cid) = setup(&*store);
    assert_eq!(store.log_head().unwrap(), (0, tlog::EMPTY_ROOT));
    let batch: Vec<NewVersion> = (0..37)
        .map(|i| {
            object(
                &format!("indicator--00000000-0000-4000-8000-{i:012}"),
                "2020-01-01T00:00:00.000Z",
                "",
            )
        })
        .collect();
    let outcomes = store
        .insert_versions(&cid, a, &[], &batch, true, &status)
        .unwrap();
    let leaves: Vec<Option<u64>> = outcomes
        .iter()
        .map(|o| match o {
            InsertOutcome::Added { leaf, .. } => *leaf,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(leaves, (0..37).map(Some).collect::<Vec<_>>());
    // Duplicates add no leaf.
    store
        .insert_versions(&cid, a, &[], &batch[..3], true, &status)
        .unwrap();
    store.append_log(&[b"audit".to_vec()]).unwrap();
    let (size, root) = store.log_head().unwrap();
    assert_eq!(size, 38);
    let data: Vec<Vec<u8>> = store
        .log_leaves(0, size)
        .unwrap()
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(data.len(), 38);
    let mut expected = tlog::Frontier::new();
    for d in &data {
        expected.append(tlog::leaf_hash(d)).unwrap();
    }
    assert_eq!(expected.root(), root);
    // An object's leaf is the documented `log::ObjectLeaf` of what was stored.
    let collection = store.collection(&cid).unwrap().unwrap();
    let producer = store.org(a).unwrap().unwrap().identity_id;
    let first = &store.versions(&cid, &batch[0].object.id, false).unwrap()[0];
    let expected_leaf = crate::log::ObjectLeaf {
        deletion: false,
        collection: &cid,
        id: &first.id,
        version: first.version,
        date_added: first.date_added,
        producer: &producer,
        tlp: batch[0].tlp.unwrap_or(collection.default_tlp),
        sha256: batch[0].sha256,
    }
    .encode();
    assert_eq!(data[0], expected_leaf);
    for index in [0, 17, 36, 37] {
        let proof = tlog::proof::inclusion_proof(&Nodes(&*store), index, size).unwrap();
        tlog::proof::verify_inclusion(
            &tlog::leaf_hash(&data[index as usize]),
            index,
            size,
            &proof,
            &root,
        )
        .unwrap();
    }
    let v = &store
        .versions(
            &cid,
            "indicator--00000000-0000-4000-8000-000000000005",
            false,
        )
        .unwrap()[0];
    assert_eq!(store.leaf_of(&cid, &v.id, v.version).unwrap(), Some(5));
    assert_eq!(
        store
            .delete_versions(&cid, &v.id, &[v.version], &deletion_leaf)
            .unwrap(),
        1
    );
    // The deleted version's leaf reads back as it was hashed, now that its row is gone.
    assert_eq!(store.log_leaves(5, 6).unwrap(), vec![(5, data[5].clone())]);
    let (after, new_root) = store.log_head().unwrap();
    assert_eq!(after, 39);
    assert!(
        String::from_utf8(store.log_leaves(38, 39).unwrap()[0].1.clone())
            .unwrap()
            .starts_with("deletion ")
    );
    let proof = tlog::proof::consistency_proof(&Nodes(&*store), size, after).unwrap();
    tlog::proof::verify_consistency(size, after, &root, &new_root, &proof).unwrap();
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    store.save_checkpoint(38, "note 38").unwrap();
    store.save_checkpoint(39, "note 39").unwrap();
    assert_eq!(
        store.latest_checkpoint().unwrap(),
        Some((39, "note 39".to_owned()))
    );
    // With the log off, versions are stored without leaves and the log stays as it was.
    let unlogged = object(
        "indicator--00000000-0000-4000-8000-100000000000",
        "2020-01-01T00:00:00.000Z",
        "",
    );
    let outcomes = store
        .insert_versions(
            &cid,
            a,
            &[],
            std::slice::from_ref(&unlogged),
            false,
            &status,
        )
        .unwrap();
    assert!(matches!(
        outcomes[..],
        [InsertOutcome::Added { leaf: None, .. }]
    ));
    assert_eq!(store.log_head().unwrap(), (after, new_root));
    let version = unlogged.object.version().unwrap();
    assert_eq!(
        store.leaf_of(&cid, &unlogged.object.id, version).unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_versions(&cid, &unlogged.object.id, &[version], &|_, _| None)
            .unwrap(),
        1
    );
    assert_eq!(store.log_head().unwrap(), (after, new_root));
}

/// The witness's state per log only moves by compare-and-swap on its size, so that of two
/// concurrent submissions from the same size exactly one wins.
pub fn witness_state(store: Arc<dyn Store>) {
    let cp = |size: u64| WitnessedCheckpoint {
        size,
        root: tlog::leaf_hash(&size.to_be_bytes()),
        note: format!("log.example\n{size}\n...\n\n\u{2014} log.example sig\n"),
    };
    assert_eq!(store.witnessed("log.example").unwrap(), None);
    // A log never cosigned counts as size 0.
    assert_eq!(
        store.swap_witnessed("log.example", 3, &cp(5)).unwrap(),
        WitnessSwap::Moved { current: 0 }
    );
    assert_eq!(store.witnessed("log.example").unwrap(), None);
    assert_eq!(
        store.swap_witnessed("log.example", 0, &cp(5)).unwrap(),
        WitnessSwap::Swapped
    );
    assert_eq!(store.witnessed("log.example").unwrap(), Some(cp(5)));
    assert_eq!(
        store.swap_witnessed("log.example", 0, &cp(6)).unwrap(),
        WitnessSwap::Moved { current: 5 }
    );
    assert_eq!(
        store.swap_witnessed("log.example", 5, &cp(5)).unwrap(),
        WitnessSwap::Swapped
    );
    assert_eq!(
        store.swap_witnessed("log.example", 5, &cp(9)).unwrap(),
        WitnessSwap::Swapped
    );
    assert_eq!(store.witnessed("log.example").unwrap(), Some(cp(9)));
    // Logs are independent.
    assert_eq!(store.witnessed("other.example").unwrap(), None);
    assert_eq!(
        store.swap_witnessed("other.example", 0, &cp(1)).unwrap(),
        WitnessSwap::Swapped
    );
    assert_eq!(store.witnessed("log.example").unwrap(), Some(cp(9)));

    let threads: Vec<_> = (10..18u64)
        .map(|size| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || store.swap_witnessed("log.example", 9, &cp(size)).unwrap())
        })
        .collect();
    let outcomes: Vec<WitnessSwap> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners = outcomes
        .iter()
        .filter(|o| **o == WitnessSwap::Swapped)
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
    let now = store.witnessed("log.example").unwrap().unwrap();
    assert!((10..18).contains(&now.size));
    // The losers saw the winner's size, not a state in between.
    assert!(outcomes
        .iter()
        .all(|o| *o == WitnessSwap::Swapped || *o == WitnessSwap::Moved { current: now.size }));
}

pub fn alerts(store: Arc<dyn Store>) {
    use crate::model::{Alert, AlertQuery};
    let (a, b, _) = setup(&*store);
    let at = |s: &str| Timestamp::parse(s).unwrap();
    let alert = |n: u32, org, observed: &str, retro| Alert {
        id: format!("00000000-0000-4000-8000-{n:012}"),
        org,
        observed: at(observed),
        raised: at("2024-06-01T00:00:00Z"),
        indicator: format!("indicator--00000000-0000-4000-8000-{:012}", n % 2),
        indicator_name: n.is_multiple_of(2).then(|| "even".to_owned()),
        collection: "c".to_owned(),
        source: "http".to_owned(),
        retro,
        objects: vec![serde_json::json!({"type": "ipv4-addr", "value": format!("198.51.100.{n}")})],
        // Kept as they came, nested values and all.
        fields: match serde_json::json!({"uid": format!("C{n}"), "alert": {"signature_id": n}}) {
            serde_json::Value::Object(fields) if n != 2 => fields,
            _ => serde_json::Map::new(),
        },
    };
    let all = [
        alert(1, a, "2024-05-01T00:00:00Z", false),
        alert(2, a, "2024-05-02T00:00:00Z", true),
        alert(3, b, "2024-05-03T00:00:00Z", false),
        alert(4, a, "2024-05-04T00:00:00Z", false),
    ];
    store.append_alerts(&all).unwrap();
    // The same alert twice is stored once.
    store.append_alerts(&all[..1]).unwrap();
    let query = |q: AlertQuery| -> Vec<Alert> {
        store
            .alerts(&q)
            .unwrap()
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    };
    // One alert by id, only for its own organisation.
    assert_eq!(store.alert(a, &all[1].id).unwrap(), Some(all[1].clone()));
    assert_eq!(store.alert(b, &all[1].id).unwrap(), None);
    let of_a = AlertQuery {
        org: a,
        limit: 100,
        ..AlertQuery::default()
    };
    assert_eq!(
        query(of_a.clone()),
        [all[0].clone(), all[1].clone(), all[3].clone()]
    );
    let first = store
        .alerts(&AlertQuery {
            limit: 1,
            ..of_a.clone()
        })
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        query(AlertQuery {
            after: Some(first[0].0),
            ..of_a.clone()
        }),
        [all[1].clone(), all[3].clone()]
    );
    assert_eq!(
        query(AlertQuery {
            retro: Some(true),
            ..of_a.clone()
        }),
        [all[1].clone()]
    );
    assert_eq!(
        query(AlertQuery {
            indicator: Some(all[1].indicator.clone()),
            observed_since: Some(at("2024-05-02T00:00:00Z")),
            observed_until: Some(at("2024-05-05T00:00:00Z")),
            ..of_a.clone()
        }),
        [all[1].clone(), all[3].clone()]
    );
    assert_eq!(
        query(AlertQuery {
            org: b,
            limit: 100,
            ..AlertQuery::default()
        }),
        [all[2].clone()]
    );
}

pub fn alert_acknowledgements(store: Arc<dyn Store>) {
    use crate::model::{Alert, AlertFilter};
    let (a, b, _) = setup(&*store);
    let at = |s: &str| Timestamp::parse(s).unwrap();
    let alert = |n: u32, org, collection: &str, source: &str, retro| Alert {
        id: format!("00000000-0000-4000-8000-{n:012}"),
        org,
        observed: at(&format!("2024-05-{n:02}T00:00:00Z")),
        raised: at("2024-06-01T00:00:00Z"),
        indicator: format!("indicator--00000000-0000-4000-8000-{:012}", n % 2),
        indicator_name: None,
        collection: collection.to_owned(),
        source: source.to_owned(),
        retro,
        objects: Vec::new(),
        fields: serde_json::Map::new(),
    };
    let all = [
        alert(1, a, "c1", "http", false),
        alert(2, a, "c2", "syslog:udp://0.0.0.0:514", true),
        alert(3, b, "c1", "http", false),
        alert(4, a, "c1", "http", false),
        alert(5, a, "c1", "/var/log/eve.json", false),
    ];
    store.append_alerts(&all).unwrap();
    let ids = |filter: AlertFilter| -> Vec<String> {
        store
            .latest_alerts(&filter)
            .unwrap()
            .into_iter()
            .map(|l| l.alert.id[l.alert.id.len() - 1..].to_owned())
            .collect()
    };
    let of_a = AlertFilter {
        org: a,
        limit: 100,
        ..AlertFilter::default()
    };
    assert_eq!(
        ids(of_a.clone()),
        ["5", "4", "2", "1"],
        "newest first, own only"
    );
    let newest = store
        .latest_alerts(&AlertFilter {
            limit: 2,
            ..of_a.clone()
        })
        .unwrap();
    assert_eq!(newest.len(), 2);
    assert!(newest[0].seq > newest[1].seq);
    assert_eq!(
        ids(AlertFilter {
            before: Some(newest[1].seq),
            ..of_a.clone()
        }),
        ["2", "1"]
    );
    assert_eq!(
        ids(AlertFilter {
            after: Some(newest[1].seq),
            ..of_a.clone()
        }),
        ["5"]
    );
    let oldest = store.latest_alerts(&of_a).unwrap().last().unwrap().seq;
    assert_eq!(
        ids(AlertFilter {
            oldest_first: true,
            after: Some(oldest),
            ..of_a.clone()
        }),
        ["2", "4", "5"],
        "a follower reads what came after its position, in order"
    );
    for (filter, expected) in [
        (
            AlertFilter {
                collection: Some("c2".into()),
                ..of_a.clone()
            },
            vec!["2"],
        ),
        (
            AlertFilter {
                source: Some("http".into()),
                ..of_a.clone()
            },
            vec!["4", "1"],
        ),
        (
            AlertFilter {
                retro: Some(true),
                ..of_a.clone()
            },
            vec!["2"],
        ),
        (
            AlertFilter {
                indicator: Some(all[0].indicator.clone()),
                ..of_a.clone()
            },
            vec!["5", "1"],
        ),
        (
            AlertFilter {
                observed_since: Some(at("2024-05-02T00:00:00Z")),
                observed_until: Some(at("2024-05-05T00:00:00Z")),
                ..of_a.clone()
            },
            vec!["4", "2"],
        ),
    ] {
        assert_eq!(ids(filter.clone()), expected, "{filter:?}");
    }
    // Acknowledged once, by whoever was first; another organisation cannot.
    let t1 = at("2024-06-02T00:00:00Z");
    let first = store
        .acknowledge_alert(a, &all[3].id, "user:ana", t1)
        .unwrap()
        .unwrap();
    assert_eq!((first.by.as_str(), first.at), ("user:ana", t1));
    let again = store
        .acknowledge_alert(a, &all[3].id, "user:omar", at("2024-06-03T00:00:00Z"))
        .unwrap();
    assert_eq!(again, Some(first.clone()));
    assert_eq!(
        store
            .acknowledge_alert(b, &all[0].id, "user:kiri", t1)
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .acknowledge_alert(a, "no-such-alert", "user:ana", t1)
            .unwrap(),
        None
    );
    let listed = store.latest_alerts(&of_a).unwrap();
    assert_eq!(listed[1].acknowledged, Some(first));
    assert_eq!(listed[0].acknowledged, None);
    assert_eq!(
        ids(AlertFilter {
            acknowledged: Some(true),
            ..of_a.clone()
        }),
        ["4"]
    );
    assert_eq!(
        ids(AlertFilter {
            acknowledged: Some(false),
            ..of_a.clone()
        }),
        ["5", "2", "1"]
    );
}

pub fn sighting_sharing(store: Arc<dyn Store>) {
    let (a, b, collection) = setup(&*store);
    assert!(store.sightings_withheld(a).unwrap().is_empty());
    store.set_sighting_sharing(&collection, a, false).unwrap();
    assert_eq!(
        store.sightings_withheld(a).unwrap(),
        std::slice::from_ref(&collection)
    );
    // One organisation's choice is its own.
    assert!(store.sightings_withheld(b).unwrap().is_empty());
    store.set_sighting_sharing(&collection, a, true).unwrap();
    assert!(store.sightings_withheld(a).unwrap().is_empty());
    // Setting the same choice twice keeps one row.
    store.set_sighting_sharing(&collection, b, false).unwrap();
    store.set_sighting_sharing(&collection, b, false).unwrap();
    assert_eq!(store.sightings_withheld(b).unwrap(), [collection]);
}

pub fn users_and_sessions(store: Arc<dyn Store>) {
    let (a, _, _) = setup(&*store);
    let user = store
        .create_user(a, "ana", crate::Role::Analyst, "$argon2id$hash")
        .unwrap();
    assert!(matches!(
        store.create_user(a, "ana", crate::Role::Reader, "x"),
        Err(crate::StoreError::Duplicate(_))
    ));
    assert_eq!(store.user_by_name("ana").unwrap().as_ref(), Some(&user));
    assert_eq!(store.user(user.id).unwrap().as_ref(), Some(&user));
    assert_eq!(store.users().unwrap(), vec![user.clone()]);
    let session = |byte: u8, expires: i64| crate::Session {
        secret_sha256: [byte; 32],
        user: user.id,
        csrf: format!("csrf{byte}"),
        expires: Timestamp::from_micros(expires),
    };
    store.create_session(&session(1, 100)).unwrap();
    store.create_session(&session(2, 300)).unwrap();
    assert_eq!(store.session(&[1; 32]).unwrap(), Some(session(1, 100)));
    assert_eq!(store.session(&[3; 32]).unwrap(), None);
    assert_eq!(
        store
            .delete_expired_sessions(Timestamp::from_micros(200))
            .unwrap(),
        1
    );
    assert_eq!(store.session(&[1; 32]).unwrap(), None);
    assert!(store.delete_session(&[2; 32]).unwrap());
    assert!(!store.delete_session(&[2; 32]).unwrap());

    // Disabling closes the account's sessions; enabling does not bring them back.
    store.create_session(&session(4, 900)).unwrap();
    assert!(store.set_user_disabled(user.id, true).unwrap());
    assert!(store.set_user_disabled(user.id, true).unwrap());
    assert!(store.user(user.id).unwrap().is_some_and(|u| u.disabled));
    assert_eq!(store.session(&[4; 32]).unwrap(), None);
    assert!(store.set_user_disabled(user.id, false).unwrap());
    assert_eq!(store.user_by_name("ana").unwrap().as_ref(), Some(&user));
    assert!(!store.set_user_disabled(user.id + 100, true).unwrap());

    store.create_session(&session(5, 900)).unwrap();
    assert!(store.delete_user(user.id).unwrap());
    assert!(!store.delete_user(user.id).unwrap());
    assert_eq!(store.user_by_name("ana").unwrap(), None);
    assert_eq!(store.session(&[5; 32]).unwrap(), None);
    // The name may be given to a new account.
    store
        .create_user(a, "ana", crate::Role::Reader, "$argon2id$hash")
        .unwrap();
}

pub fn search_index(store: Arc<dyn Store>) {
    use crate::search::{fts_query, IndexQuery};
    let (a, b, cid) = setup(&*store);
    let named = |id: &str, name: &str| {
        object(
            id,
            "2020-01-01T00:00:00.000Z",
            &format!(r#","name":"{name}","labels":["phishing"]"#),
        )
    };
    store
        .insert_versions(
            &cid,
            a,
            &[],
            &[named(ID1, "Kitten campaign")],
            true,
            &status,
        )
        .unwrap();
    let relationship = new_version(&format!(
        r#"{{"type":"relationship","spec_version":"2.1","id":"relationship--0a0a0a0a-0000-4000-8000-000000000001","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"{ID1}","target_ref":"{ID2}","object_marking_refs":["{}"]}}"#,
        stix::tlp::TLP2_RED
    ));
    store
        .insert_versions(&cid, b, &[a], &[relationship], true, &status)
        .unwrap();
    let query = |fts: &str| IndexQuery {
        fts: fts_query(fts),
        collections: vec![cid.clone()],
        limit: 10,
        ..IndexQuery::default()
    };
    // Nothing is indexed inside the ingest; the indexer catches up in batches.
    assert!(store.search(&query("kitten")).unwrap().is_empty());
    assert_eq!(store.index_step(1).unwrap(), 1);
    assert_eq!(store.index_step(10).unwrap(), 1);
    assert_eq!(store.index_step(10).unwrap(), 0);
    let found = store.search(&query("kitt")).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version.id, ID1);
    assert_eq!(found[0].name.as_deref(), Some("Kitten campaign"));
    assert_eq!(store.search(&query("phishing kitten")).unwrap().len(), 1);
    assert!(store.search(&query("puppy")).unwrap().is_empty());
    let linked = store
        .search(&IndexQuery {
            refs: vec![ID2.to_owned()],
            ..query("")
        })
        .unwrap();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].version.tlp, Some(Tlp::Red));
    assert_eq!(linked[0].version.recipients, vec![a]);
    assert_eq!(linked[0].version.producer, b);
    let everything = store.search(&query("")).unwrap();
    assert_eq!(everything.len(), 2);
    assert!(everything[0].version.date_added > everything[1].version.date_added);
    let counts = store.counts(0).unwrap();
    let total: u64 = counts.by_type.iter().map(|r| r.count).sum();
    assert_eq!(total, 2);
    assert_eq!(counts.by_day.iter().map(|r| r.count).sum::<u64>(), 2);
    // A deletion leaves neither a hit nor a count behind once the indexer has taken it out.
    let t = Timestamp::parse("2020-01-01T00:00:00.000Z").unwrap();
    store
        .delete_versions(&cid, ID1, &[t], &deletion_leaf)
        .unwrap();
    assert_eq!(store.index_step(10).unwrap(), 1);
    assert_eq!(store.index_step(10).unwrap(), 0);
    assert!(store.search(&query("kitten")).unwrap().is_empty());
    let counts = store.counts(0).unwrap();
    assert_eq!(counts.by_type.iter().map(|r| r.count).sum::<u64>(), 1);
    assert_eq!(counts.by_day.iter().map(|r| r.count).sum::<u64>(), 1);
    // Stored again after its deletion: found again, counted once, whether or not the indexer
    // saw the deletion before the new version.
    for indexed_between in [true, false] {
        store
            .insert_versions(&cid, a, &[], &[named(ID1, "Kitten returns")], true, &status)
            .unwrap();
        while store.index_step(1).unwrap() > 0 {}
        store
            .delete_versions(&cid, ID1, &[t], &deletion_leaf)
            .unwrap();
        if indexed_between {
            while store.index_step(1).unwrap() > 0 {}
        }
        store
            .insert_versions(&cid, a, &[], &[named(ID1, "Kitten again")], true, &status)
            .unwrap();
        while store.index_step(1).unwrap() > 0 {}
        let found = store.search(&query("kitten")).unwrap();
        assert_eq!(found.len(), 1, "indexed between: {indexed_between}");
        assert_eq!(found[0].name.as_deref(), Some("Kitten again"));
        let counts = store.counts(0).unwrap();
        assert_eq!(counts.by_type.iter().map(|r| r.count).sum::<u64>(), 2);
        store
            .delete_versions(&cid, ID1, &[t], &deletion_leaf)
            .unwrap();
        while store.index_step(1).unwrap() > 0 {}
        assert!(store.search(&query("kitten")).unwrap().is_empty());
    }
    // Sightings are counted by what they sight, and uncounted when deleted.
    let sighting_id = "sighting--0a0a0a0a-0000-4000-8000-000000000002";
    let sighting = new_version(&format!(
        r#"{{"type":"sighting","spec_version":"2.1","id":"{sighting_id}","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","sighting_of_ref":"{ID2}"}}"#
    ));
    store
        .insert_versions(&cid, a, &[], &[sighting], true, &status)
        .unwrap();
    let twice = new_version(&format!(
        r#"{{"type":"sighting","spec_version":"2.1","id":"sighting--0a0a0a0a-0000-4000-8000-000000000003","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","sighting_of_ref":"{ID1}","object_marking_refs":["{}"]}}"#,
        stix::tlp::TLP2_RED
    ));
    let other = new_version(&format!(
        r#"{{"type":"sighting","spec_version":"2.1","id":"sighting--0a0a0a0a-0000-4000-8000-000000000004","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","sighting_of_ref":"{ID1}"}}"#
    ));
    store
        .insert_versions(&cid, b, &[], &[twice, other], true, &status)
        .unwrap();
    while store.index_step(10).unwrap() > 0 {}
    let sighted = store.sighted(0, 10).unwrap();
    assert_eq!(sighted.len(), 2);
    assert_eq!((sighted[0].object.as_str(), sighted[0].total), (ID1, 2));
    assert_eq!(sighted[0].groups.len(), 2, "RED and default TLP kept apart");
    assert_eq!((sighted[1].object.as_str(), sighted[1].total), (ID2, 1));
    assert_eq!(
        (sighted[1].groups[0].count, sighted[1].groups[0].producer),
        (1, a)
    );
    assert_eq!(store.sighted(1, 10).unwrap()[0].object, ID2);
    store
        .delete_versions(&cid, sighting_id, &[t], &deletion_leaf)
        .unwrap();
    while store.index_step(10).unwrap() > 0 {}
    let sighted = store.sighted(0, 10).unwrap();
    assert_eq!(sighted.len(), 1);
    assert_eq!(sighted[0].object, ID1);
}

pub fn group_members_grow(store: Arc<dyn Store>) {
    let (a, b, collection) = setup(&*store);
    let c = store
        .create_org(
            "TH-CERT",
            Some("TH"),
            "identity--44444444-4444-4444-8444-444444444444",
        )
        .unwrap()
        .id;
    let group = store.create_group("bilateral", &[a]).unwrap();
    store.add_group_members(group.id, &[b, a, b]).unwrap();
    let grown = store.group_by_name("bilateral").unwrap().unwrap();
    assert_eq!(grown.members, vec![a.min(b), a.max(b)]);
    // Other groups and their collections are untouched.
    assert!(!store
        .collection(&collection)
        .unwrap()
        .unwrap()
        .members
        .contains(&c));
}

pub fn case_collections(store: Arc<dyn Store>) {
    let (_, _, collection) = setup(&*store);
    assert!(store.case_collections().unwrap().is_empty());
    store.mark_case_collection(&collection).unwrap();
    store.mark_case_collection(&collection).unwrap();
    store.mark_case_collection("second").unwrap();
    assert_eq!(
        store.case_collections().unwrap(),
        [collection, "second".to_owned()]
    );
}

pub fn evidence_records(store: Arc<dyn Store>) {
    let (_, _, collection) = setup(&*store);
    let sha256 = "ab".repeat(32);
    assert!(store.evidence(&sha256).unwrap().is_empty());
    let record = |collection: &str, file: &str| EvidenceRecord {
        sha256: sha256.clone(),
        collection: collection.to_owned(),
        artifact: "artifact--6b617761-6c2d-5000-8000-000000000001".to_owned(),
        file: file.to_owned(),
    };
    let first = record(&collection, "file--6b617761-6c2d-5000-8000-000000000002");
    let second = record("second", "file--6b617761-6c2d-5000-8000-000000000003");
    store.record_evidence(&first).unwrap();
    store.record_evidence(&second).unwrap();
    store.record_evidence(&first).unwrap();
    assert_eq!(store.evidence(&sha256).unwrap(), [first, second]);
    assert!(store.evidence(&"cd".repeat(32)).unwrap().is_empty());
}
