//! An HTTP answer leaves once what it tells is on disk: it passes the
//! store's [`Barrier`] when the handler is done, and a streamed body (a
//! page rendered as its data comes) passes it again before each part.
//!
//! The embedded store writes its commits' journal lines together at the
//! barrier, not one each as they commit (docs/performance.md, "Commits
//! written together"); the sockets pass it before each write too.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use app::api::{ApiError, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use crate::storage::Barrier;

/// Middleware: the response once the barrier is passed, or 503 when the
/// store cannot write what it took in.
pub async fn pass_barrier(
    State(barrier): State<Barrier>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Err(error) = barrier.pass() {
        tracing::error!(%error, "an answer held back: the store cannot write");
        return ApiError::new(ErrorCode::Unavailable, "the store cannot write; try again")
            .into_response();
    }
    // A body of known length was made whole by the handler, before the
    // barrier; one streamed may tell of later commits.
    if http_body::Body::size_hint(response.body())
        .exact()
        .is_some()
    {
        return response;
    }
    response.map(|body| Body::new(Streamed { body, barrier }))
}

/// A streamed body whose every part waits for the barrier.
struct Streamed {
    body: Body,
    barrier: Barrier,
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Ok(_)) = &frame {
            self.barrier.pass().map_err(axum::Error::new)?;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use futures::stream;
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    /// A barrier that counts its passes, or refuses them all.
    fn counting(refuses: bool) -> (Barrier, Arc<AtomicUsize>) {
        let passes = Arc::new(AtomicUsize::new(0));
        let counted = passes.clone();
        let barrier = Barrier::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            if refuses {
                Err(bus::StoreError::backend_says("the disk is full"))
            } else {
                Ok(())
            }
        });
        (barrier, passes)
    }

    fn app(barrier: Barrier) -> Router {
        let parts = || stream::iter(["one", "two", "three"].map(Ok::<_, axum::Error>));
        Router::new()
            .route("/whole", get(|| async { "the answer" }))
            .route(
                "/streamed",
                get(move || async move { Body::from_stream(parts()) }),
            )
            .layer(axum::middleware::from_fn_with_state(barrier, pass_barrier))
    }

    async fn get_body(app: Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        let response = app.oneshot(request).await.expect("an answer");
        let status = response.status();
        let body = response.into_body().collect().await.expect("a body");
        (
            status,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        )
    }

    #[tokio::test]
    async fn an_answer_passes_the_barrier_once_and_a_streamed_one_before_each_part() {
        let (barrier, passes) = counting(false);
        assert_eq!(
            get_body(app(barrier.clone()), "/whole").await,
            (StatusCode::OK, "the answer".to_owned())
        );
        assert_eq!(passes.swap(0, Ordering::SeqCst), 1);
        assert_eq!(
            get_body(app(barrier), "/streamed").await,
            (StatusCode::OK, "onetwothree".to_owned())
        );
        assert_eq!(passes.load(Ordering::SeqCst), 1 + 3);
    }

    #[tokio::test]
    async fn an_answer_the_store_cannot_write_is_a_503_in_the_apis_shape() {
        let (barrier, _) = counting(true);
        let (status, body) = get_body(app(barrier), "/whole").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("UNAVAILABLE"), "{body}");
        assert!(!body.contains("the answer"));
    }
}
