//! The console's administration pages over HTTP: who may open which section, that every form
//! carries the session's form token, and that changes go through the exchange into the audit
//! trail.

use kawal_core::{AuditQuery, Role};

use crate::console::{community, inline_code, Browser, Page, PASSWORD};
use crate::harness::*;

const SECTIONS: [&str; 6] = [
    "/admin/organisations",
    "/admin/groups",
    "/admin/collections",
    "/admin/users",
    "/admin/tokens",
    "/admin/audit",
];

/// The community of `console::community`, with an admin of the instance's organisation
/// (`root`), an admin of KH-CERT (`kira`) and an analyst of KH-CERT (`kim`).
fn administered() -> (Instance, String) {
    let (it, collection) = community();
    let admin = it.admin();
    for (org, name, role) in [
        ("Instance", "root", Role::Admin),
        ("KH-CERT", "kira", Role::Admin),
        ("KH-CERT", "kim", Role::Analyst),
    ] {
        it.ex().add_user(&admin, org, name, role, PASSWORD).unwrap();
    }
    (it, collection)
}

fn signed_in(it: &Instance, username: &str) -> Browser {
    let mut browser = Browser::new(&it.base);
    assert_eq!(browser.sign_in(username, PASSWORD).status, 303);
    browser
}

/// The rows of the table body with this id, as text without tags.
fn rows(page: &Page, tbody: &str) -> Vec<String> {
    let start = page
        .body
        .find(&format!("<tbody id=\"{tbody}\">"))
        .unwrap_or_else(|| panic!("no table {tbody}: {}", page.body));
    let end = start + page.body[start..].find("</tbody>").unwrap();
    page.body[start..end]
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let mut text = String::new();
            let mut in_tag = false;
            for c in row.chars() {
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

#[test]
fn only_administrators_reach_the_administration_pages() {
    let (it, _) = administered();

    let mut ana = signed_in(&it, "ana");
    assert!(!ana.get("/").body.contains("href=\"/admin\""));
    for path in std::iter::once("/admin").chain(SECTIONS) {
        let page = ana.get(path);
        assert_eq!(page.status, 403, "{path} shown to an analyst");
        assert!(!page.body.contains("<table"), "{path}");
    }
    let csrf = ana.csrf();
    let refused = ana.post(
        "/admin/organisations",
        &[("csrf", &csrf), ("name", "SNEAKY")],
    );
    assert_eq!(refused.status, 403);
    assert!(it.ex().store().org_by_name("SNEAKY").unwrap().is_none());

    // An organisation's administrator manages its own accounts, tokens and audit events.
    it.token("MY-CERT", Role::Reader);
    let kh_token = it.token("KH-CERT", Role::Sensor);
    let mut kira = signed_in(&it, "kira");
    assert!(kira.get("/").body.contains("href=\"/admin\""));
    let index = kira.get("/admin");
    assert_eq!(index.status, 303);
    assert_eq!(index.location.as_deref(), Some("/admin/users"));
    for path in &SECTIONS[..3] {
        assert_eq!(
            kira.get(path).status,
            403,
            "{path} shown to KH-CERT's admin"
        );
    }
    let users = kira.get("/admin/users");
    assert_eq!(users.status, 200);
    let listed = rows(&users, "users");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|r| r.contains("KH-CERT")), "{listed:?}");
    assert!(!users.body.contains("Organisations</a>"));
    let tokens = rows(&kira.get("/admin/tokens"), "tokens");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(tokens[0].contains(kh_token.split(':').next().unwrap()));
    assert!(!kira
        .get("/admin/tokens")
        .body
        .contains(kh_token.split(':').nth(1).unwrap()));
    let audit = rows(&kira.get("/admin/audit"), "audit-events");
    assert!(!audit.is_empty());
    assert!(
        audit.iter().all(|r| r.ends_with("KH-CERT")),
        "another organisation's events: {audit:?}"
    );
    // Not its accounts: as if they did not exist.
    let csrf = kira.csrf();
    let other = kira.post(
        "/admin/users/change",
        &[("csrf", &csrf), ("username", "ana"), ("change", "disable")],
    );
    assert_eq!(other.status, 404, "{}", other.body);
    let mine = kira.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("org", "MY-CERT"),
            ("username", "mole"),
            ("role", "admin"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(mine.status, 403, "{}", mine.body);
    assert!(it.ex().store().user_by_name("mole").unwrap().is_none());

    let mut root = signed_in(&it, "root");
    assert_eq!(
        root.get("/admin").location.as_deref(),
        Some("/admin/organisations")
    );
    for path in SECTIONS {
        let page = root.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }
    assert_eq!(rows(&root.get("/admin/users"), "users").len(), 4);
}

#[test]
fn every_administration_and_case_form_needs_its_form_token() {
    let (it, _) = administered();
    let mut root = signed_in(&it, "root");
    let posts: [(&str, Vec<(&str, &str)>); 13] = [
        ("/admin/organisations", vec![("name", "FORGED")]),
        (
            "/admin/groups",
            vec![("name", "forged"), ("member", "MY-CERT")],
        ),
        (
            "/admin/groups/members",
            vec![("group", "asean"), ("member", "Instance")],
        ),
        (
            "/admin/collections",
            vec![("title", "Forged"), ("group", "asean")],
        ),
        (
            "/admin/users",
            vec![
                ("org", "MY-CERT"),
                ("username", "forged"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        ),
        (
            "/admin/users/change",
            vec![("username", "ana"), ("change", "delete")],
        ),
        ("/admin/tokens/revoke", vec![("token", "0123456789abcdef")]),
        ("/cases", vec![("name", "Forged case")]),
        ("/cases/escalate", vec![("alerts", "a1")]),
        (
            "/cases/incident--00000000-0000-4000-8000-000000000001/status",
            vec![("status", "triage")],
        ),
        (
            "/cases/incident--00000000-0000-4000-8000-000000000001/notes",
            vec![("content", "forged")],
        ),
        (
            "/cases/incident--00000000-0000-4000-8000-000000000001/tasks",
            vec![("name", "forged")],
        ),
        (
            "/cases/incident--00000000-0000-4000-8000-000000000001/share",
            vec![("organisation", "KH-CERT"), ("tlp", "amber")],
        ),
    ];
    let also = [
        "/cases/incident--00000000-0000-4000-8000-000000000001/details",
        "/cases/incident--00000000-0000-4000-8000-000000000001/tasks/status",
        "/cases/incident--00000000-0000-4000-8000-000000000001/links",
    ];
    let forms = posts
        .iter()
        .map(|(path, form)| (*path, form.clone()))
        .chain(also.iter().map(|path| (*path, vec![])));
    for (path, form) in forms {
        for token in [None, Some("0123456789abcdef")] {
            let mut fields = form.clone();
            if let Some(token) = token {
                fields.push(("csrf", token));
            }
            let refused = root.post(path, &fields);
            assert_eq!(refused.status, 403, "{path} with {token:?}");
            assert!(refused.body.contains("CSRF"), "{path}: {}", refused.body);
        }
    }
    let ex = it.ex();
    assert!(ex.store().org_by_name("FORGED").unwrap().is_none());
    assert!(ex.store().group_by_name("forged").unwrap().is_none());
    assert_eq!(
        ex.store()
            .group_by_name("asean")
            .unwrap()
            .unwrap()
            .members
            .len(),
        2
    );
    assert!(ex
        .store()
        .collections()
        .unwrap()
        .iter()
        .all(|c| c.title != "Forged"));
    assert!(ex.store().user_by_name("forged").unwrap().is_none());
    assert!(ex.store().user_by_name("ana").unwrap().is_some());
    assert!(ex.cases(&it.admin()).unwrap().is_empty());
}

#[test]
fn an_instance_administrator_manages_the_community() {
    let (it, _) = administered();
    let mut root = signed_in(&it, "root");
    let csrf = root.csrf();

    let added = root.post(
        "/admin/organisations",
        &[("csrf", &csrf), ("name", "TH-CERT"), ("country", "th")],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("Organisation TH-CERT was added."));
    assert!(rows(&added, "organisations")
        .iter()
        .any(|r| r.starts_with("TH-CERT TH identity--")));
    let refused = root.post(
        "/admin/organisations",
        &[("csrf", &csrf), ("name", "XX"), ("country", "Thailand")],
    );
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("is not an ISO 3166-1 alpha-2 code"));

    let group = root.post(
        "/admin/groups",
        &[
            ("csrf", &csrf),
            ("name", "mekong"),
            ("member", "KH-CERT"),
            ("member", "TH-CERT"),
        ],
    );
    assert_eq!(group.status, 200, "{}", group.body);
    assert!(rows(&group, "groups")
        .iter()
        .any(|r| r.starts_with("mekong KH-CERT, TH-CERT")));
    let grown = root.post(
        "/admin/groups/members",
        &[("csrf", &csrf), ("group", "mekong"), ("member", "MY-CERT")],
    );
    assert_eq!(grown.status, 200, "{}", grown.body);
    assert!(grown
        .body
        .contains("Sharing group mekong now has 3 members."));

    // A writer outside the group is refused with the reason, and nothing is made.
    let outside = root.post(
        "/admin/collections",
        &[
            ("csrf", &csrf),
            ("title", "Mekong indicators"),
            ("group", "asean"),
            ("writer", "TH-CERT"),
            ("default_tlp", "green"),
        ],
    );
    assert_eq!(outside.status, 400);
    assert!(outside
        .body
        .contains("writer `TH-CERT` is not a member of sharing group `asean`"));
    let collection = root.post(
        "/admin/collections",
        &[
            ("csrf", &csrf),
            ("title", "Mekong indicators"),
            ("group", "mekong"),
            ("writer", "TH-CERT"),
            ("default_tlp", "amber+strict"),
            ("public", "on"),
        ],
    );
    assert_eq!(collection.status, 200, "{}", collection.body);
    let made = it
        .ex()
        .store()
        .collections()
        .unwrap()
        .into_iter()
        .find(|c| c.title == "Mekong indicators")
        .unwrap();
    assert_eq!(made.default_tlp, stix::Tlp::AmberStrict);
    assert!(made.public);
    assert!(rows(&collection, "collections")
        .iter()
        .any(|r| r.contains("Mekong indicators")
            && r.contains("mekong TH-CERT TLP:AMBER+STRICT yes")));

    // Accounts: added, disabled (its sessions end), enabled, deleted.
    let user = root.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("org", "TH-CERT"),
            ("username", "tom"),
            ("role", "reader"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(user.status, 200, "{}", user.body);
    let short = root.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("org", "TH-CERT"),
            ("username", "tim"),
            ("role", "reader"),
            ("password", "short"),
        ],
    );
    assert_eq!(short.status, 400);
    assert!(short.body.contains("at least 12 characters"));
    let mut tom = signed_in(&it, "tom");
    assert_eq!(tom.get("/").status, 200);
    let change = |browser: &mut Browser, change: &str| {
        browser.post(
            "/admin/users/change",
            &[("csrf", &csrf), ("username", "tom"), ("change", change)],
        )
    };
    let disabled = change(&mut root, "disable");
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(rows(&disabled, "users")
        .iter()
        .any(|r| r.starts_with("tom TH-CERT reader") && r.contains("disabled")));
    assert_eq!(
        tom.get("/").status,
        303,
        "a disabled account's session ends"
    );
    let mut again = Browser::new(&it.base);
    let refused = again.sign_in("tom", PASSWORD);
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("this account is disabled"));
    assert_eq!(change(&mut root, "enable").status, 200);
    assert_eq!(again.sign_in("tom", PASSWORD).status, 303);
    let deleted = change(&mut root, "delete");
    assert_eq!(deleted.status, 200);
    assert!(deleted.body.contains("Account tom was deleted."));
    assert!(it.ex().store().user_by_name("tom").unwrap().is_none());
    assert_eq!(again.get("/").status, 303);
    let own = root.post(
        "/admin/users/change",
        &[("csrf", &csrf), ("username", "root"), ("change", "disable")],
    );
    assert_eq!(own.status, 400);
    assert!(own.body.contains("you cannot disable your own account"));

    // Tokens: listed without secrets, revoked.
    let credentials = it.token("TH-CERT", Role::Analyst);
    let (token_id, secret) = credentials.split_once(':').unwrap();
    let listed = root.get("/admin/tokens");
    assert!(!listed.body.contains(secret));
    assert!(rows(&listed, "tokens")
        .iter()
        .any(|r| r.contains(token_id) && r.contains("in use")));
    let revoked = root.post(
        "/admin/tokens/revoke",
        &[("csrf", &csrf), ("token", token_id)],
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(rows(&revoked, "tokens")
        .iter()
        .any(|r| r.contains(token_id) && r.contains("revoked")));
    let whoami = call(
        "GET",
        &format!("{}/api/whoami", it.base),
        &[("Authorization", &bearer(&credentials))],
        None,
    );
    assert_eq!(whoami.status, 401);

    // Every change is in the audit trail, under the person who made it.
    let trail = it
        .ex()
        .audit(
            &it.admin(),
            AuditQuery {
                actor: Some("user:root".to_owned()),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "org.add",
        "group.add",
        "group.members",
        "collection.add",
        "user.add",
        "user.disable",
        "user.enable",
        "user.delete",
        "token.revoke",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[test]
fn the_audit_trail_is_searched_and_paged() {
    let (it, _) = administered();
    // Failed sign-ins and a few dozen reads make a trail longer than a page.
    for _ in 0..3 {
        Browser::new(&it.base).sign_in("kim", "not the password at all");
    }
    let mut root = signed_in(&it, "root");
    for _ in 0..60 {
        root.get("/cases");
    }
    let first = root.get("/admin/audit?actor=user%3Aroot");
    assert_eq!(first.status, 200);
    let first_rows = rows(&first, "audit-events");
    assert_eq!(first_rows.len(), 50);
    assert!(first_rows.iter().all(|r| r.contains("user:root")));
    let older = first
        .body
        .split("href=\"")
        .find(|s| s.starts_with("/admin/audit?actor=user%3Aroot&#38;before="))
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no link to older events: {}", first.body))
        .replace("&#38;", "&");
    let second_rows = rows(&root.get(&older), "audit-events");
    assert!(!second_rows.is_empty());
    // Each event is on one page only: the two pages together hold every `read cases` once.
    let all = it
        .ex()
        .audit(
            &it.admin(),
            AuditQuery {
                actor: Some("user:root".to_owned()),
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(first_rows.len() + second_rows.len(), all.len());

    let refused = rows(
        &root.get("/admin/audit?action=sign-in&outcome=refused"),
        "audit-events",
    );
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused
        .iter()
        .all(|r| r.contains("user:kim sign-in") && r.contains("refused: wrong credentials")));
    let by_target = rows(
        &root.get("/admin/audit?target=cases&actor=user%3Aroot"),
        "audit-events",
    );
    assert!(by_target.len() >= 50);
    let today = stix::Timestamp::now().to_string()[..10].to_owned();
    let in_range = root.get(&format!(
        "/admin/audit?action=sign-in&from={today}&to={today}"
    ));
    assert_eq!(rows(&in_range, "audit-events").len(), 4);
    let none = root.get("/admin/audit?action=sign-in&to=2000-01-01");
    assert!(rows(&none, "audit-events")[0].contains("No event matches"));
    let bad = root.get("/admin/audit?from=last+week");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("`last week` in from is not a date"));
}

#[test]
fn administration_pages_are_locked_down_and_free_of_inline_code() {
    let (it, _) = administered();
    let mut root = signed_in(&it, "root");
    for path in SECTIONS
        .iter()
        .map(|p| (*p).to_owned())
        .chain(["/admin/audit?actor=%3Cscript%3E".to_owned()])
    {
        let page = root.get(&path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            page.header("content-security-policy"),
            Some(server::console::CONTENT_SECURITY_POLICY),
            "{path}"
        );
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(inline_code(&page.body), Vec::<String>::new(), "{path}");
        // Every form that changes something carries the form token.
        for form in page.body.split("<form").skip(1) {
            let form = &form[..form.find("</form>").unwrap()];
            if form.contains("method=\"post\"") {
                assert!(form.contains("name=\"csrf\""), "{path}: {form}");
            }
        }
    }
    let reflected = root.get("/admin/audit?actor=%3Cscript%3E");
    assert!(!reflected.body.contains("<script>"));
}
