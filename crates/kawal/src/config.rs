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
    /// Whether writes append to the transparency log (on unless the config file says
    /// `transparency_log = false`).
    pub transparency_log: bool,
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
            transparency_log: file.transparency_log.unwrap_or(true),
        })
    }
}

fn read_file(path: &Path) -> Result<File> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}
