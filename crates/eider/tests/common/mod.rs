//! Test harness: starts the real `eider` binary on free loopback ports, on SQLite (a temp dir) or on
//! PostgreSQL (a fresh database on `EIDER_TEST_PG_URL`), and talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per store. The PostgreSQL variant is skipped, loudly, without EIDER_TEST_PG_URL.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let server = $crate::common::Server::start($crate::common::Backend::Sqlite);
                ($body)(&server);
            }
            #[test]
            fn postgres() {
                let Some(server) = $crate::common::Server::start_postgres() else {
                    return;
                };
                ($body)(&server);
            }
        }
    };
}

pub struct Server {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub lmtp_port: u16,
    pub api_port: u16,
    pub store_url: String,
    pg_db: Option<(String, String)>,
    child: Child,
    config_path: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Says loudly that a test was skipped. Written to the process's stderr directly, not through
/// `eprintln!`, so the test harness does not capture it: a plain `cargo test` shows it.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {why} ***");
}

/// The PostgreSQL server URL for tests, or None (with a loud message) when unset.
pub fn pg_url() -> Option<String> {
    match std::env::var("EIDER_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped(
                "PostgreSQL variant needs EIDER_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
            );
            None
        }
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-q")
        .arg("-c")
        .arg(sql)
        .output()
        .expect("psql must be installed for PostgreSQL tests");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replaces the database name of a postgres URL.
pub fn pg_url_with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{base}/{db}{query}")
}

impl Server {
    pub fn start(backend: Backend) -> Server {
        match backend {
            Backend::Sqlite => Server::launch(Backend::Sqlite, None, &[]),
            Backend::Postgres => Server::start_postgres().expect("EIDER_TEST_PG_URL"),
        }
    }

    pub fn start_postgres() -> Option<Server> {
        Server::start_with(Backend::Postgres, &[])
    }

    /// Starts with extra `EIDER_*` environment settings; None when PostgreSQL is not configured.
    pub fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<Server> {
        match backend {
            Backend::Sqlite => Some(Server::launch(Backend::Sqlite, None, env)),
            Backend::Postgres => {
                let url = pg_url()?;
                let db = format!("eider_test_{}_{}", std::process::id(), rand_suffix());
                psql(&url, &format!("CREATE DATABASE {db}"));
                let db_url = pg_url_with_db(&url, &db);
                Some(Server::launch(
                    Backend::Postgres,
                    Some((url, db, db_url)),
                    env,
                ))
            }
        }
    }

