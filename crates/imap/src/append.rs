//! APPEND with MULTIAPPEND (RFC 3502, all or nothing), BINARY literal8 (RFC 3516), UTF8 data
//! (RFC 6855) and CATENATE (RFC 4469) of text and parts of messages in this account.

use crate::fetch::section_bytes;
use crate::messages::to_engine_flags;
use crate::reply::{Reply, from_engine};
use crate::session::Session;
use eider_engine::{NewMessage, UidRange};
use eider_imap_proto::{
    AppendMessage, CatenatePart, CommandBody, FetchAttr, Fragment, Section, compress_uids,
    parse_command,
};

/// A message part an IMAP URL names (RFC 5092, the subset CATENATE needs).
#[derive(Debug, PartialEq, Eq)]
struct UrlTarget {
    mailbox: String,
    uid_validity: Option<u32>,
    uid: u32,
    section: Section,
    partial: Option<(u64, Option<u64>)>,
}

impl Session {
    pub(crate) async fn append(
        &mut self,
        mailbox: &str,
        messages: Vec<AppendMessage>,
    ) -> Result<Reply, Reply> {
        let user = self.user_id();
        let name = self.decode_name(mailbox)?;
        let target = self.target_mailbox(&user, &name).await?;
        // Build every message first (resolving CATENATE URLs) so that nothing is stored when any
        // of them is refused.
        let mut batch = Vec::with_capacity(messages.len());
        for message in messages {
            if message.utf8 && !self.utf8 {
                return Err(Reply::bad("UTF8 data requires ENABLE UTF8=ACCEPT."));
            }
            let raw = if message.catenate.is_empty() {
                message.message
            } else {
                self.catenate(&user, &message.catenate).await?
            };
            if raw.is_empty() {
                return Err(Reply::no("Empty message.").code("CANNOT"));
            }
            batch.push(NewMessage {
                raw,
                flags: to_engine_flags(&message.flags),
                internal_date: message.date.map(|d| d.unix),
                binary: message.binary,
            });
        }
        let bytes: u64 = batch.iter().map(|m| m.raw.len() as u64).sum();
        self.charge_limit(eider_engine::UsageLimit::ImapUpload, bytes)
            .await?;
        let (validity, rows) = self
            .engine
            .append_all(&user, &target.id, batch)
            .await
            .map_err(from_engine)?;
        let uids: Vec<u32> = rows.iter().map(|r| r.uid).collect();
        Ok(Reply::ok("Append completed.")
            .code(&format!("APPENDUID {validity} {}", compress_uids(&uids))))
    }

