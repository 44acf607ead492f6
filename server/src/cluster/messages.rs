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
//! A body is one or more records, each a line of routing (`U <user>`,
//! `G <game> <version> <player>,<player>`, `L <kind>`, `R <game>`) and a
//! line with the frame as sockets get it (JSON as the server writes it has
//! no raw line break), so a receiving node routes without parsing the JSON
//! and sends the same bytes on. The relay puts the records of one commit
//! bound for one subject in one message.

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

/// Where `outgoing` goes and its record (`players` are a game's, as
/// resolved); records to one subject are concatenated into a body.
pub fn encode(outgoing: &Outgoing, players: &[UserId]) -> (Vec<String>, Vec<u8>) {
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
    let mut record = head.into_bytes();
    record.push(b'\n');
    if let Some(frame) = frame {
        record.extend_from_slice(frame.as_bytes());
    }
    record.push(b'\n');
    (subjects, record)
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

/// The records of a body another node sent; reading stops at the first
/// that is not one of ours.
pub fn decode(body: &Bytes) -> Vec<Incoming> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let Some(head_end) = line_end(body, at) else {
            break;
        };
        let Some(frame_end) = line_end(body, head_end + 1) else {
            break;
        };
        match record(body, at..head_end, head_end + 1..frame_end) {
            Some(incoming) => records.push(incoming),
            None => break,
        }
        at = frame_end + 1;
    }
    records
}

fn line_end(body: &Bytes, from: usize) -> Option<usize> {
    body.get(from..)?
        .iter()
        .position(|byte| *byte == b'\n')
        .map(|offset| from + offset)
}

fn record(
    body: &Bytes,
    head: std::ops::Range<usize>,
    frame: std::ops::Range<usize>,
) -> Option<Incoming> {
    let head = std::str::from_utf8(&body[head]).ok()?;
    let frame = Frame::try_from(body.slice(frame)).ok()?;
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
        let (subjects, record) = encode(&out, &players);
        assert_eq!(
            subjects,
            [user(id(1)), user(id(2)), game(id(9))],
            "each player, then the game's followers"
        );
        assert_eq!(
            decode(&Bytes::from(record)),
            [Incoming::Game {
                game: id(9),
                version: 7,
                players: players.to_vec(),
                frame
            }]
        );
    }

    #[test]
    fn records_of_every_kind_read_back_from_one_body_in_order() {
        let frame: Frame = r#"{"type":"X","payload":{"text":"a\nb"}}"#.into();
        let mut body = Vec::new();
        let (_, record) = encode(
            &Outgoing::User {
                user: id(3),
                frame: frame.clone(),
            },
            &[],
        );
        body.extend(record);
        let (subjects, record) = encode(
            &Outgoing::Lobby {
                kind: "UsersOnlineUpdated",
                frame: frame.clone(),
            },
            &[],
        );
        assert_eq!(subjects, [lobby()]);
        body.extend(record);
        let (_, record) = encode(
            &Outgoing::Removed {
                game: id(4),
                players: vec![],
            },
            &[id(1)],
        );
        body.extend(record);
        assert_eq!(
            decode(&Bytes::from(body)),
            [
                Incoming::User {
                    user: id(3),
                    frame: frame.clone()
                },
                Incoming::Lobby {
                    kind: "UsersOnlineUpdated".into(),
                    frame
                },
                Incoming::Removed { game: id(4) },
            ]
        );
    }

    #[test]
    fn what_is_not_ours_is_ignored() {
        for body in [
            "",
            "no newline",
            "X 1\n{}\n",
            "G nope 1 \n{}\n",
            "U 12\n{}\n",
            "U 1\n{}",
        ] {
            assert_eq!(decode(&Bytes::from(body)), [], "{body:?}");
        }
    }
}
