//! Handlers and the state fetchers declared with them.
//!
//! A handler is a plain function. What state it sees is chosen by a fetcher:
//! [`by_id`] (an id taken from the effect), [`key`] (a custom key function,
//! which may also decline), [`singleton`], or all states of a type
//! ([`over_all`], [`answer_all`]). A condition ([`Managed::when`] and friends)
//! filters which effects reach it.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;

use crate::effect::{Effect, Envelope, Query};
use crate::outcome::{Change, Ctx, HandlerError, IntoOutcome, Outcome};
use crate::state::{State, StateBody, StateError, StateKey, Stored};

type KeyFn<E> = Arc<dyn Fn(&E) -> Option<String> + Send + Sync>;
type Condition<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

/// Which single state of type `S` a handler of `E` sees.
pub struct Fetch<E> {
    key: Option<KeyFn<E>>,
}

impl<E> Clone for Fetch<E> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
        }
    }
}

/// The state whose id the effect names: `by_id(|c: &JoinGame| c.game_id)`.
pub fn by_id<E, I: fmt::Display>(id: impl Fn(&E) -> I + Send + Sync + 'static) -> Fetch<E> {
    Fetch {
        key: Some(Arc::new(move |effect| Some(id(effect).to_string()))),
    }
}

/// The state a custom function picks; `None` means this effect is not for
/// this handler.
pub fn key<E>(key: impl Fn(&E) -> Option<String> + Send + Sync + 'static) -> Fetch<E> {
    Fetch {
        key: Some(Arc::new(key)),
    }
}

/// The one state of its type.
pub fn singleton<E>() -> Fetch<E> {
    Fetch { key: None }
}

impl<E> Fetch<E> {
    fn id_for(&self, effect: &E) -> Option<String> {
        match &self.key {
            Some(key) => key(effect),
            None => Some(String::new()),
        }
    }
}

/// Where the bus must look before running a handler on an effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not for this handler (condition false, or the key function declined).
    Skip,
    /// Needs no state.
    Stateless,
    /// Needs this one state.
    Key(StateKey),
    /// Needs every state of this type (read only).
    All(&'static str),
}

/// The state the bus loaded for a [`Route`].
#[derive(Debug, Clone)]
pub enum Loaded {
    /// For [`Route::Stateless`].
    Nothing,
    /// For [`Route::Key`]: the state, if there is one.
    One(Option<Stored>),
    /// For [`Route::All`].
    All(Vec<Stored>),
}

/// A handler's outcome with the state type erased.
#[derive(Debug)]
pub struct ErasedOutcome {
    /// What happens to the state.
    pub change: Change<StateBody>,
    /// Effects to dispatch after the commit.
    pub emitted: Vec<Envelope>,
}

/// A handler of commands or events, type-erased for the registry.
pub trait Handler: Send + Sync + 'static {
    /// The handler's name (its function's path), for logs and failures.
    fn name(&self) -> &'static str;
    /// The type of state it manages, if any.
    fn state_type(&self) -> Option<&'static str> {
        None
    }
    /// Where its state is for this effect.
    fn route(&self, effect: &Envelope) -> Route;
    /// Runs it. Pure: no I/O, no clock but `ctx`.
    fn run(
        &self,
        loaded: Loaded,
        effect: &Envelope,
        ctx: &Ctx,
    ) -> Result<ErasedOutcome, HandlerError>;
}

/// A query handler, type-erased for the registry.
pub trait QueryHandler: Send + Sync + 'static {
    /// The handler's name.
    fn name(&self) -> &'static str;
    /// Where its state is for this query.
    fn route(&self, query: &Envelope) -> Route;
    /// Answers from the loaded state.
    fn answer(&self, loaded: Loaded, query: &Envelope) -> Result<Box<dyn AnyAnswer>, HandlerError>;
}

