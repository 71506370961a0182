//! Which normaliser reads a source's events, named the same way for every source:
//! `auto`, `suricata`, `zeek`, `zeek.<log>` and `mapping:<name>`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use detect::normalise::{suricata, zeek, Mapping, NormaliseError, Normalised, ZeekLog, ZeekTsv};
use stix::Timestamp;

/// How a source's events are read.
#[derive(Debug, Clone)]
pub enum EventFormat {
    /// Suricata EVE when the line has `event_type`, Zeek JSON when it has `_path`.
    Auto,
    Suricata,
    /// Zeek JSON lines (and, in a tailed file, TSV under `#` headers); the log type comes
    /// from `_path` or `#path`, else from the one given here.
    Zeek(Option<ZeekLog>),
    /// An operator's mapping from the config file.
    Mapping(Arc<Mapping>),
}

impl fmt::Display for EventFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventFormat::Auto => f.write_str("auto"),
            EventFormat::Suricata => f.write_str("suricata"),
            EventFormat::Zeek(None) => f.write_str("zeek"),
            EventFormat::Zeek(Some(log)) => write!(f, "zeek.{}", log.name()),
            EventFormat::Mapping(m) => write!(f, "mapping:{}", m.name()),
        }
    }
}

impl EventFormat {
    /// Reads a format's name; `mapping:<name>` must name one of `mappings`.
    pub fn parse(
        text: &str,
        mappings: &BTreeMap<String, Arc<Mapping>>,
    ) -> Result<EventFormat, String> {
        match text {
            "auto" => Ok(EventFormat::Auto),
            "suricata" => Ok(EventFormat::Suricata),
            "zeek" => Ok(EventFormat::Zeek(None)),
            other => {
                if let Some(name) = other.strip_prefix("mapping:") {
                    return match mappings.get(name) {
                        Some(m) => Ok(EventFormat::Mapping(m.clone())),
                        None if mappings.is_empty() => Err(format!(
                            "no mapping `{name}` is configured (the config file has no [[mappings]])"
                        )),
                        None => Err(format!(
                            "no mapping `{name}` is configured; the mappings are {}",
                            mappings.keys().cloned().collect::<Vec<_>>().join(", ")
                        )),
                    };
                }
                other
                    .strip_prefix("zeek.")
                    .and_then(ZeekLog::from_path)
                    .map(|log| EventFormat::Zeek(Some(log)))
                    .ok_or_else(|| {
                        format!(
                            "`{other}` is not a format: use auto, suricata, zeek, \
                             zeek.<conn|dns|http|ssl|files|x509> or mapping:<name>"
                        )
                    })
            }
        }
    }

    /// Normalises one event that stands alone (an NDJSON line, a syslog MSG); `received` is
    /// its time when the event itself carries none (mappings without a `[timestamp]`).
    pub fn normalise(&self, text: &str, received: Timestamp) -> Result<Normalised, NormaliseError> {
        match self {
            EventFormat::Suricata => suricata::eve_line(text),
            EventFormat::Zeek(log) => zeek::json_line(text, *log),
            EventFormat::Mapping(mapping) => mapping.normalise_line(text, received),
            EventFormat::Auto if text.contains("\"event_type\"") => suricata::eve_line(text),
            EventFormat::Auto if text.contains("\"_path\"") => zeek::json_line(text, None),
            // Not a JSON object at all: the JSON reader says where it breaks.
            EventFormat::Auto if !text.trim_start().starts_with('{') => suricata::eve_line(text),
            EventFormat::Auto => Err(NormaliseError::Unsupported(
                "this line: it is neither Suricata EVE (`event_type`) nor Zeek JSON (`_path`); name the format with ?format="
                    .to_owned(),
            )),
        }
    }
}

/// Reads the lines of one file in order: a Zeek TSV log's `#` headers set the layout of the
/// lines under them.
pub struct LineReader {
    format: EventFormat,
    tsv: ZeekTsv,
    /// The log type a Zeek file's name gives, for TSV without `#path` and JSON without `_path`.
    file_log: Option<ZeekLog>,
}

