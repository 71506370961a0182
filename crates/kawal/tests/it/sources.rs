//! Event sources on the real binary: indicators shared over TAXII; the detect crate's sample
//! syslog messages sent over UDP and TCP (octet counting and lines, two connections at once);
//! a Zeek TSV log and a Suricata EVE file appended to tailed paths, rotated mid-way; NDJSON
//! read by a configured mapping over HTTP. Alerts name their source, counters are per
//! source, refusals are sampled, and a restart does not read a tailed file again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../detect/testdata");

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(TESTDATA).join(path)).unwrap()
}

fn text(path: &str) -> String {
    String::from_utf8(sample(path)).unwrap()
}

/// Waits up to ten seconds for `done`.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} did not happen within ten seconds"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn received(base: &str, source: &str) -> u64 {
    metric(
        base,
        &format!("kawal_events_received_total{{source=\"{source}\"}}"),
    )
}

/// Every alert of the analyst's organisation: source → indicators (with repeats).
fn alerts_by_source(base: &str, analyst: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_source: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut after = String::new();
    loop {
        let page = get(
            &format!("{base}/api/alerts?limit=1000{after}"),
            Some(analyst),
        )
        .json();
        let alerts = page["alerts"].as_array().unwrap();
        for alert in alerts {
            by_source
                .entry(alert["source"].as_str().unwrap().to_owned())
                .or_default()
                .push(alert["indicator"].as_str().unwrap().to_owned());
        }
        match page["next"].as_i64() {
            Some(next) if !alerts.is_empty() => after = format!("&after={next}"),
            _ => return by_source,
        }
    }
}

fn indicator(n: u8) -> String {
    format!("indicator--6b617761-6c2d-4000-8000-0000000000{n:02x}")
}

fn has_all(got: Option<&Vec<String>>, expected: &[u8], source: &str) {
    let got: BTreeSet<&str> = got
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for n in expected {
        assert!(
            got.contains(indicator(*n).as_str()),
            "{source}: no alert for {} in {got:?}",
            indicator(*n)
        );
    }
}

