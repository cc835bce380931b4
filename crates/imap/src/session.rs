//! One IMAP connection: read a command, check the state, call the handler, answer.
//!
//! The session keeps only what RFC 3501 requires per connection (the selected mailbox's UID list
//! for sequence numbers, and the last MODSEQ it reported); everything else is read from the store.

use crate::reply::{Reply, from_engine};
use crate::selected::Selected;
use crate::transport::{Conn, Line};
use crate::{ImapConfig, Shared, UserSlot};
use eider_engine::{Engine, Notification, UserRow};
use eider_imap_proto::{
    AuthResponse, Command, CommandBody, Fragment, ParseError, literal_announcement,
    parse_authenticate_response, parse_command, peek_tag_and_name, utf7,
};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub(crate) enum Flow {
    Continue,
    Logout,
}

enum Input {
    Command(Command),
    /// A complete error answer to send (BAD, or NO [TOOBIG]).
    Reject(String),
    Eof,
}

pub(crate) struct Session {
    pub conn: Conn,
    pub engine: Engine,
    pub config: Arc<ImapConfig>,
    pub shared: Arc<Shared>,
    pub user: Option<UserRow>,
    pub user_slot: Option<UserSlot>,
    pub selected: Option<Selected>,
    /// UTF8=ACCEPT enabled: mailbox names travel as UTF-8.
    pub utf8: bool,
    /// CONDSTORE enabled (by ENABLE, SELECT (CONDSTORE), or a MODSEQ-using command).
    pub condstore: bool,
    /// QRESYNC enabled: expunges are reported as VANISHED (RFC 7162 §3.2.10).
    pub qresync: bool,
    /// `ENABLE IMAP4rev2` (RFC 9051): ESEARCH answers, no \\Recent / RECENT / [UNSEEN].
    pub rev2: bool,
    pub notifications: broadcast::Receiver<Notification>,
    /// UIDs saved by `SEARCH RETURN (SAVE)` for `$`.
    pub saved_search: Vec<u32>,
    /// Tag of the command being answered (ESEARCH echoes it).
    pub current_tag: String,
    /// The real client address (from the PROXY header when one came).
    pub peer: SocketAddr,
    pub shutdown: CancellationToken,
    /// A trusted proxy said the client reached it over TLS.
    pub proxy_client_tls: bool,
    /// The first input is checked for a PROXY header this connection may not send.
    pub refuse_proxy_header: bool,
}

impl Session {
    pub fn new(
        conn: Conn,
        engine: Engine,
        config: Arc<ImapConfig>,
        shared: Arc<Shared>,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) -> Session {
        let notifications = engine.notifier().subscribe();
        Session {
            conn,
            engine,
            config,
            shared,
            user: None,
            user_slot: None,
            selected: None,
            utf8: false,
            condstore: false,
            qresync: false,
            rev2: false,
            notifications,
            saved_search: Vec::new(),
            current_tag: String::new(),
            peer,
            shutdown,
            proxy_client_tls: false,
            refuse_proxy_header: false,
        }
    }

    /// Passwords travel only over TLS (RFC 3501 §6.2.3 LOGINDISABLED), except from loopback,
    /// which counts as secure as in Dovecot, or when `imap.allow_plaintext_auth` says so.
    pub fn plaintext_auth_allowed(&self) -> bool {
        self.conn.tls
            || self.proxy_client_tls
            || self.config.allow_plaintext_auth
            || self.peer.ip().to_canonical().is_loopback()
    }

