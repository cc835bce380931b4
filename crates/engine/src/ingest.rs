//! The one way mail comes in (LMTP, IMAP APPEND, HTTP upload), and the message operations that
//! follow it: flags, expunge, copy/move, reads.

use crate::{Engine, Error, ErrorKind, Flags, Result, address, mailbox};
use eider_store::{
    Changes, CopyResult, ExpungeResult, FlagUpdate, MessageRow, NewContent, NewUser, Segment,
    StoreError, StoreMode, UidRange, UserRow,
};
use std::collections::HashMap;

/// Recipient copies of one LMTP message stored at the same time.
const PARALLEL_DELIVERIES: usize = 4;

/// What happened to one LMTP recipient.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered { uid: u32 },
    Failed(Error),
}

/// New-user request as the admin CLI and the API give it.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub address: Option<String>,
    pub quota: i64,
    pub props: String,
}

impl Engine {
    /// Creates a user with an address and the default mailboxes.
    pub async fn create_user(&self, req: &CreateUser) -> Result<String> {
        let username = address::normalize_username(&req.username)?;
        crate::auth::check_password(&req.password)?;
        if req.quota < 0 {
            return Err(Error::new(ErrorKind::Invalid, "quota must not be negative"));
        }
        let mut addresses = Vec::new();
        let main = match &req.address {
            Some(a) => Some(a.clone()),
            None if username.contains('@') => Some(username.clone()),
            None => None,
        };
        if let Some(a) = main {
            addresses.push((address::display_form(&a)?, address::normalize(&a)?));
        }
        let user = NewUser {
            username,
            name: req.name.clone(),
            password_hash: crate::auth::hash_password(&req.password).await?,
            quota: req.quota,
            props: if req.props.is_empty() {
                "{}".into()
            } else {
                req.props.clone()
            },
            addresses,
            mailboxes: mailbox::SPECIAL_USE_DEFAULTS
                .iter()
                .map(|(p, s)| (p.to_string(), s.map(str::to_string)))
                .collect(),
        };
        self.store.create_user(&user).await.map_err(|e| match e {
            StoreError::AlreadyExists => Error::new(
                ErrorKind::AlreadyExists,
                "This username or address already exists",
            ),
            other => other.into(),
        })
    }

    pub async fn get_user(&self, id: &str) -> Result<UserRow> {
        Ok(self.store.get_user(id).await?)
    }

