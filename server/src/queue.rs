//! A socket's queue of frames: bounded, and holding no memory while empty.
//!
//! The hub pushes, the socket's task takes everything queued at once. A
//! Tokio channel would do the same job, but it allocates a block of slots
//! per socket up front and keeps it: with ten thousand idle sockets that
//! was 1.5 KB each. This queue is an empty `VecDeque` until a frame comes,
//! and the socket takes the whole deque, so an idle socket's queue is a
//! hundred bytes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// A frame as sent: JSON text, shared by every recipient (cloning it
/// counts a reference; the text is never copied per socket).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// A bounded queue of frames between the hub and one socket.
pub fn queue(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        ready: Notify::new(),
        capacity: capacity.max(1),
    });
    (Sender(shared.clone()), Receiver(shared))
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Frame>,
    /// Frames wait that the receiver was not woken for (queued quietly).
    unannounced: bool,
    /// The sender is gone: nothing more will come.
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The hub's end. Dropping it closes the queue (the socket then ends once
/// it has sent what was queued).
#[derive(Debug)]
pub struct Sender(Arc<Shared>);

/// The queue is full: the socket cannot keep up.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl Sender {
    /// Queues `frame`, unless `capacity` frames wait already.
    pub fn try_send(&self, frame: Frame) -> Result<(), Full> {
        let mut state = self.0.state();
        if state.frames.len() >= self.0.capacity {
            return Err(Full);
        }
        let wake = state.frames.is_empty() || state.unannounced;
        state.frames.push_back(frame);
        state.unannounced = false;
        drop(state);
        if wake {
            // Stores a permit when the socket is not waiting yet.
            self.0.ready.notify_one();
        }
        Ok(())
    }

    /// Queues `frame` without waking the socket: it goes out with the
    /// socket's next frame, or at the next [`Sender::announce`]. A frame
    /// many sockets get at once (the lobby's lists) thus rides along with
    /// what each socket sends anyway, instead of costing each a write.
    pub fn try_send_quietly(&self, frame: Frame) -> Result<(), Full> {
        let mut state = self.0.state();
        if state.frames.len() >= self.0.capacity {
            return Err(Full);
        }
        if state.frames.is_empty() {
            state.unannounced = true;
        }
        state.frames.push_back(frame);
        Ok(())
    }

    /// Wakes the socket for the frames queued quietly, if any still wait.
    pub fn announce(&self) {
        let mut state = self.0.state();
        if std::mem::take(&mut state.unannounced) {
            drop(state);
            self.0.ready.notify_one();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.state().closed = true;
        self.0.ready.notify_one();
    }
}

/// What [`Receiver::try_recv`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecv {
    /// Nothing queued now.
    Empty,
    /// Nothing queued, and nothing ever will be.
    Closed,
}

/// The socket's end.
#[derive(Debug)]
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// Everything queued, oldest first, waiting for at least one frame;
    /// `None` once the queue is closed and drained.
    pub async fn recv_all(&mut self) -> Option<VecDeque<Frame>> {
        loop {
            {
                let mut state = self.0.state();
                if !state.frames.is_empty() {
                    state.unannounced = false;
                    return Some(std::mem::take(&mut state.frames));
                }
                if state.closed {
                    return None;
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// The oldest frame queued, if any.
    pub fn try_recv(&mut self) -> Result<Frame, TryRecv> {
        let mut state = self.0.state();
        match state.frames.pop_front() {
            Some(frame) => {
                state.unannounced &= !state.frames.is_empty();
                Ok(frame)
            }
            None if state.closed => Err(TryRecv::Closed),
            None => Err(TryRecv::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Frame {
        Frame::from(text.to_owned())
    }

    #[tokio::test]
    async fn frames_come_out_in_order_all_at_once() {
        let (sender, mut receiver) = queue(4);
        for text in ["a", "b", "c"] {
            sender.try_send(frame(text)).unwrap();
        }
        let all: Vec<Frame> = receiver.recv_all().await.unwrap().into();
        assert_eq!(all, [frame("a"), frame("b"), frame("c")]);
        assert_eq!(receiver.try_recv(), Err(TryRecv::Empty));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_a_dropped_sender_closes_after_the_rest() {
        let (sender, mut receiver) = queue(2);
        sender.try_send(frame("a")).unwrap();
        sender.try_send(frame("b")).unwrap();
        assert_eq!(sender.try_send(frame("c")), Err(Full));
        drop(sender);
        assert_eq!(receiver.recv_all().await.map(|all| all.len()), Some(2));
        assert_eq!(receiver.recv_all().await, None);
        assert_eq!(receiver.try_recv(), Err(TryRecv::Closed));
    }

    /// Lets the other tasks run a while.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_quiet_frame_waits_for_the_next_frame() {
        let (sender, mut receiver) = queue(4);
        let waiting = tokio::spawn(async move { receiver.recv_all().await });
        settle().await;
        sender.try_send_quietly(frame("lobby")).unwrap();
        settle().await;
        assert!(!waiting.is_finished(), "woken by a quiet frame");
        sender.try_send(frame("move")).unwrap();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(Vec::from(got), [frame("lobby"), frame("move")]);
    }

    #[tokio::test]
    async fn an_announcement_wakes_for_the_quiet_frames() {
        let (sender, mut receiver) = queue(4);
        let waiting = tokio::spawn(async move { receiver.recv_all().await });
        settle().await;
        sender.try_send_quietly(frame("a")).unwrap();
        sender.try_send_quietly(frame("b")).unwrap();
        settle().await;
        assert!(!waiting.is_finished(), "woken by a quiet frame");
        sender.announce();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(Vec::from(got), [frame("a"), frame("b")]);
    }

    #[tokio::test]
    async fn quiet_frames_are_taken_whenever_the_socket_looks() {
        let (sender, mut receiver) = queue(4);
        sender.try_send_quietly(frame("lobby")).unwrap();
        let got = receiver.recv_all().await.unwrap();
        assert_eq!(Vec::from(got), [frame("lobby")]);
        // Taken: nothing is left to announce, and a full queue refuses.
        sender.announce();
        assert_eq!(receiver.try_recv(), Err(TryRecv::Empty));
        for text in ["a", "b", "c", "d"] {
            sender.try_send_quietly(frame(text)).unwrap();
        }
        assert_eq!(sender.try_send_quietly(frame("e")), Err(Full));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame() {
        let (sender, mut receiver) = queue(2);
        let waiting = tokio::spawn(async move { receiver.recv_all().await });
        tokio::task::yield_now().await;
        sender.try_send(frame("late")).unwrap();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.front(), Some(&frame("late")));
    }
}
