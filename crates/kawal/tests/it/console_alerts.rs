//! The alerts page and the dashboard's alerts and sightings: an organisation's alerts only,
//! filtered, acknowledged once and audited, arriving live; sightings counted as the policy
//! lets the reader read them.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use kawal_core::Role;

use crate::console::{community, index_all, indicator, share, Browser, PASSWORD};
use crate::harness::*;

/// A Suricata DNS event from a resolver at `198.51.100.23`, which `indicator(23, …)` names.
pub fn resolver_event(second: u32) -> String {
    format!(
        r#"{{"timestamp":"2024-03-10T12:00:{second:02}.000000+0000","flow_id":1,"event_type":"dns","src_ip":"10.1.1.7","src_port":40000,"dest_ip":"198.51.100.23","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"example.org","rrtype":"A"}}}}"#
    )
}

/// Submits events with a sensor token; returns how many alerts they raised.
pub fn submit(it: &Instance, sensor: &str, body: &str) -> usize {
    let reply = call(
        "POST",
        &format!("{}/api/events", it.base),
        &[
            ("Authorization", &bearer(sensor)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.json()["alerts"].as_array().unwrap().len()
}

/// Shares `indicator(23, "Resolver")` as MY-CERT and waits until MY-CERT's monitor matches it;
/// returns MY-CERT's sensor token.
pub fn watched_resolver(it: &Instance, collection: &str) -> String {
    share(it, collection, "MY-CERT", &[indicator(23, "Resolver")]);
    let sensor = it.token("MY-CERT", Role::Sensor);
    let started = Instant::now();
    // The first event that matches is the first alert.
    while submit(it, &sensor, &resolver_event(0)) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the indicator never matched"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sensor
}

fn rows(body: &str) -> usize {
    body.matches("<tr data-id=\"").count()
}

#[test]
fn the_alerts_page_lists_filters_and_acknowledges_the_organisations_alerts() {
    let (it, collection) = community();
    let admin = it.admin();
    for (org, user, role) in [
        ("MY-CERT", "rita", Role::Reader),
        ("KH-CERT", "kiri", Role::Analyst),
    ] {
        it.ex().add_user(&admin, org, user, role, PASSWORD).unwrap();
    }
    let sensor = watched_resolver(&it, &collection);
    assert_eq!(submit(&it, &sensor, &resolver_event(5)), 1);
    // KH-CERT reads the AMBER indicator too; its alert is its own.
    let kh_sensor = it.token("KH-CERT", Role::Sensor);
    let started = Instant::now();
    while submit(&it, &kh_sensor, &resolver_event(9)) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut ana = Browser::new(&it.base);
    ana.sign_in("ana", PASSWORD);
    let page = ana.get("/alerts");
    assert_eq!(page.status, 200);
    assert_eq!(rows(&page.body), 2, "{}", page.body);
    assert!(page.body.contains("Resolver"));
    assert!(page.body.contains("ipv4-addr 198.51.100.23"));
    // What finds the original event: the fields no observable took.
    assert!(page.body.contains("dns={…}, flow_id=1"), "{}", page.body);
    assert!(page.body.contains("data-live-alerts=\"/live/alerts?after="));
    let first = page.body.find("2024-03-10 12:00:05").unwrap();
    let second = page.body.find("2024-03-10 12:00:00").unwrap();
    assert!(first < second, "newest first");
    for (query, expected) in [
        ("source=http", 2),
        ("source=syslog", 0),
        (&*format!("collection={collection}"), 2),
        ("retro=retro", 0),
        ("retro=live", 2),
        ("since=2024-03-10&until=2024-03-10", 2),
        ("since=2024-03-11", 0),
        (
            "indicator=indicator--00000000-0000-4000-8000-000000000023",
            2,
        ),
        (
            "indicator=indicator--00000000-0000-4000-8000-000000000024",
            0,
        ),
    ] {
        let filtered = ana.get(&format!("/alerts?{query}"));
        assert_eq!(rows(&filtered.body), expected, "{query}");
    }
    let nonsense = ana.get("/alerts?since=last+week");
    assert_eq!(nonsense.status, 200);
    assert!(nonsense
        .body
        .contains("is not a date of the form YYYY-MM-DD"));

    // Acknowledging: with the form token only, once, audited, and back to the same list.
    let id_at = page.body.find("<tr data-id=\"").unwrap() + 13;
    let id = page.body[id_at..id_at + 36].to_owned();
    let action = format!("/alerts/{id}/acknowledge");
    assert!(page.body.contains(&format!("action=\"{action}\"")));
    assert_eq!(ana.post(&action, &[("back", "/alerts")]).status, 403);
    let csrf = ana.csrf();
    let done = ana.post(&action, &[("csrf", &csrf), ("back", "/alerts?source=http")]);
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/alerts?source=http"));
    let away = ana.post(
        &action,
        &[("csrf", &csrf), ("back", "https://elsewhere.example/")],
    );
    assert_eq!(away.location.as_deref(), Some("/"));
    let after = ana.get("/alerts");
    assert!(after.body.contains("ana at "));
    assert_eq!(rows(&ana.get("/alerts?ack=open").body), 1);
    assert_eq!(rows(&ana.get("/alerts?ack=acknowledged").body), 1);
    let audit = it
        .ex()
        .audit(
            &admin,
            kawal_core::AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    let acks: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "acknowledge" && e.target == format!("alert {id}"))
        .collect();
    assert!(
        acks.iter()
            .any(|e| e.actor == "user:ana" && e.outcome == "ok"),
        "{acks:?}"
    );

    // A reader sees the alerts but acknowledges none; another organisation finds none.
    let mut rita = Browser::new(&it.base);
    rita.sign_in("rita", PASSWORD);
    let read = rita.get("/alerts");
    assert_eq!(rows(&read.body), 2);
    assert!(!read.body.contains("Acknowledge</button>"));
    let rita_csrf = rita.csrf();
    assert_eq!(rita.post(&action, &[("csrf", &rita_csrf)]).status, 403);
    let mut kiri = Browser::new(&it.base);
    kiri.sign_in("kiri", PASSWORD);
    let theirs = kiri.get("/alerts");
    assert_eq!(rows(&theirs.body), 1);
    assert!(!theirs.body.contains(&id));
    let kiri_csrf = kiri.csrf();
    assert_eq!(kiri.post(&action, &[("csrf", &kiri_csrf)]).status, 404);

    // The dashboard lists the newest alerts too.
    let dashboard = ana.get("/");
    assert!(dashboard.body.contains("Latest alerts"));
    assert!(dashboard
        .body
        .contains("data-live-alerts=\"/live/alerts?after="));
    assert_eq!(
        rows(&dashboard.body[dashboard.body.find("latest-alerts").unwrap()..]),
        2
    );
}

#[test]
fn new_alerts_are_streamed_to_the_page_as_they_are_stored() {
    let (it, collection) = community();
    let sensor = watched_resolver(&it, &collection);
    let mut ana = Browser::new(&it.base);
    ana.sign_in("ana", PASSWORD);
    let page = ana.get("/alerts");
    let at = page.body.find("/live/alerts?after=").unwrap();
    let url: String = page.body[at..].chars().take_while(|c| *c != '"').collect();
    let url = url.replace("&#38;", "&");
    let session = ana.cookie("kawal_session").unwrap().to_owned();
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(10))
        .build();
    let stream = agent
        .get(&format!("{}{url}", it.base))
        .set("Cookie", &format!("kawal_session={session}"))
        .call()
        .unwrap();
    assert!(stream
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(submit(&it, &sensor, &resolver_event(30)), 1);
    let mut lines = BufReader::new(stream.into_reader()).lines();
    let mut event = String::new();
    let data = loop {
        let line = lines.next().expect("the stream ended").unwrap();
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_owned();
        }
        if let Some(data) = line.strip_prefix("data: ") {
            if event == "alert" {
                break data.to_owned();
            }
        }
    };
    let alert: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(alert["indicator_label"], "Resolver");
    assert_eq!(alert["observed"], "2024-03-10 12:00:30 UTC");
    assert!(alert["acknowledge_url"]
        .as_str()
        .unwrap()
        .starts_with("/alerts/"));

    // A role that reads no alerts gets no stream.
    it.ex()
        .add_user(&it.admin(), "MY-CERT", "sensu", Role::Sensor, PASSWORD)
        .unwrap();
    let mut sensu = Browser::new(&it.base);
    sensu.sign_in("sensu", PASSWORD);
    assert_eq!(sensu.get("/live/alerts?after=0").status, 403);
}

#[test]
fn the_dashboard_counts_only_sightings_the_reader_may_read() {
    let (it, collection) = community();
    it.ex()
        .add_user(&it.admin(), "KH-CERT", "kiri", Role::Analyst, PASSWORD)
        .unwrap();
    share(&it, &collection, "MY-CERT", &[indicator(23, "Resolver")]);
    let sighting_version = |n: u32, day: u32, marking: &str| {
        format!(
            r#"{{"type":"sighting","spec_version":"2.1","id":"sighting--00000000-0000-4000-8000-{n:012}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-{day:02}T00:00:00.000Z","count":{day},"sighting_of_ref":"indicator--00000000-0000-4000-8000-000000000023"{marking}}}"#
        )
    };
    let sighting = |n: u32, marking: &str| sighting_version(n, 1, marking);
    let red = format!(r#","object_marking_refs":["{}"]"#, stix::tlp::TLP2_RED);
    share(
        &it,
        &collection,
        "MY-CERT",
        &[sighting(1, ""), sighting(2, "")],
    );
    // KH-CERT's RED sighting, addressed to nobody: only KH-CERT reads it.
    share(&it, &collection, "KH-CERT", &[sighting(3, &red)]);
    index_all(&it);
    let sightings_of = |user: &str| -> String {
        let mut browser = Browser::new(&it.base);
        browser.sign_in(user, PASSWORD);
        let body = browser.get("/").body;
        let start = body.find("id=\"sighted-h\"").unwrap();
        let end = start + body[start..].find("</section>").unwrap();
        body[start..end].to_owned()
    };
    let mine = sightings_of("ana");
    assert!(mine.contains(">Resolver</a>"), "{mine}");
    assert!(mine.contains("<td class=\"num\">2</td>"), "{mine}");
    let theirs = sightings_of("kiri");
    assert!(theirs.contains("<td class=\"num\">3</td>"), "{theirs}");

    // A sighting counts once, however many versions it has: aggregated sightings gain one at
    // each update, and versions can arrive out of order.
    share(
        &it,
        &collection,
        "MY-CERT",
        &[sighting_version(1, 3, ""), sighting_version(1, 2, "")],
    );
    index_all(&it);
    let mine = sightings_of("ana");
    assert!(mine.contains("<td class=\"num\">2</td>"), "{mine}");
    // Deleting versions: the sighting counts while one is left.
    let my_analyst = kawal_core::Principal::Local {
        org: it.ex().store().org_by_name("MY-CERT").unwrap().unwrap().id,
        role: Role::Analyst,
    };
    let sighting_id = |n: u32| format!("sighting--00000000-0000-4000-8000-{n:012}");
    let delete = |n: u32, versions: &kawal_core::VersionSelect| {
        it.ex()
            .delete_object(&my_analyst, &collection, &sighting_id(n), versions, &[])
            .unwrap()
    };
    assert_eq!(delete(1, &kawal_core::VersionSelect::default()), 1);
    index_all(&it);
    let mine = sightings_of("ana");
    assert!(mine.contains("<td class=\"num\">2</td>"), "{mine}");
    assert_eq!(delete(2, &kawal_core::VersionSelect::all()), 1);
    index_all(&it);
    let mine = sightings_of("ana");
    assert!(mine.contains("<td class=\"num\">1</td>"), "{mine}");
    let theirs = sightings_of("kiri");
    assert!(theirs.contains("<td class=\"num\">2</td>"), "{theirs}");
    // A sighting counts under its newest version, for those who may read it.
    share(&it, &collection, "KH-CERT", &[sighting_version(3, 2, "")]);
    index_all(&it);
    let mine = sightings_of("ana");
    assert!(mine.contains("<td class=\"num\">2</td>"), "{mine}");
    let theirs = sightings_of("kiri");
    assert!(theirs.contains("<td class=\"num\">2</td>"), "{theirs}");
    let kh_analyst = kawal_core::Principal::Local {
        org: it.ex().store().org_by_name("KH-CERT").unwrap().unwrap().id,
        role: Role::Analyst,
    };
    it.ex()
        .delete_object(
            &kh_analyst,
            &collection,
            &sighting_id(3),
            &kawal_core::VersionSelect::default(),
            &[],
        )
        .unwrap();
    index_all(&it);
    let mine = sightings_of("ana");
    assert!(mine.contains("<td class=\"num\">1</td>"), "{mine}");
    let theirs = sightings_of("kiri");
    assert!(theirs.contains("<td class=\"num\">2</td>"), "{theirs}");
}
