//! Section resolution (RFC 3501 §6.4.5) and header filtering on hand-written messages.

use eider_mime::{PartKind, SectionText, analyze, filter_header_fields};

fn sect<'a>(
    raw: &'a [u8],
    info: &eider_mime::MessageInfo,
    part: &[u32],
    text: Option<SectionText>,
) -> Option<&'a [u8]> {
    info.section_range(part, text.as_ref())
        .map(|(s, e)| &raw[s as usize..e as usize])
}

const NESTED: &[u8] = b"From: a@example.com\r\n\
Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\
\r\n\
preamble\r\n\
--OUT\r\n\
Content-Type: text/plain\r\n\
\r\n\
first part\r\n\
--OUT\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: b@example.com\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative; boundary=IN\r\n\
\r\n\
--IN\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner text\r\n\
--IN\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>inner</p>\r\n\
--IN--\r\n\
--OUT\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: single\r\n\
\r\n\
single body\r\n\
--OUT--\r\n\
epilogue\r\n";

#[test]
fn whole_message_sections() {
    let info = analyze(NESTED);
    assert_eq!(sect(NESTED, &info, &[], None), Some(NESTED));
    let header = sect(NESTED, &info, &[], Some(SectionText::Header)).unwrap();
    assert!(header.starts_with(b"From: a@example.com\r\n"));
    assert!(header.ends_with(b"boundary=\"OUT\"\r\n\r\n"));
    assert_eq!(info.header_end as usize, header.len());
    let text = sect(NESTED, &info, &[], Some(SectionText::Text)).unwrap();
    assert!(text.starts_with(b"preamble\r\n--OUT\r\n"));
    assert!(text.ends_with(b"epilogue\r\n"));
    assert_eq!(sect(NESTED, &info, &[], Some(SectionText::Mime)), None);
}

#[test]
fn multipart_children() {
    let info = analyze(NESTED);
    assert_eq!(sect(NESTED, &info, &[1], None), Some(&b"first part"[..]));
    assert_eq!(
        sect(NESTED, &info, &[1], Some(SectionText::Mime)),
        Some(&b"Content-Type: text/plain\r\n\r\n"[..])
    );
    // HEADER/TEXT only apply to message/rfc822 parts
    assert_eq!(sect(NESTED, &info, &[1], Some(SectionText::Header)), None);
    assert_eq!(sect(NESTED, &info, &[1], Some(SectionText::Text)), None);
    assert_eq!(sect(NESTED, &info, &[4], None), None);
    assert_eq!(sect(NESTED, &info, &[1, 1], None), None);
}

#[test]
fn encapsulated_multipart_message() {
    let info = analyze(NESTED);
    let two = sect(NESTED, &info, &[2], None).unwrap();
    assert!(two.starts_with(b"From: b@example.com\r\n"));
    // as in Dovecot, the line break after a close delimiter stays with the part it closes
    assert!(two.ends_with(b"--IN--\r\n"));
    assert_eq!(
        sect(NESTED, &info, &[2], Some(SectionText::Mime)),
        Some(&b"Content-Type: message/rfc822\r\n\r\n"[..])
    );
    let h = sect(NESTED, &info, &[2], Some(SectionText::Header)).unwrap();
    assert_eq!(h, b"From: b@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=IN\r\n\r\n");
    let t = sect(NESTED, &info, &[2], Some(SectionText::Text)).unwrap();
    assert!(t.starts_with(b"--IN\r\n") && t.ends_with(b"--IN--\r\n"));
    assert_eq!(sect(NESTED, &info, &[2, 1], None), Some(&b"inner text"[..]));
    assert_eq!(
        sect(NESTED, &info, &[2, 2], None),
        Some(&b"<p>inner</p>"[..])
    );
    assert_eq!(
        sect(NESTED, &info, &[2, 2], Some(SectionText::Mime)),
        Some(&b"Content-Type: text/html\r\n\r\n"[..])
    );
    assert_eq!(sect(NESTED, &info, &[2, 3], None), None);
}

#[test]
fn encapsulated_single_part_message() {
    let info = analyze(NESTED);
    assert_eq!(
        sect(NESTED, &info, &[3], None),
        Some(&b"Subject: single\r\n\r\nsingle body"[..])
    );
    assert_eq!(
        sect(NESTED, &info, &[3], Some(SectionText::Header)),
        Some(&b"Subject: single\r\n\r\n"[..])
    );
    assert_eq!(
        sect(NESTED, &info, &[3], Some(SectionText::Text)),
        Some(&b"single body"[..])
    );
    // 3.1 is the body of the single-part encapsulated message; its MIME header is that message's header
    assert_eq!(
        sect(NESTED, &info, &[3, 1], None),
        Some(&b"single body"[..])
    );
    assert_eq!(
        sect(NESTED, &info, &[3, 1], Some(SectionText::Mime)),
        Some(&b"Subject: single\r\n\r\n"[..])
    );
    assert_eq!(sect(NESTED, &info, &[3, 2], None), None);
}

