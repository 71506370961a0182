//! The OpenAPI document describes the REST API that is actually served.

use crate::harness::*;

#[test]
fn every_documented_operation_is_routed() {
    let it = Instance::start(100, 1024 * 1024);
    let doc = call("GET", &format!("{}/api/openapi.json", it.base), &[], None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 8);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path
                .replace("{collection}", "2d086da7-4bdc-4f91-900e-d77486753710")
                .replace("{token}", "0123456789abcdef")
                .replace(
                    "{object}",
                    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                )
                .replace("{format}", "ip")
                .replace("{id}", "6f1c1d8e-3a57-4e0c-9a55-2f3b1a7c9d10");
            let reply = call(
                &method.to_uppercase(),
                &format!("{}{concrete}", it.base),
                &[("Content-Type", "application/json")],
                Some(b"{}"),
            );
            // Unauthenticated calls are refused or answered, but the route exists.
            assert_ne!(
                reply.status, 405,
                "{method} {path} is documented but not routed"
            );
            let routed = reply.status != 404
                || reply.json()["description"]
                    .as_str()
                    .is_some_and(|d| !d.starts_with("no resource at"));
            assert!(
                routed,
                "{method} {path} is documented but not routed: {}",
                reply.body
            );
        }
    }
}
