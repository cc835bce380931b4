//! Builds a message from structured fields (the HTTP API's JSON upload) with mail-builder.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;

#[derive(Debug, Clone, Default)]
pub struct ComposedAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub content: Vec<u8>,
    /// Content-ID for inline parts referenced from HTML.
    pub cid: Option<String>,
    pub inline: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Composed {
    /// (name, address) pairs.
    pub from: Option<(String, String)>,
    pub reply_to: Option<(String, String)>,
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    pub bcc: Vec<(String, String)>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Extra header fields (name, value).
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<ComposedAttachment>,
    /// Unix seconds for the Date header (now when absent).
    pub date: Option<i64>,
}

fn address(pair: &(String, String)) -> Address<'static> {
    if pair.0.is_empty() {
        Address::from(pair.1.clone())
    } else {
        Address::from(pair.clone())
    }
}

fn address_list(list: &[(String, String)]) -> Address<'static> {
    Address::new_list(list.iter().map(address).collect())
}

/// The RFC 5322 bytes of a composed message.
pub fn compose(c: &Composed) -> std::io::Result<Vec<u8>> {
    let mut b = MessageBuilder::new();
    if let Some(f) = &c.from {
        b = b.from(address(f));
    }
    if let Some(r) = &c.reply_to {
        b = b.reply_to(address(r));
    }
    if !c.to.is_empty() {
        b = b.to(address_list(&c.to));
    }
    if !c.cc.is_empty() {
        b = b.cc(address_list(&c.cc));
    }
    if !c.bcc.is_empty() {
        b = b.bcc(address_list(&c.bcc));
    }
    if let Some(s) = &c.subject {
        b = b.subject(s.clone());
    }
    if let Some(d) = c.date {
        b = b.date(d);
    }
    for (name, value) in &c.headers {
        b = b.header(name.clone(), Text::new(value.clone()));
    }
    if let Some(t) = &c.text {
        b = b.text_body(t.clone());
    }
    if let Some(h) = &c.html {
        b = b.html_body(h.clone());
    }
    if c.text.is_none() && c.html.is_none() {
        b = b.text_body(String::new());
    }
    for a in &c.attachments {
        b = if a.inline || a.cid.is_some() {
            let cid = a
                .cid
                .clone()
                .or_else(|| a.filename.clone())
                .unwrap_or_else(|| "inline".into());
            b.inline(a.content_type.clone(), cid, a.content.clone())
        } else {
            b.attachment(
                a.content_type.clone(),
                a.filename.clone().unwrap_or_else(|| "attachment".into()),
                a.content.clone(),
            )
        };
    }
    b.write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_a_message_mail_parser_reads_back() {
        let raw = compose(&Composed {
            from: Some(("Ann".into(), "ann@example.com".into())),
            to: vec![(String::new(), "bob@example.com".into())],
            subject: Some("Hello".into()),
            text: Some("Hi Bob".into()),
            attachments: vec![ComposedAttachment {
                filename: Some("a.bin".into()),
                content_type: "application/octet-stream".into(),
                content: vec![1, 2, 3],
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
        let v = crate::view::view(&raw);
        assert_eq!(v.subject, "Hello");
        assert_eq!(v.text.trim(), "Hi Bob");
        assert_eq!(v.to[0].address, "bob@example.com");
        assert_eq!(v.attachments[0].filename, "a.bin");
        assert_eq!(v.attachments[0].size, 3);
    }
}
