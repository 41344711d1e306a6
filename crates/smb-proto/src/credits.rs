//! The message-id window of one connection (MS-SMB2 3.3.1.1, 3.3.5.2.3).
//!
//! The server grants credits; each credit lets the client use one message id. A request
//! consumes `max(credit_charge, 1)` consecutive ids starting at its MessageId; every id may be
//! used once. The window is `[low, high)`: ids below `low` are spent, ids at or above `high`
//! were never granted. Ids inside the window that are already used are kept in a small set
//! until `low` passes them, so out-of-order use (async replies, multi-credit requests) works.

use std::collections::BTreeSet;

/// Why a request's message ids were refused: every case is a protocol violation that closes
/// the connection (Windows does the same; smbtorture's credit tests expect a disconnect or
/// an error, never a silent accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditError {
    /// The id range starts below the window or was used before.
    Reused,
    /// The id range reaches beyond what was granted.
    NotGranted,
    /// The charge is larger than the window could ever hold.
    ChargeTooLarge,
}

/// The message-id window.
#[derive(Debug, Clone)]
pub struct CreditWindow {
    low: u64,
    high: u64,
    used: BTreeSet<u64>,
    max_outstanding: u64,
}

impl CreditWindow {
    /// A new connection: message id 0 is granted (for NEGOTIATE).
    pub fn new(max_outstanding: u16) -> Self {
        Self {
            low: 0,
            high: 1,
            used: BTreeSet::new(),
            max_outstanding: u64::from(max_outstanding.max(1)),
        }
    }

    /// Credits the client holds now (granted, unused ids).
    pub fn outstanding(&self) -> u64 {
        (self.high - self.low).saturating_sub(self.used.len() as u64)
    }

    /// Consume `charge` ids starting at `message_id` (a charge of 0 counts as 1).
    pub fn consume(&mut self, message_id: u64, charge: u16) -> Result<(), CreditError> {
        let charge = u64::from(charge.max(1));
        if charge > self.max_outstanding {
            return Err(CreditError::ChargeTooLarge);
        }
        let end = message_id
            .checked_add(charge)
            .ok_or(CreditError::NotGranted)?;
        if message_id < self.low {
            return Err(CreditError::Reused);
        }
        if end > self.high {
            return Err(CreditError::NotGranted);
        }
        if self.used.range(message_id..end).next().is_some() {
            return Err(CreditError::Reused);
        }
        for id in message_id..end {
            self.used.insert(id);
        }
        while self.used.remove(&self.low) {
            self.low += 1;
        }
        Ok(())
    }

    /// Grant up to `requested` new credits (at least one when the client holds none, so it
    /// can never be starved), never letting the outstanding count pass the maximum.
    /// Returns the number granted, to be put in the response's CreditResponse.
    pub fn grant(&mut self, requested: u16) -> u16 {
        let outstanding = self.outstanding();
        let room = self.max_outstanding.saturating_sub(outstanding);
        let mut n = u64::from(requested).min(room);
        if n == 0 && outstanding == 0 {
            n = 1;
        }
        self.high += n;
        // `n` is at most `requested` (a u16) or 1.
        u16::try_from(n).unwrap_or(u16::MAX)
    }

    /// The lowest message id not yet used.
    pub fn low(&self) -> u64 {
        self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_then_sequential_requests() {
        let mut w = CreditWindow::new(512);
        assert_eq!(w.consume(0, 0), Ok(()));
        assert_eq!(w.grant(1), 1);
        assert_eq!(w.consume(1, 1), Ok(()));
        assert_eq!(w.grant(10), 10);
        assert_eq!(w.outstanding(), 10);
        for id in 2..12 {
            assert_eq!(w.consume(id, 1), Ok(()));
        }
        assert_eq!(w.consume(12, 1), Err(CreditError::NotGranted));
    }

    #[test]
    fn reuse_and_below_window_are_refused() {
        let mut w = CreditWindow::new(512);
        w.consume(0, 1).unwrap();
        w.grant(4);
        w.consume(3, 1).unwrap();
        assert_eq!(w.consume(3, 1), Err(CreditError::Reused));
        assert_eq!(w.consume(0, 1), Err(CreditError::Reused));
        w.consume(1, 2).unwrap();
        assert_eq!(w.low(), 4);
        w.consume(4, 1).unwrap();
        assert_eq!(w.outstanding(), 0);
    }

    #[test]
    fn multi_credit_request_needs_every_id_granted() {
        let mut w = CreditWindow::new(512);
        w.consume(0, 1).unwrap();
        w.grant(8);
        assert_eq!(w.consume(1, 9), Err(CreditError::NotGranted));
        assert_eq!(w.consume(1, 8), Ok(()));
        assert_eq!(w.consume(u64::MAX, 2), Err(CreditError::NotGranted));
        assert_eq!(w.consume(9, 600), Err(CreditError::ChargeTooLarge));
    }

    #[test]
    fn grants_are_capped_but_never_starve() {
        let mut w = CreditWindow::new(16);
        w.consume(0, 1).unwrap();
        assert_eq!(w.grant(1000), 16);
        assert_eq!(w.grant(5), 0);
        for id in 1..17 {
            w.consume(id, 1).unwrap();
        }
        assert_eq!(w.grant(0), 1);
    }
}
