//! Application-specific passwords: `/users/{user}/asps` (list, create, get, delete).

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Subject};
use crate::input::{self, hex_id, iso_date, log_fields};
use crate::users::{json_object, optional_string, params, user_id};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use base64::Engine as _;
use eider_engine::{ASP_SCOPES, AspRow, CreateAsp, ErrorKind};
use serde_json::{Value, json};

/// `POST /users/{user}/asps` body.
#[allow(dead_code)] // Describes the request for OpenAPI; the handler reads the JSON itself.
#[derive(utoipa::ToSchema)]
pub struct CreateAspRequest {
    description: String,
    /// imap, pop3, smtp or * (default: *).
    scopes: Option<Vec<String>>,
    /// Address for the mobileconfig profile (default: the main address).
    address: Option<String>,
    /// A pregenerated password: 16 latin letters.
    password: Option<String>,
    #[schema(rename = "generateMobileconfig")]
    generate_mobileconfig: Option<bool>,
    /// Seconds; each use moves the expiry forward.
    ttl: Option<u64>,
    protocol: Option<String>,
    sess: Option<String>,
    ip: Option<String>,
}

fn asp_err(e: eider_engine::Error) -> ApiError {
    if e.kind == ErrorKind::NotFound {
        return ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "AspNotFound",
            "Application Specific Password was not found",
        );
    }
    ApiError::from_engine(e, Subject::User)
}

fn asp_json(asp: &AspRow) -> Value {
    let scopes: Value = serde_json::from_str(&asp.scopes).unwrap_or(json!(["*"]));
    let mut out = json!({
        "id": asp.id,
        "description": asp.description,
        "scopes": scopes,
        "lastUse": {
            "time": if asp.last_use > 0 { json!(iso_date(asp.last_use)) } else { json!(false) },
            "event": if asp.last_event.is_empty() { json!(false) } else { json!(asp.last_event) },
        },
        "created": iso_date(asp.created),
    });
    if asp.expires > 0 {
        out["expires"] = json!(iso_date(asp.expires));
    }
    out
}

/// `GET /users/{user}/asps`
#[utoipa::path(get, path = "/users/{user}/asps", operation_id = "getASPs", tag = "ApplicationPasswords",
    params(("user" = String, Path, description = "ID of the User"),
           ("showAll" = Option<bool>, Query, description = "Also list passwords with a TTL")),
    responses((status = 200, description = "`{success, results}`")))]
pub async fn list_asps(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<input::Params>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let user = user_id(path)?;
    let params = params(query)?;
    let show_all = input::query_bool(&params, "showAll", false)?;
    let list = state
        .engine
        .list_asps(&user, show_all)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let results: Vec<Value> = list.iter().map(asp_json).collect();
    Ok(Json(json!({ "success": true, "results": results })))
}

/// `POST /users/{user}/asps`: the password is in this answer only.
#[utoipa::path(post, path = "/users/{user}/asps", operation_id = "createASP", tag = "ApplicationPasswords", request_body = CreateAspRequest,
    params(("user" = String, Path, description = "ID of the User")),
    responses((status = 200, description = "`{success, id, password, mobileconfig?, name, address}`")))]
pub async fn create_asp(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let user_id = user_id(path)?;
    let body = json_object(body)?;
    let description = optional_string(&body, "description", 255)?
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("\"description\" is required"))?;
    let scopes = match body.get("scopes") {
        None | Some(Value::Null) => vec!["*".to_string()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(s) if ASP_SCOPES.contains(&s) => Ok(s.to_string()),
                _ => Err(ApiError::invalid(
                    "\"scopes\" items must be one of [imap, pop3, smtp, *]",
                )),
            })
            .collect::<ApiResult<Vec<_>>>()?,
        Some(_) => return Err(ApiError::invalid("\"scopes\" must be an array")),
    };
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_f64() {
            Some(n) if (0.0..=100.0 * 365.0 * 86400.0).contains(&n) => n as i64,
            _ => return Err(ApiError::invalid("\"ttl\" must be a number of seconds")),
        },
    };
    let address_wanted = optional_string(&body, "address", 256)?;
    let mobileconfig = input::body_bool(&body, "generateMobileconfig")?.unwrap_or(false);
    let password = optional_string(&body, "password", 64)?;
    log_fields(&body, &caller)?;
    let user = state
        .engine
        .get_user(&user_id)
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let address = match address_wanted {
        Some(a) => a,
        None => state
            .engine
            .main_address(&user_id)
            .await
            .map_err(|e| ApiError::from_engine(e, Subject::User))?
            .unwrap_or_else(|| user.username.clone()),
    };
    let (asp, password) = state
        .engine
        .create_asp(
            &user_id,
            &CreateAsp {
                description: description.clone(),
                scopes,
                password,
                ttl,
            },
        )
        .await
        .map_err(|e| ApiError::from_engine(e, Subject::User))?;
    let mut out = json!({
        "success": true,
        "id": asp.id,
        "password": password,
        "name": if user.name.is_empty() { &user.username } else { &user.name },
        "address": address,
    });
    if mobileconfig {
        let profile = mobileconfig_profile(&Profile {
            hostname: &state.engine.config().hostname,
            imap_port: state.imap_port,
            username: &user.username,
            display_name: if user.name.is_empty() {
                &user.username
            } else {
                &user.name
            },
            address: &address,
            password: &password,
            description: &description,
        });
        out["mobileconfig"] = json!(base64::engine::general_purpose::STANDARD.encode(profile));
    }
    Ok(Json(out))
}

