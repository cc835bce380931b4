//! The authentication log: `GET /users/{user}/authlog` and `/users/{user}/authlog/{event}`.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::input::{self, hex_id, iso_date};
use crate::users::{params, user_id};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use eider_engine::{AuthLogRow, ErrorKind};
use serde_json::{Value, json};

fn entry_json(row: &AuthLogRow) -> Value {
    let mut out = json!({
        "id": row.id,
        "action": row.action,
        "result": row.result,
        "source": row.source,
        "protocol": row.protocol,
        "requiredScope": row.scope,
        "ip": row.ip,
        "sess": row.sess,
        "require2fa": if row.require2fa.is_empty() { json!(false) } else { json!(row.require2fa) },
        "created": iso_date(row.created),
        "last": iso_date(row.created),
        "events": 1,
        "expires": iso_date(row.expires),
    });
    if !row.asp.is_empty() {
        out["asp"] = json!(row.asp);
        out["aname"] = json!(row.aname);
    }
    out
}

/// `GET /users/{user}/authlog`: newest first.
#[utoipa::path(get, path = "/users/{user}/authlog", operation_id = "getAuthlog", tag = "Authentication",
    params(("user" = String, Path, description = "ID of the User"),
           ("action" = Option<String>, Query, description = "Only this action"),
           ("filterip" = Option<String>, Query, description = "Only this IP address"),
           ("limit" = Option<u32>, Query, description = "Page size, default 20"),
           ("next" = Option<String>, Query, description = "Cursor for the next page"),
           ("previous" = Option<String>, Query, description = "Cursor for the previous page"),
           ("page" = Option<u32>, Query, description = "Page number, echoed back")),
    responses((status = 200, description = "A page of log entries")))]
pub async fn list_authlog(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<input::Params>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let id = user_id(path)?;
    let params = params(query)?;
    let action = input::query_string(&params, "action", 64)?;
    let ip = input::query_string(&params, "filterip", 64)?;
    if let Some(ip) = &ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(ApiError::invalid("\"filterip\" must be a valid ip address"));
    }
    let limit = input::query_limit(&params)?;
    let page = input::query_page(&params)?;
    let (key, backwards) = input::cursor_key(&params)?;
    if let Some(k) = &key {
        hex_id(if backwards { "previous" } else { "next" }, k)?;
    }
    let (mut rows, total) = state
        .engine
        .list_authlog(
            &id,
            action.as_deref(),
            ip.as_deref(),
            input::as_cursor(&key, backwards),
            limit as i64 + 1,
        )
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let more = rows.len() > limit;
    if more {
        if backwards {
            rows.remove(0);
        } else {
            rows.truncate(limit);
        }
    }
    let (has_next, has_previous) = match (&key, backwards) {
        (None, _) => (more, false),
        (Some(_), false) => (more, true),
        (Some(_), true) => (true, more),
    };
    let next = match rows.last() {
        Some(last) if has_next => input::encode_cursor(&last.id),
        _ => json!(false),
    };
    let previous = match rows.first() {
        Some(first) if has_previous => input::encode_cursor(&first.id),
        _ => json!(false),
    };
    let mut out = json!({
        "success": true,
        "total": total,
        "page": page,
        "previousCursor": previous,
        "nextCursor": next,
        "results": rows.iter().map(entry_json).collect::<Vec<_>>(),
    });
    if let Some(action) = action {
        out["action"] = json!(action);
    }
    Ok(Json(out))
}

/// `GET /users/{user}/authlog/{event}`
#[utoipa::path(get, path = "/users/{user}/authlog/{event}", operation_id = "getAuthlogEvent", tag = "Authentication",
    params(("user" = String, Path, description = "ID of the User"),
           ("event" = String, Path, description = "ID of the Event")),
    responses((status = 200, description = "One log entry")))]
pub async fn get_authlog_event(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path((user, event)) = path.map_err(|e| ApiError::invalid(e.to_string()))?;
    let (user, event) = (hex_id("user", &user)?, hex_id("event", &event)?);
    let row = state
        .engine
        .get_authlog(&user, &event)
        .await
        .map_err(|e| match e.kind {
            ErrorKind::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "EventNotFound",
                "Event was not found",
            ),
            _ => ApiError::from_engine(e, Subject::User),
        })?;
    let mut out = entry_json(&row);
    out["success"] = json!(true);
    Ok(Json(out))
}

// Merged into `/openapi.json` by the API document module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_authlog, get_authlog_event))]
pub(crate) struct Doc;
