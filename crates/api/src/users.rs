//! `/users` routes: list, create, get, update, delete, resolve, logout, quota reset.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Subject};
use crate::input::{self, Params};
use crate::validate::iso_date;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use eider_engine::UsageLimit;
use eider_engine::{CreateUser, UpdateUser, UserFilter, UserRow};
use serde_json::{Map, Value, json};

/// How an optional WildDuck field is checked before it is kept in `props`.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A number >= 0 (numeric strings are converted, as Joi does).
    Count,
    /// 0..=100.
    Percent,
    /// true/false, also as "true"/"false"/"yes"/"no"/"1"/"0".
    Bool,
    StrArray,
    Object,
    /// An object, or a string holding a JSON object.
    MetaData,
}

/// Create-user fields from WildDuck's API that Eider accepts and returns but does not act on yet.
const PROPS: &[(&str, Kind)] = &[
    ("language", Kind::Str),
    ("retention", Kind::Count),
    ("targets", Kind::StrArray),
    ("mtaRelay", Kind::Str),
    ("spamLevel", Kind::Percent),
    ("recipients", Kind::Count),
    ("forwards", Kind::Count),
    ("filters", Kind::Count),
    ("requirePasswordChange", Kind::Bool),
    ("require2faEnabled", Kind::Bool),
    ("imapMaxUpload", Kind::Count),
    ("imapMaxDownload", Kind::Count),
    ("pop3MaxDownload", Kind::Count),
    ("pop3MaxMessages", Kind::Count),
    ("imapMaxConnections", Kind::Count),
    ("receivedMax", Kind::Count),
    ("fromWhitelist", Kind::StrArray),
    ("tags", Kind::StrArray),
    ("addTagsToAddress", Kind::Bool),
    ("uploadSentMessages", Kind::Bool),
    ("mailboxes", Kind::Object),
    ("disabledScopes", Kind::StrArray),
    ("metaData", Kind::MetaData),
    ("internalData", Kind::MetaData),
    ("pubKey", Kind::Str),
    ("smimeCerts", Kind::StrArray),
    ("smimeCipher", Kind::Str),
    ("smimeKeyTransport", Kind::Str),
    ("encryptMessages", Kind::Bool),
    ("encryptForwarded", Kind::Bool),
    ("featureFlags", Kind::Object),
    ("suspended", Kind::Bool),
];

/// Fields that are validated but neither acted on nor stored.
const IGNORED: &[(&str, Kind)] = &[
    ("allowUnsafe", Kind::Bool),
    ("emptyAddress", Kind::Bool),
    ("sess", Kind::Str),
    ("ip", Kind::Str),
];

pub(crate) use crate::validate::body as json_object;

/// A boolean as Joi takes it: true/false, also "true"/"yes"/"1"/... and 1/0.
/// An empty string reads as false here.
pub(crate) fn check_bool(name: &str, value: &Value) -> ApiResult<bool> {
    match value {
        Value::String(s) if s.trim().is_empty() => Ok(false),
        _ => crate::validate::joi_bool(name, value),
    }
}

fn check(name: &str, kind: Kind, value: &Value) -> ApiResult<Value> {
    let err = |what: &str| ApiError::invalid(format!("\"{name}\" {what}"));
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    };
    match kind {
        Kind::Str => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(err("must be a string")),
        },
        Kind::Count | Kind::Percent => {
            let n = number(value).ok_or_else(|| err("must be a number"))?;
            if n < 0.0 {
                return Err(err("must be greater than or equal to 0"));
            }
            if matches!(kind, Kind::Percent) && n > 100.0 {
                return Err(err("must be less than or equal to 100"));
            }
            Ok(json!(n))
        }
        Kind::Bool => check_bool(name, value).map(Value::Bool),
        Kind::StrArray => match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
            Value::Array(_) => Err(err("must be an array of strings")),
            _ => Err(err("must be an array")),
        },
        Kind::Object => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(err("must be of type object")),
        },
        Kind::MetaData => match value {
            Value::Object(_) => Ok(value.clone()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(err(
                    "must be an object or a JSON formatted string of an object",
                )),
            },
            _ => Err(err(
                "must be an object or a JSON formatted string of an object",
            )),
        },
    }
}

pub(crate) fn optional_string(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> ApiResult<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "\"{name}\" length must be less than or equal to {max} characters long"
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be a string"))),
    }
}

