//! A message as a reader sees it (the HTTP API's message view): decoded text, sanitized HTML,
//! attachments with WildDuck-style ids (`ATT00001`, numbered in message order), headers, and
//! addresses. Parsed with mail-parser on request; nothing here is stored.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MailAddress {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttachmentInfo {
    /// `ATT00001`, `ATT00002`, ...
    pub id: String,
    pub filename: String,
    pub content_type: String,
    /// `attachment` or `inline`.
    pub disposition: String,
    pub transfer_encoding: String,
    /// Found inside a multipart/related part (usually an embedded image).
    pub related: bool,
    /// Decoded size in bytes.
    pub size: u64,
    pub content_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MessageView {
    pub subject: String,
    pub message_id: String,
    /// Unix seconds of the Date header.
    pub date: Option<i64>,
    pub from: Option<MailAddress>,
    pub sender: Option<MailAddress>,
    pub reply_to: Vec<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub bcc: Vec<MailAddress>,
    pub references: Vec<String>,
    pub in_reply_to: String,
    /// Every header field in order: (name as written, unfolded raw value).
    pub headers: Vec<(String, String)>,
    /// Lower-cased `type/subtype` and parameters of the top-level Content-Type.
    pub content_type: String,
    pub content_type_params: Vec<(String, String)>,
    /// Decoded text bodies joined (HTML-only messages get a text rendering of the HTML).
    pub text: String,
    /// Sanitized HTML, one entry per HTML body part.
    pub html: Vec<String>,
    pub attachments: Vec<AttachmentInfo>,
}

fn addresses(addr: Option<&Address<'_>>) -> Vec<MailAddress> {
    let Some(addr) = addr else {
        return Vec::new();
    };
    addr.iter()
        .map(|a| MailAddress {
            name: a.name().unwrap_or_default().to_string(),
            address: a.address().unwrap_or_default().to_string(),
        })
        .filter(|a| !a.address.is_empty() || !a.name.is_empty())
        .collect()
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![format!("<{t}>")],
        HeaderValue::TextList(l) => l.iter().map(|t| format!("<{t}>")).collect(),
        _ => Vec::new(),
    }
}

/// Addresses from a stored display string (`Name <a@b>, c@d`), as [`HeaderFields`] keeps them.
///
/// [`HeaderFields`]: crate::HeaderFields
pub fn parse_addresses(display: &str) -> Vec<MailAddress> {
    std::panic::catch_unwind(|| {
        let header = format!("To: {}\r\n\r\n", display.replace(['\r', '\n'], " "));
        MessageParser::new()
            .parse_headers(header.as_bytes())
            .map(|m| addresses(m.to()))
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// WildDuck's attachment id for the n-th (0-based) attachment.
pub fn attachment_id(index: usize) -> String {
    format!("ATT{:05}", index + 1)
}

/// Removes scripts, event handlers, and other active content; keeps formatting and images.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .add_generic_attributes(["style", "class", "align", "bgcolor", "width", "height"])
        .url_schemes(
            ["http", "https", "mailto", "cid", "data"]
                .into_iter()
                .collect(),
        )
        .clean(html)
        .to_string()
}

fn part_is_related(message: &mail_parser::Message<'_>, part_id: u32) -> bool {
    message.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("related"))
        }) && p.sub_parts().is_some_and(|subs| subs.contains(&part_id))
    })
}

/// Parses a message for display. Never panics: a message mail-parser cannot read gives an
/// empty view.
pub fn view(raw: &[u8]) -> MessageView {
    std::panic::catch_unwind(|| build_view(raw).unwrap_or_default()).unwrap_or_default()
}

fn build_view(raw: &[u8]) -> Option<MessageView> {
    let m = MessageParser::default().parse(raw)?;
    let root = m.root_part();
    let (content_type, content_type_params) = match root.content_type() {
        Some(ct) => (
            valid_type(ct).unwrap_or_else(|| "text/plain".to_string()),
            ct.attributes()
                .unwrap_or_default()
                .iter()
                .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
                .collect(),
        ),
        None => ("text/plain".to_string(), Vec::new()),
    };
    let mut text = Vec::new();
    for i in 0..m.text_body.len() {
        if let Some(t) = m.body_text(i) {
            text.push(t.into_owned());
        }
    }
    let mut html = Vec::new();
    for part in m.html_bodies() {
        if let PartType::Html(h) = &part.body {
            html.push(sanitize_html(h));
        }
    }
    let (listed, recovered) = attachment_parts(&m, text.is_empty() && html.is_empty());
    text.extend(recovered);
    let attachments = listed
        .iter()
        .enumerate()
        .filter_map(|(i, part_id)| {
            let part = m.parts.get(*part_id as usize)?;
            Some(AttachmentInfo {
                id: attachment_id(i),
                filename: part
                    .attachment_name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("attachment-{}", i + 1)),
                content_type: part_content_type(part),
                disposition: part
                    .content_disposition()
                    .map(|d| d.ctype().to_ascii_lowercase())
                    .unwrap_or_else(|| "attachment".to_string()),
                transfer_encoding: part
                    .content_transfer_encoding()
                    .unwrap_or("7bit")
                    .to_ascii_lowercase(),
                related: part_is_related(&m, *part_id),
                size: part.contents().len() as u64,
                content_id: part.content_id().map(str::to_string),
            })
        })
        .collect();
    Some(MessageView {
        subject: m.subject().unwrap_or_default().to_string(),
        message_id: m
            .message_id()
            .map(|id| format!("<{id}>"))
            .unwrap_or_default(),
        date: m.date().map(|d| d.to_timestamp()),
        from: addresses(m.from()).into_iter().next(),
        sender: addresses(m.sender()).into_iter().next(),
        reply_to: addresses(m.reply_to()),
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        bcc: addresses(m.bcc()),
        references: id_list(m.references()),
        in_reply_to: id_list(m.in_reply_to()).join(" "),
        headers: m
            .headers_raw()
            .map(|(k, v)| (k.to_string(), unfold(v)))
            .collect(),
        content_type,
        content_type_params,
        text: text.join("\n"),
        html,
        attachments,
    })
}

