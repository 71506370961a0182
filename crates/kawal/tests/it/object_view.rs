//! The REST view of one object (`GET /api/collections/{collection}/objects/{id}`): the versions
//! the caller may read, each with the leaf index that proves it is in the signed log.

use sha2::{Digest, Sha256};
use tlog::note::Verifier;
use tlog::Checkpoint;

use crate::harness::*;
use crate::log::wait_for_checkpoint;

const ID: &str = "indicator--7d3a0d39-0f5a-4d4e-9d0b-6a1f0c9e5b21";
const SECRET_ID: &str = "indicator--0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";

fn version(modified: &str, name: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{ID}","created":"2021-01-01T00:00:00.000Z","modified":"{modified}","name":"{name}","pattern":"[domain-name:value = 'view.example']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"}}"#
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn view(base: &str, collection: &str, id: &str, token: Option<&str>) -> Reply {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    call(
        "GET",
        &format!("{base}/api/collections/{collection}/objects/{id}"),
        &headers,
        None,
    )
}

/// Tiles and entry bundles are binary.
fn bytes(url: &str) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut ureq::get(url).call().unwrap().into_reader(), &mut out)
        .unwrap();
    out
}

fn leaf_in_status(status: &serde_json::Value, i: usize) -> u64 {
    status["successes"][i]["message"]
        .as_str()
        .unwrap()
        .trim_start_matches("logged at leaf ")
        .parse()
        .unwrap()
}

#[test]
fn readable_versions_with_leaves_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for org in ["MY-CERT", "KH-CERT", "XX-CERT"] {
        cli(&data, &["admin", "org", "add", org]);
    }
    cli(
        &data,
        &["admin", "group", "add", "g", "--orgs", "MY-CERT,KH-CERT"],
    );
    let collection = cli(&data, &["admin", "collection", "add", "C", "--group", "g"])
        .trim()
        .to_owned();
    let token = |org: &str, role: &str| {
        cli(
            &data,
            &["admin", "token", "add", "--org", org, "--role", role],
        )
        .trim()
        .to_owned()
    };
    let (producer, member, outsider) = (
        token("MY-CERT", "analyst"),
        token("KH-CERT", "reader"),
        token("XX-CERT", "reader"),
    );
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "checkpoint_interval_ms = 50\n").unwrap();
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let objects = format!("{}/kawal/collections/{collection}/objects/", server.base);

    let (v1, v2) = (
        version("2021-01-01T00:00:00.000Z", "first"),
        version("2021-06-01T00:00:00.000Z", "second"),
    );
    let secret = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{SECRET_ID}","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'red.example']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","object_marking_refs":["{}"]}}"#,
        stix::tlp::TLP2_RED
    );
    // The newer version first: the view orders by version, not by arrival.
    let status = post(
        &objects,
        &producer,
        &format!("{{\"objects\":[{v2},{v1},{secret}]}}"),
        &[],
    )
    .json();
    assert_eq!(status["success_count"], 3, "{status}");
    let (leaf_v2, leaf_v1) = (leaf_in_status(&status, 0), leaf_in_status(&status, 1));

    let reply = view(&server.base, &collection, ID, Some(&producer));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.content_type.starts_with("application/json"));
    let body = reply.json();
    assert_eq!(body["collection"], collection.as_str());
    assert_eq!(body["id"], ID);
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    for (v, (raw, leaf, modified)) in versions.iter().zip([
        (&v1, leaf_v1, "2021-01-01T00:00:00.000000Z"),
        (&v2, leaf_v2, "2021-06-01T00:00:00.000000Z"),
    ]) {
        assert_eq!(v["version"], modified);
        assert_eq!(v["tlp"], "amber", "the collection's default applies");
        assert_eq!(v["leaf"], leaf);
        assert_eq!(v["sha256"], hex(&Sha256::digest(raw.as_bytes())));
        assert!(v["date_added"].as_str().is_some_and(|d| d.ends_with('Z')));
    }
    // The object is served byte for byte as it was posted.
    assert!(reply.body.contains(v1.as_str()) && reply.body.contains(v2.as_str()));

    // Each leaf index verifies: the leaf at that index records these bytes, and an inclusion
    // proof leads from it to the root of the signed checkpoint.
    let key = call(
        "GET",
        &format!("{}/.well-known/kawal/log-key", server.base),
        &[],
        None,
    )
    .body;
    let key = Verifier::from_verifier_key(key.trim()).unwrap();
    let note = wait_for_checkpoint(&server.base, leaf_v1.max(leaf_v2) + 1);
    let (checkpoint, _) = Checkpoint::open(note.as_bytes(), &[&key]).unwrap();
    for v in versions {
        let leaf = v["leaf"].as_u64().unwrap();
        let index = leaf / 256;
        let width = (checkpoint.size() - index * 256).min(256) as u16;
        let bundle = tlog::tile::EntryBundleId::new(index, width).unwrap();
        let bytes = bytes(&format!("{}/log/{}", server.base, bundle.path()));
        let entries = tlog::tile::decode_entry_bundle(&bytes).unwrap();
        let entry = entries[(leaf % 256) as usize];
        let text = std::str::from_utf8(entry).unwrap();
        assert!(
            text.contains(&format!("\nid {ID}\n"))
                && text.contains(&format!("\nsha256 {}\n", v["sha256"].as_str().unwrap())),
            "{text}"
        );
        let proof = call(
            "GET",
            &format!(
                "{}/api/log/proof/inclusion?index={leaf}&size={}",
                server.base,
                checkpoint.size()
            ),
            &[],
            None,
        )
        .json();
        let proof: Vec<tlog::Hash> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| tlog::hash::hash_from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        tlog::proof::verify_inclusion(
            &tlog::leaf_hash(entry),
            leaf,
            checkpoint.size(),
            &proof,
            checkpoint.root(),
        )
        .unwrap();
    }

    // A member of the sharing group reads the AMBER object, not the RED one it was not given.
    let reply = view(&server.base, &collection, ID, Some(&member));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["versions"].as_array().unwrap().len(), 2);
    let hidden = view(&server.base, &collection, SECRET_ID, Some(&member));
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    let producer_reads_red = view(&server.base, &collection, SECRET_ID, Some(&producer)).json();
    assert_eq!(producer_reads_red["versions"][0]["tlp"], "red");

    // An organisation outside the group gets the REST error object, as for an unknown id.
    for (id, token) in [
        (ID, Some(&outsider)),
        (
            "indicator--00000000-0000-4000-8000-000000000000",
            Some(&producer),
        ),
    ] {
        let reply = view(&server.base, &collection, id, token.map(String::as_str));
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(reply.content_type, "application/json");
        let error = reply.json();
        assert_eq!(error["http_status"], "404");
        assert!(error["title"].is_string() && error["description"].is_string());
    }
    let anonymous = view(&server.base, &collection, ID, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
}
