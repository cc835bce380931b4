//! Auth-failure rate limits: after N failed logins for one login name, or from one client address,
//! within a window, further attempts are refused (even correct ones) until the window ends.
//! Counted with [`crate::Counters`], so across the cluster when Redis is configured.

use crate::{Engine, Error, ErrorKind, Result};
use std::net::IpAddr;
use std::time::Duration;

/// Configurable thresholds; 0 turns a limit off.
#[derive(Debug, Clone)]
pub struct AuthLimits {
    pub failures_per_user: u64,
    pub failures_per_ip: u64,
    pub window: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            failures_per_user: 20,
            failures_per_ip: 100,
            window: Duration::from_secs(300),
        }
    }
}

/// The counter keys a login attempt is charged to. The login is case-folded, so `Bob` and `bob`
/// share a budget; IPv6 clients are counted per address.
fn keys(login: &str, client: Option<IpAddr>) -> (String, Option<String>) {
    (
        format!("authfail:user:{}", login.trim().to_lowercase()),
        client.map(|ip| format!("authfail:ip:{ip}")),
    )
}

impl Engine {
    /// Refuses the attempt when this login or client address is over its failure budget.
    pub(crate) async fn check_auth_limits(
        &self,
        login: &str,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let limits = &self.config.auth_limits;
        let (user_key, ip_key) = keys(login, client);
        let over = |count: u64, limit: u64| limit > 0 && count >= limit;
        let user_over = limits.failures_per_user > 0
            && over(
                self.counters.count(&user_key).await,
                limits.failures_per_user,
            );
        let ip_over = match &ip_key {
            Some(key) if limits.failures_per_ip > 0 => {
                over(self.counters.count(key).await, limits.failures_per_ip)
            }
            _ => false,
        };
        if user_over || ip_over {
            tracing::warn!(login, client = ?client, user_over, ip_over, "login refused: too many failed attempts");
            return Err(Error::new(
                ErrorKind::RateLimited,
                "Too many failed login attempts; try again later.",
            ));
        }
        Ok(())
    }

    /// Charges one failed attempt to the login and the client address.
    pub(crate) async fn record_auth_failure(&self, login: &str, client: Option<IpAddr>) {
        let limits = &self.config.auth_limits;
        let (user_key, ip_key) = keys(login, client);
        if limits.failures_per_user > 0 {
            self.counters.hit(&user_key, limits.window).await;
        }
        if let (Some(key), true) = (ip_key, limits.failures_per_ip > 0) {
            self.counters.hit(&key, limits.window).await;
        }
    }
}
