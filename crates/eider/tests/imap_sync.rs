//! IMAP synchronisation and ordering extensions end to end, as exact transcripts on both stores:
//! CONDSTORE/QRESYNC (RFC 7162), ESEARCH (4731), SEARCHRES (5182), WITHIN (5032), SORT/ESORT/
//! SORT=DISPLAY (5256, 5267, 5957), THREAD (5256), LIST-EXTENDED/LIST-STATUS/STATUS=SIZE
//! (5258, 5819, 8438). SORT and THREAD answers were worked out by hand from the messages below and
//! are also compared with Dovecot's when it is installed.

mod common;
mod dovecot;

use common::{LineClient, Server};

fn greet_and_login(port: u16, user: &str, password: &str) -> LineClient {
    let mut c = LineClient::connect(port);
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.send(format!("L LOGIN {user} {password}\r\n").as_bytes());
    let answer = c.until("L ");
    assert!(answer.starts_with("L OK"), "{answer}");
    c
}

fn login(server: &Server, user: &str) -> LineClient {
    greet_and_login(server.imap_port, user, "pw")
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

/// APPENDs with a LITERAL+ literal; returns the tagged answer.
fn append(c: &mut LineClient, mailbox: &str, extra: &str, message: &str) -> String {
    c.send(
        format!(
            "ap APPEND {mailbox} {extra}{{{}+}}\r\n{message}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    c.until("ap ")
}

/// The number after `key ` in `text` (e.g. `HIGHESTMODSEQ 7`, `MODSEQ (7`).
fn number_after(text: &str, key: &str) -> u64 {
    let start = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

fn plain(i: u32) -> String {
    format!("From: a@example.com\r\nSubject: m{i}\r\nMessage-ID: <p{i}@x>\r\n\r\nbody {i}\r\n")
}

both_stores!(capabilities_advertised, |server: &Server| {
    server.add_user("cap", "pw", "cap@example.com");
    let mut c = login(server, "cap");
    let caps = command(&mut c, "a", "CAPABILITY");
    for cap in [
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
    ] {
        assert!(
            caps.contains(&format!(" {cap} ")) || caps.contains(&format!(" {cap}\r\n")),
            "{cap}: {caps}"
        );
    }
});

both_stores!(condstore_transcript, |server: &Server| {
    server.add_user("cs", "pw", "cs@example.com");
    let mut c = login(server, "cs");
    for i in 1..=3 {
        assert!(append(&mut c, "INBOX", "", &plain(i)).starts_with("ap OK [APPENDUID "));
    }
    let select = command(&mut c, "s", "SELECT INBOX (CONDSTORE)");
    let h0 = number_after(&select, "[HIGHESTMODSEQ ");
    assert!(
        select.ends_with("s OK [READ-WRITE] Select completed (3 messages)\r\n"),
        "{select}"
    );
    // MODSEQ rides along with FLAGS once CONDSTORE is on.
    let store = command(&mut c, "a", "STORE 2 +FLAGS (\\Flagged)");
    let m2 = number_after(&store, "MODSEQ (");
    assert!(m2 > h0);
    assert_eq!(
        store,
        format!(
            "* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ ({m2}))\r\na OK Store completed.\r\n"
        )
    );
    assert_eq!(
        command(&mut c, "b", "FETCH 1:3 (FLAGS) (CHANGEDSINCE 0)"),
        format!(
            "* 1 FETCH (FLAGS (\\Recent) MODSEQ ({}))\r\n* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ ({m2}))\r\n* 3 FETCH (FLAGS (\\Recent) MODSEQ ({}))\r\nb OK Fetch completed.\r\n",
            h0 - 2,
            h0
        )
    );
    assert_eq!(
        command(
            &mut c,
            "c",
            &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0})")
        ),
        format!(
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ ({m2}))\r\nc OK Fetch completed.\r\n"
        )
    );
    // UNCHANGEDSINCE: message 2 changed after h0, so it fails with [MODIFIED].
    let cond = command(
        &mut c,
        "d",
        &format!("UID STORE 1:2 (UNCHANGEDSINCE {h0}) +FLAGS.SILENT (\\Seen)"),
    );
    let m1 = number_after(&cond, "MODSEQ (");
    assert_eq!(
        cond,
        format!(
            "* 1 FETCH (UID 1 MODSEQ ({m1}))\r\nd OK [MODIFIED 2] Conditional STORE failed\r\n"
        )
    );
    assert_eq!(
        command(&mut c, "e", &format!("SEARCH MODSEQ {}", m2)),
        format!("* SEARCH 1 2 (MODSEQ {m1})\r\ne OK Search completed.\r\n")
    );
    assert_eq!(
        command(&mut c, "f", "SEARCH RETURN (COUNT) MODSEQ 1"),
        format!("* ESEARCH (TAG \"f\") COUNT 3 MODSEQ {m1}\r\nf OK Search completed.\r\n")
    );
    let status = command(&mut c, "g", "STATUS INBOX (HIGHESTMODSEQ MESSAGES)");
    assert_eq!(
        status,
        format!("* STATUS \"INBOX\" (HIGHESTMODSEQ {m1} MESSAGES 3)\r\ng OK Status completed.\r\n")
    );
    // Reselecting says the old mailbox is closed first.
    let again = command(&mut c, "h", "EXAMINE INBOX");
    assert!(
        again.starts_with("* OK [CLOSED] Previous mailbox closed.\r\n* FLAGS "),
        "{again}"
    );
    assert!(
        again.contains(&format!("* OK [HIGHESTMODSEQ {m1}] Highest\r\n")),
        "{again}"
    );
});

both_stores!(qresync_resync_after_other_session, |server: &Server| {
    server.add_user("qr", "pw", "qr@example.com");
    let mut a = login(server, "qr");
    for i in 1..=6 {
        assert!(append(&mut a, "INBOX", "", &plain(i)).starts_with("ap OK"));
    }
    assert_eq!(
        command(&mut a, "e", "ENABLE QRESYNC"),
        "* ENABLED QRESYNC\r\ne OK ENABLE completed.\r\n"
    );
    let select = command(&mut a, "s", "SELECT INBOX");
    let validity = number_after(&select, "[UIDVALIDITY ");
    let h0 = number_after(&select, "[HIGHESTMODSEQ ");
    assert_eq!(
        command(&mut a, "o", "LOGOUT").lines().last(),
        Some("o OK Logout completed.")
    );

    // Another session changes flags and expunges while the first is away.
    let mut b = login(server, "qr");
    command(&mut b, "s", "SELECT INBOX (CONDSTORE)");
    let flagged = command(&mut b, "f", "UID STORE 2 +FLAGS.SILENT (\\Flagged)");
    let m_flag = number_after(&flagged, "MODSEQ (");
    let deleted = command(&mut b, "d", "UID STORE 3:4,6 +FLAGS.SILENT (\\Deleted)");
    assert!(deleted.ends_with("d OK Store completed.\r\n"), "{deleted}");
    assert_eq!(
        command(&mut b, "x", "EXPUNGE"),
        "* 6 EXPUNGE\r\n* 4 EXPUNGE\r\n* 3 EXPUNGE\r\nx OK Expunge completed.\r\n"
    );
    let seen = command(&mut b, "g", "UID STORE 5 +FLAGS.SILENT (\\Seen)");
    let m_seen = number_after(&seen, "MODSEQ (");
    let status = command(&mut b, "t", "STATUS INBOX (HIGHESTMODSEQ)");
    let h1 = number_after(&status, "HIGHESTMODSEQ ");
    assert_eq!(h1, m_seen);

    // The first client comes back: VANISHED (EARLIER) with exactly the expunged UIDs it knew,
    // then the flags changed since its MODSEQ.
    let mut a = login(server, "qr");
    assert_eq!(
        command(
            &mut a,
            "s0",
            &format!("SELECT INBOX (QRESYNC ({validity} {h0} 1:6))")
        ),
        "s0 BAD QRESYNC is not enabled.\r\n"
    );
    command(&mut a, "e", "ENABLE QRESYNC");
    let resync = command(
        &mut a,
        "s",
        &format!("SELECT INBOX (QRESYNC ({validity} {h0} 1:6))"),
    );
    let mailbox_id = resync
        .split("[MAILBOXID (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    assert_eq!(
        resync,
        format!(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
             * 3 EXISTS\r\n* 0 RECENT\r\n\
             * OK [UNSEEN 1] First unseen.\r\n\
             * OK [UIDVALIDITY {validity}] UIDs valid\r\n\
             * OK [UIDNEXT 7] Predicted next UID\r\n\
             * OK [HIGHESTMODSEQ {h1}] Highest\r\n\
             * OK [MAILBOXID ({mailbox_id})] Ok\r\n\
             * VANISHED (EARLIER) 3:4,6\r\n\
             * 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({m_flag}))\r\n\
             * 3 FETCH (UID 5 FLAGS (\\Seen) MODSEQ ({m_seen}))\r\n\
             s OK [READ-WRITE] Select completed (3 messages)\r\n"
        )
    );
    // Known UIDs limit what VANISHED reports; a stale UIDVALIDITY gets a plain SELECT.
    let limited = command(
        &mut a,
        "k",
        &format!("EXAMINE INBOX (QRESYNC ({validity} {h0} 1:3))"),
    );
    assert!(limited.contains("* VANISHED (EARLIER) 3\r\n"), "{limited}");
    let stale = command(
        &mut a,
        "v",
        &format!("EXAMINE INBOX (QRESYNC ({} {h0}))", validity + 1),
    );
    assert!(
        !stale.contains("VANISHED") && !stale.contains("FETCH"),
        "{stale}"
    );
    command(&mut a, "s2", "SELECT INBOX");
    assert_eq!(
        command(
            &mut a,
            "f",
            &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
        ),
        format!(
            "* VANISHED (EARLIER) 3:4,6\r\n\
             * 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({m_flag}))\r\n\
             * 3 FETCH (UID 5 FLAGS (\\Seen) MODSEQ ({m_seen}))\r\n\
             f OK Fetch completed.\r\n"
        )
    );
    // Live expunges arrive as VANISHED, from another session and from this one.
    command(&mut b, "d2", "UID STORE 1 +FLAGS.SILENT (\\Deleted)");
    command(&mut b, "x2", "EXPUNGE");
    assert_eq!(
        command(&mut a, "n", "NOOP"),
        "* VANISHED 1\r\nn OK NOOP completed.\r\n"
    );
    command(&mut a, "d3", "UID STORE 5 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(
        command(&mut a, "x3", "UID EXPUNGE 5"),
        "* VANISHED 5\r\nx3 OK Expunge completed.\r\n"
    );
    assert!(
        command(&mut b, "n", "NOOP").contains("EXPUNGE"),
        "a session without QRESYNC still gets EXPUNGE"
    );
});