#[test]
fn part_list_order_and_kinds() {
    let info = analyze(NESTED);
    let numbers: Vec<Vec<u32>> = info.parts.iter().map(|p| p.number.clone()).collect();
    assert_eq!(
        numbers,
        vec![
            vec![],
            vec![1],
            vec![2],
            vec![2, 1],
            vec![2, 2],
            vec![3],
            vec![3, 1]
        ]
    );
    assert_eq!(info.parts[0].kind, PartKind::Multipart);
    assert_eq!(info.parts[2].kind, PartKind::Message);
    assert_eq!(info.parts[3].content_type, "text/plain");
    let leaves = info.leaf_bodies();
    let bodies: Vec<&[u8]> = leaves
        .iter()
        .map(|&(s, e)| &NESTED[s as usize..e as usize])
        .collect();
    assert_eq!(
        bodies,
        vec![
            &b"first part"[..],
            b"inner text",
            b"<p>inner</p>",
            b"single body"
        ]
    );
    assert!(leaves.windows(2).all(|w| w[0].1 <= w[1].0));
}

#[test]
fn single_part_message() {
    let raw = b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
    let info = analyze(raw);
    assert_eq!(sect(raw, &info, &[1], None), Some(&b"hello\r\n"[..]));
    // Dovecot: BODY[1.MIME] of a non-multipart message is the message header
    assert_eq!(
        sect(raw, &info, &[1], Some(SectionText::Mime)),
        Some(&b"Subject: hi\r\nContent-Type: text/plain\r\n\r\n"[..])
    );
    assert_eq!(sect(raw, &info, &[2], None), None);
    assert_eq!(
        info.body,
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)"
    );
    assert_eq!(info.leaf_bodies(), vec![(41, 48)]);
}

#[test]
fn top_level_message_rfc822() {
    let raw = b"Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n";
    let info = analyze(raw);
    assert_eq!(
        sect(raw, &info, &[1], None),
        Some(&b"Subject: in\r\n\r\nbody\r\n"[..])
    );
    assert_eq!(
        sect(raw, &info, &[1], Some(SectionText::Header)),
        Some(&b"Subject: in\r\n\r\n"[..])
    );
    assert_eq!(
        sect(raw, &info, &[1], Some(SectionText::Text)),
        Some(&b"body\r\n"[..])
    );
    assert_eq!(sect(raw, &info, &[1, 1], None), Some(&b"body\r\n"[..]));
}

#[test]
fn header_without_body() {
    let raw = b"Subject: only a header\r\nFrom: x@y\r\n";
    let info = analyze(raw);
    assert_eq!(info.header_end as usize, raw.len());
    assert_eq!(
        sect(raw, &info, &[], Some(SectionText::Text)),
        Some(&b""[..])
    );
}

#[test]
fn filter_fields_with_folding() {
    let header = b"Subject: a folded\r\n subject line\r\nX-Other: 1\r\nfrom: me@example.com\r\nTo: you@example.com,\r\n\tthem@example.com\r\n\r\n";
    let names = vec!["SUBJECT".to_string(), "To".to_string()];
    assert_eq!(
        filter_header_fields(header, &names, false),
        b"Subject: a folded\r\n subject line\r\nTo: you@example.com,\r\n\tthem@example.com\r\n\r\n"
            .to_vec()
    );
    assert_eq!(
        filter_header_fields(header, &names, true),
        b"X-Other: 1\r\nfrom: me@example.com\r\n\r\n".to_vec()
    );
    assert_eq!(
        filter_header_fields(header, &["nope".to_string()], false),
        b"\r\n".to_vec()
    );
    // a header block that ends at EOF without a blank line (or final CRLF) still ends properly
    assert_eq!(
        filter_header_fields(b"A: 1\r\nB: 2", &["b".to_string()], false),
        b"B: 2\r\n\r\n".to_vec()
    );
    // "Subject " with a space before the colon still counts as Subject
    assert_eq!(
        filter_header_fields(b"Subject : x\r\n\r\n", &["subject".to_string()], false),
        b"Subject : x\r\n\r\n".to_vec()
    );
}

#[test]
fn envelope_basics() {
    let raw = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nFrom: \"Doe, John\" <john@example.com>\r\nTo: undisclosed-recipients:;\r\nCc: a@b.c (Comment Name), <@route.x:d@e.f>\r\nMessage-ID: <id@x>\r\n\r\n";
    let info = analyze(raw);
    assert_eq!(
        info.envelope,
        "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"=?utf-8?q?caf=C3=A9?=\" ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((\"Doe, John\" NIL \"john\" \"example.com\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((\"Comment Name\" NIL \"a\" \"b.c\")(NIL \"@route.x\" \"d\" \"e.f\")) NIL NIL \"<id@x>\")"
    );
    assert_eq!(info.fields.subject.as_deref(), Some("café"));
    assert_eq!(
        info.fields.from.as_deref(),
        Some("Doe, John <john@example.com>")
    );
    assert_eq!(info.fields.message_id.as_deref(), Some("id@x"));
    assert_eq!(info.fields.date, Some(1_704_067_200));
}

#[test]
fn serde_round_trip() {
    let info = analyze(NESTED);
    let json = serde_json::to_string(&info).unwrap();
    let back: eider_mime::MessageInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, info);
}
