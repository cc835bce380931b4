//! Reads for IMAP resynchronisation (RFC 7162 QRESYNC): the expunges recorded in the journal.

use crate::{Result, Store};

impl Store {
    /// UIDs expunged from a mailbox after MODSEQ `since`, ascending, from the journal alone.
    pub async fn expunged_since(
        &self,
        user_id: &str,
        mailbox_id: &str,
        since: u64,
    ) -> Result<Vec<u32>> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM journal WHERE mailbox_id = $1 AND modseq > $2 AND user_id = $3 \
             AND kind = 'expunge' ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(since as i64)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }
}