both_stores!(esearch_searchres_within, |server: &Server| {
    server.add_user("es", "pw", "es@example.com");
    let mut c = login(server, "es");
    append(
        &mut c,
        "INBOX",
        "(\\Flagged) \"01-Jan-2020 00:00:00 +0000\" ",
        &plain(1),
    );
    append(&mut c, "INBOX", "", &plain(2));
    append(&mut c, "INBOX", "(\\Flagged) ", &plain(3));
    append(
        &mut c,
        "INBOX",
        "\"02-Jan-2020 00:00:00 +0000\" ",
        &plain(4),
    );
    command(&mut c, "s", "SELECT INBOX");
    assert_eq!(
        command(&mut c, "a", "SEARCH RETURN (MIN MAX COUNT) ALL"),
        "* ESEARCH (TAG \"a\") MIN 1 MAX 4 COUNT 4\r\na OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "b", "UID SEARCH RETURN () NOT FLAGGED"),
        "* ESEARCH (TAG \"b\") UID ALL 2,4\r\nb OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "c", "SEARCH RETURN (COUNT) SUBJECT nothing-matches"),
        "* ESEARCH (TAG \"c\") COUNT 0\r\nc OK Search completed.\r\n"
    );
    // SAVE alone answers nothing; `$` is then the saved set.
    assert_eq!(
        command(&mut c, "d", "UID SEARCH RETURN (SAVE) FLAGGED"),
        "d OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "e", "UID FETCH $ (UID)"),
        "* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\ne OK Fetch completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "f", "SEARCH RETURN (SAVE MAX) ALL"),
        "* ESEARCH (TAG \"f\") MAX 4\r\nf OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "g", "SEARCH $"),
        "* SEARCH 4\r\ng OK Search completed.\r\n"
    );
    // WITHIN: two messages were appended with dates in 2020, two now.
    assert_eq!(
        command(&mut c, "h", "SEARCH YOUNGER 3600"),
        "* SEARCH 2 3\r\nh OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "i", "UID SEARCH OLDER 3600"),
        "* SEARCH 1 4\r\ni OK Search completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "j", "SEARCH RETURN (ALL) OLDER 3600 FLAGGED"),
        "* ESEARCH (TAG \"j\") ALL 1\r\nj OK Search completed.\r\n"
    );
});

