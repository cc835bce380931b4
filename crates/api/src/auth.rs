//! The root access token: `X-Access-Token` header, `accessToken` query parameter, or
//! `Authorization: Bearer`, as WildDuck takes it.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn require_token(
    State(token): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Response {
    if token.is_empty() {
        return next.run(request).await;
    }
    let given = from_query(request.uri().query())
        .or_else(|| header(&request, "x-access-token").map(str::to_string))
        .or_else(|| {
            header(&request, "authorization").and_then(|v| {
                let (scheme, value) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| value.trim().to_string())
            })
        });
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
            next.run(request).await
        }
        // WildDuck answers a missing or wrong token with 403 Forbidden, code InvalidToken.
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "Invalid accessToken value",
        )
        .into_response(),
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn from_query(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "accessToken" && !value.is_empty()).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` and `+` in a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_token() {
        assert_eq!(
            from_query(Some("a=1&accessToken=s%20x+y")),
            Some("s x y".into())
        );
        assert_eq!(from_query(Some("accessToken=")), None);
        assert_eq!(from_query(Some("accessToken=%zz%4")), Some("%zz%4".into()));
        assert_eq!(from_query(None), None);
    }

    #[test]
    fn compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
