//! WildDuck-shaped errors: `{"error": "...", "code": "..."}` with an HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eider_engine::{Error, ErrorKind};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// What an engine error was about; picks the WildDuck code for "not found" and "already exists".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // Mailbox and Message serve the routes still to come.
pub enum Subject {
    User,
    Address,
    DomainAlias,
    Filter,
    Mailbox,
    Message,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 InputValidationError.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "InputValidationError", message)
    }

    /// The one place an engine error becomes a status and a WildDuck error code.
    pub fn from_engine(error: Error, subject: Subject) -> ApiError {
        use StatusCode as S;
        let (status, code) = match (error.kind, subject) {
            (ErrorKind::NotFound, Subject::User) => (S::NOT_FOUND, "UserNotFound"),
            (ErrorKind::NotFound, Subject::Address) => (S::NOT_FOUND, "AddressNotFound"),
            (ErrorKind::NotFound, Subject::Mailbox) => (S::NOT_FOUND, "NoSuchMailbox"),
            (ErrorKind::NotFound, Subject::Message) => (S::NOT_FOUND, "MessageNotFound"),
            (ErrorKind::NotFound, Subject::DomainAlias) => (S::NOT_FOUND, "AliasNotFound"),
            (ErrorKind::NotFound, Subject::Filter) => (S::NOT_FOUND, "FilterNotFound"),
            (ErrorKind::AlreadyExists, Subject::DomainAlias) => (S::BAD_REQUEST, "AliasExists"),
            (ErrorKind::AlreadyExists, Subject::Address) => (S::BAD_REQUEST, "AddressExistsError"),
            (ErrorKind::AlreadyExists, Subject::Mailbox) => (S::BAD_REQUEST, "MailboxExistsError"),
            (ErrorKind::AlreadyExists, _) => (S::BAD_REQUEST, "UserExistsError"),
            (ErrorKind::Invalid, _) => (S::BAD_REQUEST, "InputValidationError"),
            (ErrorKind::NoPermission, _) => (S::FORBIDDEN, "MissingPrivileges"),
            (ErrorKind::OverQuota, _) => (S::BAD_REQUEST, "OverQuotaError"),
            (ErrorKind::TooBig, _) => (S::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            (ErrorKind::AuthFailed, _) => (S::FORBIDDEN, "AuthFailed"),
            (ErrorKind::InUse, _) => (S::BAD_REQUEST, "DisallowedMailboxMethod"),
            (ErrorKind::RateLimited, _) => (S::TOO_MANY_REQUESTS, "RateLimitedError"),
            (ErrorKind::Internal, _) => (S::INTERNAL_SERVER_ERROR, "InternalDatabaseError"),
        };
        // A reason the engine names is the code, with the status its kind implies.
        let code = match (error.reason, error.kind) {
            (Some(reason), kind) if kind != ErrorKind::Internal => reason,
            _ => code,
        };
        let message = match (error.kind, subject) {
            (ErrorKind::NotFound, Subject::User) => "This user does not exist".to_string(),
            (ErrorKind::Internal, _) => {
                tracing::error!(error = %error, "API request failed");
                "Internal server error".to_string()
            }
            _ => error.message,
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "code": self.code });
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
