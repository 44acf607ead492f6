//! One simulated player, as a browser is one: a session cookie from
//! `CreateUser`, commands over HTTP, events from its own WebSocket.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use uuid::Uuid;

use crate::{CommandsOver, Failure};

/// The events a player acts on; everything else on the socket is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    UserInvited,
    WaitingForPlayerPlay,
    BoardUpdated,
    GameEnded,
    GameErrorOccurred,
    UserErrorOccurred,
    /// The last of the lobby's lists a socket gets when it opens.
    LiveGamesUpdated,
}

impl Kind {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "UserInvited" => Self::UserInvited,
            "WaitingForPlayerPlay" => Self::WaitingForPlayerPlay,
            "BoardUpdated" => Self::BoardUpdated,
            "GameEnded" => Self::GameEnded,
            "GameErrorOccurred" => Self::GameErrorOccurred,
            "UserErrorOccurred" => Self::UserErrorOccurred,
            "LiveGamesUpdated" => Self::LiveGamesUpdated,
            _ => return None,
        })
    }
}

/// An event as received, with when it arrived.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    pub game_id: Option<Uuid>,
    pub player_id: Option<Uuid>,
    pub version: Option<u64>,
    pub reason: Option<String>,
    pub at: Instant,
}

#[derive(Deserialize)]
struct Frame {
    r#type: String,
    #[serde(default)]
    payload: Payload,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    game_id: Option<Uuid>,
    player_id: Option<Uuid>,
    version: Option<u64>,
    reason: Option<Value>,
}

/// The wire name of a frame, read without parsing the rest of it (frames
/// start with `{"type":"...`), so the frames nobody waits for cost little.
fn frame_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    rest.split_once('"').map(|(name, _)| name)
}

