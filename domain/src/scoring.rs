//! Scores and the hall of fame.
//!
//! Every user starts at 0 and a win adds 100. Scores only grow, so the top
//! three can only change by someone entering or climbing it: the hall of
//! fame keeps just those three and never needs everyone's scores.

use bus::{Ctx, HandlerError, Outcome};
use serde::{Deserialize, Serialize};

use crate::alias::Alias;
use crate::bot::Level;
use crate::events::{
    GameArchived, GetTopThreePlayers, PlayerScoreChanged, ScoreEntry, TopThreeListUpdated,
    UserCreated,
};
use crate::ids::UserId;

/// Points for a win.
pub const POINTS_PER_WIN: u64 = 100;
/// How many the hall of fame shows.
pub const HALL_OF_FAME_SIZE: usize = 3;

/// One user's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    /// The user.
    pub user_id: UserId,
    /// Their alias.
    pub alias: Alias,
    /// Their score.
    pub score: u64,
}

/// The top three, best first; ties go to whoever reached the score first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HallOfFame {
    top: Vec<Ranked>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ranked {
    entry: ScoreEntry,
    reached_at: u64,
}

bus::states!(Score, HallOfFame);

impl HallOfFame {
    /// The entries, best first.
    pub fn entries(&self) -> Vec<ScoreEntry> {
        self.top.iter().map(|ranked| ranked.entry.clone()).collect()
    }
}

/// A new user starts at 0.
pub fn open_account(_: Option<Score>, created: &UserCreated, _: &Ctx) -> Outcome<Score> {
    Outcome::set(Score {
        user_id: created.user_id,
        alias: created.alias.clone(),
        score: 0,
    })
}

/// Whose score a finished game raises: the winner's, in a game between
/// people (the hall of fame stays between people: a game against the
/// computer scores nothing).
pub fn winner_to_reward(game: &GameArchived) -> Option<String> {
    if game
        .players
        .iter()
        .any(|player| Level::of(*player).is_some())
    {
        return None;
    }
    game.winner.map(|winner| winner.to_string())
}

/// A win adds [`POINTS_PER_WIN`] to the winner.
pub fn reward_winner(
    score: Option<Score>,
    ended: &GameArchived,
    _: &Ctx,
) -> Result<Outcome<Score>, HandlerError> {
    let Some(mut score) = score else {
        return Err(HandlerError::new(format!(
            "the winner {:?} has no score",
            ended.winner
        )));
    };
    score.score += POINTS_PER_WIN;
    let changed = PlayerScoreChanged {
        user_id: score.user_id,
        alias: score.alias.clone(),
        score: score.score,
    };
    Ok(Outcome::set(score).emit(changed))
}

/// A score changed: it may enter or climb the top three. A score that
/// stays below leaves the hall as it was, unwritten: most wins are such,
/// and the hall is one state, so each write of it waited its turn on one
/// lane (about 540 a second at 1,000 games).
pub fn rank(
    hall: Option<HallOfFame>,
    changed: &PlayerScoreChanged,
    ctx: &Ctx,
) -> Outcome<HallOfFame> {
    let hall = hall.unwrap_or_default();
    let before = hall.top.clone();
    let previous = hall.entries();
    let mut top: Vec<Ranked> = hall
        .top
        .into_iter()
        .filter(|ranked| ranked.entry.user_id != changed.user_id)
        .collect();
    top.push(Ranked {
        entry: ScoreEntry {
            user_id: changed.user_id,
            alias: changed.alias.clone(),
            score: changed.score,
        },
        reached_at: ctx.now_ms(),
    });
    // Stable: of equal scores reached in the same millisecond, the one ranked first stays first.
    top.sort_by(|a, b| {
        b.entry
            .score
            .cmp(&a.entry.score)
            .then(a.reached_at.cmp(&b.reached_at))
    });
    top.truncate(HALL_OF_FAME_SIZE);
    if top == before {
        return Outcome::keep();
    }
    let hall = HallOfFame { top };
    let current = hall.entries();
    if current == previous {
        Outcome::set(hall)
    } else {
        Outcome::set(hall).emit(TopThreeListUpdated { previous, current })
    }
}

/// `GetTopThreePlayers`.
pub fn top_three(hall: Option<&HallOfFame>, _: &GetTopThreePlayers) -> Vec<ScoreEntry> {
    hall.map(HallOfFame::entries).unwrap_or_default()
}
