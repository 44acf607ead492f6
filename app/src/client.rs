//! The browser's picture of the world, in signals, fed in one place: every
//! frame from the socket and every query answer goes through [`Client`].

use std::collections::HashMap;

use domain::audience::Delivered;
use domain::users::User;
use domain::view::{Applied, GameView};
use domain::{
    Alias, GameError, GameId, GetGame, GetUser, LiveGames, OnlineUser, ScoreEntry, UserId,
    UserInvited,
};
use leptos::prelude::*;

use crate::api::ApiError;
use crate::calls::query;
use crate::link::{Link, Outgoing};
use crate::socket_commands::Pending;
use crate::socket_frames::{
    ClientFrame, CommandAnswered, CommandRefused, Connected, ReloadGame, ServerFrame,
};

/// Everything the pages show, as signals; `Copy`, shared through context.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    /// The signed-in user; `None` until known, or when not signed in.
    pub me: RwSignal<Option<User>>,
    /// Whether the server said who we are (or that we are nobody yet).
    pub me_known: RwSignal<bool>,
    /// The users online (at most the domain's list limit of them).
    pub online: RwSignal<Vec<OnlineUser>>,
    /// How many users are online in all.
    pub online_total: RwSignal<u64>,
    /// The hall of fame.
    pub fame: RwSignal<Vec<ScoreEntry>>,
    /// An invitation waiting for an answer.
    pub invitation: RwSignal<Option<UserInvited>>,
    /// Something to tell the player (an invitation declined, say).
    pub notice: RwSignal<Option<String>>,
    /// The game on screen.
    pub game: RwSignal<Option<GameView>>,
    /// The last refusal of one of our moves.
    pub game_error: RwSignal<Option<GameError>>,
    /// A game we made and wait for our opponent to join.
    pub awaiting: RwSignal<Option<(GameId, UserId)>>,
    /// A game of ours that just started: the page goes there.
    pub started: RwSignal<Option<GameId>>,
    /// Whether we wait in the quick play queue.
    pub queued: RwSignal<bool>,
    /// The game we watch as a spectator (told to the server, so it counts us).
    pub watching: RwSignal<Option<GameId>>,
    /// The first page of games being played, for the lobby.
    pub live_games: RwSignal<LiveGames>,
    /// Aliases seen so far.
    pub aliases: RwSignal<HashMap<UserId, Alias>>,
    /// Server clock minus ours, in ms (from the socket's first frame).
    pub clock_offset_ms: RwSignal<i64>,
    /// The socket's state.
    pub link: RwSignal<Link>,
    /// Commands sent on the socket, waiting for their answers.
    pending: StoredValue<Pending>,
    outgoing: StoredValue<Option<Outgoing>>,
}

impl Client {
    pub(crate) fn new() -> Self {
        Self {
            me: RwSignal::new(None),
            me_known: RwSignal::new(false),
            online: RwSignal::new(Vec::new()),
            online_total: RwSignal::new(0),
            fame: RwSignal::new(Vec::new()),
            invitation: RwSignal::new(None),
            notice: RwSignal::new(None),
            game: RwSignal::new(None),
            game_error: RwSignal::new(None),
            awaiting: RwSignal::new(None),
            started: RwSignal::new(None),
            queued: RwSignal::new(false),
            watching: RwSignal::new(None),
            live_games: RwSignal::new(LiveGames::default()),
            aliases: RwSignal::new(HashMap::new()),
            clock_offset_ms: RwSignal::new(0),
            link: RwSignal::new(Link::Connecting),
            pending: StoredValue::new(Pending::default()),
            outgoing: StoredValue::new(None),
        }
    }

    /// The signed-in user's id, if there is one (untracked).
    pub fn my_id(&self) -> Option<UserId> {
        self.me
            .with_untracked(|me| me.as_ref().map(|me| me.user_id))
    }

    /// Hands the socket's sender to the client (browser only).
    pub fn attach(&self, outgoing: Outgoing) {
        self.outgoing.set_value(Some(outgoing));
    }

