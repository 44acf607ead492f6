//! The event WebSocket at `/api/ws`.
//!
//! A socket signs in with the session cookie (anonymous sockets get the
//! lobby's events), refuses an `Origin` other than the site's own, and gets
//! a `Connected` frame first, then the lobby's lists as they are
//! (`UsersOnlineUpdated`, `TopThreeListUpdated`, `LiveGamesUpdated`), then
//! what the [`Hub`](crate::event_routing::Hub) routes to it. A socket of a signed-in user makes that user online.
//!
//! The server pings a socket after [`AppState::ws_ping_interval`] of
//! silence, so proxies keep it open, and drops a peer that does not answer
//! a ping within an interval: a browser answers pings by itself, so that
//! silence means it is gone.

mod commands;
mod handshake;
mod io;
mod presence;

use app::api::sessions::session_user;
use app::api::{ApiError, ErrorCode};
use app::socket_frames::{ClientFrame, ServerFrame};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use domain::{GameId, GetGame, StartedWatching, StoppedWatching, UserId};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, interval_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::event_routing::{ConnectionId, Resumed, control};
use crate::live_sockets::{OpenSocket, Opener};
use crate::queue::{Frame, Receiver};
use crate::state::AppState;
use io::Io;

/// An open event socket.
type Socket = WebSocketStream<Io<TokioIo<Upgraded>>>;

/// Room for a client's frames as they are read.
const READ_BUFFER_BYTES: usize = 256;

/// How long a new socket's lobby lists may take before they are left out.
const LOBBY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// The largest frame a client may send (a `Resume` is under 100 bytes).
const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;

/// Upgrades `GET /api/ws` to a WebSocket.
pub async fn upgrade(State(state): State<AppState>, mut request: Request) -> Response {
    if !state.site.same_origin(request.headers()) {
        return ApiError::new(ErrorCode::Forbidden, "cross-origin WebSocket refused")
            .into_response();
    }
    let accept = match handshake::accept_key(&request) {
        Ok(accept) => accept,
        Err(not) => return not.response(),
    };
    let user = session_user(&state.api.sessions, request.headers()).await;
    let opener = match user {
        Some(user) => Opener::User(user),
        None => Opener::Anonymous(crate::client_address::client_address(&request)),
    };
    let open = match state.live.open(opener) {
        Ok(open) => open,
        Err(too_many) => {
            let whose = match opener {
                Opener::User(_) => "of this user",
                Opener::Anonymous(_) => "without a session from this address",
            };
            return ApiError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "{} event sockets {whose} are open already; close one first",
                    too_many.0
                ),
            )
            .into_response();
        }
    };
    let upgrading = hyper::upgrade::on(&mut request);
    tokio::spawn(serve(upgrading, state, user, open));
    handshake::switching(accept)
}

/// Clients only send small control frames (`Resume`): tungstenite zeroes
/// its whole read buffer before each read, which at the default 128 KiB
/// was the server's largest cost per event. Our frames skip its write
/// buffer (see [`Io`]); its own (pongs, pings, close) go out at once.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
}