fn config(dir: &Path, logs: &Path) -> PathBuf {
    let path = dir.join("kawal.toml");
    let toml = format!(
        r#"
[[mappings]]
file = "{testdata}/mapping/firewall.toml"

[[mappings]]
file = "{testdata}/mapping/edr.toml"

[[syslog]]
listen = "udp://127.0.0.1:0"
org = "MEMBER"
format = "mapping:edge-firewall"

[[syslog]]
listen = "tcp://127.0.0.1:0"
org = "MEMBER"
format = "mapping:edge-firewall"

[[tail]]
path = "{logs}/dns.log"
org = "MEMBER"
format = "zeek"

[[tail]]
path = "{logs}/eve.json"
org = "MEMBER"
format = "suricata"
"#,
        testdata = TESTDATA,
        logs = logs.display()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// The source names the server printed at start: `receiving events from …`.
fn started(server: &Binary) -> Vec<String> {
    server
        .startup
        .iter()
        .filter_map(|l| l.strip_prefix("receiving events from "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn syslog_files_and_mapped_http_events_raise_alerts_named_by_source() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    producer_and_member(&data, &[]);
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"]);
    let token = |org: &str, role: &str| issue_token(&data, org, role);
    let (producer, sensor, analyst) = (
        token("PRODUCER", "analyst"),
        token("MEMBER", "sensor"),
        token("MEMBER", "analyst"),
    );
    let config_file = config(dir.path(), &logs);
    let config_arg = config_file.to_str().unwrap();
    let server = Binary::serve_with(&data, &["--config", config_arg]);
    let base = server.base.clone();
    let names = started(&server);
    let udp = names
        .iter()
        .find(|n| n.starts_with("syslog:udp://"))
        .unwrap()
        .clone();
    let tcp = names
        .iter()
        .find(|n| n.starts_with("syslog:tcp://"))
        .unwrap()
        .clone();
    let (zeek_log, eve_log) = (
        logs.join("dns.log").display().to_string(),
        logs.join("eve.json").display().to_string(),
    );
    assert!(
        names.contains(&zeek_log) && names.contains(&eve_log),
        "{names:?}"
    );

    let objects = format!("{base}/kawal/collections/{}/objects/", collection.trim());
    let status = post(&objects, &producer, &text("indicators.json"), &[]).json();
    assert_eq!(status["failure_count"], 0, "{status}");

    // Syslog over UDP: each sample line as one datagram, and the datagram samples.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_addr = udp.trim_start_matches("syslog:udp://");
    let mut datagrams: Vec<Vec<u8>> = ["syslog/rfc5424.lines", "syslog/rfc3164.lines"]
        .iter()
        .flat_map(|p| {
            text(p)
                .lines()
                .map(|l| l.as_bytes().to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    datagrams.push(sample("syslog/udp/rfc5424.dgram"));
    datagrams.push(sample("syslog/udp/rfc3164.dgram"));
    for datagram in &datagrams {
        socket.send_to(datagram, udp_addr).unwrap();
    }

    // Syslog over TCP: octet counting on one connection, lines on another, at once.
    let tcp_addr = tcp.trim_start_matches("syslog:tcp://");
    let mut counted = TcpStream::connect(tcp_addr).unwrap();
    let mut lined = TcpStream::connect(tcp_addr).unwrap();
    let octets = sample("syslog/rfc5424.octets");
    let (first, rest) = octets.split_at(octets.len() / 2);
    counted.write_all(first).unwrap();
    lined
        .write_all(text("syslog/rfc3164.lines").as_bytes())
        .unwrap();
    counted.write_all(rest).unwrap();
    lined
        .write_all(text("syslog/rfc5424.lines").as_bytes())
        .unwrap();
    drop((counted, lined));

    // A Zeek TSV log, rotated by rename after its first two events.
    let zeek = text("zeek/tsv/dns.log");
    let (headers, data_lines): (Vec<&str>, Vec<&str>) =
        zeek.lines().partition(|l| l.starts_with('#'));
    let header_block: String = headers
        .iter()
        .filter(|h| !h.starts_with("#close"))
        .map(|h| format!("{h}\n"))
        .collect();
    let zeek_path = logs.join("dns.log");
    append(&zeek_path, &header_block);
    append(
        &zeek_path,
        &format!("{}\n{}\n", data_lines[0], data_lines[1]),
    );
    until("the first Zeek events", || received(&base, &zeek_log) == 2);
    std::fs::rename(&zeek_path, logs.join("dns.log.1")).unwrap();
    append(&zeek_path, &header_block);
    append(
        &zeek_path,
        &format!("{}\n{}\n", data_lines[2], data_lines[3]),
    );

    // A Suricata EVE file, appended in pieces, truncated in place (copytruncate) mid-way.
    let eve = text("suricata/eve.json");
    let eve_lines: Vec<&str> = eve.lines().collect();
    let eve_path = logs.join("eve.json");
    for line in &eve_lines[..6] {
        append(&eve_path, &format!("{line}\n"));
    }
    until("the first EVE events", || received(&base, &eve_log) == 6);
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&eve_path)
        .unwrap();
    for line in &eve_lines[6..] {
        append(&eve_path, &format!("{line}\n"));
    }

    // NDJSON over HTTP through a configured mapping.
    let reply = call(
        "POST",
        &format!("{base}/api/events?format=mapping:edr"),
        &[
            ("Authorization", &bearer(&sensor)),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(&sample("mapping/edr.ndjson")),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["refused"], 0, "{answer}");
    let unknown = call(
        "POST",
        &format!("{base}/api/events?format=mapping:nope"),
        &[("Authorization", &bearer(&sensor))],
        Some(b"{}"),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        unknown.body.contains("no mapping `nope` is configured"),
        "{}",
        unknown.body
    );

    until("every event", || {
        received(&base, &udp) == datagrams.len() as u64
            && received(&base, &tcp) == 9
            && received(&base, &zeek_log) == 4
            && received(&base, &eve_log) == eve_lines.len() as u64
    });
    let alerts = alerts_by_source(&base, &analyst);
    // 203.0.113.66, 203.0.113.66:443, 192.0.2.0/24, 2001:db8:ffff::80, 198.51.100.23:53.
    has_all(alerts.get(&udp), &[1, 7, 0xe, 0xa, 6], &udp);
    has_all(alerts.get(&tcp), &[1, 7, 0xe, 0xa, 6], &tcp);
    // Before and after the rotation: evil.example resolving to 203.0.113.66; 198.51.100.23:53.
    has_all(alerts.get(&zeek_log), &[2, 1, 0xd, 6], &zeek_log);
    // Before the truncation (DNS, TLS) and after it (the file's hash in fileinfo).
    has_all(alerts.get(&eve_log), &[2, 6, 7, 5], &eve_log);
    // A file's hash, traffic to 203.0.113.66:443, evil.example, a sender address.
    has_all(alerts.get("http"), &[4, 1, 7, 2, 0xc], "http");
    let dns_alerts = alerts[&zeek_log].len();
    assert_eq!(
        alerts[&zeek_log]
            .iter()
            .filter(|i| **i == indicator(6))
            .count(),
        4,
        "each Zeek DNS event went to 198.51.100.23:53 once: {:?}",
        alerts[&zeek_log]
    );
    for (source, total) in [
        (udp.as_str(), datagrams.len()),
        (tcp.as_str(), 9),
        (zeek_log.as_str(), 4),
        (eve_log.as_str(), eve_lines.len()),
    ] {
        assert_eq!(
            metric(
                &base,
                &format!("kawal_events_normalised_total{{source=\"{source}\"}}")
            ),
            total as u64,
            "{source}"
        );
        assert_eq!(
            metric(&base, &format!("kawal_alerts_total{{source=\"{source}\"}}")),
            alerts[source].len() as u64,
            "{source}"
        );
    }

    // What cannot be read is counted and sampled for the organisation, not dropped.
    socket.send_to(b"no priority here", udp_addr).unwrap();
    socket
        .send_to(
            b"<134>1 2024-03-10T12:00:05Z fw01 x - - - src=not-an-ip",
            udp_addr,
        )
        .unwrap();
    until("the refusals", || {
        metric(
            &base,
            &format!("kawal_events_refused_total{{source=\"{udp}\",reason=\"bad_value\"}}"),
        ) == 1
    });
    assert_eq!(
        metric(
            &base,
            &format!("kawal_events_refused_total{{source=\"{udp}\",reason=\"syslog\"}}")
        ),
        1
    );
    let refused = get(&format!("{base}/api/events/refused"), Some(&analyst)).json();
    let reasons: BTreeMap<&str, &serde_json::Value> = refused["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reason"].as_str().unwrap(), r))
        .collect();
    assert_eq!(reasons["syslog"]["count"], 1, "{refused}");
    let sample = &reasons["syslog"]["samples"][0];
    assert_eq!(sample["source"], udp.as_str(), "{refused}");
    assert_eq!(sample["event"], "no priority here", "{refused}");
    assert!(
        sample["message"]
            .as_str()
            .unwrap()
            .contains("a message must start with `<PRI>`"),
        "{refused}"
    );
    assert_eq!(reasons["bad_value"]["samples"][0]["event"], "src=not-an-ip");
    let forbidden = get(&format!("{base}/api/events/refused"), Some(&sensor));
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    let producers = get(&format!("{base}/api/events/refused"), Some(&producer)).json();
    assert_eq!(producers["refused"], serde_json::json!([]), "{producers}");

    // A restart reads only what was appended since.
    let eve_alerts = alerts[&eve_log].len();
    drop(server);
    append(&eve_path, &format!("{}\n", eve_lines[0]));
    let server = Binary::serve_with(&data, &["--config", config_arg]);
    let base = server.base.clone();
    until("the appended event", || received(&base, &eve_log) == 1);
    let dns_events = eve_lines[0];
    assert!(dns_events.contains("\"event_type\":\"dns\""));
    let after = alerts_by_source(&base, &analyst);
    let new_alerts = after[&eve_log].len() - eve_alerts;
    assert!(new_alerts >= 1, "the appended line raised no alert");
    assert_eq!(
        new_alerts,
        after[&eve_log]
            .iter()
            .skip(eve_alerts)
            .filter(|i| [indicator(2), indicator(6), indicator(0xd)].contains(i))
            .count(),
        "only the appended DNS event matched again: {:?}",
        &after[&eve_log][eve_alerts..]
    );
    assert_eq!(received(&base, &zeek_log), 0, "the Zeek log was read again");
    assert_eq!(after[&zeek_log].len(), dns_alerts);
}
