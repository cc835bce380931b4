//! Messages, their stored contents, and the change journal.
//!
//! A message row is small (UID, flags, MODSEQ, size, dates) so that FETCH FLAGS over a whole mailbox
//! reads no content. Its bytes live in a per-user `contents` row (shared by copies, reference counted):
//! a zstd "skeleton" of the message with large leaf bodies cut out, plus a list of segments pointing at
//! content-addressed blobs. Reassembling skeleton and blobs gives back the delivered bytes exactly.
//!
//! Every write allocates MODSEQ (and UIDs) with one `UPDATE ... RETURNING` on the mailbox row, which
//! PostgreSQL row-locks until commit: two instances can never hand out the same UID. The journal entry
//! for each change is written in the same transaction.

use crate::{Result, Store, StoreError, new_id, placeholders, unix_now};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// A message's bytes, split for storage, ready to be written.
#[derive(Debug, Clone)]
pub struct NewContent {
    /// Content id: hash of the full message, so identical messages of one user share a row.
    pub id: String,
    pub size: u64,
    /// The message with every segment cut out, already encoded for storage
    /// (see [`crate::encode_skeleton`]).
    pub skeleton_stored: Vec<u8>,
    /// Externalized bodies, in order of offset.
    pub segments: Vec<Segment>,
    /// Parsed metadata (JSON) kept so FETCH never parses again.
    pub info_json: String,
}

/// A cut-out body: `len` bytes at `offset` of the full message, stored as blob `hash`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    pub offset: u64,
    pub len: u64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub uid: u32,
    pub id: String,
    pub content_id: String,
    pub modseq: u64,
    /// System flags bitmask (see the engine's flag constants).
    pub flags: u32,
    /// Keywords, space separated.
    pub keywords: String,
    pub internal_date: i64,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange(pub u32, pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlagUpdate {
    pub uid: u32,
    pub flags: u32,
    pub keywords: String,
    pub modseq: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub highest_modseq: u64,
    /// UIDs expunged after the given MODSEQ, ascending.
    pub expunged: Vec<u32>,
    /// Messages added or changed after the given MODSEQ, by UID.
    pub changed: Vec<MessageRow>,
}

#[derive(Debug, Clone)]
pub struct CopyResult {
    pub uid_validity: u32,
    /// (source UID, destination UID) pairs in source order.
    pub mapping: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Default)]
pub struct ExpungeResult {
    pub uids: Vec<u32>,
    pub modseq: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: i64,
    pub mailbox_id: String,
    pub modseq: i64,
    pub kind: String,
    pub uid: i64,
    pub data: String,
    pub created: i64,
}

const MESSAGE_COLUMNS: &str = "uid, id, content_id, modseq, flags, keywords, internal_date, size";
/// Rows per multi-row INSERT (10 columns each, far below both back ends' parameter limits).
const INSERT_CHUNK: usize = 200;
/// UID ranges per query.
const RANGE_CHUNK: usize = 200;
const FLAG_DELETED: i64 = 8;

fn message_from_row(row: &AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        uid: row.try_get::<i64, _>(0)? as u32,
        id: row.try_get(1)?,
        content_id: row.try_get(2)?,
        modseq: row.try_get::<i64, _>(3)? as u64,
        flags: row.try_get::<i64, _>(4)? as u32,
        keywords: row.try_get(5)?,
        internal_date: row.try_get(6)?,
        size: row.try_get::<i64, _>(7)? as u64,
    })
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Writes one journal entry in the caller's transaction.
pub(crate) async fn journal(
    tx: &mut Tx<'_>,
    user_id: &str,
    mailbox_id: &str,
    modseq: u64,
    kind: &str,
    uid: u32,
    data: &str,
) -> Result<()> {
    journal_many(tx, user_id, mailbox_id, modseq, kind, &[uid], data).await
}

