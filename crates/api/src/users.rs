//! `/users` routes: create, get, resolve.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use eider_engine::{CreateUser, UserRow};
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
];

/// Fields that are validated but neither acted on nor stored.
const IGNORED: &[(&str, Kind)] = &[
    ("allowUnsafe", Kind::Bool),
    ("emptyAddress", Kind::Bool),
    ("sess", Kind::Str),
    ("ip", Kind::Str),
];

/// The request body as a JSON object; anything else is a WildDuck-shaped 400 (or 413).
fn json_object(body: Result<Bytes, BytesRejection>) -> ApiResult<Map<String, Value>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "Request body is too large",
            )
        } else {
            ApiError::invalid(format!("Could not read request body: {e}"))
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("Request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!(
            "Invalid JSON in request body: {e}"
        ))),
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
        Kind::Bool => match value {
            Value::Bool(b) => Ok(json!(b)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "on" => Ok(json!(true)),
                "false" | "no" | "n" | "0" | "off" | "" => Ok(json!(false)),
                _ => Err(err("must be a boolean")),
            },
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(json!(true)),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(json!(false)),
            _ => Err(err("must be a boolean")),
        },
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

fn optional_string(body: &Map<String, Value>, name: &str, max: usize) -> ApiResult<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "\"{name}\" length must be less than or equal to {max} characters long"
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be a string"))),
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create_user, get_user, resolve_user))]
pub(crate) struct Doc;

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
fn user_id(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
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
    Ok(Json(user_json(&user, address)))
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
        "suspended": false,
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

/// Seconds since the epoch as JavaScript's `toISOString()` writes them.
fn iso_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
