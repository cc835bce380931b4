//! The API's listener: PROXY protocol before HTTP, and the real client address for handlers.
//!
//! Headers are read in a task per connection, so a slow proxy never holds up `accept`; ready
//! connections reach axum through a bounded channel.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use eider_proxy::{ProxyConfig, RefuseHeader};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The client's address (from the PROXY header when a trusted proxy sent one). Handlers read it
/// with `ConnectInfo<ClientAddr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, ProxyListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, ProxyListener>) -> Self {
        *stream.remote_addr()
    }
}

type Ready = (RefuseHeader<TcpStream>, ClientAddr);

pub struct ProxyListener {
    ready: mpsc::Receiver<Ready>,
    local: SocketAddr,
}

impl ProxyListener {
    /// Starts accepting on `listener` until `stop`.
    pub fn start(
        listener: TcpListener,
        proxy: ProxyConfig,
        stop: CancellationToken,
    ) -> std::io::Result<ProxyListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let proxy = Arc::new(proxy);
        tokio::spawn(async move {
            loop {
                let (mut stream, socket_peer) = tokio::select! {
                    _ = stop.cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::warn!(error = %e, "API accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (tx, proxy) = (tx.clone(), proxy.clone());
                tokio::spawn(async move {
                    let client = match eider_proxy::accept(&mut stream, socket_peer, &proxy).await {
                        Ok(client) => client,
                        Err(why) => {
                            tracing::warn!(peer = %socket_peer, reason = %why, "API connection refused");
                            return;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    tracing::info!(peer = %client.peer, proxied = client.proxied, "API connect");
                    let stream = RefuseHeader::new(stream, client.peer, "API", !client.proxied);
                    let _ = tx.send((stream, ClientAddr(client.peer))).await;
                });
            }
        });
        Ok(ProxyListener { ready, local })
    }
}

impl Listener for ProxyListener {
    type Io = RefuseHeader<TcpStream>;
    type Addr = ClientAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // Only after `stop`, when axum has stopped asking.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(ClientAddr(self.local))
    }
}