    /// Stores a message in a mailbox: parse once, cut large bodies into shared blobs, charge quota,
    /// allocate UID/MODSEQ, journal and notify. Returns (UIDVALIDITY, stored row).
    pub async fn append(
        &self,
        user_id: &str,
        mailbox_id: &str,
        raw: Vec<u8>,
        flags: &Flags,
        internal_date: Option<i64>,
    ) -> Result<(u32, MessageRow)> {
        if raw.len() as u64 > self.config.max_message_size {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!("message exceeds {} bytes", self.config.max_message_size),
            ));
        }
        let raw = eider_mime::normalize_crlf(raw);
        let content = self.prepare_content(raw).await?;
        let date = internal_date.unwrap_or_else(eider_store::unix_now);
        let (row, uid_validity) = self
            .store
            .append_message(
                user_id,
                mailbox_id,
                &content,
                flags.system,
                &flags.keywords_joined(),
                date,
            )
            .await?;
        self.publish(user_id, mailbox_id, row.modseq);
        Ok((uid_validity, row))
    }

    /// Analyzes a CRLF-normalized message and writes its large bodies as blobs.
    async fn prepare_content(&self, raw: Vec<u8>) -> Result<NewContent> {
        let (raw, info) = tokio::task::spawn_blocking(move || {
            let info = eider_mime::analyze(&raw);
            (raw, info)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("parser task failed: {e}")))?;
        let mut segments = Vec::new();
        let mut at = 0usize;
        for (start, end) in info.leaf_bodies() {
            let (start, end) = (start as usize, end as usize);
            if end <= start || start < at || end > raw.len() {
                continue;
            }
            if ((end - start) as u64) < self.config.blob_threshold {
                continue;
            }
            let hash = self.store.put_blob(&raw[start..end]).await?;
            segments.push(Segment {
                offset: start as u64,
                len: (end - start) as u64,
                hash,
            });
            at = end;
        }
        let skeleton_stored = eider_store::encode_skeleton(&raw, &segments);
        let info_json = serde_json::to_string(&info)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        Ok(NewContent {
            id: blake3::hash(&raw).to_hex().to_string(),
            size: raw.len() as u64,
            skeleton_stored,
            segments,
            info_json,
        })
    }

    /// Delivers one message to several local users (LMTP). Each copy gets its own `Return-Path`
    /// and `Delivered-To` headers; the body bytes, and their blobs, are shared.
    pub async fn deliver(
        &self,
        raw: &[u8],
        return_path: &str,
        recipients: &[(String, String)],
    ) -> Vec<DeliveryOutcome> {
        use futures::StreamExt;
        let copies: Vec<_> = recipients
            .iter()
            .map(|(user_id, rcpt)| {
                Box::pin(self.deliver_one(raw, return_path, user_id, rcpt))
                    as std::pin::Pin<
                        Box<dyn std::future::Future<Output = DeliveryOutcome> + Send + '_>,
                    >
            })
            .collect();
        futures::stream::iter(copies)
            // A few copies at once overlap parsing with database round trips; more would only
            // hold more copies of a large message in memory.
            .buffered(PARALLEL_DELIVERIES)
            .collect()
            .await
    }

    async fn deliver_one(
        &self,
        raw: &[u8],
        return_path: &str,
        user_id: &str,
        rcpt: &str,
    ) -> DeliveryOutcome {
        let mut message = Vec::with_capacity(raw.len() + 128);
        message.extend_from_slice(format!("Return-Path: <{return_path}>\r\n").as_bytes());
        message.extend_from_slice(format!("Delivered-To: {rcpt}\r\n").as_bytes());
        message.extend_from_slice(raw);
        let result = async {
            self.charge_received(user_id).await?;
            let inbox = self.find_mailbox(user_id, mailbox::INBOX).await?;
            self.append(user_id, &inbox.id, message, &Flags::default(), None)
                .await
        }
        .await;
        match result {
            Ok((_, row)) => {
                self.register_from(user_id, &row.content_id).await;
                DeliveryOutcome::Delivered { uid: row.uid }
            }
            Err(e) => DeliveryOutcome::Failed(e),
        }
    }

    /// WildDuck's `receivedMax`: at most that many messages delivered to the user per 60 seconds
    /// (0 or unset: no limit), counted across the cluster when Redis is configured. Over it the
    /// delivery fails with `RateLimited`, which LMTP answers as a temporary failure.
    async fn charge_received(&self, user_id: &str) -> Result<()> {
        let user = self.store.get_user(user_id).await?;
        self.charge_limit(&user, UsageLimit::Received, 1).await
    }

    /// What the user has used of a windowed limit so far (0 once the window has passed).
    pub async fn usage(&self, user_id: &str, limit: UsageLimit) -> u64 {
        self.counters.count(&limit.key(user_id)).await
    }

    /// Charges `amount` to one of the user's windowed limits (WildDuck's user fields, kept in the
    /// user's properties; 0 or unset means none). The counter lives in Redis when the instance is
    /// clustered, so the limit holds across instances. Over the limit: `RateLimited`, and the
    /// amount stays charged (every attempt in the window counts).
    pub async fn charge_limit(&self, user: &UserRow, limit: UsageLimit, amount: u64) -> Result<()> {
        let max = serde_json::from_str::<serde_json::Value>(&user.props)
            .ok()
            .and_then(|p| {
                let v = p.get(limit.field())?;
                v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
            })
            .unwrap_or(0);
        if max == 0 {
            return Ok(());
        }
        let used = self
            .counters
            .add(&limit.key(&user.id), amount, limit.window())
            .await;
        if used > max {
            return Err(Error::new(ErrorKind::RateLimited, limit.refusal(max)));
        }
        Ok(())
    }

    /// Adds the sender of a delivered message to the user's address register.
    async fn register_from(&self, user_id: &str, content_id: &str) {
        let Ok(infos) = self.store.content_infos(user_id, &[content_id]).await else {
            return;
        };
        let Some(from) = infos.values().next().and_then(|json| {
            serde_json::from_str::<eider_mime::MessageInfo>(json)
                .ok()?
                .fields
                .from
        }) else {
            return;
        };
        let first = from.split(',').next().unwrap_or_default().trim();
        let (name, addr) = match first.rsplit_once('<') {
            Some((name, rest)) => (name.trim().trim_matches('"'), rest.trim_end_matches('>')),
            None => ("", first),
        };
        self.register_sender(user_id, addr.trim(), name).await;
    }

    pub async fn mailbox_uids(&self, user_id: &str, mailbox_id: &str) -> Result<Vec<u32>> {
        Ok(self.store.mailbox_uids(user_id, mailbox_id).await?)
    }

    /// Keywords used by any message of a mailbox, sorted and without duplicates.
    pub async fn mailbox_keywords(&self, user_id: &str, mailbox_id: &str) -> Result<Vec<String>> {
        let lists = self.store.mailbox_keywords(user_id, mailbox_id).await?;
        let mut out: Vec<String> = lists
            .iter()
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub async fn messages_in(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
    ) -> Result<Vec<MessageRow>> {
        Ok(self.store.messages_in(user_id, mailbox_id, ranges).await?)
    }

    /// Parsed metadata of contents, keyed by content id.
    pub async fn message_infos(
        &self,
        user_id: &str,
        content_ids: &[&str],
    ) -> Result<HashMap<String, eider_mime::MessageInfo>> {
        let raw = self.store.content_infos(user_id, content_ids).await?;
        raw.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json)
                    .map(|info| (id, info))
                    .map_err(|e| Error::new(ErrorKind::Internal, format!("stored metadata: {e}")))
            })
            .collect()
    }

    /// The exact stored bytes of a message.
    pub async fn read_message(&self, user_id: &str, content_id: &str) -> Result<Vec<u8>> {
        Ok(self.store.read_content(user_id, content_id).await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn store_flags(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
        mode: StoreMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<(Vec<FlagUpdate>, Vec<u32>)> {
        let (updates, failed) = self
            .store
            .store_flags(
                user_id,
                mailbox_id,
                ranges,
                mode,
                flags.system,
                &flags.keywords,
                unchanged_since,
            )
            .await?;
        if let Some(u) = updates.first() {
            self.publish(user_id, mailbox_id, u.modseq);
        }
        Ok((updates, failed))
    }

    /// Expunges `\Deleted` messages (within `ranges` if given: UID EXPUNGE).
    pub async fn expunge(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: Option<&[UidRange]>,
    ) -> Result<ExpungeResult> {
        let result = self.store.expunge(user_id, mailbox_id, ranges).await?;
        if !result.uids.is_empty() {
            self.publish(user_id, mailbox_id, result.modseq);
        }
        Ok(result)
    }

    /// Deletes messages outright, flagged or not (API deletes, mailbox deletion).
    pub async fn delete_messages(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
    ) -> Result<ExpungeResult> {
        let result = self
            .store
            .delete_messages(user_id, mailbox_id, Some(ranges))
            .await?;
        if !result.uids.is_empty() {
            self.publish(user_id, mailbox_id, result.modseq);
        }
        Ok(result)
    }

    /// Copies or moves messages to another mailbox of the same user.
    pub async fn copy_messages(
        &self,
        user_id: &str,
        source_id: &str,
        ranges: &[UidRange],
        target_id: &str,
        remove_source: bool,
    ) -> Result<CopyResult> {
        let result = self
            .store
            .copy_messages(user_id, source_id, ranges, target_id, remove_source)
            .await?;
        if !result.mapping.is_empty() {
            self.publish(user_id, target_id, 0);
            if remove_source {
                self.publish(user_id, source_id, 0);
            }
        }
        Ok(result)
    }

    pub async fn changes_since(
        &self,
        user_id: &str,
        mailbox_id: &str,
        modseq: u64,
    ) -> Result<Changes> {
        Ok(self
            .store
            .changes_since(user_id, mailbox_id, modseq)
            .await?)
    }
}

/// The windowed per-user limits WildDuck defines and Eider enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageLimit {
    /// `receivedMax`: messages delivered per 60 seconds.
    Received,
    /// `imapMaxUpload`: bytes APPENDed over IMAP per 24 hours.
    ImapUpload,
    /// `imapMaxDownload`: message bytes FETCHed over IMAP per 24 hours.
    ImapDownload,
}

impl UsageLimit {
    fn field(self) -> &'static str {
        match self {
            UsageLimit::Received => "receivedMax",
            UsageLimit::ImapUpload => "imapMaxUpload",
            UsageLimit::ImapDownload => "imapMaxDownload",
        }
    }

    fn key(self, user_id: &str) -> String {
        let kind = match self {
            UsageLimit::Received => "received",
            UsageLimit::ImapUpload => "imapupload",
            UsageLimit::ImapDownload => "imapdownload",
        };
        format!("{kind}:{user_id}")
    }

    fn window(self) -> std::time::Duration {
        match self {
            UsageLimit::Received => std::time::Duration::from_secs(60),
            _ => std::time::Duration::from_secs(24 * 60 * 60),
        }
    }

    fn refusal(self, max: u64) -> String {
        match self {
            UsageLimit::Received => format!("more than {max} messages received in 60 seconds"),
            UsageLimit::ImapUpload => format!("daily IMAP upload limit of {max} bytes reached"),
            UsageLimit::ImapDownload => {
                format!("daily IMAP download limit of {max} bytes reached")
            }
        }
    }
}
