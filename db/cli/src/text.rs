//! Keys and values as text: how an argument or an input line stands for
//! bytes, and how bytes are printed.
//!
//! Two notations, chosen by the global `--hex`:
//!
//! - plain: an argument is its own bytes; output escapes every byte that
//!   is not printable ASCII, space included, as `\xNN` and doubles a
//!   backslash ([`escape`]), so that a key or value never holds a space
//!   and `scan`'s `KEY VALUE` lines split at their one space;
//! - hex: two digits a byte, either case, optionally after `0x` or `0X`
//!   (as `ldb --hex` prints and takes them); output is bare lowercase hex.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// How keys and values are given and printed: the global `--hex`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// Arguments as their bytes, output escaped ([`escape`]).
    Plain,
    /// Hex both ways.
    Hex,
}

/// Why a piece of text does not stand for bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum TextError {
    /// Hex with an odd number of digits.
    OddDigits,
    /// A character that is not a hex digit, at this byte position.
    NotHexDigit {
        /// Its position in the text (after any `0x`).
        at: usize,
    },
    /// A backslash not followed by a backslash or `xNN`, at this position.
    BadEscape {
        /// Its position in the text.
        at: usize,
    },
    /// A raw space, which escaped text never holds (a space is `\x20`).
    RawSpace {
        /// Its position in the text.
        at: usize,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::OddDigits => f.write_str("an odd number of hex digits"),
            TextError::NotHexDigit { at } => write!(f, "not a hex digit at position {at}"),
            TextError::BadEscape { at } => write!(
                f,
                "a backslash at position {at} is not followed by \\ or xNN"
            ),
            TextError::RawSpace { at } => {
                write!(f, "a space at position {at} (write a space as \\x20)")
            }
        }
    }
}

impl Notation {
    /// The bytes the command-line argument `arg` stands for; `what` names
    /// the argument in the usage error.
    pub fn parse_arg(self, what: &str, arg: &OsStr) -> Result<Vec<u8>, String> {
        match self {
            Notation::Plain => Ok(arg.as_bytes().to_vec()),
            Notation::Hex => {
                decode_hex(arg.as_bytes()).map_err(|e| format!("{what} {arg:?} is not hex: {e}"))
            }
        }
    }

    /// The bytes a field of an input line stands for: hex, or text as
    /// [`escape`] prints it.
    pub fn parse_text(self, text: &[u8]) -> Result<Vec<u8>, TextError> {
        match self {
            Notation::Plain => unescape(text),
            Notation::Hex => decode_hex(text),
        }
    }

    /// Bytes as text: bare lowercase hex, or [`escape`]d.
    pub fn show(self, bytes: &[u8]) -> String {
        match self {
            Notation::Plain => escape(bytes),
            Notation::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// The bytes hex digits stand for, after an optional `0x` or `0X`.
pub fn decode_hex(text: &[u8]) -> Result<Vec<u8>, TextError> {
    let digits = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .unwrap_or(text);
    if !digits.len().is_multiple_of(2) {
        return Err(TextError::OddDigits);
    }
    let nibble = |at: usize| hex_digit(digits[at]).ok_or(TextError::NotHexDigit { at });
    (0..digits.len())
        .step_by(2)
        .map(|at| Ok(nibble(at)? << 4 | nibble(at + 1)?))
        .collect()
}

/// Bytes as text: printable ASCII other than the space as is (a
/// backslash doubled), the rest, the space included, as `\xNN`, so that
/// a line of `scan` splits at its one space.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            0x21..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// The bytes [`escape`] printed as `text`. Any byte other than a
/// backslash or a space stands for itself, so hand-written text (tabs,
/// UTF-8) reads too; a space is refused, since it would make a line's
/// fields ambiguous.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        match text[at] {
            b' ' => return Err(TextError::RawSpace { at }),
            b'\\' => {
                let (byte, len) = escaped_byte(&text[at..]).ok_or(TextError::BadEscape { at })?;
                out.push(byte);
                at += len;
            }
            b => {
                out.push(b);
                at += 1;
            }
        }
    }
    Ok(out)
}

/// The byte the escape at the start of `text` stands for, and its length:
/// `\\` or `\xNN`.
fn escaped_byte(text: &[u8]) -> Option<(u8, usize)> {
    match text.get(1)? {
        b'\\' => Some((b'\\', 2)),
        b'x' => {
            let (hi, lo) = (hex_digit(*text.get(2)?)?, hex_digit(*text.get(3)?)?);
            Some((hi << 4 | lo, 4))
        }
        _ => None,
    }
}

/// The value of one hex digit, either case.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text in, the bytes it stands for (or the error) out, in each
    /// notation.
    fn check(notation: Notation, text: &str, expect: Result<&[u8], TextError>) {
        assert_eq!(
            notation.parse_text(text.as_bytes()),
            expect.map(<[u8]>::to_vec),
            "{text:?}"
        );
    }

    #[test]
    fn hex_takes_bare_and_0x_digits_of_either_case() {
        check(Notation::Hex, "6b6579", Ok(b"key"));
        check(Notation::Hex, "0x6B6579", Ok(b"key"));
        check(Notation::Hex, "0X00ff", Ok(b"\x00\xff"));
        check(Notation::Hex, "", Ok(b""));
        check(Notation::Hex, "0x", Ok(b""));
        check(Notation::Hex, "6b6", Err(TextError::OddDigits));
        check(Notation::Hex, "0x6g", Err(TextError::NotHexDigit { at: 1 }));
        check(Notation::Hex, "x0", Err(TextError::NotHexDigit { at: 0 }));
    }

    #[test]
    fn plain_text_reads_back_what_escape_prints() {
        for bytes in [
            &b""[..],
            b"apple",
            b"a b",
            b"\\x41",
            b"\x00\xff\n\\",
            b"\xc3\xa9",
        ] {
            let text = escape(bytes);
            assert!(!text.contains(' '), "{text}");
            assert_eq!(unescape(text.as_bytes()).as_deref(), Ok(bytes), "{text}");
        }
        check(Notation::Plain, "caf\u{e9}", Ok("caf\u{e9}".as_bytes()));
        check(
            Notation::Plain,
            "a\\x4",
            Err(TextError::BadEscape { at: 1 }),
        );
        check(Notation::Plain, "a\\q", Err(TextError::BadEscape { at: 1 }));
        check(
            Notation::Plain,
            "\\x0x",
            Err(TextError::BadEscape { at: 0 }),
        );
        check(Notation::Plain, "a b", Err(TextError::RawSpace { at: 1 }));
    }
}
