//! Parser table tests, client transcripts and fuzzing.

use crate::*;
use proptest::prelude::*;

fn line(s: &str) -> Vec<Fragment> {
    vec![Fragment::Line(s.as_bytes().to_vec())]
}

fn ok(s: &str) -> Command {
    match parse_command(line(s)) {
        Ok(c) => c,
        Err(e) => panic!("{s:?}: {e:?}"),
    }
}

fn body(s: &str) -> CommandBody {
    ok(s).body
}

fn bad(s: &str) -> ParseError {
    match parse_command(line(s)) {
        Ok(c) => panic!("{s:?} parsed: {c:?}"),
        Err(e) => e,
    }
}

fn frags(parts: &[&[u8]]) -> Vec<Fragment> {
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 0 {
                Fragment::Line(p.to_vec())
            } else {
                Fragment::Literal(p.to_vec())
            }
        })
        .collect()
}

fn v(n: u32) -> SeqNum {
    SeqNum::Value(n)
}

fn r(a: SeqNum, b: SeqNum) -> SeqRange {
    SeqRange { start: a, end: b }
}

#[test]
fn simple_commands() {
    use CommandBody as C;
    let cases = [
        ("a CAPABILITY", C::Capability),
        ("a noop", C::Noop),
        ("a LOGOUT", C::Logout),
        ("a StartTLS", C::StartTls),
        ("a CHECK", C::Check),
        ("a CLOSE", C::Close),
        ("a UNSELECT", C::Unselect),
        ("a EXPUNGE", C::Expunge),
        ("a IDLE", C::Idle),
        ("a NAMESPACE", C::Namespace),
    ];
    for (s, want) in cases {
        assert_eq!(body(s), want, "{s}");
        assert_eq!(want.name(), s[2..].to_ascii_uppercase());
    }
    assert_eq!(ok("A0001 NOOP").tag, "A0001");
    assert_eq!(ok("tag]! NOOP").tag, "tag]!");
}

#[test]
fn tags_and_names() {
    assert_eq!(bad("").tag, None);
    assert_eq!(bad("+ NOOP").tag, None);
    assert_eq!(bad("a+ NOOP").tag, None);
    assert_eq!(bad("(a NOOP").tag, None);
    let e = bad("a");
    assert_eq!(
        (e.tag.as_deref(), e.message.as_str()),
        (Some("a"), "Missing command name")
    );
    let e = bad("a FOO bar");
    assert_eq!(e.message, "Unknown command FOO");
    assert_eq!(e.kind, ErrorKind::UnknownCommand);
    assert_eq!(e.to_response(), "a BAD Unknown command FOO\r\n");
    assert_eq!(bad("a UID FOO 1").message, "Unknown command UID FOO");
    assert_eq!(bad("a NOOP extra").message, "Unexpected extra arguments");
    assert_eq!(bad("a NOOP ").tag.as_deref(), Some("a"));
    assert_eq!(bad("a  NOOP").tag.as_deref(), Some("a"));
    assert_eq!(bad("a NO\0OP").tag.as_deref(), Some("a"));
    assert_eq!(bad("a\0 NOOP").tag, None);
    assert_eq!(bad("\u{e9} NOOP").tag, None);
    assert_eq!(bad("a NOOP(").message, "Invalid command name");
    assert_eq!(bad("a NOOP\r").tag.as_deref(), Some("a"));
}

