//! Killing the server (SIGKILL) in the middle of a stream of POSTs loses nothing it
//! acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::*;

fn bundle(batch: usize, size: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (0..size)
        .map(|i| format!("indicator--00000000-0000-4000-8000-{:06}{:06}", batch, i))
        .collect();
    let objects: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"type":"indicator","spec_version":"2.1","id":"{id}","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'd{batch}.example']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"}}"#
            )
        })
        .collect();
    (format!("{{\"objects\":[{}]}}", objects.join(",")), ids)
}

#[test]
fn acknowledged_objects_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    cli(&data, &["admin", "org", "add", "MY-CERT"]);
    cli(&data, &["admin", "group", "add", "g", "--orgs", "MY-CERT"]);
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"])
        .trim()
        .to_owned();
    let token = cli(
        &data,
        &[
            "admin", "token", "add", "--org", "MY-CERT", "--role", "analyst",
        ],
    )
    .trim()
    .to_owned();

    let server = Binary::serve(&data);
    let url = format!("{}/kawal/collections/{collection}/objects/", server.base);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (url, token, acknowledged, stop) = (
                url.clone(),
                token.clone(),
                acknowledged.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let mut batch = w * 100_000;
                while !stop.load(Ordering::Relaxed) {
                    let (body, ids) = bundle(batch, 40);
                    batch += 1;
                    let auth = bearer(&token);
                    let request = ureq::post(&url)
                        .set("Content-Type", TAXII)
                        .set("Accept", TAXII)
                        .set("Authorization", &auth)
                        .send_string(&body);
                    match request {
                        Ok(response) if response.status() == 202 => {
                            let status: serde_json::Value = response.into_json().unwrap();
                            assert_eq!(status["success_count"], 40);
                            acknowledged.lock().unwrap().extend(ids);
                        }
                        // The server died under us: this request was never acknowledged.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 40,
        "no POST was acknowledged before the kill"
    );

    let restarted = Binary::serve(&data);
    let url = format!(
        "{}/kawal/collections/{collection}/objects/?limit=1000",
        restarted.base
    );
    let present: std::collections::HashSet<String> = get_all(&url, Some(&token), "objects")
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !present.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged objects were lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    // Every acknowledged object is also readable on its own.
    let sample = &acknowledged[acknowledged.len() / 2];
    let one = get(
        &format!(
            "{}/kawal/collections/{collection}/objects/{sample}/",
            restarted.base
        ),
        Some(&token),
    );
    assert_eq!(one.status, 200);
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = Binary::serve(&data);
    let second = kawal()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another `kawal serve` (process {}) is using the data directory",
            first.child.id()
        )),
        "{stderr}"
    );
    // The command line's administration still works beside the server.
    cli(&data, &["admin", "org", "add", "LATE-CERT"]);
    assert_eq!(get(&format!("{}/taxii2/", first.base), None).status, 200);

    // A killed server leaves no stale lock behind.
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let restarted = Binary::serve(&data);
    assert_eq!(
        get(&format!("{}/taxii2/", restarted.base), None).status,
        200
    );
}
