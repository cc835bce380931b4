//! One LMTP connection: the command state machine and its replies.

use crate::LmtpConfig;
use crate::command::{self, Command, ParseError};
use crate::lines::{self, DataOutcome, LineStatus};
use eider_engine::{DeliveryOutcome, Engine, ErrorKind, Resolution, address};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio_util::sync::CancellationToken;

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4 asks for at least 512).
pub const MAX_COMMAND_LINE: usize = 4096;
/// How long the server waits for the next command or the next piece of message data
/// (RFC 5321 §4.5.3.2.7 suggests five minutes).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// A client that keeps sending bad commands is cut off after this many.
const MAX_ERRORS: u32 = 20;

/// Over quota is answered `552 5.2.2`: 552 is RFC 5321's code for "exceeded storage allocation" and
/// RFC 3463 X.2.2 is "mailbox full". A permanent answer makes the sender learn it at once from a
/// bounce, rather than after the relaying MTA's queue lifetime of retries that would each be
/// refused again while the user's mailbox stays full.
const OVER_QUOTA: &str = "552 5.2.2";

struct Recipient {
    /// One user for a user address; every local target of a forwarded address.
    user_ids: Vec<String>,
    /// The address as the client gave it; it goes into `Delivered-To` and the reply.
    given: String,
}

struct Transaction {
    return_path: String,
    recipients: Vec<Recipient>,
}

pub struct Session<R, W> {
    reader: BufReader<R>,
    writer: BufWriter<W>,
    engine: Engine,
    config: Arc<LmtpConfig>,
    shutdown: CancellationToken,
    /// The real client address (from the PROXY header when one came).
    peer: SocketAddr,
    greeted: bool,
    transaction: Option<Transaction>,
    errors: u32,
}

/// What the loop does after a command.
enum Next {
    Continue,
    Close,
}

