//! Which commands and queries clients may send, and who acts in each
//! command: the protocol's door into the domain.

use bus::Effect;

use crate::events::*;

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
        effect_type: PlayComputer::TYPE,
        actor_field: "playerId",
    },
    ClientCommand {
        effect_type: QuickPlay::TYPE,
        actor_field: "playerId",
    },
    ClientCommand {
        effect_type: CancelQuickPlay::TYPE,
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
    GetGameRecord::TYPE,
    GetLiveGames::TYPE,
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

#[cfg(test)]
mod tests {
    use super::*;

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
