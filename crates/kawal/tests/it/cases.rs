//! Cross-border cases on the real binary: MY-CERT escalates an alert into a case and shares it
//! AMBER with KH-CERT, which adds a note, a task and a sighting that MY-CERT then reads in the
//! timeline; a RED note MY-CERT keeps for itself never reaches KH-CERT; TH-CERT, outside,
//! finds no trace of the case anywhere; case webhooks get signed events, retried after a 500
//! and never delivered twice once accepted; the exported case, imported on a second instance,
//! is the same objects.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

const INDICATOR: &str = "indicator--6b617761-6c2d-4000-8000-00000000ca5e";
const DOMAIN: &str = "campaign.example";
const HOOK_SECRET: &str = "case hook secret";
const RED_NOTE: &str = "our core router is the way in; not for partners";

struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

/// A receiver that answers 200, but 500 to its first request if `fail_first`.
fn hook_receiver(fail_first: bool) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/case-events", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = BTreeMap::new();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                match line.trim_end().split_once(": ") {
                    Some((name, value)) => {
                        headers.insert(name.to_ascii_lowercase(), value.to_owned());
                    }
                    None => break,
                }
            }
            let length = headers
                .get("content-length")
                .map_or(0, |l| l.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answered = if fail_first && n == 0 { 500 } else { 200 };
            write!(
                stream,
                "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            if tx
                .send(Received {
                    headers,
                    body,
                    answered,
                })
                .is_err()
            {
                return;
            }
        }
    });
    (url, rx)
}

