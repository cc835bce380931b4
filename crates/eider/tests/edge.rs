//! The edge of the server: PROXY protocol on every listener, implicit TLS, LOGINDISABLED off
//! loopback, load-balancer probes, graceful shutdown, and real HAProxy in front of two instances.

mod common;

use common::{Backend, LineClient, Server};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a body on SQLite and on PostgreSQL, with extra `EIDER_*` settings.
macro_rules! both_stores_with {
    ($name:ident, $env:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let server = Server::start_with(Backend::Sqlite, $env).unwrap();
                ($body)(server);
            }
            #[test]
            fn postgres() {
                let Some(server) = Server::start_with(Backend::Postgres, $env) else {
                    return;
                };
                ($body)(server);
            }
        }
    };
}

/// A PROXY v2 header (PROXY command, TCP over IPv4) from `src` to `dst`.
fn v2_header(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0x00, 12]);
    h.extend_from_slice(&src.0.octets());
    h.extend_from_slice(&dst.0.octets());
    h.extend_from_slice(&src.1.to_be_bytes());
    h.extend_from_slice(&dst.1.to_be_bytes());
    h
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

/// Reads until the server closes the connection; returns what came.
fn read_to_close(c: &mut LineClient) -> String {
    let mut rest = String::new();
    match c.reader.read_to_string(&mut rest) {
        Ok(_) => {}
        // Closing with our bytes unread makes the kernel answer with a reset: closed all the same.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading until close: {e}"),
    }
    rest
}

