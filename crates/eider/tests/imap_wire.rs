//! IMAP wire extensions end to end (BINARY, MULTIAPPEND, CATENATE, UNAUTHENTICATE, QUOTA,
//! APPENDLIMIT, UTF8=ACCEPT, COMPRESS=DEFLATE, CREATE-SPECIAL-USE, XLIST), exact transcripts on
//! both stores.

mod common;

use common::{LineClient, Server};

fn login(server: &Server, user: &str, password: &str) -> LineClient {
    let mut c = LineClient::connect(server.imap_port);
    c.line();
    c.send(format!("L LOGIN {user} {password}\r\n").as_bytes());
    let answer = c.until("L ");
    assert!(answer.starts_with("L OK "), "{answer}");
    c
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

/// APPENDs with a synchronizing literal and returns the tagged answer.
fn append(c: &mut LineClient, tag: &str, mailbox: &str, message: &[u8]) -> String {
    c.send(format!("{tag} APPEND {mailbox} {{{}}}\r\n", message.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(message);
    c.send(b"\r\n");
    c.until(&format!("{tag} "))
}

/// A tagged answer with its RFC 8474 `[MAILBOXID (...)]` code removed (tested in imap_ext.rs).
fn without_mailbox_id(answer: String) -> String {
    match (answer.find("[MAILBOXID ("), answer.find(")] ")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &answer[..start], &answer[end + 3..])
        }
        _ => answer,
    }
}

fn uid_validity(select: &str) -> u32 {
    let start = select.find("[UIDVALIDITY ").unwrap() + 13;
    select[start..].split(']').next().unwrap().parse().unwrap()
}

/// Reads a FETCH line whose single literal is `len` bytes; returns (prefix line, literal, rest).
fn fetch_literal(c: &mut LineClient, tag: &str) -> (String, Vec<u8>, String) {
    let head = c.line();
    let open = head.rfind('{').unwrap();
    let len: usize = head[open + 1..head.len() - 3].parse().unwrap();
    let data = c.read_exact(len);
    let rest = c.until(&format!("{tag} "));
    (head, data, rest)
}

const BINARY_MESSAGE: &str = "From: a@example.com\r\n\
Subject: parts\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECSGVsbG8A/w==\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9 soft=\r\nbreak\r\n\
--b\r\n\
Content-Type: application/x-thing\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
\r\n\
begin 644 x\r\n\
--b--\r\n";

both_stores!(binary_fetch_and_literal8_append, |server: &Server| {
    server.add_user("bin", "pw", "bin@example.com");
    let mut c = login(server, "bin", "pw");
    assert!(
        append(&mut c, "a", "INBOX", BINARY_MESSAGE.as_bytes()).starts_with("a OK [APPENDUID ")
    );
    command(&mut c, "b", "SELECT INBOX");
    // BINARY.PEEK of the base64 part is the decoded bytes, sent as literal8 (they hold NUL).
    c.send(b"c FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2])\r\n");
    let (head, data, rest) = fetch_literal(&mut c, "c");
    assert_eq!(head, "* 1 FETCH (BINARY[1] ~{10}\r\n");
    assert_eq!(data, b"\x00\x01\x02Hello\x00\xff");
    assert_eq!(
        rest,
        " BINARY.SIZE[1] 10 BINARY.SIZE[2] 15)\r\nc OK Fetch completed.\r\n"
    );
    // Quoted-printable, with a partial; no NUL, so an ordinary literal. Not PEEK: sets \Seen.
    assert_eq!(
        command(&mut c, "d", "FETCH 1 (BINARY[2]<2.6>)"),
        "* 1 FETCH (BINARY[2]<2> {6}\r\nfé so FLAGS (\\Seen \\Recent))\r\nd OK Fetch completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "e", "FETCH 1 (BINARY.PEEK[3])"),
        "e NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.\r\n"
    );
    assert_eq!(
        command(&mut c, "f", "FETCH 1 (BINARY.SIZE[9])"),
        "* 1 FETCH (BINARY.SIZE[9] NIL)\r\nf OK Fetch completed.\r\n"
    );
    // NUL in an ordinary literal is refused; in a literal8 it is stored exactly.
    let with_nul = b"Subject: nul\r\n\r\na\x00b\r\n";
    c.send(format!("g APPEND INBOX {{{}}}\r\n", with_nul.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(with_nul);
    c.send(b"\r\n");
    assert_eq!(c.line(), "g BAD NUL in literal (use literal8)\r\n");
    c.send(format!("h APPEND INBOX ~{{{}}}\r\n", with_nul.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(with_nul);
    c.send(b"\r\n");
    let appended = c.until("h ");
    assert!(appended.contains("h OK [APPENDUID "), "{appended}");
    c.send(b"i UID FETCH 2 (BINARY.PEEK[])\r\n");
    let (head, data, _) = fetch_literal(&mut c, "i");
    assert_eq!(
        head,
        format!("* 2 FETCH (UID 2 BINARY[] ~{{{}}}\r\n", with_nul.len())
    );
    assert_eq!(data, with_nul);
});

both_stores!(multiappend_is_all_or_nothing, |server: &Server| {
    server.cli(&[
        "user",
        "add",
        "multi",
        "--password",
        "pw",
        "--address",
        "multi@example.com",
        "--quota",
        "3000",
    ]);
    let mut c = login(server, "multi", "pw");
    let m1 = b"Subject: one\r\n\r\nfirst\r\n".to_vec();
    let m2 = b"Subject: two\r\n\r\nsecond\r\n".to_vec();
    // Two messages at once: both stored, UIDs in order.
    c.send(format!("a APPEND INBOX (\\Seen) {{{}+}}\r\n", m1.len()).as_bytes());
    c.send(&m1);
    c.send(format!(" {{{}+}}\r\n", m2.len()).as_bytes());
    c.send(&m2);
    c.send(b"\r\n");
    let ok = c.line();
    assert!(
        ok.starts_with("a OK [APPENDUID ") && ok.ends_with(" 1:2] Append completed.\r\n"),
        "{ok}"
    );
    // The second message is too big: refused before it is read, and the first is not stored.
    c.send(format!("b APPEND INBOX {{{}+}}\r\n", m1.len()).as_bytes());
    c.send(&m1);
    c.send(b" {70000000}\r\n");
    assert_eq!(
        c.line(),
        "b NO [TOOBIG] Literal too big (max 67108864 bytes)\r\n"
    );
    // Together over the quota, each alone within it: none stored.
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(1600));
    c.send(format!("c APPEND INBOX {{{}+}}\r\n", big.len()).as_bytes());
    c.send(big.as_bytes());
    c.send(format!(" {{{}+}}\r\n", big.len()).as_bytes());
    c.send(big.as_bytes());
    c.send(b"\r\n");
    assert_eq!(
        c.line(),
        "c NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n"
    );
    assert_eq!(
        command(&mut c, "d", "STATUS INBOX (MESSAGES APPENDLIMIT)"),
        "* STATUS \"INBOX\" (MESSAGES 2 APPENDLIMIT 67108864)\r\nd OK Status completed.\r\n"
    );
    // QUOTA (RFC 9208): one root for the account, storage in KiB.
    assert_eq!(
        command(&mut c, "e", "GETQUOTAROOT INBOX"),
        "* QUOTAROOT \"INBOX\" \"\"\r\n* QUOTA \"\" (STORAGE 1 2)\r\ne OK Getquotaroot completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "f", "GETQUOTA \"\""),
        "* QUOTA \"\" (STORAGE 1 2)\r\nf OK Getquota completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "g", "GETQUOTA \"other\""),
        "g NO [NONEXISTENT] No such quota root.\r\n"
    );
    assert_eq!(
        command(&mut c, "h", "SETQUOTA \"\" (STORAGE 10)"),
        "h NO [NOPERM] Quotas are set by the administrator.\r\n"
    );
    let ok = append(&mut c, "i", "INBOX", big.as_bytes());
    assert!(ok.starts_with("i OK [APPENDUID "), "{ok}");
    command(&mut c, "j", "SELECT INBOX");
    assert_eq!(
        command(&mut c, "k", "COPY 1:3 Trash"),
        "k NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n"
    );
    assert_eq!(
        command(&mut c, "l", "GETQUOTA \"\""),
        "* QUOTA \"\" (STORAGE 2 2)\r\nl OK Getquota completed.\r\n"
    );
});

both_stores!(catenate_text_and_urls, |server: &Server| {
    server.add_user("cat", "pw", "cat@example.com");
    let mut c = login(server, "cat", "pw");
    assert!(append(&mut c, "a", "INBOX", BINARY_MESSAGE.as_bytes()).starts_with("a OK "));
    let validity = uid_validity(&command(&mut c, "b", "EXAMINE INBOX"));
    let head = b"Subject: built\r\n\r\n";
    let tail = b"--end\r\n";
    c.send(format!("c APPEND Drafts CATENATE (TEXT {{{}+}}\r\n", head.len()).as_bytes());
    c.send(head);
    c.send(
        format!(
            " URL \"/INBOX;UIDVALIDITY={validity}/;UID=1/;SECTION=2\" URL \"imap://cat@localhost/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)\" TEXT {{{}+}}\r\n",
            tail.len()
        )
        .as_bytes(),
    );
    c.send(tail);
    c.send(b")\r\n");
    let ok = c.line();
    assert!(
        ok.starts_with("c OK [APPENDUID ") && ok.ends_with(" 1] Append completed.\r\n"),
        "{ok}"
    );
    command(&mut c, "d", "EXAMINE Drafts");
    c.send(b"e FETCH 1 (BODY.PEEK[])\r\n");
    let (_, data, _) = fetch_literal(&mut c, "e");
    assert_eq!(
        String::from_utf8(data).unwrap(),
        "Subject: built\r\n\r\ncaf=C3=A9 soft=\r\nbreakSubject: parts\r\n\r\n--end\r\n"
    );
    assert_eq!(
        command(
            &mut c,
            "f",
            "APPEND Drafts CATENATE (URL \"/INBOX/;UID=99\")"
        ),
        "f NO [BADURL /INBOX/;UID=99] Invalid or unknown URL.\r\n"
    );
    let wrong = validity.wrapping_add(1).max(1);
    assert_eq!(
        command(
            &mut c,
            "g",
            &format!("APPEND Drafts CATENATE (URL \"/INBOX;UIDVALIDITY={wrong}/;UID=1\")")
        ),
        format!("g NO [BADURL /INBOX;UIDVALIDITY={wrong}/;UID=1] Invalid or unknown URL.\r\n")
    );
    assert_eq!(
        command(&mut c, "h", "STATUS Drafts (MESSAGES)"),
        "* STATUS \"Drafts\" (MESSAGES 1)\r\nh OK Status completed.\r\n"
    );
});

both_stores!(utf8_accept_mailbox_names, |server: &Server| {
    server.add_user("utf", "pw", "utf@example.com");
    let mut c = login(server, "utf", "pw");
    // Before ENABLE: modified UTF-7 in both directions.
    assert_eq!(
        without_mailbox_id(command(&mut c, "a", "CREATE \"&AOk-t&AOk-\"")),
        "a OK Create completed.\r\n"
    );
    assert_eq!(
        without_mailbox_id(command(&mut c, "b", "CREATE \"a&-b\"")),
        "b OK Create completed.\r\n"
    );
    assert_eq!(
        without_mailbox_id(command(&mut c, "c", "CREATE \"q\\\"uo\\\\te\"")),
        "c OK Create completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "d", "LIST \"\" \"&AOk-t&AOk-\""),
        "* LIST (\\HasNoChildren) \"/\" \"&AOk-t&AOk-\"\r\nd OK List completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "e", "LIST \"\" \"a&-b\""),
        "* LIST (\\HasNoChildren) \"/\" \"a&-b\"\r\ne OK List completed.\r\n"
    );
    let m = "Subject: =?utf-8?q?x?=\r\nFrom: j\u{f6}rg@example.com\r\n\r\nk\u{e4}se\r\n";
    assert_eq!(
        command(
            &mut c,
            "f",
            &format!("APPEND INBOX UTF8 (~{{{}+}}\r\n{m})", m.len())
        ),
        "f BAD UTF8 data requires ENABLE UTF8=ACCEPT.\r\n"
    );
    assert_eq!(
        command(&mut c, "g", "ENABLE UTF8=ACCEPT"),
        "* ENABLED UTF8=ACCEPT\r\ng OK ENABLE completed.\r\n"
    );
    // After ENABLE: UTF-8 names; `&` is an ordinary character.
    assert_eq!(
        command(&mut c, "h", "LIST \"\" \"\u{e9}t\u{e9}\""),
        "* LIST (\\HasNoChildren) \"/\" {5}\r\n\u{e9}t\u{e9}\r\nh OK List completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "i", "LIST \"\" \"a&b\""),
        "* LIST (\\HasNoChildren) \"/\" \"a&b\"\r\ni OK List completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "j", "LIST \"\" \"q\\\"uo\\\\te\""),
        "* LIST (\\HasNoChildren) \"/\" \"q\\\"uo\\\\te\"\r\nj OK List completed.\r\n"
    );
    assert_eq!(
        without_mailbox_id(command(&mut c, "k", "CREATE \"\u{65e5}\u{672c}\"")),
        "k OK Create completed.\r\n"
    );
    let ok = command(
        &mut c,
        "l",
        &format!("APPEND \"\u{e9}t\u{e9}\" UTF8 (~{{{}+}}\r\n{m})", m.len()),
    );
    assert!(ok.starts_with("l OK [APPENDUID "), "{ok}");
    command(&mut c, "m", "SELECT \"\u{e9}t\u{e9}\"");
    c.send(b"n FETCH 1 (BODY.PEEK[])\r\n");
    let (_, data, _) = fetch_literal(&mut c, "n");
    assert_eq!(data, m.as_bytes());
    // A new session without UTF8=ACCEPT sees the UTF-8 name in modified UTF-7.
    let mut d = login(server, "utf", "pw");
    assert_eq!(
        command(&mut d, "a", "LIST \"\" \"&ZeVnLA-\""),
        "* LIST (\\HasNoChildren) \"/\" \"&ZeVnLA-\"\r\na OK List completed.\r\n"
    );
    assert_eq!(
        command(&mut d, "b", "STATUS \"&AOk-t&AOk-\" (MESSAGES)"),
        "* STATUS \"&AOk-t&AOk-\" (MESSAGES 1)\r\nb OK Status completed.\r\n"
    );
});

