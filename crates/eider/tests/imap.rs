//! IMAP end to end: the real binary over real sockets, on SQLite and on PostgreSQL.

mod common;

use common::{LineClient, Server};
use std::time::{Duration, Instant};

fn login(server: &Server, user: &str, password: &str) -> LineClient {
    let mut c = LineClient::connect(server.imap_port);
    let greeting = c.line();
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{greeting}"
    );
    c.send(format!("L LOGIN {user} {password}\r\n").as_bytes());
    let answer = c.until("L ");
    assert!(
        answer.starts_with("L OK [CAPABILITY IMAP4rev1 "),
        "{answer}"
    );
    c
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

/// The UIDVALIDITY a SELECT answered, for building exact expectations.
fn uid_validity(select: &str) -> u32 {
    let start = select.find("[UIDVALIDITY ").unwrap() + 13;
    select[start..].split(']').next().unwrap().parse().unwrap()
}

both_stores!(python_imaplib_flow, |server: &Server| {
    server.add_user("alice", "secret", "alice@example.com");
    let out = common::python(
        "imap_flow.py",
        &[
            server.imap_port.to_string(),
            "alice".into(),
            "secret".into(),
        ],
    );
    assert!(out.contains("imap_flow OK"), "{out}");
});

both_stores!(exact_transcript, |server: &Server| {
    server.add_user("bob", "pw", "bob@example.com");
    let mut c = login(server, "bob", "pw");
    assert_eq!(
        command(&mut c, "a", "CAPABILITY"),
        "* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE \
         CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT \
         THREAD=REFERENCES LIST-EXTENDED LIST-STATUS STATUS=SIZE BINARY MULTIAPPEND CATENATE \
         UNAUTHENTICATE QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT COMPRESS=DEFLATE CREATE-SPECIAL-USE XLIST \
         APPENDLIMIT=67108864 OBJECTID PREVIEW SAVEDATE\r\n\
         a OK Capability completed.\r\n"
    );
    let message = "Subject: hello\r\nFrom: a@example.com\r\n\r\nbody\r\n";
    c.send(format!("b APPEND INBOX (\\Seen) {{{}}}\r\n", message.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(format!("{message}\r\n").as_bytes());
    let appended = c.line();
    assert!(appended.starts_with("b OK [APPENDUID "), "{appended}");
    let select = command(&mut c, "c", "SELECT INBOX");
    let validity = uid_validity(&select);
    // The MAILBOXID (RFC 8474) is checked against STATUS and the API in imap_ext.rs.
    let mailbox_id = select
        .split("[MAILBOXID (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    assert_eq!(
        select,
        format!(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
             * 1 EXISTS\r\n* 1 RECENT\r\n\
             * OK [UIDVALIDITY {validity}] UIDs valid\r\n\
             * OK [UIDNEXT 2] Predicted next UID\r\n\
             * OK [HIGHESTMODSEQ 2] Highest\r\n\
             * OK [MAILBOXID ({mailbox_id})] Ok\r\n\
             c OK [READ-WRITE] Select completed (1 messages)\r\n"
        )
    );
    assert_eq!(
        command(&mut c, "d", "UID FETCH 1:* (FLAGS RFC822.SIZE BODY[TEXT])"),
        format!(
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) RFC822.SIZE {} BODY[TEXT] {{6}}\r\nbody\r\n)\r\nd OK Fetch completed.\r\n",
            message.len()
        )
    );
    assert_eq!(
        command(
            &mut c,
            "e",
            "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.9>"
        ),
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<0> {9}\r\nSubject: )\r\ne OK Fetch completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "f", "STORE 1 +FLAGS (\\Deleted)"),
        "* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))\r\nf OK Store completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "g", "EXPUNGE"),
        "* 1 EXPUNGE\r\ng OK Expunge completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "h", "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)"),
        format!(
            "* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 2 UIDVALIDITY {validity})\r\nh OK Status completed.\r\n"
        )
    );
    assert_eq!(
        command(&mut c, "i", "NAMESPACE"),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\ni OK NAMESPACE completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "j", "LOGOUT"),
        "* BYE Logging out.\r\nj OK Logout completed.\r\n"
    );
});

