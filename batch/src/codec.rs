//! Encoding and checked decoding of records.
//!
//! Decoding works on untrusted bytes: every length is checked against what is
//! left before it is used, in `u64`/`usize` without overflow, and nothing is
//! allocated.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::format::{Kind, HEADER_LEN, MAX_VARINT32_LEN};
use crate::Record;

/// Appends one record's encoding to `out`.
///
/// # Panics
///
/// If the key or value is 4 GiB or longer.
pub(crate) fn encode_record(out: &mut Vec<u8>, record: Record<'_>) {
    out.push(record.kind() as u8);
    encode_bytes(out, record.key());
    if let Some(value) = record.value() {
        encode_bytes(out, value);
    }
}

fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("batch: key or value of 4 GiB or more");
    encode_varint32(out, len);
    out.extend_from_slice(bytes);
}

/// Appends `v` as a LEB128 varint, low 7-bit group first.
pub(crate) fn encode_varint32(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint32 from the front of `bytes`; returns it and its length.
/// `at` is the offset of `bytes[0]` in the whole batch, for errors.
fn decode_varint32(bytes: &[u8], at: usize) -> Result<(u32, usize), DecodeError> {
    let mut v: u32 = 0;
    for i in 0..MAX_VARINT32_LEN {
        let Some(&byte) = bytes.get(i) else {
            return Err(err(at, DecodeErrorKind::VarintTruncated));
        };
        // The fifth byte carries bits 28..32: anything above its low four bits
        // would overflow 32 bits.
        if i == MAX_VARINT32_LEN - 1 && byte > 0x0f {
            return Err(err(at, DecodeErrorKind::VarintTooLong));
        }
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(err(at, DecodeErrorKind::VarintTooLong))
}

/// Decodes a length-prefixed byte string from the front of `bytes`; returns
/// it and the bytes used.
fn decode_bytes(bytes: &[u8], at: usize) -> Result<(&[u8], usize), DecodeError> {
    let (len, n) = decode_varint32(bytes, at)?;
    let rest = &bytes[n..];
    if len as usize > rest.len() {
        return Err(err(
            at,
            DecodeErrorKind::LengthPastEnd {
                len,
                available: rest.len(),
            },
        ));
    }
    Ok((&rest[..len as usize], n + len as usize))
}

/// Decodes one record from the front of `bytes`; returns it and the bytes
/// used. `at` is the offset of `bytes[0]` in the whole batch, for errors.
pub(crate) fn decode_record(bytes: &[u8], at: usize) -> Result<(Record<'_>, usize), DecodeError> {
    let kind_byte = bytes[0];
    let Some(kind) = Kind::from_byte(kind_byte) else {
        return Err(err(at, DecodeErrorKind::UnknownKind { byte: kind_byte }));
    };
    let (key, key_used) = decode_bytes(&bytes[1..], at + 1)?;
    let mut used = 1 + key_used;
    let record = match kind {
        Kind::Delete => Record::Delete { key },
        Kind::Put => {
            let (value, value_used) = decode_bytes(&bytes[used..], at + used)?;
            used += value_used;
            Record::Put { key, value }
        }
    };
    Ok((record, used))
}

/// Checks that `bytes` is a whole, well-formed batch; returns its
/// `internal_len` and its longest key's length.
pub(crate) fn validate(bytes: &[u8]) -> Result<(usize, usize), DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(err(0, DecodeErrorKind::HeaderTooShort { len: bytes.len() }));
    }
    let header_count = u32::from_le_bytes(bytes[8..HEADER_LEN].try_into().unwrap());
    let mut at = HEADER_LEN;
    let mut found: u64 = 0;
    let mut internal_len = 0usize;
    let mut max_key_len = 0usize;
    while at < bytes.len() {
        if found == u64::from(header_count) {
            // More records than the header says: report at the first extra one.
            return Err(err(
                at,
                DecodeErrorKind::CountMismatch {
                    header: header_count,
                    found: found + 1,
                },
            ));
        }
        let (record, used) = decode_record(&bytes[at..], at)?;
        internal_len += record.internal_len();
        max_key_len = max_key_len.max(record.key().len());
        at += used;
        found += 1;
    }
    if found != u64::from(header_count) {
        return Err(err(
            at,
            DecodeErrorKind::CountMismatch {
                header: header_count,
                found,
            },
        ));
    }
    Ok((internal_len, max_key_len))
}

fn err(offset: usize, kind: DecodeErrorKind) -> DecodeError {
    DecodeError { offset, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint32_round_trips_at_every_width() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            (1 << 21) - 1,
            1 << 21,
            1 << 28,
            u32::MAX,
        ] {
            let mut out = Vec::new();
            encode_varint32(&mut out, v);
            assert!(out.len() <= MAX_VARINT32_LEN);
            assert_eq!(decode_varint32(&out, 0).unwrap(), (v, out.len()));
        }
    }

    #[test]
    fn varint32_rejects_overflow_and_truncation() {
        assert_eq!(
            decode_varint32(&[0xff, 0xff, 0xff, 0xff, 0x10], 7).unwrap_err(),
            err(7, DecodeErrorKind::VarintTooLong)
        );
        assert_eq!(
            decode_varint32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 0).unwrap_err(),
            err(0, DecodeErrorKind::VarintTooLong)
        );
        assert_eq!(
            decode_varint32(&[0x80, 0x80], 3).unwrap_err(),
            err(3, DecodeErrorKind::VarintTruncated)
        );
        assert_eq!(
            decode_varint32(&[], 0).unwrap_err(),
            err(0, DecodeErrorKind::VarintTruncated)
        );
    }
}
