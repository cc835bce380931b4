//! TOTP two-factor routes under `/users/{user}/2fa`.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Subject};
use crate::input::log_fields;
use crate::users::{json_object, optional_string, user_id};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use eider_engine::{AuthContext, ErrorKind, Scope};
use serde_json::{Value, json};

/// `POST /users/{user}/2fa/totp/setup` body.
#[allow(dead_code)] // Describes the request for OpenAPI; the handler reads the JSON itself.
#[derive(utoipa::ToSchema)]
pub struct TotpSetupRequest {
    /// Account label (default: the username).
    label: Option<String>,
    /// Issuer shown by authenticator apps (default "Eider").
    issuer: Option<String>,
    sess: Option<String>,
    ip: Option<String>,
}

/// Body of `/2fa/totp/enable` and `/2fa/totp/check`.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct TotpCodeRequest {
    /// The 6-digit code.
    token: String,
    /// From `/authenticate` (check only): completes that login.
    #[schema(rename = "totpNonce")]
    totp_nonce: Option<String>,
    sess: Option<String>,
    ip: Option<String>,
}

fn invalid_code() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "InvalidToken",
        "Invalid authentication token",
    )
}

fn totp_err(e: eider_engine::Error) -> ApiError {
    match e.kind {
        ErrorKind::AlreadyExists => {
            ApiError::new(StatusCode::BAD_REQUEST, "TotpEnabled", e.message)
        }
        ErrorKind::NotFound if e.message.contains("TOTP") => {
            ApiError::new(StatusCode::BAD_REQUEST, "TotpDisabled", e.message)
        }
        _ => ApiError::from_engine(e, Subject::User),
    }
}

fn code_of(body: &serde_json::Map<String, Value>) -> ApiResult<String> {
    optional_string(body, "token", 16)?.ok_or_else(|| ApiError::invalid("\"token\" is required"))
}

/// `POST /users/{user}/2fa/totp/setup`: a new seed, not in force until enabled.
#[utoipa::path(post, path = "/users/{user}/2fa/totp/setup", operation_id = "generateTOTPSeed", tag = "TwoFactorAuth", request_body = TotpSetupRequest,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success, seed, otpauthUrl}`")))]
pub async fn setup_totp(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let body = json_object(body)?;
    let label = optional_string(&body, "label", 255)?;
    let issuer = optional_string(&body, "issuer", 255)?.unwrap_or_else(|| "Eider".into());
    log_fields(&body, &caller)?;
    let user = state
        .engine
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let label = label.unwrap_or(user.username);
    let setup = state
        .engine
        .setup_totp(&id, &label, &issuer)
        .await
        .map_err(totp_err)?;
    Ok(Json(json!({
        "success": true,
        "seed": setup.seed,
        "otpauthUrl": setup.url,
    })))
}

/// `POST /users/{user}/2fa/totp/enable`: confirms the seed with a current code.
#[utoipa::path(post, path = "/users/{user}/2fa/totp/enable", operation_id = "enableTOTPSeed", tag = "TwoFactorAuth", request_body = TotpCodeRequest,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true}`"), (status = 403, description = "InvalidToken")))]
pub async fn enable_totp(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let body = json_object(body)?;
    let code = code_of(&body)?;
    log_fields(&body, &caller)?;
    state
        .engine
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    if !state
        .engine
        .enable_totp(&id, &code)
        .await
        .map_err(totp_err)?
    {
        return Err(invalid_code());
    }
    Ok(Json(json!({ "success": true })))
}

/// `POST /users/{user}/2fa/totp/check`: checks a code; with the `totpNonce` from
/// `/authenticate` it also completes that login (and issues the token it asked for).
#[utoipa::path(post, path = "/users/{user}/2fa/totp/check", operation_id = "validateTOTPToken", tag = "TwoFactorAuth", request_body = TotpCodeRequest,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true, token?}`"), (status = 403, description = "InvalidToken")))]
pub async fn check_totp(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let body = json_object(body)?;
    let code = code_of(&body)?;
    let nonce = optional_string(&body, "totpNonce", 128)?;
    let fields = log_fields(&body, &caller)?;
    state
        .engine
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let ctx = AuthContext {
        protocol: fields.protocol,
        remote_ip: fields.ip,
        scope: Scope::Master,
        sess: fields.sess,
    };
    if !state
        .engine
        .check_totp(&id, &code, &ctx)
        .await
        .map_err(totp_err)?
    {
        return Err(invalid_code());
    }
    let mut out = json!({ "success": true });
    if let Some(nonce) = nonce {
        let engine_err = |e| ApiError::from_engine(e, Subject::User);
        match state
            .engine
            .take_totp_nonce(&id, &nonce)
            .await
            .map_err(engine_err)?
        {
            None => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "InvalidToken",
                    "Invalid or expired totpNonce",
                ));
            }
            Some(true) => {
                out["token"] = json!(state.engine.issue_token(&id).await.map_err(engine_err)?);
            }
            Some(false) => {}
        }
    }
    Ok(Json(out))
}

async fn disable(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    state
        .engine
        .disable_totp(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /users/{user}/2fa/totp`
#[utoipa::path(delete, path = "/users/{user}/2fa/totp", operation_id = "disableTOTPAuth", tag = "TwoFactorAuth",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true}`")))]
pub async fn disable_totp(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    disable(&state, path).await
}

/// `DELETE /users/{user}/2fa`: turns off every second factor (Eider has TOTP only).
#[utoipa::path(delete, path = "/users/{user}/2fa", operation_id = "disable2FA", tag = "TwoFactorAuth",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true}`")))]
pub async fn disable_2fa(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    disable(&state, path).await
}

// Merged into `/openapi.json` by the API document module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(setup_totp, enable_totp, check_totp, disable_totp, disable_2fa),
    components(schemas(TotpSetupRequest, TotpCodeRequest))
)]
pub(crate) struct Doc;
