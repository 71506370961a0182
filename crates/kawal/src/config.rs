//! Configuration: command-line flag, then environment variable, then config file, then default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

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
    sighting_window_s: Option<u64>,
    #[serde(default)]
    webhooks: Vec<WebhookEntry>,
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
    /// How long alerts of one indicator are gathered into one sighting.
    pub sighting_window: std::time::Duration,
    pub webhooks: Vec<WebhookEntry>,
}

impl Config {
    pub fn load(args: &DataArgs, listen: Option<&str>) -> Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
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
        for hook in &file.webhooks {
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
            sighting_window: std::time::Duration::from_secs(sighting_window_s),
            webhooks: file.webhooks,
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

fn read_file(path: &Path) -> Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}
