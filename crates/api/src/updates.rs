//! `GET /users/{user}/updates`: the account's changes as Server-Sent Events, read from the journal.
//!
//! Each event's `id:` is the journal sequence number. A client resumes with `Last-Event-ID`
//! (header, or WildDuck's query parameter): the stream replays the journal after it, then waits
//! on the engine notifier and re-reads the journal on every notification, so a missed or
//! duplicated notification can neither lose nor repeat an event. Memory per stream is one
//! journal batch.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::mailboxes::user;
use crate::params::{Query, iso_date};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use eider_engine::{Engine, Flags, JournalEntry, UidRange};
use futures::Stream;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(utoipa::OpenApi)]
#[openapi(paths(updates))]
pub(crate) struct Doc;

/// Journal entries read per round.
const JOURNAL_BATCH: i64 = 100;
/// Comment lines keep proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// The journal is re-read at least this often, in case a notification from another instance was lost
/// (the same safety net IMAP IDLE has).
const SAFETY_POLL: Duration = Duration::from_secs(30);

struct Feed {
    engine: Engine,
    user_id: String,
    last_seq: i64,
    pending: VecDeque<Event>,
    notifications: broadcast::Receiver<eider_engine::Notification>,
    greeted: bool,
}

/// Open change stream
#[utoipa::path(get, path = "/users/{user}/updates", operation_id = "getUpdates", tag = "Users",
    params(("user" = String, Path, description = "ID of the User"),
        ("Last-Event-ID" = Option<String>, Query, description = "Resume after this event id (also as a header)")),
    responses((status = 200, description = "Event stream", content_type = "text/event-stream")))]
pub async fn updates(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let engine = state.engine.clone();
    let user_id = user(&engine, &user_id).await?;
    let given = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("Last-Event-ID").cloned());
    // Subscribe before reading the head, so nothing between the two is missed.
    let notifications = engine.notifier().subscribe();
    let last_seq = match given.filter(|s| !s.trim().is_empty()) {
        Some(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid("\"Last-Event-ID\" must be an event id"))?,
        None => engine
            .journal_head(&user_id)
            .await
            .map_err(|e| ApiError::from_engine(e, crate::error::Subject::User))?,
    };
    let feed = Feed {
        engine,
        user_id,
        last_seq,
        pending: VecDeque::new(),
        notifications,
        greeted: false,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        let event = next_event(&mut feed).await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The next event to send; None ends the stream (the store failed).
async fn next_event(feed: &mut Feed) -> Option<Event> {
    if !feed.greeted {
        feed.greeted = true;
        return Some(Event::default().comment(format!("eider [{}]", feed.user_id)));
    }
    loop {
        if let Some(e) = feed.pending.pop_front() {
            return Some(e);
        }
        let entries = match feed
            .engine
            .journal_since(&feed.user_id, feed.last_seq, JOURNAL_BATCH)
            .await
        {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "updates stream: journal read failed");
                return None;
            }
        };
        if entries.is_empty() {
            wait_for_change(feed).await;
            continue;
        }
        for entry in entries {
            feed.last_seq = entry.seq;
            if let Some(data) = event_data(&feed.engine, &feed.user_id, &entry).await {
                feed.pending.push_back(
                    Event::default()
                        .id(entry.seq.to_string())
                        .data(data.to_string()),
                );
            }
        }
    }
}

/// Waits for a notification about this user (or a lag, which means "re-read"), at most
/// `SAFETY_POLL`: notifications are only a doorbell, so the journal is re-read now and then anyway.
async fn wait_for_change(feed: &mut Feed) {
    let poll = tokio::time::sleep(SAFETY_POLL);
    tokio::pin!(poll);
    loop {
        tokio::select! {
            n = feed.notifications.recv() => match n {
                // An empty user means "anything may have changed" (the cluster link was down).
                Ok(n) if n.concerns_user(&feed.user_id) => return,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => {
                    // No notifier left: fall back to polling.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return;
                }
            },
            _ = &mut poll => return,
        }
    }
}

/// WildDuck's event payload for one journal entry.
async fn event_data(engine: &Engine, user_id: &str, e: &JournalEntry) -> Option<Value> {
    let current = |uid: i64| async move {
        engine
            .messages_in(user_id, &e.mailbox_id, &[UidRange(uid as u32, uid as u32)])
            .await
            .ok()
            .and_then(|rows| rows.into_iter().next())
    };
    Some(match e.kind.as_str() {
        "add" => {
            let row = current(e.uid).await;
            let mut v = json!({
                "command": "EXISTS",
                "mailbox": e.mailbox_id,
                "uid": e.uid,
                "idate": iso_date(e.created),
            });
            if let Some(row) = row {
                v["message"] = json!(row.id);
                v["unseen"] = json!(row.flags & eider_engine::flags::SEEN == 0);
            } else if !e.data.is_empty() {
                v["message"] = json!(e.data);
            }
            v
        }
        "expunge" => json!({ "command": "EXPUNGE", "mailbox": e.mailbox_id, "uid": e.uid }),
        "flags" => {
            let mut v = json!({ "command": "FETCH", "mailbox": e.mailbox_id, "uid": e.uid });
            if let Some(row) = current(e.uid).await {
                v["message"] = json!(row.id);
                v["flags"] = json!(Flags::from_stored(row.flags, &row.keywords).names());
            }
            v
        }
        "mailbox_create" => json!({ "command": "CREATE", "mailbox": e.mailbox_id, "path": e.data }),
        "mailbox_rename" => json!({ "command": "RENAME", "mailbox": e.mailbox_id, "path": e.data }),
        "mailbox_delete" => json!({ "command": "DELETE", "mailbox": e.mailbox_id }),
        _ => return None,
    })
}
