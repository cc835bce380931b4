//! `/users/{user}/search`: find messages across mailboxes (GET) and apply an action to every match
//! (POST). Flag, size, date and mailbox conditions run in SQL; address, subject and free-text
//! conditions are checked on stored decoded headers and, for free text, the decoded body.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::mailboxes::user;
use crate::messages::{cursor, listed_results};
use crate::params::{self, Query, cursor_json, parse_bool, parse_number};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query as QueryParams, State};
use eider_engine::browse::{Cursor, ListQuery, TextFilter, TextTerm};
use eider_engine::{Engine, MessageFilter, PageKey, UidRange, flags};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(utoipa::OpenApi)]
#[openapi(paths(search_messages, search_apply))]
pub(crate) struct Doc;

/// Search terms from a query string or a JSON body (same names in both).
fn terms(
    engine_filter: &mut MessageFilter,
    text: &mut TextFilter,
    get: &dyn Fn(&str) -> Option<Value>,
) -> ApiResult<()> {
    let string = |name: &str| -> ApiResult<Option<String>> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(format!("\"{name}\" must be a string"))),
        }
    };
    let boolean = |name: &str| -> ApiResult<Option<bool>> {
        get(name)
            .filter(|v| !v.is_null())
            .map(|v| parse_bool(name, &v))
            .transpose()
    };
    let number = |name: &str| -> ApiResult<Option<i64>> {
        get(name)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .map(|v| parse_number(name, &v).map(|n| n as i64))
            .transpose()
    };
    if let Some(m) = string("mailbox")? {
        engine_filter.mailbox_id = Some(params::hex_id("mailbox", &m)?);
    }
    if let Some(ids) = string("id")? {
        if engine_filter.mailbox_id.is_none() {
            return Err(ApiError::invalid("\"id\" needs \"mailbox\""));
        }
        engine_filter.uids = params::uid_set("id", &ids)?;
    }
    if let Some(t) = string("thread")? {
        text.thread = Some(params::hex_id("thread", &t)?);
    }
    text.query = string("query")?;
    if let Some(q) = string("q")? {
        parse_q(&q, engine_filter, text);
    }
    if let Some(d) = string("datestart")? {
        engine_filter.date_start = Some(params::parse_date("datestart", &d)?);
    }
    if let Some(d) = string("dateend")? {
        engine_filter.date_end = Some(params::parse_date("dateend", &d)?);
    }
    text.from = text.from.take().or(string("from")?);
    text.to = text.to.take().or(string("to")?);
    text.subject = text.subject.take().or(string("subject")?);
    engine_filter.min_size = number("minSize")?;
    engine_filter.max_size = number("maxSize")?;
    if let Some(a) = boolean("attachments")? {
        text.attachments = Some(a);
    }
    if let Some(f) = boolean("flagged")? {
        engine_filter.flagged = Some(f);
    }
    if let Some(s) = boolean("seen")? {
        engine_filter.seen = Some(s);
    }
    if boolean("unseen")? == Some(true) {
        engine_filter.seen = Some(false);
    }
    for name in ["useAndSearch", "includeHeaders", "metaData", "searchable"] {
        boolean(name)?;
    }
    match get("or") {
        None | Some(Value::Null) => {}
        Some(Value::Object(or)) => {
            for (key, v) in or {
                let Some(s) = v.as_str().filter(|s| !s.is_empty()) else {
                    continue;
                };
                let s = s.to_string();
                text.or.push(match key.as_str() {
                    "query" => TextTerm::Query(s),
                    "from" => TextTerm::From(s),
                    "to" => TextTerm::To(s),
                    "subject" => TextTerm::Subject(s),
                    _ => return Err(ApiError::invalid(format!("\"or.{key}\" is not allowed"))),
                });
            }
        }
        Some(_) => return Err(ApiError::invalid("\"or\" must be of type object")),
    }
    Ok(())
}

