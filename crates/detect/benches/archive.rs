//! The archive on one core: append throughput, bytes per event on disk, and hunt scan rates.
//!
//! `cargo bench -p kawal-detect --bench archive` writes a fresh archive of Zeek/Suricata-like
//! events (connections, DNS, HTTP, TLS and file events normalised to STIX cyber-observables,
//! with deterministic SCO ids and high-cardinality values), then hunts over it:
//!
//! - *selective*: one IPv4 address planted in a handful of events;
//! - *substring*: a `LIKE` with a literal run (no filter can answer, every block is
//!   decompressed and searched, only events containing the run are decoded);
//! - *CIDR*: `ISSUBSET` on an IPv4 /24, narrowed by the text its addresses start with;
//! - *no needle*: a port comparison, which nothing narrows: every event's `network-traffic`
//!   object is decoded and matched;
//! - *late property*: the same on `src_port`, which comes after every other
//!   property in the archived text (keys are sorted), so each object is read to its end (the
//!   worst case).
//!
//! Scan rates are events in the hunt's range divided by wall time, and by the process's CPU
//! time (which other load on the machine does not inflate); hunts run on one thread.
//! The page cache is warm (the archive was just written). Environment: `KAWAL_ARCHIVE_EVENTS`
//! (default 2,000,000), `KAWAL_ARCHIVE_DIR` (default: a temporary directory),
//! `KAWAL_ARCHIVE_RUNS` (hunt repetitions, median reported; default 3), `KAWAL_ARCHIVE_HUNTS`
//! (the hunts to run, by name, comma-separated; default all: to profile one).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use detect::archive::{Archive, ArchiveConfig, ArchivedEvent, Scope};
use detect::hunt::{HuntHit, HuntSummary, Hunter};
use serde_json::{json, Value};
use stix::Timestamp;

// The server's allocator, so that decoding costs what it costs in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OWNER: i64 = 1;
/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600_000_000;
const DAY: i64 = 86_400_000_000;
const PLANTED_IP: &str = "198.51.100.77";
const PLANTED_EVENTS: [usize; 7] = [
    12_345, 250_000, 777_777, 1_000_001, 1_333_333, 1_700_000, 1_999_000,
];
const PLANTED_DOMAIN_RUN: &str = "planted-campaign";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A deterministic SCO id: the type and a UUID-shaped digest of the value.
fn sco_id(kind: &str, value: &str) -> String {
    let mut h = Rng(value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }));
    let (a, b) = (h.next(), h.next());
    format!(
        "{kind}--{:08x}-{:04x}-5{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        out.push_str(&format!("{:016x}", rng.next()));
    }
    out.truncate(digits);
    out
}

fn ip_object(ip: &str) -> Value {
    json!({"type": "ipv4-addr", "spec_version": "2.1", "id": sco_id("ipv4-addr", ip), "value": ip})
}

fn internal_ip(rng: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.below(16),
        rng.below(256),
        1 + rng.below(254)
    )
}

fn external_ip(rng: &mut Rng) -> String {
    // About 200,000 distinct remote addresses.
    let n = rng.below(200_000) as u32 * 7919;
    format!(
        "{}.{}.{}.{}",
        20 + (n >> 24) % 180,
        (n >> 16) & 255,
        (n >> 8) & 255,
        1 + (n & 255) % 254
    )
}

fn domain(rng: &mut Rng) -> String {
    let n = rng.below(100_000);
    let tld = ["com", "net", "org", "io", "example"][(n % 5) as usize];
    format!("host{}.site{}.{tld}", n % 37, n)
}

