//! Eider's store layer: the only crate that speaks SQL (SQLite or PostgreSQL) and touches stored bytes.
//!
//! It owns the schema, migrations, the content-addressed blob store and row-level operations that must be
//! atomic (UID/MODSEQ allocation, quota accounting, reference counts, the change journal). It knows nothing
//! of IMAP, LMTP or HTTP, and must never import a protocol crate; the mail engine calls it.
//!
//! Both back ends are reached through sqlx's `Any` driver with portable column types (BIGINT, TEXT,
//! BLOB/BYTEA) and `$N` placeholders, so every query is written once. The DDL is kept per back end.

mod accounts;
mod addresses;
mod api_mail;
mod auth;
mod blobs;
mod mailboxes;
mod messages;
mod rules;
mod sync;

pub use accounts::{AddressRow, NewUser, UserRow, UserUpdate};
pub use addresses::{
    AddressEntry, AddressFilter, AddressPage, DomainAliasRow, NewAddress, RegisterRow,
};
pub use api_mail::{ListedMessage, MailboxOptions, MessageFilter, PageKey, PageRequest};
pub use auth::{AspRow, AuthLogRow, Cursor, NewAsp, TokenRow, TotpRow};
pub use blobs::{BlobStore, encode_skeleton};
pub use mailboxes::MailboxRow;
pub use messages::{
    Changes, CopyResult, ExpungeResult, FlagUpdate, JournalEntry, MessageRow, NewContent, Segment,
    StoreMode, UidRange,
};
pub use rules::{AutoreplyRow, FilterRow};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Which database sits behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Store errors carry meaning, not SQL: the engine maps them to protocol answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("over quota")]
    OverQuota,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Maps a unique-constraint violation to `AlreadyExists`, anything else to `Db`.
pub(crate) fn map_unique(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::AlreadyExists;
    }
    StoreError::Db(err)
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user:pass@host:port/db`.
    pub url: String,
    /// Where the blob folder lives on the embedded (SQLite) store.
    pub data_dir: PathBuf,
    pub max_connections: u32,
}

/// A handle on the database and the blob store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) blobs: BlobStore,
    /// SQLite allows one writer at a time; serialising writers in-process avoids `SQLITE_BUSY`
    /// upgrades of read transactions. PostgreSQL relies on row locks instead and never takes this.
    pub(crate) write_lock: Arc<Mutex<()>>,
}

const MIGRATIONS_SQLITE: &[&str] = &[
    include_str!("migrations/sqlite_001.sql"),
    include_str!("migrations/sqlite_002_auth.sql"),
    include_str!("migrations/sqlite_003_messages.sql"),
    include_str!("migrations/sqlite_004_addresses.sql"),
    include_str!("migrations/sqlite_009_subscriptions.sql"),
];
const MIGRATIONS_POSTGRES: &[&str] = &[
    include_str!("migrations/postgres_001.sql"),
    include_str!("migrations/postgres_002_auth.sql"),
    include_str!("migrations/postgres_003_messages.sql"),
    include_str!("migrations/postgres_004_addresses.sql"),
    include_str!("migrations/postgres_009_subscriptions.sql"),
];

impl Store {
    /// Opens the store; does not migrate (see [`Store::migrate`]).
    pub async fn open(opts: &StoreOptions) -> Result<Store> {
        install_default_drivers();
        let (backend, url) = if let Some(rest) = opts.url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let url = if opts.url.contains('?') {
                opts.url.clone()
            } else {
                format!("{}?mode=rwc", opts.url)
            };
            (Backend::Sqlite, url)
        } else if opts.url.starts_with("postgres:") || opts.url.starts_with("postgresql:") {
            (Backend::Postgres, opts.url.clone())
        } else {
            return Err(StoreError::Corrupt(format!(
                "unsupported store url {:?}: use sqlite://... or postgres://...",
                opts.url
            )));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let blobs = match backend {
            Backend::Sqlite => BlobStore::folder(opts.data_dir.join("blobs")),
            Backend::Postgres => BlobStore::database(),
        };
        Ok(Store {
            pool,
            backend,
            blobs,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every migration the database has not seen yet. Safe to run from several processes at once
    /// on PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock(7353001)")
                .execute(&mut *conn)
                .await?;
        }
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY)",
            )
            .await?;
            let current: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
                    .fetch_one(&mut *conn)
                    .await?;
            let current = current.unwrap_or(0) as usize;
            let list = match self.backend {
                Backend::Sqlite => MIGRATIONS_SQLITE,
                Backend::Postgres => MIGRATIONS_POSTGRES,
            };
            for (index, sql) in list.iter().enumerate().skip(current) {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                tx.execute(*sql).await?;
                sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                    .bind(index as i64 + 1)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version = index + 1, "applied schema migration");
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7353001)")
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    /// Takes the in-process writer lock on SQLite; a no-op guard on PostgreSQL.
    pub(crate) async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Checks that the database answers (for health endpoints).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }
}

/// A new 24-hex-digit id in the shape of a MongoDB ObjectId, so WildDuck clients accept it:
/// 4 bytes of seconds, 4 bytes of nanoseconds, 4 random bytes. Ids sort by creation time even
/// within one second and across instances (list paging by id relies on it).
pub fn new_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(now.as_secs() as u32).to_be_bytes());
    bytes[4..8].copy_from_slice(&now.subsec_nanos().to_be_bytes());
    bytes[8..].copy_from_slice(&rand::random::<[u8; 4]>());
    hex::encode(bytes)
}

/// An UPDATE or DELETE of one addressed row: `NotFound` when it matched none.
pub(crate) fn found(done: &sqlx::any::AnyQueryResult) -> Result<()> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Builds `$start, $start+1, ...` placeholders for an IN list.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
