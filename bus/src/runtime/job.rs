//! What a lane runs: a handler on an effect, or a state's deletion.

use std::sync::Arc;

use crate::effect::Envelope;
use crate::handler::{Handler, Route};
use crate::runtime::batch::Tracked;
use crate::state::StateKey;

/// Where a waiting sender hears how its command's run ended.
pub(super) type Waiting = tokio::sync::oneshot::Sender<Result<(), String>>;

/// One piece of work for a lane.
pub(super) enum Job {
    /// Run a handler on an effect.
    Run {
        handler: Arc<dyn Handler>,
        route: Route,
        effect: Envelope,
        tracked: Option<Tracked>,
        /// Told once the run's commit went in, or why it failed
        /// ([`Bus::send_committed`](crate::Bus::send_committed)).
        committed: Option<Waiting>,
    },
    /// Delete a state ([`DeleteState`]).
    Delete {
        key: StateKey,
        request: Envelope,
        tracked: Option<Tracked>,
    },
}