fn parse(text: &str, at: Instant) -> Option<Event> {
    let kind = Kind::of(frame_type(text)?)?;
    let frame: Frame = serde_json::from_str(text).ok()?;
    debug_assert_eq!(Kind::of(&frame.r#type), Some(kind));
    Some(Event {
        kind,
        game_id: frame.payload.game_id,
        player_id: frame.payload.player_id,
        version: frame.payload.version,
        reason: frame.payload.reason.map(|reason| match reason {
            Value::String(text) => text,
            other => other.to_string(),
        }),
        at,
    })
}

/// A signed-up player with an open event socket.
pub struct Player {
    pub id: Uuid,
    cookie: String,
    http: reqwest::Client,
    base: String,
    events: mpsc::UnboundedReceiver<Event>,
    reader: JoinHandle<()>,
    /// Where commands go when they go on the socket.
    socket_commands: Option<SocketCommands>,
}

/// The socket's write half and the commands sent on it awaiting an answer.
struct SocketCommands {
    write: tokio::sync::Mutex<SocketSink>,
    waiting: Answers,
    next_id: std::sync::atomic::AtomicU64,
}

type SocketSink = futures::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// Commands in flight on a socket, by id: told their answer by the reader.
type Answers = std::sync::Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<Result<(), Failure>>>>>;

/// An answer to a command sent on the socket: `(id, outcome)`.
fn command_answer(text: &str) -> Option<(u64, Result<(), Failure>)> {
    #[derive(Deserialize)]
    struct Answer {
        id: u64,
        #[serde(default)]
        error: Option<ErrorBody>,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        code: String,
    }
    #[derive(Deserialize)]
    struct AnswerFrame {
        payload: Answer,
    }
    let kind = frame_type(text)?;
    if kind != "CommandAnswered" && kind != "CommandRefused" {
        return None;
    }
    let frame: AnswerFrame = serde_json::from_str(text).ok()?;
    let outcome = match frame.payload.error {
        None => Ok(()),
        Some(error) => Err(Failure::Refused(error.code)),
    };
    Some((frame.payload.id, outcome))
}

impl Drop for Player {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Player {
    /// Creates a user (its session cookie comes back) and opens its socket;
    /// its commands go `over` HTTP or the socket.
    pub async fn join(
        http: &reqwest::Client,
        base: &str,
        alias: &str,
        over: CommandsOver,
    ) -> Result<Self, Failure> {
        let id = Uuid::new_v4();
        let response = http
            .post(format!("{base}/api/commands"))
            .json(&json!({ "command": { "type": "CreateUser", "payload": { "userId": id, "alias": alias } } }))
            .send()
            .await
            .map_err(|error| Failure::Http(error.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(Failure::Status(response.status().as_u16()));
        }
        let cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| {
                value
                    .split(';')
                    .next()
                    .filter(|pair| pair.starts_with("session="))
            })
            .ok_or(Failure::NoSession)?
            .to_owned();

        // `CreateUser` is answered once committed: the user can be invited
        // at once (on PostgreSQL too).

        let ws_url = format!("{}/api/ws", base.replacen("http", "ws", 1));
        let mut request = ws_url
            .into_client_request()
            .map_err(|error| Failure::Socket(error.to_string()))?;
        request.headers_mut().insert(
            COOKIE,
            cookie
                .parse()
                .map_err(|_| Failure::Socket("cookie is not a header value".into()))?,
        );
        // A small read buffer: tungstenite zeroes all of it before each read.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                .await
                .map_err(|error| Failure::Socket(error.to_string()))?;
        let (sender, events) = mpsc::unbounded_channel();
        let (write, mut read) = socket.split();
        // The server puts a socket among its user's before it sends
        // `Connected`, the socket's first frame: until then an event for
        // this player (an invitation) reaches none of its sockets. A
        // starved server took long enough between the upgrade and then for
        // a guest to miss its invitation.
        loop {
            match read.next().await {
                Some(Ok(Message::Text(text))) if frame_type(&text) == Some("Connected") => break,
                Some(Ok(_)) => {}
                _ => return Err(Failure::Socket("closed before it was connected".into())),
            }
        }
        let waiting = Answers::default();
        let answers = waiting.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = read.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                if let Some((id, outcome)) = command_answer(&text) {
                    let told = answers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&id);
                    if let Some(told) = told {
                        let _ = told.send(outcome);
                    }
                } else if let Some(event) = parse(&text, Instant::now())
                    && sender.send(event).is_err()
                {
                    return;
                }
            }
        });
        let socket_commands = (over == CommandsOver::Socket).then(|| SocketCommands {
            write: tokio::sync::Mutex::new(write),
            waiting,
            next_id: std::sync::atomic::AtomicU64::new(1),
        });
        Ok(Self {
            id,
            cookie,
            http: http.clone(),
            base: base.to_owned(),
            events,
            reader,
            socket_commands,
        })
    }

    /// Waits for the lobby's lists, which a socket gets when it opens
    /// (`LiveGamesUpdated` comes last of them).
    pub async fn wait_lobby(&mut self, patience: Duration) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| Failure::Timeout(Kind::LiveGamesUpdated))?
                .ok_or(Failure::Disconnected)?;
            if event.kind == Kind::LiveGamesUpdated {
                return Ok(());
            }
        }
    }

    /// Whether the socket is still open (its reader still runs).
    pub fn connected(&self) -> bool {
        !self.reader.is_finished()
    }

    /// Sends a command as this player; `Ok` once the server accepted it.
    pub async fn command(&self, effect_type: &str, payload: Value) -> Result<(), Failure> {
        let command = json!({ "type": effect_type, "payload": payload });
        if let Some(socket) = &self.socket_commands {
            return socket.send(command).await;
        }
        let response = self
            .http
            .post(format!("{}/api/commands", self.base))
            .header(COOKIE, &self.cookie)
            .json(&json!({ "command": command }))
            .send()
            .await
            .map_err(|error| Failure::Http(error.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Failure::Status(response.status().as_u16()))
        }
    }

    /// The next `WaitingForPlayerPlay` in `game` that names this player.
    pub async fn wait_turn(&mut self, game: Uuid, patience: Duration) -> Result<Event, Failure> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let turn = self.wait(Kind::WaitingForPlayerPlay, game, left).await?;
            if turn.player_id == Some(self.id) {
                return Ok(turn);
            }
        }
    }

    /// The next `BoardUpdated` in `game` newer than `version`.
    pub async fn wait_board(
        &mut self,
        game: Uuid,
        version: u64,
        patience: Duration,
    ) -> Result<Event, Failure> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let board = self.wait(Kind::BoardUpdated, game, left).await?;
            if board.version.is_some_and(|seen| seen > version) {
                return Ok(board);
            }
        }
    }

    /// The next event of `kind` in `game` (earlier ones are skipped); a rule
    /// error reported to this player instead is a failure.
    pub async fn wait(
        &mut self,
        kind: Kind,
        game: Uuid,
        patience: Duration,
    ) -> Result<Event, Failure> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| Failure::Timeout(kind))?
                .ok_or(Failure::Disconnected)?;
            match event.kind {
                Kind::GameErrorOccurred | Kind::UserErrorOccurred => {
                    return Err(Failure::Rule(event.reason.unwrap_or_default()));
                }
                found if found == kind && event.game_id == Some(game) => return Ok(event),
                _ => {}
            }
        }
    }
}

