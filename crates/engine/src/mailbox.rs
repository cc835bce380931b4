//! Mailbox semantics: names, INBOX, hierarchy, special-use, status.

use crate::{Engine, Error, ErrorKind, Result};
use eider_store::{MailboxRow, StoreError};

pub const INBOX: &str = "INBOX";
/// Hierarchy delimiter of mailbox names.
pub const DELIMITER: char = '/';
/// Longest mailbox name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Deepest hierarchy accepted.
pub const MAX_DEPTH: usize = 32;

/// Mailboxes every new account gets, with their RFC 6154 special-use attributes.
pub const SPECIAL_USE_DEFAULTS: [(&str, Option<&str>); 5] = [
    (INBOX, None),
    ("Drafts", Some("\\Drafts")),
    ("Sent Mail", Some("\\Sent")),
    ("Junk", Some("\\Junk")),
    ("Trash", Some("\\Trash")),
];

const SPECIAL_USES: [&str; 7] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    /// Messages no session has seen yet.
    pub recent: u32,
    /// First UID no session has claimed as \\Recent.
    pub recent_uid: u32,
    pub uid_next: u32,
    pub uid_validity: u32,
    pub highest_modseq: u64,
    pub size: u64,
}

/// Canonical form of a mailbox name: `INBOX` is case-insensitive (also as a hierarchy root),
/// every other name is kept as given. Rejects names that cannot be stored.
pub fn canonical_name(name: &str) -> Result<String> {
    let invalid =
        |why: &str| Error::new(ErrorKind::Invalid, format!("invalid mailbox name: {why}"));
    if name.is_empty() {
        return Err(invalid("empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid("too long"));
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(invalid("forbidden character"));
    }
    let parts: Vec<&str> = name.split(DELIMITER).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid("empty hierarchy level"));
    }
    if parts.len() > MAX_DEPTH {
        return Err(invalid("too deep"));
    }
    if parts[0].eq_ignore_ascii_case(INBOX) {
        let mut out = INBOX.to_string();
        for p in &parts[1..] {
            out.push(DELIMITER);
            out.push_str(p);
        }
        return Ok(out);
    }
    Ok(name.to_string())
}

/// Checks a special-use attribute against RFC 6154's list and returns its canonical spelling.
pub fn canonical_special_use(attr: &str) -> Result<String> {
    SPECIAL_USES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(attr))
        .map(|s| s.to_string())
        .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("unknown special-use {attr}")))
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("Mailbox doesn't exist: {name}"),
    )
}

impl Engine {
    pub async fn list_mailboxes(&self, user_id: &str) -> Result<Vec<MailboxRow>> {
        Ok(self.store.list_mailboxes(user_id).await?)
    }

