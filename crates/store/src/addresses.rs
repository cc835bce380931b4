//! Address records (user, wildcard and forwarded), domain aliases and the address register.

use crate::found;
use crate::{Result, Store, StoreError, map_unique, new_id, placeholders, unix_now};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One row of `addresses` with every column. JSON columns are kept as text; the engine reads them.
#[derive(Debug, Clone, Default)]
pub struct AddressEntry {
    pub id: String,
    /// Empty for a forwarded address.
    pub user_id: String,
    pub address: String,
    pub normalized: String,
    pub main: bool,
    pub created: i64,
    pub name: String,
    pub tags: String,
    pub tags_view: String,
    pub meta_data: String,
    pub internal_data: String,
    pub forwarded: bool,
    pub targets: String,
    pub forwards: i64,
    pub forwarded_disabled: bool,
    pub autoreply: String,
}

/// A new address; `id` and `created` are filled by the store.
pub type NewAddress = AddressEntry;

/// Filters of an address listing. Patterns are plain substrings (lowercased by the caller).
#[derive(Debug, Clone, Default)]
pub struct AddressFilter {
    pub query: Option<String>,
    pub forward: Option<String>,
    /// The address has at least one of these tags (lowercased).
    pub any_tags: Vec<String>,
    /// The address has all of these tags (lowercased).
    pub all_tags: Vec<String>,
}

