//! Configuration: command-line flag, then environment variable, then config file, then default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use detect::normalise::mapping::TimestampConfig;
use detect::normalise::{Mapping, MappingConfig};
use serde::Deserialize;
use server::sources::{EventFormat, SyslogAddress};

#[derive(Args, Clone)]
pub struct DataArgs {
    /// Data directory (default ./kawal-data).
    #[arg(long, env = "KAWAL_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// TOML config file; unknown keys are refused.
    #[arg(long, env = "KAWAL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// The config file. Every key is optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    data: Option<PathBuf>,
    listen: Option<String>,
    public_url: Option<String>,
    title: Option<String>,
    instance_name: Option<String>,
    max_body_bytes: Option<usize>,
    max_page: Option<usize>,
    log_origin: Option<String>,
    checkpoint_interval_ms: Option<u64>,
    transparency_log: Option<bool>,
    witness_name: Option<String>,
    #[serde(default)]
    witnessed_logs: Vec<WitnessedLogEntry>,
    #[serde(default)]
    log_witnesses: Vec<LogWitnessEntry>,
    #[serde(default)]
    mappings: Vec<MappingEntry>,
    #[serde(default)]
    syslog: Vec<SyslogEntry>,
    #[serde(default)]
    tail: Vec<TailEntry>,
    event_queue: Option<usize>,
    sighting_window_s: Option<u64>,
    #[serde(default)]
    webhooks: Vec<WebhookEntry>,
    #[serde(default)]
    case_webhooks: Vec<WebhookEntry>,
    overdue_check_s: Option<u64>,
    evidence_max_bytes: Option<u64>,
    archive_days: Option<u64>,
    archive_max_bytes: Option<u64>,
    retro_hunt_days: Option<u64>,
}

/// `[[webhooks]]`: where one organisation's alerts are POSTed, signed.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct WebhookEntry {
    pub url: String,
    /// The organisation, by name, whose alerts it receives.
    pub org: String,
    /// The HMAC-SHA256 key of `X-Kawal-Signature`.
    pub secret: String,
}

/// `[[mappings]]`: an operator's mapping, written here or in a file of its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingEntry {
    /// A mapping TOML file, relative to this config file.
    file: Option<PathBuf>,
    name: Option<String>,
    timestamp: Option<TimestampConfig>,
    fields: Option<BTreeMap<String, String>>,
}

/// `[[syslog]]`: a syslog listener.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyslogEntry {
    /// `udp://IP:PORT` or `tcp://IP:PORT`.
    listen: String,
    /// The organisation that owns the events.
    org: String,
    /// How the MSG part is read.
    format: String,
}

/// `[[tail]]`: a file followed as it grows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TailEntry {
    path: PathBuf,
    org: String,
    format: String,
}

/// A syslog listener, as configured; the organisation is found when the server starts.
pub struct SyslogConfig {
    pub listen: SyslogAddress,
    pub org: String,
    pub format: EventFormat,
}

pub struct TailConfig {
    pub path: PathBuf,
    pub org: String,
    pub format: EventFormat,
}

/// Where events come from besides `POST /api/events`, and how they are read.
#[derive(Default)]
pub struct SourcesConfig {
    pub mappings: BTreeMap<String, Arc<Mapping>>,
    pub syslog: Vec<SyslogConfig>,
    pub tail: Vec<TailConfig>,
    /// Events waiting between each source and matching, at most.
    pub queue: usize,
}

/// `[[witnessed_logs]]`: a log this instance witnesses.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessedLogEntry {
    /// The log's verifier key (`name+id+base64`, an Ed25519 note key).
    key: String,
    /// The origin line of its checkpoints; the key's name when omitted.
    origin: Option<String>,
}

/// `[[log_witnesses]]`: a witness this instance's log submits its checkpoints to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogWitnessEntry {
    /// The witness's cosignature verifier key (`name+id+base64`, key type 0x04).
    key: String,
    /// Its submission prefix; checkpoints are posted to `<url>/add-checkpoint`.
    url: String,
}

/// A witness of this instance's log, as configured.
pub struct LogWitness {
    pub key: tlog::cosignature::CosignatureVerifier,
    pub url: String,
}

