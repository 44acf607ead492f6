//! Registration: which handler answers which effect, checked once at start-up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::effect::{Command, Effect, Envelope, Event, Kind};
use crate::framework::{BusHandlerFailed, DeleteState, ScheduledEventUpdate};
use crate::handler::{Handler, IntoHandler, IntoQueryHandler, QueryHandler};
use crate::schema::{SchemaError, decode_lenient, decode_strict, decode_strict_text_with};

/// The two readings of one effect type (see [`crate::schema`]).
#[derive(Clone, Copy)]
struct Decoders {
    /// A client's payload: unknown fields refused.
    strict: fn(serde_json::Value) -> Result<Envelope, String>,
    /// The same from JSON text, with a string field set by the reader.
    strict_text_with: fn(&str, &str, &str) -> Result<Envelope, String>,
    /// A stored payload at its schema version: unknown fields ignored,
    /// older versions upcast.
    stored: fn(u32, serde_json::Value) -> Result<Envelope, String>,
}

impl Decoders {
    fn of<E: Effect>() -> Self {
        Self {
            strict: |payload| decode_strict::<E>(payload).map(Envelope::new),
            strict_text_with: |text, field, value| {
                decode_strict_text_with::<E>(text, field, value).map(Envelope::new)
            },
            stored: |version, payload| {
                decode_lenient::<E>(E::TYPE, E::SCHEMA_VERSION, version, payload, E::upcast)
                    .map(Envelope::new)
                    .map_err(|error| match error {
                        // The type is in the message already.
                        SchemaError::Json { cause, .. } => cause.to_string(),
                        other => other.to_string(),
                    })
            },
        }
    }
}

/// Why the handlers cannot make a bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A command has exactly one handler.
    #[error("command {effect} has two handlers: {first} and {second}")]
    DuplicateCommandHandler {
        /// The command's wire name.
        effect: &'static str,
        /// The handler registered first.
        first: &'static str,
        /// The handler registered second.
        second: &'static str,
    },
    /// A query has exactly one handler.
    #[error("query {effect} has two handlers: {first} and {second}")]
    DuplicateQueryHandler {
        /// The query's wire name.
        effect: &'static str,
        /// The handler registered first.
        first: &'static str,
        /// The handler registered second.
        second: &'static str,
    },
    /// Two effect types share one wire name.
    #[error("two effect types are named {0}")]
    DuplicateTypeName(&'static str),
}

/// Collects handlers; [`BusBuilder::build`] checks them.
///
/// ```
/// # use bus::{BusBuilder, Ctx, Outcome, by_id, managed};
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct Add { id: u32 }
/// # #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)] struct Counter(u32);
/// # bus::commands!(Add);
/// # bus::states!(Counter);
/// fn add(counter: Option<Counter>, _: &Add, _: &Ctx) -> Outcome<Counter> {
///     Outcome::set(Counter(counter.unwrap_or_default().0 + 1))
/// }
/// let mut builder = BusBuilder::new();
/// builder.command(managed(by_id(|c: &Add| c.id), add));
/// builder.command(managed(by_id(|c: &Add| c.id), add));
/// assert!(builder.build().is_err()); // a command has exactly one handler
/// ```
#[derive(Default)]
pub struct BusBuilder {
    commands: HashMap<&'static str, Arc<dyn Handler>>,
    events: HashMap<&'static str, Vec<Arc<dyn Handler>>>,
    queries: HashMap<&'static str, Arc<dyn QueryHandler>>,
    decoders: HashMap<&'static str, (std::any::TypeId, Decoders)>,
    errors: Vec<BuildError>,
}

impl BusBuilder {
    /// An empty builder (the bus's own events are known already).
    pub fn new() -> Self {
        let mut builder = Self::default();
        builder.register::<BusHandlerFailed>();
        builder.register::<ScheduledEventUpdate>();
        builder
    }

    /// Makes an effect type known by its wire name (handler registration does
    /// this too), so it can be decoded from the wire or from a durable store.
    pub fn register<E: Effect>(&mut self) -> &mut Self {
        let id = std::any::TypeId::of::<E>();
        match self.decoders.insert(E::TYPE, (id, Decoders::of::<E>())) {
            Some((previous, _)) if previous != id => {
                self.errors.push(BuildError::DuplicateTypeName(E::TYPE));
            }
            _ => {}
        }
        self
    }

    /// Registers the one handler of a command.
    pub fn command<H>(&mut self, handler: H) -> &mut Self
    where
        H: IntoHandler,
        H::Effect: Command,
    {
        self.register::<H::Effect>();
        let handler = handler.into_handler();
        let effect = <H::Effect as Effect>::TYPE;
        if let Some(first) = self.commands.get(effect) {
            self.errors.push(BuildError::DuplicateCommandHandler {
                effect,
                first: first.name(),
                second: handler.name(),
            });
        } else {
            self.commands.insert(effect, handler);
        }
        self
    }

    /// Adds a subscriber to an event (any number may subscribe).
    pub fn event<H>(&mut self, handler: H) -> &mut Self
    where
        H: IntoHandler,
        H::Effect: Event,
    {
        self.register::<H::Effect>();
        self.events
            .entry(<H::Effect as Effect>::TYPE)
            .or_default()
            .push(handler.into_handler());
        self
    }

    /// Registers the one handler of a query.
    pub fn query<H: IntoQueryHandler>(&mut self, handler: H) -> &mut Self {
        self.register::<H::Query>();
        let handler = handler.into_query_handler();
        let effect = <H::Query as Effect>::TYPE;
        if let Some(first) = self.queries.get(effect) {
            self.errors.push(BuildError::DuplicateQueryHandler {
                effect,
                first: first.name(),
                second: handler.name(),
            });
        } else {
            self.queries.insert(effect, handler);
        }
        self
    }

