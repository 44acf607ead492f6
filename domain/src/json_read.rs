//! The events, the socket's frames and the queries' answers read by hand
//! from a parsed `serde_json::Value`, for the browser.
//!
//! Serde's derive compiles, for each type it reads, a reader of its own
//! for each format: in the browser bundle, decoding the twenty events the
//! socket brings was 20 KB of 347 gzip (docs/performance.md, "The browser
//! bundle"). Here the text is parsed once into a `Value` (code the bundle
//! has anyway) and each payload's fields are taken from it by a few calls
//! of small non-generic functions. The effects' readers come from the
//! field lists that define them (`effect_structs!`); the other structs'
//! from a list beside them ([`json_struct!`](crate::json_struct)), which
//! builds the struct by its field names, so a field left out is a compile
//! error; the unit enums' from their definitions
//! ([`json_unit_enum!`](crate::json_unit_enum)). Tests read every event
//! and answer serde writes back to the same value. The server reads with
//! serde.

use serde_json::Map;
#[doc(hidden)]
pub use serde_json::Value;

use crate::ids::{GameId, UserId};

/// Why a value does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl Unreadable {
    fn expected(what: &str) -> Self {
        Self(format!("expected {what}"))
    }

    /// The same, said of field `name`.
    #[inline(never)]
    fn at(self, name: &str) -> Self {
        Self(format!("{name}: {}", self.0))
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A type read from a parsed JSON value.
pub trait ReadJson: Sized {
    /// Reads it from `value`.
    fn read_json(value: &Value) -> Result<Self, Unreadable>;

    /// What an absent field reads as: nothing but an `Option` may be absent.
    fn absent() -> Option<Self> {
        None
    }
}

/// Field `snake_name` of `object`, whose keys are camelCase (`game_id` is
/// `gameId`).
pub fn field<T: ReadJson>(object: &Map<String, Value>, snake_name: &str) -> Result<T, Unreadable> {
    match lookup(object, snake_name) {
        Some(value) => T::read_json(value).map_err(|error| error.at(snake_name)),
        None => T::absent().ok_or_else(|| missing(snake_name)),
    }
}

/// Field `snake_name`'s value (the part of [`field`] that is the same for
/// every type).
fn lookup<'a>(object: &'a Map<String, Value>, snake_name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| is_camel_of(key, snake_name))
        .map(|(_, value)| value)
}

fn missing(snake_name: &str) -> Unreadable {
    Unreadable(format!("missing field {snake_name}"))
}

/// Field `snake_name`, or `T`'s default when it is absent (a field serde
/// reads with `#[serde(default)]`).
pub fn field_or_default<T: ReadJson + Default>(
    object: &Map<String, Value>,
    snake_name: &str,
) -> Result<T, Unreadable> {
    match lookup(object, snake_name) {
        Some(value) => T::read_json(value).map_err(|error| error.at(snake_name)),
        None => Ok(T::default()),
    }
}

/// `value` as an object.
pub fn object(value: &Value) -> Result<&Map<String, Value>, Unreadable> {
    value
        .as_object()
        .ok_or_else(|| Unreadable::expected("an object"))
}

/// Whether `camel` is `snake` in camelCase (each `_x` an `X`).
fn is_camel_of(camel: &str, snake: &str) -> bool {
    let mut camel = camel.chars();
    let mut snake = snake.chars();
    while let Some(s) = snake.next() {
        let expected = match s {
            '_' => match snake.next() {
                Some(next) => next.to_ascii_uppercase(),
                None => return false,
            },
            other => other,
        };
        if camel.next() != Some(expected) {
            return false;
        }
    }
    camel.next().is_none()
}

fn unsigned(value: &Value) -> Result<u64, Unreadable> {
    value
        .as_u64()
        .ok_or_else(|| Unreadable::expected("an unsigned integer"))
}

impl ReadJson for u64 {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        unsigned(value)
    }
}

impl ReadJson for u32 {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        Self::try_from(unsigned(value)?).map_err(|_| Unreadable::expected("a u32"))
    }
}

