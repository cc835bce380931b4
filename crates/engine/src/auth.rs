//! Password hashing (argon2id) and authentication.

use crate::{Engine, Error, ErrorKind, Result, address};
use eider_store::{StoreError, UserRow};
use std::net::IpAddr;

/// Hashes a password with argon2id and a random salt (PHC string), off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    crate::hashing::hash(password)
        .await
        .ok_or_else(|| Error::new(ErrorKind::Internal, "password hashing failed"))
}

/// Checks a password against a stored PHC hash, off the async threads.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    crate::hashing::verify(password, hash).await
}

impl Engine {
    /// Finds a user by username, or by any of their addresses when the login contains `@`.
    pub async fn find_user(&self, login: &str) -> Result<UserRow> {
        let by_name = match address::normalize_username(login) {
            Ok(name) => self.store.get_user_by_username(&name).await,
            Err(_) => Err(StoreError::NotFound),
        };
        match by_name {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound) if login.contains('@') => {
                let key = address::normalize(login)?;
                let found = self
                    .store
                    .find_address(&key)
                    .await?
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such user"))?;
                Ok(self.store.get_user(&found.user_id).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Verifies a login and password from a client address (when known). Every failure is the
    /// same `AuthFailed`, so callers cannot tell a wrong password from an unknown user; over the
    /// failure budget (see `auth_limits`) the answer is `RateLimited` without checking.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<UserRow> {
        self.check_auth_limits(login, client).await?;
        let result = self.check_credentials(login, password).await;
        if result
            .as_ref()
            .is_err_and(|e| e.kind == ErrorKind::AuthFailed)
        {
            self.record_auth_failure(login, client).await;
        }
        result
    }

    async fn check_credentials(&self, login: &str, password: &str) -> Result<UserRow> {
        let failed = || Error::new(ErrorKind::AuthFailed, "authentication failed");
        let user = match self.find_user(login).await {
            Ok(user) => user,
            Err(e) if e.kind == ErrorKind::Internal => return Err(e),
            Err(_) => {
                // Spend the same time as a real check so timing does not reveal unknown users.
                let _ = verify_password(password, &dummy_hash().await).await;
                return Err(failed());
            }
        };
        if user.disabled || !verify_password(password, &user.password_hash).await {
            return Err(failed());
        }
        Ok(user)
    }

    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        Ok(self.store.set_password_hash(user_id, &hash).await?)
    }
}

/// Passwords must be non-empty and of sane length.
pub fn check_password(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > 256 {
        return Err(Error::new(
            ErrorKind::Invalid,
            "password must be 1-256 characters",
        ));
    }
    Ok(())
}

/// A real argon2id hash to verify against when the user does not exist, made once per process.
async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash_password("eider-no-such-user")
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}
