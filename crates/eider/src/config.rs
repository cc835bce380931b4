//! Server configuration: a TOML file, then `EIDER_*` environment overrides, then validation.
//!
//! Every key has an environment override named `EIDER_` + the section and key in upper case, joined
//! by `_`: `store.url` → `EIDER_STORE_URL`, `data_dir` → `EIDER_DATA_DIR`,
//! `imap.max_literal_size` → `EIDER_IMAP_MAX_LITERAL_SIZE`. Values are parsed as the key's type.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Embedded store and blob folder live here.
    pub data_dir: String,
    /// Name this server uses in greetings and headers.
    pub hostname: String,
    /// Largest message accepted by LMTP, APPEND and the API, in bytes.
    pub max_message_size: u64,
    /// Leaf bodies at least this large are stored once as content-addressed blobs.
    pub blob_threshold: u64,
    /// Seconds a shutdown (SIGTERM) waits for commands and deliveries in flight before exiting.
    pub shutdown_timeout: u64,
    pub store: StoreSection,
    pub imap: ImapSection,
    pub lmtp: LmtpSection,
    pub api: ApiSection,
    pub tls: TlsSection,
    pub auth: AuthSection,
    pub redis: RedisSection,
    pub limits: LimitsSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH` (default: inside data_dir) or `postgres://user:pass@host:5432/db`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSection {
    pub enabled: bool,
    /// Plain listener; offers STARTTLS.
    pub listen: String,
    /// Longest command line, in bytes.
    pub max_line_length: usize,
    /// Largest literal in a command other than APPEND, in bytes.
    pub max_literal_size: u64,
    /// Simultaneous IMAP connections one user may hold (per instance).
    pub max_connections_per_user: usize,
    /// Simultaneous IMAP connections in all (per instance).
    pub max_connections: usize,
    /// Seconds an unauthenticated connection may stay idle.
    pub login_timeout: u64,
    /// Seconds an authenticated connection may stay idle (RFC 3501: at least 30 minutes).
    pub idle_timeout: u64,
    /// Implicit-TLS listener (port 993 style); empty = off.
    pub tls_listen: String,
    /// Allow LOGIN / AUTHENTICATE without TLS from non-loopback clients.
    pub allow_plaintext_auth: bool,
    /// Advertise LITERAL+ (any non-synchronizing literal); false advertises LITERAL- (at most
    /// 4096 bytes, RFC 7888).
    pub literal_plus: bool,
    /// Connections from `proxy_trusted` must start with a PROXY protocol header (v1 or v2).
    pub proxy_protocol: bool,
    /// Load balancer networks (CIDR or single addresses) allowed to send a PROXY header.
    pub proxy_trusted: Vec<String>,
    /// Seconds a trusted proxy may take to send its header.
    pub proxy_timeout: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmtpSection {
    pub enabled: bool,
    pub listen: String,
    /// Recipients accepted per transaction.
    pub max_recipients: usize,
    pub max_connections: usize,
    pub proxy_protocol: bool,
    pub proxy_trusted: Vec<String>,
    pub proxy_timeout: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    pub enabled: bool,
    pub listen: String,
    /// Root access token; empty = no access control (allowed only on loopback).
    pub access_token: String,
    /// Largest request body, in bytes.
    pub max_body_size: usize,
    pub proxy_protocol: bool,
    pub proxy_trusted: Vec<String>,
    pub proxy_timeout: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Seconds an API access token from `POST /authenticate` stays valid.
    pub token_ttl: u64,
    /// Seconds an authentication log entry is kept.
    pub authlog_ttl: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            token_ttl: 12 * 60 * 60,
            authlog_ttl: 30 * 24 * 60 * 60,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain. Empty: a self-signed certificate is generated under data_dir/tls.
    pub certificate: String,
    /// PEM private key.
    pub private_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://host:6379[/db]`: cross-instance notifications, counters and connection slots.
    /// Empty: everything stays in this process (single node).
    pub url: String,
    /// Prepended to every Redis key and channel, so clusters sharing one Redis stay apart.
    pub prefix: String,
    /// Seconds a vanished instance's connection slots keep counting (its heartbeat stopped).
    pub slot_ttl: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Failed logins for one login name within the window before further attempts are refused (0 = off).
    pub auth_failures_per_user: u64,
    /// Failed logins from one client address within the window before it is refused (0 = off).
    pub auth_failures_per_ip: u64,
    /// The window, in seconds, counted from the first failure.
    pub auth_failure_window: u64,
}

