//! The `eider` binary: configuration, admin commands and the listeners, glued together.
//! It holds no mail rules of its own; those live in `eider-engine`.

mod config;
mod tls;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use config::Config;
use eider_engine::{CreateUser, Engine, EngineConfig, StoreOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Eider: a stateless IMAP / LMTP mail server with a WildDuck-compatible HTTP API.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// TOML config file (default: none, the embedded default; every key also has an EIDER_* override).
    #[arg(long, short, global = true, env = "EIDER_CONFIG")]
    config: Option<PathBuf>,
    /// What to do; `serve` when omitted, so `cargo run --release` starts the server.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every enabled listener (IMAP, LMTP, HTTP API) until SIGTERM / Ctrl-C.
    Serve,
    /// Apply database migrations and exit (serve does this too).
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print every configuration key, its environment variable and default.
    Config,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with INBOX, Drafts, Sent Mail, Junk and Trash.
    Add {
        username: String,
        /// Password (or set EIDER_PASSWORD; or pipe it on stdin with --password -).
        #[arg(long, env = "EIDER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Main e-mail address (default: the username, when it is an address).
        #[arg(long)]
        address: Option<String>,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Storage quota in bytes (0 = unlimited).
        #[arg(long, default_value_t = 0)]
        quota: i64,
    },
    /// List users.
    List,
    /// Set a user's password.
    Passwd {
        username: String,
        #[arg(long, env = "EIDER_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EIDER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal, not for log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = Config::load(cli.config.as_deref())?;
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Config = command {
        for (key, env, default) in Config::describe() {
            println!("{key:<32} {env:<36} default {default}");
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(command, config))
}

async fn open_engine(config: &Config) -> anyhow::Result<Engine> {
    std::fs::create_dir_all(config.data_dir())
        .with_context(|| format!("creating data_dir {}", config.data_dir))?;
    let opts = StoreOptions {
        url: config.store.url.clone(),
        data_dir: config.data_dir(),
        max_connections: config.store.max_connections,
    };
    let engine_config = EngineConfig {
        max_message_size: config.max_message_size,
        blob_threshold: config.blob_threshold,
        hostname: config.hostname.clone(),
        token_ttl: config.auth.token_ttl,
        authlog_ttl: config.auth.authlog_ttl,
        auth_limits: eider_engine::AuthLimits {
            failures_per_user: config.limits.auth_failures_per_user,
            failures_per_ip: config.limits.auth_failures_per_ip,
            window: std::time::Duration::from_secs(config.limits.auth_failure_window),
        },
    };
    Engine::open(&opts, engine_config)
        .await
        .with_context(|| format!("opening store {}", redact(&config.store.url)))
}

/// With `redis.url`, this instance shares notifications, counters and slots with the others.
fn join_cluster(engine: &mut Engine, config: &Config) -> anyhow::Result<()> {
    if config.redis.url.is_empty() {
        return Ok(());
    }
    engine
        .join_cluster(&eider_engine::RedisOptions {
            url: config.redis.url.clone(),
            prefix: config.redis.prefix.clone(),
            slot_ttl: std::time::Duration::from_secs(config.redis.slot_ttl),
        })
        .context("redis.url")?;
    tracing::info!(redis = %redact(&config.redis.url), prefix = %config.redis.prefix, "cluster mode: Redis notifications and counters");
    Ok(())
}

/// Hides the password of a database URL in messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let engine = open_engine(&config).await?;
    match command {
        Command::Serve => serve(engine, config).await,
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Config => Ok(()),
        Command::User { command } => user_command(&engine, command).await,
    }
}

async fn user_command(engine: &Engine, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            password,
            address,
            name,
            quota,
        } => {
            let password = read_password(password)?;
            let id = engine
                .create_user(&CreateUser {
                    username,
                    password,
                    name,
                    address,
                    quota,
                    props: String::new(),
                })
                .await?;
            println!("{id}");
        }
        UserCommand::List => {
            let mut after = String::new();
            loop {
                let page = engine.store().list_users(&after, 500).await?;
                let Some(last) = page.last() else { break };
                after = last.username.clone();
                for user in &page {
                    let addresses = engine.store().user_addresses(&user.id).await?;
                    let list: Vec<&str> = addresses.iter().map(|a| a.address.as_str()).collect();
                    println!("{}  {:<24} {}", user.id, user.username, list.join(", "));
                }
            }
        }
        UserCommand::Passwd { username, password } => {
            let password = read_password(password)?;
            let user = engine.find_user(&username).await?;
            engine.set_password(&user.id, &password).await?;
            println!("password changed for {}", user.username);
        }
    }
    Ok(())
}

