//! The selected mailbox: the UID list that gives sequence numbers, the MODSEQ reported so far, and
//! the sync that turns store changes into EXISTS / EXPUNGE / FETCH responses.

use crate::reply::{Reply, from_engine};
use crate::session::Session;
use eider_engine::UidRange;
use eider_imap_proto::SequenceSet;
use std::collections::HashMap;

pub(crate) struct Selected {
    pub id: String,
    pub read_only: bool,
    /// UIDs of the messages the client knows, ascending; index + 1 is the sequence number.
    pub uids: Vec<u32>,
    /// Changes up to this MODSEQ have been reported (or queued in `pending_expunges`).
    pub modseq: u64,
    /// Expunges seen but not yet reported (not allowed during FETCH/STORE/SEARCH).
    pub pending_expunges: Vec<u32>,
    /// Flag changes this session made itself and already answered: uid → MODSEQ.
    pub own_changes: HashMap<u32, u64>,
    /// UID ranges `[from, to)` that are \\Recent in this session.
    pub recent: Vec<(u32, u32)>,
    /// Keywords announced to the client in FLAGS / PERMANENTFLAGS so far.
    pub keywords: Vec<String>,
    /// IMAP4rev2 session: no \\Recent flag and no RECENT responses (RFC 9051 Appendix E).
    pub rev2: bool,
}

/// The FLAGS and PERMANENTFLAGS responses for a mailbox with these keywords.
pub fn flags_responses(keywords: &[String], read_only: bool) -> String {
    let mut names = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for k in keywords {
        names.push(' ');
        names.push_str(k);
    }
    if read_only {
        format!("* FLAGS ({names})\r\n* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n")
    } else {
        format!("* FLAGS ({names})\r\n* OK [PERMANENTFLAGS ({names} \\*)] Flags permitted.\r\n")
    }
}

impl Selected {
    /// A client must have seen every keyword in FLAGS before a FETCH shows it (RFC 3501 §7.2.6):
    /// records keywords not announced yet and returns the updated FLAGS responses, if any.
    pub fn announce_keywords<'a>(
        &mut self,
        keywords: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let mut added = false;
        for k in keywords {
            if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                self.keywords.push(k.to_string());
                added = true;
            }
        }
        added.then(|| flags_responses(&self.keywords, self.read_only))
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent
            .iter()
            .any(|&(from, to)| uid >= from && uid < to)
    }

    pub fn recent_count(&self) -> usize {
        self.recent
            .iter()
            .map(|&(from, to)| {
                self.uids.partition_point(|&u| u < to) - self.uids.partition_point(|&u| u < from)
            })
            .sum()
    }

    /// Flag names of a message as this session sees them (with \\Recent).
    pub fn flag_names(&self, row: &eider_engine::MessageRow) -> String {
        eider_engine::Flags::from_stored(row.flags, &row.keywords)
            .names_with_recent(!self.rev2 && self.is_recent(row.uid))
            .join(" ")
    }
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// Resolves a sequence set (by sequence number or UID) to (seq, uid) pairs, ascending.
    pub fn resolve(
        &self,
        set: &SequenceSet,
        by_uid: bool,
        saved: &[u32],
    ) -> Result<Vec<(u32, u32)>, Reply> {
        if set.is_saved() {
            return Ok(saved
                .iter()
                .filter_map(|&uid| self.seq_of(uid).map(|seq| (seq, uid)))
                .collect());
        }
        let mut out = Vec::new();
        if by_uid {
            let star = self.uids.last().copied().unwrap_or(0);
            for (low, high) in set.resolved(star) {
                let from = self.uids.partition_point(|&u| u < low);
                let to = self.uids.partition_point(|&u| u <= high);
                for (i, &uid) in self.uids[from..to].iter().enumerate() {
                    out.push(((from + i) as u32 + 1, uid));
                }
            }
        } else {
            let count = self.uids.len() as u32;
            if set.max_explicit().is_some_and(|m| m > count) {
                return Err(Reply::bad("Invalid messageset"));
            }
            if count == 0 {
                return Err(Reply::bad("No messages"));
            }
            for (low, high) in set.clamped(count) {
                for seq in low..=high {
                    out.push((seq, self.uids[seq as usize - 1]));
                }
            }
        }
        Ok(out)
    }
}

/// Compresses ascending UIDs into ranges for store queries.
pub fn uid_ranges(uids: impl IntoIterator<Item = u32>) -> Vec<UidRange> {
    let mut out: Vec<UidRange> = Vec::new();
    for uid in uids {
        match out.last_mut() {
            Some(r) if r.1 + 1 == uid => r.1 = uid,
            Some(r) if r.1 >= uid && r.0 <= uid => {}
            _ => out.push(UidRange(uid, uid)),
        }
    }
    out
}

