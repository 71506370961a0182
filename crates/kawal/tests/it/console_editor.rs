//! The indicator editor: patterns checked as they are typed and on save, indicators stored
//! through the TAXII write path, new versions that keep the id and `created`, RED recipients.

use kawal_core::Role;

use crate::console::{community, Browser, PASSWORD};
use crate::harness::*;

const VALID: &str = "[ipv4-addr:value = '203.0.113.9']";
const BROKEN: &str = "[ipv4-addr:value '203.0.113.9']";

/// The fields of a new indicator, as the form posts them.
fn fields<'a>(csrf: &'a str, collection: &'a str, pattern: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", "Scanner at 203.0.113.9"),
        ("description", "Seen probing ministries"),
        ("pattern", pattern),
        ("valid_from", "2025-03-01T00:00:00Z"),
        ("indicator_types", "malicious-activity"),
        ("indicator_types", "compromised"),
        ("tlp", "green"),
        ("collection", collection),
    ]
}

/// The versions of an object `org` reads over TAXII (none when it may read none).
fn versions(it: &Instance, org: &str, collection: &str, id: &str) -> Vec<serde_json::Value> {
    let token = it.token(org, Role::Reader);
    let reply = get(
        &format!(
            "{}/kawal/collections/{collection}/objects/{id}/?match[version]=all",
            it.base
        ),
        Some(&token),
    );
    match reply.status {
        404 => Vec::new(),
        200 => reply.json()["objects"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        other => panic!("{other}: {}", reply.body),
    }
}

#[test]
fn the_editor_checks_patterns_and_saves_through_the_taxii_path() {
    let (it, collection) = community();
    let mut browser = Browser::new(&it.base);
    assert_eq!(browser.sign_in("ana", PASSWORD).status, 303);
    let form = browser.get("/indicators/new");
    assert_eq!(form.status, 200);
    assert!(form
        .body
        .contains(&format!("<option value=\"{collection}\" selected>")));
    assert!(form
        .body
        .contains("data-pattern-check=\"/console/pattern-check\""));
    let csrf = browser.csrf();

    // While typing: the parser's diagnostic, with where it points in the field.
    let check = browser.post(
        "/console/pattern-check",
        &[("csrf", &csrf), ("pattern", BROKEN)],
    );
    assert_eq!(check.status, 200);
    assert!(check
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let answer: serde_json::Value = serde_json::from_str(&check.body).unwrap();
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["diagnostics"][0]["severity"], "error");
    assert_eq!(answer["diagnostics"][0]["start"], 17);
    assert!(answer["diagnostics"][0]["rendered"]
        .as_str()
        .unwrap()
        .contains("expected a comparison operator"));
    let fine = browser.post(
        "/console/pattern-check",
        &[("csrf", &csrf), ("pattern", VALID)],
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fine.body).unwrap()["valid"],
        true
    );

    // Without the script: the form comes back with the diagnostic under the field.
    let refused = browser.post("/indicators", &fields(&csrf, &collection, BROKEN));
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("<pre class=\"diagnostic error\">error: expected a comparison operator"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("aria-invalid=\"true\""));
    assert!(
        refused.body.contains("Scanner at 203.0.113.9"),
        "what was typed stays"
    );
    let mut blank = fields(&csrf, &collection, VALID);
    blank.retain(|(k, _)| *k != "name");
    blank.push(("valid_from", "yesterday"));
    blank.retain(|(k, v)| *k != "valid_from" || *v == "yesterday");
    let incomplete = browser.post("/indicators", &blank);
    assert_eq!(incomplete.status, 400);
    assert!(incomplete.body.contains("Give the indicator a name."));
    assert!(incomplete.body.contains("is not a timestamp"));
    let token = it.token("MY-CERT", Role::Reader);
    let all = get_all(
        &format!("{}/kawal/collections/{collection}/objects/", it.base),
        Some(&token),
        "objects",
    );
    assert!(all.is_empty(), "nothing refused was stored");

    // A valid indicator is stored as a TAXII write would store it, and its page opens.
    let saved = browser.post("/indicators", &fields(&csrf, &collection, VALID));
    assert_eq!(saved.status, 303, "{}", saved.body);
    let location = saved.location.clone().unwrap();
    assert!(location.starts_with("/objects/indicator--"), "{location}");
    let id = location["/objects/".len()..]
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let stored = versions(&it, "KH-CERT", &collection, &id);
    assert_eq!(stored.len(), 1);
    let v1 = &stored[0];
    assert_eq!(v1["name"], "Scanner at 203.0.113.9");
    assert_eq!(v1["pattern"], VALID);
    assert_eq!(v1["pattern_type"], "stix");
    assert_eq!(v1["valid_from"], "2025-03-01T00:00:00.000000Z");
    assert_eq!(
        v1["indicator_types"],
        serde_json::json!(["malicious-activity", "compromised"])
    );
    assert_eq!(
        v1["object_marking_refs"],
        serde_json::json!([stix::tlp::TLP2_GREEN])
    );
    let my = it.ex().store().org_by_name("MY-CERT").unwrap().unwrap();
    assert_eq!(v1["created_by_ref"], my.identity_id.as_str());
    assert_eq!(v1["created"], v1["modified"]);
    let page = browser.get(&location);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Scanner at 203.0.113.9"));
    assert!(page.body.contains("TLP:GREEN"));
    let audit = it
        .ex()
        .audit(
            &it.admin(),
            kawal_core::AuditQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.actor == "user:ana" && e.action == "write" && e.outcome.contains("1 stored")));

    // A new version, from the object page: same id and `created`, later `modified`, and the
    // properties the form does not edit kept.
    let edit = format!("/indicators/new?of={id}&collection={collection}");
    assert!(
        page.body.contains(&edit.replace('&', "&#38;")),
        "the object page offers a new version: {}",
        page.body
    );
    let prefilled = browser.get(&edit);
    assert_eq!(prefilled.status, 200);
    assert!(prefilled
        .body
        .contains("New version of Scanner at 203.0.113.9"));
    assert!(prefilled
        .body
        .contains(&format!("name=\"of\" value=\"{id}\"")));
    assert!(prefilled
        .body
        .contains("value=\"green\" data-tlp-choice checked"));
    let mut second = fields(&csrf, &collection, VALID);
    second.retain(|(k, _)| *k != "name" && *k != "tlp");
    second.extend([
        ("name", "Scanner, now blocked"),
        ("tlp", "amber"),
        ("of", &id),
    ]);
    let again = browser.post("/indicators", &second);
    assert_eq!(again.status, 303, "{}", again.body);
    let stored = versions(&it, "KH-CERT", &collection, &id);
    assert_eq!(stored.len(), 2);
    let v2 = stored
        .iter()
        .find(|v| v["name"] == "Scanner, now blocked")
        .unwrap();
    assert_eq!(v2["created"], v1["created"]);
    assert!(v2["modified"].as_str().unwrap() > v1["modified"].as_str().unwrap());
    assert_eq!(v2["created_by_ref"], v1["created_by_ref"]);
    assert_eq!(
        v2["object_marking_refs"],
        serde_json::json!([stix::tlp::TLP2_AMBER])
    );
}

