use kawal_core::Store;
use kawal_store::SqliteStore;

/// Each store lives in its own directory, removed when the test process ends.
fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(&dir.join("kawal.db")).unwrap()
}

kawal_core::store_conformance_tests!(fresh);

/// Stores versions from one producer with the log on, as an ingest does.
fn add_logged(
    store: &SqliteStore,
    collection: &str,
    producer: i64,
    versions: &[kawal_core::NewVersion],
) -> Vec<kawal_core::InsertOutcome> {
    store
        .insert_versions(
            collection,
            producer,
            &[],
            versions,
            true,
            &kawal_core::conformance::status,
        )
        .unwrap()
}

/// A store in a directory of its own, removed when the returned guard drops, holding
/// `one_collection`.
fn store_with_collection() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    SqliteStore,
    kawal_core::Organisation,
    kawal_core::Collection,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let store = SqliteStore::open(&path).unwrap();
    let (org, collection) = one_collection(&store);
    (dir, path, store, org, collection)
}

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
        add_logged(&store, &c.id, org.id, &[v]);
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
    add_logged(&store, &cid, org.id, &[v]);
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
                    let outcomes = add_logged(&store, &cid, org.id, &versions);
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

fn store_named(store: &SqliteStore, cid: &str, org: i64, n: usize, name: &str) {
    let v = kawal_core::conformance::object(
        &format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "2020-01-01T00:00:00.000Z",
        &format!(r#","name":"{name}""#),
    );
    add_logged(store, cid, org, &[v]);
}

fn found(store: &SqliteStore, cid: &str, text: &str) -> usize {
    store
        .search(&kawal_core::search::IndexQuery {
            fts: kawal_core::search::fts_query(text),
            collections: vec![cid.to_owned()],
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .len()
}

/// The index lives in `search.db` and is written without the main database's write lock, so
/// ingest never waits for it.
#[test]
fn the_index_is_its_own_file_and_never_takes_the_writer() {
    let (dir, path, store, org, c) = store_with_collection();
    store_named(&store, &c.id, org.id, 1, "Kitten");
    // Another process holds the main database's write lock for the whole indexing.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(store.index_step(100).unwrap(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(found(&store, &c.id, "kitten"), 1);

    let tables = |file: &str| -> Vec<String> {
        let conn = rusqlite::Connection::open(dir.path().join(file)).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = stmt.query_map([], |r| r.get(0)).unwrap();
        names.map(Result::unwrap).collect()
    };
    let main = tables("kawal.db");
    let index = tables("search.db");
    for table in ["search_docs", "search_text", "type_counts", "day_counts"] {
        assert!(!main.contains(&table.to_owned()), "{table} in kawal.db");
        assert!(
            index.contains(&table.to_owned()),
            "{table} not in search.db"
        );
    }
}

/// Derived data: a lost or damaged index is made again from the objects, and one that is
/// ahead of the database it follows (a database restored from an older copy) starts over.
#[test]
fn the_index_is_rebuilt_when_missing_damaged_or_ahead() {
    let older = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(&older.path().join("kawal.db")).unwrap();
        let (org, c) = one_collection(&store);
        store_named(&store, &c.id, org.id, 1, "Kitten");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let index = dir.path().join("search.db");
    let cid = {
        let store = SqliteStore::open(&path).unwrap();
        let (org, c) = one_collection(&store);
        store_named(&store, &c.id, org.id, 1, "Kitten");
        store_named(&store, &c.id, org.id, 2, "Puppy");
        while store.index_step(100).unwrap() > 0 {}
        assert_eq!(found(&store, &c.id, "kitten"), 1);
        c.id
    };

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
    std::fs::write(&index, b"not a database at all, not even close to one").unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(found(&store, &cid, "kitten"), 0);
    assert_eq!(store.index_step(100).unwrap(), 2);
    assert_eq!(found(&store, &cid, "kitten"), 1);
    let org = store.org_by_name("A").unwrap().unwrap();
    store_named(&store, &cid, org.id, 3, "Gerbil");
    while store.index_step(100).unwrap() > 0 {}
    assert_eq!(found(&store, &cid, "gerbil"), 1);
    drop(store);

    // The older database, whose objects were all added before these, gets this index.
    let older_index = older.path().join("search.db");
    std::fs::copy(&index, &older_index).unwrap();
    let store = SqliteStore::open(&older.path().join("kawal.db")).unwrap();
    assert_eq!(found(&store, &cid, "gerbil"), 1, "the copied index is read");
    while store.index_step(100).unwrap() > 0 {}
    assert_eq!(found(&store, &cid, "gerbil"), 0);
    assert_eq!(found(&store, &cid, "puppy"), 0);
    assert_eq!(found(&store, &cid, "kitten"), 1);
    let total: u64 = store
        .counts(0)
        .unwrap()
        .by_type
        .iter()
        .map(|r| r.count)
        .sum();
    assert_eq!(total, 1);
}

/// A database written by layout 2 (leaf rows found through an index on `objects.leaf`) opens
/// with every object leaf still rendered from its row, and the index gone.
#[test]
fn a_layout_2_database_keeps_its_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let ids = [
        "indicator--0b5a0e10-7d15-4c3e-9b1a-2f3c4d5e6f70",
        "indicator--1c6b1f21-8e26-4d4f-8c2b-3a4d5e6f7081",
        "indicator--2d7c2032-9f37-4e50-9d3c-4b5e6f708192",
    ];
    let before = {
        let store = SqliteStore::open(&path).unwrap();
        let (org, c) = one_collection(&store);
        let versions: Vec<_> = ids
            .iter()
            .map(|id| kawal_core::conformance::object(id, "2021-03-04T05:06:07.000Z", ""))
            .collect();
        add_logged(&store, &c.id, org.id, &versions);
        store.append_log(&[b"audit leaf".to_vec()]).unwrap();
        store.log_leaves(0, 4).unwrap()
    };
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        as_layout_3(&db);
        db.execute_batch(
            "CREATE INDEX objects_by_leaf ON objects (leaf) WHERE leaf IS NOT NULL;
             ALTER TABLE log_leaves DROP COLUMN object_row;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.log_leaves(0, 4).unwrap(), before);
    let db = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM sqlite_schema WHERE name = 'objects_by_leaf'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM log_leaves WHERE object_row IS NOT NULL"),
        3
    );
}

/// Turns a database of the current layout back into layout 3, which found versions through a
/// unique index on `(collection_id, id, version)`.
fn as_layout_3(db: &rusqlite::Connection) {
    db.execute_batch(
        "DROP VIEW version_keys;
         DROP TABLE object_keys;
         DROP TABLE recent_keys;
         ALTER TABLE objects DROP COLUMN okey;
         CREATE UNIQUE INDEX objects_by_version ON objects (collection_id, id, version);
         ALTER TABLE alerts DROP COLUMN fields;
         PRAGMA user_version = 3;",
    )
    .unwrap();
}

const TWICE: &str = "indicator--0b5a0e10-7d15-4c3e-9b1a-2f3c4d5e6f70";
const ONCE: &str = "indicator--1c6b1f21-8e26-4d4f-8c2b-3a4d5e6f7081";

/// Stores `TWICE` in two versions and `ONCE` in one.
fn three_versions(store: &SqliteStore, collection: &str, producer: i64) {
    let versions = [
        kawal_core::conformance::object(TWICE, "2021-03-04T05:06:07.000Z", ""),
        kawal_core::conformance::object(ONCE, "2021-03-04T05:06:07.000Z", ""),
        kawal_core::conformance::object(TWICE, "2022-03-04T05:06:07.000Z", ""),
    ];
    add_logged(store, collection, producer, &versions);
}

/// The versions of `id`, oldest first, each as (modified year, oldest, newest).
fn flags(store: &SqliteStore, collection: &str, id: &str) -> Vec<(String, bool, bool)> {
    store
        .versions(collection, id, false)
        .unwrap()
        .iter()
        .map(|v| (v.version.to_string()[..4].to_owned(), v.oldest, v.newest))
        .collect()
}

fn ids_scan(ids: &[&str]) -> kawal_core::Scan {
    kawal_core::Scan {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        batch: 100,
        ..Default::default()
    }
}

/// A database written by layout 3 opens with every version found by its key, and the old
/// index gone; versions added afterwards join those that were migrated.
#[test]
fn a_layout_3_database_finds_its_versions_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let cid = {
        let store = SqliteStore::open(&path).unwrap();
        let (org, c) = one_collection(&store);
        three_versions(&store, &c.id, org.id);
        c.id
    };
    as_layout_3(&rusqlite::Connection::open(&path).unwrap());
    let store = SqliteStore::open(&path).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM sqlite_schema WHERE name = 'objects_by_version'"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM object_keys"), 3);
    assert_eq!(
        flags(&store, &cid, TWICE),
        [("2021".into(), true, false), ("2022".into(), false, true)]
    );
    let org = store.org_by_name("A").unwrap().unwrap();
    let newer = kawal_core::conformance::object(TWICE, "2023-03-04T05:06:07.000Z", "");
    let again = kawal_core::conformance::object(ONCE, "2021-03-04T05:06:07.000Z", "");
    let outcomes = add_logged(&store, &cid, org.id, &[newer, again]);
    assert!(matches!(
        outcomes[0],
        kawal_core::InsertOutcome::Added { .. }
    ));
    assert!(matches!(
        outcomes[1],
        kawal_core::InsertOutcome::AlreadyPresent { .. }
    ));
    assert_eq!(
        flags(&store, &cid, TWICE),
        [
            ("2021".into(), true, false),
            ("2022".into(), false, false),
            ("2023".into(), false, true)
        ]
    );
    let scanned = store.scan(&cid, None, &ids_scan(&[TWICE])).unwrap();
    assert_eq!(scanned.len(), 3);
}

