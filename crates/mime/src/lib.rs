//! # eider-mime — MIME analysis for Eider
//!
//! This crate owns everything Eider derives from a message's bytes at ingest time:
//! the MIME part tree and its byte ranges, the IMAP `ENVELOPE`, `BODY` and `BODYSTRUCTURE`
//! values (serialized exactly as they go on the wire, matching Dovecot's output as closely as we
//! can), section (`BODY[1.2.MIME]` …) resolution, header-field filtering, and the decoded header
//! fields used for SEARCH/SORT. A message is analyzed once; the resulting [`MessageInfo`] is
//! stored (serde) so FETCH never re-parses.
//!
//! It is pure computation: no I/O, no protocol or session state, no storage. It must never depend
//! on `tokio`, on `eider-store`, or on any protocol crate; callers hand it bytes and get values
//! back. Every entry point must be total: no input may make it panic, loop forever, or recurse
//! without bound (nesting is capped at [`MAX_NESTING`] levels, parts at [`MAX_PARTS`]).
//!
//! The part tree and its byte offsets come from our own single-pass splitter (`mime.rs`), because
//! IMAP sizes, line counts and part boundaries have to follow Dovecot's rules exactly on broken
//! mail; `mail-parser` is used only to decode header values for SEARCH/SORT ([`HeaderFields`]).

mod address;
mod binary;
pub mod compose;
mod fields;
mod header;
mod imap;
mod mime;
mod rfc822;
mod text;
pub mod view;
mod write;

use serde::{Deserialize, Serialize};

pub use binary::{decode_transfer_encoding, encode_binary_parts};
pub use fields::HeaderFields;
pub use mime::{MAX_NESTING, MAX_PARTS};
pub use text::{PREVIEW_CHARS, body_text, preview};

/// Converts bare LF and lone CR line endings to CRLF. Returns the input unchanged (no copy) when it
/// is already CRLF-clean.
pub fn normalize_crlf(raw: Vec<u8>) -> Vec<u8> {
    let clean = {
        let mut ok = true;
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'\r' if raw.get(i + 1) == Some(&b'\n') => i += 2,
                b'\r' | b'\n' => {
                    ok = false;
                    break;
                }
                _ => i += 1,
            }
        }
        ok
    };
    if clean {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                i += if raw.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// What a MIME part is, structurally.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PartKind {
    /// A part with a body that is not further structured (text, image, ...).
    Leaf,
    /// A multipart/* part with a usable boundary.
    Multipart,
    /// A message/rfc822 part: its body is an encapsulated message.
    Message,
}

/// One MIME part with its byte ranges in the raw message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    /// IMAP part number: `[]` for the message itself, `[1, 2]` for part "1.2".
    pub number: Vec<u32>,
    /// Start of the part's MIME header (for `[]`, 0).
    pub header_start: u64,
    /// Start of the part's body (just after the blank line ending the header).
    pub body_start: u64,
    /// End of the part's body (exclusive; the line break before a boundary is not part of it).
    pub body_end: u64,
    pub kind: PartKind,
    /// For [`PartKind::Message`]: (header start, body start, body end) of the encapsulated message.
    pub encapsulated: Option<(u64, u64, u64)>,
    /// Lower-cased `type/subtype` (the default when the header has none).
    pub content_type: String,
    /// Lower-cased Content-Transfer-Encoding ("7bit" when absent).
    pub encoding: String,
    /// Raw (undecoded) filename from Content-Disposition, or the Content-Type name parameter.
    pub filename: Option<String>,
    /// Content-Disposition says attachment, or a non-text leaf carries a file name.
    pub is_attachment: bool,
}

/// Everything FETCH and SEARCH need about one message, computed once at ingest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageInfo {
    /// raw.len()
    pub size: u64,
    /// IMAP ENVELOPE value, parenthesized, as sent on the wire.
    pub envelope: String,
    /// IMAP BODY (non-extensible BODYSTRUCTURE) value.
    pub body: String,
    /// IMAP BODYSTRUCTURE value with extension data.
    pub bodystructure: String,
    /// Every MIME part (the message itself first, as `[]`), in IMAP part-number order.
    pub parts: Vec<PartInfo>,
    /// Offset where the top-level body starts (after the blank line).
    pub header_end: u64,
    /// Decoded fields for SEARCH/SORT.
    pub fields: HeaderFields,
    pub has_attachments: bool,
}

