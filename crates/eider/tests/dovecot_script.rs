//! Differential test: one IMAP session script runs against Debian's Dovecot and against Eider (on
//! both stores), and every answer is compared after normalising what legitimately differs between
//! two servers: the human-readable text after a status response, UIDVALIDITY values, MODSEQ values,
//! `\Recent` (which Eider does not keep; IMAP4rev2 removed it) and the `[MAILBOXID]` codes of
//! OBJECTID, which Dovecot 2.3 does not implement. Every other byte must match,
//! except for the commands listed in `KNOWN_DIFFERENCES`, each with its reason, which
//! docs/DOVECOT-DIFFERENCES.md explains. A listed command that no longer differs fails the test
//! too, so the list stays true.

mod common;
mod dovecot;

use common::{Backend, LineClient, Server};
use std::collections::BTreeMap;

const USER: &str = "diff";
const PASSWORD: &str = "pw";

/// Dovecot gets the same special-use folders Eider creates for every new user.
const DOVECOT_NAMESPACE: &str = "namespace inbox {\n  inbox = yes\n  separator = /\n  \
    mailbox Drafts {\n    auto = subscribe\n    special_use = \\Drafts\n  }\n  \
    mailbox \"Sent Mail\" {\n    auto = subscribe\n    special_use = \\Sent\n  }\n  \
    mailbox Junk {\n    auto = subscribe\n    special_use = \\Junk\n  }\n  \
    mailbox Trash {\n    auto = subscribe\n    special_use = \\Trash\n  }\n}\n";

const M1: &str = "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
From: Alice Example <alice@example.com>\r\n\
To: Bob <bob@example.com>\r\n\
Subject: Hello\r\n\
Message-ID: <m1@example.com>\r\n\
\r\n\
Hello world, this is the first message.\r\n";

const M2: &str = "Date: Tue, 2 Jan 2024 11:00:00 +0100\r\n\
From: Bob <bob@example.com>\r\n\
To: Alice Example <alice@example.com>\r\n\
Subject: Re: Hello\r\n\
Message-ID: <m2@example.com>\r\n\
In-Reply-To: <m1@example.com>\r\n\
References: <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
See the attachment.\r\n\
--b1\r\n\
Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n\
--b1--\r\n";

const M3: &str = "Date: Wed, 3 Jan 2024 12:00:00 -0500\r\n\
From: \"List\" <list@lists.example.org>\r\n\
To: undisclosed-recipients:;\r\n\
Cc: carol@example.net\r\n\
Subject: [list] News of the week\r\n\
Message-ID: <m3@lists.example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Plain news.\r\n\
--alt\r\n\
Content-Type: text/html; charset=us-ascii\r\n\
\r\n\
<p>HTML news.</p>\r\n\
--alt--\r\n";

const M4: &str = "Date: Thu, 4 Jan 2024 13:00:00 +0000\r\n\
From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.fr>\r\n\
To: alice@example.com\r\n\
Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\
Message-ID: <m4@example.fr>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=FC=DFe aus Paris, world.\r\n";

/// A larger message, so LARGER/SMALLER and partial fetches have something to cut.
fn m5() -> String {
    let mut m = String::from(
        "Date: Fri, 5 Jan 2024 14:00:00 +0000\r\n\
From: Alice Example <alice@example.com>\r\n\
To: Bob <bob@example.com>\r\n\
Subject: Re: Hello\r\n\
Message-ID: <m5@example.com>\r\n\
In-Reply-To: <m2@example.com>\r\n\
References: <m1@example.com> <m2@example.com>\r\n\
\r\n",
    );
    for i in 0..80 {
        m.push_str(&format!(
            "Line {i:03} of a longer body, padded to a fair width.\r\n"
        ));
    }
    m
}