pub struct Config {
    pub data: PathBuf,
    pub listen: String,
    pub public_url: Option<String>,
    pub title: String,
    /// The name of the organisation created on first start.
    pub instance_name: String,
    pub max_body_bytes: usize,
    pub max_page: usize,
    /// The origin line of the log's checkpoints; by default derived from the instance.
    pub log_origin: Option<String>,
    /// How often, at most, a checkpoint is signed while the log grows.
    pub checkpoint_interval: std::time::Duration,
    /// The name of this instance's witness key; by default derived from the instance.
    pub witness_name: Option<String>,
    /// The logs this instance witnesses.
    pub witnessed_logs: Vec<tlog::witness::TrustedLog>,
    /// The witnesses this instance's log asks for cosignatures.
    pub log_witnesses: Vec<LogWitness>,
    /// Whether writes append to the transparency log (on unless the config file says
    /// `transparency_log = false`).
    pub transparency_log: bool,
    pub sources: SourcesConfig,
    /// How long alerts of one indicator are gathered into one sighting.
    pub sighting_window: std::time::Duration,
    pub webhooks: Vec<WebhookEntry>,
    /// Receivers of the case events each organisation may read.
    pub case_webhooks: Vec<WebhookEntry>,
    /// How often open tasks are checked against their due dates.
    pub overdue_every: std::time::Duration,
    /// The largest case evidence file.
    pub evidence_max_bytes: u64,
    /// Archived events older than this are deleted (by whole segments).
    pub archive_max_age: std::time::Duration,
    /// The oldest archived events are deleted while the archive is larger than this.
    pub archive_max_bytes: u64,
    /// How far back a new indicator is hunted for in the archive.
    pub retro_hunt: std::time::Duration,
}

/// The archive keeps a month of events unless told otherwise.
const DEFAULT_ARCHIVE_DAYS: u64 = 30;
const DEFAULT_ARCHIVE_MAX_BYTES: u64 = 10 << 30;
const DEFAULT_RETRO_HUNT_DAYS: u64 = 7;
/// Below this the archive could not hold one segment being written.
const MIN_ARCHIVE_BYTES: u64 = 1 << 20;
const DAY: u64 = 86_400;

impl Config {
    pub fn load(args: &DataArgs, listen: Option<&str>) -> Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let config_dir = args
            .config
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."));
        let sources = sources(&file, config_dir)?;
        let listen = listen
            .map(str::to_owned)
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        listen
            .parse::<SocketAddr>()
            .with_context(|| format!("listen address `{listen}` is not of the form IP:PORT"))?;
        let max_body_bytes = file.max_body_bytes.unwrap_or(32 * 1024 * 1024);
        let max_page = file.max_page.unwrap_or(10_000);
        anyhow::ensure!(
            max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(max_page >= 1, "max_page must be at least 1");
        let sighting_window_s = file.sighting_window_s.unwrap_or(60);
        anyhow::ensure!(
            sighting_window_s >= 1,
            "sighting_window_s must be at least 1"
        );
        let archive_days = file.archive_days.unwrap_or(DEFAULT_ARCHIVE_DAYS);
        anyhow::ensure!(
            (1..=36_500).contains(&archive_days),
            "archive_days must be between 1 and 36500"
        );
        let archive_max_bytes = file.archive_max_bytes.unwrap_or(DEFAULT_ARCHIVE_MAX_BYTES);
        anyhow::ensure!(
            archive_max_bytes >= MIN_ARCHIVE_BYTES,
            "archive_max_bytes must be at least {MIN_ARCHIVE_BYTES}"
        );
        let retro_hunt_days = file.retro_hunt_days.unwrap_or(DEFAULT_RETRO_HUNT_DAYS);
        anyhow::ensure!(
            retro_hunt_days <= archive_days,
            "retro_hunt_days ({retro_hunt_days}) cannot be more than archive_days ({archive_days}): older events are not kept"
        );
        let evidence_max_bytes = file
            .evidence_max_bytes
            .unwrap_or(server::DEFAULT_EVIDENCE_MAX_BYTES);
        anyhow::ensure!(
            evidence_max_bytes >= 1,
            "evidence_max_bytes must be at least 1"
        );
        let overdue_check_s = file.overdue_check_s.unwrap_or(60);
        anyhow::ensure!(overdue_check_s >= 1, "overdue_check_s must be at least 1");
        for hook in file.webhooks.iter().chain(&file.case_webhooks) {
            anyhow::ensure!(
                ["http://", "https://"]
                    .iter()
                    .any(|scheme| hook.url.len() > scheme.len() && hook.url.starts_with(scheme)),
                "webhooks: `{}` must be an http:// or https:// URL",
                hook.url
            );
            anyhow::ensure!(
                !hook.secret.is_empty(),
                "webhooks: the hook to `{}` needs a secret to sign its deliveries with",
                hook.url
            );
        }
        Ok(Config {
            data: args
                .data
                .clone()
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from("kawal-data")),
            listen,
            public_url: file.public_url,
            title: file.title.unwrap_or_else(|| "Kawal".to_owned()),
            instance_name: file
                .instance_name
                .unwrap_or_else(|| "Kawal instance".to_owned()),
            max_body_bytes,
            max_page,
            log_origin: file.log_origin,
            checkpoint_interval: std::time::Duration::from_millis(
                file.checkpoint_interval_ms.unwrap_or(1000).max(10),
            ),
            witness_name: file.witness_name,
            witnessed_logs: file
                .witnessed_logs
                .iter()
                .map(witnessed_log)
                .collect::<Result<_>>()?,
            log_witnesses: file
                .log_witnesses
                .iter()
                .map(log_witness)
                .collect::<Result<_>>()?,
            transparency_log: file.transparency_log.unwrap_or(true),
            sources,
            sighting_window: std::time::Duration::from_secs(sighting_window_s),
            webhooks: file.webhooks,
            case_webhooks: file.case_webhooks,
            overdue_every: std::time::Duration::from_secs(overdue_check_s),
            evidence_max_bytes,
            archive_max_age: std::time::Duration::from_secs(archive_days * DAY),
            archive_max_bytes,
            retro_hunt: std::time::Duration::from_secs(retro_hunt_days * DAY),
        })
    }
}

