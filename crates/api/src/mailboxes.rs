//! `/users/{user}/mailboxes` routes: list, create, get (or resolve by path), update, delete.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::params::{self, Query, body_bool, body_string, json_body, parse_number, query_bool};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query as QueryParams, State};
use eider_engine::{Engine, MailboxOptions, MailboxRow};
use serde_json::{Value, json};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_mailboxes,
        create_mailbox,
        get_mailbox,
        update_mailbox,
        delete_mailbox
    ),
    components(schemas(MailboxFields))
)]
pub(crate) struct Doc;

/// Checks the `{user}` segment and that the user exists.
pub(crate) async fn user(engine: &Engine, id: &str) -> ApiResult<String> {
    let id = params::hex_id("user", id)?;
    engine
        .get_user(&id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    Ok(id)
}

/// Checks `{user}` and `{mailbox}` and loads the mailbox.
pub(crate) async fn mailbox(
    engine: &Engine,
    user_id: &str,
    mailbox_id: &str,
) -> ApiResult<(String, MailboxRow)> {
    let user_id = user(engine, user_id).await?;
    let mailbox_id = params::hex_id("mailbox", mailbox_id)?;
    let row = engine
        .api_mailbox(&user_id, &mailbox_id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
    Ok((user_id, row))
}

fn mailbox_json(m: &MailboxRow, options: MailboxOptions) -> Value {
    let name = m.path.rsplit('/').next().unwrap_or(&m.path);
    let mut out = json!({
        "id": m.id,
        "name": name,
        "path": m.path,
        "specialUse": m.special_use,
        "modifyIndex": m.highest_modseq,
        "subscribed": m.subscribed,
        "hidden": options.hidden,
        "encryptMessages": false,
    });
    if options.retention != 0 {
        out["retention"] = json!(options.retention);
    }
    out
}

/// List Mailboxes for a User
#[utoipa::path(get, path = "/users/{user}/mailboxes", operation_id = "getMailboxes", tag = "Mailboxes",
    params(("user" = String, Path, description = "ID of the User"),
        ("specialUse" = Option<bool>, Query, description = "Only special-use mailboxes"),
        ("showHidden" = Option<bool>, Query, description = "Include hidden mailboxes"),
        ("counters" = Option<bool>, Query, description = "Include total and unseen counts"),
        ("sizes" = Option<bool>, Query, description = "Include mailbox sizes")),
    responses((status = 200, description = "Success")))]
pub async fn list_mailboxes(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let user_id = user(engine, &user_id).await?;
    let special_only = query_bool(&q, "specialUse")?.unwrap_or(false);
    let show_hidden = query_bool(&q, "showHidden")?.unwrap_or(false);
    let counters = query_bool(&q, "counters")?.unwrap_or(false);
    let sizes = query_bool(&q, "sizes")?.unwrap_or(false);
    let err = |e| ApiError::from_engine(e, Subject::Mailbox);
    let options = engine.mailbox_options(&user_id).await.map_err(err)?;
    let mut results = Vec::new();
    for m in engine.list_mailboxes(&user_id).await.map_err(err)? {
        let opts = options.get(&m.id).copied().unwrap_or_default();
        if (special_only && m.special_use.is_none() && m.path != "INBOX")
            || (opts.hidden && !show_hidden)
        {
            continue;
        }
        let mut item = mailbox_json(&m, opts);
        if counters || sizes {
            let status = engine.mailbox_status(&user_id, &m.id).await.map_err(err)?;
            if counters {
                item["total"] = json!(status.messages);
                item["unseen"] = json!(status.unseen);
            }
            if sizes {
                item["size"] = json!(status.size);
            }
        }
        results.push(item);
    }
    Ok(Json(json!({ "success": true, "results": results })))
}

fn retention(body: &serde_json::Map<String, Value>) -> ApiResult<Option<i64>> {
    match body.get("retention") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = parse_number("retention", v)?;
            if n < 0.0 {
                return Err(ApiError::invalid(
                    "\"retention\" must be greater than or equal to 0",
                ));
            }
            Ok(Some(n as i64))
        }
    }
}

