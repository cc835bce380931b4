//! Regressions found by the server corpus test (crates/eider/tests/corpus.rs) against Dovecot:
//! section ranges next to boundaries, and the placeholder part of an empty multipart.

use eider_mime::{SectionText, analyze};

fn section(raw: &[u8], part: &[u32], text: Option<SectionText>) -> Option<Vec<u8>> {
    let info = analyze(raw);
    info.section_range(part, text.as_ref())
        .map(|(s, e)| raw[s as usize..e as usize].to_vec())
}

const HEAD: &[u8] = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n";

#[test]
fn line_break_before_boundary_is_not_part_of_the_mime_header() {
    // a part with an empty header, then at once the next boundary
    let mut raw = HEAD.to_vec();
    raw.extend_from_slice(b"--b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b--\r\n");
    assert_eq!(section(&raw, &[1], Some(SectionText::Mime)).unwrap(), b"");
    assert_eq!(section(&raw, &[1], None).unwrap(), b"");
    // a header cut short by a boundary line
    assert_eq!(
        section(&raw, &[2], Some(SectionText::Mime)).unwrap(),
        b"Content-Type: text/plain"
    );
    assert_eq!(section(&raw, &[2], None).unwrap(), b"");
}

#[test]
fn encapsulated_header_cut_by_boundary() {
    let mut raw = HEAD.to_vec();
    raw.extend_from_slice(b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n--b--\r\n");
    // the message/rfc822 body keeps the line break (its size is 12), its header does not
    assert_eq!(section(&raw, &[1], None).unwrap(), b"Subject: x\r\n");
    assert_eq!(
        section(&raw, &[1], Some(SectionText::Header)).unwrap(),
        b"Subject: x"
    );
    assert!(analyze(&raw).bodystructure.contains("\"7bit\" 12 "));
}

#[test]
fn multipart_without_parts_has_an_empty_part_one() {
    for raw in [
        &b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n"[..],
        &b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno parts\r\n"[..],
    ] {
        assert_eq!(section(raw, &[1], None).unwrap(), b"");
        assert_eq!(section(raw, &[1], Some(SectionText::Mime)).unwrap(), b"");
        assert_eq!(section(raw, &[2], None), None);
    }
    let raw = b"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n";
    assert_eq!(section(raw, &[1, 1], None).unwrap(), b"");
}

#[test]
fn multipart_keeps_the_line_break_its_trimmed_last_part_gives_up() {
    let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--i\r\n\r\n--o--\r\n";
    // part 1.2 has an empty MIME header, yet part 1 keeps that line break: it ends at the outer
    // boundary line (Dovecot's BODY[1] and size)
    assert_eq!(section(raw, &[1, 2], Some(SectionText::Mime)).unwrap(), b"");
    assert_eq!(
        section(raw, &[1], None).unwrap(),
        b"--i\r\n\r\nx\r\n--i\r\n\r\n"
    );
}
