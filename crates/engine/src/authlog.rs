//! The authentication log: one entry per attempt on an existing user, kept for
//! `EngineConfig::authlog_ttl` seconds.

use crate::auth::AuthContext;
use crate::{Engine, Result};
use eider_store::{AspRow, AuthLogRow, Cursor, unix_now};

/// An attempt being described; [`Engine::record_auth`] writes it.
#[derive(Debug, Clone)]
pub struct Attempt {
    row: AuthLogRow,
}

impl Attempt {
    pub fn new(user_id: &str, ctx: &AuthContext) -> Attempt {
        Attempt {
            row: AuthLogRow {
                user_id: user_id.to_string(),
                action: "authentication".into(),
                protocol: ctx.protocol.clone(),
                scope: ctx.scope.as_str().into(),
                ip: ctx.remote_ip.clone(),
                sess: ctx.sess.clone(),
                ..AuthLogRow::default()
            },
        }
    }

    /// Another kind of entry than a login (e.g. "totp-check").
    pub fn action(mut self, action: &str) -> Attempt {
        self.row.action = action.into();
        self
    }

    /// `result`: success | fail | ratelimited; `source`: master | asp | disabled | asp-scope | totp.
    pub fn result(&mut self, result: &str, source: &str) {
        self.row.result = result.into();
        self.row.source = source.into();
    }

    pub fn asp(&mut self, asp: &AspRow) {
        self.row.asp = asp.id.clone();
        self.row.aname = asp.description.clone();
    }

    pub fn require_2fa(&mut self, method: &str) {
        self.row.require2fa = method.into();
    }
}

impl Engine {
    /// Writes an attempt and returns its id. A failure to log never fails the login: it is
    /// reported and dropped.
    pub async fn record_auth(&self, attempt: Attempt) -> Option<String> {
        let mut row = attempt.row;
        row.created = unix_now();
        row.expires = row.created + self.config.authlog_ttl as i64;
        match self.store.insert_authlog(&row).await {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, user = %row.user_id, "could not write the auth log");
                None
            }
        }
    }

    /// One page of a user's log, newest first.
    pub async fn list_authlog(
        &self,
        user_id: &str,
        action: Option<&str>,
        ip: Option<&str>,
        cursor: Cursor<'_>,
        limit: i64,
    ) -> Result<(Vec<AuthLogRow>, i64)> {
        self.store.get_user(user_id).await?;
        let rows = self
            .store
            .list_authlog(user_id, action, ip, cursor, limit)
            .await?;
        let total = self.store.count_authlog(user_id, action, ip).await?;
        Ok((rows, total))
    }

    pub async fn get_authlog(&self, user_id: &str, id: &str) -> Result<AuthLogRow> {
        Ok(self.store.get_authlog(user_id, id).await?)
    }
}
