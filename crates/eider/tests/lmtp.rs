//! LMTP (RFC 2033) against the real binary: byte-exact replies over a raw socket, and Python's
//! smtplib as an independent client.

mod common;

use common::{Backend, LineClient, Server, python};

/// Reads the greeting and sends LHLO; returns the capability reply.
fn lhlo(c: &mut LineClient) -> String {
    let greeting = c.line();
    assert_eq!(greeting, "220 localhost Eider LMTP ready\r\n");
    c.send(b"LHLO client.example\r\n");
    c.until("250 ")
}

fn exchange(c: &mut LineClient, command: &str) -> String {
    c.send(format!("{command}\r\n").as_bytes());
    c.line()
}

both_stores!(scripted_session, |server: &Server| {
    server.add_user("alice", "pw-alice", "alice@example.com");
    server.add_user("bob", "pw-bob", "bob@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    assert_eq!(c.line(), "220 localhost Eider LMTP ready\r\n");
    // Sequencing before LHLO, and the SMTP greetings.
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<a@b.example>"),
        "503 5.5.1 Send LHLO first\r\n"
    );
    assert_eq!(
        exchange(&mut c, "EHLO client.example"),
        "500 5.5.1 This is LMTP: use LHLO\r\n"
    );
    assert_eq!(
        exchange(&mut c, "HELO client.example"),
        "500 5.5.1 This is LMTP: use LHLO\r\n"
    );
    c.send(b"LHLO client.example\r\n");
    assert_eq!(
        c.until("250 "),
        "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
         250-ENHANCEDSTATUSCODES\r\n250 SIZE 67108864\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<alice@example.com>"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(
        exchange(&mut c, "FOO bar"),
        "500 5.5.2 Command not recognized\r\n"
    );
    assert_eq!(
        exchange(&mut c, "MAIL FROM:alice@example.com"),
        "501 5.5.4 Syntax error: the address must be enclosed in <>\r\n"
    );
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<a@b.example> BODY=BINARYMIME"),
        "555 5.5.4 Unsupported parameter BODY=BINARYMIME\r\n"
    );
    assert_eq!(exchange(&mut c, "NOOP"), "250 2.0.0 OK\r\n");
    assert_eq!(
        exchange(&mut c, "VRFY alice"),
        "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    );
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<sender@remote.example> BODY=8BITMIME"),
        "250 2.1.0 OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<sender@remote.example>"),
        "503 5.5.1 Nested MAIL command\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<nobody@example.com>"),
        "550 5.1.1 <nobody@example.com>: user unknown\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<no-at-sign>"),
        "501 5.1.3 <no-at-sign>: bad recipient address syntax\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<>"),
        "501 5.1.3 Bad recipient address: empty recipient address\r\n"
    );
    // RFC 2033 §4.2: no successful RCPT, so DATA fails with 503.
    assert_eq!(
        exchange(&mut c, "DATA"),
        "503 5.5.1 No valid recipients\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<alice@example.com>"),
        "250 2.1.5 <alice@example.com> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<Bob@Example.COM>"),
        "250 2.1.5 <Bob@Example.COM> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    c.send(b"From: sender@remote.example\r\nSubject: hi\r\n\r\n..stuffed\r\nbody\r\n.\r\n");
    // One reply per accepted recipient, in RCPT order.
    assert_eq!(c.line(), "250 2.0.0 <alice@example.com> delivered\r\n");
    assert_eq!(c.line(), "250 2.0.0 <Bob@Example.COM> delivered\r\n");
    // The transaction is over: a new one may start, RSET clears it.
    assert_eq!(exchange(&mut c, "MAIL FROM:<>"), "250 2.1.0 OK\r\n");
    assert_eq!(exchange(&mut c, "RSET"), "250 2.0.0 OK\r\n");
    assert_eq!(
        exchange(&mut c, "RCPT TO:<alice@example.com>"),
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(
        exchange(&mut c, "QUIT"),
        "221 2.0.0 localhost closing connection\r\n"
    );
    assert_eq!(c.line(), "", "server closes after QUIT");
});

