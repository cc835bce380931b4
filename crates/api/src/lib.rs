//! HTTP API front end: a WildDuck-compatible slice (users, health) on axum.
//!
//! Every answer is JSON in WildDuck's shape: `{"success": true, ...}` or
//! `{"error": "...", "code": "..."}` with the status WildDuck uses. Engine errors become HTTP
//! errors in one function, [`error::ApiError::from_engine`].

mod addresses;
mod auth;
mod autoreply;
mod domainaliases;
mod error;
mod filters;
mod listener;
pub mod openapi;
mod probes;
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
use std::sync::Arc;
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
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
    pub draining: CancellationToken,
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
}

/// The API's routes and layers, ready to serve.
pub fn router(engine: Engine, config: &ApiConfig) -> Router {
    let token = Arc::new(config.access_token.clone());
    let state = AppState {
        engine,
        draining: config.draining.clone(),
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
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        // Added after the token layer, so served without a token (see openapi::serve_document).
        .route("/openapi.json", get(openapi::serve_document))
        .merge(probes)
        .layer(DefaultBodyLimit::max(config.max_body_size))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: ApiConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(engine, &config);
    let listener = listener::ProxyListener::start(listener, config.proxy, shutdown.clone())?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ClientAddr>(),
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
