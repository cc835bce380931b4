//! Authentication records: access tokens, application-specific passwords, TOTP seeds and the
//! authentication log. Secrets arrive here already hashed; this module never sees a raw token.

use crate::found;
use crate::{Result, Store, StoreError, map_unique, unix_now};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A live access token or 2FA nonce.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub user_id: String,
    pub kind: String,
    pub data: String,
    pub created: i64,
    pub expires: i64,
}

#[derive(Debug, Clone)]
pub struct AspRow {
    pub id: String,
    pub user_id: String,
    pub description: String,
    /// JSON array of scopes.
    pub scopes: String,
    pub created: i64,
    pub ttl: i64,
    /// 0 = never.
    pub expires: i64,
    pub last_use: i64,
    pub last_event: String,
}

#[derive(Debug, Clone)]
pub struct NewAsp {
    pub user_id: String,
    pub description: String,
    pub scopes: String,
    pub password_hash: String,
    pub ttl: i64,
}

#[derive(Debug, Clone)]
pub struct TotpRow {
    pub seed: String,
    pub enabled: bool,
}

/// One authentication attempt.
#[derive(Debug, Clone, Default)]
pub struct AuthLogRow {
    pub id: String,
    pub user_id: String,
    pub action: String,
    pub result: String,
    pub protocol: String,
    pub scope: String,
    pub source: String,
    pub ip: String,
    pub sess: String,
    pub asp: String,
    pub aname: String,
    pub require2fa: String,
    pub created: i64,
    pub expires: i64,
}

const ASP_COLUMNS: &str =
    "id, user_id, description, scopes, created, ttl, expires, last_use, last_event";

fn asp_from_row(row: &AnyRow) -> Result<AspRow> {
    Ok(AspRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        description: row.try_get(2)?,
        scopes: row.try_get(3)?,
        created: row.try_get(4)?,
        ttl: row.try_get(5)?,
        expires: row.try_get(6)?,
        last_use: row.try_get(7)?,
        last_event: row.try_get(8)?,
    })
}

const AUTHLOG_COLUMNS: &str = "id, user_id, action, result, protocol, scope, source, ip, sess, \
     asp, aname, require2fa, created, expires";

fn authlog_from_row(row: &AnyRow) -> Result<AuthLogRow> {
    Ok(AuthLogRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        action: row.try_get(2)?,
        result: row.try_get(3)?,
        protocol: row.try_get(4)?,
        scope: row.try_get(5)?,
        source: row.try_get(6)?,
        ip: row.try_get(7)?,
        sess: row.try_get(8)?,
        asp: row.try_get(9)?,
        aname: row.try_get(10)?,
        require2fa: row.try_get(11)?,
        created: row.try_get(12)?,
        expires: row.try_get(13)?,
    })
}

impl Store {
    // --- access tokens and nonces ---