fn send(method: &str, url: &str, token: &str, body: &Value) -> Reply {
    call(
        method,
        url,
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
}

fn rest_get(url: &str, token: &str) -> Reply {
    call("GET", url, &[("Authorization", &bearer(token))], None)
}

fn identity(base: &str, token: &str) -> String {
    rest_get(&format!("{base}/api/whoami"), token).json()["organisation"]["identity_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The community: MY-CERT and KH-CERT share `asean`, TH-CERT has a group of its own.
fn community(data: &Path) -> (String, String, String, String, String) {
    std::fs::create_dir_all(data).unwrap();
    for (org, country) in [("MY-CERT", "MY"), ("KH-CERT", "KH"), ("TH-CERT", "TH")] {
        cli(data, &["admin", "org", "add", org, "--country", country]);
    }
    cli(
        data,
        &[
            "admin",
            "group",
            "add",
            "asean",
            "--orgs",
            "MY-CERT,KH-CERT",
        ],
    );
    cli(data, &["admin", "group", "add", "th", "--orgs", "TH-CERT"]);
    let indicators = cli(
        data,
        &[
            "admin",
            "collection",
            "add",
            "Indicators",
            "--group",
            "asean",
        ],
    )
    .trim()
    .to_owned();
    cli(
        data,
        &["admin", "collection", "add", "TH own", "--group", "th"],
    );
    (
        indicators,
        issue_token(data, "MY-CERT", "analyst"),
        issue_token(data, "MY-CERT", "sensor"),
        issue_token(data, "KH-CERT", "analyst"),
        issue_token(data, "TH-CERT", "analyst"),
    )
}

/// MY-CERT's sensor sees the campaign's domain; returns the alert's id.
fn raise_alert(base: &str, indicators: &str, my: &str, sensor: &str) -> String {
    let indicator = json!({"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": INDICATOR,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "campaign C2", "pattern": format!("[domain-name:value = '{DOMAIN}']"),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
    }]});
    let stored = post(
        &format!("{base}/kawal/collections/{indicators}/objects/"),
        my,
        &indicator.to_string(),
        &[],
    );
    assert_eq!(stored.json()["success_count"], 1, "{}", stored.body);
    let event = format!(
        r#"{{"timestamp":"2024-03-10T12:00:01.000000+0000","flow_id":1,"event_type":"dns","src_ip":"10.1.1.7","src_port":40000,"dest_ip":"198.51.100.23","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":1,"rrname":"{DOMAIN}","rrtype":"A"}}}}"#
    );
    let start = Instant::now();
    loop {
        let answer = call(
            "POST",
            &format!("{base}/api/events"),
            &[
                ("Authorization", &bearer(sensor)),
                ("Content-Type", "application/x-ndjson"),
            ],
            Some(event.as_bytes()),
        )
        .json();
        if let Some(alert) = answer["alerts"].as_array().and_then(|a| a.first()) {
            return alert.as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no alert: {answer}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn timeline_ids(case: &Value) -> BTreeSet<String> {
    case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_case_crosses_a_border_within_tlp_and_moves_to_another_instance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (indicators, my, sensor, kh, th) = community(&data);
    let (hook, deliveries) = hook_receiver(true);
    let (my_hook, my_deliveries) = hook_receiver(false);
    let config = dir.path().join("kawal.toml");
    std::fs::write(
        &config,
        format!(
            "overdue_check_s = 1\n\n[[case_webhooks]]\nurl = \"{hook}\"\norg = \"KH-CERT\"\nsecret = \"{HOOK_SECRET}\"\n\n[[case_webhooks]]\nurl = \"{my_hook}\"\norg = \"MY-CERT\"\nsecret = \"{HOOK_SECRET}\"\n"
        ),
    )
    .unwrap();
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let base = server.base.clone();
    let (my_id, kh_id) = (identity(&base, &my), identity(&base, &kh));

    // MY-CERT escalates its alert into a new case.
    let alert = raise_alert(&base, &indicators, &my, &sensor);
    let opened = send(
        "POST",
        &format!("{base}/api/cases/escalate"),
        &my,
        &json!({"alerts": [alert], "new": {"name": "Telco and ministry campaign", "severity": "high", "category": "intrusion", "tlp": "amber"}}),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let opened = opened.json();
    let id = opened["id"].as_str().unwrap().to_owned();
    let collection = opened["collection"].as_str().unwrap().to_owned();
    let case_url = format!("{base}/api/cases/{id}");
    assert_eq!(opened["status"], "new");
    assert_eq!(opened["created_by_ref"], my_id);
    assert_eq!(opened["links"][0]["target_ref"], INDICATOR, "{opened}");
    let kinds: BTreeSet<&str> = opened["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["opened", "sighting", "observed-data", "link", "observable"] {
        assert!(kinds.contains(kind), "{kind} missing: {kinds:?}");
    }
    // Not shared yet: KH-CERT does not see it.
    assert_eq!(rest_get(&case_url, &kh).status, 404);

    // A RED note MY-CERT keeps to itself, then the case is shared AMBER with KH-CERT.
    let red = send(
        "POST",
        &format!("{case_url}/notes"),
        &my,
        &json!({"content": RED_NOTE, "tlp": "red", "recipients": ["MY-CERT"]}),
    );
    assert_eq!(red.status, 201, "{}", red.body);
    let red_note = red.json()["id"].as_str().unwrap().to_owned();
    let shared = send(
        "POST",
        &format!("{case_url}/share"),
        &my,
        &json!({"organisations": ["KH-CERT"], "tlp": "amber", "contributions": true}),
    );
    assert_eq!(shared.status, 200, "{}", shared.body);
    assert_eq!(
        shared.json()["organisations"],
        json!(["MY-CERT", "KH-CERT"])
    );
    let moved = send("PATCH", &case_url, &my, &json!({"status": "triage"}));
    assert_eq!(moved.status, 200, "{}", moved.body);
    let back = send("PATCH", &case_url, &my, &json!({"status": "new"}));
    assert_eq!(back.status, 409, "{}", back.body);

    // KH-CERT reads the case and contributes a note, a task (overdue already) and a sighting.
    let seen = rest_get(&case_url, &kh);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json()["can_contribute"], true);
    let note = send(
        "POST",
        &format!("{case_url}/notes"),
        &kh,
        &json!({"content": "the ministry's mail relay queried the same domain"}),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let kh_note = note.json()["id"].as_str().unwrap().to_owned();
    let task = send(
        "POST",
        &format!("{case_url}/tasks"),
        &kh,
        &json!({"name": "Block the domain at the ministry", "due": "2024-01-01T00:00:00Z"}),
    );
    assert_eq!(task.status, 201, "{}", task.body);
    let kh_task = task.json()["id"].as_str().unwrap().to_owned();
    let sighting_id = "sighting--6b617761-6c2d-4000-8000-00000000ca5f";
    let sighting = json!({"objects": [{
        "type": "sighting", "spec_version": "2.1", "id": sighting_id,
        "created": "2024-03-11T08:00:00.000Z", "modified": "2024-03-11T08:00:00.000Z",
        "created_by_ref": kh_id, "sighting_of_ref": INDICATOR,
        "where_sighted_refs": [kh_id], "count": 4,
        "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]
    }]});
    let added = post(
        &format!("{base}/kawal/collections/{collection}/objects/"),
        &kh,
        &sighting.to_string(),
        &[],
    );
    assert_eq!(added.json()["success_count"], 1, "{}", added.body);
    // Partners contribute; they do not rewrite the case or go below its TLP.
    let hijack = json!({"objects": [{
        "type": "incident", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2099-01-01T00:00:00.000Z",
        "name": "closed by KH", "created_by_ref": kh_id
    }]});
    let refused = post(
        &format!("{base}/kawal/collections/{collection}/objects/"),
        &kh,
        &hijack.to_string(),
        &[],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let green = send(
        "POST",
        &format!("{case_url}/notes"),
        &kh,
        &json!({"content": "wider", "tlp": "green"}),
    );
    assert_eq!(green.status, 403, "{}", green.body);
    assert!(green.body.contains("less restrictive"), "{}", green.body);

    // A CACAO playbook becomes the next tasks, in workflow order; a broken one is refused
    // with the path of its fault.
    let playbook = include_str!("../../../core/testdata/cacao/containment.json");
    let instantiated = call(
        "POST",
        &format!("{case_url}/playbooks"),
        &[("Authorization", &bearer(&my))],
        Some(playbook.as_bytes()),
    );
    assert_eq!(instantiated.status, 201, "{}", instantiated.body);
    let broken = playbook.replacen(
        "\"on_completion\": \"parallel--",
        "\"on_completion\": \"action--",
        1,
    );
    let refused = call(
        "POST",
        &format!("{case_url}/playbooks"),
        &[("Authorization", &bearer(&my))],
        Some(broken.as_bytes()),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.json()["description"]
            .as_str()
            .unwrap()
            .contains("/workflow/action--6b617761-6c2d-4000-8000-0000000000a1/on_completion: step"),
        "{}",
        refused.body
    );

    // MY-CERT sees KH-CERT's contributions in its timeline, in order.
    let mine = rest_get(&case_url, &my).json();
    let ids = timeline_ids(&mine);
    for contribution in [&kh_note, &kh_task, &sighting_id.to_owned(), &red_note] {
        assert!(
            ids.contains(contribution),
            "{contribution} missing from {mine}"
        );
    }
    let by_kh = mine["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["organisation"] == "KH-CERT")
        .count();
    assert_eq!(by_kh, 3, "{mine}");
    let times: Vec<&str> = mine["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let tasks: Vec<&str> = mine["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "Block the domain at the ministry",
            "Collect the sighting's context",
            "Block the domain at the resolvers",
            "Block the C2 address at the border",
            "Isolate the infected hosts",
            "Tell the partners",
        ]
    );
    assert_eq!(mine["tasks"][0]["owner_ref"], kh_id);
    assert!(mine["tasks"][1]["playbook_step"]
        .as_str()
        .unwrap()
        .starts_with("playbook--6b617761-6c2d-4000-8000-000000000c00/action--"));

    // KH-CERT sees everything but MY-CERT's RED note, of which nothing is left.
    let theirs = rest_get(&case_url, &kh);
    assert!(!theirs.body.contains(&red_note), "{}", theirs.body);
    assert!(!theirs.body.contains(RED_NOTE), "{}", theirs.body);
    assert_eq!(
        timeline_ids(&theirs.json()),
        ids.iter().filter(|i| **i != red_note).cloned().collect(),
    );
    let over_taxii = get_all(
        &format!("{base}/kawal/collections/{collection}/objects/?match[type]=note"),
        Some(&kh),
        "objects",
    );
    assert!(over_taxii.iter().all(|n| n["id"] != red_note.as_str()));

    // TH-CERT, outside, finds no trace of the case.
    assert_eq!(rest_get(&case_url, &th).status, 404);
    assert_eq!(rest_get(&format!("{case_url}/export"), &th).status, 404);
    let listed = rest_get(&format!("{base}/api/cases"), &th);
    assert_eq!(listed.json(), json!([]), "{}", listed.body);
    let metrics = rest_get(&format!("{base}/api/cases/metrics"), &th).json();
    assert_eq!(metrics["all"]["cases"], 0, "{metrics}");
    for (url, taxii) in [
        (format!("{base}/api/collections"), false),
        (format!("{base}/kawal/collections/"), true),
        (format!("{base}/api/feeds/domain"), false),
    ] {
        let reply = if taxii {
            get(&url, Some(&th))
        } else {
            rest_get(&url, &th)
        };
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
        for trace in [&id, &collection, &kh_note, &DOMAIN.to_owned()] {
            assert!(
                !reply.body.contains(trace.as_str()),
                "{url}: {}",
                reply.body
            );
        }
    }
    let objects = get(
        &format!("{base}/kawal/collections/{collection}/objects/"),
        Some(&th),
    );
    assert_eq!(objects.status, 404, "{}", objects.body);
    let note_url = format!("{case_url}/notes");
    assert_eq!(
        send("POST", &note_url, &th, &json!({"content": "x"})).status,
        404
    );

    // Metrics: one case, acknowledged, across two countries.
    let metrics = rest_get(&format!("{base}/api/cases/metrics"), &my).json();
    assert_eq!(metrics["all"]["cases"], 1, "{metrics}");
    assert_eq!(metrics["cross_border"], 1, "{metrics}");
    assert!(metrics["by_organisation"]["MY-CERT"]["mean_to_acknowledge_s"].is_number());
    assert_eq!(metrics["by_category"]["intrusion"]["open"], 1);

    let delivered = check_webhooks(&deliveries, &id, &kh_task, &red_note);
    check_hook_metrics(&base, delivered);
    check_taxii_contribution_announced(&my_deliveries, &id, sighting_id);
    check_export_and_import(dir.path(), &data, &id);
}

/// KH-CERT's hook got what KH-CERT may read: signed, the first retried after its 500, none
/// twice after a 200, the overdue task once, and nothing about the RED note.
/// Returns how many deliveries were accepted.
fn check_webhooks(
    deliveries: &mpsc::Receiver<Received>,
    id: &str,
    task: &str,
    red_note: &str,
) -> u64 {
    let mut got = Vec::new();
    let start = Instant::now();
    let mut overdue_seen = false;
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(received) = deliveries.recv_timeout(Duration::from_millis(200)) {
            overdue_seen |= received.headers.get("x-kawal-event").map(String::as_str)
                == Some("case.task_overdue");
            got.push(received);
        }
        // Long enough for a retry after the first 500 and for another overdue round.
        if overdue_seen && start.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    assert!(overdue_seen, "no overdue event");
    let mut answered: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for r in &got {
        let signature = r.headers.get("x-kawal-signature").unwrap();
        assert_eq!(*signature, server::webhook_signature(HOOK_SECRET, &r.body));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["case"], id, "{body}");
        assert_ne!(body["object"], red_note, "{body}");
        answered
            .entry(r.headers["x-kawal-delivery"].clone())
            .or_default()
            .push(r.answered);
    }
    assert_eq!(got[0].answered, 500);
    for (delivery, answers) in &answered {
        // Delivered until accepted, then never again.
        assert_eq!(answers.last(), Some(&200), "{delivery}: {answers:?}");
        assert_eq!(
            answers.iter().filter(|a| **a == 200).count(),
            1,
            "{delivery}: {answers:?}"
        );
    }
    assert_eq!(answered[&got[0].headers["x-kawal-delivery"]], [500, 200]);
    let overdue: Vec<Value> = got
        .iter()
        .filter(|r| r.headers["x-kawal-event"] == "case.task_overdue")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0]["object"], task);
    let shared = got
        .iter()
        .any(|r| r.headers["x-kawal-event"] == "case.shared");
    assert!(shared, "no case.shared event");
    answered.len() as u64
}

/// `/metrics` counts KH-CERT's hook (the first case hook): the accepted deliveries (at least
/// those seen; more may be under way), the retry after its 500, nothing given up or missed.
fn check_hook_metrics(base: &str, delivered: u64) {
    let series = |name: &str, outcome: Option<&str>| {
        let outcome = outcome
            .map(|o| format!(",outcome=\"{o}\""))
            .unwrap_or_default();
        metric(
            base,
            &format!("{name}{{kind=\"cases\",hook=\"1\"{outcome}}}"),
        )
    };
    let start = Instant::now();
    // The receiver answers before the server counts the delivery.
    while series("kawal_webhook_deliveries_total", Some("delivered")) < delivered {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "deliveries not counted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(series("kawal_webhook_retries_total", None) >= 1);
    assert_eq!(
        series("kawal_webhook_deliveries_total", Some("given_up")),
        0
    );
    assert_eq!(series("kawal_webhook_deliveries_total", Some("missed")), 0);
}

/// KH-CERT's sighting came over TAXII, not the REST API; MY-CERT's hook hears of it as a
/// contribution all the same.
fn check_taxii_contribution_announced(
    deliveries: &mpsc::Receiver<Received>,
    id: &str,
    sighting: &str,
) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let Ok(received) = deliveries.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let body: Value = serde_json::from_slice(&received.body).unwrap();
        if body["object"] == sighting {
            assert_eq!(received.headers["x-kawal-event"], "case.contribution");
            assert_eq!(body["case"], id);
            assert_eq!(
                received.headers["x-kawal-signature"],
                server::webhook_signature(HOOK_SECRET, &received.body)
            );
            return;
        }
    }
    panic!("MY-CERT's hook heard nothing of KH-CERT's sighting");
}

fn objects_of(bundle: &str) -> Vec<String> {
    let bundle: Value = serde_json::from_str(bundle).unwrap();
    let mut objects: Vec<String> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    objects.sort();
    objects
}

/// `kawal case export` on the first instance, `kawal import` on a second: the second holds
/// the same case, object by object, without the RED note.
fn check_export_and_import(dir: &Path, data: &Path, id: &str) {
    let exported = dir.join("case.json");
    cli(
        data,
        &[
            "case",
            "export",
            id,
            "--org",
            "MY-CERT",
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    let bundle = std::fs::read_to_string(&exported).unwrap();
    assert!(!bundle.contains(RED_NOTE));
    let second = dir.join("second");
    std::fs::create_dir_all(&second).unwrap();
    cli(
        &second,
        &["admin", "org", "add", "SG-CERT", "--country", "SG"],
    );
    cli(
        &second,
        &["admin", "group", "add", "sg", "--orgs", "SG-CERT"],
    );
    let target = cli(
        &second,
        &[
            "admin",
            "collection",
            "add",
            "Imported case",
            "--group",
            "sg",
        ],
    )
    .trim()
    .to_owned();
    cli(
        &second,
        &[
            "import",
            exported.to_str().unwrap(),
            "--collection",
            &target,
            "--org",
            "SG-CERT",
        ],
    );
    let again = cli(&second, &["case", "export", id, "--org", "SG-CERT"]);
    assert_eq!(objects_of(&again), objects_of(&bundle));
    assert!(objects_of(&bundle).len() > 10, "{bundle}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn upload(
    url: &str,
    token: &str,
    content_type: &str,
    bytes: &[u8],
    extra: &[(&str, &str)],
) -> Reply {
    let auth = bearer(token);
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", content_type),
    ];
    headers.extend_from_slice(extra);
    call("POST", url, &headers, Some(bytes))
}

/// Every file kept under `<data>/evidence`.
fn kept_files(data: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(data.join("evidence")).unwrap() {
        let shard = shard.unwrap().path();
        if shard.is_dir() {
            files.extend(
                std::fs::read_dir(&shard)
                    .unwrap()
                    .map(|f| f.unwrap().path()),
            );
        } else {
            files.push(shard);
        }
    }
    files
}

/// Evidence files: MY-CERT uploads a capture to a case shared with KH-CERT, which fetches it;
/// TH-CERT, outside, gets 404 even after storing an artifact of its own naming the hash; the
/// same bytes uploaded again, under another name or to another case, are kept once; a RED
/// capture MY-CERT keeps to itself is not KH-CERT's; beyond `evidence_max_bytes`, 413.
#[test]
fn evidence_files_are_kept_once_and_read_by_the_case_s_readers_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, my, _, kh, th) = community(&data);
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "evidence_max_bytes = 4096\n").unwrap();
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let base = server.base.clone();
    let open = |name: &str| {
        let opened = send(
            "POST",
            &format!("{base}/api/cases"),
            &my,
            &json!({"name": name, "category": "intrusion", "tlp": "amber"}),
        );
        assert_eq!(opened.status, 201, "{}", opened.body);
        opened.json()["id"].as_str().unwrap().to_owned()
    };
    let case = open("Mail relay compromise");
    let case_url = format!("{base}/api/cases/{case}");
    let shared = send(
        "POST",
        &format!("{case_url}/share"),
        &my,
        &json!({"organisations": ["KH-CERT"], "tlp": "amber", "contributions": true}),
    );
    assert_eq!(shared.status, 200, "{}", shared.body);

    let capture = b"GET /beacon HTTP/1.1\r\nHost: campaign.example\r\n\r\n".repeat(20);
    let sha256 = sha256_hex(&capture);
    let uploaded = upload(
        &format!("{case_url}/evidence?filename=relay%20capture.pcap"),
        &my,
        "application/vnd.tcpdump.pcap",
        &capture,
        &[],
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let uploaded = uploaded.json();
    assert_eq!(uploaded["sha256"], sha256.as_str());
    assert_eq!(uploaded["new"], true);
    let evidence_url = format!("{base}/api/evidence/{sha256}");
    assert_eq!(uploaded["url"], evidence_url.as_str());

    // KH-CERT reads the case's evidence: the artifact names the bytes, the bytes are served.
    let seen = rest_get(&case_url, &kh).json();
    assert_eq!(seen["evidence"][0]["name"], "relay capture.pcap", "{seen}");
    assert_eq!(seen["evidence"][0]["sha256"], sha256.as_str());
    let artifact = seen["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object"]["type"] == "artifact")
        .map(|e| e["object"].clone())
        .unwrap_or_else(|| panic!("no artifact in {seen}"));
    assert_eq!(artifact["hashes"]["SHA-256"], sha256.as_str());
    assert_eq!(artifact["url"], evidence_url.as_str());
    assert!(artifact.get("payload_bin").is_none(), "{artifact}");
    assert!(seen["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["target_ref"] == artifact["id"]));
    let fetched = rest_get(&evidence_url, &kh);
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    assert_eq!(fetched.body.as_bytes(), &capture[..]);
    assert_eq!(fetched.content_type, "application/vnd.tcpdump.pcap");
    assert_eq!(fetched.header("x-content-type-options"), Some("nosniff"));
    let disposition = fetched.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"relay capture.pcap\""),
        "{disposition}"
    );

    // TH-CERT finds nothing, and naming the hash in an artifact of its own gains it nothing.
    assert_eq!(rest_get(&evidence_url, &th).status, 404);
    let th_collection = get(&format!("{base}/kawal/collections/"), Some(&th)).json()["collections"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = json!({"objects": [{
        "type": "artifact", "spec_version": "2.1",
        "id": artifact["id"], "hashes": {"SHA-256": sha256}, "url": evidence_url
    }]});
    let stored = post(
        &format!("{base}/kawal/collections/{th_collection}/objects/"),
        &th,
        &forged.to_string(),
        &[],
    );
    assert_eq!(stored.json()["success_count"], 1, "{}", stored.body);
    let refused = rest_get(&evidence_url, &th);
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(!refused.body.contains(&*case), "{}", refused.body);
    let th_upload = upload(
        &format!("{case_url}/evidence?filename=x.bin"),
        &th,
        "application/octet-stream",
        b"x",
        &[],
    );
    assert_eq!(th_upload.status, 404, "{}", th_upload.body);

    // The same bytes, from KH-CERT under another name and from MY-CERT into another case,
    // are kept once.
    let again = upload(
        &format!("{case_url}/evidence"),
        &kh,
        "application/vnd.tcpdump.pcap",
        &capture,
        &[("X-Kawal-Filename", "ministry.pcap")],
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["new"], false);
    let other_case = open("Ministry phishing");
    let elsewhere = upload(
        &format!("{base}/api/cases/{other_case}/evidence?filename=copy.pcap"),
        &my,
        "application/vnd.tcpdump.pcap",
        &capture,
        &[],
    );
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.body);
    assert_eq!(elsewhere.json()["sha256"], sha256.as_str());
    let names: BTreeSet<String> = rest_get(&case_url, &my).json()["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["ministry.pcap", "relay capture.pcap"]
            .map(str::to_owned)
            .into()
    );

    // RED evidence MY-CERT keeps to itself.
    let secret = b"internal topology notes".to_vec();
    let red = upload(
        &format!("{case_url}/evidence?filename=topology.txt&tlp=red"),
        &my,
        "text/plain",
        &secret,
        &[("X-Kawal-Recipients", "MY-CERT")],
    );
    assert_eq!(red.status, 201, "{}", red.body);
    let red_url = format!("{base}/api/evidence/{}", sha256_hex(&secret));
    assert_eq!(rest_get(&red_url, &my).status, 200);
    assert_eq!(rest_get(&red_url, &kh).status, 404);
    assert!(!rest_get(&case_url, &kh).body.contains("topology.txt"));

    let mut kept = kept_files(&data);
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept
        .iter()
        .any(|f| f.ends_with(format!("{}/{sha256}", &sha256[..2]))));

    // Beyond the limit: the protocol's error object, and nothing kept.
    let large = upload(
        &format!("{case_url}/evidence?filename=large.bin"),
        &my,
        "application/octet-stream",
        &vec![7u8; 5000],
        &[],
    );
    assert_eq!(large.status, 413, "{}", large.body);
    assert_eq!(large.json()["http_status"], "413");
    assert_eq!(kept_files(&data).len(), 2);
    for (query, content_type, why) in [
        ("", "text/plain", "filename"),
        ("?filename=../etc/passwd", "text/plain", "path"),
        ("?filename=a.txt", "text", "media type"),
    ] {
        let refused = upload(
            &format!("{case_url}/evidence{query}"),
            &my,
            content_type,
            b"x",
            &[],
        );
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains(why), "{}", refused.body);
    }
    assert_eq!(
        rest_get(&format!("{base}/api/evidence/not-a-hash"), &my).status,
        400
    );
}

