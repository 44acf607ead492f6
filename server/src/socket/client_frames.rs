//! A client's WebSocket frames (RFC 6455, section 5), read by hand.
//!
//! Why not tungstenite's reader, which this server used before: it keeps
//! 512 bytes per connection for the connection's whole life (its state,
//! 256 bytes, and a read buffer of 256 allocated up front), a tenth of what
//! an idle connection cost (docs/performance.md, "A socket without a future
//! of its own"). A client sends the server little (`Resume`, commands,
//! pongs, a close: frames of at most 16 KiB), and this reader holds bytes
//! only while a frame or a fragmented message is incomplete, so an idle
//! connection's reader is two empty fields.
//!
//! What it checks, as RFC 6455 asks of a server: every frame is masked,
//! the reserved bits are clear (no extension is negotiated), the opcode is
//! known, control frames are whole and at most 125 bytes, fragments come in
//! order, a message is at most [`MAX_MESSAGE_BYTES`], text and close
//! reasons are UTF-8.

/// The largest message (or frame) a client may send: a `Resume` is under
/// 100 bytes, a command a few hundred.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Text(String),
    /// The server reads no binary messages (they are dropped).
    Binary,
    /// To be answered with a pong carrying the same bytes.
    Ping(Vec<u8>),
    Pong,
    /// The client closes, with this status code if it gave one.
    Close(Option<u16>),
}

/// How a client broke the protocol; the socket closes with the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("frame too large")]
    TooLarge,
    #[error("text is not UTF-8")]
    NotUtf8,
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
}

impl Broken {
    /// The close code (RFC 6455, section 7.4.1).
    pub fn close_code(self) -> u16 {
        match self {
            Self::TooLarge => 1009,
            Self::NotUtf8 => 1007,
            Self::Protocol(_) => 1002,
        }
    }
}

/// The bytes read from a client and not yet made messages: nothing (one
/// pointer in every socket's task) unless some are.
#[derive(Debug, Default)]
pub struct Reader(Option<Box<Pending>>);

#[derive(Debug, Default)]
struct Pending {
    /// Part of a frame, or frames after the one taken.
    buffered: Vec<u8>,
    /// A fragmented message so far: whether it is text, and its bytes.
    fragments: Option<(bool, Vec<u8>)>,
}

/// Frames' opcodes.
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

use opcode::{BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};

impl Reader {
    /// Takes bytes read from the client.
    pub fn extend(&mut self, read: &[u8]) {
        if !read.is_empty() {
            let pending = self.0.get_or_insert_default();
            pending.buffered.extend_from_slice(read);
        }
    }

    /// The next whole message in what was read, if there is one.
    pub fn next_message(&mut self) -> Result<Option<ClientMessage>, Broken> {
        let Some(pending) = &mut self.0 else {
            return Ok(None);
        };
        let next = pending.next_message();
        if pending.buffered.is_empty() && pending.fragments.is_none() {
            // Nothing kept while the client is quiet.
            self.0 = None;
        }
        next
    }
}

impl Pending {
    fn next_message(&mut self) -> Result<Option<ClientMessage>, Broken> {
        loop {
            let Some((fin, opcode, payload)) = self.next_frame()? else {
                return Ok(None);
            };
            match opcode {
                CLOSE => return close(&payload).map(Some),
                PING => return Ok(Some(ClientMessage::Ping(payload))),
                PONG => return Ok(Some(ClientMessage::Pong)),
                TEXT | BINARY if self.fragments.is_some() => {
                    return Err(Broken::Protocol("a new message inside a fragmented one"));
                }
                TEXT | BINARY if fin => return message(opcode == TEXT, payload).map(Some),
                TEXT | BINARY => self.fragments = Some((opcode == TEXT, payload)),
                CONTINUATION => {
                    let Some((_, so_far)) = &mut self.fragments else {
                        return Err(Broken::Protocol(
                            "a continuation with no message to continue",
                        ));
                    };
                    if so_far.len() + payload.len() > MAX_MESSAGE_BYTES {
                        return Err(Broken::TooLarge);
                    }
                    so_far.extend_from_slice(&payload);
                    if fin && let Some((text, whole)) = self.fragments.take() {
                        return message(text, whole).map(Some);
                    }
                }
                _ => return Err(Broken::Protocol("unknown opcode")),
            }
        }
    }

