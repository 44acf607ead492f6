//! Effects: the typed messages that travel on the bus and over the wire.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

/// The four kinds of effect (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Asks for a change; exactly one handler; answers nothing (outcomes are events).
    Command,
    /// Says what happened; zero or more subscribers.
    Event,
    /// Asks for a value; exactly one handler; answered from committed state.
    Query,
    /// A command the bus handles itself (schedule, cancel, delete a state).
    Framework,
}

impl Kind {
    /// Whether a handler may emit an effect of this kind (queries are asked, never emitted).
    pub const fn can_be_emitted(self) -> bool {
        !matches!(self, Self::Query)
    }
}

/// A command, event or query: a plain serde type with a stable wire name.
///
/// Implement it with [`commands!`](crate::commands), [`events!`](crate::events)
/// or [`queries!`](crate::queries) rather than by hand.
pub trait Effect:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static
{
    /// The `type` of `{"type": ..., "payload": ...}`: stable across releases.
    const TYPE: &'static str;
    /// Which of the four kinds this effect is.
    const KIND: Kind;

    /// The schema version of the payload this release writes (1 at first).
    /// Raise it when a stored payload of the old shape would not read as
    /// the same effect (a renamed field, a changed meaning) and say how to
    /// read the old one in [`Effect::upcast`]. A new field with
    /// `#[serde(default)]`, or a removed one, needs no new version: stored
    /// payloads are read leniently.
    const SCHEMA_VERSION: u32 = 1;

    /// Brings a stored payload of schema version `from_version` (older than
    /// [`Effect::SCHEMA_VERSION`]) to today's shape.
    fn upcast(from_version: u32, payload: serde_json::Value) -> Result<serde_json::Value, String> {
        crate::schema::no_older_shape(from_version, payload)
    }
}

/// A command: exactly one handler, registered with [`BusBuilder::command`](crate::BusBuilder::command).
pub trait Command: Effect {}

/// An event: any number of subscribers, registered with [`BusBuilder::event`](crate::BusBuilder::event).
pub trait Event: Effect {}

/// A query: exactly one handler, answered with [`Query::Answer`].
pub trait Query: Effect {
    /// What the query answers.
    type Answer: Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;
}

/// Implements [`Command`] for each listed type, named after the type.
#[macro_export]
macro_rules! commands {
    ($($name:ident),* $(,)?) => {$(
        impl $crate::Effect for $name {
            const TYPE: &'static str = stringify!($name);
            const KIND: $crate::Kind = $crate::Kind::Command;
        }
        impl $crate::Command for $name {}
    )*};
}

/// Implements [`Event`] for each listed type, named after the type.
#[macro_export]
macro_rules! events {
    ($($name:ident),* $(,)?) => {$(
        impl $crate::Effect for $name {
            const TYPE: &'static str = stringify!($name);
            const KIND: $crate::Kind = $crate::Kind::Event;
        }
        impl $crate::Event for $name {}
    )*};
}

/// Implements [`Query`] for each `Type => Answer` pair, named after the type.
#[macro_export]
macro_rules! queries {
    ($($name:ident => $answer:ty),* $(,)?) => {$(
        impl $crate::Effect for $name {
            const TYPE: &'static str = stringify!($name);
            const KIND: $crate::Kind = $crate::Kind::Query;
        }
        impl $crate::Query for $name {
            type Answer = $answer;
        }
    )*};
}

/// An effect with its type erased, as the bus carries it.
pub trait AnyEffect: Any + Send + Sync + fmt::Debug {
    /// The wire name.
    fn type_name(&self) -> &'static str;
    /// The kind.
    fn kind(&self) -> Kind;
    /// The schema version of its payload ([`Effect::SCHEMA_VERSION`]).
    fn schema_version(&self) -> u32 {
        1
    }
    /// The payload as JSON (the `payload` of `{"type", "payload"}`).
    fn payload_json(&self) -> serde_json::Value;
    /// The payload as JSON text, written straight from the typed value.
    fn payload_text(&self) -> String {
        self.payload_json().to_string()
    }
    /// The effect itself, for downcasting to its concrete type.
    fn as_any(&self) -> &dyn Any;
}

/// Wraps a typed effect so that it can travel as an [`AnyEffect`].
#[derive(Debug)]
struct Typed<E>(E);

impl<E: Effect> AnyEffect for Typed<E> {
    fn type_name(&self) -> &'static str {
        E::TYPE
    }
    fn kind(&self) -> Kind {
        E::KIND
    }
    fn schema_version(&self) -> u32 {
        E::SCHEMA_VERSION
    }
    fn payload_json(&self) -> serde_json::Value {
        to_json_value(&self.0)
    }
    fn payload_text(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| self.payload_json().to_string())
    }
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
}

/// Serialises a payload; a type whose `Serialize` fails (a map with non-string
/// keys, say) shows up as a JSON string saying so rather than panicking.
pub(crate) fn to_json_value<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|error| serde_json::Value::String(format!("<unserialisable: {error}>")))
}

/// One effect in flight: cheap to clone, shared by every handler that sees it.
#[derive(Clone)]
pub struct Envelope(Arc<dyn AnyEffect>);

impl Envelope {
    /// Wraps a typed effect.
    pub fn new<E: Effect>(effect: E) -> Self {
        Self(Arc::new(Typed(effect)))
    }

    /// Wraps an effect the bus defines itself (framework commands).
    pub(crate) fn framework<F: AnyEffect>(effect: F) -> Self {
        Self(Arc::new(effect))
    }

    /// The wire name of the effect.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// The kind of the effect.
    pub fn kind(&self) -> Kind {
        self.0.kind()
    }

    /// The schema version of its payload, stored beside it.
    pub fn schema_version(&self) -> u32 {
        self.0.schema_version()
    }

    /// The typed effect, if it is an `E`.
    pub fn downcast_ref<E: 'static>(&self) -> Option<&E> {
        self.0.as_any().downcast_ref()
    }

    /// Whether it is an `E`.
    pub fn is<E: 'static>(&self) -> bool {
        self.0.as_any().is::<E>()
    }

    /// The payload as JSON.
    pub fn payload_json(&self) -> serde_json::Value {
        self.0.payload_json()
    }

    /// The payload as JSON text (no detour through a `serde_json::Value`).
    pub fn payload_text(&self) -> String {
        self.0.payload_text()
    }

    /// The whole effect as the text `{"type": ..., "payload": ...}`, as
    /// sent on the wire: `type` first, the payload's fields in their
    /// declared order.
    pub fn to_json_text(&self) -> String {
        // Wire names are Rust identifiers: nothing to escape. Sized exactly:
        // a frame may be kept a while (a game's recent events), and spare
        // capacity would be kept with it.
        let (name, payload) = (self.type_name(), self.payload_text());
        let mut text = String::with_capacity(name.len() + payload.len() + 22);
        text.push_str(r#"{"type":""#);
        text.push_str(name);
        text.push_str(r#"","payload":"#);
        text.push_str(&payload);
        text.push('}');
        text
    }

    /// The whole effect as `{"type": ..., "payload": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "type": self.type_name(), "payload": self.payload_json() })
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut tagged = serializer.serialize_struct("Envelope", 2)?;
        tagged.serialize_field("type", self.type_name())?;
        tagged.serialize_field("payload", &self.payload_json())?;
        tagged.end()
    }
}

impl<E: Effect> From<E> for Envelope {
    fn from(effect: E) -> Self {
        Self::new(effect)
    }
}
