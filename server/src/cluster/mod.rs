//! Cluster mode (`--nats-url` with `--database-url`): the pieces that make
//! several processes one site. PostgreSQL holds the shared state (the
//! store's tables), NATS carries events between nodes.
//!
//! - `nats.rs`: the connection, made and remade in the background;
//! - `messages.rs`: subjects and message bodies between nodes;
//! - `relay.rs`: the hub's events out to the other nodes, and theirs in;
//! - `membership.rs`: which nodes are alive, and cleaning up after a dead one.

pub mod membership;
pub mod messages;
pub mod nats;
pub mod relay;