/// The hand-made set for SORT and THREAD. Sent dates, in order: 1 (Jan 1), 3, 2, 5, 4, 6 (no Date:
/// header, so its internal date Jan 6), 7. Arrival (internal dates): 6, 4, 2, 1, 5, 3, 7.
const SORT_SET: [(&str, &str); 7] = [
    (
        "10-Jan-2024 09:00:00 +0000",
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: \"Aaron Zed\" <zed@example.com>\r\nTo: bob@example.com\r\nCc: carol@example.com\r\nSubject: Hello world\r\nMessage-ID: <m1@x>\r\n\r\nfirst\r\n",
    ),
    (
        "09-Jan-2024 09:00:00 +0000",
        "Date: Wed, 3 Jan 2024 10:00:00 +0000\r\nFrom: alice@example.com\r\nTo: Abe <yvonne@example.com>\r\nSubject: Re: Hello world\r\nMessage-ID: <m2@x>\r\nIn-Reply-To: <m1@x>\r\nReferences: <m1@x>\r\n\r\nsecond message, a little longer\r\n",
    ),
    (
        "12-Jan-2024 09:00:00 +0000",
        "Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nFrom: Bob B <bob@example.com>\r\nTo: alice@example.com\r\nCc: Al <al@example.com>\r\nSubject: [list] Planning\r\nMessage-ID: <m3@x>\r\n\r\nthird\r\n",
    ),
    (
        "08-Jan-2024 09:00:00 +0000",
        "Date: Fri, 5 Jan 2024 10:00:00 +0000\r\nFrom: Carl <carl@example.com>\r\nTo: zoe@example.com\r\nSubject: Re: Re: hello WORLD\r\nMessage-ID: <m4@x>\r\nReferences: <m1@x> <m2@x>\r\n\r\nfourth, the longest body of all of them by far\r\n",
    ),
    (
        "11-Jan-2024 09:00:00 +0000",
        "Date: Thu, 4 Jan 2024 10:00:00 +0000\r\nFrom: dave@example.com\r\nTo: Xavier <xavier@example.com>\r\nSubject: Fwd: planning (fwd)\r\nMessage-ID: <m5@x>\r\n\r\nfifth\r\n",
    ),
    (
        "06-Jan-2024 00:00:00 +0000",
        "From: eve <eve@example.com>\r\nSubject: Unrelated\r\nMessage-ID: <m6@x>\r\nReferences: <missing@x>\r\n\r\nsixth\r\n",
    ),
    (
        "13-Jan-2024 09:00:00 +0000",
        "Date: Sun, 7 Jan 2024 10:00:00 +0000\r\nFrom: frank@example.com\r\nSubject: Re: lost parent\r\nMessage-ID: <m7@x>\r\nReferences: <missing@x>\r\n\r\nseventh\r\n",
    ),
];