impl LineReader {
    pub fn new(format: EventFormat, file_log: Option<ZeekLog>) -> Self {
        let file_log = match &format {
            EventFormat::Zeek(Some(log)) => Some(*log),
            _ => file_log,
        };
        LineReader {
            tsv: Self::fresh_tsv(file_log),
            format,
            file_log,
        }
    }

    fn fresh_tsv(log: Option<ZeekLog>) -> ZeekTsv {
        log.map(ZeekTsv::for_log).unwrap_or_default()
    }

    /// A new file starts: headers read so far no longer apply.
    pub fn reset(&mut self) {
        self.tsv = Self::fresh_tsv(self.file_log);
    }

    /// Whether a line changes how later lines are read, so must be read again when a
    /// restart resumes after it.
    pub fn is_header(&self, line: &str) -> bool {
        matches!(self.format, EventFormat::Zeek(_)) && line.starts_with('#')
    }

    /// One line: `None` for a header or a blank line, else the event or why it was refused.
    pub fn line(
        &mut self,
        line: &str,
        received: Timestamp,
    ) -> Option<Result<Normalised, NormaliseError>> {
        if line.trim().is_empty() {
            return None;
        }
        match &self.format {
            EventFormat::Zeek(_) if line.trim_start().starts_with('{') => {
                Some(zeek::json_line(line, self.file_log))
            }
            EventFormat::Zeek(_) => self.tsv.line(line).transpose(),
            other => Some(other.normalise(line, received)),
        }
    }
}

/// The Zeek log a file's name says it holds: `dns.log`, `dns.12:00:00-13:00:00.log`.
pub fn zeek_log_of(path: &std::path::Path) -> Option<ZeekLog> {
    let name = path.file_name()?.to_str()?;
    ZeekLog::from_path(name.split('.').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_alike_everywhere() {
        let mut mappings = BTreeMap::new();
        let edr = Mapping::from_toml("name = \"edr\"\n[fields]\nip = \"ipv4-addr:value\"\n")
            .map(Arc::new)
            .expect("a valid mapping");
        mappings.insert("edr".to_owned(), edr);
        for name in ["auto", "suricata", "zeek", "zeek.dns", "mapping:edr"] {
            let format = EventFormat::parse(name, &mappings).expect(name);
            assert_eq!(format.to_string(), name);
        }
        assert_eq!(
            EventFormat::parse("mapping:fw", &mappings).unwrap_err(),
            "no mapping `fw` is configured; the mappings are edr"
        );
        assert!(EventFormat::parse("zeek.weird", &mappings)
            .unwrap_err()
            .starts_with("`zeek.weird` is not a format"));
    }

    #[test]
    fn zeek_files_read_tsv_under_headers_and_json_lines() {
        let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/../detect/testdata/zeek");
        let tsv = std::fs::read_to_string(format!("{testdata}/tsv/dns.log")).expect("sample");
        let mut reader =
            LineReader::new(EventFormat::Zeek(None), zeek_log_of("/x/dns.log".as_ref()));
        let now = Timestamp::now();
        let events: Vec<_> = tsv
            .lines()
            .filter_map(|line| reader.line(line, now))
            .map(|event| event.expect("normalised").source.to_string())
            .collect();
        assert_eq!(events, ["zeek.dns"; 4]);
        let data_line = tsv.lines().find(|l| !l.starts_with('#')).expect("data");
        reader.reset();
        assert_eq!(
            reader
                .line(data_line, now)
                .expect("a data line")
                .unwrap_err(),
            NormaliseError::NoHeader
        );
        // A JSON line without `_path` takes the log type from the file's name.
        let json = std::fs::read_to_string(format!("{testdata}/json/dns.log")).expect("sample");
        let line = json
            .lines()
            .next()
            .expect("a line")
            .replace("\"_path\":\"dns\",", "");
        let event = reader
            .line(&line, now)
            .expect("a JSON line")
            .expect("normalised");
        assert_eq!(event.source.to_string(), "zeek.dns");
        assert_eq!(
            zeek_log_of("/x/conn.00:00:00-01:00:00.log".as_ref()),
            Some(ZeekLog::Conn)
        );
        assert_eq!(zeek_log_of("/x/eve.json".as_ref()), None);
    }
}
