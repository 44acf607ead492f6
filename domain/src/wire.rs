//! What the protocol needs to know of the domain: which commands and queries
//! clients may send, who acts in each command, and who receives each event.

use bus::{Effect, Envelope};

use crate::events::*;
use crate::ids::{GameId, UserId};

/// A command clients may send, and the payload field naming its acting user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCommand {
    /// The command's wire name.
    pub effect_type: &'static str,
    /// The field the server fills with the session's user.
    pub actor_field: &'static str,
}

/// Every command a client may send.
pub const CLIENT_COMMANDS: &[ClientCommand] = &[
    ClientCommand {
        effect_type: CreateUser::TYPE,
        actor_field: "userId",
    },
    ClientCommand {
        effect_type: CreateGame::TYPE,
        actor_field: "playerId",
    },
    ClientCommand {
        effect_type: JoinGame::TYPE,
        actor_field: "playerId",
    },
    ClientCommand {
        effect_type: PlaceMark::TYPE,
        actor_field: "playerId",
    },
    ClientCommand {
        effect_type: InviteUser::TYPE,
        actor_field: "inviterId",
    },
    ClientCommand {
        effect_type: DeclineInvitation::TYPE,
        actor_field: "invitedId",
    },
];

/// Every query a client may ask.
pub const CLIENT_QUERIES: &[&str] = &[
    GetUser::TYPE,
    GetUsersOnline::TYPE,
    GetGame::TYPE,
    GetTopThreePlayers::TYPE,
    GetHistory::TYPE,
    GetHistoryPage::TYPE,
];

/// The client command with this wire name, if clients may send it.
pub fn client_command(effect_type: &str) -> Option<ClientCommand> {
    CLIENT_COMMANDS
        .iter()
        .copied()
        .find(|command| command.effect_type == effect_type)
}

/// Whether clients may ask this query.
pub fn is_client_query(effect_type: &str) -> bool {
    CLIENT_QUERIES.contains(&effect_type)
}

/// Every event a client can receive on the socket, for clients to decode
/// (`{"type", "payload"}`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "payload")]
#[allow(missing_docs)]
pub enum Delivered {
    GameCreated(GameCreated),
    PlayerJoinedAGame(PlayerJoinedAGame),
    GameStarted(GameStarted),
    WaitingForPlayerPlay(WaitingForPlayerPlay),
    MarkPlaced(MarkPlaced),
    BoardUpdated(BoardUpdated),
    TurnTimeout(TurnTimeout),
    GameEnded(GameEnded),
    GameErrorOccurred(GameErrorOccurred),
    UsersOnlineUpdated(UsersOnlineUpdated),
    TopThreeListUpdated(TopThreeListUpdated),
    UserInvited(UserInvited),
    InvitationDeclined(InvitationDeclined),
    UserCreated(UserCreated),
    UserErrorOccurred(UserErrorOccurred),
    PlayerScoreChanged(PlayerScoreChanged),
}

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
        GameEnded
    );
    if event.is::<UsersOnlineUpdated>() || event.is::<TopThreeListUpdated>() {
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

    #[test]
    fn game_events_go_to_the_game_errors_to_the_player_lobby_to_everyone() {
        let game_id = Uuid::from_u128(1);
        let player_id = Uuid::from_u128(2);
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
            connection_id: game_id,
        });
        assert_eq!(audience(&internal), Audience::Nobody);
    }

    #[test]
    fn every_client_command_and_query_is_registered() {
        let mut bus = bus::BusBuilder::new();
        crate::register(&mut bus, crate::Rules::default());
        let registry = bus.build().unwrap();
        for command in CLIENT_COMMANDS {
            assert!(
                registry.command_handler(command.effect_type).is_some(),
                "{command:?}"
            );
        }
        for query in CLIENT_QUERIES {
            assert!(registry.query_handler(query).is_some(), "{query}");
        }
    }
}
