//! No loss under a burst: a million events POSTed over HTTP while the one client of the alert
//! stream reads nothing for a while and then reads slowly. Every line sent is accounted for —
//! normalised and matched, or refused with a reason — in the answers and in `/metrics`; every
//! hit is an alert in `/api/alerts`; the slow stream either carried an alert or said how many
//! it skipped, so its reader knows what to fetch from the list.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;

const EVENTS: usize = 1_000_000;
const LINES_PER_POST: usize = 10_000;
const IN_FLIGHT: usize = 2;
/// One line in this many names an indicator's domain.
const HIT_EVERY: usize = 50;
/// One line in this many is not JSON.
const GARBAGE_EVERY: usize = 10_007;
const INDICATORS: usize = 100;

fn indicators() -> String {
    let objects: Vec<serde_json::Value> = (0..INDICATORS)
        .map(|i| {
            serde_json::json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--00000000-0000-4000-8000-{i:012}"),
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": format!("[domain-name:value = 'hit-{i}.example']"),
                "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
            })
        })
        .collect();
    serde_json::json!({ "objects": objects }).to_string()
}

/// Line `n` of the burst: Suricata EVE DNS queries and flows, every `HIT_EVERY`th a query
/// for an indicator's domain, every `GARBAGE_EVERY`th not JSON at all.
fn line(n: usize, out: &mut String) {
    use std::fmt::Write as _;
    let (second, micros) = ((n / 1_000_000) % 60, n % 1_000_000);
    let host = (n % 250) + 1;
    if n % GARBAGE_EVERY == GARBAGE_EVERY - 1 {
        let _ = writeln!(out, "{{\"event_type\": \"dns\", truncated {n}");
    } else if n.is_multiple_of(HIT_EVERY) {
        let _ = writeln!(
            out,
            r#"{{"timestamp":"2024-03-10T12:00:{second:02}.{micros:06}+0000","flow_id":{n},"event_type":"dns","src_ip":"10.1.1.{host}","src_port":40000,"dest_ip":"198.51.100.23","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"hit-{}.example","rrtype":"A"}}}}"#,
            (n / HIT_EVERY) % INDICATORS
        );
    } else if n.is_multiple_of(2) {
        let _ = writeln!(
            out,
            r#"{{"timestamp":"2024-03-10T12:00:{second:02}.{micros:06}+0000","flow_id":{n},"event_type":"dns","src_ip":"10.1.1.{host}","src_port":40000,"dest_ip":"198.51.100.23","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"quiet-{n}.example","rrtype":"A"}}}}"#
        );
    } else {
        let _ = writeln!(
            out,
            r#"{{"timestamp":"2024-03-10T12:00:{second:02}.{micros:06}+0000","flow_id":{n},"event_type":"flow","src_ip":"10.2.{}.{host}","src_port":{},"dest_ip":"203.0.113.{host}","dest_port":443,"proto":"TCP","flow":{{"pkts_toserver":3,"pkts_toclient":2,"bytes_toserver":300,"bytes_toclient":200,"start":"2024-03-10T12:00:00.000000+0000","end":"2024-03-10T12:00:01.000000+0000","state":"closed"}}}}"#,
            n % 200,
            1024 + n % 60000
        );
    }
}

/// What the stream's reader saw: alert ids, and the alerts the server said it skipped.
#[derive(Default)]
struct Streamed {
    alerts: BTreeSet<String>,
    skipped: usize,
    duplicates: usize,
}

