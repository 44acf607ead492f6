//! Users: an id and an alias.

use bus::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

use crate::alias::Alias;
use crate::bot::Level;
use crate::events::{CreateUser, GetUser, UserCreated, UserError, UserErrorOccurred};
use crate::ids::UserId;

/// A user, as stored and as `GetUser` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user.
    pub user_id: UserId,
    /// Their alias.
    pub alias: Alias,
    /// When they were made.
    pub created_at: u64,
}

crate::json_struct!(User {
    user_id,
    alias,
    created_at
});

bus::states!(User);

/// `CreateUser`: a new user; an id that exists is refused.
pub fn create(user: Option<User>, cmd: &CreateUser, ctx: &Ctx) -> Outcome<User> {
    // The computer's ids are taken.
    if user.is_some() || Level::of(cmd.user_id).is_some() {
        return Outcome::keep().emit(UserErrorOccurred {
            user_id: cmd.user_id,
            reason: UserError::UserAlreadyExists,
        });
    }
    let user = User {
        user_id: cmd.user_id,
        alias: cmd.alias.clone(),
        created_at: ctx.now_ms(),
    };
    let created = UserCreated {
        user_id: user.user_id,
        alias: user.alias.clone(),
        created_at: user.created_at,
    };
    Outcome::set(user).emit(created)
}

/// `GetUser` (the computer is a user too, at each level).
pub fn get(user: Option<&User>, query: &GetUser) -> Option<User> {
    if let Some(level) = Level::of(query.user_id) {
        return Some(User {
            user_id: query.user_id,
            alias: level.alias(),
            created_at: 0,
        });
    }
    user.cloned()
}