/// Create a new user
#[utoipa::path(post, path = "/users", tag = "Users", operation_id = "createUser",
    request_body(content = Object, description = "username, password (required), address, name, quota and WildDuck's other user fields"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn create_user(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = json_object(body)?;
    let username = optional_string(&body, "username", 128)?
        .ok_or_else(|| ApiError::invalid("\"username\" is required"))?;
    let password = match body.get("password") {
        None | Some(Value::Null) => return Err(ApiError::invalid("\"password\" is required")),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(ApiError::invalid(
                "\"password\" must be set: accounts without a password are not supported",
            ));
        }
        Some(Value::Bool(false)) => {
            return Err(ApiError::invalid(
                "\"password\" must be set: accounts without a password are not supported",
            ));
        }
        Some(Value::String(s)) if s.chars().count() > 256 => {
            return Err(ApiError::invalid(
                "\"password\" length must be less than or equal to 256 characters long",
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::invalid("\"password\" must be a string")),
    };
    if let Some(v) = body.get("hashedPassword")
        && check("hashedPassword", Kind::Bool, v)? == json!(true)
    {
        return Err(ApiError::invalid(
            "\"hashedPassword\" is not supported: send the password in clear text",
        ));
    }
    let address = optional_string(&body, "address", 256)?.filter(|a| !a.is_empty());
    let name = optional_string(&body, "name", 256)?.unwrap_or_default();
    let quota = match body.get("quota") {
        None | Some(Value::Null) => 0,
        Some(v) => check("quota", Kind::Count, v)?
            .as_f64()
            .map(|f| f.min(i64::MAX as f64) as i64)
            .unwrap_or(0),
    };
    for (field, kind) in IGNORED {
        if let Some(v) = body.get(*field).filter(|v| !v.is_null()) {
            check(field, *kind, v)?;
        }
    }
    let mut props = Map::new();
    for (field, kind) in PROPS {
        if let Some(v) = body.get(*field).filter(|v| !v.is_null()) {
            props.insert(field.to_string(), check(field, *kind, v)?);
        }
    }
    let request = CreateUser {
        username,
        password,
        name,
        address,
        quota,
        props: Value::Object(props).to_string(),
    };
    let id = state
        .engine
        .create_user(&request)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// A `{user}` path segment: 24 hex digits, lowercased.
pub(crate) fn user_id(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(id) = path.map_err(|e| ApiError::invalid(format!("\"user\" {e}")))?;
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "\"user\" must be a 24 character hexadecimal string",
        ));
    }
    Ok(id.to_ascii_lowercase())
}

/// Get a user
#[utoipa::path(get, path = "/users/{user}", tag = "Users", operation_id = "getUser",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let user = state
        .engine
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let address = state
        .engine
        .main_address(&user.id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let mut out = user_json(&user, address);
    out["enabled2fa"] = enabled_2fa(&state, &user.id).await?;
    for (name, limit) in [
        ("received", UsageLimit::Received),
        ("imapUpload", UsageLimit::ImapUpload),
        ("imapDownload", UsageLimit::ImapDownload),
    ] {
        out["limits"][name]["used"] = json!(state.engine.usage(&user.id, limit).await);
    }
    if !caller.is_root() {
        // internalData is for the operator, not the user.
        out.as_object_mut().map(|o| o.remove("internalData"));
    }
    Ok(Json(out))
}