/// The playbook library: MY-CERT imports a CACAO playbook GREEN into the collection it shares
/// with KH-CERT; KH-CERT lists it and makes it the tasks of its own case, in workflow order;
/// TH-CERT, outside, neither lists nor uses it; an AMBER playbook is not copied into a case.
#[test]
fn playbooks_are_imported_shared_and_instantiated_from_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (indicators, my, _, kh, th) = community(&data);
    let server = Binary::serve(&data);
    let base = server.base.clone();
    let playbook = include_str!("../../../core/testdata/cacao/containment.json");
    let import = |token: &str, query: &str, body: &str| {
        call(
            "POST",
            &format!("{base}/api/playbooks?{query}"),
            &[
                ("Authorization", &bearer(token)),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
    };
    let imported = import(&my, &format!("collection={indicators}&tlp=green"), playbook);
    assert_eq!(imported.status, 201, "{}", imported.body);
    let template = imported.json();
    let template_id = "course-of-action--6b617761-6c2d-4000-8000-000000000c00";
    assert_eq!(template["id"], template_id);
    assert_eq!(template["tlp"], "green");
    assert_eq!(template["steps"].as_array().unwrap().len(), 5, "{template}");
    // Importing it again changes nothing; a broken one is refused at its path.
    let again = import(&my, &format!("collection={indicators}&tlp=green"), playbook);
    assert_eq!(again.status, 201, "{}", again.body);
    let broken = import(
        &my,
        &format!("collection={indicators}"),
        &playbook.replacen("\"type\": \"parallel\"", "\"type\": \"fork\"", 1),
    );
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert!(
        broken.json()["description"]
            .as_str()
            .unwrap()
            .contains("/workflow/parallel--6b617761-6c2d-4000-8000-0000000000b1/type: `fork`"),
        "{}",
        broken.body
    );
    assert_eq!(
        import(&th, &format!("collection={indicators}"), playbook).status,
        404
    );

    // An AMBER variant, shared the same way.
    let amber = playbook
        .replace("000000000c00", "000000000c01")
        .replace("Contain a C2 campaign", "Contain quietly");
    let stored = import(&my, &format!("collection={indicators}&tlp=amber"), &amber);
    assert_eq!(stored.status, 201, "{}", stored.body);

    let listed = rest_get(&format!("{base}/api/playbooks"), &kh).json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Contain a C2 campaign across two CERTs",
            "Contain quietly across two CERTs"
        ],
        "{listed}"
    );
    assert_eq!(listed[0]["organisation"], "MY-CERT");
    assert_eq!(
        rest_get(&format!("{base}/api/playbooks"), &th).json(),
        json!([])
    );

    // KH-CERT works its own case from the GREEN template.
    let opened = send(
        "POST",
        &format!("{base}/api/cases"),
        &kh,
        &json!({"name": "Ministry mail relay", "category": "intrusion", "tlp": "amber"}),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let case_url = format!("{base}/api/cases/{}", opened.json()["id"].as_str().unwrap());
    let instantiated = send(
        "POST",
        &format!("{case_url}/playbooks"),
        &kh,
        &json!({"playbook_ref": template_id}),
    );
    assert_eq!(instantiated.status, 201, "{}", instantiated.body);
    let case = rest_get(&case_url, &kh).json();
    let tasks: Vec<&str> = case["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "Collect the sighting's context",
            "Block the domain at the resolvers",
            "Block the C2 address at the border",
            "Isolate the infected hosts",
            "Tell the partners",
        ]
    );
    let copy = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object"]["type"] == "course-of-action")
        .map(|e| e["object"].clone())
        .unwrap_or_else(|| panic!("no course of action in {case}"));
    assert_eq!(
        copy["extensions"]["extension-definition--c5328bec-0be3-4d28-8cd3-45173ec97a65"]
            ["template_ref"],
        template_id
    );
    assert_eq!(case["tlp"], "amber");
    // The case's copy is work, not a template: the library is unchanged.
    let listed = rest_get(&format!("{base}/api/playbooks"), &kh).json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    let refused = send(
        "POST",
        &format!("{case_url}/playbooks"),
        &kh,
        &json!({"playbook_ref": "course-of-action--6b617761-6c2d-4000-8000-000000000c01"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("TLP:AMBER"), "{}", refused.body);

    let th_case = send(
        "POST",
        &format!("{base}/api/cases"),
        &th,
        &json!({"name": "Elsewhere", "category": "intrusion"}),
    );
    let th_case_url = format!(
        "{base}/api/cases/{}",
        th_case.json()["id"].as_str().unwrap()
    );
    let unseen = send(
        "POST",
        &format!("{th_case_url}/playbooks"),
        &th,
        &json!({"playbook_ref": template_id}),
    );
    assert_eq!(unseen.status, 404, "{}", unseen.body);
}
