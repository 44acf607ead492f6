//! How a query is answered: from committed state, on the caller's task,
//! never queued behind commands.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::effect::{Envelope, Kind, Query};
use crate::handler::AnyAnswer;
use crate::runtime::bus::Bus;
use crate::runtime::error::{BusError, expect_kind};
use crate::runtime::handler_run::panic_reason;

impl Bus {
    /// Answers a query from committed state.
    pub async fn query<Q: Query>(&self, query: Q) -> Result<Q::Answer, BusError> {
        let answer = self.query_envelope(Envelope::new(query)).await?;
        answer
            .into_any()
            .downcast::<Q::Answer>()
            .map(|answer| *answer)
            .map_err(|_| BusError::QueryFailed {
                query: Q::TYPE,
                reason: "answered with another type".to_owned(),
            })
    }

    /// Answers a type-erased query; the answer serialises with `to_json`.
    pub async fn query_envelope(&self, query: Envelope) -> Result<Box<dyn AnyAnswer>, BusError> {
        expect_kind(&query, Kind::Query)?;
        let handler = self
            .inner
            .registry
            .query_handler(query.type_name())
            .ok_or(BusError::NoHandler(query.type_name()))?;
        let loaded = self.load(&handler.route(&query)).await?;
        let answered = catch_unwind(AssertUnwindSafe(|| handler.answer(loaded, &query)));
        let failed = |reason| BusError::QueryFailed {
            query: query.type_name(),
            reason,
        };
        match answered {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(panic) => Err(failed(panic_reason(panic.as_ref()))),
        }
    }

    /// Decodes `{"type", "payload"}` from a client into an effect the
    /// registry knows, strictly: an unknown field is an error.
    pub fn decode(
        &self,
        effect_type: &str,
        payload: serde_json::Value,
    ) -> Result<Envelope, BusError> {
        Ok(self.inner.registry.decode(effect_type, payload)?)
    }

    /// Decodes a client's payload from its JSON text, strictly, with string
    /// field `field` set to `value`: added when left out, refused when it
    /// names another.
    pub fn decode_text_with(
        &self,
        effect_type: &str,
        payload: &str,
        field: &str,
        value: &str,
    ) -> Result<Envelope, BusError> {
        Ok(self
            .inner
            .registry
            .decode_text_with(effect_type, payload, field, value)?)
    }
}
