//! Given / when / then, against the real bus with a fake clock and the
//! in-memory store (cargo feature `testkit`).
//!
//! ```
//! # use bus::{BusBuilder, Ctx, Outcome, by_id, managed};
//! # use bus::testkit::{Expect, TestKit};
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct Add { id: u32 }
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)] struct Added { id: u32, total: u32 }
//! # #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)] struct Counter(u32);
//! # bus::commands!(Add);
//! # bus::events!(Added);
//! # bus::states!(Counter);
//! fn add(counter: Option<Counter>, add: &Add, _: &Ctx) -> Outcome<Counter> {
//!     let total = counter.unwrap_or_default().0 + 1;
//!     Outcome::set(Counter(total)).emit(Added { id: add.id, total })
//! }
//! TestKit::new(|bus| {
//!     bus.command(managed(by_id(|c: &Add| c.id), add));
//! })
//! .given(Add { id: 7 })
//! .when(Add { id: 7 })
//! .then_expect([Expect::from(Added { id: 7, total: 2 })]);
//! ```
//!
//! Tests that use it are plain `#[test]` functions: the kit runs its own
//! single-threaded tokio runtime, with one lane, so the order of effects is
//! deterministic.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::builder::{BuildError, BusBuilder};
use crate::effect::{Effect, Envelope, Kind, Query};
use crate::outcome::{Ctx, IntoOutcome, Outcome};
use crate::runtime::{Bus, CaptureHook, FakeClock, MemoryStore, Runtime, Store};
use crate::state::{State, StateKey};

/// Where the fake clock starts: 2023-11-14T22:13:20Z, so times look real.
pub const START_MS: u64 = 1_700_000_000_000;

/// Stands for any value in an expected payload (an id made by the handler).
pub fn any() -> Value {
    Value::String(ANY.to_owned())
}

const ANY: &str = "<any>";

/// An effect the test expects.
#[derive(Clone)]
pub struct Expect {
    effect_type: String,
    payload: Option<Value>,
    partial: bool,
}

impl Expect {
    /// Exactly this effect (its payload compared as JSON).
    pub fn effect(effect: impl Into<Envelope>) -> Self {
        let effect = effect.into();
        Self {
            effect_type: effect.type_name().to_owned(),
            payload: Some(effect.payload_json()),
            partial: false,
        }
    }

    /// An `E` whose payload has at least these fields with these values
    /// (nested objects compared the same way; [`any()`] matches anything).
    pub fn partial<E: Effect>(payload: Value) -> Self {
        Self::partial_named(E::TYPE, payload)
    }

    /// Like [`Expect::partial`] for an effect named by its wire name
    /// (framework commands like `ScheduleEvent`).
    pub fn partial_named(effect_type: &str, payload: Value) -> Self {
        Self {
            effect_type: effect_type.to_owned(),
            payload: Some(payload),
            partial: true,
        }
    }

    /// Any `E` at all.
    pub fn any<E: Effect>() -> Self {
        Self::any_named(E::TYPE)
    }

    /// Any effect with this wire name.
    pub fn any_named(effect_type: &str) -> Self {
        Self {
            effect_type: effect_type.to_owned(),
            payload: None,
            partial: true,
        }
    }

    /// Whether `actual` (`{"type", "payload"}`) is what is expected.
    pub fn matches(&self, actual: &Value) -> bool {
        actual["type"] == self.effect_type.as_str()
            && self
                .payload
                .as_ref()
                .is_none_or(|expected| value_matches(expected, &actual["payload"], self.partial))
    }
}

impl<E: Effect> From<E> for Expect {
    fn from(effect: E) -> Self {
        Self::effect(effect)
    }
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let payload = self
            .payload
            .as_ref()
            .map_or_else(|| "…".to_owned(), Value::to_string);
        let partial = if self.partial { " (at least)" } else { "" };
        write!(f, "{} {payload}{partial}", self.effect_type)
    }
}

