//! How long an HTTP connection may sit without making progress, in the
//! phases Go's `net/http` server times: a request head must arrive within
//! the header timeout (counted from the accept for the first request, from
//! its first byte for the next ones), a connection between requests may
//! idle for the keep-alive timeout, and a response the peer does not read
//! may wait for the send timeout. While a request is being served nothing
//! else is timed (its body has its own timeout: [`crate::body_limit`]).
//!
//! hyper's own `header_read_timeout` restarts at every head it waits for,
//! the idle wait between requests included, so it cannot tell a slow head
//! from a keep-alive connection: the phases are kept here, by the
//! connection's I/O ([`Watched`]) and by the service, which marks a request
//! busy until its response body is dropped ([`Tracked`]).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::connection_caps::Slot;

/// The timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a request's head to arrive.
    pub header: Duration,
    /// Between requests.
    pub keep_alive: Duration,
    /// For the peer to take a response it is sent.
    pub send: Duration,
}

impl Timeouts {
    fn shortest(&self) -> Duration {
        self.header
            .min(self.keep_alive)
            .min(self.send)
            .max(Duration::from_millis(1))
    }
}

/// Why a connection was closed for overstaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overstay {
    /// A request head did not arrive in time.
    Header,
    /// The connection idled between requests for too long.
    KeepAlive,
    /// The peer did not read what it was sent.
    Send,
}

/// One connection's phase, shared by its I/O, its service and its task.
#[derive(Debug)]
pub struct Clock {
    timeouts: Timeouts,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    phase: Phase,
    /// Since when a write has been waiting for the peer to read.
    write_blocked: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Nothing read since `since`; `served` once a request was answered.
    Idle { since: Instant, served: bool },
    /// A request head is arriving, its first byte read at `since`.
    Head { since: Instant },
    /// This many requests are being served.
    Busy(u32),
}