/// Reads the alert stream: nothing until `start` is set, then one line per `pace`, until
/// `enough` says it has all it needs or the stream stays silent for 20 s.
fn slow_reader(
    base: &str,
    token: &str,
    start: Arc<AtomicBool>,
    enough: Arc<AtomicUsize>,
    pace: Duration,
) -> std::thread::JoinHandle<Streamed> {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET /api/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nAccept: text/event-stream\r\n\r\n",
        bearer(token)
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::thread::spawn(move || {
        // A small buffer, so that the server, not this process, holds what is not read yet.
        let mut sse = BufReader::with_capacity(512, stream);
        let mut seen = Streamed::default();
        let mut line = String::new();
        sse.read_line(&mut line).unwrap();
        assert!(line.contains("200"), "{line}");
        while !start.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut event = String::new();
        loop {
            if seen.alerts.len() + seen.skipped >= enough.load(Ordering::SeqCst) {
                return seen;
            }
            line.clear();
            match sse.read_line(&mut line) {
                Ok(0) | Err(_) => return seen,
                Ok(_) => {}
            }
            std::thread::sleep(pace);
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.trim().to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                match event.as_str() {
                    "alert" => {
                        let alert: serde_json::Value = serde_json::from_str(data).unwrap();
                        let id = alert["id"].as_str().unwrap().to_owned();
                        if !seen.alerts.insert(id) {
                            seen.duplicates += 1;
                        }
                    }
                    "lagged" => {
                        let missed: usize =
                            data.split_whitespace().next().unwrap().parse().unwrap();
                        seen.skipped += missed;
                    }
                    other => panic!("unexpected stream event `{other}`: {data}"),
                }
            }
        }
    })
}