both_stores!(
    bad_input_gets_bad_and_the_connection_survives,
    |server: &Server| {
        server.add_user("carol", "pw", "carol@example.com");
        let mut c = login(server, "carol", "pw");
        for (input, expected) in [
            ("x FROB\r\n", "x BAD Unknown command FROB\r\n"),
            ("\r\n", "* BAD Empty command line\r\n"),
            ("y SELECT\r\n", "y BAD"),
            ("z FETCH 1 FLAGS\r\n", "z BAD No mailbox selected.\r\n"),
            ("w LOGIN a b\r\n", "w BAD Already authenticated.\r\n"),
        ] {
            c.send(input.as_bytes());
            let answer = c.line();
            assert!(answer.starts_with(expected), "{input:?} -> {answer:?}");
        }
        // A line over the limit (64 KiB by default).
        let long = format!("v NOOP {}\r\n", "a".repeat(100_000));
        c.send(long.as_bytes());
        assert_eq!(
            c.line(),
            "* BAD Command line too long (max 65536 bytes)\r\n"
        );
        // A literal over the non-APPEND limit is refused before it is sent.
        c.send(b"u LOGIN {999999999}\r\n");
        assert_eq!(c.line(), "u NO Literal too big (max 65536 bytes)\r\n");
        // An APPEND over the message size limit: [TOOBIG], nothing read.
        c.send(b"t APPEND INBOX {999999999999}\r\n");
        assert_eq!(
            c.line(),
            "t NO [TOOBIG] Literal too big (max 67108864 bytes)\r\n"
        );
        let selected = command(&mut c, "s", "SELECT INBOX");
        assert!(selected.ends_with("s OK [READ-WRITE] Select completed (0 messages)\r\n"));
        assert_eq!(
            command(&mut c, "r", "FETCH 1 FLAGS"),
            "r BAD Invalid messageset\r\n"
        );
        assert_eq!(
            command(&mut c, "q", "FETCH 0 FLAGS"),
            "q BAD Invalid sequence set\r\n"
        );
        assert_eq!(command(&mut c, "p", "NOOP"), "p OK NOOP completed.\r\n");
    }
);

both_stores!(disconnect_mid_append_stores_nothing, |server: &Server| {
    server.add_user("dave", "pw", "dave@example.com");
    let mut c = login(server, "dave", "pw");
    c.send(b"a APPEND INBOX {1000}\r\n");
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(&[b'x'; 500]);
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = login(server, "dave", "pw");
    assert_eq!(
        command(&mut c, "b", "STATUS INBOX (MESSAGES)"),
        "* STATUS \"INBOX\" (MESSAGES 0)\r\nb OK Status completed.\r\n"
    );
});

