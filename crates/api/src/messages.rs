//! `/users/{user}/mailboxes/{mailbox}/messages` routes: list, upload, update, delete, get one
//! (parsed), its source (`message.eml`) and its attachments. A message id in a path is its UID
//! within the mailbox, as in WildDuck.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::mailboxes::mailbox;
use crate::params::{
    self, Query, body_bool, body_string, cursor_json, iso_date, json_body, query_bool,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use eider_engine::browse::{
    Cursor, ListQuery, ListedItem, TextFilter, flag_bits, item_thread, thread_id,
};
use eider_engine::{Engine, Flags, MessageFilter, MessageRow, UidRange, flags};
use eider_mime::compose::{Composed, ComposedAttachment, compose};
use eider_mime::view::{MailAddress, parse_addresses};
use serde_json::{Map, Value, json};

#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(MessageUpdate)),
    paths(
        list_messages,
        upload_message,
        update_messages,
        delete_all_messages,
        get_message,
        update_message,
        delete_message,
        message_source,
        download_attachment
    )
)]
pub(crate) struct Doc;

fn msg_err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::Message)
}

fn address_json(a: &MailAddress) -> Value {
    json!({ "name": a.name, "address": a.address })
}

fn address_list(display: Option<&str>) -> Vec<Value> {
    display
        .map(parse_addresses)
        .unwrap_or_default()
        .iter()
        .map(address_json)
        .collect()
}

fn flags_json(out: &mut Map<String, Value>, row: &MessageRow) {
    for (name, on) in flag_bits(row.flags) {
        out.insert(name.into(), json!(on));
    }
    let forwarded = row
        .keywords
        .split_whitespace()
        .any(|k| k.eq_ignore_ascii_case("$Forwarded"));
    out.insert("forwarded".into(), json!(forwarded));
}

/// One entry of a listing or search result (WildDuck's `GetMessagesResult`).
pub(crate) fn listed_json(item: &ListedItem) -> Value {
    let row = &item.row;
    let fields = item
        .info
        .as_ref()
        .map(|i| i.fields.clone())
        .unwrap_or_default();
    let content_type = item
        .info
        .as_ref()
        .and_then(|i| i.parts.first())
        .map(|p| p.content_type.clone())
        .unwrap_or_else(|| "text/plain".into());
    let mut out = Map::new();
    out.insert("id".into(), json!(row.uid));
    out.insert("mailbox".into(), json!(item.mailbox_id));
    out.insert("thread".into(), json!(item_thread(item)));
    if let Some(from) = fields
        .from
        .as_deref()
        .map(parse_addresses)
        .and_then(|l| l.into_iter().next())
    {
        out.insert("from".into(), address_json(&from));
    }
    out.insert("to".into(), json!(address_list(fields.to.as_deref())));
    out.insert("cc".into(), json!(address_list(fields.cc.as_deref())));
    out.insert("bcc".into(), json!(address_list(fields.bcc.as_deref())));
    out.insert(
        "messageId".into(),
        json!(
            fields
                .message_id
                .map(|m| format!("<{m}>"))
                .unwrap_or_default()
        ),
    );
    out.insert("subject".into(), json!(fields.subject.unwrap_or_default()));
    out.insert(
        "date".into(),
        json!(iso_date(fields.date.unwrap_or(row.internal_date))),
    );
    out.insert("idate".into(), json!(iso_date(row.internal_date)));
    out.insert("intro".into(), json!(""));
    out.insert(
        "attachments".into(),
        json!(item.info.as_ref().is_some_and(|i| i.has_attachments)),
    );
    out.insert("size".into(), json!(row.size));
    flags_json(&mut out, row);
    let references: Vec<String> = fields
        .references
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    out.insert("references".into(), json!(references));
    out.insert(
        "contentType".into(),
        json!({ "value": content_type, "params": {} }),
    );
    Value::Object(out)
}

/// List messages in a Mailbox
#[utoipa::path(get, path = "/users/{user}/mailboxes/{mailbox}/messages", operation_id = "getMessages", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("unseen" = Option<bool>, Query, description = "Only unseen messages"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 250, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default) by UID"),
        ("next" = Option<String>, Query, description = "Cursor of the next page"),
        ("previous" = Option<String>, Query, description = "Cursor of the previous page"),
        ("metaData" = Option<bool>, Query, description = "Accepted; metaData is always `{}`"),
        ("threadCounters" = Option<bool>, Query, description = "Include `threadMessageCount` (scans the account)"),
        ("includeHeaders" = Option<bool>, Query, description = "Accepted; headers are not listed")),
    responses((status = 200, description = "Success")))]
