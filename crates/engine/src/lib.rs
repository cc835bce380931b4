//! Eider's mail engine: the rules of mail, written once for every protocol.
//!
//! It owns accounts and address resolution, the single ingest path (parse once, split attachments into
//! content-addressed blobs, quota, UID/MODSEQ), mailbox semantics (INBOX, hierarchy, special-use), flag
//! changes, expunge, copy/move, and change notifications. Front ends (IMAP, LMTP, HTTP) call it and map
//! its [`Error`] kinds to their own replies. It must never import a protocol crate, and it never writes
//! SQL: the store crate does.

pub mod address;
mod auth;
mod directory;
mod error;
pub mod flags;
mod hashing;
mod ingest;
mod mailbox;
mod multiappend;
mod notify;

pub use auth::{hash_password, verify_password};
pub use error::{Error, ErrorKind, Result};
pub use flags::Flags;
pub use ingest::{CreateUser, DeliveryOutcome};
pub use mailbox::{
    INBOX, MailboxStatus, SPECIAL_USE_DEFAULTS, canonical_special_use as mailbox_special_use,
};
pub use multiappend::NewMessage;
pub use notify::{Notification, Notifier};

pub use eider_mime::MessageInfo;
pub use eider_store::{
    Changes, CopyResult, ExpungeResult, FlagUpdate, JournalEntry, MailboxRow, MessageRow, Store,
    StoreMode, StoreOptions, UidRange, UserRow,
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
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_message_size: 64 * 1024 * 1024,
            blob_threshold: 2048,
            hostname: "localhost".into(),
        }
    }
}

/// The engine: a store, a notifier and the rules. Cheap to clone (all state is shared).
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) notifier: Notifier,
    pub(crate) config: Arc<EngineConfig>,
}

impl Engine {
    pub fn new(store: Store, notifier: Notifier, config: EngineConfig) -> Engine {
        Engine {
            store,
            notifier,
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
}
