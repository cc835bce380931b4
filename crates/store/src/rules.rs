//! Per-user delivery rules as stored resources: the autoreply and message filters.

use crate::found;
use crate::{Result, Store, StoreError, new_id, unix_now};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Default)]
pub struct AutoreplyRow {
    pub id: String,
    pub user_id: String,
    pub status: bool,
    pub name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Milliseconds since the epoch; 0 means no limit.
    pub start_ms: i64,
    pub end_ms: i64,
    pub created: i64,
}

#[derive(Debug, Clone, Default)]
pub struct FilterRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// JSON object.
    pub query: String,
    /// JSON object.
    pub action: String,
    pub disabled: bool,
    /// JSON object.
    pub meta_data: String,
    pub created: i64,
}

const FILTER_COLUMNS: &str = "id, user_id, name, query, action, disabled, meta_data, created";

fn filter_from_row(row: &AnyRow) -> Result<FilterRow> {
    Ok(FilterRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        query: row.try_get(3)?,
        action: row.try_get(4)?,
        disabled: row.try_get::<i64, _>(5)? != 0,
        meta_data: row.try_get(6)?,
        created: row.try_get(7)?,
    })
}

impl Store {
    pub async fn get_autoreply(&self, user_id: &str) -> Result<Option<AutoreplyRow>> {
        let row = sqlx::query(
            "SELECT id, user_id, status, name, subject, text_body, html_body, start_ms, end_ms, \
             created FROM autoreplies WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AutoreplyRow {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                status: r.try_get::<i64, _>(2)? != 0,
                name: r.try_get(3)?,
                subject: r.try_get(4)?,
                text: r.try_get(5)?,
                html: r.try_get(6)?,
                start_ms: r.try_get(7)?,
                end_ms: r.try_get(8)?,
                created: r.try_get(9)?,
            })
        })
        .transpose()
    }

    /// Creates or replaces the user's autoreply; keeps its id and creation time. Returns the id.
    pub async fn put_autoreply(&self, a: &AutoreplyRow) -> Result<String> {
        let existing = self.get_autoreply(&a.user_id).await?;
        let _w = self.writer().await;
        let (id, created) = match existing {
            Some(e) => (e.id, e.created),
            None => (new_id(), unix_now()),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM autoreplies WHERE user_id = $1")
            .bind(&a.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO autoreplies (user_id, id, status, name, subject, text_body, html_body, \
             start_ms, end_ms, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.user_id)
        .bind(&id)
        .bind(i64::from(a.status))
        .bind(&a.name)
        .bind(&a.subject)
        .bind(&a.text)
        .bind(&a.html)
        .bind(a.start_ms)
        .bind(a.end_ms)
        .bind(created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn delete_autoreply(&self, user_id: &str) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("DELETE FROM autoreplies WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_filter(&self, f: &FilterRow) -> Result<String> {
        let _w = self.writer().await;
        let id = new_id();
        sqlx::query(&format!(
            "INSERT INTO filters ({FILTER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&id)
        .bind(&f.user_id)
        .bind(&f.name)
        .bind(&f.query)
        .bind(&f.action)
        .bind(i64::from(f.disabled))
        .bind(&f.meta_data)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn get_filter(&self, user_id: &str, id: &str) -> Result<FilterRow> {
        let row = sqlx::query(&format!(
            "SELECT {FILTER_COLUMNS} FROM filters WHERE user_id = $1 AND id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        filter_from_row(&row)
    }

    pub async fn save_filter(&self, f: &FilterRow) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query(
            "UPDATE filters SET name = $1, query = $2, action = $3, disabled = $4, meta_data = $5 \
             WHERE user_id = $6 AND id = $7",
        )
        .bind(&f.name)
        .bind(&f.query)
        .bind(&f.action)
        .bind(i64::from(f.disabled))
        .bind(&f.meta_data)
        .bind(&f.user_id)
        .bind(&f.id)
        .execute(&self.pool)
        .await?;
        found(&done)
    }

    pub async fn delete_filter(&self, user_id: &str, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM filters WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(&done)
    }

    /// A user's filters in creation order.
    pub async fn user_filters(&self, user_id: &str) -> Result<Vec<FilterRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {FILTER_COLUMNS} FROM filters WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(filter_from_row).collect()
    }

    /// All filters whose action text contains `forward` (empty: all), keyset-paged on the id.
    /// Returns (page in ascending order, total).
    pub async fn list_filters(
        &self,
        forward: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<FilterRow>, i64)> {
        let pattern = format!(
            "%{}%",
            forward
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let clause = "LOWER(action) LIKE $1 ESCAPE '\\'";
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM filters WHERE {clause}"))
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await?;
        let (range, order, key) = match (after, before) {
            (_, Some(b)) => ("AND id < $2", "DESC", b),
            (Some(a), None) => ("AND id > $2", "ASC", a),
            (None, None) => ("AND id > $2", "ASC", ""),
        };
        let rows = sqlx::query(&format!(
            "SELECT {FILTER_COLUMNS} FROM filters WHERE {clause} {range} ORDER BY id {order} LIMIT $3"
        ))
        .bind(&pattern)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows
            .iter()
            .map(filter_from_row)
            .collect::<Result<Vec<_>>>()?;
        if order == "DESC" {
            rows.reverse();
        }
        Ok((rows, total))
    }
}