impl Session {
    /// Parsed metadata of the rows' contents, when `needed` (FETCH and SEARCH share this).
    pub async fn infos_for<'a>(
        &self,
        user: &str,
        rows: impl Iterator<Item = &'a eider_engine::MessageRow>,
        needed: bool,
    ) -> Result<HashMap<String, eider_engine::MessageInfo>, Reply> {
        if !needed {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = rows.map(|r| r.content_id.as_str()).collect();
        self.engine
            .message_infos(user, &ids)
            .await
            .map_err(from_engine)
    }

    /// A message's bytes, when `needed`.
    pub async fn bytes_for(
        &self,
        user: &str,
        row: &eider_engine::MessageRow,
        needed: bool,
    ) -> Result<Option<Vec<u8>>, Reply> {
        if !needed {
            return Ok(None);
        }
        self.engine
            .read_message(user, &row.content_id)
            .await
            .map(Some)
            .map_err(from_engine)
    }

    /// Reports changes to the selected mailbox since the last report. EXPUNGE responses are held
    /// back unless `allow_expunge`.
    pub async fn sync(&mut self, allow_expunge: bool) -> Result<(), Reply> {
        let user = self.user_id();
        let Some(sel) = self.selected.as_mut() else {
            return Ok(());
        };
        let changes = self
            .engine
            .changes_since(&user, &sel.id, sel.modseq)
            .await
            .map_err(from_engine)?;
        for uid in &changes.expunged {
            if sel.uids.binary_search(uid).is_ok() && !sel.pending_expunges.contains(uid) {
                sel.pending_expunges.push(*uid);
            }
        }
        if allow_expunge && !sel.pending_expunges.is_empty() && self.qresync {
            // RFC 7162 §3.2.10: one VANISHED response instead of EXPUNGEs.
            let mut gone: Vec<u32> = sel.pending_expunges.drain(..).collect();
            gone.sort_unstable();
            gone.dedup();
            gone.retain(|uid| sel.uids.binary_search(uid).is_ok());
            if !gone.is_empty() {
                self.conn.write_str(&format!(
                    "* VANISHED {}\r\n",
                    eider_imap_proto::compress_uids(&gone)
                ));
            }
            sel.uids.retain(|uid| gone.binary_search(uid).is_err());
        }
        if allow_expunge && !sel.pending_expunges.is_empty() {
            let mut positions: Vec<usize> = sel
                .pending_expunges
                .iter()
                .filter_map(|uid| sel.uids.binary_search(uid).ok())
                .collect();
            positions.sort_unstable_by(|a, b| b.cmp(a));
            for pos in &positions {
                self.conn.write_str(&format!("* {} EXPUNGE\r\n", pos + 1));
            }
            let gone: std::collections::HashSet<u32> = sel.pending_expunges.drain(..).collect();
            sel.uids.retain(|uid| !gone.contains(uid));
        }
        let last = sel.uids.last().copied().unwrap_or(0);
        let mut added = false;
        for row in &changes.changed {
            if row.uid > last {
                sel.uids.push(row.uid);
                added = true;
            }
        }
        if added {
            self.conn
                .write_str(&format!("* {} EXISTS\r\n", sel.uids.len()));
            if !sel.read_only {
                let up_to = sel.uids.last().copied().unwrap_or(0) + 1;
                if let Some(range) = self
                    .engine
                    .claim_recent(&user, &sel.id, up_to)
                    .await
                    .map_err(from_engine)?
                {
                    sel.recent.push(range);
                }
            }
            if !sel.rev2 {
                self.conn
                    .write_str(&format!("* {} RECENT\r\n", sel.recent_count()));
            }
        }
        for row in changes.changed.iter().filter(|r| r.uid <= last) {
            if sel.own_changes.get(&row.uid) == Some(&row.modseq)
                || sel.pending_expunges.contains(&row.uid)
            {
                continue;
            }
            if let Some(seq) = sel.seq_of(row.uid) {
                if let Some(lines) = sel.announce_keywords(row.keywords.split_whitespace()) {
                    self.conn.write_str(&lines);
                }
                let flags = sel.flag_names(row);
                let modseq = if self.condstore {
                    format!(" MODSEQ ({})", row.modseq)
                } else {
                    String::new()
                };
                self.conn.write_str(&format!(
                    "* {seq} FETCH (UID {} FLAGS ({flags}){modseq})\r\n",
                    row.uid
                ));
            }
        }
        sel.own_changes.clear();
        sel.modseq = sel.modseq.max(changes.highest_modseq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(
            uid_ranges([1, 2, 3, 5, 7, 8]),
            vec![UidRange(1, 3), UidRange(5, 5), UidRange(7, 8)]
        );
        assert!(uid_ranges([]).is_empty());
    }
}
