//! Users and their addresses.

use crate::{Result, Store, StoreError, map_unique, new_id, unix_now};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub password_hash: String,
    /// Bytes; 0 means unlimited.
    pub quota: i64,
    pub storage_used: i64,
    pub disabled: bool,
    pub created: i64,
    /// JSON object of API fields Eider stores and returns but does not act on yet.
    pub props: String,
}

#[derive(Debug, Clone)]
pub struct AddressRow {
    pub id: String,
    pub user_id: String,
    pub address: String,
    pub normalized: String,
    pub main: bool,
    pub created: i64,
}

/// Everything needed to create a user in one transaction.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub password_hash: String,
    pub quota: i64,
    pub props: String,
    /// (display address, normalized lookup key)
    pub addresses: Vec<(String, String)>,
    /// (path, special-use attribute)
    pub mailboxes: Vec<(String, Option<String>)>,
}

const USER_COLUMNS: &str =
    "id, username, name, password_hash, quota, storage_used, disabled, created, props";

fn user_from_row(row: &AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        name: row.try_get(2)?,
        password_hash: row.try_get(3)?,
        quota: row.try_get(4)?,
        storage_used: row.try_get(5)?,
        disabled: row.try_get::<i64, _>(6)? != 0,
        created: row.try_get(7)?,
        props: row.try_get(8)?,
    })
}

fn address_from_row(row: &AnyRow) -> Result<AddressRow> {
    Ok(AddressRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        address: row.try_get(2)?,
        normalized: row.try_get(3)?,
        main: row.try_get::<i64, _>(4)? != 0,
        created: row.try_get(5)?,
    })
}

impl Store {
    /// Creates a user with addresses and default mailboxes atomically. Returns the new id.
    pub async fn create_user(&self, user: &NewUser) -> Result<String> {
        let _w = self.writer().await;
        let id = new_id();
        let now = unix_now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, name, password_hash, quota, created, props) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(&user.username)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.quota)
        .bind(now)
        .bind(&user.props)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        for (i, (address, normalized)) in user.addresses.iter().enumerate() {
            sqlx::query(
                "INSERT INTO addresses (id, user_id, address, normalized, main, created) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new_id())
            .bind(&id)
            .bind(address)
            .bind(normalized)
            .bind(i64::from(i == 0))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?;
        }
        for (path, special_use) in &user.mailboxes {
            crate::mailboxes::insert_mailbox(&mut tx, &id, path, special_use.as_deref()).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn get_user(&self, id: &str) -> Result<UserRow> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    pub async fn get_user_by_username(&self, username: &str) -> Result<UserRow> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    /// Users ordered by username, starting after `after` (keyset paging).
    pub async fn list_users(&self, after: &str, limit: i64) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username > $1 ORDER BY username LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Finds the user owning an address by its normalized key.
    pub async fn find_address(&self, normalized: &str) -> Result<Option<AddressRow>> {
        let row = sqlx::query(
            // Forwarded and wildcard entries never name a user by themselves: recipient resolution
            // reads them with `find_address_entries`, and logins must not match them.
            "SELECT id, user_id, address, normalized, main, created FROM addresses \
             WHERE normalized = $1 AND forwarded = 0 AND user_id <> '' AND normalized NOT LIKE '%*%'",
        )
        .bind(normalized)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(address_from_row).transpose()
    }

    pub async fn user_addresses(&self, user_id: &str) -> Result<Vec<AddressRow>> {
        let rows = sqlx::query(
            "SELECT id, user_id, address, normalized, main, created FROM addresses \
             WHERE user_id = $1 ORDER BY main DESC, created",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(address_from_row).collect()
    }

    pub async fn add_address(
        &self,
        user_id: &str,
        address: &str,
        normalized: &str,
    ) -> Result<String> {
        let _w = self.writer().await;
        let id = new_id();
        sqlx::query(
            "INSERT INTO addresses (id, user_id, address, normalized, main, created) VALUES ($1, $2, $3, $4, 0, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(address)
        .bind(normalized)
        .bind(unix_now())
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(id)
    }
}