    pub fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "SASL-IR",
            self.literal_capability(),
            "ID",
            "ENABLE",
            "IDLE",
        ];
        if self.user.is_none() {
            if !self.conn.tls && self.shared.tls.is_some() {
                caps.push("STARTTLS");
            }
            if self.plaintext_auth_allowed() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "NAMESPACE",
                "UNSELECT",
                "UIDPLUS",
                "MOVE",
                "CHILDREN",
                "SPECIAL-USE",
                "CONDSTORE",
                "QRESYNC",
                "ESEARCH",
                "SEARCHRES",
                "WITHIN",
                "SORT",
                "SORT=DISPLAY",
                "ESORT",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "STATUS=SIZE",
            ]);
        }
        let mut caps = caps.join(" ");
        if self.user.is_some() {
            caps.push(' ');
            caps.push_str(&self.wire_capabilities());
            caps.push(' ');
            caps.push_str(self.ext_capabilities());
        }
        caps
    }

    pub async fn run(mut self) {
        let greeting = format!(
            "* OK [CAPABILITY {}] {} Eider ready.\r\n",
            self.capabilities(),
            self.config.hostname
        );
        self.conn.write_str(&greeting);
        if self.conn.flush().await.is_err() {
            return;
        }
        loop {
            let timeout = if self.user.is_none() {
                self.config.login_timeout
            } else {
                self.config.idle_timeout
            };
            let shutdown = self.shutdown.clone();
            let input = tokio::select! {
                // Shutdown first: pipelined commands still buffered are not started after it.
                biased;
                _ = shutdown.cancelled() => {
                    self.conn.write_str("* BYE Server shutting down.\r\n");
                    break;
                }
                // fill_buf consumes nothing, so losing the race to shutdown loses no input; a
                // command once begun is read to its end and run even if shutdown comes meanwhile.
                r = tokio::time::timeout(timeout, self.conn.reader.fill_buf()) => match r {
                    Err(elapsed) => Err(elapsed),
                    Ok(Err(e)) => Ok(Err(e)),
                    Ok(Ok(_)) => tokio::time::timeout(timeout, self.read_input()).await,
                },
            };
            let input = match input {
                Err(_) => {
                    self.conn
                        .write_str("* BYE Disconnected for inactivity.\r\n");
                    break;
                }
                Ok(Err(_)) | Ok(Ok(Input::Eof)) => break,
                Ok(Ok(Input::Reject(answer))) => {
                    self.conn.write_str(&answer);
                    Flow::Continue
                }
                Ok(Ok(Input::Command(cmd))) => match self.dispatch(cmd).await {
                    Ok(flow) => flow,
                    Err(_) => break,
                },
            };
            if self.conn.flush().await.is_err() {
                return;
            }
            if let Flow::Logout = input {
                break;
            }
        }
        self.conn.shutdown().await;
    }

    /// Reads one complete command: a line, and for each literal it announces, the literal and the
    /// rest of the line. Literals are bounded: APPEND by the message size limit, others by
    /// `max_literal_size`.
    async fn read_input(&mut self) -> io::Result<Input> {
        if std::mem::take(&mut self.refuse_proxy_header) {
            let first = self.conn.reader.fill_buf().await?;
            if eider_proxy::looks_like_header(first) {
                return Err(eider_proxy::untrusted_header("IMAP", self.peer));
            }
        }
        let max_line = self.config.max_line_length;
        let mut fragments = Vec::new();
        let mut total: u64 = 0;
        let mut first = true;
        let mut is_append = false;
        let mut tag = String::from("*");
        loop {
            let line = match self.conn.read_line(max_line).await? {
                Line::Eof => return Ok(Input::Eof),
                Line::TooLong => {
                    return Ok(Input::Reject(format!(
                        "{tag} BAD Command line too long (max {max_line} bytes)\r\n"
                    )));
                }
                Line::Data(line) => line,
            };
            if first {
                first = false;
                if line.is_empty() {
                    return Ok(Input::Reject("* BAD Empty command line\r\n".into()));
                }
                if let Some((t, name)) = peek_tag_and_name(&line) {
                    is_append = name == "APPEND";
                    tag = t;
                }
            }
            let spec = match literal_announcement(&line) {
                Ok(spec) => spec,
                Err(e) => return Ok(Input::Reject(e.to_response())),
            };
            total += line.len() as u64;
            fragments.push(Fragment::Line(line));
            let Some(spec) = spec else { break };
            let limit = if is_append {
                self.config.max_message_size
            } else {
                self.config.max_literal_size
            };
            total += spec.len;
            if spec.non_sync
                && let Some(max) = self.non_sync_literal_limit()
                && spec.len > max
            {
                // RFC 7888 §4 (LITERAL-): the client sends the bytes anyway; drop them and the rest
                // of the command, within reason, and refuse it.
                if spec.len > limit.saturating_mul(4).max(1 << 20) {
                    self.conn
                        .write_str("* BYE Literal too big to skip, closing.\r\n");
                    return Ok(Input::Eof);
                }
                self.conn.skip(spec.len).await?;
                let _ = self.conn.read_line(max_line).await?;
                return Ok(Input::Reject(format!(
                    "{tag} BAD [TOOBIG] Non-synchronizing literal over {max} bytes (LITERAL-)\r\n"
                )));
            }
            if total > limit + max_line as u64 * 4 || spec.len > limit {
                let code = if is_append { "[TOOBIG] " } else { "" };
                if spec.non_sync {
                    // The client sends the bytes anyway (LITERAL+); drop them, within reason.
                    if spec.len > limit.saturating_mul(4).max(1 << 20) {
                        self.conn
                            .write_str("* BYE Literal too big to skip, closing.\r\n");
                        return Ok(Input::Eof);
                    }
                    self.conn.skip(spec.len).await?;
                    // Drop the rest of the command too.
                    let _ = self.conn.read_line(max_line).await?;
                }
                return Ok(Input::Reject(format!(
                    "{tag} NO {code}Literal too big (max {limit} bytes)\r\n"
                )));
            }
            if !spec.non_sync {
                self.conn.write_str("+ Ready for literal data\r\n");
                self.conn.flush().await?;
            }
            let literal = self.conn.read_literal(spec.len as usize).await?;
            fragments.push(Fragment::Literal(literal));
        }
        match parse_command(fragments) {
            Ok(cmd) => Ok(Input::Command(cmd)),
            Err(e) => Ok(Input::Reject(e.to_response())),
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> io::Result<Flow> {
        let Command { tag, body } = cmd;
        let name = body.name();
        self.current_tag.clone_from(&tag);
        if let Some(reason) = self.state_error(&body) {
            self.conn.write_str(&format!("{tag} BAD {reason}\r\n"));
            return Ok(Flow::Continue);
        }
        // Commands that own the connection for a while answer themselves.
        match body {
            CommandBody::StartTls => return self.starttls(&tag).await,
            CommandBody::Compress(mechanism) => return self.compress(&tag, &mechanism).await,
            CommandBody::Idle => return self.idle(&tag).await,
            CommandBody::Authenticate { mechanism, initial } => {
                return self.authenticate(&tag, &mechanism, initial).await;
            }
            CommandBody::Logout => {
                self.conn.write_str("* BYE Logging out.\r\n");
                self.conn
                    .write_str(&format!("{tag} OK Logout completed.\r\n"));
                return Ok(Flow::Logout);
            }
            _ => {}
        }
        let may_expunge = allows_expunge_responses(&body);
        let result = self.handle(body).await;
        let reply = match result {
            Ok(r) | Err(r) => r,
        };
        // Untagged updates of the selected mailbox come before the tagged answer.
        if self.selected.is_some()
            && let Err(e) = self.sync(may_expunge).await
        {
            tracing::warn!(error = %e.text, "mailbox sync failed");
        }
        self.conn.write_str(&reply.render(&tag, name));
        Ok(Flow::Continue)
    }

    /// Why a command is not allowed in the current state, if it is not.
    fn state_error(&self, body: &CommandBody) -> Option<&'static str> {
        use CommandBody as C;
        let any = matches!(body, C::Capability | C::Noop | C::Logout | C::Id(_));
        let unauth = matches!(body, C::StartTls | C::Authenticate { .. } | C::Login { .. });
        let selected = matches!(
            body,
            C::Check
                | C::Close
                | C::Unselect
                | C::Expunge
                | C::UidExpunge(_)
                | C::Search { .. }
                | C::Sort { .. }
                | C::Thread { .. }
                | C::Fetch { .. }
                | C::Store { .. }
                | C::Copy { .. }
                | C::Move { .. }
        );
        if any {
            return None;
        }
        match (&self.user, &self.selected) {
            (None, _) if unauth => None,
            (None, _) => Some("Please authenticate first."),
            (Some(_), _) if unauth => Some("Already authenticated."),
            (Some(_), None) if selected => Some("No mailbox selected."),
            _ => None,
        }
    }

    async fn handle(&mut self, body: CommandBody) -> Result<Reply, Reply> {
        use CommandBody as C;
        match body {
            C::Capability => {
                let caps = self.capabilities();
                self.conn.write_str(&format!("* CAPABILITY {caps}\r\n"));
                Ok(Reply::ok("Capability completed."))
            }
            C::Noop => Ok(Reply::ok("NOOP completed.")),
            C::Check => Ok(Reply::ok("CHECK completed.")),
            C::Id(_) => {
                self.conn.write_str(&format!(
                    "* ID (\"name\" \"Eider\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                ));
                Ok(Reply::ok("ID completed."))
            }
            C::Login { username, password } => self.login(&username, &password).await,
            C::Namespace => {
                self.conn
                    .write_str("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                Ok(Reply::ok("NAMESPACE completed."))
            }
            C::Enable(names) => {
                let mut enabled = Vec::new();
                for name in names {
                    if self.enable_extension(&name) {
                        enabled.push(name);
                    } else if name == "IMAP4REV2" && self.enable_rev2() {
                        enabled.push("IMAP4rev2".into());
                    } else if name == "UTF8=ACCEPT" && !self.utf8 {
                        self.utf8 = true;
                        enabled.push(name);
                    }
                }
                if !enabled.is_empty() {
                    self.conn
                        .write_str(&format!("* ENABLED {}\r\n", enabled.join(" ")));
                }
                Ok(Reply::ok("ENABLE completed."))
            }
            C::Select {
                mailbox,
                condstore,
                qresync,
            } => self.select(&mailbox, false, condstore, qresync).await,
            C::Examine {
                mailbox,
                condstore,
                qresync,
            } => self.select(&mailbox, true, condstore, qresync).await,
            C::Create {
                mailbox,
                special_use,
            } => self.create(&mailbox, &special_use).await,
            C::Delete { mailbox } => self.delete(&mailbox).await,
            C::Rename { from, to } => self.rename(&from, &to).await,
            C::Subscribe { mailbox } => self.subscribe(&mailbox, true).await,
            C::Unsubscribe { mailbox } => self.subscribe(&mailbox, false).await,
            C::List {
                reference,
                patterns,
                select_opts,
                return_opts,
            } => {
                self.list(&reference, &patterns, &select_opts, &return_opts, false)
                    .await
            }
            C::Lsub { reference, pattern } => {
                self.list(&reference, &[pattern], &[], &[], true).await
            }
            C::Status { mailbox, items } => self.status(&mailbox, &items).await,
            C::Append { mailbox, messages } => self.append(&mailbox, messages).await,
            C::Close => {
                if let Some(sel) = self.selected.take()
                    && !sel.read_only
                {
                    let user = self.user_id();
                    self.engine
                        .expunge(&user, &sel.id, None)
                        .await
                        .map_err(from_engine)?;
                }
                Ok(Reply::ok("CLOSE completed."))
            }
            C::Unselect => {
                self.selected = None;
                Ok(Reply::ok("UNSELECT completed."))
            }
            C::Expunge => self.expunge(None).await,
            C::UidExpunge(set) => self.expunge(Some(set)).await,
            C::Search {
                charset: _,
                criteria,
                uid,
                return_opts,
            } => self.search(criteria, uid, return_opts).await,
            C::Fetch {
                set,
                items,
                uid,
                changed_since,
                vanished,
            } => self.fetch(set, items, uid, changed_since, vanished).await,
            C::Store {
                set,
                kind,
                silent,
                flags,
                uid,
                unchanged_since,
            } => {
                self.store(set, kind, silent, flags, uid, unchanged_since)
                    .await
            }
            C::Sort {
                keys,
                charset: _,
                criteria,
                uid,
                return_opts,
            } => self.sort(keys, criteria, uid, return_opts).await,
            C::Thread {
                algorithm,
                charset: _,
                criteria,
                uid,
            } => self.thread(algorithm, criteria, uid).await,
            C::Copy { set, mailbox, uid } => self.copy(set, &mailbox, uid, false).await,
            C::Move { set, mailbox, uid } => self.copy(set, &mailbox, uid, true).await,
            C::Unauthenticate
            | C::GetQuota(_)
            | C::GetQuotaRoot(_)
            | C::SetQuota(_)
            | C::Xlist { .. } => self.handle_wire(body).await,
            C::StartTls | C::Idle | C::Authenticate { .. } | C::Logout | C::Compress(_) => {
                Err(Reply::bad("Unexpected command."))
            }
        }
    }

    pub fn user_id(&self) -> String {
        self.user.as_ref().map(|u| u.id.clone()).unwrap_or_default()
    }

    /// Decodes a mailbox name from the wire (modified UTF-7 unless UTF8=ACCEPT is on).
    pub fn decode_name(&self, raw: &str) -> Result<String, Reply> {
        if self.utf8 || !raw.is_ascii() {
            // Many clients send raw UTF-8 even without UTF8=ACCEPT; accept it as such.
            return Ok(raw.to_string());
        }
        utf7::decode(raw)
            .map_err(|_| Reply::no("Mailbox name is not valid modified UTF-7.").code("CANNOT"))
    }

    /// Encodes a stored mailbox name for the wire.
    pub fn encode_name(&self, name: &str) -> String {
        if self.utf8 {
            name.to_string()
        } else {
            utf7::encode(name)
        }
    }

    async fn starttls(&mut self, tag: &str) -> io::Result<Flow> {
        let Some(tls) = self.shared.tls.clone() else {
            self.conn
                .write_str(&format!("{tag} NO STARTTLS is not configured.\r\n"));
            return Ok(Flow::Continue);
        };
        if self.conn.tls {
            self.conn
                .write_str(&format!("{tag} BAD TLS is already active.\r\n"));
            return Ok(Flow::Continue);
        }
        self.conn
            .write_str(&format!("{tag} OK Begin TLS negotiation now.\r\n"));
        self.conn.flush().await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        self.conn.start_tls(&acceptor).await?;
        Ok(Flow::Continue)
    }

    async fn login(&mut self, username: &str, password: &str) -> Result<Reply, Reply> {
        if !self.plaintext_auth_allowed() {
            return Err(privacy_required());
        }
        self.finish_login(username, password).await
    }

    async fn authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> io::Result<Flow> {
        if !self.plaintext_auth_allowed() {
            self.conn
                .write_str(&privacy_required().render(tag, "AUTHENTICATE"));
            return Ok(Flow::Continue);
        }
        if mechanism != "PLAIN" {
            self.conn.write_str(&format!(
                "{tag} NO [CANNOT] Unsupported authentication mechanism.\r\n"
            ));
            return Ok(Flow::Continue);
        }
        let data = match initial {
            Some(data) => data,
            None => {
                self.conn.write_str("+ \r\n");
                self.conn.flush().await?;
                let line = match self.conn.read_line(self.config.max_line_length).await? {
                    Line::Data(line) => line,
                    Line::TooLong => {
                        self.conn
                            .write_str(&format!("{tag} BAD Response too long.\r\n"));
                        return Ok(Flow::Continue);
                    }
                    Line::Eof => return Err(io::ErrorKind::UnexpectedEof.into()),
                };
                match parse_authenticate_response(&line) {
                    Ok(AuthResponse::Data(data)) => data,
                    Ok(AuthResponse::Cancel) => {
                        self.conn
                            .write_str(&format!("{tag} BAD Authentication canceled.\r\n"));
                        return Ok(Flow::Continue);
                    }
                    Err(ParseError { message, .. }) => {
                        self.conn.write_str(&format!("{tag} BAD {message}\r\n"));
                        return Ok(Flow::Continue);
                    }
                }
            }
        };
        // PLAIN: authzid NUL authcid NUL password (RFC 4616).
        let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
        let reply = if parts.len() != 3 {
            Reply::bad("Invalid PLAIN response.")
        } else {
            match (std::str::from_utf8(parts[1]), std::str::from_utf8(parts[2])) {
                (Ok(user), Ok(pass)) if parts[0].is_empty() || parts[0] == parts[1] => {
                    match self.finish_login(user, pass).await {
                        Ok(r) | Err(r) => r,
                    }
                }
                (Ok(_), Ok(_)) => {
                    Reply::no("Proxy authentication is not supported.").code("AUTHORIZATIONFAILED")
                }
                _ => Reply::bad("Invalid UTF-8 in credentials."),
            }
        };
        self.conn.write_str(&reply.render(tag, "AUTHENTICATE"));
        Ok(Flow::Continue)
    }

    async fn finish_login(&mut self, username: &str, password: &str) -> Result<Reply, Reply> {
        let ctx = eider_engine::AuthContext::new("imap", self.peer.ip(), eider_engine::Scope::Imap);
        let user = match self.engine.authenticate(username, password, &ctx).await {
            Ok(done) => done.user,
            Err(e) if e.kind == eider_engine::ErrorKind::Internal => return Err(from_engine(e)),
            Err(e) if e.kind == eider_engine::ErrorKind::RateLimited => {
                tracing::info!(peer = %self.peer, username, "IMAP login refused: too many failures");
                return Err(from_engine(e));
            }
            Err(_) => {
                tracing::info!(peer = %self.peer, username, "IMAP login failed");
                // Slow down password guessing on this connection.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                return Err(Reply::no("Authentication failed.").code("AUTHENTICATIONFAILED"));
            }
        };
        let Some(slot) = self
            .engine
            .claim_connection_slot("imap", &user.id, self.config.max_connections_per_user)
            .await
        else {
            return Err(Reply::no("Too many connections for this user.").code("LIMIT"));
        };
        tracing::info!(peer = %self.peer, user = %user.username, "IMAP login");
        self.user = Some(user);
        self.user_slot = Some(slot);
        let caps = self.capabilities();
        Ok(Reply::ok("Logged in").code(&format!("CAPABILITY {caps}")))
    }

    /// IDLE (RFC 2177): report changes as they happen until DONE.
    async fn idle(&mut self, tag: &str) -> io::Result<Flow> {
        self.conn.write_str("+ idling\r\n");
        if self.selected.is_some() {
            let _ = self.sync(true).await;
        }
        self.conn.flush().await?;
        let user = self.user_id();
        // A safety net for notifications lost between instances: look at the store now and then.
        let mut poll = tokio::time::interval(std::time::Duration::from_secs(30));
        poll.tick().await;
        let deadline = tokio::time::sleep(self.config.idle_timeout);
        tokio::pin!(deadline);
        loop {
            let wake = tokio::select! {
                // fill_buf is cancel-safe (it consumes nothing), unlike reading a line.
                ready = self.conn.reader.fill_buf() => {
                    if ready?.is_empty() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    return match self.conn.read_line(self.config.max_line_length).await? {
                        Line::Data(l) if eider_imap_proto::is_idle_done(&l) => {
                            if self.selected.is_some() {
                                let _ = self.sync(true).await;
                            }
                            self.conn.write_str(&format!("{tag} OK IDLE terminated.\r\n"));
                            Ok(Flow::Continue)
                        }
                        Line::Eof => Err(io::ErrorKind::UnexpectedEof.into()),
                        _ => {
                            self.conn.write_str(&format!("{tag} BAD Expected DONE.\r\n"));
                            Ok(Flow::Continue)
                        }
                    };
                }
                n = self.notifications.recv() => match n {
                    Ok(n) => self.selected.as_ref().is_some_and(|s| n.concerns(&user, &s.id)),
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => false,
                },
                _ = poll.tick() => true,
                _ = &mut deadline => {
                    self.conn.write_str("* BYE Disconnected for inactivity.\r\n");
                    return Ok(Flow::Logout);
                }
                _ = self.shutdown.cancelled() => {
                    self.conn.write_str("* BYE Server shutting down.\r\n");
                    return Ok(Flow::Logout);
                }
            };
            if wake && self.selected.is_some() {
                if let Err(e) = self.sync(true).await {
                    tracing::warn!(error = %e.text, "sync during IDLE failed");
                }
                self.conn.flush().await?;
            }
        }
    }
}

impl Session {
    /// Charges a WildDuck daily limit of the logged-in user; over it, `NO [LIMIT]` (RFC 5530).
    pub(crate) async fn charge_limit(
        &self,
        limit: eider_engine::UsageLimit,
        amount: u64,
    ) -> Result<(), Reply> {
        let Some(user) = self.user.as_ref() else {
            return Ok(());
        };
        match self.engine.charge_limit(user, limit, amount).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind == eider_engine::ErrorKind::RateLimited => {
                Err(Reply::no(&format!("{}.", capitalized(&e.message))).code("LIMIT"))
            }
            Err(e) => Err(from_engine(e)),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// RFC 5530 PRIVACYREQUIRED: the answer to LOGIN / AUTHENTICATE where LOGINDISABLED is advertised.
fn privacy_required() -> Reply {
    Reply::no("Plaintext authentication is disabled on connections without TLS; use STARTTLS or the implicit-TLS port.")
        .code("PRIVACYREQUIRED")
}

/// RFC 3501 §7.4.1: no EXPUNGE responses while answering FETCH, STORE or SEARCH (by sequence
/// number), since the client may be relying on the numbers it sent.
fn allows_expunge_responses(body: &CommandBody) -> bool {
    !matches!(
        body,
        CommandBody::Fetch { uid: false, .. }
            | CommandBody::Store { uid: false, .. }
            | CommandBody::Search { uid: false, .. }
            | CommandBody::Sort { uid: false, .. }
            | CommandBody::Thread { uid: false, .. }
    )
}
