//! STORE, COPY/MOVE, EXPUNGE/UID EXPUNGE and APPEND.

use crate::reply::{Reply, from_engine};
use crate::selected::uid_ranges;
use crate::session::Session;
use eider_engine::{Flags, StoreMode, flags};
use eider_imap_proto::{Flag, SequenceSet, StoreKind, compress_uids};

/// Converts protocol flags to the engine's form; `\Recent` cannot be set by clients and is dropped.
pub fn to_engine_flags(list: &[Flag]) -> Flags {
    let mut out = Flags::default();
    for flag in list {
        match flag {
            Flag::Seen => out.system |= flags::SEEN,
            Flag::Answered => out.system |= flags::ANSWERED,
            Flag::Flagged => out.system |= flags::FLAGGED,
            Flag::Deleted => out.system |= flags::DELETED,
            Flag::Draft => out.system |= flags::DRAFT,
            Flag::Recent => {}
            Flag::Keyword(k) => {
                if !out.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    out.keywords.push(k.clone());
                }
            }
        }
    }
    out
}

impl Session {
    /// The selected mailbox, if it may be changed (not EXAMINEd).
    fn writable_selection(&self) -> Result<&crate::selected::Selected, Reply> {
        let sel = self
            .selected
            .as_ref()
            .ok_or_else(|| Reply::bad("No mailbox selected."))?;
        if sel.read_only {
            return Err(Reply::no("Mailbox is read-only.").code("READ-ONLY"));
        }
        Ok(sel)
    }

    /// The target of COPY, MOVE or APPEND; a missing one is `NO [TRYCREATE]` (RFC 3501 §6.4.7).
    pub(crate) async fn target_mailbox(
        &self,
        user: &str,
        name: &str,
    ) -> Result<eider_engine::MailboxRow, Reply> {
        match self.engine.find_mailbox(user, name).await {
            Ok(m) => Ok(m),
            Err(e) if e.kind == eider_engine::ErrorKind::NotFound => {
                Err(Reply::no("Mailbox doesn't exist.").code("TRYCREATE"))
            }
            Err(e) => Err(from_engine(e)),
        }
    }

    pub(crate) async fn store(
        &mut self,
        set: SequenceSet,
        kind: StoreKind,
        silent: bool,
        flag_list: Vec<Flag>,
        by_uid: bool,
        unchanged_since: Option<u64>,
    ) -> Result<Reply, Reply> {
        let user = self.user_id();
        if unchanged_since.is_some() {
            self.enable_condstore_by_command();
        }
        let sel = self.writable_selection()?;
        let targets = sel.resolve(&set, by_uid, &self.saved_search)?;
        let mailbox_id = sel.id.clone();
        let mode = match kind {
            StoreKind::Add => StoreMode::Add,
            StoreKind::Remove => StoreMode::Remove,
            StoreKind::Replace => StoreMode::Replace,
        };
        let ranges = uid_ranges(targets.iter().map(|(_, uid)| *uid));
        let (updates, failed) = self
            .engine
            .store_flags(
                &user,
                &mailbox_id,
                &ranges,
                mode,
                &to_engine_flags(&flag_list),
                unchanged_since,
            )
            .await
            .map_err(from_engine)?;
        if let Some(sel) = self.selected.as_mut() {
            for u in &updates {
                sel.own_changes.insert(u.uid, u.modseq);
            }
            // New keywords are announced now, as Dovecot does, even for a silent STORE.
            if mode != StoreMode::Remove && !updates.is_empty() {
                let stored = to_engine_flags(&flag_list);
                if let Some(lines) =
                    sel.announce_keywords(stored.keywords.iter().map(String::as_str))
                {
                    self.conn.write_str(&lines);
                }
            }
        }
        if !silent || self.condstore {
            // Report the resulting flags of every message in the set (RFC 3501 §6.4.6), changed or not.
            let rows = self
                .engine
                .messages_in(&user, &mailbox_id, &ranges)
                .await
                .map_err(from_engine)?;
            let sel = self.selected.as_mut().expect("checked above");
            let new_keywords: Vec<&str> = rows
                .iter()
                .flat_map(|r| r.keywords.split_whitespace())
                .collect();
            if let Some(lines) = sel.announce_keywords(new_keywords) {
                self.conn.write_str(&lines);
            }
            for row in rows {
                if failed.contains(&row.uid) {
                    continue;
                }
                let changed = updates.iter().any(|u| u.uid == row.uid);
                if silent && !changed {
                    continue;
                }
                let Some(seq) = sel.seq_of(row.uid) else {
                    continue;
                };
                let mut items = Vec::new();
                if by_uid {
                    items.push(format!("UID {}", row.uid));
                }
                if !silent {
                    items.push(format!("FLAGS ({})", sel.flag_names(&row)));
                }
                if self.condstore {
                    items.push(format!("MODSEQ ({})", row.modseq));
                }
                self.conn
                    .write_str(&format!("* {seq} FETCH ({})\r\n", items.join(" ")));
            }
        }
        if !failed.is_empty() {
            let sel = self.selected.as_ref().expect("checked above");
            let mut numbers: Vec<u32> = if by_uid {
                failed.clone()
            } else {
                failed.iter().filter_map(|uid| sel.seq_of(*uid)).collect()
            };
            numbers.sort_unstable();
            return Ok(Reply::ok("Conditional STORE failed")
                .code(&format!("MODIFIED {}", compress_uids(&numbers))));
        }
        Ok(Reply::ok("Store completed."))
    }

