//! A socket's task: one future written by hand, from upgrade to close.
//!
//! The task lives as long as the socket, so its size is most of what an
//! idle connection costs. An `async` loop over `select!` sized into every
//! task the futures of all it waited on (the queue, the connection, a ping
//! timer, shutdown) and the wrappers around the connection: 1,280 bytes a
//! task, and a timer, hyper's boxed connection and
//! tokio-tungstenite's wakers besides (docs/performance.md, "A socket
//! without a future of its own"). Here a live socket ([`Live`]) waits on
//! two things, its queue and its connection, each polled in place: the
//! ping round and shutdown come through the queue ([`Received`]), and the
//! steps that run once (opening, closing) are boxed for their duration.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use app::socket_frames::{ClientFrame, Connected, Refused, ReloadGame, ServerFrame};
use domain::{GameId, GetGame, UserId};
use hyper::upgrade::OnUpgrade;
use tokio::time::Instant;

use super::End;
use super::client_frames::ClientMessage;
use super::commands::{self, Command};
use super::connection::Connection;
use super::presence;
use super::watching::Watching;
use crate::accept::ServedIo;
use crate::event_routing::{ConnectionId, Resumed, control};
use crate::live_sockets::OpenSocket;
use crate::queue::{Frame, Received, Receiver};
use crate::state::AppState;

/// How long a new socket's lobby lists may take before they are left out.
const LOBBY_PATIENCE: Duration = Duration::from_secs(1);

/// How long a closing socket's last frames may take to leave.
const CLOSE_PATIENCE: Duration = Duration::from_secs(1);

/// Client frames read in one poll before the task lets others run (a
/// client that sends without pause must not keep the worker).
const MESSAGES_PER_POLL: usize = 32;

/// A step that runs once, boxed for its duration.
type Step<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A socket's task.
#[allow(
    clippy::large_enum_variant,
    reason = "a socket is `Live` nearly all its life: boxing it would add an allocation, not save one"
)]
pub(super) enum Task {
    /// Upgrading, announcing the user, the first frames.
    Opening(Step<Option<Live>>),
    Live(Live),
    /// The last frames (a close), best effort.
    Closing(Step<()>),
    Done,
}

impl Task {
    /// The task of a socket of `user` (or anonymous), once `upgrading`
    /// hands over the connection.
    pub(super) fn new(
        upgrading: OnUpgrade,
        state: AppState,
        user: Option<UserId>,
        open: OpenSocket,
    ) -> Self {
        Self::Opening(Box::pin(open_socket(upgrading, state, user, open)))
    }
}

impl Future for Task {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let task = self.get_mut();
        loop {
            match task {
                Task::Opening(opening) => match ready!(opening.as_mut().poll(cx)) {
                    Some(live) => *task = Task::Live(live),
                    None => *task = Task::Done,
                },
                Task::Live(live) => {
                    let end = ready!(Pin::new(&mut *live).poll(cx));
                    if let Task::Live(live) = std::mem::replace(task, Task::Done) {
                        *task = live.finish(end).map_or(Task::Done, Task::Closing);
                    }
                }
                Task::Closing(closing) => {
                    ready!(closing.as_mut().poll(cx));
                    *task = Task::Done;
                }
                Task::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Takes the upgraded connection, registers the socket with the hub and
/// presence, and queues its first frames: `Connected`, then the lobby's
/// lists as they are.
async fn open_socket(
    upgrading: OnUpgrade,
    state: AppState,
    user: Option<UserId>,
    open: OpenSocket,
) -> Option<Live> {
    let upgraded = match upgrading.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "WebSocket upgrade failed");
            return None;
        }
    };
    // The connection as the accept loop made it: its socket, unboxed, and
    // what hyper read past the handshake (usually nothing).
    let Ok(parts) = upgraded.downcast::<ServedIo>() else {
        tracing::error!("an upgraded connection of an unexpected type");
        return None;
    };
    let (tcp, slot) = parts.io.into_inner().into_parts();
    let connection = Connection::new(tcp, slot, parts.read_buf);
    let (id, frames) = state.hub.connect(user);
    let announced = presence::announce(&state, user, id).await;
    let mut live = Live {
        connection,
        id,
        user,
        frames,
        watching: Watching::default(),
        announced,
        _open: open,
        heard: Instant::now(),
        pinged: false,
        yielded: false,
        stalled: false,
        answering: None,
        state,
    };
    let hello = ServerFrame::Connected(Connected {
        server_time_ms: live.state.api.bus.now_ms(),
    });
    live.push_all([control(&hello)]);
    // At once (a failed write shows again at the live socket's first
    // flush, which ends it).
    let _ = poll_fn(|cx| live.connection.poll_flush(cx, &live.state.barrier)).await;
    // Then the lobby's lists, so a page needs no query for them; not
    // waited for long when the store is away (the lists come with the next
    // lobby events, or the resync after the outage).
    let lobby = crate::lobby_news::lobby_now(&live.state.api.bus);
    if let Ok(lobby) = tokio::time::timeout(LOBBY_PATIENCE, lobby).await {
        live.push_all(lobby);
    }
    Some(live)
}

