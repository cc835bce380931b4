//! FETCH and UID FETCH (RFC 3501 §6.4.5), answered in chunks so a whole-mailbox fetch keeps
//! memory bounded: message rows, then parsed metadata, then bytes only where an item needs them.

use crate::reply::{Reply, from_engine};
use crate::selected::uid_ranges;
use crate::session::Session;
use eider_engine::{Flags, MessageInfo, MessageRow, StoreMode, flags};
use eider_imap_proto::{FetchAttr, SectionText, SequenceSet, format_internal_date, write_nstring};
use std::collections::HashMap;

/// Messages per store round trip when bodies or metadata are read (bounds memory).
const CHUNK: usize = 500;
/// Messages per round trip when only row data (UID, FLAGS, sizes, dates) is asked for.
const ROW_CHUNK: usize = 20_000;

impl Session {
    pub(crate) async fn fetch(
        &mut self,
        set: SequenceSet,
        mut items: Vec<FetchAttr>,
        by_uid: bool,
        changed_since: Option<u64>,
        vanished: bool,
    ) -> Result<Reply, Reply> {
        if vanished && !self.qresync {
            return Err(Reply::bad("QRESYNC is not enabled."));
        }
        if changed_since.is_some() || items.contains(&FetchAttr::ModSeq) {
            self.enable_condstore_by_command();
        }
        if by_uid && !items.contains(&FetchAttr::Uid) {
            items.insert(0, FetchAttr::Uid);
        }
        if changed_since.is_some() && !items.contains(&FetchAttr::ModSeq) {
            items.push(FetchAttr::ModSeq);
        }
        let user = self.user_id();
        let (targets, mailbox_id, read_only) = {
            let sel = self
                .selected
                .as_ref()
                .ok_or_else(|| Reply::bad("No mailbox selected."))?;
            (
                sel.resolve(&set, by_uid, &self.saved_search)?,
                sel.id.clone(),
                sel.read_only,
            )
        };
        if let (true, Some(since)) = (vanished, changed_since) {
            self.vanished_in_set(&set, since).await?;
        }
        // RFC 7162 §3.1.4.1: with CONDSTORE on, flags travel with their MODSEQ.
        if self.condstore
            && items.contains(&FetchAttr::Flags)
            && !items.contains(&FetchAttr::ModSeq)
        {
            items.push(FetchAttr::ModSeq);
        }
        let needs_info = items.iter().any(|a| {
            matches!(
                a,
                FetchAttr::Envelope
                    | FetchAttr::Body
                    | FetchAttr::BodyStructure
                    | FetchAttr::BodySection { .. }
                    | FetchAttr::Rfc822Header
                    | FetchAttr::Rfc822Text
                    | FetchAttr::Binary { .. }
                    | FetchAttr::BinarySize(_)
            )
        });
        let needs_bytes = items.iter().any(|a| {
            matches!(
                a,
                FetchAttr::BodySection { .. }
                    | FetchAttr::Rfc822
                    | FetchAttr::Rfc822Header
                    | FetchAttr::Rfc822Text
                    | FetchAttr::Binary { .. }
                    | FetchAttr::BinarySize(_)
                    | FetchAttr::Preview { .. }
            )
        });
        let wants_preview = items.iter().any(|a| matches!(a, FetchAttr::Preview { .. }));
        let sets_seen = !read_only && items.iter().any(|a| a.sets_seen());
        let chunk_size = if needs_info || needs_bytes {
            CHUNK
        } else {
            ROW_CHUNK
        };
        // Messages expunged by another session while this FETCH ran.
        let mut lost = false;
        for chunk in targets.chunks(chunk_size) {
            let ranges = uid_ranges(chunk.iter().map(|(_, uid)| *uid));
            let mut rows: HashMap<u32, MessageRow> = self
                .engine
                .messages_in(&user, &mailbox_id, &ranges)
                .await
                .map_err(from_engine)?
                .into_iter()
                .map(|r| (r.uid, r))
                .collect();
            if let Some(since) = changed_since {
                rows.retain(|_, r| r.modseq > since);
            }
            if needs_bytes {
                // Charged per chunk before any of it is sent, so no literal is cut short.
                let bytes = rows.values().map(|r| r.size).sum();
                self.charge_limit(eider_engine::UsageLimit::ImapDownload, bytes)
                    .await?;
            }
            let mut newly_seen = Vec::new();
            if sets_seen {
                let unseen: Vec<u32> = chunk
                    .iter()
                    .filter(|(_, uid)| rows.get(uid).is_some_and(|r| r.flags & flags::SEEN == 0))
                    .map(|(_, uid)| *uid)
                    .collect();
                if !unseen.is_empty() {
                    let (updates, _) = self
                        .engine
                        .store_flags(
                            &user,
                            &mailbox_id,
                            &uid_ranges(unseen.iter().copied()),
                            StoreMode::Add,
                            &Flags {
                                system: flags::SEEN,
                                keywords: Vec::new(),
                            },
                            None,
                        )
                        .await
                        .map_err(from_engine)?;
                    for u in updates {
                        if let Some(row) = rows.get_mut(&u.uid) {
                            row.flags = u.flags;
                            row.modseq = u.modseq;
                        }
                        if let Some(sel) = self.selected.as_mut() {
                            sel.own_changes.insert(u.uid, u.modseq);
                        }
                        newly_seen.push(u.uid);
                    }
                }
            }
            let infos = self.infos_for(&user, rows.values(), needs_info).await?;
            for (seq, uid) in chunk {
                let Some(row) = rows.get(uid) else { continue };
                if let Some(lines) = self
                    .selected
                    .as_mut()
                    .and_then(|s| s.announce_keywords(row.keywords.split_whitespace()))
                {
                    self.conn.write_str(&lines);
                }
                let bytes = match self.bytes_for(&user, row, needs_bytes).await {
                    Ok(bytes) => bytes,
                    // Expunged by another session since the rows were read: its content is gone.
                    Err(_) if self.expunged_meanwhile(&user, &mailbox_id, *uid).await => {
                        lost = true;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                // RFC 8970: computed from the text body on demand (so LAZY never needs NIL).
                let preview = match (&bytes, wants_preview) {
                    (Some(b), true) => Some(eider_mime::preview(b)),
                    _ => None,
                };
                let info = infos.get(&row.content_id);
                if needs_info && info.is_none() {
                    lost = true;
                    continue;
                }
                let mut out = format!("* {seq} FETCH (").into_bytes();
                let mut first = true;
                let flags = self
                    .selected
                    .as_ref()
                    .map(|s| s.flag_names(row))
                    .unwrap_or_default();
                for item in &items {
                    if !first {
                        out.push(b' ');
                    }
                    first = false;
                    let data = ItemData {
                        flags: &flags,
                        info,
                        bytes: bytes.as_deref(),
                        preview: preview.as_deref(),
                    };
                    if write_item(&mut out, item, row, &data).is_err() {
                        // RFC 3516 §4.2: an encoding we cannot decode fails the command.
                        return Err(
                            Reply::no("Unknown Content-Transfer-Encoding.").code("UNKNOWN-CTE")
                        );
                    }
                }
                if newly_seen.contains(uid) && !items.contains(&FetchAttr::Flags) {
                    out.push(b' ');
                    let data = ItemData {
                        flags: &flags,
                        info,
                        bytes: None,
                        preview: None,
                    };
                    let _ = write_item(&mut out, &FetchAttr::Flags, row, &data);
                }
                out.extend_from_slice(b")\r\n");
                self.conn.write(&out);
                self.conn
                    .maybe_flush()
                    .await
                    .map_err(|_| Reply::no("Connection lost."))?;
            }
        }
        if lost {
            // RFC 5530; Dovecot's wording, which clients and imaptest recognise.
            return Ok(
                Reply::no("Some of the requested messages no longer exist.").code("EXPUNGEISSUED")
            );
        }
        Ok(Reply::ok("Fetch completed."))
    }

    /// Whether a message of the selected mailbox has been expunged (by any session) by now.
    async fn expunged_meanwhile(&self, user: &str, mailbox_id: &str, uid: u32) -> bool {
        self.engine
            .messages_in(user, mailbox_id, &[eider_engine::UidRange(uid, uid)])
            .await
            .is_ok_and(|rows| rows.is_empty())
    }
}

/// The part's Content-Transfer-Encoding is unknown (BINARY cannot decode it).
pub(crate) struct UnknownCte;

/// What one message's FETCH items are written from, besides its row.
struct ItemData<'a> {
    flags: &'a str,
    info: Option<&'a MessageInfo>,
    bytes: Option<&'a [u8]>,
    preview: Option<&'a str>,
}

fn write_item(
    out: &mut Vec<u8>,
    item: &FetchAttr,
    row: &MessageRow,
    data: &ItemData,
) -> Result<(), UnknownCte> {
    let ItemData {
        flags,
        info,
        bytes,
        preview,
    } = *data;
    let literal = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
        push_without_nul(out, data);
    };
    let name = item.response_name();
    match item {
        FetchAttr::Uid => out.extend_from_slice(format!("UID {}", row.uid).as_bytes()),
        FetchAttr::Flags => out.extend_from_slice(format!("FLAGS ({flags})").as_bytes()),
        FetchAttr::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", row.modseq).as_bytes()),
        FetchAttr::InternalDate => out.extend_from_slice(
            format!(
                "INTERNALDATE \"{}\"",
                format_internal_date(row.internal_date, 0)
            )
            .as_bytes(),
        ),
        FetchAttr::Rfc822Size => {
            out.extend_from_slice(format!("RFC822.SIZE {}", row.size).as_bytes())
        }
        FetchAttr::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            out.extend_from_slice(
                info.map(|i| i.envelope.as_str())
                    .unwrap_or("NIL")
                    .as_bytes(),
            );
        }
        FetchAttr::Body => {
            out.extend_from_slice(b"BODY ");
            out.extend_from_slice(info.map(|i| i.body.as_str()).unwrap_or("NIL").as_bytes());
        }
        FetchAttr::BodyStructure => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            out.extend_from_slice(
                info.map(|i| i.bodystructure.as_str())
                    .unwrap_or("NIL")
                    .as_bytes(),
            );
        }
        FetchAttr::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            literal(out, bytes.unwrap_or_default());
        }
        FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
            let data = bytes.unwrap_or_default();
            let split = info
                .map(|i| i.header_end as usize)
                .unwrap_or(data.len())
                .min(data.len());
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            if matches!(item, FetchAttr::Rfc822Header) {
                literal(out, &data[..split]);
            } else {
                literal(out, &data[split..]);
            }
        }
        FetchAttr::BodySection {
            section, partial, ..
        } => {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            let data = bytes.unwrap_or_default();
            let Some(slice) = info.and_then(|i| section_bytes(i, data, section)) else {
                write_nstring(out, None);
                return Ok(());
            };
            literal(out, partial_of(&slice, *partial));
        }
        FetchAttr::Binary { part, partial, .. } => {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            let Some(decoded) = binary_content(info, bytes.unwrap_or_default(), part)? else {
                write_nstring(out, None);
                return Ok(());
            };
            let slice = partial_of(&decoded, *partial);
            // RFC 3516 §4.3: literal8 only where the data needs it (NUL bytes).
            if slice.contains(&0) {
                out.push(b'~');
            }
            out.extend_from_slice(format!("{{{}}}\r\n", slice.len()).as_bytes());
            out.extend_from_slice(slice);
        }
        FetchAttr::BinarySize(part) => {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            match binary_content(info, bytes.unwrap_or_default(), part)? {
                Some(decoded) => out.extend_from_slice(decoded.len().to_string().as_bytes()),
                None => write_nstring(out, None),
            }
        }
        FetchAttr::EmailId => {
            out.extend_from_slice(format!("EMAILID ({})", crate::ext::email_id(row)).as_bytes())
        }
        // RFC 8474 §5.2: no thread ids are kept, so THREADID is NIL.
        FetchAttr::ThreadId => out.extend_from_slice(b"THREADID NIL"),
        FetchAttr::SaveDate => match crate::ext::save_date(row) {
            Some(t) => out.extend_from_slice(
                format!("SAVEDATE \"{}\"", format_internal_date(t, 0)).as_bytes(),
            ),
            None => out.extend_from_slice(b"SAVEDATE NIL"),
        },
        FetchAttr::Preview { .. } => {
            out.extend_from_slice(b"PREVIEW ");
            write_nstring(out, preview.map(str::as_bytes));
        }
    }
    Ok(())
}

