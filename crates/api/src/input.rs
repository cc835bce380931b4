//! Request parsing shared by the account and authentication routes: ids, query parameters,
//! `next`/`previous` cursors and the logging fields (`sess`, `ip`, `protocol`).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eider_engine::Cursor;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub use crate::validate::hex_id;

/// Query parameters; a repeated name keeps its last value.
pub type Params = HashMap<String, String>;

pub fn query_bool(params: &Params, name: &str, default: bool) -> ApiResult<bool> {
    match params.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(true),
            "false" | "no" | "n" | "0" | "off" | "" => Ok(false),
            _ => Err(ApiError::invalid(format!("\"{name}\" must be a boolean"))),
        },
    }
}

/// `limit` as WildDuck bounds it: 1..=250, default 20.
pub fn query_limit(params: &Params) -> ApiResult<usize> {
    match params.get("limit") {
        None => Ok(20),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && (1.0..=250.0).contains(&n) => Ok(n as usize),
            Ok(n) if n.is_finite() && n < 1.0 => Err(ApiError::invalid(
                "\"limit\" must be greater than or equal to 1",
            )),
            Ok(n) if n.is_finite() => Err(ApiError::invalid(
                "\"limit\" must be less than or equal to 250",
            )),
            _ => Err(ApiError::invalid("\"limit\" must be a number")),
        },
    }
}

/// `page`: a number >= 1 that is only echoed back, default 1.
pub fn query_page(params: &Params) -> ApiResult<u64> {
    match params.get("page") {
        None => Ok(1),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::invalid(
                "\"page\" must be a number greater than 0",
            )),
        },
    }
}

/// A string query parameter no longer than `max` characters.
pub fn query_string(params: &Params, name: &str, max: usize) -> ApiResult<Option<String>> {
    match params.get(name) {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(format!(
            "\"{name}\" length must be less than or equal to {max} characters long"
        ))),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other.cloned()),
    }
}

/// Cursors are opaque to clients: the key of the first or last row, base64url-encoded.
pub fn encode_cursor(key: &str) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(key))
}

/// Decodes the `next` or `previous` parameter (at most one may be given) into an owned key.
pub fn cursor_key(params: &Params) -> ApiResult<(Option<String>, bool)> {
    let decode = |name: &str, v: &str| -> ApiResult<String> {
        URL_SAFE_NO_PAD
            .decode(v.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|k| !k.is_empty() && k.len() <= 1024)
            .ok_or_else(|| ApiError::invalid(format!("\"{name}\" is not a valid cursor")))
    };
    match (
        params.get("next").filter(|v| !v.is_empty()),
        params.get("previous").filter(|v| !v.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "\"next\" and \"previous\" cannot be used together",
        )),
        (Some(n), None) => Ok((Some(decode("next", n)?), false)),
        (None, Some(p)) => Ok((Some(decode("previous", p)?), true)),
        (None, None) => Ok((None, false)),
    }
}

pub fn as_cursor(key: &Option<String>, backwards: bool) -> Cursor<'_> {
    match key {
        None => Cursor::First,
        Some(k) if backwards => Cursor::Before(k),
        Some(k) => Cursor::After(k),
    }
}

/// A body string field no longer than `max`; `None` when absent or null.
pub fn body_string(body: &Map<String, Value>, name: &str, max: usize) -> ApiResult<Option<String>> {
    crate::users::optional_string(body, name, max)
}

/// A body boolean (Joi-style: also "true"/"false" strings).
pub fn body_bool(body: &Map<String, Value>, name: &str) -> ApiResult<Option<bool>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => crate::users::check_bool(name, v).map(Some),
    }
}

/// Where a request says it comes from, for the auth log: the `ip` field if given (a proxy such
/// as a webmail passes its client's address), else the TCP peer; plus `sess` and `protocol`.
pub struct LogFields {
    pub ip: String,
    pub sess: String,
    pub protocol: String,
}

pub fn log_fields(body: &Map<String, Value>, caller: &Caller) -> ApiResult<LogFields> {
    let ip = body_string(body, "ip", 64)?;
    if let Some(ip) = &ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(ApiError::invalid("\"ip\" must be a valid ip address"));
    }
    Ok(LogFields {
        ip: ip.unwrap_or_else(|| caller.ip.clone()),
        sess: body_string(body, "sess", 255)?.unwrap_or_default(),
        protocol: body_string(body, "protocol", 64)?.unwrap_or_else(|| "API".into()),
    })
}

pub use crate::validate::iso_date;
