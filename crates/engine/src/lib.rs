//! Eider's mail engine: the rules of mail, written once for every protocol.
//!
//! It owns accounts and address resolution, the single ingest path (parse once, split attachments into
//! content-addressed blobs, quota, UID/MODSEQ), mailbox semantics (INBOX, hierarchy, special-use), flag
//! changes, expunge, copy/move, and change notifications. Front ends (IMAP, LMTP, HTTP) call it and map
//! its [`Error`] kinds to their own replies. It must never import a protocol crate, and it never writes
//! SQL: the store crate does.

pub mod address;
mod addresses;
mod asp;
mod auth;
mod auth_limits;
mod authlog;
pub mod browse;
mod counters;
mod directory;
mod error;
pub mod flags;
mod hashing;
mod ingest;
mod mailbox;
mod multiappend;
mod notify;
mod rules;
mod shared_redis;
mod sync;
mod tokens;
mod totp;
mod users;

pub use addresses::{
    AddressChange, AddressInput, DomainRename, MAX_TARGETS as MAX_FORWARD_TARGETS, Resolution,
    parse_address,
};
pub use asp::{ASP_SCOPES, CreateAsp};
pub use auth::{AuthContext, Authenticated, Scope, hash_password, verify_password};
pub use auth_limits::AuthLimits;
pub use authlog::Attempt;
pub use counters::{Counters, Slot};
pub use eider_store::new_id;
pub use error::{Error, ErrorKind, Result};
pub use flags::Flags;
pub use ingest::{CreateUser, DeliveryOutcome, UsageLimit};
pub use mailbox::{
    INBOX, MailboxStatus, SPECIAL_USE_DEFAULTS, canonical_special_use as mailbox_special_use,
};
pub use multiappend::NewMessage;
pub use notify::{Notification, Notifier};
pub use shared_redis::RedisOptions;
pub use totp::TotpSetup;
pub use users::{UpdateUser, UserFilter, UserPage};

pub use eider_mime::MessageInfo;
pub use eider_store::{
    AddressEntry, AddressFilter, AddressPage, AspRow, AuthLogRow, AutoreplyRow, Changes,
    CopyResult, Cursor, DomainAliasRow, ExpungeResult, FilterRow, FlagUpdate, JournalEntry,
    MailboxOptions, MailboxRow, MessageFilter, MessageRow, PageKey, RegisterRow, Store, StoreMode,
    StoreOptions, UidRange, UserRow,
};

use std::sync::Arc;

/// Limits and behaviour the engine enforces; all configurable from the server config.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Largest message accepted by any ingest path, in bytes.
    pub max_message_size: u64,
    /// Leaf bodies at least this large are stored as shared, content-addressed blobs.
    pub blob_threshold: u64,
    /// Hostname written into Received-style headers and LMTP greetings.
    pub hostname: String,
    /// Seconds an API access token stays valid.
    pub token_ttl: u64,
    /// Seconds an authentication log entry is kept.
    pub authlog_ttl: u64,
    /// Failed-login budgets per login name and per client address.
    pub auth_limits: AuthLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_message_size: 64 * 1024 * 1024,
            blob_threshold: 2048,
            hostname: "localhost".into(),
            token_ttl: 12 * 60 * 60,
            authlog_ttl: 30 * 24 * 60 * 60,
            auth_limits: AuthLimits::default(),
        }
    }
}

/// The engine: a store, a notifier and the rules. Cheap to clone (all state is shared).
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) notifier: Notifier,
    pub(crate) counters: Counters,
    pub(crate) config: Arc<EngineConfig>,
}

impl Engine {
    pub fn new(store: Store, notifier: Notifier, config: EngineConfig) -> Engine {
        Engine {
            store,
            notifier,
            counters: Counters::local(),
            config: Arc::new(config),
        }
    }

    /// Opens and migrates the store, with an in-process notifier.
    pub async fn open(opts: &StoreOptions, config: EngineConfig) -> Result<Engine> {
        let store = Store::open(opts).await?;
        store.migrate().await?;
        Ok(Engine::new(store, Notifier::local(), config))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Joins a cluster: notifications, counters and slots go through Redis from now on. Call it
    /// before serving (inside the Tokio runtime); an unreachable Redis is retried in the background.
    pub fn join_cluster(&mut self, redis: &RedisOptions) -> Result<()> {
        let (link, notifier) = shared_redis::start(redis)?;
        self.notifier = notifier;
        self.counters = Counters::with_redis(link);
        Ok(())
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Claims one of `max` connection slots for a user on a protocol (across the cluster with Redis).
    pub async fn claim_connection_slot(
        &self,
        protocol: &str,
        user_id: &str,
        max: usize,
    ) -> Option<Slot> {
        self.counters
            .claim_slot(&format!("conn:{protocol}:{user_id}"), max)
            .await
    }
}
