//! IMAP front end: connections, sessions and command handlers (RFC 3501 plus IDLE, UIDPLUS, MOVE,
//! UNSELECT, NAMESPACE, ID, ENABLE, SPECIAL-USE, CHILDREN, LITERAL+, SASL-IR).
//!
//! Syntax lives in `eider-imap-proto`, mail rules in `eider-engine`; this crate maps one to the
//! other and owns the per-connection state RFC 3501 requires. It must never talk to the store.

mod fetch;
mod mailboxes;
mod messages;
mod reply;
mod search;
mod selected;
mod session;
mod transport;

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
    let shared = Arc::new(Shared {
        tls: config.tls.clone(),
    });
    let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let config = Arc::new(config);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "IMAP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tokio::spawn(reject(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let session = session::Session::new(
            transport::Conn::new(stream),
            engine.clone(),
            config.clone(),
            shared.clone(),
            peer,
            shutdown.clone(),
        );
        sessions.spawn(async move {
            session.run().await;
            drop(permit);
        });
    }
    while sessions.join_next().await.is_some() {}
    Ok(())
}

async fn reject(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(b"* BYE Too many connections, try again later.\r\n")
        .await;
}
