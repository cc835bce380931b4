//! Request parsing shared by the mail routes: WildDuck-style ids, query and body values (with
//! Joi's conversions: "true"/"1" booleans, numeric strings), UID sets and paging cursors.

use crate::error::{ApiError, ApiResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eider_engine::{PageKey, UidRange};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Default and largest `limit` of a listing (WildDuck: 20 and 250).
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 250;

pub use crate::validate::hex_id;

/// A message id in a path: WildDuck's numeric UID within the mailbox.
pub fn message_uid(value: &str) -> ApiResult<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|u| *u > 0)
        .ok_or_else(|| ApiError::invalid("\"message\" must be a positive number"))
}

/// Query-string values as given.
pub type Query = HashMap<String, String>;

pub use crate::validate::joi_bool as parse_bool;

pub fn parse_number(name: &str, value: &Value) -> ApiResult<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    n.ok_or_else(|| ApiError::invalid(format!("\"{name}\" must be a number")))
}

pub fn query_bool(q: &Query, name: &str) -> ApiResult<Option<bool>> {
    q.get(name)
        .map(|v| parse_bool(name, &Value::String(v.clone())))
        .transpose()
}

pub fn query_number(q: &Query, name: &str) -> ApiResult<Option<f64>> {
    q.get(name)
        .map(|v| parse_number(name, &Value::String(v.clone())))
        .transpose()
}

pub fn body_bool(b: &Map<String, Value>, name: &str) -> ApiResult<Option<bool>> {
    match b.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_bool(name, v).map(Some),
    }
}

pub fn body_string(b: &Map<String, Value>, name: &str) -> ApiResult<Option<String>> {
    match b.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be a string"))),
    }
}

/// `limit`: 1..=250, default 20.
pub fn limit(q: &Query) -> ApiResult<u32> {
    match query_number(q, "limit")? {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n < 1.0 => Err(ApiError::invalid(
            "\"limit\" must be greater than or equal to 1",
        )),
        Some(n) if n > MAX_LIMIT as f64 => Err(ApiError::invalid(format!(
            "\"limit\" must be less than or equal to {MAX_LIMIT}"
        ))),
        Some(n) => Ok(n as u32),
    }
}

/// `order`: "asc" or "desc".
pub fn ascending(q: &Query, default_ascending: bool) -> ApiResult<bool> {
    match q.get("order").map(String::as_str) {
        None => Ok(default_ascending),
        Some("asc") => Ok(true),
        Some("desc") => Ok(false),
        Some(_) => Err(ApiError::invalid("\"order\" must be one of [asc, desc]")),
    }
}

/// An opaque cursor for `next`/`previous`.
pub fn encode_cursor(key: &PageKey) -> String {
    let plain = match key {
        PageKey::Uid(u) => format!("u{u}"),
        PageKey::Position { date, mailbox, uid } => format!("p{date}.{mailbox}.{uid}"),
    };
    URL_SAFE_NO_PAD.encode(plain)
}

pub fn decode_cursor(name: &str, value: &str) -> ApiResult<PageKey> {
    let bad = || ApiError::invalid(format!("\"{name}\" must be a valid cursor"));
    let plain = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    if let Some(u) = plain.strip_prefix('u') {
        return u.parse().map(PageKey::Uid).map_err(|_| bad());
    }
    if let Some(rest) = plain.strip_prefix('p') {
        let mut parts = rest.splitn(3, '.');
        let date = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
        let mailbox = parts.next().ok_or_else(bad)?;
        let mailbox = hex_id(name, mailbox).map_err(|_| bad())?;
        let uid = parts.next().and_then(|u| u.parse().ok()).ok_or_else(bad)?;
        return Ok(PageKey::Position { date, mailbox, uid });
    }
    Err(bad())
}

/// A cursor as WildDuck sends it: the string, or `false`.
pub fn cursor_json(key: &Option<PageKey>) -> Value {
    match key {
        Some(k) => Value::String(encode_cursor(k)),
        None => Value::Bool(false),
    }
}

/// WildDuck's message-id set: `1,2,3`, `3:15`, `3:*`.
pub fn uid_set(name: &str, value: &str) -> ApiResult<Vec<UidRange>> {
    let bad = || {
        ApiError::invalid(format!(
            "\"{name}\" must be a message id, a comma separated list or a range"
        ))
    };
    let number = |s: &str| -> ApiResult<u32> {
        if s == "*" {
            return Ok(u32::MAX);
        }
        s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(bad)
    };
    let mut out = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        let range = match item.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                UidRange(a.min(b), a.max(b))
            }
            None => {
                let n = number(item)?;
                UidRange(n, n)
            }
        };
        out.push(range);
    }
    if out.is_empty() || out.len() > 1000 {
        return Err(bad());
    }
    Ok(out)
}

/// An ISO 8601 / RFC 3339 date (or a date alone) as Unix seconds.
pub fn parse_date(name: &str, value: &str) -> ApiResult<i64> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(value.trim()) {
        return Ok(d.timestamp());
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc2822(value.trim()) {
        return Ok(d.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp());
    }
    Err(ApiError::invalid(format!(
        "\"{name}\" must be a valid date"
    )))
}

pub use crate::validate::iso_date;

pub use crate::validate::body as json_body;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let position = PageKey::Position {
            date: -5,
            mailbox: "0123456789abcdef01234567".into(),
            uid: 9,
        };
        for k in [PageKey::Uid(42), position] {
            assert_eq!(decode_cursor("next", &encode_cursor(&k)).unwrap(), k);
        }
        assert!(decode_cursor("next", "!!").is_err());
        assert!(decode_cursor("next", &URL_SAFE_NO_PAD.encode("p1.xyz.2")).is_err());
    }

    #[test]
    fn uid_sets() {
        assert_eq!(
            uid_set("m", "1,3:5,7:*").unwrap(),
            vec![UidRange(1, 1), UidRange(3, 5), UidRange(7, u32::MAX)]
        );
        assert!(uid_set("m", "a").is_err());
        assert!(uid_set("m", "0").is_err());
    }
}
