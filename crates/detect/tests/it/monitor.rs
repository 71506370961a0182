//! The matching loop's indicator sets against a real exchange on SQLite: what an organisation
//! may read is what its sensors match, writes and revocations arrive with the next refresh.

use std::sync::Arc;

use detect::monitor::Applied;
use detect::Monitor;
use kawal_core::{Exchange, Limits, NewCollectionRequest, Principal, Role};
use matcher::Observation;
use serde_json::json;
use stix::{Timestamp, Tlp};

struct World {
    exchange: Arc<Exchange>,
    collection: String,
    producer: Principal,
    member: i64,
    outsider: i64,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = store::SqliteStore::open(&dir.path().join("kawal.db")).unwrap();
    let exchange = Exchange::new(Arc::new(store), Limits::default());
    exchange.bootstrap("Instance").unwrap();
    let admin = Principal::Local {
        org: exchange.instance_org().unwrap().unwrap().id,
        role: Role::Admin,
    };
    let org = |name: &str| exchange.add_org(&admin, name, None).unwrap().id;
    let (producer, member, outsider) = (org("Producer"), org("Member"), org("Outsider"));
    exchange
        .add_group(&admin, "g", &["Producer".to_owned(), "Member".to_owned()])
        .unwrap();
    let collection = exchange
        .add_collection(
            &admin,
            &NewCollectionRequest {
                title: "Indicators".into(),
                description: None,
                group: "g".into(),
                writers: None,
                default_tlp: Tlp::Amber,
                public: false,
            },
        )
        .unwrap()
        .id;
    World {
        exchange: Arc::new(exchange),
        collection,
        producer: Principal::Local {
            org: producer,
            role: Role::Analyst,
        },
        member,
        outsider,
        dir,
    }
}

fn indicator_id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

fn indicator(n: u32, modified: &str, pattern: &str, extra: &str) -> String {
    let id = indicator_id(n);
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{id}","created":"2021-01-01T00:00:00.000Z","modified":"{modified}","name":"indicator {n}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"{extra}}}"#
    )
}

