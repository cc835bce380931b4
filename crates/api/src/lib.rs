//! HTTP API front end: a WildDuck-compatible slice (users, health) on axum.
//!
//! Every answer is JSON in WildDuck's shape: `{"success": true, ...}` or
//! `{"error": "...", "code": "..."}` with the status WildDuck uses. Engine errors become HTTP
//! errors in one function, [`error::ApiError::from_engine`].

mod auth;
mod error;
mod listener;
mod probes;
mod users;

pub use listener::ClientAddr;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
    Router::new()
        .route("/users", post(users::create_user))
        .route("/users/resolve/{username}", get(users::resolve_user))
        .route("/users/{user}", get(users::get_user))
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
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

/// `GET /health`: the API answers and the store answers.
async fn health(State(state): State<AppState>) -> Response {
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
