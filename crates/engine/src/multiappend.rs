//! Several messages appended as one unit (IMAP MULTIAPPEND, RFC 3502): all are stored or none.

use crate::{Engine, Error, ErrorKind, Flags, Result};
use eider_store::{MessageRow, UidRange};

/// One message of a multi-message append.
pub struct NewMessage {
    pub raw: Vec<u8>,
    pub flags: Flags,
    pub internal_date: Option<i64>,
    /// Sent as a BINARY literal8: parts with `Content-Transfer-Encoding: binary` are stored
    /// base64-encoded (see [`eider_mime::encode_binary_parts`]).
    pub binary: bool,
}

impl Engine {
    /// Appends `messages` in order. Size and quota are checked for the whole batch first; if a
    /// later store step still fails, the messages already stored are deleted again, so the
    /// mailbox ends with all of them or none. Returns (UIDVALIDITY, rows).
    pub async fn append_all(
        &self,
        user_id: &str,
        mailbox_id: &str,
        messages: Vec<NewMessage>,
    ) -> Result<(u32, Vec<MessageRow>)> {
        let mut total: u64 = 0;
        for m in &messages {
            if m.raw.is_empty() {
                return Err(Error::new(ErrorKind::Invalid, "empty message"));
            }
            if m.raw.len() as u64 > self.config.max_message_size {
                return Err(Error::new(
                    ErrorKind::TooBig,
                    format!("message exceeds {} bytes", self.config.max_message_size),
                ));
            }
            total += m.raw.len() as u64;
        }
        let user = self.get_user(user_id).await?;
        if user.quota > 0 && user.storage_used.max(0) as u64 + total > user.quota as u64 {
            return Err(Error::new(ErrorKind::OverQuota, "quota exceeded"));
        }
        let mut rows = Vec::with_capacity(messages.len());
        let mut validity = 0;
        for m in messages {
            let raw = match m.binary {
                true => eider_mime::encode_binary_parts(&m.raw).unwrap_or(m.raw),
                false => m.raw,
            };
            match self
                .append(user_id, mailbox_id, raw, &m.flags, m.internal_date)
                .await
            {
                Ok((v, row)) => {
                    validity = v;
                    rows.push(row);
                }
                Err(e) => {
                    if !rows.is_empty() {
                        let ranges: Vec<UidRange> =
                            rows.iter().map(|r| UidRange(r.uid, r.uid)).collect();
                        if let Err(undo) = self.delete_messages(user_id, mailbox_id, &ranges).await
                        {
                            tracing::error!(error = %undo.message, "MULTIAPPEND rollback failed");
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok((validity, rows))
    }
}
