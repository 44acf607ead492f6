//! The accept loop: each connection is taken under the
//! [caps](crate::connection_caps), served over HTTP/1.1 by hyper and closed
//! when it overstays a [phase](crate::connection_clock); past a cap it gets
//! a 503 and is closed.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in
//! front of the server terminates.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::{ApiError, ErrorCode};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use crate::client_address::{ClientAddress, TrustedProxies};
use crate::connection_caps::{ConnectionCaps, Full, Slot};
use crate::connection_clock::{Clock, Overstay, Timeouts, Tracked, Watched};

/// Connections being refused at once; past it one is closed unanswered.
/// (They hold files too: part of [`RESERVED_FILES`](crate::connection_caps::RESERVED_FILES).)
const REFUSING_AT_ONCE: usize = 32;

/// How long a refused connection gets to take its 503.
const REFUSAL_PATIENCE: Duration = Duration::from_secs(1);

/// What `Retry-After` says to a refused client, in seconds.
const RETRY_AFTER_SECS: u32 = 5;

/// How long the loop waits after `accept` fails for want of files or
/// memory (as hyper 0.14 and axum do), so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A connection as hyper serves it (and hands it back upgraded: see
/// `socket/live.rs`).
pub type ServedIo = TokioIo<Watched<TcpStream>>;

/// What the accept loop needs besides the listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The connection caps.
    pub caps: Arc<ConnectionCaps>,
    /// The connection timeouts.
    pub timeouts: Timeouts,
    /// The proxies whose forwarded client addresses are believed.
    pub proxies: Arc<TrustedProxies>,
}

/// Accepts and serves connections until `shutdown` is cancelled, then lets
/// the open ones finish their requests (each is told to close once its
/// current one is answered) and returns when they have.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if !is_connection_error(&error) {
                    tracing::error!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        match limits
            .caps
            .take(peer.ip(), limits.proxies.trusts(peer.ip()))
        {
            Ok(slot) => {
                connections.spawn(serve_connection(
                    stream,
                    peer,
                    slot,
                    router.clone(),
                    limits.clone(),
                    shutdown.clone(),
                ));
            }
            Err(full) => {
                tracing::debug!(%peer, %full, "connection refused");
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, full).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    connections.close();
    connections.wait().await;
}

/// Errors of one connection that came and went before it was accepted.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// One connection, from accept to close.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    // Events are small frames that must go out at once.
    let _ = stream.set_nodelay(true);
    let clock = Clock::new(limits.timeouts);
    let proxies = limits.proxies;
    let io: ServedIo = TokioIo::new(Watched::new(stream, clock.clone(), slot));
    let service = {
        let clock = clock.clone();
        service_fn(move |mut request: hyper::Request<Incoming>| {
            let client = ClientAddress(proxies.client(peer, request.headers()));
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(client);
            let busy = clock.busy();
            let answer = router.clone().call(request);
            async move {
                let response = answer
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok::<_, Infallible>(response.map(|body| Tracked::new(body, busy)))
            }
        })
    };
    let connection = http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return log_end(peer, served),
        overstay = clock.overstayed() => return log_overstay(peer, overstay),
        () = shutdown.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        served = connection.as_mut() => log_end(peer, served),
        overstay = clock.overstayed() => log_overstay(peer, overstay),
    }
}

fn log_overstay(peer: SocketAddr, overstay: Overstay) {
    tracing::debug!(%peer, ?overstay, "connection closed: it overstayed");
}

fn log_end(peer: SocketAddr, served: Result<(), hyper::Error>) {
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Answers 503 in the API's error shape and closes. The request is not
/// read, but what the client sent is drained for a moment after the answer,
/// so that closing with unread bytes does not reset the connection before
/// the client has read the 503.
async fn refuse(mut stream: TcpStream, full: Full) {
    let message = match full {
        Full::Total => "the server is at its connection limit; try again shortly",
        Full::Address => "too many connections from this address; close some or try again shortly",
    };
    let body =
        serde_json::to_string(&ApiError::new(ErrorCode::Unavailable, message)).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/json\r\n\
         content-length: {}\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_PATIENCE, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