impl ReadJson for u8 {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        Self::try_from(unsigned(value)?).map_err(|_| Unreadable::expected("a u8"))
    }
}

impl ReadJson for i64 {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        value
            .as_i64()
            .ok_or_else(|| Unreadable::expected("an integer"))
    }
}

fn text(value: &Value) -> Result<&str, Unreadable> {
    value
        .as_str()
        .ok_or_else(|| Unreadable::expected("a string"))
}

impl ReadJson for bool {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        value
            .as_bool()
            .ok_or_else(|| Unreadable::expected("true or false"))
    }
}

impl ReadJson for String {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        text(value).map(str::to_owned)
    }
}

impl ReadJson for uuid::Uuid {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        uuid::Uuid::parse_str(text(value)?).map_err(|error| Unreadable(error.to_string()))
    }
}

impl ReadJson for UserId {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        uuid::Uuid::read_json(value).map(Self::from)
    }
}

impl ReadJson for GameId {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        uuid::Uuid::read_json(value).map(Self::from)
    }
}

impl ReadJson for crate::Alias {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        Self::parse(text(value)?).map_err(|error| Unreadable(error.to_string()))
    }
}

impl<T: ReadJson> ReadJson for Option<T> {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        match value {
            Value::Null => Ok(None),
            value => T::read_json(value).map(Some),
        }
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: ReadJson> ReadJson for Vec<T> {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        value
            .as_array()
            .ok_or_else(|| Unreadable::expected("an array"))?
            .iter()
            .map(T::read_json)
            .collect()
    }
}

impl ReadJson for crate::Board {
    fn read_json(value: &Value) -> Result<Self, Unreadable> {
        // As serde writes it (`#[serde(transparent)]`): rows of cells.
        let rows: Vec<Vec<Option<crate::Mark>>> = ReadJson::read_json(value)?;
        let mut board = Self::default();
        if rows.len() != board.cells.len() {
            return Err(Unreadable::expected("3 rows"));
        }
        for (row, cells) in board.cells.iter_mut().zip(rows) {
            *row = cells
                .try_into()
                .map_err(|_| Unreadable::expected("3 cells a row"))?;
        }
        Ok(board)
    }
}

/// The variant of a unit-only enum that `value` names, as serde writes
/// it (the variant's name, renamed as the enum's attributes say), among
/// `all`. Each variant's name comes from serde's writer, so the wire
/// shape stays serde's; serde's reader is not used, because its error
/// messages (which can print a number it did not expect) brought float
/// formatting into the browser bundle (docs/performance.md, "The
/// browser bundle").
pub fn unit_variant<T: serde::Serialize + Copy>(value: &Value, all: &[T]) -> Result<T, Unreadable> {
    let name = text(value)?;
    all.iter()
        .copied()
        .find(|variant| {
            serde_json::to_value(variant)
                .ok()
                .as_ref()
                .and_then(Value::as_str)
                == Some(name)
        })
        .ok_or_else(|| Unreadable(format!("unknown variant `{name}`")))
}

/// Defines a unit-only enum (attributes, doc comments and all) and its
/// [`ReadJson`] with [`unit_variant`], from the one list of its variants.
#[macro_export]
macro_rules! json_unit_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$variant_meta])* $variant),*
        }

        impl $crate::json_read::ReadJson for $name {
            fn read_json(
                value: &$crate::json_read::Value,
            ) -> Result<Self, $crate::json_read::Unreadable> {
                $crate::json_read::unit_variant(value, &[$(Self::$variant),*])
            }
        }
    };
}

