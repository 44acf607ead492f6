//! Identifiers: UUIDs, chosen by the client that creates the thing.

/// A user's id.
pub type UserId = uuid::Uuid;
/// A game's id.
pub type GameId = uuid::Uuid;