impl Clock {
    /// The clock of a connection accepted now.
    pub fn new(timeouts: Timeouts) -> Arc<Self> {
        Arc::new(Self {
            timeouts,
            state: Mutex::new(State {
                phase: Phase::Idle {
                    since: Instant::now(),
                    served: false,
                },
                write_blocked: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first deadline the connection has now, and what passing it means.
    fn deadline(&self) -> Option<(Instant, Overstay)> {
        let state = *self.lock();
        let phase = match state.phase {
            Phase::Idle {
                since,
                served: false,
            }
            | Phase::Head { since } => Some((since + self.timeouts.header, Overstay::Header)),
            Phase::Idle {
                since,
                served: true,
            } => Some((since + self.timeouts.keep_alive, Overstay::KeepAlive)),
            Phase::Busy(_) => None,
        };
        let send = state
            .write_blocked
            .map(|since| (since + self.timeouts.send, Overstay::Send));
        match (phase, send) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Resolves once the connection has overstayed its current phase.
    ///
    /// It wakes at least once per shortest timeout and looks again: a phase
    /// begun since its last look ends no sooner than a shortest timeout
    /// after it began, so no deadline is passed unseen, and no phase change
    /// needs to wake it.
    pub async fn overstayed(&self) -> Overstay {
        loop {
            let now = Instant::now();
            let look_again = now + self.timeouts.shortest();
            match self.deadline() {
                Some((deadline, why)) if deadline <= now => return why,
                Some((deadline, _)) => tokio::time::sleep_until(deadline.min(look_again)).await,
                None => tokio::time::sleep_until(look_again).await,
            }
        }
    }

    /// Bytes arrived: between requests, a head has begun.
    fn read_some(&self) {
        let mut state = self.lock();
        if let Phase::Idle { .. } = state.phase {
            state.phase = Phase::Head {
                since: Instant::now(),
            };
        }
    }

    fn write_pending(&self, pending: bool) {
        let mut state = self.lock();
        match (pending, state.write_blocked) {
            (true, None) => state.write_blocked = Some(Instant::now()),
            (false, Some(_)) => state.write_blocked = None,
            _ => {}
        }
    }

    /// A request is being served until the returned guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        let mut state = self.lock();
        state.phase = match state.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle { .. } | Phase::Head { .. } => Phase::Busy(1),
        };
        Busy(self.clone())
    }
}

/// A request in service; dropping it (its response sent, or abandoned)
/// starts the keep-alive wait once no other request is in service.
#[derive(Debug)]
pub struct Busy(Arc<Clock>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.phase = match state.phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle {
                since: Instant::now(),
                served: true,
            },
        };
    }
}

/// A connection's socket, telling its clock what it reads and writes, and
/// holding its place under the connection caps for as long as it is open
/// (an upgraded WebSocket keeps it).
#[derive(Debug)]
pub struct Watched<T> {
    io: T,
    clock: Arc<Clock>,
    _slot: Slot,
}

impl<T> Watched<T> {
    /// `io`, reporting to `clock`, holding `slot`.
    pub fn new(io: T, clock: Arc<Clock>, slot: Slot) -> Self {
        Self {
            io,
            clock,
            _slot: slot,
        }
    }

    /// The socket and its place under the caps, without the clock: an
    /// upgraded connection leaves HTTP's phases behind (and with them the
    /// task that watched them).
    pub fn into_parts(self) -> (T, Slot) {
        (self.io, self._slot)
    }

    fn wrote<R>(&self, written: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        self.clock.write_pending(written.is_pending());
        written
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.read_some();
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    // Not timed: a socket's flush is no write (it is always ready), and
    // taking it for one would clear a write still blocked.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A response body that keeps its request [`Busy`] until it is dropped,
/// which hyper does once the body is sent.
#[derive(Debug)]
pub struct Tracked<B> {
    body: B,
    _busy: Busy,
}

impl<B> Tracked<B> {
    /// `body`, keeping `busy` alive.
    pub fn new(body: B, busy: Busy) -> Self {
        Self { body, _busy: busy }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        keep_alive: Duration::from_secs(60),
        send: Duration::from_secs(10),
    };

    /// How long `clock` lasts from now, in whole seconds of paused time.
    async fn lasts(clock: &Clock) -> (u64, Overstay) {
        let start = Instant::now();
        let why = clock.overstayed().await;
        (start.elapsed().as_secs(), why)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_gets_the_header_timeout() {
        let clock = Clock::new(TIMEOUTS);
        assert_eq!(lasts(&clock).await, (10, Overstay::Header));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_stops_halfway_gets_the_header_timeout_from_its_first_byte() {
        let clock = Clock::new(TIMEOUTS);
        drop(clock.busy());
        tokio::time::advance(Duration::from_secs(30)).await;
        clock.read_some();
        assert_eq!(lasts(&clock).await, (10, Overstay::Header));
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_a_connection_idles_for_the_keep_alive() {
        let clock = Clock::new(TIMEOUTS);
        drop(clock.busy());
        assert_eq!(lasts(&clock).await, (60, Overstay::KeepAlive));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_service_is_not_timed() {
        let clock = Clock::new(TIMEOUTS);
        let busy = clock.busy();
        let timed = tokio::time::timeout(Duration::from_secs(300), clock.overstayed()).await;
        assert!(timed.is_err(), "five minutes in service, still open");
        drop(busy);
        assert_eq!(
            lasts(&clock).await,
            (60, Overstay::KeepAlive),
            "the keep-alive counts from the response"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_does_not_read_gets_the_send_timeout() {
        let clock = Clock::new(TIMEOUTS);
        let _busy = clock.busy();
        clock.write_pending(true);
        assert_eq!(lasts(&clock).await, (10, Overstay::Send));
        clock.write_pending(false);
        let still = tokio::time::timeout(Duration::from_secs(100), clock.overstayed()).await;
        assert!(still.is_err(), "a write that went through stops the timer");
    }
}