    pub(crate) async fn copy(
        &mut self,
        set: SequenceSet,
        target: &str,
        by_uid: bool,
        remove: bool,
    ) -> Result<Reply, Reply> {
        let user = self.user_id();
        let target_name = self.decode_name(target)?;
        let sel = self
            .selected
            .as_ref()
            .ok_or_else(|| Reply::bad("No mailbox selected."))?;
        if remove && sel.read_only {
            return Err(Reply::no("Mailbox is read-only.").code("READ-ONLY"));
        }
        let targets = sel.resolve(&set, by_uid, &self.saved_search)?;
        let source_id = sel.id.clone();
        let target = self.target_mailbox(&user, &target_name).await?;
        let done = if remove {
            "Move completed."
        } else {
            "Copy completed."
        };
        if targets.is_empty() {
            return Ok(Reply::ok("No messages found."));
        }
        let result = self
            .engine
            .copy_messages(
                &user,
                &source_id,
                &uid_ranges(targets.iter().map(|(_, uid)| *uid)),
                &target.id,
                remove,
            )
            .await
            .map_err(from_engine)?;
        if result.mapping.is_empty() {
            return Ok(Reply::ok(done));
        }
        let sources: Vec<u32> = result.mapping.iter().map(|(s, _)| *s).collect();
        let copies: Vec<u32> = result.mapping.iter().map(|(_, d)| *d).collect();
        let code = format!(
            "COPYUID {} {} {}",
            result.uid_validity,
            compress_uids(&sources),
            compress_uids(&copies)
        );
        if remove {
            // RFC 6851: COPYUID goes in an untagged OK before the EXPUNGEs.
            self.conn
                .write_str(&format!("* OK [{code}] Moved UIDs.\r\n"));
            return Ok(Reply::ok(done));
        }
        Ok(Reply::ok(done).code(&code))
    }

    pub(crate) async fn expunge(&mut self, set: Option<SequenceSet>) -> Result<Reply, Reply> {
        let user = self.user_id();
        let sel = self.writable_selection()?;
        let mailbox_id = sel.id.clone();
        let ranges = match &set {
            Some(set) => {
                let targets = sel.resolve(set, true, &self.saved_search)?;
                if targets.is_empty() {
                    return Ok(Reply::ok("Expunge completed."));
                }
                Some(uid_ranges(targets.iter().map(|(_, uid)| *uid)))
            }
            None => None,
        };
        self.engine
            .expunge(&user, &mailbox_id, ranges.as_deref())
            .await
            .map_err(from_engine)?;
        Ok(Reply::ok("Expunge completed."))
    }
}
