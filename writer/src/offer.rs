//! A write as the protocol sees it: the caller's own write ([`Own`],
//! borrowed), a write offered to a leader ([`Offer`], owned), and what the
//! caller asked of it ([`Durability`], [`Merge`]).

use batch::{Batch, Record};

use crate::{Options, WriteOptions, MERGE_LIMIT_LARGE};

/// Whether a write returns only after an fsync that covers it
/// ([`WriteOptions::sync`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Returned once journaled and applied, whether or not the journal was
    /// synced since.
    Buffered,
    /// Returned only after an fsync that covers it.
    Synced,
}

impl Durability {
    /// What `opts` asks.
    pub(crate) fn of(opts: WriteOptions) -> Durability {
        if opts.sync {
            Durability::Synced
        } else {
            Durability::Buffered
        }
    }

    /// The durability of a group holding writes of `self` and `other`: a
    /// group syncs if any member asked (goleveldb ORs the sync flags).
    pub(crate) fn or(self, other: Durability) -> Durability {
        if other == Durability::Synced {
            Durability::Synced
        } else {
            self
        }
    }
}

/// Whether a write may share a group with others ([`Options::merge`] and
/// [`WriteOptions::merge`] together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Merge {
    /// The write is offered to the leader, and when it leads, it merges the
    /// writes waiting behind it.
    Allowed,
    /// The write neither offers itself nor merges others: it waits for the
    /// write lock and is a group of its own.
    Alone,
}

impl Merge {
    /// Allowed only when both the writer's `options` and the write's `opts`
    /// allow it.
    pub(crate) fn of(options: Options, opts: WriteOptions) -> Merge {
        if opts.merge && options.merge {
            Merge::Allowed
        } else {
            Merge::Alone
        }
    }
}

/// The caller's own write, borrowed: what a leader writes first in its group.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Own<'a> {
    /// A batch (`write`). Never empty: empty batches return before the
    /// protocol.
    Batch(&'a Batch),
    /// A single put or delete (`put`, `delete`): goleveldb's `putRec` path,
    /// which builds no batch for the write.
    Record(Record<'a>),
}

impl Own<'_> {
    pub(crate) fn internal_len(&self) -> usize {
        match self {
            Own::Batch(batch) => batch.internal_len(),
            Own::Record(record) => record.internal_len(),
        }
    }

    pub(crate) fn n_records(&self) -> usize {
        match self {
            Own::Batch(batch) => batch.len(),
            Own::Record(_) => 1,
        }
    }

    /// Appends this write's records to the end of `group`.
    pub(crate) fn append_to(&self, group: &mut Batch) {
        match *self {
            Own::Batch(batch) => group.append(batch),
            Own::Record(record) => group.push(record),
        }
    }
}

/// A write offered to the leader (an element of goleveldb's `writeMerge`):
/// an owned copy of what the leader needs, since it cannot borrow from
/// another thread's stack.
///
/// Copying is the writer's own work, done before it queues, in parallel with
/// the leader. A single put or delete is copied as its key and value, not as
/// a batch: the leader pushes the record straight into its group
/// (goleveldb's `putRec` merge path).
#[derive(Debug)]
pub(crate) struct Offer {
    /// What the leader appends to its group.
    data: OfferData,
    /// The write's internal length, what the merge limit counts.
    pub(crate) internal_len: usize,
    /// The write's record count.
    pub(crate) n_records: usize,
    /// What the write asked; OR-ed into the group's.
    pub(crate) durability: Durability,
}

#[derive(Debug)]
enum OfferData {
    /// A copy of the caller's batch.
    Batch(Batch),
    /// A put: the key, then the value, in one buffer.
    Put {
        key_and_value: Vec<u8>,
        key_len: usize,
    },
    /// A delete: the key.
    Delete { key: Vec<u8> },
    /// A write that no leader can merge: merging is off for it, or it is
    /// larger than any merge limit. It only waits for the write lock, so it
    /// is not copied.
    Unmergeable,
}

impl Offer {
    /// Copies `own` for a leader, or not when it must be [`Merge::Alone`]
    /// or is too large for any group.
    pub(crate) fn new(own: Own<'_>, durability: Durability, merge: Merge) -> Offer {
        let internal_len = own.internal_len();
        let data = if merge == Merge::Alone || internal_len > MERGE_LIMIT_LARGE {
            OfferData::Unmergeable
        } else {
            match own {
                Own::Batch(batch) => OfferData::Batch(batch.clone()),
                Own::Record(Record::Put { key, value }) => {
                    let mut key_and_value = Vec::with_capacity(key.len() + value.len());
                    key_and_value.extend_from_slice(key);
                    key_and_value.extend_from_slice(value);
                    OfferData::Put {
                        key_and_value,
                        key_len: key.len(),
                    }
                }
                Own::Record(Record::Delete { key }) => OfferData::Delete { key: key.to_vec() },
            }
        };
        Offer {
            data,
            internal_len,
            n_records: own.n_records(),
            durability,
        }
    }

    /// An offer that carries no write: a maintenance task waiting for the
    /// write lock.
    pub(crate) fn lock_only() -> Offer {
        Offer {
            data: OfferData::Unmergeable,
            internal_len: 0,
            n_records: 0,
            durability: Durability::Buffered,
        }
    }

    /// Whether a leader with `limit` internal bytes of merge room left and
    /// `n_records` records in its group can merge this write: it must fit
    /// the limit (`>` overflows, equal fits, as in goleveldb) and the
    /// batch's `u32` record count.
    pub(crate) fn fits(&self, limit: usize, n_records: usize) -> bool {
        !matches!(self.data, OfferData::Unmergeable)
            && self.internal_len <= limit
            && n_records
                .checked_add(self.n_records)
                .is_some_and(|n| n <= u32::MAX as usize)
    }

    /// Appends the offered write's records to the end of `group`.
    ///
    /// # Panics
    ///
    /// If the write is [`Unmergeable`](OfferData::Unmergeable); the leader
    /// checks [`fits`](Offer::fits) first.
    pub(crate) fn append_to(&self, group: &mut Batch) {
        match &self.data {
            OfferData::Batch(batch) => group.append(batch),
            OfferData::Put {
                key_and_value,
                key_len,
            } => {
                let (key, value) = key_and_value.split_at(*key_len);
                group.push(Record::Put { key, value });
            }
            OfferData::Delete { key } => group.push(Record::Delete { key }),
            OfferData::Unmergeable => unreachable!("an unmergeable write was merged"),
        }
    }
}

/// Checks that `own` can be encoded, before it joins any queue: keys and
/// values are varint32-length-prefixed, so each must be under 4 GiB.
/// Batches were checked when built.
pub(crate) fn validate(own: Own<'_>) -> Result<(), crate::WriteError> {
    if let Own::Record(record) = own {
        let too_large = |len: usize| u32::try_from(len).is_err();
        let key_len = record.key().len();
        let value_len = record.value().map_or(0, <[u8]>::len);
        for len in [key_len, value_len] {
            if too_large(len) {
                return Err(crate::WriteError::TooLarge { len });
            }
        }
    }
    Ok(())
}