    /// The next whole frame buffered, unmasked: whether it is final, its
    /// opcode and its payload.
    fn next_frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, Broken> {
        let bytes = &self.buffered;
        let [first, second, ..] = bytes[..] else {
            return Ok(None);
        };
        let (fin, opcode) = (first & 0x80 != 0, first & 0x0F);
        if first & 0x70 != 0 {
            return Err(Broken::Protocol("reserved bits set"));
        }
        if second & 0x80 == 0 {
            return Err(Broken::Protocol("an unmasked frame from a client"));
        }
        let (len, mut at) = match second & 0x7F {
            126 => match bytes.get(2..4) {
                Some(len) => (u64::from(u16::from_be_bytes([len[0], len[1]])), 4),
                None => return Ok(None),
            },
            127 => match bytes
                .get(2..10)
                .and_then(|len| <[u8; 8]>::try_from(len).ok())
            {
                Some(len) => (u64::from_be_bytes(len), 10),
                None => return Ok(None),
            },
            len => (u64::from(len), 2),
        };
        if opcode & 0x8 != 0 && (!fin || len > 125) {
            return Err(Broken::Protocol(
                "a control frame fragmented or over 125 bytes",
            ));
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_MESSAGE_BYTES {
            return Err(Broken::TooLarge);
        }
        let Some(mask) = bytes
            .get(at..at + 4)
            .and_then(|mask| <[u8; 4]>::try_from(mask).ok())
        else {
            return Ok(None);
        };
        at += 4;
        let Some(masked) = bytes.get(at..at + len) else {
            return Ok(None);
        };
        let payload: Vec<u8> = masked
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, mask)| byte ^ mask)
            .collect();
        self.buffered.drain(..at + len);
        Ok(Some((fin, opcode, payload)))
    }
}

fn message(text: bool, payload: Vec<u8>) -> Result<ClientMessage, Broken> {
    if !text {
        return Ok(ClientMessage::Binary);
    }
    String::from_utf8(payload)
        .map(ClientMessage::Text)
        .map_err(|_| Broken::NotUtf8)
}

/// A close frame's payload: nothing, or a status code and a UTF-8 reason.
fn close(payload: &[u8]) -> Result<ClientMessage, Broken> {
    match payload {
        [] => Ok(ClientMessage::Close(None)),
        [_] => Err(Broken::Protocol("a close frame with half a status code")),
        [high, low, reason @ ..] => {
            std::str::from_utf8(reason).map_err(|_| Broken::NotUtf8)?;
            Ok(ClientMessage::Close(Some(u16::from_be_bytes([
                *high, *low,
            ]))))
        }
    }
}

