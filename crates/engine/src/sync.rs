//! Resynchronisation reads for clients that come back later (IMAP QRESYNC).

use crate::{Engine, Result};

impl Engine {
    /// UIDs expunged from a mailbox after `modseq`, ascending (the journal keeps every expunge).
    pub async fn expunged_since(
        &self,
        user_id: &str,
        mailbox_id: &str,
        modseq: u64,
    ) -> Result<Vec<u32>> {
        Ok(self
            .store
            .expunged_since(user_id, mailbox_id, modseq)
            .await?)
    }
}
