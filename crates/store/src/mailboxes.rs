//! Mailboxes: names, special-use, UID/MODSEQ counters, subscriptions.

use crate::found;
use crate::{Result, Store, StoreError, map_unique, new_id, unix_now};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct MailboxRow {
    pub id: String,
    pub user_id: String,
    pub path: String,
    pub special_use: Option<String>,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    /// Messages with a UID at or above this one are \\Recent: no session has claimed them yet.
    pub recent_uid: u32,
    pub subscribed: bool,
    pub created: i64,
}

/// `subscribed` comes from the subscriptions table (names, RFC 3501 §6.3.6), not the mailbox row.
const MAILBOX_COLUMNS: &str = "id, user_id, path, special_use, uid_validity, uid_next, highest_modseq, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = mailboxes.user_id \
     AND s.name = mailboxes.path) THEN 1 ELSE 0 END AS BIGINT), created, recent_uid";

fn mailbox_from_row(row: &AnyRow) -> Result<MailboxRow> {
    Ok(MailboxRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        path: row.try_get(2)?,
        special_use: row.try_get(3)?,
        uid_validity: row.try_get::<i64, _>(4)? as u32,
        uid_next: row.try_get::<i64, _>(5)? as u32,
        highest_modseq: row.try_get::<i64, _>(6)? as u64,
        subscribed: row.try_get::<i64, _>(7)? != 0,
        created: row.try_get(8)?,
        recent_uid: row.try_get::<i64, _>(9)? as u32,
    })
}

/// UIDVALIDITY for a new mailbox: the creation time in seconds (below 2^32 until 2106), but always
/// above the last one this process handed out, so a mailbox deleted and created again within the
/// same second still gets a new UIDVALIDITY (RFC 3501 §2.3.1.1; imaptest checks it).
fn new_uid_validity() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = unix_now() & 0xffff_ffff;
    let prev = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(prev + 1)
}

pub(crate) async fn insert_mailbox(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    path: &str,
    special_use: Option<&str>,
) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO mailboxes (id, user_id, path, special_use, uid_validity, created) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(path)
    .bind(special_use.map(str::to_string))
    .bind(new_uid_validity())
    .bind(unix_now())
    .execute(&mut **tx)
    .await
    .map_err(map_unique)?;
    Ok(id)
}

/// Subscribes `name` (idempotent).
pub(crate) async fn insert_subscription(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    name: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) \
         ON CONFLICT (user_id, name) DO NOTHING",
    )
    .bind(user_id)
    .bind(name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn create_mailbox(
        &self,
        user_id: &str,
        path: &str,
        special_use: Option<&str>,
    ) -> Result<String> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let id = insert_mailbox(&mut tx, user_id, path, special_use).await?;
        crate::messages::journal(&mut tx, user_id, &id, 0, "mailbox_create", 0, path).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn list_mailboxes(&self, user_id: &str) -> Result<Vec<MailboxRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE user_id = $1 ORDER BY path"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mailbox_from_row).collect()
    }

    pub async fn get_mailbox_by_path(&self, user_id: &str, path: &str) -> Result<MailboxRow> {
        let row = sqlx::query(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE user_id = $1 AND path = $2"
        ))
        .bind(user_id)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        mailbox_from_row(&row)
    }

    pub async fn get_mailbox(&self, user_id: &str, id: &str) -> Result<MailboxRow> {
        let row = sqlx::query(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        mailbox_from_row(&row)
    }

    /// Renames one mailbox row. UIDVALIDITY is kept: the messages and their UIDs did not change.
    pub async fn rename_mailbox(&self, user_id: &str, id: &str, new_path: &str) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE mailboxes SET path = $1 WHERE user_id = $2 AND id = $3")
            .bind(new_path)
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?;
        found(&done)?;
        crate::messages::journal(&mut tx, user_id, id, 0, "mailbox_rename", 0, new_path).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an empty mailbox row (the engine expunges its messages first).
    pub async fn delete_mailbox_row(&self, user_id: &str, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE user_id = $1 AND mailbox_id = $2",
        )
        .bind(user_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if left > 0 {
            return Err(StoreError::Corrupt(format!(
                "mailbox {id} still holds {left} messages"
            )));
        }
        let done = sqlx::query("DELETE FROM mailboxes WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        found(&done)?;
        crate::messages::journal(&mut tx, user_id, id, 0, "mailbox_delete", 0, "").await?;
        tx.commit().await?;
        Ok(())
    }

    /// (Un)subscribes the mailbox with this id by its current name.
    pub async fn set_subscribed(&self, user_id: &str, id: &str, subscribed: bool) -> Result<()> {
        let mailbox = self.get_mailbox(user_id, id).await?;
        self.set_subscription(user_id, &mailbox.path, subscribed)
            .await
    }

    /// (Un)subscribes a name, whether or not a mailbox has it (RFC 3501 §6.3.6). Idempotent.
    pub async fn set_subscription(&self, user_id: &str, name: &str, on: bool) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        if on {
            insert_subscription(&mut tx, user_id, name).await?;
        } else {
            sqlx::query("DELETE FROM subscriptions WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every subscribed name of a user, sorted.
    pub async fn list_subscriptions(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Moves subscriptions `(from, to)` pairs in one transaction: each `from` is dropped and `to`
    /// subscribed (a `to` that was already subscribed stays so).
    pub async fn move_subscriptions(
        &self,
        user_id: &str,
        moves: &[(String, String)],
    ) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        for (from, to) in moves {
            sqlx::query("DELETE FROM subscriptions WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(from)
                .execute(&mut *tx)
                .await?;
            insert_subscription(&mut tx, user_id, to).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// (messages, unseen, deleted, total size, recent) of a mailbox in one query; messages with
    /// UID >= `recent_uid` count as recent.
    pub async fn mailbox_counts(
        &self,
        user_id: &str,
        id: &str,
        recent_uid: u32,
    ) -> Result<(u32, u32, u32, u64, u32)> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN (flags & 1) = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN (flags & 8) <> 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(size), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN uid >= $3 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM messages WHERE user_id = $1 AND mailbox_id = $2",
        )
        .bind(user_id)
        .bind(id)
        .bind(recent_uid as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            row.try_get::<i64, _>(0)? as u32,
            row.try_get::<i64, _>(1)? as u32,
            row.try_get::<i64, _>(2)? as u32,
            row.try_get::<i64, _>(3)? as u64,
            row.try_get::<i64, _>(4)? as u32,
        ))
    }

    /// Claims the \\Recent messages of a mailbox for one session (RFC 3501 §2.3.2): returns the UID
    /// range `[from, to)` that no other session has claimed, and marks it claimed. Atomic across
    /// instances (row lock on PostgreSQL, the writer lock on SQLite).
    pub async fn claim_recent(
        &self,
        user_id: &str,
        id: &str,
        up_to: u32,
    ) -> Result<Option<(u32, u32)>> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let lock = if self.backend == crate::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let current: i64 = sqlx::query_scalar(&format!(
            "SELECT recent_uid FROM mailboxes WHERE user_id = $1 AND id = $2{lock}"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        if current as u32 >= up_to {
            return Ok(None);
        }
        sqlx::query("UPDATE mailboxes SET recent_uid = $1 WHERE user_id = $2 AND id = $3")
            .bind(up_to as i64)
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some((current as u32, up_to)))
    }

    /// Lowest UID without `\Seen`, if any.
    pub async fn first_unseen_uid(&self, user_id: &str, id: &str) -> Result<Option<u32>> {
        let uid: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(uid) FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND (flags & 1) = 0",
        )
        .bind(user_id)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(uid.map(|u| u as u32))
    }
}