#[test]
fn login() {
    let c = |s: &str| match body(s) {
        CommandBody::Login { username, password } => (username, password),
        o => panic!("{o:?}"),
    };
    assert_eq!(c("a LOGIN joe secret"), ("joe".into(), "secret".into()));
    assert_eq!(
        c(r#"a login "joe@x" "p a\"s\\s""#),
        ("joe@x".into(), r#"p a"s\s"#.into())
    );
    assert_eq!(c(r#"a LOGIN "" """#), (String::new(), String::new()));
    assert_eq!(c("a LOGIN fred] pw"), ("fred]".into(), "pw".into()));
    assert_eq!(c("a LOGIN \"j\u{f6}rg\" pw").0, "j\u{f6}rg");
    // literals (sync and non-sync)
    let cmd = parse_command(frags(&[
        b"a LOGIN {3}",
        b"joe",
        b" {6+}",
        b"s\x20cret",
        b"",
    ]))
    .unwrap();
    assert_eq!(
        cmd.body,
        CommandBody::Login {
            username: "joe".into(),
            password: "s cret".into()
        }
    );
    // hostile
    assert_eq!(bad("a LOGIN").message, "Missing user name");
    assert_eq!(bad("a LOGIN joe").message, "Missing password");
    assert_eq!(bad("a LOGIN joe ").message, "Missing password");
    assert_eq!(
        bad("a LOGIN \"joe pw").message,
        "Unterminated quoted string"
    );
    assert_eq!(
        bad(r#"a LOGIN "j\oe" pw"#).message,
        "Invalid escape in quoted string"
    );
    assert_eq!(
        bad("a LOGIN \"j\0e\" pw").message,
        "Invalid character in quoted string"
    );
    let e = parse_command(vec![Fragment::Line(b"a LOGIN \"\xff\" pw".to_vec())]).unwrap_err();
    assert_eq!(e.message, "Invalid UTF-8 in user name");
    assert_eq!(e.tag.as_deref(), Some("a"));
    let e = parse_command(frags(&[b"a LOGIN {2}", b"\xc3\x28", b" pw"])).unwrap_err();
    assert_eq!(e.message, "Invalid UTF-8 in user name");
    let e = parse_command(frags(&[b"a LOGIN {3}", b"j\0e", b" pw"])).unwrap_err();
    assert!(e.message.contains("NUL"));
    assert!(bad("a LOGIN joe pw extra").message.contains("extra"));
    assert!(
        bad("a LOGIN (joe) pw")
            .message
            .contains("Invalid user name")
    );
}

#[test]
fn literal_framing_errors() {
    // length mismatch
    let e = parse_command(frags(&[b"a LOGIN {4}", b"joe", b" pw"])).unwrap_err();
    assert_eq!(e.message, "Literal length mismatch");
    // literal but no announcement
    let e = parse_command(frags(&[b"a LOGIN joe", b"xxx", b""])).unwrap_err();
    assert_eq!(e.tag.as_deref(), Some("a"));
    // missing literal fragment
    let e = parse_command(frags(&[b"a LOGIN {3}"])).unwrap_err();
    assert_eq!(e.message, "Missing literal data");
    // overflow in parser
    let e = parse_command(line("a LOGIN {99999999999999999999999} x")).unwrap_err();
    assert_eq!(e.tag.as_deref(), Some("a"));
    // announcement not at end of line
    assert!(bad("a LOGIN {3} x").message.contains("end the line"));
    // bad order
    let e = parse_command(vec![Fragment::Literal(b"x".to_vec())]).unwrap_err();
    assert_eq!(e.message, "Malformed command framing");
    assert!(parse_command(vec![]).is_err());
    // literal8 outside APPEND
    let e = parse_command(frags(&[b"a LOGIN ~{3}", b"joe", b" pw"])).unwrap_err();
    assert_eq!(e.tag.as_deref(), Some("a"));
    // trailing literal after a complete command
    let e = parse_command(frags(&[b"a NOOP", b"x", b""])).unwrap_err();
    assert_eq!(e.message, "Unexpected extra arguments");
}

#[test]
fn authenticate() {
    assert_eq!(
        body("a AUTHENTICATE plain"),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial: None
        }
    );
    assert_eq!(
        body("a AUTHENTICATE PLAIN AHVzZXIAcGFzcw=="),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial: Some(b"\0user\0pass".to_vec())
        }
    );
    assert_eq!(
        body("a AUTHENTICATE EXTERNAL ="),
        CommandBody::Authenticate {
            mechanism: "EXTERNAL".into(),
            initial: Some(vec![])
        }
    );
    assert!(bad("a AUTHENTICATE PLAIN AHVzZ").message.contains("base64"));
    assert!(bad("a AUTHENTICATE PLAIN ").message.contains("Missing"));
    assert!(bad("a AUTHENTICATE").message.contains("Missing"));
    assert!(bad("a AUTHENTICATE PLAIN AA== x").message.contains("extra"));
}

#[test]
fn mailbox_commands() {
    use CommandBody as C;
    assert_eq!(
        body("a SELECT inbox"),
        C::Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: None
        }
    );
    assert_eq!(
        body("a select \"Sent Items\" (condstore)"),
        C::Select {
            mailbox: "Sent Items".into(),
            condstore: true,
            qresync: None
        }
    );
    assert_eq!(
        body("a EXAMINE \"INBOX\" ()"),
        C::Examine {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: None
        }
    );
    assert_eq!(
        body("a SELECT &ZeVnLIqe-"),
        C::Select {
            mailbox: "&ZeVnLIqe-".into(),
            condstore: false,
            qresync: None
        }
    );
    assert!(bad("a SELECT INBOX (QRESYNC)").message.contains("QRESYNC"));
    assert_eq!(
        body("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 5:7)))"),
        C::Select {
            mailbox: "INBOX".into(),
            condstore: false,
            qresync: Some(QresyncParams {
                uid_validity: 67890007,
                modseq: 20050715194045000,
                known_uids: Some(set("41,43:211,214:541")),
                seq_match: Some((set("1:3"), set("5:7"))),
            })
        }
    );
    assert_eq!(
        body("a EXAMINE INBOX (CONDSTORE QRESYNC (1 2))"),
        C::Examine {
            mailbox: "INBOX".into(),
            condstore: true,
            qresync: Some(QresyncParams {
                uid_validity: 1,
                modseq: 2,
                known_uids: None,
                seq_match: None,
            })
        }
    );
    assert_eq!(bad("a SELECT").message, "Missing mailbox name");
    assert_eq!(bad("a SELECT ").message, "Missing mailbox name");
    assert!(bad("a SELECT a b").message.contains("select parameters"));
    assert_eq!(
        body("a CREATE foo/bar"),
        C::Create {
            mailbox: "foo/bar".into(),
            special_use: vec![]
        }
    );
    assert_eq!(
        body("a CREATE Drafts (USE (\\drafts \\Custom))"),
        C::Create {
            mailbox: "Drafts".into(),
            special_use: vec!["\\Drafts".into(), "\\Custom".into()]
        }
    );
    assert!(parse_command(line("a CREATE x (FOO (\\Drafts))")).is_err());
    assert_eq!(
        body("a DELETE x"),
        C::Delete {
            mailbox: "x".into()
        }
    );
    assert_eq!(
        body("a RENAME \"a b\" c"),
        C::Rename {
            from: "a b".into(),
            to: "c".into()
        }
    );
    assert!(bad("a RENAME a").message.contains("Missing mailbox"));
    assert_eq!(
        body("a SUBSCRIBE x"),
        C::Subscribe {
            mailbox: "x".into()
        }
    );
    assert_eq!(
        body("a UNSUBSCRIBE x"),
        C::Unsubscribe {
            mailbox: "x".into()
        }
    );
    assert_eq!(
        body(
            "a STATUS INBOX (MESSAGES UNSEEN uidnext UIDVALIDITY RECENT HIGHESTMODSEQ SIZE DELETED)"
        ),
        C::Status {
            mailbox: "INBOX".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::Unseen,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Recent,
                StatusItem::HighestModSeq,
                StatusItem::Size,
                StatusItem::Deleted
            ]
        }
    );
    assert!(bad("a STATUS INBOX ()").tag.is_some());
    assert!(bad("a STATUS INBOX (FOO)").message.contains("FOO"));
    assert!(bad("a STATUS INBOX MESSAGES").tag.is_some());
    assert!(bad("a STATUS INBOX (MESSAGES").tag.is_some());
}

#[test]
fn list() {
    use CommandBody as C;
    let l = |reference: &str, patterns: &[&str]| C::List {
        reference: reference.into(),
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
        select_opts: vec![],
        return_opts: vec![],
    };
    assert_eq!(body("a LIST \"\" *"), l("", &["*"]));
    assert_eq!(body("a LIST \"\" \"*\""), l("", &["*"]));
    assert_eq!(body("a LIST \"\" \"\""), l("", &[""]));
    assert_eq!(body("a list ~/Mail/ %"), l("~/Mail/", &["%"]));
    assert_eq!(body("a LIST \"\" INBOX.*]"), l("", &["INBOX.*]"]));
    assert_eq!(
        body("a LIST \"\" (INBOX \"Sent*\")"),
        l("", &["INBOX", "Sent*"])
    );
    assert_eq!(
        body(
            "a LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UNSEEN))"
        ),
        C::List {
            reference: "".into(),
            patterns: vec!["*".into()],
            select_opts: vec![ListSelectOpt::SpecialUse],
            return_opts: vec![
                ListReturnOpt::SpecialUse,
                ListReturnOpt::Children,
                ListReturnOpt::Status(vec![StatusItem::Messages, StatusItem::Unseen])
            ],
        }
    );
    assert_eq!(
        body("a LIST (subscribed recursivematch) \"\" % return (subscribed)"),
        C::List {
            reference: "".into(),
            patterns: vec!["%".into()],
            select_opts: vec![ListSelectOpt::Subscribed, ListSelectOpt::RecursiveMatch],
            return_opts: vec![ListReturnOpt::Subscribed],
        }
    );
    assert_eq!(body("a LIST () \"\" % RETURN ()"), l("", &["%"]));
    assert!(
        bad("a LIST (RECURSIVEMATCH) \"\" %")
            .message
            .contains("RECURSIVEMATCH")
    );
    assert!(
        bad("a LIST (RECURSIVEMATCH REMOTE) \"\" %")
            .message
            .contains("RECURSIVEMATCH")
    );
    assert!(bad("a LIST (FOO) \"\" %").message.contains("FOO"));
    assert!(bad("a LIST \"\" % RETURN (FOO)").message.contains("FOO"));
    assert!(
        bad("a LIST \"\" % FOO (CHILDREN)")
            .message
            .contains("RETURN")
    );
    assert_eq!(bad("a LIST \"\"").message, "Missing mailbox pattern");
    assert_eq!(bad("a LIST").message, "Missing reference name");
    assert_eq!(
        body("a LSUB \"\" *"),
        C::Lsub {
            reference: "".into(),
            pattern: "*".into()
        }
    );
}

#[test]
fn append() {
    let cmd = parse_command(frags(&[
        b"A1 APPEND INBOX (\\Seen) \" 5-Nov-2020 10:00:00 +0000\" {12}",
        b"Hello world!",
        b"",
    ]))
    .unwrap();
    assert_eq!(cmd.tag, "A1");
    let CommandBody::Append { mailbox, messages } = cmd.body else {
        panic!()
    };
    assert_eq!(mailbox, "INBOX");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].flags, vec![Flag::Seen]);
    assert_eq!(
        messages[0].date,
        Some(DateTime {
            unix: 1_604_570_400,
            offset_minutes: 0
        })
    );
    assert_eq!(messages[0].message, b"Hello world!");
    assert!(!messages[0].binary);

    // imaplib style: quoted date with zero-padded day, negative zone
    let cmd = parse_command(frags(&[
        b"a APPEND Sent (\\Seen $Forwarded) \"17-Jul-1996 02:44:25 -0700\" {3+}",
        b"a\r\n",
        b"",
    ]))
    .unwrap();
    let CommandBody::Append { messages, .. } = cmd.body else {
        panic!()
    };
    assert_eq!(
        messages[0].flags,
        vec![Flag::Seen, Flag::Keyword("$Forwarded".into())]
    );
    let d = messages[0].date.unwrap();
    assert_eq!(d.offset_minutes, -420);
    assert_eq!(d.unix, 837_596_665);
    assert_eq!(
        format_internal_date(d.unix, d.offset_minutes),
        "17-Jul-1996 02:44:25 -0700"
    );

    // no flags, no date; binary literal with NUL; MULTIAPPEND
    let cmd = parse_command(frags(&[
        b"a APPEND x ~{2}",
        b"\0\x01",
        b" () {1}",
        b"z",
        b"",
    ]))
    .unwrap();
    let CommandBody::Append { messages, .. } = cmd.body else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
    assert!(messages[0].binary);
    assert_eq!(messages[0].message, b"\0\x01");
    assert_eq!(messages[1].message, b"z");
    assert!(messages[1].flags.is_empty());

    // missing trailing empty line is tolerated
    assert!(parse_command(frags(&[b"a APPEND x {1}", b"z"])).is_ok());

    // hostile
    let e = |parts: &[&[u8]]| parse_command(frags(parts)).unwrap_err();
    assert!(e(&[b"a APPEND x {2}", b"\0a", b""]).message.contains("NUL"));
    assert!(
        e(&[b"a APPEND x (\\*) {1}", b"z", b""])
            .message
            .contains("\\*")
    );
    assert!(
        e(&[b"a APPEND x (\\Bogus) {1}", b"z", b""])
            .message
            .contains("Bogus")
    );
    assert!(
        e(&[b"a APPEND x \"31-Feb-2020 10:00:00 +0000\" {1}", b"z", b""])
            .message
            .contains("day")
    );
    assert!(
        e(&[b"a APPEND x \"01-Foo-2020 10:00:00 +0000\" {1}", b"z", b""])
            .tag
            .is_some()
    );
    assert!(
        e(&[b"a APPEND x \"01-Jan-2020 24:00:00 +0000\" {1}", b"z", b""])
            .tag
            .is_some()
    );
    assert!(
        e(&[b"a APPEND x \"01-Jan-2020 10:00:00 0000\" {1}", b"z", b""])
            .tag
            .is_some()
    );
    assert!(
        e(&[b"a APPEND x \"01-Jan-2020 10:00:00 +0000 {1}", b"z", b""])
            .tag
            .is_some()
    );
    assert_eq!(bad("a APPEND x").message, "Missing message literal");
    assert_eq!(
        bad("a APPEND x (\\Seen)").message,
        "Missing message literal"
    );
    assert_eq!(bad("a APPEND x hello").message, "Expected message literal");
    assert!(e(&[b"a APPEND x {1}", b"z", b" junk"]).tag.is_some());
}

