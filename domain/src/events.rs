//! Every command, event and query of the game (SPEC section 3), as serde
//! types: camelCase fields, `{"type", "payload"}` on the wire.
//!
//! Commands name their acting user in one field (`playerId`, `inviterId`,
//! `invitedId`, `userId`); the server fills it from the session and refuses
//! a payload that names anyone else.

use serde::{Deserialize, Serialize};

use crate::alias::Alias;
use crate::board::{Board, Move};
use crate::ids::{GameId, UserId};

macro_rules! effect_structs {
    ($($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? })*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        // No `deny_unknown_fields`: the bus refuses a client's unknown
        // field itself, and reads what a store kept leniently, so a stored
        // effect outlives a release that drops one of its fields.
        #[serde(rename_all = "camelCase")]
        pub struct $name { $($(#[$field_meta])* pub $field: $ty),* }

        crate::json_struct!($name { $($field),* });
    )*};
}

effect_structs! {
    /// Makes a user (the acting user: `userId`).
    CreateUser { user_id: UserId, alias: Alias }
    /// A user was made.
    UserCreated { user_id: UserId, alias: Alias, created_at: u64 }
    /// A user command was refused (to that user only).
    UserErrorOccurred { user_id: UserId, reason: UserError }
    /// Who is this user?
    GetUser { user_id: UserId }

    /// A WebSocket of this user opened (published by the server).
    UserConnected { user_id: UserId, alias: Alias, connection_id: uuid::Uuid }
    /// A WebSocket of this user closed (published by the server).
    UserDisconnected { user_id: UserId, connection_id: uuid::Uuid }
    /// Server-internal: the server (re)started, so no socket is open yet;
    /// presence from before is void.
    PresenceReset {}
    /// Server-internal: a node of a cluster is gone (it died, or stopped
    /// without closing its sockets): its connections are closed. `node` is
    /// the high half of its connection ids.
    NodeLeft { node: u64 }
    /// Server-internal: a node of a cluster tells which of its sockets are
    /// open (after it could not reach the store, its arrivals and
    /// departures since may not have been recorded): `sockets` are its
    /// connections now, every other connection of `node` is closed.
    NodeSocketsRestated { node: u64, sockets: Vec<UserConnected> }
    /// The users online changed (to everyone): at most a page of them
    /// (`presence::ONLINE_LIST_LIMIT`), and how many there are.
    UsersOnlineUpdated { users: Vec<OnlineUser>, total: u64 }
    /// Who is online?
    GetUsersOnline {}
    /// Server-internal: the online list as `UsersOnlineUpdated` tells it
    /// (for a node that must tell its sockets again after an outage).
    GetOnlineNews {}

    /// Creates a game that waits for players (acting user: `playerId`).
    CreateGame { game_id: GameId, player_id: UserId }
    /// A game was created.
    GameCreated { game_id: GameId, creator: UserId, version: u64 }
    /// Joins a game (acting user: `playerId`).
    JoinGame { game_id: GameId, player_id: UserId }
    /// A player joined; the first plays X.
    PlayerJoinedAGame { game_id: GameId, player_id: UserId, version: u64 }
    /// The second player joined: X moves first.
    GameStarted { game_id: GameId, players: Vec<UserId>, version: u64 }
    /// It is this player's turn until `deadline` (server time, ms since the epoch).
    WaitingForPlayerPlay { game_id: GameId, player_id: UserId, timeout_ms: u64, deadline: u64, version: u64 }
    /// Places the acting player's mark at column `x`, row `y` (acting user: `playerId`).
    PlaceMark { game_id: GameId, player_id: UserId, x: i64, y: i64 }
    /// A mark was placed.
    MarkPlaced { game_id: GameId, player_id: UserId, x: u8, y: u8, version: u64 }
    /// The board after a move, `board[y][x]`.
    BoardUpdated { game_id: GameId, board: Board, version: u64 }
    /// The player whose turn it was did not move in time.
    TurnTimeout { game_id: GameId, player_id: UserId, version: u64 }
    /// The game is over.
    GameEnded { game_id: GameId, result: GameResult, winner: Option<UserId>, version: u64 }
    /// A command on a game was refused (to that player only, no version).
    GameErrorOccurred { game_id: GameId, player_id: UserId, reason: GameError }
    /// The game as a player sees it now.
    GetGame { game_id: GameId }
    /// Server-internal: every game with its players, to route events after a restart.
    GetGameRoutes {}
    /// Games being played, newest first: page `page` (from 0) of
    /// `view::LIVE_GAMES_PAGE`, and how many there are.
    GetLiveGames { page: u32 }
    /// The games being played changed (to everyone, from each server at
    /// most once per interval): the first page of them, and how many.
    LiveGamesUpdated { games: Vec<LiveGameSummary>, total: u64 }
    /// Server-internal: a socket (`connectionId`) watches a game.
    StartedWatching { game_id: GameId, connection_id: uuid::Uuid }
    /// Server-internal: a socket stopped watching a game (or closed).
    StoppedWatching { game_id: GameId, connection_id: uuid::Uuid }
    /// How many watch the game now (to its players and spectators).
    WatchersChanged { game_id: GameId, watching: u32, version: u64 }

    /// Starts a game against the computer at `level` (acting user:
    /// `playerId`); who moves first is drawn at random.
    PlayComputer { game_id: GameId, player_id: UserId, level: crate::bot::Level }
    /// Internal: the computer's turn in a game has come (scheduled a moment
    /// after the turn began).
    ComputerTurnDue { game_id: GameId, turn_number: u32 }

    /// Puts the acting player (`playerId`) in the quick play queue, or pairs
    /// them with who waited longest; `gameId` is the player's offer for the
    /// game's id (the game's id mixes both players' offers).
    QuickPlay { player_id: UserId, game_id: GameId }
    /// Takes the acting player (`playerId`) out of the quick play queue.
    CancelQuickPlay { player_id: UserId }
    /// The player waits in the quick play queue (to that player only).
    QuickPlayQueued { player_id: UserId }
    /// The player is out of the quick play queue without a game (to that
    /// player only).
    QuickPlayLeft { player_id: UserId }
    /// Internal: two players from the queue are paired; their game starts
    /// (the first plays X).
    QuickPlayPaired { game_id: GameId, players: Vec<UserId> }
    /// Internal: a user's last socket closed (after the grace period).
    UserWentOffline { user_id: UserId }

    /// Invites a user to a waiting game (acting user: `inviterId`).
    InviteUser { inviter_id: UserId, invited_id: UserId, game_id: GameId }
    /// Someone invites this user (to the invited user only).
    UserInvited { inviter_id: UserId, invited_id: UserId, game_id: GameId }
    /// Declines an invitation (acting user: `invitedId`).
    DeclineInvitation { game_id: GameId, invited_id: UserId }
    /// The invited user said no (to the inviter only).
    InvitationDeclined { game_id: GameId, invited_id: UserId, inviter_id: UserId }

    /// A win changed a score.
    PlayerScoreChanged { user_id: UserId, alias: Alias, score: u64 }
    /// The top three changed (to everyone).
    TopThreeListUpdated { previous: Vec<ScoreEntry>, current: Vec<ScoreEntry> }
    /// The top three.
    GetTopThreePlayers {}
    /// A user's latest finished games (up to a page), newest first.
    GetHistory { user_id: UserId }
    /// An older page of a user's finished games, newest first: page 0 is
    /// the oldest; `GetHistory` tells how many there are.
    GetHistoryPage { user_id: UserId, page: u32 }
    /// A finished game, move by move (to replay it).
    GetGameRecord { game_id: GameId }

    /// Internal: a new game would take its creator past their bound of
    /// waiting games; it is called off.
    WaitingGameRefused { game_id: GameId, creator: UserId }
    /// Internal: a game waits for players no more (it started, lapsed or
    /// was declined).
    WaitingGameClosed { game_id: GameId, creator: UserId }
    /// Internal: the deadline the game's timer was set for passed (turn 0:
    /// the wait for players); the game's state says whether it ends.
    TurnDeadlinePassed { game_id: GameId, turn_number: u32 }
    /// Internal: an ended game's live state can go.
    GameStateReadyToBeCleaned { game_id: GameId }
    /// Internal: a finished game, for the players' histories.
    GameArchived { game_id: GameId, players: Vec<UserId>, started_at: u64, ended_at: u64, result: GameResult, winner: Option<UserId>, moves: Vec<Move> }
    /// Internal: a full page of a user's history, written once.
    HistoryPageFilled { user_id: UserId, page: u32, games: Vec<GameArchived> }
}

bus::commands!(
    CreateUser,
    CreateGame,
    PlayComputer,
    QuickPlay,
    CancelQuickPlay,
    JoinGame,
    PlaceMark,
    InviteUser,
    DeclineInvitation
);
/// Implements the events and lists them once, for [`register_events`].
macro_rules! domain_events {
    ($($name:ident),* $(,)?) => {
        bus::events!($($name),*);

        /// Makes every event of the game known to the bus by name, those
        /// without subscribers too, so they decode from the wire and from
        /// a durable store.
        pub fn register_events(bus: &mut bus::BusBuilder) {
            $(bus.register::<$name>();)*
        }
    };
}

domain_events!(
    UserCreated,
    UserErrorOccurred,
    UserConnected,
    UserDisconnected,
    UsersOnlineUpdated,
    PresenceReset,
    NodeLeft,
    NodeSocketsRestated,
    GameCreated,
    PlayerJoinedAGame,
    GameStarted,
    WaitingForPlayerPlay,
    MarkPlaced,
    BoardUpdated,
    TurnTimeout,
    GameEnded,
    GameErrorOccurred,
    UserInvited,
    InvitationDeclined,
    PlayerScoreChanged,
    TopThreeListUpdated,
    WaitingGameRefused,
    WaitingGameClosed,
    TurnDeadlinePassed,
    ComputerTurnDue,
    LiveGamesUpdated,
    StartedWatching,
    StoppedWatching,
    WatchersChanged,
    QuickPlayQueued,
    QuickPlayLeft,
    QuickPlayPaired,
    UserWentOffline,
    GameStateReadyToBeCleaned,
    GameArchived,
    HistoryPageFilled,
);

/// A user in the online list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    /// The user.
    pub user_id: UserId,
    /// Their alias.
    pub alias: Alias,
}