/// The session: (command, literal data appended after it, if any).
fn script() -> Vec<(String, Option<Vec<u8>>)> {
    let mut s: Vec<(String, Option<Vec<u8>>)> = vec![("NOOP".to_string(), None)];
    let appends = [
        ("(\\Seen)", "01-Jan-2024 10:00:00 +0000", M1.to_string()),
        ("()", "02-Jan-2024 10:00:00 +0000", M2.to_string()),
        (
            "(\\Flagged $Work)",
            "03-Jan-2024 10:00:00 +0000",
            M3.to_string(),
        ),
        (
            "(\\Seen \\Answered)",
            "04-Jan-2024 10:00:00 +0000",
            M4.to_string(),
        ),
        ("()", "05-Jan-2024 10:00:00 +0000", m5()),
    ];
    for (flags, date, message) in appends {
        s.push((
            format!("APPEND INBOX {flags} \"{date}\" {{{}+}}", message.len()),
            Some(message.into_bytes()),
        ));
    }
    for c in [
        "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
        "SELECT INBOX",
        "FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)",
        "FETCH 1:5 ENVELOPE",
        "FETCH 2 BODYSTRUCTURE",
        "FETCH 3 BODY",
        "FETCH 4 BODYSTRUCTURE",
        "FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[1.MIME])",
        "FETCH 2 BODY.PEEK[2]<0.20>",
        "FETCH 4 (BODY.PEEK[TEXT] RFC822.HEADER)",
        "FETCH 5 BODY.PEEK[]<100.50>",
        "FETCH 2 (BINARY.SIZE[2] BINARY.PEEK[2])",
        "UID FETCH 2:* (FLAGS)",
        "FETCH * UID",
        "SEARCH ALL",
        "SEARCH UNSEEN",
        "SEARCH SEEN NOT ANSWERED",
        "SEARCH FROM alice",
        "SEARCH SUBJECT hello",
        "SEARCH OR FLAGGED ANSWERED",
        "SEARCH KEYWORD $Work",
        "SEARCH UNKEYWORD $Work",
        "SEARCH LARGER 1000",
        "SEARCH SMALLER 500",
        "SEARCH SINCE 3-Jan-2024",
        "SEARCH BEFORE 3-Jan-2024",
        "SEARCH ON 2-Jan-2024",
        "SEARCH SENTSINCE 4-Jan-2024",
        "SEARCH HEADER Message-ID <m1@example.com>",
        "SEARCH BODY attachment",
        "SEARCH TEXT world",
        "SEARCH CC carol",
        "SEARCH CHARSET ISO-8859-1 SUBJECT {4+}",
        "SEARCH UID 2:4 NOT DELETED",
        "SEARCH 2:*",
        "UID SEARCH 3:*",
        "SEARCH RETURN (MIN MAX COUNT) ALL",
        "SEARCH RETURN () UNSEEN",
        "UID SEARCH RETURN (ALL) ALL",
        "SORT (SUBJECT) UTF-8 ALL",
        "SORT (REVERSE DATE) UTF-8 ALL",
        "SORT (FROM SIZE) UTF-8 ALL",
        "SORT (ARRIVAL) US-ASCII UNSEEN",
        "UID SORT (CC TO) UTF-8 ALL",
        "THREAD REFERENCES UTF-8 ALL",
        "THREAD ORDEREDSUBJECT UTF-8 ALL",
        "STORE 1 +FLAGS (\\Flagged)",
        "STORE 2 FLAGS.SILENT (\\Seen $Label)",
        "UID STORE 4 -FLAGS (\\Answered)",
        "STORE 1:2 -FLAGS.SILENT (\\Flagged)",
        "FETCH 1:* FLAGS",
        "CREATE Archive",
        "CREATE Archive/2024",
        "CREATE Archive",
        "CREATE INBOX",
        "LIST \"\" *",
        "LIST \"\" %",
        "LIST \"\" Archive/%",
        "LIST \"\" \"\"",
        "LSUB \"\" *",
        "SUBSCRIBE Archive",
        "LSUB \"\" *",
        "LIST (SUBSCRIBED) \"\" *",
        "LIST (SPECIAL-USE) \"\" *",
        "LIST \"\" % RETURN (CHILDREN)",
        "STATUS Archive (MESSAGES UIDNEXT UNSEEN)",
        "COPY 1:2 Archive",
        "COPY 1 Nowhere",
        "UID MOVE 3 Archive",
        "STATUS Archive (MESSAGES UIDNEXT UNSEEN)",
        "STORE 1 +FLAGS.SILENT (\\Deleted)",
        "EXPUNGE",
        "EXPUNGE",
        "NOOP",
        "FETCH 1:* (UID FLAGS)",
        "NAMESPACE",
        "SELECT Archive",
        "FETCH 1:* (UID FLAGS ENVELOPE)",
        "EXAMINE INBOX",
        "STORE 1 +FLAGS (\\Seen)",
        "CLOSE",
        "RENAME Archive/2024 Old",
        "RENAME Nowhere Elsewhere",
        "LIST \"\" *",
        "DELETE Old",
        "DELETE Nowhere",
        "SELECT Nowhere",
        "STATUS Nowhere (MESSAGES)",
        "FETCH 1 FLAGS",
        "ENABLE CONDSTORE",
        "SELECT INBOX (CONDSTORE)",
        "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
        "STORE 1 +FLAGS (\\Answered)",
        "UNSELECT",
        "UNSUBSCRIBE Archive",
        "LSUB \"\" *",
        // Partial and nonexistent sections, odd items.
        "FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Date Message-ID)] BODY.PEEK[]<0.0>)",
        "FETCH 2 (BODY.PEEK[1]<5.1000> RFC822.TEXT)",
        "FETCH 3 (BODY.PEEK[HEADER] BODY.PEEK[MIME])",
        "FETCH 1:2 FAST",
        "FETCH 2 FULL",
        "FETCH 1:* ALL",
        "UID FETCH 1:2 (RFC822.SIZE)",
        "UID FETCH 100:200 FLAGS",
        // Search extensions.
        "SEARCH RETURN (SAVE) SEEN",
        "FETCH $ (UID)",
        "UID SEARCH $",
        "SEARCH RETURN (COUNT) OR NOT SEEN LARGER 100",
        "SEARCH YOUNGER 1",
        "SEARCH MODSEQ 1",
        "UID SORT RETURN (COUNT MIN) (DATE) UTF-8 ALL",
        // Names: modified UTF-7, specials, hierarchy.
        "CREATE Entw&APw-rfe",
        "CREATE \"Odd \\\"name\\\"\"",
        "CREATE Tmp/Deep/Deeper",
        "LIST \"\" Tmp*",
        "LIST \"\" Entw*",
        "DELETE Tmp",
        "LIST \"\" Tmp*",
        "STATUS Entw&APw-rfe (MESSAGES UIDVALIDITY)",
        "SELECT INBOX",
        "UID EXPUNGE 1:100",
        // Errors.
        "FETCH 1:* (FOO)",
        "FETCH",
        "STORE 1 FLAGS (\\Bogus)",
        "SEARCH FROM",
        "SEARCH CHARSET KOI8-R ALL",
        "UNKNOWNCOMMAND",
        "COPY 1:* Nowhere",
        "FETCH 99 FLAGS",
        "SELECT",
        "CREATE \"\"",
        "DELETE INBOX",
        "RENAME INBOX Saved",
        "STATUS Saved (MESSAGES)",
        "STATUS INBOX (MESSAGES)",
        "LOGOUT",
    ] {
        // The one literal search string: "Grüß" in ISO-8859-1.
        let literal = c.ends_with("{4+}").then(|| b"Gr\xfc\xdf".to_vec());
        s.push((c.to_string(), literal));
    }
    s
}

