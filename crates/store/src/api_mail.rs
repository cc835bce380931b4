//! Queries behind the HTTP API's mail routes: mailbox settings WildDuck has and IMAP does not
//! (hidden, retention), message expiry, and filtered, keyset-paged message listings.

use crate::found;
use crate::messages::MessageRow;
use crate::{Result, Store, StoreError, UidRange};
use sqlx::Row;
use std::collections::HashMap;

/// WildDuck-only mailbox settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxOptions {
    pub hidden: bool,
    /// Milliseconds; 0 = no retention.
    pub retention: i64,
}

/// Conditions a listed message must meet; `None`/empty means "any".
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub mailbox_id: Option<String>,
    /// Only these UIDs (with `mailbox_id`).
    pub uids: Vec<UidRange>,
    pub seen: Option<bool>,
    pub flagged: Option<bool>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    /// Internal date bounds, Unix seconds, inclusive.
    pub date_start: Option<i64>,
    pub date_end: Option<i64>,
    pub exclude_mailboxes: Vec<String>,
}

/// Where a page starts: strictly after `after` in the requested order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKey {
    Uid(u32),
    /// Receive time, then mailbox id, then UID: a total order across mailboxes.
    Position {
        date: i64,
        mailbox: String,
        uid: u32,
    },
}

#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Order by UID (one mailbox) or else by receive time (then mailbox, UID) across mailboxes.
    pub by_uid: bool,
    pub ascending: bool,
    pub after: Option<PageKey>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct ListedMessage {
    pub mailbox_id: String,
    pub row: MessageRow,
}

enum Arg {
    Int(i64),
    Text(String),
}

/// `AND ...` conditions for a filter, binding from `$2` (`$1` is the user id).
fn filter_sql(filter: &MessageFilter, args: &mut Vec<Arg>) -> String {
    let mut sql = String::new();
    let mut push = |args: &mut Vec<Arg>, cond: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(&cond.replace('?', &format!("${}", args.len() + 1)));
    };
    if let Some(m) = &filter.mailbox_id {
        push(args, " AND mailbox_id = ?", Arg::Text(m.clone()));
    }
    for m in &filter.exclude_mailboxes {
        push(args, " AND mailbox_id <> ?", Arg::Text(m.clone()));
    }
    if let Some(v) = filter.min_size {
        push(args, " AND size >= ?", Arg::Int(v));
    }
    if let Some(v) = filter.max_size {
        push(args, " AND size <= ?", Arg::Int(v));
    }
    if let Some(v) = filter.date_start {
        push(args, " AND internal_date >= ?", Arg::Int(v));
    }
    if let Some(v) = filter.date_end {
        push(args, " AND internal_date <= ?", Arg::Int(v));
    }
    match filter.seen {
        Some(true) => sql.push_str(" AND (flags & 1) <> 0"),
        Some(false) => sql.push_str(" AND (flags & 1) = 0"),
        None => {}
    }
    match filter.flagged {
        Some(true) => sql.push_str(" AND (flags & 4) <> 0"),
        Some(false) => sql.push_str(" AND (flags & 4) = 0"),
        None => {}
    }
    if !filter.uids.is_empty() {
        let mut parts = Vec::new();
        for r in &filter.uids {
            args.push(Arg::Int(r.0 as i64));
            args.push(Arg::Int(r.1 as i64));
            parts.push(format!(
                "(uid >= ${} AND uid <= ${})",
                args.len(),
                args.len() + 1
            ));
        }
        sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    sql
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    user_id: &'q str,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q = q.bind(user_id);
    for a in args {
        q = match a {
            Arg::Int(i) => q.bind(i),
            Arg::Text(s) => q.bind(s),
        };
    }
    q
}

