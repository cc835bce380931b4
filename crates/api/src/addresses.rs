//! `/addresses` and `/users/{user}/addresses*` routes: user, wildcard and forwarded addresses,
//! resolve, renameDomain and the address register.

use crate::AppState;
use crate::error::{ApiError, ApiResult, Subject};
use crate::validate::{self as v, Paging};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use eider_engine::{AddressChange, AddressEntry, AddressFilter, AddressInput, Engine};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

type PathMap = Result<Path<HashMap<String, String>>, PathRejection>;
type QueryMap = Result<Query<Vec<(String, String)>>, QueryRejection>;
type Body = Result<Bytes, BytesRejection>;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_addresses,
    create_user_address,
    list_user_addresses,
    get_user_address,
    update_user_address,
    delete_user_address,
    address_register,
    update_address_register,
    create_forwarded,
    get_forwarded,
    update_forwarded,
    delete_forwarded,
    resolve_address,
    rename_domain
))]
pub(crate) struct Doc;

fn addr_err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::Address)
}

fn user_err(e: eider_engine::Error) -> ApiError {
    ApiError::from_engine(e, Subject::User)
}

/// Errors about the user come first (UserNotFound), then about the address.
fn either_err(e: eider_engine::Error) -> ApiError {
    if e.kind == eider_engine::ErrorKind::NotFound && e.reason.is_none() {
        user_err(e)
    } else {
        addr_err(e)
    }
}

fn param(p: &HashMap<String, String>, name: &str) -> ApiResult<String> {
    p.get(name)
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("\"{name}\" is required")))
}

/// Fields shared by user and forwarded addresses, and which of them the request names.
fn address_input(
    body: &Map<String, Value>,
    required: bool,
) -> ApiResult<(AddressInput, AddressChange)> {
    v::session_fields(body)?;
    let address = if required {
        Some(v::required_string(body, "address", 255)?)
    } else {
        v::string(body, "address", 255, true)?
    };
    let name = v::string(body, "name", 128, false)?;
    let tags = v::strings(body, "tags", 128, 1000)?;
    let main = v::boolean(body, "main")?;
    let input = AddressInput {
        address: address.clone().unwrap_or_default(),
        name: name.clone(),
        main: main.unwrap_or(false),
        allow_wildcard: v::boolean(body, "allowWildcard")?.unwrap_or(false),
        tags: tags.clone(),
        meta_data: v::metadata(body, "metaData")?,
        internal_data: v::metadata(body, "internalData")?,
        ..Default::default()
    };
    let change = AddressChange {
        address: address.is_some(),
        name: name.is_some(),
        tags: tags.is_some(),
        main,
    };
    Ok((input, change))
}

/// `autoreply` of a forwarded address, stored as its JSON object.
fn autoreply_input(body: &Map<String, Value>) -> ApiResult<Option<String>> {
    let Some(value) = body.get("autoreply").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Object(a) = value else {
        return Err(ApiError::invalid("\"autoreply\" must be of type object"));
    };
    let status = v::boolean(a, "status")?.unwrap_or(true);
    let mut out = Map::new();
    out.insert("status".into(), json!(status));
    for (field, max) in [
        ("name", 128),
        ("subject", 2 * 1024),
        ("text", 128 * 1024),
        ("html", 128 * 1024),
    ] {
        if let Some(s) = v::string(a, field, max, false)? {
            out.insert(field.into(), json!(s));
        }
    }
    for field in ["start", "end"] {
        if let Some(ms) = v::date_ms(a, field)? {
            out.insert(
                field.into(),
                if ms == 0 {
                    json!(false)
                } else {
                    json!(v::iso_date_ms(ms))
                },
            );
        }
    }
    Ok(Some(Value::Object(out).to_string()))
}

fn tags_of(e: &AddressEntry) -> Value {
    v::stored_json(&e.tags)
}

fn targets_of(e: &AddressEntry) -> Value {
    serde_json::from_str(&e.targets).unwrap_or_else(|_| json!([]))
}

