//! A player's alias: what other players see in the lobby and on the board.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest alias, in characters (not bytes).
pub const MAX_ALIAS_CHARS: usize = 24;

/// Why an alias was refused, in words a player can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// Nothing left after trimming.
    #[error("the alias is empty: type at least one visible character")]
    Empty,
    /// More than [`MAX_ALIAS_CHARS`] characters after trimming.
    #[error("the alias is too long: {0} characters, at most 24")]
    TooLong(usize),
    /// Control characters (newlines, tabs, escapes) would garble every list it appears in.
    #[error("the alias contains a control character")]
    ControlCharacter,
}

/// A valid alias: trimmed, 1 to 24 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Alias(String);

impl Alias {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, AliasError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AliasError::Empty);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(AliasError::ControlCharacter);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_ALIAS_CHARS {
            return Err(AliasError::TooLong(chars));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The alias as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Alias {
    type Error = AliasError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Alias> for String {
    fn from(alias: Alias) -> Self {
        alias.0
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_surrounding_space() {
        assert_eq!(
            Alias::parse("  ada \n").map(String::from),
            Ok("ada".to_owned())
        );
    }

    #[test]
    fn refuses_blank() {
        assert_eq!(Alias::parse(" \t "), Err(AliasError::Empty));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let emoji = "é".repeat(24);
        assert!(Alias::parse(&emoji).is_ok());
        assert_eq!(Alias::parse(&"é".repeat(25)), Err(AliasError::TooLong(25)));
    }

    #[test]
    fn refuses_control_characters_inside() {
        assert_eq!(Alias::parse("a\u{7}b"), Err(AliasError::ControlCharacter));
    }

    #[test]
    fn deserialising_checks_too() {
        let refused: Result<Alias, _> = serde_json::from_str("\"   \"");
        assert!(refused.is_err());
    }
}
