//! A minimal IMAP client: tagged commands over a plain socket, reading untagged responses
//! (literals included) until the tagged completion. It counts lines and bytes; it does not parse.

use anyhow::{Context, bail};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct ImapClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_tag: u32,
}

/// What one command brought back.
#[derive(Debug, Clone)]
pub struct Response {
    pub elapsed: Duration,
    /// Untagged response lines (a literal does not start a new line).
    pub untagged: usize,
    /// Bytes received, literals included.
    pub bytes: usize,
    /// Untagged lines kept when asked for (SEARCH results, say).
    pub kept: Vec<String>,
    pub status: String,
}

impl ImapClient {
    /// Connects and reads the greeting.
    pub async fn connect(addr: &str) -> anyhow::Result<ImapClient> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to IMAP {addr}"))?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        let mut client = ImapClient {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
            next_tag: 1,
        };
        let mut greeting = Vec::new();
        client.reader.read_until(b'\n', &mut greeting).await?;
        if !greeting.starts_with(b"* OK") {
            bail!(
                "unexpected IMAP greeting: {}",
                String::from_utf8_lossy(&greeting).trim()
            );
        }
        Ok(client)
    }

    pub async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<Response> {
        self.ok(&format!("LOGIN \"{user}\" \"{password}\""), false)
            .await
    }

    /// Runs a command and fails unless it completes OK.
    pub async fn ok(&mut self, command: &str, keep: bool) -> anyhow::Result<Response> {
        let r = self.command(command, keep).await?;
        if !r.status.starts_with("OK") {
            bail!("{command:?} answered {}", r.status);
        }
        Ok(r)
    }

    /// `APPEND mailbox {N+}` with the message as a non-synchronizing literal (LITERAL+);
    /// fails unless it completes OK.
    pub async fn append(&mut self, mailbox: &str, message: &[u8]) -> anyhow::Result<Response> {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        let started = Instant::now();
        let mut request =
            format!("{tag} APPEND \"{mailbox}\" {{{}+}}\r\n", message.len()).into_bytes();
        request.extend_from_slice(message);
        request.extend_from_slice(b"\r\n");
        self.writer.write_all(&request).await?;
        let r = self.read_response(&tag, "APPEND", started, false).await?;
        if !r.status.starts_with("OK") {
            bail!("APPEND answered {}", r.status);
        }
        Ok(r)
    }

    /// Sends `TAG command` and reads until `TAG OK|NO|BAD`.
    pub async fn command(&mut self, command: &str, keep: bool) -> anyhow::Result<Response> {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        let started = Instant::now();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.read_response(&tag, command, started, keep).await
    }

    /// Reads untagged responses until the tagged completion of `tag`.
    async fn read_response(
        &mut self,
        tag: &str,
        command: &str,
        started: Instant,
        keep: bool,
    ) -> anyhow::Result<Response> {
        let prefix = format!("{tag} ");
        let mut untagged = 0;
        let mut bytes = 0;
        let mut kept = Vec::new();
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let n = self.reader.read_until(b'\n', &mut line).await?;
            if n == 0 {
                bail!("server closed the connection during {command:?}");
            }
            bytes += n;
            if line.starts_with(prefix.as_bytes()) {
                let status = String::from_utf8_lossy(&line[prefix.len()..])
                    .trim_end()
                    .to_string();
                return Ok(Response {
                    elapsed: started.elapsed(),
                    untagged,
                    bytes,
                    kept,
                    status,
                });
            }
            untagged += 1;
            // A line ending in {N} is followed by N literal bytes, then the rest of the response.
            let mut whole = keep.then(|| line.clone());
            while let Some(len) = literal_len(&line) {
                let mut skip = vec![0u8; len];
                self.reader.read_exact(&mut skip).await?;
                bytes += len;
                line.clear();
                bytes += self.reader.read_until(b'\n', &mut line).await?;
                if let Some(w) = whole.as_mut() {
                    w.extend_from_slice(&skip);
                    w.extend_from_slice(&line);
                }
            }
            if let Some(w) = whole {
                kept.push(String::from_utf8_lossy(&w).trim_end().to_string());
            }
        }
    }

    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT", false).await;
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::literal_len;

    #[test]
    fn literal_announcements_are_found() {
        assert_eq!(
            literal_len(b"* 1 FETCH (ENVELOPE (\"a\" {12}\r\n"),
            Some(12)
        );
        assert_eq!(literal_len(b"* 1 FETCH (FLAGS ())\r\n"), None);
        assert_eq!(literal_len(b"* OK {x}\r\n"), None);
    }
}