    /// Checks the registrations: the first error found, if any.
    pub fn build(self) -> Result<Registry, BuildError> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(error);
        }
        let state_types = self
            .commands
            .values()
            .chain(self.events.values().flatten())
            .filter_map(|handler| handler.state_type())
            .collect();
        Ok(Registry {
            state_types,
            commands: self.commands,
            events: self.events,
            queries: self.queries,
            decoders: self
                .decoders
                .into_iter()
                .map(|(name, (_, decode))| (name, decode))
                .collect(),
        })
    }
}

/// The checked handler table a bus runs on.
pub struct Registry {
    /// The states handlers manage, for decoding [`DeleteState`].
    state_types: std::collections::HashSet<&'static str>,
    commands: HashMap<&'static str, Arc<dyn Handler>>,
    events: HashMap<&'static str, Vec<Arc<dyn Handler>>>,
    queries: HashMap<&'static str, Arc<dyn QueryHandler>>,
    decoders: HashMap<&'static str, Decoders>,
}

impl Registry {
    /// The handler of a command.
    pub fn command_handler(&self, effect: &str) -> Option<&Arc<dyn Handler>> {
        self.commands.get(effect)
    }

    /// The subscribers of an event (empty when it has none).
    pub fn event_handlers(&self, effect: &str) -> &[Arc<dyn Handler>] {
        self.events.get(effect).map_or(&[], Vec::as_slice)
    }

    /// Whether a handler takes `effect` when it is dispatched: a command's,
    /// an event's subscribers, the bus itself for a framework effect
    /// ([`DeleteState`]). Hooks see every effect either way.
    pub fn has_handler_for(&self, effect: &Envelope) -> bool {
        match effect.kind() {
            Kind::Command => self.commands.contains_key(effect.type_name()),
            Kind::Event => self.events.contains_key(effect.type_name()),
            Kind::Framework => true,
            Kind::Query => false,
        }
    }

    /// The handler of a query.
    pub fn query_handler(&self, effect: &str) -> Option<&Arc<dyn QueryHandler>> {
        self.queries.get(effect)
    }

    /// Decodes a client's `{"type": effect_type, "payload": payload}` into
    /// an effect, strictly: a field the type does not have is an error.
    pub fn decode(
        &self,
        effect_type: &str,
        payload: serde_json::Value,
    ) -> Result<Envelope, DecodeError> {
        if effect_type == DELETE_STATE {
            return self.decode_delete(payload);
        }
        let decoders = self.decoders_of(effect_type)?;
        (decoders.strict)(payload).map_err(|reason| DecodeError::Payload {
            effect_type: effect_type.to_owned(),
            reason,
        })
    }

    /// Decodes a client's payload, as [`decode`](Self::decode) does, from
    /// its JSON text, with string field `field` set to `value`: added when
    /// the payload leaves it out, refused when it names another (the user a
    /// client acts as). Not for `DeleteState`.
    pub fn decode_text_with(
        &self,
        effect_type: &str,
        payload: &str,
        field: &str,
        value: &str,
    ) -> Result<Envelope, DecodeError> {
        let decoders = self.decoders_of(effect_type)?;
        (decoders.strict_text_with)(payload, field, value).map_err(|reason| DecodeError::Payload {
            effect_type: effect_type.to_owned(),
            reason,
        })
    }

    /// Decodes an effect a store kept, written at `schema_version`,
    /// leniently: unknown fields are ignored and an older shape is upcast
    /// (see [`Effect::upcast`]).
    pub fn decode_stored(
        &self,
        effect_type: &str,
        schema_version: u32,
        payload: serde_json::Value,
    ) -> Result<Envelope, DecodeError> {
        if effect_type == DELETE_STATE {
            return self.decode_delete(payload);
        }
        let decoders = self.decoders_of(effect_type)?;
        (decoders.stored)(schema_version, payload).map_err(|reason| DecodeError::Payload {
            effect_type: effect_type.to_owned(),
            reason,
        })
    }

    fn decoders_of(&self, effect_type: &str) -> Result<Decoders, DecodeError> {
        self.decoders
            .get(effect_type)
            .copied()
            .ok_or_else(|| DecodeError::UnknownType(effect_type.to_owned()))
    }
}

const DELETE_STATE: &str = "DeleteState";

impl Registry {
    /// A stored [`DeleteState`]: its state type must be one a handler manages.
    fn decode_delete(&self, payload: serde_json::Value) -> Result<Envelope, DecodeError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Stored {
            state_type: String,
            id: String,
        }
        let failed = |reason: String| DecodeError::Payload {
            effect_type: DELETE_STATE.to_owned(),
            reason,
        };
        let stored: Stored =
            serde_json::from_value(payload).map_err(|error| failed(error.to_string()))?;
        let state_type = self
            .state_types
            .get(stored.state_type.as_str())
            .ok_or_else(|| failed(format!("no handler manages {:?}", stored.state_type)))?;
        Ok(DeleteState {
            state_type,
            id: stored.id,
        }
        .into())
    }
}

/// Why a JSON effect did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No registered effect has that name.
    #[error("unknown effect type {0:?}")]
    UnknownType(String),
    /// The payload does not fit the type.
    #[error("bad {effect_type} payload: {reason}")]
    Payload {
        /// The effect's wire name.
        effect_type: String,
        /// What serde said.
        reason: String,
    },
}