#[test]
fn sequence_sets() {
    let set = |s: &str| match body(&format!("a FETCH {s} FLAGS")) {
        CommandBody::Fetch { set, .. } => set,
        o => panic!("{o:?}"),
    };
    assert_eq!(set("1"), SequenceSet::Ranges(vec![r(v(1), v(1))]));
    assert_eq!(
        set("1:*,5,7:3"),
        SequenceSet::Ranges(vec![r(v(1), SeqNum::Star), r(v(5), v(5)), r(v(7), v(3))])
    );
    assert_eq!(
        set("4294967295"),
        SequenceSet::Ranges(vec![r(v(u32::MAX), v(u32::MAX))])
    );
    assert_eq!(set("$"), SequenceSet::Saved);
    assert_eq!(
        set("*"),
        SequenceSet::Ranges(vec![r(SeqNum::Star, SeqNum::Star)])
    );
    for hostile in [
        "0",
        "0:5",
        "1:0",
        "1:*,",
        ",1",
        "1,,2",
        "4294967296",
        "99999999999999999999",
        "1:",
        ":1",
        "1::2",
        "01",
        "-1",
        "1.5",
        "$,1",
        "$:1",
        "1a",
        "**",
    ] {
        let e = bad(&format!("a FETCH {hostile} FLAGS"));
        assert_eq!(e.message, "Invalid sequence set", "{hostile}");
        assert_eq!(e.tag.as_deref(), Some("a"));
    }
    assert_eq!(bad("a FETCH").message, "Missing sequence set");

    let s = set("1:3,5,10:*");
    assert!(s.contains(2, 20));
    assert!(!s.contains(4, 20));
    assert!(s.contains(20, 20));
    assert!(!s.contains(21, 20));
    assert_eq!(s.to_string(), "1:3,5,10:*");
    assert_eq!(s.max_explicit(), Some(10));
    assert_eq!(s.iter(12).collect::<Vec<_>>(), vec![1, 2, 3, 5, 10, 11, 12]);
    // `*` smaller than start: 10:* with * = 7 is 7:10
    assert_eq!(s.resolved(7), vec![(1, 3), (5, 5), (7, 10)]);
    assert_eq!(s.clamped(7), vec![(1, 3), (5, 5), (7, 7)]);
    // huge ranges never materialize
    let big = set("1:4294967295");
    assert_eq!(big.iter(3).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(big.contains(u32::MAX, 0));
    assert_eq!(big.resolved(5), vec![(1, u32::MAX)]);
    let many = set("4294967295,1:4294967294");
    assert_eq!(many.resolved(1), vec![(1, u32::MAX)]);
    // empty mailbox
    assert_eq!(set("1:*").iter(0).count(), 0);
    assert!(!SequenceSet::Saved.contains(1, 1));
    assert_eq!(SequenceSet::single(7).to_string(), "7");
}

#[test]
fn fetch() {
    use FetchAttr as F;
    let f = |s: &str| match body(s) {
        CommandBody::Fetch {
            items,
            uid,
            changed_since,
            ..
        } => (items, uid, changed_since),
        o => panic!("{o:?}"),
    };
    assert_eq!(
        f("a UID FETCH 1:* (UID FLAGS)"),
        (vec![F::Uid, F::Flags], true, None)
    );
    assert_eq!(f("a fetch 1 flags").0, vec![F::Flags]);
    assert_eq!(
        f("a FETCH 1 ALL").0,
        vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
    );
    assert_eq!(
        f("a FETCH 1 fast").0,
        vec![F::Flags, F::InternalDate, F::Rfc822Size]
    );
    assert_eq!(f("a FETCH 1 FULL").0.len(), 5);
    assert!(bad("a FETCH 1 (ALL)").message.contains("ALL"));
    assert_eq!(
        f("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])").0,
        vec![F::BodySection {
            peek: true,
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(vec![
                    "DATE".into(),
                    "FROM".into(),
                    "SUBJECT".into()
                ]))
            },
            partial: None
        }]
    );
    // mutt
    let items = f("a UID FETCH 1:5 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL X-ORIGINAL-TO)])").0;
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[4].response_name(),
        "BODY[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL X-ORIGINAL-TO)]"
    );
    // mbsync
    let items =
        f("a UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])").0;
    assert_eq!(items.len(), 4);
    let items = f("a UID FETCH 7 (BODY.PEEK[])").0;
    assert_eq!(
        items,
        vec![F::BodySection {
            peek: true,
            section: Section::default(),
            partial: None
        }]
    );
    assert_eq!(items[0].response_name(), "BODY[]");
    assert!(!items[0].sets_seen());
    // parts, MIME, partial
    let items = f("a FETCH 1 (BODY[1.2.MIME] body[3.header]<0.1024> BODY[4.TEXT] BODY[2] BODY BODYSTRUCTURE ENVELOPE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)").0;
    assert_eq!(
        items[0],
        F::BodySection {
            peek: false,
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::Mime)
            },
            partial: None
        }
    );
    assert_eq!(items[0].response_name(), "BODY[1.2.MIME]");
    assert!(items[0].sets_seen());
    assert_eq!(items[1].response_name(), "BODY[3.HEADER]<0>");
    assert_eq!(
        items[1],
        F::BodySection {
            peek: false,
            section: Section {
                part: vec![3],
                text: Some(SectionText::Header)
            },
            partial: Some((0, 1024))
        }
    );
    assert_eq!(items[2].response_name(), "BODY[4.TEXT]");
    assert_eq!(items[3].response_name(), "BODY[2]");
    assert_eq!(
        &items[4..],
        &[
            F::Body,
            F::BodyStructure,
            F::Envelope,
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Text,
            F::ModSeq
        ]
    );
    let items = f("a FETCH 1 (BODY.PEEK[1.HEADER.FIELDS.NOT (from \"X-Y\")]<5.10>)").0;
    assert_eq!(
        items[0].response_name(),
        "BODY[1.HEADER.FIELDS.NOT (FROM X-Y)]<5>"
    );
    // binary
    let items = f("a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<0.5> BINARY.SIZE[3])").0;
    assert_eq!(
        items,
        vec![
            F::Binary {
                peek: false,
                part: vec![1, 2],
                partial: None
            },
            F::Binary {
                peek: true,
                part: vec![],
                partial: Some((0, 5))
            },
            F::BinarySize(vec![3])
        ]
    );
    assert_eq!(items[1].response_name(), "BINARY[]<0>");
    assert_eq!(items[2].response_name(), "BINARY.SIZE[3]");
    // OBJECTID, SAVEDATE, PREVIEW
    let items = f("a FETCH 1 (emailid THREADID SaveDate PREVIEW PREVIEW (lazy) FLAGS)").0;
    assert_eq!(
        items,
        vec![
            F::EmailId,
            F::ThreadId,
            F::SaveDate,
            F::Preview { lazy: false },
            F::Preview { lazy: true },
            F::Flags
        ]
    );
    assert_eq!(items[4].response_name(), "PREVIEW");
    assert_eq!(f("a FETCH 1 PREVIEW").0, vec![F::Preview { lazy: false }]);
    assert_eq!(
        bad("a FETCH 1 (PREVIEW (FUZZY))").message,
        "Unknown preview modifier FUZZY"
    );
    bad("a FETCH 1 (PREVIEW ())");
    bad("a FETCH 1 PREVIEW (LAZY");
    let CommandBody::Search { criteria, .. } = body(
        "a SEARCH SAVEDBEFORE 1-Jan-2021 SAVEDON 2-Feb-2022 SAVEDSINCE 3-Mar-2023 SAVEDATESUPPORTED EMAILID M12_a-b THREADID T1",
    ) else {
        panic!()
    };
    let SearchKey::And(keys) = criteria else {
        panic!("{criteria:?}")
    };
    assert!(matches!(keys[0], SearchKey::SavedBefore(_)));
    assert!(matches!(keys[1], SearchKey::SavedOn(_)));
    assert!(matches!(keys[2], SearchKey::SavedSince(_)));
    assert_eq!(keys[3], SearchKey::SaveDateSupported);
    assert_eq!(keys[4], SearchKey::EmailId("M12_a-b".into()));
    assert_eq!(keys[5], SearchKey::ThreadId("T1".into()));
    assert_eq!(bad("a SEARCH EMAILID \"a.b\"").message, "Invalid object id");
    let CommandBody::Status { items, .. } = body("a STATUS INBOX (MAILBOXID SIZE)") else {
        panic!()
    };
    assert_eq!(items, vec![StatusItem::MailboxId, StatusItem::Size]);
    // CONDSTORE
    assert_eq!(
        f("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)"),
        (vec![F::Flags], true, Some(12345))
    );
    // hostile
    for s in [
        "a FETCH 1 BODY[MIME]",
        "a FETCH 1 BODY[0]",
        "a FETCH 1 BODY[1.0]",
        "a FETCH 1 BODY[HEADER.FIELDS]",
        "a FETCH 1 BODY[HEADER.FIELDS ()]",
        "a FETCH 1 BODY[HEADER.FIELDS (A:B)]",
        "a FETCH 1 BODY[FOO]",
        "a FETCH 1 BODY[1",
        "a FETCH 1 BODY[]<0.0>",
        "a FETCH 1 BODY[]<0>",
        "a FETCH 1 BODY[]<4294967296.1>",
        "a FETCH 1 BODY.PEEK",
        "a FETCH 1 ()",
        "a FETCH 1 (FLAGS",
        "a FETCH 1 (FLAGS )",
        "a FETCH 1 FOO",
        "a FETCH 1 (FLAGS) (CHANGEDSINCE)",
        "a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
        "a FETCH 1 (FLAGS) (VANISHED)",
        "a FETCH 1 BINARY[1.TEXT]",
        "a FETCH 1 BINARY.SIZE[]<0.1>",
        "a FETCH 1:2",
    ] {
        assert_eq!(bad(s).tag.as_deref(), Some("a"), "{s}");
    }
}

