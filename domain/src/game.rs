//! Games: create, join, play with a turn clock, end, clean up; and the
//! invitations that bring a second player to a game.
//!
//! A game is one managed state whose stage changes: [`Game::Waiting`] for
//! players, [`Game::Playing`], [`Game::Ended`]. Every public event of a game
//! carries `version`, one more than the game's previous public event.
//!
//! The turn clock: each turn has a deadline ([`Rules::turn_timeout_ms`]
//! after the turn began); a player who has not moved by then loses the game
//! by timeout. A refused move (out of turn, off the board, on a filled
//! cell) changes nothing, so the turn keeps its deadline: sending bad moves
//! never buys a player more time. Only a placed mark starts the next turn,
//! with a deadline of its own.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::board::{Board, Mark, Move, PlacementError, Verdict};
use crate::events::*;
use crate::ids::{GameId, UserId};

/// Timings of the rules, configurable so tests can run fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How long a player has for a move (and an invited player to answer).
    pub turn_timeout_ms: u64,
    /// How long an ended game stays readable before its state is deleted.
    pub cleanup_delay_ms: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            turn_timeout_ms: 20_000,
            cleanup_delay_ms: 10_000,
        }
    }
}

/// A game, by stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
pub enum Game {
    /// Created; fewer than two players have joined.
    Waiting(Waiting),
    /// Two players, taking turns.
    Playing(Playing),
    /// Won, drawn or aborted; deleted after the cleanup delay.
    Ended(Ended),
}

impl bus::State for Game {
    const TYPE: &'static str = "Game";
    /// Schema 2: a game being played keeps its moves short. Schema 1's
    /// whole moves read as they are (see `playing_stored.rs`); the version
    /// tells an older release that it cannot read these.
    const SCHEMA_VERSION: u32 = 2;

    fn upcast(from_version: u32, state: serde_json::Value) -> Result<serde_json::Value, String> {
        match from_version {
            1 => Ok(state),
            _ => Err(format!(
                "no reading of Game version {from_version} is known"
            )),
        }
    }
}

/// A game waiting for players.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// The game.
    pub game_id: GameId,
    /// Who created it.
    pub creator: UserId,
    /// Who joined so far (the first is X).
    pub players: Vec<UserId>,
    /// Who was invited, if anyone.
    pub invited: Option<UserId>,
    /// When the wait lapses (server clock): a turn timeout after the
    /// creation, or after the invitation if there is one. (0 in a state
    /// stored before it was kept: that game's timer was set for the wait's
    /// own deadline, so it lapses when the timer comes.)
    #[serde(default)]
    pub deadline: u64,
    /// The version of the last public event.
    pub version: u64,
}

/// A game being played (stored short: see `playing_stored.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Playing {
    /// The game.
    pub game_id: GameId,
    /// X then O.
    pub players: [UserId; 2],
    /// The board.
    pub board: Board,
    /// Whose mark goes next.
    pub turn: Mark,
    /// 1 for the first move, 2 for the second…; a turn timeout names it.
    pub turn_number: u32,
    /// When the current turn times out (server clock).
    pub deadline: u64,
    /// When the game started.
    pub started_at: u64,
    /// The moves so far.
    pub moves: Vec<Move>,
    /// The version of the last public event.
    pub version: u64,
    /// The sockets watching (spectators), by connection id.
    pub watchers: Vec<uuid::Uuid>,
}

/// A game that is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ended {
    /// The game.
    pub game_id: GameId,
    /// Who played (X first); fewer than two when it never started.
    pub players: Vec<UserId>,
    /// The final board.
    pub board: Board,
    /// How it ended.
    pub result: GameResult,
    /// The winner, for a win.
    pub winner: Option<UserId>,
    /// The version of the last public event.
    pub version: u64,
}

impl Game {
    /// The version of the last public event.
    pub fn version(&self) -> u64 {
        match self {
            Self::Waiting(game) => game.version,
            Self::Playing(game) => game.version,
            Self::Ended(game) => game.version,
        }
    }
}

impl Playing {
    /// The player whose turn it is.
    pub fn current_player(&self) -> UserId {
        self.player(self.turn)
    }

    /// The player with this mark.
    pub fn player(&self, mark: Mark) -> UserId {
        match mark {
            Mark::X => self.players[0],
            Mark::O => self.players[1],
        }
    }
}

/// Numbers the public events of one handler run, from the game's version.
struct Versions(u64);

