//! Sightings and webhooks on the real binary: a member's sensors see a producer's indicator,
//! and after the sighting window the producer reads, over TAXII, a sighting naming the member
//! with the right count; a collection the member withholds its sightings from gets none; the
//! member's webhook receives each alert signed, also after a first failed delivery.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::*;

const SIGHTED: &str = "indicator--6b617761-6c2d-4000-8000-0000000005a1";
const WITHHELD: &str = "indicator--6b617761-6c2d-4000-8000-0000000005a2";
const SECRET: &str = "webhook secret";

fn indicator(id: &str, domain: &str) -> String {
    serde_json::json!({"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": domain, "pattern": format!("[domain-name:value = '{domain}']"),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
    }]})
    .to_string()
}

fn dns_query(domain: &str, second: u32) -> String {
    format!(
        r#"{{"timestamp":"2024-03-10T12:00:{second:02}.000000+0000","flow_id":1,"event_type":"dns","src_ip":"10.1.1.7","src_port":40000,"dest_ip":"198.51.100.23","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"{domain}","rrtype":"A"}}}}"#
    )
}

/// One request a webhook receiver got.
struct Delivery {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver that answers 500 to the first request and 200 to the others; returns
/// its URL and the requests it gets.
fn receiver() -> (String, mpsc::Receiver<Delivery>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let Some((name, value)) = line.trim_end().split_once(": ") else {
                    break;
                };
                headers.push((name.to_owned(), value.to_owned()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            if sender.send(Delivery { headers, body }).is_err() {
                return;
            }
        }
    });
    (url, received)
}

fn taxii_objects(base: &str, collection: &str, token: &str, kind: &str) -> Vec<serde_json::Value> {
    get_all(
        &format!("{base}/kawal/collections/{collection}/objects/?match[type]={kind}"),
        Some(token),
        "objects",
    )
}

#[test]
fn the_producer_reads_where_its_indicator_hit_and_webhooks_get_signed_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    producer_and_member(&data, &[]);
    // Only the producer writes; the member shares sightings all the same.
    let collection = |title: &str| {
        cli(
            &data,
            &[
                "admin",
                "collection",
                "add",
                title,
                "--group",
                "g",
                "--writers",
                "PRODUCER",
            ],
        )
        .trim()
        .to_owned()
    };
    let (shared, withheld) = (collection("shared"), collection("withheld"));
    let token = |org: &str, role: &str| issue_token(&data, org, role);
    let (producer, analyst, sensor) = (
        token("PRODUCER", "analyst"),
        token("MEMBER", "analyst"),
        token("MEMBER", "sensor"),
    );
    let (hook, deliveries) = receiver();
    let config = dir.path().join("kawal.toml");
    std::fs::write(
        &config,
        format!(
            "sighting_window_s = 1\n\n[[webhooks]]\nurl = \"{hook}\"\norg = \"MEMBER\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let base = server.base.clone();
    let objects = |c: &str| format!("{base}/kawal/collections/{c}/objects/");

    for (c, id, domain) in [
        (&shared, SIGHTED, "sighted.example"),
        (&withheld, WITHHELD, "withheld.example"),
    ] {
        let status = post(&objects(c), &producer, &indicator(id, domain), &[]).json();
        assert_eq!(status["success_count"], 1, "{status}");
    }
    // The member is not a writer: it may not add anything but sightings.
    let refused = post(
        &objects(&shared),
        &analyst,
        &indicator(
            "indicator--6b617761-6c2d-4000-8000-0000000005a3",
            "x.example",
        ),
        &[],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The member keeps its sightings out of one collection.
    let reply = call(
        "PUT",
        &format!("{base}/api/collections/{withheld}/sightings"),
        &[
            ("Authorization", &bearer(&analyst)),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"share": false}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let listed = get(&format!("{base}/api/collections"), Some(&analyst)).json();
    let sharing = |c: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == c)
            .unwrap()["shares_sightings"]
            .clone()
    };
    assert_eq!(sharing(&shared), true, "{listed}");
    assert_eq!(sharing(&withheld), false, "{listed}");
    let by_sensor = call(
        "PUT",
        &format!("{base}/api/collections/{withheld}/sightings"),
        &[("Authorization", &bearer(&sensor))],
        Some(br#"{"share": true}"#),
    );
    assert_eq!(by_sensor.status, 404, "{}", by_sensor.body);

    let events = [
        dns_query("sighted.example", 1),
        dns_query("sighted.example", 2),
        dns_query("sighted.example", 5),
        dns_query("withheld.example", 3),
        dns_query("withheld.example", 4),
    ]
    .join("\n");
    let answer = call(
        "POST",
        &format!("{base}/api/events"),
        &[
            ("Authorization", &bearer(&sensor)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(events.as_bytes()),
    )
    .json();
    let alerts: Vec<String> = answer["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(alerts.len(), 5, "{answer}");

    let member = get(&format!("{base}/api/whoami"), Some(&analyst)).json();
    let identity = member["organisation"]["identity_id"].as_str().unwrap();

    // After the window, the producer reads the sighting of its indicator over TAXII.
    let start = Instant::now();
    let sightings = loop {
        let found = taxii_objects(&base, &shared, &producer, "sighting");
        if !found.is_empty() {
            break found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no sighting was shared"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    let sighting = &sightings[0];
    assert_eq!(sighting["sighting_of_ref"], SIGHTED);
    assert_eq!(
        sighting["where_sighted_refs"],
        serde_json::json!([identity])
    );
    assert_eq!(sighting["created_by_ref"], identity);
    assert_eq!(sighting["count"], 3);
    assert_eq!(sighting["first_seen"], "2024-03-10T12:00:01.000000Z");
    assert_eq!(sighting["last_seen"], "2024-03-10T12:00:05.000000Z");
    assert_eq!(
        sighting["object_marking_refs"],
        serde_json::json!(["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"])
    );
    let observed = taxii_objects(&base, &shared, &producer, "observed-data");
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert_eq!(sighting["observed_data_refs"][0], observed[0]["id"]);
    assert_eq!(observed[0]["number_observed"], 3);
    let domains = taxii_objects(&base, &shared, &producer, "domain-name");
    assert!(
        domains.iter().any(|d| d["value"] == "sighted.example"),
        "{domains:?}"
    );

    // Both windows closed together; the withheld collection got nothing.
    std::thread::sleep(Duration::from_millis(500));
    assert!(taxii_objects(&base, &withheld, &producer, "sighting").is_empty());

    // The webhook got every alert, the first one twice: once refused with a 500, then again.
    let mut got = Vec::new();
    while got.len() < alerts.len() + 1 {
        got.push(
            deliveries
                .recv_timeout(Duration::from_secs(10))
                .expect("a webhook delivery"),
        );
    }
    assert_eq!(
        got[0].header("X-Kawal-Delivery"),
        got[1].header("X-Kawal-Delivery")
    );
    let delivered: Vec<&str> = got[1..]
        .iter()
        .map(|d| d.header("X-Kawal-Delivery").unwrap())
        .collect();
    assert_eq!(delivered, alerts);
    for delivery in &got {
        let alert: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(
            Some(alert["id"].as_str().unwrap()),
            delivery.header("X-Kawal-Delivery")
        );
        assert_eq!(alert["org"], member["organisation"]["id"]);
        assert_eq!(
            delivery.header("X-Kawal-Signature"),
            Some(server::webhook_signature(SECRET, &delivery.body).as_str())
        );
        assert_eq!(delivery.header("Content-Type"), Some("application/json"));
    }
}