/// One HTTP/1.1 request over a raw socket, after `preamble` (a PROXY header, or nothing).
fn http_get(port: u16, preamble: &[u8], path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // One write: a server that refuses the preamble closes at once, and a second write could then
    // fail with a broken pipe before we read the (empty) answer.
    let mut request = preamble.to_vec();
    request.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: eider\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    stream.write_all(&request).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn http_body(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

const PROXY_ALL: &[(&str, &str)] = &[
    ("EIDER_IMAP_PROXY_PROTOCOL", "true"),
    ("EIDER_LMTP_PROXY_PROTOCOL", "true"),
    ("EIDER_API_PROXY_PROTOCOL", "true"),
    ("EIDER_IMAP_PROXY_TIMEOUT", "1"),
    ("EIDER_LMTP_PROXY_TIMEOUT", "1"),
    ("EIDER_API_PROXY_TIMEOUT", "1"),
];

both_stores_with!(proxy_headers_set_the_peer, PROXY_ALL, |server: Server| {
    server.add_user("alice", "secret", "alice@example.com");

    // IMAP, v1, from a non-loopback client: its address decides, so no plaintext login.
    let mut c = LineClient::connect(server.imap_port);
    c.send(b"PROXY TCP4 203.0.113.5 127.0.0.1 40001 143\r\n");
    let greeting = c.line();
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{greeting}"
    );
    assert!(greeting.contains(" STARTTLS LOGINDISABLED] "), "{greeting}");
    assert!(!greeting.contains("AUTH=PLAIN"), "{greeting}");
    server.wait_log("IMAP connect peer=203.0.113.5:40001");
    assert_eq!(
        command(&mut c, "a", "LOGIN alice secret"),
        "a NO [PRIVACYREQUIRED] Plaintext authentication is disabled on connections without TLS; use STARTTLS or the implicit-TLS port.\r\n"
    );
    assert_eq!(
        command(&mut c, "b", "AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="),
        "b NO [PRIVACYREQUIRED] Plaintext authentication is disabled on connections without TLS; use STARTTLS or the implicit-TLS port.\r\n"
    );
    assert!(!server.log().contains("IMAP login"), "{}", server.log());

    // IMAP, v2, from a loopback client (as a local proxy forwards it): login works and is logged
    // with the client's address and port, not the socket's.
    let mut c = LineClient::connect(server.imap_port);
    c.send(&v2_header(
        (Ipv4Addr::new(127, 0, 0, 9), 4242),
        (Ipv4Addr::LOCALHOST, 143),
    ));
    assert!(c.line().contains(" AUTH=PLAIN] "));
    let answer = command(&mut c, "a", "LOGIN alice secret");
    assert!(answer.starts_with("a OK [CAPABILITY "), "{answer}");
    server.wait_log("IMAP login peer=127.0.0.9:4242 user=alice");

    // LMTP, v2: the delivery is logged with the client's address.
    let mut l = LineClient::connect(server.lmtp_port);
    l.send(&v2_header(
        (Ipv4Addr::new(192, 0, 2, 44), 2525),
        (Ipv4Addr::LOCALHOST, 24),
    ));
    assert!(l.line().starts_with("220 "));
    l.send(b"LHLO mx\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n");
    assert!(
        l.until("354 ")
            .ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n")
    );
    l.send(b"Subject: via proxy\r\n\r\nhi\r\n.\r\n");
    assert_eq!(l.line(), "250 2.0.0 <alice@example.com> delivered\r\n");
    server.wait_log("LMTP connect peer=192.0.2.44:2525");
    server.wait_log("delivered peer=192.0.2.44:2525 rcpt=alice@example.com");

    // LMTP, v1 over IPv6.
    let mut l = LineClient::connect(server.lmtp_port);
    l.send(b"PROXY TCP6 2001:db8::25 2001:db8::1 33000 24\r\n");
    assert!(l.line().starts_with("220 "));
    server.wait_log("LMTP connect peer=[2001:db8::25]:33000");

    // API, v1 and v2.
    let answer = http_get(
        server.api_port,
        b"PROXY TCP4 198.51.100.20 127.0.0.1 50123 8080\r\n",
        "/health/live",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(http_body(&answer), serde_json::json!({"success": true}));
    server.wait_log("API connect peer=198.51.100.20:50123");
    let answer = http_get(
        server.api_port,
        &v2_header(
            (Ipv4Addr::new(198, 51, 100, 21), 60001),
            (Ipv4Addr::LOCALHOST, 80),
        ),
        "/health",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    server.wait_log("API connect peer=198.51.100.21:60001");
});

both_stores_with!(
    header_required_from_trusted_sources,
    PROXY_ALL,
    |server: Server| {
        // No header, just a command: refused before any greeting.
        let mut c = LineClient::connect(server.imap_port);
        c.send(b"a LOGIN alice secret\r\n");
        assert_eq!(read_to_close(&mut c), "");
        server.wait_log("IMAP connection refused peer=127.0.0.1:");
        server.wait_log("reason=a trusted source connected without a PROXY header");

        // A client that waits for a greeting gets none; the header read times out (1 s here).
        let started = Instant::now();
        let mut l = LineClient::connect(server.lmtp_port);
        assert_eq!(read_to_close(&mut l), "");
        assert!(started.elapsed() < Duration::from_secs(5));
        server.wait_log("reason=no complete PROXY header within 1 s");

        // A malformed header.
        let mut c = LineClient::connect(server.imap_port);
        c.send(b"PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\n");
        assert_eq!(read_to_close(&mut c), "");
        server.wait_log("reason=bad PROXY v1 header");

        // API without a header: closed with no HTTP answer.
        assert_eq!(http_get(server.api_port, b"", "/health/live"), "");
        server.wait_log("API connection refused");
        // The server is still fine.
        let answer = http_get(server.api_port, b"PROXY UNKNOWN\r\n", "/health/live");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
);

/// Only 10.0.0.0/8 may send headers, so a loopback client sending one is refused.
const UNTRUSTED: &[(&str, &str)] = &[
    ("EIDER_IMAP_PROXY_PROTOCOL", "true"),
    ("EIDER_IMAP_PROXY_TRUSTED", "10.0.0.0/8"),
    ("EIDER_LMTP_PROXY_PROTOCOL", "true"),
    ("EIDER_LMTP_PROXY_TRUSTED", "10.0.0.0/8"),
    ("EIDER_API_PROXY_TRUSTED", "10.0.0.0/8"),
];

both_stores_with!(
    untrusted_sources_may_not_send_headers,
    UNTRUSTED,
    |server: Server| {
        server.add_user("bob", "pw", "bob@example.com");
        // IMAP: the greeting comes (a direct client), then the header closes the connection.
        let mut c = LineClient::connect(server.imap_port);
        assert!(c.line().starts_with("* OK "));
        c.send(b"PROXY TCP4 203.0.113.5 127.0.0.1 40001 143\r\n");
        assert_eq!(read_to_close(&mut c), "");
        server.wait_log("IMAP: PROXY header from a source that is not a trusted proxy; connection closed peer=127.0.0.1:");
        assert!(!server.log().contains("203.0.113.5"));

        // LMTP, v2.
        let mut l = LineClient::connect(server.lmtp_port);
        assert!(l.line().starts_with("220 "));
        l.send(&v2_header(
            (Ipv4Addr::new(203, 0, 113, 6), 1),
            (Ipv4Addr::LOCALHOST, 24),
        ));
        assert_eq!(read_to_close(&mut l), "");
        server.wait_log("LMTP: PROXY header from a source that is not a trusted proxy");

        // API with PROXY protocol off: a header is refused too, not parsed as HTTP.
        let answer = http_get(
            server.api_port,
            b"PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r\n",
            "/health/live",
        );
        assert_eq!(answer, "");
        server.wait_log("API: PROXY header from a source that is not a trusted proxy");

        // Direct loopback clients without headers work as before.
        let mut c = LineClient::connect(server.imap_port);
        assert!(c.line().contains(" AUTH=PLAIN] "));
        assert!(command(&mut c, "a", "LOGIN bob pw").starts_with("a OK "));
        server.wait_log("IMAP login peer=127.0.0.1:");
    }
);

fn tls_env(port: &str) -> Vec<(&'static str, String)> {
    vec![("EIDER_IMAP_TLS_LISTEN", format!("127.0.0.1:{port}"))]
}

fn implicit_tls(backend: Backend) {
    let port = common::free_port().to_string();
    let env = tls_env(&port);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(server) = Server::start_with(backend, &env) else {
        return;
    };
    server.wait_log(&format!(
        "IMAP implicit-TLS listening addr=127.0.0.1:{port}"
    ));
    server.add_user("carol", "pw", "carol@example.com");
    let out = common::python(
        "imap_login.py",
        &[port.clone(), "carol".into(), "pw".into(), "ssl".into()],
    );
    assert!(out.contains("imap_login OK"), "{out}");
    assert!(out.contains("exists=0"), "{out}");
    // rustls speaks TLS 1.2 and 1.3 only; Python and rustls agree on 1.3.
    assert!(out.contains("tls_version=TLSv1.3"), "{out}");
    let source = out
        .lines()
        .find_map(|l| l.strip_prefix("source_port="))
        .unwrap();
    server.wait_log(&format!("IMAP connect peer=127.0.0.1:{source} tls=true"));
    server.wait_log(&format!("IMAP login peer=127.0.0.1:{source} user=carol"));
}

#[test]
fn implicit_tls_imaplib_sqlite() {
    implicit_tls(Backend::Sqlite);
}

#[test]
fn implicit_tls_imaplib_postgres() {
    implicit_tls(Backend::Postgres);
}

/// SIGTERM: readiness turns 503, IMAP sessions waiting or IDLE get BYE at once, an LMTP DATA in
/// progress completes and is stored, then everything closes.
fn graceful_shutdown(backend: Backend) {
    let Some(mut server) = Server::start_with(backend, &[("EIDER_SHUTDOWN_TIMEOUT", "20")]) else {
        return;
    };
    server.add_user("dave", "pw", "dave@example.com");
    let ready = http_get(server.api_port, b"", "/health/ready");
    assert!(ready.starts_with("HTTP/1.1 200 OK\r\n"), "{ready}");
    assert_eq!(http_body(&ready), serde_json::json!({"success": true}));

    let mut idle = LineClient::connect(server.imap_port);
    idle.line();
    assert!(command(&mut idle, "a", "LOGIN dave pw").starts_with("a OK "));
    assert!(command(&mut idle, "b", "SELECT INBOX").contains("b OK "));
    idle.send(b"c IDLE\r\n");
    assert_eq!(idle.line(), "+ idling\r\n");
    let mut waiting = LineClient::connect(server.imap_port);
    waiting.line();
    assert!(command(&mut waiting, "a", "LOGIN dave pw").starts_with("a OK "));

    let mut lmtp = LineClient::connect(server.lmtp_port);
    lmtp.line();
    lmtp.send(b"LHLO mx\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<dave@example.com>\r\nDATA\r\n");
    lmtp.until("354 ");
    lmtp.send(b"Subject: in flight\r\n\r\nfirst half\r\n");

    server.sigterm();
    assert_eq!(idle.line(), "* BYE Server shutting down.\r\n");
    assert_eq!(read_to_close(&mut idle), "");
    assert_eq!(waiting.line(), "* BYE Server shutting down.\r\n");
    assert_eq!(read_to_close(&mut waiting), "");
    server.wait_log("shutting down");

    // The API still answers while LMTP drains: not ready, so a balancer sends no new clients.
    let ready = http_get(server.api_port, b"", "/health/ready");
    assert!(
        ready.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{ready}"
    );
    assert_eq!(
        http_body(&ready),
        serde_json::json!({"error": "Server is shutting down", "code": "ShuttingDown"})
    );
    let live = http_get(server.api_port, b"", "/health/live");
    assert!(live.starts_with("HTTP/1.1 200 OK\r\n"), "{live}");
    // The IMAP listener is closed: new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", server.imap_port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "IMAP still accepting during shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    lmtp.send(b"second half\r\n.\r\n");
    assert_eq!(lmtp.line(), "250 2.0.0 <dave@example.com> delivered\r\n");
    assert_eq!(lmtp.line(), "421 4.3.2 localhost Service shutting down\r\n");
    assert_eq!(read_to_close(&mut lmtp), "");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    server.wait_log("shutdown complete");

    // The message is stored whole: a fresh instance on the same store serves it.
    let after = server.second_instance();
    let mut c = LineClient::connect(after.imap_port);
    c.line();
    assert!(command(&mut c, "a", "LOGIN dave pw").starts_with("a OK "));
    assert!(command(&mut c, "b", "SELECT INBOX").contains("* 1 EXISTS\r\n"));
    let fetched = command(&mut c, "c", "FETCH 1 BODY.PEEK[TEXT]");
    assert!(
        fetched.contains("{25}\r\nfirst half\r\nsecond half\r\n)"),
        "{fetched}"
    );
}

#[test]
fn graceful_shutdown_sqlite() {
    graceful_shutdown(Backend::Sqlite);
}

#[test]
fn graceful_shutdown_postgres() {
    graceful_shutdown(Backend::Postgres);
}

/// HAProxy in front; stopped when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Real HAProxy (Debian's `haproxy`) with `send-proxy-v2` in front of two instances on one
/// PostgreSQL store. HAProxy connects from 127.0.0.3 (the only trusted proxy), the client from
/// 127.0.0.1: Eider's log shows the client's own address and port, and the authentication log
/// (over the API) the client's address, never the proxy's.
#[test]
fn haproxy_in_front_of_two_instances() {
    if Command::new("haproxy").arg("-v").output().is_err() {
        common::skipped("haproxy is not installed (apt-get install haproxy)");
        return;
    }
    let env = [
        ("EIDER_IMAP_PROXY_PROTOCOL", "true"),
        ("EIDER_IMAP_PROXY_TRUSTED", "127.0.0.3/32"),
    ];
    let Some(a) = Server::start_with(Backend::Postgres, &env) else {
        return;
    };
    let b = a.second_instance_with(&env);
    let user = a.add_user("erin", "pw", "erin@example.com");
    let front = common::free_port();
    let config = a.dir.path().join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend imap\n  bind 127.0.0.1:{front}\n  default_backend eider\n\
             backend eider\n  balance roundrobin\n\
             \x20 source 127.0.0.3\n\
             \x20 server a 127.0.0.1:{} send-proxy-v2\n\
             \x20 server b 127.0.0.1:{} send-proxy-v2\n",
            a.imap_port, b.imap_port
        ),
    )
    .unwrap();
    let _haproxy = Haproxy(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", front)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Round robin: two logins reach both instances.
    let mut ports = Vec::new();
    for _ in 0..2 {
        let out = common::python(
            "imap_login.py",
            &[
                front.to_string(),
                "erin".into(),
                "pw".into(),
                "plain".into(),
            ],
        );
        assert!(out.contains("imap_login OK"), "{out}");
        let port: u16 = out
            .lines()
            .find_map(|l| l.strip_prefix("source_port="))
            .unwrap()
            .parse()
            .unwrap();
        ports.push(port);
    }
    let logs = || format!("{}{}", a.log(), b.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    for port in &ports {
        let needle = format!("IMAP login peer=127.0.0.1:{port} user=erin");
        while !logs().contains(&needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{}", logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(
        a.log().contains("IMAP login peer=127.0.0.1:"),
        "{}",
        a.log()
    );
    assert!(
        b.log().contains("IMAP login peer=127.0.0.1:"),
        "{}",
        b.log()
    );
    assert!(!logs().contains("127.0.0.3"), "{}", logs());
    // The authentication log, shared by both instances (it lives in the database).
    let authlog = common::api_request(a.api_port, "GET", &format!("/users/{user}/authlog"), None);
    assert_eq!(authlog.status, 200, "{}", authlog.body);
    let entries = authlog.body["results"].as_array().unwrap();
    let imap: Vec<_> = entries
        .iter()
        .filter(|e| e["protocol"] == "imap")
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["result"].as_str().unwrap(),
                e["ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        imap,
        [
            ("authentication", "success", "127.0.0.1"),
            ("authentication", "success", "127.0.0.1")
        ],
        "{}",
        authlog.body
    );
}