/// Two objects whose keys collide are still told apart: each lookup checks the row.
#[test]
fn colliding_keys_find_only_their_own_object() {
    let (_dir, path, store, org, c) = store_with_collection();
    three_versions(&store, &c.id, org.id);
    let db = rusqlite::Connection::open(&path).unwrap();
    // Each version filed under the other object's key as well, as if the keys were equal.
    db.execute_batch(
        "INSERT INTO object_keys (key, version, row)
         SELECT DISTINCT other.okey, o.version, o.rowid FROM objects o JOIN objects other ON other.okey <> o.okey;",
    )
    .unwrap();
    assert_eq!(
        flags(&store, &c.id, TWICE),
        [("2021".into(), true, false), ("2022".into(), false, true)]
    );
    assert_eq!(flags(&store, &c.id, ONCE), [("2021".into(), true, true)]);
    let all = store.scan(&c.id, None, &ids_scan(&[])).unwrap();
    let bounds: Vec<_> = all
        .iter()
        .map(|v| (v.id.as_str(), v.oldest, v.newest))
        .collect();
    assert_eq!(
        bounds,
        [
            (TWICE, true, false),
            (ONCE, true, true),
            (TWICE, false, true)
        ]
    );
    assert_eq!(
        store.scan(&c.id, None, &ids_scan(&[ONCE])).unwrap().len(),
        1
    );
    // The same version of the other object is no conflict.
    let same_version_other_bytes =
        kawal_core::conformance::object(ONCE, "2022-03-04T05:06:07.000Z", "");
    let outcomes = add_logged(&store, &c.id, org.id, &[same_version_other_bytes]);
    assert!(matches!(
        outcomes[0],
        kawal_core::InsertOutcome::Added { .. }
    ));
    let deleted = store
        .delete_versions(&c.id, ONCE, &[outcomes_version(&outcomes[0])], &|_, _| None)
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(flags(&store, &c.id, TWICE).len(), 2);
    assert_eq!(flags(&store, &c.id, ONCE), [("2021".into(), true, true)]);
}

