//! Request checks shared by the API routes: WildDuck's (Joi's) conversions and limits, answered
//! as `InputValidationError`.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A JSON request body as an object (empty body = empty object).
pub fn body(body: Result<Bytes, BytesRejection>) -> ApiResult<Map<String, Value>> {
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

/// Query parameters (the last value of a repeated name wins).
pub fn query(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Map<String, Value>> {
    let Query(pairs) = q.map_err(|e| ApiError::invalid(format!("Invalid query string: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}

/// A path parameter that must be a 24-hex id, lowercased.
pub fn hex_id(name: &str, value: &str) -> ApiResult<String> {
    if value.len() != 24 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(format!(
            "\"{name}\" must be a 24 character hexadecimal string"
        )));
    }
    Ok(value.to_ascii_lowercase())
}

/// Path parameters by name.
pub fn path(
    p: Result<Path<HashMap<String, String>>, axum::extract::rejection::PathRejection>,
) -> ApiResult<HashMap<String, String>> {
    p.map(|Path(m)| m)
        .map_err(|e| ApiError::invalid(format!("Invalid path: {e}")))
}

fn present<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).filter(|v| !v.is_null())
}

/// An optional string, trimmed, at most `max` characters; "" counts as absent when `empty_absent`.
pub fn string(
    map: &Map<String, Value>,
    name: &str,
    max: usize,
    empty_absent: bool,
) -> ApiResult<Option<String>> {
    match present(map, name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() && empty_absent {
                return Ok(None);
            }
            if s.chars().count() > max {
                return Err(ApiError::invalid(format!(
                    "\"{name}\" length must be less than or equal to {max} characters long"
                )));
            }
            Ok(Some(s.to_string()))
        }
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be a string"))),
    }
}

pub fn required_string(map: &Map<String, Value>, name: &str, max: usize) -> ApiResult<String> {
    string(map, name, max, true)?
        .ok_or_else(|| ApiError::invalid(format!("\"{name}\" is required")))
}

/// A boolean as Joi converts it: true/false, "true"/"false", "yes"/"no", "on"/"off", 1/0 ...
/// The one conversion every route uses; callers decide what an empty string means.
pub fn joi_bool(name: &str, value: &Value) -> ApiResult<bool> {
    let err = || ApiError::invalid(format!("\"{name}\" must be a boolean"));
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(true),
            "false" | "no" | "n" | "0" | "off" => Ok(false),
            _ => Err(err()),
        },
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        _ => Err(err()),
    }
}

/// An optional boolean as Joi converts it; an empty string is absent.
pub fn boolean(map: &Map<String, Value>, name: &str) -> ApiResult<Option<bool>> {
    match present(map, name) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => joi_bool(name, v).map(Some),
    }
}

/// An optional number (numeric strings converted) within `min..=max`.
pub fn number(map: &Map<String, Value>, name: &str, min: f64, max: f64) -> ApiResult<Option<f64>> {
    let n = match present(map, name) {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Some(_) => None,
    }
    .ok_or_else(|| ApiError::invalid(format!("\"{name}\" must be a number")))?;
    if n < min {
        return Err(ApiError::invalid(format!(
            "\"{name}\" must be greater than or equal to {min}"
        )));
    }
    if n > max {
        return Err(ApiError::invalid(format!(
            "\"{name}\" must be less than or equal to {max}"
        )));
    }
    Ok(Some(n))
}

/// An optional array of strings, each at most `max` characters.
pub fn strings(
    map: &Map<String, Value>,
    name: &str,
    max: usize,
    max_items: usize,
) -> ApiResult<Option<Vec<String>>> {
    match present(map, name) {
        None => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > max_items {
                return Err(ApiError::invalid(format!(
                    "\"{name}\" must contain less than or equal to {max_items} items"
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) if s.trim().chars().count() <= max => Ok(s.trim().to_string()),
                    Value::String(_) => Err(ApiError::invalid(format!(
                        "\"{name}[{i}]\" length must be less than or equal to {max} characters long"
                    ))),
                    _ => Err(ApiError::invalid(format!(
                        "\"{name}[{i}]\" must be a string"
                    ))),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some)
        }
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be an array"))),
    }
}

/// `metaData`/`internalData`: an object or a string holding a JSON object; returned as JSON text.
pub fn metadata(map: &Map<String, Value>, name: &str) -> ApiResult<Option<String>> {
    let err = || {
        ApiError::invalid(format!(
            "\"{name}\" must be an object or a JSON formatted string of an object"
        ))
    };
    match present(map, name) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => Ok(Some(v.to_string())),
            _ => Err(err()),
        },
        Some(_) => Err(err()),
    }
}

