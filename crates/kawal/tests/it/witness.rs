//! Two real `kawal serve` processes, B witnessing A (C2SP tlog-witness): A's published
//! checkpoints carry B's cosignature, and B refuses forged and forked checkpoints of A without
//! moving its state.

use std::path::Path;
use std::time::Duration;

use tlog::cosignature::{CosignatureVerifier, Cosigner};
use tlog::note::{Note, NoteVerifier, Signer, Verifier};
use tlog::witness::AddCheckpoint;
use tlog::Checkpoint;

use crate::harness::*;
use crate::log::{indicator, kawal_run, setup};

const A_ORIGIN: &str = "a.example/kawal";
const B_WITNESS: &str = "b.example/witness";

fn text(url: &str) -> String {
    let reply = call("GET", url, &[], None);
    assert_eq!(reply.status, 200, "{url}: {}", reply.body);
    reply.body
}

/// Polls A's checkpoint until it covers `size` leaves and carries a valid cosignature by the
/// witness; returns the note.
fn wait_for_cosigned(
    base: &str,
    size: u64,
    log: &Verifier,
    witness: &CosignatureVerifier,
) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        let reply = call("GET", &format!("{base}/log/checkpoint"), &[], None);
        if reply.status == 200 {
            last = reply.body;
            let note = Note::parse(last.as_bytes()).expect("a signed note");
            let cp = Checkpoint::parse(note.text()).expect("a checkpoint");
            let keys: [&dyn NoteVerifier; 2] = [log, witness];
            let opened = note.verify(&keys).expect("every known signature verifies");
            let by_witness = opened
                .verified
                .iter()
                .any(|s| s.name == witness.name() && s.key_id == witness.key_id());
            let by_log = opened
                .verified
                .iter()
                .any(|s| s.name == log.name() && s.key_id == log.key_id());
            if cp.size() >= size && by_witness && by_log {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "no checkpoint of size {size} cosigned by {}; last: {last}",
        witness.name()
    );
}

fn post_checkpoint(b: &str, body: &[u8]) -> Reply {
    call("POST", &format!("{b}/add-checkpoint"), &[], Some(body))
}

fn serve_with_config(data: &Path, config: &Path, toml: &str) -> Binary {
    std::fs::write(config, toml).unwrap();
    Binary::serve_with(data, &["--config", config.to_str().unwrap()])
}

fn leaf_of(status: &serde_json::Value, i: usize) -> u64 {
    status["successes"][i]["message"]
        .as_str()
        .unwrap()
        .trim_start_matches("logged at leaf ")
        .parse()
        .unwrap()
}