impl Default for RedisSection {
    fn default() -> Self {
        RedisSection {
            url: String::new(),
            prefix: "eider:".into(),
            slot_ttl: 60,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            auth_failures_per_user: 20,
            auth_failures_per_ip: 100,
            auth_failure_window: 300,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: "./eider-data".into(),
            hostname: "localhost".into(),
            max_message_size: 64 * 1024 * 1024,
            blob_threshold: 2048,
            shutdown_timeout: 30,
            store: StoreSection::default(),
            imap: ImapSection::default(),
            lmtp: LmtpSection::default(),
            api: ApiSection::default(),
            tls: TlsSection::default(),
            auth: AuthSection::default(),
            redis: RedisSection::default(),
            limits: LimitsSection::default(),
        }
    }
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            url: String::new(),
            max_connections: 16,
        }
    }
}

impl Default for ImapSection {
    fn default() -> Self {
        ImapSection {
            enabled: true,
            listen: "127.0.0.1:1143".into(),
            max_line_length: 64 * 1024,
            max_literal_size: 64 * 1024,
            max_connections_per_user: 50,
            max_connections: 10_000,
            login_timeout: 60,
            idle_timeout: 30 * 60,
            tls_listen: String::new(),
            allow_plaintext_auth: false,
            literal_plus: true,
            proxy_protocol: false,
            proxy_trusted: default_proxy_trusted(),
            proxy_timeout: 5,
        }
    }
}

impl Default for LmtpSection {
    fn default() -> Self {
        LmtpSection {
            enabled: true,
            listen: "127.0.0.1:2424".into(),
            max_recipients: 1000,
            max_connections: 1000,
            proxy_protocol: false,
            proxy_trusted: default_proxy_trusted(),
            proxy_timeout: 5,
        }
    }
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            enabled: true,
            listen: "127.0.0.1:8080".into(),
            access_token: String::new(),
            max_body_size: 80 * 1024 * 1024,
            proxy_protocol: false,
            proxy_trusted: default_proxy_trusted(),
            proxy_timeout: 5,
        }
    }
}

fn default_proxy_trusted() -> Vec<String> {
    vec!["127.0.0.1/32".into(), "::1/128".into()]
}

/// One listener's PROXY protocol settings, validated.
pub fn proxy_config(
    section: &str,
    enabled: bool,
    trusted: &[String],
    timeout: u64,
) -> anyhow::Result<eider_proxy::ProxyConfig> {
    if timeout == 0 {
        bail!("{section}.proxy_timeout must be at least 1");
    }
    eider_proxy::ProxyConfig::new(enabled, trusted, std::time::Duration::from_secs(timeout))
        .map_err(|e| anyhow::anyhow!("{section}.proxy_trusted: {e}"))
}

impl Config {
    pub fn imap_proxy(&self) -> anyhow::Result<eider_proxy::ProxyConfig> {
        let s = &self.imap;
        proxy_config("imap", s.proxy_protocol, &s.proxy_trusted, s.proxy_timeout)
    }

    pub fn lmtp_proxy(&self) -> anyhow::Result<eider_proxy::ProxyConfig> {
        let s = &self.lmtp;
        proxy_config("lmtp", s.proxy_protocol, &s.proxy_trusted, s.proxy_timeout)
    }

    pub fn api_proxy(&self) -> anyhow::Result<eider_proxy::ProxyConfig> {
        let s = &self.api;
        proxy_config("api", s.proxy_protocol, &s.proxy_trusted, s.proxy_timeout)
    }

    /// Reads the file (if any), applies environment overrides, fills derived defaults, validates.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut value = toml::Value::try_from(Config::default())?;
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let file: toml::Value = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?;
            merge(&mut value, file);
        }
        apply_env(&mut value, "EIDER", &|name| std::env::var(name).ok())?;
        let mut config: Config = value.try_into().context("invalid configuration")?;
        if config.store.url.is_empty() {
            config.store.url = format!(
                "sqlite://{}",
                Path::new(&config.data_dir).join("eider.db").display()
            );
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.imap.max_line_length < 1024 {
            bail!("imap.max_line_length must be at least 1024");
        }
        if self.auth.token_ttl == 0 {
            bail!("auth.token_ttl must be at least 1 second");
        }
        if self.max_message_size < 1024 {
            bail!("max_message_size must be at least 1024");
        }
        if !self.redis.url.is_empty() && self.redis.slot_ttl == 0 {
            bail!("redis.slot_ttl must be at least 1 second");
        }
        if self.limits.auth_failure_window == 0 {
            bail!("limits.auth_failure_window must be at least 1 second");
        }
        if self.tls.certificate.is_empty() != self.tls.private_key.is_empty() {
            bail!("tls.certificate and tls.private_key must be set together");
        }
        self.imap_proxy()?;
        self.lmtp_proxy()?;
        self.api_proxy()?;
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.data_dir)
    }

    /// Every configurable key with its environment variable and default, for `eider config`.
    pub fn describe() -> Vec<(String, String, String)> {
        let value = toml::Value::try_from(Config::default()).expect("default config serializes");
        let mut out = Vec::new();
        walk(&value, "", &mut |key, v| {
            out.push((key.to_string(), env_name("EIDER", key), v.to_string()))
        });
        out
    }
}

