//! HTTP API front end: a WildDuck-compatible slice (users, health) on axum.
//!
//! Every answer is JSON in WildDuck's shape: `{"success": true, ...}` or
//! `{"error": "...", "code": "..."}` with the status WildDuck uses. Engine errors become HTTP
//! errors in one function, [`error::ApiError::from_engine`].

mod auth;
mod error;
mod mailboxes;
mod messages;
mod params;
mod search;
mod updates;
mod users;

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
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
}

/// The API's routes and layers, ready to serve.
pub fn router(engine: Engine, config: &ApiConfig) -> Router {
    let token = Arc::new(config.access_token.clone());
    Router::new()
        .route("/users", post(users::create_user))
        .route("/users/resolve/{username}", get(users::resolve_user))
        .route("/users/{user}", get(users::get_user))
        .merge(mail_routes())
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState { engine })
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_size))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Mailboxes, messages, search and the change stream.
fn mail_routes() -> Router<AppState> {
    let mailbox = "/users/{user}/mailboxes/{mailbox}";
    let message = "/users/{user}/mailboxes/{mailbox}/messages/{message}";
    Router::new()
        .route(
            "/users/{user}/mailboxes",
            get(mailboxes::list_mailboxes).post(mailboxes::create_mailbox),
        )
        .route(
            mailbox,
            get(mailboxes::get_mailbox)
                .put(mailboxes::update_mailbox)
                .delete(mailboxes::delete_mailbox),
        )
        .route(
            &format!("{mailbox}/messages"),
            get(messages::list_messages)
                .post(messages::upload_message)
                .put(messages::update_messages)
                .delete(messages::delete_all_messages),
        )
        .route(
            message,
            get(messages::get_message)
                .put(messages::update_message)
                .delete(messages::delete_message),
        )
        .route(
            &format!("{message}/message.eml"),
            get(messages::message_source),
        )
        .route(
            &format!("{message}/attachments/{{attachment}}"),
            get(messages::download_attachment),
        )
        .route(
            "/users/{user}/search",
            get(search::search_messages).post(search::search_apply),
        )
        .route("/users/{user}/updates", get(updates::updates))
}

/// OpenAPI documents of the mail routes, for the merged `/openapi.json`.
pub fn mail_openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = mailboxes::Doc::openapi();
    doc.merge(messages::Doc::openapi());
    doc.merge(search::Doc::openapi());
    doc.merge(updates::Doc::openapi());
    doc
}

pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    config: ApiConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(engine, &config);
    axum::serve(listener, app)
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
