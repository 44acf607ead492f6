//! The body limit in front of the API: a request body larger than the
//! configured limit is refused with 413 before an endpoint reads it.

use app::api::{ApiError, ErrorCode};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_calls::is_api_call;

/// The largest API request body, as the middleware's state.
#[derive(Debug, Clone, Copy)]
pub struct MaxBodyBytes(pub usize);

/// The middleware: reads the whole body (up to the limit) before the
/// endpoint runs.
pub async fn limit_body(
    State(MaxBodyBytes(limit)): State<MaxBodyBytes>,
    request: Request,
    next: Next,
) -> Response {
    if !is_api_call(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, limit).await else {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
        .into_response();
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}
