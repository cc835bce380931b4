//! Who is calling: the configured root token (`api.access_token`) gives role root; a token from
//! `POST /authenticate` gives role user, limited to that user's own `/users/{id}/...` routes
//! (`/users/me/...` is rewritten to them) and the session endpoints. The token is taken from the
//! `X-Access-Token` header, the `accessToken` query parameter or `Authorization: Bearer`, as
//! WildDuck takes it. This runs before routing, so every handler is covered.

use crate::ClientAddr;
use crate::error::{ApiError, Subject};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eider_engine::Engine;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Root,
    /// A user token; the id of its user.
    User(String),
}

/// The caller of a request, put in its extensions by [`authorize`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// The client's address (empty if unknown).
    pub ip: String,
    /// The user token given, for `DELETE /authenticate`.
    pub token: Option<String>,
}

impl Caller {
    pub fn is_root(&self) -> bool {
        self.role == Role::Root
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Request was not authorized",
            )
        })
    }
}

#[derive(Clone)]
pub struct AuthState {
    pub engine: Engine,
    pub root_token: String,
}

fn invalid_token() -> Response {
    // WildDuck answers a missing or wrong token with 403 Forbidden, code InvalidToken.
    ApiError::new(
        StatusCode::FORBIDDEN,
        "InvalidToken",
        "Invalid accessToken value",
    )
    .into_response()
}

fn missing_privileges() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "MissingPrivileges",
        "You do not have permission to access this resource",
    )
    .into_response()
}

pub async fn authorize(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0.0.ip().to_string())
        .unwrap_or_default();
    if is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let given = given_token(&request);
    let root = &state.root_token;
    let role = match &given {
        Some(t) if !root.is_empty() && constant_time_eq(t.as_bytes(), root.as_bytes()) => {
            Role::Root
        }
        Some(t) => match state.engine.token_user(t).await {
            Ok(Some(user)) => Role::User(user),
            Ok(None) if root.is_empty() => Role::Root,
            Ok(None) => return invalid_token(),
            Err(e) => return ApiError::from_engine(e, Subject::User).into_response(),
        },
        None if root.is_empty() => Role::Root,
        None => return invalid_token(),
    };
    let user_token = matches!(role, Role::User(_))
        .then(|| given.clone())
        .flatten();
    if let Role::User(id) = &role {
        if let Some(uri) = rewrite_me(request.uri(), id) {
            *request.uri_mut() = uri;
        }
        if !user_may(request.method(), request.uri().path(), id) {
            return missing_privileges();
        }
    }
    request.extensions_mut().insert(Caller {
        role,
        ip,
        token: user_token,
    });
    next.run(request).await
}

/// Served without a token: they describe the API or probe the instance, and hold no data.
fn is_public(path: &str) -> bool {
    matches!(path, "/openapi.json" | "/health/live" | "/health/ready")
}

/// `/users/me` and `/users/me/...` become the token owner's id.
fn rewrite_me(uri: &Uri, id: &str) -> Option<Uri> {
    let rest = uri.path().strip_prefix("/users/me")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("/users/{id}{rest}{query}").parse().ok()
}

/// What a user token may reach: its own user's routes (but not deleting the account or
/// recounting quota), and the session endpoints.
fn user_may(method: &Method, path: &str, id: &str) -> bool {
    let path = path.trim_end_matches('/');
    if matches!(
        path,
        "/authenticate" | "/authenticated" | "/preauth" | "/health"
    ) {
        return true;
    }
    let Some(rest) = path
        .strip_prefix("/users/")
        .and_then(|p| p.strip_prefix(id))
    else {
        return false;
    };
    if rest.is_empty() {
        return *method != Method::DELETE;
    }
    rest.starts_with('/') && rest != "/quota/reset"
}

fn given_token(request: &Request) -> Option<String> {
    from_query(request.uri().query())
        .or_else(|| header(request, "x-access-token").map(str::to_string))
        .or_else(|| {
            header(request, "authorization").and_then(|v| {
                let (scheme, value) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| value.trim().to_string())
            })
        })
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
    fn user_tokens_reach_only_their_user() {
        let id = "0123456789abcdef01234567";
        assert!(user_may(&Method::GET, &format!("/users/{id}"), id));
        assert!(user_may(&Method::GET, &format!("/users/{id}/asps"), id));
        assert!(!user_may(&Method::DELETE, &format!("/users/{id}"), id));
        assert!(!user_may(
            &Method::GET,
            "/users/0123456789abcdef01234568",
            id
        ));
        assert!(!user_may(&Method::GET, &format!("/users/{id}0"), id));
        assert!(!user_may(&Method::GET, "/users", id));
        assert!(user_may(&Method::DELETE, "/authenticate", id));
        let uri: Uri = "/users/me/asps?x=1".parse().unwrap();
        assert_eq!(
            rewrite_me(&uri, id).unwrap().to_string(),
            format!("/users/{id}/asps?x=1")
        );
        assert!(rewrite_me(&"/users/mex".parse().unwrap(), id).is_none());
    }

    #[test]
    fn compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
