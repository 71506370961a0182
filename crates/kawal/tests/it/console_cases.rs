//! The console's case pages over HTTP: MY-CERT opens a case and works on it from its page,
//! shares it with KH-CERT, which contributes; TH-CERT, outside, finds no trace of it; the
//! workflow offers only the moves it allows; alerts are escalated from the case list; the
//! metrics page draws what the cases' histories say.

use kawal_core::{Alert, Role};
use stix::Timestamp;

use crate::console::{inline_code, Browser, Page, PASSWORD};
use crate::harness::*;

/// MY-CERT (`ana`, analyst) and KH-CERT (`kim`, analyst; `kay`, reader) share group `asean`;
/// TH-CERT (`tom`, analyst) is outside it. Each organisation has its country.
fn partners() -> Instance {
    let it = Instance::start(1000, 1024 * 1024);
    let admin = it.admin();
    for (org, country) in [("MY-CERT", "MY"), ("KH-CERT", "KH"), ("TH-CERT", "TH")] {
        it.ex().add_org(&admin, org, Some(country)).unwrap();
    }
    it.ex()
        .add_group(&admin, "asean", &["MY-CERT".into(), "KH-CERT".into()])
        .unwrap();
    for (org, name, role) in [
        ("MY-CERT", "ana", Role::Analyst),
        ("KH-CERT", "kim", Role::Analyst),
        ("KH-CERT", "kay", Role::Reader),
        ("TH-CERT", "tom", Role::Analyst),
    ] {
        it.ex().add_user(&admin, org, name, role, PASSWORD).unwrap();
    }
    it
}

fn signed_in(it: &Instance, username: &str) -> Browser {
    let mut browser = Browser::new(&it.base);
    assert_eq!(browser.sign_in(username, PASSWORD).status, 303);
    browser
}

/// Opens a case from the list's form; returns the case's path.
fn open_case(browser: &mut Browser, name: &str) -> String {
    let csrf = browser.csrf();
    let opened = browser.post(
        "/cases",
        &[
            ("csrf", &csrf),
            ("name", name),
            ("severity", "high"),
            ("category", "intrusion"),
            ("tlp", "amber"),
            ("due", "2031-01-31"),
        ],
    );
    assert_eq!(opened.status, 303, "{}", opened.body);
    let path = opened.location.unwrap();
    assert!(path.starts_with("/cases/incident--"), "{path}");
    path
}

fn case_id(path: &str) -> &str {
    path.trim_start_matches("/cases/")
}

