//! `/users/{user}/autoreply`: the user's out-of-office reply, stored and returned (sending it at
//! delivery is not built yet).

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::validate as v;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use eider_engine::AutoreplyRow;
use serde_json::{Value, json};

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_autoreply, update_autoreply, delete_autoreply))]
pub(crate) struct Doc;

fn err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::User)
}

fn user(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(id) = path.map_err(|e| ApiError::invalid(format!("\"user\" {e}")))?;
    v::hex_id("user", &id)
}

fn date(ms: i64) -> Value {
    if ms == 0 {
        json!(false)
    } else {
        json!(v::iso_date_ms(ms))
    }
}

/// Get the autoreply of a user
#[utoipa::path(get, path = "/users/{user}/autoreply", tag = "Autoreplies", operation_id = "getAutoreply",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn get_autoreply(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let user_id = user(path)?;
    let a = state.engine.autoreply(&user_id).await.map_err(err)?;
    let mut out = json!({
        "success": true,
        "status": false,
        "name": "",
        "subject": "",
        "text": "",
        "html": "",
        "start": false,
        "end": false,
    });
    if let Some(a) = a {
        out = json!({
            "success": true,
            "status": a.status,
            "name": a.name,
            "subject": a.subject,
            "text": a.text,
            "html": a.html,
            "start": date(a.start_ms),
            "end": date(a.end_ms),
            "created": v::iso_date(a.created),
        });
    }
    Ok(Json(out))
}

/// Create or update the autoreply of a user (fields left out keep their value)
#[utoipa::path(put, path = "/users/{user}/autoreply", tag = "Autoreplies", operation_id = "updateAutoreply",
    params(("user" = String, Path, description = "ID of the User")),
    request_body(content = Object, description = "status, name, subject, text, html, start, end"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn update_autoreply(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let user_id = user(path)?;
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let status = v::boolean(&body, "status")?;
    let name = v::string(&body, "name", 128, false)?;
    let subject = v::string(&body, "subject", 2 * 1024, false)?;
    let text = v::string(&body, "text", 128 * 1024, false)?;
    let html = v::string(&body, "html", 128 * 1024, false)?;
    let start = v::date_ms(&body, "start")?;
    let end = v::date_ms(&body, "end")?;
    let mut row = state
        .engine
        .autoreply(&user_id)
        .await
        .map_err(err)?
        .unwrap_or_else(|| AutoreplyRow {
            user_id: user_id.clone(),
            ..Default::default()
        });
    if let Some(s) = status {
        row.status = s;
    }
    for (field, value) in [
        (&mut row.name, name),
        (&mut row.subject, subject),
        (&mut row.text, text),
        (&mut row.html, html),
    ] {
        if let Some(value) = value {
            *field = value;
        }
    }
    if let Some(s) = start {
        row.start_ms = s;
    }
    if let Some(e) = end {
        row.end_ms = e;
    }
    let id = state.engine.set_autoreply(&row).await.map_err(err)?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// Delete the autoreply of a user
#[utoipa::path(delete, path = "/users/{user}/autoreply", tag = "Autoreplies", operation_id = "deleteAutoreply",
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn delete_autoreply(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let user_id = user(path)?;
    state.engine.delete_autoreply(&user_id).await.map_err(err)?;
    Ok(Json(json!({ "success": true })))
}