#[test]
fn b_witnesses_a_and_refuses_forks() {
    let dir = tempfile::tempdir().unwrap();
    let (a_data, b_data) = (dir.path().join("a"), dir.path().join("b"));
    let (a_config, b_config) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    let (collection, token) = setup(&a_data);
    let a_alone = format!("log_origin = \"{A_ORIGIN}\"\ncheckpoint_interval_ms = 50\n");

    // A's log key is made on its first start; B is configured to witness it.
    let a = serve_with_config(&a_data, &a_config, &a_alone);
    let a_key = text(&format!("{}/.well-known/kawal/log-key", a.base));
    drop(a);
    let log_key = Verifier::from_verifier_key(a_key.trim()).unwrap();
    assert_eq!(log_key.name(), A_ORIGIN);
    std::fs::create_dir_all(&b_data).unwrap();
    let b = serve_with_config(
        &b_data,
        &b_config,
        &format!(
            "witness_name = \"{B_WITNESS}\"\n\n[[witnessed_logs]]\nkey = \"{}\"\n",
            a_key.trim()
        ),
    );
    let b_key = text(&format!("{}/.well-known/kawal/witness-key", b.base));
    let witness_key = CosignatureVerifier::from_verifier_key(b_key.trim()).unwrap();
    assert_eq!(witness_key.name(), B_WITNESS);
    let b_key_file = std::fs::metadata(b_data.join("witness.key")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&b_key_file.permissions()) & 0o777,
        0o600
    );

    // A submits to B; after a TAXII POST, A's published checkpoint carries B's cosignature.
    let with_witness = format!(
        "{a_alone}\n[[log_witnesses]]\nkey = \"{}\"\nurl = \"{}\"\n",
        b_key.trim(),
        b.base
    );
    let a = serve_with_config(&a_data, &a_config, &with_witness);
    let url = format!("{}/kawal/collections/{collection}/objects/", a.base);
    let objects: Vec<String> = (0..3).map(indicator).collect();
    let status = post(
        &url,
        &token,
        &format!("{{\"objects\":[{}]}}", objects.join(",")),
        &[],
    )
    .json();
    let leaf = leaf_of(&status, 2);
    let first = wait_for_cosigned(&a.base, leaf + 1, &log_key, &witness_key);
    let first_cp = Checkpoint::parse(Note::parse(first.as_bytes()).unwrap().text()).unwrap();

    // B serves what it cosigned to monitors, at the hash of A's origin.
    let monitored = format!(
        "{}/witness/{}/checkpoint",
        b.base,
        server::origin_hex(A_ORIGIN)
    );
    let held = text(&monitored);
    let held_note = Note::parse(held.as_bytes()).unwrap();
    let keys: [&dyn NoteVerifier; 2] = [&log_key, &witness_key];
    assert_eq!(held_note.verify(&keys).unwrap().verified.len(), 2);
    let held_cp = Checkpoint::parse(held_note.text()).unwrap();
    assert!(held_cp.size() >= first_cp.size(), "{held}");

    // A partner checks the cosignature from the command line.
    let since = dir.path().join("since");
    std::fs::write(&since, &first).unwrap();
    let (ok, out) = kawal_run(&[
        "verify",
        "log",
        &a.base,
        "--since",
        since.to_str().unwrap(),
        "--witness-key",
        b_key.trim(),
    ]);
    assert!(
        ok && out.contains(&format!("cosigned by {B_WITNESS} at ")),
        "{out}"
    );
    let stranger = Cosigner::from_seed("c.example/witness", &[3; 32]).unwrap();
    let stranger_key = stranger.verifier().verifier_key();
    let (ok, out) = kawal_run(&[
        "verify",
        "log",
        &a.base,
        "--since",
        since.to_str().unwrap(),
        "--witness-key",
        b_key.trim(),
        "--witness-key",
        &stranger_key,
    ]);
    assert!(
        !ok && out.contains("NOT cosigned by c.example/witness"),
        "{out}"
    );
    let (ok, out) = kawal_run(&[
        "log",
        "monitor",
        &a.base,
        "--checkpoints",
        "1",
        "--every",
        "1",
        "--witness-key",
        b_key.trim(),
    ]);
    assert!(
        ok && out.contains(&format!("cosigned by {B_WITNESS} at ")),
        "{out}"
    );

    // Refusals, each with its status, none of which moves B's state.
    let held = text(&monitored);
    let size = Checkpoint::parse(Note::parse(held.as_bytes()).unwrap().text())
        .unwrap()
        .size();
    let a_signer = Signer::from_signer_key(
        std::fs::read_to_string(a_data.join("log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let sign = |signer: &Signer, origin: &str, size: u64, root: tlog::Hash| {
        Checkpoint::new(origin, size, root)
            .and_then(|c| c.sign(&[signer]))
            .unwrap()
    };
    let request = |old: u64, proof: Vec<tlog::Hash>, note: String| {
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note,
        }
        .to_body()
    };
    let fake_root = tlog::leaf_hash(b"a history A never had");
    let forger = Signer::from_seed(A_ORIGIN, &[7; 32]).unwrap();
    let foreign = Signer::from_seed("z.example/log", &[8; 32]).unwrap();
    let cases: Vec<(&str, String, u16)> = vec![
        ("malformed", "old 1\nnot base64\n\nx\n".to_owned(), 400),
        (
            "unknown origin",
            request(0, vec![], sign(&foreign, "z.example/log", 1, fake_root)),
            404,
        ),
        (
            "forged by another key",
            request(
                size,
                vec![fake_root],
                sign(&forger, A_ORIGIN, size + 1, fake_root),
            ),
            403,
        ),
        (
            "old size above the checkpoint",
            request(
                size + 2,
                vec![],
                sign(&a_signer, A_ORIGIN, size + 1, fake_root),
            ),
            400,
        ),
        (
            "fork: A's key, a root that does not extend B's",
            request(
                size,
                vec![fake_root; 3],
                sign(&a_signer, A_ORIGIN, size + 5, fake_root),
            ),
            422,
        ),
        (
            "fork at the same size",
            request(size, vec![], sign(&a_signer, A_ORIGIN, size, fake_root)),
            422,
        ),
        (
            "stale old size",
            request(
                size - 1,
                vec![fake_root],
                sign(&a_signer, A_ORIGIN, size + 1, fake_root),
            ),
            409,
        ),
    ];
    for (what, body, want) in &cases {
        let reply = post_checkpoint(&b.base, body.as_bytes());
        assert_eq!(reply.status, *want, "{what}: {}", reply.body);
        if *want == 409 {
            assert_eq!(reply.content_type, "text/x.tlog.size", "{what}");
            assert_eq!(reply.body, format!("{size}\n"), "{what}");
        }
        assert_eq!(text(&monitored), held, "{what} moved B's state");
    }
    // The fork is kept as evidence in B's audit trail.
    std::thread::sleep(Duration::from_millis(700));
    let audit = cli(&b_data, &["admin", "audit", "--limit", "100"]);
    assert!(
        audit.contains("witness.refuse") && audit.contains(A_ORIGIN),
        "{audit}"
    );

    // A restarted has forgotten B's size: B answers 409 with it, A retries with a proof.
    drop(a);
    let a = serve_with_config(&a_data, &a_config, &with_witness);
    let url = format!("{}/kawal/collections/{collection}/objects/", a.base);
    let status = post(
        &url,
        &token,
        &format!("{{\"objects\":[{}]}}", indicator(50)),
        &[],
    )
    .json();
    let leaf = leaf_of(&status, 0);
    let later = wait_for_cosigned(&a.base, leaf + 1, &log_key, &witness_key);
    let later_cp = Checkpoint::parse(Note::parse(later.as_bytes()).unwrap().text()).unwrap();
    assert!(later_cp.size() > size);
    let moved = text(&monitored);
    let moved_cp = Checkpoint::parse(Note::parse(moved.as_bytes()).unwrap().text()).unwrap();
    assert!(moved_cp.size() > size, "{moved}");
}