fn witnessed_log(entry: &WitnessedLogEntry) -> Result<tlog::witness::TrustedLog> {
    let key = tlog::note::Verifier::from_verifier_key(entry.key.trim()).with_context(|| {
        format!(
            "witnessed_logs: `{}` is not a log verifier key (name+keyid+base64 of type 0x01)",
            entry.key
        )
    })?;
    let origin = entry
        .origin
        .clone()
        .unwrap_or_else(|| tlog::note::NoteVerifier::name(&key).to_owned());
    anyhow::ensure!(
        !origin.is_empty() && !origin.contains('\n'),
        "witnessed_logs: the origin `{origin}` must be one non-empty line"
    );
    Ok(tlog::witness::TrustedLog::new(&origin, vec![key]))
}

fn log_witness(entry: &LogWitnessEntry) -> Result<LogWitness> {
    let key = tlog::cosignature::CosignatureVerifier::from_verifier_key(entry.key.trim())
        .with_context(|| {
            format!(
                "log_witnesses: `{}` is not a witness cosignature key (name+keyid+base64 of type 0x04)",
                entry.key
            )
        })?;
    anyhow::ensure!(
        ["http://", "https://"]
            .iter()
            .any(|scheme| entry.url.len() > scheme.len() && entry.url.starts_with(scheme)),
        "log_witnesses: `{}` must be an http:// or https:// URL (the submission prefix)",
        entry.url
    );
    Ok(LogWitness {
        key,
        url: entry.url.clone(),
    })
}

/// Checks the mappings and sources, each error naming its entry (`syslog[1]: …`).
fn sources(file: &File, config_dir: &Path) -> Result<SourcesConfig> {
    let mut mappings = BTreeMap::new();
    for (i, entry) in file.mappings.iter().enumerate() {
        let mapping = mapping(entry, config_dir).with_context(|| format!("mappings[{i}]"))?;
        let name = mapping.name().to_owned();
        anyhow::ensure!(
            !mappings.contains_key(&name),
            "mappings[{i}]: a mapping named `{name}` is already configured"
        );
        mappings.insert(name, Arc::new(mapping));
    }
    let format = |text: &str| EventFormat::parse(text, &mappings).map_err(anyhow::Error::msg);
    let mut syslog: Vec<SyslogConfig> = Vec::new();
    for (i, entry) in file.syslog.iter().enumerate() {
        let listen: SyslogAddress = entry
            .listen
            .parse()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("syslog[{i}]: listen"))?;
        anyhow::ensure!(
            listen.addr.port() == 0 || !syslog.iter().any(|s| s.listen == listen),
            "syslog[{i}]: {listen} is already configured"
        );
        syslog.push(SyslogConfig {
            listen,
            org: organisation(&entry.org).with_context(|| format!("syslog[{i}]"))?,
            format: format(&entry.format).with_context(|| format!("syslog[{i}]: format"))?,
        });
    }
    let mut tail: Vec<TailConfig> = Vec::new();
    for (i, entry) in file.tail.iter().enumerate() {
        anyhow::ensure!(
            !entry.path.as_os_str().is_empty(),
            "tail[{i}]: path is empty"
        );
        anyhow::ensure!(
            !tail.iter().any(|t| t.path == entry.path),
            "tail[{i}]: {} is already tailed",
            entry.path.display()
        );
        tail.push(TailConfig {
            path: entry.path.clone(),
            org: organisation(&entry.org).with_context(|| format!("tail[{i}]"))?,
            format: format(&entry.format).with_context(|| format!("tail[{i}]: format"))?,
        });
    }
    let queue = file.event_queue.unwrap_or(server::sources::DEFAULT_QUEUE);
    anyhow::ensure!(queue >= 1, "event_queue must be at least 1");
    Ok(SourcesConfig {
        mappings,
        syslog,
        tail,
        queue,
    })
}