/// Whether a client's close code may be echoed in the answer to its
/// close: the codes an endpoint may send (RFC 6455 section 7.4; 1005,
/// 1006 and 1015 are for reporting only, the rest of 1000-2999 reserved).
pub fn echoable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A frame from the server: final, unmasked.
pub fn server_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    let len = payload.len();
    out.reserve(len + 10);
    out.push(0x80 | opcode);
    if len < 126 {
        // Fits the seven-bit length (the mask bit stays clear).
        out.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client's frame, masked with `mask`.
    fn frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        server_frame(opcode, payload, &mut out);
        if !fin {
            out[0] &= 0x7F;
        }
        out[1] |= 0x80;
        let at = out.len() - payload.len();
        let masked: Vec<u8> = payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, mask)| byte ^ mask)
            .collect();
        out.truncate(at);
        out.extend_from_slice(&mask);
        out.extend_from_slice(&masked);
        out
    }

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn read_all(bytes: &[u8]) -> Result<Vec<ClientMessage>, Broken> {
        let mut reader = Reader::default();
        reader.extend(bytes);
        let mut messages = Vec::new();
        while let Some(message) = reader.next_message()? {
            messages.push(message);
        }
        Ok(messages)
    }

    #[test]
    fn whole_frames_of_every_length_class_read_back() {
        // The seven-bit length, the 16-bit one, and the largest allowed.
        for len in [0, 1, 125, 126, 301, MAX_MESSAGE_BYTES] {
            let text = "é".repeat(len / 2) + &"a".repeat(len % 2);
            let bytes = frame(true, TEXT, text.as_bytes(), MASK);
            assert_eq!(read_all(&bytes), Ok(vec![ClientMessage::Text(text)]));
        }
    }

    #[test]
    fn fragments_join_around_a_ping_and_controls_come_through() {
        let mut bytes = frame(false, TEXT, b"Hel", MASK);
        bytes.extend(frame(true, PING, b"p", MASK));
        bytes.extend(frame(false, CONTINUATION, b"lo, ", MASK));
        bytes.extend(frame(true, CONTINUATION, "wörld".as_bytes(), MASK));
        bytes.extend(frame(true, PONG, b"", MASK));
        bytes.extend(frame(true, BINARY, &[0, 1, 2], MASK));
        bytes.extend(frame(true, CLOSE, &[0x03, 0xE8, b'o', b'k'], MASK));
        assert_eq!(
            read_all(&bytes),
            Ok(vec![
                ClientMessage::Ping(b"p".to_vec()),
                ClientMessage::Text("Hello, wörld".to_owned()),
                ClientMessage::Pong,
                ClientMessage::Binary,
                ClientMessage::Close(Some(1000)),
            ])
        );
    }

    #[test]
    fn each_way_to_break_the_protocol_is_refused() {
        let big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
        let half = vec![b'a'; MAX_MESSAGE_BYTES / 2 + 1];
        let mut fragments_too_large = frame(false, TEXT, &half, MASK);
        fragments_too_large.extend(frame(true, CONTINUATION, &half, MASK));
        let mut unmasked = frame(true, TEXT, b"hi", MASK);
        unmasked[1] &= 0x7F;
        let mut reserved = frame(true, TEXT, b"hi", MASK);
        reserved[0] |= 0x40;
        let mut nested = frame(false, TEXT, b"a", MASK);
        nested.extend(frame(true, TEXT, b"b", MASK));
        let cases: [(Vec<u8>, Broken); 11] = [
            (frame(true, TEXT, &big, MASK), Broken::TooLarge),
            (fragments_too_large, Broken::TooLarge),
            (frame(true, TEXT, &[0xff, 0xfe], MASK), Broken::NotUtf8),
            (
                frame(true, CLOSE, &[0x03, 0xE8, 0xff], MASK),
                Broken::NotUtf8,
            ),
            (
                unmasked,
                Broken::Protocol("an unmasked frame from a client"),
            ),
            (reserved, Broken::Protocol("reserved bits set")),
            (
                frame(false, PING, b"", MASK),
                Broken::Protocol("a control frame fragmented or over 125 bytes"),
            ),
            (
                frame(true, PING, &[0; 126], MASK),
                Broken::Protocol("a control frame fragmented or over 125 bytes"),
            ),
            (
                frame(true, CONTINUATION, b"a", MASK),
                Broken::Protocol("a continuation with no message to continue"),
            ),
            (
                nested,
                Broken::Protocol("a new message inside a fragmented one"),
            ),
            (
                frame(true, 0x3, b"", MASK),
                Broken::Protocol("unknown opcode"),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(read_all(&bytes), Err(expected));
        }
        assert_eq!(
            read_all(&frame(true, CLOSE, &[3], MASK)),
            Err(Broken::Protocol("a close frame with half a status code"))
        );
        // A 64-bit length is refused from its header, not waited for.
        let huge = [0x81, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(read_all(&huge), Err(Broken::TooLarge));
    }

    #[test]
    fn only_codes_an_endpoint_may_send_are_echoed() {
        for code in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(echoable(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000] {
            assert!(!echoable(code), "{code}");
        }
    }

    #[test]
    fn a_quiet_reader_keeps_nothing() {
        let mut reader = Reader::default();
        let bytes = frame(true, TEXT, b"hi", MASK);
        reader.extend(&bytes[..3]);
        assert_eq!(reader.next_message(), Ok(None));
        assert!(reader.0.is_some(), "part of a frame waits");
        reader.extend(&bytes[3..]);
        assert!(reader.next_message().unwrap().is_some());
        assert!(reader.0.is_none());
    }

    proptest! {
        /// However the bytes arrive, cut anywhere, the same messages come
        /// out.
        #[test]
        fn messages_do_not_depend_on_how_reads_cut_the_bytes(
            texts in proptest::collection::vec("\\PC{0,300}", 1..6),
            cuts in proptest::collection::vec(1usize..200, 1..40),
        ) {
            let mut bytes = Vec::new();
            for text in &texts {
                bytes.extend(frame(true, TEXT, text.as_bytes(), MASK));
            }
            let mut reader = Reader::default();
            let mut got = Vec::new();
            let mut rest = &bytes[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*cut).min(rest.len()));
                reader.extend(now);
                rest = later;
                while let Some(message) = reader.next_message().unwrap() {
                    got.push(message);
                }
            }
            let expected: Vec<ClientMessage> =
                texts.into_iter().map(ClientMessage::Text).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
