//! Reading the samples, summarising normalised events, and matching them against the
//! indicators of `testdata/indicators.json`.

use std::collections::HashMap;
use std::path::PathBuf;

use detect::Normalised;
use matcher::IndicatorSet;
use serde_json::Value;
use stix::Timestamp;

pub fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(path)
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(testdata(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn read_bytes(path: &str) -> Vec<u8> {
    std::fs::read(testdata(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a test timestamp")
}

fn value_of<'a>(event: &'a Normalised, id: &str) -> &'a str {
    event
        .objects
        .iter()
        .find(|o| o["id"] == id)
        .and_then(|o| o["value"].as_str())
        .unwrap_or("?")
}

fn short_hashes(object: &Value) -> String {
    let mut hashes: Vec<String> = object["hashes"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| format!("{k}:{}", &v.as_str().unwrap_or("")[..8]))
                .collect()
        })
        .unwrap_or_default();
    hashes.sort();
    hashes.join(",")
}

/// One line per object, sorted, naming what a reader of the log would look for.
pub fn summary(event: &Normalised) -> Vec<String> {
    let mut lines: Vec<String> = event
        .objects
        .iter()
        .map(|o| {
            let type_name = o["type"].as_str().unwrap_or("?");
            let text = |key: &str| o[key].as_str().unwrap_or("-").to_owned();
            match type_name {
                "network-traffic" => {
                    let end = |side: &str| {
                        let address = o[format!("{side}_ref")]
                            .as_str()
                            .map_or("-", |id| value_of(event, id));
                        let port = o[format!("{side}_port")]
                            .as_u64()
                            .map_or("-".to_owned(), |p| p.to_string());
                        format!("{address} {port}")
                    };
                    let protocols: Vec<&str> = o["protocols"]
                        .as_array()
                        .map(|p| p.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut line = format!(
                        "network-traffic {} > {} [{}]",
                        end("src"),
                        end("dst"),
                        protocols.join(",")
                    );
                    let request = &o["extensions"]["http-request-ext"];
                    if request.is_object() {
                        line.push_str(&format!(
                            " {} {}",
                            request["request_method"].as_str().unwrap_or("-"),
                            request["request_value"].as_str().unwrap_or("-")
                        ));
                    }
                    line
                }
                "domain-name" => match o["resolves_to_refs"].as_array() {
                    Some(refs) => {
                        let targets: Vec<&str> = refs
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|id| value_of(event, id))
                            .collect();
                        format!("domain-name {} -> {}", text("value"), targets.join(","))
                    }
                    None => format!("domain-name {}", text("value")),
                },
                "file" => format!("file {} {}", text("name"), short_hashes(o)),
                "x509-certificate" => format!(
                    "x509-certificate {} serial={} subject={}",
                    short_hashes(o),
                    text("serial_number"),
                    text("subject")
                ),
                other => format!("{other} {}", text("value")),
            }
        })
        .collect();
    lines.sort();
    lines
}

pub fn lines(expected: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// The indicators of `testdata/indicators.json`, compiled, with their names.
pub struct Indicators {
    set: IndicatorSet,
    names: HashMap<String, String>,
}

impl Indicators {
    pub fn load() -> Indicators {
        let bundle: Value = serde_json::from_str(&read("indicators.json")).expect("the bundle");
        let mut set = IndicatorSet::new();
        let mut names = HashMap::new();
        for indicator in bundle["objects"].as_array().expect("objects") {
            let id = indicator["id"].as_str().expect("id");
            let valid_from = indicator["valid_from"].as_str().map(at);
            set.insert(
                id,
                indicator["pattern"].as_str().expect("pattern"),
                valid_from,
                None,
            )
            .expect("every sample indicator compiles");
            names.insert(
                id.to_owned(),
                indicator["name"].as_str().expect("name").to_owned(),
            );
        }
        Indicators { set, names }
    }

    /// The names of the indicators the event matches, sorted.
    pub fn hits(&mut self, event: &Normalised) -> Vec<String> {
        let mut hits: Vec<String> = self
            .set
            .match_observation(&event.observation())
            .into_iter()
            .map(|hit| self.names[&hit.indicator].clone())
            .collect();
        hits.sort();
        hits
    }
}

/// Every object is a STIX 2.1 SCO the exchange's own validation accepts, with the
/// deterministic id of its contributing properties.
pub fn assert_valid_objects(event: &Normalised) {
    for object in &event.objects {
        let map = object.as_object().expect("objects are JSON objects");
        let mut with_version = map.clone();
        with_version.insert("spec_version".to_owned(), Value::String("2.1".to_owned()));
        let text = serde_json::to_string(&with_version).expect("serialisable");
        if let Err(rejection) = stix::parse_object(&text) {
            panic!("{text}: {rejection:?}");
        }
        assert_eq!(
            stix::deterministic_id(map).as_deref(),
            map["id"].as_str(),
            "{text}"
        );
    }
}
