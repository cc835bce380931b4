//! Behaviours Dovecot's imaptest checks in its scripted tests, as exact transcripts on both stores,
//! so they stay fixed where imaptest is not installed (see docs/COMPLIANCE.md):
//! HIGHESTMODSEQ when a command other than SELECT turns CONDSTORE on (esearch-condstore),
//! ESEARCH MIN/MAX with MODSEQ (esearch-condstore), SORT by an address list that starts with a
//! group (sort-addresses), RECURSIVEMATCH with only REMOTE beside it (listext), and subscriptions
//! as names that outlive their mailbox (subscribe, listext).

mod common;

use common::{LineClient, Server};

fn login(server: &Server, user: &str) -> LineClient {
    server.add_user(user, "pw", &format!("{user}@example.com"));
    let mut c = LineClient::connect(server.imap_port);
    assert!(c.line().starts_with("* OK"));
    c.send(format!("L LOGIN {user} pw\r\n").as_bytes());
    let answer = c.until("L ");
    assert!(answer.starts_with("L OK"), "{answer}");
    c
}

fn command(c: &mut LineClient, tag: &str, cmd: &str) -> String {
    c.send(format!("{tag} {cmd}\r\n").as_bytes());
    c.until(&format!("{tag} "))
}

fn append(c: &mut LineClient, message: &str) {
    append_at(c, "", message);
}

