//! COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951) in both directions, layered over the
//! plain or TLS stream and under the line/literal framer.
//!
//! Inflating is streamed into the session's small read buffer, so the framer's line and literal
//! limits apply to the inflated bytes and a compression bomb costs CPU time, never memory.

use crate::transport::Transport;
use async_compression::tokio::bufread::DeflateDecoder;
use async_compression::tokio::write::DeflateEncoder;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, Chain, ReadBuf, ReadHalf, WriteHalf};

/// Compressed bytes the client had already sent when compression started, then the socket.
type CompressedInput = Chain<io::Cursor<Vec<u8>>, ReadHalf<Transport>>;

pub struct Deflate {
    reader: DeflateDecoder<BufReader<CompressedInput>>,
    writer: DeflateEncoder<WriteHalf<Transport>>,
}

impl Deflate {
    /// Wraps `inner`; `pending` are bytes read from it but not yet consumed (already compressed).
    pub fn new(inner: Transport, pending: Vec<u8>) -> Deflate {
        use tokio::io::AsyncReadExt;
        let (read, write) = tokio::io::split(inner);
        let input = io::Cursor::new(pending).chain(read);
        Deflate {
            reader: DeflateDecoder::new(BufReader::with_capacity(4096, input)),
            writer: DeflateEncoder::new(write),
        }
    }
}

impl AsyncRead for Deflate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Deflate {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }
    /// A flush ends the pending output with a DEFLATE sync flush, so the client can decode each
    /// response as soon as it arrives.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_shutdown(cx)
    }
}