both_stores!(compressed_session_and_bomb, |server: &Server| {
    server.add_user("zip", "pw", "zip@example.com");
    let out = common::python(
        "imap_compress.py",
        &[server.imap_port.to_string(), "zip".into(), "pw".into()],
    );
    assert_eq!(
        out,
        "* OK\n\
         a OK\n\
         b OK DEFLATE active.\n\
         c OK NOOP completed.\n\
         d OK\n\
         e OK [READ-WRITE] Select completed (1 messages)\n\
         * 1 FETCH (RFC822.SIZE 1021 BODY[HEADER] {21}\n\
         Subject: squeezed\n\
         \n\
         )\n\
         f OK Fetch completed.\n\
         g NO [COMPRESSIONACTIVE] Compression is already active.\n\
         * BAD Command line too long (max 65536 bytes)\n\
         h OK NOOP completed.\n\
         * BYE Logging out.\n\
         i OK Logout completed.\n\
         imap_compress OK\n"
    );
});

both_stores!(
    special_use_xlist_unauthenticate_and_codes,
    |server: &Server| {
        server.add_user("xl", "pw", "xl@example.com");
        let mut c = login(server, "xl", "pw");
        assert_eq!(
            without_mailbox_id(command(&mut c, "a", "CREATE Arch (USE (\\Archive))")),
            "a OK Create completed.\r\n"
        );
        assert_eq!(
            command(&mut c, "b", "CREATE Odd (USE (\\Bogus))"),
            "b NO [USEATTR] Unsupported special-use attribute.\r\n"
        );
        assert_eq!(
            command(&mut c, "c", "XLIST \"\" \"INBOX\""),
            "* XLIST (\\HasNoChildren \\Inbox) \"/\" \"INBOX\"\r\nc OK XLIST completed.\r\n"
        );
        assert_eq!(
            command(&mut c, "d", "XLIST \"\" Arch"),
            "* XLIST (\\HasNoChildren \\Archive) \"/\" \"Arch\"\r\nd OK XLIST completed.\r\n"
        );
        assert!(command(&mut c, "e", "CREATE INBOX").starts_with("e NO [ALREADYEXISTS] "));
        assert!(command(&mut c, "f", "SELECT Nope").starts_with("f NO [NONEXISTENT] "));
        assert_eq!(
            append(&mut c, "g", "Nope", b"Subject: x\r\n\r\nx\r\n"),
            "g NO [TRYCREATE] Mailbox doesn't exist.\r\n"
        );
        command(&mut c, "h", "SELECT INBOX");
        // An EXPUNGE that removes nothing answers nothing but OK.
        assert_eq!(
            command(&mut c, "i", "EXPUNGE"),
            "i OK Expunge completed.\r\n"
        );
        assert!(
            command(&mut c, "j", "SELECT INBOX")
                .starts_with("* OK [CLOSED] Previous mailbox closed.\r\n")
        );
        assert_eq!(
            command(&mut c, "k", "UNAUTHENTICATE"),
            "k OK UNAUTHENTICATE completed.\r\n"
        );
        assert_eq!(
            command(&mut c, "l", "CAPABILITY"),
            "* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS AUTH=PLAIN\r\nl OK Capability completed.\r\n"
        );
        assert_eq!(
            command(&mut c, "m", "SELECT INBOX"),
            "m BAD Please authenticate first.\r\n"
        );
        assert!(command(&mut c, "n", "LOGIN xl pw").starts_with("n OK [CAPABILITY "));
        assert!(command(&mut c, "o", "SELECT INBOX").contains("o OK [READ-WRITE]"));
    }
);