both_stores!(sessions_see_each_others_changes, |server: &Server| {
    server.add_user("erin", "pw", "erin@example.com");
    let mut a = login(server, "erin", "pw");
    let mut b = login(server, "erin", "pw");
    command(&mut a, "a1", "SELECT INBOX");
    command(&mut b, "b1", "SELECT INBOX");
    let msg = "Subject: x\r\n\r\nx\r\n";
    a.send(format!("a2 APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes());
    let appended = a.until("a2 ");
    assert!(
        appended.contains("* 1 EXISTS\r\n* 1 RECENT\r\n"),
        "{appended}"
    );
    // Only one session sees a message as \\Recent (RFC 3501 §2.3.2).
    assert_eq!(
        command(&mut b, "b2", "NOOP"),
        "* 1 EXISTS\r\n* 0 RECENT\r\nb2 OK NOOP completed.\r\n"
    );
    command(&mut a, "a3", "STORE 1 +FLAGS.SILENT (\\Flagged)");
    assert_eq!(
        command(&mut b, "b3", "NOOP"),
        "* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\nb3 OK NOOP completed.\r\n"
    );
    command(&mut a, "a4", "STORE 1 +FLAGS.SILENT (\\Deleted)");
    command(&mut a, "a5", "EXPUNGE");
    // No EXPUNGE during FETCH (RFC 3501 §7.4.1), but it comes with the next NOOP.
    let fetch = command(&mut b, "b4", "FETCH 1 (FLAGS)");
    assert!(!fetch.contains("EXPUNGE"), "{fetch}");
    assert!(command(&mut b, "b5", "NOOP").starts_with("* 1 EXPUNGE\r\n"));
});

both_stores!(
    idle_hears_lmtp_delivery_within_a_second,
    |server: &Server| {
        server.add_user("frank", "pw", "frank@example.com");
        let mut c = login(server, "frank", "pw");
        command(&mut c, "a", "SELECT INBOX");
        c.send(b"b IDLE\r\n");
        assert_eq!(c.line(), "+ idling\r\n");
        let started = Instant::now();
        let mut lmtp = LineClient::connect(server.lmtp_port);
        lmtp.line();
        lmtp.send(b"LHLO test\r\n");
        lmtp.until("250 ");
        lmtp.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<frank@example.com>\r\nDATA\r\n");
        assert!(lmtp.line().starts_with("250"));
        assert!(lmtp.line().starts_with("250"));
        assert!(lmtp.line().starts_with("354"));
        lmtp.send(b"Subject: ping\r\n\r\nping\r\n.\r\n");
        assert!(lmtp.line().starts_with("250"));
        assert_eq!(c.line(), "* 1 EXISTS\r\n");
        assert_eq!(c.line(), "* 1 RECENT\r\n");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "IDLE took {:?}",
            started.elapsed()
        );
        c.send(b"DONE\r\n");
        assert_eq!(c.line(), "b OK IDLE terminated.\r\n");
        let fetched = command(
            &mut c,
            "c",
            "FETCH 1 (BODY.PEEK[HEADER.FIELDS (RETURN-PATH DELIVERED-TO)])",
        );
        assert!(
            fetched.contains(
                "Return-Path: <sender@example.org>\r\nDelivered-To: frank@example.com\r\n\r\n"
            ),
            "{fetched}"
        );
    }
);

both_stores!(
    wrong_password_and_unknown_user_look_the_same,
    |server: &Server| {
        server.add_user("gina", "right", "gina@example.com");
        for (user, pass) in [("gina", "wrong"), ("nobody", "x")] {
            let mut c = LineClient::connect(server.imap_port);
            c.line();
            assert_eq!(
                command(&mut c, "a", &format!("LOGIN {user} {pass}")),
                "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
            );
        }
        // Login by address, and AUTHENTICATE PLAIN with SASL-IR.
        let mut c = LineClient::connect(server.imap_port);
        c.line();
        assert!(command(&mut c, "a", "LOGIN Gina@Example.com right").starts_with("a OK"));
        let mut c = LineClient::connect(server.imap_port);
        c.line();
        // base64("\0gina\0right")
        assert!(command(&mut c, "b", "AUTHENTICATE PLAIN AGdpbmEAcmlnaHQ=").starts_with("b OK"));
    }
);

#[test]
fn starttls_upgrades_and_discards_pipelined_bytes() {
    let server = Server::start(common::Backend::Sqlite);
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import imaplib,ssl\n\
             ctx=ssl.create_default_context(); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE\n\
             m=imaplib.IMAP4('127.0.0.1',{}); m.starttls(ctx)\n\
             assert 'STARTTLS' not in m.capabilities, m.capabilities\n\
             print(m.noop()[0])",
            server.imap_port
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bytes pipelined after STARTTLS must not be executed as commands.
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    c.send(b"a STARTTLS\r\nb CAPABILITY\r\n");
    assert_eq!(c.line(), "a OK Begin TLS negotiation now.\r\n");
    c.writer
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let got = std::io::Read::read(&mut c.reader.get_mut(), &mut buf);
    assert!(
        !matches!(got, Ok(n) if n > 0 && buf[..n].starts_with(b"* CAPABILITY")),
        "pipelined command ran in plaintext"
    );
}

#[test]
fn cli_lists_users_and_changes_passwords() {
    let server = Server::start(common::Backend::Sqlite);
    let id = server.add_user("Henry", "one", "henry@example.com");
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let list = server.cli(&["user", "list"]);
    assert!(
        list.contains(&id) && list.contains("henry") && list.contains("henry@example.com"),
        "{list}"
    );
    server.cli(&["user", "passwd", "henry", "--password", "two"]);
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    assert!(command(&mut c, "a", "LOGIN henry one").starts_with("a NO"));
    assert!(command(&mut c, "b", "LOGIN henry two").starts_with("b OK"));
    let help = server.cli(&["--help"]);
    for sub in ["serve", "migrate", "user", "config"] {
        assert!(help.contains(sub), "{help}");
    }
}

/// APPENDs `message` with a synchronizing literal; returns the tagged answer.
fn append_literal(c: &mut LineClient, tag: &str, message: &str) -> String {
    c.send(format!("{tag} APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    let go = c.line();
    assert!(go.starts_with("+ "), "{go}");
    c.send(format!("{message}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

// WildDuck's imapMaxUpload / imapMaxDownload: bytes per 24 hours over IMAP; over them NO [LIMIT].
both_stores!(daily_imap_upload_and_download_limits, |server: &Server| {
    let created = common::api_request(
        server.api_port,
        "POST",
        "/users",
        Some(
            r#"{"username":"lena","password":"secret123","address":"lena@example.com",
                "imapMaxUpload":250,"imapMaxDownload":300}"#,
        ),
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    let message = format!("Subject: limit\r\n\r\n{}", "x".repeat(100 - 18));
    assert_eq!(message.len(), 100);
    let mut c = login(server, "lena", "secret123");
    assert!(append_literal(&mut c, "a1", &message).starts_with("a1 OK [APPENDUID "));
    assert!(append_literal(&mut c, "a2", &message).starts_with("a2 OK [APPENDUID "));
    assert_eq!(
        append_literal(&mut c, "a3", &message),
        "a3 NO [LIMIT] Daily IMAP upload limit of 250 bytes reached.\r\n"
    );
    command(&mut c, "s", "SELECT INBOX");
    // Flags and sizes cost nothing; message bytes do (100 each, charged before sending).
    assert!(
        command(&mut c, "f0", "FETCH 1:2 (FLAGS RFC822.SIZE)")
            .ends_with("f0 OK Fetch completed.\r\n")
    );
    let first = command(&mut c, "f1", "FETCH 1:2 BODY.PEEK[]");
    assert!(first.ends_with("f1 OK Fetch completed.\r\n"), "{first}");
    assert_eq!(
        command(&mut c, "f2", "FETCH 1:2 BODY.PEEK[]"),
        "f2 NO [LIMIT] Daily IMAP download limit of 300 bytes reached.\r\n"
    );
    let id = created.body["id"].as_str().unwrap();
    let user = common::api_request(server.api_port, "GET", &format!("/users/{id}"), None);
    assert_eq!(user.body["limits"]["imapUpload"]["used"], 300);
    assert_eq!(user.body["limits"]["imapDownload"]["used"], 400);
    // Another user is not affected.
    server.add_user("mona", "pw", "mona@example.com");
    let mut m = login(server, "mona", "pw");
    assert!(append_literal(&mut m, "b1", &message).starts_with("b1 OK [APPENDUID "));
});
