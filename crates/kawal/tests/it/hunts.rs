//! The event archive on the real binary: events submitted before an indicator existed are
//! found by the retro-hunt its arrival starts, for the organisations that may read it only;
//! ad-hoc hunts over the API and with `kawal hunt` find the archived events of the hunter's
//! organisation.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

const INDICATOR: &str = "indicator--6b617761-6c2d-4000-8000-00000000a001";
const PATTERN: &str = "[domain-name:value = 'c2.retro.example']";

/// A Zeek DNS event (JSON) for `query`, `age` before now.
fn dns_event(query: &str, age: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let ts = (now - age).as_secs_f64();
    json!({
        "_path": "dns", "ts": ts, "uid": "CRetro1", "id.orig_h": "10.1.1.7", "id.orig_p": 40000,
        "id.resp_h": "198.51.100.23", "id.resp_p": 53, "proto": "udp", "query": query,
        "qtype_name": "A", "rcode_name": "NOERROR"
    })
    .to_string()
}

fn names_the_c2(hit: &Value) -> bool {
    hit["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["type"] == "domain-name" && o["value"] == "c2.retro.example")
}

fn submit(base: &str, token: &str, body: &str) -> Value {
    let reply = call(
        "POST",
        &format!("{base}/api/events?format=zeek.dns"),
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.json()
}

fn retro_alerts(base: &str, analyst: &str) -> Vec<Value> {
    let reply = get(&format!("{base}/api/alerts?retro=true"), Some(analyst));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["alerts"].as_array().unwrap().clone()
}

fn wait_for<T>(what: &str, limit: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hunt(base: &str, token: &str, body: &Value) -> Reply {
    call(
        "POST",
        &format!("{base}/api/hunts"),
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
}

#[test]
fn events_first_indicator_later_raises_a_retro_alert_and_hunts_find_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    producer_and_member(&data, &["OUTSIDER"]);
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"]);
    let token = |org: &str, role: &str| issue_token(&data, org, role);
    let producer = token("PRODUCER", "analyst");
    let (sensor, analyst) = (token("MEMBER", "sensor"), token("MEMBER", "analyst"));
    let (outsider_sensor, outsider) = (token("OUTSIDER", "sensor"), token("OUTSIDER", "analyst"));
    let server = Binary::serve(&data);
    let base = server.base.clone();

    // Events first: the C2 domain an hour ago and ten days ago (outside the default seven-day
    // retro-hunt), and a benign lookup. Nothing matches yet.
    let events = [
        dns_event("c2.retro.example", Duration::from_secs(3_600)),
        dns_event("www.benign.example", Duration::from_secs(1_800)),
        dns_event("c2.retro.example", Duration::from_secs(10 * 86_400)),
    ]
    .join("\n");
    for token in [&sensor, &outsider_sensor] {
        let answer = submit(&base, token, &events);
        assert_eq!(answer["normalised"], 3, "{answer}");
        assert_eq!(answer["alerts"].as_array().unwrap().len(), 0, "{answer}");
    }

    // Then the indicator, shared over TAXII with the group (AMBER by the collection's default):
    // the member may read it, the outsider may not.
    let indicator = json!({"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": INDICATOR,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "c2-retro", "pattern": PATTERN, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    }]});
    let objects = format!("{base}/kawal/collections/{}/objects/", collection.trim());
    let status = post(&objects, &producer, &indicator.to_string(), &[]).json();
    assert_eq!(status["success_count"], 1, "{status}");

    let alerts = wait_for("the retro-hunt alert", Duration::from_secs(10), || {
        Some(retro_alerts(&base, &analyst)).filter(|a| !a.is_empty())
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["retro"], true);
    assert_eq!(alert["indicator"], INDICATOR);
    assert_eq!(alert["indicator_name"], "c2-retro");
    assert_eq!(alert["source"], "http");
    assert!(
        alert["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["value"] == "c2.retro.example"),
        "{alert}"
    );
    // The organisation that may not read the indicator gets nothing from it.
    assert!(retro_alerts(&base, &outsider).is_empty());

    // From now on the indicator matches live; the live alert is not repeated as a retro one.
    let answer = submit(
        &base,
        &sensor,
        &dns_event("c2.retro.example", Duration::ZERO),
    );
    assert_eq!(answer["alerts"].as_array().unwrap().len(), 1, "{answer}");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(retro_alerts(&base, &analyst).len(), 1);

    // An ad-hoc hunt over thirty days finds the member's three C2 events, not the outsider's.
    let started = hunt(
        &base,
        &analyst,
        &json!({"pattern": PATTERN, "since": "30d"}),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let started = started.json();
    assert_eq!(started["status"], "running");
    assert_eq!(started["progress"], 0.0);
    let id = started["id"].as_str().unwrap().to_owned();
    let url = format!("{base}/api/hunts/{id}");
    let done = wait_for("the hunt", Duration::from_secs(10), || {
        let view = get(&url, Some(&analyst)).json();
        (view["status"] != "running").then_some(view)
    });
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["progress"], 100.0, "{done}");
    assert_eq!(done["hits_total"], 3, "{done}");
    assert_eq!(done["hits"].as_array().unwrap().len(), 3, "{done}");
    assert!(done["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["source"] == "http" && names_the_c2(h)));
    assert_eq!(done["summary"]["hits"], 3, "{done}");
    // Hunts are their organisation's: another's id is not found, and a sensor may not hunt.
    assert_eq!(get(&url, Some(&outsider)).status, 404);
    assert_eq!(
        call(
            "DELETE",
            &url,
            &[("Authorization", &bearer(&outsider))],
            None
        )
        .status,
        404
    );
    assert_eq!(
        hunt(&base, &sensor, &json!({"pattern": PATTERN})).status,
        403
    );
    // The outsider hunting the same pattern sees its own two events, none of the member's.
    let theirs = hunt(
        &base,
        &outsider,
        &json!({"pattern": PATTERN, "since": "30d"}),
    )
    .json();
    let their_url = format!("{base}/api/hunts/{}", theirs["id"].as_str().unwrap());
    let theirs = wait_for("the outsider's hunt", Duration::from_secs(10), || {
        let view = get(&their_url, Some(&outsider)).json();
        (view["status"] != "running").then_some(view)
    });
    assert_eq!(theirs["hits_total"], 2, "{theirs}");

    // A pattern that does not parse is refused with the diagnostic under it.
    let bad = hunt(
        &base,
        &analyst,
        &json!({"pattern": "[domain-name:value = 'x'", "since": "7d"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let description = bad.json()["description"].as_str().unwrap().to_owned();
    assert!(description.contains('^'), "{description}");
    let bad = hunt(
        &base,
        &analyst,
        &json!({"pattern": PATTERN, "since": "a week"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("a week"), "{}", bad.body);
    let bad = hunt(&base, &analyst, &json!({"pattern": PATTERN, "from": "7d"}));
    assert_eq!(bad.status, 400, "{}", bad.body);

    // Deleting a running hunt cancels it; deleting a finished one forgets it.
    let running = hunt(
        &base,
        &analyst,
        &json!({"pattern": PATTERN, "since": "30d"}),
    )
    .json();
    let running_url = format!("{base}/api/hunts/{}", running["id"].as_str().unwrap());
    let deleted = call(
        "DELETE",
        &running_url,
        &[("Authorization", &bearer(&analyst))],
        None,
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    match deleted.json()["status"].as_str().unwrap() {
        "cancelled" => assert_eq!(
            get(&running_url, Some(&analyst)).json()["status"],
            "cancelled"
        ),
        "done" => assert_eq!(get(&running_url, Some(&analyst)).status, 404),
        other => panic!("a deleted hunt is {other}"),
    }
    let forgotten = call(
        "DELETE",
        &url,
        &[("Authorization", &bearer(&analyst))],
        None,
    );
    assert_eq!(forgotten.json()["status"], "done");
    assert_eq!(get(&url, Some(&analyst)).status, 404);

    // `kawal hunt` reads the archive beside the running server and finds the same events.
    let out = kawal()
        .args([
            "hunt", PATTERN, "--since", "30d", "--org", "MEMBER", "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits.iter().all(names_the_c2), "{hits:?}");
    // Not a terminal: one closing line on standard error.
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("3 hits in "), "{stderr}");
    // Within seven days, the ten-day-old event is left out.
    let recent = cli(
        &data,
        &["hunt", PATTERN, "--since", "7d", "--org", "MEMBER"],
    );
    assert_eq!(recent.lines().count(), 2, "{recent}");
    let until = cli(
        &data,
        &[
            "hunt", PATTERN, "--since", "30d", "--until", "2d", "--org", "MEMBER",
        ],
    );
    assert_eq!(until.lines().count(), 1, "{until}");
    let refused = kawal()
        .args(["hunt", "[domain-name:value = ", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains('^'));
}