/// The text of the timeline, one entry a line, without tags.
fn timeline(page: &Page) -> Vec<String> {
    let start = page
        .body
        .find("<ol class=\"timeline\"")
        .unwrap_or_else(|| panic!("no timeline: {}", page.body));
    let end = start + page.body[start..].find("</ol>").unwrap();
    page.body[start..end]
        .split("<li")
        .skip(1)
        .map(|entry| {
            let mut text = String::new();
            let mut in_tag = true;
            for c in entry.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        text.push(' ');
                    }
                    _ if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The values of the status buttons the page offers.
fn moves(page: &Page) -> Vec<String> {
    page.body
        .split("data-status=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_case_is_worked_on_from_its_page_and_shared() {
    let it = partners();
    let mut ana = signed_in(&it, "ana");
    let path = open_case(&mut ana, "Telco campaign");
    let id = case_id(&path).to_owned();
    let csrf = ana.csrf();

    let page = ana.get(&path);
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("<span class=\"status\" id=\"case-status\">new</span>"));
    assert!(page.body.contains("2031-01-31 23:59:59 UTC"));
    assert_eq!(
        moves(&page),
        ["triage", "in-progress", "contained", "resolved", "closed"]
    );

    let note = ana.post(
        &format!("{path}/notes"),
        &[
            ("csrf", &csrf),
            ("abstract", "first look"),
            ("content", "Beaconing from the core routers every 60 s."),
            ("tlp", "amber"),
        ],
    );
    assert_eq!(note.status, 303, "{}", note.body);
    assert_eq!(
        note.location.as_deref(),
        Some(format!("{path}#timeline").as_str())
    );
    let task = ana.post(
        &format!("{path}/tasks"),
        &[
            ("csrf", &csrf),
            ("name", "Isolate the routers"),
            ("owner", "MY-CERT"),
            ("due", "2031-01-15"),
            ("tlp", "amber"),
        ],
    );
    assert_eq!(task.status, 303, "{}", task.body);
    let moved = ana.post(
        &format!("{path}/status"),
        &[("csrf", &csrf), ("status", "triage")],
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    let page = ana.get(&path);
    let entries = timeline(&page);
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(entries[0].contains("opened MY-CERT TLP:AMBER case opened: Telco campaign (new)"));
    assert!(
        entries[1].contains("note MY-CERT TLP:AMBER first look Beaconing from the core routers")
    );
    assert!(entries[2].contains("task MY-CERT TLP:AMBER task added: Isolate the routers"));
    assert!(entries[3].contains("status MY-CERT TLP:AMBER status new → triage"));
    assert_eq!(
        moves(&page),
        ["in-progress", "contained", "resolved", "closed"]
    );
    assert!(page.body.contains("Isolate the routers"));
    let task_id = page
        .body
        .split("name=\"task\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the task's status form")
        .to_owned();
    let done = ana.post(
        &format!("{path}/tasks/status"),
        &[("csrf", &csrf), ("task", &task_id), ("status", "done")],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(timeline(&ana.get(&path))
        .last()
        .unwrap()
        .contains("task Isolate the routers: done"));

    // A move the workflow does not allow is refused, with the reason, on the case's page.
    let back = ana.post(
        &format!("{path}/status"),
        &[("csrf", &csrf), ("status", "new")],
    );
    assert_eq!(back.status, 409);
    assert!(back.body.contains("a case goes from `triage` only forward"));

    // A RED note for MY-CERT alone, then the case is shared with KH-CERT.
    let red = ana.post(
        &format!("{path}/notes"),
        &[
            ("csrf", &csrf),
            ("content", "Source inside the ministry: do not relay"),
            ("tlp", "red"),
        ],
    );
    assert_eq!(red.status, 303);
    let shared = ana.post(
        &format!("{path}/share"),
        &[
            ("csrf", &csrf),
            ("organisation", "KH-CERT"),
            ("tlp", "amber"),
            ("contributions", "on"),
        ],
    );
    assert_eq!(shared.status, 303, "{}", shared.body);
    let page = ana.get(&path);
    assert!(page.body.contains("Partners may add notes"));
    let sharing = &page.body[page.body.find("id=\"case-organisations\"").unwrap()..];
    assert!(sharing[..sharing.find("</ul>").unwrap()].contains("KH-CERT"));
    assert!(page.body.contains("Source inside the ministry"));

    // KH-CERT reads the case, contributes, and sees no trace of the RED note.
    let mut kim = signed_in(&it, "kim");
    let list = kim.get("/cases");
    assert!(list.body.contains("Telco campaign"));
    let page = kim.get(&path);
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Source inside the ministry"));
    assert!(moves(&page).is_empty(), "a partner does not move the case");
    assert!(
        !page.body.contains("/share\""),
        "only the owner shares the case"
    );
    assert!(
        !page.body.contains("name=\"task\" value="),
        "a partner does not update the owner's tasks"
    );
    let kim_csrf = kim.csrf();
    let kim_note = kim.post(
        &format!("{path}/notes"),
        &[
            ("csrf", &kim_csrf),
            ("content", "Seen at the ministry too."),
            ("tlp", "amber"),
        ],
    );
    assert_eq!(kim_note.status, 303, "{}", kim_note.body);
    let kim_task = kim.post(
        &format!("{path}/tasks"),
        &[
            ("csrf", &kim_csrf),
            ("name", "Check the mail gateway of the ministry"),
            ("owner", "KH-CERT"),
            ("tlp", "amber"),
        ],
    );
    assert_eq!(kim_task.status, 303, "{}", kim_task.body);
    // Below the case's TLP is refused, with the rule's reason.
    let lower = kim.post(
        &format!("{path}/notes"),
        &[("csrf", &kim_csrf), ("content", "public"), ("tlp", "clear")],
    );
    assert_eq!(lower.status, 403, "{}", lower.body);
    assert!(lower.body.contains("TLP"), "{}", lower.body);

    let kim_view = timeline(&kim.get(&path));
    let ana_view = timeline(&ana.get(&path));
    assert!(kim_view
        .iter()
        .any(|e| e.contains("KH-CERT") && e.contains("Seen at the ministry too.")));
    assert!(ana_view
        .iter()
        .any(|e| e.contains("KH-CERT") && e.contains("Seen at the ministry too.")));
    assert!(ana_view
        .iter()
        .any(|e| e.contains("task added: Check the mail gateway of the ministry")));
    // The RED note is one entry more for MY-CERT, and nothing at all for KH-CERT.
    assert_eq!(ana_view.len(), kim_view.len() + 1);
    assert!(kim_view.iter().all(|e| !e.contains("RED")));

    // A reader of KH-CERT reads the case but is offered no form.
    let mut kay = signed_in(&it, "kay");
    let page = kay.get(&path);
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<form class=\"stack\" method=\"post\""));

    // TH-CERT finds no trace of the case anywhere it looks.
    let mut tom = signed_in(&it, "tom");
    let missing = tom.get(&path);
    assert_eq!(missing.status, 404);
    assert!(!missing.body.contains("Telco campaign"));
    crate::console::index_all(&it);
    for page in [
        "/cases",
        "/cases/metrics",
        "/",
        "/explore",
        "/explore?q=telco",
        "/explore?type=incident",
    ] {
        let shown = tom.get(page);
        assert_eq!(shown.status, 200, "{page}");
        for trace in [id.as_str(), "Telco campaign", "Beaconing", "ministry"] {
            assert!(
                !shown.body.contains(trace),
                "{page} shows `{trace}` to TH-CERT"
            );
        }
    }
    let tom_csrf = tom.csrf();
    let written = tom.post(
        &format!("{path}/notes"),
        &[("csrf", &tom_csrf), ("content", "let me in")],
    );
    assert_eq!(written.status, 404);
}

#[test]
fn the_case_list_filters_and_alerts_are_escalated_from_it() {
    let it = partners();
    let mut ana = signed_in(&it, "ana");
    let first = open_case(&mut ana, "Phishing wave");
    let csrf = ana.csrf();
    ana.post(
        &format!("{first}/status"),
        &[("csrf", &csrf), ("status", "contained")],
    );
    let my = it.ex().store().org_by_name("MY-CERT").unwrap().unwrap();
    let mut observable = serde_json::json!({"type": "domain-name", "value": "kitten.example"});
    let sco_id = stix::deterministic_id(observable.as_object().unwrap()).unwrap();
    observable["spec_version"] = "2.1".into();
    observable["id"] = sco_id.into();
    let alert = Alert {
        id: "4c1d8e0a-5f0e-4c6a-9a57-0d5b8d1f7a01".to_owned(),
        org: my.id,
        observed: Timestamp::now(),
        raised: Timestamp::now(),
        indicator: "indicator--00000000-0000-4000-8000-000000000001".to_owned(),
        indicator_name: Some("Kitten C2".to_owned()),
        collection: "c".to_owned(),
        source: "http".to_owned(),
        retro: false,
        objects: vec![observable],
        fields: serde_json::Map::new(),
    };
    it.ex().record_alerts(std::slice::from_ref(&alert)).unwrap();

    let unknown = ana.post(
        "/cases/escalate",
        &[("csrf", &csrf), ("alerts", "no-such-alert")],
    );
    assert_eq!(unknown.status, 404);
    assert!(unknown
        .body
        .contains("your organisation has no alert `no-such-alert`"));
    let escalated = ana.post(
        "/cases/escalate",
        &[
            ("csrf", &csrf),
            ("alerts", &alert.id),
            ("case", ""),
            ("name", "Kitten C2 beacon"),
            ("severity", "critical"),
            ("category", "malware"),
        ],
    );
    assert_eq!(escalated.status, 303, "{}", escalated.body);
    let path = escalated.location.unwrap();
    let page = ana.get(&path);
    let entries = timeline(&page);
    assert!(
        entries
            .iter()
            .any(|e| e.contains("sighting of indicator--00000000-0000-4000-8000-000000000001")),
        "{entries:?}"
    );
    assert!(page
        .body
        .contains("href=\"/objects/indicator--00000000-0000-4000-8000-000000000001\""));

    let all = ana.get("/cases");
    assert!(all.body.contains("2 cases"));
    let critical = ana.get("/cases?severity=critical");
    assert!(critical.body.contains("1 case<"));
    assert!(critical.body.contains("Kitten C2 beacon"));
    assert!(!critical.body.contains("Phishing wave</a>"));
    let contained = ana.get("/cases?status=contained&category=intrusion");
    assert!(contained.body.contains("Phishing wave</a>"));
    assert!(!contained.body.contains("Kitten C2 beacon</a>"));
    assert!(ana
        .get("/cases?status=closed")
        .body
        .contains("No case matches."));

    // Readers and sensors do not open cases: the forms are not offered, the exchange refuses.
    let mut kay = signed_in(&it, "kay");
    let list = kay.get("/cases");
    assert!(!list.body.contains("action=\"/cases/escalate\""));
    let kay_csrf = kay.csrf();
    let refused = kay.post("/cases", &[("csrf", &kay_csrf), ("name", "mine")]);
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("may not work on cases"));
}

#[test]
fn metrics_are_drawn_from_the_readable_histories() {
    let it = partners();
    let mut ana = signed_in(&it, "ana");
    let csrf = ana.csrf();
    for (name, to) in [("Resolved one", "resolved"), ("Contained one", "contained")] {
        let path = open_case(&mut ana, name);
        for status in ["triage", to] {
            let moved = ana.post(
                &format!("{path}/status"),
                &[("csrf", &csrf), ("status", status)],
            );
            assert_eq!(moved.status, 303, "{}", moved.body);
        }
        if to == "resolved" {
            ana.post(
                &format!("{path}/share"),
                &[
                    ("csrf", &csrf),
                    ("organisation", "TH-CERT"),
                    ("tlp", "green"),
                ],
            );
        }
    }
    let page = ana.get("/cases/metrics");
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("<td class=\"num\" id=\"metric-cases\">2</td>"));
    assert!(page.body.contains("<svg class=\"chart\""));
    assert!(page.body.contains("MY-CERT to acknowledge"));
    assert!(page
        .body
        .contains("<td>intrusion</td><td class=\"num\">2</td><td class=\"num\">1</td>"));
    // The case shared with TH-CERT has organisations in Malaysia and Thailand.
    assert!(page.body.contains("id=\"metric-cross-border\">1</td>"));
    // TH-CERT reads the one shared with it, and only that.
    let mut tom = signed_in(&it, "tom");
    let theirs = tom.get("/cases/metrics");
    assert!(theirs.body.contains("id=\"metric-cases\">1</td>"));
    assert!(theirs.body.contains("id=\"metric-cross-border\">1</td>"));
    assert!(!theirs.body.contains("Contained one"));
}