/// The parts listed as attachments, and the text of those that are really the body.
///
/// RFC 2045 §5.2: a Content-Type without a subtype or with a syntax error means text/plain.
/// mail-parser files such a part as an attachment; when the message has no other body
/// (`no_body`), it is the body, as Python's `email` and WildDuck read it.
fn attachment_parts(m: &mail_parser::Message<'_>, no_body: bool) -> (Vec<u32>, Vec<String>) {
    let mut text = Vec::new();
    let mut listed = m.attachments.clone();
    if no_body {
        listed.retain(|part_id| {
            let Some(part) = m.parts.get(*part_id as usize) else {
                return true;
            };
            let malformed = part
                .content_type()
                .is_some_and(|ct| valid_type(ct).is_none());
            let attached = part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
            if malformed && !attached && !part.is_message() && part.sub_parts().is_none() {
                text.push(String::from_utf8_lossy(part.contents()).into_owned());
                return false;
            }
            true
        });
    }
    (listed, text)
}

/// Whether mail-parser found a text or HTML body.
fn has_body(m: &mail_parser::Message<'_>) -> bool {
    (0..m.text_body.len()).any(|i| m.body_text(i).is_some())
        || m.html_bodies().any(|p| matches!(p.body, PartType::Html(_)))
}

/// `type/subtype` in lower case when both are RFC 2045 tokens; None for a malformed value.
fn valid_type(ct: &mail_parser::ContentType<'_>) -> Option<String> {
    fn token(s: &str) -> bool {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    }
    let subtype = ct.subtype()?;
    (token(ct.ctype()) && token(subtype)).then(|| {
        format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            subtype.to_ascii_lowercase()
        )
    })
}

fn part_content_type(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => valid_type(ct).unwrap_or_else(|| "text/plain".to_string()),
        None if part.is_message() => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

fn unfold(v: &str) -> String {
    v.replace("\r\n", "").replace('\n', "").trim().to_string()
}

/// The decoded bytes and content type of one attachment (by its `ATT...` id).
pub fn attachment(raw: &[u8], id: &str) -> Option<(String, String, Vec<u8>)> {
    std::panic::catch_unwind(|| {
        let m = MessageParser::default().parse(raw)?;
        let (listed, _) = attachment_parts(&m, !has_body(&m));
        let index = listed
            .iter()
            .enumerate()
            .position(|(i, _)| attachment_id(i).eq_ignore_ascii_case(id))?;
        let part = m.parts.get(listed[index] as usize)?;
        let filename = part
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        Some((part_content_type(part), filename, part.contents().to_vec()))
    })
    .ok()
    .flatten()
}

/// The text a full-text search looks at: subject, addresses and decoded bodies.
pub fn searchable_text(raw: &[u8]) -> String {
    crate::text::body_text(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_content_type_is_plain_text() {
        // RFC 2045 §5.2: no subtype, or not a type at all, reads as text/plain.
        for ct in ["text; charset=us-ascii", "application-x-gzip; name=a.gz"] {
            let raw = format!("Subject: s\r\nContent-Type: {ct}\r\n\r\nblah blah\r\n");
            let v = view(raw.as_bytes());
            assert_eq!(v.content_type, "text/plain", "{ct}");
            assert_eq!(v.text.trim_end(), "blah blah", "{ct}");
            assert!(v.attachments.is_empty(), "{ct}");
        }
        // An attachment with a malformed type stays an attachment, typed text/plain.
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: <html>\r\n\
Content-Disposition: attachment; filename=x\r\n\r\ndata\r\n--b--\r\n";
        let v = view(raw);
        assert_eq!(v.attachments.len(), 1);
        assert_eq!(v.attachments[0].content_type, "text/plain");
        let (ct, _, bytes) = attachment(raw, "ATT00001").unwrap();
        assert_eq!(
            (ct.as_str(), bytes.as_slice()),
            ("text/plain", &b"data"[..])
        );
    }

    #[test]
    fn view_decodes_and_sanitizes() {
        let raw = b"From: A <a@example.com>\r\nTo: b@example.com\r\nSubject: =?utf-8?q?K=C3=A4se?=\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n\
<p onclick=\"x()\">Hi</p><script>alert(1)</script>\r\n--x\r\nContent-Type: application/pdf; name=a.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--x--\r\n";
        let v = view(raw);
        assert_eq!(v.subject, "Käse");
        assert_eq!(v.from.as_ref().unwrap().address, "a@example.com");
        assert_eq!(v.html.len(), 1);
        assert!(!v.html[0].contains("script"), "{}", v.html[0]);
        assert!(!v.html[0].contains("onclick"));
        assert_eq!(v.attachments.len(), 1);
        assert_eq!(v.attachments[0].id, "ATT00001");
        assert_eq!(v.attachments[0].size, 3);
        let (ct, name, bytes) = attachment(raw, "ATT00001").unwrap();
        assert_eq!(
            (ct.as_str(), name.as_str(), bytes),
            ("application/pdf", "a.pdf", vec![0, 1, 2])
        );
        assert!(attachment(raw, "ATT00002").is_none());
    }
}
