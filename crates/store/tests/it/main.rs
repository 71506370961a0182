use kawal_core::Store;
use kawal_store::SqliteStore;

/// Each store lives in its own directory, removed when the test process ends.
fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(&dir.join("kawal.db")).unwrap()
}

kawal_core::store_conformance_tests!(fresh);

/// Organisation A, alone in group G, and its collection T.
fn one_collection(store: &SqliteStore) -> (kawal_core::Organisation, kawal_core::Collection) {
    let org = store
        .create_org("A", None, "identity--11111111-1111-4111-8111-111111111111")
        .unwrap();
    let group = store.create_group("G", &[org.id]).unwrap();
    let collection = store
        .create_collection(&kawal_core::NewCollection {
            id: "9cfa669c-ee94-4ece-afd2-f8edac37d8fd".into(),
            title: "T".into(),
            description: None,
            group: group.id,
            writers: kawal_core::Writers::AllMembers,
            default_tlp: stix::Tlp::Green,
            public: false,
        })
        .unwrap();
    (org, collection)
}

#[test]
fn reopening_keeps_everything_and_never_reuses_date_added() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let (cid, last) = {
        let store = SqliteStore::open(&path).unwrap();
        let (org, c) = one_collection(&store);
        let v = kawal_core::conformance::object(
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "2020-01-01T00:00:00.000Z",
            "",
        );
        store
            .insert_versions(
                &c.id,
                org.id,
                &[],
                &[v],
                true,
                &kawal_core::conformance::status,
            )
            .unwrap();
        let stored = store
            .versions(
                &c.id,
                "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                false,
            )
            .unwrap();
        store
            .delete_versions(
                &c.id,
                &stored[0].id,
                &[stored[0].version],
                &kawal_core::conformance::deletion_leaf,
            )
            .unwrap();
        (c.id, stored[0].date_added)
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.collection(&cid).unwrap().unwrap().title, "T");
    let org = store.org_by_name("A").unwrap().unwrap();
    let v = kawal_core::conformance::object(
        "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "2020-02-01T00:00:00.000Z",
        "",
    );
    store
        .insert_versions(
            &cid,
            org.id,
            &[],
            &[v],
            true,
            &kawal_core::conformance::status,
        )
        .unwrap();
    let again = store
        .versions(
            &cid,
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            false,
        )
        .unwrap();
    assert!(again[0].date_added > last);
}

/// Concurrent ingests share transactions (group commit) while other writes interleave; every
/// acknowledged version is stored with its own leaf, the leaves are contiguous, `date_added`
/// follows leaf order, and the saved log head survives reopening.
#[test]
fn concurrent_ingests_share_commits_without_losing_order_or_leaves() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let (org, c) = one_collection(&store);
    let (threads, envelopes, per_envelope): (usize, usize, usize) = (6, 12, 15);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, cid) = (store.clone(), c.id.clone());
            std::thread::spawn(move || {
                let mut added = Vec::new();
                for e in 0..envelopes {
                    let versions: Vec<_> = (0..per_envelope)
                        .map(|i| {
                            kawal_core::conformance::object(
                                &format!("indicator--00000000-0000-4000-8000-{t:04}{e:04}{i:04}"),
                                "2020-01-01T00:00:00.000Z",
                                "",
                            )
                        })
                        .collect();
                    let outcomes = store
                        .insert_versions(
                            &cid,
                            org.id,
                            &[],
                            &versions,
                            true,
                            &kawal_core::conformance::status,
                        )
                        .unwrap();
                    for (v, outcome) in versions.iter().zip(outcomes) {
                        match outcome {
                            kawal_core::InsertOutcome::Added {
                                leaf, date_added, ..
                            } => added.push((
                                leaf.expect("the log is on"),
                                v.object.id.clone(),
                                date_added,
                            )),
                            other => panic!("{} was not added: {other:?}", v.object.id),
                        }
                    }
                    // Writes outside ingest commit any open group and take their own leaves.
                    if e % 4 == 0 {
                        store
                            .append_log(&[format!("audit {t} {e}").into_bytes()])
                            .unwrap();
                    }
                }
                added
            })
        })
        .collect();
    let added: BTreeMap<u64, (String, stix::Timestamp)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .map(|(leaf, id, date_added)| (leaf, (id, date_added)))
        .collect();
    let objects = (threads * envelopes * per_envelope) as u64;
    let audits = (threads * envelopes.div_ceil(4)) as u64;
    assert_eq!(
        added.len() as u64,
        objects,
        "two versions were given one leaf"
    );
    let (size, root) = store.log_head().unwrap();
    assert_eq!(size, objects + audits);
    let leaves = store.log_leaves(0, size).unwrap();
    assert_eq!(leaves.len() as u64, size, "the leaves are not contiguous");
    let mut frontier = tlog::Frontier::new();
    for (index, data) in &leaves {
        assert_eq!(frontier.append(tlog::leaf_hash(data)).unwrap(), *index);
        if let Some((id, date_added)) = added.get(index) {
            let text = String::from_utf8(data.clone()).unwrap();
            assert!(
                text.starts_with("kawal-leaf/v1\nkind object\n")
                    && text.contains(&format!("\nid {id}\n")),
                "leaf {index}: {text}"
            );
            let version = stix::Timestamp::parse("2020-01-01T00:00:00.000Z").unwrap();
            assert_eq!(store.leaf_of(&c.id, id, version).unwrap(), Some(*index));
            assert!(text.contains(&format!("\ndate_added {date_added}\n")));
        }
    }
    assert_eq!(frontier.root(), root);
    // Proofs over more than one tile read stored and computed interior nodes alike.
    let nodes = Nodes(&store);
    for index in [0, 1, 255, 256, 257, 700, size - 1] {
        let proof = tlog::proof::inclusion_proof(&nodes, index, size).unwrap();
        let leaf = tlog::leaf_hash(&leaves[index as usize].1);
        tlog::proof::verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
    }
    for old in [1, 256, 300, 512] {
        let old_root = tlog::Frontier::from_reader(&nodes, old).unwrap().root();
        let proof = tlog::proof::consistency_proof(&nodes, old, size).unwrap();
        tlog::proof::verify_consistency(old, size, &old_root, &root, &proof).unwrap();
    }
    let dates: Vec<_> = added.values().map(|(_, d)| *d).collect();
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]),
        "date_added does not follow leaf order"
    );
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.log_head().unwrap(), (size, root));
}

/// The store's node hashes, as `tlog` reads them.
struct Nodes<'a>(&'a SqliteStore);

impl tlog::HashReader for Nodes<'_> {
    type Error = std::io::Error;
    fn hash_at(&self, level: u8, index: u64) -> Result<tlog::Hash, std::io::Error> {
        self.0
            .log_hashes(&[tlog::NodeId::new(level, index)])
            .map_err(std::io::Error::other)?
            .pop()
            .flatten()
            .ok_or_else(|| {
                std::io::Error::other(format!("no node at level {level}, index {index}"))
            })
    }
}
