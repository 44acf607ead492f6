//! What a lane runs: a handler on an effect, or a state's deletion.

use std::sync::Arc;

use crate::effect::Envelope;
use crate::handler::{Handler, Route};
use crate::runtime::batch::Tracked;
use crate::state::StateKey;

/// One piece of work for a lane.
pub(super) enum Job {
    /// Run a handler on an effect.
    Run {
        handler: Arc<dyn Handler>,
        route: Route,
        effect: Envelope,
        tracked: Option<Tracked>,
    },
    /// Delete a state ([`DeleteState`]).
    Delete {
        key: StateKey,
        request: Envelope,
        tracked: Option<Tracked>,
    },
}
