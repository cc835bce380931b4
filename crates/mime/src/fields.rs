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
    /// The Date header's wall-clock time as Unix seconds (its own zone, not UTC): SENTBEFORE,
    /// SENTON and SENTSINCE compare the date as written (RFC 3501 §6.4.4, as Dovecot does).
    /// Absent in metadata stored before it existed; then `date` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_local: Option<i64>,
}

fn display_addrs(addrs: &[mail_parser::Addr<'_>]) -> Vec<String> {
    addrs
        .iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn display(addr: Option<&Address<'_>>) -> Option<String> {
    let items: Vec<String> = match addr? {
        Address::List(list) => display_addrs(list),
        // Group names stay searchable (`SEARCH TO groupname`), written as in the header.
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = display_addrs(&g.addresses).join(", ");
                match &g.name {
                    Some(name) => format!("{name}: {members};"),
                    None => members,
                }
            })
            .filter(|s| !s.is_empty())
            .collect(),
    };
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
            date_local: m.date().map(|d| {
                let offset = (d.tz_hour as i64 * 60 + d.tz_minute as i64) * 60;
                d.to_timestamp() + if d.tz_before_gmt { -offset } else { offset }
            }),
        }
    })
    .unwrap_or_default()
}