/// A query's answer with its type erased.
pub trait AnyAnswer: Send + fmt::Debug {
    /// The answer as JSON, for the wire.
    fn to_json(&self) -> serde_json::Value;
    /// For downcasting to the query's answer type.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: Serialize + Send + fmt::Debug + 'static> AnyAnswer for T {
    fn to_json(&self) -> serde_json::Value {
        crate::effect::to_json_value(self)
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Something that becomes a command or event handler for `Self::Effect`.
pub trait IntoHandler {
    /// The effect it handles.
    type Effect: Effect;
    /// The registry form.
    fn into_handler(self) -> Arc<dyn Handler>;
}

/// Something that becomes the handler of `Self::Query`.
pub trait IntoQueryHandler {
    /// The query it answers.
    type Query: Query;
    /// The registry form.
    fn into_query_handler(self) -> Arc<dyn QueryHandler>;
}

fn typed<E: 'static>(effect: &Envelope) -> Result<&E, HandlerError> {
    effect.downcast_ref::<E>().ok_or_else(|| {
        HandlerError::Misrouted(format!(
            "routed a {} to a handler of {}",
            effect.type_name(),
            std::any::type_name::<E>()
        ))
    })
}

fn passes<E>(condition: &Option<Condition<E>>, effect: &E) -> bool {
    condition.as_ref().is_none_or(|condition| condition(effect))
}

fn erase<S: State>(outcome: Outcome<S>) -> ErasedOutcome {
    let (change, emitted) = outcome.into_parts();
    let change = match change {
        Change::Keep => Change::Keep,
        Change::Set(state) => Change::Set(StateBody::live(state)),
        Change::Delete => Change::Delete,
    };
    ErasedOutcome { change, emitted }
}

fn effects_only(outcome: Outcome<()>) -> ErasedOutcome {
    ErasedOutcome {
        change: Change::Keep,
        emitted: outcome.into_parts().1,
    }
}

fn state_error<S: State>(cause: StateError) -> HandlerError {
    HandlerError::State {
        state_type: S::TYPE,
        cause,
    }
}

fn decode_all<S: State>(loaded: Loaded) -> Result<Vec<S>, HandlerError> {
    match loaded {
        Loaded::All(states) => states
            .iter()
            .map(|stored| stored.body.decode::<S>().map_err(state_error::<S>))
            .collect(),
        Loaded::Nothing | Loaded::One(_) => Err(HandlerError::Misrouted(
            "expected every state of a type".into(),
        )),
    }
}

fn decode_one<S: State>(loaded: Loaded) -> Result<Option<S>, HandlerError> {
    match loaded {
        Loaded::One(stored) => stored
            .map(|stored| stored.body.decode::<S>().map_err(state_error::<S>))
            .transpose(),
        Loaded::Nothing | Loaded::All(_) => {
            Err(HandlerError::Misrouted("expected one state".into()))
        }
    }
}

/// A managed-state handler: `handle(state, effect, ctx) -> outcome`.
pub struct Managed<E, S, F> {
    fetch: Fetch<E>,
    condition: Option<Condition<E>>,
    handle: F,
    _state: PhantomData<fn() -> S>,
}

/// A handler of `E` that owns the `S` the fetcher picks: it gets `None` when
/// there is none yet, and decides (create it, or emit an error event).
pub fn managed<E, S, F, R>(fetch: Fetch<E>, handle: F) -> Managed<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Option<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<S>,
{
    Managed {
        fetch,
        condition: None,
        handle,
        _state: PhantomData,
    }
}

impl<E, S, F> Managed<E, S, F> {
    /// Only effects for which `condition` holds reach the handler.
    pub fn when(mut self, condition: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.condition = Some(Arc::new(condition));
        self
    }
}

impl<E, S, F, R> Handler for Managed<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Option<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<S>,
{
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn state_type(&self) -> Option<&'static str> {
        Some(S::TYPE)
    }

    fn route(&self, effect: &Envelope) -> Route {
        let Some(effect) = effect.downcast_ref::<E>() else {
            return Route::Skip;
        };
        if !passes(&self.condition, effect) {
            return Route::Skip;
        }
        match self.fetch.id_for(effect) {
            Some(id) => Route::Key(StateKey::of::<S>(id)),
            None => Route::Skip,
        }
    }

    fn run(
        &self,
        loaded: Loaded,
        effect: &Envelope,
        ctx: &Ctx,
    ) -> Result<ErasedOutcome, HandlerError> {
        let state = decode_one::<S>(loaded)?;
        let outcome = (self.handle)(state, typed::<E>(effect)?, ctx).into_outcome()?;
        Ok(erase(outcome))
    }
}

impl<E, S, F, R> IntoHandler for Managed<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Option<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<S>,
{
    type Effect = E;
    fn into_handler(self) -> Arc<dyn Handler> {
        Arc::new(self)
    }
}

/// A handler with no state: `handle(effect, ctx) -> outcome`.
pub struct Stateless<E, F> {
    condition: Option<Condition<E>>,
    handle: F,
}

/// A handler of `E` that needs no state (it may still emit effects).
pub fn stateless<E, F, R>(handle: F) -> Stateless<E, F>
where
    E: Effect,
    F: Fn(&E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    Stateless {
        condition: None,
        handle,
    }
}

impl<E, F> Stateless<E, F> {
    /// Only effects for which `condition` holds reach the handler.
    pub fn when(mut self, condition: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.condition = Some(Arc::new(condition));
        self
    }
}

impl<E, F, R> Handler for Stateless<E, F>
where
    E: Effect,
    F: Fn(&E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn route(&self, effect: &Envelope) -> Route {
        match effect.downcast_ref::<E>() {
            Some(effect) if passes(&self.condition, effect) => Route::Stateless,
            _ => Route::Skip,
        }
    }

    fn run(&self, _: Loaded, effect: &Envelope, ctx: &Ctx) -> Result<ErasedOutcome, HandlerError> {
        let outcome = (self.handle)(typed::<E>(effect)?, ctx).into_outcome()?;
        Ok(effects_only(outcome))
    }
}