fn env_name(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", key.replace('.', "_").to_uppercase())
}

fn walk(value: &toml::Value, prefix: &str, f: &mut dyn FnMut(&str, &toml::Value)) {
    if let toml::Value::Table(table) = value {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_table() {
                walk(v, &key, f);
            } else {
                f(&key, v);
            }
        }
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Overrides every known key from its environment variable, parsed as the key's current type.
fn apply_env(
    value: &mut toml::Value,
    prefix: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    walk(value, "", &mut |key, v| {
        keys.push((key.to_string(), v.clone()))
    });
    for (key, current) in keys {
        let name = env_name(prefix, &key);
        let Some(raw) = lookup(&name) else { continue };
        let parsed = match current {
            toml::Value::String(_) => toml::Value::String(raw),
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim()
                    .parse()
                    .with_context(|| format!("{name} must be an integer"))?,
            ),
            toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => bail!("{name} must be true or false"),
            }),
            // Lists: comma-separated, e.g. EIDER_IMAP_PROXY_TRUSTED="10.0.0.0/8,::1".
            toml::Value::Array(_) => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
            other => bail!("{name}: unsupported type {}", other.type_str()),
        };
        let mut target = &mut *value;
        let parts: Vec<&str> = key.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = target
                .get_mut(*part)
                .expect("key path came from this value");
        }
        if let toml::Value::Table(t) = target {
            t.insert(parts[parts.len() - 1].to_string(), parsed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_every_kind_of_key() {
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        let env = |name: &str| match name {
            "EIDER_STORE_URL" => Some("postgres://x/y".to_string()),
            "EIDER_IMAP_MAX_LINE_LENGTH" => Some("4096".to_string()),
            "EIDER_LMTP_ENABLED" => Some("false".to_string()),
            "EIDER_DATA_DIR" => Some("/tmp/d".to_string()),
            "EIDER_API_PROXY_TRUSTED" => Some("10.0.0.0/8, ::1".to_string()),
            "EIDER_REDIS_URL" => Some("redis://127.0.0.1:6379/2".to_string()),
            "EIDER_LIMITS_AUTH_FAILURES_PER_IP" => Some("7".to_string()),
            _ => None,
        };
        apply_env(&mut value, "EIDER", &env).unwrap();
        let config: Config = value.try_into().unwrap();
        assert_eq!(config.store.url, "postgres://x/y");
        assert_eq!(config.imap.max_line_length, 4096);
        assert!(!config.lmtp.enabled);
        assert_eq!(config.data_dir, "/tmp/d");
        assert_eq!(config.api.proxy_trusted, ["10.0.0.0/8", "::1"]);
        assert_eq!(config.redis.url, "redis://127.0.0.1:6379/2");
        assert_eq!(config.limits.auth_failures_per_ip, 7);
    }

    #[test]
    fn bad_proxy_networks_are_rejected() {
        let mut config = Config::default();
        config.lmtp.proxy_trusted = vec!["not-a-net".into()];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("lmtp.proxy_trusted"), "{err}");
    }

    #[test]
    fn bad_env_values_are_errors() {
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        let env = |name: &str| (name == "EIDER_IMAP_MAX_LINE_LENGTH").then(|| "lots".to_string());
        assert!(apply_env(&mut value, "EIDER", &env).is_err());
    }

    #[test]
    fn file_keys_from_the_issue_parse() {
        let file: toml::Value = toml::from_str(
            r#"
data_dir = "./eider-data"
[store]
url = "sqlite://./eider-data/eider.db"
[imap]
listen = "127.0.0.1:1143"
[lmtp]
listen = "127.0.0.1:2424"
[api]
listen = "127.0.0.1:8080"
"#,
        )
        .unwrap();
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        merge(&mut value, file);
        let config: Config = value.try_into().unwrap();
        assert_eq!(config.imap.listen, "127.0.0.1:1143");
        assert_eq!(config.store.url, "sqlite://./eider-data/eider.db");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let file: toml::Value = toml::from_str("[imap]\nlisten_typo = \"x\"").unwrap();
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        merge(&mut value, file);
        assert!(value.try_into::<Config>().is_err());
    }
}
