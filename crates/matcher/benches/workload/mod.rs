//! The W2 workload: an indicator feed and an event stream, generated deterministically.
//!
//! Indicators: 70 % exact (file hashes, IPv4 addresses, domains, URLs), 10 % CIDR or IN,
//! 10 % LIKE or MATCHES, 5 % several comparisons, 5 % temporal (FOLLOWEDBY … WITHIN).
//! Events: DNS, HTTP, netflow, process and file observations; about 0.5 % of them carry a
//! value some indicator looks for. Background values come from `KAWAL_BENIGN` (one value per
//! line: domains, IPv4 addresses and SHA-256 hashes, e.g. from MISP warning lists) when set,
//! otherwise they are synthesised.

#![allow(dead_code)]

use serde_json::{json, Value};

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

pub fn sha256_of(n: u64) -> String {
    let mut r = Rng::new(n ^ 0x5a5a);
    (0..4).map(|_| format!("{:016x}", r.next_u64())).collect()
}

pub fn bad_ip(n: u64) -> String {
    format!(
        "{}.{}.{}.{}",
        100 + (n >> 24) % 100,
        (n >> 16) & 255,
        (n >> 8) & 255,
        n & 255
    )
}

pub fn bad_domain(n: u64) -> String {
    format!("c{n}.bad{}.example.net", n % 977)
}

pub fn bad_url(n: u64) -> String {
    format!("http://{}/gate{n}.php", bad_domain(n))
}

pub struct Background {
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    pub hashes: Vec<String>,
}

impl Background {
    pub fn load() -> Background {
        let mut bg = Background {
            domains: Vec::new(),
            ips: Vec::new(),
            hashes: Vec::new(),
        };
        if let Ok(path) = std::env::var("KAWAL_BENIGN") {
            if let Ok(text) = std::fs::read_to_string(&path) {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    if line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                        bg.hashes.push(line.to_ascii_lowercase());
                    } else if line.parse::<std::net::Ipv4Addr>().is_ok() {
                        bg.ips.push(line.to_owned());
                    } else if line.contains('.') && !line.contains('/') && !line.contains(' ') {
                        bg.domains
                            .push(line.trim_start_matches("*.").to_ascii_lowercase());
                    }
                }
            }
        }
        let mut r = Rng::new(7);
        while bg.domains.len() < 10_000 {
            let n = bg.domains.len();
            bg.domains
                .push(format!("www{}.site{}.example.com", n, r.below(5000)));
        }
        while bg.ips.len() < 10_000 {
            let n = r.next_u64();
            bg.ips.push(format!(
                "{}.{}.{}.{}",
                1 + n % 99,
                (n >> 8) & 255,
                (n >> 16) & 255,
                (n >> 24) & 255
            ));
        }
        while bg.hashes.len() < 10_000 {
            bg.hashes.push(sha256_of(1 << 40 | bg.hashes.len() as u64));
        }
        bg
    }
}

/// Indicator `i` of a feed: (id, pattern).
pub fn indicator(i: u64) -> (String, String) {
    let id = format!(
        "indicator--{:08x}-0000-4000-8000-{:012x}",
        i >> 48,
        i & 0xffff_ffff_ffff
    );
    let bucket = i % 100;
    let pattern = match bucket {
        0..=24 => format!("[file:hashes.'SHA-256' = '{}']", sha256_of(i)),
        25..=44 => format!("[ipv4-addr:value = '{}']", bad_ip(i)),
        45..=59 => format!("[domain-name:value = '{}']", bad_domain(i)),
        60..=69 => format!("[url:value = '{}']", bad_url(i)),
        70..=74 => format!(
            "[ipv4-addr:value ISSUBSET '{}.{}.{}.0/24']",
            200 + (i >> 16) % 20,
            (i >> 8) & 255,
            i & 255
        ),
        75..=79 => format!(
            "[domain-name:value IN ('{}', '{}', '{}')]",
            bad_domain(i),
            bad_domain(i + 1_000_000_000),
            bad_domain(i + 2_000_000_000)
        ),
        80..=84 => format!("[domain-name:value LIKE '%.zone{i}.example.org']"),
        85..=89 => format!("[url:value MATCHES '^https?://[^/]+/kit{i}/[a-z]+\\\\.js$']"),
        90..=92 => format!(
            "[network-traffic:dst_ref.value = '{}' AND network-traffic:dst_port = 4444]",
            bad_ip(i)
        ),
        93..=94 => format!("[process:name = 'evil{i}.exe' AND process:command_line LIKE '%-enc%']"),
        _ => format!(
            "([domain-name:value = '{}'] FOLLOWEDBY [ipv4-addr:value = '{}']) WITHIN 300 SECONDS",
            bad_domain(i),
            bad_ip(i)
        ),
    };
    (id, pattern)
}

