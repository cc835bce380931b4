//! Password hashing (argon2id) and authentication: master passwords, application-specific
//! passwords (ASPs) and the TOTP second factor, with every attempt written to the auth log.

use crate::{Engine, Error, ErrorKind, Result, address};
use eider_store::{AspRow, StoreError, UserRow};
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

/// What a login is for. `Master` is the account itself (the API); the others are mail protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Master,
    Imap,
    Pop3,
    Smtp,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Master => "master",
            Scope::Imap => "imap",
            Scope::Pop3 => "pop3",
            Scope::Smtp => "smtp",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "master" => Some(Scope::Master),
            "imap" => Some(Scope::Imap),
            "pop3" => Some(Scope::Pop3),
            "smtp" => Some(Scope::Smtp),
            _ => None,
        }
    }
}

/// Who is logging in from where, for the rules and the auth log.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// "imap", "API", ... as the auth log shows it.
    pub protocol: String,
    /// The client's address, as text (empty if unknown).
    pub remote_ip: String,
    pub scope: Scope,
    /// Session id for the log (API `sess`), may be empty.
    pub sess: String,
}

impl AuthContext {
    pub fn new(protocol: &str, remote_ip: impl ToString, scope: Scope) -> AuthContext {
        AuthContext {
            protocol: protocol.to_string(),
            remote_ip: remote_ip.to_string(),
            scope,
            sess: String::new(),
        }
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: UserRow,
    /// The ASP used, if it was one.
    pub asp: Option<AspRow>,
    /// The master password was right, but a second factor is still due (TOTP enabled).
    pub require_2fa: bool,
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

    /// Verifies a login and password for a scope. Every failure is the same `AuthFailed`, so
    /// callers cannot tell a wrong password from an unknown user. Rules:
    /// - an ASP works for the mail scopes it lists (`*` = all), never for `master`;
    /// - the master password works for `master` always, and for the mail scopes only while the
    ///   user has no second factor and has not disabled that scope;
    /// - with TOTP on, a `master` login succeeds with `require_2fa` set.
    ///
    /// Each attempt on an existing user is written to the auth log.
    /// Over the failure budget (see `auth_limits`) the answer is `RateLimited` without checking.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        ctx: &AuthContext,
    ) -> Result<Authenticated> {
        let client: Option<IpAddr> = ctx.remote_ip.parse().ok();
        self.check_auth_limits(login, client).await?;
        let result = self.check_credentials(login, password, ctx).await;
        if result
            .as_ref()
            .is_err_and(|e| e.kind == ErrorKind::AuthFailed)
        {
            self.record_auth_failure(login, client).await;
        }
        result
    }

    async fn check_credentials(
        &self,
        login: &str,
        password: &str,
        ctx: &AuthContext,
    ) -> Result<Authenticated> {
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
        let mut log = crate::authlog::Attempt::new(&user.id, ctx);
        if user.disabled {
            log.result("fail", "disabled");
            self.record_auth(log).await;
            return Err(failed());
        }
        if ctx.scope != Scope::Master
            && let Some(asp) = self.match_asp(&user.id, password).await?
        {
            log.asp(&asp);
            if !asp_allows(&asp, ctx.scope) {
                log.result("fail", "asp-scope");
                self.record_auth(log).await;
                return Err(failed());
            }
            log.result("success", "asp");
            let event = self.record_auth(log).await.unwrap_or_default();
            self.store.touch_asp(&asp.id, &event).await?;
            return Ok(Authenticated {
                user,
                asp: Some(asp),
                require_2fa: false,
            });
        }
        if !verify_password(password, &user.password_hash).await {
            log.result("fail", "master");
            self.record_auth(log).await;
            return Err(failed());
        }
        let totp_on = self.totp_enabled(&user.id).await?;
        if totp_on {
            log.require_2fa("totp");
        }
        if ctx.scope != Scope::Master && (totp_on || scope_disabled(&user, ctx.scope)) {
            // The password was right, but this scope needs an ASP (or is switched off).
            log.result("fail", "master");
            self.record_auth(log).await;
            return Err(failed());
        }
        log.result("success", "master");
        self.record_auth(log).await;
        Ok(Authenticated {
            user,
            asp: None,
            require_2fa: totp_on,
        })
    }

    /// Checks a user's master password without logging in (API `existingPassword`).
    pub async fn check_master_password(&self, user: &UserRow, password: &str) -> bool {
        verify_password(password, &user.password_hash).await
    }

    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        Ok(self.store.set_password_hash(user_id, &hash).await?)
    }
}

fn asp_allows(asp: &AspRow, scope: Scope) -> bool {
    let scopes: Vec<String> = serde_json::from_str(&asp.scopes).unwrap_or_default();
    scope != Scope::Master && scopes.iter().any(|s| s == "*" || s == scope.as_str())
}

/// The user's `disabledScopes` (kept in props) name this scope.
fn scope_disabled(user: &UserRow, scope: Scope) -> bool {
    serde_json::from_str::<serde_json::Value>(&user.props)
        .ok()
        .and_then(|p| p.get("disabledScopes").cloned())
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(scope.as_str())))
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