/// A frame, `{"type", "payload"}`, parsed: its type and its payload (in
/// any order; other keys are ignored).
pub fn tagged(text: &str) -> Result<(String, Value), Unreadable> {
    // From bytes, as the server functions' client parses its answers: one
    // parser in the bundle, not one for `str` and one for bytes.
    let frame: Value =
        serde_json::from_slice(text.as_bytes()).map_err(|error| Unreadable(error.to_string()))?;
    let Value::Object(mut frame) = frame else {
        return Err(Unreadable::expected("an object"));
    };
    match (frame.remove("type"), frame.remove("payload")) {
        (Some(Value::String(kind)), Some(payload)) => Ok((kind, payload)),
        (Some(_), Some(_)) => Err(Unreadable::expected("a string type")),
        _ => Err(Unreadable(r#"not {"type", "payload"}"#.to_owned())),
    }
}

/// Implements, for an enum whose variants each hold the payload struct of
/// their name (`Variant(Variant)`), the reading of its frames:
/// `TYPES`, `read_payload` (the frame of a type and payload [`tagged`]
/// split, `None` for a type that is none of the enum's) and
/// `read_json_text`.
#[macro_export]
macro_rules! json_tagged {
    ($enum:ident { $($variant:ident),* $(,)? }) => {
        impl $enum {
            /// Every variant's type, as on the wire.
            pub const TYPES: &[&str] = &[$(stringify!($variant)),*];

            /// The frame of type `kind` with `payload`; `None` if `kind`
            /// is none of these.
            pub fn read_payload(
                kind: &str,
                payload: &$crate::json_read::Value,
            ) -> Option<Result<Self, $crate::json_read::Unreadable>> {
                use $crate::json_read::ReadJson;
                Some(match kind {
                    $(stringify!($variant) => $variant::read_json(payload).map(Self::$variant),)*
                    _ => return None,
                })
            }

            /// Reads a frame, `{"type", "payload"}`.
            pub fn read_json_text(text: &str) -> Result<Self, $crate::json_read::Unreadable> {
                let (kind, payload) = $crate::json_read::tagged(text)?;
                Self::read_payload(&kind, &payload).unwrap_or_else(|| {
                    Err($crate::json_read::Unreadable(format!("unknown type {kind}")))
                })
            }
        }
    };
}

/// Implements [`ReadJson`] for a struct whose fields are all named here,
/// read from an object with camelCase keys (unknown keys are ignored, as
/// serde's derive does); those after `; default` take their default when
/// absent, as `#[serde(default)]` fields do.
#[macro_export]
macro_rules! json_struct {
    ($name:ident { $($field:ident),* $(; default $($defaulted:ident),*)? $(,)? }) => {
        impl $crate::json_read::ReadJson for $name {
            #[allow(unused_variables)]
            fn read_json(
                value: &$crate::json_read::Value,
            ) -> Result<Self, $crate::json_read::Unreadable> {
                let object = $crate::json_read::object(value)?;
                Ok(Self {
                    $($field: $crate::json_read::field(object, stringify!($field))?,)*
                    $($($defaulted: $crate::json_read::field_or_default(
                        object,
                        stringify!($defaulted),
                    )?,)*)?
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What serde writes reads back the same, by hand.
    fn round_trip<T: ReadJson + serde::Serialize + PartialEq + std::fmt::Debug>(value: T) {
        let json = serde_json::to_value(&value).expect("serialises");
        assert_eq!(T::read_json(&json), Ok(value), "{json}");
    }

    #[test]
    fn the_queries_answers_read_back_as_serde_writes_them() {
        use crate::history::Recent;
        use crate::users::User;
        use crate::view::{GameView, Seat, Stage};
        use crate::{Board, GameArchived, GameResult, Mark, Move};
        let (game_id, alice, bob) = (
            GameId::from_u128(1),
            UserId::from_u128(2),
            UserId::from_u128(3),
        );
        let archived = GameArchived {
            game_id,
            players: vec![alice, bob],
            started_at: 10,
            ended_at: 20,
            result: GameResult::PlayerWon,
            winner: Some(alice),
            moves: vec![Move {
                player_id: alice,
                x: 0,
                y: 2,
                at: 11,
            }],
        };
        let view = GameView {
            game_id,
            stage: Stage::Ended,
            players: vec![
                Seat {
                    user_id: alice,
                    mark: Mark::X,
                },
                Seat {
                    user_id: bob,
                    mark: Mark::O,
                },
            ],
            board: Board::default().place(0, 2, Mark::X).expect("a board"),
            turn: None,
            deadline: Some(30),
            result: Some(GameResult::PlayerWon),
            winner: Some(alice),
            invited: None,
            version: 9,
            watching: 4,
        };
        round_trip(Some(view.clone()));
        round_trip(None::<GameView>);
        round_trip(Some(User {
            user_id: bob,
            alias: crate::Alias::parse("bob").expect("an alias"),
            created_at: 5,
        }));
        round_trip(Recent {
            games: vec![archived.clone()],
            older_pages: 2,
        });
        round_trip(vec![archived.clone(), archived]);
        // `watching` is read as serde's `#[serde(default)]` reads it.
        let mut older = serde_json::to_value(&view).expect("serialises");
        older.as_object_mut().expect("an object").remove("watching");
        assert_eq!(
            GameView::read_json(&older),
            Ok(GameView {
                watching: 0,
                ..view
            })
        );
    }

    #[test]
    fn unit_enums_and_the_board_read_as_serde_writes_them() {
        use crate::bot::Level;
        use crate::view::Stage;
        use crate::{Board, GameError, GameResult, Mark, UserError};
        [Mark::X, Mark::O].into_iter().for_each(round_trip);
        [Stage::Waiting, Stage::InProgress, Stage::Ended]
            .into_iter()
            .for_each(round_trip);
        [
            GameResult::PlayerWon,
            GameResult::Draw,
            GameResult::GameAborted,
        ]
        .into_iter()
        .for_each(round_trip);
        [
            GameError::PlayerCanNotPlay,
            GameError::NotInvited,
            GameError::TooManyWaitingGames,
        ]
        .into_iter()
        .for_each(round_trip);
        round_trip(UserError::UserAlreadyExists);
        [Level::Easy, Level::Perfect]
            .into_iter()
            .for_each(round_trip);
        assert_eq!(
            GameError::read_json(&json!("PLAYER_CAN_NOT_PLAY")),
            Ok(GameError::PlayerCanNotPlay)
        );
        for wrong in [
            json!("PlayerCanNotPlay"),
            json!("player_can_not_play"),
            json!(3),
        ] {
            assert!(GameError::read_json(&wrong).is_err(), "{wrong}");
        }
        let board = Board::default()
            .place(0, 2, Mark::X)
            .and_then(|board| board.place(1, 1, Mark::O))
            .expect("a board");
        round_trip(board);
        round_trip(Board::default());
        for wrong in [
            json!([[null, null, null], [null, null, null]]),
            json!([[null, null, null], [null, null], [null, null, null]]),
            json!([[null, null, null], [null, "Y", null], [null, null, null]]),
        ] {
            assert!(Board::read_json(&wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn camel_case_keys_match_snake_case_fields() {
        assert!(is_camel_of("gameId", "game_id"));
        assert!(is_camel_of("timeoutMs", "timeout_ms"));
        assert!(is_camel_of("x", "x"));
        assert!(!is_camel_of("game_id", "game_id"));
        assert!(!is_camel_of("gameIdx", "game_id"));
        assert!(!is_camel_of("game", "game_id"));
    }

    #[test]
    fn numbers_strings_and_options_read_or_say_why_not() {
        assert_eq!(u8::read_json(&json!(2)), Ok(2));
        assert!(u8::read_json(&json!(256)).is_err());
        assert!(u64::read_json(&json!(-1)).is_err());
        assert!(u64::read_json(&json!(1.5)).is_err());
        assert_eq!(Option::<u32>::read_json(&json!(null)), Ok(None));
        assert!(UserId::read_json(&json!("not a uuid")).is_err());
        let object = json!({ "gameId": 1 });
        let object = object.as_object().unwrap();
        let missing: Result<u64, _> = field(object, "version");
        assert_eq!(missing, Err(Unreadable("missing field version".into())));
        assert_eq!(field::<Option<u64>>(object, "version"), Ok(None));
        let wrong: Result<String, _> = field(object, "game_id");
        assert_eq!(wrong, Err(Unreadable("game_id: expected a string".into())));
    }
}