pub async fn list_messages(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    let unseen = query_bool(&q, "unseen")?;
    for name in ["metaData", "includeHeaders"] {
        query_bool(&q, name)?;
    }
    let counters = query_bool(&q, "threadCounters")?.unwrap_or(false);
    let filter = MessageFilter {
        mailbox_id: Some(m.id.clone()),
        seen: unseen.filter(|u| *u).map(|_| false),
        ..Default::default()
    };
    let query = ListQuery {
        filter,
        text: TextFilter::default(),
        by_uid: true,
        ascending: params::ascending(&q, false)?,
        limit: params::limit(&q)?,
        cursor: cursor(&q)?,
    };
    let page = engine
        .list_messages(&user_id, &query)
        .await
        .map_err(msg_err)?;
    Ok(Json(json!({
        "success": true,
        "total": page.total,
        "page": 1,
        "previousCursor": cursor_json(&page.previous),
        "nextCursor": cursor_json(&page.next),
        "specialUse": m.special_use,
        "results": listed_results(engine, &user_id, &page.items, counters).await?,
    })))
}

/// Listed messages as JSON; with `counters`, each with `threadMessageCount` (messages of its
/// thread in the whole account).
pub(crate) async fn listed_results(
    engine: &Engine,
    user_id: &str,
    items: &[ListedItem],
    counters: bool,
) -> ApiResult<Vec<Value>> {
    let mut results: Vec<Value> = items.iter().map(listed_json).collect();
    if counters && !items.is_empty() {
        let threads = items.iter().map(item_thread).collect();
        let counts = engine
            .thread_counts(user_id, &threads)
            .await
            .map_err(msg_err)?;
        for (result, item) in results.iter_mut().zip(items) {
            let n = counts.get(&item_thread(item)).copied().unwrap_or(1);
            result["threadMessageCount"] = json!(n);
        }
    }
    Ok(results)
}

/// The `next` or `previous` cursor of a request.
pub(crate) fn cursor(q: &Query) -> ApiResult<Option<Cursor>> {
    if let Some(n) = q.get("next").filter(|s| !s.is_empty()) {
        return Ok(Some(Cursor::Next(params::decode_cursor("next", n)?)));
    }
    if let Some(p) = q.get("previous").filter(|s| !s.is_empty()) {
        return Ok(Some(Cursor::Previous(params::decode_cursor(
            "previous", p,
        )?)));
    }
    Ok(None)
}

fn optional_address(v: Option<&Value>, name: &str) -> ApiResult<Option<(String, String)>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => {
            let address = o
                .get("address")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid(format!("\"{name}.address\" is required")))?;
            let n = o.get("name").and_then(Value::as_str).unwrap_or_default();
            Ok(Some((n.to_string(), address.to_string())))
        }
        Some(_) => Err(ApiError::invalid(format!(
            "\"{name}\" must be of type object"
        ))),
    }
}

fn address_array(v: Option<&Value>, name: &str) -> ApiResult<Vec<(String, String)>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| optional_address(Some(i), name).map(|a| a.unwrap_or_default()))
            .collect(),
        Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be an array"))),
    }
}