/// The value of one sample line of `/metrics`, 0 when absent.
fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Every value of a family whose labels include `source="http"`, summed.
fn http_total(text: &str, family: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{source=\"http\"")))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_million_events_with_a_slow_stream_reader_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    producer_and_member(&data, &[]);
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"]);
    let producer = issue_token(&data, "PRODUCER", "analyst");
    let sensor = issue_token(&data, "MEMBER", "sensor");
    let analyst = issue_token(&data, "MEMBER", "analyst");
    // One-second sighting windows, so that every window of the burst is shared soon after.
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "sighting_window_s = 1\n").unwrap();
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let base = server.base.clone();
    let objects = format!("{base}/kawal/collections/{}/objects/", collection.trim());
    let status = post(&objects, &producer, &indicators(), &[]).json();
    assert_eq!(status["success_count"], INDICATORS, "{status}");
    // The monitor picks the new indicators up within a second.
    let probe = {
        let mut text = String::new();
        line(0, &mut text);
        text
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = submit_events(&base, &sensor, &probe);
        if answer["alerts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "the indicators never matched");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = get_metrics(&base);
    let alerts_before = all_alerts(&base, &analyst).len();

    let start = Arc::new(AtomicBool::new(false));
    let enough = Arc::new(AtomicUsize::new(usize::MAX));
    let reader = slow_reader(
        &base,
        &analyst,
        start.clone(),
        enough.clone(),
        Duration::from_micros(200),
    );

    // The burst: POSTs of 10,000 lines, two in flight, while the stream is not read at all.
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (base, sensor, next) = (base.clone(), sensor.clone(), next.clone());
            std::thread::spawn(move || {
                let mut totals = (0u64, 0u64, 0u64, 0u64); // received, normalised, refused, alerts
                loop {
                    let first = next.fetch_add(LINES_PER_POST, Ordering::SeqCst);
                    if first >= EVENTS {
                        return totals;
                    }
                    let mut body = String::with_capacity(LINES_PER_POST * 300);
                    for n in first..(first + LINES_PER_POST).min(EVENTS) {
                        line(n, &mut body);
                    }
                    let answer = submit_events(&base, &sensor, &body);
                    let count = |key: &str| answer[key].as_u64().unwrap();
                    totals.0 += count("received");
                    totals.1 += count("normalised");
                    totals.2 += count("refused");
                    totals.3 += answer["alerts"].as_array().unwrap().len() as u64;
                    for refusal in answer["refusals"].as_array().unwrap() {
                        assert_eq!(refusal["reason"], "json", "{refusal}");
                    }
                }
            })
        })
        .collect();
    let (mut received, mut normalised, mut refused, mut raised) = (0, 0, 0, 0);
    for sender in senders {
        let (r, n, f, a) = sender.join().unwrap();
        received += r;
        normalised += n;
        refused += f;
        raised += a;
    }
    start.store(true, Ordering::SeqCst);

    let garbage = (0..EVENTS)
        .filter(|n| n % GARBAGE_EVERY == GARBAGE_EVERY - 1)
        .count() as u64;
    let hits = (0..EVENTS)
        .filter(|n| n.is_multiple_of(HIT_EVERY) && n % GARBAGE_EVERY != GARBAGE_EVERY - 1)
        .count() as u64;
    assert_eq!(received, EVENTS as u64, "every line was received");
    assert_eq!(
        refused, garbage,
        "only the lines that are not JSON were refused"
    );
    assert_eq!(normalised, EVENTS as u64 - garbage);
    assert_eq!(
        raised, hits,
        "each query for an indicator's domain raised one alert"
    );

    // The server's own counters agree with its answers: accepted = processed.
    let after = get_metrics(&base);
    let delta = |family: &str| http_total(&after, family) - http_total(&before, family);
    assert_eq!(
        delta("kawal_events_received_total"),
        EVENTS as u64,
        "{after}"
    );
    assert_eq!(
        delta("kawal_events_normalised_total"),
        normalised,
        "{after}"
    );
    assert_eq!(delta("kawal_events_refused_total"), refused, "{after}");
    assert_eq!(delta("kawal_events_matched_total"), hits, "{after}");
    assert_eq!(delta("kawal_events_dropped_total"), 0, "{after}");
    assert_eq!(metric(&after, "kawal_events_queued{source=\"http\"}"), 0);

    // Every hit is an alert the organisation can list.
    let listed = all_alerts(&base, &analyst);
    assert_eq!(listed.len() - alerts_before, hits as usize);

    // The slow reader got each alert once or was told it skipped it: never silence.
    enough.store(hits as usize, Ordering::SeqCst);
    let streamed = reader.join().unwrap();
    assert_eq!(streamed.duplicates, 0);
    assert!(
        streamed.skipped > 0,
        "the reader was meant to fall behind: {} alerts streamed",
        streamed.alerts.len()
    );
    assert_eq!(
        streamed.alerts.len() + streamed.skipped,
        hits as usize,
        "streamed {} + skipped {}",
        streamed.alerts.len(),
        streamed.skipped
    );
    let listed_ids: BTreeSet<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(streamed
        .alerts
        .iter()
        .all(|id| listed_ids.contains(id.as_str())));

    // The sightings shared back to the producer count every alert once, however fast they
    // came (the probe's alerts too).
    let sightings = format!("{objects}?match[type]=sighting&limit=1000");
    let expected = hits + alerts_before as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counted: u64 = get_all(&sightings, Some(&producer), "objects")
            .iter()
            .map(|s| s["count"].as_u64().unwrap())
            .sum();
        if counted == expected {
            break;
        }
        assert!(
            counted < expected && Instant::now() < deadline,
            "the shared sightings count {counted} alerts of {expected}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn submit_events(base: &str, token: &str, body: &str) -> serde_json::Value {
    let reply = call(
        "POST",
        &format!("{base}/api/events"),
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.json()
}

fn get_metrics(base: &str) -> String {
    let reply = call("GET", &format!("{base}/metrics"), &[], None);
    assert_eq!(reply.status, 200);
    reply.body
}

/// Every alert the token's organisation may list, oldest first.
fn all_alerts(base: &str, token: &str) -> Vec<serde_json::Value> {
    let mut alerts = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let url = match after {
            Some(seq) => format!("{base}/api/alerts?limit=1000&after={seq}"),
            None => format!("{base}/api/alerts?limit=1000"),
        };
        let page = get(&url, Some(token)).json();
        let items = page["alerts"].as_array().unwrap().clone();
        if items.is_empty() {
            return alerts;
        }
        after = page["next"].as_i64();
        alerts.extend(items);
    }
}