/// WildDuck's `q`: `from:x to:y subject:z is:unseen is:flagged has:attachment` and free words.
fn parse_q(q: &str, filter: &mut MessageFilter, text: &mut TextFilter) {
    let mut words = Vec::new();
    for token in q.split_whitespace() {
        match token.split_once(':') {
            Some(("from", v)) => text.from = Some(v.to_string()),
            Some(("to", v)) => text.to = Some(v.to_string()),
            Some(("subject", v)) => text.subject = Some(v.to_string()),
            Some(("is", "unseen")) | Some(("is", "unread")) => filter.seen = Some(false),
            Some(("is", "seen")) | Some(("is", "read")) => filter.seen = Some(true),
            Some(("is", "flagged")) | Some(("is", "starred")) => filter.flagged = Some(true),
            Some(("has", "attachment")) => text.attachments = Some(true),
            _ => words.push(token),
        }
    }
    if !words.is_empty() {
        let joined = words.join(" ");
        text.query = Some(match text.query.take() {
            Some(q) => format!("{q} {joined}"),
            None => joined,
        });
    }
}

/// Search for messages
#[utoipa::path(get, path = "/users/{user}/search", operation_id = "searchMessages", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User"),
        ("q" = Option<String>, Query, description = "Query string: `from:` `to:` `subject:` `is:unseen` `is:flagged` `has:attachment` and words"),
        ("mailbox" = Option<String>, Query, description = "ID of the Mailbox"),
        ("query" = Option<String>, Query, description = "Words in headers or body"),
        ("from" = Option<String>, Query, description = "Partial match of From:"),
        ("to" = Option<String>, Query, description = "Partial match of To: or Cc:"),
        ("subject" = Option<String>, Query, description = "Partial match of Subject:"),
        ("datestart" = Option<String>, Query, description = "Earliest receive time"),
        ("dateend" = Option<String>, Query, description = "Latest receive time"),
        ("minSize" = Option<u64>, Query, description = "Smallest size"),
        ("maxSize" = Option<u64>, Query, description = "Largest size"),
        ("attachments" = Option<bool>, Query, description = "Has attachments"),
        ("flagged" = Option<bool>, Query, description = "Is flagged"),
        ("unseen" = Option<bool>, Query, description = "Is unseen"),
        ("seen" = Option<bool>, Query, description = "Is seen"),
        ("limit" = Option<u32>, Query, description = "Page size, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default)"),
        ("next" = Option<String>, Query, description = "Cursor of the next page"),
        ("previous" = Option<String>, Query, description = "Cursor of the previous page"),
        ("id" = Option<String>, Query, description = "UID range within `mailbox`, e.g. `1:100`"),
        ("thread" = Option<String>, Query, description = "Thread ID (24 hex)"),
        ("useAndSearch" = Option<bool>, Query, description = "Accepted; terms always combine with AND"),
        ("includeHeaders" = Option<bool>, Query, description = "Accepted"),
        ("metaData" = Option<bool>, Query, description = "Accepted"),
        ("threadCounters" = Option<bool>, Query, description = "Include `threadMessageCount` (scans the account)"),
        ("searchable" = Option<bool>, Query, description = "Accepted")),
    responses((status = 200, description = "Success")))]
pub async fn search_messages(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let user_id = user(engine, &user_id).await?;
    let mut filter = MessageFilter::default();
    let mut text = TextFilter::default();
    let or = q
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("or[")?.strip_suffix(']')?;
            Some((key.to_string(), Value::String(v.clone())))
        })
        .collect::<Map<String, Value>>();
    let get = |name: &str| -> Option<Value> {
        if name == "or" {
            return (!or.is_empty()).then(|| Value::Object(or.clone()));
        }
        q.get(name).map(|v| Value::String(v.clone()))
    };
    terms(&mut filter, &mut text, &get)?;
    let counters = get("threadCounters")
        .map(|v| parse_bool("threadCounters", &v))
        .transpose()?
        .unwrap_or(false);
    check_mailbox(engine, &user_id, &filter).await?;
    let query = ListQuery {
        filter,
        text,
        by_uid: false,
        ascending: params::ascending(&q, false)?,
        limit: params::limit(&q)?,
        cursor: cursor(&q)?,
    };
    if matches!(
        query.cursor,
        Some(Cursor::Next(PageKey::Uid(_)) | Cursor::Previous(PageKey::Uid(_)))
    ) {
        return Err(ApiError::invalid("\"next\" must be a valid cursor"));
    }
    let page = engine
        .list_messages(&user_id, &query)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::Message))?;
    Ok(Json(json!({
        "success": true,
        "query": q.get("q").or(q.get("query")).cloned().unwrap_or_default(),
        "total": page.total,
        "page": 1,
        "previousCursor": cursor_json(&page.previous),
        "nextCursor": cursor_json(&page.next),
        "results": listed_results(engine, &user_id, &page.items, counters).await?,
    })))
}