/// Commands whose answers differ on purpose: (command, reason). Explained in
/// docs/DOVECOT-DIFFERENCES.md ("Session differences").
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "SELECT INBOX",
        "HIGHESTMODSEQ on every SELECT (RFC 7162 3.1.2.1: a server with persistent mod-sequences \
         sends it always); Dovecot only after CONDSTORE is enabled",
    ),
    ("SELECT Archive", "HIGHESTMODSEQ on every SELECT, as above"),
    (
        "EXAMINE INBOX",
        "HIGHESTMODSEQ as above; FLAGS lists the keywords of the messages now in the mailbox, \
         Dovecot every keyword the mailbox ever had",
    ),
    (
        "SELECT INBOX (CONDSTORE)",
        "FLAGS lists the keywords of the messages now in the mailbox, as above",
    ),
    (
        "STORE 1 +FLAGS (\\Seen)",
        "STORE in a mailbox opened with EXAMINE is refused with NO [READ-ONLY] (RFC 9051 6.4.6); \
         Dovecot answers OK and changes nothing",
    ),
    ("SELECT Nowhere", "NO carries [NONEXISTENT] (RFC 5530)"),
    (
        "STATUS Nowhere (MESSAGES)",
        "NO carries [NONEXISTENT] (RFC 5530)",
    ),
    (
        "STORE 1 +FLAGS (\\Answered)",
        "the FETCH answer lists FLAGS before MODSEQ; Dovecot the other way round",
    ),
    (
        "LIST \"\" *",
        "mailboxes are listed in name order (INBOX among them); Dovecot in its own storage order, \
         INBOX last",
    ),
    ("LIST \"\" %", "name order, as above"),
    (
        "LSUB \"\" *",
        "a new account's INBOX is subscribed with its other default mailboxes (as WildDuck \
         does); LSUB carries no special-use attributes; name order",
    ),
    (
        "LIST (SUBSCRIBED) \"\" *",
        "subscriptions as above, and the child and special-use attributes are returned too \
         (RFC 5258 allows them)",
    ),
    (
        "LIST (SPECIAL-USE) \"\" *",
        "\\HasNoChildren is returned too (RFC 5258 allows it)",
    ),
    (
        "LIST \"\" % RETURN (CHILDREN)",
        "special-use attributes are returned without RETURN (SPECIAL-USE) (RFC 6154 allows it); \
         name order",
    ),
    (
        "LIST \"\" Tmp*",
        "CREATE makes the missing parents real mailboxes (RFC 3501 6.3.3: the server SHOULD \
         create them); Dovecot lists them as \\Noselect placeholders",
    ),
    (
        "DELETE Tmp",
        "a mailbox with children is not deleted (NO [HASCHILDREN]): Eider keeps no \\Noselect \
         placeholders; in Dovecot Tmp never existed (NO [NONEXISTENT])",
    ),
    (
        "SELECT",
        "a SELECT that fails to parse leaves the selected mailbox alone; Dovecot closes it first \
         (* OK [CLOSED])",
    ),
    ("DELETE INBOX", "NO carries [NOPERM]"),
    (
        "RENAME INBOX Saved",
        "renaming INBOX moves its messages to the new mailbox and leaves INBOX empty (RFC 3501 \
         6.3.5); this Dovecot configuration refuses it with NO [CANNOT]",
    ),
    (
        "STATUS Saved (MESSAGES)",
        "Saved exists after RENAME INBOX, as above",
    ),
    (
        "STATUS INBOX (MESSAGES)",
        "INBOX is empty after RENAME INBOX, as above",
    ),
];

