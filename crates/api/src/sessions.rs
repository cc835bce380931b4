//! Authentication routes: `POST /authenticate`, `DELETE /authenticate`, `GET /authenticated`,
//! `POST /preauth`.

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, Subject};
use crate::input::{self, log_fields};
use crate::users::{json_object, optional_string, params};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use eider_engine::{AuthContext, ErrorKind, Scope, UserRow};
use serde_json::{Map, Value, json};

/// `POST /authenticate` body.
#[allow(dead_code)] // Describes the request for OpenAPI; the handler reads the JSON itself.
#[derive(utoipa::ToSchema)]
pub struct AuthenticateRequest {
    /// Username or e-mail address.
    username: String,
    password: String,
    /// Application identifier for the auth log (default "API").
    protocol: Option<String>,
    /// master (default), imap, pop3 or smtp.
    scope: Option<String>,
    #[schema(rename = "appId")]
    app_id: Option<String>,
    /// Issue an access token (master scope only).
    token: Option<bool>,
    sess: Option<String>,
    ip: Option<String>,
}

/// `POST /preauth` body.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct PreauthRequest {
    username: String,
    scope: Option<String>,
    sess: Option<String>,
    ip: Option<String>,
}

fn auth_failed() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "AuthFailed", "Authentication failed")
}

fn scope_of(body: &Map<String, Value>) -> ApiResult<Scope> {
    match optional_string(body, "scope", 16)? {
        None => Ok(Scope::Master),
        Some(s) => Scope::parse(&s).ok_or_else(|| {
            ApiError::invalid("\"scope\" must be one of [master, imap, smtp, pop3]")
        }),
    }
}

fn username_of(body: &Map<String, Value>) -> ApiResult<String> {
    optional_string(body, "username", 256)?
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::invalid("\"username\" is required"))
}

fn prop(user: &UserRow, name: &str) -> Value {
    serde_json::from_str::<Value>(&user.props)
        .ok()
        .and_then(|p| p.get(name).cloned())
        .unwrap_or(json!(false))
}

/// `POST /authenticate`
#[utoipa::path(post, path = "/authenticate", tag = "Authentication", request_body = AuthenticateRequest,
    responses(
        (status = 200, description = "`{success, id, username, address, scope, require2fa, ...}`; `token` when asked for, `totpNonce` when TOTP is due"),
        (status = 403, description = "AuthFailed"),
    ))]
pub async fn authenticate(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = json_object(body)?;
    let username = username_of(&body)?;
    let password = optional_string(&body, "password", 256)?
        .ok_or_else(|| ApiError::invalid("\"password\" is required"))?;
    let scope = scope_of(&body)?;
    let want_token = input::body_bool(&body, "token")?.unwrap_or(false);
    optional_string(&body, "appId", 256)?;
    if want_token && scope != Scope::Master {
        return Err(ApiError::invalid(
            "\"token\" can only be requested for the master scope",
        ));
    }
    let fields = log_fields(&body, &caller)?;
    let ctx = AuthContext {
        protocol: fields.protocol,
        remote_ip: fields.ip,
        scope,
        sess: fields.sess,
    };
    let done = match state.engine.authenticate(&username, &password, &ctx).await {
        Ok(done) => done,
        Err(e) if e.kind == ErrorKind::AuthFailed => return Err(auth_failed()),
        Err(e) => return Err(ApiError::from_engine(e, Subject::User)),
    };
    let user = &done.user;
    let address = state
        .engine
        .main_address(&user.id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let mut out = json!({
        "success": true,
        "id": user.id,
        "username": user.username,
        "address": address.unwrap_or_default(),
        "scope": scope.as_str(),
        "require2fa": if done.require_2fa { json!(["totp"]) } else { json!(false) },
        "require2faEnabled": prop(user, "require2faEnabled"),
        "requirePasswordChange": prop(user, "requirePasswordChange"),
    });
    let engine_err = |e| ApiError::from_engine(e, Subject::User);
    if done.require_2fa {
        // The token comes from /users/{user}/2fa/totp/check once the code is right.
        out["totpNonce"] = json!(
            state
                .engine
                .issue_totp_nonce(&user.id, want_token)
                .await
                .map_err(engine_err)?
        );
    } else if want_token {
        out["token"] = json!(
            state
                .engine
                .issue_token(&user.id)
                .await
                .map_err(engine_err)?
        );
    }
    Ok(Json(out))
}

/// `DELETE /authenticate`: revokes the user token this request carries.
#[utoipa::path(delete, path = "/authenticate", operation_id = "invalidateAccessToken", tag = "Authentication",
    responses((status = 200, description = "`{success: true}`"), (status = 403, description = "InvalidToken")))]
pub async fn invalidate_token(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let root = caller.is_root();
    let token = caller.token.filter(|_| !root).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "This request does not carry a user access token",
        )
    })?;
    let revoked = state
        .engine
        .revoke_token(&token)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(Json(json!({ "success": revoked })))
}

/// `GET /authenticated`: the token is valid (the access check already ran).
#[utoipa::path(get, path = "/authenticated", operation_id = "isUserAuthenticated", tag = "Authentication",
    responses((status = 200, description = "`{success: true}`")))]
pub async fn authenticated(
    caller: Caller,
    query: Result<Query<input::Params>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let mut out = json!({ "success": true });
    if let Role::User(id) = &caller.role {
        out["id"] = json!(id);
    }
    for name in ["sess", "ip"] {
        if let Some(v) = input::query_string(&params, name, 255)? {
            out[name] = json!(v);
        }
    }
    Ok(Json(out))
}

/// `POST /preauth`: does this user exist and may log in for the scope (no password check).
#[utoipa::path(post, path = "/preauth", tag = "Authentication", request_body = PreauthRequest,
    responses((status = 200, description = "`{success, id, username, address, scope, require2fa}`"), (status = 403, description = "AuthFailed")))]
pub async fn preauth(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = json_object(body)?;
    let username = username_of(&body)?;
    let scope = scope_of(&body)?;
    log_fields(&body, &caller)?;
    let user = match state.engine.find_user(&username).await {
        Ok(user) if !user.disabled => user,
        Ok(_) => return Err(auth_failed()),
        Err(e) if e.kind == ErrorKind::Internal => {
            return Err(ApiError::from_engine(e, Subject::User));
        }
        Err(_) => return Err(auth_failed()),
    };
    let engine_err = |e| ApiError::from_engine(e, Subject::User);
    let totp = state
        .engine
        .totp_enabled(&user.id)
        .await
        .map_err(engine_err)?;
    let address = state
        .engine
        .main_address(&user.id)
        .await
        .map_err(engine_err)?;
    Ok(Json(json!({
        "success": true,
        "id": user.id,
        "username": user.username,
        "address": address.unwrap_or_default(),
        "scope": scope.as_str(),
        "require2fa": if totp && scope == Scope::Master { json!(["totp"]) } else { json!(false) },
    })))
}

// Merged into `/openapi.json` by the API document module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(authenticate, invalidate_token, authenticated, preauth),
    components(schemas(AuthenticateRequest, PreauthRequest))
)]
pub(crate) struct Doc;