fn value_matches(expected: &Value, actual: &Value, partial: bool) -> bool {
    if expected.as_str() == Some(ANY) {
        return true;
    }
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            (partial || expected.len() == actual.len())
                && expected.iter().all(|(field, value)| {
                    actual
                        .get(field)
                        .is_some_and(|other| value_matches(value, other, partial))
                })
        }
        (Value::Array(expected), Value::Array(actual)) => {
            expected.len() == actual.len()
                && expected
                    .iter()
                    .zip(actual)
                    .all(|(value, other)| value_matches(value, other, partial))
        }
        _ => expected == actual,
    }
}

/// A bus under test: the real bus, one lane, a fake clock, a memory store.
pub struct TestKit {
    runtime: tokio::runtime::Runtime,
    bus: Bus,
    clock: FakeClock,
    store: Arc<MemoryStore>,
    capture: Arc<CaptureHook>,
    /// Where the effects caused by the last `when` or `advance` start.
    mark: usize,
}

impl TestKit {
    /// A bus with the handlers `register` adds; panics if they do not build.
    pub fn new(register: impl FnOnce(&mut BusBuilder)) -> Self {
        match Self::try_new(register) {
            Ok(kit) => kit,
            Err(error) => panic!("the handlers do not build: {error}"),
        }
    }

    /// Like [`TestKit::new`], with the build error returned.
    pub fn try_new(register: impl FnOnce(&mut BusBuilder)) -> Result<Self, BuildError> {
        let mut builder = BusBuilder::new();
        register(&mut builder);
        let registry = builder.build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread tokio runtime");
        let clock = FakeClock::at(START_MS);
        let store = Arc::new(MemoryStore::new());
        let capture = Arc::new(CaptureHook::new());
        let bus = runtime
            .block_on(Bus::start(
                registry,
                Runtime::new()
                    .store(store.clone())
                    .clock(Arc::new(clock.clone()))
                    .hook(capture.clone())
                    .lanes(1)
                    .drive_timers(false),
            ))
            .expect("a memory store always starts");
        Ok(Self {
            runtime,
            bus,
            clock,
            store,
            capture,
            mark: 0,
        })
    }

    /// Dispatches a command or an event and waits for everything it causes.
    pub fn given(&mut self, effect: impl Into<Envelope>) -> &mut Self {
        self.dispatch(effect.into());
        self
    }

    /// Dispatches the effect under test; `then_*` look at what it caused.
    pub fn when(&mut self, effect: impl Into<Envelope>) -> &mut Self {
        // The effect itself is recorded first; what it causes follows.
        self.mark = self.capture.len() + 1;
        self.dispatch(effect.into());
        self
    }

    /// Moves the fake clock forward, firing every schedule that falls due on
    /// the way (and what they cause); `then_*` look at what fired.
    pub fn advance_ms(&mut self, ms: u64) -> &mut Self {
        self.mark = self.capture.len();
        let target = self.clock.now_ms_value().saturating_add(ms);
        let clock = self.clock.clone();
        let bus = self.bus.clone();
        self.runtime
            .block_on(bus.advance_to(target, move |now| clock.set(now)));
        self
    }

    /// The effects caused, in order, are exactly these.
    #[track_caller]
    pub fn then_expect(&mut self, expected: impl IntoIterator<Item = Expect>) -> &mut Self {
        let expected: Vec<Expect> = expected.into_iter().collect();
        let actual = self.caused();
        let same = expected.len() == actual.len()
            && expected
                .iter()
                .zip(&actual)
                .all(|(expect, actual)| expect.matches(actual));
        if !same {
            panic!("{}", mismatch("exactly", &expected, &actual));
        }
        self
    }