async fn enabled_2fa(state: &AppState, user_id: &str) -> ApiResult<Value> {
    let on = state
        .engine
        .totp_enabled(user_id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(if on { json!(["totp"]) } else { json!([]) })
}

/// WildDuck's user object. Fields Eider does not implement get WildDuck's neutral defaults;
/// those given at creation come back from `props`.
fn user_json(user: &UserRow, address: Option<String>) -> Value {
    let props = match serde_json::from_str::<Value>(&user.props) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let prop = |name: &str, default: Value| props.get(name).cloned().unwrap_or(default);
    let allowed = |name: &str| prop(name, json!(0));
    let mut out = json!({
        "success": true,
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "address": address.unwrap_or_default(),
        "enabled2fa": [],
        "autoreply": false,
        "encryptMessages": prop("encryptMessages", json!(false)),
        "encryptForwarded": prop("encryptForwarded", json!(false)),
        "pubKey": prop("pubKey", json!("")),
        "keyInfo": false,
        "smimeCerts": prop("smimeCerts", json!([])),
        "smimeCertInfo": [],
        "metaData": prop("metaData", json!({})),
        "internalData": prop("internalData", json!({})),
        "targets": prop("targets", json!([])),
        "spamLevel": prop("spamLevel", json!(50)),
        "limits": {
            "quota": { "allowed": user.quota, "used": user.storage_used.max(0) },
            "recipients": { "allowed": allowed("recipients"), "used": 0, "ttl": false },
            "filters": { "allowed": allowed("filters"), "used": 0 },
            "forwards": { "allowed": allowed("forwards"), "used": 0, "ttl": false },
            "received": { "allowed": allowed("receivedMax"), "used": 0, "ttl": false },
            "imapUpload": { "allowed": allowed("imapMaxUpload"), "used": 0, "ttl": false },
            "imapDownload": { "allowed": allowed("imapMaxDownload"), "used": 0, "ttl": false },
            "pop3Download": { "allowed": allowed("pop3MaxDownload"), "used": 0, "ttl": false },
            "imapMaxConnections": { "allowed": allowed("imapMaxConnections"), "used": 0 },
        },
        "tags": prop("tags", json!([])),
        "fromWhitelist": prop("fromWhitelist", json!([])),
        "disabledScopes": prop("disabledScopes", json!([])),
        "hasPasswordSet": !user.password_hash.is_empty(),
        "activated": true,
        "disabled": user.disabled,
        "suspended": prop("suspended", json!(false)),
        "passwordPwned": false,
        "require2faEnabled": prop("require2faEnabled", json!(false)),
        "requirePasswordChange": prop("requirePasswordChange", json!(false)),
        "created": iso_date(user.created),
    });
    // Present only when set, as in WildDuck.
    if let Some(map) = out.as_object_mut() {
        if let Some(retention) = props.get("retention").filter(|r| r.as_f64() != Some(0.0)) {
            map.insert("retention".into(), retention.clone());
        }
        if let Some(language) = props.get("language") {
            map.insert("language".into(), language.clone());
        }
    }
    out
}

/// Resolve a username or address to a user id
#[utoipa::path(get, path = "/users/resolve/{username}", tag = "Users", operation_id = "resolveUser",
    params(("username" = String, Path, description = "Username or e-mail address")),
    responses((status = 200, description = "Success", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn resolve_user(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(username) = path.map_err(|e| ApiError::invalid(format!("\"username\" {e}")))?;
    let user = state
        .engine
        .find_user(&username)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(Json(json!({ "success": true, "id": user.id })))
}

/// The main fields of `POST /users` and `PUT /users/{user}`; every other WildDuck user field
/// is accepted too, validated and kept (see `PROPS`).
#[allow(dead_code)] // Describes the request for OpenAPI; the handlers read the JSON themselves.
#[derive(utoipa::ToSchema)]
pub struct UserFields {
    /// Required at creation.
    username: Option<String>,
    password: Option<String>,
    /// Update only: checked before any change.
    #[schema(rename = "existingPassword")]
    existing_password: Option<String>,
    name: Option<String>,
    address: Option<String>,
    /// Bytes; 0 = unlimited.
    quota: Option<u64>,
    disabled: Option<bool>,
    /// Update only: turns TOTP off.
    disable2fa: Option<bool>,
    tags: Option<Vec<String>>,
    #[schema(rename = "metaData", value_type = Option<Object>)]
    meta_data: Option<()>,
}

/// `PUT /users/{user}/logout` body.
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct LogoutRequest {
    reason: Option<String>,
    sess: Option<String>,
    ip: Option<String>,
}

fn engine_err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::User)
}

pub(crate) fn params(query: Result<Query<Params>, QueryRejection>) -> ApiResult<Params> {
    query
        .map(|Query(p)| p)
        .map_err(|e| ApiError::invalid(format!("Invalid query string: {e}")))
}

fn tag_list(params: &Params, name: &str) -> ApiResult<Vec<String>> {
    Ok(input::query_string(params, name, 1024)?
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default())
}

/// `GET /users`
#[utoipa::path(get, path = "/users", operation_id = "getUsers", tag = "Users",
    params(
        ("query" = Option<String>, Query, description = "Partial match of username or address"),
        ("tags" = Option<String>, Query, description = "Comma separated tags, any of them"),
        ("requiredTags" = Option<String>, Query, description = "Comma separated tags, all of them"),
        ("forward" = Option<String>, Query, description = "Partial match of a forwarding target (address or URL)"),
        ("metaData" = Option<bool>, Query, description = "Include metaData"),
        ("internalData" = Option<bool>, Query, description = "Include internalData"),
        ("limit" = Option<u32>, Query, description = "Page size, default 20"),
        ("next" = Option<String>, Query, description = "Cursor for the next page"),
        ("previous" = Option<String>, Query, description = "Cursor for the previous page"),
        ("page" = Option<u32>, Query, description = "Page number, echoed back"),
    ),
    responses((status = 200, description = "A page of users")))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Params>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let text = input::query_string(&params, "query", 256)?.unwrap_or_default();
    let filter = UserFilter {
        query: text.clone(),
        any_tags: tag_list(&params, "tags")?,
        all_tags: tag_list(&params, "requiredTags")?,
        forward: input::query_string(&params, "forward", 256)?.unwrap_or_default(),
    };
    let limit = input::query_limit(&params)?;
    let page = input::query_page(&params)?;
    let with_meta = input::query_bool(&params, "metaData", false)?;
    let with_internal = input::query_bool(&params, "internalData", false)? && caller.is_root();
    let (key, backwards) = input::cursor_key(&params)?;
    let found = state
        .engine
        .list_users(&filter, input::as_cursor(&key, backwards), limit)
        .await
        .map_err(engine_err)?;
    let mut results = Vec::with_capacity(found.users.len());
    for user in &found.users {
        let address = state
            .engine
            .main_address(&user.id)
            .await
            .map_err(engine_err)?;
        let full = user_json(user, address);
        let mut row = json!({
            "id": full["id"],
            "username": full["username"],
            "name": full["name"],
            "address": full["address"],
            "tags": full["tags"],
            "targets": full["targets"],
            "enabled2fa": enabled_2fa(&state, &user.id).await?,
            "autoreply": full["autoreply"],
            "encryptMessages": full["encryptMessages"],
            "encryptForwarded": full["encryptForwarded"],
            "quota": full["limits"]["quota"],
            "hasPasswordSet": full["hasPasswordSet"],
            "activated": full["activated"],
            "disabled": full["disabled"],
            "suspended": full["suspended"],
        });
        if with_meta {
            row["metaData"] = full["metaData"].clone();
        }
        if with_internal {
            row["internalData"] = full["internalData"].clone();
        }
        results.push(row);
    }
    let next = match found.users.last() {
        Some(last) if found.has_next => input::encode_cursor(&last.username),
        _ => json!(false),
    };
    let previous = match found.users.first() {
        Some(first) if found.has_previous => input::encode_cursor(&first.username),
        _ => json!(false),
    };
    Ok(Json(json!({
        "success": true,
        "query": text,
        "total": found.total,
        "page": page,
        "previousCursor": previous,
        "nextCursor": next,
        "results": results,
    })))
}