fn post(w: &World, objects: &[String]) {
    let status = w
        .exchange
        .add_objects(
            &w.producer,
            &w.collection,
            &format!(r#"{{"objects":[{}]}}"#, objects.join(",")),
            &[],
        )
        .unwrap();
    assert_eq!(status.failure_count, 0, "{status:?}");
}

/// Deletes versions of indicator `n` as its producer; returns how many went.
fn delete(w: &World, n: u32, versions: &kawal_core::VersionSelect) -> usize {
    w.exchange
        .delete_object(&w.producer, &w.collection, &indicator_id(n), versions, &[])
        .unwrap()
}

fn event(ip: &str) -> Observation {
    Observation::of_objects(
        vec![json!({"type": "ipv4-addr", "id": format!("ipv4-addr--{ip}"), "value": ip})],
        Timestamp::parse("2024-05-01T00:00:00Z").unwrap(),
    )
}

fn raised(m: &Monitor, org: i64, ip: &str) -> Vec<kawal_core::Alert> {
    m.matching(org)
        .unwrap()
        .observe("test", &event(ip), &detect::normalise::Fields::default())
}

/// A refresh in which every set could be read.
fn refresh(m: &Monitor) -> detect::Refreshed {
    let refreshed = m.refresh();
    assert!(refreshed.failures.is_empty(), "{:?}", refreshed.failures);
    refreshed
}

fn alerts(m: &Monitor, org: i64, ip: &str) -> Vec<String> {
    raised(m, org, ip)
        .into_iter()
        .map(|a| a.indicator)
        .collect()
}

#[test]
fn readers_match_what_they_may_read_and_follow_writes_and_revocations() {
    let w = world();
    post(
        &w,
        &[indicator(
            1,
            "2021-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '198.51.100.1']",
            "",
        )],
    );
    let monitor = Monitor::new(w.exchange.clone());
    let one = "indicator--00000000-0000-4000-8000-000000000001";
    assert_eq!(alerts(&monitor, w.member, "198.51.100.1"), [one]);
    assert!(alerts(&monitor, w.member, "198.51.100.2").is_empty());
    // Not in the collection's audience: nothing to match against.
    assert!(alerts(&monitor, w.outsider, "198.51.100.1").is_empty());

    // A new indicator arrives with the next refresh, without rebuilding the set.
    post(
        &w,
        &[indicator(
            2,
            "2021-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '198.51.100.2']",
            "",
        )],
    );
    let refreshed = refresh(&monitor);
    let applied = refreshed.applied;
    assert_eq!(applied.added, 1, "{applied:?}"); // the member's set; the outsider follows nothing
                                                 // The arrival is reported for the member only, with the pattern that went into its set,
                                                 // so that a retro-hunt runs exactly that.
    assert_eq!(refreshed.arrivals.len(), 1, "{refreshed:?}");
    let arrivals = &refreshed.arrivals[0];
    assert_eq!(arrivals.org, w.member);
    assert_eq!(arrivals.indicators.len(), 1);
    assert_eq!(
        arrivals.indicators[0].info.id,
        "indicator--00000000-0000-4000-8000-000000000002"
    );
    assert_eq!(
        arrivals.indicators[0].pattern,
        "[ipv4-addr:value = '198.51.100.2']"
    );
    assert_eq!(
        alerts(&monitor, w.member, "198.51.100.2"),
        ["indicator--00000000-0000-4000-8000-000000000002"]
    );
    assert!(alerts(&monitor, w.outsider, "198.51.100.2").is_empty());

    // RED content reaches only its recipients.
    let red = indicator(
        3,
        "2021-01-01T00:00:00.000Z",
        "[ipv4-addr:value = '198.51.100.3']",
        r#","object_marking_refs":["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]"#,
    );
    post(&w, &[red]);
    // Nothing the member may read arrived: nothing to retro-hunt.
    assert!(refresh(&monitor).arrivals.is_empty());
    assert!(alerts(&monitor, w.member, "198.51.100.3").is_empty());

    // A revoked version stops matching; an older version read later does not bring it back.
    post(
        &w,
        &[indicator(
            1,
            "2022-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '198.51.100.1']",
            r#","revoked":true"#,
        )],
    );
    let applied = refresh(&monitor).applied;
    assert!(applied.removed >= 1, "{applied:?}");
    assert!(alerts(&monitor, w.member, "198.51.100.1").is_empty());

    // A replaced pattern matches the new value only.
    post(
        &w,
        &[indicator(
            2,
            "2022-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '198.51.100.22']",
            "",
        )],
    );
    let refreshed = refresh(&monitor);
    assert_eq!(refreshed.applied.replaced, 1, "{refreshed:?}");
    assert!(alerts(&monitor, w.member, "198.51.100.2").is_empty());
    assert_eq!(alerts(&monitor, w.member, "198.51.100.22").len(), 1);
    // Events seen before never met the new pattern: it arrives for a retro-hunt.
    let arrived: Vec<&str> = refreshed
        .arrivals
        .iter()
        .flat_map(|a| &a.indicators)
        .map(|i| i.pattern.as_str())
        .collect();
    assert_eq!(arrived, ["[ipv4-addr:value = '198.51.100.22']"]);

    // A version that changes only the name matches what it matched: nothing to hunt again.
    post(
        &w,
        &[indicator(
            2,
            "2023-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '198.51.100.22']",
            "",
        )
        .replace("\"indicator 2\"", "\"renamed\"")],
    );
    let refreshed = refresh(&monitor);
    assert_eq!(refreshed.applied.replaced, 1, "{refreshed:?}");
    assert!(refreshed.arrivals.is_empty(), "{refreshed:?}");
    let renamed = raised(&monitor, w.member, "198.51.100.22");
    assert_eq!(renamed[0].indicator_name.as_deref(), Some("renamed"));
}

#[test]
fn deleted_indicators_leave_the_set_at_the_next_refresh() {
    let w = world();
    post(
        &w,
        &[indicator(
            7,
            "2021-01-01T00:00:00.000Z",
            "[ipv4-addr:value = '203.0.113.7']",
            "",
        )],
    );
    let monitor = Monitor::new(w.exchange.clone());
    assert_eq!(alerts(&monitor, w.member, "203.0.113.7").len(), 1);
    // Without a deletion, a refresh reads only what is new.
    assert_eq!(refresh(&monitor).applied, Applied::default());
    let removed = delete(&w, 7, &kawal_core::VersionSelect::all());
    assert_eq!(removed, 1);
    // Polling for new versions cannot see a deletion; the refresh after it reconciles.
    let applied = refresh(&monitor).applied;
    assert_eq!(applied.removed, 1, "{applied:?}");
    assert!(alerts(&monitor, w.member, "203.0.113.7").is_empty());
}

#[test]
fn deleting_the_newest_version_brings_the_one_before_back() {
    let w = world();
    let (before, newest) = ("2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z");
    post(
        &w,
        &[
            indicator(8, before, "[ipv4-addr:value = '203.0.113.8']", ""),
            indicator(8, newest, "[ipv4-addr:value = '203.0.113.88']", ""),
        ],
    );
    let monitor = Monitor::new(w.exchange.clone());
    assert!(alerts(&monitor, w.member, "203.0.113.8").is_empty());
    assert_eq!(alerts(&monitor, w.member, "203.0.113.88").len(), 1);
    let removed = delete(&w, 8, &kawal_core::VersionSelect::default());
    assert_eq!(removed, 1);
    // The deletion is reconciled: the newest version goes and the set reads again from the
    // beginning, where the one before is found.
    refresh(&monitor);
    refresh(&monitor);
    assert!(alerts(&monitor, w.member, "203.0.113.88").is_empty());
    assert_eq!(alerts(&monitor, w.member, "203.0.113.8").len(), 1);
}

#[test]
fn a_large_first_load_is_applied_in_parts_and_keeps_each_indicators_id_and_collection() {
    let w = world();
    // More than one part of the load, and one id written in capitals.
    let many: Vec<String> = (100..5_100)
        .map(|n| {
            indicator(
                n,
                "2021-01-01T00:00:00.000Z",
                &format!("[ipv4-addr:value = '10.0.{}.{}']", n / 256, n % 256),
                "",
            )
        })
        .collect();
    post(&w, &many);
    let capital = "indicator--0000000A-0000-4000-8000-00000000000B";
    post(
        &w,
        &[format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"{capital}","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","name":"capital","pattern":"[ipv4-addr:value = '192.0.2.11']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"}}"#
        )],
    );
    let monitor = Monitor::new(w.exchange.clone());
    let hit = raised(&monitor, w.member, "10.0.19.136");
    assert_eq!(hit.len(), 1);
    assert_eq!(
        hit[0].indicator,
        "indicator--00000000-0000-4000-8000-000000005000"
    );
    assert_eq!(hit[0].indicator_name.as_deref(), Some("indicator 5000"));
    assert_eq!(hit[0].collection, w.collection);
    assert_eq!(alerts(&monitor, w.member, "192.0.2.11"), [capital]);
    assert_eq!(
        monitor.indicators(w.member).unwrap().lock().unwrap().len(),
        5_001
    );

    // Reconciling after a deletion removes only what was deleted, and keeps what is still
    // readable, the id in capitals included.
    let deleted = delete(&w, 100, &kawal_core::VersionSelect::all());
    assert_eq!(deleted, 1);
    let refreshed = refresh(&monitor);
    assert_eq!(refreshed.applied.removed, 1, "{refreshed:?}");
    assert!(refreshed.arrivals.is_empty());
    assert_eq!(alerts(&monitor, w.member, "192.0.2.11"), [capital]);

    // Revoking it removes it, whichever way its id is written.
    post(
        &w,
        &[format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"{capital}","created":"2021-01-01T00:00:00.000Z","modified":"2022-01-01T00:00:00.000Z","name":"capital","pattern":"[ipv4-addr:value = '192.0.2.11']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","revoked":true}}"#
        )],
    );
    let applied = refresh(&monitor).applied;
    assert_eq!(applied.removed, 1, "{applied:?}");
    assert!(alerts(&monitor, w.member, "192.0.2.11").is_empty());
    assert_eq!(
        monitor.indicators(w.member).unwrap().lock().unwrap().len(),
        4_999
    );
}

