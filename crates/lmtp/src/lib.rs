//! LMTP front end (RFC 2033): local delivery from an MTA into the engine.
//!
//! One task per connection, capped by a semaphore. Each accepted recipient gets its own reply after
//! DATA, in RCPT order. On shutdown the listener stops accepting; idle sessions are told `421` and
//! closed, and a session inside a transaction may finish it first.

mod command;
mod lines;
mod session;

use eider_engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct LmtpConfig {
    pub hostname: String,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub proxy: eider_proxy::ProxyConfig,
}

pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: LmtpConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(done) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "LMTP session panicked");
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "LMTP accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let engine = engine.clone();
                        let config = config.clone();
                        let shutdown = shutdown.clone();
                        sessions.spawn(async move {
                            let _permit = permit;
                            connection(stream, peer, engine, config, shutdown).await;
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "LMTP connection limit reached");
                        let hostname = config.hostname.clone();
                        sessions.spawn(refuse(stream, hostname));
                    }
                }
            }
        }
    }
    drop(listener);
    while let Some(done) = sessions.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            tracing::error!(error = %e, "LMTP session panicked");
        }
    }
    Ok(())
}

/// One connection: the PROXY header if one is due, then the session.
async fn connection(
    mut stream: TcpStream,
    socket_peer: SocketAddr,
    engine: Engine,
    config: Arc<LmtpConfig>,
    shutdown: CancellationToken,
) {
    let client = match eider_proxy::accept(&mut stream, socket_peer, &config.proxy).await {
        Ok(client) => client,
        Err(why) => {
            tracing::warn!(peer = %socket_peer, reason = %why, "LMTP connection refused");
            return;
        }
    };
    let peer = client.peer;
    tracing::info!(%peer, proxied = client.proxied, "LMTP connect");
    let (reader, writer) = stream.into_split();
    let reader = eider_proxy::RefuseHeader::new(reader, peer, "LMTP", !client.proxied);
    let session = session::Session::new(reader, writer, engine, config, shutdown, peer);
    if let Err(e) = session.run().await {
        tracing::debug!(%peer, error = %e, "LMTP session ended");
    }
}

/// Tells a client over the connection limit to come back later.
async fn refuse(mut stream: TcpStream, hostname: String) {
    let line = format!("421 4.3.2 {hostname} Too many connections, try again later\r\n");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let _ = stream.write_all(line.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
