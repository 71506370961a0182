//! Monitoring on the real binary: indicators shared over TAXII, sensor events submitted over
//! HTTP as NDJSON (the sample Suricata EVE and Zeek logs of the detect crate), alerts listed,
//! streamed and counted; TLP decides who matches; a revoked indicator stops matching.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::*;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../detect/testdata");

fn sample(path: &str) -> String {
    std::fs::read_to_string(Path::new(TESTDATA).join(path)).unwrap()
}

fn submit(base: &str, token: &str, query: &str, body: &str) -> serde_json::Value {
    let reply = call(
        "POST",
        &format!("{base}/api/events{query}"),
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.json()
}

fn alerted(answer: &serde_json::Value) -> usize {
    answer["alerts"].as_array().unwrap().len()
}

/// Waits until the monitor's next refresh has picked up a change (it polls every 500 ms).
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what} did not happen within one second"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sensor_events_raise_alerts_for_what_their_organisation_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    producer_and_member(&data, &["OUTSIDER"]);
    cli(
        &data,
        &["admin", "group", "add", "other", "--orgs", "OUTSIDER"],
    );
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"]);
    let token = |org: &str, role: &str| issue_token(&data, org, role);
    let (producer, sensor, analyst, outsider) = (
        token("PRODUCER", "analyst"),
        token("MEMBER", "sensor"),
        token("MEMBER", "analyst"),
        token("OUTSIDER", "sensor"),
    );
    let server = Binary::serve(&data);
    let base = server.base.clone();
    let objects = format!("{base}/kawal/collections/{}/objects/", collection.trim());
    let indicators: serde_json::Value = serde_json::from_str(&sample("indicators.json")).unwrap();
    let status = post(&objects, &producer, &indicators.to_string(), &[]).json();
    assert_eq!(status["failure_count"], 0, "{status}");

    // The member's analyst follows its alerts as they are raised.
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET /api/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nAccept: text/event-stream\r\n\r\n",
        bearer(&analyst)
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut sse = BufReader::new(stream);
    let mut status_line = String::new();
    sse.read_line(&mut status_line).unwrap();
    assert!(status_line.contains("200"), "{status_line}");

    let eve = sample("suricata/eve.json");
    let answer = submit(&base, &sensor, "", &eve);
    assert_eq!(answer["received"], eve.lines().count(), "{answer}");
    assert_eq!(answer["refused"], 0, "{answer}");
    let raised = alerted(&answer);
    assert!(raised > 0, "{answer}");

    // The same events from an organisation outside the collection's audience match nothing.
    assert_eq!(alerted(&submit(&base, &outsider, "", &eve)), 0);

    let list = get(&format!("{base}/api/alerts?limit=1000"), Some(&analyst)).json();
    let alerts = list["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), raised, "{list}");
    let ids: std::collections::BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["indicator"].as_str().unwrap())
        .collect();
    for expected in [
        "indicator--6b617761-6c2d-4000-8000-000000000002", // evil.example in DNS
        "indicator--6b617761-6c2d-4000-8000-000000000006", // traffic to 198.51.100.23:53
    ] {
        assert!(ids.contains(expected), "{expected} not in {ids:?}");
    }
    assert!(!ids.contains("indicator--6b617761-6c2d-4000-8000-00000000000f"));
    // An alert carries what of its event no cyber-observable took, as the sensor sent it,
    // so that the analyst can find the original event.
    let query = alerts
        .iter()
        .find(|a| {
            a["indicator"] == "indicator--6b617761-6c2d-4000-8000-000000000002"
                && a["fields"]["dns"]["type"] == "query"
        })
        .unwrap_or_else(|| panic!("no alert for the DNS query in {list}"));
    assert_eq!(query["fields"]["flow_id"], 1234567890123456u64, "{query}");
    assert_eq!(query["fields"]["in_iface"], "eth0", "{query}");
    assert_eq!(query["fields"]["dns"]["id"], 4660, "{query}");
    assert!(query["fields"].get("src_ip").is_none(), "{query}");
    // Alerts are the organisation's own: the outsider sees none, a sensor token reads none.
    let theirs = get(&format!("{base}/api/alerts"), Some(&outsider));
    assert_eq!(theirs.status, 403, "{}", theirs.body);

    // The stream carried the first alert.
    let mut saw = false;
    let mut line = String::new();
    while !saw && sse.read_line(&mut line).unwrap() > 0 {
        saw = line.starts_with("event: alert");
        line.clear();
    }
    assert!(saw, "no alert on the stream");

    // Zeek JSON with the log named.
    let dns = sample("zeek/json/dns.log");
    let answer = submit(&base, &sensor, "?format=zeek.dns", &dns);
    assert_eq!(answer["refused"], 0, "{answer}");
    assert!(alerted(&answer) > 0, "{answer}");

    // Lines that cannot be read are refused with their line number and reason, not dropped.
    let answer = submit(&base, &sensor, "", "{\"no\":\"format\"}\nnot json\n");
    assert_eq!(answer["refused"], 2, "{answer}");
    assert_eq!(answer["refusals"][1]["line"], 2, "{answer}");
    // A large submission is matched in two halves; its refusals still name their lines.
    let flow = r#"{"timestamp":"2024-03-10T12:00:00.000000+0000","event_type":"flow","src_ip":"192.0.2.10","src_port":1,"dest_ip":"192.0.2.11","dest_port":2,"proto":"TCP"}"#;
    let mut lines = vec![flow; 600];
    lines[1] = "not json";
    lines[3] = "";
    lines[598] = "{\"event_type\":\"stats\"}";
    let answer = submit(&base, &sensor, "", &(lines.join("\n") + "\n"));
    assert_eq!(answer["received"], 599, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");
    assert_eq!(answer["refusals"][0]["line"], 2, "{answer}");
    assert_eq!(answer["refusals"][1]["line"], 599, "{answer}");

    // Revoking evil.example stops it matching within a second.
    let mut revoked = indicators["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "indicator--6b617761-6c2d-4000-8000-000000000002")
        .unwrap()
        .clone();
    revoked["modified"] = "2030-01-01T00:00:00.000Z".into();
    revoked["revoked"] = true.into();
    let status = post(
        &objects,
        &producer,
        &serde_json::json!({"objects": [revoked]}).to_string(),
        &[],
    )
    .json();
    assert_eq!(status["success_count"], 1, "{status}");
    let query = eve
        .lines()
        .find(|l| l.contains("\"rrname\":\"evil.example\""))
        .unwrap()
        .to_owned();
    until("revocation", || {
        let answer = submit(&base, &sensor, "", &query);
        let ids: Vec<String> = answer["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let listed = get(&format!("{base}/api/alerts?limit=1000"), Some(&analyst)).json();
        !listed["alerts"].as_array().unwrap().iter().any(|a| {
            ids.contains(&a["id"].as_str().unwrap().to_owned())
                && a["indicator"] == "indicator--6b617761-6c2d-4000-8000-000000000002"
        })
    });

    let metrics = call("GET", &format!("{base}/metrics"), &[], None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("kawal_events_received_total"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("kawal_events_refused_total{source=\"http\",reason=\"json\"} 2"),
        "{}",
        metrics.body
    );
}