/// `-` means: read one line from stdin (keeps passwords out of the process list).
fn read_password(arg: String) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn bind(what: &str, addr: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {what} listener on {addr}"))?;
    tracing::info!(%addr, "{what} listening");
    Ok(listener)
}

/// Runs the listeners. On SIGTERM (or Ctrl-C) `draining` fires: IMAP and LMTP stop accepting and
/// finish what is in flight (IMAP sessions say BYE, LMTP ends its transaction), `/health/ready`
/// answers 503, and the API keeps serving until they are done; all within `shutdown_timeout`.
async fn serve(mut engine: Engine, config: Config) -> anyhow::Result<()> {
    let draining = CancellationToken::new();
    let api_stop = CancellationToken::new();
    join_cluster(&mut engine, &config)?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut api_task = tokio::task::JoinSet::new();
    if config.api.enabled {
        let addr: SocketAddr = config
            .api
            .listen
            .parse()
            .with_context(|| format!("api.listen {:?} is not an address", config.api.listen))?;
        if !addr.ip().is_loopback() && config.api.access_token.is_empty() {
            bail!(
                "refusing to start: the API listens on {addr}, which is not loopback, and api.access_token is empty"
            );
        }
    }
    let tls = tls::server_config(&config)?;
    if config.imap.enabled {
        let listener = bind("IMAP", &config.imap.listen).await?;
        let tls_listener = match config.imap.tls_listen.as_str() {
            "" => None,
            addr => Some(bind("IMAP implicit-TLS", addr).await?),
        };
        let imap_config = eider_imap::ImapConfig {
            hostname: config.hostname.clone(),
            max_line_length: config.imap.max_line_length,
            max_literal_size: config.imap.max_literal_size,
            max_message_size: config.max_message_size,
            max_connections: config.imap.max_connections,
            max_connections_per_user: config.imap.max_connections_per_user,
            login_timeout: std::time::Duration::from_secs(config.imap.login_timeout),
            idle_timeout: std::time::Duration::from_secs(config.imap.idle_timeout),
            tls: Some(tls.clone()),
            allow_plaintext_auth: config.imap.allow_plaintext_auth,
            literal_plus: config.imap.literal_plus,
            proxy: config.imap_proxy()?,
        };
        tasks.spawn(eider_imap::serve_all(
            Some(listener),
            tls_listener,
            engine.clone(),
            imap_config,
            draining.clone(),
        ));
    }
    if config.lmtp.enabled {
        let listener = bind("LMTP", &config.lmtp.listen).await?;
        let lmtp_config = eider_lmtp::LmtpConfig {
            hostname: config.hostname.clone(),
            max_message_size: config.max_message_size,
            max_recipients: config.lmtp.max_recipients,
            max_connections: config.lmtp.max_connections,
            proxy: config.lmtp_proxy()?,
        };
        tasks.spawn(eider_lmtp::serve(
            listener,
            engine.clone(),
            lmtp_config,
            draining.clone(),
        ));
    }
    if config.api.enabled {
        let listener = bind("API", &config.api.listen).await?;
        let api_config = eider_api::ApiConfig {
            access_token: config.api.access_token.clone(),
            max_body_size: config.api.max_body_size,
            proxy: config.api_proxy()?,
            draining: draining.clone(),
            imap_port: config
                .imap
                .listen
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse().ok())
                .unwrap_or(143),
        };
        api_task.spawn(eider_api::serve(
            listener,
            engine.clone(),
            api_config,
            api_stop.clone(),
        ));
    }
    tracing::info!(store = %redact(&config.store.url), "eider ready");
    let failed = tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            None
        }
        Some(result) = tasks.join_next() => Some(result),
        Some(result) = api_task.join_next() => Some(result),
    };
    draining.cancel();
    let grace = std::time::Duration::from_secs(config.shutdown_timeout);
    let deadline = tokio::time::Instant::now() + grace;
    if let Some(result) = failed {
        api_stop.cancel();
        result.context("listener task panicked")??;
    }
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout_at(deadline, drain).await.is_err() {
        tracing::warn!(
            "connections still open after {} s; exiting anyway",
            grace.as_secs()
        );
    }
    api_stop.cancel();
    let drain = async { while api_task.join_next().await.is_some() {} };
    let _ = tokio::time::timeout_at(deadline, drain).await;
    engine.store().close().await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Ctrl-C everywhere; SIGTERM too where it exists.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