/// `GET /users/{user}/asps/{asp}`
#[utoipa::path(get, path = "/users/{user}/asps/{asp}", operation_id = "getASP", tag = "ApplicationPasswords",
    params(("user" = String, Path, description = "ID of the User"),
           ("asp" = String, Path, description = "ID of the Application Password")),
    responses((status = 200, description = "The ASP without its password")))]
pub async fn get_asp(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (user, asp) = two_ids(path)?;
    let row = state.engine.get_asp(&user, &asp).await.map_err(asp_err)?;
    let mut out = asp_json(&row);
    out["success"] = json!(true);
    Ok(Json(out))
}

/// `DELETE /users/{user}/asps/{asp}`
#[utoipa::path(delete, path = "/users/{user}/asps/{asp}", operation_id = "deleteASP", tag = "ApplicationPasswords",
    params(("user" = String, Path, description = "ID of the User"),
           ("asp" = String, Path, description = "ID of the Application Password")),
    responses((status = 200, description = "`{success: true}`")))]
pub async fn delete_asp(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (user, asp) = two_ids(path)?;
    state
        .engine
        .delete_asp(&user, &asp)
        .await
        .map_err(asp_err)?;
    Ok(Json(json!({ "success": true })))
}

fn two_ids(path: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, String)> {
    let Path((user, asp)) = path.map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((hex_id("user", &user)?, hex_id("asp", &asp)?))
}

struct Profile<'a> {
    hostname: &'a str,
    imap_port: u16,
    username: &'a str,
    display_name: &'a str,
    address: &'a str,
    password: &'a str,
    description: &'a str,
}

/// An unsigned Apple configuration profile (XML property list) with one IMAP mail account that
/// logs in with the ASP. Written by hand: it is one fixed template, not worth a plist crate.
fn mobileconfig_profile(p: &Profile) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let reverse_host: String = p.hostname.split('.').rev().collect::<Vec<_>>().join(".");
    let (host, user, name, address, password, description) = (
        esc(p.hostname),
        esc(p.username),
        esc(p.display_name),
        esc(p.address),
        esc(p.password),
        esc(p.description),
    );
    let (outer_uuid, inner_uuid) = (uuid_v4(), uuid_v4());
    let port = p.imap_port;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>{address}</string>
      <key>EmailAccountName</key><string>{name}</string>
      <key>EmailAccountType</key><string>EmailTypeIMAP</string>
      <key>EmailAddress</key><string>{address}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>{host}</string>
      <key>IncomingMailServerPortNumber</key><integer>{port}</integer>
      <key>IncomingMailServerUseSSL</key><false/>
      <key>IncomingMailServerUsername</key><string>{user}</string>
      <key>IncomingPassword</key><string>{password}</string>
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>{host}</string>
      <key>OutgoingMailServerPortNumber</key><integer>587</integer>
      <key>OutgoingMailServerUseSSL</key><false/>
      <key>OutgoingMailServerUsername</key><string>{user}</string>
      <key>OutgoingPassword</key><string>{password}</string>
      <key>PayloadDescription</key><string>Mail account {address}</string>
      <key>PayloadDisplayName</key><string>{address}</string>
      <key>PayloadIdentifier</key><string>{reverse_host}.eider.mail.{inner_uuid}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>{inner_uuid}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDescription</key><string>{description}</string>
  <key>PayloadDisplayName</key><string>{address}</string>
  <key>PayloadIdentifier</key><string>{reverse_host}.eider.{outer_uuid}</string>
  <key>PayloadOrganization</key><string>{host}</string>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>{outer_uuid}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#,
        reverse_host = esc(&reverse_host),
    )
}

/// A random (version 4) UUID in its usual text form, for profile payload ids.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02X}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

// Merged into `/openapi.json` by the API document module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_asps, create_asp, get_asp, delete_asp),
    components(schemas(CreateAspRequest))
)]
pub(crate) struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_escaped_xml() {
        let xml = mobileconfig_profile(&Profile {
            hostname: "mail.example.com",
            imap_port: 143,
            username: "a<b",
            display_name: "A & B",
            address: "a@example.com",
            password: "abcdefghijklmnop",
            description: "phone",
        });
        assert!(xml.contains("<string>a&lt;b</string>"));
        assert!(xml.contains("<string>A &amp; B</string>"));
        assert!(xml.contains("<key>IncomingPassword</key><string>abcdefghijklmnop</string>"));
        assert!(xml.contains("com.example.mail.eider."));
        let uuid = uuid_v4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }
}