/// A `Command` frame, `type` first as the browser writes it (serde's
/// derive writes fields in order; `json!` sorts its keys, which put
/// `payload` first and sent the server down serde's slower reading of an
/// adjacently tagged enum, which buffers the payload).
#[derive(serde::Serialize)]
struct CommandFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: CommandPayload<'a>,
}

#[derive(serde::Serialize)]
struct CommandPayload<'a> {
    id: u64,
    command: &'a Value,
}

impl SocketCommands {
    /// Sends `command` as a `Command` frame and waits for its answer.
    async fn send(&self, command: Value) -> Result<(), Failure> {
        use futures::SinkExt;
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let frame = serde_json::to_string(&CommandFrame {
            kind: "Command",
            payload: CommandPayload {
                id,
                command: &command,
            },
        })
        .map_err(|error| Failure::Socket(error.to_string()))?;
        let (told, answer) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, told);
        self.write
            .lock()
            .await
            .send(Message::Text(frame.into()))
            .await
            .map_err(|error| Failure::Socket(error.to_string()))?;
        answer.await.map_err(|_| Failure::Disconnected)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_frame_is_written_type_first_as_the_browser_writes_it() {
        let command = json!({ "type": "PlaceMark", "payload": { "x": 1 } });
        let frame = serde_json::to_string(&CommandFrame {
            kind: "Command",
            payload: CommandPayload {
                id: 3,
                command: &command,
            },
        })
        .expect("writes");
        assert_eq!(
            frame,
            r#"{"type":"Command","payload":{"id":3,"command":{"payload":{"x":1},"type":"PlaceMark"}}}"#
        );
    }

    #[test]
    fn only_the_frames_acted_on_are_parsed() {
        let now = Instant::now();
        let game = Uuid::from_u128(7);
        let board = format!(
            r#"{{"type":"BoardUpdated","payload":{{"board":[],"gameId":"{game}","version":7}}}}"#
        );
        let event = parse(&board, now).expect("parsed");
        assert_eq!(event.kind, Kind::BoardUpdated);
        assert_eq!(event.game_id, Some(game));
        assert!(
            parse(
                r#"{"type":"UsersOnlineUpdated","payload":{"users":[]}}"#,
                now
            )
            .is_none()
        );
        assert!(parse("not json", now).is_none());
        let error = r#"{"type":"GameErrorOccurred","payload":{"reason":"PLAYER_CAN_NOT_PLAY"}}"#;
        assert_eq!(
            parse(error, now).and_then(|event| event.reason).as_deref(),
            Some("PLAYER_CAN_NOT_PLAY")
        );
    }
}
