//! CONDSTORE / QRESYNC (RFC 7162): the resync a client asks for in SELECT, `VANISHED (EARLIER)`
//! for UID FETCH, and the ENABLE bookkeeping. Expunges come from the store's journal, changed flags
//! from the MODSEQ index: nothing reads the whole mailbox beyond its UID list.

use crate::reply::{Reply, from_engine};
use crate::session::Session;
use eider_imap_proto::{QresyncParams, SequenceSet, compress_uids};

impl Session {
    /// `ENABLE` for one capability name; returns whether it was newly enabled.
    pub(crate) fn enable_extension(&mut self, name: &str) -> bool {
        match name {
            "CONDSTORE" if !self.condstore => {
                self.condstore = true;
                true
            }
            // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
            "QRESYNC" if !self.qresync => {
                self.qresync = true;
                self.condstore = true;
                true
            }
            _ => false,
        }
    }

    /// A command other than SELECT/EXAMINE/ENABLE turned CONDSTORE on (FETCH MODSEQ, CHANGEDSINCE,
    /// UNCHANGEDSINCE, SEARCH MODSEQ): the first time, with a mailbox selected, the client learns
    /// its HIGHESTMODSEQ (RFC 7162 §3.1; imaptest's esearch-condstore expects it).
    pub(crate) fn enable_condstore_by_command(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.selected {
            let line = format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", sel.modseq);
            self.conn.write_str(&line);
        }
    }

    /// After a SELECT with `(QRESYNC (...))` whose UIDVALIDITY matched: the messages expunged
    /// since the client's MODSEQ (limited to the UIDs it says it knows) as `VANISHED (EARLIER)`,
    /// then the flags of every message changed since then.
    pub(crate) async fn qresync_report(&mut self, params: &QresyncParams) -> Result<(), Reply> {
        let user = self.user_id();
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let mailbox_id = sel.id.clone();
        let mut vanished = self
            .engine
            .expunged_since(&user, &mailbox_id, params.modseq)
            .await
            .map_err(from_engine)?;
        if let Some(known) = &params.known_uids {
            let star = vanished.last().copied().unwrap_or(0);
            vanished.retain(|&uid| known.contains(uid, star));
        }
        vanished.dedup();
        if !vanished.is_empty() {
            self.conn.write_str(&format!(
                "* VANISHED (EARLIER) {}\r\n",
                compress_uids(&vanished)
            ));
        }
        let changes = self
            .engine
            .changes_since(&user, &mailbox_id, params.modseq)
            .await
            .map_err(from_engine)?;
        let sel = self.selected.as_ref().expect("checked above");
        for row in &changes.changed {
            let Some(seq) = sel.seq_of(row.uid) else {
                continue;
            };
            self.conn.write_str(&format!(
                "* {seq} FETCH (UID {} FLAGS ({}) MODSEQ ({}))\r\n",
                row.uid,
                sel.flag_names(row),
                row.modseq
            ));
        }
        Ok(())
    }

    /// `UID FETCH set ... (CHANGEDSINCE n VANISHED)`: the UIDs of `set` expunged after `n`.
    pub(crate) async fn vanished_in_set(
        &mut self,
        set: &SequenceSet,
        since: u64,
    ) -> Result<(), Reply> {
        let user = self.user_id();
        let Some(sel) = self.selected.as_ref() else {
            return Ok(());
        };
        let mailbox_id = sel.id.clone();
        let star = sel.uids.last().copied().unwrap_or(0);
        let mut vanished = self
            .engine
            .expunged_since(&user, &mailbox_id, since)
            .await
            .map_err(from_engine)?;
        let star = star.max(vanished.last().copied().unwrap_or(0));
        vanished.retain(|&uid| set.contains(uid, star));
        vanished.dedup();
        if !vanished.is_empty() {
            self.conn.write_str(&format!(
                "* VANISHED (EARLIER) {}\r\n",
                compress_uids(&vanished)
            ));
        }
        Ok(())
    }
}
