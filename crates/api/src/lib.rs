//! HTTP API front end: a WildDuck-compatible slice (users, health) on axum.
//!
//! Every answer is JSON in WildDuck's shape: `{"success": true, ...}` or
//! `{"error": "...", "code": "..."}` with the status WildDuck uses. Engine errors become HTTP
//! errors in one function, [`error::ApiError::from_engine`].

mod asps;
mod auth;
mod authlog;
mod error;
mod input;
mod sessions;
mod twofa;
mod users;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use eider_engine::Engine;
use error::ApiError;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub access_token: String,
    pub max_body_size: usize,
    /// IMAP port written into generated `.mobileconfig` profiles.
    pub imap_port: u16,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: Engine,
    pub imap_port: u16,
}

/// The API's routes and layers. Access control ([`auth::authorize`]) wraps this router in
/// [`serve`], before routing, so it can rewrite `/users/me`.
pub fn router(engine: Engine, config: &ApiConfig) -> Router {
    Router::new()
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/resolve/{username}", get(users::resolve_user))
        .route(
            "/users/{user}",
            get(users::get_user)
                .put(users::update_user)
                .delete(users::delete_user),
        )
        .route("/users/{user}/logout", put(users::logout_user))
        .route("/users/{user}/quota/reset", post(users::reset_quota))
        .route("/quota/reset", post(users::reset_all_quotas))
        .route(
            "/authenticate",
            post(sessions::authenticate).delete(sessions::invalidate_token),
        )
        .route("/authenticated", get(sessions::authenticated))
        .route("/preauth", post(sessions::preauth))
        .route(
            "/users/{user}/asps",
            get(asps::list_asps).post(asps::create_asp),
        )
        .route(
            "/users/{user}/asps/{asp}",
            get(asps::get_asp).delete(asps::delete_asp),
        )
        .route("/users/{user}/2fa/totp/setup", post(twofa::setup_totp))
        .route("/users/{user}/2fa/totp/enable", post(twofa::enable_totp))
        .route("/users/{user}/2fa/totp/check", post(twofa::check_totp))
        .route("/users/{user}/2fa/totp", delete(twofa::disable_totp))
        .route("/users/{user}/2fa", delete(twofa::disable_2fa))
        .route("/users/{user}/authlog", get(authlog::list_authlog))
        .route(
            "/users/{user}/authlog/{event}",
            get(authlog::get_authlog_event),
        )
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AppState {
            engine,
            imap_port: config.imap_port,
        })
        .layer(DefaultBodyLimit::max(config.max_body_size))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

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
    let app = tower::Layer::layer(
        &axum::middleware::from_fn_with_state(auth_state, auth::authorize),
        app,
    );
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
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
