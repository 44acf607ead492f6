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
        let was_empty = state.frames.is_empty();
        state.frames.push_back(frame);
        drop(state);
        if was_empty {
            // Stores a permit when the socket is not waiting yet.
            self.0.ready.notify_one();
        }
        Ok(())
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
            Some(frame) => Ok(frame),
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
