//! OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970), LITERAL- (RFC 7888) and the
//! IMAP4rev2 (RFC 9051) mode a client turns on with `ENABLE IMAP4rev2`.

use crate::mailboxes::DELIMITER;
use crate::reply::{Reply, from_engine};
use crate::session::Session;
use eider_engine::{MailboxRow, MessageRow};
use eider_imap_proto::quoted_or_literal;

/// RFC 7888 §4: with LITERAL-, a non-synchronizing literal may carry at most this many bytes.
pub(crate) const LITERAL_MINUS_MAX: u64 = 4096;

/// EMAILID (RFC 8474 §5.1): names the immutable content, so it is the same in every mailbox a
/// message is copied or moved to. The content id is a BLAKE3 hash of the bytes; 96 bits of it
/// behind a letter keep the id short and let it start with a letter, as §4 recommends.
pub(crate) fn email_id(row: &MessageRow) -> String {
    let hex = row.content_id.get(..24).unwrap_or(&row.content_id);
    format!("M{hex}")
}

/// SAVEDATE (RFC 8514): when the message was saved into this mailbox. A message row gets a new
/// id whenever it lands in a mailbox (delivery, APPEND, COPY, MOVE), and ids begin with their
/// creation time in seconds (see `eider_store::new_id`), so no separate column is needed.
pub(crate) fn save_date(row: &MessageRow) -> Option<i64> {
    let secs = u32::from_str_radix(row.id.get(..8)?, 16).ok()?;
    Some(secs as i64)
}

impl Session {
    /// Capabilities of this module, advertised after login.
    pub(crate) fn ext_capabilities(&self) -> &'static str {
        "OBJECTID PREVIEW SAVEDATE"
    }

    /// `LITERAL+` or, when `imap.literal_plus` is off, `LITERAL-`: never both (RFC 7888 §4).
    pub(crate) fn literal_capability(&self) -> &'static str {
        if self.config.literal_plus {
            "LITERAL+"
        } else {
            "LITERAL-"
        }
    }

    /// The largest non-synchronizing literal this session accepts.
    pub(crate) fn non_sync_literal_limit(&self) -> Option<u64> {
        (!self.config.literal_plus).then_some(LITERAL_MINUS_MAX)
    }

    /// ENABLE IMAP4rev2: rev2 answers from now on; mailbox names travel as UTF-8 (RFC 9051 §5.1).
    pub(crate) fn enable_rev2(&mut self) -> bool {
        if self.rev2 {
            return false;
        }
        self.rev2 = true;
        self.utf8 = true;
        if let Some(sel) = self.selected.as_mut() {
            sel.rev2 = true;
        }
        true
    }

    /// RFC 9051 §6.3.2: in IMAP4rev2, SELECT and EXAMINE answer with the mailbox's LIST response.
    pub(crate) async fn write_select_list(&mut self, mailbox: &MailboxRow) -> Result<(), Reply> {
        let user = self.user_id();
        let all = self
            .engine
            .list_mailboxes(&user)
            .await
            .map_err(from_engine)?;
        let prefix = format!("{}{DELIMITER}", mailbox.path);
        let mut attrs = vec![if all.iter().any(|m| m.path.starts_with(&prefix)) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        if let Some(s) = &mailbox.special_use {
            attrs.push(s);
        }
        if mailbox.subscribed {
            attrs.push("\\Subscribed");
        }
        let mut line = format!("* LIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
        quoted_or_literal(&mut line, self.encode_name(&mailbox.path).as_bytes());
        line.extend_from_slice(b"\r\n");
        self.conn.write(&line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, content: &str) -> MessageRow {
        MessageRow {
            uid: 1,
            id: id.into(),
            content_id: content.into(),
            modseq: 1,
            flags: 0,
            keywords: String::new(),
            internal_date: 0,
            size: 0,
        }
    }

    #[test]
    fn ids_from_rows() {
        let r = row("6931d6a400000000aabbccdd", &"ab".repeat(32));
        assert_eq!(email_id(&r), format!("M{}", "ab".repeat(12)));
        assert_eq!(save_date(&r), Some(0x6931d6a4));
        assert_eq!(save_date(&row("zz", "")), None);
    }
}
