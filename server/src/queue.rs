//! A socket's queue of frames: bounded, and holding no memory while empty.
//!
//! The hub pushes, the socket's task takes everything queued at once. A
//! Tokio channel would do the same job, but it allocates a block of slots
//! per socket up front and keeps it: with ten thousand idle sockets that
//! was 1.5 KB each. This queue is an empty `VecDeque` until a frame comes,
//! and the socket takes the whole deque, so an idle socket's queue is a
//! hundred bytes.
//!
//! The queue also carries what else wakes a socket: the server's ping
//! round ([`Sender::tick`]) and its shutdown ([`Sender::shut_down`]). A
//! socket thus waits on its queue and its connection alone, with no timer
//! or shutdown future of its own (see `socket/live.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A frame as sent: JSON text, shared by every recipient (cloning it
/// counts a reference; the text is never copied per socket).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// A bounded queue of frames between the hub and one socket.
pub fn queue(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        capacity: capacity.max(1),
    });
    (Sender(shared.clone()), Receiver(shared))
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Frame>,
    /// Frames wait that the receiver was not woken for (queued quietly).
    unannounced: bool,
    /// A frame woke the receiver since the last announcement (see
    /// [`Sender::announce`]).
    busy: bool,
    /// The ping round came by since the receiver last looked.
    tick: bool,
    /// The server is shutting down.
    shut: bool,
    /// The sender is gone: nothing more will come.
    closed: bool,
    /// The receiver's task, while it waits.
    waker: Option<Waker>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets what `mark` sets and wakes the receiver.
    fn wake_with(&self, mark: impl FnOnce(&mut State)) {
        let mut state = self.state();
        mark(&mut state);
        wake(state);
    }
}

impl State {
    /// Remembers the receiver's task, woken when something comes.
    fn wait(&mut self, cx: &Context<'_>) -> Poll<Received> {
        match &mut self.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Wakes the receiver if it waits, once the lock is let go.
fn wake(mut state: MutexGuard<'_, State>) {
    let waker = state.waker.take();
    drop(state);
    if let Some(waker) = waker {
        waker.wake();
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
        state.frames.push_back(frame);
        state.unannounced = false;
        state.busy = true;
        wake(state);
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

    /// Wakes the socket for the frames queued quietly, if any still wait,
    /// unless a frame woke it since the last announcement: a socket that
    /// gets frames of its own that often (a player's, a move every few
    /// hundred milliseconds) is likely to get another before the next
    /// announcement, and the quiet frames ride along with it; if none
    /// comes, the next announcement wakes it. The hub announces once per
    /// lobby interval, so a quiet frame waits at most two.
    ///
    /// At 1,000 games (lobby interval 250 ms), players' sockets woken
    /// for the lobby's lists alone were a tenth of the server's sends.
    pub fn announce(&self) {
        let mut state = self.0.state();
        if std::mem::take(&mut state.busy) {
            return;
        }
        if std::mem::take(&mut state.unannounced) {
            wake(state);
        }
    }

    /// The ping round: the socket looks whether its peer is still there.
    pub fn tick(&self) {
        self.0.wake_with(|state| state.tick = true);
    }

    /// The server is shutting down: the socket closes.
    pub fn shut_down(&self) {
        self.0.wake_with(|state| state.shut = true);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.wake_with(|state| state.closed = true);
    }
}

/// What woke a socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Everything queued, oldest first.
    Frames(VecDeque<Frame>),
    /// The ping round came by.
    Tick,
    /// The server is shutting down.
    Shutdown,
    /// The hub let go of the socket (it could not keep up), and everything
    /// queued before was taken.
    Closed,
}

/// The socket's end.
#[derive(Debug)]
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// What is there: shutdown first, then the frames queued (frames
    /// queued quietly only once announced, or with a frame that was not),
    /// then the ping round; pending (the task woken when something comes)
    /// if nothing is.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Received> {
        let mut state = self.0.state();
        if state.shut {
            return Poll::Ready(Received::Shutdown);
        }
        // Quiet frames alone wait for a frame or an announcement, even
        // when the socket looks for another reason (its peer sent a
        // command): taken now, they would go out in a write of their own
        // just before the command's answer.
        if !state.frames.is_empty() && (!state.unannounced || state.closed) {
            state.unannounced = false;
            return Poll::Ready(Received::Frames(std::mem::take(&mut state.frames)));
        }
        if std::mem::take(&mut state.tick) {
            return Poll::Ready(Received::Tick);
        }
        if state.closed {
            return Poll::Ready(Received::Closed);
        }
        state.wait(cx)
    }

