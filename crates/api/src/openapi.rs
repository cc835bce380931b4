//! Eider's own OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! Every API module declares `#[derive(utoipa::OpenApi)] #[openapi(paths(...))] pub(crate) struct Doc;`
//! for its handlers; [`document`] merges them. A module with routes is added to `MODULE_DOCS` below,
//! and the `routes_and_document_agree` test fails when the router and the document differ.

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Eider API",
        description = "Eider's HTTP API, wire-compatible with WildDuck's: the same paths, \
            parameters, `{\"success\": true, ...}` answers and `{\"error\", \"code\"}` errors.",
    ),
    paths(crate::health, serve_document),
    modifiers(&AccessToken),
    security(("AccessTokenAuth" = [])),
)]
struct Base;

/// The access token scheme, named as WildDuck names it.
struct AccessToken;

impl utoipa::Modify for AccessToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "AccessTokenAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Access-Token",
                "The root token (`api.access_token`) or an access token; also accepted as the \
                 `accessToken` query parameter or `Authorization: Bearer`.",
            ))),
        );
    }
}

/// The per-module documents, merged in this order. Add every API module with routes here.
fn module_docs() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        crate::users::Doc::openapi(),
        crate::addresses::Doc::openapi(),
        crate::domainaliases::Doc::openapi(),
        crate::autoreply::Doc::openapi(),
        crate::filters::Doc::openapi(),
        crate::sessions::Doc::openapi(),
        crate::asps::Doc::openapi(),
        crate::twofa::Doc::openapi(),
        crate::authlog::Doc::openapi(),
        crate::mailboxes::Doc::openapi(),
        crate::messages::Doc::openapi(),
        crate::search::Doc::openapi(),
        crate::updates::Doc::openapi(),
    ]
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    for part in module_docs() {
        doc.merge(part);
    }
    doc
}

/// The document as JSON, built once.
fn document_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".into()))
}

/// Eider's OpenAPI document. Served without a token: it describes the API, not data in it.
#[utoipa::path(get, path = "/openapi.json", tag = "Health", operation_id = "getOpenApi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn serve_document() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every route the router serves is documented, and every documented operation is served.
    #[test]
    fn routes_and_document_agree() {
        let served: BTreeSet<(String, String)> = crate::served_routes()
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        let doc = document();
        let mut documented = BTreeSet::new();
        let value = serde_json::to_value(&doc).unwrap();
        for (path, item) in value["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.insert((method.clone(), path.clone()));
                }
            }
        }
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "served but not documented: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
        assert!(served.len() >= 33, "{served:?}");
    }

    #[test]
    fn operation_ids_are_unique_and_wildduck_named() {
        let value = serde_json::to_value(document()).unwrap();
        let mut ids = BTreeSet::new();
        for item in value["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().expect("operationId").to_string();
                assert!(ids.insert(id.clone()), "duplicate {id}");
            }
        }
        for id in [
            "getAddresses",
            "createForwardedAddress",
            "renameDomain",
            "getDomainAliases",
            "getAutoreply",
            "getAllFilters",
        ] {
            assert!(ids.contains(id), "{id}");
        }
    }
}