both_stores!(pipelined_transaction, |server: &Server| {
    server.add_user("carol", "pw", "carol@example.com");
    server.add_user("dave", "pw", "dave@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    assert_eq!(c.line(), "220 localhost Eider LMTP ready\r\n");
    // Everything up to DATA in one write (RFC 2920).
    c.send(
        b"LHLO client.example\r\nMAIL FROM:<s@remote.example> SIZE=100\r\n\
          RCPT TO:<carol@example.com>\r\nRCPT TO:<ghost@example.com>\r\n\
          RCPT TO:<dave@example.com>\r\nDATA\r\n",
    );
    c.until("250 SIZE");
    assert_eq!(c.line(), "250 2.1.0 OK\r\n");
    assert_eq!(c.line(), "250 2.1.5 <carol@example.com> OK\r\n");
    assert_eq!(c.line(), "550 5.1.1 <ghost@example.com>: user unknown\r\n");
    assert_eq!(c.line(), "250 2.1.5 <dave@example.com> OK\r\n");
    assert_eq!(c.line(), "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    // Bare LF line endings are accepted; the final dot and the next commands in one write.
    c.send(b"Subject: lf\n\nline\n.\nNOOP\r\nQUIT\r\n");
    assert_eq!(c.line(), "250 2.0.0 <carol@example.com> delivered\r\n");
    assert_eq!(c.line(), "250 2.0.0 <dave@example.com> delivered\r\n");
    assert_eq!(c.line(), "250 2.0.0 OK\r\n");
    assert_eq!(c.line(), "221 2.0.0 localhost closing connection\r\n");
});

both_stores!(address_folding, |server: &Server| {
    server.add_user("johndoe", "pw", "johndoe@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    assert_eq!(exchange(&mut c, "MAIL FROM:<>"), "250 2.1.0 OK\r\n");
    assert_eq!(
        exchange(&mut c, "RCPT TO:<John.Doe+news@Example.com>"),
        "250 2.1.5 <John.Doe+news@Example.com> OK\r\n"
    );
    // The same user again, by another spelling: one copy, one reply each.
    assert_eq!(
        exchange(&mut c, "RCPT TO:<j.o.h.n.doe@EXAMPLE.com>"),
        "250 2.1.5 <j.o.h.n.doe@EXAMPLE.com> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    c.send(b"Subject: folded\n\n..hello\n.\r\n");
    assert_eq!(
        c.line(),
        "250 2.0.0 <John.Doe+news@Example.com> delivered\r\n"
    );
    assert_eq!(
        c.line(),
        "250 2.0.0 <j.o.h.n.doe@EXAMPLE.com> delivered\r\n"
    );
    // One copy, with the envelope headers first, dot-unstuffed and CRLF-normalized.
    let mut imap = LineClient::connect(server.imap_port);
    imap.line();
    imap.send(b"a LOGIN johndoe pw\r\n");
    assert!(imap.until("a ").starts_with("a OK"));
    imap.send(b"b SELECT INBOX\r\n");
    let select = imap.until("b ");
    assert!(select.contains("* 1 EXISTS\r\n"), "{select}");
    imap.send(b"c FETCH 1 BODY.PEEK[]\r\n");
    let head = imap.line();
    let size: usize = head
        .rsplit_once('{')
        .and_then(|(_, n)| n.trim_end().strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no literal in {head:?}"));
    let stored = imap.read_exact(size);
    assert_eq!(
        String::from_utf8(stored).unwrap(),
        "Return-Path: <>\r\nDelivered-To: John.Doe+news@Example.com\r\n\
         Subject: folded\r\n\r\n.hello\r\n"
    );
    assert!(imap.until("c ").contains("c OK"));
});

both_stores!(internationalized_address, |server: &Server| {
    server.add_user("anna", "pw", "Ünïcödé@bücher.example");
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<José@remote.example> SMTPUTF8"),
        "250 2.1.0 OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<ünïcödé@xn--bcher-kva.example>"),
        "250 2.1.5 <ünïcödé@xn--bcher-kva.example> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    c.send("Subject: Grüße\r\n\r\nÄpfel\r\n.\r\n".as_bytes());
    assert_eq!(
        c.line(),
        "250 2.0.0 <ünïcödé@xn--bcher-kva.example> delivered\r\n"
    );
});

both_stores!(long_lines_and_disconnects, |server: &Server| {
    server.add_user("erin", "pw", "erin@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    let long = format!("NOOP {}\r\n", "x".repeat(5000));
    c.send(long.as_bytes());
    assert_eq!(c.line(), "500 5.5.2 Line too long\r\n");
    assert_eq!(exchange(&mut c, "NOOP"), "250 2.0.0 OK\r\n");
    // A client that goes away mid-DATA: nothing is delivered and the server carries on.
    assert_eq!(exchange(&mut c, "MAIL FROM:<>"), "250 2.1.0 OK\r\n");
    assert_eq!(
        exchange(&mut c, "RCPT TO:<erin@example.com>"),
        "250 2.1.5 <erin@example.com> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    c.send(b"Subject: cut\r\n\r\nhalf a mess");
    drop(c);
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    assert_eq!(exchange(&mut c, "NOOP"), "250 2.0.0 OK\r\n");
});

#[test]
fn too_big_and_too_many() {
    let server = Server::start_with(
        Backend::Sqlite,
        &[
            ("EIDER_MAX_MESSAGE_SIZE", "2048"),
            ("EIDER_LMTP_MAX_RECIPIENTS", "2"),
        ],
    )
    .unwrap();
    server.add_user("frank", "pw", "frank@example.com");
    server.add_user("gina", "pw", "gina@example.com");
    server.add_user("hank", "pw", "hank@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    let caps = lhlo(&mut c);
    assert!(caps.ends_with("250 SIZE 2048\r\n"), "{caps}");
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<> SIZE=4096"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        exchange(&mut c, "MAIL FROM:<> SIZE=1000"),
        "250 2.1.0 OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<frank@example.com>"),
        "250 2.1.5 <frank@example.com> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<gina@example.com>"),
        "250 2.1.5 <gina@example.com> OK\r\n"
    );
    assert_eq!(
        exchange(&mut c, "RCPT TO:<hank@example.com>"),
        "452 4.5.3 Too many recipients\r\n"
    );
    assert_eq!(
        exchange(&mut c, "DATA"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    // Declared 1000, sends 5000: read to the dot, refuse each recipient, stay usable.
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..50 {
        message.extend_from_slice(&[b'y'; 98]);
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(b".\r\n");
    c.send(&message);
    assert_eq!(
        c.line(),
        "552 5.3.4 <frank@example.com> Message too big\r\n"
    );
    assert_eq!(c.line(), "552 5.3.4 <gina@example.com> Message too big\r\n");
    assert_eq!(exchange(&mut c, "NOOP"), "250 2.0.0 OK\r\n");
}

#[test]
fn over_quota() {
    let server = Server::start(Backend::Sqlite);
    server.cli(&[
        "user",
        "add",
        "ivan",
        "--password",
        "pw",
        "--address",
        "ivan@example.com",
        "--quota",
        "100",
    ]);
    server.add_user("judy", "pw", "judy@example.com");
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    c.send(b"MAIL FROM:<>\r\nRCPT TO:<ivan@example.com>\r\nRCPT TO:<judy@example.com>\r\nDATA\r\n");
    assert_eq!(c.line(), "250 2.1.0 OK\r\n");
    c.line();
    c.line();
    assert_eq!(c.line(), "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    let body = "z".repeat(300);
    c.send(format!("Subject: quota\r\n\r\n{body}\r\n.\r\n").as_bytes());
    assert_eq!(c.line(), "552 5.2.2 <ivan@example.com> Mailbox full\r\n");
    assert_eq!(c.line(), "250 2.0.0 <judy@example.com> delivered\r\n");
}

#[test]
fn connection_limit() {
    let server =
        Server::start_with(Backend::Sqlite, &[("EIDER_LMTP_MAX_CONNECTIONS", "1")]).unwrap();
    // The harness's readiness probe may still hold the only slot for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut first = loop {
        let mut c = LineClient::connect(server.lmtp_port);
        let greeting = c.line();
        if greeting == "220 localhost Eider LMTP ready\r\n" {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "{greeting}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut second = LineClient::connect(server.lmtp_port);
    assert_eq!(
        second.line(),
        "421 4.3.2 localhost Too many connections, try again later\r\n"
    );
    assert_eq!(
        exchange(&mut first, "QUIT"),
        "221 2.0.0 localhost closing connection\r\n"
    );
    // The slot is free again once the first session ended.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut third = LineClient::connect(server.lmtp_port);
        if third.line().starts_with("220 ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

both_stores!(python_smtplib, |server: &Server| {
    server.add_user("kim", "pw", "kim@example.com");
    server.add_user("lee", "pw", "lee@example.com");
    let message = server.dir.path().join("message.eml");
    std::fs::write(
        &message,
        "From: sender@remote.example\nTo: kim@example.com\nSubject: via smtplib\n\n.leading dot\nbye\n",
    )
    .unwrap();
    let out = python(
        "lmtp_send.py",
        &[
            server.lmtp_port.to_string(),
            message.display().to_string(),
            "sender@remote.example".into(),
            "kim@example.com".into(),
            "nobody@example.com".into(),
            "Lee+list@Example.com".into(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for ext in [
        "8bitmime",
        "enhancedstatuscodes",
        "pipelining",
        "size",
        "smtputf8",
    ] {
        assert!(
            v["lhlo"].as_array().unwrap().iter().any(|e| e == ext),
            "{ext} missing: {out}"
        );
    }
    assert_eq!(v["size"], 67108864);
    assert_eq!(v["mail"][0], 250);
    assert_eq!(v["rcpt"]["kim@example.com"][0], 250);
    assert_eq!(
        v["rcpt"]["nobody@example.com"],
        serde_json::json!([550, "5.1.1 <nobody@example.com>: user unknown"])
    );
    assert_eq!(v["rcpt"]["Lee+list@Example.com"][0], 250);
    assert_eq!(
        v["data"],
        serde_json::json!({
            "kim@example.com": [250, "2.0.0 <kim@example.com> delivered"],
            "Lee+list@Example.com": [250, "2.0.0 <Lee+list@Example.com> delivered"],
        })
    );
});

/// Sends one message to `rcpt` in its own transaction; returns the reply to the data.
fn deliver_once(c: &mut LineClient, rcpt: &str, subject: &str) -> String {
    c.send(
        format!(
            "MAIL FROM:<s@remote.example>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n\
             Subject: {subject}\r\n\r\nbody\r\n.\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(c.line(), "250 2.1.0 OK\r\n");
    let rcpt_reply = c.line();
    assert!(rcpt_reply.starts_with("250 "), "{rcpt_reply}");
    assert_eq!(c.line(), "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    c.line()
}

// WildDuck's `receivedMax`: messages per 60 seconds; over it LMTP answers 450 and stores nothing.
both_stores!(received_max_per_minute, |server: &Server| {
    let created = common::api_request(
        server.api_port,
        "POST",
        "/users",
        Some(
            r#"{"username":"rachel","password":"secret123","address":"rachel@example.com","receivedMax":2}"#,
        ),
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    let mut c = LineClient::connect(server.lmtp_port);
    lhlo(&mut c);
    for n in 1..=2 {
        assert_eq!(
            deliver_once(&mut c, "rachel@example.com", &format!("m{n}")),
            "250 2.0.0 <rachel@example.com> delivered\r\n"
        );
    }
    assert_eq!(
        deliver_once(&mut c, "Rachel+x@example.com", "m3"),
        "450 4.2.1 <Rachel+x@example.com> Too many messages received, try later\r\n"
    );
    assert_eq!(
        common::inbox_count(server.imap_port, "rachel", "secret123"),
        2
    );
});
