//! PROXY protocol (HAProxy v1 text and v2 binary) for every listener: who the client really is when
//! a TCP load balancer sits in front.
//!
//! A listener either expects no header (off, or the connection is not from a trusted proxy) or
//! requires one (on, and the socket peer is in the trusted networks). Header parsing is the `ppp`
//! crate's; this crate only frames the read (bounded, with a timeout) and decides trust. It knows
//! no mail protocol.

use ipnet::IpNet;
use ppp::{HeaderResult, v1, v2};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The v2 signature (12 bytes) every binary header starts with.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// Every v1 header starts with this.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest v1 header, CRLF included (the specification's worst case).
const V1_MAX: usize = 107;
/// The shortest header of either version: `PROXY UNKNOWN\r\n` (v2 headers have at least 16 bytes).
const SHORTEST: usize = 15;
/// PP2_TYPE_SSL and its PP2_CLIENT_SSL flag: the client reached the proxy over TLS.
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_CLIENT_SSL: u8 = 0x01;

/// PROXY protocol settings of one listener.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Connections from `trusted` must start with a header.
    pub enabled: bool,
    /// Networks of the load balancers allowed to send a header.
    pub trusted: Vec<IpNet>,
    /// How long a trusted proxy may take to send its header.
    pub timeout: Duration,
}

