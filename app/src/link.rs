//! The state of the page's link to the server, and the way to its socket:
//! what the client and the components use, without the socket task itself
//! (`connection.rs`).

use leptos::prelude::*;

use crate::socket_frames::ClientFrame;

/// The state of the event WebSocket, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// First attempt, not answered yet (also what the server renders).
    Connecting,
    /// The server's `Connected` frame arrived on the open socket.
    Connected,
    /// The socket dropped; waiting before attempt number `attempt`.
    Reconnecting {
        /// How many attempts failed since the last success.
        attempt: u32,
    },
}

impl Link {
    /// A short machine-readable name, used as `data-state` (and by the tests).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting { .. } => "reconnecting",
        }
    }

    /// What the player reads.
    pub fn describe(self) -> String {
        match self {
            Self::Connecting => "Connecting…".to_owned(),
            Self::Connected => "Connected".to_owned(),
            Self::Reconnecting { attempt } => {
                format!("Connection lost, reconnecting (attempt {attempt})…")
            }
        }
    }
}

/// What components ask of the socket.
#[derive(Debug, Clone)]
pub enum Out {
    /// Send this frame.
    Frame(ClientFrame),
    /// Close and open again at once (the session changed).
    Reconnect,
}

/// The way to the socket task (nothing on the server, which has no socket).
#[derive(Debug, Clone)]
pub struct Outgoing {
    #[cfg(feature = "csr")]
    sender: futures::channel::mpsc::UnboundedSender<Out>,
}

#[cfg(feature = "csr")]
impl Outgoing {
    /// The way to a socket task reading `sender`'s other end.
    pub(crate) fn new(sender: futures::channel::mpsc::UnboundedSender<Out>) -> Self {
        Self { sender }
    }
}

impl Outgoing {
    /// Queues a frame for the socket.
    pub fn send(&self, frame: ClientFrame) {
        self.push(Out::Frame(frame));
    }

    /// Asks for a fresh socket.
    pub fn reconnect(&self) {
        self.push(Out::Reconnect);
    }

    #[cfg(feature = "csr")]
    fn push(&self, out: Out) {
        let _ = self.sender.unbounded_send(out);
    }

    #[cfg(not(feature = "csr"))]
    fn push(&self, _: Out) {}
}

/// The link state, from context.
pub fn use_link() -> RwSignal<Link> {
    expect_context::<RwSignal<Link>>()
}
