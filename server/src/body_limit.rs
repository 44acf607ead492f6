//! The body limit in front of the API: a request body larger than the
//! configured limit is refused with 413, and one that does not arrive
//! within the body timeout with 408 (and the connection closed), before an
//! endpoint reads it.

use std::time::Duration;

use app::api::{ApiError, ErrorCode};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_calls::is_api_call;

/// The middleware's state: the largest API request body, and how long it
/// may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// The largest body, in bytes.
    pub max_bytes: usize,
    /// How long the whole body may take.
    pub timeout: Duration,
}

/// The middleware: reads the whole body (up to the limit) before the
/// endpoint runs.
pub async fn limit_body(
    State(BodyLimit { max_bytes, timeout }): State<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    if !is_api_call(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(read) = tokio::time::timeout(timeout, to_bytes(body, max_bytes)).await else {
        let mut response = ApiError::new(
            ErrorCode::RequestTimeout,
            format!("the body did not arrive within {timeout:?}"),
        )
        .into_response();
        // The rest of the body may still come: the connection cannot be
        // read past it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let Ok(body) = read else {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {max_bytes} bytes"),
        )
        .into_response();
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}
