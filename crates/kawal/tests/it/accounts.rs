//! The web console's accounts managed over the REST API, as automation would: added, listed,
//! disabled, enabled and deleted by the admins who administer them, each step audited.

use kawal_core::{AuditQuery, Role};
use serde_json::json;

use crate::console::{Browser, PASSWORD};
use crate::harness::*;

fn rest(it: &Instance, method: &str, path: &str, token: &str, body: Option<&str>) -> Reply {
    call(
        method,
        &format!("{}{path}", it.base),
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/json"),
        ],
        body.map(str::as_bytes),
    )
}

fn usernames(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn admins_manage_their_accounts_over_the_rest_api() {
    let it = Instance::start(1000, 1 << 20);
    for org in ["MY-CERT", "TH-CERT"] {
        it.ex().add_org(&it.admin(), org, None).unwrap();
    }
    let instance_admin = it.token("Instance", Role::Admin);
    let my_admin = it.token("MY-CERT", Role::Admin);
    let th_admin = it.token("TH-CERT", Role::Admin);
    let my_analyst = it.token("MY-CERT", Role::Analyst);
    let new_user = |username: &str, org: &str, password: &str| {
        json!({ "username": username, "org": org, "role": "analyst", "password": password })
            .to_string()
    };

    // An organisation's admin adds accounts to its own organisation only.
    let added = rest(
        &it,
        "POST",
        "/api/users",
        &my_admin,
        Some(&new_user("aisyah", "MY-CERT", PASSWORD)),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let user = added.json();
    assert_eq!(user["username"], "aisyah");
    assert_eq!(user["role"], "analyst");
    assert_eq!(user["disabled"], false);
    assert!(user.get("password_hash").is_none(), "{user}");
    assert!(!added.body.contains("argon2"), "{}", added.body);
    let elsewhere = rest(
        &it,
        "POST",
        "/api/users",
        &my_admin,
        Some(&new_user("somchai", "TH-CERT", PASSWORD)),
    );
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    for (body, status, says) in [
        (
            new_user("aisyah", "MY-CERT", PASSWORD),
            409,
            "already exists",
        ),
        (
            new_user("short", "MY-CERT", "short"),
            400,
            "at least 12 characters",
        ),
        (
            new_user("no one", "MY-CERT", PASSWORD),
            400,
            "username `no one`",
        ),
        (new_user("x", "NO-CERT", PASSWORD), 400, "does not exist"),
        (
            json!({ "username": "x", "org": "MY-CERT", "role": "root", "password": PASSWORD })
                .to_string(),
            400,
            "not a role",
        ),
        (
            json!({ "username": "x", "org": "MY-CERT", "role": "reader" }).to_string(),
            400,
            "missing field `password`",
        ),
    ] {
        let refused = rest(&it, "POST", "/api/users", &my_admin, Some(&body));
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert!(refused.body.contains(says), "{body}: {}", refused.body);
    }
    assert_eq!(
        rest(
            &it,
            "POST",
            "/api/users",
            &instance_admin,
            Some(&new_user("somchai", "TH-CERT", PASSWORD)),
        )
        .status,
        201
    );

    // Each admin lists the accounts it administers; others may not list.
    let listed = |token: &str| usernames(&rest(&it, "GET", "/api/users", token, None));
    assert_eq!(listed(&my_admin), ["aisyah"]);
    assert_eq!(listed(&th_admin), ["somchai"]);
    let mut everyone = listed(&instance_admin);
    everyone.sort();
    assert_eq!(everyone, ["aisyah", "somchai"]);
    assert_eq!(
        rest(&it, "GET", "/api/users", &my_analyst, None).status,
        403
    );

    // Disabling ends the account's session and refuses its sign-ins; another organisation's
    // admin finds no such account.
    let mut aisyah = Browser::new(&it.base);
    assert_eq!(aisyah.sign_in("aisyah", PASSWORD).status, 303);
    assert_eq!(aisyah.get("/").status, 200);
    let path = "/api/users/aisyah/disabled";
    let hidden = rest(&it, "PUT", path, &th_admin, None);
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    assert!(hidden.body.contains("no account `aisyah` that you manage"));
    let disabled = rest(&it, "PUT", path, &my_admin, None);
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.json()["disabled"], true);
    assert_eq!(aisyah.get("/").status, 303, "the session ended");
    let refused = Browser::new(&it.base).sign_in("aisyah", PASSWORD);
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("this account is disabled"));
    let enabled = rest(&it, "DELETE", path, &my_admin, None);
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.json()["disabled"], false);
    assert_eq!(aisyah.sign_in("aisyah", PASSWORD).status, 303);

    // Deleting removes the account and its sessions.
    assert_eq!(
        rest(&it, "DELETE", "/api/users/aisyah", &th_admin, None).status,
        404
    );
    let deleted = rest(&it, "DELETE", "/api/users/aisyah", &my_admin, None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(listed(&my_admin).is_empty());
    assert_eq!(aisyah.get("/").status, 303);
    assert_eq!(
        rest(&it, "DELETE", "/api/users/aisyah", &my_admin, None).status,
        404
    );

    // Every step is in the audit trail, under the token that took it.
    let trail = it
        .ex()
        .audit(
            &it.admin(),
            AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    for action in ["user.add", "user.disable", "user.enable", "user.delete"] {
        assert!(
            trail.iter().any(|e| e.action == action
                && e.target == "aisyah"
                && e.actor.starts_with("token:")),
            "{action} of aisyah missing from {trail:?}"
        );
    }
}
