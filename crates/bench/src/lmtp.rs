//! LMTP delivery throughput: N generated messages over K concurrent connections to a running
//! `eider serve`, one or several recipients per message.

use crate::corpus::{Generator, Profile};
use crate::report::{Table, fmt_bytes, percentile};
use crate::server::{Environment, Server};
use crate::{Common, LmtpArgs};
use anyhow::{Context, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

pub struct LmtpRun {
    pub recipients_per_message: usize,
    pub messages: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl LmtpRun {
    pub fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }
    pub fn rcpts_per_sec(&self) -> f64 {
        (self.messages * self.recipients_per_message) as f64 / self.elapsed.as_secs_f64()
    }
}

pub fn user_address(i: usize) -> String {
    format!("user{i}@bench.test")
}

pub async fn run(common: &Common, args: &LmtpArgs) -> anyhow::Result<Vec<(String, Table)>> {
    let mut out = Vec::new();
    for backend in common.backends() {
        let env = Environment::create(&backend, "lmtp", common.keep)?;
        let mut server = Server::configure(&common.eider, &env, &common.settings())?;
        let max_rcpt = args.recipients.iter().copied().max().unwrap_or(1);
        let users = args.users.max(max_rcpt);
        eprintln!("[lmtp/{}] creating {users} users", backend.name());
        for i in 0..users {
            server.add_user(&format!("user{i}"), "bench-password", &user_address(i))?;
        }
        server.start()?;
        let mut table = Table::new(&[
            "conns", "rcpt/msg", "messages", "seconds", "msgs/s", "rcpts/s", "MiB/s in", "p50 ms",
            "p99 ms",
        ]);
        let before = env.storage_bytes()?;
        let mut mean_size = 0;
        let mut seed = common.seed;
        for &connections in &args.connections {
            for &rcpts in &args.recipients {
                // A fresh corpus per run (generated before timing starts), so no run is helped
                // by content dedup against an earlier run's identical copies.
                let mut generator = Generator::new(seed, Profile::delivery());
                seed += 1;
                let corpus: Arc<Vec<Vec<u8>>> = Arc::new(
                    (0..args.messages)
                        .map(|_| dot_stuff(&generator.message("team@bench.test")))
                        .collect(),
                );
                let corpus_bytes: u64 = corpus.iter().map(|m| m.len() as u64).sum();
                mean_size = corpus_bytes / corpus.len().max(1) as u64;
                let addrs = [server.lmtp_addr.clone()];
                let run = deliver(&addrs, corpus.clone(), connections, rcpts, users)
                    .await
                    .with_context(|| format!("LMTP run {connections} conns × {rcpts} rcpt"))?;
                eprintln!(
                    "[lmtp/{}] {connections} conns, {rcpts} rcpt/msg: {:.1} msgs/s",
                    backend.name(),
                    run.msgs_per_sec()
                );
                let mut lat = run.latencies.clone();
                table.row(vec![
                    connections.to_string(),
                    rcpts.to_string(),
                    run.messages.to_string(),
                    format!("{:.2}", run.elapsed.as_secs_f64()),
                    format!("{:.1}", run.msgs_per_sec()),
                    format!("{:.1}", run.rcpts_per_sec()),
                    format!(
                        "{:.2}",
                        run.bytes as f64 / 1048576.0 / run.elapsed.as_secs_f64()
                    ),
                    format!("{:.1}", percentile(&mut lat, 0.50).as_secs_f64() * 1e3),
                    format!("{:.1}", percentile(&mut lat, 0.99).as_secs_f64() * 1e3),
                ]);
            }
        }
        let after = env.storage_bytes()?;
        let (rss, hwm) = server.memory_kib()?;
        server.stop()?;
        let note = format!(
            "messages 5-50 KiB (mean {}), a third with base64 attachments; \
             store grew by {} for {} delivered copies; server RSS {} (peak {})",
            fmt_bytes(mean_size),
            fmt_bytes(after.saturating_sub(before)),
            args.messages * args.recipients.iter().sum::<usize>() * args.connections.len(),
            fmt_bytes(rss * 1024),
            fmt_bytes(hwm * 1024),
        );
        table.note(note);
        out.push((format!("LMTP delivery ({})", backend.name()), table));
    }
    Ok(out)
}

/// Delivers every message in `corpus` once, over `connections` parallel sessions; session `c`
/// talks to `addrs[c % addrs.len()]` (round robin over instances).
pub async fn deliver(
    addrs: &[String],
    corpus: Arc<Vec<Vec<u8>>>,
    connections: usize,
    rcpts: usize,
    users: usize,
) -> anyhow::Result<LmtpRun> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let addr = addrs[c % addrs.len()].clone();
        let corpus = corpus.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut session = LmtpClient::connect(&addr).await?;
            let mut latencies = Vec::new();
            let mut bytes = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= corpus.len() {
                    break;
                }
                let to: Vec<String> = (0..rcpts).map(|r| user_address((i + r) % users)).collect();
                let t = Instant::now();
                session.send(&corpus[i], &to).await?;
                latencies.push(t.elapsed());
                bytes += corpus[i].len() as u64;
            }
            session.quit().await;
            Ok::<_, anyhow::Error>((latencies, bytes))
        });
    }
    let mut latencies = Vec::new();
    let mut bytes = 0;
    while let Some(done) = tasks.join_next().await {
        let (l, b) = done??;
        latencies.extend(l);
        bytes += b;
    }
    Ok(LmtpRun {
        recipients_per_message: rcpts,
        messages: corpus.len(),
        bytes,
        elapsed: started.elapsed(),
        latencies,
    })
}

/// Doubles leading dots and appends the end-of-data marker.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

struct LmtpClient {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    line: String,
}

impl LmtpClient {
    async fn connect(addr: &str) -> anyhow::Result<LmtpClient> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        let mut c = LmtpClient {
            reader: BufReader::new(r),
            writer: BufWriter::with_capacity(64 * 1024, w),
            line: String::new(),
        };
        c.expect("greeting", '2').await?;
        c.writer.write_all(b"LHLO bench.client\r\n").await?;
        c.writer.flush().await?;
        c.expect("LHLO", '2').await?;
        Ok(c)
    }

    /// Reads one (possibly multi-line) reply; fails unless its code starts with `class`.
    async fn expect(&mut self, what: &str, class: char) -> anyhow::Result<()> {
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line).await? == 0 {
                bail!("LMTP server closed the connection after {what}");
            }
            if self.line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            if !self.line.starts_with(class) {
                bail!("LMTP {what}: {}", self.line.trim_end());
            }
            return Ok(());
        }
    }

    async fn send(&mut self, stuffed: &[u8], to: &[String]) -> anyhow::Result<()> {
        self.writer
            .write_all(b"MAIL FROM:<sender@example.org>\r\n")
            .await?;
        self.writer.flush().await?;
        self.expect("MAIL", '2').await?;
        for rcpt in to {
            self.writer
                .write_all(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
                .await?;
            self.writer.flush().await?;
            self.expect("RCPT", '2').await?;
        }
        self.writer.write_all(b"DATA\r\n").await?;
        self.writer.flush().await?;
        self.expect("DATA", '3').await?;
        self.writer.write_all(stuffed).await?;
        self.writer.flush().await?;
        for _ in to {
            self.expect("end of data", '2').await?;
        }
        Ok(())
    }

    async fn quit(mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n").await;
        let _ = self.writer.flush().await;
        let _ = self.expect("QUIT", '2').await;
    }
}

#[cfg(test)]
mod tests {
    use super::dot_stuff;

    #[test]
    fn dots_are_stuffed() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
    }
}