impl<E, F, R> IntoHandler for Stateless<E, F>
where
    E: Effect,
    F: Fn(&E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    type Effect = E;
    fn into_handler(self) -> Arc<dyn Handler> {
        Arc::new(self)
    }
}

/// A handler that reads every state of a type (and writes none).
pub struct OverAll<E, S, F> {
    condition: Option<Condition<E>>,
    handle: F,
    _state: PhantomData<fn() -> S>,
}

/// A handler of `E` that sees all the `S` there are: `handle(states, effect, ctx)`.
pub fn over_all<E, S, F, R>(handle: F) -> OverAll<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Vec<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    OverAll {
        condition: None,
        handle,
        _state: PhantomData,
    }
}

impl<E, S, F> OverAll<E, S, F> {
    /// Only effects for which `condition` holds reach the handler.
    pub fn when(mut self, condition: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.condition = Some(Arc::new(condition));
        self
    }
}

impl<E, S, F, R> Handler for OverAll<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Vec<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn state_type(&self) -> Option<&'static str> {
        Some(S::TYPE)
    }

    fn route(&self, effect: &Envelope) -> Route {
        match effect.downcast_ref::<E>() {
            Some(effect) if passes(&self.condition, effect) => Route::All(S::TYPE),
            _ => Route::Skip,
        }
    }

    fn run(
        &self,
        loaded: Loaded,
        effect: &Envelope,
        ctx: &Ctx,
    ) -> Result<ErasedOutcome, HandlerError> {
        let states = decode_all::<S>(loaded)?;
        let outcome = (self.handle)(states, typed::<E>(effect)?, ctx).into_outcome()?;
        Ok(effects_only(outcome))
    }
}

impl<E, S, F, R> IntoHandler for OverAll<E, S, F>
where
    E: Effect,
    S: State,
    F: Fn(Vec<S>, &E, &Ctx) -> R + Send + Sync + 'static,
    R: IntoOutcome<()>,
{
    type Effect = E;
    fn into_handler(self) -> Arc<dyn Handler> {
        Arc::new(self)
    }
}

/// A query handler over one state: `answer(state, query) -> answer`.
pub struct Answer<Q, S, F> {
    fetch: Fetch<Q>,
    answer: F,
    _state: PhantomData<fn() -> S>,
}

/// Answers `Q` from the `S` the fetcher picks (`None` when there is none).
pub fn answer<Q, S, F>(fetch: Fetch<Q>, answer: F) -> Answer<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(Option<&S>, &Q) -> Q::Answer + Send + Sync + 'static,
{
    Answer {
        fetch,
        answer,
        _state: PhantomData,
    }
}

impl<Q, S, F> QueryHandler for Answer<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(Option<&S>, &Q) -> Q::Answer + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn route(&self, query: &Envelope) -> Route {
        query
            .downcast_ref::<Q>()
            .and_then(|query| self.fetch.id_for(query))
            .map_or(Route::Skip, |id| Route::Key(StateKey::of::<S>(id)))
    }

    fn answer(&self, loaded: Loaded, query: &Envelope) -> Result<Box<dyn AnyAnswer>, HandlerError> {
        let state = decode_one::<S>(loaded)?;
        Ok(Box::new((self.answer)(state.as_ref(), typed::<Q>(query)?)))
    }
}

impl<Q, S, F> IntoQueryHandler for Answer<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(Option<&S>, &Q) -> Q::Answer + Send + Sync + 'static,
{
    type Query = Q;
    fn into_query_handler(self) -> Arc<dyn QueryHandler> {
        Arc::new(self)
    }
}

/// A query handler over every state of a type.
pub struct AnswerAll<Q, S, F> {
    answer: F,
    _types: PhantomData<fn() -> (Q, S)>,
}

/// Answers `Q` from all the `S` there are.
pub fn answer_all<Q, S, F>(answer: F) -> AnswerAll<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(&[S], &Q) -> Q::Answer + Send + Sync + 'static,
{
    AnswerAll {
        answer,
        _types: PhantomData,
    }
}

impl<Q, S, F> QueryHandler for AnswerAll<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(&[S], &Q) -> Q::Answer + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }

    fn route(&self, query: &Envelope) -> Route {
        if query.is::<Q>() {
            Route::All(S::TYPE)
        } else {
            Route::Skip
        }
    }

    fn answer(&self, loaded: Loaded, query: &Envelope) -> Result<Box<dyn AnyAnswer>, HandlerError> {
        let states = decode_all::<S>(loaded)?;
        Ok(Box::new((self.answer)(&states, typed::<Q>(query)?)))
    }
}

impl<Q, S, F> IntoQueryHandler for AnswerAll<Q, S, F>
where
    Q: Query,
    S: State,
    F: Fn(&[S], &Q) -> Q::Answer + Send + Sync + 'static,
{
    type Query = Q;
    fn into_query_handler(self) -> Arc<dyn QueryHandler> {
        Arc::new(self)
    }
}