/// APPEND with an internal date (`"22-Feb-2008 00:06:23 +0000" `) or none (`""`).
fn append_at(c: &mut LineClient, date: &str, message: &str) {
    c.send(
        format!(
            "ap APPEND INBOX {date}{{{}+}}\r\n{message}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    let answer = c.until("ap ");
    assert!(answer.starts_with("ap OK"), "{answer}");
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    let start = text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

both_stores!(
    condstore_enabled_by_fetch_and_esearch_modseq,
    |server: &Server| {
        let mut c = login(server, "modseq");
        for i in 1..=4 {
            append(&mut c, &format!("Subject: m{i}\r\n\r\nbody {i}\r\n"));
        }
        let select = command(&mut c, "s", "SELECT INBOX");
        let highest = number_after(&select, "[HIGHESTMODSEQ ");

        // FETCH MODSEQ turns CONDSTORE on: the client learns HIGHESTMODSEQ first (RFC 7162 §3.1).
        let first = command(&mut c, "f1", "FETCH 1 MODSEQ");
        let modseq1_before = number_after(&first, "MODSEQ (");
        assert_eq!(
            first,
            format!(
                "* OK [HIGHESTMODSEQ {highest}] Highest\r\n\
             * 1 FETCH (MODSEQ ({modseq1_before}))\r\nf1 OK Fetch completed.\r\n"
            )
        );
        // Only the first time.
        let again = command(&mut c, "f2", "FETCH 1 MODSEQ");
        assert_eq!(
            again,
            format!("* 1 FETCH (MODSEQ ({modseq1_before}))\r\nf2 OK Fetch completed.\r\n")
        );

        // Flag 1, 3, 2, 4 in that order: message 2's MODSEQ ends up above message 3's.
        let mut modseq = [0u64; 5];
        for n in [1, 3, 2, 4] {
            let answer = command(
                &mut c,
                &format!("st{n}"),
                &format!("STORE {n} +FLAGS \\Seen"),
            );
            modseq[n] = number_after(&answer, "MODSEQ (");
        }
        assert!(modseq[1] < modseq[3] && modseq[3] < modseq[2] && modseq[2] < modseq[4]);
        let criteria = "MODSEQ \"/flags/\\\\seen\" all 1";
        // MIN or MAX alone: the MODSEQ of the message returned (RFC 7162 §3.1.5) ...
        assert_eq!(
            command(&mut c, "e1", &format!("SEARCH RETURN (MIN) 1:3 {criteria}")),
            format!(
                "* ESEARCH (TAG \"e1\") MIN 1 MODSEQ {}\r\ne1 OK Search completed.\r\n",
                modseq[1]
            )
        );
        assert_eq!(
            command(&mut c, "e2", &format!("SEARCH RETURN (MAX) 1:3 {criteria}")),
            format!(
                "* ESEARCH (TAG \"e2\") MAX 3 MODSEQ {}\r\ne2 OK Search completed.\r\n",
                modseq[3]
            )
        );
        assert_eq!(
            command(
                &mut c,
                "e3",
                &format!("SEARCH RETURN (MIN MAX) 2:3 {criteria}")
            ),
            format!(
                "* ESEARCH (TAG \"e3\") MIN 2 MAX 3 MODSEQ {}\r\ne3 OK Search completed.\r\n",
                modseq[2]
            )
        );
        // ... with ALL or COUNT, the highest of every match.
        assert_eq!(
            command(&mut c, "e4", &format!("SEARCH RETURN () 1:3 {criteria}")),
            format!(
                "* ESEARCH (TAG \"e4\") ALL 1:3 MODSEQ {}\r\ne4 OK Search completed.\r\n",
                modseq[2]
            )
        );
        assert_eq!(
            command(
                &mut c,
                "e5",
                &format!("SEARCH RETURN (MIN COUNT) 1:4 {criteria}")
            ),
            format!(
                "* ESEARCH (TAG \"e5\") MIN 1 COUNT 4 MODSEQ {}\r\ne5 OK Search completed.\r\n",
                modseq[4]
            )
        );
    }
);

both_stores!(
    sort_by_group_address_and_recursivematch_remote,
    |server: &Server| {
        let mut c = login(server, "sorter");
        // imaptest's sort-addresses messages, an hour apart: message 2's Cc is a group whose name sorts
        // with message 1's mailbox "user2"; message 3's "user1" comes first.
        append_at(
            &mut c,
            "\"22-Feb-2008 00:06:23 +0000\" ",
            "From: user2@domain2.org\r\nTo: foo bar <user2@domain2.org>\r\nCc: user2@domain2.org (foo bar)\r\n\r\n1\r\n",
        );
        append_at(
            &mut c,
            "\"22-Feb-2008 01:06:23 +0000\" ",
            "From: user2@domain1.org\r\nTo: user2@domain1.org\r\nCc: user2: blah@domain1.org;\r\n\r\n2\r\n",
        );
        append_at(
            &mut c,
            "\"22-Feb-2008 02:06:23 +0000\" ",
            "From: user1@domain1.org\r\nTo: user1@domain1.org\r\nCc: user1@domain1.org\r\n\r\n3\r\n",
        );
        command(&mut c, "s", "SELECT INBOX");
        for (criteria, expected) in [
            ("(CC)", "3 1 2"),
            ("(REVERSE CC)", "1 2 3"),
            ("(CC REVERSE ARRIVAL)", "3 2 1"),
        ] {
            assert_eq!(
                command(&mut c, "so", &format!("SORT {criteria} US-ASCII ALL")),
                format!("* SORT {expected}\r\nso OK Sort completed.\r\n"),
                "{criteria}"
            );
        }

        // RFC 5258 §3: RECURSIVEMATCH needs a selection option other than REMOTE.
        let answer = command(&mut c, "l", "LIST (RECURSIVEMATCH REMOTE) \"\" \"\"");
        assert!(answer.starts_with("l BAD "), "{answer}");
        assert!(answer.contains("RECURSIVEMATCH"), "{answer}");
    }
);

// RFC 3501 §6.3.3-6.3.9 and RFC 5258: CREATE does not subscribe, a name without a mailbox can be
// subscribed, DELETE keeps the subscription (LSUB \Noselect, LIST (SUBSCRIBED) \NonExistent),
// RENAME moves the subscriptions of the mailbox and its children.
both_stores!(subscriptions_are_names, |server: &Server| {
    let mut c = login(server, "subs");
    for (tag, cmd) in [("c1", "CREATE S/a"), ("c2", "CREATE S/b/c")] {
        assert_eq!(
            command(&mut c, tag, cmd)
                .lines()
                .last()
                .unwrap()
                .split(' ')
                .nth(1),
            Some("OK")
        );
    }
    assert_eq!(
        command(&mut c, "l1", "LSUB \"\" \"S/*\""),
        "l1 OK Lsub completed.\r\n"
    );
    for (tag, name) in [("s1", "S/a"), ("s2", "S/ghost"), ("s3", "S/b/c")] {
        assert_eq!(
            command(&mut c, tag, &format!("SUBSCRIBE {name}")),
            format!("{tag} OK Subscribe completed.\r\n")
        );
    }
    assert_eq!(
        command(&mut c, "l2", "LSUB \"\" \"S/*\""),
        "* LSUB () \"/\" \"S/a\"\r\n* LSUB () \"/\" \"S/b/c\"\r\n\
         * LSUB (\\Noselect) \"/\" \"S/ghost\"\r\nl2 OK Lsub completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "l3", "LSUB \"\" \"S/%\""),
        "* LSUB () \"/\" \"S/a\"\r\n* LSUB (\\Noselect) \"/\" \"S/ghost\"\r\n\
         * LSUB (\\Noselect) \"/\" \"S/b\"\r\nl3 OK Lsub completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "d1", "DELETE S/a"),
        "d1 OK Delete completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "l4", "LSUB \"\" \"S/a\""),
        "* LSUB (\\Noselect) \"/\" \"S/a\"\r\nl4 OK Lsub completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "l5", "LIST (SUBSCRIBED) \"\" \"S/*\""),
        "* LIST (\\Subscribed \\NonExistent) \"/\" \"S/a\"\r\n\
         * LIST (\\HasNoChildren \\Subscribed) \"/\" \"S/b/c\"\r\n\
         * LIST (\\Subscribed \\NonExistent) \"/\" \"S/ghost\"\r\nl5 OK List completed.\r\n"
    );
    // Plain LIST shows only mailboxes.
    assert_eq!(
        command(&mut c, "l6", "LIST \"\" \"S/*\" RETURN (SUBSCRIBED)"),
        "* LIST (\\HasChildren) \"/\" \"S/b\"\r\n\
         * LIST (\\HasNoChildren \\Subscribed) \"/\" \"S/b/c\"\r\nl6 OK List completed.\r\n"
    );
    // RENAME moves the subscriptions of the mailbox and its children.
    assert_eq!(
        command(&mut c, "r1", "RENAME S/b S/d"),
        "r1 OK Rename completed.\r\n"
    );
    assert_eq!(
        command(&mut c, "l7", "LSUB \"\" \"S/*\""),
        "* LSUB (\\Noselect) \"/\" \"S/a\"\r\n* LSUB () \"/\" \"S/d/c\"\r\n\
         * LSUB (\\Noselect) \"/\" \"S/ghost\"\r\nl7 OK Lsub completed.\r\n"
    );
    for (tag, name) in [("u1", "S/ghost"), ("u2", "S/a"), ("u3", "S/never")] {
        assert_eq!(
            command(&mut c, tag, &format!("UNSUBSCRIBE {name}")),
            format!("{tag} OK Unsubscribe completed.\r\n")
        );
    }
    // A mailbox created again under a name that is no longer subscribed stays unsubscribed.
    command(&mut c, "c3", "CREATE S/a");
    assert_eq!(
        command(&mut c, "l8", "LSUB \"\" \"S/*\""),
        "* LSUB () \"/\" \"S/d/c\"\r\nl8 OK Lsub completed.\r\n"
    );
});
