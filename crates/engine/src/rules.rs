//! The autoreply and message filters of a user, kept as stored resources. Acting on them at
//! delivery is not built yet; the API stores and returns every field.

use crate::{Engine, Error, ErrorKind, Result};
use eider_store::{AutoreplyRow, FilterRow, StoreError};

fn filter_missing(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => Error::new(ErrorKind::NotFound, "Filter was not found"),
        other => other.into(),
    }
}

impl Engine {
    pub async fn autoreply(&self, user_id: &str) -> Result<Option<AutoreplyRow>> {
        self.store.get_user(user_id).await?;
        Ok(self.store.get_autoreply(user_id).await?)
    }

    /// Stores the user's autoreply; returns its id.
    pub async fn set_autoreply(&self, autoreply: &AutoreplyRow) -> Result<String> {
        self.store.get_user(&autoreply.user_id).await?;
        if autoreply.start_ms != 0 && autoreply.end_ms != 0 && autoreply.end_ms < autoreply.start_ms
        {
            return Err(Error::new(
                ErrorKind::Invalid,
                "\"end\" must be later than \"start\"",
            ));
        }
        Ok(self.store.put_autoreply(autoreply).await?)
    }

    pub async fn delete_autoreply(&self, user_id: &str) -> Result<()> {
        self.store.get_user(user_id).await?;
        Ok(self.store.delete_autoreply(user_id).await?)
    }

    pub async fn add_filter(&self, filter: &FilterRow) -> Result<String> {
        self.store.get_user(&filter.user_id).await?;
        Ok(self.store.insert_filter(filter).await?)
    }

    pub async fn filter(&self, user_id: &str, id: &str) -> Result<FilterRow> {
        self.store.get_user(user_id).await?;
        self.store
            .get_filter(user_id, id)
            .await
            .map_err(filter_missing)
    }

    pub async fn save_filter(&self, filter: &FilterRow) -> Result<()> {
        self.store.save_filter(filter).await.map_err(filter_missing)
    }

    pub async fn delete_filter(&self, user_id: &str, id: &str) -> Result<()> {
        self.store.get_user(user_id).await?;
        self.store
            .delete_filter(user_id, id)
            .await
            .map_err(filter_missing)
    }

    pub async fn user_filters(&self, user_id: &str) -> Result<Vec<FilterRow>> {
        self.store.get_user(user_id).await?;
        Ok(self.store.user_filters(user_id).await?)
    }

    pub async fn list_filters(
        &self,
        forward: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<FilterRow>, i64)> {
        Ok(self
            .store
            .list_filters(&forward.to_lowercase(), after, before, limit)
            .await?)
    }
}