    /// Finds a mailbox by name (INBOX case-insensitively).
    pub async fn find_mailbox(&self, user_id: &str, name: &str) -> Result<MailboxRow> {
        let canonical = canonical_name(name).map_err(|_| not_found(name))?;
        self.store
            .get_mailbox_by_path(user_id, &canonical)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found(name),
                other => other.into(),
            })
    }

    pub async fn mailbox_by_id(&self, user_id: &str, id: &str) -> Result<MailboxRow> {
        Ok(self.store.get_mailbox(user_id, id).await?)
    }

    /// Creates a mailbox, and any missing parents (RFC 3501 §6.3.3 lets the server do so).
    pub async fn create_mailbox(
        &self,
        user_id: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<MailboxRow> {
        let name = canonical_name(name.trim_end_matches(DELIMITER))?;
        let special_use = special_use.map(canonical_special_use).transpose()?;
        if name == INBOX {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "Mailbox already exists",
            ));
        }
        let mut prefix = String::new();
        let parts: Vec<&str> = name.split(DELIMITER).collect();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                prefix.push(DELIMITER);
            }
            prefix.push_str(part);
            let last = i + 1 == parts.len();
            let created = self
                .store
                .create_mailbox(
                    user_id,
                    &prefix,
                    if last { special_use.as_deref() } else { None },
                )
                .await;
            match created {
                Ok(id) => {
                    self.publish(user_id, &id, 0);
                }
                Err(StoreError::AlreadyExists) if !last => {}
                Err(StoreError::AlreadyExists) => {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        "Mailbox already exists",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.find_mailbox(user_id, &name).await
    }

    /// Deletes a mailbox and its messages. INBOX and mailboxes with children cannot be deleted.
    pub async fn delete_mailbox(&self, user_id: &str, name: &str) -> Result<()> {
        let mailbox = self.find_mailbox(user_id, name).await?;
        if mailbox.path == INBOX {
            return Err(Error::new(
                ErrorKind::NoPermission,
                "INBOX can't be deleted.",
            ));
        }
        let child_prefix = format!("{}{DELIMITER}", mailbox.path);
        let all = self.store.list_mailboxes(user_id).await?;
        if all.iter().any(|m| m.path.starts_with(&child_prefix)) {
            return Err(Error::new(
                ErrorKind::InUse,
                "Mailbox has children, delete them first",
            ));
        }
        let removed = self
            .store
            .delete_messages(user_id, &mailbox.id, None)
            .await?;
        self.store.delete_mailbox_row(user_id, &mailbox.id).await?;
        self.publish(user_id, &mailbox.id, removed.modseq);
        Ok(())
    }

    /// Renames a mailbox and its children. Renaming INBOX moves its messages to the new mailbox and
    /// leaves INBOX empty (RFC 3501 §6.3.5).
    pub async fn rename_mailbox(&self, user_id: &str, from: &str, to: &str) -> Result<()> {
        let source = self.find_mailbox(user_id, from).await?;
        let target = canonical_name(to)?;
        if target == source.path {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "Mailbox already exists",
            ));
        }
        if target.starts_with(&format!("{}{DELIMITER}", source.path)) {
            return Err(Error::new(
                ErrorKind::Invalid,
                "Can't rename mailbox under itself",
            ));
        }
        if self
            .store
            .get_mailbox_by_path(user_id, &target)
            .await
            .is_ok()
        {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "Mailbox already exists",
            ));
        }
        if source.path == INBOX {
            let created = self.create_mailbox(user_id, &target, None).await?;
            let moved = self
                .store
                .copy_messages(
                    user_id,
                    &source.id,
                    &[eider_store::UidRange(1, u32::MAX)],
                    &created.id,
                    true,
                )
                .await?;
            if !moved.mapping.is_empty() {
                let status = self.mailbox_status(user_id, &source.id).await?;
                self.publish(user_id, &source.id, status.highest_modseq);
            }
            return Ok(());
        }
        // Parents of the new name must exist.
        if let Some((parent, _)) = target.rsplit_once(DELIMITER)
            && self
                .store
                .get_mailbox_by_path(user_id, parent)
                .await
                .is_err()
        {
            self.create_mailbox(user_id, parent, None).await?;
        }
        let child_prefix = format!("{}{DELIMITER}", source.path);
        let all = self.store.list_mailboxes(user_id).await?;
        // Subscriptions of the mailbox and its children follow it, as in Dovecot (RFC 3501 §6.3.5
        // allows either).
        let moves: Vec<(String, String)> = self
            .store
            .list_subscriptions(user_id)
            .await?
            .into_iter()
            .filter_map(|name| {
                let new = if name == source.path {
                    target.clone()
                } else {
                    let rest = name.strip_prefix(&child_prefix)?;
                    format!("{target}{DELIMITER}{rest}")
                };
                Some((name, new))
            })
            .collect();
        self.store
            .rename_mailbox(user_id, &source.id, &target)
            .await?;
        self.publish(user_id, &source.id, 0);
        for child in all.iter().filter(|m| m.path.starts_with(&child_prefix)) {
            let new_path = format!("{target}{DELIMITER}{}", &child.path[child_prefix.len()..]);
            self.store
                .rename_mailbox(user_id, &child.id, &new_path)
                .await?;
            self.publish(user_id, &child.id, 0);
        }
        self.store.move_subscriptions(user_id, &moves).await?;
        Ok(())
    }

    /// Subscribes or unsubscribes a name. Subscriptions are names, not mailboxes: a name that
    /// does not exist may be subscribed, and a deleted mailbox keeps its subscription
    /// (RFC 3501 §6.3.6, §6.3.4).
    pub async fn set_subscribed(&self, user_id: &str, name: &str, subscribed: bool) -> Result<()> {
        let name = canonical_name(name.trim_end_matches(DELIMITER))?;
        Ok(self
            .store
            .set_subscription(user_id, &name, subscribed)
            .await?)
    }

    /// Every subscribed name of a user, sorted; some may name no mailbox.
    pub async fn list_subscriptions(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(self.store.list_subscriptions(user_id).await?)
    }

    pub async fn mailbox_status(&self, user_id: &str, mailbox_id: &str) -> Result<MailboxStatus> {
        let mailbox = self.store.get_mailbox(user_id, mailbox_id).await?;
        let (messages, unseen, deleted, size, recent) = self
            .store
            .mailbox_counts(user_id, mailbox_id, mailbox.recent_uid)
            .await?;
        Ok(MailboxStatus {
            messages,
            unseen,
            deleted,
            recent,
            recent_uid: mailbox.recent_uid,
            uid_next: mailbox.uid_next,
            uid_validity: mailbox.uid_validity,
            highest_modseq: mailbox.highest_modseq,
            size,
        })
    }

    /// Claims this mailbox's \\Recent messages for one session: UIDs in `[from, to)`.
    pub async fn claim_recent(
        &self,
        user_id: &str,
        mailbox_id: &str,
        up_to: u32,
    ) -> Result<Option<(u32, u32)>> {
        Ok(self.store.claim_recent(user_id, mailbox_id, up_to).await?)
    }

    /// Lowest UID without `\\Seen` in a mailbox.
    pub async fn first_unseen_uid(&self, user_id: &str, mailbox_id: &str) -> Result<Option<u32>> {
        Ok(self.store.first_unseen_uid(user_id, mailbox_id).await?)
    }

    pub(crate) fn publish(&self, user_id: &str, mailbox_id: &str, modseq: u64) {
        self.notifier.publish(crate::Notification {
            user_id: user_id.to_string(),
            mailbox_id: mailbox_id.to_string(),
            modseq,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive_as_root() {
        assert_eq!(canonical_name("inbox").unwrap(), "INBOX");
        assert_eq!(canonical_name("InBoX/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(canonical_name("Inboxes").unwrap(), "Inboxes");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "a//b", "/a", "a*", "a%b", "a\u{1}b"] {
            assert!(canonical_name(bad).is_err(), "{bad:?}");
        }
        assert!(canonical_name(&"x/".repeat(40)).is_err());
    }
}
