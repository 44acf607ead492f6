//! Which requests are calls of the API (server functions): the ones the
//! rate and body limits apply to.

use axum::extract::Request;
use axum::http::Method;

/// Whether `request` calls the API.
pub(crate) fn is_api_call(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path().starts_with("/api/")
}