/// `metaData`/`internalData` are shown when stored non-empty (or when the listing asks for them).
fn add_metadata(out: &mut Map<String, Value>, e: &AddressEntry, meta: bool, internal: bool) {
    let meta_v = v::stored_json(&e.meta_data);
    if meta || meta_v.as_object().is_some_and(|m| !m.is_empty()) {
        out.insert("metaData".into(), meta_v);
    }
    let internal_v = v::stored_json(&e.internal_data);
    if internal || internal_v.as_object().is_some_and(|m| !m.is_empty()) {
        out.insert("internalData".into(), internal_v);
    }
}

fn user_address_json(e: &AddressEntry, user_name: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(e.id));
    let name = if e.name.is_empty() {
        user_name
    } else {
        &e.name
    };
    out.insert("name".into(), json!(name));
    out.insert("address".into(), json!(e.address));
    out.insert("main".into(), json!(e.main));
    out.insert("created".into(), json!(v::iso_date(e.created)));
    out.insert("tags".into(), tags_of(e));
    add_metadata(&mut out, e, false, false);
    out
}

fn forwarded_json(e: &AddressEntry) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(e.id));
    out.insert("address".into(), json!(e.address));
    out.insert("name".into(), json!(e.name));
    out.insert("targets".into(), targets_of(e));
    out.insert(
        "limits".into(),
        json!({ "forwards": { "allowed": e.forwards, "used": 0, "ttl": false } }),
    );
    out.insert("autoreply".into(), v::stored_json(&e.autoreply));
    out.insert("created".into(), json!(v::iso_date(e.created)));
    out.insert("tags".into(), tags_of(e));
    out.insert("forwardedDisabled".into(), json!(e.forwarded_disabled));
    add_metadata(&mut out, e, false, false);
    out
}

fn success(mut body: Map<String, Value>) -> Json<Value> {
    let mut out = Map::new();
    out.insert("success".into(), json!(true));
    out.append(&mut body);
    Json(Value::Object(out))
}

