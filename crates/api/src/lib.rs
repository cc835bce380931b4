//! HTTP API front end: a WildDuck-compatible slice (users, health) on axum.
//!
//! Every answer is JSON in WildDuck's shape: `{"success": true, ...}` or
//! `{"error": "...", "code": "..."}` with the status WildDuck uses. Engine errors become HTTP
//! errors in one function, [`error::ApiError::from_engine`].

mod addresses;
mod asps;
mod auth;
mod authlog;
mod autoreply;
mod domainaliases;
mod error;
mod filters;
mod input;
mod listener;
mod mailboxes;
mod messages;
pub mod openapi;
mod params;
mod probes;
mod search;
mod sessions;
mod twofa;
mod updates;
mod users;
mod validate;

pub use listener::ClientAddr;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eider_engine::Engine;
use error::ApiError;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub access_token: String,
    pub max_body_size: usize,
    pub proxy: eider_proxy::ProxyConfig,
    /// Cancelled when the instance begins to shut down: `/health/ready` turns 503 while the API
    /// keeps answering until the other listeners have drained.
    pub draining: CancellationToken,
    /// IMAP port written into generated `.mobileconfig` profiles.
    pub imap_port: u16,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
    pub draining: CancellationToken,
    pub imap_port: u16,
}

/// Declares the served routes once: the router is built from this list and
/// [`served_routes`] reports it, so a test can check it against the OpenAPI document.
/// `method "path" => handler` lines; several methods of one path are separate lines.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path,)*) => {
        fn api_router() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($handler)))*
        }

        /// (method, path) of every route the router serves.
        pub fn served_routes() -> Vec<(&'static str, &'static str)> {
            let mut routes = vec![$((stringify!($method), $path)),*];
            routes.push(("get", "/openapi.json"));
            routes
        }
    };
}

api_routes! {
    post "/users" => users::create_user,
    get "/users/resolve/{username}" => users::resolve_user,
    get "/users/{user}" => users::get_user,
    get "/health" => health,
    get "/users" => users::list_users,
    put "/users/{user}" => users::update_user,
    delete "/users/{user}" => users::delete_user,
    put "/users/{user}/logout" => users::logout_user,
    post "/users/{user}/quota/reset" => users::reset_quota,
    post "/quota/reset" => users::reset_all_quotas,
    // authentication
    post "/authenticate" => sessions::authenticate,
    delete "/authenticate" => sessions::invalidate_token,
    get "/authenticated" => sessions::authenticated,
    post "/preauth" => sessions::preauth,
    // application-specific passwords
    get "/users/{user}/asps" => asps::list_asps,
    post "/users/{user}/asps" => asps::create_asp,
    get "/users/{user}/asps/{asp}" => asps::get_asp,
    delete "/users/{user}/asps/{asp}" => asps::delete_asp,
    // two-factor authentication
    post "/users/{user}/2fa/totp/setup" => twofa::setup_totp,
    post "/users/{user}/2fa/totp/enable" => twofa::enable_totp,
    post "/users/{user}/2fa/totp/check" => twofa::check_totp,
    delete "/users/{user}/2fa/totp" => twofa::disable_totp,
    delete "/users/{user}/2fa" => twofa::disable_2fa,
    // authentication log
    get "/users/{user}/authlog" => authlog::list_authlog,
    get "/users/{user}/authlog/{event}" => authlog::get_authlog_event,
    // addresses
    get "/addresses" => addresses::list_addresses,
    post "/users/{user}/addresses" => addresses::create_user_address,
    get "/users/{user}/addresses" => addresses::list_user_addresses,
    get "/users/{user}/addresses/{address}" => addresses::get_user_address,
    put "/users/{user}/addresses/{address}" => addresses::update_user_address,
    delete "/users/{user}/addresses/{address}" => addresses::delete_user_address,
    get "/users/{user}/addressregister" => addresses::address_register,
    put "/users/{user}/addressregister/{address}" => addresses::update_address_register,
    post "/addresses/forwarded" => addresses::create_forwarded,
    get "/addresses/forwarded/{address}" => addresses::get_forwarded,
    put "/addresses/forwarded/{address}" => addresses::update_forwarded,
    delete "/addresses/forwarded/{address}" => addresses::delete_forwarded,
    get "/addresses/resolve/{address}" => addresses::resolve_address,
    put "/addresses/renameDomain" => addresses::rename_domain,
    // domain aliases
    get "/domainaliases" => domainaliases::list_aliases,
    post "/domainaliases" => domainaliases::create_alias,
    get "/domainaliases/resolve/{alias}" => domainaliases::resolve_alias,
    get "/domainaliases/{alias}" => domainaliases::get_alias,
    delete "/domainaliases/{alias}" => domainaliases::delete_alias,
    // autoreply
    get "/users/{user}/autoreply" => autoreply::get_autoreply,
    put "/users/{user}/autoreply" => autoreply::update_autoreply,
    delete "/users/{user}/autoreply" => autoreply::delete_autoreply,
    // filters
    get "/filters" => filters::list_all_filters,
    get "/users/{user}/filters" => filters::list_filters,
    post "/users/{user}/filters" => filters::create_filter,
    get "/users/{user}/filters/{filter}" => filters::get_filter,
    put "/users/{user}/filters/{filter}" => filters::update_filter,
    delete "/users/{user}/filters/{filter}" => filters::delete_filter,
    // mailboxes
    get "/users/{user}/mailboxes" => mailboxes::list_mailboxes,
    post "/users/{user}/mailboxes" => mailboxes::create_mailbox,
    get "/users/{user}/mailboxes/{mailbox}" => mailboxes::get_mailbox,
    put "/users/{user}/mailboxes/{mailbox}" => mailboxes::update_mailbox,
    delete "/users/{user}/mailboxes/{mailbox}" => mailboxes::delete_mailbox,
    // messages
    get "/users/{user}/mailboxes/{mailbox}/messages" => messages::list_messages,
    post "/users/{user}/mailboxes/{mailbox}/messages" => messages::upload_message,
    put "/users/{user}/mailboxes/{mailbox}/messages" => messages::update_messages,
    delete "/users/{user}/mailboxes/{mailbox}/messages" => messages::delete_all_messages,
    get "/users/{user}/mailboxes/{mailbox}/messages/{message}" => messages::get_message,
    put "/users/{user}/mailboxes/{mailbox}/messages/{message}" => messages::update_message,
    delete "/users/{user}/mailboxes/{mailbox}/messages/{message}" => messages::delete_message,
    get "/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml" => messages::message_source,
    get "/users/{user}/mailboxes/{mailbox}/messages/{message}/attachments/{attachment}" => messages::download_attachment,
    get "/users/{user}/search" => search::search_messages,
    post "/users/{user}/search" => search::search_apply,
    // change stream
    get "/users/{user}/updates" => updates::updates,
}