    pub async fn insert_token(
        &self,
        hash: &str,
        user_id: &str,
        kind: &str,
        data: &str,
        expires: i64,
    ) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query(
            "INSERT INTO access_tokens (hash, user_id, kind, data, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash)
        .bind(user_id)
        .bind(kind)
        .bind(data)
        .bind(unix_now())
        .bind(expires)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// A token of this kind that has not expired.
    pub async fn get_token(&self, hash: &str, kind: &str) -> Result<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT user_id, kind, data, created, expires FROM access_tokens \
             WHERE hash = $1 AND kind = $2 AND expires > $3",
        )
        .bind(hash)
        .bind(kind)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TokenRow {
                user_id: row.try_get(0)?,
                kind: row.try_get(1)?,
                data: row.try_get(2)?,
                created: row.try_get(3)?,
                expires: row.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Deletes one token; true if it existed.
    pub async fn delete_token(&self, hash: &str) -> Result<bool> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM access_tokens WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every token and nonce of a user, and expired ones of anybody. Returns how many of
    /// the user's were deleted.
    pub async fn delete_user_tokens(&self, user_id: &str) -> Result<u64> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM access_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM access_tokens WHERE expires <= $1")
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // --- application-specific passwords ---

    pub async fn insert_asp(&self, asp: &NewAsp) -> Result<AspRow> {
        let _w = self.writer().await;
        let id = crate::new_id();
        let now = unix_now();
        let expires = if asp.ttl > 0 { now + asp.ttl } else { 0 };
        sqlx::query(
            "INSERT INTO asps (id, user_id, description, scopes, password_hash, created, ttl, expires) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&asp.user_id)
        .bind(&asp.description)
        .bind(&asp.scopes)
        .bind(&asp.password_hash)
        .bind(now)
        .bind(asp.ttl)
        .bind(expires)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(AspRow {
            id,
            user_id: asp.user_id.clone(),
            description: asp.description.clone(),
            scopes: asp.scopes.clone(),
            created: now,
            ttl: asp.ttl,
            expires,
            last_use: 0,
            last_event: String::new(),
        })
    }

    /// The user's unexpired ASPs (with `show_all`, also those that have a TTL), oldest first.
    pub async fn list_asps(&self, user_id: &str, show_all: bool) -> Result<Vec<AspRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ASP_COLUMNS} FROM asps WHERE user_id = $1 AND (expires = 0 OR expires > $2) \
             AND ($3 = 1 OR ttl = 0) ORDER BY id"
        ))
        .bind(user_id)
        .bind(unix_now())
        .bind(i64::from(show_all))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(asp_from_row).collect()
    }

    pub async fn get_asp(&self, user_id: &str, id: &str) -> Result<AspRow> {
        let row = sqlx::query(&format!(
            "SELECT {ASP_COLUMNS} FROM asps WHERE user_id = $1 AND id = $2 \
             AND (expires = 0 OR expires > $3)"
        ))
        .bind(user_id)
        .bind(id)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        asp_from_row(&row)
    }

    /// The unexpired ASP with this password hash.
    pub async fn find_asp(&self, user_id: &str, password_hash: &str) -> Result<Option<AspRow>> {
        let row = sqlx::query(&format!(
            "SELECT {ASP_COLUMNS} FROM asps WHERE user_id = $1 AND password_hash = $2 \
             AND (expires = 0 OR expires > $3)"
        ))
        .bind(user_id)
        .bind(password_hash)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(asp_from_row).transpose()
    }

    /// Records a use of an ASP and slides its expiry when it has a TTL.
    pub async fn touch_asp(&self, id: &str, event: &str) -> Result<()> {
        let _w = self.writer().await;
        let now = unix_now();
        sqlx::query(
            "UPDATE asps SET last_use = $1, last_event = $2, \
             expires = CASE WHEN ttl > 0 THEN $1 + ttl ELSE 0 END WHERE id = $3",
        )
        .bind(now)
        .bind(event)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_asp(&self, user_id: &str, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM asps WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(&done)
    }

    // --- TOTP ---

    pub async fn get_totp(&self, user_id: &str) -> Result<Option<TotpRow>> {
        let row = sqlx::query("SELECT seed, enabled FROM totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TotpRow {
                seed: row.try_get(0)?,
                enabled: row.try_get::<i64, _>(1)? != 0,
            })
        })
        .transpose()
    }

    /// Stores a new, not yet enabled seed, unless TOTP is already enabled (then `AlreadyExists`).
    pub async fn set_pending_totp(&self, user_id: &str, seed: &str) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let enabled: Option<i64> =
            sqlx::query_scalar("SELECT enabled FROM totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        match enabled {
            Some(1) => return Err(StoreError::AlreadyExists),
            Some(_) => {
                sqlx::query("UPDATE totp SET seed = $1, created = $2 WHERE user_id = $3")
                    .bind(seed)
                    .bind(unix_now())
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO totp (user_id, seed, enabled, created) VALUES ($1, $2, 0, $3)",
                )
                .bind(user_id)
                .bind(seed)
                .bind(unix_now())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn enable_totp(&self, user_id: &str) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("UPDATE totp SET enabled = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the seed; true if TOTP was enabled.
    pub async fn delete_totp(&self, user_id: &str) -> Result<bool> {
        let _w = self.writer().await;
        let enabled: Option<i64> =
            sqlx::query_scalar("DELETE FROM totp WHERE user_id = $1 RETURNING enabled")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(enabled == Some(1))
    }

    // --- authentication log ---

    /// Appends an entry (its id is made here) and drops the user's expired ones.
    pub async fn insert_authlog(&self, entry: &AuthLogRow) -> Result<String> {
        let _w = self.writer().await;
        let id = crate::new_id();
        sqlx::query(&format!(
            "INSERT INTO authlog ({AUTHLOG_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&id)
        .bind(&entry.user_id)
        .bind(&entry.action)
        .bind(&entry.result)
        .bind(&entry.protocol)
        .bind(&entry.scope)
        .bind(&entry.source)
        .bind(&entry.ip)
        .bind(&entry.sess)
        .bind(&entry.asp)
        .bind(&entry.aname)
        .bind(&entry.require2fa)
        .bind(entry.created)
        .bind(entry.expires)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM authlog WHERE user_id = $1 AND expires <= $2")
            .bind(&entry.user_id)
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// A page of a user's log, newest first. `after`: entries older than this id; `before`:
    /// entries newer than this id (returned newest first as well).
    pub async fn list_authlog(
        &self,
        user_id: &str,
        action: Option<&str>,
        ip: Option<&str>,
        cursor: Cursor<'_>,
        limit: i64,
    ) -> Result<Vec<AuthLogRow>> {
        let (bound, order) = match cursor {
            Cursor::First => ("AND $4 = ''", "DESC"),
            Cursor::After(_) => ("AND id < $4", "DESC"),
            Cursor::Before(_) => ("AND id > $4", "ASC"),
        };
        let sql = format!(
            "SELECT {AUTHLOG_COLUMNS} FROM authlog WHERE user_id = $1 AND expires > $2 \
             AND ($3 = '' OR action = $3) AND ($5 = '' OR ip = $5) {bound} \
             ORDER BY id {order} LIMIT $6"
        );
        let key = match cursor {
            Cursor::First => "",
            Cursor::After(k) | Cursor::Before(k) => k,
        };
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(unix_now())
            .bind(action.unwrap_or(""))
            .bind(key)
            .bind(ip.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(authlog_from_row)
            .collect::<Result<Vec<_>>>()?;
        if matches!(cursor, Cursor::Before(_)) {
            out.reverse();
        }
        Ok(out)
    }

    pub async fn count_authlog(
        &self,
        user_id: &str,
        action: Option<&str>,
        ip: Option<&str>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM authlog WHERE user_id = $1 AND expires > $2 \
             AND ($3 = '' OR action = $3) AND ($4 = '' OR ip = $4)",
        )
        .bind(user_id)
        .bind(unix_now())
        .bind(action.unwrap_or(""))
        .bind(ip.unwrap_or(""))
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn get_authlog(&self, user_id: &str, id: &str) -> Result<AuthLogRow> {
        let row = sqlx::query(&format!(
            "SELECT {AUTHLOG_COLUMNS} FROM authlog WHERE user_id = $1 AND id = $2 AND expires > $3"
        ))
        .bind(user_id)
        .bind(id)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        authlog_from_row(&row)
    }
}

/// Where a keyset page starts.
#[derive(Debug, Clone, Copy)]
pub enum Cursor<'a> {
    First,
    /// Rows after this key in the listing's order.
    After(&'a str),
    /// Rows before this key in the listing's order.
    Before(&'a str),
}