/// The fields of `POST` and `PUT /users/{user}/mailboxes[/{mailbox}]`.
#[allow(dead_code)] // Describes the request for OpenAPI; the handlers read the JSON themselves.
#[derive(utoipa::ToSchema)]
pub struct MailboxFields {
    /// Slash-separated mailbox path.
    path: Option<String>,
    subscribed: Option<bool>,
    hidden: Option<bool>,
    /// Milliseconds before messages are deleted; 0 = never.
    retention: Option<u64>,
    #[schema(rename = "encryptMessages")]
    encrypt_messages: Option<bool>,
}

/// Create new Mailbox
#[utoipa::path(post, path = "/users/{user}/mailboxes", operation_id = "createMailbox", tag = "Mailboxes",
    params(("user" = String, Path, description = "ID of the User")),
    request_body(content = MailboxFields, description = "`path` is required"),
    responses((status = 200, description = "Success")))]
pub async fn create_mailbox(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let user_id = user(engine, &user_id).await?;
    let body = json_body(body)?;
    let path = body_string(&body, "path")?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("\"path\" is required"))?;
    let hidden = body_bool(&body, "hidden")?.unwrap_or(false);
    let retention = retention(&body)?.unwrap_or(0);
    body_bool(&body, "encryptMessages")?;
    let created = engine
        .create_mailbox_with(&user_id, &path, hidden, retention)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
    Ok(Json(json!({ "success": true, "id": created.id })))
}

/// Request Mailbox information (`resolve` with `?path=` finds one by path)
#[utoipa::path(get, path = "/users/{user}/mailboxes/{mailbox}", operation_id = "getMailbox", tag = "Mailboxes",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox, or `resolve`"),
        ("path" = Option<String>, Query, description = "Mailbox path, with `resolve`")),
    responses((status = 200, description = "Success")))]
pub async fn get_mailbox(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let err = |e| ApiError::from_engine(e, Subject::Mailbox);
    let (user_id, m) = if mailbox_id == "resolve" {
        let user_id = user(engine, &user_id).await?;
        let path = q
            .get("path")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::invalid("\"path\" is required"))?;
        let m = engine.find_mailbox(&user_id, path).await.map_err(err)?;
        (user_id, m)
    } else {
        mailbox(engine, &user_id, &mailbox_id).await?
    };
    let options = engine.mailbox_options(&user_id).await.map_err(err)?;
    let status = engine.mailbox_status(&user_id, &m.id).await.map_err(err)?;
    let mut out = mailbox_json(&m, options.get(&m.id).copied().unwrap_or_default());
    out["success"] = json!(true);
    out["total"] = json!(status.messages);
    out["unseen"] = json!(status.unseen);
    Ok(Json(out))
}

/// Update Mailbox information
#[utoipa::path(put, path = "/users/{user}/mailboxes/{mailbox}", operation_id = "updateMailbox", tag = "Mailboxes",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox")),
    request_body(content = MailboxFields, description = "`path` renames"),
    responses((status = 200, description = "Success")))]
pub async fn update_mailbox(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    let body = json_body(body)?;
    let path = body_string(&body, "path")?.filter(|p| !p.is_empty());
    let subscribed = body_bool(&body, "subscribed")?;
    let hidden = body_bool(&body, "hidden")?;
    let retention = retention(&body)?;
    body_bool(&body, "encryptMessages")?;
    engine
        .update_mailbox(
            &user_id,
            &m.id,
            path.as_deref(),
            subscribed,
            hidden,
            retention,
        )
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
    Ok(Json(json!({ "success": true })))
}

/// Delete a Mailbox
#[utoipa::path(delete, path = "/users/{user}/mailboxes/{mailbox}", operation_id = "deleteMailbox", tag = "Mailboxes",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox")),
    responses((status = 200, description = "Success")))]
pub async fn delete_mailbox(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    engine
        .delete_mailbox_by_id(&user_id, &m.id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
    Ok(Json(json!({ "success": true })))
}