// A binary-CTE part sent with a literal8 APPEND is stored base64-encoded (as Dovecot does), so
// BINARY[n] gives back exactly the bytes appended, bare LF, CR and NUL included, and BODY[n] is
// 7-bit (imaptest's append-binary).
both_stores!(binary_cte_parts_survive_exactly, |server: &Server| {
    server.add_user("bin", "pw", "bin@example.com");
    let mut c = login(server, "bin", "pw");
    let body: &[u8] = b"\0-\xe4\n\r\n\n";
    let mut message = b"From: user@domain.org\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    message.extend_from_slice(body);
    message.extend_from_slice(b"\r\n--x\r\nContent-Type: text/plain\r\n\r\nafter\r\n--x--\r\n");
    c.send(format!("a APPEND INBOX ~{{{}}}\r\n", message.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(&message);
    c.send(b"\r\n");
    let appended = c.until("a ");
    assert!(appended.contains("a OK [APPENDUID "), "{appended}");
    command(&mut c, "s", "SELECT INBOX");
    c.send(b"b FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n");
    let (head, data, rest) = fetch_literal(&mut c, "b");
    assert_eq!(head, "* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n");
    assert_eq!(data, body);
    assert_eq!(rest, ")\r\nb OK Fetch completed.\r\n");
    assert_eq!(
        command(
            &mut c,
            "c",
            "FETCH 1 (BODY.PEEK[1.MIME] BODY.PEEK[1] BODY.PEEK[2])"
        ),
        "* 1 FETCH (BODY[1.MIME] {77}\r\nContent-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n BODY[1] {12}\r\nAC3kCg0KCg== BODY[2] {5}\r\nafter)\r\n\
         c OK Fetch completed.\r\n"
    );
});
