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
