//! A player's alias: what other players see in the lobby and on the board.
//!
//! So an alias must show: at least one visible character, none of the
//! characters that are there but cannot be seen (zero-width spaces, the
//! byte-order mark, Hangul fillers, the blank Braille pattern: an alias of
//! those looks empty, and `ad\u{200B}min` looks like `admin`), and no
//! text-direction controls (`\u{202E}` turns what follows around). Its
//! length is what a player sees: grapheme clusters, so a family emoji or an
//! `e` with a combining accent is one character.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest alias, in characters as a player sees them (grapheme
/// clusters), not bytes or code points.
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
    /// A character that takes no room on screen (zero-width, filler, blank).
    #[error("the alias contains an invisible character")]
    Invisible,
    /// A bidirectional control: it reorders the text around it.
    #[error("the alias contains a text-direction control character")]
    DirectionControl,
}

/// Bidirectional formatting characters: embeddings, overrides, isolates
/// and the implicit marks.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that are there but show nothing and join nothing: refused
/// anywhere. (The zero-width joiner and non-joiner are not among them: they
/// build emoji such as the family, and words in several scripts.)
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}' // zero-width space
            | '\u{2060}'
            ..='\u{2064}' // word joiner, invisible operators
            | '\u{FEFF}' // byte-order mark, zero-width no-break space
            | '\u{2800}' // Braille pattern blank
    )
}

/// Whether a character shows on its own: not space, not a joiner, not a
/// variation selector or tag, not a combining mark.
fn is_visible(c: char) -> bool {
    !(c.is_whitespace()
        || is_invisible(c)
        || matches!(
            c,
            '\u{200C}' | '\u{200D}' // zero-width non-joiner, joiner
                | '\u{FE00}'..='\u{FE0F}' // variation selectors
                | '\u{E0000}'..='\u{E007F}' // tags
                | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}'
                | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}'
                | '\u{FE20}'..='\u{FE2F}' // combining marks
        ))
}

/// How many characters a player sees in `text`: its extended grapheme
/// clusters (Unicode's UAX #29).
#[cfg(not(target_arch = "wasm32"))]
fn shown_chars(text: &str) -> usize {
    unicode_segmentation::UnicodeSegmentation::graphemes(text, true).count()
}

/// In the browser, the browser's own segmenter counts them (`Intl.Segmenter`,
/// whose default granularity is the grapheme cluster): the same rule as
/// `unicode-segmentation`, whose tables were 11.6 KB of the bundle's gzip
/// (docs/performance.md). The server, which decides, counts with the crate.
#[cfg(target_arch = "wasm32")]
fn shown_chars(text: &str) -> usize {
    let segmenter = js_sys::Intl::Segmenter::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Array::from(&segmenter.segment(text)).length() as usize
}

/// A valid alias: trimmed, 1 to 24 characters with at least one visible,
/// no control, invisible or text-direction characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Alias(String);

impl Alias {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, AliasError> {
        let trimmed = raw.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(AliasError::ControlCharacter);
        }
        if trimmed.chars().any(is_direction_control) {
            return Err(AliasError::DirectionControl);
        }
        if trimmed.chars().any(is_invisible) {
            return Err(if trimmed.chars().any(is_visible) {
                AliasError::Invisible
            } else {
                AliasError::Empty
            });
        }
        if !trimmed.chars().any(is_visible) {
            return Err(AliasError::Empty);
        }
        let shown = shown_chars(trimmed);
        if shown > MAX_ALIAS_CHARS {
            return Err(AliasError::TooLong(shown));
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
    fn counts_what_a_player_sees() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        assert!(Alias::parse(&family.repeat(24)).is_ok(), "24 family emoji");
        assert_eq!(
            Alias::parse(&family.repeat(25)),
            Err(AliasError::TooLong(25))
        );
        let decomposed = "e\u{301}";
        assert!(
            Alias::parse(&decomposed.repeat(24)).is_ok(),
            "24 decomposed é"
        );
        assert_eq!(
            Alias::parse(&decomposed.repeat(25)),
            Err(AliasError::TooLong(25))
        );
    }

    #[test]
    fn refuses_what_cannot_be_seen() {
        for blank in [
            "\u{200B}\u{200B}",
            "\u{FEFF}",
            "\u{3164}",
            "\u{2800}\u{2800}",
            "\u{200D}",
        ] {
            assert_eq!(Alias::parse(blank), Err(AliasError::Empty), "{blank:?}");
        }
        assert_eq!(Alias::parse("ad\u{200B}min"), Err(AliasError::Invisible));
        assert_eq!(Alias::parse("a\u{3164}b"), Err(AliasError::Invisible));
    }

    #[test]
    fn refuses_direction_controls() {
        assert_eq!(
            Alias::parse("\u{202E}evil"),
            Err(AliasError::DirectionControl)
        );
        assert_eq!(
            Alias::parse("a\u{2066}b"),
            Err(AliasError::DirectionControl)
        );
    }

    #[test]
    fn accepts_scripts_that_join() {
        // Persian with a zero-width non-joiner, Devanagari with combining signs.
        assert!(Alias::parse("\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0645}").is_ok());
        assert!(Alias::parse("\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}").is_ok());
    }

    #[test]
    fn deserialising_checks_too() {
        let refused: Result<Alias, _> = serde_json::from_str("\"   \"");
        assert!(refused.is_err());
    }
}
