//! The byte stream under a session: plain TCP, or TLS after STARTTLS, read through one buffer with
//! bounded line and literal reads.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// COMPRESS=DEFLATE over either of the above.
    Deflate(Box<crate::compress::Deflate>),
    /// Placeholder while the stream is being upgraded.
    Closed,
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// Outcome of reading one line.
pub enum Line {
    /// The line without its CRLF (or bare LF).
    Data(Vec<u8>),
    /// Longer than the limit; the rest of it was read and dropped.
    TooLong,
    Eof,
}

/// A buffered connection with an output buffer that is flushed explicitly.
pub struct Conn {
    pub reader: BufReader<Transport>,
    pub out: Vec<u8>,
    pub tls: bool,
    /// COMPRESS=DEFLATE is active.
    pub compressed: bool,
}

/// Output is flushed to the socket whenever this much is buffered.
const FLUSH_AT: usize = 64 * 1024;

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            // Small read buffer keeps idle connections cheap.
            reader: BufReader::with_capacity(4096, Transport::Plain(stream)),
            out: Vec::new(),
            tls: false,
            compressed: false,
        }
    }

    /// Reads a line of at most `max` bytes.
    pub async fn read_line(&mut self, max: usize) -> io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                // A partial last line from a closing client is not a command.
                return Ok(Line::Eof);
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let n = chunk.len();
            if !too_long {
                if line.len() + n > max + 2 {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            self.reader.consume(n);
            if found {
                if too_long {
                    return Ok(Line::TooLong);
                }
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Data(line));
            }
        }
    }

    /// Reads exactly `len` bytes into one buffer allocated once.
    pub async fn read_literal(&mut self, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.reader.read_exact(&mut buf).await?;
        Ok(buf)
    }

    /// Reads and drops `len` bytes.
    pub async fn skip(&mut self, mut len: u64) -> io::Result<()> {
        let mut scratch = [0u8; 8192];
        while len > 0 {
            let want = (len as usize).min(scratch.len());
            let n = self.reader.read(&mut scratch[..want]).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            len -= n as u64;
        }
        Ok(())
    }

    pub fn write(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
    }

    pub fn write_str(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    /// Flushes if enough output has accumulated (for long FETCH answers).
    pub async fn maybe_flush(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let stream = self.reader.get_mut();
            stream.write_all(&self.out).await?;
            self.out.clear();
            if self.out.capacity() > FLUSH_AT * 2 {
                self.out.shrink_to(1024);
            }
        }
        self.reader.get_mut().flush().await
    }

    /// Upgrades to TLS. Bytes the client pipelined after STARTTLS are discarded, never read as
    /// commands (the classic STARTTLS injection).
    pub async fn start_tls(&mut self, acceptor: &tokio_rustls::TlsAcceptor) -> io::Result<()> {
        let old = std::mem::replace(&mut self.reader, BufReader::new(Transport::Closed));
        let Transport::Plain(tcp) = old.into_inner() else {
            return Err(io::Error::other("TLS already active"));
        };
        let tls = acceptor.accept(tcp).await?;
        self.reader = BufReader::with_capacity(4096, Transport::Tls(Box::new(tls)));
        self.tls = true;
        Ok(())
    }

    /// Starts COMPRESS=DEFLATE: from now on both directions are raw DEFLATE. Bytes the client
    /// sent after the command are already compressed and are inflated first.
    pub fn start_deflate(&mut self) {
        let pending = self.reader.buffer().to_vec();
        let old = std::mem::replace(&mut self.reader, BufReader::new(Transport::Closed));
        let inner = old.into_inner();
        let deflate = crate::compress::Deflate::new(inner, pending);
        self.reader = BufReader::with_capacity(4096, Transport::Deflate(Box::new(deflate)));
        self.compressed = true;
    }

    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.reader.get_mut().shutdown().await;
    }
}