impl<R, W> Session<R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    pub fn new(
        reader: R,
        writer: W,
        engine: Engine,
        config: Arc<LmtpConfig>,
        shutdown: CancellationToken,
        peer: SocketAddr,
    ) -> Self {
        Session {
            reader: BufReader::new(reader),
            writer: BufWriter::new(writer),
            engine,
            config,
            shutdown,
            peer,
            greeted: false,
            transaction: None,
            errors: 0,
        }
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let greeting = format!("220 {} Eider LMTP ready", self.config.hostname);
        self.reply(&greeting).await?;
        let mut line = Vec::with_capacity(256);
        loop {
            // Replies to pipelined commands go out together, but never while we wait for input.
            if !self.reader.buffer().contains(&b'\n') {
                self.writer.flush().await?;
            }
            // On shutdown an open transaction may still finish; an idle session is closed.
            if self.shutdown.is_cancelled() && self.transaction.is_none() {
                return self.close_for_shutdown().await;
            }
            line.clear();
            let read = lines::read_line_limited(
                &mut self.reader,
                &mut line,
                MAX_COMMAND_LINE,
                IDLE_TIMEOUT,
            );
            let status = if self.transaction.is_none() {
                let shutdown = self.shutdown.clone();
                tokio::select! {
                    // Shutdown first, so a command pipelined behind it is not started.
                    biased;
                    _ = shutdown.cancelled() => None,
                    status = read => Some(status),
                }
            } else {
                Some(read.await)
            };
            let Some(status) = status else {
                return self.close_for_shutdown().await;
            };
            let status = match status {
                Ok(status) => status,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    let msg = format!("421 4.4.2 {} Error: timeout exceeded", self.config.hostname);
                    self.reply(&msg).await?;
                    return self.writer.flush().await;
                }
                Err(e) => return Err(e),
            };
            match status {
                LineStatus::Eof => return Ok(()),
                LineStatus::Overflow => {
                    self.error("500 5.5.2 Line too long").await?;
                }
                LineStatus::Complete => {
                    let text = trim_eol(&line);
                    let next = match std::str::from_utf8(text) {
                        Ok(text) => self.command(text).await?,
                        Err(_) => {
                            self.error("501 5.5.4 Command is not valid UTF-8").await?;
                            Next::Continue
                        }
                    };
                    if let Next::Close = next {
                        return self.writer.flush().await;
                    }
                }
            }
            if self.errors >= MAX_ERRORS {
                let msg = format!("421 4.7.0 {} Too many errors", self.config.hostname);
                self.reply(&msg).await?;
                return self.writer.flush().await;
            }
        }
    }

    async fn close_for_shutdown(&mut self) -> std::io::Result<()> {
        let msg = format!("421 4.3.2 {} Service shutting down", self.config.hostname);
        self.reply(&msg).await?;
        self.writer.flush().await
    }

    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.writer.write_all(line.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await
    }

    /// A reply that counts as a client error.
    async fn error(&mut self, line: &str) -> std::io::Result<()> {
        self.errors += 1;
        self.reply(line).await
    }

    async fn command(&mut self, text: &str) -> std::io::Result<Next> {
        let command = match command::parse(text) {
            Ok(c) => c,
            Err(e) => {
                let reply = match e {
                    ParseError::Syntax(why) => format!("501 5.5.4 Syntax error: {why}"),
                    ParseError::BadSender(why) => format!("501 5.1.7 Bad sender address: {why}"),
                    ParseError::BadRecipient(why) => {
                        format!("501 5.1.3 Bad recipient address: {why}")
                    }
                    ParseError::UnknownParam(p) => {
                        format!("555 5.5.4 Unsupported parameter {p}")
                    }
                };
                self.error(&reply).await?;
                return Ok(Next::Continue);
            }
        };
        match command {
            Command::Lhlo(_) => {
                self.transaction = None;
                self.greeted = true;
                let lines = [
                    format!("250-{}", self.config.hostname),
                    "250-PIPELINING".to_string(),
                    "250-8BITMIME".to_string(),
                    "250-SMTPUTF8".to_string(),
                    "250-ENHANCEDSTATUSCODES".to_string(),
                    format!("250 SIZE {}", self.config.max_message_size),
                ];
                for l in &lines {
                    self.reply(l).await?;
                }
            }
            Command::Helo => self.error("500 5.5.1 This is LMTP: use LHLO").await?,
            Command::Mail { from, params } => {
                if !self.greeted {
                    self.error("503 5.5.1 Send LHLO first").await?;
                } else if self.transaction.is_some() {
                    self.error("503 5.5.1 Nested MAIL command").await?;
                } else if params
                    .size
                    .is_some_and(|s| s > self.config.max_message_size)
                {
                    self.reply("552 5.3.4 Message size exceeds fixed maximum message size")
                        .await?;
                } else if !from.is_empty() && address::split(&from).is_err() {
                    self.error("501 5.1.7 Bad sender address syntax").await?;
                } else {
                    self.transaction = Some(Transaction {
                        return_path: from,
                        recipients: Vec::new(),
                    });
                    self.reply("250 2.1.0 OK").await?;
                }
            }
            Command::Rcpt { to } => self.rcpt(to).await?,
            Command::Data => self.data().await?,
            Command::Rset => {
                self.transaction = None;
                self.reply("250 2.0.0 OK").await?;
            }
            Command::Noop => self.reply("250 2.0.0 OK").await?,
            Command::Vrfy => {
                self.reply(
                    "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
                )
                .await?
            }
            Command::Quit => {
                let msg = format!("221 2.0.0 {} closing connection", self.config.hostname);
                self.reply(&msg).await?;
                return Ok(Next::Close);
            }
            Command::Unknown => self.error("500 5.5.2 Command not recognized").await?,
        }
        Ok(Next::Continue)
    }

    async fn rcpt(&mut self, to: String) -> std::io::Result<()> {
        if !self.greeted {
            return self.error("503 5.5.1 Send LHLO first").await;
        }
        let Some(count) = self.transaction.as_ref().map(|t| t.recipients.len()) else {
            return self.error("503 5.5.1 Need MAIL command first").await;
        };
        if count >= self.config.max_recipients {
            return self.reply("452 4.5.3 Too many recipients").await;
        }
        let reply = match self.engine.resolve_delivery(&to).await {
            Ok(Resolution::Deliver(users)) if users.len() == 1 && users[0].disabled => {
                format!("550 5.2.1 <{to}>: mailbox disabled")
            }
            Ok(Resolution::Deliver(users)) => {
                let reply = format!("250 2.1.5 <{to}> OK");
                if let Some(t) = self.transaction.as_mut() {
                    t.recipients.push(Recipient {
                        user_ids: users
                            .into_iter()
                            .filter(|u| !u.disabled)
                            .map(|u| u.id)
                            .collect(),
                        given: to,
                    });
                }
                reply
            }
            // A forwarded address Eider cannot serve: refused permanently (5.7.1, delivery not
            // authorized), so the sender learns at once rather than after queue retries.
            Ok(Resolution::Refused(why)) => format!("550 5.7.1 <{to}>: {why}"),
            Ok(Resolution::Unknown) => format!("550 5.1.1 <{to}>: user unknown"),
            Err(e) if e.kind == ErrorKind::Invalid => {
                format!("501 5.1.3 <{to}>: bad recipient address syntax")
            }
            Err(e) => {
                tracing::warn!(peer = %self.peer, rcpt = %to, error = %e, "recipient lookup failed");
                format!("451 4.3.0 <{to}>: temporary failure")
            }
        };
        self.reply(&reply).await
    }

    async fn data(&mut self) -> std::io::Result<()> {
        if !self.greeted {
            return self.error("503 5.5.1 Send LHLO first").await;
        }
        match &self.transaction {
            None => return self.error("503 5.5.1 Need MAIL command first").await,
            // RFC 2033 §4.2: without a successful RCPT, DATA must fail with 503.
            Some(t) if t.recipients.is_empty() => {
                return self.error("503 5.5.1 No valid recipients").await;
            }
            Some(_) => {}
        }
        self.reply("354 Start mail input; end with <CRLF>.<CRLF>")
            .await?;
        self.writer.flush().await?;
        let outcome =
            lines::read_data(&mut self.reader, self.config.max_message_size, IDLE_TIMEOUT).await;
        let Some(transaction) = self.transaction.take() else {
            return Ok(());
        };
        let raw = match outcome {
            Ok(DataOutcome::Message(raw)) => raw,
            Ok(DataOutcome::TooBig) => {
                for r in &transaction.recipients {
                    let msg = format!("552 5.3.4 <{}> Message too big", r.given);
                    self.reply(&msg).await?;
                }
                return Ok(());
            }
            Ok(DataOutcome::Disconnected) => {
                tracing::info!(peer = %self.peer, "client disconnected during DATA; nothing stored");
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            Err(e) => return Err(e),
        };
        // The same user named twice (say by two aliases, or as a forwarding target) gets one
        // copy; every RCPT still gets its own reply, the outcome of its copies.
        let mut unique: Vec<(String, String)> = Vec::new();
        let mut slots: Vec<Vec<usize>> = Vec::with_capacity(transaction.recipients.len());
        for r in &transaction.recipients {
            let mut mine = Vec::new();
            for user_id in &r.user_ids {
                match unique.iter().position(|(id, _)| id == user_id) {
                    Some(i) => mine.push(i),
                    None => {
                        unique.push((user_id.clone(), r.given.clone()));
                        mine.push(unique.len() - 1);
                    }
                }
            }
            slots.push(mine);
        }
        let outcomes = self
            .engine
            .deliver(&raw, &transaction.return_path, &unique)
            .await;
        drop(raw);
        for (r, mine) in transaction.recipients.iter().zip(slots) {
            // A forwarded address with several targets succeeds when any copy was stored: a
            // retry would duplicate the stored copies. Failed copies are logged.
            let delivered = mine
                .iter()
                .filter_map(|&i| match outcomes.get(i) {
                    Some(DeliveryOutcome::Delivered { uid }) => Some((i, *uid)),
                    _ => None,
                })
                .collect::<Vec<_>>();
            let failure = mine.iter().find_map(|&i| match outcomes.get(i) {
                Some(DeliveryOutcome::Failed(e)) => Some(Some(e)),
                None => Some(None),
                _ => None,
            });
            let reply = match (delivered.first(), failure) {
                (Some(_), failure) => {
                    for (i, uid) in &delivered {
                        tracing::info!(peer = %self.peer, rcpt = %r.given, user = %unique[*i].0, uid, "delivered");
                    }
                    if let Some(e) = failure {
                        tracing::warn!(peer = %self.peer, rcpt = %r.given, error = ?e, "one copy of a forwarded message failed");
                    }
                    format!("250 2.0.0 <{}> delivered", r.given)
                }
                (None, Some(Some(e))) => match e.kind {
                    ErrorKind::OverQuota => format!("{OVER_QUOTA} <{}> Mailbox full", r.given),
                    ErrorKind::TooBig => format!("552 5.3.4 <{}> Message too big", r.given),
                    // receivedMax: the sending MTA keeps the message and retries later.
                    ErrorKind::RateLimited => {
                        format!(
                            "450 4.2.1 <{}> Too many messages received, try later",
                            r.given
                        )
                    }
                    _ => {
                        tracing::warn!(peer = %self.peer, rcpt = %r.given, error = %e, "delivery failed");
                        format!("451 4.3.0 <{}> temporary failure", r.given)
                    }
                },
                (None, _) => {
                    tracing::error!(peer = %self.peer, rcpt = %r.given, "engine returned no outcome");
                    format!("451 4.3.0 <{}> temporary failure", r.given)
                }
            };
            self.reply(&reply).await?;
        }
        Ok(())
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