/// (command, expected answer lines before the tagged OK), worked out by hand.
fn sort_thread_expectations() -> Vec<(String, String)> {
    // Sizes: by length of the message text, smallest first (ties by sequence number).
    let mut by_size: Vec<(usize, usize)> = SORT_SET
        .iter()
        .enumerate()
        .map(|(i, (_, m))| (m.len(), i + 1))
        .collect();
    by_size.sort();
    let size_order: Vec<String> = by_size.iter().map(|(_, s)| s.to_string()).collect();
    let size_order = size_order.join(" ");
    [
        ("SORT (DATE) UTF-8 ALL", "* SORT 1 3 2 5 4 6 7".to_string()),
        (
            "SORT (REVERSE DATE) UTF-8 ALL",
            "* SORT 7 6 4 5 2 3 1".into(),
        ),
        ("SORT (ARRIVAL) UTF-8 ALL", "* SORT 6 4 2 1 5 3 7".into()),
        ("SORT (FROM) UTF-8 ALL", "* SORT 2 3 4 5 6 7 1".into()),
        (
            "SORT (DISPLAYFROM) UTF-8 ALL",
            "* SORT 1 2 3 4 5 6 7".into(),
        ),
        ("SORT (TO) UTF-8 ALL", "* SORT 6 7 3 1 5 2 4".into()),
        ("SORT (DISPLAYTO) UTF-8 ALL", "* SORT 6 7 2 3 1 5 4".into()),
        ("SORT (CC) US-ASCII ALL", "* SORT 2 4 5 6 7 3 1".into()),
        ("SORT (SUBJECT) UTF-8 ALL", "* SORT 1 2 4 7 3 5 6".into()),
        (
            "SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
            "* SORT 4 2 1 7 5 3 6".into(),
        ),
        ("SORT (SIZE) UTF-8 ALL", format!("* SORT {size_order}")),
        (
            "SORT (DATE) UTF-8 FROM example.com NOT SUBJECT planning",
            "* SORT 1 2 4 6 7".into(),
        ),
        ("UID SORT (DATE) UTF-8 ALL", "* SORT 2 4 3 6 5 7 8".into()),
        (
            "SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL",
            "* ESEARCH (TAG \"t\") MIN 1 MAX 7 ALL 1,3,2,5,4,6:7 COUNT 7".into(),
        ),
        (
            "UID SORT RETURN (COUNT) (SUBJECT) UTF-8 SUBJECT planning",
            "* ESEARCH (TAG \"t\") UID COUNT 2".into(),
        ),
        (
            "THREAD ORDEREDSUBJECT UTF-8 ALL",
            "* THREAD (1 (2)(4))(3 5)(6)(7)".into(),
        ),
        (
            "THREAD REFERENCES UTF-8 ALL",
            "* THREAD (1 2 4)(3 5)((6)(7))".into(),
        ),
        (
            "UID THREAD REFERENCES UTF-8 ALL",
            "* THREAD (2 3 5)(4 6)((7)(8))".into(),
        ),
        ("THREAD REFERENCES UTF-8 SUBJECT nothing", "* THREAD".into()),
    ]
    .into_iter()
    .map(|(c, e)| (c.to_string(), format!("{e}\r\n")))
    .collect()
}

