//! Account management beyond creation: listing, updates, deletion, quota recalculation.

use crate::{Engine, Error, ErrorKind, Result};
use eider_store::{Cursor, UserRow, UserUpdate};

/// Changes to an account. `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub password: Option<String>,
    pub quota: Option<i64>,
    pub disabled: Option<bool>,
    /// The complete new props object (JSON).
    pub props: Option<String>,
}

/// Which users a listing shows.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Part of the username or of an address.
    pub query: String,
    /// The user has at least one of these tags.
    pub any_tags: Vec<String>,
    /// The user has all of these tags.
    pub all_tags: Vec<String>,
    /// Part of one of the user's forwarding targets (an address or URL), case-insensitive.
    pub forward: String,
}

impl UserFilter {
    /// Whether rows must be filtered after the SQL query (tags and targets live in props).
    fn by_tags(&self) -> bool {
        !self.any_tags.is_empty() || !self.all_tags.is_empty() || !self.forward.is_empty()
    }

    fn admits(&self, user: &UserRow) -> bool {
        if !self.by_tags() {
            return true;
        }
        let props = serde_json::from_str::<serde_json::Value>(&user.props).unwrap_or_default();
        let list = |name: &str| -> Vec<String> {
            props
                .get(name)
                .cloned()
                .and_then(|t| serde_json::from_value(t).ok())
                .unwrap_or_default()
        };
        let tags = list("tags");
        let has = |t: &String| tags.iter().any(|x| x.eq_ignore_ascii_case(t));
        let forward = self.forward.to_lowercase();
        (self.any_tags.is_empty() || self.any_tags.iter().any(has))
            && self.all_tags.iter().all(has)
            && (forward.is_empty()
                || list("targets")
                    .iter()
                    .any(|t| t.to_lowercase().contains(&forward)))
    }
}

/// One page of users with what the next/previous cursors need.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<UserRow>,
    pub total: i64,
    /// More users come after the last one.
    pub has_next: bool,
    /// More users come before the first one.
    pub has_previous: bool,
}

/// Tag filters are applied after the SQL query (tags live in props); this many rows are read per
/// round trip while filling a page.
const SCAN_BATCH: i64 = 500;

impl Engine {
    pub async fn update_user(&self, id: &str, req: &UpdateUser) -> Result<()> {
        if req.quota.is_some_and(|q| q < 0) {
            return Err(Error::new(ErrorKind::Invalid, "quota must not be negative"));
        }
        let password_hash = match &req.password {
            Some(p) => {
                crate::auth::check_password(p)?;
                Some(crate::auth::hash_password(p).await?)
            }
            None => None,
        };
        let update = UserUpdate {
            name: req.name.clone(),
            password_hash,
            quota: req.quota,
            disabled: req.disabled,
            props: req.props.clone(),
        };
        self.store.update_user(id, &update).await?;
        if req.disabled == Some(true) {
            // A disabled account keeps no API sessions.
            self.store.delete_user_tokens(id).await?;
        }
        Ok(())
    }

    /// Deletes a user with all their mail; returns how many addresses were removed.
    pub async fn delete_user(&self, id: &str) -> Result<u64> {
        Ok(self.store.delete_user(id).await?)
    }

    /// Recounts storage from the stored messages. Returns (before, after) in bytes.
    pub async fn recalculate_quota(&self, id: &str) -> Result<(i64, i64)> {
        Ok(self.store.recalculate_storage(id).await?)
    }

    /// Recounts storage for every user; returns how many were recounted.
    pub async fn recalculate_all_quotas(&self) -> Result<usize> {
        let ids = self.store.all_user_ids().await?;
        for id in &ids {
            match self.store.recalculate_storage(id).await {
                Ok(_) | Err(eider_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(ids.len())
    }

    /// A page of users in username order. `cursor` keys are usernames.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        cursor: Cursor<'_>,
        limit: usize,
    ) -> Result<UserPage> {
        let backwards = matches!(cursor, Cursor::Before(_));
        let mut users: Vec<UserRow> = Vec::new();
        let mut key: Option<String> = None;
        let mut exhausted = false;
        // Read one row more than the page to know whether another page follows.
        while users.len() <= limit && !exhausted {
            let batch_size = if filter.by_tags() {
                SCAN_BATCH
            } else {
                (limit + 1) as i64
            };
            let at = match (&key, cursor) {
                (Some(k), _) if backwards => Cursor::Before(k),
                (Some(k), _) => Cursor::After(k),
                (None, c) => c,
            };
            let mut batch = self
                .store
                .search_users(&filter.query, at, batch_size)
                .await?;
            exhausted = (batch.len() as i64) < batch_size;
            if backwards {
                batch.reverse();
            }
            key = batch.last().map(|u| u.username.clone());
            users.extend(batch.into_iter().filter(|u| filter.admits(u)));
            if key.is_none() {
                break;
            }
        }
        let more = users.len() > limit;
        users.truncate(limit);
        if backwards {
            users.reverse();
        }
        let total = if filter.by_tags() {
            self.count_filtered(filter).await?
        } else {
            self.store.count_users(&filter.query).await?
        };
        let (has_next, has_previous) = match cursor {
            Cursor::First => (more, false),
            Cursor::After(_) => (more, true),
            Cursor::Before(_) => (true, more),
        };
        Ok(UserPage {
            users,
            total,
            has_next,
            has_previous,
        })
    }

    async fn count_filtered(&self, filter: &UserFilter) -> Result<i64> {
        let mut total = 0;
        let mut key = String::new();
        loop {
            let at = if key.is_empty() {
                Cursor::First
            } else {
                Cursor::After(&key)
            };
            let batch = self
                .store
                .search_users(&filter.query, at, SCAN_BATCH)
                .await?;
            total += batch.iter().filter(|u| filter.admits(u)).count() as i64;
            match batch.last() {
                Some(last) if batch.len() as i64 == SCAN_BATCH => key = last.username.clone(),
                _ => return Ok(total),
            }
        }
    }
}
