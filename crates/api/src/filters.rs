//! `/filters` and `/users/{user}/filters*`: message filters as stored resources (applying them at
//! delivery is not built yet). Every field of WildDuck's query and action objects is checked.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::validate as v;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use eider_engine::FilterRow;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Filters a user may have unless the user's `filters` limit says otherwise (WildDuck's default).
const DEFAULT_MAX_FILTERS: i64 = 400;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_all_filters,
    list_filters,
    create_filter,
    get_filter,
    update_filter,
    delete_filter
))]
pub(crate) struct Doc;

fn err(e: eider_engine::Error) -> ApiError {
    if e.kind == eider_engine::ErrorKind::NotFound && e.message.starts_with("Filter") {
        ApiError::from_engine(e, Subject::Filter)
    } else {
        ApiError::from_engine(e, Subject::User)
    }
}

fn ids(
    path: Result<Path<HashMap<String, String>>, PathRejection>,
) -> ApiResult<(String, Option<String>)> {
    let p = v::path(path)?;
    let user = v::hex_id(
        "user",
        p.get("user").map(String::as_str).unwrap_or_default(),
    )?;
    let filter = match p.get("filter") {
        Some(f) => Some(v::hex_id("filter", f)?),
        None => None,
    };
    Ok((user, filter))
}

fn unknown_keys(obj: &Map<String, Value>, parent: &str, known: &[&str]) -> ApiResult<()> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(format!(
            "\"{parent}.{k}\" is not allowed"
        ))),
        None => Ok(()),
    }
}

/// The `query` object: what a message must match.
fn check_query(value: &Value) -> ApiResult<Value> {
    let Value::Object(q) = value else {
        return Err(ApiError::invalid("\"query\" must be of type object"));
    };
    unknown_keys(
        q,
        "query",
        &["from", "to", "subject", "listId", "text", "ha", "size"],
    )?;
    let mut out = Map::new();
    for field in ["from", "to", "subject", "listId", "text"] {
        if let Some(s) = v::string(q, field, 255, true)? {
            out.insert(field.into(), json!(s));
        }
    }
    if let Some(b) = v::boolean(q, "ha")? {
        out.insert("ha".into(), json!(b));
    }
    if let Some(n) = v::number(q, "size", -1e15, 1e15)? {
        out.insert("size".into(), json!(n as i64));
    }
    Ok(Value::Object(out))
}

/// The `action` object: what happens to a matching message (`null` clears a flag action).
fn check_action(value: &Value) -> ApiResult<Value> {
    let Value::Object(a) = value else {
        return Err(ApiError::invalid("\"action\" must be of type object"));
    };
    unknown_keys(
        a,
        "action",
        &["seen", "flag", "delete", "spam", "mailbox", "targets"],
    )?;
    let mut out = Map::new();
    for field in ["seen", "flag", "delete", "spam"] {
        if let Some(b) = v::boolean(a, field)? {
            out.insert(field.into(), json!(b));
        }
    }
    if let Some(m) = v::string(a, "mailbox", 24, true)? {
        out.insert("mailbox".into(), json!(v::hex_id("action.mailbox", &m)?));
    }
    if let Some(targets) = v::strings(a, "targets", 1024, eider_engine::MAX_FORWARD_TARGETS)? {
        for t in &targets {
            let lower = t.to_ascii_lowercase();
            let ok = lower.starts_with("smtp:")
                || lower.starts_with("smtps:")
                || lower.starts_with("http:")
                || lower.starts_with("https:")
                || eider_engine::address::split(t).is_ok();
            if !ok {
                return Err(ApiError::invalid(format!("Unknown target type \"{t}\"")));
            }
        }
        out.insert("targets".into(), json!(targets));
    }
    Ok(Value::Object(out))
}

/// `[["from", "john"], ...]`: the query or action as name/value pairs, as WildDuck lists them.
fn pairs(value: &Value) -> Value {
    let items: Vec<Value> = value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => json!([k, s]),
                    Value::Number(n) => json!([k, n]),
                    other => json!([k, other.to_string()]),
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(items)
}

fn listed(f: &FilterRow, with_user: bool, meta: bool) -> Value {
    let query = v::stored_json(&f.query);
    let action = v::stored_json(&f.action);
    let mut out = json!({
        "id": f.id,
        "name": f.name,
        "created": v::iso_date(f.created),
        "query": pairs(&query),
        "action": pairs(&action),
        "disabled": f.disabled,
        "originalQuery": query,
        "originalAction": action.clone(),
    });
    if with_user {
        out["user"] = json!(f.user_id);
        out["targets"] = action.get("targets").cloned().unwrap_or_else(|| json!([]));
    }
    if meta {
        out["metaData"] = v::stored_json(&f.meta_data);
    }
    out
}

