//! Password hashing (argon2id) and authentication.

use crate::{Engine, Error, ErrorKind, Result, address};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use eider_store::{StoreError, UserRow};

/// Password hashing runs at most this many at once (one per core): each argon2 run takes ~19 MiB,
/// and a login burst must not turn into hundreds of MiB and threads (measured: 32 parallel logins
/// grew the server by ~590 MiB before this limit).
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Hashes a password with argon2id and a random salt (PHC string). CPU-heavy: runs off the reactor.
pub async fn hash_password(password: &str) -> Result<String> {
    let _slot = hashing_slots().acquire().await;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Internal, format!("hashing task failed: {e}")))?
}

/// Checks a password against a stored PHC hash.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let _slot = hashing_slots().acquire().await;
    let password = password.to_string();
    let hash = hash.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
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

    /// Verifies a login and password. Every failure is the same `AuthFailed`, so callers cannot
    /// tell a wrong password from an unknown user.
    pub async fn authenticate(&self, login: &str, password: &str) -> Result<UserRow> {
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