/// Comma separated tags, lowercased and de-duplicated.
fn tag_list(map: &Map<String, Value>, name: &str) -> ApiResult<Vec<String>> {
    let raw = v::string(map, name, 1024, true)?.unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for t in raw.split(',').map(|t| t.trim().to_lowercase()) {
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Runs a listing query for `limit + 1` rows and trims it to a page with cursors.
pub(crate) fn page_of<T>(
    mut rows: Vec<T>,
    paging: &Paging,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Value, Value) {
    let more = rows.len() as i64 > paging.limit;
    if more {
        if paging.before.is_some() {
            rows.remove(0);
        } else {
            rows.truncate(paging.limit as usize);
        }
    }
    let first = rows.first().map(&key);
    let last = rows.last().map(&key);
    let (previous, next) = v::cursors(paging, first.as_deref(), last.as_deref(), more);
    (rows, previous, next)
}

/// List registered addresses
#[utoipa::path(get, path = "/addresses", tag = "Addresses", operation_id = "getAddresses",
    params(
        ("query" = Option<String>, Query, description = "Partial match of an address"),
        ("forward" = Option<String>, Query, description = "Partial match of a forward email address or URL"),
        ("tags" = Option<String>, Query, description = "Comma separated list of tags; the address must have at least one"),
        ("requiredTags" = Option<String>, Query, description = "Comma separated list of tags; the address must have all"),
        ("metaData" = Option<bool>, Query, description = "Include metaData"),
        ("internalData" = Option<bool>, Query, description = "Include internalData"),
        ("limit" = Option<i64>, Query, description = "How many records to return (1-250, default 20)"),
        ("next" = Option<String>, Query, description = "Cursor for the next page"),
        ("previous" = Option<String>, Query, description = "Cursor for the previous page"),
    ),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn list_addresses(
    State(state): State<AppState>,
    query: QueryMap,
) -> ApiResult<Json<Value>> {
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let text = v::string(&q, "query", 255, true)?.unwrap_or_default();
    let filter = AddressFilter {
        query: (!text.is_empty()).then(|| text.to_lowercase()),
        forward: v::string(&q, "forward", 255, true)?.map(|f| f.to_lowercase()),
        any_tags: tag_list(&q, "tags")?,
        all_tags: tag_list(&q, "requiredTags")?,
    };
    let meta = v::boolean(&q, "metaData")?.unwrap_or(false);
    let internal = v::boolean(&q, "internalData")?.unwrap_or(false);
    let paging = v::paging(&q)?;
    let page = state
        .engine
        .list_addresses(
            &filter,
            paging.after.as_deref(),
            paging.before.as_deref(),
            paging.limit + 1,
        )
        .await
        .map_err(addr_err)?;
    let (rows, previous, next) = page_of(page.rows, &paging, |e| e.normalized.clone());
    let results: Vec<Value> = rows
        .iter()
        .map(|e| {
            let mut out = Map::new();
            out.insert("id".into(), json!(e.id));
            if !e.name.is_empty() {
                out.insert("name".into(), json!(e.name));
            }
            out.insert("address".into(), json!(e.address));
            if !e.forwarded {
                out.insert("user".into(), json!(e.user_id));
            }
            out.insert("forwarded".into(), json!(e.forwarded));
            out.insert(
                "forwardedDisabled".into(),
                json!(e.forwarded && e.forwarded_disabled),
            );
            if e.forwarded {
                out.insert("targets".into(), targets_of(e));
            }
            out.insert("tags".into(), tags_of(e));
            if meta {
                out.insert("metaData".into(), v::stored_json(&e.meta_data));
            }
            if internal {
                out.insert("internalData".into(), v::stored_json(&e.internal_data));
            }
            Value::Object(out)
        })
        .collect();
    Ok(Json(json!({
        "success": true,
        "query": text,
        "total": page.total,
        "page": paging.page,
        "previousCursor": previous,
        "nextCursor": next,
        "results": results,
    })))
}

/// Create a new address for a user
#[utoipa::path(post, path = "/users/{user}/addresses", tag = "Addresses", operation_id = "createUserAddress",
    params(("user" = String, Path, description = "ID of the User")),
    request_body(content = Object, description = "address (required), name, main, allowWildcard, tags, metaData, internalData"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn create_user_address(
    State(state): State<AppState>,
    path: PathMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user = v::hex_id("user", &param(&p, "user")?)?;
    let body = v::body(body)?;
    let (input, _) = address_input(&body, true)?;
    let id = state
        .engine
        .add_user_address(&user, &input)
        .await
        .map_err(either_err)?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// List a user's addresses
#[utoipa::path(get, path = "/users/{user}/addresses", tag = "Addresses", operation_id = "getUserAddresses",
    params(("user" = String, Path, description = "ID of the User"),
        ("metaData" = Option<bool>, Query, description = "Include metaData"),
        ("internalData" = Option<bool>, Query, description = "Include internalData")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn list_user_addresses(
    State(state): State<AppState>,
    path: PathMap,
    query: QueryMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let meta = v::boolean(&q, "metaData")?.unwrap_or(false);
    let internal = v::boolean(&q, "internalData")?.unwrap_or(false);
    let user = state.engine.get_user(&user_id).await.map_err(user_err)?;
    let entries = state
        .engine
        .user_address_entries(&user_id)
        .await
        .map_err(user_err)?;
    let results: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut out = user_address_json(e, &user.name);
            out.remove("metaData");
            out.remove("internalData");
            add_metadata(&mut out, e, meta, internal);
            if !meta {
                out.remove("metaData");
            }
            if !internal {
                out.remove("internalData");
            }
            Value::Object(out)
        })
        .collect();
    Ok(Json(json!({ "success": true, "results": results })))
}

/// Get one address of a user
#[utoipa::path(get, path = "/users/{user}/addresses/{address}", tag = "Addresses", operation_id = "getUserAddress",
    params(("user" = String, Path, description = "ID of the User"), ("address" = String, Path, description = "ID of the Address")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn get_user_address(
    State(state): State<AppState>,
    path: PathMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let id = v::hex_id("address", &param(&p, "address")?)?;
    let user = state.engine.get_user(&user_id).await.map_err(user_err)?;
    let entry = state
        .engine
        .user_address(&user_id, &id)
        .await
        .map_err(either_err)?;
    Ok(success(user_address_json(&entry, &user.name)))
}

/// Update an address of a user
#[utoipa::path(put, path = "/users/{user}/addresses/{address}", tag = "Addresses", operation_id = "updateUserAddress",
    params(("user" = String, Path, description = "ID of the User"), ("address" = String, Path, description = "ID of the Address")),
    request_body(content = Object, description = "name, address, main, tags, metaData, internalData"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn update_user_address(
    State(state): State<AppState>,
    path: PathMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let id = v::hex_id("id", &param(&p, "address")?)?;
    let body = v::body(body)?;
    let (input, change) = address_input(&body, false)?;
    state
        .engine
        .update_user_address(&user_id, &id, &input, &change)
        .await
        .map_err(either_err)?;
    Ok(Json(json!({ "success": true })))
}

/// Delete an address of a user
#[utoipa::path(delete, path = "/users/{user}/addresses/{address}", tag = "Addresses", operation_id = "deleteUserAddress",
    params(("user" = String, Path, description = "ID of the User"), ("address" = String, Path, description = "ID of the Address")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn delete_user_address(
    State(state): State<AppState>,
    path: PathMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let id = v::hex_id("address", &param(&p, "address")?)?;
    state
        .engine
        .delete_user_address(&user_id, &id)
        .await
        .map_err(either_err)?;
    Ok(Json(json!({ "success": true })))
}

/// Search the user's address register (senders of mail delivered to the user)
#[utoipa::path(get, path = "/users/{user}/addressregister", tag = "Addresses", operation_id = "getUserAddressregister",
    params(("user" = String, Path, description = "ID of the User"),
        ("query" = String, Query, description = "Prefix of an address or a name"),
        ("limit" = Option<i64>, Query, description = "How many records to return (1-250, default 20)")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "No such user", body = Object)))]
pub async fn address_register(
    State(state): State<AppState>,
    path: PathMap,
    query: QueryMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let text = v::required_string(&q, "query", 255)?;
    let limit = v::number(&q, "limit", 1.0, 250.0)?.unwrap_or(20.0) as i64;
    let rows = state
        .engine
        .search_address_register(&user_id, &text, limit)
        .await
        .map_err(user_err)?;
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut out = json!({ "id": r.id, "address": r.address });
            if !r.name.is_empty() {
                out["name"] = json!(r.name);
            }
            out
        })
        .collect();
    Ok(Json(json!({ "success": true, "results": results })))
}

/// Update an entry of the address register
#[utoipa::path(put, path = "/users/{user}/addressregister/{address}", tag = "Addresses", operation_id = "updateAddressAddressregister",
    params(("user" = String, Path, description = "ID of the User"), ("address" = String, Path, description = "ID of the register entry")),
    request_body(content = Object, description = "disabled (required), name"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn update_address_register(
    State(state): State<AppState>,
    path: PathMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let user_id = v::hex_id("user", &param(&p, "user")?)?;
    let id = v::hex_id("id", &param(&p, "address")?)?;
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let disabled = v::boolean(&body, "disabled")?
        .ok_or_else(|| ApiError::invalid("\"disabled\" is required"))?;
    let name = v::string(&body, "name", 255, false)?;
    state
        .engine
        .update_address_register(&user_id, &id, disabled, name.as_deref())
        .await
        .map_err(either_err)?;
    Ok(Json(json!({ "success": true })))
}

fn forwarded_input(
    body: &Map<String, Value>,
    required: bool,
) -> ApiResult<(AddressInput, AddressChange)> {
    let (mut input, change) = address_input(body, required)?;
    input.targets = v::strings(body, "targets", 1024, eider_engine_max_targets())?;
    input.forwards = v::number(body, "forwards", 0.0, 1e15)?.map(|f| f as i64);
    input.autoreply = autoreply_input(body)?;
    input.forwarded_disabled = v::boolean(body, "forwardedDisabled")?;
    Ok((input, change))
}

fn eider_engine_max_targets() -> usize {
    eider_engine::MAX_FORWARD_TARGETS
}

/// Create a forwarded address
#[utoipa::path(post, path = "/addresses/forwarded", tag = "Addresses", operation_id = "createForwardedAddress",
    request_body(content = Object, description = "address (required), name, targets, forwards, allowWildcard, autoreply, tags, metaData, internalData"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn create_forwarded(State(state): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let body = v::body(body)?;
    let (input, _) = forwarded_input(&body, true)?;
    let id = state
        .engine
        .add_forwarded_address(&input)
        .await
        .map_err(addr_err)?;
    Ok(Json(json!({ "success": true, "id": id })))
}

/// Get a forwarded address
#[utoipa::path(get, path = "/addresses/forwarded/{address}", tag = "Addresses", operation_id = "getForwardedAddress",
    params(("address" = String, Path, description = "ID of the Address")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn get_forwarded(State(state): State<AppState>, path: PathMap) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let id = v::hex_id("address", &param(&p, "address")?)?;
    let entry = state
        .engine
        .forwarded_address(&id)
        .await
        .map_err(addr_err)?;
    Ok(success(forwarded_json(&entry)))
}

/// Update a forwarded address
#[utoipa::path(put, path = "/addresses/forwarded/{address}", tag = "Addresses", operation_id = "updateForwardedAddress",
    params(("address" = String, Path, description = "ID of the Address")),
    request_body(content = Object, description = "address, name, targets, forwards, autoreply, tags, metaData, internalData, forwardedDisabled"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn update_forwarded(
    State(state): State<AppState>,
    path: PathMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let id = v::hex_id("id", &param(&p, "address")?)?;
    let body = v::body(body)?;
    let (input, change) = forwarded_input(&body, false)?;
    state
        .engine
        .update_forwarded_address(&id, &input, &change)
        .await
        .map_err(addr_err)?;
    Ok(Json(json!({ "success": true })))
}

/// Delete a forwarded address
#[utoipa::path(delete, path = "/addresses/forwarded/{address}", tag = "Addresses", operation_id = "deleteForwardedAddress",
    params(("address" = String, Path, description = "ID of the Address")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn delete_forwarded(
    State(state): State<AppState>,
    path: PathMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let id = v::hex_id("address", &param(&p, "address")?)?;
    state
        .engine
        .delete_forwarded_address(&id)
        .await
        .map_err(addr_err)?;
    Ok(Json(json!({ "success": true })))
}

/// Resolve an address (by id or address string) to its record
#[utoipa::path(get, path = "/addresses/resolve/{address}", tag = "Addresses", operation_id = "resolveAddress",
    params(("address" = String, Path, description = "ID of the Address or an e-mail address (wildcards included)"),
        ("allowWildcard" = Option<bool>, Query, description = "Also resolve through wildcard addresses")),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object), (status = 404, description = "Not found", body = Object)))]
pub async fn resolve_address(
    State(state): State<AppState>,
    path: PathMap,
    query: QueryMap,
) -> ApiResult<Json<Value>> {
    let p = v::path(path)?;
    let given = param(&p, "address")?;
    let q = v::query(query)?;
    v::session_fields(&q)?;
    let allow_wildcard = v::boolean(&q, "allowWildcard")?.unwrap_or(false);
    let given = if given.contains('@') {
        if given.chars().count() > 255 {
            return Err(ApiError::invalid(
                "\"address\" length must be less than or equal to 255 characters long",
            ));
        }
        given
    } else {
        v::hex_id("address", &given)?
    };
    let entry = resolve(&state.engine, &given, allow_wildcard).await?;
    if entry.forwarded {
        return Ok(success(forwarded_json(&entry)));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(entry.id));
    out.insert("address".into(), json!(entry.address));
    out.insert("user".into(), json!(entry.user_id));
    out.insert("tags".into(), tags_of(&entry));
    out.insert("created".into(), json!(v::iso_date(entry.created)));
    add_metadata(&mut out, &entry, false, false);
    Ok(success(out))
}

async fn resolve(engine: &Engine, given: &str, allow_wildcard: bool) -> ApiResult<AddressEntry> {
    engine
        .resolve_address(given, allow_wildcard)
        .await
        .map_err(addr_err)
}

/// Rename a domain in every address and domain alias
#[utoipa::path(put, path = "/addresses/renameDomain", tag = "Addresses", operation_id = "renameDomain",
    request_body(content = Object, description = "oldDomain, newDomain (both required)"),
    responses((status = 200, description = "Success", body = Object), (status = 400, description = "Invalid input", body = Object)))]
pub async fn rename_domain(State(state): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let body = v::body(body)?;
    v::session_fields(&body)?;
    let old = v::required_string(&body, "oldDomain", 255)?;
    let new = v::required_string(&body, "newDomain", 255)?;
    let done = state
        .engine
        .rename_domain(&old, &new)
        .await
        .map_err(addr_err)?;
    Ok(Json(json!({
        "success": true,
        "modifiedAddresses": done.addresses,
        "modifiedUsers": done.users,
        "modifiedDkim": 0,
        "modifiedAliases": done.aliases,
    })))
}
