//! Runs the real `eider` binary: a fresh data dir (and, for PostgreSQL, a fresh database), a TOML
//! config on free loopback ports, `eider user add`, `eider serve`, SIGTERM at the end.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which store a run uses.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// `admin_url` points at an existing database used to CREATE / DROP the bench database
    /// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
    Postgres {
        admin_url: String,
    },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

/// A data dir plus its store; removed (and the database dropped) on drop unless kept.
pub struct Environment {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub store_url: String,
    pub pg_database: Option<String>,
    pub keep: bool,
}

impl Environment {
    pub fn create(backend: &Backend, label: &str, keep: bool) -> anyhow::Result<Environment> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("eider-bench-{label}-"))
            .tempdir()
            .context("creating temp data dir")?;
        let (store_url, pg_database) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("eider.db").display()),
                None,
            ),
            Backend::Postgres { admin_url } => {
                let db = format!(
                    "eider_bench_{}_{}_{}",
                    label.replace('-', "_"),
                    std::process::id(),
                    eider_store::unix_now()
                );
                psql(admin_url, &format!("CREATE DATABASE {db}"))?;
                (replace_database(admin_url, &db)?, Some(db))
            }
        };
        Ok(Environment {
            backend: backend.clone(),
            dir,
            store_url,
            pg_database,
            keep,
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes used on disk by the data dir (SQLite file + blobs) or by the database.
    pub fn storage_bytes(&self) -> anyhow::Result<u64> {
        match (&self.backend, &self.pg_database) {
            (Backend::Postgres { admin_url }, Some(db)) => {
                let out = psql(admin_url, &format!("SELECT pg_database_size('{db}')"))?;
                Ok(out.trim().parse().unwrap_or(0))
            }
            _ => Ok(dir_size(self.dir.path())),
        }
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        if self.keep {
            self.dir.disable_cleanup(true);
            eprintln!("kept data dir {}", self.dir.path().display());
            if let Some(db) = &self.pg_database {
                eprintln!("kept database {db}");
            }
            return;
        }
        if let (Backend::Postgres { admin_url }, Some(db)) = (&self.backend, &self.pg_database)
            && let Err(e) = psql(
                admin_url,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
        {
            eprintln!("warning: could not drop database {db}: {e:#}");
        }
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Runs one SQL statement with `psql` (unaligned, tuples only) and returns its output.
pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .context("running psql (is the PostgreSQL client installed?)")?;
    if !out.status.success() {
        bail!(
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/new?x`.
fn replace_database(url: &str, db: &str) -> anyhow::Result<String> {
    let scheme_end = url.find("://").context("postgres URL without ://")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    Ok(format!("{host_part}/{db}{query}"))
}

/// A free loopback port (bound and released; fine for a benchmark).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Server settings a benchmark may change.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_imap_connections: usize,
    pub max_connections_per_user: usize,
    pub store_max_connections: u32,
    /// Extra environment for the server process (e.g. `MALLOC_ARENA_MAX=2`).
    pub env: Vec<(String, String)>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_imap_connections: 10_000,
            max_connections_per_user: 50,
            store_max_connections: 16,
            env: Vec::new(),
        }
    }
}

/// A configured (not necessarily running) `eider` instance.
pub struct Server {
    pub eider: PathBuf,
    pub config_path: PathBuf,
    pub imap_addr: String,
    pub lmtp_addr: String,
    log_path: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Server {
    pub fn configure(
        eider: &Path,
        env: &Environment,
        settings: &ServerSettings,
    ) -> anyhow::Result<Server> {
        Server::configure_instance(eider, env, settings, "")
    }

    /// One of several instances on the same environment: its config and log file names carry
    /// `name`, so instances on one data dir and database do not overwrite each other's.
    pub fn configure_instance(
        eider: &Path,
        env: &Environment,
        settings: &ServerSettings,
        name: &str,
    ) -> anyhow::Result<Server> {
        if !eider.exists() {
            bail!(
                "eider binary {} not found: build it with `cargo build --release -p eider` or pass --eider",
                eider.display()
            );
        }
        let imap_addr = format!("127.0.0.1:{}", free_port()?);
        let lmtp_addr = format!("127.0.0.1:{}", free_port()?);
        let api_addr = format!("127.0.0.1:{}", free_port()?);
        let config = format!(
            "data_dir = {data_dir:?}\nhostname = \"bench.test\"\n\n\
             [store]\nurl = {url:?}\nmax_connections = {pool}\n\n\
             [imap]\nlisten = {imap_addr:?}\nmax_connections = {max_conn}\nmax_connections_per_user = {per_user}\n\n\
             [lmtp]\nlisten = {lmtp_addr:?}\n\n\
             [api]\nlisten = {api_addr:?}\n",
            data_dir = env.data_dir().display().to_string(),
            url = env.store_url,
            pool = settings.store_max_connections,
            max_conn = settings.max_imap_connections,
            per_user = settings.max_connections_per_user,
        );
        let config_path = env.data_dir().join(format!("eider-bench{name}.toml"));
        std::fs::write(&config_path, config)?;
        Ok(Server {
            eider: std::fs::canonicalize(eider)?,
            config_path,
            imap_addr,
            lmtp_addr,
            log_path: env.data_dir().join(format!("eider{name}.log")),
            env: settings.env.clone(),
            child: None,
        })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.eider);
        cmd.arg("--config")
            .arg(&self.config_path)
            .env("EIDER_LOG", "warn")
            .env_remove("EIDER_CONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `eider user add NAME --password P --address A` through the CLI, as an admin would.
    pub fn add_user(&self, name: &str, password: &str, address: &str) -> anyhow::Result<()> {
        let out = self
            .command()
            .args([
                "user",
                "add",
                name,
                "--password",
                password,
                "--address",
                address,
            ])
            .output()
            .context("running eider user add")?;
        if !out.status.success() {
            bail!(
                "eider user add {name} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Starts `eider serve` and waits until IMAP and LMTP accept connections.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::File::create(&self.log_path)?;
        let child = self
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting eider serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        for addr in [self.imap_addr.clone(), self.lmtp_addr.clone()] {
            loop {
                if std::net::TcpStream::connect(&addr).is_ok() {
                    break;
                }
                if let Some(status) = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    bail!("eider serve exited with {status}: {}", self.log_tail());
                }
                if Instant::now() > deadline {
                    bail!("eider serve did not listen on {addr}: {}", self.log_tail());
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// VmRSS and VmHWM of the running server, KiB.
    pub fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let pid = self.pid().context("server not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }

    /// Threads of the running server.
    pub fn threads(&self) -> u64 {
        let Some(pid) = self.pid() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// CPU time (user + system) the running server has used so far.
    pub fn cpu_time(&self) -> Duration {
        self.pid().map(process_cpu_time).unwrap_or_default()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait (the server drains for up to 30 s); SIGKILL after 40 s.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("eider serve did not stop within 40 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e:#}");
        }
    }
}

/// Clock ticks per second for /proc times (`getconf CLK_TCK`; 100 on Linux in practice).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// utime + stime of a process, from /proc/PID/stat (zero when it is gone).
pub fn process_cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 1000 / clock_ticks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_is_read() {
        // Burn a little CPU so the counter is non-zero even at 100 ticks per second.
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        assert!(process_cpu_time(std::process::id()) > Duration::ZERO);
    }

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/x?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:1", "b").unwrap(),
            "postgres://u@h:1/b"
        );
    }
}
