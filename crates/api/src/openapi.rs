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
    add_error_responses(&mut doc);
    doc
}

/// The error answers any operation may give, documented once here rather than on every handler:
/// invalid input (bad ids, wrong types, over-long strings), a missing or wrong token or missing
/// privileges, an unknown resource, an over-sized body and rate limiting. Each is WildDuck's
/// `{"error": "...", "code": "..."}` body ([`crate::error::ApiError`]).
fn add_error_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ObjectBuilder, RefOr, ResponseBuilder, Type, content::Content};
    let schema = ObjectBuilder::new()
        .property(
            "error",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("What went wrong")),
        )
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("WildDuck's error code, e.g. `InputValidationError`")),
        )
        .required("error")
        .build();
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .insert("ApiError".to_string(), RefOr::T(schema.into()));
    let errors = [
        ("400", "Invalid input (`InputValidationError` and others)"),
        ("403", "Missing or invalid token, or missing privileges"),
        ("404", "No such resource"),
        ("405", "The path exists with other methods only"),
        ("413", "Request body too large"),
        ("429", "Too many attempts"),
    ];
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, description) in errors {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                                    "ApiError",
                                ))),
                            )
                            .into()
                    });
            }
        }
    }
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