#[test]
fn red_goes_to_the_recipients_chosen_and_only_producers_make_new_versions() {
    let (it, collection) = community();
    let admin = it.admin();
    it.ex()
        .add_user(&admin, "KH-CERT", "kiri", Role::Analyst, PASSWORD)
        .unwrap();
    it.ex()
        .add_user(&admin, "MY-CERT", "rita", Role::Reader, PASSWORD)
        .unwrap();
    let mut ana = Browser::new(&it.base);
    ana.sign_in("ana", PASSWORD);
    let csrf = ana.csrf();
    let form = ana.get("/indicators/new");
    assert!(form.body.contains("name=\"recipients\" value=\"KH-CERT\""));
    assert!(!form.body.contains("name=\"recipients\" value=\"MY-CERT\""));

    let mut red = fields(&csrf, &collection, VALID);
    red.retain(|(k, _)| *k != "tlp");
    red.push(("tlp", "red"));
    let own = ana.post("/indicators", &red);
    assert_eq!(own.status, 303, "{}", own.body);
    let private = own.location.unwrap()["/objects/".len()..]
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    red.push(("recipients", "KH-CERT"));
    let shared = ana.post("/indicators", &red);
    assert_eq!(shared.status, 303, "{}", shared.body);
    let addressed = shared.location.unwrap()["/objects/".len()..]
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(versions(&it, "KH-CERT", &collection, &private).len(), 0);
    assert_eq!(versions(&it, "KH-CERT", &collection, &addressed).len(), 1);
    assert_eq!(versions(&it, "MY-CERT", &collection, &private).len(), 1);

    // A recipient outside the collection's group is refused with the reason, nothing stored.
    it.ex().add_org(&admin, "TH-CERT", None).unwrap();
    red.push(("recipients", "TH-CERT"));
    let outsider = ana.post("/indicators", &red);
    assert_eq!(outsider.status, 400);
    assert!(
        outsider.body.contains("not a member of the sharing group"),
        "{}",
        outsider.body
    );

    // KH-CERT reads the indicator addressed to it but did not produce it.
    let mut kiri = Browser::new(&it.base);
    kiri.sign_in("kiri", PASSWORD);
    let page = kiri.get(&format!("/objects/{addressed}?collection={collection}"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("New version"));
    let forged = kiri.get(&format!(
        "/indicators/new?of={addressed}&collection={collection}"
    ));
    assert_eq!(forged.status, 403);
    let kiri_csrf = kiri.csrf();
    let mut posted = fields(&kiri_csrf, &collection, VALID);
    posted.push(("of", &addressed));
    assert_eq!(kiri.post("/indicators", &posted).status, 403);

    // A reader's role writes nowhere: told so, and a post stores nothing.
    let mut rita = Browser::new(&it.base);
    rita.sign_in("rita", PASSWORD);
    let form = rita.get("/indicators/new");
    assert!(form.body.contains("may not write to any collection"));
    let rita_csrf = rita.csrf();
    let tried = rita.post("/indicators", &fields(&rita_csrf, &collection, VALID));
    assert_eq!(tried.status, 400);
    assert!(tried
        .body
        .contains("Choose a collection your organisation may write to"));
}