/// The message bytes of an upload: `raw` (base64, or the message itself), or composed fields.
fn upload_bytes(body: &Map<String, Value>) -> ApiResult<Vec<u8>> {
    if let Some(raw) = body_string(body, "raw")? {
        let compact: String = raw.split_whitespace().collect();
        return Ok(base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .unwrap_or_else(|_| raw.into_bytes()));
    }
    let mut c = Composed {
        from: optional_address(body.get("from"), "from")?,
        reply_to: optional_address(body.get("replyTo"), "replyTo")?,
        to: address_array(body.get("to"), "to")?,
        cc: address_array(body.get("cc"), "cc")?,
        bcc: address_array(body.get("bcc"), "bcc")?,
        subject: body_string(body, "subject")?,
        text: body_string(body, "text")?,
        html: body_string(body, "html")?,
        ..Default::default()
    };
    if let Some(Value::Array(headers)) = body.get("headers") {
        for h in headers {
            let key = h.get("key").and_then(Value::as_str);
            let value = h.get("value").and_then(Value::as_str);
            match (key, value) {
                (Some(k), Some(v)) if !k.is_empty() && !k.contains([':', '\r', '\n']) => {
                    c.headers.push((k.to_string(), v.to_string()))
                }
                _ => {
                    return Err(ApiError::invalid(
                        "\"headers\" items need a key and a value",
                    ));
                }
            }
        }
    }
    if let Some(Value::Array(list)) = body.get("attachments") {
        for a in list {
            let content = a
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid("\"attachments.content\" is required"))?;
            let encoding = a
                .get("encoding")
                .and_then(Value::as_str)
                .unwrap_or("base64");
            let bytes = if encoding.eq_ignore_ascii_case("base64") {
                let compact: String = content.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|_| ApiError::invalid("\"attachments.content\" must be base64"))?
            } else {
                content.as_bytes().to_vec()
            };
            c.attachments.push(ComposedAttachment {
                filename: a
                    .get("filename")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                content_type: a
                    .get("contentType")
                    .and_then(Value::as_str)
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                content: bytes,
                cid: a.get("cid").and_then(Value::as_str).map(str::to_string),
                inline: a.get("contentDisposition").and_then(Value::as_str) == Some("inline"),
            });
        }
    }
    if let Some(d) = body_string(body, "date")? {
        c.date = Some(params::parse_date("date", &d)?);
    }
    compose(&c).map_err(|e| ApiError::invalid(format!("Could not build the message: {e}")))
}

/// Upload Message
#[utoipa::path(post, path = "/users/{user}/mailboxes/{mailbox}/messages", operation_id = "uploadMessage", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox")),
    request_body(content = Value, description = "`raw` (base64 message source, or a message/rfc822 body) or `from`, `to`, `subject`, `text`, `html`, `attachments`...; `unseen`, `flagged`, `draft`, `date`"),
    responses((status = 200, description = "Success")))]
pub async fn upload_message(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    let is_rfc822 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("message/rfc822"));
    let (raw, fields) = if is_rfc822 {
        let bytes = json_body_raw(body)?;
        (bytes, Map::new())
    } else {
        let fields = json_body(body)?;
        (upload_bytes(&fields)?, fields)
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("Message is empty"));
    }
    let mut system = 0;
    if !body_bool(&fields, "unseen")?.unwrap_or(false) {
        system |= flags::SEEN;
    }
    if body_bool(&fields, "flagged")?.unwrap_or(false) {
        system |= flags::FLAGGED;
    }
    if body_bool(&fields, "draft")?.unwrap_or(false) {
        system |= flags::DRAFT;
    }
    let date = match body_string(&fields, "date")? {
        Some(d) => Some(params::parse_date("date", &d)?),
        None => None,
    };
    let f = Flags {
        system,
        keywords: Vec::new(),
    };
    let (_, row) = engine
        .append(&user_id, &m.id, raw, &f, date)
        .await
        .map_err(msg_err)?;
    Ok(Json(json!({
        "success": true,
        "message": { "id": row.uid, "mailbox": m.id, "size": row.size },
    })))
}

fn json_body_raw(body: Result<Bytes, BytesRejection>) -> ApiResult<Vec<u8>> {
    body.map(|b| b.to_vec()).map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                "Request body is too large",
            )
        } else {
            ApiError::invalid(format!("Could not read request body: {e}"))
        }
    })
}

/// The fields of `PUT .../messages[/{message}]`.
#[allow(dead_code)] // Describes the request for OpenAPI; the handlers read the JSON themselves.
#[derive(utoipa::ToSchema)]
pub struct MessageUpdate {
    /// UID range (`1:100`, `1,3,5`, `1:*`); the multi-message form only.
    message: Option<String>,
    /// ID of the mailbox to move to (24 hex).
    #[schema(rename = "moveTo")]
    move_to: Option<String>,
    seen: Option<bool>,
    deleted: Option<bool>,
    flagged: Option<bool>,
    draft: Option<bool>,
    /// When the message is deleted (a date), or `false` to keep it.
    #[schema(value_type = Option<Value>)]
    expires: Option<String>,
}