#[test]
fn store_copy_move() {
    use CommandBody as C;
    assert_eq!(
        body("a STORE 1:3 +FLAGS (\\Deleted)"),
        C::Store {
            set: SequenceSet::Ranges(vec![r(v(1), v(3))]),
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Deleted],
            uid: false,
            unchanged_since: None
        }
    );
    assert_eq!(
        body("a UID STORE 5 -flags.silent \\seen $Junk"),
        C::Store {
            set: SequenceSet::single(5),
            kind: StoreKind::Remove,
            silent: true,
            flags: vec![Flag::Seen, Flag::Keyword("$Junk".into())],
            uid: true,
            unchanged_since: None
        }
    );
    assert_eq!(
        body("a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()"),
        C::Store {
            set: SequenceSet::single(1),
            kind: StoreKind::Replace,
            silent: false,
            flags: vec![],
            uid: false,
            unchanged_since: Some(0)
        }
    );
    for s in [
        "a STORE 1 +FLAGS",
        "a STORE 1 +FLAGS ",
        "a STORE 1 FLAG (\\Seen)",
        "a STORE 1 +FLAGS (\\*)",
        "a STORE 1 +FLAGS (\\Foo)",
        "a STORE 1 +FLAGS (\\Seen",
        "a STORE 1 +FLAGS (a(b)",
        "a STORE 1 *FLAGS (\\Seen)",
        "a STORE 0 FLAGS ()",
        "a STORE 1 (UNCHANGEDSINCE) FLAGS ()",
    ] {
        assert_eq!(bad(s).tag.as_deref(), Some("a"), "{s}");
    }
    assert_eq!(
        body("a UID COPY 1:2 \"Saved Mail\""),
        C::Copy {
            set: SequenceSet::Ranges(vec![r(v(1), v(2))]),
            mailbox: "Saved Mail".into(),
            uid: true
        }
    );
    assert_eq!(
        body("a MOVE $ inbox"),
        C::Move {
            set: SequenceSet::Saved,
            mailbox: "INBOX".into(),
            uid: false
        }
    );
    assert_eq!(
        body("a UID EXPUNGE 3:5,7"),
        C::UidExpunge(SequenceSet::Ranges(vec![r(v(3), v(5)), r(v(7), v(7))]))
    );
    assert_eq!(body("a UID MOVE 1 x").name(), "UID MOVE");
    assert!(bad("a COPY 1").message.contains("Missing mailbox"));
    assert!(bad("a UID EXPUNGE").message.contains("Missing"));
}

