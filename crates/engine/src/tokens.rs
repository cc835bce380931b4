//! API access tokens and 2FA nonces. A token is 20 random bytes in hex, handed out once; the store
//! keeps only its BLAKE3 hash (a fast hash is enough for a random 160-bit secret), so tokens work
//! on every instance sharing the store and a leaked database holds no usable token.

use crate::{Engine, Result};
use eider_store::unix_now;
use rand::RngCore;

const ACCESS: &str = "token";
const TOTP_NONCE: &str = "totp-nonce";
/// Seconds a password-checked login may wait for its TOTP code.
const NONCE_TTL: i64 = 5 * 60;

fn random_token() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(raw: &str) -> String {
    blake3::hash(raw.as_bytes()).to_hex().to_string()
}

impl Engine {
    /// Issues an access token for a user, valid for `token_ttl` seconds.
    pub async fn issue_token(&self, user_id: &str) -> Result<String> {
        let raw = random_token();
        let expires = unix_now() + self.config.token_ttl as i64;
        self.store
            .insert_token(&token_hash(&raw), user_id, ACCESS, "", expires)
            .await?;
        Ok(raw)
    }

    /// The user a live token belongs to.
    pub async fn token_user(&self, raw: &str) -> Result<Option<String>> {
        if raw.is_empty() || raw.len() > 128 {
            return Ok(None);
        }
        Ok(self
            .store
            .get_token(&token_hash(raw), ACCESS)
            .await?
            .map(|t| t.user_id))
    }

    /// Revokes one token; false if it was not live.
    pub async fn revoke_token(&self, raw: &str) -> Result<bool> {
        Ok(self.store.delete_token(&token_hash(raw)).await?)
    }

    /// Revokes every token of a user (logout everywhere).
    pub async fn revoke_user_tokens(&self, user_id: &str) -> Result<u64> {
        Ok(self.store.delete_user_tokens(user_id).await?)
    }

    /// A nonce proving the password was checked; `/2fa/totp/check` redeems it with a TOTP code,
    /// and then issues the access token if `want_token`.
    pub async fn issue_totp_nonce(&self, user_id: &str, want_token: bool) -> Result<String> {
        let raw = random_token();
        let data = if want_token { "token" } else { "" };
        self.store
            .insert_token(
                &token_hash(&raw),
                user_id,
                TOTP_NONCE,
                data,
                unix_now() + NONCE_TTL,
            )
            .await?;
        Ok(raw)
    }

    /// Consumes a nonce of this user. `Some(want_token)` if it was live.
    pub async fn take_totp_nonce(&self, user_id: &str, raw: &str) -> Result<Option<bool>> {
        let hash = token_hash(raw);
        let Some(row) = self.store.get_token(&hash, TOTP_NONCE).await? else {
            return Ok(None);
        };
        if row.user_id != user_id || !self.store.delete_token(&hash).await? {
            return Ok(None);
        }
        Ok(Some(row.data == "token"))
    }
}
