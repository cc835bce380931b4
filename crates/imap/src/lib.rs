//! IMAP front end: connections, sessions and command handlers (RFC 3501 plus IDLE, UIDPLUS, MOVE,
//! UNSELECT, NAMESPACE, ID, ENABLE, SPECIAL-USE, CHILDREN, LITERAL+, SASL-IR).
//!
//! Syntax lives in `eider-imap-proto`, mail rules in `eider-engine`; this crate maps one to the
//! other and owns the per-connection state RFC 3501 requires. It must never talk to the store.

mod append;
mod compress;
mod fetch;
mod mailboxes;
mod messages;
mod reply;
mod search;
mod selected;
mod session;
mod transport;
mod wire;

use eider_engine::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    user_connections: Mutex<HashMap<String, usize>>,
}

/// A claimed per-user connection slot, released on drop.
pub(crate) struct UserSlot {
    shared: Arc<Shared>,
    user_id: String,
}

impl Shared {
    pub fn claim_user_slot(self: &Arc<Self>, user_id: &str, max: usize) -> Option<UserSlot> {
        let mut map = self
            .user_connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let count = map.entry(user_id.to_string()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(UserSlot {
            shared: self.clone(),
            user_id: user_id.to_string(),
        })
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .user_connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.user_id);
            }
        }
    }
}

/// Accepts IMAP connections until `shutdown`; then tells sessions to say BYE and waits for them.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: ImapConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        tls: config.tls.clone(),
        user_connections: Mutex::new(HashMap::new()),
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
