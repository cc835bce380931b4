//! `eider-bench`: measures the real `eider` binary and prints tables.
//!
//! * `lmtp`: LMTP deliveries per second over concurrent connections, single and multi-recipient.
//! * `imap-large`: SELECT / FETCH / SEARCH times on a 100,000-message INBOX.
//! * `idle-memory`: server resident memory per idle IMAP connection.
//! * `cluster`: LMTP and APPEND throughput with 1, 2, 3… instances on one PostgreSQL + Redis.
//! * `all`: the three in turn.
//!
//! Every run gets a fresh temp data dir (and, with `--backend postgres`, a fresh database that is
//! dropped afterwards). These are benchmarks that print numbers, not timed tests: nothing fails
//! when a target is missed, the table says so.

mod cluster;
mod corpus;
mod idle;
mod imap_client;
mod imap_large;
mod lmtp;
mod report;
mod server;

use clap::{Args, Parser, Subcommand, ValueEnum};
use report::Table;
use server::Backend;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "Benchmarks for the eider mail server", long_about = None)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Bench,
}

#[derive(Args, Clone)]
pub struct Common {
    /// The eider release binary to run.
    #[arg(long, global = true, default_value = "target/release/eider")]
    eider: PathBuf,
    /// Store back end(s) to run against.
    #[arg(long, global = true, value_enum, default_value_t = BackendChoice::Sqlite)]
    backend: BackendChoice,
    /// PostgreSQL URL of an existing database used to CREATE / DROP the bench database
    /// (the server then uses the same URL with the new database name).
    #[arg(
        long,
        global = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_url: String,
    /// Seed of the message generator.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Keep the data dir and database afterwards (paths are printed).
    #[arg(long, global = true)]
    keep: bool,
    /// Extra environment for the eider server process, KEY=VALUE (repeatable),
    /// e.g. `--server-env MALLOC_ARENA_MAX=2`.
    #[arg(long, global = true, value_parser = parse_env_pair)]
    server_env: Vec<(String, String)>,
    /// Also write the tables as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
}

fn parse_env_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

impl Common {
    pub fn settings(&self) -> server::ServerSettings {
        server::ServerSettings {
            env: self.server_env.clone(),
            ..Default::default()
        }
    }

    pub fn backends(&self) -> Vec<Backend> {
        let pg = Backend::Postgres {
            admin_url: self.pg_url.clone(),
        };
        match self.backend {
            BackendChoice::Sqlite => vec![Backend::Sqlite],
            BackendChoice::Postgres => vec![pg],
            BackendChoice::Both => vec![Backend::Sqlite, pg],
        }
    }
}

#[derive(Subcommand)]
enum Bench {
    /// LMTP deliveries/s and recipients/s against `eider serve`.
    Lmtp(LmtpArgs),
    /// SELECT / FETCH / SEARCH on one very large INBOX.
    ImapLarge(ImapLargeArgs),
    /// Server RSS per idle IMAP connection.
    IdleMemory(IdleArgs),
    /// LMTP and APPEND throughput with N instances on one PostgreSQL database and Redis.
    Cluster(ClusterArgs),
    /// All of the above but `cluster`, with their defaults.
    All,
}

#[derive(Args, Clone)]
pub struct ClusterArgs {
    /// Instance counts (comma-separated list: one run each, on a fresh database).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 3])]
    instances: Vec<usize>,
    /// Messages per phase.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Client connections per phase, spread round robin over the instances.
    #[arg(long, default_value_t = 6)]
    connections: usize,
    /// Users (LMTP recipients and APPEND logins rotate over them).
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Redis shared by the instances (each run uses its own key prefix).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

#[derive(Args, Clone)]
pub struct LmtpArgs {
    /// Messages delivered per run.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Concurrent LMTP connections (comma-separated list: one run each).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 4, 16])]
    connections: Vec<usize>,
    /// Recipients per message (comma-separated list: one run each).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 5])]
    recipients: Vec<usize>,
    /// Users created (recipients rotate over them).
    #[arg(long, default_value_t = 20)]
    users: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Populate {
    /// `Engine::append` per message (the real ingest path: parse, blobs, quota, UID, journal).
    Engine,
    /// `Store::append_message` with content prepared in the bench task (no spawn_blocking hop).
    Store,
}

#[derive(Args, Clone)]
pub struct ImapLargeArgs {
    /// Messages in the INBOX.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Concurrent append tasks while populating.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How the mailbox is populated.
    #[arg(long, value_enum, default_value_t = Populate::Engine)]
    populate: Populate,
    /// Times each command is run (fresh connection per round).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

#[derive(Args, Clone)]
pub struct IdleArgs {
    /// Connections opened in all: half only greeted, half logged in with INBOX selected.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Users the logged-in half is spread over.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Messages in each user's INBOX.
    #[arg(long, default_value_t = 20)]
    mailbox_size: usize,
    /// Logins in flight at once while opening the logged-in half (each argon2 verify takes
    /// 19 MiB on a blocking thread).
    #[arg(long, default_value_t = 1)]
    login_concurrency: usize,
    /// Concurrent logins in the burst run after the idle measurement (0 = skip).
    #[arg(long, default_value_t = 32)]
    login_burst: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tables = runtime.block_on(async {
        let c = &cli.common;
        let mut tables: Vec<(String, Table)> = Vec::new();
        match &cli.command {
            Bench::Lmtp(a) => tables.extend(lmtp::run(c, a).await?),
            Bench::ImapLarge(a) => tables.extend(imap_large::run(c, a).await?),
            Bench::IdleMemory(a) => tables.extend(idle::run(c, a).await?),
            Bench::Cluster(a) => tables.extend(cluster::run(c, a).await?),
            Bench::All => {
                let defaults = Cli::parse_from(["eider-bench", "lmtp"]);
                let Bench::Lmtp(l) = defaults.command else {
                    unreachable!()
                };
                let defaults = Cli::parse_from(["eider-bench", "imap-large"]);
                let Bench::ImapLarge(i) = defaults.command else {
                    unreachable!()
                };
                let defaults = Cli::parse_from(["eider-bench", "idle-memory"]);
                let Bench::IdleMemory(m) = defaults.command else {
                    unreachable!()
                };
                for which in 0..3 {
                    let part = match which {
                        0 => lmtp::run(c, &l).await,
                        1 => imap_large::run(c, &i).await,
                        _ => idle::run(c, &m).await,
                    };
                    match part {
                        Ok(t) => {
                            for (title, table) in &t {
                                println!("\n## {title}\n\n{}", table.render());
                            }
                            tables.extend(t);
                        }
                        Err(e) => eprintln!("benchmark failed: {e:#}"),
                    }
                }
                return Ok::<_, anyhow::Error>((tables, true));
            }
        }
        Ok((tables, false))
    });
    let (tables, printed) = tables?;
    if !printed {
        for (title, table) in &tables {
            println!("\n## {title}\n\n{}", table.render());
        }
    }
    println!("\nmachine: {}", machine());
    if let Some(path) = &cli.common.json {
        let json: serde_json::Map<String, serde_json::Value> = tables
            .iter()
            .map(|(t, table)| (t.clone(), table.to_json()))
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

/// CPU count, model and memory, from /proc.
fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {} RAM",
        report::fmt_bytes(mem_kib * 1024)
    )
}