    /// Sends a frame on the socket (dropped when it is down: a reconnect
    /// resumes the game on screen anyway).
    pub fn send(&self, frame: ClientFrame) {
        self.outgoing.with_value(|outgoing| {
            if let Some(outgoing) = outgoing {
                outgoing.send(frame);
            }
        });
    }

    /// Sends a command as the signed-in user: on the socket when it is open
    /// (answered there once applied), else over HTTP. `CreateUser` always
    /// goes over HTTP: its answer sets the session cookie.
    pub async fn command<C: bus::Command>(&self, command: C) -> Result<(), ApiError> {
        self.send_command(
            C::TYPE,
            serde_json::json!({ "type": C::TYPE, "payload": command }),
        )
        .await
    }

    /// [`Client::command`] once the command is JSON: one copy of the
    /// sending for all the command types, where each had its own (4 KB raw
    /// of the browser bundle in all).
    async fn send_command(&self, kind: &str, command: serde_json::Value) -> Result<(), ApiError> {
        #[cfg(feature = "csr")]
        if kind != <domain::CreateUser as bus::Effect>::TYPE
            && self.link.get_untracked() == Link::Connected
            && self.outgoing.with_value(Option::is_some)
        {
            let (id, answer) = self
                .pending
                .try_update_value(Pending::open)
                .ok_or_else(gone)?;
            self.send(ClientFrame::Command {
                id,
                command: command.clone(),
            });
            match answer.await {
                Ok(Ok(())) => return Ok(()),
                // A socket opened before signing up carries no session.
                Ok(Err(refused)) if refused.code() == crate::api::ErrorCode::NoSession => {}
                Ok(Err(refused)) => return Err(refused),
                Err(_) => return Err(gone()),
            }
        }
        #[cfg(not(feature = "csr"))]
        let _ = kind;
        crate::calls::send_command(command).await
    }

    /// Leaves the quick play queue before starting a game some other way,
    /// so that a pairing never makes it two games at once. Asked every
    /// time: a page reloaded while queued does not know it is.
    pub async fn leave_queue(&self) {
        self.queued.set(false);
        if let Some(player_id) = self.my_id() {
            let _ = self.command(domain::CancelQuickPlay { player_id }).await;
        }
    }

    /// The socket closed: the commands it carried get no answer.
    pub fn socket_closed(&self) {
        self.pending.update_value(Pending::forget_all);
    }

    /// Reopens the socket (after signing in, so it carries the cookie).
    pub fn reconnect(&self) {
        self.outgoing.with_value(|outgoing| {
            if let Some(outgoing) = outgoing {
                outgoing.reconnect();
            }
        });
    }

    /// The alias of a user, or a short stand-in until it is known.
    pub fn alias_of(&self, user: UserId) -> String {
        self.aliases
            .with(|aliases| aliases.get(&user).map(ToString::to_string))
            .unwrap_or_else(|| "a player".to_owned())
    }

    /// "Waiting for … to accept…", while an invitation of ours is out.
    pub fn awaiting_text(&self) -> Option<String> {
        self.awaiting
            .get()
            .map(|(_, opponent)| format!("Waiting for {} to accept…", self.alias_of(opponent)))
    }

    fn learn(&self, users: impl IntoIterator<Item = (UserId, Alias)>) {
        self.aliases.update(|aliases| aliases.extend(users));
    }

