//! Archived events like those the normalisers produce, from small pools so that patterns hit.

#![allow(dead_code)]

use std::ops::ControlFlow;

use detect::archive::{Archive, ArchiveConfig, ArchivedEvent, Scope};
use serde_json::{json, Value};
use stix::Timestamp;

pub const IPS: [&str; 6] = [
    "198.51.100.7",
    "198.51.100.200",
    "203.0.113.5",
    "192.0.2.1",
    "10.1.2.3",
    "2001:db8::1",
];
pub const DOMAINS: [&str; 4] = [
    "evil.example",
    "a.evil.example",
    "good.example",
    "caf\u{e9}.example",
];
pub const HASHES: [&str; 3] = [
    "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];
pub const PORTS: [i64; 3] = [53, 443, 8080];
/// Connections' start times: values the archive's filters leave out.
pub const STARTS: [&str; 3] = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:01.5Z",
    "2026-01-01T07:00:02+07:00",
];

pub const HOUR: i64 = 3_600_000_000;
pub const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00:00Z
pub const T0: i64 = 1_767_225_600_000_000;

fn id(kind: &str, n: u64) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012x}")
}

fn address_type(ip: &str) -> &'static str {
    if ip.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    }
}

/// The id of the object of an address of the pool.
pub fn address_id(ip: &str) -> String {
    id(address_type(ip), fnv(ip))
}

fn address(ip: &str) -> Value {
    json!({"type": address_type(ip), "id": address_id(ip), "value": ip})
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3) & 0xffff_ffff_ffff
    })
}

/// The objects of event number `n`, drawn from the pools by `choice`.
pub fn objects(kind: u8, choice: [usize; 4]) -> Vec<Value> {
    let src = IPS[choice[0] % IPS.len()];
    let dst = IPS[choice[1] % IPS.len()];
    let (src_obj, dst_obj) = (address(src), address(dst));
    let mut flow = json!({
        "type": "network-traffic",
        "id": id("network-traffic", choice.iter().fold(kind as u64, |h, c| h.wrapping_mul(31).wrapping_add(*c as u64) & 0xffff_ffff_ffff)),
        "src_ref": src_obj["id"],
        "dst_ref": dst_obj["id"],
        "dst_port": PORTS[choice[2] % PORTS.len()],
        "protocols": ["ipv4", "tcp"],
        "start": STARTS[(choice[0] ^ choice[1]) % STARTS.len()],
    });
    let mut out = vec![src_obj, dst_obj];
    match kind % 4 {
        0 => {}
        1 => {
            let domain = DOMAINS[choice[3] % DOMAINS.len()];
            out.push(json!({"type": "domain-name", "id": id("domain-name", fnv(domain)), "value": domain}));
        }
        2 => {
            let domain = DOMAINS[choice[3] % DOMAINS.len()];
            let url = format!("http://{domain}/gate.php?q={}", choice[2] % 3);
            out.push(json!({"type": "url", "id": id("url", fnv(&url)), "value": url}));
            flow["extensions"] = json!({"http-request-ext": {"request_method": "GET", "request_value": "/gate.php"}});
        }
        _ => {
            let hash = HASHES[choice[3] % HASHES.len()];
            out.push(json!({
                "type": "file",
                "id": id("file", fnv(hash)),
                "name": format!("sample{}.exe", choice[2] % 3),
                "hashes": {"SHA-256": hash},
                "size": 1000 + (choice[2] % 3) as i64,
            }));
        }
    }
    out.push(flow);
    out
}

/// A stream of events, one every `step` microseconds from `start`, owners cycling through
/// `owners`; each has a unique source `e<n>`.
pub fn events(
    count: usize,
    start: i64,
    step: i64,
    owners: &[i64],
    seed: u64,
) -> Vec<ArchivedEvent> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    (0..count)
        .map(|n| ArchivedEvent {
            at: Timestamp::from_micros(start + n as i64 * step),
            owner: owners[n % owners.len()],
            source: format!("e{n}"),
            objects: objects(next() as u8, [next(), next(), next(), next()]),
        })
        .collect()
}

pub fn small_config() -> ArchiveConfig {
    ArchiveConfig {
        block_bytes: 2048,
        segment_bytes: 16 << 10,
        ..ArchiveConfig::default()
    }
}

pub fn everything(owner: i64) -> Scope {
    Scope {
        owner,
        since: Timestamp::from_micros(i64::MIN),
        until: Timestamp::from_micros(i64::MAX),
    }
}

/// Every event of the scope, read back.
pub fn read_all(archive: &Archive, scope: &Scope) -> anyhow::Result<Vec<ArchivedEvent>> {
    let mut out = Vec::new();
    archive.snapshot().read(scope, |e| {
        out.push(e);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Every segment file under the archive directory, in sequence order.
pub fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for day in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.path().extension().is_some_and(|e| e == "seg") {
                files.push(file.path());
            }
        }
    }
    files.sort_by_key(|p| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.split_once('-'))
            .and_then(|(_, seq)| seq.parse::<u64>().ok())
    });
    files
}
