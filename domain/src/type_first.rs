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
                            $(stringify!($variant) => $enum::$variant(map.next_value()?),)*
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