/// `<offset.length>` of a section (RFC 3501 §6.4.5).
fn partial_of(data: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    match partial {
        Some((offset, len)) => {
            let from = (offset as usize).min(data.len());
            let to = from.saturating_add(len as usize).min(data.len());
            &data[from..to]
        }
        None => data,
    }
}

/// The bytes of `BODY[section]` of a message, or None if the section does not exist.
pub(crate) fn section_bytes(
    info: &MessageInfo,
    data: &[u8],
    section: &eider_imap_proto::Section,
) -> Option<Vec<u8>> {
    let text = section.text.as_ref().map(to_mime_section);
    let (start, end) = info.section_range(&section.part, text.as_ref())?;
    let (start, end) = (start as usize, (end as usize).min(data.len()));
    let slice = data.get(start..end).unwrap_or_default();
    Some(match &section.text {
        Some(SectionText::HeaderFields(names)) => {
            eider_mime::filter_header_fields(slice, names, false)
        }
        Some(SectionText::HeaderFieldsNot(names)) => {
            eider_mime::filter_header_fields(slice, names, true)
        }
        _ => slice.to_vec(),
    })
}

/// `BINARY[part]` (RFC 3516): the part's body with its Content-Transfer-Encoding removed. `[]` is
/// the whole message as stored. Ok(None) if the part does not exist.
fn binary_content(
    info: Option<&MessageInfo>,
    data: &[u8],
    part: &[u32],
) -> Result<Option<Vec<u8>>, UnknownCte> {
    let Some(info) = info else { return Ok(None) };
    if part.is_empty() {
        return Ok(Some(data.to_vec()));
    }
    let Some(p) = info.part(part) else {
        return Ok(None);
    };
    let (start, end) = (p.body_start as usize, (p.body_end as usize).min(data.len()));
    let body = data.get(start..end).unwrap_or_default();
    eider_mime::decode_transfer_encoding(&p.encoding, body)
        .map(Some)
        .ok_or(UnknownCte)
}