/// `PUT /users/{user}`
#[utoipa::path(put, path = "/users/{user}", operation_id = "updateUser", tag = "Users", request_body = UserFields,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true}`")))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let body = json_object(body)?;
    let user = state.engine.get_user(&id).await.map_err(engine_err)?;
    let password = match body.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(false)) => {
            return Err(ApiError::invalid(
                "\"password\" cannot be removed: accounts without a password are not supported",
            ));
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(ApiError::invalid(
                "\"password\" cannot be removed: accounts without a password are not supported",
            ));
        }
        Some(_) => optional_string(&body, "password", 256)?,
    };
    if let Some(v) = body.get("hashedPassword")
        && check_bool("hashedPassword", v)?
    {
        return Err(ApiError::invalid(
            "\"hashedPassword\" is not supported: send the password in clear text",
        ));
    }
    let existing = optional_string(&body, "existingPassword", 256)?;
    if password.is_some() && !caller.is_root() && existing.is_none() {
        return Err(ApiError::invalid(
            "\"existingPassword\" is required to change the password",
        ));
    }
    if let Some(existing) = existing
        && !state.engine.check_master_password(&user, &existing).await
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AuthFailed",
            "Password verification failed",
        ));
    }
    let name = optional_string(&body, "name", 256)?;
    let quota = match body.get("quota") {
        None | Some(Value::Null) => None,
        Some(v) => check("quota", Kind::Count, v)?
            .as_f64()
            .map(|f| f.min(i64::MAX as f64) as i64),
    };
    let disabled = match body.get("disabled") {
        None | Some(Value::Null) => None,
        Some(v) => Some(check_bool("disabled", v)?),
    };
    let disable_2fa = match body.get("disable2fa") {
        None | Some(Value::Null) => false,
        Some(v) => check_bool("disable2fa", v)?,
    };
    for (field, kind) in IGNORED {
        if let Some(v) = body.get(*field).filter(|v| !v.is_null()) {
            check(field, *kind, v)?;
        }
    }
    optional_string(&body, "protocol", 64)?;
    let mut props = match serde_json::from_str::<Value>(&user.props) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut props_changed = false;
    for (field, kind) in PROPS {
        if *field == "internalData" && !caller.is_root() && body.contains_key(*field) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "MissingPrivileges",
                "internalData can not be changed with a user token",
            ));
        }
        if let Some(v) = body.get(*field).filter(|v| !v.is_null()) {
            props.insert(field.to_string(), check(field, *kind, v)?);
            props_changed = true;
        }
    }
    let request = UpdateUser {
        name,
        password,
        quota,
        disabled,
        props: props_changed.then(|| Value::Object(props).to_string()),
    };
    state
        .engine
        .update_user(&id, &request)
        .await
        .map_err(engine_err)?;
    if disable_2fa {
        state.engine.disable_totp(&id).await.map_err(engine_err)?;
    }
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /users/{user}`: the user and all their mail are removed at once.
#[utoipa::path(delete, path = "/users/{user}", operation_id = "deleteUser", tag = "Users",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success, user, addresses: {deleted}}`")))]
pub async fn delete_user(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Params>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let params = params(query)?;
    if params
        .get("deleteAfter")
        .is_some_and(|v| !v.is_empty() && v != "false")
    {
        return Err(ApiError::invalid(
            "\"deleteAfter\" is not supported: users are deleted at once",
        ));
    }
    let deleted = state.engine.delete_user(&id).await.map_err(engine_err)?;
    Ok(Json(json!({
        "success": true,
        "user": id,
        "addresses": { "deleted": deleted },
    })))
}

