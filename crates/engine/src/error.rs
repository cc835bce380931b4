//! Engine errors carry meaning, not wording: each front end maps the kind in one place.

use eider_store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    NoPermission,
    OverQuota,
    TooBig,
    /// The request itself is malformed (bad name, bad argument).
    Invalid,
    AuthFailed,
    /// A rule forbids it now (e.g. deleting a mailbox that has children).
    InUse,
    /// Too many attempts (e.g. failed logins); try again later.
    RateLimited,
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// A finer, stable reason a front end may show as its error code (e.g. "NotPermitted").
    pub reason: Option<&'static str>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            reason: None,
        }
    }

    /// An error with a stable reason code for front ends that show one.
    pub fn with_reason(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Error {
        Error {
            reason: Some(reason),
            ..Error::new(kind, message)
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound => Error::new(ErrorKind::NotFound, "not found"),
            StoreError::AlreadyExists => Error::new(ErrorKind::AlreadyExists, "already exists"),
            StoreError::OverQuota => Error::new(ErrorKind::OverQuota, "quota exceeded"),
            other => {
                tracing::error!(error = %other, "store error");
                Error::new(ErrorKind::Internal, "internal server error")
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