/// Why a connection ended, for the logs and the close frame.
#[derive(Debug)]
enum End {
    PeerClosed,
    PeerSilent,
    SendFailed,
    TooSlow,
    ServerShutdown,
    /// The peer broke the protocol: the close frame says how (RFC 6455
    /// section 7.4.1).
    Broke(CloseCode, &'static str),
}

impl End {
    /// How a failed read ends the socket.
    fn after(error: &WsError) -> Self {
        match error {
            WsError::Capacity(_) => Self::Broke(CloseCode::Size, "frame too large"),
            WsError::Utf8(_) => Self::Broke(CloseCode::Invalid, "text is not UTF-8"),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => Self::PeerClosed,
            WsError::Protocol(_) => Self::Broke(CloseCode::Protocol, "WebSocket protocol error"),
            _ => Self::PeerClosed,
        }
    }
}

/// A socket's task: it lives as long as the socket, so what it holds while
/// waiting is what each idle connection costs. The steps that run once (the
/// upgrade, announcing the user, the close) are boxed for their duration
/// rather than sized into the task for its whole life.
async fn serve(upgrading: OnUpgrade, state: AppState, user: Option<UserId>, _open: OpenSocket) {
    let upgraded = match upgrading.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "WebSocket upgrade failed");
            return;
        }
    };
    let io = Io::new(TokioIo::new(upgraded));
    let mut socket: Socket = Box::pin(WebSocketStream::from_raw_socket(
        io,
        Role::Server,
        Some(config()),
    ))
    .await;
    let (id, mut frames) = state.hub.connect(user);
    let presence = Box::pin(presence::announce(&state, user, id)).await;
    let mut watching = Watching::default();
    let end = run(&mut socket, &state, (id, user), &mut frames, &mut watching).await;
    state.hub.disconnect(id);
    watching.stop_all(&state, id);
    if let Some(online) = presence {
        presence::withdraw_after_grace(&state, online);
    }
    tracing::debug!(?end, "event socket closed");
    let (code, reason) = match end {
        End::ServerShutdown => (CloseCode::Away, "server shutting down"),
        End::PeerSilent => (CloseCode::Away, "no answer to pings"),
        End::TooSlow => (CloseCode::Policy, "too slow to keep up"),
        End::Broke(code, reason) => (code, reason),
        End::PeerClosed | End::SendFailed => return,
    };
    // Best effort: the peer may already be gone.
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = Box::pin(socket.send(close)).await;
}

async fn run(
    socket: &mut Socket,
    state: &AppState,
    (id, user): (ConnectionId, Option<UserId>),
    frames: &mut Receiver,
    watching: &mut Watching,
) -> End {
    let hello = control(&ServerFrame::Connected {
        server_time_ms: state.api.bus.now_ms(),
    });
    if send(socket, [hello]).await.is_err() {
        return End::SendFailed;
    }
    // Then the lobby's lists as they are, so a page needs no query for
    // them; not waited for long when the store is away (the lists come
    // with the next lobby events, or the resync after the outage).
    let lobby = tokio::time::timeout(LOBBY_PATIENCE, crate::lobby_news::lobby_now(&state.api.bus));
    if let Ok(lobby) = Box::pin(lobby).await
        && send(socket, lobby).await.is_err()
    {
        return End::SendFailed;
    }

    let every = state.ws_ping_interval;
    let mut ticks = interval_at(Instant::now() + every, every);
    let mut last_heard = Instant::now();
    // The ping waiting for an answer, sent at this instant.
    let mut pinged: Option<Instant> = None;
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return End::ServerShutdown,
            queued = frames.recv_all() => match queued {
                Some(mut queued) => {
                    // Let the tasks woken with this one run first: a
                    // command's answer is queued by another task just
                    // after the events it caused, and goes out in the
                    // same write instead of one of its own.
                    tokio::task::yield_now().await;
                    while let Ok(frame) = frames.try_recv() {
                        queued.push_back(frame);
                    }
                    if send(socket, queued).await.is_err() {
                        return End::SendFailed;
                    }
                }
                None => return End::TooSlow,
            },
            _ = ticks.tick() => {
                // Only an unanswered ping makes a peer silent: measured
                // from the last frame alone, a pong that came just after
                // one tick looked like two intervals of silence two ticks
                // later, and a peer answering every ping was dropped.
                if pinged.take().is_some_and(|sent| last_heard < sent) {
                    return End::PeerSilent;
                }
                if last_heard.elapsed() >= every {
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return End::SendFailed;
                    }
                    pinged = Some(Instant::now());
                }
            }
            received = socket.next() => match received {
                None | Some(Ok(Message::Close(_))) => return End::PeerClosed,
                Some(Err(error)) => return End::after(&error),
                Some(Ok(message)) => {
                    // Any frame, pongs included, proves the peer is there.
                    last_heard = Instant::now();
                    // Boxed: what answering awaits (a query, a send) would
                    // otherwise be sized into every idle socket's task.
                    if let Message::Text(text) = message
                        && Box::pin(answer(socket, state, (id, user), watching, text.as_str()))
                            .await
                            .is_err()
                    {
                        return End::SendFailed;
                    }
                }
            },
        }
    }
}

