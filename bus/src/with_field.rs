//! A client's payload read straight from its JSON text with one string
//! field set by the reader: the user a client acts as, which it may leave
//! out or must name as itself. Reading the text into a `Value` first, to
//! insert the field, and then the `Value` into the type cost a move on the
//! socket a tree of allocations it did not need (docs/performance.md).

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// `inner`, an object, read with string field `field` equal to `value`:
/// added when absent; when present, it must be `value` already.
pub(crate) struct WithField<'a, D> {
    pub(crate) inner: D,
    pub(crate) field: &'a str,
    pub(crate) value: &'a str,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for WithField<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let (field, value) = (self.field, self.value);
        self.inner.deserialize_map(Objects {
            visitor,
            field,
            value,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (field, value) = (self.field, self.value);
        self.inner.deserialize_struct(
            name,
            fields,
            Objects {
                visitor,
                field,
                value,
            },
        )
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct enum identifier ignored_any
    }
}

/// The visitor of an object only (an array's fields are refused).
struct Objects<'a, V> {
    visitor: V,
    field: &'a str,
    value: &'a str,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Objects<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Entries {
            inner: map,
            field: self.field,
            value: self.value,
            seen: false,
            next: Next::Inner,
        })
    }
}

/// What the next value is.
enum Next {
    /// The object's own.
    Inner,
    /// The field's, as the object names it: checked.
    Named,
    /// The field's, added.
    Added,
    /// None: the field was added last.
    Done,
}

struct Entries<'a, A> {
    inner: A,
    field: &'a str,
    value: &'a str,
    seen: bool,
    next: Next,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Entries<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if matches!(self.next, Next::Done) {
            return Ok(None);
        }
        match self.inner.next_key::<Key<'de>>()? {
            Some(key) => {
                if key.as_str() == self.field {
                    self.seen = true;
                    self.next = Next::Named;
                }
                match key {
                    Key::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                    Key::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
                }
                .map(Some)
            }
            None if self.seen => Ok(None),
            None => {
                self.seen = true;
                self.next = Next::Added;
                seed.deserialize(StrDeserializer::new(self.field)).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match std::mem::replace(&mut self.next, Next::Inner) {
            Next::Inner => self.inner.next_value_seed(seed),
            Next::Named => {
                let named = self.inner.next_value::<Key<'de>>()?;
                if named.as_str() != self.value {
                    return Err(de::Error::custom(format_args!(
                        "{} must be you, or left out",
                        self.field
                    )));
                }
                seed.deserialize(StrDeserializer::new(self.value))
            }
            Next::Added | Next::Done => {
                self.next = Next::Done;
                seed.deserialize(StrDeserializer::new(self.value))
            }
        }
    }
}

/// A key (or the field's string value) as the text has it: borrowed
/// unless it holds an escape.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(text))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(text))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::{decode_strict, decode_strict_text_with};
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Move {
        game_id: String,
        player_id: String,
        x: u8,
        #[serde(default)]
        note: Option<String>,
    }

    fn read(text: &str) -> Result<Move, String> {
        decode_strict_text_with(text, "playerId", "me")
    }

    /// What the reading from a `Value` gives, the field inserted as the
    /// HTTP endpoint does.
    fn read_value(text: &str) -> Result<Move, String> {
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        value
            .as_object_mut()
            .unwrap()
            .insert("playerId".into(), "me".into());
        decode_strict(value)
    }

    #[test]
    fn the_field_is_added_when_left_out_and_kept_when_it_is_the_same() {
        for text in [
            r#"{"gameId":"g","x":1}"#,
            r#"{"gameId":"g","playerId":"me","x":1}"#,
            r#"{"playerId":"me","x":1,"gameId":"g"}"#,
            r#"{"x":1,"gameId":"g","note":"hi","playerId":"m\u0065"}"#,
            r#" { "g\u0061meId" : "g" , "x" : 1 } "#,
        ] {
            let read = read(text).unwrap();
            assert_eq!(read.player_id, "me", "{text}");
            assert_eq!(read, read_value(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn another_actor_unknown_fields_arrays_and_trailing_text_are_refused() {
        for (text, says) in [
            (r#"{"gameId":"g","playerId":"you","x":1}"#, "must be you"),
            (r#"{"gameId":"g","x":1,"y":2}"#, "unknown field `y`"),
            (
                r#"{"gameId":"g","x":1,"y":2,"z":3}"#,
                "unknown fields `y`, `z`",
            ),
            (r#"["g","me",1]"#, "expected an object"),
            (r#"{"gameId":"g","x":1} x"#, "trailing characters"),
            (r#"{"gameId":"g","x":"1"}"#, "invalid type"),
            (r#"{"gameId":"g","x":1,"x":2}"#, "duplicate field `x`"),
            (r#"{"x":1}"#, "missing field `gameId`"),
        ] {
            let error = read(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
