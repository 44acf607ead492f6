//! Reading `{"type", "payload"}` with `type` first, each payload straight
//! from the text: for the enums the browser reads from the socket
//! ([`Delivered`](crate::audience::Delivered), and the app's server
//! frames), in place of serde's derive for an adjacently tagged enum.
//!
//! The derive also takes the payload first: it buffers it (serde's
//! `Content`) and so decodes each variant a second way, from the buffer.
//! The server always writes `type` first, so that second way is never
//! taken, and it was most of the largest function in the browser bundle
//! (43 KB of 1,158 KB for the events; docs/performance.md, "The browser
//! bundle").

/// Implements `Deserialize` for `$enum`, whose variants each hold their
/// payload (`Variant(Payload)`), reading `{"type": "Variant", "payload":
/// …}` with `type` first. A payload first, an unknown type, a missing
/// payload or a second key are errors.
#[macro_export]
macro_rules! type_first_reader {
    ($enum:ident { $($variant:ident),* $(,)? }) => {
        impl<'de> $crate::type_first::serde::Deserialize<'de> for $enum {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
            where
                D: $crate::type_first::serde::Deserializer<'de>,
            {
                use $crate::type_first::serde::de::{Error, MapAccess, Visitor};
                use $crate::type_first::Key;

                struct TypeFirst;

                impl<'de> Visitor<'de> for TypeFirst {
                    type Value = $enum;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("{\"type\", \"payload\"} with type first")
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$enum, A::Error> {
                        if map.next_key::<Key>()? != Some(Key::Type) {
                            return Err(A::Error::custom("`type` comes first"));
                        }
                        let kind: String = map.next_value()?;
                        if map.next_key::<Key>()? != Some(Key::Payload) {
                            return Err(A::Error::missing_field("payload"));
                        }
                        let read = match kind.as_str() {
                            $(stringify!($variant) => $enum::$variant(
                                map.next_value_seed($crate::type_first::AsMap::default())?,
                            ),)*
                            other => return Err(A::Error::unknown_variant(other, VARIANTS)),
                        };
                        if let Some(key) = map.next_key::<Key>()? {
                            return Err(A::Error::custom(format_args!("no second {key:?}")));
                        }
                        Ok(read)
                    }
                }

                const VARIANTS: &[&str] = &[$(stringify!($variant)),*];
                deserializer.deserialize_map(TypeFirst)
            }
        }
    };
}

#[doc(hidden)]
pub use serde;

use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, Visitor};

/// Reads a payload struct as a JSON object only. Serde's derive reads a
/// struct as an object or as an array of its fields, in order; the
/// server writes objects, and the array form was compiled into the
/// browser bundle for every payload.
#[doc(hidden)]
pub struct AsMap<T>(PhantomData<T>);

impl<T> Default for AsMap<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: serde::Deserialize<'de>> DeserializeSeed<'de> for AsMap<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize(MapOnly(deserializer))
    }
}

/// A deserializer that reads a struct as a map, and anything else as
/// the one it wraps would.
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    // A payload is a struct; were it one of these, a self-describing
    // format such as JSON reads it the same through `deserialize_any`.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit seq tuple map identifier ignored_any
    }
}

/// The two keys of a `{"type", "payload"}` object.
#[doc(hidden)]
#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
pub enum Key {
    /// `type`.
    Type,
    /// `payload`.
    Payload,
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Named {
        a: u32,
        b: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Wrapped(u64);

    #[derive(Debug, PartialEq, Deserialize)]
    enum Kind {
        One,
    }

    #[derive(Debug, PartialEq)]
    enum Read {
        Named(Named),
        Wrapped(Wrapped),
        Kind(Kind),
        Maybe(Option<u8>),
    }

    type_first_reader!(Read {
        Named,
        Wrapped,
        Kind,
        Maybe
    });

    fn read(text: &str) -> Result<Read, String> {
        serde_json::from_str(text).map_err(|error| error.to_string())
    }

    #[test]
    fn each_kind_of_payload_reads_as_it_is_written() {
        assert_eq!(
            read(r#"{"type":"Named","payload":{"b":"x","a":1}}"#),
            Ok(Read::Named(Named {
                a: 1,
                b: Some("x".to_owned())
            }))
        );
        assert_eq!(
            read(r#"{"type":"Wrapped","payload":7}"#),
            Ok(Read::Wrapped(Wrapped(7)))
        );
        assert_eq!(
            read(r#"{"type":"Kind","payload":"One"}"#),
            Ok(Read::Kind(Kind::One))
        );
        assert_eq!(
            read(r#"{"type":"Maybe","payload":null}"#),
            Ok(Read::Maybe(None))
        );
    }

    #[test]
    fn a_struct_payload_is_an_object_only() {
        let error = read(r#"{"type":"Named","payload":[1,"x"]}"#).expect_err("an array");
        assert!(error.contains("invalid type: sequence"), "{error}");
    }
}