/// Loads the sort set into INBOX behind one expunged message, so that UIDs are sequence + 1.
fn load_sort_set(c: &mut LineClient) {
    assert!(append(c, "INBOX", "", &plain(0)).starts_with("ap OK"));
    for (date, message) in SORT_SET {
        let answer = append(c, "INBOX", &format!("\"{date}\" "), message);
        assert!(answer.starts_with("ap OK"), "{answer}");
    }
    command(c, "s", "SELECT INBOX");
    command(c, "d", "STORE 1 +FLAGS.SILENT (\\Deleted)");
    command(c, "x", "EXPUNGE");
}

both_stores!(sort_and_thread, |server: &Server| {
    server.add_user("st", "pw", "st@example.com");
    let mut c = login(server, "st");
    load_sort_set(&mut c);
    for (cmd, expected) in sort_thread_expectations() {
        assert_eq!(
            command(&mut c, "t", &cmd),
            format!(
                "{expected}t OK {} completed.\r\n",
                if cmd.contains("THREAD") {
                    "Thread"
                } else {
                    "Sort"
                }
            ),
            "{cmd}"
        );
    }
    assert_eq!(
        command(&mut c, "b", "SORT (WEIGHT) UTF-8 ALL"),
        "b BAD Unknown sort criterion WEIGHT\r\n"
    );
});