#[test]
fn arrivals_applied_before_a_failed_read_are_reported_by_the_next_refresh() {
    let w = world();
    let monitor = Monitor::new(w.exchange.clone());
    assert!(alerts(&monitor, w.member, "10.0.0.1").is_empty());
    // Enough new indicators for some to be applied before the read reaches the last one,
    // whose row is then made unreadable.
    const COUNT: u32 = 7_000;
    let ip = |n: u32| format!("10.0.{}.{}", n / 256, n % 256);
    let objects: Vec<String> = (1..=COUNT)
        .map(|n| {
            let pattern = format!("[ipv4-addr:value = '{}']", ip(n));
            indicator(n, "2021-01-01T00:00:00.000Z", &pattern, "")
        })
        .collect();
    post(&w, &objects);
    let database = rusqlite::Connection::open(w.dir.path().join("kawal.db")).unwrap();
    let last = indicator_id(COUNT);
    let tlp: Option<i64> = database
        .query_row("SELECT tlp FROM objects WHERE id = ?1", [&last], |r| {
            r.get(0)
        })
        .unwrap();
    database
        .execute(
            "UPDATE objects SET tlp = 'unreadable' WHERE id = ?1",
            [&last],
        )
        .unwrap();

    let failed = monitor.refresh();
    assert_eq!(failed.failures.len(), 1, "{failed:?}");
    assert_eq!(failed.failures[0].0, w.member);
    assert!(failed.arrivals.is_empty());
    // Part of what was read went into the set before the failure: it matches already.
    assert_eq!(alerts(&monitor, w.member, &ip(1)), [indicator_id(1)]);
    assert!(alerts(&monitor, w.member, &ip(COUNT)).is_empty());

    database
        .execute(
            "UPDATE objects SET tlp = ?1 WHERE id = ?2",
            rusqlite::params![tlp, last],
        )
        .unwrap();
    let refreshed = refresh(&monitor);
    // Every new indicator is reported once, those applied before the failure included, so
    // that each is hunted for in the archive.
    let mut reported: Vec<String> = refreshed
        .arrivals
        .iter()
        .inspect(|a| assert_eq!(a.org, w.member))
        .flat_map(|a| a.indicators.iter().map(|i| i.info.id.clone()))
        .collect();
    reported.sort();
    let expected: Vec<String> = (1..=COUNT).map(indicator_id).collect();
    assert!(
        reported == expected,
        "{} of {COUNT} reported; first missing: {:?}",
        reported.len(),
        expected
            .iter()
            .find(|id| reported.binary_search(id).is_err())
    );
    assert_eq!(alerts(&monitor, w.member, &ip(COUNT)), [last]);
    assert!(refresh(&monitor).arrivals.is_empty());
}
