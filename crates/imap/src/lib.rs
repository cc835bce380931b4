//! IMAP front end: connections, sessions and command handlers (RFC 3501 plus IDLE, UIDPLUS, MOVE,
//! UNSELECT, NAMESPACE, ID, ENABLE, SPECIAL-USE, CHILDREN, LITERAL+/LITERAL-, SASL-IR, OBJECTID,
//! SAVEDATE, PREVIEW, and the IMAP4rev2 mode of `ENABLE IMAP4rev2`).
//!
//! Syntax lives in `eider-imap-proto`, mail rules in `eider-engine`; this crate maps one to the
//! other and owns the per-connection state RFC 3501 requires. It must never talk to the store.

mod append;
mod compress;
mod ext;
mod fetch;
mod mailboxes;
mod messages;
mod qresync;
mod reply;
mod search;
mod selected;
mod session;
mod sort;
mod subject;
mod thread;
mod transport;
mod wire;

use eider_engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub hostname: String,
    pub max_line_length: usize,
    pub max_literal_size: u64,
    pub max_message_size: u64,
    pub max_connections: usize,
    pub max_connections_per_user: usize,
    pub login_timeout: Duration,
    pub idle_timeout: Duration,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// LOGIN / AUTHENTICATE allowed without TLS from non-loopback clients.
    pub allow_plaintext_auth: bool,
    /// LITERAL+ (true) or LITERAL- (false, RFC 7888).
    pub literal_plus: bool,
    /// PROXY protocol for both IMAP listeners.
    pub proxy: eider_proxy::ProxyConfig,
}

/// State shared by the sessions of one listener.
pub(crate) struct Shared {
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A claimed per-user connection slot (counted across the cluster with Redis), released on drop.
pub(crate) type UserSlot = eider_engine::Slot;

/// Accepts IMAP connections until `shutdown`; then tells sessions to say BYE and waits for them.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: ImapConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_all(Some(listener), None, engine, config, shutdown).await
}

/// Like [`serve`], for the STARTTLS listener and the implicit-TLS one (port 993 style) together:
/// one connection limit and one per-user count for both.
pub async fn serve_all(
    plain: Option<TcpListener>,
    implicit_tls: Option<TcpListener>,
    engine: Engine,
    config: ImapConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        tls: config.tls.clone(),
    });
    let implicit_tls = match (implicit_tls, &config.tls) {
        (Some(listener), Some(tls)) => {
            Some((listener, tokio_rustls::TlsAcceptor::from(tls.clone())))
        }
        (Some(_), None) => anyhow::bail!("an implicit-TLS IMAP listener needs a TLS configuration"),
        (None, _) => None,
    };
    let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let config = Arc::new(config);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let (accepted, tls) = tokio::select! {
            a = accept(plain.as_ref()) => (a, None),
            a = accept(implicit_tls.as_ref().map(|(l, _)| l)) => {
                (a, implicit_tls.as_ref().map(|(_, acceptor)| acceptor.clone()))
            }
            _ = shutdown.cancelled() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let (stream, socket_peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "IMAP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tokio::spawn(reject(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (engine, config, shared, shutdown) = (
            engine.clone(),
            config.clone(),
            shared.clone(),
            shutdown.clone(),
        );
        sessions.spawn(async move {
            connection(stream, socket_peer, tls, engine, config, shared, shutdown).await;
            drop(permit);
        });
    }
    // Closed now, so new clients are refused at once rather than left in the backlog.
    drop(plain);
    drop(implicit_tls);
    while sessions.join_next().await.is_some() {}
    Ok(())
}

/// Accepts on a listener that may be absent (then never).
async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// One connection: the PROXY header if one is due, the TLS handshake on the implicit-TLS
/// listener, then the session.
async fn connection(
    mut stream: tokio::net::TcpStream,
    socket_peer: std::net::SocketAddr,
    implicit_tls: Option<tokio_rustls::TlsAcceptor>,
    engine: Engine,
    config: Arc<ImapConfig>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let client = match eider_proxy::accept(&mut stream, socket_peer, &config.proxy).await {
        Ok(client) => client,
        Err(why) => {
            tracing::warn!(peer = %socket_peer, reason = %why, "IMAP connection refused");
            return;
        }
    };
    let mut conn = transport::Conn::new(stream);
    if let Some(acceptor) = implicit_tls {
        match tokio::time::timeout(config.login_timeout, conn.start_tls(&acceptor)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::info!(peer = %client.peer, error = %e, "IMAP TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!(peer = %client.peer, "IMAP TLS handshake timed out");
                return;
            }
        }
    }
    tracing::info!(peer = %client.peer, tls = conn.tls, proxied = client.proxied, "IMAP connect");
    let mut session = session::Session::new(conn, engine, config, shared, client.peer, shutdown);
    session.proxy_client_tls = client.client_tls;
    session.refuse_proxy_header = !client.proxied;
    session.run().await;
}

async fn reject(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(b"* BYE Too many connections, try again later.\r\n")
        .await;
}