    /// Concatenates CATENATE parts into one message, bounded by the message size limit.
    async fn catenate(&self, user: &str, parts: &[CatenatePart]) -> Result<Vec<u8>, Reply> {
        let limit = self.config.max_message_size;
        let mut out = Vec::new();
        for part in parts {
            let bytes = match part {
                CatenatePart::Text(text) => text.clone(),
                CatenatePart::Url(url) => self.resolve_url(user, url).await?,
            };
            if (out.len() + bytes.len()) as u64 > limit {
                return Err(
                    Reply::no(&format!("Message too big (max {limit} bytes).")).code("TOOBIG")
                );
            }
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// The bytes a URL names, or `NO [BADURL url]`.
    async fn resolve_url(&self, user: &str, url: &str) -> Result<Vec<u8>, Reply> {
        let bad = || {
            let shown: String = url
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != ']')
                .collect();
            Reply::no("Invalid or unknown URL.").code(&format!("BADURL {shown}"))
        };
        let target = parse_url(url).ok_or_else(bad)?;
        let name = self.decode_name(&target.mailbox).map_err(|_| bad())?;
        let mailbox = self
            .engine
            .find_mailbox(user, &name)
            .await
            .map_err(|_| bad())?;
        if target
            .uid_validity
            .is_some_and(|v| v != mailbox.uid_validity)
        {
            return Err(bad());
        }
        let rows = self
            .engine
            .messages_in(user, &mailbox.id, &[UidRange(target.uid, target.uid)])
            .await
            .map_err(from_engine)?;
        let row = rows.first().ok_or_else(bad)?;
        let data = self
            .engine
            .read_message(user, &row.content_id)
            .await
            .map_err(from_engine)?;
        let infos = self
            .engine
            .message_infos(user, &[row.content_id.as_str()])
            .await
            .map_err(from_engine)?;
        let info = infos.get(&row.content_id).ok_or_else(bad)?;
        let bytes = section_bytes(info, &data, &target.section).ok_or_else(bad)?;
        Ok(match target.partial {
            Some((offset, len)) => {
                let from = (offset as usize).min(bytes.len());
                let to = len.map_or(bytes.len(), |l| {
                    from.saturating_add(l as usize).min(bytes.len())
                });
                bytes[from..to].to_vec()
            }
            None => bytes,
        })
    }
}

/// Parses `[imap://authority]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`.
fn parse_url(url: &str) -> Option<UrlTarget> {
    let path = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("imap://") => {
            let rest = &url[7..];
            &rest[rest.find('/')?..]
        }
        _ => url,
    };
    let path = path.strip_prefix('/')?;
    let mut pieces = path.split("/;");
    let mailbox_part = pieces.next()?;
    let (mailbox, validity) = match mailbox_part.find(';') {
        Some(i) => {
            let (m, p) = mailbox_part.split_at(i);
            let v = strip_param(p, ";UIDVALIDITY=")?;
            (m, Some(v.parse::<u32>().ok().filter(|v| *v > 0)?))
        }
        None => (mailbox_part, None),
    };
    let mailbox = percent_decode(mailbox)?;
    if mailbox.is_empty() {
        return None;
    }
    let uid_param = pieces.next()?;
    let uid: u32 = strip_param(&format!(";{uid_param}"), ";UID=")?
        .parse()
        .ok()
        .filter(|u| *u > 0)?;
    let mut section = Section::default();
    let mut partial = None;
    for piece in pieces {
        let piece = format!(";{piece}");
        if let Some(s) = strip_param(&piece, ";SECTION=") {
            section = parse_section(&percent_decode(s)?)?;
        } else if let Some(p) = strip_param(&piece, ";PARTIAL=") {
            let (o, l) = match p.split_once('.') {
                Some((o, l)) => (o.parse().ok()?, Some(l.parse().ok()?)),
                None => (p.parse().ok()?, None),
            };
            partial = Some((o, l));
        } else {
            return None;
        }
    }
    Some(UrlTarget {
        mailbox,
        uid_validity: validity,
        uid,
        section,
        partial,
    })
}

/// `;NAME=value` (name case-insensitive) → value.
fn strip_param<'a>(piece: &'a str, name: &str) -> Option<&'a str> {
    let head = piece.get(..name.len())?;
    head.eq_ignore_ascii_case(name)
        .then(|| &piece[name.len()..])
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A section spec such as `1.2.MIME` or `HEADER.FIELDS (SUBJECT)`, parsed by the FETCH grammar
/// so both accept exactly the same sections.
fn parse_section(spec: &str) -> Option<Section> {
    if spec.contains(['\r', '\n', ']']) {
        return None;
    }
    let line = format!("x FETCH 1 BODY.PEEK[{spec}]").into_bytes();
    match parse_command(vec![Fragment::Line(line)]).ok()?.body {
        CommandBody::Fetch { items, .. } => match items.into_iter().next()? {
            FetchAttr::BodySection { section, .. } => Some(section),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1.MIME").unwrap();
        assert_eq!(t.mailbox, "INBOX");
        assert_eq!(t.uid_validity, Some(7));
        assert_eq!(t.uid, 3);
        assert_eq!(t.section.part, vec![1]);
        let t = parse_url("imap://bob@host/a%20b/;uid=20/;section=TEXT/;partial=2.5").unwrap();
        assert_eq!(t.mailbox, "a b");
        assert_eq!(t.uid_validity, None);
        assert_eq!(t.partial, Some((2, Some(5))));
        for bad in [
            "",
            "INBOX/;UID=1",
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX;UIDVALIDITY=/;UID=1",
            "/INBOX/;UID=1/;SECTION=1.BOGUS",
            "/INBOX/;UID=1/;FOO=1",
            "/%ZZ/;UID=1",
        ] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
    }
}