/// Stored JSON text back to a value (an object when unreadable).
pub fn stored_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// `sess` and `ip`, accepted for WildDuck compatibility and only checked.
pub fn session_fields(map: &Map<String, Value>) -> ApiResult<()> {
    string(map, "sess", 255, true)?;
    string(map, "ip", 255, true)?;
    Ok(())
}

/// Seconds since the epoch as JavaScript's `toISOString()` writes them.
pub fn iso_date(secs: i64) -> String {
    iso_date_ms(secs.saturating_mul(1000))
}

pub fn iso_date_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A date field: an ISO 8601 / RFC 3339 string (or a date alone), or `false` / "" for none.
/// Returns milliseconds since the epoch, 0 for none.
pub fn date_ms(map: &Map<String, Value>, name: &str) -> ApiResult<Option<i64>> {
    match present(map, name) {
        None => Ok(None),
        Some(Value::Bool(false)) => Ok(Some(0)),
        Some(Value::String(s)) if s.trim().is_empty() || s.trim() == "false" => Ok(Some(0)),
        Some(Value::String(s)) => {
            let s = s.trim();
            if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
                return Ok(Some(d.timestamp_millis()));
            }
            if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(Some(
                    d.and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc()
                        .timestamp_millis(),
                ));
            }
            Err(ApiError::invalid(format!(
                "\"{name}\" must be a valid date"
            )))
        }
        Some(_) => Err(ApiError::invalid(format!(
            "\"{name}\" must be a valid date"
        ))),
    }
}

/// Paging: `limit` (1..=250, default 20) and a `next` or `previous` cursor.
pub struct Paging {
    pub limit: i64,
    pub page: i64,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// Cursors are `<page>:<key>` in hex: opaque to clients, safe in URLs.
pub fn paging(map: &Map<String, Value>) -> ApiResult<Paging> {
    let limit = number(map, "limit", 1.0, 250.0)?.unwrap_or(20.0) as i64;
    let decode = |name: &str| -> ApiResult<Option<(i64, String)>> {
        let Some(c) = string(map, name, 1024, true)? else {
            return Ok(None);
        };
        let bad = || ApiError::invalid(format!("\"{name}\" must be a valid cursor"));
        let bytes = (0..c.len())
            .step_by(2)
            .map(|i| c.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (page, key) = text.split_once(':').ok_or_else(bad)?;
        Ok(Some((page.parse().map_err(|_| bad())?, key.to_string())))
    };
    let next = decode("next")?;
    let previous = decode("previous")?;
    Ok(match (next, previous) {
        (Some((page, key)), _) => Paging {
            limit,
            page: page.max(1),
            after: Some(key),
            before: None,
        },
        (None, Some((page, key))) => Paging {
            limit,
            page: page.max(1),
            after: None,
            before: Some(key),
        },
        (None, None) => Paging {
            limit,
            page: 1,
            after: None,
            before: None,
        },
    })
}

pub fn cursor(page: i64, key: &str) -> Value {
    let text = format!("{page}:{key}");
    Value::String(text.bytes().map(|b| format!("{b:02x}")).collect())
}

/// `previousCursor`/`nextCursor` for a page of `keys` fetched with `limit + 1` rows
/// (`more` tells whether the extra row came back).
pub fn cursors(
    paging: &Paging,
    first: Option<&str>,
    last: Option<&str>,
    more: bool,
) -> (Value, Value) {
    let going_back = paging.before.is_some();
    let has_next = if going_back { true } else { more };
    let has_previous = if going_back {
        more
    } else {
        paging.after.is_some()
    };
    let previous = match (has_previous && paging.page > 1, first) {
        (true, Some(k)) => cursor(paging.page - 1, k),
        _ => Value::Bool(false),
    };
    let next = match (has_next, last) {
        (true, Some(k)) => cursor(paging.page + 1, k),
        _ => Value::Bool(false),
    };
    (previous, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursor_round_trip() {
        let c = cursor(3, "a@b.example");
        let map = json!({ "next": c }).as_object().unwrap().clone();
        let p = paging(&map).unwrap();
        assert_eq!((p.page, p.after.as_deref()), (3, Some("a@b.example")));
        let bad = json!({ "next": "zz" }).as_object().unwrap().clone();
        assert!(paging(&bad).is_err());
        let limit = json!({ "limit": "251" }).as_object().unwrap().clone();
        assert!(paging(&limit).is_err());
    }

    #[test]
    fn dates() {
        let m = json!({ "a": "2026-01-02T03:04:05Z", "b": false, "c": "nope" });
        let m = m.as_object().unwrap();
        assert_eq!(
            iso_date_ms(date_ms(m, "a").unwrap().unwrap()),
            "2026-01-02T03:04:05.000Z"
        );
        assert_eq!(date_ms(m, "b").unwrap(), Some(0));
        assert!(date_ms(m, "c").is_err());
    }
}