/// An open socket, serving its queue and its client.
pub(super) struct Live {
    connection: Connection,
    state: AppState,
    id: ConnectionId,
    user: Option<UserId>,
    frames: Receiver,
    watching: Watching,
    /// Its user was announced to presence (and is withdrawn when it
    /// closes).
    announced: bool,
    _open: OpenSocket,
    /// When the client was last heard from.
    heard: Instant,
    /// A ping went out and nothing was heard since.
    pinged: bool,
    /// Queued frames wait while the tasks woken with this one run.
    yielded: bool,
    /// A ping round came while the peer took none of what was sent.
    stalled: bool,
    /// A resume that the store answers (see [`Live::answer`]).
    answering: Option<Step<Vec<Frame>>>,
}

impl Future for Live {
    type Output = End;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<End> {
        let live = self.get_mut();
        let mut read = 0;
        loop {
            // Nothing else until the store's answer to a resume is sent:
            // the replay comes before the events that follow it.
            if let Some(answering) = &mut live.answering {
                let reply = ready!(answering.as_mut().poll(cx));
                live.answering = None;
                live.push_all(reply);
            }
            if std::mem::take(&mut live.yielded) {
                // What the tasks woken with this one queued meanwhile (a
                // command's answer comes just after the events it caused)
                // joins the same write instead of one of its own.
                let queued = live.frames.take_queued();
                live.push_all(queued);
            }
            if live.connection.has_unsent() {
                match live.connection.poll_flush(cx, &live.state.barrier) {
                    Poll::Ready(Ok(())) => live.stalled = false,
                    Poll::Ready(Err(_)) => return Poll::Ready(End::SendFailed),
                    Poll::Pending => return live.poll_stalled(cx),
                }
            }
            match live.frames.poll_recv(cx) {
                Poll::Ready(Received::Frames(frames)) => {
                    live.push_all(frames);
                    live.yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Received::Tick) => {
                    if let Err(end) = live.tick() {
                        return Poll::Ready(end);
                    }
                    continue;
                }
                Poll::Ready(Received::Shutdown) => return Poll::Ready(End::ServerShutdown),
                Poll::Ready(Received::Closed) => return Poll::Ready(End::TooSlow),
                Poll::Pending => {}
            }
            if read == MESSAGES_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Poll::Ready(message) = live.connection.poll_next(cx) else {
                // Reading may have queued an answer (a pong): send it.
                if live.connection.has_unsent() {
                    continue;
                }
                return Poll::Pending;
            };
            match message {
                None | Some(Ok(ClientMessage::Close(_))) => return Poll::Ready(End::PeerClosed),
                Some(Err(broken)) => return Poll::Ready(End::Broke(broken)),
                Some(Ok(message)) => {
                    read += 1;
                    // Any frame, pongs included, proves the peer is there.
                    live.heard = Instant::now();
                    live.pinged = false;
                    if let ClientMessage::Text(text) = message {
                        live.answer(&text);
                    }
                }
            }
        }
    }
}

impl Live {
    fn push_all(&mut self, frames: impl IntoIterator<Item = Frame>) {
        for frame in frames {
            self.connection.push_text(frame.as_str());
        }
    }

