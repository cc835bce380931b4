//! SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST/LSUB, STATUS.

use crate::reply::{Reply, from_engine};
use crate::selected::Selected;
use crate::session::Session;
use eider_engine::{INBOX, MailboxRow};
use eider_imap_proto::{
    ListReturnOpt, ListSelectOpt, QresyncParams, StatusItem, quoted_or_literal,
};
use std::collections::HashMap;

pub(crate) const DELIMITER: char = '/';

impl Session {
    pub(crate) async fn select(
        &mut self,
        name: &str,
        read_only: bool,
        condstore: bool,
        qresync: Option<QresyncParams>,
    ) -> Result<Reply, Reply> {
        if qresync.is_some() && !self.qresync {
            return Err(Reply::bad("QRESYNC is not enabled."));
        }
        if self.selected.take().is_some() {
            // RFC 7162 §3.2.11: tells the client the old mailbox is closed.
            self.conn
                .write_str("* OK [CLOSED] Previous mailbox closed.\r\n");
        }
        if condstore {
            self.condstore = true;
        }
        let user = self.user_id();
        let decoded = self.decode_name(name)?;
        let mailbox = self
            .engine
            .find_mailbox(&user, &decoded)
            .await
            .map_err(from_engine)?;
        // Read MODSEQ before the UID list: a change landing in between is then reported again
        // (harmless), never missed.
        let status = self
            .engine
            .mailbox_status(&user, &mailbox.id)
            .await
            .map_err(from_engine)?;
        let uids = self
            .engine
            .mailbox_uids(&user, &mailbox.id)
            .await
            .map_err(from_engine)?;
        let first_unseen = self
            .engine
            .first_unseen_uid(&user, &mailbox.id)
            .await
            .map_err(from_engine)?;
        let recent = if read_only {
            (status.recent_uid, status.uid_next)
        } else {
            self.engine
                .claim_recent(&user, &mailbox.id, status.uid_next)
                .await
                .map_err(from_engine)?
                .unwrap_or((status.uid_next, status.uid_next))
        };
        let recent_count =
            uids.partition_point(|&u| u < recent.1) - uids.partition_point(|&u| u < recent.0);
        let keywords = self
            .engine
            .mailbox_keywords(&user, &mailbox.id)
            .await
            .map_err(from_engine)?;
        let out = &mut self.conn;
        out.write_str(&crate::selected::flags_responses(&keywords, read_only));
        out.write_str(&format!("* {} EXISTS\r\n", uids.len()));
        if !self.rev2 {
            out.write_str(&format!("* {recent_count} RECENT\r\n"));
        }
        // RFC 9051 drops the UNSEEN response code (clients SEARCH UNSEEN instead).
        if let Some(uid) = first_unseen.filter(|_| !self.rev2)
            && let Ok(pos) = uids.binary_search(&uid)
        {
            out.write_str(&format!("* OK [UNSEEN {}] First unseen.\r\n", pos + 1));
        }
        out.write_str(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n",
            mailbox.uid_validity
        ));
        out.write_str(&format!(
            "* OK [UIDNEXT {}] Predicted next UID\r\n",
            status.uid_next
        ));
        out.write_str(&format!(
            "* OK [HIGHESTMODSEQ {}] Highest\r\n",
            status.highest_modseq
        ));
        // RFC 8474 §4.1.
        out.write_str(&format!("* OK [MAILBOXID ({})] Ok\r\n", mailbox.id));
        if self.rev2 {
            self.write_select_list(&mailbox).await?;
        }
        self.selected = Some(Selected {
            id: mailbox.id,
            read_only,
            uids,
            modseq: status.highest_modseq,
            pending_expunges: Vec::new(),
            own_changes: HashMap::new(),
            recent: vec![recent],
            keywords,
            rev2: self.rev2,
        });
        if let Some(params) = qresync
            && params.uid_validity == mailbox.uid_validity
        {
            self.qresync_report(&params).await?;
        }
        let (code, what) = if read_only {
            ("READ-ONLY", "Examine completed")
        } else {
            ("READ-WRITE", "Select completed")
        };
        Ok(Reply::ok(&format!("{what} ({} messages)", status.messages)).code(code))
    }

    pub(crate) async fn create(
        &mut self,
        name: &str,
        special_use: &[String],
    ) -> Result<Reply, Reply> {
        let user = self.user_id();
        let decoded = self.decode_name(name)?;
        if special_use.len() > 1 {
            return Err(Reply::no("Only one special-use attribute per mailbox.").code("USEATTR"));
        }
        let special = special_use.first().map(String::as_str);
        if let Some(s) = special
            && eider_engine::mailbox_special_use(s).is_err()
        {
            return Err(Reply::no("Unsupported special-use attribute.").code("USEATTR"));
        }
        let created = self
            .engine
            .create_mailbox(&user, &decoded, special)
            .await
            .map_err(from_engine)?;
        // RFC 8474 §4.1.
        Ok(Reply::ok("Create completed.").code(&format!("MAILBOXID ({})", created.id)))
    }

    pub(crate) async fn delete(&mut self, name: &str) -> Result<Reply, Reply> {
        let user = self.user_id();
        let decoded = self.decode_name(name)?;
        let mailbox = self
            .engine
            .find_mailbox(&user, &decoded)
            .await
            .map_err(from_engine)?;
        if self.selected.as_ref().is_some_and(|s| s.id == mailbox.id) {
            self.selected = None;
        }
        self.engine
            .delete_mailbox(&user, &decoded)
            .await
            .map_err(|e| match e.kind {
                // RFC 9051 §7.1 response code for a mailbox whose children keep it.
                eider_engine::ErrorKind::InUse => {
                    Reply::no("Mailbox has children, delete them first.").code("HASCHILDREN")
                }
                _ => from_engine(e),
            })?;
        Ok(Reply::ok("Delete completed."))
    }

    pub(crate) async fn rename(&mut self, from: &str, to: &str) -> Result<Reply, Reply> {
        let user = self.user_id();
        let from = self.decode_name(from)?;
        let to = self.decode_name(to)?;
        self.engine
            .rename_mailbox(&user, &from, &to)
            .await
            .map_err(from_engine)?;
        Ok(Reply::ok("Rename completed."))
    }

    pub(crate) async fn subscribe(&mut self, name: &str, on: bool) -> Result<Reply, Reply> {
        let user = self.user_id();
        let decoded = self.decode_name(name)?;
        self.engine
            .set_subscribed(&user, &decoded, on)
            .await
            .map_err(from_engine)?;
        Ok(Reply::ok(if on {
            "Subscribe completed."
        } else {
            "Unsubscribe completed."
        }))
    }

    pub(crate) async fn list(
        &mut self,
        reference: &str,
        patterns: &[String],
        select_opts: &[ListSelectOpt],
        return_opts: &[ListReturnOpt],
        lsub: bool,
    ) -> Result<Reply, Reply> {
        let command = if lsub { "LSUB" } else { "LIST" };
        let done = if lsub {
            "Lsub completed."
        } else {
            "List completed."
        };
        let user = self.user_id();
        // `LIST "" ""`: the hierarchy delimiter and root.
        if !lsub && patterns.len() == 1 && patterns[0].is_empty() {
            self.conn.write_str("* LIST (\\Noselect) \"/\" \"\"\r\n");
            return Ok(Reply::ok(done));
        }
        let reference = self
            .decode_name(reference)
            .unwrap_or_else(|_| reference.to_string());
        let mut matchers = Vec::new();
        for pattern in patterns {
            let pattern = self
                .decode_name(pattern)
                .unwrap_or_else(|_| pattern.clone());
            matchers.push(format!("{reference}{pattern}"));
        }
        let mailboxes = self
            .engine
            .list_mailboxes(&user)
            .await
            .map_err(from_engine)?;
        let subscribed_only = lsub || select_opts.contains(&ListSelectOpt::Subscribed);
        let special_only = select_opts.contains(&ListSelectOpt::SpecialUse);
        let recursive = select_opts.contains(&ListSelectOpt::RecursiveMatch);
        let show_subscribed = return_opts.contains(&ListReturnOpt::Subscribed);
        let status_items = return_opts.iter().find_map(|o| match o {
            ListReturnOpt::Status(items) => Some(items.clone()),
            _ => None,
        });
        // Subscriptions are names: some may name no mailbox (RFC 3501 §6.3.6).
        let subscriptions = if subscribed_only {
            self.engine
                .list_subscriptions(&user)
                .await
                .map_err(from_engine)?
        } else {
            Vec::new()
        };
        // Mailboxes, then subscribed names without a mailbox, in name order.
        let mut entries: Vec<(&str, Option<&MailboxRow>)> = mailboxes
            .iter()
            .map(|m| (m.path.as_str(), Some(m)))
            .collect();
        for name in &subscriptions {
            if !mailboxes.iter().any(|m| &m.path == name) {
                entries.push((name.as_str(), None));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (path, mailbox) in entries {
            if !matchers.iter().any(|m| pattern_matches(m, path)) {
                continue;
            }
            let subscribed = match mailbox {
                Some(m) => m.subscribed,
                None => true,
            };
            // RFC 5258 §3.5 RECURSIVEMATCH: a parent of a subscribed name that the patterns do
            // not match is returned with CHILDINFO even when it is not subscribed itself.
            let prefix = format!("{path}{DELIMITER}");
            let child_info = !lsub
                && recursive
                && subscribed_only
                && subscriptions.iter().any(|name| {
                    name.starts_with(&prefix) && !matchers.iter().any(|m| pattern_matches(m, name))
                });
            if subscribed_only && !subscribed && !child_info {
                continue;
            }
            let Some(mailbox) = mailbox else {
                // A subscribed name without a mailbox: LSUB flags it \Noselect (RFC 3501
                // §6.3.9), LIST (SUBSCRIBED) \NonExistent (RFC 5258 §3.1).
                if special_only {
                    continue;
                }
                let attrs = if lsub {
                    "\\Noselect"
                } else {
                    "\\Subscribed \\NonExistent"
                };
                let mut line = format!("* {command} ({attrs}) \"/\" ").into_bytes();
                quoted_or_literal(&mut line, self.encode_name(path).as_bytes());
                line.extend_from_slice(b"\r\n");
                self.conn.write(&line);
                continue;
            };
            if special_only && mailbox.special_use.is_none() {
                continue;
            }
            let mut attrs = Vec::new();
            if !lsub {
                if mailboxes.iter().any(|m| m.path.starts_with(&prefix)) {
                    attrs.push("\\HasChildren".to_string());
                } else {
                    attrs.push("\\HasNoChildren".to_string());
                }
                if let Some(s) = &mailbox.special_use {
                    attrs.push(s.clone());
                }
            }
            if (show_subscribed || select_opts.contains(&ListSelectOpt::Subscribed))
                && mailbox.subscribed
            {
                attrs.push("\\Subscribed".to_string());
            }
            let mut line = format!("* {command} ({}) \"/\" ", attrs.join(" ")).into_bytes();
            quoted_or_literal(&mut line, self.encode_name(&mailbox.path).as_bytes());
            if child_info {
                line.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            line.extend_from_slice(b"\r\n");
            self.conn.write(&line);
            if let Some(items) = &status_items {
                self.write_status(mailbox, items).await?;
            }
        }
        if lsub {
            self.lsub_unsubscribed_parents(&subscriptions, &matchers);
        }
        Ok(Reply::ok(done))
    }

    /// RFC 3501 §6.3.9: when `%` stops above a subscribed name whose parent is not subscribed
    /// (or does not exist), LSUB returns that parent flagged `\Noselect`.
    fn lsub_unsubscribed_parents(&mut self, subscriptions: &[String], matchers: &[String]) {
        let matches = |name: &str| matchers.iter().any(|m| pattern_matches(m, name));
        let mut parents: Vec<&str> = Vec::new();
        for name in subscriptions {
            if matches(name) {
                continue;
            }
            let mut end = name.len();
            while let Some(pos) = name[..end].rfind(DELIMITER) {
                end = pos;
                let parent = &name[..end];
                let subscribed = subscriptions.iter().any(|s| s == parent);
                if !subscribed && matches(parent) && !parents.contains(&parent) {
                    parents.push(parent);
                }
            }
        }
        for parent in parents {
            let mut line = b"* LSUB (\\Noselect) \"/\" ".to_vec();
            quoted_or_literal(&mut line, self.encode_name(parent).as_bytes());
            line.extend_from_slice(b"\r\n");
            self.conn.write(&line);
        }
    }

    pub(crate) async fn status(
        &mut self,
        name: &str,
        items: &[StatusItem],
    ) -> Result<Reply, Reply> {
        let user = self.user_id();
        let decoded = self.decode_name(name)?;
        let mailbox = self
            .engine
            .find_mailbox(&user, &decoded)
            .await
            .map_err(from_engine)?;
        self.write_status(&mailbox, items).await?;
        Ok(Reply::ok("Status completed."))
    }

    async fn write_status(
        &mut self,
        mailbox: &MailboxRow,
        items: &[StatusItem],
    ) -> Result<(), Reply> {
        let user = self.user_id();
        let status = self
            .engine
            .mailbox_status(&user, &mailbox.id)
            .await
            .map_err(from_engine)?;
        let values: Vec<String> = items
            .iter()
            .map(|item| {
                let v = match item {
                    StatusItem::Messages => status.messages as u64,
                    StatusItem::Recent => status.recent as u64,
                    StatusItem::UidNext => status.uid_next as u64,
                    StatusItem::UidValidity => status.uid_validity as u64,
                    StatusItem::Unseen => status.unseen as u64,
                    StatusItem::Deleted => status.deleted as u64,
                    StatusItem::HighestModSeq => status.highest_modseq,
                    StatusItem::Size => status.size,
                    StatusItem::AppendLimit => self.config.max_message_size,
                    StatusItem::MailboxId => return format!("MAILBOXID ({})", mailbox.id),
                };
                format!("{} {v}", item.as_str())
            })
            .collect();
        let mut line = b"* STATUS ".to_vec();
        quoted_or_literal(&mut line, self.encode_name(&mailbox.path).as_bytes());
        line.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
        self.conn.write(&line);
        Ok(())
    }
}

/// LIST pattern matching: `*` matches anything, `%` anything but the delimiter (RFC 3501 §6.3.8).
/// INBOX matches case-insensitively.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let pattern = if let Some(head) = pattern.get(..5)
        && head.eq_ignore_ascii_case(INBOX)
    {
        format!("{INBOX}{}", &pattern[5..])
    } else {
        pattern.to_string()
    };
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Dynamic programming over (pattern prefix, name prefix): O(|p|·|n|), whatever the client sends.
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                next[0] = row[0];
                for j in 1..=n.len() {
                    next[j] = row[j] || (next[j - 1] && (pc == '*' || n[j - 1] != DELIMITER));
                }
            }
            c => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn wildcards() {
        assert!(pattern_matches("*", "a/b/c"));
        assert!(pattern_matches("%", "INBOX"));
        assert!(!pattern_matches("%", "a/b"));
        assert!(pattern_matches("a/%", "a/b"));
        assert!(!pattern_matches("a/%", "a/b/c"));
        assert!(pattern_matches("inbox", "INBOX"));
        assert!(pattern_matches("Sent*", "Sent Mail"));
        assert!(!pattern_matches("Sent", "Sent Mail"));
    }
}
