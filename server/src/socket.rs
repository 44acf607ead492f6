//! The event WebSocket at `/api/ws`.
//!
//! Each connection gets a `Connected` frame first, then (from later issues)
//! the events that concern its user. The server pings a socket after
//! [`AppState::ws_ping_interval`] of silence, so proxies keep it open, and
//! drops a peer that has stayed silent for two intervals in a row: a browser
//! answers pings by itself, so that silence means it is gone.

use app::server_status::ssr::now_ms;
use app::wire::ServerFrame;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use tokio::time::{Instant, interval_at};

use crate::state::AppState;

/// Upgrades `GET /api/ws` to a WebSocket.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state))
}

/// Why a connection ended, for the logs.
#[derive(Debug)]
enum End {
    PeerClosed,
    PeerSilent,
    SendFailed,
    ServerShutdown,
}

async fn serve(mut socket: WebSocket, state: AppState) {
    let _open = state.live.open();
    let end = run(&mut socket, &state).await;
    tracing::debug!(?end, "event socket closed");
    if matches!(end, End::ServerShutdown | End::PeerSilent) {
        let reason = match end {
            End::ServerShutdown => "server shutting down",
            _ => "no answer to pings",
        };
        // Best effort: the peer may already be gone.
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::AWAY,
                reason: reason.into(),
            })))
            .await;
    }
}

async fn run(socket: &mut WebSocket, state: &AppState) -> End {
    if send(
        socket,
        &ServerFrame::Connected {
            server_time_ms: now_ms(),
        },
    )
    .await
    .is_err()
    {
        return End::SendFailed;
    }

    let every = state.ws_ping_interval;
    let mut ticks = interval_at(Instant::now() + every, every);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return End::ServerShutdown,
            _ = ticks.tick() => {
                if last_heard.elapsed() >= every * 2 {
                    return End::PeerSilent;
                }
                if last_heard.elapsed() >= every
                    && socket.send(Message::Ping(Vec::new().into())).await.is_err()
                {
                    return End::SendFailed;
                }
            }
            received = socket.recv() => match received {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return End::PeerClosed,
                // Any frame, pongs included, proves the peer is there.
                Some(Ok(_)) => last_heard = Instant::now(),
            },
        }
    }
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    socket.send(Message::Text(text.into())).await
}
