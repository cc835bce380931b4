//! Reading mail outside IMAP (the HTTP API): mailbox settings, filtered keyset-paged listings and
//! searches, parsed message views, attachments, and the account's change feed (the journal).
//! Writes go through the same store paths as IMAP (append, store_flags, copy/move, delete), so
//! journal entries and notifications are identical whichever protocol made the change.

use crate::{Engine, Error, ErrorKind, Flags, Result, flags, mailbox};
use eider_mime::MessageInfo;
use eider_mime::view::MessageView;
use eider_store::{
    JournalEntry, ListedMessage, MailboxOptions, MailboxRow, MessageFilter, MessageRow, PageKey,
    PageRequest, StoreError, StoreMode, UidRange,
};
use std::collections::HashMap;

/// Rows read per round while filtering on decoded fields: bounds memory per request.
const SCAN_BATCH: i64 = 200;

/// Conditions on decoded headers and text (checked after the SQL conditions).
#[derive(Debug, Clone, Default)]
pub struct TextFilter {
    /// Free text: subject, addresses and decoded body text.
    pub query: Option<String>,
    pub from: Option<String>,
    /// To: or Cc:.
    pub to: Option<String>,
    pub subject: Option<String>,
    pub attachments: Option<bool>,
    /// At least one of these must match (when any is set).
    pub or: Vec<TextTerm>,
    /// Only messages of this thread ([`thread_id`], lower-case hex).
    pub thread: Option<String>,
}

/// A 24-hex thread id derived from the first Message-ID of the conversation (the first
/// References entry, else the message's own Message-ID, else `fallback`), so replies share
/// their thread.
pub fn thread_id(references: Option<&str>, message_id: Option<&str>, fallback: &str) -> String {
    let root = references
        .and_then(|r| r.split_whitespace().next())
        .map(|r| r.trim_matches(['<', '>']).to_string())
        .or_else(|| message_id.map(str::to_string))
        .unwrap_or_else(|| fallback.to_string());
    blake3::hash(root.as_bytes()).to_hex()[..24].to_string()
}

/// The thread id of a listed message.
pub fn item_thread(item: &ListedItem) -> String {
    let fields = item.info.as_ref().map(|i| &i.fields);
    thread_id(
        fields.and_then(|f| f.references.as_deref()),
        fields.and_then(|f| f.message_id.as_deref()),
        &item.row.id,
    )
}

#[derive(Debug, Clone)]
pub enum TextTerm {
    Query(String),
    From(String),
    To(String),
    Subject(String),
}

impl TextFilter {
    fn is_empty(&self) -> bool {
        self.query.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.subject.is_none()
            && self.attachments.is_none()
            && self.or.is_empty()
            && self.thread.is_none()
    }
}

/// Which way a page goes from its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Next(PageKey),
    Previous(PageKey),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: MessageFilter,
    pub text: TextFilter,
    /// By UID within one mailbox; otherwise by receive time across mailboxes.
    pub by_uid: bool,
    pub ascending: bool,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// One listed message with its stored metadata.
#[derive(Debug, Clone)]
pub struct ListedItem {
    pub mailbox_id: String,
    pub row: MessageRow,
    pub info: Option<MessageInfo>,
}

#[derive(Debug, Clone)]
pub struct MessagePage {
    pub items: Vec<ListedItem>,
    pub total: u64,
    pub next: Option<PageKey>,
    pub previous: Option<PageKey>,
}

fn page_key(by_uid: bool, mailbox_id: &str, row: &MessageRow) -> PageKey {
    if by_uid {
        PageKey::Uid(row.uid)
    } else {
        PageKey::Position {
            date: row.internal_date,
            mailbox: mailbox_id.to_string(),
            uid: row.uid,
        }
    }
}

fn contains(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
}

/// Which mailboxes a message may be moved into or listed from: the API uses mailbox ids.
fn not_found_mailbox() -> Error {
    Error::new(ErrorKind::NotFound, "This mailbox does not exist")
}

fn not_found_message() -> Error {
    Error::new(ErrorKind::NotFound, "This message does not exist")
}

impl Engine {
    pub async fn mailbox_options(&self, user_id: &str) -> Result<HashMap<String, MailboxOptions>> {
        Ok(self.store.mailbox_options(user_id).await?)
    }

