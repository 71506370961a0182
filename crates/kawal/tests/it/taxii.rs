//! TAXII 2.1 behaviour: paging, version selection, manifest, versions, delete, status, headers.

use kawal_core::Role;
use stix::Tlp;

use crate::harness::*;

fn indicator(n: usize, modified: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","created":"2020-01-01T00:00:00.000Z","modified":"{modified}","pattern":"[ipv4-addr:value = '203.0.113.{}']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}}"#,
        n % 250
    )
}

fn setup() -> (Instance, String, String) {
    let it = Instance::start(50, 1024 * 1024);
    let admin = it.admin();
    it.ex().add_org(&admin, "MY-CERT", None).unwrap();
    it.ex().add_group(&admin, "g", &["MY-CERT".into()]).unwrap();
    let c = it
        .ex()
        .add_collection(
            &admin,
            &kawal_core::NewCollectionRequest {
                title: "C".to_owned(),
                description: Some("test".to_owned()),
                group: "g".to_owned(),
                writers: None,
                default_tlp: Tlp::Green,
                public: true,
            },
        )
        .unwrap()
        .id;
    let token = it.token("MY-CERT", Role::Analyst);
    (it, c, token)
}

#[test]
fn paging_filters_and_headers() {
    let (it, c, token) = setup();
    let url = format!("{}/kawal/collections/{c}/objects/", it.base);
    let objects: Vec<String> = (0..120)
        .map(|n| indicator(n, "2020-01-01T00:00:00.000Z"))
        .collect();
    let reply = post(
        &url,
        &token,
        &format!("{{\"objects\":[{}]}}", objects.join(",")),
        &[],
    );
    assert_eq!(reply.status, 202);
    assert_eq!(reply.content_type, TAXII);
    let status_id = reply.json()["id"].as_str().unwrap().to_owned();
    let status = get(
        &format!("{}/kawal/status/{status_id}/", it.base),
        Some(&token),
    )
    .json();
    assert_eq!(
        (
            status["status"].as_str(),
            status["success_count"].as_u64(),
            status["pending_count"].as_u64()
        ),
        (Some("complete"), Some(120), Some(0))
    );
    // Another organisation's token cannot read this status.
    let admin_token = {
        let (t, s) = it
            .ex()
            .add_token(&it.admin(), "Instance", Role::Admin)
            .unwrap();
        format!("{}:{s}", t.id)
    };
    assert_eq!(
        get(
            &format!("{}/kawal/status/{status_id}/", it.base),
            Some(&admin_token)
        )
        .status,
        404
    );

    // The server caps pages at 50 whatever the client asks.
    let first = get(&format!("{url}?limit=500"), Some(&token));
    let page = first.json();
    assert_eq!(page["objects"].as_array().unwrap().len(), 50);
    assert_eq!(page["more"], true);
    let first_added = first.header("X-TAXII-Date-Added-First").unwrap().to_owned();
    let last_added = first.header("X-TAXII-Date-Added-Last").unwrap().to_owned();
    assert!(first_added < last_added);
    // added_after with the last header value continues exactly where the page ended.
    let rest = get_all(
        &format!("{url}?added_after={last_added}&limit=7"),
        Some(&token),
        "objects",
    );
    assert_eq!(rest.len(), 70);
    let all = get_all(&format!("{url}?limit=13"), Some(&token), "objects");
    assert_eq!(all.len(), 120);
    let ids: std::collections::BTreeSet<_> =
        all.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 120);

    let by_id = get(&format!("{url}?match[id]=indicator--00000000-0000-4000-8000-000000000007,indicator--00000000-0000-4000-8000-000000000009"), Some(&token)).json();
    assert_eq!(by_id["objects"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&format!("{url}?match[type]=malware"), Some(&token)).body,
        "{}"
    );
    assert_eq!(
        get(&format!("{url}?match[spec_version]=2.0"), Some(&token)).body,
        "{}"
    );
    assert_eq!(
        get(
            &format!("{url}?match[type]=indicator&match[spec_version]=2.1&limit=5"),
            Some(&token)
        )
        .json()["objects"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // Anonymous clients see the public collection's CLEAR content only; GREEN is the default here.
    assert_eq!(get(&url, None).body, "{}");
    let clear = indicator(500, "2020-01-01T00:00:00.000Z").replace(
        "\"pattern_type\"",
        &format!(
            "\"object_marking_refs\":[\"{}\"],\"pattern_type\"",
            stix::tlp::TLP2_CLEAR
        ),
    );
    post(&url, &token, &format!("{{\"objects\":[{clear}]}}"), &[]);
    let public = get(&url, None).json();
    assert_eq!(public["objects"].as_array().unwrap().len(), 1);
}

#[test]
fn versions_manifest_and_delete() {
    let (it, c, token) = setup();
    let url = format!("{}/kawal/collections/{c}/objects/", it.base);
    let versions = [
        "2020-01-01T00:00:00.000Z",
        "2020-03-01T00:00:00.000Z",
        "2020-02-01T00:00:00.000Z",
    ];
    let body = format!(
        "{{\"objects\":[{}]}}",
        versions
            .iter()
            .map(|m| indicator(1, m))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(post(&url, &token, &body, &[]).json()["success_count"], 3);
    // Posting the same bytes again is a success, not a new version.
    let again = post(&url, &token, &body, &[]).json();
    assert_eq!(again["success_count"], 3);
    assert!(again["successes"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already"));
    // A different object under an existing version is refused.
    let changed = indicator(1, "2020-01-01T00:00:00.000Z").replace("203.0.113", "192.0.2");
    let conflict = post(&url, &token, &format!("{{\"objects\":[{changed}]}}"), &[]).json();
    assert_eq!(conflict["failure_count"], 1);
    assert!(conflict["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("modified"));

    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let object = format!("{url}{id}/");
    let modified = |reply: Reply| -> Vec<String> {
        reply.json()["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["modified"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        modified(get(&object, Some(&token))),
        vec!["2020-03-01T00:00:00.000Z"]
    );
    assert_eq!(
        modified(get(&format!("{object}?match[version]=first"), Some(&token))),
        vec!["2020-01-01T00:00:00.000Z"]
    );
    assert_eq!(
        modified(get(&format!("{object}?match[version]=all"), Some(&token))).len(),
        3
    );
    assert_eq!(
        modified(get(
            &format!("{object}?match[version]=2020-02-01T00:00:00Z"),
            Some(&token)
        )),
        vec!["2020-02-01T00:00:00.000Z"]
    );
    assert_eq!(
        modified(get(
            &format!("{object}?match[version]=first,last"),
            Some(&token)
        ))
        .len(),
        2
    );

    let v = get(&format!("{object}versions/"), Some(&token));
    assert!(v.header("X-TAXII-Date-Added-First").is_some());
    let listed: Vec<String> = v.json()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), 3);

    let manifest = get(
        &format!(
            "{}/kawal/collections/{c}/manifest/?match[version]=all",
            it.base
        ),
        Some(&token),
    )
    .json();
    let records = manifest["objects"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert!(records
        .iter()
        .all(|r| r["media_type"] == "application/stix+json;version=2.1"
            && r["date_added"].is_string()));

    let auth = bearer(&token);
    let deleted = call(
        "DELETE",
        &format!("{object}?match[version]=first"),
        &[("Accept", TAXII), ("Authorization", &auth)],
        None,
    );
    assert_eq!(deleted.status, 200);
    assert_eq!(
        modified(get(&format!("{object}?match[version]=all"), Some(&token))).len(),
        2
    );
    assert_eq!(
        call(
            "DELETE",
            &object,
            &[("Accept", TAXII), ("Authorization", &auth)],
            None
        )
        .status,
        200
    );
    assert_eq!(get(&object, Some(&token)).status, 404);
}

#[test]
fn discovery_api_root_and_collections() {
    let (it, c, token) = setup();
    let discovery = get(&format!("{}/taxii2/", it.base), None).json();
    let root = discovery["default"].as_str().unwrap();
    assert_eq!(root, format!("{}/kawal/", it.base));
    let info = get(root, None).json();
    assert_eq!(info["versions"][0], TAXII);
    assert_eq!(info["max_content_length"], 1024 * 1024);
    let collection = get(&format!("{root}collections/{c}/"), Some(&token)).json();
    assert_eq!(
        (
            collection["can_read"].as_bool(),
            collection["can_write"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(collection["description"], "test");
    let anonymous = get(&format!("{root}collections/{c}/"), None).json();
    assert_eq!(anonymous["can_write"], false);
}

#[test]
fn reads_writes_and_refusals_reach_the_audit_trail() {
    let (it, c, token) = setup();
    let url = format!("{}/kawal/collections/{c}/objects/", it.base);
    post(
        &url,
        &token,
        &format!(
            "{{\"objects\":[{}]}}",
            indicator(1, "2020-01-01T00:00:00.000Z")
        ),
        &[],
    );
    get(&url, Some(&token));
    get(
        &url,
        Some(&format!("{}:{}", "a".repeat(16), "0".repeat(64))),
    );
    let (t, s) = it
        .ex()
        .add_token(&it.admin(), "Instance", Role::Admin)
        .unwrap();
    let admin = format!("{}:{s}", t.id);
    let trail = call(
        "GET",
        &format!("{}/api/audit?limit=50", it.base),
        &[("Authorization", &bearer(&admin))],
        None,
    )
    .json();
    let events: Vec<(String, String, String)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let token_id = token.split(':').next().unwrap();
    let has = |actor: &str, action: &str, outcome: &str| {
        events
            .iter()
            .any(|(a, b, o)| a == actor && b == action && o.contains(outcome))
    };
    assert!(
        has(&format!("token:{token_id}"), "write", "1 stored"),
        "{events:?}"
    );
    assert!(
        has(&format!("token:{token_id}"), "read", "1 objects"),
        "{events:?}"
    );
    assert!(
        has(
            &format!("token:{}", "a".repeat(16)),
            "authenticate",
            "refused"
        ),
        "{events:?}"
    );
    assert!(has("local", "token.add", "role admin"), "{events:?}");
    // An analyst may not read the trail.
    let denied = call(
        "GET",
        &format!("{}/api/audit", it.base),
        &[("Authorization", &bearer(&token))],
        None,
    );
    assert_eq!(denied.status, 403);
}