#[test]
fn search() {
    use SearchKey as K;
    let s = |q: &str| match body(q) {
        CommandBody::Search {
            charset,
            criteria,
            uid,
            return_opts,
        } => (charset, criteria, uid, return_opts),
        o => panic!("{o:?}"),
    };
    assert_eq!(s("a SEARCH ALL"), (None, K::All, false, None));
    assert_eq!(s("a UID SEARCH UNSEEN").1, K::Unseen);
    assert!(s("a UID SEARCH UNSEEN").2);
    assert_eq!(
        s("a SEARCH CHARSET utf-8 FROM \"Smith\" SINCE 1-Feb-1994 NOT TO Jones").1,
        K::And(vec![
            K::From("Smith".into()),
            K::Since(Date {
                year: 1994,
                month: 2,
                day: 1
            }),
            K::Not(Box::new(K::To("Jones".into())))
        ])
    );
    assert_eq!(
        s("a SEARCH CHARSET UTF-8 FROM x").0.as_deref(),
        Some("UTF-8")
    );
    let e = bad("a SEARCH CHARSET X-NO-SUCH-CHARSET FROM x");
    assert_eq!(e.kind, ErrorKind::BadCharset);
    assert_eq!(
        e.to_response(),
        "a NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n"
    );
    assert_eq!(
        s("a SEARCH OR (FROM a SUBJECT b) 1:5,7 UID 10:* LARGER 100 SMALLER 5").1,
        K::And(vec![
            K::Or(
                Box::new(K::And(vec![K::From("a".into()), K::Subject("b".into())])),
                Box::new(K::SequenceSet(SequenceSet::Ranges(vec![
                    r(v(1), v(5)),
                    r(v(7), v(7))
                ])))
            ),
            K::Uid(SequenceSet::Ranges(vec![r(v(10), SeqNum::Star)])),
            K::Larger(100),
            K::Smaller(5)
        ])
    );
    let all_keys = "a SEARCH ALL ANSWERED BCC x BEFORE \"1-Jan-2000\" BODY y CC z DELETED DRAFT FLAGGED FROM f HEADER Message-ID \"<a@b>\" KEYWORD $Junk LARGER 1 NEW NOT SEEN OLD ON 29-Feb-2000 OR SEEN FLAGGED RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 SMALLER 9 SUBJECT s TEXT t TO u UID 1 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $x UNSEEN 1:* MODSEQ 5 MODSEQ \"/flags/\\\\draft\" all 620162338 OLDER 60 YOUNGER 30 $";
    let K::And(keys) = s(all_keys).1 else {
        panic!()
    };
    assert_eq!(keys.len(), 41);
    assert_eq!(keys[10], K::Header("Message-ID".into(), "<a@b>".into()));
    assert_eq!(keys[37], K::ModSeq(620162338));
    assert_eq!(keys[40], K::SequenceSet(SequenceSet::Saved));
    // literal search string
    let cmd = parse_command(frags(&[
        b"a SEARCH CHARSET UTF-8 SUBJECT {6}",
        "h\u{e9}llo".as_bytes(),
        b"",
    ]))
    .unwrap();
    let CommandBody::Search { criteria, .. } = cmd.body else {
        panic!()
    };
    assert_eq!(criteria, K::Subject("h\u{e9}llo".into()));
    // ESEARCH
    assert_eq!(
        s("a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNDELETED").3,
        Some(vec![
            SearchReturnOpt::Min,
            SearchReturnOpt::Max,
            SearchReturnOpt::Count,
            SearchReturnOpt::All,
            SearchReturnOpt::Save
        ])
    );
    assert_eq!(s("a SEARCH RETURN () CHARSET US-ASCII ALL").3, Some(vec![]));
    // hostile
    for q in [
        "a SEARCH",
        "a SEARCH ",
        "a SEARCH FOO",
        "a SEARCH FROM",
        "a SEARCH (FROM a",
        "a SEARCH ()",
        "a SEARCH OR SEEN",
        "a SEARCH NOT",
        "a SEARCH SINCE 32-Jan-2000",
        "a SEARCH SINCE 29-Feb-1900",
        "a SEARCH SINCE 1-Jan-00",
        "a SEARCH SINCE \"1-Jan-2000",
        "a SEARCH KEYWORD \\Seen",
        "a SEARCH LARGER x",
        "a SEARCH LARGER 99999999999999999999999",
        "a SEARCH OLDER 0",
        "a SEARCH UID 0",
        "a SEARCH 1:*,",
        "a SEARCH RETURN (FOO) ALL",
        "a SEARCH MODSEQ \"/flags/x\" bogus 5",
        "a SEARCH ALL  SEEN",
        "a SEARCH ALL)",
    ] {
        assert_eq!(bad(q).tag.as_deref(), Some("a"), "{q}");
    }
}

