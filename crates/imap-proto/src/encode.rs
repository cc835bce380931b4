//! Response-encoding helpers.

use crate::parser::is_astring_char;
use crate::types::{FetchAttr, Flag, Section, SectionText};

/// Strings longer than this are always sent as literals.
pub const MAX_QUOTED_LEN: usize = 1024;

fn quotable(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_QUOTED_LEN
        && bytes
            .iter()
            .all(|&b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n')
}

/// Write an IMAP `string`: a quoted string (escaping `"` and `\`) when the
/// bytes are short 7-bit text without CR/LF/NUL, else a `{n}\r\n` literal.
pub fn quoted_or_literal(out: &mut Vec<u8>, bytes: &[u8]) {
    if quotable(bytes) {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
    }
}

/// Write an IMAP `astring`: a bare atom when possible (non-empty,
/// ASTRING-CHARs only, and not `NIL`), else [`quoted_or_literal`].
pub fn write_astring(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.is_empty()
        && bytes.iter().all(|&b| is_astring_char(b))
        && !bytes.eq_ignore_ascii_case(b"NIL")
    {
        out.extend_from_slice(bytes);
    } else {
        quoted_or_literal(out, bytes);
    }
}

/// `astring` form as a `String` (may contain a `{n}\r\n` literal).
pub fn astring(s: &str) -> String {
    let mut v = Vec::new();
    write_astring(&mut v, s.as_bytes());
    // Only ASCII was added around the UTF-8 input.
    String::from_utf8(v).unwrap_or_default()
}

/// Write an IMAP `nstring`: `NIL` for `None`.
pub fn write_nstring(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => quoted_or_literal(out, b),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Write a parenthesized flag list: `(\Seen \Flagged $Label)`.
pub fn write_flags(out: &mut Vec<u8>, flags: &[Flag]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_str().as_bytes());
    }
    out.push(b')');
}

/// Compress UIDs into sequence-set syntax: `[1,2,3,5,7,8,9]` →
/// `1:3,5,7:9`. Meant for sorted input; duplicates are skipped, and
/// unsorted input still yields a correct (just longer) set. Empty input
/// gives an empty string.
pub fn compress_uids(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        i += 1;
        while i < uids.len() && (uids[i] == end || Some(uids[i]) == end.checked_add(1)) {
            end = uids[i];
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
    }
    out
}

/// Echo a section spec as it appears inside `BODY[...]` in a FETCH
/// response, e.g. `1.HEADER.FIELDS (FROM TO)`. Header field names are
/// echoed uppercased (the parser stores them that way; like Dovecot),
/// which is allowed because they are case-insensitive.
pub fn section_to_string(section: &Section) -> String {
    let mut s = section
        .part
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".");
    if let Some(text) = &section.text {
        if !s.is_empty() {
            s.push('.');
        }
        let fields = |s: &mut String, kw: &str, list: &[String]| {
            s.push_str(kw);
            s.push_str(" (");
            for (i, f) in list.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(&astring(f));
            }
            s.push(')');
        };
        match text {
            SectionText::Header => s.push_str("HEADER"),
            SectionText::Text => s.push_str("TEXT"),
            SectionText::Mime => s.push_str("MIME"),
            SectionText::HeaderFields(l) => fields(&mut s, "HEADER.FIELDS", l),
            SectionText::HeaderFieldsNot(l) => fields(&mut s, "HEADER.FIELDS.NOT", l),
        }
    }
    s
}

impl FetchAttr {
    /// The item name to use in the FETCH response: `BODY[1.TEXT]<0>`
    /// (no `.PEEK`; a partial echoes only its origin), `BINARY[1]`,
    /// `BINARY.SIZE[1]`, `RFC822.SIZE`, ...
    pub fn response_name(&self) -> String {
        let part = |p: &[u32]| p.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        let origin = |p: &Option<(u32, u32)>| match p {
            Some((o, _)) => format!("<{o}>"),
            None => String::new(),
        };
        match self {
            FetchAttr::Flags => "FLAGS".into(),
            FetchAttr::InternalDate => "INTERNALDATE".into(),
            FetchAttr::Rfc822 => "RFC822".into(),
            FetchAttr::Rfc822Header => "RFC822.HEADER".into(),
            FetchAttr::Rfc822Size => "RFC822.SIZE".into(),
            FetchAttr::Rfc822Text => "RFC822.TEXT".into(),
            FetchAttr::Envelope => "ENVELOPE".into(),
            FetchAttr::Body => "BODY".into(),
            FetchAttr::BodyStructure => "BODYSTRUCTURE".into(),
            FetchAttr::Uid => "UID".into(),
            FetchAttr::ModSeq => "MODSEQ".into(),
            FetchAttr::BodySection {
                section, partial, ..
            } => format!("BODY[{}]{}", section_to_string(section), origin(partial)),
            FetchAttr::Binary {
                part: p, partial, ..
            } => {
                format!("BINARY[{}]{}", part(p), origin(partial))
            }
            FetchAttr::BinarySize(p) => format!("BINARY.SIZE[{}]", part(p)),
            FetchAttr::EmailId => "EMAILID".into(),
            FetchAttr::ThreadId => "THREADID".into(),
            FetchAttr::SaveDate => "SAVEDATE".into(),
            FetchAttr::Preview { .. } => "PREVIEW".into(),
        }
    }

    /// Does fetching this item set `\Seen` (RFC 3501 §6.4.5)?
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchAttr::Rfc822
                | FetchAttr::Rfc822Text
                | FetchAttr::BodySection { peek: false, .. }
                | FetchAttr::Binary { peek: false, .. }
        )
    }
}