/// An object whose value some indicator of a feed of `indicators` looks for.
fn planted(r: &mut Rng, indicators: u64) -> Value {
    let i = r.below(indicators);
    match i % 100 {
        0..=24 => {
            json!({"type": "file", "id": "file--1", "name": "x.bin", "hashes": {"SHA-256": sha256_of(i)}})
        }
        25..=44 | 95..=99 => json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": bad_ip(i)}),
        45..=59 | 75..=79 => {
            json!({"type": "domain-name", "id": "domain-name--1", "value": bad_domain(i)})
        }
        60..=69 => json!({"type": "url", "id": "url--1", "value": bad_url(i)}),
        70..=74 => {
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": format!("{}.{}.{}.9", 200 + (i >> 16) % 20, (i >> 8) & 255, i & 255)})
        }
        80..=84 => {
            json!({"type": "domain-name", "id": "domain-name--1", "value": format!("cdn.zone{i}.example.org")})
        }
        85..=89 => {
            json!({"type": "url", "id": "url--1", "value": format!("https://x.example/kit{i}/loader.js")})
        }
        90..=92 => {
            json!({"type": "network-traffic", "id": "network-traffic--1", "dst_ref": "ipv4-addr--2", "dst_port": 4444, "protocols": ["tcp"]})
        }
        _ => {
            json!({"type": "process", "id": "process--1", "name": format!("evil{i}.exe"), "command_line": "powershell -enc AAAA"})
        }
    }
}

/// Event `n`: the SCOs of one observation.
pub fn event(n: u64, indicators: u64, bg: &Background) -> Vec<Value> {
    let mut r = Rng::new(n + 1);
    let pick = |r: &mut Rng, v: &Vec<String>| v[r.below(v.len() as u64) as usize].clone();
    if r.below(1000) < 5 {
        let mut objects = vec![planted(&mut r, indicators)];
        if objects[0]["type"] == "network-traffic" {
            let i = r.below(indicators) / 100 * 100 + 90;
            objects.push(json!({"type": "ipv4-addr", "id": "ipv4-addr--2", "value": bad_ip(i)}));
        }
        return objects;
    }
    match n % 5 {
        0 => vec![
            json!({"type": "domain-name", "id": "domain-name--1", "value": pick(&mut r, &bg.domains)}),
        ],
        1 => vec![
            json!({"type": "url", "id": "url--1", "value": format!("https://{}/index{}.html", pick(&mut r, &bg.domains), r.below(100))}),
        ],
        2 => vec![
            json!({"type": "network-traffic", "id": "network-traffic--1", "src_ref": "ipv4-addr--1", "dst_ref": "ipv4-addr--2", "dst_port": 443, "protocols": ["tcp"]}),
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": pick(&mut r, &bg.ips)}),
            json!({"type": "ipv4-addr", "id": "ipv4-addr--2", "value": pick(&mut r, &bg.ips)}),
        ],
        3 => vec![
            json!({"type": "process", "id": "process--1", "name": "svchost.exe", "command_line": "svchost.exe -k netsvcs"}),
        ],
        _ => vec![
            json!({"type": "file", "id": "file--1", "name": "report.pdf", "hashes": {"SHA-256": pick(&mut r, &bg.hashes)}}),
        ],
    }
}