/// Drops the human-readable text of status responses, UIDVALIDITY and MODSEQ values, and
/// `\Recent`, OBJECTID's MAILBOXID codes; a mailbox name Eider quotes where Dovecot sends an atom
/// compares equal.
fn normalise(answer: &str) -> String {
    answer
        .split_inclusive("\r\n")
        .filter(|line| !is_recent_count(line) && !line.starts_with("* OK [MAILBOXID "))
        .map(|line| {
            let line = strip_status_text(line.trim_end_matches("\r\n"));
            // OBJECTID (RFC 8474), which Dovecot 2.3 lacks: CREATE's OK carries the new id.
            let line = match line.split_once(" OK [MAILBOXID (") {
                Some((tag, _)) => format!("{tag} OK"),
                None => line,
            };
            let line = mask_number_after(&line, "UIDVALIDITY ");
            let line = mask_number_after(&line, "APPENDUID ");
            let line = mask_number_after(&line, "COPYUID ");
            let line = mask_number_after(&line, "HIGHESTMODSEQ ");
            let line = mask_number_after(&line, "MODSEQ (");
            let line = line.replace(" \\Recent", "").replace("(\\Recent ", "(");
            let line = line.replace("(\\Recent)", "()");
            let line = unquote_mailbox_names(&line);
            format!("{line}\n")
        })
        .collect()
}

