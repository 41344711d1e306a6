//! Putting received fragments back into upper-layer messages (MS-SMBD 3.1.5.8).
//!
//! Rules, each a disconnect when broken:
//! - DataLength + RemainingDataLength of every fragment is at most our MaxFragmentedSize,
//!   so a message can never grow past it (the buffer is bounded before it is appended to).
//! - Inside a sequence, each fragment's DataLength + RemainingDataLength equals the previous
//!   fragment's RemainingDataLength: the sender may not change its mind about the total.
//!
//! A message without payload (a credit grant or keepalive) is not a fragment: it neither
//! starts, continues nor ends a sequence, whatever its RemainingDataLength says. Receivers
//! that treated such a message as the end of a sequence handed truncated messages upward.

/// Why a fragment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    #[error("fragment announces a {total}-byte message, at most {max} allowed")]
    TooLarge { total: u64, max: u32 },
    #[error(
        "fragment of {length} bytes with {remaining} remaining, but {expected} were announced"
    )]
    Inconsistent {
        length: u32,
        remaining: u32,
        expected: u32,
    },
}

/// The reassembly buffer of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembler {
    max: u32,
    buf: Vec<u8>,
    /// RemainingDataLength of the last fragment while a sequence is open.
    expected: Option<u32>,
}

impl Reassembler {
    /// A reassembler for messages of at most `max_fragmented_size` bytes.
    pub fn new(max_fragmented_size: u32) -> Self {
        Reassembler {
            max: max_fragmented_size,
            buf: Vec::new(),
            expected: None,
        }
    }

    /// True while a fragmented message is partly received.
    pub fn in_progress(&self) -> bool {
        self.expected.is_some()
    }

    /// Bytes held for the message being reassembled.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Rule (3.1.5.8): DataLength + RemainingDataLength within MaxFragmentedSize.
    pub fn check_size(&self, length: u32, remaining: u32) -> Result<(), ReassemblyError> {
        let total = u64::from(length) + u64::from(remaining);
        if total > u64::from(self.max) {
            return Err(ReassemblyError::TooLarge {
                total,
                max: self.max,
            });
        }
        Ok(())
    }

    /// Rule: a continuing fragment must agree with what the previous one announced.
    pub fn check_continuation(&self, length: u32, remaining: u32) -> Result<(), ReassemblyError> {
        match self.expected {
            Some(expected) if u64::from(length) + u64::from(remaining) != u64::from(expected) => {
                Err(ReassemblyError::Inconsistent {
                    length,
                    remaining,
                    expected,
                })
            }
            _ => Ok(()),
        }
    }

    /// Feeds one received payload with its RemainingDataLength; returns the complete
    /// message when this was its last fragment.
    pub fn push(
        &mut self,
        payload: &[u8],
        remaining: u32,
    ) -> Result<Option<Vec<u8>>, ReassemblyError> {
        let length = u32::try_from(payload.len()).map_err(|_| ReassemblyError::TooLarge {
            total: payload.len() as u64,
            max: self.max,
        })?;
        self.check_size(length, remaining)?;
        if payload.is_empty() {
            return Ok(None);
        }
        self.check_continuation(length, remaining)?;
        if remaining == 0 {
            self.expected = None;
            if self.buf.is_empty() {
                return Ok(Some(payload.to_vec()));
            }
            self.buf.extend_from_slice(payload);
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        self.buf.extend_from_slice(payload);
        self.expected = Some(remaining);
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::fragment::split;

    #[test]
    fn single_fragment_message_passes_through() {
        let mut r = Reassembler::new(1 << 20);
        assert_eq!(r.push(b"hello", 0).unwrap(), Some(b"hello".to_vec()));
        assert!(!r.in_progress());
    }

    #[test]
    fn fragments_reassemble_in_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut r = Reassembler::new(1 << 20);
        let frags = split(&data, 1340);
        for (i, f) in frags.iter().enumerate() {
            let out = r.push(f.payload, f.remaining_data_length).unwrap();
            if i + 1 == frags.len() {
                assert_eq!(out.as_deref(), Some(&data[..]));
            } else {
                assert_eq!(out, None);
                assert!(r.in_progress());
            }
        }
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn announced_size_above_the_limit_is_refused_before_buffering() {
        let mut r = Reassembler::new(131_072);
        assert_eq!(
            r.push(&[0; 100], 131_000),
            Err(ReassemblyError::TooLarge {
                total: 131_100,
                max: 131_072
            })
        );
        assert_eq!(r.buffered(), 0);
        // Exactly at the limit is fine.
        assert_eq!(r.push(&[0; 72], 131_000).unwrap(), None);
        // u32::MAX remaining does not overflow the check.
        assert!(matches!(
            Reassembler::new(131_072).push(&[0; 8], u32::MAX),
            Err(ReassemblyError::TooLarge { .. })
        ));
    }

    #[test]
    fn remaining_must_count_down_consistently() {
        let mut r = Reassembler::new(1 << 20);
        r.push(&[1; 100], 300).unwrap();
        // 100 + 150 != 300.
        assert_eq!(
            r.push(&[2; 100], 150),
            Err(ReassemblyError::Inconsistent {
                length: 100,
                remaining: 150,
                expected: 300
            })
        );
        let mut r = Reassembler::new(1 << 20);
        r.push(&[1; 100], 300).unwrap();
        // Claims to finish early.
        assert!(matches!(
            r.push(&[2; 100], 0),
            Err(ReassemblyError::Inconsistent { .. })
        ));
        let mut r = Reassembler::new(1 << 20);
        r.push(&[1; 100], 300).unwrap();
        // Grows the message.
        assert!(matches!(
            r.push(&[2; 100], 250),
            Err(ReassemblyError::Inconsistent { .. })
        ));
    }

    /// The receive half of the multi-fragment corruption: a credit-only message with
    /// RemainingDataLength 0 between fragments must not end (or truncate) the message.
    #[test]
    fn empty_message_inside_a_sequence_changes_nothing() {
        let data = vec![9u8; 3000];
        let frags = split(&data, 1000);
        let mut r = Reassembler::new(1 << 20);
        assert_eq!(
            r.push(frags[0].payload, frags[0].remaining_data_length)
                .unwrap(),
            None
        );
        assert_eq!(r.push(&[], 0).unwrap(), None);
        assert_eq!(r.push(&[], 12345).unwrap(), None);
        assert!(r.in_progress());
        assert_eq!(
            r.push(frags[1].payload, frags[1].remaining_data_length)
                .unwrap(),
            None
        );
        assert_eq!(
            r.push(frags[2].payload, 0).unwrap().as_deref(),
            Some(&data[..])
        );
    }

    #[test]
    fn empty_message_outside_a_sequence_is_nothing() {
        let mut r = Reassembler::new(1 << 20);
        assert_eq!(r.push(&[], 0).unwrap(), None);
        assert!(!r.in_progress());
        // Still bounded, even without payload.
        assert!(r.push(&[], u32::MAX).is_err());
    }
}
