//! Bounded line reading and the DATA phase (dot-unstuffing, size cap), over any buffered reader.

use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStatus {
    /// A whole line, ending in LF, is in the buffer.
    Complete,
    /// The line was longer than the limit: the first `limit` bytes are in the buffer, the rest was
    /// read and dropped up to and including its LF.
    Overflow,
    /// The peer closed the connection before the line ended.
    Eof,
}

/// Reads one line (through its LF) into `out`, keeping at most `limit` bytes of it. Never buffers
/// more than `limit` bytes, however long the line is. Fails with `TimedOut` when the peer sends
/// nothing for `idle`.
pub async fn read_line_limited<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    limit: usize,
    idle: Duration,
) -> std::io::Result<LineStatus> {
    let mut overflow = false;
    loop {
        let available = tokio::time::timeout(idle, reader.fill_buf())
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if available.is_empty() {
            return Ok(LineStatus::Eof);
        }
        let (chunk, done) = match memchr_lf(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let used = chunk.len();
        if !overflow {
            let room = limit.saturating_sub(out.len());
            if chunk.len() > room {
                out.extend_from_slice(&chunk[..room]);
                overflow = true;
            } else {
                out.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if done {
            return Ok(if overflow {
                LineStatus::Overflow
            } else {
                LineStatus::Complete
            });
        }
    }
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// What the DATA phase produced.
#[derive(Debug, PartialEq, Eq)]
pub enum DataOutcome {
    /// The message, dot-unstuffed, without the terminating `.` line, line endings as received.
    Message(Vec<u8>),
    /// The message exceeded the limit; it was read to its end and dropped.
    TooBig,
    /// The peer went away before the final `.`: nothing may be stored.
    Disconnected,
}

/// Reads a message after `354` up to the line holding only `.` (CRLF or bare LF). Holds at most
/// `max_size` bytes of it in memory; past that it keeps reading to the end without storing.
pub async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_size: u64,
    idle: Duration,
) -> std::io::Result<DataOutcome> {
    let max = usize::try_from(max_size).unwrap_or(usize::MAX);
    let mut message = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        // Room for the rest of the allowance plus a stuffing dot, and always for ".\r\n".
        let limit = if too_big {
            3
        } else {
            (max - message.len()).saturating_add(1).max(3)
        };
        let status = read_line_limited(reader, &mut line, limit, idle).await?;
        match status {
            LineStatus::Eof => return Ok(DataOutcome::Disconnected),
            LineStatus::Complete if line == b".\r\n" || line == b".\n" => break,
            LineStatus::Complete | LineStatus::Overflow if too_big => continue,
            LineStatus::Overflow => {
                too_big = true;
                message = Vec::new();
                continue;
            }
            LineStatus::Complete => {}
        }
        let body = match line.first() {
            Some(b'.') => &line[1..],
            _ => &line[..],
        };
        if message.len() + body.len() > max {
            too_big = true;
            message = Vec::new();
            continue;
        }
        message.extend_from_slice(body);
    }
    Ok(if too_big {
        DataOutcome::TooBig
    } else {
        DataOutcome::Message(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(5);

    async fn data(input: &[u8], max: u64) -> (DataOutcome, Vec<u8>) {
        let mut reader = tokio::io::BufReader::with_capacity(7, input);
        let outcome = read_data(&mut reader, max, IDLE).await.unwrap();
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut rest)
            .await
            .unwrap();
        (outcome, rest)
    }

    #[tokio::test]
    async fn lines_are_capped_but_consumed() {
        let mut reader = tokio::io::BufReader::with_capacity(4, &b"abcdefghij\r\nnext\r\ntail"[..]);
        let mut out = Vec::new();
        let status = read_line_limited(&mut reader, &mut out, 5, IDLE)
            .await
            .unwrap();
        assert_eq!(
            (status, out.as_slice()),
            (LineStatus::Overflow, &b"abcde"[..])
        );
        out.clear();
        let status = read_line_limited(&mut reader, &mut out, 6, IDLE)
            .await
            .unwrap();
        assert_eq!(
            (status, out.as_slice()),
            (LineStatus::Complete, &b"next\r\n"[..])
        );
        out.clear();
        let status = read_line_limited(&mut reader, &mut out, 5, IDLE)
            .await
            .unwrap();
        assert_eq!(status, LineStatus::Eof);
    }

    #[tokio::test]
    async fn unstuffs_and_stops_at_the_dot() {
        let (outcome, rest) = data(b"Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n", 1000).await;
        assert_eq!(
            outcome,
            DataOutcome::Message(b"Subject: x\r\n\r\n.dot\r\n".to_vec())
        );
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn bare_lf_is_kept_as_received() {
        let (outcome, _) = data(b"a\nb\n.\n", 1000).await;
        assert_eq!(outcome, DataOutcome::Message(b"a\nb\n".to_vec()));
    }

    #[tokio::test]
    async fn too_big_reads_to_the_end() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\nmore\r\n.\r\nNOOP\r\n");
        let (outcome, rest) = data(&input, 1024).await;
        assert_eq!(outcome, DataOutcome::TooBig);
        assert_eq!(rest, b"NOOP\r\n");
        // Exactly at the limit is fine; one byte over is not.
        let (outcome, _) = data(b"12345678\r\n.\r\n", 10).await;
        assert_eq!(outcome, DataOutcome::Message(b"12345678\r\n".to_vec()));
        let (outcome, _) = data(b"123456789\r\n.\r\n", 10).await;
        assert_eq!(outcome, DataOutcome::TooBig);
    }

    #[tokio::test]
    async fn disconnect_mid_data() {
        let (outcome, _) = data(b"Subject: x\r\n\r\nbody", 1000).await;
        assert_eq!(outcome, DataOutcome::Disconnected);
    }
}