/// Handles a frame from the client.
async fn answer(
    socket: &mut Socket,
    state: &AppState,
    (id, user): (ConnectionId, Option<UserId>),
    watching: &mut Watching,
    text: &str,
) -> std::io::Result<()> {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(error) => {
            let refused = ServerFrame::Refused {
                message: format!("not a client frame: {error}"),
            };
            return send(socket, [control(&refused)]).await;
        }
    };
    match frame {
        ClientFrame::Resume { game_id, version } => {
            let mut resumed = state.hub.resume(id, game_id, version);
            if resumed == Some(Resumed::Unknown) {
                // Another node ran the game so far (or this one started
                // after it did): the store says where it is.
                if let Ok(Some(game)) = state.api.bus.query(GetGame { game_id }).await {
                    let players = game.players.iter().map(|seat| seat.user_id).collect();
                    state.hub.seed([(game_id, players, game.version)]);
                    resumed = state.hub.resume(id, game_id, version);
                }
            }
            let reply = match resumed {
                Some(Resumed::Replay(frames)) => frames,
                Some(Resumed::Reload | Resumed::Unknown) => {
                    vec![control(&ServerFrame::ReloadGame { game_id })]
                }
                None => vec![control(&ServerFrame::Refused {
                    message: "this socket follows too many games".to_owned(),
                })],
            };
            send(socket, reply).await
        }
        ClientFrame::Command {
            id: number,
            command,
        } => {
            commands::run(state, id, user, number, command);
            Ok(())
        }
        ClientFrame::Watch { game_id } => match watching.start(state, id, game_id) {
            Ok(()) => Ok(()),
            Err(refused) => send(socket, [control(&refused)]).await,
        },
        ClientFrame::Unwatch { game_id } => {
            watching.stop(state, id, game_id);
            Ok(())
        }
    }
}

/// The games a socket watches (counted among their spectators).
#[derive(Debug, Default)]
struct Watching(Vec<GameId>);

/// Games one socket may watch at once: a spectator's page shows one.
const MAX_WATCHED: usize = 4;

impl Watching {
    fn start(
        &mut self,
        state: &AppState,
        id: ConnectionId,
        game_id: GameId,
    ) -> Result<(), ServerFrame> {
        if self.0.contains(&game_id) {
            return Ok(());
        }
        if self.0.len() >= MAX_WATCHED {
            return Err(ServerFrame::Refused {
                message: format!("a socket watches at most {MAX_WATCHED} games; unwatch one first"),
            });
        }
        let connection_id = uuid::Uuid::from_u64_pair(state.instance, id);
        if state
            .api
            .bus
            .publish(StartedWatching {
                game_id,
                connection_id,
            })
            .is_ok()
        {
            self.0.push(game_id);
        }
        Ok(())
    }

    fn stop(&mut self, state: &AppState, id: ConnectionId, game_id: GameId) {
        if !self.0.contains(&game_id) {
            return;
        }
        self.0.retain(|watched| *watched != game_id);
        Self([game_id].into()).stop_all(state, id);
    }

    fn stop_all(self, state: &AppState, id: ConnectionId) {
        let connection_id = uuid::Uuid::from_u64_pair(state.instance, id);
        for game_id in self.0 {
            let _ = state.api.bus.publish(StoppedWatching {
                game_id,
                connection_id,
            });
        }
    }
}

/// Writes `frames` as text frames and flushes once: a move's events go out
/// in one write to the network, not one each.
async fn send(socket: &mut Socket, frames: impl IntoIterator<Item = Frame>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let io = socket.get_mut();
    for frame in frames {
        io.push_text(frame.as_str());
    }
    io.flush().await
}