impl Store {
    /// Hidden/retention of every mailbox of a user, by mailbox id.
    pub async fn mailbox_options(&self, user_id: &str) -> Result<HashMap<String, MailboxOptions>> {
        let rows = sqlx::query("SELECT id, hidden, retention FROM mailboxes WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::new();
        for r in rows {
            out.insert(
                r.try_get(0)?,
                MailboxOptions {
                    hidden: r.try_get::<i64, _>(1)? != 0,
                    retention: r.try_get(2)?,
                },
            );
        }
        Ok(out)
    }

    pub async fn set_mailbox_options(
        &self,
        user_id: &str,
        id: &str,
        hidden: Option<bool>,
        retention: Option<i64>,
    ) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query(
            "UPDATE mailboxes SET hidden = COALESCE($1, hidden), retention = COALESCE($2, retention) \
             WHERE user_id = $3 AND id = $4",
        )
        .bind(hidden.map(i64::from))
        .bind(retention)
        .bind(user_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(&done)
    }

    /// Sets (or with 0 clears) a message's expiry time.
    pub async fn set_message_expires(
        &self,
        user_id: &str,
        mailbox_id: &str,
        uid: u32,
        expires: i64,
    ) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query(
            "UPDATE messages SET expires = $1 WHERE user_id = $2 AND mailbox_id = $3 AND uid = $4",
        )
        .bind(expires)
        .bind(user_id)
        .bind(mailbox_id)
        .bind(uid as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn message_expires(&self, user_id: &str, mailbox_id: &str, uid: u32) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT expires FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND uid = $3",
        )
        .bind(user_id)
        .bind(mailbox_id)
        .bind(uid as i64)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// How many messages match a filter.
    pub async fn count_messages(&self, user_id: &str, filter: &MessageFilter) -> Result<u64> {
        let mut args = Vec::new();
        let cond = filter_sql(filter, &mut args);
        let sql = format!("SELECT COUNT(*) FROM messages WHERE user_id = $1{cond}");
        let n: i64 = bind_all(sqlx::query(&sql), user_id, args)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n as u64)
    }

    /// Up to `page.limit` messages matching a filter, in the page's order, after its key.
    pub async fn page_messages(
        &self,
        user_id: &str,
        filter: &MessageFilter,
        page: &PageRequest,
    ) -> Result<Vec<ListedMessage>> {
        let mut args = Vec::new();
        let mut cond = filter_sql(filter, &mut args);
        let (cmp, dir) = if page.ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        match &page.after {
            Some(PageKey::Uid(u)) => {
                args.push(Arg::Int(*u as i64));
                cond.push_str(&format!(" AND uid {cmp} ${}", args.len() + 1));
            }
            Some(PageKey::Position { date, mailbox, uid }) => {
                args.push(Arg::Int(*date));
                args.push(Arg::Text(mailbox.clone()));
                args.push(Arg::Int(*uid as i64));
                let n = args.len() + 1;
                // Row-value comparison: both SQLite and PostgreSQL support it.
                cond.push_str(&format!(
                    " AND (internal_date, mailbox_id, uid) {cmp} (${}, ${}, ${n})",
                    n - 2,
                    n - 1
                ));
            }
            None => {}
        }
        let order = if page.by_uid {
            format!("uid {dir}")
        } else {
            format!("internal_date {dir}, mailbox_id {dir}, uid {dir}")
        };
        args.push(Arg::Int(page.limit));
        let sql = format!(
            "SELECT uid, id, content_id, modseq, flags, keywords, internal_date, size, mailbox_id \
             FROM messages WHERE user_id = $1{cond} ORDER BY {order} LIMIT ${}",
            args.len() + 1
        );
        let rows = bind_all(sqlx::query(&sql), user_id, args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ListedMessage {
                    mailbox_id: r.try_get(8)?,
                    row: MessageRow {
                        uid: r.try_get::<i64, _>(0)? as u32,
                        id: r.try_get(1)?,
                        content_id: r.try_get(2)?,
                        modseq: r.try_get::<i64, _>(3)? as u64,
                        flags: r.try_get::<i64, _>(4)? as u32,
                        keywords: r.try_get(5)?,
                        internal_date: r.try_get(6)?,
                        size: r.try_get::<i64, _>(7)? as u64,
                    },
                })
            })
            .collect()
    }

    /// The latest journal sequence number of a user (0 before any change).
    pub async fn journal_head(&self, user_id: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT journal_seq FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }
}
