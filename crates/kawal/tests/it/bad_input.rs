//! Malformed and unauthorised requests: each gets the right status and an error object that
//! says what was wrong; none gets a 500.

use base64::Engine;
use kawal_core::Role;
use stix::Tlp;

use crate::harness::*;

const INDICATOR: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}"#;

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    status: u16,
    /// A fragment the error's description must contain.
    says: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: String,
    status: u16,
    says: &'static str,
) -> Case {
    Case {
        name,
        method,
        path,
        headers: vec![("Accept", TAXII.to_owned())],
        body: None,
        status,
        says,
    }
}

impl Case {
    fn auth(mut self, token: &str) -> Self {
        self.headers.push(("Authorization", bearer(token)));
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name, value.to_owned()));
        self
    }
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }
    fn taxii_body(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("Content-Type", TAXII).body(body)
    }
}

#[test]
fn malformed_requests_get_precise_errors() {
    let it = Instance::start(100, 64 * 1024);
    let admin = it.admin();
    for (name, cc) in [("MY-CERT", "MY"), ("KH-CERT", "KH"), ("TH-CERT", "TH")] {
        it.ex().add_org(&admin, name, Some(cc)).unwrap();
    }
    it.ex()
        .add_group(&admin, "asean", &["MY-CERT".into(), "KH-CERT".into()])
        .unwrap();
    it.ex()
        .add_group(&admin, "th-only", &["TH-CERT".into()])
        .unwrap();
    let open = it
        .ex()
        .add_collection(
            &admin,
            &kawal_core::NewCollectionRequest {
                title: "Open".to_owned(),
                description: None,
                group: "asean".to_owned(),
                writers: None,
                default_tlp: Tlp::Amber,
                public: false,
            },
        )
        .unwrap()
        .id;
    let read_only = it
        .ex()
        .add_collection(
            &admin,
            &kawal_core::NewCollectionRequest {
                title: "Feed".to_owned(),
                description: None,
                group: "asean".to_owned(),
                writers: Some(vec!["KH-CERT".into()]),
                default_tlp: Tlp::Green,
                public: false,
            },
        )
        .unwrap()
        .id;
    let foreign = it
        .ex()
        .add_collection(
            &admin,
            &kawal_core::NewCollectionRequest {
                title: "TH".to_owned(),
                description: None,
                group: "th-only".to_owned(),
                writers: None,
                default_tlp: Tlp::Amber,
                public: false,
            },
        )
        .unwrap()
        .id;
    let analyst = it.token("MY-CERT", Role::Analyst);
    let reader = it.token("MY-CERT", Role::Reader);
    let sensor = it.token("MY-CERT", Role::Sensor);
    let other = it.token("KH-CERT", Role::Analyst);
    let revoked = it.token("MY-CERT", Role::Analyst);
    it.ex()
        .revoke_token(&admin, revoked.split(':').next().unwrap())
        .unwrap();
    let instance_admin = {
        let (t, s) = it.ex().add_token(&admin, "Instance", Role::Admin).unwrap();
        format!("{}:{s}", t.id)
    };
    let objects = format!("/kawal/collections/{open}/objects/");
    let envelope = format!(r#"{{"objects":[{INDICATOR}]}}"#);
    let stored = post(&format!("{}{objects}", it.base), &analyst, &envelope, &[]);
    assert_eq!(stored.status, 202, "{}", stored.body);
    let indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let wrong_secret = format!("{}:{}", analyst.split(':').next().unwrap(), "0".repeat(64));
    let basic = |text: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };

    let cases = vec![
        case("json accept", "GET", "/taxii2/".into(), 406, "Accept")
            .header("Accept", "application/json"),
        case("html accept", "GET", "/taxii2/".into(), 406, "Accept").header("Accept", "text/html"),
        case(
            "taxii 2.0 accept",
            "GET",
            "/kawal/collections/".into(),
            406,
            "Accept",
        )
        .header("Accept", "application/taxii+json;version=2.0")
        .auth(&analyst),
        case("accept q=0", "GET", "/kawal/".into(), 406, "Accept")
            .header("Accept", "application/taxii+json;q=0"),
        case(
            "json content type",
            "POST",
            objects.clone(),
            415,
            "Content-Type",
        )
        .auth(&analyst)
        .header("Content-Type", "application/json")
        .body(envelope.clone()),
        case(
            "no content type",
            "POST",
            objects.clone(),
            415,
            "no Content-Type",
        )
        .auth(&analyst)
        .body(envelope.clone()),
        case(
            "text content type",
            "POST",
            objects.clone(),
            415,
            "text/plain",
        )
        .auth(&analyst)
        .header("Content-Type", "text/plain")
        .body(envelope.clone()),
        case(
            "stix content type",
            "POST",
            objects.clone(),
            415,
            "application/stix+json",
        )
        .auth(&analyst)
        .header("Content-Type", "application/stix+json;version=2.1")
        .body(envelope.clone()),
        case(
            "truncated json",
            "POST",
            objects.clone(),
            400,
            "not valid JSON",
        )
        .auth(&analyst)
        .taxii_body("{\"objects\": ["),
        case(
            "array body",
            "POST",
            objects.clone(),
            400,
            "must be a JSON object",
        )
        .auth(&analyst)
        .taxii_body("[]"),
        case(
            "objects not array",
            "POST",
            objects.clone(),
            400,
            "`objects` must be an array",
        )
        .auth(&analyst)
        .taxii_body(r#"{"objects":{}}"#),
        case("not a bundle", "POST", objects.clone(), 400, "\"bundle\"")
            .auth(&analyst)
            .taxii_body(r#"{"type":"indicator","objects":[]}"#),
        case("not utf-8", "POST", objects.clone(), 400, "UTF-8")
            .auth(&analyst)
            .taxii_body(vec![b'{', 0xff, 0xfe, b'}']),
        case(
            "oversized",
            "POST",
            objects.clone(),
            413,
            "max_content_length",
        )
        .auth(&analyst)
        .taxii_body(vec![b' '; 70 * 1024]),
        case(
            "unknown collection",
            "POST",
            "/kawal/collections/2d086da7-4bdc-4f91-900e-d77486753710/objects/".into(),
            404,
            "no collection",
        )
        .auth(&analyst)
        .taxii_body(envelope.clone()),
        case(
            "malformed collection id",
            "GET",
            "/kawal/collections/not-a-uuid/".into(),
            404,
            "no collection",
        )
        .auth(&analyst),
        case(
            "collection of another group",
            "GET",
            format!("/kawal/collections/{foreign}/"),
            404,
            "no collection",
        )
        .auth(&analyst),
        case(
            "reader writes",
            "POST",
            objects.clone(),
            403,
            "role `reader`",
        )
        .auth(&reader)
        .taxii_body(envelope.clone()),
        case(
            "write to read-only collection",
            "POST",
            format!("/kawal/collections/{read_only}/objects/"),
            403,
            "may not write",
        )
        .auth(&analyst)
        .taxii_body(envelope.clone()),
        case(
            "sensor reads content",
            "GET",
            objects.clone(),
            404,
            "no collection",
        )
        .auth(&sensor),
        case(
            "anonymous write",
            "POST",
            objects.clone(),
            401,
            "authentication",
        )
        .taxii_body(envelope.clone()),
        case(
            "anonymous read of private collection",
            "GET",
            objects.clone(),
            401,
            "authentication",
        ),
        case("wrong secret", "GET", objects.clone(), 401, "wrong secret").auth(&wrong_secret),
        case(
            "unknown token",
            "GET",
            objects.clone(),
            401,
            "unknown token",
        )
        .auth(&format!("{}:{}", "f".repeat(16), "0".repeat(64))),
        case("revoked token", "GET", objects.clone(), 401, "revoked").auth(&revoked),
        case("bad base64", "GET", objects.clone(), 401, "base64")
            .header("Authorization", "Basic !!!"),
        case(
            "basic without colon",
            "GET",
            objects.clone(),
            401,
            "TOKEN_ID:SECRET",
        )
        .header("Authorization", &basic("justone")),
        case(
            "bearer without colon",
            "GET",
            objects.clone(),
            401,
            "TOKEN_ID:SECRET",
        )
        .header("Authorization", "Bearer abc"),
        case("digest scheme", "GET", objects.clone(), 401, "Basic")
            .header("Authorization", "Digest username=x"),
        case(
            "bad added_after",
            "GET",
            format!("{objects}?added_after=yesterday"),
            400,
            "added_after",
        )
        .auth(&analyst),
        case(
            "added_after without zone",
            "GET",
            format!("{objects}?added_after=2020-01-01T00:00:00"),
            400,
            "added_after",
        )
        .auth(&analyst),
        case(
            "impossible date",
            "GET",
            format!("{objects}?added_after=2019-02-29T00:00:00Z"),
            400,
            "does not exist",
        )
        .auth(&analyst),
        case(
            "zero limit",
            "GET",
            format!("{objects}?limit=0"),
            400,
            "limit",
        )
        .auth(&analyst),
        case(
            "negative limit",
            "GET",
            format!("{objects}?limit=-5"),
            400,
            "limit",
        )
        .auth(&analyst),
        case(
            "text limit",
            "GET",
            format!("{objects}?limit=ten"),
            400,
            "limit",
        )
        .auth(&analyst),
        case(
            "bad match id",
            "GET",
            format!("{objects}?match[id]=foo"),
            400,
            "match[id]",
        )
        .auth(&analyst),
        case(
            "bad match type",
            "GET",
            format!("{objects}?match%5Btype%5D=Indicator!"),
            400,
            "match[type]",
        )
        .auth(&analyst),
        case(
            "bad match version",
            "GET",
            format!("{objects}?match[version]=newest"),
            400,
            "match[version]",
        )
        .auth(&analyst),
        case(
            "bad spec version",
            "GET",
            format!("{objects}?match[spec_version]=two"),
            400,
            "match[spec_version]",
        )
        .auth(&analyst),
        case(
            "unknown parameter",
            "GET",
            format!("{objects}?colour=red"),
            400,
            "colour",
        )
        .auth(&analyst),
        case(
            "forged next",
            "GET",
            format!("{objects}?next=zzz"),
            400,
            "next",
        )
        .auth(&analyst),
        case(
            "type filter on versions",
            "GET",
            format!("{objects}{indicator}/versions/?match[type]=indicator"),
            400,
            "match[type]",
        )
        .auth(&analyst),
        case(
            "unknown object",
            "GET",
            format!("{objects}indicator--2d086da7-4bdc-4f91-900e-d77486753710/"),
            404,
            "no object",
        )
        .auth(&analyst),
        case(
            "unknown status",
            "GET",
            "/kawal/status/2d086da7-4bdc-4f91-900e-d77486753710/".into(),
            404,
            "status",
        )
        .auth(&analyst),
        case(
            "delete by non-producer",
            "DELETE",
            format!("{objects}{indicator}/"),
            403,
            "produced",
        )
        .auth(&other),
        case(
            "delete unknown",
            "DELETE",
            format!("{objects}indicator--2d086da7-4bdc-4f91-900e-d77486753710/"),
            404,
            "no object",
        )
        .auth(&analyst),
        case("wrong method", "PUT", objects.clone(), 405, "PUT")
            .auth(&analyst)
            .taxii_body(envelope.clone()),
        case("unknown path", "GET", "/taxii/".into(), 404, "/taxii2/"),
        case(
            "unknown recipient",
            "POST",
            objects.clone(),
            400,
            "recipient `NOBODY`",
        )
        .auth(&analyst)
        .header("X-Kawal-Recipients", "NOBODY")
        .taxii_body(envelope.clone()),
        case(
            "recipient outside group",
            "POST",
            objects.clone(),
            400,
            "not a member",
        )
        .auth(&analyst)
        .header("X-Kawal-Recipients", "TH-CERT")
        .taxii_body(envelope.clone()),
        case(
            "rest invalid json",
            "POST",
            "/api/orgs".into(),
            400,
            "invalid JSON",
        )
        .auth(&instance_admin)
        .body("{"),
        case(
            "rest unknown field",
            "POST",
            "/api/orgs".into(),
            400,
            "unknown field",
        )
        .auth(&instance_admin)
        .body(r#"{"name":"X","colour":"red"}"#),
        case(
            "rest bad country",
            "POST",
            "/api/orgs".into(),
            400,
            "ISO 3166",
        )
        .auth(&instance_admin)
        .body(r#"{"name":"X","country":"Malaysia"}"#),
        case(
            "rest duplicate org",
            "POST",
            "/api/orgs".into(),
            409,
            "already exists",
        )
        .auth(&instance_admin)
        .body(r#"{"name":"MY-CERT"}"#),
        case(
            "rest analyst administers",
            "POST",
            "/api/orgs".into(),
            403,
            "admin",
        )
        .auth(&analyst)
        .body(r#"{"name":"X"}"#),
        case(
            "rest anonymous administers",
            "POST",
            "/api/orgs".into(),
            401,
            "admin",
        )
        .body(r#"{"name":"X"}"#),
        case(
            "rest unknown role",
            "POST",
            "/api/tokens".into(),
            400,
            "not a role",
        )
        .auth(&instance_admin)
        .body(r#"{"org":"MY-CERT","role":"root"}"#),
        case(
            "rest unknown tlp",
            "POST",
            "/api/collections".into(),
            400,
            "default_tlp",
        )
        .auth(&instance_admin)
        .body(r#"{"title":"T","group":"asean","default_tlp":"purple"}"#),
        case(
            "rest unknown group",
            "POST",
            "/api/collections".into(),
            400,
            "does not exist",
        )
        .auth(&instance_admin)
        .body(r#"{"title":"T","group":"nope"}"#),
        case(
            "rest bad audit since",
            "GET",
            "/api/audit?since=today".into(),
            400,
            "since",
        )
        .auth(&instance_admin),
        case(
            "rest export of invisible collection",
            "GET",
            format!("/api/collections/{foreign}/export"),
            404,
            "no collection",
        )
        .auth(&analyst),
    ];
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for c in &cases {
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = call(
            c.method,
            &format!("{}{}", it.base, c.path),
            &headers,
            c.body.as_deref(),
        );
        let error: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        let description = error["description"].as_str().unwrap_or("");
        let expected_type = if c.path.starts_with("/api/") {
            "application/json"
        } else {
            TAXII
        };
        let ok = reply.status == c.status
            && error["http_status"].as_str() == Some(c.status.to_string().as_str())
            && error["title"].as_str().is_some_and(|t| !t.is_empty())
            && description.contains(c.says)
            && reply.content_type == expected_type;
        if !ok {
            failures.push(format!(
                "{}: expected {} saying {:?}, got {} {} {}",
                c.name, c.status, c.says, reply.status, reply.content_type, reply.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_objects_are_refused_one_by_one() {
    let it = Instance::start(100, 1024 * 1024);
    let admin = it.admin();
    it.ex().add_org(&admin, "MY-CERT", None).unwrap();
    it.ex().add_group(&admin, "g", &["MY-CERT".into()]).unwrap();
    let c = it
        .ex()
        .add_collection(
            &admin,
            &kawal_core::NewCollectionRequest {
                title: "C".to_owned(),
                description: None,
                group: "g".to_owned(),
                writers: None,
                default_tlp: Tlp::Amber,
                public: false,
            },
        )
        .unwrap()
        .id;
    let token = it.token("MY-CERT", Role::Analyst);
    let objects = [
        INDICATOR.to_owned(),
        // id prefix does not match the type
        INDICATOR.replace("\"id\":\"indicator--", "\"id\":\"malware--"),
        // impossible timestamp
        INDICATOR
            .replace(
                "\"created\":\"2020-01-01T00:00:00.000Z\"",
                "\"created\":\"2020-13-01T00:00:00.000Z\"",
            )
            .replace("8e2e2d2b", "11111111"),
        // modified before created
        INDICATOR
            .replace(
                "\"modified\":\"2020-01-01T00:00:00.000Z\"",
                "\"modified\":\"2019-01-01T00:00:00.000Z\"",
            )
            .replace("8e2e2d2b", "22222222"),
        // a string where an object should be
        "\"just a string\"".to_owned(),
        // a reference that is not an identifier
        INDICATOR
            .replace(
                "\"pattern_type\"",
                "\"created_by_ref\":\"me\",\"pattern_type\"",
            )
            .replace("8e2e2d2b", "33333333"),
        // a second valid object
        INDICATOR.replace("8e2e2d2b", "44444444"),
        // a STIX pattern that does not parse
        INDICATOR
            .replace(
                "[ipv4-addr:value = '198.51.100.1']",
                "[ipv4-addr:value '198.51.100.1']",
            )
            .replace("8e2e2d2b", "55555555"),
        // a pattern in another language is not checked as STIX
        INDICATOR
            .replace("\"pattern_type\":\"stix\"", "\"pattern_type\":\"sigma\"")
            .replace("[ipv4-addr", "title: x [")
            .replace("8e2e2d2b", "66666666"),
    ];
    let body = format!("{{\"objects\":[{}]}}", objects.join(","));
    let reply = post(
        &format!("{}/kawal/collections/{c}/objects/", it.base),
        &token,
        &body,
        &[],
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let status = reply.json();
    assert_eq!(status["total_count"], 9);
    assert_eq!(status["success_count"], 3);
    assert_eq!(status["failure_count"], 6);
    let messages: Vec<&str> = status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    for expected in [
        "property `id`",
        "property `created`",
        "property `modified`",
        "must be a JSON object",
        "property `created_by_ref`",
        "property `pattern`: error: expected",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "no failure mentions {expected}: {messages:#?}"
        );
    }
    let listed = get_all(
        &format!("{}/kawal/collections/{c}/objects/", it.base),
        Some(&token),
        "objects",
    );
    assert_eq!(listed.len(), 3);
    let pattern_failure = messages
        .iter()
        .find(|m| m.contains("property `pattern`"))
        .unwrap();
    assert!(
        pattern_failure.contains("indicator--55555555") && pattern_failure.contains('^'),
        "{pattern_failure}"
    );
}