    fn launch(
        backend: Backend,
        pg: Option<(String, String, String)>,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let store_url = match &pg {
            Some((_, _, db_url)) => db_url.clone(),
            None => format!("sqlite://{}", data_dir.join("eider.db").display()),
        };
        let (child, config_path, (imap_port, lmtp_port, api_port)) =
            spawn_server(dir.path(), &data_dir, &store_url, env);
        Server {
            backend,
            dir,
            imap_port,
            lmtp_port,
            api_port,
            store_url,
            pg_db: pg.map(|(url, db, _)| (url, db)),
            child,
            config_path,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `eider <args>` against this server's config; returns stdout, panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_eider"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("EIDER_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "eider {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates a user through the CLI; returns its id.
    pub fn add_user(&self, username: &str, password: &str, address: &str) -> String {
        self.cli(&[
            "user",
            "add",
            username,
            "--password",
            password,
            "--address",
            address,
        ])
        .trim()
        .to_string()
    }

    /// Starts another `eider serve` process on the same store and data folder (a second cluster
    /// instance). It does not own the database: dropping it leaves the data in place.
    pub fn second_instance(&self) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (child, config_path, (imap_port, lmtp_port, api_port)) =
            spawn_server(dir.path(), &self.data_dir(), &self.store_url, &[]);
        Server {
            backend: self.backend,
            dir,
            imap_port,
            lmtp_port,
            api_port,
            store_url: self.store_url.clone(),
            pg_db: None,
            child,
            config_path,
        }
    }

    /// Runs SQL against this server's PostgreSQL database and returns psql's unaligned output.
    pub fn pg_query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg(&self.store_url)
            .args(["-tA", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((url, db)) = &self.pg_db {
            psql(url, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// Starts `eider serve` with a config in `dir` on free loopback ports and waits until its log says
/// every listener is bound. A port picked as free can be taken by a parallel test before the server
/// binds it; then the server exits with "Address already in use" and we try again with new ports.
fn spawn_server(
    dir: &Path,
    data_dir: &Path,
    store_url: &str,
    env: &[(&str, &str)],
) -> (Child, PathBuf, (u16, u16, u16)) {
    let config_path = dir.join("eider.toml");
    let log_path = dir.join("server.log");
    for _attempt in 0..10 {
        let ports = (free_port(), free_port(), free_port());
        std::fs::write(
            &config_path,
            format!(
                "data_dir = \"{}\"\n[store]\nurl = \"{store_url}\"\n[imap]\nlisten = \"127.0.0.1:{}\"\n\
                 [lmtp]\nlisten = \"127.0.0.1:{}\"\n[api]\nlisten = \"127.0.0.1:{}\"\n",
                data_dir.display(),
                ports.0,
                ports.1,
                ports.2
            ),
        )
        .unwrap();
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_eider"));
        cmd.arg("--config")
            .arg(&config_path)
            .arg("serve")
            .env("EIDER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start eider");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("eider ready") {
                return (child, config_path, ports);
            }
            if child.try_wait().unwrap().is_some() {
                if log.contains("Address already in use") {
                    break;
                }
                panic!("eider exited at start; log:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "eider did not start; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not find free ports for eider after 10 attempts");
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{nanos}_{}",
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Runs a Python script from tests/python with arguments; returns stdout, panics with its output on failure.
pub fn python(script: &str, args: &[String]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The shared corpus folder beside the checkout, if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/edge");
    if dir.is_dir() {
        Some(dir)
    } else {
        skipped("../shared/corpus/edge not found beside the checkout");
        None
    }
}

/// A line-oriented client over a plain socket, for byte-exact protocol assertions.
pub struct LineClient {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl LineClient {
    pub fn connect(port: u16) -> LineClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        LineClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.writer.write_all(data).unwrap();
    }

    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        String::from_utf8_lossy(&line).into_owned()
    }

    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).unwrap();
        buf
    }

    /// Reads lines until one starts with `prefix`; returns them all (joined, with CRLFs).
    pub fn until(&mut self, prefix: &str) -> String {
        let mut all = String::new();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed; got so far:\n{all}");
            all.push_str(&line);
            if line.starts_with(prefix) {
                return all;
            }
        }
    }
}

// Helpers for the edge tests (PROXY protocol, shutdown, load balancer).
impl Server {
    /// Sends SIGTERM, as a service manager does to stop the server.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the server process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "eider still running {timeout:?} after SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like `second_instance`, with extra `EIDER_*` environment settings.
    pub fn second_instance_with(&self, env: &[(&str, &str)]) -> Server {
        self.instance_with(env)
    }

    /// Waits until the server's log contains `needle` (log lines are written asynchronously).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An HTTP answer: status and JSON body (Null when empty).
pub struct ApiReply {
    pub status: u16,
    pub body: serde_json::Value,
}

/// One JSON request to the API with curl; `body` is sent as is.
pub fn api_request(port: u16, method: &str, path: &str, body: Option<&str>) -> ApiReply {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-g", "-X", method, "-w", "\n%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}{path}"));
    if body.is_some() {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl must be installed");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(body) = body {
        stdin.write_all(body.as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').expect("curl output");
    ApiReply {
        status: status.trim().parse().unwrap(),
        body: if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
        },
    }
}

/// Messages in a user's INBOX, over IMAP (LOGIN + STATUS).
pub fn inbox_count(imap_port: u16, login: &str, password: &str) -> u32 {
    let mut c = LineClient::connect(imap_port);
    c.line();
    c.send(format!("a LOGIN {login} {password}\r\n").as_bytes());
    let login_reply = c.until("a ");
    assert!(login_reply.contains("a OK"), "{login_reply}");
    c.send(b"b STATUS INBOX (MESSAGES)\r\n");
    let status = c.until("b ");
    status
        .split("(MESSAGES ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no MESSAGES in {status:?}"))
}

/// The Redis URL for cluster tests, or None (with a loud message) when unset.
pub fn redis_url() -> Option<String> {
    match std::env::var("EIDER_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skipped("cluster test needs EIDER_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)");
            None
        }
    }
}

/// A Redis key/channel prefix no other test uses.
pub fn unique_redis_prefix() -> String {
    format!("eidertest:{}:{}:", std::process::id(), rand_suffix())
}

impl Server {
    /// Another `eider serve` on the same store and data folder, with extra `EIDER_*` settings.
    pub fn instance_with(&self, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (child, config_path, (imap_port, lmtp_port, api_port)) =
            spawn_server(dir.path(), &self.data_dir(), &self.store_url, env);
        Server {
            backend: self.backend,
            dir,
            imap_port,
            lmtp_port,
            api_port,
            store_url: self.store_url.clone(),
            pg_db: None,
            child,
            config_path,
        }
    }

    /// SIGKILL: the process dies at once, mid-command, releasing nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` instances on one fresh PostgreSQL database and the test Redis, all with `env` (which
/// should include a unique `EIDER_REDIS_PREFIX`). The first owns the database. None (loudly) when
/// PostgreSQL or Redis is not configured.
pub fn pg_redis_cluster(n: usize, env: &[(&str, &str)]) -> Option<Vec<Server>> {
    let redis = redis_url()?;
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "EIDER_REDIS_URL") {
        env.push(("EIDER_REDIS_URL", &redis));
    }
    let first = Server::start_with(Backend::Postgres, &env)?;
    let mut all = vec![];
    for _ in 1..n {
        all.push(first.instance_with(&env));
    }
    all.insert(0, first);
    Some(all)
}
