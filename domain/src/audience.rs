//! Who receives each event on the socket, and the events a client can
//! receive, for clients to decode.

use bus::Envelope;

use crate::events::*;
use crate::ids::{GameId, UserId};

/// Declares [`Delivered`] from its list of events, with the reading of it
/// that the browser uses ([`json_read`](crate::json_read)).
macro_rules! delivered {
    ($($event:ident),* $(,)?) => {
        /// Every event a client can receive on the socket, for clients to
        /// decode (`{"type", "payload"}`).
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "type", content = "payload")]
        #[allow(missing_docs)]
        pub enum Delivered {
            $($event($event),)*
        }

        $crate::json_tagged!(Delivered { $($event),* });
    };
}

delivered!(
    GameCreated,
    PlayerJoinedAGame,
    GameStarted,
    WaitingForPlayerPlay,
    MarkPlaced,
    BoardUpdated,
    TurnTimeout,
    GameEnded,
    GameErrorOccurred,
    UsersOnlineUpdated,
    TopThreeListUpdated,
    UserInvited,
    InvitationDeclined,
    UserCreated,
    UserErrorOccurred,
    PlayerScoreChanged,
    QuickPlayQueued,
    LiveGamesUpdated,
    WatchersChanged,
    QuickPlayLeft,
);

impl Delivered {
    /// The game and version of a public game event.
    pub fn game_version(&self) -> Option<(GameId, u64)> {
        Some(match self {
            Self::GameCreated(e) => (e.game_id, e.version),
            Self::PlayerJoinedAGame(e) => (e.game_id, e.version),
            Self::GameStarted(e) => (e.game_id, e.version),
            Self::WaitingForPlayerPlay(e) => (e.game_id, e.version),
            Self::MarkPlaced(e) => (e.game_id, e.version),
            Self::BoardUpdated(e) => (e.game_id, e.version),
            Self::TurnTimeout(e) => (e.game_id, e.version),
            Self::GameEnded(e) => (e.game_id, e.version),
            Self::WatchersChanged(e) => (e.game_id, e.version),
            _ => return None,
        })
    }
}

/// Who receives an event on the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every connection (lobby events).
    Everyone,
    /// Every connection of this user.
    User(UserId),
    /// The game's players and spectators; `version` orders them.
    Game {
        /// The game.
        game_id: GameId,
        /// The event's place in the game's public events.
        version: u64,
    },
    /// Nobody: internal to the server.
    Nobody,
}

/// Who receives `event`.
pub fn audience(event: &Envelope) -> Audience {
    macro_rules! game_events {
        ($($name:ident),*) => {$(
            if let Some(e) = event.downcast_ref::<$name>() {
                return Audience::Game { game_id: e.game_id, version: e.version };
            }
        )*};
    }
    game_events!(
        GameCreated,
        PlayerJoinedAGame,
        GameStarted,
        WaitingForPlayerPlay,
        MarkPlaced,
        BoardUpdated,
        TurnTimeout,
        GameEnded,
        WatchersChanged
    );
    if event.is::<UsersOnlineUpdated>()
        || event.is::<TopThreeListUpdated>()
        || event.is::<LiveGamesUpdated>()
    {
        return Audience::Everyone;
    }
    if let Some(e) = event.downcast_ref::<GameErrorOccurred>() {
        return Audience::User(e.player_id);
    }
    if let Some(e) = event.downcast_ref::<UserInvited>() {
        return Audience::User(e.invited_id);
    }
    if let Some(e) = event.downcast_ref::<InvitationDeclined>() {
        return Audience::User(e.inviter_id);
    }
    if let Some(e) = event.downcast_ref::<UserCreated>() {
        return Audience::User(e.user_id);
    }
    if let Some(e) = event.downcast_ref::<UserErrorOccurred>() {
        return Audience::User(e.user_id);
    }
    if let Some(e) = event.downcast_ref::<PlayerScoreChanged>() {
        return Audience::User(e.user_id);
    }
    if let Some(e) = event.downcast_ref::<QuickPlayQueued>() {
        return Audience::User(e.player_id);
    }
    if let Some(e) = event.downcast_ref::<QuickPlayLeft>() {
        return Audience::User(e.player_id);
    }
    Audience::Nobody
}

