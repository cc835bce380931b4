//! Decoded header fields for SEARCH/SORT, via mail-parser.

use mail_parser::{Address, HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

/// Decoded (UTF-8) header values used by SEARCH and SORT.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HeaderFields {
    pub subject: Option<String>,
    /// Display strings `Name <a@b>` (or `a@b`), comma-joined.
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub bcc: Option<String>,
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// `<id>` items, space-joined.
    pub in_reply_to: Option<String>,
    /// `<id>` items, space-joined.
    pub references: Option<String>,
    /// Unix seconds of the Date header.
    pub date: Option<i64>,
}

fn display(addr: Option<&Address<'_>>) -> Option<String> {
    let addr = addr?;
    let items: Vec<String> = addr
        .iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        None
    } else {
        Some(items.join(", "))
    }
}

fn ids(v: &HeaderValue<'_>) -> Option<String> {
    let list: Vec<String> = match v {
        HeaderValue::Text(t) => vec![format!("<{t}>")],
        HeaderValue::TextList(l) => l.iter().map(|t| format!("<{t}>")).collect(),
        _ => Vec::new(),
    };
    if list.is_empty() {
        None
    } else {
        Some(list.join(" "))
    }
}

/// Extracts the decoded fields from a header block. Never panics (mail-parser is additionally
/// fenced with `catch_unwind`).
pub(crate) fn extract(header: &[u8]) -> HeaderFields {
    std::panic::catch_unwind(|| {
        let Some(m) = MessageParser::new().parse_headers(header) else {
            return HeaderFields::default();
        };
        HeaderFields {
            subject: m.subject().map(str::to_string),
            from: display(m.from()),
            to: display(m.to()),
            cc: display(m.cc()),
            bcc: display(m.bcc()),
            message_id: m.message_id().map(str::to_string),
            in_reply_to: ids(m.in_reply_to()),
            references: ids(m.references()),
            date: m.date().map(|d| d.to_timestamp()),
        }
    })
    .unwrap_or_default()
}