/// The same SORT and THREAD commands against Dovecot, when it is installed: its answers must
/// equal the hand-worked ones above (and so ours).
#[test]
fn sort_and_thread_match_dovecot() {
    let Some(dove) = dovecot::Dovecot::start("st", "pw") else {
        return;
    };
    let mut c = greet_and_login(dove.imap_port, "st", "pw");
    load_sort_set(&mut c);
    for (cmd, expected) in sort_thread_expectations() {
        let answer = command(&mut c, "t", &cmd);
        let untagged: String = answer
            .lines()
            .filter(|l| !l.starts_with("t "))
            // Dovecot ends an empty `* THREAD ` with a space the RFC 5256 grammar does not have.
            .map(|l| format!("{}\r\n", l.trim_end()))
            .collect();
        assert!(
            answer.lines().last().unwrap().starts_with("t OK"),
            "{cmd}: {answer}"
        );
        assert_eq!(untagged, expected, "Dovecot disagrees on {cmd}");
    }
}

both_stores!(list_extended_and_status, |server: &Server| {
    server.add_user("ls", "pw", "ls@example.com");
    let mut c = login(server, "ls");
    command(&mut c, "c1", "CREATE Projects/Alpha");
    command(&mut c, "c2", "CREATE Projects/Beta");
    command(&mut c, "u1", "UNSUBSCRIBE Projects");
    command(&mut c, "u2", "UNSUBSCRIBE Projects/Alpha");
    command(&mut c, "u3", "SUBSCRIBE Projects/Beta");
    let message = plain(1);
    append(&mut c, "Projects/Beta", "", &message);
    append(&mut c, "Projects/Beta", "(\\Seen) ", &message);
    let list = command(
        &mut c,
        "a",
        "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"Projects%\"",
    );
    assert_eq!(
        list,
        "* LIST (\\HasChildren) \"/\" \"Projects\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\na OK List completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "b", "LIST (SUBSCRIBED) \"\" \"Projects*\""),
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Projects/Beta\"\r\nb OK List completed.\r\n"
    );
    assert_eq!(
        command(
            &mut c,
            "c",
            "LIST \"\" (\"Projects/*\" \"INBOX\") RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN SIZE))"
        ),
        format!(
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n* STATUS \"INBOX\" (MESSAGES 0 UNSEEN 0 SIZE 0)\r\n\
             * LIST (\\HasNoChildren) \"/\" \"Projects/Alpha\"\r\n* STATUS \"Projects/Alpha\" (MESSAGES 0 UNSEEN 0 SIZE 0)\r\n\
             * LIST (\\HasNoChildren \\Subscribed) \"/\" \"Projects/Beta\"\r\n* STATUS \"Projects/Beta\" (MESSAGES 2 UNSEEN 1 SIZE {})\r\n\
             c OK List completed.\r\n",
            2 * message.len()
        )
    );
    let special = command(&mut c, "d", "LIST (SPECIAL-USE) \"\" \"*\"");
    assert!(
        special
            .lines()
            .filter(|l| l.starts_with("* LIST"))
            .all(|l| l.contains(" \\") && !l.contains("Projects")),
        "{special}"
    );
    assert!(special.contains("\\Trash"), "{special}");
    assert_eq!(
        command(&mut c, "e", "STATUS Projects/Beta (SIZE MESSAGES)"),
        format!(
            "* STATUS \"Projects/Beta\" (SIZE {} MESSAGES 2)\r\ne OK Status completed.\r\n",
            2 * message.len()
        )
    );
});
