//! The web console over HTTP: signing in and out, form tokens, security headers, pages that
//! hold no inline script or style, search, and — for random communities — that every page and
//! search result shows exactly the objects the access policy lets the person read.

use std::collections::BTreeSet;

use kawal_core::{NewCollectionRequest, Role};
use proptest::prelude::*;
use stix::Tlp;

use crate::harness::*;
use crate::tlp::{allowed, build, org_name, world, World};

pub const PASSWORD: &str = "correct horse battery";

enum Body<'a> {
    Empty,
    Form(&'a [(&'a str, &'a str)]),
    Bytes(&'a [u8]),
}

/// A browser without a browser: one cookie jar, redirects not followed.
pub struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first hidden input named `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let body = match form {
            Some(fields) => Body::Form(fields),
            None => Body::Empty,
        };
        self.send_with(method, path, &[], body)
    }

    /// A request with a body of its own (an upload), with the session's cookies.
    pub fn send_body(&mut self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Page {
        self.send_with("POST", path, headers, Body::Bytes(body))
    }

    /// A GET with extra headers (`Accept`).
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        self.send_with("GET", path, headers, Body::Empty)
    }

    fn send_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Page {
        let mut request = self.agent.request(method, &format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            request = request.set("Cookie", &jar.join("; "));
        }
        let sent = match body {
            Body::Empty => request.call(),
            Body::Form(fields) => request.send_form(fields),
            Body::Bytes(bytes) => request.send_bytes(bytes),
        };
        let response = match sent {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        for cookie in response.all("set-cookie") {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_owned())))
            .collect();
        Page {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            headers,
            body: response.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send("POST", path, Some(form))
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Signs in through the form; returns the final answer to the post.
    pub fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/sign-in");
        let csrf = form
            .hidden("csrf")
            .expect("the sign-in form has a form token");
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
    }

    /// The form token of the signed-in session, from any page's sign-out form.
    pub fn csrf(&mut self) -> String {
        self.get("/tokens")
            .hidden("csrf")
            .expect("a signed-in page")
    }
}

/// Brings the search index up to date with everything stored.
pub fn index_all(it: &Instance) {
    while it.ex().store().index_step(10_000).unwrap() > 0 {}
}

/// Problems that a strict Content-Security-Policy would block, or that would let content run
/// as script: `<script>` with inline content or without `src`, `on…=` handlers, `style=`
/// attributes, `javascript:` URLs. A small tag scanner: enough for pages we render.
pub fn inline_code(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if rest.starts_with('!') || rest.starts_with('/') {
            continue;
        }
        // The end of the tag, outside quoted attribute values.
        let (mut quote, mut end) = (None, rest.len());
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                (None, '>') => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let tag = &rest[..end];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        for attribute in attribute_names(tag) {
            if attribute.starts_with("on") || attribute == "style" {
                problems.push(format!("<{name}> has a `{attribute}` attribute"));
            }
        }
        if tag.to_ascii_lowercase().contains("javascript:") {
            problems.push(format!("<{name}> has a javascript: URL"));
        }
        if name == "script" {
            if !attribute_names(tag).contains(&"src".to_owned()) {
                problems.push("a <script> without src".to_owned());
            }
            let after = &rest[(end + 1).min(rest.len())..];
            let content = after.split("</script>").next().unwrap_or("");
            if !content.trim().is_empty() {
                problems.push("a <script> with inline content".to_owned());
            }
        }
        if name == "style" {
            problems.push("an inline <style> element".to_owned());
        }
        rest = &rest[end.min(rest.len())..];
    }
    problems
}

/// The attribute names of a tag's text (after `<`), lowercased.
fn attribute_names(tag: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = tag.chars().skip_while(|c| !c.is_whitespace()).peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '/') {
            chars.next();
        }
        let name: String = chars
            .by_ref()
            .take_while(|c| !c.is_whitespace() && *c != '=')
            .collect();
        if name.is_empty() {
            break;
        }
        names.push(name.to_ascii_lowercase());
        // Skip the value, quoted or not.
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            Some('"') | Some('\'') => {
                let q = chars.next().unwrap_or('"');
                for c in chars.by_ref() {
                    if c == q {
                        break;
                    }
                }
            }
            Some(_) => {
                while chars.peek().is_some_and(|c| !c.is_whitespace()) {
                    chars.next();
                }
            }
            None => break,
        }
    }
    names
}

/// MY-CERT and KH-CERT share group `asean`, collection "Indicators"; an analyst account in
/// MY-CERT named `ana`.
pub fn community() -> (Instance, String) {
    // Large enough for the ATT&CK bundles the import is tried with.
    let it = Instance::start(1000, 8 * 1024 * 1024);
    let admin = it.admin();
    for org in ["MY-CERT", "KH-CERT"] {
        it.ex().add_org(&admin, org, None).unwrap();
    }
    it.ex()
        .add_group(&admin, "asean", &["MY-CERT".into(), "KH-CERT".into()])
        .unwrap();
    let collection = it
        .ex()
        .add_collection(
            &admin,
            &NewCollectionRequest {
                title: "Indicators".to_owned(),
                description: None,
                group: "asean".to_owned(),
                writers: None,
                default_tlp: Tlp::Amber,
                public: false,
            },
        )
        .unwrap();
    it.ex()
        .add_user(&admin, "MY-CERT", "ana", Role::Analyst, PASSWORD)
        .unwrap();
    (it, collection.id)
}

pub fn indicator(n: usize, name: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"{name}","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}}"#,
        n % 250
    )
}

pub fn share(it: &Instance, collection: &str, org: &str, objects: &[String]) {
    let token = it.token(org, Role::Analyst);
    let reply = post(
        &format!("{}/kawal/collections/{collection}/objects/", it.base),
        &token,
        &format!("{{\"objects\":[{}]}}", objects.join(",")),
        &[],
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[test]
fn signing_in_and_out() {
    let (it, _) = community();
    let mut browser = Browser::new(&it.base);
    let first = browser.get("/");
    assert_eq!(first.status, 303);
    assert_eq!(first.location.as_deref(), Some("/sign-in?next=%2F"));

    let wrong = browser.sign_in("ana", "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Unknown user or wrong password"));
    assert!(browser.cookie("kawal_session").is_none());

    let signed = browser.sign_in("ana", PASSWORD);
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location.as_deref(), Some("/"));
    let set = signed.header("set-cookie").unwrap_or("");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = browser.cookie("kawal_session").unwrap().to_owned();
    assert_eq!(session.len(), 64, "256 random bits, hex");

    let dashboard = browser.get("/");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("ana · MY-CERT · analyst"));

    let csrf = browser.csrf();
    let out = browser.post("/sign-out", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert!(browser.cookie("kawal_session").is_none());
    // The old cookie opens nothing once signed out.
    let mut replay = Browser::new(&it.base);
    replay.cookies.push(("kawal_session".to_owned(), session));
    assert_eq!(replay.get("/").status, 303);

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
    let seen: BTreeSet<(String, String)> = audit
        .iter()
        .filter(|e| e.actor == "user:ana")
        .map(|e| (e.action.clone(), e.outcome.clone()))
        .collect();
    for want in [
        ("sign-in", "ok"),
        ("sign-in", "refused: wrong credentials"),
        ("sign-out", "ok"),
    ] {
        assert!(
            seen.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} missing from {seen:?}"
        );
    }
}

#[test]
fn repeated_failures_lock_the_account_for_a_while() {
    let (it, _) = community();
    let mut browser = Browser::new(&it.base);
    for _ in 0..5 {
        assert_eq!(browser.sign_in("ana", "guess guess guess").status, 401);
    }
    let locked = browser.sign_in("ana", PASSWORD);
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many failed attempts"));
}

#[test]
fn posts_without_the_form_token_are_refused() {
    let (it, _) = community();
    let mut browser = Browser::new(&it.base);
    // Sign-in itself: a post that did not come from the form.
    let forged = browser.post(
        "/sign-in",
        &[("username", "ana"), ("password", PASSWORD), ("csrf", "00")],
    );
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("form token"));
    assert_eq!(browser.sign_in("ana", PASSWORD).status, 303);

    for form in [
        vec![("role", "reader")],
        vec![("role", "reader"), ("csrf", "0123")],
    ] {
        let refused = browser.post("/tokens", &form);
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("CSRF"), "{}", refused.body);
    }
    let refused = browser.post("/sign-out", &[]);
    assert_eq!(refused.status, 403);
    for (path, form) in [
        (
            "/indicators",
            vec![
                ("name", "x"),
                ("pattern", "[ipv4-addr:value = '198.51.100.1']"),
            ],
        ),
        ("/console/pattern-check", vec![("pattern", "[x:y = 1]")]),
        (
            "/alerts/00000000-0000-4000-8000-000000000000/acknowledge",
            vec![("back", "/alerts")],
        ),
    ] {
        let refused = browser.post(path, &form);
        assert_eq!(refused.status, 403, "{path}");
        assert!(refused.body.contains("CSRF"), "{path}: {}", refused.body);
    }

    let csrf = browser.csrf();
    let too_much = browser.post("/tokens", &[("role", "admin"), ("csrf", &csrf)]);
    assert_eq!(too_much.status, 403);
    let issued = browser.post("/tokens", &[("role", "reader"), ("csrf", &csrf)]);
    assert_eq!(issued.status, 200);
    let start = issued.body.find("id=\"token-secret\">").unwrap() + 18;
    let secret = &issued.body[start..start + issued.body[start..].find('<').unwrap()];
    let whoami = call(
        "GET",
        &format!("{}/api/whoami", it.base),
        &[("Authorization", &bearer(secret))],
        None,
    );
    assert_eq!(whoami.status, 200, "{}", whoami.body);
    assert_eq!(whoami.json()["role"], "reader");
}

#[test]
fn every_page_is_locked_down_and_free_of_inline_code() {
    let (it, collection) = community();
    share(
        &it,
        &collection,
        "MY-CERT",
        &[
            indicator(1, "Kitten <b>bold</b> \\\" onmouseover=alert(1)"),
            indicator(2, "Second"),
        ],
    );
    index_all(&it);
    let mut browser = Browser::new(&it.base);
    let mut pages = vec![browser.get("/sign-in")];
    assert_eq!(browser.sign_in("ana", PASSWORD).status, 303);
    for path in [
        "/".to_owned(),
        "/explore".to_owned(),
        "/explore?q=kitten&type=indicator".to_owned(),
        "/explore?created_from=not-a-date".to_owned(),
        format!("/objects/indicator--00000000-0000-4000-8000-000000000001?collection={collection}"),
        "/objects/indicator--00000000-0000-4000-8000-000000000099".to_owned(),
        "/tokens".to_owned(),
        "/indicators/new".to_owned(),
        "/import".to_owned(),
        "/import/00000000-0000-4000-8000-000000000000".to_owned(),
        "/alerts".to_owned(),
        "/alerts?since=not-a-date&ack=open".to_owned(),
        format!("/indicators/new?of=indicator--00000000-0000-4000-8000-000000000001&collection={collection}"),
    ] {
        let page = browser.get(&path);
        assert!(
            [200, 400, 404].contains(&page.status),
            "{path}: {}",
            page.status
        );
        pages.push(page);
    }
    for page in &pages {
        assert_eq!(
            page.header("content-security-policy"),
            Some(server::console::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        let timing = page.header("server-timing").unwrap_or("");
        assert!(
            timing
                .strip_prefix("app;dur=")
                .is_some_and(|ms| ms.parse::<f64>().is_ok()),
            "{timing}"
        );
        assert!(page.header("referrer-policy").is_some());
        assert_eq!(inline_code(&page.body), Vec::<String>::new());
        assert!(page
            .body
            .contains("<script type=\"module\" src=\"/static/console.js"));
    }
    // A form sent back with its problems is a page like any other.
    let csrf = browser.csrf();
    let refused = browser.post(
        "/indicators",
        &[
            ("csrf", &csrf),
            ("name", "x\" onfocus=\"alert(1)"),
            ("pattern", "[ipv4-addr:value '<script>']"),
            ("collection", &collection),
        ],
    );
    assert_eq!(refused.status, 400);
    pages.push(refused);
    // The scanner does find what it looks for.
    assert_eq!(
        inline_code("<p style=\"x\"><a onclick='x'>a</a><script>alert(1)</script>").len(),
        4
    );
    let css = browser.get("/static/console.css");
    assert!(css.header("cache-control").unwrap().contains("max-age"));
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    let js = browser.get("/static/console.js");
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    // Other surfaces are untouched.
    assert_eq!(get(&format!("{}/taxii2/", it.base), None).status, 200);
}

#[test]
fn search_finds_names_patterns_and_facets() {
    let (it, collection) = community();
    share(
        &it,
        &collection,
        "MY-CERT",
        &[
            indicator(1, "Kitten campaign"),
            indicator(7, "Puppy campaign"),
        ],
    );
    index_all(&it);
    let mut browser = Browser::new(&it.base);
    browser.sign_in("ana", PASSWORD);
    let kitten = browser.get("/explore?q=kitt");
    assert!(kitten.body.contains("Kitten campaign"));
    assert!(!kitten.body.contains("Puppy campaign"));
    assert!(kitten.body.contains("1 object"));
    let by_value = browser.get("/explore?q=198.51.100.7");
    assert!(
        by_value.body.contains("Puppy campaign"),
        "{}",
        by_value.body
    );
    let both = browser.get("/explore?q=campaign&tlp=amber");
    assert!(both.body.contains("2 objects"));
    let none = browser.get("/explore?q=campaign&tlp=red");
    assert!(none.body.contains("No objects found"));
    let object = browser.get(&format!(
        "/objects/indicator--00000000-0000-4000-8000-000000000001?collection={collection}"
    ));
    assert_eq!(object.status, 200);
    assert!(object.body.contains("Kitten campaign"));
    assert!(object.body.contains("TLP:AMBER"));
    assert!(object.body.contains("transparency-log leaf"));
}

#[test]
fn the_object_page_shows_versions_with_differences_and_relationships() {
    let (it, collection) = community();
    let v2 = indicator(1, "Renamed").replace(
        r#""modified":"2024-01-01T00:00:00.000Z""#,
        r#""modified":"2024-02-01T00:00:00.000Z""#,
    );
    let malware = r#"{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Gremlin","is_family":true}"#;
    let relationship = r#"{"type":"relationship","spec_version":"2.1","id":"relationship--00000000-0000-4000-8000-000000000003","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--00000000-0000-4000-8000-000000000001","target_ref":"malware--00000000-0000-4000-8000-000000000002"}"#;
    share(
        &it,
        &collection,
        "KH-CERT",
        &[
            indicator(1, "Original"),
            v2,
            malware.to_owned(),
            relationship.to_owned(),
        ],
    );
    index_all(&it);
    let mut browser = Browser::new(&it.base);
    browser.sign_in("ana", PASSWORD);
    let page = browser.get("/objects/indicator--00000000-0000-4000-8000-000000000001");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<span class=\"add\">+   &#34;name&#34;: &#34;Renamed&#34;,"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<span class=\"del\">-   &#34;name&#34;: &#34;Original&#34;,"));
    assert!(page.body.contains("<svg class=\"graph\""));
    assert!(page
        .body
        .contains("href=\"/objects/malware--00000000-0000-4000-8000-000000000002\""));
    assert!(page.body.contains("<em>indicates</em>"));
}

/// Every object id of the generated worlds that appears in a page.
fn ids_in(html: &str) -> BTreeSet<String> {
    let marker = "indicator--00000000-0000-4000-8000-";
    let mut ids = BTreeSet::new();
    let mut rest = html;
    while let Some(at) = rest.find(marker) {
        let id: String = rest[at..].chars().take(marker.len() + 12).collect();
        ids.insert(id);
        rest = &rest[at + marker.len()..];
    }
    ids
}

fn pages_show_only_what_the_policy_allows(world: &World) -> Result<(), TestCaseError> {
    let built = build(world);
    let it = &built.it;
    index_all(it);
    let admin = it.admin();
    for reader in 0..world.orgs {
        let username = format!("user{reader}");
        it.ex()
            .add_user(&admin, &org_name(reader), &username, Role::Reader, PASSWORD)
            .unwrap();
        let mut browser = Browser::new(&it.base);
        prop_assert_eq!(browser.sign_in(&username, PASSWORD).status, 303);
        let readable: BTreeSet<String> = built
            .stored
            .iter()
            .filter(|(_, (o, rec, _))| allowed(world, Some(reader), o, rec))
            .map(|((_, id, _), _)| id.clone())
            .collect();
        // Objects found in each collection: a search counts each once per collection.
        let per_collection: BTreeSet<(usize, String)> = built
            .stored
            .iter()
            .filter(|(_, (o, rec, _))| allowed(world, Some(reader), o, rec))
            .map(|((c, id, _), _)| (*c, id.clone()))
            .collect();
        let mut seen = BTreeSet::new();
        for path in [
            "/",
            "/explore",
            "/explore?q=n",
            "/explore?q=198.51",
            "/indicators/new",
            "/import",
            "/alerts",
        ] {
            let page = browser.get(path);
            prop_assert_eq!(page.status, 200);
            let shown = ids_in(&page.body);
            prop_assert!(
                shown.is_subset(&readable),
                "{} shows {:?} to reader {}, who may read only {:?}",
                path,
                shown,
                reader,
                readable
            );
            seen.extend(shown);
        }
        let explore = browser.get("/explore");
        let expected_count = match per_collection.len() {
            0 => "No objects found.".to_owned(),
            1 => "1 object".to_owned(),
            n => format!("{n} objects"),
        };
        prop_assert!(
            explore.body.contains(&expected_count),
            "reader {} expected {}",
            reader,
            expected_count
        );
        prop_assert_eq!(&seen, &readable, "reader {} missed objects", reader);
        for (c, id, _) in built.stored.keys() {
            let page = browser.get(&format!(
                "/objects/{id}?collection={}",
                built.collection_ids[*c]
            ));
            if readable.contains(id) {
                prop_assert_eq!(page.status, 200);
                prop_assert!(ids_in(&page.body).is_subset(&readable));
            } else {
                // The refusal names only the id that was asked for.
                prop_assert_eq!(page.status, 404, "{} shown to reader {}", id, reader);
            }
            // The editor prefills only what the reader may read.
            let editor = browser.get(&format!(
                "/indicators/new?of={id}&collection={}",
                built.collection_ids[*c]
            ));
            if !readable.contains(id) {
                prop_assert_eq!(editor.status, 404, "{} prefilled for reader {}", id, reader);
            }
            let mut asked = readable.clone();
            asked.insert(id.clone());
            prop_assert!(ids_in(&editor.body).is_subset(&asked));
        }
    }
    cases_show_only_what_the_policy_allows(world, it)
}

/// A case opened by ORG-0 and shared with the other members of the first sharing group, at
/// the first collection's default TLP, with a RED note the owner keeps to itself and a note
/// by one partner: each organisation's pages show the case, and each note, exactly when the
/// policy lets it read them; an organisation outside finds no trace of the case anywhere.
fn cases_show_only_what_the_policy_allows(
    world: &World,
    it: &Instance,
) -> Result<(), TestCaseError> {
    let org_id = |i: usize| {
        it.ex()
            .store()
            .org_by_name(&org_name(i))
            .unwrap()
            .unwrap()
            .id
    };
    let acting = |i: usize| kawal_core::Principal::Local {
        org: org_id(i),
        role: Role::Analyst,
    };
    let tlp = world.collections[0].default_tlp;
    let opened = it
        .ex()
        .open_case(
            &acting(0),
            &kawal_core::cases::NewCase {
                name: "Casemarkerzq".to_owned(),
                description: None,
                fields: kawal_core::cases::CaseFields {
                    status: kawal_core::cases::CaseStatus::New,
                    severity: kawal_core::cases::Severity::High,
                    category: "intrusion".to_owned(),
                    affected_organisation_refs: Vec::new(),
                    affected_assets: Vec::new(),
                    assignee_refs: Vec::new(),
                    assignee_users: Vec::new(),
                    due: None,
                    contributions: false,
                },
                tlp: Some(tlp),
            },
        )
        .unwrap();
    let id = opened.state.id.clone();
    it.ex()
        .add_case_note(&acting(0), &id, None, "redsecretzq", Some(Tlp::Red), &[])
        .unwrap();
    let partners: BTreeSet<usize> = world.groups[0]
        .iter()
        .copied()
        .filter(|o| *o != 0)
        .collect();
    it.ex()
        .share_case(
            &acting(0),
            &id,
            &kawal_core::cases::Share {
                organisations: partners.iter().map(|p| org_name(*p)).collect(),
                groups: Vec::new(),
                tlp,
                contributions: true,
            },
        )
        .unwrap();
    // At RED a partner addresses its note to the owner; otherwise every partner reads it.
    let partner = partners.iter().next().copied();
    if let Some(p) = partner {
        let recipients = if tlp == Tlp::Red {
            vec![org_name(0)]
        } else {
            Vec::new()
        };
        it.ex()
            .add_case_note(&acting(p), &id, None, "partnernotezq", None, &recipients)
            .unwrap();
    }
    index_all(it);
    for reader in 0..world.orgs {
        let on_case = reader == 0 || partners.contains(&reader);
        let reads_partner_note =
            partner.is_some_and(|p| on_case && (tlp != Tlp::Red || reader == p || reader == 0));
        let mut browser = Browser::new(&it.base);
        prop_assert_eq!(
            browser.sign_in(&format!("user{reader}"), PASSWORD).status,
            303
        );
        let page = browser.get(&format!("/cases/{id}"));
        prop_assert_eq!(page.status, if on_case { 200 } else { 404 });
        prop_assert_eq!(page.body.contains("redsecretzq"), reader == 0);
        prop_assert_eq!(
            page.body.contains("partnernotezq"),
            reads_partner_note,
            "reader {} and the partner's note",
            reader
        );
        prop_assert_eq!(browser.get("/cases").body.contains("Casemarkerzq"), on_case);
        let metrics = browser.get("/cases/metrics");
        let count = format!("id=\"metric-cases\">{}</td>", usize::from(on_case));
        prop_assert!(
            metrics.body.contains(&count),
            "reader {}: {}",
            reader,
            count
        );
        for path in [
            "/",
            "/explore",
            "/explore?q=Casemarkerzq",
            "/explore?q=redsecretzq",
            "/explore?type=incident",
            "/explore?type=note",
            "/cases",
            "/cases/metrics",
        ] {
            let shown = browser.get(path);
            prop_assert_eq!(shown.status, 200);
            // The search box shows what was searched for; the rest of the page must not.
            let typed = path.split_once("q=").map(|(_, q)| q).unwrap_or("");
            let body = shown.body.replace(&format!("value=\"{typed}\""), "");
            if !on_case {
                for trace in [id.as_str(), "Casemarkerzq", "partnernotezq"] {
                    prop_assert!(
                        !body.contains(trace),
                        "{} shows {} to reader {}",
                        path,
                        trace,
                        reader
                    );
                }
            }
            if reader != 0 {
                prop_assert!(
                    !body.contains("redsecretzq"),
                    "{} to reader {}",
                    path,
                    reader
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn console_pages_show_exactly_what_the_policy_allows(world in world()) {
        pages_show_only_what_the_policy_allows(&world)?;
    }
}

#[test]
fn accounts_added_on_the_command_line_sign_in_to_the_binary() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli(data, &["admin", "org", "add", "MY-CERT"]);
    let add = |password_stdin: bool| {
        let mut command = kawal();
        command
            .args([
                "admin", "user", "add", "--org", "MY-CERT", "--role", "reader", "rita",
            ])
            .arg("--data")
            .arg(data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if password_stdin {
            command.arg("--password-stdin");
        }
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let refused = add(false);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--password-stdin"));
    let added = add(true);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(cli(data, &["admin", "user", "list"]).contains("rita\tMY-CERT\treader"));
    let server = Binary::serve(data);
    let mut browser = Browser::new(&server.base);
    assert_eq!(browser.sign_in("rita", PASSWORD).status, 303);
    assert!(browser.get("/").body.contains("rita · MY-CERT · reader"));

    // Disabled, enabled and deleted on the command line beside the running server.
    assert_eq!(
        cli(data, &["admin", "user", "disable", "rita"]),
        "disabled user rita\n"
    );
    assert!(cli(data, &["admin", "user", "list"]).contains("rita\tMY-CERT\treader\tdisabled"));
    assert_eq!(browser.get("/").status, 303, "the session ended");
    assert_eq!(browser.sign_in("rita", PASSWORD).status, 403);
    cli(data, &["admin", "user", "enable", "rita"]);
    assert_eq!(browser.sign_in("rita", PASSWORD).status, 303);
    cli(data, &["admin", "user", "delete", "rita"]);
    assert!(!cli(data, &["admin", "user", "list"]).contains("rita"));
    assert_eq!(browser.get("/").status, 303);
    let unknown = kawal()
        .args(["admin", "user", "disable", "rita", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account `rita`"));
}
