//! JSON as the browser writes it: serde_json's writer, with whole numbers
//! only.
//!
//! Nothing the browser sends has a fractional number (ids, coordinates,
//! counts, times in milliseconds). serde_json's own number formatting
//! brings `zmij`'s float tables and code into the bundle (23 KB raw, the
//! largest piece of data in it; docs/performance.md, "The browser
//! bundle"); its writer with this formatter does not.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

/// `value` as compact JSON text. A fractional or out-of-range number is
/// refused, not written.
pub fn to_text<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = Vec::with_capacity(128);
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut text,
        WholeNumbers,
    ))?;
    String::from_utf8(text).map_err(|_| serde::ser::Error::custom("JSON that is not UTF-8"))
}

/// The compact formatter, writing a float only when it is a whole number
/// that JSON readers take exactly (as an integer).
struct WholeNumbers;

/// 2^53: past it, not every whole number is an `f64`.
const EXACT: f64 = 9_007_199_254_740_992.0;

impl Formatter for WholeNumbers {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if value.fract() == 0.0 && value.abs() <= EXACT {
            #[allow(clippy::cast_possible_truncation, reason = "whole and within 2^53")]
            return CompactFormatter.write_i64(writer, value as i64);
        }
        Err(io::Error::other("only whole numbers are sent"))
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_as_serde_json_does_without_fractions() {
        let value = json!({
            "type": "PlaceMark",
            "payload": { "gameId": "a\"b\\c\u{1}é", "x": 2, "y": -1, "big": u64::MAX },
            "list": [true, null, 3.0, -4.0],
        });
        let expected = serde_json::to_string(&value)
            .expect("serialises")
            .replace("3.0", "3")
            .replace("-4.0", "-4");
        assert_eq!(to_text(&value).expect("writes"), expected);
    }

    #[test]
    fn refuses_fractions_and_floats_past_exact_integers() {
        for refused in [json!(1.5), json!([0.1]), json!({ "x": 1e300 })] {
            assert!(to_text(&refused).is_err(), "{refused}");
        }
    }
}