/// Writes one journal entry per UID (same mailbox, MODSEQ and kind) with batched statements.
pub(crate) async fn journal_many(
    tx: &mut Tx<'_>,
    user_id: &str,
    mailbox_id: &str,
    modseq: u64,
    kind: &str,
    uids: &[u32],
    data: &str,
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let last: i64 = sqlx::query_scalar(
        "UPDATE users SET journal_seq = journal_seq + $1 WHERE id = $2 RETURNING journal_seq",
    )
    .bind(uids.len() as i64)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let first = last - uids.len() as i64 + 1;
    let now = unix_now();
    for (chunk_index, chunk) in uids.chunks(INSERT_CHUNK).enumerate() {
        let mut sql = String::from(
            "INSERT INTO journal (user_id, seq, mailbox_id, modseq, kind, uid, data, created) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * 2;
            sql.push_str(&format!("($1, ${}, $2, $3, $4, ${}, $5, $6)", 7 + b, 8 + b));
        }
        let mut q = sqlx::query(&sql)
            .bind(user_id)
            .bind(mailbox_id)
            .bind(modseq as i64)
            .bind(kind)
            .bind(data)
            .bind(now);
        for (i, uid) in chunk.iter().enumerate() {
            q = q
                .bind(first + (chunk_index * INSERT_CHUNK + i) as i64)
                .bind(*uid as i64);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Adds `count` references to a content row, inserting it (and counting its blobs) if new.
async fn reference_content(tx: &mut Tx<'_>, user_id: &str, content: &NewContent) -> Result<()> {
    let segments =
        serde_json::to_string(&content.segments).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let inserted = sqlx::query(
        "INSERT INTO contents (user_id, id, refcount, size, skeleton, segments, info) \
         VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT (user_id, id) DO NOTHING",
    )
    .bind(user_id)
    .bind(&content.id)
    .bind(content.size as i64)
    .bind(&content.skeleton_stored[..])
    .bind(segments)
    .bind(&content.info_json)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        for segment in &content.segments {
            sqlx::query("UPDATE blobs SET refcount = refcount + 1 WHERE hash = $1")
                .bind(&segment.hash)
                .execute(&mut **tx)
                .await?;
        }
    } else {
        add_content_refs(tx, user_id, &content.id, 1).await?;
    }
    Ok(())
}

async fn add_content_refs(tx: &mut Tx<'_>, user_id: &str, content_id: &str, n: i64) -> Result<()> {
    sqlx::query("UPDATE contents SET refcount = refcount + $1 WHERE user_id = $2 AND id = $3")
        .bind(n)
        .bind(user_id)
        .bind(content_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Drops `n` references to a content row; removes it and releases its blobs at zero.
/// Blob bytes with refcount zero are kept, never deleted inline, so a concurrent delivery of the
/// same attachment can never lose its bytes. (A collector that removes long-unreferenced blobs
/// with a grace period is still to be written.)
async fn release_content(tx: &mut Tx<'_>, user_id: &str, content_id: &str, n: i64) -> Result<()> {
    let left: Option<i64> = sqlx::query_scalar(
        "UPDATE contents SET refcount = refcount - $1 WHERE user_id = $2 AND id = $3 RETURNING refcount",
    )
    .bind(n)
    .bind(user_id)
    .bind(content_id)
    .fetch_optional(&mut **tx)
    .await?;
    if left.unwrap_or(1) > 0 {
        return Ok(());
    }
    let segments: String = sqlx::query_scalar(
        "DELETE FROM contents WHERE user_id = $1 AND id = $2 RETURNING segments",
    )
    .bind(user_id)
    .bind(content_id)
    .fetch_one(&mut **tx)
    .await?;
    let segments: Vec<Segment> =
        serde_json::from_str(&segments).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for segment in segments {
        sqlx::query("UPDATE blobs SET refcount = refcount - 1 WHERE hash = $1")
            .bind(&segment.hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Bumps a mailbox's MODSEQ and reserves `uids` UIDs. Returns (first UID, new MODSEQ, UIDVALIDITY).
async fn allocate(
    tx: &mut Tx<'_>,
    user_id: &str,
    mailbox_id: &str,
    uids: u32,
) -> Result<(u32, u64, u32)> {
    let row = sqlx::query(
        "UPDATE mailboxes SET uid_next = uid_next + $1, highest_modseq = highest_modseq + 1 \
         WHERE user_id = $2 AND id = $3 RETURNING uid_next, highest_modseq, uid_validity",
    )
    .bind(uids as i64)
    .bind(user_id)
    .bind(mailbox_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let next: i64 = row.try_get(0)?;
    let first = next - uids as i64;
    if next > u32::MAX as i64 {
        return Err(StoreError::Corrupt("mailbox UID space exhausted".into()));
    }
    Ok((
        first as u32,
        row.try_get::<i64, _>(1)? as u64,
        row.try_get::<i64, _>(2)? as u32,
    ))
}

/// Charges `bytes` to the user's storage, failing with `OverQuota` past the limit (0 = unlimited).
async fn charge_quota(tx: &mut Tx<'_>, user_id: &str, bytes: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE users SET storage_used = storage_used + $1 \
         WHERE id = $2 AND ($1 <= 0 OR quota = 0 OR storage_used + $1 <= quota)",
    )
    .bind(bytes)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::OverQuota);
    }
    Ok(())
}

async fn insert_messages(
    tx: &mut Tx<'_>,
    user_id: &str,
    mailbox_id: &str,
    rows: &[MessageRow],
) -> Result<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO messages (user_id, mailbox_id, uid, id, content_id, modseq, flags, keywords, internal_date, size) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = 3 + i * 8;
            sql.push_str(&format!("($1, $2, {})", placeholders(b, 8)));
        }
        let mut q = sqlx::query(&sql).bind(user_id).bind(mailbox_id);
        for m in chunk {
            q = q
                .bind(m.uid as i64)
                .bind(&m.id)
                .bind(&m.content_id)
                .bind(m.modseq as i64)
                .bind(m.flags as i64)
                .bind(&m.keywords)
                .bind(m.internal_date)
                .bind(m.size as i64);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `(uid BETWEEN $a AND $b) OR ...` for ranges, binding from `$start`.
fn range_clause(ranges: &[UidRange], start: usize) -> String {
    let parts: Vec<String> = (0..ranges.len())
        .map(|i| {
            format!(
                "(uid >= ${} AND uid <= ${})",
                start + 2 * i,
                start + 2 * i + 1
            )
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// Message rows whose UIDs fall in the ranges, ascending by UID, without duplicates.
async fn rows_in_ranges(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
    user_id: &str,
    mailbox_id: &str,
    ranges: &[UidRange],
) -> Result<Vec<MessageRow>> {
    let mut out = Vec::new();
    for chunk in ranges.chunks(RANGE_CHUNK) {
        let clause = range_clause(chunk, 3);
        // sqlx's SQLite driver hands each row from its worker thread to the async side one at a
        // time; for 100,000 rows that thread ping-pong costs more than the query (measured: 61% of
        // a whole-mailbox FETCH in kernel wake-ups). Packing the rows into one text value makes it
        // a single hand-off. Tabs and newlines cannot occur in any of these columns (keywords are
        // IMAP atoms).
        let sql = if backend == crate::Backend::Sqlite {
            format!(
                "SELECT group_concat(uid || char(9) || id || char(9) || content_id || char(9) || modseq \
                 || char(9) || flags || char(9) || internal_date || char(9) || size || char(9) || keywords, \
                 char(10) ORDER BY uid) FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND {clause}"
            )
        } else {
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND {clause} ORDER BY uid"
            )
        };
        let mut q = sqlx::query(&sql).bind(user_id).bind(mailbox_id);
        for r in chunk {
            q = q.bind(r.0 as i64).bind(r.1 as i64);
        }
        if backend == crate::Backend::Sqlite {
            let packed: Option<String> = q.fetch_one(&mut *conn).await?.try_get(0)?;
            for line in packed
                .as_deref()
                .unwrap_or("")
                .split('\n')
                .filter(|l| !l.is_empty())
            {
                out.push(unpack_row(line)?);
            }
        } else {
            for row in q.fetch_all(&mut *conn).await? {
                out.push(message_from_row(&row)?);
            }
        }
    }
    if ranges.len() > RANGE_CHUNK {
        out.sort_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
    }
    Ok(out)
}

/// Parses one tab-separated row packed by [`rows_in_ranges`].
fn unpack_row(line: &str) -> Result<MessageRow> {
    let bad = || StoreError::Corrupt(format!("packed message row {line:?}"));
    let mut f = line.splitn(8, '\t');
    let mut next = || f.next().ok_or_else(bad);
    let uid = next()?.parse().map_err(|_| bad())?;
    let id = next()?.to_string();
    let content_id = next()?.to_string();
    let modseq = next()?.parse().map_err(|_| bad())?;
    let flags = next()?.parse().map_err(|_| bad())?;
    let internal_date = next()?.parse().map_err(|_| bad())?;
    let size = next()?.parse().map_err(|_| bad())?;
    let keywords = next()?.to_string();
    Ok(MessageRow {
        uid,
        id,
        content_id,
        modseq,
        flags,
        keywords,
        internal_date,
        size,
    })
}

impl Store {
    /// Stores one message in a mailbox: the single write path for LMTP, APPEND and API uploads.
    pub async fn append_message(
        &self,
        user_id: &str,
        mailbox_id: &str,
        content: &NewContent,
        flags: u32,
        keywords: &str,
        internal_date: i64,
    ) -> Result<(MessageRow, u32)> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let (uid, modseq, uid_validity) = allocate(&mut tx, user_id, mailbox_id, 1).await?;
        charge_quota(&mut tx, user_id, content.size as i64).await?;
        reference_content(&mut tx, user_id, content).await?;
        let row = MessageRow {
            uid,
            id: new_id(),
            content_id: content.id.clone(),
            modseq,
            flags,
            keywords: keywords.to_string(),
            internal_date,
            size: content.size,
        };
        insert_messages(&mut tx, user_id, mailbox_id, std::slice::from_ref(&row)).await?;
        journal(&mut tx, user_id, mailbox_id, modseq, "add", uid, &row.id).await?;
        tx.commit().await?;
        Ok((row, uid_validity))
    }

    /// All UIDs of a mailbox, ascending (the session's sequence-number map).
    pub async fn mailbox_uids(&self, user_id: &str, mailbox_id: &str) -> Result<Vec<u32>> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM messages WHERE user_id = $1 AND mailbox_id = $2 ORDER BY uid",
        )
        .bind(user_id)
        .bind(mailbox_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|u| u as u32).collect())
    }

    /// The distinct keyword lists used by messages of a mailbox (for the FLAGS response).
    pub async fn mailbox_keywords(&self, user_id: &str, mailbox_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT keywords FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND keywords <> ''",
        )
        .bind(user_id)
        .bind(mailbox_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Message rows whose UIDs fall in the ranges, ascending by UID.
    pub async fn messages_in(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
    ) -> Result<Vec<MessageRow>> {
        let mut conn = self.pool.acquire().await?;
        rows_in_ranges(&mut conn, self.backend, user_id, mailbox_id, ranges).await
    }

    /// Finds a message by its 24-hex id.
    pub async fn message_by_id(&self, user_id: &str, id: &str) -> Result<(String, MessageRow)> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS}, mailbox_id FROM messages WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((row.try_get(8)?, message_from_row(&row)?))
    }

    /// Changes flags on the messages in `ranges`. Returns the messages that changed (with their new
    /// MODSEQ) and the UIDs skipped because their MODSEQ exceeded `unchanged_since` (CONDSTORE).
    #[allow(clippy::too_many_arguments)]
    pub async fn store_flags(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: &[UidRange],
        mode: StoreMode,
        flags: u32,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<(Vec<FlagUpdate>, Vec<u32>)> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let (_, modseq, _) = allocate(&mut tx, user_id, mailbox_id, 0).await?;
        let current = rows_in_ranges(&mut tx, self.backend, user_id, mailbox_id, ranges).await?;
        let mut updates = Vec::new();
        let mut failed = Vec::new();
        for m in current {
            if let Some(limit) = unchanged_since
                && m.modseq > limit
            {
                failed.push(m.uid);
                continue;
            }
            let (new_flags, new_keywords) = apply_flags(&m, mode, flags, keywords);
            if new_flags != m.flags || new_keywords != m.keywords {
                updates.push(FlagUpdate {
                    uid: m.uid,
                    flags: new_flags,
                    keywords: new_keywords,
                    modseq,
                });
            }
        }
        // Group identical results so a bulk change ("+FLAGS \Seen" on 10,000 messages) is a few
        // statements, not one per message.
        let mut groups: HashMap<(u32, &str), Vec<u32>> = HashMap::new();
        for u in &updates {
            groups
                .entry((u.flags, u.keywords.as_str()))
                .or_default()
                .push(u.uid);
        }
        for ((new_flags, new_keywords), uids) in groups {
            for chunk in uids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "UPDATE messages SET flags = $1, keywords = $2, modseq = $3 \
                     WHERE user_id = $4 AND mailbox_id = $5 AND uid IN ({})",
                    placeholders(6, chunk.len())
                );
                let mut q = sqlx::query(&sql)
                    .bind(new_flags as i64)
                    .bind(new_keywords)
                    .bind(modseq as i64)
                    .bind(user_id)
                    .bind(mailbox_id);
                for uid in chunk {
                    q = q.bind(*uid as i64);
                }
                q.execute(&mut *tx).await?;
            }
        }
        let changed: Vec<u32> = updates.iter().map(|u| u.uid).collect();
        journal_many(&mut tx, user_id, mailbox_id, modseq, "flags", &changed, "").await?;
        tx.commit().await?;
        Ok((updates, failed))
    }

    /// Removes messages flagged `\Deleted` (only those in `ranges`, if given). Returns expunged UIDs.
    pub async fn expunge(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: Option<&[UidRange]>,
    ) -> Result<ExpungeResult> {
        self.remove_messages(user_id, mailbox_id, ranges, true)
            .await
    }

    /// Removes every message in `ranges` (or the whole mailbox), flagged or not.
    pub async fn delete_messages(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: Option<&[UidRange]>,
    ) -> Result<ExpungeResult> {
        self.remove_messages(user_id, mailbox_id, ranges, false)
            .await
    }

    async fn remove_messages(
        &self,
        user_id: &str,
        mailbox_id: &str,
        ranges: Option<&[UidRange]>,
        only_deleted: bool,
    ) -> Result<ExpungeResult> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let (_, modseq, _) = allocate(&mut tx, user_id, mailbox_id, 0).await?;
        let mut removed: Vec<(u32, String, i64)> = Vec::new();
        let all = [UidRange(1, u32::MAX)];
        let ranges = ranges.unwrap_or(&all);
        for chunk in ranges.chunks(RANGE_CHUNK) {
            let deleted_clause = if only_deleted {
                format!("AND (flags & {FLAG_DELETED}) <> 0")
            } else {
                String::new()
            };
            let sql = format!(
                "DELETE FROM messages WHERE user_id = $1 AND mailbox_id = $2 {deleted_clause} AND {} \
                 RETURNING uid, content_id, size",
                range_clause(chunk, 3)
            );
            let mut q = sqlx::query(&sql).bind(user_id).bind(mailbox_id);
            for r in chunk {
                q = q.bind(r.0 as i64).bind(r.1 as i64);
            }
            for row in q.fetch_all(&mut *tx).await? {
                removed.push((
                    row.try_get::<i64, _>(0)? as u32,
                    row.try_get(1)?,
                    row.try_get(2)?,
                ));
            }
        }
        removed.sort_by_key(|r| r.0);
        removed.dedup_by_key(|r| r.0);
        let mut per_content: HashMap<&str, i64> = HashMap::new();
        let mut bytes = 0i64;
        for (_, content_id, size) in &removed {
            *per_content.entry(content_id.as_str()).or_default() += 1;
            bytes += size;
        }
        for (content_id, n) in per_content {
            release_content(&mut tx, user_id, content_id, n).await?;
        }
        charge_quota(&mut tx, user_id, -bytes).await?;
        let uids: Vec<u32> = removed.iter().map(|r| r.0).collect();
        journal_many(&mut tx, user_id, mailbox_id, modseq, "expunge", &uids, "").await?;
        tx.commit().await?;
        Ok(ExpungeResult { uids, modseq })
    }

    /// Copies (or moves) the messages in `ranges` to another mailbox of the same user.
    pub async fn copy_messages(
        &self,
        user_id: &str,
        source_id: &str,
        ranges: &[UidRange],
        target_id: &str,
        remove_source: bool,
    ) -> Result<CopyResult> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        // Lock both mailbox rows in id order so opposite moves cannot deadlock.
        let mut source_modseq = 0;
        let (first_id, second_id) = if source_id < target_id {
            (source_id, target_id)
        } else {
            (target_id, source_id)
        };
        for id in [first_id, second_id] {
            if id == source_id && remove_source {
                source_modseq = allocate(&mut tx, user_id, id, 0).await?.1;
            } else if self.backend == crate::Backend::Postgres {
                // SQLite needs no row lock: its in-process writer lock already serialises us.
                sqlx::query("SELECT 1 FROM mailboxes WHERE user_id = $1 AND id = $2 FOR UPDATE")
                    .bind(user_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let sources = rows_in_ranges(&mut tx, self.backend, user_id, source_id, ranges).await?;
        if sources.is_empty() {
            let uid_validity = self.get_mailbox(user_id, target_id).await?.uid_validity;
            return Ok(CopyResult {
                uid_validity,
                mapping: Vec::new(),
            });
        }
        let (first_uid, target_modseq, uid_validity) =
            allocate(&mut tx, user_id, target_id, sources.len() as u32).await?;
        let mut copies = Vec::with_capacity(sources.len());
        let mut mapping = Vec::with_capacity(sources.len());
        let mut per_content: HashMap<&str, i64> = HashMap::new();
        let mut bytes = 0i64;
        for (i, m) in sources.iter().enumerate() {
            let uid = first_uid + i as u32;
            mapping.push((m.uid, uid));
            *per_content.entry(m.content_id.as_str()).or_default() += 1;
            bytes += m.size as i64;
            copies.push(MessageRow {
                uid,
                id: new_id(),
                modseq: target_modseq,
                ..m.clone()
            });
        }
        if remove_source {
            let uids: Vec<u32> = sources.iter().map(|m| m.uid).collect();
            for chunk in uids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "DELETE FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND uid IN ({})",
                    placeholders(3, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(user_id).bind(source_id);
                for uid in chunk {
                    q = q.bind(*uid as i64);
                }
                q.execute(&mut *tx).await?;
            }
            journal_many(
                &mut tx,
                user_id,
                source_id,
                source_modseq,
                "expunge",
                &uids,
                "",
            )
            .await?;
        } else {
            charge_quota(&mut tx, user_id, bytes).await?;
            for (content_id, n) in per_content {
                add_content_refs(&mut tx, user_id, content_id, n).await?;
            }
        }
        insert_messages(&mut tx, user_id, target_id, &copies).await?;
        let new_uids: Vec<u32> = copies.iter().map(|m| m.uid).collect();
        journal_many(
            &mut tx,
            user_id,
            target_id,
            target_modseq,
            "add",
            &new_uids,
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(CopyResult {
            uid_validity,
            mapping,
        })
    }

    /// What changed in a mailbox after `since` MODSEQ: expunged UIDs (from the journal) and
    /// new or changed messages.
    pub async fn changes_since(
        &self,
        user_id: &str,
        mailbox_id: &str,
        since: u64,
    ) -> Result<Changes> {
        let highest: i64 = sqlx::query_scalar(
            "SELECT highest_modseq FROM mailboxes WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(mailbox_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        if highest as u64 <= since {
            return Ok(Changes {
                highest_modseq: highest as u64,
                ..Default::default()
            });
        }
        let expunged: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM journal WHERE mailbox_id = $1 AND modseq > $2 AND user_id = $3 AND kind = 'expunge' \
             AND modseq <= $4 ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(since as i64)
        .bind(user_id)
        .bind(highest)
        .fetch_all(&self.pool)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND mailbox_id = $2 AND modseq > $3 \
             AND modseq <= $4 ORDER BY uid"
        ))
        .bind(user_id)
        .bind(mailbox_id)
        .bind(since as i64)
        .bind(highest)
        .fetch_all(&self.pool)
        .await?;
        let changed = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut expunged: Vec<u32> = expunged.into_iter().map(|u| u as u32).collect();
        expunged.dedup();
        Ok(Changes {
            highest_modseq: highest as u64,
            expunged,
            changed,
        })
    }

    /// Journal entries of a user after `seq`, oldest first.
    pub async fn journal_since(
        &self,
        user_id: &str,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>> {
        let rows = sqlx::query(
            "SELECT seq, mailbox_id, modseq, kind, uid, data, created FROM journal \
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user_id)
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    seq: r.try_get(0)?,
                    mailbox_id: r.try_get(1)?,
                    modseq: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    uid: r.try_get(4)?,
                    data: r.try_get(5)?,
                    created: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Parsed metadata (JSON) of contents, keyed by content id.
    pub async fn content_infos(
        &self,
        user_id: &str,
        content_ids: &[&str],
    ) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in content_ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "SELECT id, info FROM contents WHERE user_id = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(user_id);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.pool).await? {
                out.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// The full bytes of a stored message, reassembled from skeleton and blobs.
    pub async fn read_content(&self, user_id: &str, content_id: &str) -> Result<Vec<u8>> {
        let row = sqlx::query(
            "SELECT size, skeleton, segments FROM contents WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(content_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let size: i64 = row.try_get(0)?;
        let stored: Vec<u8> = row.try_get(1)?;
        let segments: String = row.try_get(2)?;
        let segments: Vec<Segment> =
            serde_json::from_str(&segments).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let cut: u64 = segments.iter().map(|s| s.len).sum();
        let skeleton = crate::blobs::decode(&stored, (size as u64).saturating_sub(cut) as usize)?;
        let mut full = Vec::with_capacity(size as usize);
        let mut at = 0usize;
        for segment in &segments {
            let keep = (segment.offset as usize).saturating_sub(full.len());
            let end = at + keep;
            full.extend_from_slice(
                skeleton
                    .get(at..end)
                    .ok_or_else(|| StoreError::Corrupt("skeleton too short".into()))?,
            );
            at = end;
            let blob = self.get_blob(&segment.hash).await?;
            if blob.len() as u64 != segment.len {
                return Err(StoreError::Corrupt(format!(
                    "blob {} has {} bytes, expected {}",
                    segment.hash,
                    blob.len(),
                    segment.len
                )));
            }
            full.extend_from_slice(&blob);
        }
        full.extend_from_slice(&skeleton[at.min(skeleton.len())..]);
        if full.len() as i64 != size {
            return Err(StoreError::Corrupt(format!(
                "reassembled {} bytes, expected {size}",
                full.len()
            )));
        }
        Ok(full)
    }
}

/// Applies a STORE operation to one message's flags and keywords.
fn apply_flags(m: &MessageRow, mode: StoreMode, flags: u32, keywords: &[String]) -> (u32, String) {
    let mut current: Vec<&str> = m.keywords.split_whitespace().collect();
    let has = |list: &[&str], k: &str| list.iter().any(|c| c.eq_ignore_ascii_case(k));
    match mode {
        StoreMode::Add => {
            for k in keywords {
                if !has(&current, k) {
                    current.push(k);
                }
            }
            (m.flags | flags, current.join(" "))
        }
        StoreMode::Remove => {
            current.retain(|c| !keywords.iter().any(|k| k.eq_ignore_ascii_case(c)));
            (m.flags & !flags, current.join(" "))
        }
        StoreMode::Replace => {
            let mut list: Vec<&str> = Vec::new();
            for k in keywords {
                if !has(&list, k) {
                    list.push(k);
                }
            }
            (flags, list.join(" "))
        }
    }
}
