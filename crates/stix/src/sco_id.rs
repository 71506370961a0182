//! Deterministic identifiers of cyber-observable objects (STIX 2.1 §2.9).
//!
//! An SCO's id is `<type>--<UUIDv5>`, the UUID computed in the namespace
//! `00abedb4-aa42-466c-9c01-fed23315a9b7` over the JSON Canonicalization Scheme (RFC 8785)
//! serialisation of an object holding only the type's *ID contributing properties* that are
//! present. So two producers that observe the same address, domain or file agree on its id,
//! and a sighting can name an observable without shipping it.
//!
//! A `hashes` property contributes one hash only, the first of MD5, SHA-1, SHA-256 and
//! SHA-512 that is present (the order the OASIS reference implementation uses), else the key
//! that sorts first, so that the choice never depends on the order keys arrived in.
//!
//! When a type has no contributing properties (`process`, custom types) or none is present,
//! the specification asks for a UUIDv4: [`deterministic_id`] returns `None` and the caller
//! draws one.

use serde_json::{Map, Value};
use uuid::Uuid;

/// The namespace of deterministic SCO ids; only SCO ids may be made in it.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Hash algorithms in the order in which one is chosen to contribute to an id.
const PREFERRED_HASHES: [&str; 4] = ["MD5", "SHA-1", "SHA-256", "SHA-512"];