    /// A mailbox by id, with the API's "not found" wording.
    pub async fn api_mailbox(&self, user_id: &str, mailbox_id: &str) -> Result<MailboxRow> {
        self.store
            .get_mailbox(user_id, mailbox_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found_mailbox(),
                other => other.into(),
            })
    }

    /// Creates a mailbox (and missing parents, as IMAP does) with WildDuck's settings.
    pub async fn create_mailbox_with(
        &self,
        user_id: &str,
        path: &str,
        hidden: bool,
        retention: i64,
    ) -> Result<MailboxRow> {
        let mut created = self.create_mailbox(user_id, path, None).await?;
        // WildDuck's API subscribes the mailboxes it creates (IMAP CREATE does not).
        self.store
            .set_subscription(user_id, &created.path, true)
            .await?;
        created.subscribed = true;
        if hidden || retention != 0 {
            self.store
                .set_mailbox_options(user_id, &created.id, Some(hidden), Some(retention))
                .await?;
        }
        Ok(created)
    }

    /// Renames (with children), (un)subscribes and changes settings of a mailbox.
    pub async fn update_mailbox(
        &self,
        user_id: &str,
        mailbox_id: &str,
        new_path: Option<&str>,
        subscribed: Option<bool>,
        hidden: Option<bool>,
        retention: Option<i64>,
    ) -> Result<()> {
        let current = self.api_mailbox(user_id, mailbox_id).await?;
        if let Some(path) = new_path {
            let target = mailbox::canonical_name(path)?;
            if current.path == mailbox::INBOX && target != mailbox::INBOX {
                // Renaming INBOX in IMAP moves its messages out; over the API WildDuck refuses.
                return Err(Error::new(ErrorKind::InUse, "INBOX can not be renamed"));
            }
            if target != current.path {
                self.rename_mailbox(user_id, &current.path, &target).await?;
            }
        }
        if let Some(s) = subscribed {
            self.store.set_subscribed(user_id, mailbox_id, s).await?;
        }
        if hidden.is_some() || retention.is_some() {
            self.store
                .set_mailbox_options(user_id, mailbox_id, hidden, retention)
                .await?;
        }
        Ok(())
    }

    /// Deletes a mailbox by id. INBOX and special-use mailboxes stay (WildDuck's rule for the API).
    pub async fn delete_mailbox_by_id(&self, user_id: &str, mailbox_id: &str) -> Result<()> {
        let current = self.api_mailbox(user_id, mailbox_id).await?;
        if current.path == mailbox::INBOX || current.special_use.is_some() {
            return Err(Error::new(
                ErrorKind::InUse,
                "Mailbox deletion is not allowed for INBOX and special use mailboxes",
            ));
        }
        self.delete_mailbox(user_id, &current.path).await
    }

    /// One page of messages matching a query, with `next`/`previous` keys.
    pub async fn list_messages(&self, user_id: &str, q: &ListQuery) -> Result<MessagePage> {
        let limit = q.limit.max(1) as usize;
        let (ascending, mut after, backwards) = match &q.cursor {
            None => (q.ascending, None, false),
            Some(Cursor::Next(k)) => (q.ascending, Some(k.clone()), false),
            Some(Cursor::Previous(k)) => (!q.ascending, Some(k.clone()), true),
        };
        let key = |m: &ListedItem| page_key(q.by_uid, &m.mailbox_id, &m.row);
        let mut found: Vec<ListedItem> = Vec::new();
        loop {
            let batch_size = if q.text.is_empty() {
                limit as i64 + 1
            } else {
                SCAN_BATCH
            };
            let page = PageRequest {
                by_uid: q.by_uid,
                ascending,
                after: after.clone(),
                limit: batch_size,
            };
            let batch = self.store.page_messages(user_id, &q.filter, &page).await?;
            let exhausted = (batch.len() as i64) < batch_size;
            let last_key = batch
                .last()
                .map(|m| page_key(q.by_uid, &m.mailbox_id, &m.row));
            for item in self.with_infos(user_id, batch).await? {
                if found.len() > limit {
                    break;
                }
                if self.matches_text(user_id, &item, &q.text).await? {
                    found.push(item);
                }
            }
            if found.len() > limit || exhausted {
                break;
            }
            after = last_key;
        }
        let more = found.len() > limit;
        found.truncate(limit);
        if backwards {
            found.reverse();
        }
        let (next, previous) = match (backwards, found.first(), found.last()) {
            (_, None, _) | (_, _, None) => (None, None),
            (false, Some(first), Some(last)) => (
                more.then(|| key(last)),
                q.cursor.is_some().then(|| key(first)),
            ),
            (true, Some(first), Some(last)) => (Some(key(last)), more.then(|| key(first))),
        };
        let total = if q.text.is_empty() {
            self.store.count_messages(user_id, &q.filter).await?
        } else {
            self.count_text_matches(user_id, q).await?
        };
        Ok(MessagePage {
            items: found,
            total,
            next,
            previous,
        })
    }

    /// How many of the user's messages (all mailboxes) belong to each of `threads`. Scans the
    /// account: WildDuck's `threadCounters` is opt-in for the same reason.
    pub async fn thread_counts(
        &self,
        user_id: &str,
        threads: &std::collections::HashSet<String>,
    ) -> Result<HashMap<String, u64>> {
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut after = None;
        loop {
            let page = PageRequest {
                by_uid: false,
                ascending: true,
                after: after.clone(),
                limit: SCAN_BATCH,
            };
            let batch = self
                .store
                .page_messages(user_id, &MessageFilter::default(), &page)
                .await?;
            let exhausted = (batch.len() as i64) < SCAN_BATCH;
            after = batch.last().map(|m| page_key(false, &m.mailbox_id, &m.row));
            for item in self.with_infos(user_id, batch).await? {
                let thread = item_thread(&item);
                if threads.contains(&thread) {
                    *counts.entry(thread).or_default() += 1;
                }
            }
            if exhausted {
                return Ok(counts);
            }
        }
    }

    async fn with_infos(
        &self,
        user_id: &str,
        batch: Vec<ListedMessage>,
    ) -> Result<Vec<ListedItem>> {
        let ids: Vec<&str> = batch.iter().map(|m| m.row.content_id.as_str()).collect();
        let infos = self.message_infos(user_id, &ids).await?;
        Ok(batch
            .into_iter()
            .map(|m| ListedItem {
                info: infos.get(&m.row.content_id).cloned(),
                mailbox_id: m.mailbox_id,
                row: m.row,
            })
            .collect())
    }

    /// Counts matches of a query with decoded-field conditions, batch by batch.
    async fn count_text_matches(&self, user_id: &str, q: &ListQuery) -> Result<u64> {
        let mut after = None;
        let mut total = 0;
        loop {
            let page = PageRequest {
                by_uid: q.by_uid,
                ascending: true,
                after: after.clone(),
                limit: SCAN_BATCH,
            };
            let batch = self.store.page_messages(user_id, &q.filter, &page).await?;
            let exhausted = (batch.len() as i64) < SCAN_BATCH;
            after = batch
                .last()
                .map(|m| page_key(q.by_uid, &m.mailbox_id, &m.row));
            for item in self.with_infos(user_id, batch).await? {
                if self.matches_text(user_id, &item, &q.text).await? {
                    total += 1;
                }
            }
            if exhausted {
                return Ok(total);
            }
        }
    }

    async fn matches_text(&self, user_id: &str, item: &ListedItem, f: &TextFilter) -> Result<bool> {
        if f.is_empty() {
            return Ok(true);
        }
        let Some(info) = &item.info else {
            return Ok(false);
        };
        let fields = &info.fields;
        if let Some(want) = &f.thread
            && item_thread(item) != *want
        {
            return Ok(false);
        }
        if let Some(want) = f.attachments
            && info.has_attachments != want
        {
            return Ok(false);
        }
        if let Some(s) = &f.from
            && !contains(fields.from.as_deref(), s)
        {
            return Ok(false);
        }
        if let Some(s) = &f.to
            && !contains(fields.to.as_deref(), s)
            && !contains(fields.cc.as_deref(), s)
        {
            return Ok(false);
        }
        if let Some(s) = &f.subject
            && !contains(fields.subject.as_deref(), s)
        {
            return Ok(false);
        }
        if let Some(s) = &f.query
            && !self.matches_query(user_id, item, s).await?
        {
            return Ok(false);
        }
        if !f.or.is_empty() {
            let mut any = false;
            for term in &f.or {
                any = match term {
                    TextTerm::From(s) => contains(fields.from.as_deref(), s),
                    TextTerm::To(s) => {
                        contains(fields.to.as_deref(), s) || contains(fields.cc.as_deref(), s)
                    }
                    TextTerm::Subject(s) => contains(fields.subject.as_deref(), s),
                    TextTerm::Query(s) => self.matches_query(user_id, item, s).await?,
                };
                if any {
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Every word of `query` occurs in the headers or the decoded body text.
    async fn matches_query(&self, user_id: &str, item: &ListedItem, query: &str) -> Result<bool> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if words.is_empty() {
            return Ok(true);
        }
        let mut haystack = String::new();
        if let Some(info) = &item.info {
            let f = &info.fields;
            for v in [&f.subject, &f.from, &f.to, &f.cc].into_iter().flatten() {
                haystack.push_str(v);
                haystack.push('\n');
            }
        }
        let mut lower = haystack.to_lowercase();
        if words.iter().all(|w| lower.contains(w.as_str())) {
            return Ok(true);
        }
        let raw = self.read_message(user_id, &item.row.content_id).await?;
        let body = tokio::task::spawn_blocking(move || eider_mime::body_text(&raw))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        lower.push_str(&body.to_lowercase());
        Ok(words.iter().all(|w| lower.contains(w.as_str())))
    }

    /// A message by mailbox id and UID.
    pub async fn message_by_uid(
        &self,
        user_id: &str,
        mailbox_id: &str,
        uid: u32,
    ) -> Result<MessageRow> {
        self.api_mailbox(user_id, mailbox_id).await?;
        self.store
            .messages_in(user_id, mailbox_id, &[UidRange(uid, uid)])
            .await?
            .into_iter()
            .next()
            .ok_or_else(not_found_message)
    }

    /// A message parsed for display (text, sanitized HTML, attachments).
    pub async fn message_view(&self, user_id: &str, content_id: &str) -> Result<MessageView> {
        let raw = self.read_message(user_id, content_id).await?;
        tokio::task::spawn_blocking(move || eider_mime::view::view(&raw))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))
    }

    /// (content type, file name, decoded bytes) of one attachment.
    pub async fn message_attachment(
        &self,
        user_id: &str,
        content_id: &str,
        attachment_id: &str,
    ) -> Result<(String, String, Vec<u8>)> {
        let raw = self.read_message(user_id, content_id).await?;
        let id = attachment_id.to_string();
        tokio::task::spawn_blocking(move || eider_mime::view::attachment(&raw, &id))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "This attachment does not exist"))
    }

    pub async fn message_expires(&self, user_id: &str, mailbox_id: &str, uid: u32) -> Result<i64> {
        Ok(self.store.message_expires(user_id, mailbox_id, uid).await?)
    }

    pub async fn set_message_expires(
        &self,
        user_id: &str,
        mailbox_id: &str,
        uid: u32,
        expires: i64,
    ) -> Result<()> {
        Ok(self
            .store
            .set_message_expires(user_id, mailbox_id, uid, expires)
            .await?)
    }

    /// Sets and clears system flags on messages; returns how many messages matched.
    pub async fn set_system_flags(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
        set: u32,
        clear: u32,
    ) -> Result<usize> {
        let matched = self
            .store
            .messages_in(user_id, mailbox_id, ranges)
            .await?
            .len();
        if set != 0 {
            let f = Flags {
                system: set,
                keywords: Vec::new(),
            };
            self.store_flags(user_id, mailbox_id, ranges, StoreMode::Add, &f, None)
                .await?;
        }
        if clear != 0 {
            let f = Flags {
                system: clear,
                keywords: Vec::new(),
            };
            self.store_flags(user_id, mailbox_id, ranges, StoreMode::Remove, &f, None)
                .await?;
        }
        Ok(matched)
    }

    /// Journal entries after `seq`, oldest first (the change feed).
    pub async fn journal_since(
        &self,
        user_id: &str,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>> {
        Ok(self.store.journal_since(user_id, seq, limit).await?)
    }

    /// The newest journal sequence number of a user.
    pub async fn journal_head(&self, user_id: &str) -> Result<i64> {
        Ok(self.store.journal_head(user_id).await?)
    }
}

/// WildDuck's flag booleans from a stored bitmask.
pub fn flag_bits(system: u32) -> [(&'static str, bool); 5] {
    [
        ("seen", system & flags::SEEN != 0),
        ("deleted", system & flags::DELETED != 0),
        ("flagged", system & flags::FLAGGED != 0),
        ("draft", system & flags::DRAFT != 0),
        ("answered", system & flags::ANSWERED != 0),
    ]
}