/// One normalised sensor event: a connection, DNS query, HTTP request, TLS session or file.
fn event(n: usize, rng: &mut Rng, at: i64) -> ArchivedEvent {
    let src = internal_ip(rng);
    let dst = if PLANTED_EVENTS.contains(&n) {
        PLANTED_IP.to_owned()
    } else {
        external_ip(rng)
    };
    let (src_obj, dst_obj) = (ip_object(&src), ip_object(&dst));
    let uid = format!("C{}", hex(rng, 17));
    let planted_domain = n % 100_003 == 0;
    let kind = if planted_domain { 4 } else { rng.below(10) };
    let (protocol, dst_port) = match kind {
        0..=3 => ("tcp", [443, 80, 22, 8443, 3389][rng.below(5) as usize]),
        4 | 5 => ("udp", 53),
        6 | 7 => ("tcp", 80),
        8 => ("tcp", 443),
        _ => ("tcp", 80),
    };
    let mut flow = json!({
        "type": "network-traffic",
        "spec_version": "2.1",
        "id": sco_id("network-traffic", &uid),
        "start": Timestamp::from_micros(at).to_string(),
        "src_ref": src_obj["id"],
        "dst_ref": dst_obj["id"],
        "src_port": 1024 + rng.below(64_000),
        "dst_port": dst_port,
        "protocols": ["ipv4", protocol],
        "src_byte_count": rng.below(100_000),
        "dst_byte_count": rng.below(1_000_000),
        "src_packets": rng.below(500),
        "dst_packets": rng.below(900),
        "x_kawal_event": {"uid": uid, "conn_state": "SF", "sensor": "zeek-edge-1"},
    });
    let mut objects = vec![src_obj, dst_obj];
    match kind {
        4 | 5 => {
            let name = if planted_domain {
                format!("{PLANTED_DOMAIN_RUN}.site{n}.example")
            } else {
                domain(rng)
            };
            objects.push(json!({"type": "domain-name", "spec_version": "2.1", "id": sco_id("domain-name", &name), "value": name}));
            flow["x_kawal_event"]["rcode"] = json!("NOERROR");
        }
        6 | 7 => {
            let host = domain(rng);
            let url = format!(
                "http://{host}/static/{}/app.js?v={}",
                rng.below(500),
                rng.below(20)
            );
            objects.push(json!({"type": "domain-name", "spec_version": "2.1", "id": sco_id("domain-name", &host), "value": host}));
            objects.push(json!({"type": "url", "spec_version": "2.1", "id": sco_id("url", &url), "value": url}));
            flow["extensions"] = json!({"http-request-ext": {
                "request_method": "GET",
                "request_value": "/static/app.js",
                "request_header": {"Host": host, "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}
            }});
        }
        8 => {
            let sni = domain(rng);
            let sha1 = hex(rng, 40);
            objects.push(json!({"type": "domain-name", "spec_version": "2.1", "id": sco_id("domain-name", &sni), "value": sni}));
            objects.push(json!({
                "type": "x509-certificate", "spec_version": "2.1", "id": sco_id("x509-certificate", &sha1),
                "hashes": {"SHA-1": sha1}, "subject": format!("CN={sni}"), "issuer": "CN=R3, O=Let's Encrypt, C=US",
                "serial_number": hex(rng, 32)
            }));
        }
        9 => {
            let sha256 = hex(rng, 64);
            objects.push(json!({
                "type": "file", "spec_version": "2.1", "id": sco_id("file", &sha256),
                "hashes": {"MD5": hex(rng, 32), "SHA-1": hex(rng, 40), "SHA-256": sha256},
                "name": format!("download{}.bin", rng.below(10_000)),
                "size": rng.below(10_000_000), "mime_type": "application/octet-stream"
            }));
        }
        _ => {}
    }
    objects.push(flow);
    ArchivedEvent {
        at: Timestamp::from_micros(at),
        owner: OWNER,
        source: if kind == 9 {
            "suricata:fileinfo"
        } else {
            "zeek:conn"
        }
        .to_owned(),
        objects,
    }
}

fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(')')?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Events per CPU second, when enough CPU time was used for the 10 ms clock to tell.
fn per_cpu_second(events: usize, cpu: f64) -> String {
    if cpu >= 0.1 {
        format!("{:.0}", events as f64 / cpu)
    } else {
        "(too short)".to_owned()
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

struct Measured {
    wall: Duration,
    cpu: f64,
    summary: HuntSummary,
    hits: usize,
}

fn hunt(archive: &Archive, pattern: &str, scope: &Scope, runs: usize) -> Measured {
    let mut hunter = Hunter::new();
    if let Err(e) = hunter.add_pattern(pattern) {
        panic!("{pattern}: {e}");
    }
    let snapshot = archive.snapshot();
    let mut results = Vec::new();
    for _ in 0..runs {
        let mut hits = 0;
        let (cpu, start) = (cpu_seconds(), Instant::now());
        let summary = hunter
            .run(&snapshot, scope, &mut |_: HuntHit| {
                hits += 1;
                ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{pattern}: {e}"));
        results.push(Measured {
            wall: start.elapsed(),
            cpu: cpu_seconds() - cpu,
            summary,
            hits,
        });
    }
    results.sort_by_key(|m| m.wall);
    results.swap_remove(results.len() / 2)
}

fn main() {
    let total = env_usize("KAWAL_ARCHIVE_EVENTS", 2_000_000);
    let runs = env_usize("KAWAL_ARCHIVE_RUNS", 3).max(1);
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let dir = std::env::var("KAWAL_ARCHIVE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temp.path().join("archive"));
    let _ = std::fs::remove_dir_all(&dir);
    let archive = Archive::open(&dir, ArchiveConfig::default())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));

    // Events over one day, generated in batches outside the clock.
    let step = DAY / total as i64;
    let mut rng = Rng(42);
    let mut append = Duration::ZERO;
    let mut append_cpu = 0.0;
    let mut json_bytes = 0usize;
    let batch = 10_000;
    let mut n = 0;
    while n < total {
        let events: Vec<ArchivedEvent> = (n..(n + batch).min(total))
            .map(|i| event(i, &mut rng, T0 + i as i64 * step))
            .collect();
        json_bytes += events
            .iter()
            .map(|e| serde_json::to_vec(&e.objects).map_or(0, |v| v.len()))
            .sum::<usize>();
        let (cpu, start) = (cpu_seconds(), Instant::now());
        for chunk in events.chunks(1000) {
            archive
                .append_batch(chunk)
                .unwrap_or_else(|e| panic!("append: {e}"));
        }
        if (n / batch) % 10 == 9 {
            archive.flush().unwrap_or_else(|e| panic!("flush: {e}"));
        }
        append += start.elapsed();
        append_cpu += cpu_seconds() - cpu;
        n += events.len();
    }
    let start = Instant::now();
    archive.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    append += start.elapsed();
    let stats = archive.stats();

    let scope = Scope {
        owner: OWNER,
        since: Timestamp::from_micros(T0),
        until: Timestamp::from_micros(T0 + DAY),
    };
    let planted = PLANTED_EVENTS.iter().filter(|&&i| i < total).count();
    let cases = [
        (
            "selective",
            format!("[ipv4-addr:value = '{PLANTED_IP}']"),
            Some(planted),
        ),
        (
            "substring",
            format!("[domain-name:value LIKE '%{PLANTED_DOMAIN_RUN}%']"),
            Some(total.div_ceil(100_003)),
        ),
        (
            "CIDR",
            "[ipv4-addr:value ISSUBSET '198.51.100.0/24']".to_owned(),
            Some(planted),
        ),
        (
            "no needle",
            "[network-traffic:dst_port > 65535]".to_owned(),
            Some(0),
        ),
        (
            "late property",
            "[network-traffic:src_port > 65535]".to_owned(),
            Some(0),
        ),
    ];

    println!(
        "events: {total}, archive: {} segments, {:.1} MiB",
        stats.segments,
        stats.bytes as f64 / 1048576.0
    );
    println!();
    println!("| phase | events/s (wall) | events per CPU second | wall s | CPU s | detail |");
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| append (batches of 1,000, flush every 100,000) | {:.0} | {} | {:.2} | {:.2} | {:.1} bytes/event on disk ({:.1} as JSON; {:.1}× smaller) |",
        total as f64 / append.as_secs_f64(),
        per_cpu_second(total, append_cpu),
        append.as_secs_f64(),
        append_cpu,
        stats.bytes as f64 / total as f64,
        json_bytes as f64 / total as f64,
        json_bytes as f64 / stats.bytes as f64,
    );
    let chosen = std::env::var("KAWAL_ARCHIVE_HUNTS").ok();
    let chosen: Option<Vec<&str>> = chosen.as_deref().map(|c| c.split(',').collect());
    let cases = cases
        .into_iter()
        .filter(|(name, ..)| chosen.as_ref().is_none_or(|c| c.contains(name)));
    for (name, pattern, expected_hits) in cases {
        let m = hunt(&archive, &pattern, &scope, runs);
        if let Some(expected) = expected_hits {
            assert_eq!(m.hits, expected, "{name}: hits");
        }
        let s = &m.summary;
        println!(
            "| hunt {name}: `{pattern}` | {:.0} | {} | {:.3} | {:.2} | {} hits; segments skipped {}/{}; blocks read {}, skipped {}; events decoded {} |",
            total as f64 / m.wall.as_secs_f64(),
            per_cpu_second(total, m.cpu),
            m.wall.as_secs_f64(),
            m.cpu,
            m.hits,
            s.segments_skipped,
            s.progress.segments_total,
            s.blocks_read,
            s.blocks_skipped,
            s.events_matched,
        );
    }
}
