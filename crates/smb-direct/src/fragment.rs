//! Splitting one upper-layer message into data transfer messages (MS-SMBD 3.1.4.2, 3.1.5.1).
//!
//! Every fragment carries RemainingDataLength = the bytes of the message that follow it, so
//! the values count down to 0 on the last fragment. The fragments of one message are sent
//! back to back: [`crate::Connection`] takes fragments only from the message at the head of
//! its queue, and never slips an empty (credit-only or keepalive) message between two
//! fragments; a grant or a keepalive rides on the next fragment instead. An empty message
//! inside a fragment sequence, carrying RemainingDataLength 0, is what corrupted
//! multi-fragment sends in ksmbd until 2026.

/// An upper-layer message being sent, and how much of it has gone out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    data: Vec<u8>,
    sent: usize,
}

/// One fragment: its payload and the RemainingDataLength to put in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub payload: &'a [u8],
    pub remaining_data_length: u32,
}

impl OutgoingMessage {
    /// Wraps a message. The caller has checked its length against the peer's
    /// MaxFragmentedSize (a `u32`), so RemainingDataLength always fits.
    pub fn new(data: Vec<u8>) -> Self {
        OutgoingMessage { data, sent: 0 }
    }

    /// Total length of the message.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for a zero-length message (which [`crate::Connection`] never queues).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes not yet handed out in a fragment.
    pub fn unsent(&self) -> usize {
        self.data.len().saturating_sub(self.sent)
    }

    /// True once the first fragment went out and the last did not: the message is on the
    /// wire and nothing else may be sent until it is complete.
    pub fn in_progress(&self) -> bool {
        self.sent > 0 && self.unsent() > 0
    }

    /// True once every byte went out.
    pub fn is_done(&self) -> bool {
        self.unsent() == 0
    }

    /// The next fragment of at most `max_payload` bytes (at least 1), without consuming it.
    pub fn peek(&self, max_payload: usize) -> Option<Fragment<'_>> {
        let rest = self.data.get(self.sent..)?;
        if rest.is_empty() {
            return None;
        }
        let take = rest.len().min(max_payload.max(1));
        let (payload, after) = rest.split_at(take);
        Some(Fragment {
            payload,
            remaining_data_length: u32::try_from(after.len()).unwrap_or(u32::MAX),
        })
    }

    /// Marks the next fragment of at most `max_payload` bytes as sent.
    pub fn advance(&mut self, max_payload: usize) {
        let take = self.unsent().min(max_payload.max(1));
        self.sent = self.sent.saturating_add(take);
    }
}

/// Every fragment of `data` at `max_payload` bytes each (a helper for tests and tools).
pub fn split(data: &[u8], max_payload: usize) -> Vec<Fragment<'_>> {
    let step = max_payload.max(1);
    let mut out = Vec::with_capacity(data.len().div_ceil(step));
    let mut rest = data;
    while !rest.is_empty() {
        let take = rest.len().min(step);
        let (payload, after) = rest.split_at(take);
        out.push(Fragment {
            payload,
            remaining_data_length: u32::try_from(after.len()).unwrap_or(u32::MAX),
        });
        rest = after;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_to_zero_on_every_fragment() {
        let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let mut m = OutgoingMessage::new(data.clone());
        let mut seen = Vec::new();
        let mut remaining = Vec::new();
        assert!(!m.in_progress());
        while let Some(f) = m.peek(1000) {
            seen.extend_from_slice(f.payload);
            remaining.push(f.remaining_data_length);
            m.advance(1000);
            assert_eq!(m.in_progress(), !m.is_done());
        }
        assert_eq!(remaining, [1500, 500, 0]);
        assert_eq!(seen, data);
        assert!(m.is_done());
    }

    #[test]
    fn split_matches_incremental_fragmentation() {
        let data = vec![7u8; 10_001];
        for max in [1usize, 2, 3, 1340, 10_000, 10_001, 20_000] {
            let frags = split(&data, max);
            let mut m = OutgoingMessage::new(data.clone());
            for f in &frags {
                assert_eq!(m.peek(max).unwrap(), *f);
                m.advance(max);
            }
            assert!(m.peek(max).is_none());
            // Invariant of every sequence: each RemainingDataLength is the previous one
            // minus this fragment's length, and the last is 0.
            let mut expect = data.len();
            for f in &frags {
                expect -= f.payload.len();
                assert_eq!(f.remaining_data_length as usize, expect);
            }
            assert_eq!(expect, 0);
            assert_eq!(frags.len(), data.len().div_ceil(max));
        }
    }

    #[test]
    fn single_fragment_message() {
        let frags = split(b"abc", 100);
        assert_eq!(
            frags,
            [Fragment {
                payload: b"abc",
                remaining_data_length: 0
            }]
        );
        assert!(split(b"", 100).is_empty());
    }

    #[test]
    fn zero_max_payload_still_makes_progress() {
        let mut m = OutgoingMessage::new(vec![1, 2]);
        assert_eq!(m.peek(0).unwrap().payload, &[1]);
        m.advance(0);
        assert_eq!(m.peek(0).unwrap().payload, &[2]);
    }
}