/// The API's routes and layers. Access control ([`auth::authorize`]) wraps this router in
/// [`serve`], before routing, so it can rewrite `/users/me`.
pub fn router(engine: Engine, config: &ApiConfig) -> Router {
    let state = AppState {
        engine,
        draining: config.draining.clone(),
        imap_port: config.imap_port,
    };
    // Added after the token layer, so it does not apply to them.
    let probes = Router::new()
        .route("/health/live", get(probes::live))
        .route("/health/ready", get(probes::ready))
        .with_state(state.clone());
    api_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .route("/openapi.json", get(openapi::serve_document))
        .merge(probes)
        .layer(DefaultBodyLimit::max(config.max_body_size))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Mailboxes, messages, search and the change stream.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: ApiConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let auth_state = auth::AuthState {
        engine: engine.clone(),
        root_token: config.access_token.clone(),
    };
    let app = router(engine, &config);
    let listener = listener::ProxyListener::start(listener, config.proxy, shutdown.clone())?;
    let app = tower::Layer::layer(
        &axum::middleware::from_fn_with_state(auth_state, auth::authorize),
        app,
    );
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            ClientAddr,
        >(app),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    Ok(())
}

/// Health of the API and its store
#[utoipa::path(get, path = "/health", tag = "Health", operation_id = "getHealth",
    responses((status = 200, description = "Success", body = Object), (status = 500, description = "The store does not answer", body = Object)))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let version = env!("CARGO_PKG_VERSION");
    match state.engine.ping().await {
        Ok(()) => Json(json!({ "success": true, "version": version })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({
                    "success": false,
                    "version": version,
                    "message": "Store is not reachable",
                })),
            )
                .into_response()
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("{} does not exist", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed"),
    )
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// Every account and authentication route is described, with WildDuck's paths.
    #[test]
    fn auth_routes_are_documented() {
        let mut doc = crate::users::Doc::openapi();
        doc.merge(crate::sessions::Doc::openapi());
        doc.merge(crate::asps::Doc::openapi());
        doc.merge(crate::twofa::Doc::openapi());
        doc.merge(crate::authlog::Doc::openapi());
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        for path in [
            "/users",
            "/users/{user}",
            "/users/{user}/logout",
            "/users/{user}/quota/reset",
            "/quota/reset",
            "/authenticate",
            "/authenticated",
            "/preauth",
            "/users/{user}/asps",
            "/users/{user}/asps/{asp}",
            "/users/{user}/2fa/totp/setup",
            "/users/{user}/2fa/totp/enable",
            "/users/{user}/2fa/totp/check",
            "/users/{user}/2fa/totp",
            "/users/{user}/2fa",
            "/users/{user}/authlog",
            "/users/{user}/authlog/{event}",
        ] {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
        let json = doc.to_json().unwrap();
        assert!(json.contains("\"AuthenticateRequest\""));
    }
}
