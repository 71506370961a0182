//! The transparency log seen from a partner: `kawal verify` and `kawal log monitor` against the
//! real server, and tampering with its database caught.

use std::path::Path;
use std::time::Duration;

use crate::harness::*;

pub fn indicator(n: u32) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'd{n}.example']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"}}"#
    )
}

pub fn wait_for_checkpoint(base: &str, size: u64) -> String {
    for _ in 0..100 {
        let note = call("GET", &format!("{base}/log/checkpoint"), &[], None);
        if note.status == 200
            && note
                .body
                .lines()
                .nth(1)
                .and_then(|l| l.parse::<u64>().ok())
                .is_some_and(|s| s >= size)
        {
            return note.body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no checkpoint of size {size} appeared");
}

pub fn kawal_run(args: &[&str]) -> (bool, String) {
    let out = kawal().args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub fn setup(data: &Path) -> (String, String) {
    std::fs::create_dir_all(data).unwrap();
    cli(data, &["admin", "org", "add", "MY-CERT"]);
    cli(data, &["admin", "group", "add", "g", "--orgs", "MY-CERT"]);
    let collection = cli(data, &["admin", "collection", "add", "C", "--group", "g"])
        .trim()
        .to_owned();
    let token = cli(
        data,
        &[
            "admin", "token", "add", "--org", "MY-CERT", "--role", "analyst",
        ],
    )
    .trim()
    .to_owned();
    (collection, token)
}

#[test]
fn partners_verify_objects_and_catch_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "checkpoint_interval_ms = 50\n").unwrap();
    let (collection, token) = setup(&data);
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let url = format!("{}/kawal/collections/{collection}/objects/", server.base);
    let objects: Vec<String> = (0..20).map(indicator).collect();
    let status = post(
        &url,
        &token,
        &format!("{{\"objects\":[{}]}}", objects.join(",")),
        &[],
    )
    .json();
    let leaf: u64 = status["successes"][7]["message"]
        .as_str()
        .unwrap()
        .trim_start_matches("logged at leaf ")
        .parse()
        .unwrap();
    let (size, _) = (leaf + 13, ());
    let first = wait_for_checkpoint(&server.base, size);
    let cp = dir.path().join("checkpoint");
    std::fs::write(&cp, &first).unwrap();
    let object = dir.path().join("object.json");
    std::fs::write(&object, &objects[7]).unwrap();
    let log = server.base.as_str();
    let (ok, out) = kawal_run(&[
        "verify",
        "object",
        object.to_str().unwrap(),
        "--log",
        log,
        "--checkpoint",
        cp.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("is leaf {leaf} of")), "{out}");

    post(
        &url,
        &token,
        &format!("{{\"objects\":[{}]}}", indicator(99)),
        &[],
    );
    wait_for_checkpoint(&server.base, size + 1);
    let (ok, out) = kawal_run(&["verify", "log", log, "--since", cp.to_str().unwrap()]);
    assert!(ok && out.contains("consistent"), "{out}");
    let (ok, out) = kawal_run(&["log", "monitor", log, "--checkpoints", "1", "--every", "1"]);
    assert!(ok, "{out}");

    // An object edited in the database is served, but no longer matches its leaf.
    let db = rusqlite::Connection::open(data.join("kawal.db")).unwrap();
    db.execute(
        "UPDATE objects SET raw = replace(raw, 'd7.example', 'd7.evil') WHERE id = 'indicator--00000000-0000-4000-8000-000000000007'",
        [],
    )
    .unwrap();
    let served = get(
        &format!("{url}indicator--00000000-0000-4000-8000-000000000007/"),
        Some(&token),
    )
    .json();
    std::fs::write(&object, served["objects"][0].to_string()).unwrap();
    let leaf_arg = leaf.to_string();
    let (ok, out) = kawal_run(&[
        "verify",
        "object",
        object.to_str().unwrap(),
        "--log",
        log,
        "--leaf",
        &leaf_arg,
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("indicator--00000000-0000-4000-8000-000000000007")
            && out.contains(&format!("leaf {leaf}"))
            && out.contains("altered"),
        "{out}"
    );

    // A leaf deleted from the database breaks the log's own commitment.
    db.execute("DELETE FROM log_leaves WHERE idx = ?1", [leaf as i64])
        .unwrap();
    let (ok, out) = kawal_run(&["log", "monitor", log, "--checkpoints", "1", "--every", "1"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("leaves from {leaf} on are missing"))
            || out.contains(&format!("leaf {leaf}")),
        "{out}"
    );
}

#[test]
fn store_and_log_agree_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (collection, token) = setup(&data);
    let server = Binary::serve(&data);
    let url = format!("{}/kawal/collections/{collection}/objects/", server.base);
    let writer = std::thread::spawn(move || {
        for batch in 0..10_000u32 {
            let objects: Vec<String> = (0..25).map(|i| indicator(batch * 100 + i)).collect();
            let body = format!("{{\"objects\":[{}]}}", objects.join(","));
            let auth = bearer(&token);
            let sent = ureq::post(&url)
                .set("Content-Type", TAXII)
                .set("Authorization", &auth)
                .send_string(&body);
            if sent.is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(1200));
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    writer.join().unwrap();

    let db = rusqlite::Connection::open(data.join("kawal.db")).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let objects = count("SELECT count(*) FROM objects");
    assert!(objects > 0, "nothing was stored before the kill");
    // Each version names its own leaf, whose text is rendered from the row (empty data), and
    // every such leaf belongs to exactly one stored version; `verify log` below checks the
    // rendered texts against the hashes the checkpoint commits to.
    let unlogged = count(
        "SELECT count(*) FROM objects o WHERE NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.idx = o.leaf AND length(l.data) = 0)",
    );
    let orphans = count(
        "SELECT count(*) FROM log_leaves l WHERE length(l.data) = 0
             AND (SELECT count(*) FROM objects o WHERE o.leaf = l.idx) <> 1",
    );
    assert_eq!((unlogged, orphans), (0, 0));
    // The restarted log extends the last checkpoint it published.
    let cp = db
        .query_row(
            "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .ok();
    drop(db);
    let restarted = Binary::serve(&data);
    if let Some(note) = cp {
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        wait_for_checkpoint(&restarted.base, size);
        let path = dir.path().join("cp");
        std::fs::write(&path, note).unwrap();
        let (ok, out) = kawal_run(&[
            "verify",
            "log",
            &restarted.base,
            "--since",
            path.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
    }
}

/// `transparency_log = false`: objects are stored and served, nothing is logged, and the log's
/// endpoints say why they have nothing.
#[test]
fn an_instance_without_a_log_stores_but_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("kawal.toml");
    std::fs::write(&config, "transparency_log = false\n").unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let with_config = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", config.to_str().unwrap()]);
        cli(&data, &all)
    };
    with_config(&["admin", "org", "add", "MY-CERT"]);
    with_config(&["admin", "group", "add", "g", "--orgs", "MY-CERT"]);
    let collection = with_config(&["admin", "collection", "add", "C", "--group", "g"]);
    let token = with_config(&[
        "admin", "token", "add", "--org", "MY-CERT", "--role", "analyst",
    ]);
    let server = Binary::serve_with(&data, &["--config", config.to_str().unwrap()]);
    let url = format!(
        "{}/kawal/collections/{}/objects/",
        server.base,
        collection.trim()
    );
    // Feeds have no change stamp to cache by, so each fetch sees the latest writes.
    let feed = |token: &str| {
        let reply = call(
            "GET",
            &format!("{}/api/feeds/domain", server.base),
            &[("Authorization", &bearer(token))],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    assert!(!feed(token.trim()).contains("d1.example"));
    let status = post(
        &url,
        token.trim(),
        &format!("{{\"objects\":[{}]}}", indicator(1)),
        &[],
    )
    .json();
    assert_eq!(status["success_count"], 1, "{status}");
    assert!(feed(token.trim()).contains("d1.example"));
    assert!(status["successes"][0].get("message").is_none(), "{status}");
    assert_eq!(get_all(&url, Some(token.trim()), "objects").len(), 1);
    std::thread::sleep(Duration::from_millis(1200));
    for path in [
        "/log/checkpoint",
        "/log/tile/0/000.p/1",
        "/api/log/proof/inclusion?index=0&size=1",
    ] {
        let reply = call("GET", &format!("{}{path}", server.base), &[], None);
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("keeps no transparency log"),
            "{path}: {}",
            reply.body
        );
    }
    let db = rusqlite::Connection::open(data.join("kawal.db")).unwrap();
    let leaves: i64 = db
        .query_row("SELECT count(*) FROM log_leaves", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leaves, 0);
}