impl Versions {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// The schedule key of a game's timer (the wait's and the turns' deadline,
/// then the cleanup).
pub fn timer_key(game_id: GameId) -> String {
    format!("game:{game_id}")
}

pub(crate) fn refuse<S>(game_id: GameId, player_id: UserId, reason: GameError) -> Outcome<S> {
    Outcome::keep().emit(GameErrorOccurred {
        game_id,
        player_id,
        reason,
    })
}

/// `CreateGame`: a new game waits for players; if nobody has joined by the
/// turn timeout (an invitation starts the wait again), it lapses, as an
/// unanswered invitation does. Past the creator's bound of waiting games
/// it is called off at once ([`refused`]).
pub fn create(game: Option<Game>, cmd: &CreateGame, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let game_id = cmd.game_id;
    if game.is_some() {
        return refuse(game_id, cmd.player_id, GameError::GameAlreadyExists);
    }
    let created = Outcome::set(Game::Waiting(Waiting {
        game_id,
        creator: cmd.player_id,
        players: Vec::new(),
        invited: None,
        deadline: ctx.now_ms() + rules.turn_timeout_ms,
        version: 1,
    }))
    .emit(GameCreated {
        game_id,
        creator: cmd.player_id,
        version: 1,
    });
    lapses_unless_joined(created, game_id, rules)
}

/// `outcome`, with the game's one timer set for the wait's deadline
/// (turn 0), after which a game nobody (else) joined is called off. The
/// timer stays through an invitation and the game's start: each only
/// puts the deadline off, and the timer, when it comes, is set again for
/// the deadline then ([`turn_deadline_passed`]).
fn lapses_unless_joined(outcome: Outcome<Game>, game_id: GameId, rules: &Rules) -> Outcome<Game> {
    outcome.schedule(
        TurnDeadlinePassed {
            game_id,
            turn_number: 0,
        },
        rules.turn_timeout_ms,
        timer_key(game_id),
    )
}

/// The new game took its creator past their bound of waiting games
/// ([`crate::hosting`]): it ends before anyone plays, and its creator is
/// told why.
pub fn refused(
    game: Option<Game>,
    refused: &WaitingGameRefused,
    _: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    let Some(Game::Waiting(waiting)) = game else {
        return Outcome::keep();
    };
    let told = refuse(
        waiting.game_id,
        refused.creator,
        GameError::TooManyWaitingGames,
    );
    merge(told, called_off(waiting, rules))
}

/// A game that never started, aborted: its one more public event is
/// `GameEnded`.
fn called_off(waiting: Waiting, rules: &Rules) -> Outcome<Game> {
    let ended = Ended {
        game_id: waiting.game_id,
        players: waiting.players,
        board: Board::default(),
        result: GameResult::GameAborted,
        winner: None,
        version: Versions(waiting.version).next(),
    };
    ended_game(ended, rules)
}

/// The creator's bound of waiting games counts this one no more.
fn no_longer_waiting(waiting: &Waiting) -> WaitingGameClosed {
    WaitingGameClosed {
        game_id: waiting.game_id,
        creator: waiting.creator,
    }
}

/// `JoinGame`: the first joiner plays X; the second starts the game.
pub fn join(game: Option<Game>, cmd: &JoinGame, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let (game_id, player_id) = (cmd.game_id, cmd.player_id);
    let mut waiting = match game {
        None => return refuse(game_id, player_id, GameError::GameNotFound),
        Some(Game::Playing(_)) => {
            return refuse(game_id, player_id, GameError::AllPlayersAlreadyJoined);
        }
        Some(Game::Ended(_)) => return refuse(game_id, player_id, GameError::GameAlreadyEnded),
        Some(Game::Waiting(waiting)) => waiting,
    };
    if waiting.players.contains(&player_id) {
        return refuse(game_id, player_id, GameError::PlayerAlreadyJoined);
    }
    // An invitation keeps the second seat for the invited player: whoever
    // else knows the game's id cannot take it.
    if let Some(invited) = waiting.invited
        && player_id != invited
        && player_id != waiting.creator
    {
        return refuse(game_id, player_id, GameError::NotInvited);
    }
    let mut versions = Versions(waiting.version);
    waiting.players.push(player_id);
    let joined = PlayerJoinedAGame {
        game_id,
        player_id,
        version: versions.next(),
    };
    let [x, o] = match waiting.players[..] {
        [x, o] => [x, o],
        _ => {
            waiting.version = versions.0;
            return Outcome::set(Game::Waiting(waiting)).emit(joined);
        }
    };
    let first = first_turn(game_id, [x, o], versions, ctx, rules);
    // The wait's timer stays the game's: it comes by the wait's deadline,
    // before the first turn's, and is set again for that.
    Outcome::set(Game::Playing(first.playing))
        .emit(joined)
        .emit(first.started)
        .emit(first.waiting_for)
        .emit(no_longer_waiting(&waiting))
}

/// A game that starts: its state at the first turn, and the events that say so.
struct FirstTurn {
    playing: Playing,
    started: GameStarted,
    waiting_for: WaitingForPlayerPlay,
}

/// `players` (X first) start `game_id` now, its events numbered on from
/// `versions`: X's first turn begins.
fn first_turn(
    game_id: GameId,
    players: [UserId; 2],
    mut versions: Versions,
    ctx: &Ctx,
    rules: &Rules,
) -> FirstTurn {
    let deadline = ctx.now_ms() + rules.turn_timeout_ms;
    let started = GameStarted {
        game_id,
        players: players.to_vec(),
        version: versions.next(),
    };
    let waiting_for = WaitingForPlayerPlay {
        game_id,
        player_id: players[0],
        timeout_ms: rules.turn_timeout_ms,
        deadline,
        version: versions.next(),
    };
    let playing = Playing {
        game_id,
        players,
        board: Board::default(),
        turn: Mark::X,
        turn_number: 1,
        deadline,
        started_at: ctx.now_ms(),
        moves: Vec::new(),
        version: versions.0,
        watchers: Vec::new(),
    };
    FirstTurn {
        playing,
        started,
        waiting_for,
    }
}

/// `outcome`, with the game's one timer set for the first turn's deadline
/// (it waits on for later turns: [`turn_deadline_passed`]), for a game
/// that starts without a wait.
fn with_deadline(outcome: Outcome<Game>, game_id: GameId, rules: &Rules) -> Outcome<Game> {
    outcome.schedule(
        TurnDeadlinePassed {
            game_id,
            turn_number: 1,
        },
        rules.turn_timeout_ms,
        timer_key(game_id),
    )
}

/// A game between `players` (X first) starts at once, with no invitation
/// (quick play, the computer): each joins, then X's first turn begins.
pub(crate) fn start_between(
    game_id: GameId,
    players: [UserId; 2],
    ctx: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    let mut versions = Versions(0);
    let [x_joined, o_joined] = players.map(|player_id| PlayerJoinedAGame {
        game_id,
        player_id,
        version: versions.next(),
    });
    let first = first_turn(game_id, players, versions, ctx, rules);
    let started = Outcome::set(Game::Playing(first.playing))
        .emit(x_joined)
        .emit(o_joined)
        .emit(first.started)
        .emit(first.waiting_for);
    with_deadline(started, game_id, rules)
}

/// Two players from the quick play queue: their game starts. (An id taken
/// already cannot happen: it mixes both players' random offers.)
pub fn paired(
    game: Option<Game>,
    pair: &QuickPlayPaired,
    ctx: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    match (game, &pair.players[..]) {
        (None, [x, o]) => start_between(pair.game_id, [*x, *o], ctx, rules),
        _ => Outcome::keep(),
    }
}

/// The most sockets counted watching one game.
pub const MAX_WATCHERS: usize = 10_000;

/// A socket watches a game being played: the count goes to its players and
/// spectators.
pub fn watch(game: Option<Game>, e: &StartedWatching, _: &Ctx) -> Outcome<Game> {
    match game {
        Some(Game::Playing(mut playing))
            if !playing.watchers.contains(&e.connection_id)
                && playing.watchers.len() < MAX_WATCHERS =>
        {
            playing.watchers.push(e.connection_id);
            watchers_changed(playing)
        }
        _ => Outcome::keep(),
    }
}

/// A socket stopped watching a game.
pub fn unwatch(game: Option<Game>, e: &StoppedWatching, _: &Ctx) -> Outcome<Game> {
    match game {
        Some(Game::Playing(mut playing)) if playing.watchers.contains(&e.connection_id) => {
            playing
                .watchers
                .retain(|watcher| *watcher != e.connection_id);
            watchers_changed(playing)
        }
        _ => Outcome::keep(),
    }
}

fn watchers_changed(mut playing: Playing) -> Outcome<Game> {
    playing.version += 1;
    let changed = WatchersChanged {
        game_id: playing.game_id,
        watching: playing.watchers.len() as u32,
        version: playing.version,
    };
    Outcome::set(Game::Playing(playing)).emit(changed)
}

/// `PlaceMark`: the current player marks an empty cell.
pub fn place_mark(game: Option<Game>, cmd: &PlaceMark, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let (game_id, player_id) = (cmd.game_id, cmd.player_id);
    let mut playing = match game {
        None => return refuse(game_id, player_id, GameError::GameNotFound),
        Some(Game::Waiting(_)) => return refuse(game_id, player_id, GameError::PlayerCanNotPlay),
        Some(Game::Ended(_)) => return refuse(game_id, player_id, GameError::GameAlreadyEnded),
        Some(Game::Playing(playing)) => playing,
    };
    if playing.current_player() != player_id {
        return refuse(game_id, player_id, GameError::PlayerCanNotPlay);
    }
    let board = match playing.board.place(cmd.x, cmd.y, playing.turn) {
        Ok(board) => board,
        Err(PlacementError::OffLimits) => {
            return refuse(game_id, player_id, GameError::PositionOffLimits);
        }
        Err(PlacementError::AlreadyFilled) => {
            return refuse(game_id, player_id, GameError::PositionAlreadyFilled);
        }
    };
    // Checked by `place`: both are in 0..=2.
    let (x, y) = (cmd.x as u8, cmd.y as u8);
    let mut versions = Versions(playing.version);
    playing.board = board;
    playing.moves.push(Move {
        player_id,
        x,
        y,
        at: ctx.now_ms(),
    });
    // The turn's timer stays: a game has one, armed for the deadline of
    // the turn it was set in, and it waits on for the turn running then
    // ([`turn_deadline_passed`]); an ending cancels it.
    let outcome = Outcome::keep()
        .emit(MarkPlaced {
            game_id,
            player_id,
            x,
            y,
            version: versions.next(),
        })
        .emit(BoardUpdated {
            game_id,
            board,
            version: versions.next(),
        });
    match board.verdict() {
        Verdict::Playing => {
            playing.turn = playing.turn.other();
            playing.turn_number += 1;
            playing.deadline = ctx.now_ms() + rules.turn_timeout_ms;
            let waiting_for = WaitingForPlayerPlay {
                game_id,
                player_id: playing.current_player(),
                timeout_ms: rules.turn_timeout_ms,
                deadline: playing.deadline,
                version: versions.next(),
            };
            let turn_number = playing.turn_number;
            let next_player = playing.current_player();
            playing.version = versions.0;
            let next = replace(outcome, Game::Playing(playing)).emit(waiting_for);
            crate::computer::moves_if_its_turn(next, game_id, next_player, turn_number, rules)
        }
        Verdict::Won(mark) => {
            let winner = playing.player(mark);
            end(
                outcome,
                playing,
                GameResult::PlayerWon,
                Some(winner),
                versions,
                ctx,
                rules,
            )
        }
        Verdict::Draw => end(
            outcome,
            playing,
            GameResult::Draw,
            None,
            versions,
            ctx,
            rules,
        ),
    }
}

/// The game's timer is due. Set when the game is created, for the wait's
/// deadline, it is the game's one timer until it ends: a game waiting or
/// played past the deadline it has now is called off or aborted; one
/// whose deadline an invitation, its start or moves put off since waits
/// on for that deadline.
///
/// An invitation, the start and a move do not cancel the timer and set
/// another: that was a cancel and a schedule in each one's commit
/// (journaled, indexed, folded: about 3 µs of a move's server CPU at
/// 1,000 games, docs/performance.md, "One turn timer a game"), where the
/// timer is set again only when it comes with the game still on, once a
/// turn timeout at most.
pub fn turn_deadline_passed(
    game: Option<Game>,
    due: &TurnDeadlinePassed,
    ctx: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    match game {
        Some(Game::Playing(playing)) if ctx.now_ms() < playing.deadline => {
            waits_on(playing.game_id, playing.turn_number, playing.deadline, ctx)
        }
        Some(Game::Playing(playing)) => {
            let mut versions = Versions(playing.version);
            let outcome = Outcome::keep().emit(TurnTimeout {
                game_id: playing.game_id,
                player_id: playing.current_player(),
                version: versions.next(),
            });
            end(
                outcome,
                playing,
                GameResult::GameAborted,
                None,
                versions,
                ctx,
                rules,
            )
        }
        // Turn 0 is the wait for players: an invitation since the timer
        // was set put its deadline off.
        Some(Game::Waiting(waiting)) if ctx.now_ms() < waiting.deadline => {
            waits_on(waiting.game_id, 0, waiting.deadline, ctx)
        }
        // Nobody joined in time.
        Some(Game::Waiting(waiting)) if due.turn_number == 0 => {
            let closed = Outcome::keep().emit(no_longer_waiting(&waiting));
            merge(closed, called_off(waiting, rules))
        }
        _ => Outcome::keep(),
    }
}

/// The game's timer, set again for `deadline`, the one of turn
/// `turn_number` (0: the wait), not passed yet.
fn waits_on(game_id: GameId, turn_number: u32, deadline: u64, ctx: &Ctx) -> Outcome<Game> {
    Outcome::keep().schedule(
        TurnDeadlinePassed {
            game_id,
            turn_number,
        },
        deadline - ctx.now_ms(),
        timer_key(game_id),
    )
}

/// `InviteUser`: the game's creator invites someone to a waiting game.
pub fn invite(game: Option<Game>, cmd: &InviteUser, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let (game_id, inviter_id) = (cmd.game_id, cmd.inviter_id);
    let mut waiting = match game {
        None => return refuse(game_id, inviter_id, GameError::GameNotFound),
        Some(Game::Playing(_)) => {
            return refuse(game_id, inviter_id, GameError::GameAlreadyStarted);
        }
        Some(Game::Ended(_)) => return refuse(game_id, inviter_id, GameError::GameAlreadyEnded),
        Some(Game::Waiting(waiting)) => waiting,
    };
    if waiting.creator != inviter_id {
        return refuse(game_id, inviter_id, GameError::PlayerCanNotInvite);
    }
    if cmd.invited_id == inviter_id || waiting.players.contains(&cmd.invited_id) {
        return refuse(game_id, inviter_id, GameError::PlayerAlreadyJoined);
    }
    waiting.invited = Some(cmd.invited_id);
    // An invitation nobody answers lapses with the first turn's timeout,
    // counted from the invitation: the game's timer, set at its creation,
    // is set again for that when it comes.
    waiting.deadline = ctx.now_ms() + rules.turn_timeout_ms;
    Outcome::set(Game::Waiting(waiting)).emit(UserInvited {
        inviter_id,
        invited_id: cmd.invited_id,
        game_id,
    })
}

/// `DeclineInvitation`: the invited player says no; the inviter is told and
/// the game, which now has nobody to wait for, is called off.
pub fn decline(
    game: Option<Game>,
    cmd: &DeclineInvitation,
    _: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    let (game_id, invited_id) = (cmd.game_id, cmd.invited_id);
    let waiting = match game {
        Some(Game::Waiting(waiting)) if waiting.invited == Some(invited_id) => waiting,
        _ => return refuse(game_id, invited_id, GameError::NotInvited),
    };
    let told = Outcome::keep()
        .emit(InvitationDeclined {
            game_id,
            invited_id,
            inviter_id: waiting.creator,
        })
        .emit(no_longer_waiting(&waiting));
    merge(told, called_off(waiting, rules))
}

/// Ten seconds (the cleanup delay) after the end, the live state goes.
pub fn clean_up(game: Option<Game>, _: &GameStateReadyToBeCleaned, _: &Ctx) -> Outcome<Game> {
    match game {
        Some(Game::Ended(_)) => Outcome::delete(),
        _ => Outcome::keep(),
    }
}

fn end(
    outcome: Outcome<Game>,
    playing: Playing,
    result: GameResult,
    winner: Option<UserId>,
    mut versions: Versions,
    ctx: &Ctx,
    rules: &Rules,
) -> Outcome<Game> {
    let record = GameArchived {
        game_id: playing.game_id,
        players: playing.players.to_vec(),
        started_at: playing.started_at,
        ended_at: ctx.now_ms(),
        result,
        winner,
        moves: playing.moves.clone(),
    };
    let ended = Ended {
        game_id: playing.game_id,
        players: playing.players.to_vec(),
        board: playing.board,
        result,
        winner,
        version: versions.next(),
    };
    merge(outcome, ended_game(ended, rules)).emit(record)
}

/// The state, `GameEnded` and the cleanup timer of a game that just ended.
fn ended_game(ended: Ended, rules: &Rules) -> Outcome<Game> {
    let game_id = ended.game_id;
    let game_ended = GameEnded {
        game_id,
        result: ended.result,
        winner: ended.winner,
        version: ended.version,
    };
    Outcome::set(Game::Ended(ended))
        .cancel_schedules(timer_key(game_id))
        .emit(game_ended)
        .schedule(
            GameStateReadyToBeCleaned { game_id },
            rules.cleanup_delay_ms,
            timer_key(game_id),
        )
}

/// `first`'s effects, then `second`'s, with `second`'s change.
fn merge(first: Outcome<Game>, second: Outcome<Game>) -> Outcome<Game> {
    let (_, mut effects) = first.into_parts();
    let (change, more) = second.into_parts();
    effects.extend(more);
    Outcome::from_parts(change, effects)
}

/// `outcome`'s effects with the state set to `game`.
fn replace(outcome: Outcome<Game>, game: Game) -> Outcome<Game> {
    merge(outcome, Outcome::set(game))
}
