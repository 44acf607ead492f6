//! What nodes send each other over NATS: subjects and message bodies.
//!
//! Subjects are per user, per game and one for the lobby, so a node
//! subscribes to what its own sockets need and its traffic grows with its
//! own players, not with the cluster's size:
//!
//! - `tictactoe.user.<id>`: that user's events, and the events of the
//!   games they play (a game's events go to each player's subject: the node
//!   with a player's socket gets them without knowing the game beforehand);
//! - `tictactoe.game.<id>`: the game's events again, for sockets that follow
//!   a game they do not play (a resume on a node without its players);
//! - `tictactoe.lobby`: lobby-wide events, to every node.
//!
//! A body is one line of routing (`U <user>`, `G <game> <version>
//! <player>,<player>`, `L <kind>`, `R <game>`) and the frame as sockets
//! get it, so a receiving node routes without parsing the JSON and sends
//! the same bytes on.

use bytes::Bytes;
use domain::{GameId, UserId};

use crate::event_routing::{Incoming, Outgoing};
use crate::queue::Frame;

/// Every subject starts with it.
const PREFIX: &str = "tictactoe";

/// The lobby's subject.
pub fn lobby() -> String {
    format!("{PREFIX}.lobby")
}

/// A user's subject.
pub fn user(user: UserId) -> String {
    format!("{PREFIX}.user.{user}")
}

/// A game's subject.
pub fn game(game: GameId) -> String {
    format!("{PREFIX}.game.{game}")
}

/// Where `outgoing` goes and its body (`players` are a game's, as resolved).
pub fn encode(outgoing: &Outgoing, players: &[UserId]) -> (Vec<String>, Bytes) {
    let (subjects, head, frame) = match outgoing {
        Outgoing::User { user: to, frame } => (vec![user(*to)], format!("U {to}"), Some(frame)),
        Outgoing::Lobby { kind, frame } => (vec![lobby()], format!("L {kind}"), Some(frame)),
        Outgoing::Game {
            game: id,
            version,
            frame,
            ..
        } => (
            to_game_and_players(*id, players),
            format!("G {id} {version} {}", joined(players)),
            Some(frame),
        ),
        Outgoing::Removed { game: id, .. } => {
            (to_game_and_players(*id, players), format!("R {id}"), None)
        }
    };
    let mut body = head.into_bytes();
    body.push(b'\n');
    if let Some(frame) = frame {
        body.extend_from_slice(frame.as_bytes());
    }
    (subjects, Bytes::from(body))
}

fn to_game_and_players(id: GameId, players: &[UserId]) -> Vec<String> {
    players
        .iter()
        .map(|player| user(*player))
        .chain([game(id)])
        .collect()
}

fn joined(players: &[UserId]) -> String {
    players
        .iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A body another node sent, or `None` if it is not one of ours.
pub fn decode(body: Bytes) -> Option<Incoming> {
    let split = body.iter().position(|byte| *byte == b'\n')?;
    let head = std::str::from_utf8(&body[..split]).ok()?.to_owned();
    let frame = Frame::try_from(body.slice(split + 1..)).ok()?;
    let mut words = head.split(' ');
    let incoming = match (words.next()?, words.next()?) {
        ("U", to) => Incoming::User {
            user: to.parse().ok()?,
            frame,
        },
        ("L", kind) => Incoming::Lobby {
            kind: kind.to_owned(),
            frame,
        },
        ("R", id) => Incoming::Removed {
            game: id.parse().ok()?,
        },
        ("G", id) => Incoming::Game {
            game: id.parse().ok()?,
            version: words.next()?.parse().ok()?,
            players: words
                .next()
                .unwrap_or_default()
                .split(',')
                .filter(|player| !player.is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
            frame,
        },
        _ => return None,
    };
    Some(incoming)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<I: From<uuid::Uuid>>(n: u128) -> I {
        I::from(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_game_event_goes_to_each_player_and_the_game_and_reads_back() {
        let frame: Frame = r#"{"type":"MarkPlaced"}"#.into();
        let players = [id(1), id(2)];
        let out = Outgoing::Game {
            game: id(9),
            version: 7,
            players: vec![],
            frame: frame.clone(),
        };
        let (subjects, body) = encode(&out, &players);
        assert_eq!(
            subjects,
            [user(id(1)), user(id(2)), game(id(9))],
            "each player, then the game's followers"
        );
        assert_eq!(
            decode(body),
            Some(Incoming::Game {
                game: id(9),
                version: 7,
                players: players.to_vec(),
                frame
            })
        );
    }

    #[test]
    fn user_lobby_and_removal_bodies_read_back() {
        let frame: Frame = r#"{"type":"X"}"#.into();
        let (_, body) = encode(
            &Outgoing::User {
                user: id(3),
                frame: frame.clone(),
            },
            &[],
        );
        assert_eq!(
            decode(body),
            Some(Incoming::User {
                user: id(3),
                frame: frame.clone()
            })
        );
        let (subjects, body) = encode(
            &Outgoing::Lobby {
                kind: "UsersOnlineUpdated",
                frame: frame.clone(),
            },
            &[],
        );
        assert_eq!(subjects, [lobby()]);
        assert_eq!(
            decode(body),
            Some(Incoming::Lobby {
                kind: "UsersOnlineUpdated".into(),
                frame
            })
        );
        let (_, body) = encode(
            &Outgoing::Removed {
                game: id(4),
                players: vec![],
            },
            &[id(1)],
        );
        assert_eq!(decode(body), Some(Incoming::Removed { game: id(4) }));
    }

    #[test]
    fn what_is_not_ours_is_ignored() {
        for body in ["", "no newline", "X 1\n{}", "G nope 1 \n{}", "U 12\n{}"] {
            assert_eq!(decode(Bytes::from(body)), None, "{body:?}");
        }
    }
}
