//! Games against the computer: started at once with the computer in the
//! second seat or the first (drawn at random), played under the same rules
//! and turn clock as any game, the computer's moves made by the game's own
//! handler when its scheduled turn comes.

use bus::{Ctx, Outcome};

use crate::bot::{self, Level};
use crate::events::*;
use crate::game::{Game, Rules, place_mark, refuse, start_between};
use crate::ids::{GameId, UserId};

/// The schedule key of the computer's next move in a game.
fn thinking_key(game_id: GameId) -> String {
    format!("computer:{game_id}")
}

/// How long the computer takes over a move: a moment, well within the
/// turn's time.
fn thinking_ms(rules: &Rules) -> u64 {
    bot::THINKING_MS.min(rules.turn_timeout_ms / 4)
}

/// `PlayComputer`: a game between the player and the computer at `level`
/// starts at once; who plays X is drawn at random.
pub fn start(game: Option<Game>, cmd: &PlayComputer, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let (game_id, player_id) = (cmd.game_id, cmd.player_id);
    if game.is_some() {
        return refuse(game_id, player_id, GameError::GameAlreadyExists);
    }
    let computer = cmd.level.user();
    let players = if bot::player_first(game_id, ctx.now_ms()) {
        [player_id, computer]
    } else {
        [computer, player_id]
    };
    let started = start_between(game_id, players, ctx, rules);
    moves_if_its_turn(started, game_id, players[0], 1, rules)
}

/// `outcome`, with the computer's move scheduled if `player`, whose turn
/// `turn_number` begins, is the computer.
pub(crate) fn moves_if_its_turn(
    outcome: Outcome<Game>,
    game_id: GameId,
    player: UserId,
    turn_number: u32,
    rules: &Rules,
) -> Outcome<Game> {
    if Level::of(player).is_none() {
        return outcome;
    }
    outcome.schedule(
        ComputerTurnDue {
            game_id,
            turn_number,
        },
        thinking_ms(rules),
        thinking_key(game_id),
    )
}

/// The computer's turn has come: it places its mark, as a player's
/// `PlaceMark` would (unless the turn is over: the game ended meanwhile).
pub fn turn(game: Option<Game>, due: &ComputerTurnDue, ctx: &Ctx, rules: &Rules) -> Outcome<Game> {
    let Some(Game::Playing(playing)) = game else {
        return Outcome::keep();
    };
    let computer = playing.current_player();
    let Some(level) = Level::of(computer) else {
        return Outcome::keep();
    };
    if playing.turn_number != due.turn_number {
        return Outcome::keep();
    }
    let seed = bot::seed(playing.game_id, playing.turn_number, ctx.now_ms());
    let Some((x, y)) = bot::choose(level, &playing.board, seed) else {
        return Outcome::keep();
    };
    let placed = PlaceMark {
        game_id: playing.game_id,
        player_id: computer,
        x: x as i64,
        y: y as i64,
    };
    place_mark(Some(Game::Playing(playing)), &placed, ctx, rules)
}