    /// Applies one frame from the socket.
    pub fn receive(&self, text: &str, local_now_ms: f64) {
        // Parsed once, then read as a frame of the socket's own or an event.
        let Ok((kind, payload)) = domain::json_read::tagged(text) else {
            return;
        };
        if let Some(frame) = ServerFrame::read_payload(&kind, &payload) {
            let Ok(frame) = frame else {
                return;
            };
            match frame {
                ServerFrame::Connected(Connected { server_time_ms }) => {
                    // A new socket: nothing sent on the old one will be answered.
                    self.pending.update_value(Pending::forget_all);
                    self.clock_offset_ms
                        .set(server_time_ms as i64 - local_now_ms as i64);
                    self.link.set(Link::Connected);
                    self.resync();
                }
                ServerFrame::ReloadGame(ReloadGame { game_id }) => self.reload_game(game_id),
                ServerFrame::CommandAnswered(CommandAnswered { id, .. }) => {
                    self.pending
                        .update_value(|pending| pending.answered(id, Ok(())));
                }
                ServerFrame::CommandRefused(CommandRefused { id, error }) => {
                    let refused = ApiError { error };
                    self.pending
                        .update_value(|pending| pending.answered(id, Err(refused)));
                }
                ServerFrame::Refused(_) => {}
            }
            return;
        }
        let Some(Ok(event)) = Delivered::read_payload(&kind, &payload) else {
            return;
        };
        self.deliver(&event);
    }

    fn deliver(&self, event: &Delivered) {
        match event {
            Delivered::UsersOnlineUpdated(e) => {
                self.learn(e.users.iter().map(|u| (u.user_id, u.alias.clone())));
                self.online.set(e.users.clone());
                self.online_total.set(e.total);
            }
            Delivered::TopThreeListUpdated(e) => {
                self.learn(e.current.iter().map(|s| (s.user_id, s.alias.clone())));
                self.fame.set(e.current.clone());
            }
            Delivered::UserInvited(e) => self.invitation.set(Some(e.clone())),
            Delivered::InvitationDeclined(e) => {
                if self
                    .awaiting
                    .get_untracked()
                    .is_some_and(|(game, _)| game == e.game_id)
                {
                    self.awaiting.set(None);
                }
                self.notice.set(Some(format!(
                    "{} declined your invitation.",
                    self.alias_of(e.invited_id)
                )));
            }
            Delivered::GameErrorOccurred(e) => self.game_error.set(Some(e.reason)),
            Delivered::GameStarted(e) => {
                if self
                    .awaiting
                    .get_untracked()
                    .is_some_and(|(game, _)| game == e.game_id)
                {
                    self.awaiting.set(None);
                    self.started.set(Some(e.game_id));
                }
                // Paired from the quick play queue: a game of ours we did
                // not make.
                if self.queued.get_untracked()
                    && self.my_id().is_some_and(|me| e.players.contains(&me))
                {
                    self.queued.set(false);
                    self.started.set(Some(e.game_id));
                }
                self.apply_to_game(event);
            }
            Delivered::QuickPlayQueued(_) => self.queued.set(true),
            Delivered::LiveGamesUpdated(e) => self.show_live_games(LiveGames {
                games: e.games.clone(),
                total: e.total,
            }),
            Delivered::QuickPlayLeft(_) => self.queued.set(false),
            _ => self.apply_to_game(event),
        }
    }

    fn apply_to_game(&self, event: &Delivered) {
        let mut gap = None;
        self.game.update(|game| {
            if let Some(view) = game
                && view.apply(event) == Applied::Gap
            {
                gap = Some(view.game_id);
            }
        });
        if let Some(game_id) = gap {
            self.reload_game(game_id);
        }
    }

    /// Shows game `game_id`: loads it, then follows it on the socket.
    pub fn open_game(&self, game_id: GameId) {
        if self
            .game
            .with_untracked(|game| game.as_ref().map(|g| g.game_id))
            != Some(game_id)
        {
            self.game.set(Some(GameView::empty(game_id)));
            self.game_error.set(None);
        }
        self.reload_game(game_id);
    }

    /// Asks the server for the game's state, then resumes its events after it.
    pub fn reload_game(&self, game_id: GameId) {
        let client = *self;
        leptos::task::spawn_local(async move {
            let answer = query(GetGame { game_id }).await;
            // Resume only a game that exists: asking again about one that is
            // gone would be told "reload" again, forever.
            let version = match answer {
                Ok(Some(view)) => {
                    client.learn_players(&view).await;
                    let version = view.version;
                    client.game.update(|game| {
                        if game
                            .as_ref()
                            .is_some_and(|g| g.game_id == game_id && g.version <= version)
                        {
                            *game = Some(view);
                        }
                    });
                    version
                }
                // Cleaned up: what we show is what there is.
                Ok(None) | Err(_) => return,
            };
            client.send(ClientFrame::Resume { game_id, version });
        });
    }