#[test]
fn an_unreachable_witness_delays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (collection, token) = setup(&data);
    // Nothing listens on the port the kernel just handed out and took back.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let witness = Cosigner::from_seed("down.example/witness", &[4; 32]).unwrap();
    let a = serve_with_config(
        &data,
        &dir.path().join("kawal.toml"),
        &format!(
            "checkpoint_interval_ms = 50\n\n[[log_witnesses]]\nkey = \"{}\"\nurl = \"http://{closed}\"\n",
            witness.verifier().verifier_key()
        ),
    );
    let url = format!("{}/kawal/collections/{collection}/objects/", a.base);
    for n in 0..3 {
        let status = post(
            &url,
            &token,
            &format!("{{\"objects\":[{}]}}", indicator(n)),
            &[],
        );
        assert_eq!(status.status, 202, "{}", status.body);
        let leaf = leaf_of(&status.json(), 0);
        // Checkpoints keep being signed and published, without the witness's cosignature.
        let note = crate::log::wait_for_checkpoint(&a.base, leaf + 1);
        assert!(!note.contains("down.example/witness"), "{note}");
    }
}

#[test]
fn witness_configuration_mistakes_stop_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let witness = Cosigner::from_seed("w.example/witness", &[4; 32]).unwrap();
    let witness_key = witness.verifier().verifier_key();
    let log_key = Signer::from_seed("l.example/log", &[5; 32])
        .unwrap()
        .verifier()
        .verifier_key();
    for (toml, says) in [
        (
            format!("[[log_witnesses]]\nkey = \"{witness_key}\"\nurl = \"ftp://w.example\"\n"),
            "must be an http:// or https:// URL",
        ),
        (
            // A log key where a witness's cosignature key belongs.
            format!("[[log_witnesses]]\nkey = \"{log_key}\"\nurl = \"http://w.example\"\n"),
            "is not a witness cosignature key",
        ),
        (
            format!("[[witnessed_logs]]\nkey = \"{witness_key}\"\n"),
            "is not a log verifier key",
        ),
        (
            format!("[[witnessed_logs]]\nkey = \"{log_key}\"\nsize = 3\n"),
            "unknown field `size`",
        ),
        (
            format!(
                "transparency_log = false\n\n[[log_witnesses]]\nkey = \"{witness_key}\"\nurl = \"http://w.example\"\n"
            ),
            "transparency_log = false",
        ),
    ] {
        let config = dir.path().join("kawal.toml");
        std::fs::write(&config, &toml).unwrap();
        let out = kawal()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{toml}");
        assert!(stderr.contains(says), "{toml}: {stderr}");
    }
}
