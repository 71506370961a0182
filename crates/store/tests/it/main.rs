use kawal_core::Store;
use kawal_store::SqliteStore;

/// Each store lives in its own directory, removed when the test process ends.
fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(&dir.join("kawal.db")).unwrap()
}

kawal_core::store_conformance_tests!(fresh);

#[test]
fn reopening_keeps_everything_and_never_reuses_date_added() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kawal.db");
    let (cid, last) = {
        let store = SqliteStore::open(&path).unwrap();
        let org = store
            .create_org("A", None, "identity--11111111-1111-4111-8111-111111111111")
            .unwrap();
        let group = store.create_group("G", &[org.id]).unwrap();
        let c = store
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
                &kawal_core::conformance::leaf,
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
            &kawal_core::conformance::leaf,
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
