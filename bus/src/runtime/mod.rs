//! The server-side runtime: tokio lanes, stores, the clock, timers and hooks
//! (cargo feature `runtime`; not built for the browser).

pub mod bus;
pub mod clock;
pub mod hooks;
pub mod store;
pub mod timers;