/// Appends message bytes for a non-binary literal, which may not contain NUL (RFC 3501 §4.3,
/// `CHAR8`): each NUL is sent as 0x80, as Dovecot does. The length is unchanged, so
/// RFC822.SIZE and BODYSTRUCTURE sizes still hold.
fn push_without_nul(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    out.extend_from_slice(data);
    if data.contains(&0) {
        for b in &mut out[start..] {
            if *b == 0 {
                *b = 0x80;
            }
        }
    }
}

fn to_mime_section(text: &SectionText) -> eider_mime::SectionText {
    match text {
        SectionText::Header => eider_mime::SectionText::Header,
        SectionText::HeaderFields(n) => eider_mime::SectionText::HeaderFields(n.clone()),
        SectionText::HeaderFieldsNot(n) => eider_mime::SectionText::HeaderFieldsNot(n.clone()),
        SectionText::Text => eider_mime::SectionText::Text,
        SectionText::Mime => eider_mime::SectionText::Mime,
    }
}

#[cfg(test)]
mod tests {
    use super::push_without_nul;

    #[test]
    fn literals_carry_no_nul() {
        let mut out = b"{5}\r\n".to_vec();
        push_without_nul(&mut out, b"a\0b\0\xff");
        assert_eq!(out, b"{5}\r\na\x80b\x80\xff");
        let mut out = Vec::new();
        push_without_nul(&mut out, b"plain\r\n");
        assert_eq!(out, b"plain\r\n");
    }
}
