//! The game's domain: its effects and pure handlers, shared by the server and
//! the browser (this crate builds for `wasm32-unknown-unknown`).
//!
//! One file per rule family: [`users`], [`presence`], [`game`] (with the
//! invitations, which belong to a game), [`hosting`] (the bound on a
//! user's waiting games), [`scoring`], [`history`]; the
//! effects are in [`events`], the board's rules in [`board`], and
//! [`register`] plugs them all into a bus.
#![forbid(unsafe_code)]

pub mod alias;
pub mod audience;
pub mod board;
pub mod bot;
pub mod client_calls;
pub mod computer;
pub mod events;
pub mod game;
pub mod history;
pub mod hosting;
pub mod ids;
pub mod json_read;
mod kept_game;
mod playing_stored;
pub mod presence;
mod queries;
pub mod quick_play;
pub mod scoring;
pub mod users;
pub mod view;

use bus::{BusBuilder, answer, answer_all, by_id, key, managed, singleton};

pub use alias::{Alias, AliasError};
pub use board::{Board, Mark, Move, PlacementError, Verdict};
pub use events::*;
pub use game::{Game, Rules};
pub use ids::{GameId, UserId};

/// Registers every handler of the game on `bus`.
pub fn register(bus: &mut BusBuilder, rules: Rules) {
    events::register_events(bus);

    bus.command(managed(by_id(|c: &CreateUser| c.user_id), users::create))
        .query(answer(by_id(|q: &GetUser| q.user_id), users::get));

    bus.event(managed(singleton(), presence::connected))
        .event(managed(singleton(), presence::disconnected))
        .event(managed(singleton(), presence::reset))
        .event(managed(singleton(), presence::node_left))
        .event(managed(singleton(), presence::node_restated))
        .query(answer(singleton(), presence::online))
        .query(answer(singleton(), presence::online_news));

    bus.command(managed(
        by_id(|c: &CreateGame| c.game_id),
        move |g, c: &CreateGame, ctx| game::create(g, c, ctx, &rules),
    ))
    .event(managed(
        by_id(|e: &WaitingGameRefused| e.game_id),
        move |g, e: &WaitingGameRefused, ctx| game::refused(g, e, ctx, &rules),
    ))
    .command(managed(
        by_id(|c: &JoinGame| c.game_id),
        move |g, c: &JoinGame, ctx| game::join(g, c, ctx, &rules),
    ))
    .command(managed(
        by_id(|c: &PlaceMark| c.game_id),
        move |g, c: &PlaceMark, ctx| game::place_mark(g, c, ctx, &rules),
    ))
    .command(managed(
        by_id(|c: &PlayComputer| c.game_id),
        move |g, c: &PlayComputer, ctx| computer::start(g, c, ctx, &rules),
    ))
    .event(managed(
        by_id(|e: &ComputerTurnDue| e.game_id),
        move |g, e: &ComputerTurnDue, ctx| computer::turn(g, e, ctx, &rules),
    ))
    .event(managed(
        by_id(|e: &QuickPlayPaired| e.game_id),
        move |g, e: &QuickPlayPaired, ctx| game::paired(g, e, ctx, &rules),
    ))
    .command(managed(
        by_id(|c: &InviteUser| c.game_id),
        move |g, c: &InviteUser, ctx| game::invite(g, c, ctx, &rules),
    ))
    .command(managed(
        by_id(|c: &DeclineInvitation| c.game_id),
        move |g, c: &DeclineInvitation, ctx| game::decline(g, c, ctx, &rules),
    ))
    .event(managed(
        by_id(|e: &TurnDeadlinePassed| e.game_id),
        move |g, e: &TurnDeadlinePassed, ctx| game::turn_deadline_passed(g, e, ctx, &rules),
    ))
    .event(managed(
        by_id(|e: &GameStateReadyToBeCleaned| e.game_id),
        game::clean_up,
    ))
    .query(answer(by_id(|q: &GetGame| q.game_id), view::view))
    .event(managed(by_id(|e: &StartedWatching| e.game_id), game::watch))
    .event(managed(
        by_id(|e: &StoppedWatching| e.game_id),
        game::unwatch,
    ))
    .query(answer_all(view::game_routes))
    .query(answer_all(view::live_games));

    bus.command(managed(singleton(), quick_play::join))
        .command(managed(singleton(), quick_play::cancel))
        .event(managed(singleton(), quick_play::went_offline))
        .event(managed(singleton(), quick_play::reset));

    bus.event(managed(
        by_id(|e: &GameCreated| e.creator),
        hosting::created,
    ))
    .event(managed(
        by_id(|e: &WaitingGameClosed| e.creator),
        hosting::closed,
    ));

    bus.event(managed(
        by_id(|e: &UserCreated| e.user_id),
        scoring::open_account,
    ))
    .event(managed(singleton(), scoring::rank))
    .query(answer(singleton(), scoring::top_three));

    bus.event(managed(key(history::player(0)), |h, g, ctx| {
        history::record(h, g, ctx, 0)
    }))
    .event(managed(key(history::player(1)), |h, g, ctx| {
        history::record(h, g, ctx, 1)
    }))
    .event(managed(
        by_id(|e: &HistoryPageFilled| history::page_key(e.user_id, e.page)),
        history::file,
    ))
    // After the history's: a stored delivery names its handler by position.
    .event(managed(
        key(scoring::winner_to_reward),
        scoring::reward_winner,
    ))
    .event(managed(
        by_id(|e: &GameArchived| e.game_id),
        history::keep_record,
    ))
    .query(answer(
        by_id(|q: &GetGameRecord| q.game_id),
        history::get_record,
    ))
    .query(answer(by_id(|q: &GetHistory| q.user_id), history::get))
    .query(answer(
        by_id(|q: &GetHistoryPage| history::page_key(q.user_id, q.page)),
        history::get_page,
    ));
}