/// One page of a listing in ascending key order, and how many rows match in all.
#[derive(Debug, Clone)]
pub struct AddressPage {
    pub rows: Vec<AddressEntry>,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct DomainAliasRow {
    pub id: String,
    pub alias: String,
    pub alias_key: String,
    pub domain: String,
    pub domain_key: String,
    pub created: i64,
}

#[derive(Debug, Clone)]
pub struct RegisterRow {
    pub id: String,
    pub user_id: String,
    pub address: String,
    pub name: String,
    pub disabled: bool,
}

const ENTRY_COLUMNS: &str = "id, user_id, address, normalized, main, created, name, tags, \
     tags_view, meta_data, internal_data, forwarded, targets, forwards, forwarded_disabled, autoreply";

fn entry_from_row(row: &AnyRow) -> Result<AddressEntry> {
    Ok(AddressEntry {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        address: row.try_get(2)?,
        normalized: row.try_get(3)?,
        main: row.try_get::<i64, _>(4)? != 0,
        created: row.try_get(5)?,
        name: row.try_get(6)?,
        tags: row.try_get(7)?,
        tags_view: row.try_get(8)?,
        meta_data: row.try_get(9)?,
        internal_data: row.try_get(10)?,
        forwarded: row.try_get::<i64, _>(11)? != 0,
        targets: row.try_get(12)?,
        forwards: row.try_get(13)?,
        forwarded_disabled: row.try_get::<i64, _>(14)? != 0,
        autoreply: row.try_get(15)?,
    })
}

fn alias_from_row(row: &AnyRow) -> Result<DomainAliasRow> {
    Ok(DomainAliasRow {
        id: row.try_get(0)?,
        alias: row.try_get(1)?,
        alias_key: row.try_get(2)?,
        domain: row.try_get(3)?,
        domain_key: row.try_get(4)?,
        created: row.try_get(5)?,
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A WHERE clause for an address filter, with its bind values (placeholders from `$1`).
fn filter_clause(filter: &AddressFilter) -> (String, Vec<String>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut binds = Vec::new();
    if let Some(q) = &filter.query {
        binds.push(format!("%{}%", like_escape(q)));
        let n = binds.len();
        clauses.push(format!(
            "(LOWER(address) LIKE ${n} ESCAPE '\\' OR normalized LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(f) = &filter.forward {
        binds.push(format!("%{}%", like_escape(f)));
        clauses.push(format!(
            "(forwarded = 1 AND LOWER(targets) LIKE ${} ESCAPE '\\')",
            binds.len()
        ));
    }
    if !filter.any_tags.is_empty() {
        let mut any = Vec::new();
        for tag in &filter.any_tags {
            binds.push(format!("%,{},%", like_escape(tag)));
            any.push(format!("tags_view LIKE ${} ESCAPE '\\'", binds.len()));
        }
        clauses.push(format!("({})", any.join(" OR ")));
    }
    for tag in &filter.all_tags {
        binds.push(format!("%,{},%", like_escape(tag)));
        clauses.push(format!("tags_view LIKE ${} ESCAPE '\\'", binds.len()));
    }
    (clauses.join(" AND "), binds)
}

impl Store {
    /// Inserts an address; a main address takes the main flag from the user's other addresses.
    pub async fn insert_address(&self, a: &NewAddress) -> Result<String> {
        let _w = self.writer().await;
        let id = new_id();
        let mut tx = self.pool.begin().await?;
        if a.main {
            sqlx::query("UPDATE addresses SET main = 0 WHERE user_id = $1")
                .bind(&a.user_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO addresses ({ENTRY_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&id)
        .bind(&a.user_id)
        .bind(&a.address)
        .bind(&a.normalized)
        .bind(i64::from(a.main))
        .bind(unix_now())
        .bind(&a.name)
        .bind(&a.tags)
        .bind(&a.tags_view)
        .bind(&a.meta_data)
        .bind(&a.internal_data)
        .bind(i64::from(a.forwarded))
        .bind(&a.targets)
        .bind(a.forwards)
        .bind(i64::from(a.forwarded_disabled))
        .bind(&a.autoreply)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn get_address(&self, id: &str) -> Result<AddressEntry> {
        let row = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM addresses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    /// Every address row whose key is one of `keys` (user, wildcard and forwarded alike).
    pub async fn find_address_entries(&self, keys: &[String]) -> Result<Vec<AddressEntry>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM addresses WHERE normalized IN ({})",
            placeholders(1, keys.len())
        );
        let mut query = sqlx::query(&sql);
        for k in keys {
            query = query.bind(k);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// A user's addresses, the main one first.
    pub async fn user_address_entries(&self, user_id: &str) -> Result<Vec<AddressEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM addresses WHERE user_id = $1 AND forwarded = 0 \
             ORDER BY main DESC, created, normalized"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Writes back every changeable column of an address; `main` is set with
    /// [`Store::set_main_address`].
    pub async fn save_address(&self, a: &AddressEntry) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query(
            "UPDATE addresses SET address = $1, normalized = $2, name = $3, tags = $4, \
             tags_view = $5, meta_data = $6, internal_data = $7, targets = $8, forwards = $9, \
             forwarded_disabled = $10, autoreply = $11 WHERE id = $12",
        )
        .bind(&a.address)
        .bind(&a.normalized)
        .bind(&a.name)
        .bind(&a.tags)
        .bind(&a.tags_view)
        .bind(&a.meta_data)
        .bind(&a.internal_data)
        .bind(&a.targets)
        .bind(a.forwards)
        .bind(i64::from(a.forwarded_disabled))
        .bind(&a.autoreply)
        .bind(&a.id)
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        found(&done)
    }

    /// Makes one address the user's main address.
    pub async fn set_main_address(&self, user_id: &str, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE addresses SET main = 0 WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("UPDATE addresses SET main = 1 WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        found(&done)?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_address(&self, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM addresses WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(&done)
    }

    /// Addresses matching `filter`, ordered by key, `limit` of them after `after` or (going back)
    /// before `before`. The page is always returned in ascending order.
    pub async fn list_addresses(
        &self,
        filter: &AddressFilter,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<AddressPage> {
        let (clause, binds) = filter_clause(filter);
        let count_sql = format!("SELECT COUNT(*) FROM addresses WHERE {clause}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b);
        }
        let total = count.fetch_one(&self.pool).await?;
        let n = binds.len();
        let (range, order, key) = match (after, before) {
            (_, Some(b)) => (format!("AND normalized < ${}", n + 1), "DESC", Some(b)),
            (Some(a), None) => (format!("AND normalized > ${}", n + 1), "ASC", Some(a)),
            (None, None) => (String::new(), "ASC", None),
        };
        let limit_at = n + 1 + usize::from(key.is_some());
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM addresses WHERE {clause} {range} \
             ORDER BY normalized {order} LIMIT ${limit_at}"
        );
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        if let Some(k) = key {
            query = query.bind(k);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        let mut rows = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        if order == "DESC" {
            rows.reverse();
        }
        Ok(AddressPage { rows, total })
    }

    /// Addresses whose key ends with `@domain` (ASCII form); wildcard domains included.
    pub async fn addresses_in_domain(&self, domain: &str) -> Result<Vec<AddressEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM addresses WHERE normalized LIKE $1 ESCAPE '\\'"
        ))
        .bind(format!("%@{}", like_escape(domain)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Renames addresses (id, display address, key) and domain aliases pointing at `old_domain_key`
    /// in one transaction. Returns the number of domain aliases changed.
    pub async fn rename_domain(
        &self,
        renames: &[(String, String, String)],
        old_domain_key: &str,
        new_domain: &str,
        new_domain_key: &str,
    ) -> Result<u64> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        for (id, address, normalized) in renames {
            sqlx::query("UPDATE addresses SET address = $1, normalized = $2 WHERE id = $3")
                .bind(address)
                .bind(normalized)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_unique)?;
        }
        let aliases = sqlx::query(
            "UPDATE domain_aliases SET domain = $1, domain_key = $2 WHERE domain_key = $3",
        )
        .bind(new_domain)
        .bind(new_domain_key)
        .bind(old_domain_key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(aliases)
    }

    // ---- domain aliases

    pub async fn insert_domain_alias(
        &self,
        alias: &str,
        alias_key: &str,
        domain: &str,
        domain_key: &str,
    ) -> Result<String> {
        let _w = self.writer().await;
        let id = new_id();
        sqlx::query(
            "INSERT INTO domain_aliases (id, alias, alias_key, domain, domain_key, created) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(alias)
        .bind(alias_key)
        .bind(domain)
        .bind(domain_key)
        .bind(unix_now())
        .execute(&self.pool)
        .await
        .map_err(map_unique)?;
        Ok(id)
    }

    pub async fn get_domain_alias(&self, id: &str) -> Result<DomainAliasRow> {
        let row = sqlx::query(
            "SELECT id, alias, alias_key, domain, domain_key, created FROM domain_aliases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        alias_from_row(&row)
    }

    pub async fn find_domain_alias(&self, alias_key: &str) -> Result<Option<DomainAliasRow>> {
        let row = sqlx::query(
            "SELECT id, alias, alias_key, domain, domain_key, created FROM domain_aliases \
             WHERE alias_key = $1",
        )
        .bind(alias_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(alias_from_row).transpose()
    }

    pub async fn delete_domain_alias(&self, id: &str) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query("DELETE FROM domain_aliases WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(&done)
    }

    /// Domain aliases whose alias or domain contains `query`, keyset-paged on the alias key.
    /// Returns (page in ascending order, total).
    pub async fn list_domain_aliases(
        &self,
        query: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<DomainAliasRow>, i64)> {
        let pattern = format!("%{}%", like_escape(query));
        let clause = "(LOWER(alias) LIKE $1 ESCAPE '\\' OR alias_key LIKE $1 ESCAPE '\\' \
             OR LOWER(domain) LIKE $1 ESCAPE '\\' OR domain_key LIKE $1 ESCAPE '\\')";
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM domain_aliases WHERE {clause}"
        ))
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await?;
        let (range, order, key) = match (after, before) {
            (_, Some(b)) => ("AND alias_key < $2", "DESC", b),
            (Some(a), None) => ("AND alias_key > $2", "ASC", a),
            (None, None) => ("AND alias_key > $2", "ASC", ""),
        };
        let rows = sqlx::query(&format!(
            "SELECT id, alias, alias_key, domain, domain_key, created FROM domain_aliases \
             WHERE {clause} {range} ORDER BY alias_key {order} LIMIT $3"
        ))
        .bind(&pattern)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows
            .iter()
            .map(alias_from_row)
            .collect::<Result<Vec<_>>>()?;
        if order == "DESC" {
            rows.reverse();
        }
        Ok((rows, total))
    }

    // ---- address register

    /// Records (or refreshes) an address a user exchanged mail with; a disabled entry stays as it is.
    pub async fn register_address(
        &self,
        user_id: &str,
        address: &str,
        normalized: &str,
        name: &str,
    ) -> Result<()> {
        let _w = self.writer().await;
        let now = unix_now();
        let updated = sqlx::query(
            "UPDATE address_register SET address = $1, name = CASE WHEN $2 = '' THEN name ELSE $2 END, \
             updated = $3 WHERE user_id = $4 AND normalized = $5 AND disabled = 0",
        )
        .bind(address)
        .bind(name)
        .bind(now)
        .bind(user_id)
        .bind(normalized)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            let inserted = sqlx::query(
                "INSERT INTO address_register (id, user_id, address, normalized, name, updated) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new_id())
            .bind(user_id)
            .bind(address)
            .bind(normalized)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await;
            match inserted.map_err(map_unique) {
                // A disabled entry already exists: leave it alone.
                Ok(_) | Err(StoreError::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Enabled register entries whose address or name starts with `prefix` (lowercased),
    /// most recently used first.
    pub async fn search_register(
        &self,
        user_id: &str,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<RegisterRow>> {
        let pattern = format!("{}%", like_escape(prefix));
        let rows = sqlx::query(
            "SELECT id, user_id, address, name, disabled FROM address_register \
             WHERE user_id = $1 AND disabled = 0 AND (normalized LIKE $2 ESCAPE '\\' \
             OR LOWER(address) LIKE $2 ESCAPE '\\' OR LOWER(name) LIKE $2 ESCAPE '\\') \
             ORDER BY updated DESC, id LIMIT $3",
        )
        .bind(user_id)
        .bind(&pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RegisterRow {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    address: r.try_get(2)?,
                    name: r.try_get(3)?,
                    disabled: r.try_get::<i64, _>(4)? != 0,
                })
            })
            .collect()
    }

    pub async fn update_register(
        &self,
        user_id: &str,
        id: &str,
        disabled: bool,
        name: Option<&str>,
    ) -> Result<()> {
        let _w = self.writer().await;
        let done = sqlx::query(
            "UPDATE address_register SET disabled = $1, \
             name = CASE WHEN $5 = 1 THEN $2 ELSE name END WHERE user_id = $3 AND id = $4",
        )
        .bind(i64::from(disabled))
        .bind(name.unwrap_or(""))
        .bind(user_id)
        .bind(id)
        .bind(i64::from(name.is_some()))
        .execute(&self.pool)
        .await?;
        found(&done)
    }
}
