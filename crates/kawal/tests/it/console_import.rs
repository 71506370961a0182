//! Importing a bundle from the console: stored in chunks through the TAXII write path, with
//! real progress and a status for every object, by the script's upload and by the plain form.

use std::time::{Duration, Instant};

use kawal_core::Role;

use crate::console::{community, indicator, Browser, Page, PASSWORD};
use crate::harness::*;

/// A bundle of `valid` indicators, one with a pattern that does not parse and one without an
/// id.
fn bundle(valid: usize) -> String {
    let mut objects: Vec<String> = (0..valid)
        .map(|n| indicator(n + 1, &format!("Imported {n}")))
        .collect();
    objects.push(
        indicator(9001, "Broken pattern").replace("[ipv4-addr:value = '", "[ipv4-addr:value '"),
    );
    objects.push(
        r#"{"type":"malware","spec_version":"2.1","name":"No id","is_family":true}"#.to_owned(),
    );
    format!(
        r#"{{"type":"bundle","id":"bundle--11111111-2222-4333-8444-555555555555","objects":[{}]}}"#,
        objects.join(",")
    )
}

fn multipart(parts: &[(&str, &str)], boundary: &str) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in parts {
        let filename = if *name == "bundle" {
            "; filename=\"bundle.json\"\r\nContent-Type: application/json"
        } else {
            ""
        };
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

fn stored_ids(it: &Instance, collection: &str) -> usize {
    let token = it.token("KH-CERT", Role::Reader);
    get_all(
        &format!("{}/kawal/collections/{collection}/objects/", it.base),
        Some(&token),
        "objects",
    )
    .len()
}

/// Follows an import as the script does, until it is no longer running.
pub fn follow(browser: &mut Browser, href: &str) -> serde_json::Value {
    let started = Instant::now();
    let mut last_processed = 0;
    loop {
        let page = browser.get_with(href, &[("Accept", "application/json")]);
        assert_eq!(page.status, 200, "{}", page.body);
        let job: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        let processed = job["processed"].as_u64().unwrap();
        assert!(processed >= last_processed, "progress never goes back");
        last_processed = processed;
        if job["status"] != "running" {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_script_uploads_and_follows_an_import_to_the_last_object() {
    let (it, collection) = community();
    let mut ana = Browser::new(&it.base);
    ana.sign_in("ana", PASSWORD);
    let form = ana.get("/import");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    let csrf = ana.csrf();
    let path = format!("/import/jobs?collection={collection}");
    let json = ("Content-Type", "application/json");
    let body = bundle(250);

    for token in ["", "not-the-token"] {
        let refused = ana.send_body(
            &path,
            &[json, ("X-Kawal-Form-Token", token)],
            body.as_bytes(),
        );
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("CSRF"));
    }
    let not_stix = ana.send_body(&path, &[json, ("X-Kawal-Form-Token", &csrf)], b"[1, 2]");
    assert_eq!(not_stix.status, 400);
    assert!(
        not_stix.body.contains("not a STIX bundle"),
        "{}",
        not_stix.body
    );
    let elsewhere = ana.send_body(
        "/import/jobs?collection=00000000-0000-4000-8000-000000000000",
        &[json, ("X-Kawal-Form-Token", &csrf)],
        body.as_bytes(),
    );
    assert_eq!(elsewhere.status, 403);
    assert_eq!(stored_ids(&it, &collection), 0);

    let started = ana.send_body(
        &path,
        &[json, ("X-Kawal-Form-Token", &csrf)],
        body.as_bytes(),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let answer: serde_json::Value = serde_json::from_str(&started.body).unwrap();
    assert_eq!(answer["total"], 252);
    let href = answer["href"].as_str().unwrap().to_owned();
    let job = follow(&mut ana, &href);
    assert_eq!(job["status"], "done");
    assert_eq!(job["processed"], 252);
    assert_eq!(job["success_count"], 250);
    assert_eq!(job["failure_count"], 2);
    assert_eq!(job["successes"].as_array().unwrap().len(), 250);
    let reasons: Vec<&str> = job["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("property `pattern`")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("id")), "{reasons:?}");
    assert_eq!(stored_ids(&it, &collection), 250);

    // The same results as a page, for this person only.
    let page = ana.get(&href);
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("252 of 252 objects into Indicators: 250 stored, 2 refused (100 %)"));
    assert!(page.body.contains("value=\"252\""));
    let audit = it
        .ex()
        .audit(
            &it.admin(),
            kawal_core::AuditQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(audit.iter().any(|e| e.actor == "user:ana"
        && e.action == "import"
        && e.outcome == "252 objects: 250 stored, 2 refused"));
    it.ex()
        .add_user(&it.admin(), "MY-CERT", "omar", Role::Analyst, PASSWORD)
        .unwrap();
    let mut omar = Browser::new(&it.base);
    omar.sign_in("omar", PASSWORD);
    assert_eq!(omar.get(&href).status, 404);
    assert_eq!(
        omar.get_with(&href, &[("Accept", "application/json")])
            .status,
        404
    );
}

#[test]
fn the_plain_form_imports_and_answers_with_the_results() {
    let (it, collection) = community();
    let mut ana = Browser::new(&it.base);
    ana.sign_in("ana", PASSWORD);
    let csrf = ana.csrf();
    let boundary = "----kawal-test-boundary";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let body = bundle(120);
    let send = |ana: &mut Browser, parts: &[(&str, &str)]| -> Page {
        ana.send_body(
            "/import",
            &[("Content-Type", content_type.as_str())],
            &multipart(parts, boundary),
        )
    };

    let forged = send(&mut ana, &[("collection", &collection), ("bundle", &body)]);
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("CSRF"));
    let empty = send(
        &mut ana,
        &[("csrf", &csrf), ("collection", &collection), ("bundle", "")],
    );
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Choose a file holding a STIX bundle."));
    let garbled = ana.send_body(
        "/import",
        &[("Content-Type", "multipart/form-data; boundary=x")],
        b"--x\r\nno headers end",
    );
    assert_eq!(garbled.status, 400);

    let done = send(
        &mut ana,
        &[
            ("csrf", &csrf),
            ("collection", &collection),
            ("bundle", &body),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body
            .contains("122 of 122 objects into Indicators: 120 stored, 2 refused (100 %)"),
        "{}",
        done.body
    );
    assert!(done
        .body
        .contains("<progress id=\"import-progress\" max=\"122\" value=\"122\""));
    assert!(done.body.contains("property `pattern`"));
    assert!(done
        .body
        .contains("href=\"/objects/indicator--00000000-0000-4000-8000-000000000001?collection="));
    assert_eq!(stored_ids(&it, &collection), 120);
    assert!(crate::console::inline_code(&done.body).is_empty());

    // A reader's role writes nowhere.
    it.ex()
        .add_user(&it.admin(), "MY-CERT", "rita", Role::Reader, PASSWORD)
        .unwrap();
    let mut rita = Browser::new(&it.base);
    rita.sign_in("rita", PASSWORD);
    assert!(rita
        .get("/import")
        .body
        .contains("may not write to any collection"));
    let rita_csrf = rita.csrf();
    let refused = send(
        &mut rita,
        &[
            ("csrf", &rita_csrf),
            ("collection", &collection),
            ("bundle", &body),
        ],
    );
    assert_eq!(refused.status, 403);
    assert_eq!(stored_ids(&it, &collection), 120);
}