/// What a PUT asks for: flags to set and clear, a target mailbox, an expiry.
struct Update {
    set: u32,
    clear: u32,
    move_to: Option<String>,
    /// Some(0) clears the expiry.
    expires: Option<i64>,
}

fn parse_update(body: &Map<String, Value>) -> ApiResult<Update> {
    let mut u = Update {
        set: 0,
        clear: 0,
        move_to: None,
        expires: None,
    };
    for (name, bit) in [
        ("seen", flags::SEEN),
        ("deleted", flags::DELETED),
        ("flagged", flags::FLAGGED),
        ("draft", flags::DRAFT),
    ] {
        match body_bool(body, name)? {
            Some(true) => u.set |= bit,
            Some(false) => u.clear |= bit,
            None => {}
        }
    }
    if let Some(target) = body_string(body, "moveTo")? {
        u.move_to = Some(params::hex_id("moveTo", &target)?);
    }
    u.expires = match body.get("expires") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(false)) => Some(0),
        Some(Value::String(s)) => Some(params::parse_date("expires", s)?),
        Some(_) => {
            return Err(ApiError::invalid("\"expires\" must be a date or false"));
        }
    };
    Ok(u)
}

async fn apply_update(
    engine: &Engine,
    user_id: &str,
    mailbox_id: &str,
    ranges: &[UidRange],
    u: &Update,
) -> ApiResult<Value> {
    let updated = engine
        .set_system_flags(user_id, mailbox_id, ranges, u.set, u.clear)
        .await
        .map_err(msg_err)?;
    if let Some(expires) = u.expires {
        for m in engine
            .messages_in(user_id, mailbox_id, ranges)
            .await
            .map_err(msg_err)?
        {
            engine
                .set_message_expires(user_id, mailbox_id, m.uid, expires)
                .await
                .map_err(msg_err)?;
        }
    }
    if let Some(target) = &u.move_to {
        engine
            .api_mailbox(user_id, target)
            .await
            .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
        let moved = engine
            .copy_messages(user_id, mailbox_id, ranges, target, true)
            .await
            .map_err(msg_err)?;
        if moved.mapping.is_empty() {
            return Err(ApiError::from_engine(
                eider_engine::Error::new(eider_engine::ErrorKind::NotFound, "No such message"),
                Subject::Message,
            ));
        }
        let ids: Vec<[u32; 2]> = moved.mapping.iter().map(|(a, b)| [*a, *b]).collect();
        return Ok(json!({ "success": true, "mailbox": target, "id": ids }));
    }
    if updated == 0 {
        return Err(ApiError::from_engine(
            eider_engine::Error::new(eider_engine::ErrorKind::NotFound, "No such message"),
            Subject::Message,
        ));
    }
    Ok(json!({ "success": true, "updated": updated }))
}

/// Update Message information (a UID set: `1,2,3`, `3:15`, `3:*`)
#[utoipa::path(put, path = "/users/{user}/mailboxes/{mailbox}/messages", operation_id = "updateMessage", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox")),
    request_body(content = MessageUpdate, description = "`message` (a UID range, e.g. `1:*`) is required"),
    responses((status = 200, description = "Success")))]
pub async fn update_messages(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    let body = json_body(body)?;
    let set = body_string(&body, "message")?
        .ok_or_else(|| ApiError::invalid("\"message\" is required"))?;
    let ranges = params::uid_set("message", &set)?;
    let u = parse_update(&body)?;
    Ok(Json(
        apply_update(engine, &user_id, &m.id, &ranges, &u).await?,
    ))
}

/// Update message information with path param
#[utoipa::path(put, path = "/users/{user}/mailboxes/{mailbox}/messages/{message}", operation_id = "updateMessagePathParams", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("message" = u32, Path, description = "Message UID")),
    request_body(content = MessageUpdate),
    responses((status = 200, description = "Success")))]
pub async fn update_message(
    State(state): State<AppState>,
    Path((user_id, mailbox_id, message)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    let ranges = params::uid_set("message", &message)?;
    let body = json_body(body)?;
    let u = parse_update(&body)?;
    Ok(Json(
        apply_update(engine, &user_id, &m.id, &ranges, &u).await?,
    ))
}

/// Delete all Messages from a Mailbox
#[utoipa::path(delete, path = "/users/{user}/mailboxes/{mailbox}/messages", operation_id = "deleteMessagesInMailbox", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox")),
    responses((status = 200, description = "Success")))]
