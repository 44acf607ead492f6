//! The browser's commands, sent on its event socket once it is open and
//! signed in (one small frame, no HTTP request of its own), each answered
//! by its number; over HTTP otherwise (before signing up, while the socket
//! is down, or on a socket opened before the session existed).

use crate::api::ApiError;

/// Commands sent on the socket, waiting for their answers.
#[derive(Default)]
pub struct Pending {
    next: u64,
    #[cfg(feature = "csr")]
    waiting: std::collections::HashMap<u64, futures::channel::oneshot::Sender<Answer>>,
}

/// How a command sent on the socket went.
pub type Answer = Result<(), ApiError>;

impl Pending {
    /// A number for the next command, and where its answer will come.
    #[cfg(feature = "csr")]
    pub fn open(&mut self) -> (u64, futures::channel::oneshot::Receiver<Answer>) {
        self.next += 1;
        let (told, answer) = futures::channel::oneshot::channel();
        self.waiting.insert(self.next, told);
        (self.next, answer)
    }

    /// Command `id` was answered.
    pub fn answered(&mut self, id: u64, answer: Answer) {
        #[cfg(feature = "csr")]
        if let Some(told) = self.waiting.remove(&id) {
            let _ = told.send(answer);
        }
        #[cfg(not(feature = "csr"))]
        let _ = (id, answer, self.next);
    }

    /// The socket closed: no answer will come to what it carried.
    pub fn forget_all(&mut self) {
        #[cfg(feature = "csr")]
        self.waiting.clear();
    }
}