crate::json_struct!(OnlineUser { user_id, alias });

/// A game and its players, for routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveGame {
    /// The game.
    pub game_id: GameId,
    /// Its players so far.
    pub players: Vec<UserId>,
    /// The version of its last public event.
    pub version: u64,
}

/// A game being played, as the lobby lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveGameSummary {
    /// The game.
    pub game_id: GameId,
    /// X, then O.
    pub players: Vec<UserId>,
    /// Marks on the board so far.
    pub moves: u32,
    /// When it started (server clock).
    pub started_at: u64,
}

crate::json_struct!(LiveGameSummary {
    game_id,
    players,
    moves,
    started_at
});

/// What `GetLiveGames` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveGames {
    /// This page of them, newest first.
    pub games: Vec<LiveGameSummary>,
    /// How many games are being played.
    pub total: u64,
}

/// One line of the hall of fame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreEntry {
    /// The user.
    pub user_id: UserId,
    /// Their alias.
    pub alias: Alias,
    /// Their score.
    pub score: u64,
}

crate::json_struct!(ScoreEntry {
    user_id,
    alias,
    score
});

crate::json_unit_enum! {
    /// How a game ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum GameResult {
        /// Someone has three in a row.
        PlayerWon,
        /// The board is full.
        Draw,
        /// A turn timed out, or nobody came.
        GameAborted,
    }
}

crate::json_unit_enum! {
    /// Why a game command was refused.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum GameError {
        /// Not this player's turn, the game has not started, or not their game.
        PlayerCanNotPlay,
        /// `x` or `y` outside 0..=2.
        PositionOffLimits,
        /// The cell holds a mark.
        PositionAlreadyFilled,
        /// The game is over.
        GameAlreadyEnded,
        /// Two players have joined already.
        AllPlayersAlreadyJoined,
        /// This player has joined already (or was invited to their own game).
        PlayerAlreadyJoined,
        /// No such game.
        GameNotFound,
        /// A game with this id exists.
        GameAlreadyExists,
        /// Only the game's creator invites, before it starts.
        PlayerCanNotInvite,
        /// The game has started: no more invitations.
        GameAlreadyStarted,
        /// This player has no invitation: none to decline, or the game's
        /// second seat is kept for the player its creator invited.
        NotInvited,
        /// The invited user does not exist.
        UserNotFound,
        /// This player has as many games waiting for players as one may
        /// (`hosting::MAX_WAITING_GAMES`).
        TooManyWaitingGames,
    }
}

crate::json_unit_enum! {
    /// Why a user command was refused.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum UserError {
        /// A user with this id exists.
        UserAlreadyExists,
    }
}
