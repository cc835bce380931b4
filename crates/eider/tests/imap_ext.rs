//! OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970), LITERAL- (RFC 7888) and
//! IMAP4rev2 (RFC 9051) behaviour after `ENABLE IMAP4rev2`: exact transcripts on both stores.

mod common;
mod dovecot;

use common::{Backend, LineClient, Server, api_request};

fn login(server: &Server, user: &str, password: &str) -> LineClient {
    login_port(server.imap_port, user, password)
}

fn login_port(port: u16, user: &str, password: &str) -> LineClient {
    let mut c = LineClient::connect(port);
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

fn append(c: &mut LineClient, tag: &str, mailbox: &str, extra: &str, message: &str) -> String {
    c.send(format!("{tag} APPEND {mailbox}{extra} {{{}+}}\r\n", message.len()).as_bytes());
    c.send(message.as_bytes());
    c.send(b"\r\n");
    c.until(&format!("{tag} "))
}

/// Mailbox path → id, from the HTTP API.
fn api_mailboxes(server: &Server, user_id: &str) -> std::collections::HashMap<String, String> {
    let list = api_request(
        server.api_port,
        "GET",
        &format!("/users/{user_id}/mailboxes"),
        None,
    );
    assert_eq!(list.status, 200);
    list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Today (UTC) as an IMAP date, e.g. `4-Dec-2026`.
fn imap_today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = now.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!("{d}-{}-{y}", MONTHS[m as usize - 1])
}

const TEXT_MESSAGE: &str = "From: a@example.com\r\n\
Subject: preview\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hello  there,\r\n\
\r\n\
the K=C3=A4se is\tready.\r\n";

const HTML_MESSAGE: &str = "From: a@example.com\r\n\
Subject: html\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><p>Big <b>news</b></p></body></html>\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAEC\r\n\
--b--\r\n";

both_stores!(objectid_savedate_preview, |server: &Server| {
    let user_id = server.add_user("obj", "pw", "obj@example.com");
    let mut c = login(server, "obj", "pw");
    // MAILBOXID in CREATE, STATUS, LIST-STATUS and SELECT: the API's mailbox id.
    let created = command(&mut c, "a", "CREATE Work");
    let ids = api_mailboxes(server, &user_id);
    let (work, inbox) = (&ids["Work"], &ids["INBOX"]);
    assert_eq!(
        created,
        format!("a OK [MAILBOXID ({work})] Create completed.\r\n")
    );
    assert_eq!(
        command(&mut c, "b", "STATUS Work (MAILBOXID MESSAGES)"),
        format!("* STATUS \"Work\" (MAILBOXID ({work}) MESSAGES 0)\r\nb OK Status completed.\r\n")
    );
    assert_eq!(
        command(
            &mut c,
            "c",
            "LIST \"\" Work RETURN (STATUS (MAILBOXID UIDNEXT))"
        ),
        format!(
            "* LIST (\\HasNoChildren) \"/\" \"Work\"\r\n\
             * STATUS \"Work\" (MAILBOXID ({work}) UIDNEXT 1)\r\nc OK List completed.\r\n"
        )
    );
    // Appended with an old INTERNALDATE: SAVEDATE is still today.
    let old = " \"01-Jan-2020 10:00:00 +0000\"";
    assert!(append(&mut c, "d", "INBOX", old, TEXT_MESSAGE).starts_with("d OK [APPENDUID "));
    assert!(append(&mut c, "e", "INBOX", "", HTML_MESSAGE).starts_with("e OK [APPENDUID "));
    let select = command(&mut c, "f", "SELECT INBOX");
    assert!(
        select.contains(&format!("* OK [MAILBOXID ({inbox})] Ok\r\n")),
        "{select}"
    );
    let today_before = imap_today();
    let fetched = command(&mut c, "g", "FETCH 1:2 (EMAILID THREADID SAVEDATE PREVIEW)");
    let today_after = imap_today();
    let email_ids: Vec<&str> = fetched
        .split("EMAILID (")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap())
        .collect();
    let (id1, id2) = (email_ids[0].to_string(), email_ids[1].to_string());
    for id in [&id1, &id2] {
        assert_eq!(id.len(), 25, "{id}");
        assert!(id.starts_with('M') && id[1..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_ne!(id1, id2);
    let saved: Vec<&str> = fetched
        .split("SAVEDATE \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    for date in &saved {
        let day = date.split(' ').next().unwrap().trim_start_matches('0');
        assert!(
            day == today_before || day == today_after,
            "{date} (today: {today_before})"
        );
        assert!(date.ends_with(" +0000"), "{date}");
    }
    // The preview is UTF-8 folded to single spaces (a literal, as it is not ASCII); the HTML-only
    // message's preview is its text.
    assert_eq!(
        fetched,
        format!(
            "* 1 FETCH (EMAILID ({id1}) THREADID NIL SAVEDATE \"{}\" PREVIEW {{32}}\r\n\
             Hello there, the K\u{e4}se is ready.)\r\n\
             * 2 FETCH (EMAILID ({id2}) THREADID NIL SAVEDATE \"{}\" PREVIEW \"Big news\")\r\n\
             g OK Fetch completed.\r\n",
            saved[0], saved[1]
        )
    );
    assert_eq!(
        command(&mut c, "h", "FETCH 2 (PREVIEW (LAZY) INTERNALDATE)")
            .split(" INTERNALDATE")
            .next()
            .unwrap(),
        "* 2 FETCH (PREVIEW \"Big news\""
    );
    assert_eq!(
        command(&mut c, "i", "FETCH 1 (PREVIEW (EAGER))"),
        "i BAD Unknown preview modifier EAGER\r\n"
    );
    // SEARCH by object id and by save date; BEFORE still uses INTERNALDATE.
    assert_eq!(
        command(&mut c, "j", &format!("SEARCH EMAILID {id2}")),
        "* SEARCH 2\r\nj OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "k", "SEARCH THREADID T1"),
        "* SEARCH\r\nk OK Search completed.\r\n"
    );
    assert_eq!(
        command(
            &mut c,
            "l",
            "SEARCH SAVEDATESUPPORTED SAVEDBEFORE 1-Jan-2021"
        ),
        "* SEARCH\r\nl OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "m", "SEARCH BEFORE 1-Jan-2021"),
        "* SEARCH 1\r\nm OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "n", "SEARCH SAVEDSINCE 1-Jan-2021"),
        "* SEARCH 1 2\r\nn OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "o", "SEARCH EMAILID M.1"),
        "o BAD Invalid object id\r\n"
    );
    // EMAILID stays with the content through COPY and MOVE; the mailbox id through RENAME.
    assert!(command(&mut c, "p", "COPY 1 Work").starts_with("p OK [COPYUID "));
    assert!(command(&mut c, "q", "MOVE 2 Work").contains(" OK [COPYUID "));
    assert_eq!(
        command(&mut c, "r", "RENAME Work Archive"),
        "r OK Rename completed.\r\n"
    );
    let select = command(&mut c, "s", "EXAMINE Archive");
    assert!(
        select.contains(&format!("* OK [MAILBOXID ({work})] Ok\r\n")),
        "{select}"
    );
    assert_eq!(
        command(&mut c, "t", "FETCH 1:2 (EMAILID)"),
        format!(
            "* 1 FETCH (EMAILID ({id1}))\r\n* 2 FETCH (EMAILID ({id2}))\r\nt OK Fetch completed.\r\n"
        )
    );
});

both_stores!(imap4rev2_after_enable, |server: &Server| {
    server.add_user("rev", "pw", "rev@example.com");
    let mut c = login(server, "rev", "pw");
    assert!(append(&mut c, "a", "INBOX", "", TEXT_MESSAGE).starts_with("a OK [APPENDUID "));
    // IMAP4rev1 answers until the client enables rev2.
    let select = command(&mut c, "b", "EXAMINE INBOX");
    assert!(select.contains("* 1 RECENT\r\n* OK [UNSEEN 1] First unseen.\r\n"));
    assert_eq!(
        command(&mut c, "c", "SEARCH UNSEEN"),
        "* SEARCH 1\r\nc OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "d", "UNSELECT"),
        "d OK UNSELECT completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "e", "ENABLE IMAP4rev2"),
        "* ENABLED IMAP4rev2\r\ne OK ENABLE completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "f", "ENABLE IMAP4rev2"),
        "f OK ENABLE completed.\r\n"
    );
    // SELECT: no RECENT, no UNSEEN code; the mailbox's LIST response (RFC 9051 §6.3.2).
    let select = command(&mut c, "g", "SELECT INBOX");
    let validity = select
        .split("[UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
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
             * 1 EXISTS\r\n\
             * OK [UIDVALIDITY {validity}] UIDs valid\r\n\
             * OK [UIDNEXT 2] Predicted next UID\r\n\
             * OK [HIGHESTMODSEQ 2] Highest\r\n\
             * OK [MAILBOXID ({mailbox_id})] Ok\r\n\
             * LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n\
             g OK [READ-WRITE] Select completed (1 messages)\r\n"
        )
    );
    // No \Recent flag.
    assert_eq!(
        command(&mut c, "h", "FETCH 1 FLAGS"),
        "* 1 FETCH (FLAGS ())\r\nh OK Fetch completed.\r\n"
    );
    // SEARCH answers with ESEARCH (RFC 9051 §6.4.4), empty results too.
    assert_eq!(
        command(&mut c, "i", "SEARCH UNSEEN"),
        "* ESEARCH (TAG \"i\") ALL 1\r\ni OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "j", "UID SEARCH ALL"),
        "* ESEARCH (TAG \"j\") UID ALL 1\r\nj OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "k", "SEARCH SEEN"),
        "* ESEARCH (TAG \"k\")\r\nk OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "l", "SEARCH RETURN (COUNT) ALL"),
        "* ESEARCH (TAG \"l\") COUNT 1\r\nl OK Search completed.\r\n"
    );
    // A new message arrives: EXISTS without RECENT.
    let mut other = login(server, "rev", "pw");
    assert!(append(&mut other, "a", "INBOX", "", HTML_MESSAGE).starts_with("a OK [APPENDUID "));
    assert_eq!(
        command(&mut c, "m", "NOOP"),
        "* 2 EXISTS\r\nm OK NOOP completed.\r\n"
    );
    // Mailbox names are UTF-8 (RFC 9051 §5.1), with `&` an ordinary character.
    let created = command(&mut c, "n", "CREATE \"K\u{e4}se/a&b\"");
    assert!(
        created.starts_with("n OK [MAILBOXID (") && created.ends_with(")] Create completed.\r\n"),
        "{created}"
    );
    assert_eq!(
        command(&mut c, "o", "LIST \"\" \"K\u{e4}se*\""),
        "* LIST (\\HasChildren) \"/\" {5}\r\nK\u{e4}se\r\n\
         * LIST (\\HasNoChildren) \"/\" {9}\r\nK\u{e4}se/a&b\r\no OK List completed.\r\n"
    );
    // A rev1 session sees the same names in modified UTF-7.
    assert_eq!(
        command(&mut other, "b", "LIST \"\" \"K&AOQ-se*\""),
        "* LIST (\\HasChildren) \"/\" \"K&AOQ-se\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"K&AOQ-se/a&-b\"\r\nb OK List completed.\r\n"
    );
    // A parent whose children keep it: NO [HASCHILDREN] (RFC 9051 §7.1).
    assert_eq!(
        command(&mut c, "p", "DELETE \"K\u{e4}se\""),
        "p NO [HASCHILDREN] Mailbox has children, delete them first.\r\n"
    );
    // UNAUTHENTICATE leaves rev2 behind.
    assert_eq!(
        command(&mut c, "q", "UNAUTHENTICATE"),
        "q OK UNAUTHENTICATE completed.\r\n"
    );
    assert!(command(&mut c, "r", "LOGIN rev pw").starts_with("r OK [CAPABILITY "));
    let select = command(&mut c, "s", "EXAMINE INBOX");
    assert!(select.contains(" RECENT\r\n"), "{select}");
    assert!(!select.contains("* LIST"), "{select}");
});

/// `imap.literal_plus = false`: LITERAL- (RFC 7888), non-synchronizing literals up to 4096 bytes.
fn literal_minus(backend: Backend) {
    let Some(server) = Server::start_with(backend, &[("EIDER_IMAP_LITERAL_PLUS", "false")]) else {
        return;
    };
    server.add_user("lit", "pw", "lit@example.com");
    let mut c = LineClient::connect(server.imap_port);
    let greeting = c.line();
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ID "),
        "{greeting}"
    );
    assert!(!greeting.contains("LITERAL+"), "{greeting}");
    c.send(b"a LOGIN {3+}\r\nlit {2+}\r\npw\r\n");
    assert!(c.until("a ").starts_with("a OK [CAPABILITY "));
    // 4096 bytes without waiting: accepted.
    let message = format!("Subject: x\r\n\r\n{}\r\n", "y".repeat(4096 - 16));
    assert_eq!(message.len(), 4096);
    let answer = append(&mut c, "b", "INBOX", "", &message);
    assert!(answer.starts_with("b OK [APPENDUID "), "{answer}");
    // One byte more: refused (the bytes are read and dropped); the session goes on.
    let message = format!("{message}z");
    assert_eq!(
        append(&mut c, "c", "INBOX", "", &message),
        "c BAD [TOOBIG] Non-synchronizing literal over 4096 bytes (LITERAL-)\r\n"
    );
    // A synchronizing literal of any size is still fine.
    c.send(format!("d APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    assert_eq!(c.line(), "+ Ready for literal data\r\n");
    c.send(message.as_bytes());
    c.send(b"\r\n");
    assert!(c.until("d ").starts_with("d OK [APPENDUID "));
    assert_eq!(
        command(&mut c, "e", "STATUS INBOX (MESSAGES)"),
        "* STATUS \"INBOX\" (MESSAGES 2)\r\ne OK Status completed.\r\n"
    );
}

#[test]
fn literal_minus_sqlite() {
    literal_minus(Backend::Sqlite);
}

#[test]
fn literal_minus_postgres() {
    literal_minus(Backend::Postgres);
}

/// The untagged part of answers to commands both servers must answer alike.
fn preview_and_savedate_transcript(c: &mut LineClient) -> Vec<String> {
    let old = " \"01-Jan-2020 10:00:00 +0000\"";
    assert!(append(c, "a", "INBOX", old, TEXT_MESSAGE).contains("a OK "));
    assert!(append(c, "b", "INBOX", "", HTML_MESSAGE).contains("b OK "));
    command(c, "s", "SELECT INBOX");
    [
        "FETCH 1:2 (PREVIEW)",
        "FETCH 1:2 (PREVIEW (LAZY))",
        "SEARCH SAVEDBEFORE 1-Jan-2021",
        "SEARCH BEFORE 1-Jan-2021",
        "SEARCH SAVEDSINCE 1-Jan-2021",
        "SEARCH SAVEDATESUPPORTED",
        "SEARCH NOT SAVEDATESUPPORTED",
    ]
    .iter()
    .map(|cmd| {
        let answer = command(c, "t", cmd);
        assert!(
            answer.contains("\r\nt OK ") || answer.starts_with("t OK "),
            "{cmd}: {answer}"
        );
        format!("{cmd} => {}", &answer[..answer.find("t OK").unwrap()])
    })
    .collect()
}

/// PREVIEW text and SAVEDATE searches against Dovecot (when installed): the same answers.
#[test]
fn preview_and_savedate_match_dovecot() {
    let Some(dove) = dovecot::Dovecot::start("pv", "pw") else {
        return;
    };
    let mut d = login_port(dove.imap_port, "pv", "pw");
    let caps = command(&mut d, "c", "CAPABILITY");
    assert!(
        caps.contains(" PREVIEW ") && caps.contains(" SAVEDATE "),
        "{caps}"
    );
    let theirs = preview_and_savedate_transcript(&mut d);
    let server = Server::start(Backend::Sqlite);
    server.add_user("pv", "pw", "pv@example.com");
    let mut c = login(&server, "pv", "pw");
    let ours = preview_and_savedate_transcript(&mut c);
    assert_eq!(ours, theirs);
}

/// APPENDs raw bytes with a non-synchronizing literal; the UID from APPENDUID, if stored.
fn append_raw(c: &mut LineClient, message: &[u8]) -> Option<u32> {
    c.send(format!("a APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes());
    c.send(message);
    c.send(b"\r\n");
    let answer = c.until("a ");
    let rest = answer.split("[APPENDUID ").nth(1)?;
    rest.split([' ', ']']).nth(1)?.parse().ok()
}

/// `UID FETCH uid (PREVIEW)`: the preview text, quoted or literal.
fn fetch_preview(c: &mut LineClient, uid: u32) -> String {
    c.send(format!("p UID FETCH {uid} (PREVIEW)\r\n").as_bytes());
    let head = c.line();
    let at = head.find("PREVIEW ").expect(&head) + 8;
    let value = if head[at..].starts_with('{') {
        let len: usize = head[at + 1..head.len() - 3].parse().unwrap();
        let text = String::from_utf8(c.read_exact(len)).unwrap();
        c.line();
        text
    } else {
        let quoted = head[at..].trim_end().trim_end_matches(')');
        let inner = &quoted[1..quoted.len() - 1];
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    };
    let done = c.until("p ");
    assert!(
        done.ends_with("p OK Fetch completed.\r\n") || done.contains("p OK "),
        "{done}"
    );
    value
}

/// Exact PREVIEW matches with Dovecot over the edge corpus; raise when a difference is fixed.
const PREVIEW_FLOOR: usize = 420;

/// PREVIEW of every corpus message against Dovecot's (when both are available): counted, the
/// differing files printed, a floor asserted. The two summaries are written independently (RFC
/// 8970 leaves the algorithm to the server), so some differ; see docs/COMPLIANCE.md.
#[test]
fn corpus_previews_against_dovecot() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let Some(dove) = dovecot::Dovecot::start("pv", "pw") else {
        return;
    };
    let server = Server::start(Backend::Sqlite);
    server.add_user("pv", "pw", "pv@example.com");
    let mut ours = login(&server, "pv", "pw");
    let mut theirs = login_port(dove.imap_port, "pv", "pw");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![corpus];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "eml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let (mut same, mut compared) = (0, 0);
    let mut differ = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        // CRLF line ends for both (Eider converts bare LF itself; Dovecot keeps them).
        let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 20);
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        if crlf.is_empty() || crlf.contains(&0) {
            continue;
        }
        let (Some(a), Some(b)) = (append_raw(&mut ours, &crlf), append_raw(&mut theirs, &crlf))
        else {
            continue;
        };
        command(&mut ours, "s", "EXAMINE INBOX");
        command(&mut theirs, "s", "EXAMINE INBOX");
        let (mine, dovecot) = (fetch_preview(&mut ours, a), fetch_preview(&mut theirs, b));
        compared += 1;
        if mine == dovecot {
            same += 1;
        } else {
            differ.push(format!(
                "{}\n    eider:   {mine:?}\n    dovecot: {dovecot:?}",
                path.display()
            ));
        }
    }
    eprintln!(
        "PREVIEW: {same}/{compared} equal to Dovecot's; differ:\n{}",
        differ.join("\n")
    );
    assert!(compared >= 400, "only {compared} messages compared");
    assert!(
        same >= PREVIEW_FLOOR,
        "{same} equal previews, floor {PREVIEW_FLOOR}"
    );
}
