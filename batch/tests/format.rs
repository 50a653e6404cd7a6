//! Golden vectors, malformed inputs and property tests for the batch format.

use batch::{Batch, DecodeError, DecodeErrorKind, Record, SeqNum, HEADER_LEN};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The vector from goleveldb's batch tests, as read in
/// `goleveldb-write-path.md`: `Put("foo","bar"), Delete("k")` at seq 1.
#[test]
fn goleveldb_vector_encodes_byte_for_byte() {
    let mut b = Batch::new();
    b.put(b"foo", b"bar");
    b.delete(b"k");
    b.set_seq(SeqNum(1));
    let want = hex("0100000000000000 02000000 01 03 666f6f 03 626172 00 01 6b");
    assert_eq!(b.as_bytes(), &want[..]);
    assert_eq!(b.as_bytes().len(), 24);
    assert_eq!(b.internal_len(), 23);
    assert_eq!(Batch::decode(&want).unwrap(), b);
}

/// Hand-derived from the format: an empty batch, an empty key and value, a
/// key of 300 bytes (two-byte varint `ac 02`), and a large sequence number.
#[test]
fn hand_derived_vectors() {
    let empty = Batch::new();
    assert_eq!(empty.as_bytes(), &[0u8; 12][..]);
    assert!(empty.is_empty());
    assert_eq!(empty.internal_len(), 0);

    let mut b = Batch::new();
    b.put(b"", b"");
    b.set_seq(SeqNum(0x0102_0304_0506_0708));
    assert_eq!(b.as_bytes(), &hex("0807060504030201 01000000 01 00 00")[..]);
    assert_eq!(b.internal_len(), 8);

    let key = vec![b'x'; 300];
    let mut b = Batch::new();
    b.delete(&key);
    let mut want = hex("0000000000000000 01000000 00 ac02");
    want.extend_from_slice(&key);
    assert_eq!(b.as_bytes(), &want[..]);
    assert_eq!(b.internal_len(), 308);
}

#[test]
fn records_and_accessors() {
    let mut b = Batch::new();
    b.put(b"a", b"1");
    b.delete(b"b");
    b.push(Record::Put {
        key: b"c",
        value: b"33",
    });
    let got: Vec<_> = b.records().collect();
    assert_eq!(
        got,
        vec![
            Record::Put {
                key: b"a",
                value: b"1"
            },
            Record::Delete { key: b"b" },
            Record::Put {
                key: b"c",
                value: b"33"
            },
        ]
    );
    assert_eq!(b.records().len(), 3);
    assert_eq!(got[2].internal_len(), 11);
    assert_eq!(got[1].value(), None);
    let mut out = vec![0xee];
    b.encode_into(&mut out);
    assert_eq!(&out[1..], b.as_bytes());
    assert_eq!(b.records_bytes(), &b.as_bytes()[HEADER_LEN..]);
    b.clear();
    assert!(b.is_empty());
    assert_eq!(b.as_bytes(), &[0u8; 12][..]);
    assert_eq!(b.internal_len(), 0);
}

#[test]
fn seq_arithmetic_stops_at_max() {
    assert_eq!(SeqNum(1).checked_add(2), Some(SeqNum(3)));
    assert_eq!(
        SeqNum(batch::MAX_SEQ).checked_add(0),
        Some(SeqNum(batch::MAX_SEQ))
    );
    assert_eq!(SeqNum(batch::MAX_SEQ).checked_add(1), None);
    assert_eq!(SeqNum(u64::MAX).checked_add(1), None);
}