    /// The effects caused include these, in this order (others may come
    /// between and around them).
    #[track_caller]
    pub fn then_expect_including(
        &mut self,
        expected: impl IntoIterator<Item = Expect>,
    ) -> &mut Self {
        let expected: Vec<Expect> = expected.into_iter().collect();
        let actual = self.caused();
        let mut remaining = actual.iter();
        let found = expected
            .iter()
            .all(|expect| remaining.by_ref().any(|actual| expect.matches(actual)));
        if !found {
            panic!("{}", mismatch("in order, among others", &expected, &actual));
        }
        self
    }

    /// Nothing caused matches `unexpected`.
    #[track_caller]
    pub fn then_expect_no(&mut self, unexpected: Expect) -> &mut Self {
        let actual = self.caused();
        if let Some(found) = actual.iter().find(|actual| unexpected.matches(actual)) {
            panic!(
                "expected no {unexpected:?}, got {found}\nall caused:\n{}",
                list(&actual)
            );
        }
        self
    }

    /// Nothing was caused at all.
    #[track_caller]
    pub fn then_expect_nothing(&mut self) -> &mut Self {
        self.then_expect([])
    }

    /// The effects caused by the last `when` or `advance`, as JSON.
    pub fn caused(&self) -> Vec<Value> {
        self.capture
            .effects()
            .iter()
            .skip(self.mark)
            .map(Envelope::to_json)
            .collect()
    }

    /// Asks a query; panics if it fails.
    pub fn query<Q: Query>(&self, query: Q) -> Q::Answer {
        self.runtime
            .block_on(self.bus.query(query))
            .unwrap_or_else(|error| panic!("{} failed: {error}", Q::TYPE))
    }

    /// The committed `S` with this id, if any.
    pub fn state<S: State>(&self, id: impl Into<String>) -> Option<S> {
        let key = StateKey::of::<S>(id);
        let stored = self
            .runtime
            .block_on(self.store.load(&key))
            .expect("the memory store never fails");
        stored.map(|stored| {
            stored
                .body
                .decode::<S>()
                .unwrap_or_else(|error| panic!("{key}: {error}"))
        })
    }

    /// The fake clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms_value()
    }

    /// Schedules pending.
    pub fn pending_timers(&self) -> usize {
        self.bus.pending_timers()
    }

    /// The bus under test.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Runs a future on the kit's runtime (the bus's lanes run meanwhile).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn dispatch(&mut self, effect: Envelope) {
        let accepted = match effect.kind() {
            Kind::Command => self.bus.send_envelope(effect.clone()),
            Kind::Event => self.bus.publish_envelope(effect.clone()),
            kind => panic!("given/when take commands and events, not a {kind:?} ({effect:?})"),
        };
        if let Err(error) = accepted {
            panic!("the bus refused {}: {error}", effect.type_name());
        }
        self.runtime.block_on(self.bus.settle());
    }
}

impl FakeClock {
    fn now_ms_value(&self) -> u64 {
        crate::runtime::Clock::now_ms(self)
    }
}

fn list(values: &[Value]) -> String {
    if values.is_empty() {
        return "  (nothing)".to_owned();
    }
    values
        .iter()
        .enumerate()
        .map(|(i, value)| format!("  {i}: {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mismatch(how: &str, expected: &[Expect], actual: &[Value]) -> String {
    let expected = if expected.is_empty() {
        "  (nothing)".to_owned()
    } else {
        expected
            .iter()
            .enumerate()
            .map(|(i, expect)| format!("  {i}: {expect:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!("expected, {how}:\n{expected}\ncaused:\n{}", list(actual))
}

/// The pure form: calls one handler function with a state, at a bus time.
/// Panics if the handler returns an error.
#[track_caller]
pub fn run<E, S, F, R>(handler: F, state: Option<S>, effect: &E, now_ms: u64) -> Outcome<S>
where
    F: Fn(Option<S>, &E, &Ctx) -> R,
    R: IntoOutcome<S>,
{
    handler(state, effect, &Ctx::at(now_ms))
        .into_outcome()
        .unwrap_or_else(|error| panic!("the handler failed: {error}"))
}

pub use crate::store_contract::store_contract;