async fn check_mailbox(engine: &Engine, user_id: &str, filter: &MessageFilter) -> ApiResult<()> {
    if let Some(m) = &filter.mailbox_id {
        engine
            .api_mailbox(user_id, m)
            .await
            .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
    }
    Ok(())
}

/// Messages handled per round of a search-and-apply.
const APPLY_BATCH: u32 = 200;

/// Search and update messages
#[utoipa::path(post, path = "/users/{user}/search", operation_id = "searchApplyMessages", tag = "Messages",
    params(("user" = String, Path, description = "ID of the User")),
    request_body(content = Value, description = "The search terms of GET /users/{user}/search and `action`: `moveTo`, `seen`, `flagged`, `delete`"),
    responses((status = 200, description = "Success")))]
pub async fn search_apply(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let engine = &state.engine;
    let user_id = user(engine, &user_id).await?;
    let body = params::json_body(body)?;
    let mut filter = MessageFilter::default();
    let mut text = TextFilter::default();
    let get = |name: &str| body.get(name).cloned();
    terms(&mut filter, &mut text, &get)?;
    check_mailbox(engine, &user_id, &filter).await?;
    let action = match body.get("action") {
        Some(Value::Object(a)) => a.clone(),
        None | Some(Value::Null) => return Err(ApiError::invalid("\"action\" is required")),
        Some(_) => return Err(ApiError::invalid("\"action\" must be of type object")),
    };
    let move_to = match params::body_string(&action, "moveTo")? {
        Some(t) => {
            let t = params::hex_id("moveTo", &t)?;
            engine
                .api_mailbox(&user_id, &t)
                .await
                .map_err(|e| ApiError::from_engine(e, Subject::Mailbox))?;
            // Messages already there need no move, and moved copies must not match again.
            filter.exclude_mailboxes.push(t.clone());
            Some(t)
        }
        None => None,
    };
    let seen = params::body_bool(&action, "seen")?;
    let flagged = params::body_bool(&action, "flagged")?;
    let delete = params::body_bool(&action, "delete")?.unwrap_or(false);
    if move_to.is_none() && seen.is_none() && flagged.is_none() && !delete {
        return Err(ApiError::invalid(
            "\"action\" must name at least one action",
        ));
    }
    let (mut set, mut clear) = (0, 0);
    for (value, bit) in [(seen, flags::SEEN), (flagged, flags::FLAGGED)] {
        match value {
            Some(true) => set |= bit,
            Some(false) => clear |= bit,
            None => {}
        }
    }
    let err = |e| ApiError::from_engine(e, Subject::Message);
    let mut cursor = None;
    let mut matched = 0usize;
    loop {
        let query = ListQuery {
            filter: filter.clone(),
            text: text.clone(),
            by_uid: false,
            ascending: true,
            limit: APPLY_BATCH,
            cursor: cursor.clone(),
        };
        let page = engine.list_messages(&user_id, &query).await.map_err(err)?;
        let mut by_mailbox: BTreeMap<String, Vec<UidRange>> = BTreeMap::new();
        for item in &page.items {
            by_mailbox
                .entry(item.mailbox_id.clone())
                .or_default()
                .push(UidRange(item.row.uid, item.row.uid));
        }
        matched += page.items.len();
        for (mailbox_id, ranges) in by_mailbox {
            if set != 0 || clear != 0 {
                engine
                    .set_system_flags(&user_id, &mailbox_id, &ranges, set, clear)
                    .await
                    .map_err(err)?;
            }
            if delete {
                engine
                    .delete_messages(&user_id, &mailbox_id, &ranges)
                    .await
                    .map_err(err)?;
            } else if let Some(target) = &move_to {
                engine
                    .copy_messages(&user_id, &mailbox_id, &ranges, target, true)
                    .await
                    .map_err(err)?;
            }
        }
        match page.next {
            Some(k) => cursor = Some(Cursor::Next(k)),
            None => break,
        }
    }
    // WildDuck queues the work and answers with a task id; Eider has done it by now.
    Ok(Json(json!({
        "success": true,
        "scheduled": eider_engine::new_id(),
        "existing": false,
        "matched": matched,
    })))
}