fn organisation(name: &str) -> Result<String> {
    anyhow::ensure!(
        !name.trim().is_empty(),
        "org: name the organisation that owns the events"
    );
    Ok(name.to_owned())
}

fn mapping(entry: &MappingEntry, config_dir: &Path) -> Result<Mapping> {
    match entry {
        MappingEntry {
            file: Some(path),
            name: None,
            timestamp: None,
            fields: None,
        } => {
            let path = config_dir.join(path);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
            Mapping::from_toml(&text).with_context(|| path.display().to_string())
        }
        MappingEntry {
            file: None,
            name: Some(name),
            timestamp,
            fields: Some(fields),
        } => Ok(Mapping::new(MappingConfig {
            name: name.clone(),
            timestamp: timestamp.clone(),
            fields: fields.clone(),
        })?),
        MappingEntry { file: Some(_), .. } => anyhow::bail!(
            "give either `file` or the mapping itself (`name`, `fields`, `timestamp`), not both"
        ),
        MappingEntry { name: None, .. } => {
            anyhow::bail!("a mapping needs a `name` and `fields`, or a `file`")
        }
        MappingEntry { fields: None, .. } => anyhow::bail!("a mapping needs `fields`"),
    }
}

fn read_file(path: &Path) -> Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SourcesConfig> {
        let file: File = toml::from_str(text).context("config file")?;
        sources(
            &file,
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../detect/testdata")),
        )
    }

    fn error(text: &str) -> String {
        match load(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn size_and_age_keys_have_defaults_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            let path = dir.path().join("kawal.toml");
            std::fs::write(&path, text).unwrap();
            let args = DataArgs {
                data: Some(dir.path().to_owned()),
                config: Some(path),
            };
            Config::load(&args, None).map_err(|e| format!("{e:#}"))
        };
        let days = |n: u64| std::time::Duration::from_secs(n * DAY);
        let defaults = load("").unwrap();
        assert_eq!(defaults.evidence_max_bytes, 32 << 20);
        assert_eq!(
            load("evidence_max_bytes = 1024")
                .unwrap()
                .evidence_max_bytes,
            1024
        );
        assert_eq!(
            load("evidence_max_bytes = 0").err().unwrap(),
            "evidence_max_bytes must be at least 1"
        );
        assert_eq!(defaults.archive_max_age, days(30));
        assert_eq!(defaults.archive_max_bytes, 10 << 30);
        assert_eq!(defaults.retro_hunt, days(7));
        let set =
            load("archive_days = 10\narchive_max_bytes = 1048576\nretro_hunt_days = 2\n").unwrap();
        assert_eq!(
            (set.archive_max_age, set.archive_max_bytes, set.retro_hunt),
            (days(10), 1 << 20, days(2))
        );
        assert_eq!(
            load("archive_days = 0").err().unwrap(),
            "archive_days must be between 1 and 36500"
        );
        assert_eq!(
            load("archive_max_bytes = 10").err().unwrap(),
            "archive_max_bytes must be at least 1048576"
        );
        assert_eq!(
            load("archive_days = 3\nretro_hunt_days = 7").err().unwrap(),
            "retro_hunt_days (7) cannot be more than archive_days (3): older events are not kept"
        );
        assert!(load("archive_dayz = 3")
            .err()
            .unwrap()
            .contains("unknown field `archive_dayz`"));
    }

    #[test]
    fn sources_and_mappings_load() {
        let config = load(
            r#"
            event_queue = 16
            [[mappings]]
            file = "mapping/firewall.toml"
            [[mappings]]
            name = "inline"
            fields = { ip = "ipv4-addr:value" }
            [mappings.timestamp]
            field = "ts"
            format = "epoch_millis"
            [[syslog]]
            listen = "udp://127.0.0.1:5514"
            org = "MY-CERT"
            format = "mapping:edge-firewall"
            [[syslog]]
            listen = "tcp://[::1]:6514"
            org = "MY-CERT"
            format = "zeek.dns"
            [[tail]]
            path = "/var/log/suricata/eve.json"
            org = "MY-CERT"
            format = "suricata"
            "#,
        )
        .expect("a valid configuration");
        assert_eq!(
            config.mappings.keys().collect::<Vec<_>>(),
            ["edge-firewall", "inline"]
        );
        assert_eq!(config.syslog[0].listen.to_string(), "udp://127.0.0.1:5514");
        assert_eq!(config.syslog[1].listen.to_string(), "tcp://[::1]:6514");
        assert_eq!(config.syslog[1].format.to_string(), "zeek.dns");
        assert_eq!(config.tail[0].format.to_string(), "suricata");
        assert_eq!(config.queue, 16);
    }

    #[test]
    fn mistakes_are_named_precisely() {
        let syslog = |listen: &str, format: &str| {
            format!("[[syslog]]\nlisten = \"{listen}\"\norg = \"A\"\nformat = \"{format}\"\n")
        };
        assert_eq!(
            error(&syslog("udp:/127.0.0.1:514", "suricata")),
            "syslog[0]: listen: `udp:/127.0.0.1:514` must start with udp:// or tcp:// (for example udp://0.0.0.0:514)"
        );
        assert_eq!(
            error(&syslog("tcp://localhost:514", "suricata")),
            "syslog[0]: listen: `localhost:514` in `tcp://localhost:514` is not of the form IP:PORT"
        );
        assert_eq!(
            error(&syslog("udp://127.0.0.1:514", "mapping:fw")),
            "syslog[0]: format: no mapping `fw` is configured (the config file has no [[mappings]])"
        );
        assert_eq!(
            error(&format!(
                "{}{}",
                syslog("udp://127.0.0.1:514", "suricata"),
                syslog("udp://127.0.0.1:514", "suricata")
            )),
            "syslog[1]: udp://127.0.0.1:514 is already configured"
        );
        assert!(error(&syslog("udp://127.0.0.1:514", "cef"))
            .starts_with("syslog[0]: format: `cef` is not a format"));
        assert_eq!(
            error("[[tail]]\npath = \"/x.log\"\norg = \" \"\nformat = \"zeek\"\n"),
            "tail[0]: org: name the organisation that owns the events"
        );
        assert!(error(
            "[[tail]]\npath = \"/x.log\"\norg = \"A\"\nformat = \"zeek\"\nfollow = true\n"
        )
        .contains("unknown field `follow`"));
        assert_eq!(
            error("[[mappings]]\nfile = \"mapping/edr.toml\"\nname = \"x\"\n"),
            "mappings[0]: give either `file` or the mapping itself (`name`, `fields`, `timestamp`), not both"
        );
        assert_eq!(
            error("[[mappings]]\nname = \"x\"\n"),
            "mappings[0]: a mapping needs `fields`"
        );
        assert_eq!(
            error("[[mappings]]\nname = \"x\"\nfields = { ip = \"ipv4-addr:nope\" }\n"),
            "mappings[0]: mapping `x`: field `ip`: `ipv4-addr:nope` is not a target a mapping can fill; targets are ".to_owned()
                + &error_targets()
        );
        assert!(error("[[mappings]]\nfile = \"mapping/none.toml\"\n")
            .starts_with("mappings[0]: cannot read the mapping file"));
        assert_eq!(
            error("[[mappings]]\nfile = \"mapping/edr.toml\"\n[[mappings]]\nfile = \"mapping/edr.toml\"\n"),
            "mappings[1]: a mapping named `edr` is already configured"
        );
        assert_eq!(error("event_queue = 0\n"), "event_queue must be at least 1");
    }

    /// The list of targets the mapping error quotes, as the detect crate words it.
    fn error_targets() -> String {
        let e = Mapping::from_toml("name = \"x\"\n[fields]\nip = \"ipv4-addr:nope\"\n")
            .expect_err("refused")
            .to_string();
        e.split_once("targets are ")
            .map(|(_, t)| t.to_owned())
            .unwrap_or_default()
    }
}