fn outcomes_version(outcome: &kawal_core::InsertOutcome) -> stix::Timestamp {
    match outcome {
        kawal_core::InsertOutcome::Added { version, .. }
        | kawal_core::InsertOutcome::AlreadyPresent { version }
        | kawal_core::InsertOutcome::Conflict { version } => *version,
    }
}

/// Once `recent_keys` fills, its entries move into `object_keys`, and every version is still
/// found by its id.
#[test]
fn recent_keys_move_into_object_keys_when_full() {
    let (_dir, path, store, org, c) = store_with_collection();
    let id = |n: i64| format!("indicator--{n:08x}-0000-4000-8000-000000000000");
    let total = kawal_store::RECENT_KEYS + 10;
    let all: Vec<_> = (0..total)
        .map(|n| kawal_core::conformance::object(&id(n), "2021-03-04T05:06:07.000Z", ""))
        .collect();
    for batch in all.chunks(1_000) {
        store
            .insert_versions(
                &c.id,
                org.id,
                &[],
                batch,
                false,
                &kawal_core::conformance::status,
            )
            .unwrap();
    }
    let db = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let (settled, recent) = (
        count("SELECT count(*) FROM object_keys"),
        count("SELECT count(*) FROM recent_keys"),
    );
    assert!(
        settled >= kawal_store::RECENT_KEYS,
        "{settled} entries moved"
    );
    assert_eq!(settled + recent, total);
    for n in [0, total / 2, total - 1] {
        assert_eq!(flags(&store, &c.id, &id(n)), [("2021".into(), true, true)]);
    }
    let again = add_logged(&store, &c.id, org.id, &all[..1]);
    assert!(matches!(
        again[0],
        kawal_core::InsertOutcome::AlreadyPresent { .. }
    ));
}

