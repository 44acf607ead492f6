//! Which answer each query of the game has. Kept apart from the effects
//! ([`events`](crate::events)): the answers are the rule families' own
//! types, and those families depend on the effects, not the other way.

use crate::events::*;

bus::queries!(
    GetUser => Option<crate::users::User>,
    GetUsersOnline => Vec<OnlineUser>,
    GetOnlineNews => UsersOnlineUpdated,
    GetGame => Option<crate::view::GameView>,
    GetGameRoutes => Vec<LiveGame>,
    GetLiveGames => LiveGames,
    GetTopThreePlayers => Vec<ScoreEntry>,
    GetHistory => crate::history::Recent,
    GetHistoryPage => Vec<GameArchived>,
    GetGameRecord => Option<GameArchived>,
);