/// Which part of a section a FETCH asks for (RFC 3501 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

/// Analyzes a CRLF-normalized message. Never panics.
pub fn analyze(raw: &[u8]) -> MessageInfo {
    let root = mime::parse(raw);
    let mut envelope = String::new();
    write::envelope(&mut envelope, &root.fields);
    let mut body = String::new();
    write::body(&mut body, raw, &root, false);
    let mut bodystructure = String::new();
    write::body(&mut bodystructure, raw, &root, true);
    let mut parts = Vec::new();
    push_part(&mut parts, &root, Vec::new());
    let has_attachments = parts.iter().any(|p| p.is_attachment);
    let header_end = root.body_start as u64;
    MessageInfo {
        size: raw.len() as u64,
        envelope,
        body,
        bodystructure,
        fields: fields::extract(&raw[..root.body_start]),
        parts,
        header_end,
        has_attachments,
    }
}

fn part_info(node: &mime::Node<'_>, number: Vec<u32>) -> PartInfo {
    let h = &node.info;
    let (kind, encapsulated) = match &node.kind {
        mime::Kind::Leaf => (PartKind::Leaf, None),
        mime::Kind::Multi(_) => (PartKind::Multipart, None),
        mime::Kind::Message(inner) => (
            PartKind::Message,
            Some((
                inner.header_start as u64,
                inner.body_start as u64,
                inner.body_end as u64,
            )),
        ),
    };
    let content_type = if h.opaque {
        "application/octet-stream".to_string()
    } else {
        match &h.ctype {
            Some((t, s)) => format!(
                "{}/{}",
                String::from_utf8_lossy(t),
                String::from_utf8_lossy(s)
            )
            .to_ascii_lowercase(),
            None if h.digest_default => "message/rfc822".to_string(),
            None => "text/plain".to_string(),
        }
    };
    let encoding = h
        .encoding
        .as_ref()
        .map(|e| String::from_utf8_lossy(e).to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".to_string());
    let disp_attachment = h
        .disposition
        .as_ref()
        .is_some_and(|(d, _)| d.eq_ignore_ascii_case(b"attachment"));
    let filename = h
        .disposition
        .as_ref()
        .and_then(|(_, p)| {
            p.iter()
                .find(|(k, _)| k == b"filename" || k == b"filename*")
                .map(|(_, v)| v)
        })
        .or_else(|| {
            h.params
                .iter()
                .find(|(k, _)| k == b"name" || k == b"name*")
                .map(|(_, v)| v)
        })
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let is_attachment = kind == PartKind::Leaf
        && (disp_attachment || (filename.is_some() && !content_type.starts_with("text/")));
    PartInfo {
        number,
        header_start: node.header_start as u64,
        body_start: node.body_start as u64,
        body_end: node.body_end as u64,
        kind,
        encapsulated,
        content_type,
        encoding,
        filename,
        is_attachment,
    }
}

/// Pushes `node` as part `number`, then its sub-parts.
fn push_part(out: &mut Vec<PartInfo>, node: &mime::Node<'_>, number: Vec<u32>) {
    out.push(part_info(node, number.clone()));
    match &node.kind {
        mime::Kind::Leaf => {
            if number.is_empty() {
                // a single-part message: part 1 is its body
                out.push(part_info(node, vec![1]));
            }
        }
        mime::Kind::Multi(children) => {
            if children.is_empty() {
                push_placeholder(out, node, number.clone());
            }
            for (i, c) in children.iter().enumerate() {
                let mut n = number.clone();
                n.push(i as u32 + 1);
                push_part(out, c, n);
            }
        }
        mime::Kind::Message(inner) => {
            if number.is_empty() {
                // top-level message/rfc822: part 1 is the body, i.e. the encapsulated message
                push_part(out, node, vec![1]);
            } else {
                push_message_parts(out, inner, &number);
            }
        }
    }
}

/// A multipart with no parts (no usable boundary, or none found) is described with one empty
/// text/plain part (see `write::body`); that part exists for FETCH too, empty, as in Dovecot.
fn push_placeholder(out: &mut Vec<PartInfo>, multipart: &mime::Node<'_>, mut number: Vec<u32>) {
    number.push(1);
    let at = multipart.body_end as u64;
    out.push(PartInfo {
        number,
        header_start: at,
        body_start: at,
        body_end: at,
        kind: PartKind::Leaf,
        encapsulated: None,
        content_type: "text/plain".to_string(),
        encoding: "7bit".to_string(),
        filename: None,
        is_attachment: false,
    });
}

/// Pushes the parts of an encapsulated message `msg` that is part `number`.
fn push_message_parts(out: &mut Vec<PartInfo>, msg: &mime::Node<'_>, number: &[u32]) {
    if let mime::Kind::Multi(children) = &msg.kind {
        if children.is_empty() {
            push_placeholder(out, msg, number.to_vec());
        }
        for (i, c) in children.iter().enumerate() {
            let mut n = number.to_vec();
            n.push(i as u32 + 1);
            push_part(out, c, n);
        }
    } else {
        let mut n = number.to_vec();
        n.push(1);
        push_part(out, msg, n);
    }
}

impl MessageInfo {
    /// Finds part `number` (`[]` = the message).
    pub fn part(&self, number: &[u32]) -> Option<&PartInfo> {
        self.parts
            .binary_search_by(|p| p.number.as_slice().cmp(number))
            .ok()
            .map(|i| &self.parts[i])
    }

    /// Byte range in the raw message for `BODY[<part>]` (text `None`) or `BODY[<part>.<text>]`;
    /// None if the part (or that section of it) does not exist. For HEADER.FIELDS(.NOT) the header
    /// range is returned; filter it with [`filter_header_fields`].
    pub fn section_range(&self, part: &[u32], text: Option<&SectionText>) -> Option<(u64, u64)> {
        let p = self.part(part)?;
        if part.is_empty() {
            return match text {
                None => Some((0, self.size)),
                Some(
                    SectionText::Header
                    | SectionText::HeaderFields(_)
                    | SectionText::HeaderFieldsNot(_),
                ) => Some((p.header_start, p.body_start)),
                Some(SectionText::Text) => Some((p.body_start, p.body_end)),
                Some(SectionText::Mime) => None,
            };
        }
        match text {
            None => Some((p.body_start, p.body_end)),
            Some(SectionText::Mime) => Some((p.header_start, p.body_start)),
            Some(
                SectionText::Header
                | SectionText::HeaderFields(_)
                | SectionText::HeaderFieldsNot(_),
            ) => p.encapsulated.map(|(h, b, _)| (h, b)),
            Some(SectionText::Text) => p.encapsulated.map(|(_, b, e)| (b, e)),
        }
    }

    /// Body ranges of leaf parts, sorted and non-overlapping, empty ones omitted.
    pub fn leaf_bodies(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for p in &self.parts {
            if p.number.is_empty() || p.kind != PartKind::Leaf || p.body_end <= p.body_start {
                continue;
            }
            if let Some(&(_, last_end)) = out.last()
                && p.body_start < last_end
            {
                continue;
            }
            out.push((p.body_start, p.body_end));
        }
        out
    }
}

/// Keeps (or drops, if `not`) the header fields whose names match `names` case-insensitively,
/// with their folded continuation lines, and ends the result with the blank line IMAP requires.
pub fn filter_header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut keep = false;
    while pos < header.len() {
        let le = header::line_end(header, pos, header.len());
        let line = &header[pos..le];
        let content = header::trim_eol(line);
        if content.is_empty() {
            break;
        }
        if !(line[0] == b' ' || line[0] == b'\t') {
            let name = match content.iter().position(|&b| b == b':') {
                Some(c) => header_name_trim(&content[..c]),
                None => content,
            };
            let listed = names
                .iter()
                .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        pos = le;
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn header_name_trim(mut name: &[u8]) -> &[u8] {
    while let Some((&l, rest)) = name.split_last() {
        if l == b' ' || l == b'\t' {
            name = rest
        } else {
            break;
        }
    }
    name
}