pub async fn delete_all_messages(
    State(state): State<AppState>,
    Path((user_id, mailbox_id)): Path<(String, String)>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, m) = mailbox(engine, &user_id, &mailbox_id).await?;
    query_bool(&q, "async")?;
    query_bool(&q, "skipArchive")?;
    let removed = engine
        .delete_messages(&user_id, &m.id, &[UidRange(1, u32::MAX)])
        .await
        .map_err(msg_err)?;
    Ok(Json(
        json!({ "success": true, "deleted": removed.uids.len(), "errors": 0 }),
    ))
}

/// Loads `{user}/{mailbox}/{message}`.
async fn message(
    engine: &Engine,
    user_id: &str,
    mailbox_id: &str,
    message: &str,
) -> ApiResult<(String, String, MessageRow)> {
    let (user_id, m) = mailbox(engine, user_id, mailbox_id).await?;
    let uid = params::message_uid(message)?;
    let row = engine
        .message_by_uid(&user_id, &m.id, uid)
        .await
        .map_err(msg_err)?;
    Ok((user_id, m.id, row))
}

/// The SMTP envelope as LMTP recorded it (Return-Path and Delivered-To header fields).
fn envelope(headers: &[(String, String)]) -> Value {
    let find = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().trim_matches(['<', '>']).to_string())
            .collect::<Vec<_>>()
    };
    let from = find("Return-Path").into_iter().next().unwrap_or_default();
    let rcpt: Vec<Value> = find("Delivered-To")
        .into_iter()
        .map(|r| json!({ "value": r, "formatted": r.to_lowercase() }))
        .collect();
    json!({ "from": from, "rcpt": rcpt })
}

/// Request Message information
#[utoipa::path(get, path = "/users/{user}/mailboxes/{mailbox}/messages/{message}", operation_id = "getMessage", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("message" = u32, Path, description = "Message UID"),
        ("markAsSeen" = Option<bool>, Query, description = "Set \\Seen")),
    responses((status = 200, description = "Success")))]
pub async fn get_message(
    State(state): State<AppState>,
    Path((user_id, mailbox_id, uid)): Path<(String, String, String)>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, mailbox_id, mut row) = message(engine, &user_id, &mailbox_id, &uid).await?;
    query_bool(&q, "replaceCidLinks")?;
    if query_bool(&q, "markAsSeen")?.unwrap_or(false) && row.flags & flags::SEEN == 0 {
        engine
            .set_system_flags(
                &user_id,
                &mailbox_id,
                &[UidRange(row.uid, row.uid)],
                flags::SEEN,
                0,
            )
            .await
            .map_err(msg_err)?;
        row.flags |= flags::SEEN;
    }
    let view = engine
        .message_view(&user_id, &row.content_id)
        .await
        .map_err(msg_err)?;
    let expires = engine
        .message_expires(&user_id, &mailbox_id, row.uid)
        .await
        .map_err(msg_err)?;
    let mut out = Map::new();
    out.insert("success".into(), json!(true));
    out.insert("id".into(), json!(row.uid));
    out.insert("mailbox".into(), json!(mailbox_id));
    out.insert("user".into(), json!(user_id));
    out.insert("envelope".into(), envelope(&view.headers));
    out.insert(
        "thread".into(),
        json!(thread_id(
            view.references.first().map(String::as_str),
            Some(view.message_id.trim_matches(['<', '>'])).filter(|s| !s.is_empty()),
            &row.id
        )),
    );
    out.insert(
        "from".into(),
        view.from.as_ref().map(address_json).unwrap_or(Value::Null),
    );
    let list = |l: &[MailAddress]| json!(l.iter().map(address_json).collect::<Vec<_>>());
    out.insert("replyTo".into(), list(&view.reply_to));
    out.insert("to".into(), list(&view.to));
    out.insert("cc".into(), list(&view.cc));
    out.insert("bcc".into(), list(&view.bcc));
    out.insert("subject".into(), json!(view.subject));
    out.insert("messageId".into(), json!(view.message_id));
    out.insert(
        "date".into(),
        json!(iso_date(view.date.unwrap_or(row.internal_date))),
    );
    out.insert("idate".into(), json!(iso_date(row.internal_date)));
    out.insert("size".into(), json!(row.size));
    if expires > 0 {
        out.insert("expires".into(), json!(iso_date(expires)));
    }
    flags_json(&mut out, &row);
    out.insert("html".into(), json!(view.html));
    out.insert("text".into(), json!(view.text));
    let attachments: Vec<Value> = view
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "filename": a.filename,
                "contentType": a.content_type,
                "disposition": a.disposition,
                "transferEncoding": a.transfer_encoding,
                "related": a.related,
                "sizeKb": a.size.div_ceil(1024),
                "size": a.size,
            })
        })
        .collect();
    out.insert("attachments".into(), json!(attachments));
    let params: Map<String, Value> = view
        .content_type_params
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    out.insert(
        "contentType".into(),
        json!({ "value": view.content_type, "params": params }),
    );
    out.insert("metaData".into(), json!({}));
    out.insert("references".into(), json!(view.references));
    out.insert(
        "headers".into(),
        json!(
            view.headers
                .iter()
                .map(|(k, v)| json!({ "key": k.to_lowercase(), "value": v }))
                .collect::<Vec<_>>()
        ),
    );
    out.insert("encrypted".into(), json!(false));
    Ok(Json(Value::Object(out)))
}

