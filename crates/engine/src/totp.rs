//! TOTP second factor (RFC 6238, SHA-1, 6 digits, 30 s steps, ±1 step) with totp-rs.
//! Setup stores a seed that is not in force until a code from it is confirmed (enable).

use crate::authlog::Attempt;
use crate::{AuthContext, Engine, Error, ErrorKind, Result};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// A seed handed to the user at setup.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// Base32 seed.
    pub seed: String,
    /// `otpauth://totp/...` for authenticator apps.
    pub url: String,
}

fn totp(seed: &str, issuer: Option<&str>, label: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(seed)
        .map_err(|_| Error::new(ErrorKind::Internal, "stored TOTP seed is not base32"))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(label)
        .with_issuer(issuer)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Invalid,
                format!("Invalid TOTP label or issuer: {e}"),
            )
        })
}

fn code_matches(seed: &str, code: &str) -> Result<bool> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    Ok(totp(seed, None, "")?.check_current(code).is_some())
}

impl Engine {
    pub async fn totp_enabled(&self, user_id: &str) -> Result<bool> {
        Ok(self
            .store
            .get_totp(user_id)
            .await?
            .is_some_and(|t| t.enabled))
    }

    /// A new seed (replacing an unconfirmed one). Fails with `AlreadyExists` while TOTP is on.
    pub async fn setup_totp(&self, user_id: &str, label: &str, issuer: &str) -> Result<TotpSetup> {
        self.store.get_user(user_id).await?;
        let seed = Secret::generate().to_base32();
        let url = totp(&seed, Some(issuer), label)?
            .to_url()
            .map_err(|e| Error::new(ErrorKind::Invalid, format!("Invalid TOTP label: {e}")))?;
        self.store
            .set_pending_totp(user_id, &seed)
            .await
            .map_err(|e| match e {
                eider_store::StoreError::AlreadyExists => Error::new(
                    ErrorKind::AlreadyExists,
                    "TOTP 2FA is already enabled for this user",
                ),
                other => other.into(),
            })?;
        Ok(TotpSetup { seed, url })
    }

    /// Puts the pending seed in force if `code` matches it. `Ok(false)` for a wrong code;
    /// `NotFound` when setup was not called.
    pub async fn enable_totp(&self, user_id: &str, code: &str) -> Result<bool> {
        let row = self
            .store
            .get_totp(user_id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "TOTP 2FA is not set up"))?;
        if row.enabled {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "TOTP 2FA is already enabled for this user",
            ));
        }
        if !code_matches(&row.seed, code)? {
            return Ok(false);
        }
        self.store.enable_totp(user_id).await?;
        Ok(true)
    }

    /// Checks a code against the enabled seed and logs the check. `NotFound` when TOTP is off.
    pub async fn check_totp(&self, user_id: &str, code: &str, ctx: &AuthContext) -> Result<bool> {
        let row = self
            .store
            .get_totp(user_id)
            .await?
            .filter(|t| t.enabled)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "TOTP 2FA is not enabled"))?;
        let ok = code_matches(&row.seed, code)?;
        let mut log = Attempt::new(user_id, ctx).action("check-2fa");
        log.result(if ok { "success" } else { "fail" }, "totp");
        self.record_auth(log).await;
        Ok(ok)
    }

    /// Turns TOTP off (and drops a pending seed). True if it was on.
    pub async fn disable_totp(&self, user_id: &str) -> Result<bool> {
        self.store.get_user(user_id).await?;
        Ok(self.store.delete_totp(user_id).await?)
    }
}
