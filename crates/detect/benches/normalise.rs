//! Events normalised per second, one core: Zeek TSV, Suricata EVE and NDJSON through an
//! operator mapping, each over the sample logs of `testdata/` repeated into a batch.
//!
//! ```sh
//! cargo bench -p kawal-detect --bench normalise
//! ```

use detect::normalise::suricata::eve_line;
use detect::normalise::zeek::ZeekTsv;
use detect::normalise::Mapping;
use detect::syslog::{self, FrameDecoder, Framing};
use detect::Payload;
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use stix::Timestamp;

// The server's allocator, so that normalising costs what it costs in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// Events per batch: enough that per-batch costs vanish.
const BATCH: usize = 4096;

fn repeated(lines: &[&'static str]) -> Vec<&'static str> {
    lines.iter().copied().cycle().take(BATCH).collect()
}

/// A reader that has read the headers, and the data lines of one log.
fn zeek(log: &'static str) -> (ZeekTsv, Vec<&'static str>) {
    let mut reader = ZeekTsv::new();
    let mut data = Vec::new();
    for line in log.lines() {
        if line.starts_with('#') {
            reader.line(line).expect("sample headers are valid");
        } else {
            data.push(line);
        }
    }
    (reader, repeated(&data))
}

#[divan::bench(args = ["conn", "dns", "http", "ssl", "files", "x509"])]
fn zeek_tsv(bencher: Bencher, log: &str) {
    let text = match log {
        "conn" => include_str!("../testdata/zeek/tsv/conn.log"),
        "dns" => include_str!("../testdata/zeek/tsv/dns.log"),
        "http" => include_str!("../testdata/zeek/tsv/http.log"),
        "ssl" => include_str!("../testdata/zeek/tsv/ssl.log"),
        "files" => include_str!("../testdata/zeek/tsv/files.log"),
        _ => include_str!("../testdata/zeek/tsv/x509.log"),
    };
    let (reader, lines) = zeek(text);
    bencher
        .counter(ItemsCount::new(lines.len()))
        .with_inputs(|| reader.clone())
        .bench_local_values(|mut reader| {
            for line in &lines {
                let _ = black_box(reader.line(line));
            }
        });
}

#[divan::bench]
fn suricata_eve(bencher: Bencher) {
    let lines: Vec<&str> = include_str!("../testdata/suricata/eve.json")
        .lines()
        .collect();
    let lines = repeated(&lines);
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench_local(|| {
            for line in &lines {
                let _ = black_box(eve_line(line));
            }
        });
}

#[divan::bench]
fn ndjson_mapping(bencher: Bencher) {
    let mapping =
        Mapping::from_toml(include_str!("../testdata/mapping/edr.toml")).expect("the sample loads");
    let lines: Vec<&str> = include_str!("../testdata/mapping/edr.ndjson")
        .lines()
        .collect();
    let lines = repeated(&lines);
    let received = Timestamp::from_micros(1_710_072_000_000_000);
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench_local(|| {
            for line in &lines {
                let _ = black_box(mapping.normalise_line(line, received));
            }
        });
}

/// Syslog over TCP with octet counting, `key=value` messages, through a mapping: framing,
/// header parsing and payload parsing on top of normalisation.
#[divan::bench]
fn syslog_key_values(bencher: Bencher) {
    let mapping = Mapping::from_toml(include_str!("../testdata/mapping/firewall.toml"))
        .expect("the sample loads");
    let stream = include_bytes!("../testdata/syslog/rfc5424.octets");
    let per_stream = 3;
    let copies = BATCH / per_stream;
    let bytes: Vec<u8> = stream.repeat(copies);
    let received = Timestamp::from_micros(1_710_072_000_000_000);
    bencher
        .counter(ItemsCount::new(copies * per_stream))
        .bench_local(|| {
            let mut decoder = FrameDecoder::new(Framing::OctetCounting, 64 * 1024);
            decoder.push(&bytes);
            while let Some(Ok(frame)) = decoder.next_frame() {
                let Ok(message) = syslog::parse(frame, received) else {
                    continue;
                };
                let Ok(payload) = Payload::parse(&message.msg) else {
                    continue;
                };
                let at = message.timestamp.unwrap_or(received);
                let _ = black_box(mapping.normalise(payload, at));
            }
        });
}