    /// What ends a socket whatever it is doing (the server shutting down,
    /// the hub cutting it off), and the ping round, taken; pending (the
    /// task woken when one comes) otherwise. The frames queued stay: for
    /// a socket whose peer takes nothing, so that it still ends.
    pub fn poll_interrupt(&mut self, cx: &mut Context<'_>) -> Poll<Received> {
        let mut state = self.0.state();
        if state.shut {
            return Poll::Ready(Received::Shutdown);
        }
        if state.closed {
            return Poll::Ready(Received::Closed);
        }
        if std::mem::take(&mut state.tick) {
            return Poll::Ready(Received::Tick);
        }
        state.wait(cx)
    }

    /// Whatever is queued now, oldest first (possibly nothing).
    pub fn take_queued(&mut self) -> VecDeque<Frame> {
        let mut state = self.0.state();
        state.unannounced = false;
        std::mem::take(&mut state.frames)
    }

    /// Everything queued, oldest first, waiting for at least one frame;
    /// `None` once the queue is closed (or shut) and drained. (For a task
    /// that waits on its queue alone: tests, the move path's benchmark.)
    pub async fn recv_all(&mut self) -> Option<VecDeque<Frame>> {
        loop {
            match std::future::poll_fn(|cx| self.poll_recv(cx)).await {
                Received::Frames(frames) => return Some(frames),
                Received::Tick => continue,
                Received::Shutdown | Received::Closed => return None,
            }
        }
    }

    /// The oldest frame queued, if any.
    #[cfg(test)]
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

/// What [`Receiver::try_recv`] found.
#[cfg(test)]
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecv {
    /// Nothing queued now.
    Empty,
    /// Nothing queued, and nothing ever will be.
    Closed,
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
    async fn a_busy_socket_is_announced_to_one_round_later() {
        let (sender, mut receiver) = queue(4);
        sender.try_send(frame("move")).unwrap();
        let got = receiver.recv_all().await.unwrap();
        assert_eq!(Vec::from(got), [frame("move")]);
        let waiting = tokio::spawn(async move { receiver.recv_all().await });
        settle().await;
        sender.try_send_quietly(frame("lobby")).unwrap();
        // A frame came since the last round: this round lets it be.
        sender.announce();
        settle().await;
        assert!(!waiting.is_finished(), "woken though busy");
        // No frame since: the next round wakes it.
        sender.announce();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(Vec::from(got), [frame("lobby")]);
    }

    #[test]
    fn quiet_frames_wait_when_the_socket_looks_and_go_when_it_takes_all() {
        use std::task::Waker;
        let mut cx = Context::from_waker(Waker::noop());
        let (sender, mut receiver) = queue(4);
        sender.try_send_quietly(frame("lobby")).unwrap();
        // The socket woke for something else (its peer sent a command).
        assert!(receiver.poll_recv(&mut cx).is_pending(), "taken alone");
        sender.tick();
        assert_eq!(receiver.poll_recv(&mut cx), Poll::Ready(Received::Tick));
        // Sending anyway, it takes them along.
        assert_eq!(Vec::from(receiver.take_queued()), [frame("lobby")]);
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

    #[tokio::test]
    async fn the_ping_round_and_shutdown_wake_a_waiting_socket() {
        let (sender, mut receiver) = queue(2);
        let waiting = tokio::spawn(async move {
            let first = std::future::poll_fn(|cx| receiver.poll_recv(cx)).await;
            let second = std::future::poll_fn(|cx| receiver.poll_recv(cx)).await;
            (first, second)
        });
        settle().await;
        assert!(!waiting.is_finished());
        sender.tick();
        settle().await;
        sender.try_send(frame("a")).unwrap();
        sender.shut_down();
        let (first, second) = waiting.await.unwrap();
        assert_eq!(first, Received::Tick);
        // Shutdown comes before the frames still queued.
        assert_eq!(second, Received::Shutdown);
    }

    #[test]
    fn an_interrupt_leaves_the_frames_and_a_cut_off_queue_ends_at_once() {
        use std::task::Waker;
        let mut cx = Context::from_waker(Waker::noop());
        let (sender, mut receiver) = queue(2);
        sender.try_send(frame("a")).unwrap();
        assert!(receiver.poll_interrupt(&mut cx).is_pending());
        sender.tick();
        assert_eq!(
            receiver.poll_interrupt(&mut cx),
            Poll::Ready(Received::Tick)
        );
        assert!(receiver.poll_interrupt(&mut cx).is_pending(), "taken");
        drop(sender);
        // Cut off with a frame still queued: an interrupt says so now,
        // where a receive hands the frame over first.
        assert_eq!(
            receiver.poll_interrupt(&mut cx),
            Poll::Ready(Received::Closed)
        );
        assert!(matches!(
            receiver.poll_recv(&mut cx),
            Poll::Ready(Received::Frames(_))
        ));
    }
}
