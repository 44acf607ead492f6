//! Managed state: what handlers read and write, addressed by [`StateKey`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::effect::to_json_value;
use crate::schema::{SchemaError, decode_lenient};

/// A type of managed state: a plain serde type with a stable name, so that a
/// durable store can keep it and read it back.
///
/// A state with stages (a game waiting, in progress, ended) is an enum: a
/// handler changes the stage by returning another variant.
pub trait State: Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// The name under which states of this type are stored.
    const TYPE: &'static str;

    /// The schema version this release writes (1 at first); raise it, and
    /// say in [`State::upcast`] how to read the older shape, when a stored
    /// state of the old shape would not read as the same state. New fields
    /// with `#[serde(default)]` and removed fields need no new version.
    const SCHEMA_VERSION: u32 = 1;

    /// Brings a stored state of schema version `from_version` (older than
    /// [`State::SCHEMA_VERSION`]) to today's shape.
    fn upcast(from_version: u32, state: serde_json::Value) -> Result<serde_json::Value, String> {
        crate::schema::no_older_shape(from_version, state)
    }
}

/// Implements [`State`] for each listed type, named after the type.
#[macro_export]
macro_rules! states {
    ($($name:ident),* $(,)?) => {$(
        impl $crate::State for $name {
            const TYPE: &'static str = stringify!($name);
        }
    )*};
}

/// Where one state lives: its type and its id within that type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    /// The state's [`State::TYPE`].
    pub state_type: &'static str,
    /// The id within the type (empty for a singleton).
    pub id: String,
}

impl StateKey {
    /// The key of the `S` with this id.
    pub fn of<S: State>(id: impl Into<String>) -> Self {
        Self {
            state_type: S::TYPE,
            id: id.into(),
        }
    }

    /// The key of the single `S`.
    pub fn singleton<S: State>() -> Self {
        Self::of::<S>(String::new())
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.state_type, self.id)
    }
}

/// A state with its type erased.
pub trait AnyState: Any + Send + Sync + fmt::Debug {
    /// The state's [`State::TYPE`].
    fn type_name(&self) -> &'static str;
    /// The state's [`State::SCHEMA_VERSION`].
    fn schema_version(&self) -> u32;
    /// The state as JSON, for durable stores.
    fn to_json(&self) -> serde_json::Value;
    /// The state as JSON text, written straight from the typed value.
    fn to_json_text(&self) -> String {
        self.to_json().to_string()
    }
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
}

impl<S: State> AnyState for S {
    fn type_name(&self) -> &'static str {
        S::TYPE
    }
    fn schema_version(&self) -> u32 {
        S::SCHEMA_VERSION
    }
    fn to_json(&self) -> serde_json::Value {
        to_json_value(self)
    }
    fn to_json_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.to_json().to_string())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A state as a store holds it: the live value (in memory) or its JSON text
/// (read back from a durable store).
#[derive(Debug, Clone)]
pub enum StateBody {
    /// The value itself; no serialisation on the way in or out.
    Live(Arc<dyn AnyState>),
    /// JSON text as a store kept it, decoded when a handler asks for it.
    Json {
        /// The state.
        text: Arc<str>,
        /// The schema version it was written at.
        schema_version: u32,
    },
}

impl StateBody {
    /// Wraps a typed state.
    pub fn live<S: State>(state: S) -> Self {
        Self::Live(Arc::new(state))
    }

    /// A state as a durable store read it back.
    pub fn json(text: impl Into<Arc<str>>, schema_version: u32) -> Self {
        Self::Json {
            text: text.into(),
            schema_version,
        }
    }

    /// The state as an `S`, cloned from the live value or read from JSON
    /// leniently (see [`State::upcast`]).
    pub fn decode<S: State>(&self) -> Result<S, StateError> {
        match self {
            Self::Live(value) => {
                value
                    .as_any()
                    .downcast_ref::<S>()
                    .cloned()
                    .ok_or_else(|| StateError::WrongType {
                        found: value.type_name(),
                        expected: S::TYPE,
                    })
            }
            Self::Json {
                text,
                schema_version,
            } if *schema_version == S::SCHEMA_VERSION => {
                serde_json::from_str(text).map_err(|cause| {
                    StateError::Schema(SchemaError::Json {
                        type_name: S::TYPE.to_owned(),
                        cause,
                    })
                })
            }
            Self::Json {
                text,
                schema_version,
            } => {
                let value = serde_json::from_str(text).map_err(|cause| {
                    StateError::Schema(SchemaError::Json {
                        type_name: S::TYPE.to_owned(),
                        cause,
                    })
                })?;
                decode_lenient(
                    S::TYPE,
                    S::SCHEMA_VERSION,
                    *schema_version,
                    value,
                    S::upcast,
                )
                .map_err(StateError::Schema)
            }
        }
    }

    /// The state as JSON text, for durable stores.
    pub fn to_json_text(&self) -> Arc<str> {
        match self {
            Self::Live(value) => value.to_json_text().into(),
            Self::Json { text, .. } => text.clone(),
        }
    }

    /// The schema version [`to_json_text`](Self::to_json_text) is at.
    pub fn schema_version(&self) -> u32 {
        match self {
            Self::Live(value) => value.schema_version(),
            Self::Json { schema_version, .. } => *schema_version,
        }
    }
}

/// Why a stored state cannot be handed to its handler.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A live value of another type sits at its key (a bug).
    #[error("the stored state is a {found}, not a {expected}")]
    WrongType {
        /// What is there.
        found: &'static str,
        /// What the handler manages.
        expected: &'static str,
    },
    /// Its stored JSON does not read as today's type.
    #[error("the stored state does not read")]
    Schema(#[source] SchemaError),
}

/// A stored state with the version that optimistic concurrency checks.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Grows by one with every write; the first write is version 1.
    pub version: u64,
    /// The state.
    pub body: StateBody,
}
