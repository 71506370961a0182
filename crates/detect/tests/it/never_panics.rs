//! Whatever bytes arrive, the parsers answer with a value or an error, never a panic.

use detect::normalise::suricata::eve_line;
use detect::normalise::zeek::{json_line, ZeekLog, ZeekTsv};
use detect::normalise::Mapping;
use detect::syslog::{self, FrameDecoder, Framing};
use detect::Payload;
use proptest::prelude::*;

use crate::common::{at, read};

/// Random bytes, and random edits of real samples, which reach deeper than noise.
fn inputs(sample: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let lines: Vec<Vec<u8>> = read(sample)
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (
            prop::sample::select(lines),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)
        )
            .prop_map(|(mut line, edits)| {
                for (index, byte) in edits {
                    if !line.is_empty() {
                        let i = index.index(line.len());
                        line[i] = byte;
                    }
                }
                line
            }),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn syslog_messages(bytes in inputs("syslog/rfc5424.lines")) {
        let _ = syslog::parse(&bytes, at("2024-03-10T12:00:00Z"));
    }

    #[test]
    fn bsd_syslog_messages(bytes in inputs("syslog/rfc3164.lines")) {
        let _ = syslog::parse(&bytes, at("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn framing(bytes in inputs("syslog/rfc5424.lines"), chunk in 1usize..40, max in 1usize..300) {
        for framing in [Framing::OctetCounting, Framing::NonTransparent, Framing::Detect] {
            let mut decoder = FrameDecoder::new(framing, max);
            for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                while let Some(frame) = decoder.next_frame() {
                    if let Ok(frame) = frame {
                        prop_assert!(frame.len() <= max);
                    }
                }
            }
            let _ = decoder.finish();
        }
    }

    #[test]
    fn payloads(bytes in inputs("mapping/edr.ndjson")) {
        let _ = Payload::parse(&text(&bytes));
    }

    #[test]
    fn zeek_tsv(lines in prop::collection::vec(inputs("zeek/tsv/dns.log"), 0..12)) {
        let mut reader = ZeekTsv::new();
        for line in read("zeek/tsv/http.log").lines().take(8) {
            let _ = reader.line(line);
        }
        for line in &lines {
            let _ = reader.line(&text(line));
        }
    }

    #[test]
    fn zeek_json(bytes in inputs("zeek/json/ssl.log")) {
        let _ = json_line(&text(&bytes), Some(ZeekLog::Ssl));
        let _ = json_line(&text(&bytes), None);
    }

    #[test]
    fn suricata(bytes in inputs("suricata/eve.json")) {
        let _ = eve_line(&text(&bytes));
    }

    #[test]
    fn mappings(bytes in inputs("mapping/edr.ndjson"), config in inputs("mapping/edr.toml")) {
        let mapping = Mapping::from_toml(&read("mapping/edr.toml")).expect("loads");
        let _ = mapping.normalise_line(&text(&bytes), at("2024-03-10T12:00:00Z"));
        let _ = Mapping::from_toml(&text(&config));
    }
}