impl ProxyConfig {
    /// PROXY protocol off: no connection may send a header.
    pub fn off() -> ProxyConfig {
        ProxyConfig {
            enabled: false,
            trusted: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Builds the settings from config values; `trusted` entries are CIDR networks or single
    /// addresses.
    pub fn new(
        enabled: bool,
        trusted: &[String],
        timeout: Duration,
    ) -> Result<ProxyConfig, String> {
        let trusted = trusted
            .iter()
            .map(|entry| parse_network(entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProxyConfig {
            enabled,
            trusted,
            timeout,
        })
    }

    /// Whether a connection from `source` must start with a header.
    pub fn expects_header(&self, source: IpAddr) -> bool {
        let source = source.to_canonical();
        self.enabled && self.trusted.iter().any(|net| net.contains(&source))
    }
}

fn parse_network(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{entry:?} is not an IP network (like 10.0.0.0/8) or address"))
}

/// Who is on the other end of an accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The real client: the header's source address, or the socket peer without a header (and for
    /// a proxy's own health checks: v2 LOCAL, v1 UNKNOWN).
    pub peer: SocketAddr,
    /// The connection came through a trusted proxy that sent a header.
    pub proxied: bool,
    /// The proxy says the client reached it over TLS (v2 PP2_TYPE_SSL with PP2_CLIENT_SSL).
    pub client_tls: bool,
}

/// Why a connection was refused before its protocol started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the PROXY header where one is required and says who the client is. Without a required
/// header the stream is untouched and the socket peer is the client.
pub async fn accept<S: AsyncRead + Unpin>(
    stream: &mut S,
    socket_peer: SocketAddr,
    config: &ProxyConfig,
) -> Result<Client, Rejected> {
    if !config.expects_header(socket_peer.ip()) {
        return Ok(Client {
            peer: socket_peer,
            proxied: false,
            client_tls: false,
        });
    }
    let header = tokio::time::timeout(config.timeout, read_header(stream))
        .await
        .map_err(|_| {
            Rejected(format!(
                "no complete PROXY header within {} s",
                config.timeout.as_secs_f32()
            ))
        })??;
    parse(&header, socket_peer)
}

/// Reads exactly one header and not a byte more, so the protocol behind it gets the bare socket
/// with nothing held in a buffer on the side (STARTTLS and implicit TLS take the socket itself).
/// A v1 header has no length field, so it is read a byte at a time up to its LF (at most 107).
async fn read_header<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, Rejected> {
    let io_error = |e: io::Error| Rejected(format!("reading PROXY header: {e}"));
    let mut buf = vec![0u8; SHORTEST];
    stream.read_exact(&mut buf).await.map_err(io_error)?;
    if buf.starts_with(V2_SIGNATURE) {
        buf.resize(16, 0);
        stream.read_exact(&mut buf[15..]).await.map_err(io_error)?;
        let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
        buf.resize(16 + len, 0);
        stream.read_exact(&mut buf[16..]).await.map_err(io_error)?;
    } else if buf.starts_with(V1_PREFIX) {
        while buf.last() != Some(&b'\n') {
            if buf.len() >= V1_MAX {
                return Err(Rejected("PROXY v1 header longer than 107 bytes".into()));
            }
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.map_err(io_error)?;
            buf.push(byte[0]);
        }
    } else {
        return Err(Rejected(
            "a trusted source connected without a PROXY header".into(),
        ));
    }
    Ok(buf)
}

fn parse(header: &[u8], socket_peer: SocketAddr) -> Result<Client, Rejected> {
    let proxied = |peer| Client {
        peer,
        proxied: true,
        client_tls: false,
    };
    // The version is known from the first bytes; parsing v2 bytes as v1 would only blur the error.
    let parsed: HeaderResult = if header.starts_with(V2_SIGNATURE) {
        v2::Header::try_from(header).into()
    } else {
        v1::Header::try_from(header).into()
    };
    match parsed {
        HeaderResult::V1(Ok(h)) => Ok(proxied(match h.addresses {
            v1::Addresses::Tcp4(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            v1::Addresses::Tcp6(a) => SocketAddr::new(a.source_address.into(), a.source_port),
            v1::Addresses::Unknown => socket_peer,
        })),
        HeaderResult::V2(Ok(h)) => {
            let peer = match (h.command, h.addresses) {
                (v2::Command::Local, _) => socket_peer,
                (_, v2::Addresses::IPv4(a)) => {
                    SocketAddr::new(a.source_address.into(), a.source_port)
                }
                (_, v2::Addresses::IPv6(a)) => {
                    SocketAddr::new(a.source_address.into(), a.source_port)
                }
                _ => socket_peer,
            };
            let client_tls = h.tlvs().flatten().any(|tlv| {
                tlv.kind == PP2_TYPE_SSL
                    && tlv.value.first().is_some_and(|f| f & PP2_CLIENT_SSL != 0)
            });
            Ok(Client {
                client_tls,
                ..proxied(peer)
            })
        }
        HeaderResult::V1(Err(e)) => Err(Rejected(format!("bad PROXY v1 header: {e}"))),
        HeaderResult::V2(Err(e)) => Err(Rejected(format!("bad PROXY v2 header: {e}"))),
    }
}

/// Whether the first bytes a client sent look like a PROXY header (either version). A connection
/// that may not send one (PROXY protocol off, or not from a trusted proxy) and does is refused
/// rather than having the header read as protocol input.
pub fn looks_like_header(first: &[u8]) -> bool {
    let starts = |sig: &[u8]| {
        let n = first.len().min(sig.len());
        n >= 5 && first[..n] == sig[..n]
    };
    starts(V1_PREFIX) || starts(V2_SIGNATURE)
}

/// A stream that fails its first read with `InvalidData` (and logs why) when the client opens
/// with a PROXY header it was not allowed to send. Unarmed (the header was already read), it only
/// passes bytes through.
pub struct RefuseHeader<S> {
    inner: S,
    peer: SocketAddr,
    listener: &'static str,
    checked: bool,
}

impl<S> RefuseHeader<S> {
    pub fn new(inner: S, peer: SocketAddr, listener: &'static str, armed: bool) -> Self {
        RefuseHeader {
            inner,
            peer,
            listener,
            checked: !armed,
        }
    }
}

/// The log line and error for a header from a source that may not send one.
pub fn untrusted_header(listener: &str, peer: SocketAddr) -> io::Error {
    tracing::warn!(%peer, "{listener}: PROXY header from a source that is not a trusted proxy; connection closed");
    io::Error::new(
        io::ErrorKind::InvalidData,
        "PROXY header from an untrusted source",
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for RefuseHeader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !this.checked
            && let Poll::Ready(Ok(())) = result
        {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.checked = true;
                if looks_like_header(new) {
                    buf.set_filled(before);
                    return Poll::Ready(Err(untrusted_header(this.listener, this.peer)));
                }
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RefuseHeader<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
