//! Load-balancer probes. They answer without the access token (they tell only up or down), so a
//! balancer needs no secret.
//!
//! - `GET /health/live`: the process answers HTTP (restart it when this fails).
//! - `GET /health/ready`: 200 while the store answers and the instance is not shutting down;
//!   503 otherwise, so the balancer sends new connections elsewhere.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn live() -> Response {
    Json(json!({ "success": true })).into_response()
}

pub async fn ready(State(state): State<AppState>) -> Response {
    if state.draining.is_cancelled() {
        return unavailable("ShuttingDown", "Server is shutting down");
    }
    match state.engine.ping().await {
        Ok(()) => Json(json!({ "success": true })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check: store not reachable");
            unavailable("StoreUnavailable", "Store is not reachable")
        }
    }
}

fn unavailable(code: &'static str, message: &str) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).into_response()
}