    async fn learn_players(&self, view: &GameView) {
        self.learn_users(view.players.iter().map(|seat| seat.user_id))
            .await;
    }

    /// Shows `games` in the lobby, once their players' names are known.
    fn show_live_games(&self, games: LiveGames) {
        let client = *self;
        leptos::task::spawn_local(async move {
            client
                .learn_users(games.games.iter().flat_map(|game| game.players.clone()))
                .await;
            client.live_games.set(games);
        });
    }

    /// Counts us among `game_id`'s spectators (again, on a new socket).
    pub fn watch(&self, game_id: GameId) {
        self.watching.set(Some(game_id));
        self.send(ClientFrame::Watch { game_id });
    }

    /// Stops counting us among the spectators of the game we watch.
    pub fn unwatch(&self) {
        if let Some(game_id) = self.watching.get_untracked() {
            self.watching.set(None);
            self.send(ClientFrame::Unwatch { game_id });
        }
    }

    /// Looks up the aliases of `users` not known yet.
    pub async fn learn_users(&self, users: impl IntoIterator<Item = UserId>) {
        for user_id in users {
            let known = self
                .aliases
                .with_untracked(|aliases| aliases.contains_key(&user_id));
            if !known && let Ok(Some(user)) = query(GetUser { user_id }).await {
                self.learn([(user.user_id, user.alias)]);
            }
        }
    }

    /// After (re)connecting: fetch what may have changed while away.
    pub fn resync(&self) {
        let client = *self;
        leptos::task::spawn_local(async move {
            if let Ok(me) = crate::calls::me().await {
                if let Some(me) = &me {
                    client.learn([(me.user_id, me.alias.clone())]);
                }
                client.me.set(me);
                client.me_known.set(true);
            }
            // The lobby's lists come on the socket, right after `Connected`.
        });
        // A new socket: the server counts us anew.
        if let Some(game_id) = self.watching.get_untracked() {
            self.send(ClientFrame::Watch { game_id });
        }
        if let Some(game_id) = self
            .game
            .with_untracked(|game| game.as_ref().map(|g| g.game_id))
        {
            self.reload_game(game_id);
        }
    }
}

/// A command sent on a socket that closed before it was answered: it may or
/// may not have been applied.
#[cfg(feature = "csr")]
fn gone() -> ApiError {
    ApiError::new(
        crate::api::ErrorCode::Unavailable,
        "the connection dropped before the server answered; try again",
    )
}

/// The client, from context.
pub fn use_client() -> Client {
    expect_context::<Client>()
}

/// A game refusal in words.
pub fn describe_error(error: GameError) -> &'static str {
    match error {
        GameError::PlayerCanNotPlay => "It's not your turn.",
        GameError::PositionOffLimits => "That square is off the board.",
        GameError::PositionAlreadyFilled => "That square is already taken.",
        GameError::GameAlreadyEnded => "This game is over.",
        GameError::AllPlayersAlreadyJoined => "This game already has two players.",
        GameError::PlayerAlreadyJoined => "You are already in this game.",
        GameError::GameNotFound => "This game does not exist (any more).",
        GameError::GameAlreadyExists => "A game with this id exists already.",
        GameError::PlayerCanNotInvite => "Only the game's creator can invite.",
        GameError::GameAlreadyStarted => "The game has started already.",
        GameError::NotInvited => "You have no invitation to this game.",
        GameError::UserNotFound => "There is no such player to invite.",
        GameError::TooManyWaitingGames => {
            "You have too many games waiting for players; start or let some lapse first."
        }
    }
}