#[test]
fn case_pages_are_locked_down_and_free_of_inline_code() {
    let it = partners();
    let mut ana = signed_in(&it, "ana");
    let path = open_case(&mut ana, "<script>alert(1)</script> \" onmouseover=x");
    let csrf = ana.csrf();
    ana.post(
        &format!("{path}/notes"),
        &[("csrf", &csrf), ("content", "<img src=x onerror=alert(1)>")],
    );
    for page in [
        "/cases".to_owned(),
        "/cases?status=new&severity=high".to_owned(),
        path.clone(),
        "/cases/metrics".to_owned(),
        "/cases/incident--00000000-0000-4000-8000-000000000009".to_owned(),
        "/cases/not-a-case".to_owned(),
    ] {
        let shown = ana.get(&page);
        assert!(
            [200, 400, 404].contains(&shown.status),
            "{page}: {}",
            shown.status
        );
        assert_eq!(
            shown.header("content-security-policy"),
            Some(server::console::CONTENT_SECURITY_POLICY),
            "{page}"
        );
        assert_eq!(inline_code(&shown.body), Vec::<String>::new(), "{page}");
        assert!(!shown.body.contains("<script>alert"), "{page}");
        assert!(!shown.body.contains("<img src=x"), "{page}");
    }
    assert_eq!(ana.get("/cases/not-a-case").status, 400);
    assert_eq!(
        ana.get("/cases/incident--00000000-0000-4000-8000-000000000009")
            .status,
        404
    );
}