/// List the filters of all users
#[utoipa::path(get, path = "/filters", tag = "Filters", operation_id = "getAllFilters",
    params(("forward" = Option<String>, Query, description = "Partial match of a forwarding target"),
        ("metaData" = Option<bool>, Query, description = "Include metaData"),
        ("limit" = Option<i64>, Query, description = "How many records to return (1-250, default 20)"),
        ("next" = Option<String>, Query, description = "Cursor for the next page"),
        ("previous" = Option<String>, Query, description = "Cursor for the previous page")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn list_all_filters(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let forward = v::string(&q, "forward", 255, true)?.unwrap_or_default();
    let meta = v::boolean(&q, "metaData")?.unwrap_or(false);
    let paging = v::paging(&q)?;
    let (rows, total) = state
        .engine
        .list_filters(
            &forward,
            paging.after.as_deref(),
            paging.before.as_deref(),
            paging.limit + 1,
        )
        .await
        .map_err(err)?;
    let (rows, previous, next) = crate::addresses::page_of(rows, &paging, |f| f.id.clone());
    let results: Vec<Value> = rows.iter().map(|f| listed(f, true, meta)).collect();
    Ok(Json(json!({
        "success": true,
        "total": total,
        "page": paging.page,
        "previousCursor": previous,
        "nextCursor": next,
        "results": results,
    })))
}

/// List the filters of a user
#[utoipa::path(get, path = "/users/{user}/filters", tag = "Filters", operation_id = "getFilters",
    params(("user" = String, Path, description = "ID of the User"),
        ("metaData" = Option<bool>, Query, description = "Include metaData")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn list_filters(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let (user_id, _) = ids(path)?;
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let meta = v::boolean(&q, "metaData")?.unwrap_or(false);
    let user = state.engine.get_user(&user_id).await.map_err(err)?;
    let rows = state.engine.user_filters(&user_id).await.map_err(err)?;
    let allowed = serde_json::from_str::<Value>(&user.props)
        .ok()
        .and_then(|p| p.get("filters").and_then(Value::as_f64))
        .filter(|n| *n > 0.0)
        .map(|n| n as i64)
        .unwrap_or(DEFAULT_MAX_FILTERS);
    let results: Vec<Value> = rows.iter().map(|f| listed(f, false, meta)).collect();
    Ok(Json(json!({
        "success": true,
        "limits": { "allowed": allowed, "used": rows.len() },
        "results": results,
    })))
}

/// Create a filter for a user
#[utoipa::path(post, path = "/users/{user}/filters", tag = "Filters", operation_id = "createFilter",
    params(("user" = String, Path, description = "ID of the User")),
    request_body(content = Object, description = "name, query (required), action (required), disabled, metaData"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn create_filter(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (user_id, _) = ids(path)?;
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let query = body
        .get("query")
        .filter(|q| !q.is_null())
        .ok_or_else(|| ApiError::invalid("\"query\" is required"))
        .and_then(check_query)?;
    let action = body
        .get("action")
        .filter(|a| !a.is_null())
        .ok_or_else(|| ApiError::invalid("\"action\" is required"))
        .and_then(check_action)?;
    let row = FilterRow {
        user_id,
        name: v::string(&body, "name", 255, false)?.unwrap_or_default(),
        query: query.to_string(),
        action: action.to_string(),
        disabled: v::boolean(&body, "disabled")?.unwrap_or(false),
        meta_data: v::metadata(&body, "metaData")?.unwrap_or_else(|| "{}".into()),
        ..Default::default()
    };
    let id = state.engine.add_filter(&row).await.map_err(err)?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// Get a filter
#[utoipa::path(get, path = "/users/{user}/filters/{filter}", tag = "Filters", operation_id = "getFilter",
    params(("user" = String, Path, description = "ID of the User"), ("filter" = String, Path, description = "ID of the Filter")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn get_filter(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (user_id, filter) = ids(path)?;
    let f = state
        .engine
        .filter(&user_id, &filter.unwrap_or_default())
        .await
        .map_err(err)?;
    Ok(Json(json!({
        "success": true,
        "id": f.id,
        "name": f.name,
        "created": v::iso_date(f.created),
        "query": v::stored_json(&f.query),
        "action": v::stored_json(&f.action),
        "disabled": f.disabled,
        "metaData": v::stored_json(&f.meta_data),
    })))
}

/// Update a filter (fields left out keep their value)
#[utoipa::path(put, path = "/users/{user}/filters/{filter}", tag = "Filters", operation_id = "updateFilter",
    params(("user" = String, Path, description = "ID of the User"), ("filter" = String, Path, description = "ID of the Filter")),
    request_body(content = Object, description = "name, query, action, disabled, metaData"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn update_filter(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let (user_id, filter) = ids(path)?;
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let query = body
        .get("query")
        .filter(|q| !q.is_null())
        .map(check_query)
        .transpose()?;
    let action = body
        .get("action")
        .filter(|a| !a.is_null())
        .map(check_action)
        .transpose()?;
    let name = v::string(&body, "name", 255, false)?;
    let disabled = v::boolean(&body, "disabled")?;
    let meta = v::metadata(&body, "metaData")?;
    let mut row = state
        .engine
        .filter(&user_id, &filter.unwrap_or_default())
        .await
        .map_err(err)?;
    if let Some(q) = query {
        row.query = q.to_string();
    }
    if let Some(a) = action {
        row.action = a.to_string();
    }
    if let Some(n) = name {
        row.name = n;
    }
    if let Some(d) = disabled {
        row.disabled = d;
    }
    if let Some(m) = meta {
        row.meta_data = m;
    }
    state.engine.save_filter(&row).await.map_err(err)?;
    Ok(Json(json!({ "success": true })))
}

/// Delete a filter
#[utoipa::path(delete, path = "/users/{user}/filters/{filter}", tag = "Filters", operation_id = "deleteFilter",
    params(("user" = String, Path, description = "ID of the User"), ("filter" = String, Path, description = "ID of the Filter")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn delete_filter(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (user_id, filter) = ids(path)?;
    state
        .engine
        .delete_filter(&user_id, &filter.unwrap_or_default())
        .await
        .map_err(err)?;
    Ok(Json(json!({ "success": true })))
}