/// Every malformed case of FORMATS.md, each with its offset and fault.
#[test]
fn malformed_inputs_are_rejected_with_offset_and_fault() {
    let cases: &[(&str, &str, usize, DecodeErrorKind)] = &[
        (
            "empty input",
            "",
            0,
            DecodeErrorKind::HeaderTooShort { len: 0 },
        ),
        (
            "header of 11 bytes",
            "0000000000000000 000000",
            0,
            DecodeErrorKind::HeaderTooShort { len: 11 },
        ),
        (
            "unknown kind",
            "0000000000000000 01000000 02 01 61",
            12,
            DecodeErrorKind::UnknownKind { byte: 2 },
        ),
        (
            "kind 0xff",
            "0000000000000000 01000000 ff",
            12,
            DecodeErrorKind::UnknownKind { byte: 0xff },
        ),
        (
            "truncated key varint",
            "0000000000000000 01000000 01 80",
            13,
            DecodeErrorKind::VarintTruncated,
        ),
        (
            "missing key length",
            "0000000000000000 01000000 00",
            13,
            DecodeErrorKind::VarintTruncated,
        ),
        (
            "varint of six bytes",
            "0000000000000000 01000000 00 8080808080 00",
            13,
            DecodeErrorKind::VarintTooLong,
        ),
        (
            "varint overflowing 32 bits",
            "0000000000000000 01000000 00 ffffffff1f",
            13,
            DecodeErrorKind::VarintTooLong,
        ),
        (
            "key past end",
            "0000000000000000 01000000 00 05 6162",
            13,
            DecodeErrorKind::LengthPastEnd {
                len: 5,
                available: 2,
            },
        ),
        (
            "huge key length",
            "0000000000000000 01000000 00 ffffffff0f 61",
            13,
            DecodeErrorKind::LengthPastEnd {
                len: u32::MAX,
                available: 1,
            },
        ),
        (
            "missing value",
            "0000000000000000 01000000 01 01 61",
            15,
            DecodeErrorKind::VarintTruncated,
        ),
        (
            "value past end",
            "0000000000000000 01000000 01 01 61 03 6263",
            15,
            DecodeErrorKind::LengthPastEnd {
                len: 3,
                available: 2,
            },
        ),
        (
            "count larger than records",
            "0000000000000000 02000000 00 01 61",
            15,
            DecodeErrorKind::CountMismatch {
                header: 2,
                found: 1,
            },
        ),
        (
            "count smaller than records",
            "0000000000000000 01000000 00 01 61 00 01 62",
            15,
            DecodeErrorKind::CountMismatch {
                header: 1,
                found: 2,
            },
        ),
        (
            "count on an empty body",
            "0000000000000000 01000000",
            12,
            DecodeErrorKind::CountMismatch {
                header: 1,
                found: 0,
            },
        ),
        (
            "trailing garbage after the counted records",
            "0000000000000000 00000000 07",
            12,
            DecodeErrorKind::CountMismatch {
                header: 0,
                found: 1,
            },
        ),
    ];
    for (name, input, offset, kind) in cases {
        let got = Batch::decode(&hex(input));
        let want = DecodeError {
            offset: *offset,
            kind: kind.clone(),
        };
        assert_eq!(got, Err(want), "case {name:?}");
        // The message says what and where.
        let msg = got.unwrap_err().to_string();
        assert!(
            msg.contains(&format!("offset {offset}")),
            "case {name:?}: {msg}"
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        (bytes(), bytes()).prop_map(|(k, v)| Op::Put(k, v)),
        bytes().prop_map(Op::Delete),
    ]
}

fn build(seq: u64, ops: &[Op]) -> Batch {
    let mut b = Batch::new();
    for op in ops {
        match op {
            Op::Put(k, v) => b.put(k, v),
            Op::Delete(k) => b.delete(k),
        }
    }
    b.set_seq(SeqNum(seq));
    b
}

fn expected_max_key_len(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Put(k, _) | Op::Delete(k) => k.len(),
        })
        .max()
        .unwrap_or(0)
}

fn expected_internal_len(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Put(k, v) => k.len() + v.len() + 8,
            Op::Delete(k) => k.len() + 8,
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// decode(encode(b)) == b, and the header holds the count and seq.
    #[test]
    fn decode_inverts_encode(seq in any::<u64>(), ops in proptest::collection::vec(op(), 0..20)) {
        let b = build(seq, &ops);
        let d = Batch::decode(b.as_bytes()).unwrap();
        prop_assert_eq!(&d, &b);
        prop_assert_eq!(d.len(), ops.len());
        prop_assert_eq!(d.seq(), SeqNum(seq));
        prop_assert_eq!(d.internal_len(), expected_internal_len(&ops));
        prop_assert_eq!(d.max_key_len(), expected_max_key_len(&ops));
        prop_assert_eq!(b.max_key_len(), expected_max_key_len(&ops));
        for (record, op) in d.records().zip(&ops) {
            match op {
                Op::Put(k, v) => prop_assert_eq!(record, Record::Put { key: k, value: v }),
                Op::Delete(k) => prop_assert_eq!(record, Record::Delete { key: k }),
            }
        }
    }

    /// append(a, b) is the batch of a's records followed by b's.
    #[test]
    fn append_is_concatenation(
        a in proptest::collection::vec(op(), 0..10),
        b in proptest::collection::vec(op(), 0..10),
        seq in any::<u64>(),
    ) {
        let mut merged = build(seq, &a);
        merged.append(&build(seq.wrapping_add(99), &b));
        let all: Vec<Op> = a.iter().chain(&b).cloned().collect();
        prop_assert_eq!(&merged, &build(seq, &all));
        prop_assert_eq!(merged.internal_len(), expected_internal_len(&all));
        prop_assert_eq!(merged.max_key_len(), expected_max_key_len(&all));
    }

    /// Any bytes at all: decode returns a batch or an error, never panics,
    /// and a batch it returns re-encodes to the same bytes.
    #[test]
    fn decode_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(b) = Batch::decode(&bytes) {
            prop_assert_eq!(b.as_bytes(), &bytes[..]);
        }
    }

    /// Damage to a valid batch: every truncation is rejected, and a flipped
    /// byte either is rejected or decodes to a batch with the same bytes.
    #[test]
    fn damaged_batches_are_rejected_or_exact(
        ops in proptest::collection::vec(op(), 1..6),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        mask in 1u8..,
    ) {
        let b = build(7, &ops);
        let bytes = b.as_bytes();
        let cut = cut.index(bytes.len());
        prop_assert!(Batch::decode(&bytes[..cut]).is_err());
        let mut flipped = bytes.to_vec();
        let at = flip.index(bytes.len());
        flipped[at] ^= mask;
        if let Ok(d) = Batch::decode(&flipped) {
            prop_assert_eq!(d.as_bytes(), &flipped[..]);
        }
    }
}