/// A user who becomes a player of a game with this event (its creator, or
/// someone joining): from then on they receive the game's events.
pub fn joins_game(event: &Envelope) -> Option<(GameId, UserId)> {
    if let Some(e) = event.downcast_ref::<GameCreated>() {
        return Some((e.game_id, e.creator));
    }
    event
        .downcast_ref::<PlayerJoinedAGame>()
        .map(|e| (e.game_id, e.player_id))
}

/// The game whose live state this event removes.
pub fn game_removed(event: &Envelope) -> Option<GameId> {
    event
        .downcast_ref::<GameStateReadyToBeCleaned>()
        .map(|e| e.game_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Alias;
    use uuid::Uuid;

    /// One of every event a client receives, its fields filled (options
    /// both ways).
    fn one_of_each() -> Vec<Delivered> {
        let (game_id, player_id, other) = (
            GameId::from_u128(1),
            UserId::from_u128(2),
            UserId::from_u128(3),
        );
        let alias = Alias::parse("Zoë").expect("an alias");
        let board = crate::Board::default()
            .place(0, 0, crate::Mark::X)
            .and_then(|board| board.place(2, 1, crate::Mark::O))
            .expect("a board");
        let score = |user_id, score| ScoreEntry {
            user_id,
            alias: alias.clone(),
            score,
        };
        vec![
            Delivered::GameCreated(GameCreated {
                game_id,
                creator: player_id,
                version: 1,
            }),
            Delivered::PlayerJoinedAGame(PlayerJoinedAGame {
                game_id,
                player_id,
                version: 2,
            }),
            Delivered::GameStarted(GameStarted {
                game_id,
                players: vec![player_id, other],
                version: 3,
            }),
            Delivered::WaitingForPlayerPlay(WaitingForPlayerPlay {
                game_id,
                player_id,
                timeout_ms: 20_000,
                deadline: 1_700_000_000_000,
                version: 4,
            }),
            Delivered::MarkPlaced(MarkPlaced {
                game_id,
                player_id,
                x: 2,
                y: 1,
                version: 5,
            }),
            Delivered::BoardUpdated(BoardUpdated {
                game_id,
                board,
                version: 6,
            }),
            Delivered::TurnTimeout(TurnTimeout {
                game_id,
                player_id,
                version: 7,
            }),
            Delivered::GameEnded(GameEnded {
                game_id,
                result: GameResult::PlayerWon,
                winner: Some(other),
                version: 8,
            }),
            Delivered::GameEnded(GameEnded {
                game_id,
                result: GameResult::Draw,
                winner: None,
                version: 9,
            }),
            Delivered::GameErrorOccurred(GameErrorOccurred {
                game_id,
                player_id,
                reason: GameError::PositionAlreadyFilled,
            }),
            Delivered::UsersOnlineUpdated(UsersOnlineUpdated {
                users: vec![OnlineUser {
                    user_id: player_id,
                    alias: alias.clone(),
                }],
                total: 12,
            }),
            Delivered::TopThreeListUpdated(TopThreeListUpdated {
                previous: vec![],
                current: vec![score(player_id, 300), score(other, 100)],
            }),
            Delivered::UserInvited(UserInvited {
                inviter_id: player_id,
                invited_id: other,
                game_id,
            }),
            Delivered::InvitationDeclined(InvitationDeclined {
                game_id,
                invited_id: other,
                inviter_id: player_id,
            }),
            Delivered::UserCreated(UserCreated {
                user_id: player_id,
                alias: alias.clone(),
                created_at: 42,
            }),
            Delivered::UserErrorOccurred(UserErrorOccurred {
                user_id: player_id,
                reason: UserError::UserAlreadyExists,
            }),
            Delivered::PlayerScoreChanged(PlayerScoreChanged {
                user_id: other,
                alias: alias.clone(),
                score: 200,
            }),
            Delivered::QuickPlayQueued(QuickPlayQueued { player_id }),
            Delivered::LiveGamesUpdated(LiveGamesUpdated {
                games: vec![LiveGameSummary {
                    game_id,
                    players: vec![player_id, other],
                    moves: 3,
                    started_at: 1_700_000_000_000,
                }],
                total: 1,
            }),
            Delivered::WatchersChanged(WatchersChanged {
                game_id,
                watching: 2,
                version: 10,
            }),
            Delivered::QuickPlayLeft(QuickPlayLeft { player_id }),
        ]
    }

    #[test]
    fn every_event_reads_back_as_the_server_writes_it_and_nothing_else_passes() {
        let events = one_of_each();
        let kinds: std::collections::HashSet<_> =
            events.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), Delivered::TYPES.len(), "one of each");
        for event in events {
            let text = serde_json::to_string(&event).expect("serialises");
            assert_eq!(
                Delivered::read_json_text(&text),
                Ok(event.clone()),
                "{text}"
            );
        }
        // Keys in another order, unknown keys and a missing option read as
        // serde's derive reads them.
        let reordered = r#"{"payload":{"version":9,"winner":null,"result":"DRAW","gameId":"00000000-0000-0000-0000-000000000001","extra":[]},"type":"GameEnded"}"#;
        let ended = Delivered::read_json_text(reordered).expect("reads");
        let without_winner = reordered.replace(r#""winner":null,"#, "");
        assert_eq!(Delivered::read_json_text(&without_winner), Ok(ended));
        for (text, why) in [
            ("not json", "expected ident"),
            ("[]", "expected an object"),
            (
                r#"{"type":"UsersOnlineUpdated"}"#,
                "not {\"type\", \"payload\"}",
            ),
            (
                r#"{"type":"NoSuchEvent","payload":{}}"#,
                "unknown type NoSuchEvent",
            ),
            (r#"{"type":7,"payload":{}}"#, "expected a string type"),
            (
                r#"{"type":"UsersOnlineUpdated","payload":{"users":[]}}"#,
                "missing field total",
            ),
            (
                r#"{"type":"QuickPlayLeft","payload":{"playerId":"x"}}"#,
                "player_id: invalid character",
            ),
            (
                r#"{"type":"MarkPlaced","payload":{"gameId":"00000000-0000-0000-0000-000000000001","playerId":"00000000-0000-0000-0000-000000000002","x":300,"y":0,"version":1}}"#,
                "x: expected a u8",
            ),
            (
                r#"{"type":"UserCreated","payload":{"userId":"00000000-0000-0000-0000-000000000002","alias":"","createdAt":1}}"#,
                "alias:",
            ),
        ] {
            let error = Delivered::read_json_text(text).expect_err(text).0;
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn game_events_go_to_the_game_errors_to_the_player_lobby_to_everyone() {
        let game_id = GameId::from_u128(1);
        let player_id = UserId::from_u128(2);
        let moved = Envelope::new(MarkPlaced {
            game_id,
            player_id,
            x: 0,
            y: 0,
            version: 7,
        });
        assert_eq!(
            audience(&moved),
            Audience::Game {
                game_id,
                version: 7
            }
        );
        let refused = Envelope::new(GameErrorOccurred {
            game_id,
            player_id,
            reason: GameError::PlayerCanNotPlay,
        });
        assert_eq!(audience(&refused), Audience::User(player_id));
        let online = Envelope::new(UsersOnlineUpdated {
            users: vec![],
            total: 0,
        });
        assert_eq!(audience(&online), Audience::Everyone);
        let internal = Envelope::new(UserConnected {
            user_id: player_id,
            alias: Alias::parse("a").unwrap(),
            connection_id: Uuid::from_u128(1),
        });
        assert_eq!(audience(&internal), Audience::Nobody);
    }
}