    /// While the peer takes nothing of what was sent: its frames wait in
    /// the queue (bounded: the hub cuts the socket off when it is full),
    /// and only what ends the socket is looked at. A peer that took
    /// nothing through a whole ping round is too slow, even with a queue
    /// that never fills (a socket with few events).
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        loop {
            match ready!(self.frames.poll_interrupt(cx)) {
                Received::Shutdown => return Poll::Ready(End::ServerShutdown),
                Received::Tick if !std::mem::replace(&mut self.stalled, true) => {}
                Received::Tick | Received::Closed | Received::Frames(_) => {
                    return Poll::Ready(End::TooSlow);
                }
            }
        }
    }

    /// The ping round came by: a peer that left the last ping unanswered
    /// is gone; one silent for an interval is pinged.
    fn tick(&mut self) -> Result<(), End> {
        // Only an unanswered ping makes a peer silent: measured from the
        // last frame alone, a pong that came just after one round looked
        // like two intervals of silence two rounds later, and a peer
        // answering every ping was dropped.
        if self.pinged {
            return Err(End::PeerSilent);
        }
        if self.heard.elapsed() >= self.state.ws_ping_interval {
            self.connection.ping();
            self.pinged = true;
        }
        Ok(())
    }

    /// Handles a frame from the client.
    fn answer(&mut self, text: &str) {
        if let Some((number, command)) = commands::command_frame(text) {
            return commands::run(&self.state, self.id, self.user, number, command);
        }
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(error) => {
                let refused = ServerFrame::Refused(Refused {
                    message: format!("not a client frame: {error}"),
                });
                return self.push_all([control(&refused)]);
            }
        };
        let (state, id) = (&self.state, self.id);
        match frame {
            ClientFrame::Resume { game_id, version } => {
                match state.hub.resume(id, game_id, version) {
                    // Another node ran the game so far (or this one started
                    // after it did): the store says where it is.
                    Some(Resumed::Unknown) => {
                        let asking = resume_from_store(state.clone(), id, game_id, version);
                        self.answering = Some(Box::pin(asking));
                    }
                    resumed => self.push_all(resume_reply(game_id, resumed)),
                }
            }
            ClientFrame::Command {
                id: number,
                command,
            } => commands::run(state, id, self.user, number, Command::Value(command)),
            ClientFrame::Watch { game_id } => {
                if let Err(refused) = self.watching.start(state, id, game_id) {
                    self.push_all([control(&refused)]);
                }
            }
            ClientFrame::Unwatch { game_id } => self.watching.stop(state, id, game_id),
        }
    }

    /// Leaves the hub, the games watched and (after the grace period)
    /// presence; the close to send, if any.
    fn finish(self, end: End) -> Option<Step<()>> {
        let Live {
            mut connection,
            state,
            id,
            user,
            watching,
            announced,
            ..
        } = self;
        state.hub.disconnect(id);
        watching.stop_all(&state, id);
        if let (true, Some(user)) = (announced, user) {
            presence::withdraw_after_grace(&state, user, id);
        }
        tracing::debug!(?end, "event socket closed");
        match end.close() {
            Some((code, reason)) => connection.close(code, &reason),
            // Nothing to add (a client's close was answered as it was read).
            None if matches!(end, End::PeerClosed) => {}
            None => return None,
        }
        Some(Box::pin(async move {
            // Best effort: the peer may already be gone.
            let flushed = poll_fn(|cx| connection.poll_flush(cx, &state.barrier));
            let _ = tokio::time::timeout(CLOSE_PATIENCE, flushed).await;
        }))
    }
}

/// Seeds the hub with where the store says `game_id` is, then answers the
/// resume.
async fn resume_from_store(
    state: AppState,
    id: ConnectionId,
    game_id: GameId,
    version: u64,
) -> Vec<Frame> {
    let mut resumed = Some(Resumed::Unknown);
    if let Ok(Some(game)) = state.api.bus.query(GetGame { game_id }).await {
        let players = game.players.iter().map(|seat| seat.user_id).collect();
        state.hub.seed([(game_id, players, game.version)]);
        resumed = state.hub.resume(id, game_id, version);
    }
    resume_reply(game_id, resumed)
}

/// What a resume gets: what it missed, or to reload the game.
fn resume_reply(game_id: GameId, resumed: Option<Resumed>) -> Vec<Frame> {
    match resumed {
        Some(Resumed::Replay(frames)) => frames,
        Some(Resumed::Reload | Resumed::Unknown) => {
            vec![control(&ServerFrame::ReloadGame(ReloadGame { game_id }))]
        }
        None => vec![control(&ServerFrame::Refused(Refused {
            message: "this socket follows too many games".to_owned(),
        }))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_task_stays_small() {
        // Every idle connection holds one. Tokio puts a task in a cell
        // aligned to 128 bytes, with about 110 of its own: a future of
        // at most 264 bytes makes a 384-byte cell (240 now; 288 made a
        // cell of 512, and the `async` loop it replaced, 1,160, one of
        // 1,280).
        let size = std::mem::size_of::<Task>();
        assert!(size <= 264, "a socket's task is {size} bytes");
    }
}