fn alert_with_fields(id: &str, org: i64, fields: serde_json::Value) -> kawal_core::Alert {
    kawal_core::Alert {
        id: id.to_owned(),
        org,
        observed: stix::Timestamp::parse("2024-05-01T00:00:00Z").unwrap(),
        raised: stix::Timestamp::parse("2024-05-01T00:00:01Z").unwrap(),
        indicator: "indicator--00000000-0000-4000-8000-000000000001".to_owned(),
        indicator_name: None,
        collection: "c".to_owned(),
        source: "http".to_owned(),
        retro: false,
        objects: Vec::new(),
        fields: match fields {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
    }
}

/// Alerts stored by layout 4, which kept no event fields, read with none; new alerts keep
/// theirs.
#[test]
fn a_layout_4_database_keeps_its_alerts_and_stores_their_fields_from_then_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let org = {
        let store = SqliteStore::open(&path).unwrap();
        let (org, _) = one_collection(&store);
        let old = alert_with_fields(
            "00000000-0000-4000-8000-000000000001",
            org.id,
            serde_json::json!({}),
        );
        store.append_alerts(&[old]).unwrap();
        org.id
    };
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ALTER TABLE alerts DROP COLUMN fields; PRAGMA user_version = 4;")
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let old = store
        .alert(org, "00000000-0000-4000-8000-000000000001")
        .unwrap()
        .unwrap();
    assert!(old.fields.is_empty());
    let new = alert_with_fields(
        "00000000-0000-4000-8000-000000000002",
        org,
        serde_json::json!({"uid": "CHhAvVGS1DHFjwGM9", "alert": {"signature_id": 2024217}}),
    );
    store.append_alerts(std::slice::from_ref(&new)).unwrap();
    assert_eq!(store.alert(org, &new.id).unwrap(), Some(new));
}