/// In LIST, LSUB and STATUS lines, `"name"` becomes `name` when `name` could be sent as an atom:
/// both are the same astring to a client.
fn unquote_mailbox_names(line: &str) -> String {
    if !["* LIST ", "* LSUB ", "* STATUS "]
        .iter()
        .any(|p| line.starts_with(p))
    {
        return line.to_string();
    }
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let atom = !name.is_empty()
            && !name.eq_ignore_ascii_case("NIL")
            && name
                .bytes()
                .all(|b| b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b));
        if atom {
            out.push_str(name);
        } else {
            out.push('"');
            out.push_str(name);
            out.push('"');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_recent_count(line: &str) -> bool {
    line.starts_with("* ") && line.trim_end().ends_with(" RECENT")
}

/// `tag OK [CODE] text` → `tag OK [CODE]`; the same for NO, BAD, BYE, PREAUTH.
fn strip_status_text(line: &str) -> String {
    let mut parts = line.splitn(3, ' ');
    let (Some(tag), Some(status)) = (parts.next(), parts.next()) else {
        return line.to_string();
    };
    if !matches!(status, "OK" | "NO" | "BAD" | "BYE" | "PREAUTH") {
        return line.to_string();
    }
    let rest = parts.next().unwrap_or("");
    match rest
        .strip_prefix('[')
        .and_then(|r| r.find(']').map(|end| &r[..end]))
    {
        Some(code) => format!("{tag} {status} [{code}]"),
        None => format!("{tag} {status}"),
    }
}

fn mask_number_after(line: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(key) {
        out.push_str(&rest[..at + key.len()]);
        rest = &rest[at + key.len()..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            out.push('#');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Runs the script on one server; the normalised answer of each step, in order.
fn run(port: u16) -> Vec<String> {
    let mut c = LineClient::connect(port);
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.send(format!("L LOGIN {USER} {PASSWORD}\r\n").as_bytes());
    let login = c.until("L ");
    assert!(login.contains("L OK"), "{login}");
    let mut answers = Vec::new();
    for (n, (command, literal)) in script().iter().enumerate() {
        let tag = format!("s{n}");
        let mut wire = format!("{tag} {command}\r\n").into_bytes();
        if let Some(data) = literal {
            wire.extend_from_slice(data);
            wire.extend_from_slice(b"\r\n");
        }
        c.send(&wire);
        answers.push(normalise(&c.until(&format!("{tag} "))));
    }
    answers
}

fn compare(backend: Backend) {
    let Some(dove) = dovecot::Dovecot::start_with_config(USER, PASSWORD, DOVECOT_NAMESPACE) else {
        return;
    };
    let Some(server) = Server::start_with(backend, &[]) else {
        return;
    };
    server.add_user(USER, PASSWORD, "diff@example.com");
    let port = dove.imap_port;
    let expected = std::panic::catch_unwind(|| run(port))
        .unwrap_or_else(|_| panic!("the script failed on Dovecot:\n{}", dove.log()));
    let port = server.imap_port;
    let got = std::panic::catch_unwind(|| run(port))
        .unwrap_or_else(|_| panic!("the script failed on Eider:\n{}", server.log()));
    // The charset search must find the message, not merely agree with Dovecot on nothing.
    let charset_step = script()
        .iter()
        .position(|(c, _)| c.starts_with("SEARCH CHARSET ISO-8859-1"))
        .unwrap();
    assert!(
        got[charset_step].starts_with("* SEARCH 4\n"),
        "{}",
        got[charset_step]
    );
    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut report = String::new();
    // Listed commands that have not (yet) differed; a command may occur more than once.
    let mut not_differing: Vec<&str> = known.keys().copied().collect();
    for (((command, _), dovecot), eider) in script().iter().zip(&expected).zip(&got) {
        if dovecot == eider {
            continue;
        }
        not_differing.retain(|c| c != command);
        if !known.contains_key(command.as_str()) {
            report.push_str(&format!(
                "--- {command}\nDovecot:\n{dovecot}Eider:\n{eider}\n"
            ));
        }
    }
    for command in not_differing {
        report.push_str(&format!(
            "--- {command} is listed in KNOWN_DIFFERENCES but answers like Dovecot\n"
        ));
    }
    assert!(
        report.is_empty(),
        "answers differ from Dovecot's:\n{report}"
    );
}

#[test]
fn session_matches_dovecot_sqlite() {
    compare(Backend::Sqlite);
}

#[test]
fn session_matches_dovecot_postgres() {
    compare(Backend::Postgres);
}