#[test]
fn search_nesting_is_capped() {
    for depth in [63usize, 64, 65, 1000, 100_000] {
        let q = format!("a SEARCH {}ALL{}", "(".repeat(depth), ")".repeat(depth));
        let res = parse_command(line(&q));
        if depth < MAX_SEARCH_DEPTH {
            assert!(res.is_ok(), "{depth}");
        } else {
            assert_eq!(
                res.unwrap_err().message,
                "Search criteria nested too deeply"
            );
        }
        let q = format!("a SEARCH {}ALL", "NOT ".repeat(depth));
        assert_eq!(parse_command(line(&q)).is_ok(), depth < MAX_SEARCH_DEPTH);
        let q = format!("a SEARCH {}ALL{}", "OR ALL ".repeat(depth), "");
        assert_eq!(parse_command(line(&q)).is_ok(), depth < MAX_SEARCH_DEPTH);
    }
}

#[test]
fn id_enable() {
    assert_eq!(body("a ID NIL"), CommandBody::Id(None));
    assert_eq!(body("a ID ()"), CommandBody::Id(Some(vec![])));
    assert_eq!(
        body("a ID (\"name\" \"sodr\" \"version\" NIL)"),
        CommandBody::Id(Some(vec![
            ("name".into(), Some("sodr".into())),
            ("version".into(), None)
        ]))
    );
    let many = (0..31)
        .map(|i| format!("\"k{i}\" NIL"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(bad(&format!("a ID ({many})")).message.contains("Too many"));
    assert!(bad("a ID (\"name\")").tag.is_some());
    assert!(bad("a ID (name \"x\")").tag.is_some());
    assert!(bad("a ID").tag.is_some());
    assert_eq!(
        body("a ENABLE condstore utf8=accept"),
        CommandBody::Enable(vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()])
    );
    assert!(bad("a ENABLE").message.contains("Missing"));
    assert!(bad("a ENABLE X ").message.contains("Missing"));
}

#[test]
fn literals_are_moved_not_copied() {
    let msg = vec![b'x'; 1 << 20];
    let ptr = msg.as_ptr();
    let f = vec![
        Fragment::Line(b"a APPEND INBOX {1048576}".to_vec()),
        Fragment::Literal(msg),
        Fragment::Line(Vec::new()),
    ];
    let CommandBody::Append { messages, .. } = parse_command(f).unwrap().body else {
        panic!()
    };
    assert_eq!(messages[0].message.as_ptr(), ptr);
}

#[test]
fn flags_display_and_parse() {
    assert_eq!(Flag::parse("\\SEEN"), Some(Flag::Seen));
    assert_eq!(Flag::parse("\\*"), None);
    assert_eq!(Flag::parse("\\Foo"), None);
    assert_eq!(Flag::parse("a b"), None);
    assert_eq!(Flag::parse(""), None);
    assert_eq!(
        Flag::parse("$Label1"),
        Some(Flag::Keyword("$Label1".into()))
    );
    assert_eq!(Flag::Answered.to_string(), "\\Answered");
    let mut out = Vec::new();
    write_flags(
        &mut out,
        &[Flag::Seen, Flag::Flagged, Flag::Keyword("$Label".into())],
    );
    assert_eq!(out, b"(\\Seen \\Flagged $Label)");
    let mut out = Vec::new();
    write_flags(&mut out, &[]);
    assert_eq!(out, b"()");
}

#[test]
fn string_encoding() {
    let enc = |b: &[u8]| {
        let mut o = Vec::new();
        quoted_or_literal(&mut o, b);
        o
    };
    assert_eq!(enc(b"hello"), b"\"hello\"");
    assert_eq!(enc(b""), b"\"\"");
    assert_eq!(enc(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
    assert_eq!(enc(b"a\r\nb"), b"{4}\r\na\r\nb");
    assert_eq!(enc(b"a\0"), b"{2}\r\na\0");
    assert_eq!(enc("\u{e9}".as_bytes()), b"{2}\r\n\xc3\xa9");
    let long = vec![b'a'; MAX_QUOTED_LEN + 1];
    assert!(enc(&long).starts_with(b"{1025}\r\n"));
    assert_eq!(astring("INBOX"), "INBOX");
    assert_eq!(astring("a]b"), "a]b");
    assert_eq!(astring("Sent Items"), "\"Sent Items\"");
    assert_eq!(astring(""), "\"\"");
    assert_eq!(astring("nil"), "\"nil\"");
    assert_eq!(astring("a*"), "\"a*\"");
    let mut o = Vec::new();
    write_nstring(&mut o, None);
    o.push(b' ');
    write_nstring(&mut o, Some(b"x"));
    assert_eq!(o, b"NIL \"x\"");
}

#[test]
fn uid_compression() {
    assert_eq!(compress_uids(&[]), "");
    assert_eq!(compress_uids(&[4]), "4");
    assert_eq!(compress_uids(&[1, 2, 3, 5, 7, 8, 9]), "1:3,5,7:9");
    assert_eq!(compress_uids(&[1, 1, 2, 2]), "1:2");
    assert_eq!(
        compress_uids(&[u32::MAX - 1, u32::MAX]),
        "4294967294:4294967295"
    );
    assert_eq!(compress_uids(&[5, 3, 4]), "5,3:4");
}

#[test]
fn section_strings() {
    let s = Section {
        part: vec![1],
        text: Some(SectionText::HeaderFields(vec!["FROM".into(), "TO".into()])),
    };
    assert_eq!(section_to_string(&s), "1.HEADER.FIELDS (FROM TO)");
    assert_eq!(section_to_string(&Section::default()), "");
    assert_eq!(
        section_to_string(&Section {
            part: vec![],
            text: Some(SectionText::Text)
        }),
        "TEXT"
    );
}

// ---- fuzzing ----

const VOCAB: &[&str] = &[
    "a",
    "A1",
    "UID",
    "FETCH",
    "SEARCH",
    "STORE",
    "APPEND",
    "LOGIN",
    "LIST",
    "SELECT",
    "STATUS",
    "ID",
    "ENABLE",
    "COPY",
    "MOVE",
    "EXPUNGE",
    "CREATE",
    "AUTHENTICATE",
    "RETURN",
    "CHARSET",
    "OR",
    "NOT",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    "<0.1>",
    "1",
    "0",
    "*",
    "$",
    "1:*",
    ",",
    ":",
    "4294967296",
    "\"",
    "\"x\"",
    "\\",
    "\\Seen",
    "\\*",
    "{",
    "}",
    "{3}",
    "~{1}",
    "{5+}",
    "FLAGS",
    "+FLAGS.SILENT",
    "BODY",
    "BODY.PEEK[",
    "HEADER.FIELDS",
    "(FROM)",
    "MIME",
    "1.2",
    "NIL",
    "INBOX",
    "UTF-8",
    "SINCE",
    "1-Jan-2000",
    "\"01-Jan-2000 00:00:00 +0000\"",
    "(CHANGEDSINCE",
    "UNCHANGEDSINCE",
    "SPECIAL-USE",
    "STATUS",
    "(MESSAGES)",
    "\0",
    "\u{e9}",
    "\r",
    " ",
];

fn fuzz_frags() -> impl Strategy<Value = Vec<Fragment>> {
    (
        prop::collection::vec(prop::sample::select(VOCAB), 0..24),
        prop::collection::vec(any::<bool>(), 0..24),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 0..3),
    )
        .prop_map(|(words, spaces, lits)| {
            let mut text = String::new();
            for (i, w) in words.iter().enumerate() {
                text.push_str(w);
                if spaces.get(i).copied().unwrap_or(true) {
                    text.push(' ');
                }
            }
            let mut out = vec![Fragment::Line(text.trim_end().as_bytes().to_vec())];
            for l in lits {
                out.push(Fragment::Literal(l));
                out.push(Fragment::Line(b" x".to_vec()));
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = literal_announcement(&bytes);
        let _ = peek_tag_and_name(&bytes);
        let _ = parse_authenticate_response(&bytes);
        let _ = parse_command(vec![Fragment::Line(bytes.clone())]);
        let _ = parse_command(vec![
            Fragment::Line(bytes.clone()),
            Fragment::Literal(bytes.clone()),
            Fragment::Line(bytes),
        ]);
    }

    #[test]
    fn structured_input_never_panics(f in fuzz_frags()) {
        if let Err(e) = parse_command(f) {
            prop_assert!(!e.message.contains('\r') && !e.message.contains('\n'));
            prop_assert!(e.message.is_ascii());
        }
    }

    #[test]
    fn prefixed_random_never_panics(
        cmd in prop::sample::select(&["a FETCH 1 ", "a SEARCH ", "a STORE 1 ", "a APPEND x ", "a LIST ", "a LOGIN ", "a UID FETCH 1:* ", "a ID ", "a CREATE x "][..]),
        tail in "[ -~]{0,60}",
    ) {
        let _ = parse_command(line(&format!("{cmd}{tail}")));
    }

    #[test]
    fn sequence_set_roundtrip(ranges in prop::collection::vec((1u32.., prop::option::of(1u32..)), 1..6)) {
        let text = ranges
            .iter()
            .map(|(a, b)| match b { Some(b) => format!("{a}:{b}"), None => a.to_string() })
            .collect::<Vec<_>>()
            .join(",");
        let CommandBody::Fetch { set, .. } = body(&format!("a FETCH {text} UID")) else {
            panic!()
        };
        prop_assert_eq!(set.to_string(), text);
        let collected: Vec<u32> = set.iter(1000).collect();
        let expected: Vec<u32> = (1..=1000).filter(|&n| set.contains(n, 1000)).collect();
        prop_assert_eq!(collected, expected);
    }

    #[test]
    fn compress_uids_roundtrip(mut uids in prop::collection::vec(1u32..200, 0..50)) {
        uids.sort_unstable();
        uids.dedup();
        let s = compress_uids(&uids);
        if uids.is_empty() {
            prop_assert_eq!(s, "");
        } else {
            let CommandBody::Fetch { set, .. } = body(&format!("a UID FETCH {s} UID")) else {
                panic!()
            };
            prop_assert_eq!(set.iter(u32::MAX).take(1000).collect::<Vec<_>>(), uids);
        }
    }

    #[test]
    fn quoted_roundtrip(s in "[ -~]{0,40}") {
        let mut out = b"a LOGIN ".to_vec();
        quoted_or_literal(&mut out, s.as_bytes());
        out.extend_from_slice(b" ");
        write_astring(&mut out, s.as_bytes());
        let CommandBody::Login { username, password } =
            parse_command(vec![Fragment::Line(out)]).unwrap().body
        else {
            panic!()
        };
        prop_assert_eq!(&username, &s);
        prop_assert_eq!(&password, &s);
    }

    #[test]
    fn internal_date_roundtrip(unix in -62_135_596_800i64..253_402_300_799, off in -1439i32..1439) {
        let s = format_internal_date(unix, off);
        let cmd = parse_command(frags(&[format!("a APPEND x \"{s}\" {{1}}").as_bytes(), b"z", b""])).unwrap();
        let CommandBody::Append { messages, .. } = cmd.body else { panic!() };
        let d = messages[0].date.unwrap();
        if (off / 60).abs() < 24 {
            prop_assert_eq!(d, DateTime { unix, offset_minutes: off });
        }
    }
}

/// Commands exactly as common clients send them.
#[test]
fn client_transcripts() {
    let lines = [
        // Python imaplib
        "ABCD1 CAPABILITY",
        "ABCD2 LOGIN user \"p@ss \\\"w\\\\rd\"",
        "ABCD3 SELECT INBOX",
        "ABCD4 SEARCH ALL",
        "ABCD5 SEARCH CHARSET UTF-8 SUBJECT \"hi\"",
        "ABCD6 FETCH 1 (RFC822)",
        "ABCD7 STORE 1 +FLAGS \\Deleted",
        "ABCD8 UID FETCH 1:* (UID FLAGS)",
        "ABCD9 EXAMINE \"INBOX\"",
        // mutt
        "a0001 AUTHENTICATE PLAIN AHVzZXIAcGFzcw==",
        "a0002 LIST \"\" \"*\"",
        "a0003 STATUS \"INBOX\" (MESSAGES UNSEEN)",
        "a0004 UID FETCH 1:5 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL X-ORIGINAL-TO)])",
        "a0005 UID STORE 3 +FLAGS.SILENT (\\Seen)",
        "a0006 UID COPY 3,5:7 \"Archive\"",
        "a0007 ENABLE QRESYNC",
        // mbsync
        "4 LIST \"\" \"*\"",
        "5 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-TUID MESSAGE-ID)])",
        "6 UID STORE 1,3 +FLAGS.SILENT (\\Deleted)",
        "7 UID EXPUNGE 1,3",
        "8 UID FETCH 5 (BODY.PEEK[])",
        // Thunderbird
        "1 capability",
        "3 list (SUBSCRIBED) \"\" \"*\" RETURN (SPECIAL-USE)",
        "4 list \"\" \"%\" RETURN (SUBSCRIBED CHILDREN)",
        "5 UID fetch 1:* (FLAGS)",
        "6 UID fetch 1 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
        "7 select \"INBOX\" (CONDSTORE)",
        "8 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")",
        // Apple Mail / K-9 / Outlook
        "A10 UID FETCH 1:* (FLAGS UID) (CHANGEDSINCE 1)",
        "11 UID SEARCH 1:* NOT DELETED",
        "12 FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER] INTERNALDATE)",
        "13 UID MOVE 42 Trash",
        "14 IDLE",
        "15 NAMESPACE",
        "16 UNSELECT",
    ];
    for l in lines {
        let c = ok(l);
        assert!(!c.tag.is_empty());
    }
    let Some((tag, name)) = peek_tag_and_name(lines[7].as_bytes()) else {
        panic!()
    };
    assert_eq!((tag.as_str(), name.as_str()), ("ABCD8", "UID FETCH"));
}

#[test]
fn literal_roundtrip_via_framing() {
    // Simulate the session: split on announcements using literal_announcement.
    let wire: &[u8] = b"a LOGIN {3}\r\njoe {4+}\r\npass\r\n";
    let mut frags = Vec::new();
    let mut rest = wire;
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let l = &rest[..nl];
        rest = &rest[nl + 2..];
        frags.push(Fragment::Line(l.to_vec()));
        match literal_announcement(l).unwrap() {
            Some(spec) => {
                let n = spec.len as usize;
                frags.push(Fragment::Literal(rest[..n].to_vec()));
                rest = &rest[n..];
            }
            None => break,
        }
    }
    assert!(rest.is_empty());
    assert_eq!(
        parse_command(frags).unwrap().body,
        CommandBody::Login {
            username: "joe".into(),
            password: "pass".into()
        }
    );
}

fn set(s: &str) -> SequenceSet {
    match body(&format!("a UID FETCH {s} UID")) {
        CommandBody::Fetch { set, .. } => set,
        o => panic!("{o:?}"),
    }
}

#[test]
fn fetch_vanished_modifier() {
    let CommandBody::Fetch {
        changed_since,
        vanished,
        ..
    } = body("a UID FETCH 1:* FLAGS (CHANGEDSINCE 12 VANISHED)")
    else {
        panic!()
    };
    assert_eq!((changed_since, vanished), (Some(12), true));
    assert!(
        bad("a FETCH 1:* FLAGS (CHANGEDSINCE 12 VANISHED)")
            .message
            .contains("VANISHED")
    );
    assert!(
        bad("a UID FETCH 1:* FLAGS (VANISHED)")
            .message
            .contains("CHANGEDSINCE")
    );
}

#[test]
fn sort_and_thread() {
    use SortCriterion as S;
    assert_eq!(
        body("a UID SORT RETURN (MIN COUNT) (REVERSE date subject) utf-8 UNSEEN FROM x"),
        CommandBody::Sort {
            keys: vec![
                SortKey {
                    reverse: true,
                    criterion: S::Date
                },
                SortKey {
                    reverse: false,
                    criterion: S::Subject
                }
            ],
            charset: "UTF-8".into(),
            criteria: SearchKey::And(vec![SearchKey::Unseen, SearchKey::From("x".into())]),
            uid: true,
            return_opts: Some(vec![SearchReturnOpt::Min, SearchReturnOpt::Count]),
        }
    );
    assert_eq!(
        body("a THREAD references US-ASCII ALL"),
        CommandBody::Thread {
            algorithm: ThreadAlgorithm::References,
            charset: "US-ASCII".into(),
            criteria: SearchKey::All,
            uid: false,
        }
    );
    assert!(bad("a SORT (WEIGHT) UTF-8 ALL").message.contains("WEIGHT"));
    assert!(bad("a SORT (DATE) UTF-8").message.contains("search"));
    assert_eq!(bad("a SORT (DATE) X-NOPE ALL").kind, ErrorKind::BadCharset);
    assert!(bad("a THREAD FOO UTF-8 ALL").message.contains("FOO"));
}

#[test]
fn wire_extension_commands() {
    assert_eq!(body("a UNAUTHENTICATE"), CommandBody::Unauthenticate);
    assert_eq!(
        body("a COMPRESS deflate"),
        CommandBody::Compress("DEFLATE".into())
    );
    assert_eq!(
        body("a GETQUOTA \"\""),
        CommandBody::GetQuota(String::new())
    );
    assert_eq!(
        body("a GETQUOTAROOT inbox"),
        CommandBody::GetQuotaRoot("INBOX".into())
    );
    assert_eq!(
        body("a SETQUOTA \"\" (STORAGE 512)"),
        CommandBody::SetQuota(String::new())
    );
    assert_eq!(
        body("a XLIST \"\" *"),
        CommandBody::Xlist {
            reference: String::new(),
            pattern: "*".into()
        }
    );
    assert!(parse_command(frags(&[b"a SETQUOTA \"\" (STORAGE 512"])).is_err());
    assert!(parse_command(frags(&[b"a COMPRESS"])).is_err());

    // CATENATE: text literals and URLs in order.
    let cmd = parse_command(frags(&[
        b"a APPEND x (\\Seen) CATENATE (TEXT {2}",
        b"hi",
        b" URL \"/INBOX/;UID=1\" TEXT ~{1}",
        b"\0",
        b")",
    ]))
    .unwrap();
    let CommandBody::Append { messages, .. } = cmd.body else {
        panic!()
    };
    assert_eq!(
        messages[0].catenate,
        vec![
            CatenatePart::Text(b"hi".to_vec()),
            CatenatePart::Url("/INBOX/;UID=1".into()),
            CatenatePart::Text(b"\0".to_vec()),
        ]
    );
    assert!(messages[0].binary);
    // UTF8 data must be a literal8.
    let cmd = parse_command(frags(&[b"a APPEND x UTF8 (~{2}", b"\xc3\xa9", b")"])).unwrap();
    let CommandBody::Append { messages, .. } = cmd.body else {
        panic!()
    };
    assert!(messages[0].utf8);
    assert_eq!(messages[0].message, "é".as_bytes());
    assert!(parse_command(frags(&[b"a APPEND x UTF8 ({2}", b"ab", b")"])).is_err());
    assert!(parse_command(frags(&[b"a APPEND x CATENATE (FOO \"x\")"])).is_err());
    assert!(parse_command(frags(&[b"a APPEND x CATENATE (TEXT \"x\")"])).is_err());
}

#[test]
fn search_strings_in_other_charsets_become_utf8() {
    // "Привет" in KOI8-R and "Grüße" in ISO-8859-1, each as a literal.
    let koi8 = [0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4];
    let cmd = parse_command(frags(&[b"a SEARCH CHARSET KOI8-R SUBJECT {6}", &koi8, b""])).unwrap();
    let CommandBody::Search {
        charset, criteria, ..
    } = cmd.body
    else {
        panic!()
    };
    assert_eq!(charset.as_deref(), Some("KOI8-R"));
    assert_eq!(criteria, SearchKey::Subject("Привет".into()));
    let cmd = parse_command(frags(&[
        b"a UID SORT (DATE) iso-8859-1 BODY {5}",
        b"Gr\xfc\xdfe",
        b"",
    ]))
    .unwrap();
    let CommandBody::Sort {
        criteria, charset, ..
    } = cmd.body
    else {
        panic!()
    };
    assert_eq!(charset, "ISO-8859-1");
    assert_eq!(criteria, SearchKey::Body("Grüße".into()));
    // Bytes that are not valid in the charset are a syntax error, not a panic or a guess.
    let e = parse_command(frags(&[
        b"a SEARCH CHARSET SHIFT_JIS TEXT {2}",
        b"\x81\x20",
        b"",
    ]));
    assert!(e.is_err());
}