/// The ID contributing properties of each STIX 2.1 SCO type, sorted as RFC 8785 sorts keys
/// (all are ASCII, so byte order is UTF-16 order) so that the canonical text is written in
/// one pass.
pub fn id_contributing_properties(type_name: &str) -> Option<&'static [&'static str]> {
    Some(match type_name {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["body", "from_ref", "subject"],
        "file" => &["extensions", "hashes", "name", "parent_directory_ref"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "dst_port",
            "dst_ref",
            "end",
            "extensions",
            "protocols",
            "src_port",
            "src_ref",
            "start",
        ],
        "process" => &[],
        "software" => &["cpe", "name", "swid", "vendor", "version"],
        "user-account" => &["account_login", "account_type", "user_id"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => return None,
    })
}

/// The deterministic id of an SCO given as a JSON object with its `type`; `None` when the
/// type is not a STIX 2.1 SCO or none of its contributing properties is present.
pub fn deterministic_id(object: &Map<String, Value>) -> Option<String> {
    let type_name = object.get("type")?.as_str()?;
    deterministic_uuid(type_name, object).map(|uuid| id_text(type_name, uuid))
}

/// `<type>--<uuid>`, written without the formatting machinery, which costs more than the
/// hash at the rate sensors produce observables.
pub fn id_text(type_name: &str, uuid: Uuid) -> String {
    let mut id = String::with_capacity(type_name.len() + 2 + uuid::fmt::Hyphenated::LENGTH);
    id.push_str(type_name);
    id.push_str("--");
    id.push_str(uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    id
}

/// The UUID part of [`deterministic_id`], for an object of the given type (its `type`
/// property, if any, is not read).
pub fn deterministic_uuid(type_name: &str, object: &Map<String, Value>) -> Option<Uuid> {
    let properties = id_contributing_properties(type_name)?;
    let mut text = ContributingText::new();
    for &key in properties {
        let Some(value) = object.get(key) else {
            continue;
        };
        if key == "hashes" {
            if let Some((algorithm, hash)) = value.as_object().and_then(chosen_hash) {
                text.hash(algorithm, hash);
            }
        } else {
            text.json(key, value);
        }
    }
    text.uuid()
}

/// The UUID part of the id of an SCO whose one contributing property is `value`
/// (`domain-name`, `email-addr`, `ipv4-addr`, `ipv6-addr`, `mac-addr`, `url`): what
/// [`deterministic_uuid`] gives for an object holding that value, without the object.
pub fn value_uuid(value: &str) -> Uuid {
    if needs_escape(value.as_bytes()) {
        let mut text = ContributingText::new();
        text.string("value", value);
        return text.finish();
    }
    // Hashed in pieces: no canonical text is built for the value nearly every event has.
    uuid_v5(&[b"{\"value\":\"", value.as_bytes(), b"\"}"])
}

/// RFC 4122 §4.3 with SHA-1. The `sha1` crate uses the CPU's SHA extensions where there
/// are some, which matters at the rate sensors produce observables.
fn uuid_v5(name: &[&[u8]]) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(SCO_NAMESPACE.as_bytes());
    for part in name {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The canonical text a deterministic UUID is computed over, for a caller that holds an
/// object's contributing properties typed rather than in a JSON map (a sensor's connection,
/// say). Properties are given in the order [`id_contributing_properties`] lists them, each
/// at most once.
#[derive(Debug)]
pub struct ContributingText {
    text: String,
    any: bool,
}

impl Default for ContributingText {
    fn default() -> Self {
        ContributingText::new()
    }
}

impl ContributingText {
    pub fn new() -> ContributingText {
        let mut text = String::with_capacity(128);
        text.push('{');
        ContributingText { text, any: false }
    }

    fn key(&mut self, key: &str) {
        if self.any {
            self.text.push(',');
        }
        self.any = true;
        write_string(key, &mut self.text);
        self.text.push(':');
    }

    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(value, &mut self.text);
    }

    pub fn integer(&mut self, key: &str, value: u64) {
        self.key(key);
        write_number(&value.into(), &mut self.text);
    }

    pub fn json(&mut self, key: &str, value: &Value) {
        self.key(key);
        canonical_json(value, &mut self.text);
    }

    /// `hashes`, holding the one hash chosen to contribute.
    fn hash(&mut self, algorithm: &str, value: &Value) {
        self.key("hashes");
        self.text.push('{');
        write_string(algorithm, &mut self.text);
        self.text.push(':');
        canonical_json(value, &mut self.text);
        self.text.push('}');
    }

    /// The UUID; `None` when no property was given, for which §2.9 asks a random UUID.
    pub fn uuid(self) -> Option<Uuid> {
        self.any.then(|| self.finish())
    }

    fn finish(mut self) -> Uuid {
        self.text.push('}');
        uuid_v5(&[self.text.as_bytes()])
    }
}

fn chosen_hash(hashes: &Map<String, Value>) -> Option<(&str, &Value)> {
    PREFERRED_HASHES
        .iter()
        .find_map(|&algorithm| hashes.get_key_value(algorithm))
        .or_else(|| hashes.iter().min_by(|a, b| utf16_order(a.0, b.0)))
        .map(|(k, v)| (k.as_str(), v))
}

fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Appends the RFC 8785 (JSON Canonicalization Scheme) serialisation of a value: no
/// whitespace, object keys sorted by their UTF-16 code units, strings and numbers written as
/// ECMAScript's `JSON.stringify` writes them.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Map order is byte order, which differs from UTF-16 order only beyond the BMP.
            if entries.iter().any(|(k, _)| !k.is_ascii()) {
                entries.sort_by(|a, b| utf16_order(a.0, b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Whether JSON must escape a byte of `text`: a control character, `"` or `\`. Eight bytes
/// at a time, as every value and id of every observable a sensor reports is checked.
pub fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // A byte below `n` (at most 0x80) sets its high bit in `(x - n…) & !x`; a borrow can mark
    // a higher byte too, but only after a lower byte that was really below, so the answer
    // for the whole word is exact.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x;
    let equal = |x: u64, b: u8| below(x ^ (ONES * u64::from(b)), 1);
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        if (below(x, 0x20) | equal(x, b'"') | equal(x, b'\\')) & HIGH_BITS != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn write_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    if !needs_escape(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut plain_from = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain_from..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        plain_from = i + 1;
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// ECMAScript's Number::toString: integers in plain digits, other values in the shortest
/// form that reads back to the same double, with an exponent outside [1e-6, 1e21).
fn write_number(n: &serde_json::Number, out: &mut String) {
    use std::fmt::Write;
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= 1 << 53 {
            let _ = write!(out, "{i}");
            return;
        }
    }
    if let Some(u) = n.as_u64() {
        if u <= 1 << 53 {
            let _ = write!(out, "{u}");
            return;
        }
    }
    let Some(f) = n.as_f64() else {
        out.push_str("null");
        return;
    };
    if f == 0.0 {
        out.push('0');
        return;
    }
    let magnitude = f.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's `Display` for floats is the shortest round-trip form without an exponent.
        let _ = write!(out, "{f}");
        return;
    }
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            let _ = write!(out, "{mantissa}e+{exponent}");
        }
        _ => out.push_str(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_alone_gives_the_id_of_its_object() {
        for value in [
            "198.51.100.7",
            "evil.example",
            "http://a/\"q\"\\\u{1}",
            "é€𝄞",
            "",
        ] {
            for type_name in ["ipv4-addr", "domain-name", "url"] {
                let object = json!({ "value": value });
                assert_eq!(
                    Some(value_uuid(value)),
                    deterministic_uuid(type_name, object.as_object().unwrap()),
                    "{value}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn escapes_are_found_in_every_position(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::sample::select(vec![b'"', b'\\', 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff]),
                ],
                0..40,
            )
        ) {
            let expected = text.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escape(&text), expected);
        }
    }

    #[test]
    fn an_escape_is_found_after_bytes_that_borrow() {
        // High bytes and bytes just above the bounds, then the one byte to escape, in every
        // lane of a word.
        for lane in 0..16 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut text = vec![0xffu8; 16];
                text[..lane].fill(0x20);
                text[lane] = special;
                assert!(needs_escape(&text), "{lane} {special}");
                text[lane] = 0x21;
                assert!(!needs_escape(&text), "{lane}");
            }
        }
    }

    fn canonical(value: Value) -> String {
        let mut out = String::new();
        canonical_json(&value, &mut out);
        out
    }

    fn id_of(value: Value) -> Option<String> {
        deterministic_id(value.as_object().expect("an object"))
    }

    #[test]
    fn canonical_json_follows_rfc_8785() {
        // RFC 8785 §3.2.3: keys sorted by UTF-16 code units, so U+1F600 (a surrogate pair,
        // 0xD83D…) sorts before U+FB33 although its UTF-8 bytes sort after.
        let sorted = canonical(json!({"\u{fb33}": 1, "\u{1f600}": 2, "\r": 3, "1": 4, "a": 5}));
        assert_eq!(
            sorted,
            "{\"\\r\":3,\"1\":4,\"a\":5,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
        // RFC 8785 §3.2.2.2: only the short escapes and \u00XX for other controls.
        assert_eq!(
            canonical(json!("\u{1}\u{1f}\"\\\u{8}\u{c}\n\r\t/é€")),
            "\"\\u0001\\u001f\\\"\\\\\\b\\f\\n\\r\\t/é€\""
        );
        // RFC 8785 Appendix B: ECMAScript number serialisation.
        for (number, text) in [
            (json!(0.0), "0"),
            (json!(-0.0), "0"),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e-7), "1e-7"),
            (json!(1.5e-8), "1.5e-8"),
            (json!(0.000001), "0.000001"),
            (json!(333333333.3333333), "333333333.3333333"),
            (json!(9007199254740992u64), "9007199254740992"),
            (json!(-5), "-5"),
            (json!(4.5), "4.5"),
            (json!(5e-324), "5e-324"),
            (json!(1.7976931348623157e308), "1.7976931348623157e+308"),
        ] {
            assert_eq!(canonical(number), text);
        }
        assert_eq!(
            canonical(json!([true, null, {"b": [], "a": {}}])),
            "[true,null,{\"a\":{},\"b\":[]}]"
        );
    }

    #[test]
    fn the_name_is_the_canonical_text_of_the_contributing_properties() {
        // RFC 4122 UUIDv5 over exactly `{"value":"example.com"}` in the SCO namespace.
        // Python: uuid.uuid5(UUID("00abedb4-…"), '{"value":"example.com"}').
        let expected = "bedb4899-d24b-5401-bc86-8f6b4cc18ec7";
        let id =
            id_of(json!({"type": "domain-name", "value": "example.com", "resolves_to_refs": []}));
        assert_eq!(id, Some(format!("domain-name--{expected}")));
        let uuid = Uuid::parse_str(&id.unwrap()["domain-name--".len()..]).unwrap();
        assert_eq!(uuid.get_version_num(), 5);
    }

    /// Ids computed by the OASIS reference implementation (`stix2` for Python), which
    /// implements §2.9 for every SCO type.
    #[test]
    fn matches_the_reference_implementation() {
        let cases = [
            (
                json!({"type": "ipv4-addr", "value": "198.51.100.3"}),
                "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
            ),
            (
                json!({"type": "domain-name", "value": "example.com"}),
                "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
            ),
            (
                json!({"type": "email-addr", "value": "john@example.com", "display_name": "John"}),
                "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934",
            ),
            (
                json!({"type": "url", "value": "https://example.com/research/index.html"}),
                "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55",
            ),
            (
                json!({"type": "file", "name": "foo.exe", "size": 12, "hashes": {"SHA-256": "aa".repeat(32), "MD5": "bb".repeat(16)}}),
                "file--c4c24dce-f900-51ae-9487-797a73702c7d",
            ),
            (
                json!({"type": "network-traffic", "src_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "dst_port": 443, "protocols": ["ipv4", "tcp"], "src_byte_count": 10}),
                "network-traffic--d130db34-b471-5138-b3ce-c0bdc72c325d",
            ),
            (
                json!({
                    "type": "network-traffic",
                    "start": "2020-06-05T14:39:59.305988Z",
                    "src_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
                    "dst_ref": "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
                    "src_port": 52100,
                    "dst_port": 80,
                    "protocols": ["ipv4", "tcp", "http"],
                    "extensions": {"http-request-ext": {
                        "request_method": "GET",
                        "request_value": "/a b\"\u{e9}",
                        "request_header": {"User-Agent": "curl/8", "Host": "example.com"}
                    }}
                }),
                "network-traffic--3fcd8ab1-2424-5606-8205-4fc13ba1bacf",
            ),
            (
                json!({"type": "x509-certificate", "serial_number": "0a:1b", "subject": "CN=example.com", "hashes": {"SHA-256": "cc".repeat(32), "SHA-1": "dd".repeat(20)}}),
                "x509-certificate--bf58dc9a-7810-5136-9a18-303f08966697",
            ),
        ];
        for (object, expected) in cases {
            assert_eq!(id_of(object).as_deref(), Some(expected));
        }
    }

    #[test]
    fn one_hash_contributes_whatever_the_others() {
        let sha256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f";
        let alone = id_of(json!({"type": "file", "hashes": {"SHA-256": sha256}}));
        let with_sha512 = id_of(
            json!({"type": "file", "hashes": {"SHA-512": "ab".repeat(64), "SHA-256": sha256}}),
        );
        assert_eq!(alone, with_sha512);
        let with_md5 =
            id_of(json!({"type": "file", "hashes": {"MD5": "cd".repeat(16), "SHA-256": sha256}}));
        assert_ne!(alone, with_md5);
        let unusual = id_of(json!({"type": "file", "hashes": {"TLSH": "T1", "SSDEEP": "3:a:b"}}));
        // Python: uuid.uuid5(UUID("00abedb4-…"), '{"hashes":{"SSDEEP":"3:a:b"}}').
        let expected = "7bf4d875-4548-5029-a26e-dbb5839022dd";
        assert_eq!(unusual, Some(format!("file--{expected}")));
    }

    #[test]
    fn no_deterministic_id_without_contributing_properties() {
        assert_eq!(id_of(json!({"type": "process", "pid": 4})), None);
        assert_eq!(id_of(json!({"type": "file", "size": 4})), None);
        assert_eq!(id_of(json!({"type": "x-custom", "value": "a"})), None);
        assert_eq!(id_of(json!({"value": "a"})), None);
        assert_eq!(id_of(json!({"type": "file", "hashes": {}})), None);
    }

    #[test]
    fn contributing_properties_are_sorted_for_one_pass_writing() {
        for type_name in crate::types::OBSERVABLE_OBJECTS {
            let properties = id_contributing_properties(type_name).expect("every SCO type");
            assert!(properties.windows(2).all(|w| w[0] < w[1]), "{type_name}");
        }
    }
}
