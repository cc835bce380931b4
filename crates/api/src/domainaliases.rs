//! `/domainaliases` routes: mail for `user@alias` reaches `user@domain`.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::validate as v;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

#[derive(utoipa::OpenApi)]
#[openapi(paths(list_aliases, create_alias, resolve_alias, get_alias, delete_alias))]
pub(crate) struct Doc;

fn err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::DomainAlias)
}

/// List domain aliases
#[utoipa::path(get, path = "/domainaliases", tag = "DomainAliases", operation_id = "getDomainAliases",
    params(("query" = Option<String>, Query, description = "Partial match of an alias or domain"),
        ("limit" = Option<i64>, Query, description = "How many records to return (1-250, default 20)"),
        ("next" = Option<String>, Query, description = "Cursor for the next page"),
        ("previous" = Option<String>, Query, description = "Cursor for the previous page")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn list_aliases(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let text = v::string(&q, "query", 255, true)?.unwrap_or_default();
    let paging = v::paging(&q)?;
    let (rows, total) = state
        .engine
        .list_domain_aliases(
            &text,
            paging.after.as_deref(),
            paging.before.as_deref(),
            paging.limit + 1,
        )
        .await
        .map_err(err)?;
    let (rows, previous, next) = crate::addresses::page_of(rows, &paging, |a| a.alias_key.clone());
    let results: Vec<Value> = rows
        .iter()
        .map(|a| json!({ "id": a.id, "alias": a.alias, "domain": a.domain }))
        .collect();
    Ok(Json(json!({
        "success": true,
        "query": text,
        "total": total,
        "page": paging.page,
        "previousCursor": previous,
        "nextCursor": next,
        "results": results,
    })))
}

/// Create a domain alias
#[utoipa::path(post, path = "/domainaliases", tag = "DomainAliases", operation_id = "createDomainAlias",
    request_body(content = Object, description = "alias, domain (both required)"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn create_alias(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let alias = v::required_string(&body, "alias", 255)?;
    let domain = v::required_string(&body, "domain", 255)?;
    let id = state
        .engine
        .add_domain_alias(&alias, &domain)
        .await
        .map_err(err)?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// Resolve a domain alias name to its id
#[utoipa::path(get, path = "/domainaliases/resolve/{alias}", tag = "DomainAliases", operation_id = "resolveDomainAlias",
    params(("alias" = String, Path, description = "Domain alias, Unicode or ASCII form")),
    responses((status = 200, description = "Success", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn resolve_alias(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(alias) = path.map_err(|e| ApiError::invalid(format!("\"alias\" {e}")))?;
    let row = state.engine.find_domain_alias(&alias).await.map_err(err)?;
    Ok(Json(json!({ "success": true, "id": row.id })))
}

/// Get a domain alias
#[utoipa::path(get, path = "/domainaliases/{alias}", tag = "DomainAliases", operation_id = "getDomainAlias",
    params(("alias" = String, Path, description = "ID of the domain alias")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn get_alias(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(id) = path.map_err(|e| ApiError::invalid(format!("\"alias\" {e}")))?;
    let id = v::hex_id("alias", &id)?;
    let a = state.engine.domain_alias(&id).await.map_err(err)?;
    Ok(Json(json!({
        "success": true,
        "id": a.id,
        "alias": a.alias,
        "domain": a.domain,
        "created": v::iso_date(a.created),
    })))
}

/// Delete a domain alias
#[utoipa::path(delete, path = "/domainaliases/{alias}", tag = "DomainAliases", operation_id = "deleteDomainAlias",
    params(("alias" = String, Path, description = "ID of the domain alias")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn delete_alias(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(id) = path.map_err(|e| ApiError::invalid(format!("\"alias\" {e}")))?;
    let id = v::hex_id("alias", &id)?;
    state.engine.delete_domain_alias(&id).await.map_err(err)?;
    Ok(Json(json!({ "success": true })))
}