/// `PUT /users/{user}/logout`: revokes every access token of the user.
#[utoipa::path(put, path = "/users/{user}/logout", operation_id = "logoutUser", tag = "Users", request_body = LogoutRequest,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success: true}`")))]
pub async fn logout_user(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let body = json_object(body)?;
    optional_string(&body, "reason", 256)?;
    state.engine.get_user(&id).await.map_err(engine_err)?;
    state
        .engine
        .revoke_user_tokens(&id)
        .await
        .map_err(engine_err)?;
    Ok(Json(json!({ "success": true })))
}

/// `POST /users/{user}/quota/reset`: recounts storage from the stored messages.
#[utoipa::path(post, path = "/users/{user}/quota/reset", operation_id = "recalculateQuota", tag = "Users",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success, storageUsed, previousStorageUsed}`")))]
pub async fn reset_quota(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let (before, after) = state
        .engine
        .recalculate_quota(&id)
        .await
        .map_err(engine_err)?;
    Ok(Json(json!({
        "success": true,
        "storageUsed": after,
        "previousStorageUsed": before,
    })))
}

/// `POST /quota/reset`: recounts every user's storage. WildDuck queues this as a task; Eider
/// has finished the work when it answers, and the task id only names the run.
#[utoipa::path(post, path = "/quota/reset", operation_id = "recalculateQuotaAllUsers", tag = "Users",
    responses((status = 200, description = "`{success, task}`")))]
pub async fn reset_all_quotas(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let count = state
        .engine
        .recalculate_all_quotas()
        .await
        .map_err(engine_err)?;
    tracing::info!(users = count, "storage recounted for all users");
    Ok(Json(
        json!({ "success": true, "task": eider_engine::new_id() }),
    ))
}

// Merged into `/openapi.json` by the API document module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_users,
        create_user,
        get_user,
        update_user,
        delete_user,
        resolve_user,
        logout_user,
        reset_quota,
        reset_all_quotas
    ),
    components(schemas(UserFields, LogoutRequest))
)]
pub(crate) struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_javascript() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(1_700_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn field_checks() {
        assert_eq!(check("q", Kind::Count, &json!("12")).unwrap(), json!(12.0));
        assert!(check("q", Kind::Count, &json!(-1)).is_err());
        assert!(check("s", Kind::Percent, &json!(101)).is_err());
        assert_eq!(check("b", Kind::Bool, &json!("yes")).unwrap(), json!(true));
        assert!(check("t", Kind::StrArray, &json!(["a", 1])).is_err());
        assert_eq!(
            check("m", Kind::MetaData, &json!("{\"a\":1}")).unwrap(),
            json!({"a": 1})
        );
        assert!(check("m", Kind::MetaData, &json!("[1]")).is_err());
        assert!(json_object(Ok(Bytes::from_static(b"{bad"))).is_err());
        assert!(json_object(Ok(Bytes::from_static(b"[1]"))).is_err());
        assert!(
            json_object(Ok(Bytes::from_static(b" ")))
                .unwrap()
                .is_empty()
        );
    }
}