/// Delete a Message
#[utoipa::path(delete, path = "/users/{user}/mailboxes/{mailbox}/messages/{message}", operation_id = "deleteMessage", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("message" = u32, Path, description = "Message UID")),
    responses((status = 200, description = "Success")))]
pub async fn delete_message(
    State(state): State<AppState>,
    Path((user_id, mailbox_id, uid)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let (user_id, mailbox_id, row) = message(engine, &user_id, &mailbox_id, &uid).await?;
    engine
        .delete_messages(&user_id, &mailbox_id, &[UidRange(row.uid, row.uid)])
        .await
        .map_err(msg_err)?;
    Ok(Json(json!({ "success": true })))
}

/// Get Message source
#[utoipa::path(get, path = "/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml", operation_id = "getMessageSource", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("message" = u32, Path, description = "Message UID")),
    responses((status = 200, description = "RFC822 message source", content_type = "message/rfc822")))]
pub async fn message_source(
    State(state): State<AppState>,
    Path((user_id, mailbox_id, uid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let engine = &state.engine;
    let (user_id, _, row) = message(engine, &user_id, &mailbox_id, &uid).await?;
    let raw = engine
        .read_message(&user_id, &row.content_id)
        .await
        .map_err(msg_err)?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response())
}

/// Download Attachment
#[utoipa::path(get, path = "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}", operation_id = "getMessageAttachment", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("mailbox" = String, Path, description = "ID of the Mailbox"),
        ("message" = u32, Path, description = "Message UID"),
        ("attachment" = String, Path, description = "Attachment id, `ATT00001`")),
    responses((status = 200, description = "Attachment contents", content_type = "application/octet-stream")))]
pub async fn download_attachment(
    State(state): State<AppState>,
    Path((user_id, mailbox_id, uid, attachment)): Path<(String, String, String, String)>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Response> {
    let engine = &state.engine;
    let (user_id, _, row) = message(engine, &user_id, &mailbox_id, &uid).await?;
    let send_as_string = query_bool(&q, "sendAsString")?.unwrap_or(false);
    let valid = attachment.len() == 8
        && attachment[..3].eq_ignore_ascii_case("ATT")
        && attachment[3..].bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(ApiError::invalid(
            "\"attachment\" must be an attachment id like ATT00001",
        ));
    }
    let (content_type, filename, bytes) = engine
        .message_attachment(&user_id, &row.content_id, &attachment)
        .await
        .map_err(|e| match e.kind {
            eider_engine::ErrorKind::NotFound => ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "AttachmentNotFound",
                "This attachment does not exist",
            ),
            _ => msg_err(e),
        })?;
    let mut headers = HeaderMap::new();
    let ct = if send_as_string {
        "text/plain; charset=utf-8".to_string()
    } else {
        content_type
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let safe_name: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((headers, bytes).into_response())
}
