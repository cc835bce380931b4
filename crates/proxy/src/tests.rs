use super::*;
use tokio::io::AsyncWriteExt;

fn config(trusted: &[&str]) -> ProxyConfig {
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    ProxyConfig::new(true, &trusted, Duration::from_millis(300)).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Feeds `bytes` then `after` through a pipe; returns the accept result and what was left unread.
async fn run(
    bytes: &[u8],
    after: &[u8],
    peer: &str,
    cfg: &ProxyConfig,
) -> (Result<Client, Rejected>, Vec<u8>) {
    let (mut client, mut server) = tokio::io::duplex(1 << 17);
    client.write_all(bytes).await.unwrap();
    client.write_all(after).await.unwrap();
    drop(client);
    let result = accept(&mut server, addr(peer), cfg).await;
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    (result, rest)
}

#[tokio::test]
async fn v1_tcp4_gives_the_source_and_leaves_the_rest_unread() {
    let cfg = config(&["127.0.0.1/32"]);
    let (client, rest) = run(
        b"PROXY TCP4 203.0.113.5 192.0.2.1 51000 143\r\n",
        b"a LOGIN x y\r\n",
        "127.0.0.1:40000",
        &cfg,
    )
    .await;
    let client = client.unwrap();
    assert_eq!(client.peer, addr("203.0.113.5:51000"));
    assert!(client.proxied);
    assert_eq!(rest, b"a LOGIN x y\r\n");
}

#[tokio::test]
async fn v1_tcp6_and_unknown() {
    let cfg = config(&["::1"]);
    let (client, _) = run(
        b"PROXY TCP6 2001:db8::7 2001:db8::1 6000 993\r\n",
        b"",
        "[::1]:1",
        &cfg,
    )
    .await;
    assert_eq!(client.unwrap().peer, addr("[2001:db8::7]:6000"));
    // UNKNOWN (a proxy's own check) keeps the socket peer; the shortest header is 15 bytes.
    let (client, rest) = run(b"PROXY UNKNOWN\r\n", b"x", "[::1]:9", &cfg).await;
    assert_eq!(client.unwrap().peer, addr("[::1]:9"));
    assert_eq!(rest, b"x");
}

#[tokio::test]
async fn v2_proxy_local_and_ssl_tlv() {
    let cfg = config(&["10.0.0.0/8"]);
    let header = v2::Builder::with_addresses(
        v2::Version::Two | v2::Command::Proxy,
        v2::Protocol::Stream,
        (addr("198.51.100.9:4242"), addr("10.0.0.1:143")),
    )
    .write_tlv(v2::Type::SSL, &[PP2_CLIENT_SSL, 0, 0, 0, 0])
    .unwrap()
    .build()
    .unwrap();
    let (client, rest) = run(&header, b"next", "10.1.2.3:5555", &cfg).await;
    let client = client.unwrap();
    assert_eq!(client.peer, addr("198.51.100.9:4242"));
    assert!(client.client_tls);
    assert_eq!(rest, b"next");

    let local = v2::Builder::new(
        v2::Version::Two | v2::Command::Local,
        v2::AddressFamily::Unspecified | v2::Protocol::Unspecified,
    )
    .build()
    .unwrap();
    let (client, rest) = run(&local, b"", "10.1.2.3:5555", &cfg).await;
    let client = client.unwrap();
    assert_eq!(client.peer, addr("10.1.2.3:5555"));
    assert!(!client.client_tls);
    assert!(rest.is_empty());
}

#[tokio::test]
async fn trusted_source_without_header_is_rejected() {
    let cfg = config(&["127.0.0.0/8"]);
    let (client, _) = run(b"* a LOGIN x y\r\n", b"", "127.0.0.1:1", &cfg).await;
    assert!(client.unwrap_err().0.contains("without a PROXY header"));
}

#[tokio::test]
async fn garbage_and_overlong_headers_are_rejected() {
    let cfg = config(&["127.0.0.1"]);
    let (client, _) = run(
        b"PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n",
        b"",
        "127.0.0.1:1",
        &cfg,
    )
    .await;
    assert!(client.unwrap_err().0.starts_with("bad PROXY v1 header"));
    let long = format!("PROXY TCP4 {}\r\n", "1".repeat(200));
    let (client, _) = run(long.as_bytes(), b"", "127.0.0.1:1", &cfg).await;
    assert!(client.unwrap_err().0.contains("longer than 107"));
    let mut bad_v2 = V2_SIGNATURE.to_vec();
    bad_v2.extend_from_slice(&[0x21, 0x11, 0, 2, 1, 2]);
    let (client, _) = run(&bad_v2, b"", "127.0.0.1:1", &cfg).await;
    assert!(client.unwrap_err().0.starts_with("bad PROXY v2 header"));
}

#[tokio::test]
async fn a_silent_proxy_times_out() {
    let cfg = config(&["127.0.0.1"]);
    let (_client, mut server) = tokio::io::duplex(64);
    let started = std::time::Instant::now();
    let err = accept(&mut server, addr("127.0.0.1:1"), &cfg)
        .await
        .unwrap_err();
    assert!(err.0.contains("no complete PROXY header"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn untrusted_or_disabled_means_no_header_read() {
    let cfg = config(&["10.0.0.0/8"]);
    let (client, rest) = run(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"",
        "127.0.0.1:7",
        &cfg,
    )
    .await;
    assert_eq!(client.unwrap().peer, addr("127.0.0.1:7"));
    assert_eq!(rest, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    let mut off = config(&["127.0.0.1"]);
    off.enabled = false;
    assert!(!off.expects_header("127.0.0.1".parse().unwrap()));
    // An IPv4 client seen on a dual-stack socket still matches an IPv4 network.
    assert!(config(&["127.0.0.1/32"]).expects_header("::ffff:127.0.0.1".parse().unwrap()));
}

#[test]
fn bad_trusted_entries_are_config_errors() {
    let err = ProxyConfig::new(true, &["10.0.0.0/33".into()], Duration::from_secs(1)).unwrap_err();
    assert!(err.contains("10.0.0.0/33"));
}

#[test]
fn header_sniffing() {
    assert!(looks_like_header(b"PROXY TCP4 1.2.3.4"));
    assert!(looks_like_header(b"\r\n\r\n\0\r\nQUIT\n!"));
    assert!(!looks_like_header(b"a1 LOGIN"));
    assert!(!looks_like_header(b"\r\n"));
    assert!(!looks_like_header(b"LHLO x\r\n"));
}

#[tokio::test]
async fn refuse_header_fails_the_first_read_only_for_headers() {
    let (mut a, b) = tokio::io::duplex(256);
    a.write_all(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
        .await
        .unwrap();
    let mut guarded = RefuseHeader::new(b, addr("127.0.0.1:1"), "test", true);
    let mut buf = [0u8; 64];
    let err = guarded.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);

    let (mut a, b) = tokio::io::duplex(256);
    a.write_all(b"LHLO x\r\n").await.unwrap();
    let mut guarded = RefuseHeader::new(b, addr("127.0.0.1:1"), "test", true);
    let n = guarded.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"LHLO x\r\n");

    let (mut a, b) = tokio::io::duplex(256);
    a.write_all(b"PROXY TCP4 inside the protocol\r\n")
        .await
        .unwrap();
    let mut unarmed = RefuseHeader::new(b, addr("127.0.0.1:1"), "test", false);
    let n = unarmed.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"PROXY TCP4 inside the protocol\r\n");
}
