//! `kawal`: the exchange's one binary — server, administration, import and export.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod config;
mod hunt;
mod patterns;
mod verify;

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use kawal_core::{Exchange, Principal, Role};
use stix::Tlp;
use store::SqliteStore;

use crate::config::{Config, DataArgs};

#[derive(Parser)]
#[command(
    name = "kawal",
    version,
    about = "Cyber-threat exchange and fusion centre: STIX 2.1 over TAXII 2.1 with TLP 2.0 enforced"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage organisations, sharing groups, collections and tokens (works while the server runs).
    Admin {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Import a STIX 2.1 bundle (or TAXII envelope) into a collection; `-` reads standard input.
    Import {
        file: PathBuf,
        #[arg(long)]
        collection: String,
        /// The producing organisation (default: the instance's own).
        #[arg(long)]
        org: Option<String>,
        /// Organisations that may read the TLP:RED objects of this import.
        #[arg(long, value_delimiter = ',')]
        recipients: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Verify objects and checkpoints against a Kawal transparency log.
    Verify {
        #[command(subcommand)]
        command: verify::VerifyCommand,
    },
    /// Follow a Kawal transparency log.
    Log {
        #[command(subcommand)]
        command: verify::LogCommand,
    },
    /// STIX patterns: check them, match them against observations.
    Pattern {
        #[command(subcommand)]
        command: patterns::PatternCommand,
    },
    /// Hunt through an organisation's archived sensor events with a STIX pattern (works while
    /// the server runs): hits as NDJSON on standard output, progress on standard error.
    Hunt(hunt::HuntArgs),
    /// Cases: export one as a STIX 2.1 bundle that `kawal import` recreates on another instance.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Export the newest version of each object of a collection as a STIX 2.1 bundle.
    Export {
        #[arg(long)]
        collection: String,
        /// Read as this organisation (default: the instance's own); the access policy applies.
        #[arg(long)]
        org: Option<String>,
        /// Where to write the bundle; `-` is standard output.
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum CaseCommand {
    /// Every version of the case's objects the organisation may read (TLP:RED left out), with
    /// the extension definitions they use; import it into a collection of its own.
    Export {
        /// The case's id (its incident's, incident--<UUID>).
        id: String,
        /// Read as this organisation (default: the instance's own); the access policy applies.
        #[arg(long)]
        org: Option<String>,
        /// Where to write the bundle; `-` is standard output.
        #[arg(long, default_value = "-")]
        out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "KAWAL_LISTEN")]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Sharing groups.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Collections.
    Collection {
        #[command(subcommand)]
        command: CollectionCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Accounts for the web console.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the newest audit events.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    Add {
        name: String,
        /// ISO 3166-1 alpha-2 country code.
        #[arg(long)]
        country: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
enum GroupCommand {
    Add {
        name: String,
        #[arg(long, value_delimiter = ',', required = true)]
        orgs: Vec<String>,
    },
    List,
}

#[derive(Subcommand)]
enum CollectionCommand {
    /// Prints the new collection's id.
    Add {
        title: String,
        #[arg(long)]
        group: String,
        /// Organisations that may write (default: every member of the group).
        #[arg(long, value_delimiter = ',')]
        writers: Option<Vec<String>>,
        #[arg(long, default_value = "amber")]
        default_tlp: String,
        /// Anonymous clients may read the collection's TLP:CLEAR objects.
        #[arg(long)]
        public: bool,
        #[arg(long)]
        description: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Prints TOKEN_ID:SECRET once; only a hash of the secret is kept.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: String,
    },
    Revoke {
        id: String,
    },
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Adds an account that signs in to the web console as its organisation, with the rights
    /// of its role.
    Add {
        username: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input (so that it appears in
        /// neither the shell's history nor the process list).
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    /// Disables an account: its sessions close and it signs in to nothing.
    Disable {
        username: String,
    },
    /// Enables a disabled account again.
    Enable {
        username: String,
    },
    /// Deletes an account and its sessions; what it did stays in the audit trail.
    Delete {
        username: String,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let done = std::process::ExitCode::SUCCESS;
    match cli.command {
        Command::Serve(args) => serve(args).map(|()| done),
        Command::Admin { data, command } => admin(&data, command).map(|()| done),
        Command::Import {
            file,
            collection,
            org,
            recipients,
            data,
        } => import(&data, &file, &collection, org.as_deref(), &recipients).map(|()| done),
        Command::Export {
            collection,
            org,
            output,
            data,
        } => export(&data, &collection, org.as_deref(), &output).map(|()| done),
        Command::Case {
            command: CaseCommand::Export { id, org, out, data },
        } => export_case(&data, &id, org.as_deref(), &out).map(|()| done),
        Command::Pattern { command } => Ok(patterns::run(command)),
        Command::Hunt(args) => hunt::run(args),
        Command::Verify { command } => verify::run(command).map(|()| done),
        Command::Log { command } => verify::monitor(command).map(|()| done),
    }
}

fn open_exchange(config: &Config) -> Result<Exchange> {
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("cannot create the data directory {}", config.data.display()))?;
    let db = config.data.join("kawal.db");
    let store = SqliteStore::open(&db)
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    let exchange = Exchange::new(
        Arc::new(store),
        kawal_core::Limits {
            max_page: config.max_page,
        },
    );
    Ok(if config.transparency_log {
        exchange
    } else {
        exchange.without_transparency_log()
    })
}

/// The command line acts for an organisation: the one named, else the instance's own.
fn local(exchange: &Exchange, org: Option<&str>, role: Role) -> Result<Principal> {
    let org = match org {
        Some(name) => exchange
            .store()
            .org_by_name(name)?
            .with_context(|| format!("organisation `{name}` does not exist"))?,
        None => exchange.instance_org()?.context(
            "this data directory has no instance yet; run `kawal serve` once or pass --org",
        )?,
    };
    Ok(Principal::Local { org: org.id, role })
}

fn serve(args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = Config::load(&args.data, args.listen.as_deref())?;
    let _one_server = lock_data_dir(&config.data)?;
    let exchange = open_exchange(&config)?;
    ensure_instance(&exchange, &config, &mut std::io::stdout())?;
    let instance = exchange
        .instance_org()?
        .context("the instance organisation is missing")?;
    let log = if config.transparency_log {
        let log = log_config(&config, &instance)?;
        println!(
            "transparency log `{}`, verifier key {}",
            log.origin,
            log.signer.verifier().verifier_key()
        );
        for w in &log.witnesses {
            println!(
                "submitting checkpoints to witness {} at {}",
                w.verifier.verifier_key(),
                w.url
            );
        }
        Some(log)
    } else {
        // Witnesses configured for a log that is off would silently cosign nothing.
        anyhow::ensure!(
            config.log_witnesses.is_empty(),
            "log_witnesses are configured but transparency_log = false: there are no checkpoints to submit"
        );
        println!("no transparency log (transparency_log = false): writes are not logged");
        None
    };
    let witness = witness_config(&config, &instance)?;
    println!(
        "witness cosignature key {}, witnessing {} logs",
        witness.cosigner().verifier().verifier_key(),
        witness.logs().len()
    );
    let hooks = |entries: &[config::WebhookEntry], what: &str| {
        entries
            .iter()
            .map(|hook| {
                let org = exchange.store().org_by_name(&hook.org)?.with_context(|| {
                    format!(
                        "webhooks: organisation `{}` (whose {what} go to {}) does not exist",
                        hook.org, hook.url
                    )
                })?;
                println!("delivering the {what} of `{}` to {}", org.name, hook.url);
                Ok(server::Webhook {
                    url: hook.url.clone(),
                    org: org.id,
                    secret: hook.secret.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    let webhooks = hooks(&config.webhooks, "alerts")?;
    let case_webhooks = hooks(&config.case_webhooks, "case events")?;
    let server_config = server::ServerConfig {
        log,
        witness: Some(Arc::new(witness)),
        title: config.title.clone(),
        public_url: config.public_url.clone(),
        max_body_bytes: config.max_body_bytes,
        mappings: config.sources.mappings.clone(),
        sighting_window: config.sighting_window,
        webhooks,
        case_webhooks,
        overdue_every: config.overdue_every,
        evidence: Some(open_evidence(&config)?),
        archive: Some(open_archive(&config)?),
    };
    let sources = event_sources(&exchange, &config)?;
    let state = server::AppState::new(exchange, server_config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let sources = server::sources::start(&state, sources).await?;
        for name in &sources.names {
            println!("receiving events from {name}");
        }
        println!("kawal listening on http://{addr} (TAXII discovery at http://{addr}/taxii2/), data in {}", config.data.display());
        std::io::stdout().flush()?;
        let served = server::serve(listener, state, shutdown_signal()).await;
        sources.stop().await;
        served?;
        Ok(())
    })
}

/// Holds `<data>/serve.lock` for as long as the server runs. The event archive and the
/// evidence files assume one writer: a second server on the same directory would interleave
/// its appends with the first's. The operating system drops the lock when the process ends,
/// however it ends, so a crash leaves nothing stale behind.
fn lock_data_dir(data: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let path = data.join("serve.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            bail!(
                "another `kawal serve`{} is using the data directory {}; one server per data directory",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                },
                data.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

/// Where case evidence files are kept: `<data>/evidence`.
fn open_evidence(config: &Config) -> Result<server::EvidenceSettings> {
    let dir = config.data.join("evidence");
    server::EvidenceSettings::open(&dir, config.evidence_max_bytes)
        .with_context(|| format!("cannot open the evidence directory {}", dir.display()))
}

/// The event archive in `<data>/archive`, with the configured retention; the server is its one
/// writer.
fn open_archive(config: &Config) -> Result<server::ArchiveSettings> {
    let dir = config.data.join("archive");
    let archive = detect::Archive::open(
        &dir,
        detect::ArchiveConfig {
            retention: detect::Retention {
                max_age: Some(config.archive_max_age),
                max_bytes: Some(config.archive_max_bytes),
            },
            ..detect::ArchiveConfig::default()
        },
    )
    .with_context(|| format!("cannot open the event archive {}", dir.display()))?;
    let report = archive.report();
    for (path, dropped, why) in &report.recovered {
        println!(
            "archive: sealed {} after an interrupted write ({dropped} bytes of torn tail dropped{})",
            path.display(),
            why.as_deref().map(|w| format!(": {w}")).unwrap_or_default()
        );
    }
    for (path, why) in &report.damaged {
        println!(
            "archive: {} is not a readable segment and is left unused: {why}",
            path.display()
        );
    }
    Ok(server::ArchiveSettings {
        archive: Arc::new(archive),
        retro_hunt: config.retro_hunt,
        retention_every: ARCHIVE_RETENTION_EVERY,
    })
}

/// Retention deletes whole segments of an hour each; checking more often gains nothing.
const ARCHIVE_RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The configured syslog listeners and tailed files, with the organisations named as their
/// owners, which must exist.
fn event_sources(exchange: &Exchange, config: &Config) -> Result<server::sources::Sources> {
    let owner = |name: &str, what: String| -> Result<kawal_core::OrgId> {
        Ok(exchange
            .store()
            .org_by_name(name)?
            .with_context(|| {
                format!("{what}: organisation `{name}` does not exist; add it with `kawal admin org add`")
            })?
            .id)
    };
    let sources = &config.sources;
    Ok(server::sources::Sources {
        syslog: sources
            .syslog
            .iter()
            .map(|s| {
                Ok(server::sources::SyslogSource {
                    listen: s.listen,
                    org: owner(&s.org, format!("syslog {}", s.listen))?,
                    format: s.format.clone(),
                })
            })
            .collect::<Result<_>>()?,
        tail: sources
            .tail
            .iter()
            .map(|t| {
                Ok(server::sources::TailSource {
                    path: t.path.clone(),
                    org: owner(&t.org, format!("tail {}", t.path.display()))?,
                    format: t.format.clone(),
                })
            })
            .collect::<Result<_>>()?,
        state_dir: config.data.join("tail"),
        queue: sources.queue,
    })
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// On first use of a data directory: creates the instance's organisation and an admin token,
/// shows the token once and keeps it in `<data>/admin.token` (mode 0600).
fn ensure_instance(
    exchange: &Exchange,
    config: &Config,
    out: &mut dyn Write,
) -> Result<kawal_core::Organisation> {
    if let Some(credentials) = exchange.bootstrap(&config.instance_name)? {
        let path = config.data.join("admin.token");
        write_secret(&path, &credentials)?;
        writeln!(
            out,
            "created organisation `{}` and its admin token (also in {}):",
            config.instance_name,
            path.display()
        )?;
        writeln!(out, "{credentials}")?;
    }
    exchange
        .instance_org()?
        .context("the instance organisation is missing")
}

/// The log's signing key lives in `<data>/log.key` (mode 0600), made on first start; the
/// origin names this instance unless the config file sets one.
fn log_config(config: &Config, instance: &kawal_core::Organisation) -> Result<server::LogConfig> {
    let origin = config.log_origin.clone().unwrap_or_else(|| {
        format!(
            "kawal/{}",
            instance.identity_id.trim_start_matches("identity--")
        )
    });
    let path = config.data.join("log.key");
    let signer = load_or_create_key(
        &path,
        tlog::note::Signer::from_signer_key,
        || {
            tlog::note::Signer::from_seed(&origin, &random_seed())
                .with_context(|| format!("`{origin}` cannot name a log key"))
        },
        tlog::note::Signer::signer_key,
    )?;
    if signer.name() != origin {
        anyhow::bail!(
            "{} signs for `{}`, but the log's origin is `{origin}`",
            path.display(),
            signer.name()
        );
    }
    let witnesses = config
        .log_witnesses
        .iter()
        .map(|w| server::LogWitness {
            verifier: w.key.clone(),
            url: w.url.clone(),
        })
        .collect();
    Ok(server::LogConfig {
        origin,
        signer: std::sync::Arc::new(signer),
        checkpoint_every: config.checkpoint_interval,
        witnesses,
    })
}

/// The witness's cosigning key lives in `<data>/witness.key` (mode 0600), made on first start,
/// apart from the log's key: a cosignature must not be confused with the log's own signature.
fn witness_config(
    config: &Config,
    instance: &kawal_core::Organisation,
) -> Result<tlog::witness::Witness> {
    let name = config.witness_name.clone().unwrap_or_else(|| {
        format!(
            "kawal/{}/witness",
            instance.identity_id.trim_start_matches("identity--")
        )
    });
    let path = config.data.join("witness.key");
    let cosigner = load_or_create_key(
        &path,
        tlog::cosignature::Cosigner::from_signer_key,
        || {
            tlog::cosignature::Cosigner::from_seed(&name, &random_seed())
                .with_context(|| format!("`{name}` cannot name a witness key"))
        },
        tlog::cosignature::Cosigner::signer_key,
    )?;
    if cosigner.name() != name {
        anyhow::bail!(
            "{} cosigns as `{}`, but the witness's name is `{name}`",
            path.display(),
            cosigner.name()
        );
    }
    Ok(tlog::witness::Witness::new(
        cosigner,
        config.witnessed_logs.clone(),
    ))
}

fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    seed
}

/// Reads a signing key from `path`, or makes one and writes it there (mode 0600).
fn load_or_create_key<K, E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
    parse: impl FnOnce(&str) -> std::result::Result<K, E>,
    create: impl FnOnce() -> Result<K>,
    text: impl FnOnce(&K) -> String,
) -> Result<K> {
    if path.exists() {
        let stored = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return parse(stored.trim())
            .with_context(|| format!("{} is not a signer key", path.display()));
    }
    let key = create()?;
    write_secret(path, &text(&key))?;
    Ok(key)
}

/// Writes a secret readable by the owner only.
fn write_secret(path: &Path, secret: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{secret}")?;
    Ok(())
}

fn admin(data: &DataArgs, command: AdminCommand) -> Result<()> {
    let config = Config::load(data, None)?;
    let exchange = open_exchange(&config)?;
    // Administration from the command line is done by whoever can open the data directory,
    // on behalf of the instance's organisation.
    let instance = ensure_instance(&exchange, &config, &mut std::io::stderr())?;
    let who = Principal::Local {
        org: instance.id,
        role: Role::Admin,
    };
    let result = match command {
        AdminCommand::Org {
            command: OrgCommand::Add { name, country },
        } => {
            let org = exchange.add_org(&who, &name, country.as_deref())?;
            println!("{}\t{}", org.name, org.identity_id);
            Ok(())
        }
        AdminCommand::Org {
            command: OrgCommand::List,
        } => {
            for org in exchange.store().orgs()? {
                println!(
                    "{}\t{}\t{}",
                    org.name,
                    org.country.as_deref().unwrap_or("-"),
                    org.identity_id
                );
            }
            Ok(())
        }
        AdminCommand::Group {
            command: GroupCommand::Add { name, orgs },
        } => {
            let group = exchange.add_group(&who, &name, &orgs)?;
            println!("{}\t{} members", group.name, group.members.len());
            Ok(())
        }
        AdminCommand::Group {
            command: GroupCommand::List,
        } => {
            let orgs = exchange.store().orgs()?;
            for group in exchange.groups(&who)? {
                let names: Vec<&str> = group
                    .members
                    .iter()
                    .filter_map(|m| orgs.iter().find(|o| o.id == *m).map(|o| o.name.as_str()))
                    .collect();
                println!("{}\t{}", group.name, names.join(","));
            }
            Ok(())
        }
        AdminCommand::Collection {
            command:
                CollectionCommand::Add {
                    title,
                    group,
                    writers,
                    default_tlp,
                    public,
                    description,
                },
        } => {
            let tlp: Tlp = default_tlp.parse()?;
            let request = kawal_core::NewCollectionRequest {
                title,
                description,
                group,
                writers,
                default_tlp: tlp,
                public,
            };
            let c = exchange.add_collection(&who, &request)?;
            println!("{}", c.id);
            Ok(())
        }
        AdminCommand::Collection {
            command: CollectionCommand::List,
        } => {
            for c in exchange.store().collections()? {
                println!(
                    "{}\t{}\tdefault {}{}",
                    c.id,
                    c.title,
                    c.default_tlp,
                    if c.public { "\tpublic" } else { "" }
                );
            }
            Ok(())
        }
        AdminCommand::Token {
            command: TokenCommand::Add { org, role },
        } => {
            let role: Role = role.parse()?;
            let (token, secret) = exchange.add_token(&who, &org, role)?;
            println!("{}:{secret}", token.id);
            Ok(())
        }
        AdminCommand::Token {
            command: TokenCommand::Revoke { id },
        } => {
            exchange.revoke_token(&who, &id)?;
            println!("revoked {id}");
            Ok(())
        }
        AdminCommand::Token {
            command: TokenCommand::List,
        } => {
            for t in exchange.tokens(&who)? {
                println!(
                    "{}\torg {}\t{}\t{}",
                    t.id,
                    t.org,
                    t.role,
                    if t.revoked { "revoked" } else { "active" }
                );
            }
            Ok(())
        }
        AdminCommand::User {
            command:
                UserCommand::Add {
                    username,
                    org,
                    role,
                    password_stdin,
                },
        } => {
            let role: Role = role.parse()?;
            if !password_stdin {
                anyhow::bail!("give the password on standard input with --password-stdin");
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            let user = exchange.add_user(&who, &org, &username, role, password)?;
            println!("added user {} ({}) to {org}", user.username, user.role);
            Ok(())
        }
        AdminCommand::User {
            command: UserCommand::List,
        } => {
            let orgs = exchange.orgs(&who)?;
            for u in exchange.users(&who)? {
                let org = orgs
                    .iter()
                    .find(|o| o.id == u.org)
                    .map_or("?", |o| o.name.as_str());
                let disabled = if u.disabled { "\tdisabled" } else { "" };
                println!("{}\t{org}\t{}{disabled}", u.username, u.role);
            }
            Ok(())
        }
        AdminCommand::User {
            command: UserCommand::Disable { username },
        } => set_user_disabled(&exchange, &who, &username, true),
        AdminCommand::User {
            command: UserCommand::Enable { username },
        } => set_user_disabled(&exchange, &who, &username, false),
        AdminCommand::User {
            command: UserCommand::Delete { username },
        } => {
            exchange.delete_user(&who, &username)?;
            println!("deleted user {username}");
            Ok(())
        }
        AdminCommand::Audit { limit } => {
            let query = kawal_core::AuditQuery {
                limit,
                ..Default::default()
            };
            for e in exchange.audit(&who, query)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    e.at, e.actor, e.action, e.target, e.outcome
                );
            }
            Ok(())
        }
    };
    exchange.flush_audit()?;
    result
}

fn set_user_disabled(
    exchange: &Exchange,
    who: &Principal,
    username: &str,
    disabled: bool,
) -> Result<()> {
    exchange.set_user_disabled(who, username, disabled)?;
    let done = if disabled { "disabled" } else { "enabled" };
    println!("{done} user {username}");
    Ok(())
}

fn import(
    data: &DataArgs,
    file: &Path,
    collection: &str,
    org: Option<&str>,
    recipients: &[String],
) -> Result<()> {
    let config = Config::load(data, None)?;
    let exchange = open_exchange(&config)?;
    let who = local(&exchange, org, Role::Analyst)?;
    let mut body = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut body)
            .context("cannot read standard input")?;
    } else {
        body = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    let status = exchange.add_objects(&who, collection, &body, recipients)?;
    exchange.flush_audit()?;
    for failure in &status.failures {
        eprintln!(
            "refused {}: {}",
            failure.id,
            failure.message.as_deref().unwrap_or("")
        );
    }
    println!(
        "stored {} of {} objects ({} refused), status {}",
        status.success_count, status.total_count, status.failure_count, status.id
    );
    if status.failure_count > 0 {
        bail!("{} objects were refused", status.failure_count);
    }
    Ok(())
}

fn export(data: &DataArgs, collection: &str, org: Option<&str>, output: &Path) -> Result<()> {
    let config = Config::load(data, None)?;
    let exchange = open_exchange(&config)?;
    let who = local(&exchange, org, Role::Reader)?;
    let bundle = exchange.export(&who, collection)?;
    exchange.flush_audit()?;
    write_output(output, &bundle)
}

fn export_case(data: &DataArgs, id: &str, org: Option<&str>, output: &Path) -> Result<()> {
    let config = Config::load(data, None)?;
    let exchange = open_exchange(&config)?;
    let who = local(&exchange, org, Role::Reader)?;
    let bundle = exchange.case_bundle(&who, id)?;
    exchange.flush_audit()?;
    write_output(output, &bundle)
}

fn write_output(output: &Path, text: &str) -> Result<()> {
    if output == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
    } else {
        std::fs::write(output, text)
            .with_context(|| format!("cannot write {}", output.display()))?;
    }
    Ok(())
}
