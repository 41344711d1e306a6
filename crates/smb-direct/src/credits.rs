//! The credit state machine of MS-SMBD (3.1.5.1, 3.1.5.8, 3.1.5.9), one method per rule.
//!
//! Two independent ledgers:
//!
//! - **Send credits** (Connection.SendCredits): granted to us by the peer, one spent per
//!   message we send. Without one we send nothing.
//! - **Receive credits**: `posted` receive buffers the driver has handed to the RDMA
//!   provider, and `granted` credits the peer holds (Connection.ReceiveCredits: granted by
//!   us, not yet used by a message from the peer). Every grant is backed by a posted buffer:
//!   `granted <= posted` always holds, so the peer can never send into a missing buffer.
//!
//! The rules, and the failure each one prevents (the three 2026 ksmbd/cifs fixes among them):
//!
//! - [`Credits::available_to_grant`] / [`Credits::take_grant`]: credits are granted only
//!   from buffers that are posted *and* not yet promised, counted at the moment the packet
//!   is built. Deriving grants from a target minus what was granted, or from a posted count
//!   that a completion has already consumed, over-grants: the credit-granting race.
//! - [`Credits::may_spend_send_credit`]: the last send credit is spent only by a message
//!   that grants the peer at least one credit; otherwise neither side could ever send again
//!   (the last-send-credit deadlock). [`Credits::receives_to_post`] asks the driver for one
//!   more receive when that is what stands in the way.
//! - [`Credits::should_request_response`]: a message that spends our last credit with more
//!   queued behind it sets SMB_DIRECT_RESPONSE_REQUESTED so the peer answers promptly with
//!   new credits.
//! - [`Credits::consume_receive`]: a peer that sends without holding a credit is cut off.
//! - [`Credits::accept_grant`]: a peer's grants are bounded (no overflow, no absurd totals).
//! - [`Credits::set_receive_credit_target`]: the peer's CreditsRequested is clamped to
//!   1..=ReceiveCreditMax.
//! - [`Credits::needs_credit_refresh`]: when the peer runs out (or low, while we are well
//!   supplied) and we have nothing queued, send a credit-only message; the hysteresis
//!   prevents two idle peers from bouncing empty messages forever.
//! - [`Credits::is_deadlocked`]: neither side holds a send credit: the peer spent its last
//!   credit without granting any, and the connection can never move again.

/// The most send credits we accept to hold: more than any real peer grants, and the most a
/// 16-bit CreditsRequested could ever have asked for.
pub const MAX_SEND_CREDITS: u32 = u16::MAX as u32;

/// A credit rule the peer (or the driver) broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    #[error("peer sent a message without holding a receive credit")]
    NoReceiveCredit,
    #[error("a receive completed with no receive buffer posted")]
    ReceiveNotPosted,
    #[error("peer granted {granted} send credits on top of {held}, more than {MAX_SEND_CREDITS}")]
    GrantOverflow { held: u32, granted: u16 },
    #[error("credit deadlock: the peer spent its last credit without granting any")]
    Deadlock,
}

/// Both credit ledgers of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credits {
    send_credits: u32,
    send_credit_target: u16,
    posted: u32,
    granted: u32,
    receive_credit_target: u16,
    receive_credit_max: u16,
}

impl Credits {
    /// A fresh ledger: no send credits, nothing posted, and a receive target of one buffer
    /// (for the negotiate message) until the peer says how many it wants.
    pub fn new(send_credit_target: u16, receive_credit_max: u16) -> Self {
        Credits {
            send_credits: 0,
            send_credit_target: send_credit_target.max(1),
            posted: 0,
            granted: 0,
            receive_credit_target: 1,
            receive_credit_max: receive_credit_max.max(1),
        }
    }

    /// Send credits we hold.
    pub fn send_credits(&self) -> u32 {
        self.send_credits
    }

    /// What we ask the peer for in every CreditsRequested.
    pub fn send_credit_target(&self) -> u16 {
        self.send_credit_target
    }

    /// Receive buffers posted and not yet consumed by a received message.
    pub fn posted(&self) -> u32 {
        self.posted
    }

    /// Credits the peer holds: granted by us, not yet used.
    pub fn granted(&self) -> u32 {
        self.granted
    }

    /// How many credits the peer wants to hold (clamped).
    pub fn receive_credit_target(&self) -> u16 {
        self.receive_credit_target
    }

    // ---- receive side -------------------------------------------------------------------

    /// The driver posted `n` more receive buffers (call it after the post succeeded, never
    /// before: a credit for a buffer that is not there yet is the granting race again).
    pub fn receive_posted(&mut self, n: u32) {
        self.posted = self.posted.saturating_add(n);
    }

    /// The most receives we post and credits we grant: ReceiveCreditMax, plus the one
    /// extra receive 3.1.5.9 demands when our last send credit needs a grant to go out.
    fn receive_limit(&self) -> u32 {
        u32::from(self.receive_credit_max).saturating_add(1)
    }

    /// Rule: credits we may grant now = posted buffers not yet promised to the peer, and
    /// never so many that the peer would hold more than the receive limit.
    pub fn available_to_grant(&self) -> u16 {
        let unpromised = self.posted.saturating_sub(self.granted);
        let room = self.receive_limit().saturating_sub(self.granted);
        u16::try_from(unpromised.min(room)).unwrap_or(u16::MAX)
    }

    /// Promises every available credit to the peer and returns how many: the value for the
    /// CreditsGranted field of the packet being built right now.
    pub fn take_grant(&mut self) -> u16 {
        let n = self.available_to_grant();
        self.granted = self.granted.saturating_add(u32::from(n));
        n
    }

    /// The negotiate message arrived in a posted buffer; it needs no credit (3.1.5.6/7).
    pub fn consume_negotiate_receive(&mut self) -> Result<(), CreditError> {
        self.posted = self
            .posted
            .checked_sub(1)
            .ok_or(CreditError::ReceiveNotPosted)?;
        Ok(())
    }

    /// Rule (3.1.5.8): a data transfer message uses up one credit the peer held, and the
    /// buffer it arrived in. A peer holding no credit had no right to send.
    pub fn consume_receive(&mut self) -> Result<(), CreditError> {
        if self.posted == 0 {
            return Err(CreditError::ReceiveNotPosted);
        }
        if self.granted == 0 {
            return Err(CreditError::NoReceiveCredit);
        }
        self.granted -= 1;
        self.posted -= 1;
        Ok(())
    }

    /// Rule (3.1.5.8): Connection.ReceiveCreditTarget follows the peer's CreditsRequested,
    /// bounded by our ReceiveCreditMax (and at least 1).
    pub fn set_receive_credit_target(&mut self, requested: u16) {
        self.receive_credit_target = requested.clamp(1, self.receive_credit_max);
    }

    /// How many receive buffers the driver should post now (3.1.5.9): enough for the peer's
    /// target (at most ReceiveCreditMax), and one more when nothing can be granted but a
    /// grant is needed: the peer holds no credit, or we hold our last send credit with
    /// something to send (that message may only go out carrying a grant). That one may go
    /// past ReceiveCreditMax: when the peer holds every buffer and is idle, it is the only
    /// way forward.
    pub fn receives_to_post(&self, send_pending: bool) -> u32 {
        let steady = u32::from(self.receive_credit_target).min(u32::from(self.receive_credit_max));
        let stuck = self.available_to_grant() == 0
            && (self.granted == 0 || (self.send_credits == 1 && send_pending));
        let want = if stuck {
            steady.max(self.posted.saturating_add(1))
        } else {
            steady
        };
        want.min(self.receive_limit()).saturating_sub(self.posted)
    }

    // ---- send side ----------------------------------------------------------------------

    /// Sets the send credits from the negotiate response (initiator only, 3.1.5.7).
    pub fn set_initial_send_credits(&mut self, n: u16) {
        self.send_credits = u32::from(n);
    }

    /// Rule (3.1.5.8): the peer's CreditsGranted adds to our send credits, bounded by
    /// [`MAX_SEND_CREDITS`].
    pub fn accept_grant(&mut self, granted: u16) -> Result<(), CreditError> {
        let total = self.send_credits.saturating_add(u32::from(granted));
        if total > MAX_SEND_CREDITS {
            return Err(CreditError::GrantOverflow {
                held: self.send_credits,
                granted,
            });
        }
        self.send_credits = total;
        Ok(())
    }

    /// Rule (3.1.5.1): a message needs a send credit, and the last one may only be spent by
    /// a message that grants the peer credits, or the peer could never answer.
    pub fn may_spend_send_credit(&self, grants_credits: bool) -> bool {
        match self.send_credits {
            0 => false,
            1 => grants_credits,
            _ => true,
        }
    }

    /// Spends one send credit for a message being sent; false (and nothing spent) if none.
    pub fn spend_send_credit(&mut self) -> bool {
        match self.send_credits.checked_sub(1) {
            Some(left) => {
                self.send_credits = left;
                true
            }
            None => false,
        }
    }

    /// Rule: a message that leaves us without send credits while more is queued behind it
    /// asks for a prompt response (SMB_DIRECT_RESPONSE_REQUESTED), which brings the peer's
    /// next grant. With nothing queued there is nothing to hurry, and asking would make the
    /// peer spend a credit on an answer for nothing.
    pub fn should_request_response(&self, more_queued: bool) -> bool {
        self.send_credits == 0 && more_queued
    }

    /// Rule: with nothing queued, send a credit-only message when we have something to
    /// grant and either the peer holds no credit at all (it could not send otherwise,
    /// 3.1.5.8/3.1.5.9), or it holds half its target or less while we are well supplied
    /// ourselves (more than half our own target left after spending one). The second
    /// condition is what keeps two idle peers from bouncing credit-only messages forever:
    /// a refresh never leaves its sender below the threshold at which the peer would
    /// refresh it back.
    pub fn needs_credit_refresh(&self) -> bool {
        if self.available_to_grant() == 0 {
            return false;
        }
        let peer_starved = self.granted == 0;
        let peer_low = self.granted <= u32::from(self.receive_credit_target) / 2;
        let we_are_supplied = self.send_credits > u32::from(self.send_credit_target) / 2 + 1;
        peer_starved || (peer_low && we_are_supplied)
    }

    /// Rule: neither side holds a send credit (we cannot send, the peer holds nothing of
    /// ours), so nothing can ever be sent again.
    pub fn is_deadlocked(&self) -> bool {
        self.send_credits == 0 && self.granted == 0
    }

    /// A received data transfer message's credit effects, in the order of 3.1.5.8.
    pub fn on_data_received(
        &mut self,
        credits_requested: u16,
        credits_granted: u16,
    ) -> Result<(), CreditError> {
        self.consume_receive()?;
        self.set_receive_credit_target(credits_requested);
        self.accept_grant(credits_granted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A ledger in the steady state: we hold `send`, the peer holds `granted` of our
    /// `posted` buffers and asks for `target`.
    fn ledger(send: u32, posted: u32, granted: u32, target: u16) -> Credits {
        let mut c = Credits::new(255, 255);
        c.send_credits = send;
        c.posted = posted;
        c.granted = granted;
        c.receive_credit_target = target;
        c
    }

    #[test]
    fn grants_only_posted_unpromised_buffers() {
        let mut c = ledger(10, 0, 0, 255);
        assert_eq!(c.available_to_grant(), 0);
        c.receive_posted(5);
        assert_eq!(c.take_grant(), 5);
        assert_eq!(c.take_grant(), 0, "the same buffers are not granted twice");
        c.receive_posted(2);
        assert_eq!(c.take_grant(), 2);
        assert_eq!((c.posted(), c.granted()), (7, 7));
    }

    #[test]
    fn never_more_granted_than_receive_credit_max_plus_one() {
        let mut c = Credits::new(255, 4);
        c.receive_posted(10); // a driver that posted too many
        assert_eq!(c.take_grant(), 5);
        assert_eq!(c.available_to_grant(), 0);
    }

    #[test]
    fn receive_consumes_a_credit_and_a_buffer() {
        let mut c = ledger(0, 3, 2, 10);
        c.on_data_received(20, 5).unwrap();
        assert_eq!((c.posted(), c.granted(), c.send_credits()), (2, 1, 5));
        assert_eq!(c.receive_credit_target(), 20);
    }

    #[test]
    fn peer_sending_without_credit_is_refused() {
        let mut c = ledger(5, 3, 0, 10);
        assert_eq!(c.consume_receive(), Err(CreditError::NoReceiveCredit));
        let mut c = ledger(5, 0, 0, 10);
        assert_eq!(c.consume_receive(), Err(CreditError::ReceiveNotPosted));
        assert_eq!(
            c.consume_negotiate_receive(),
            Err(CreditError::ReceiveNotPosted)
        );
    }

    #[test]
    fn peer_credit_request_is_clamped() {
        let mut c = Credits::new(255, 100);
        c.set_receive_credit_target(0);
        assert_eq!(c.receive_credit_target(), 1);
        c.set_receive_credit_target(60_000);
        assert_eq!(c.receive_credit_target(), 100);
    }

    #[test]
    fn peer_grants_are_bounded() {
        let mut c = ledger(65_000, 1, 1, 1);
        assert_eq!(c.accept_grant(535), Ok(()));
        assert_eq!(c.send_credits(), 65_535);
        assert_eq!(
            c.accept_grant(1),
            Err(CreditError::GrantOverflow {
                held: 65_535,
                granted: 1
            })
        );
        assert_eq!(c.send_credits(), 65_535, "a refused grant changes nothing");
    }

    #[test]
    fn peer_granting_zero_leaves_us_where_we_were() {
        let mut c = ledger(3, 5, 5, 5);
        c.on_data_received(5, 0).unwrap();
        assert_eq!(c.send_credits(), 3);
        assert!(!c.is_deadlocked());
    }

    #[test]
    fn last_send_credit_needs_a_grant() {
        let c = ledger(2, 0, 0, 1);
        assert!(c.may_spend_send_credit(false));
        let c = ledger(1, 0, 0, 1);
        assert!(!c.may_spend_send_credit(false));
        assert!(c.may_spend_send_credit(true));
        let c = ledger(0, 0, 0, 1);
        assert!(!c.may_spend_send_credit(true));
    }

    #[test]
    fn spending_the_last_credit_requests_a_response() {
        let mut c = ledger(2, 0, 0, 1);
        assert!(c.spend_send_credit());
        assert!(!c.should_request_response(true));
        assert!(c.spend_send_credit());
        assert!(c.should_request_response(true));
        assert!(
            !c.should_request_response(false),
            "nothing queued: nothing to hurry"
        );
        assert!(!c.spend_send_credit(), "no credit, nothing spent");
        assert_eq!(c.send_credits(), 0);
    }

    #[test]
    fn receives_to_post_tracks_the_peer_target() {
        let c = ledger(10, 0, 0, 16);
        assert_eq!(c.receives_to_post(false), 16);
        let c = ledger(10, 10, 10, 16);
        assert_eq!(c.receives_to_post(false), 6);
        // The peer lowered its target: nothing more to post, nothing taken back.
        let c = ledger(10, 20, 5, 16);
        assert_eq!(c.receives_to_post(false), 0);
        // Never above ReceiveCreditMax in the steady state...
        let mut c = Credits::new(255, 8);
        c.set_receive_credit_target(200);
        assert_eq!(c.receives_to_post(true), 8);
        // ...and one above it only to unblock our last send credit.
        let c = Credits {
            send_credits: 1,
            posted: 8,
            granted: 8,
            ..c
        };
        assert_eq!(c.receives_to_post(false), 0);
        assert_eq!(c.receives_to_post(true), 1);
        let c = Credits { posted: 9, ..c };
        assert_eq!(c.receives_to_post(true), 0);
    }

    #[test]
    fn credit_refresh_has_hysteresis() {
        // Peer holds 200 of a 255 target: nothing to do even with buffers to grant.
        let c = ledger(200, 255, 200, 255);
        assert!(!c.needs_credit_refresh());
        // Peer holds 127 (half) and we hold plenty: refresh.
        let c = ledger(200, 255, 127, 255);
        assert!(c.needs_credit_refresh());
        // Peer low, but we are low too: the peer will be refreshing us; do not bounce.
        let c = ledger(128, 255, 127, 255);
        assert!(!c.needs_credit_refresh());
        let c = ledger(129, 255, 127, 255);
        assert!(c.needs_credit_refresh());
        // Peer holds nothing: refresh even with our last credit.
        let c = ledger(1, 255, 0, 255);
        assert!(c.needs_credit_refresh());
        // Low, but nothing posted to grant: nothing to refresh with.
        let c = ledger(200, 0, 0, 255);
        assert!(!c.needs_credit_refresh());
    }

    /// Two idle ledgers exchanging only credit-only refreshes settle after a few messages.
    #[test]
    fn refreshes_do_not_ping_pong() {
        for target in [2u16, 3, 4, 16, 255] {
            for start in 0..=u32::from(target) {
                // a holds `start` of b's credits, b holds `target - start`... of a's.
                let mut a = Credits::new(target, target);
                let mut b = Credits::new(target, target);
                a.set_receive_credit_target(target);
                b.set_receive_credit_target(target);
                a.receive_posted(u32::from(target));
                b.receive_posted(u32::from(target));
                a.send_credits = start;
                b.granted = start;
                b.send_credits = u32::from(target) - start;
                a.granted = u32::from(target) - start;
                let mut messages = 0;
                // x sends y a credit-only message if its rules say so.
                let step = |x: &mut Credits, y: &mut Credits| {
                    if x.needs_credit_refresh() && x.may_spend_send_credit(true) {
                        let g = x.take_grant();
                        assert!(x.spend_send_credit());
                        y.on_data_received(target, g).unwrap();
                        let n = y.receives_to_post(false);
                        y.receive_posted(n);
                        true
                    } else {
                        false
                    }
                };
                loop {
                    let moved_a = step(&mut a, &mut b);
                    let moved_b = step(&mut b, &mut a);
                    messages += usize::from(moved_a) + usize::from(moved_b);
                    if !moved_a && !moved_b {
                        break;
                    }
                    assert!(messages < 10, "ping-pong at target {target}, start {start}");
                }
            }
        }
    }

    /// Deterministic random walk over every operation: the invariants hold throughout.
    #[test]
    fn invariants_hold_under_random_operations() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut c = Credits::new(32, 16);
        c.set_receive_credit_target(16);
        for _ in 0..100_000 {
            match next() % 6 {
                0 => {
                    let n = c.receives_to_post(next() % 2 == 0);
                    c.receive_posted(n);
                }
                1 => {
                    let _ = c.take_grant();
                }
                2 => {
                    let req = (next() % 40) as u16;
                    let grant = (next() % 5) as u16;
                    let _ = c.on_data_received(req, grant);
                }
                3 => {
                    let grant = c.available_to_grant() > 0;
                    if c.may_spend_send_credit(grant) {
                        let _ = c.take_grant();
                        assert!(c.spend_send_credit());
                    }
                }
                4 => {
                    let _ = c.accept_grant((next() % 3) as u16);
                }
                _ => {
                    c.set_receive_credit_target((next() % 64) as u16);
                }
            }
            assert!(c.granted() <= c.posted(), "{c:?}");
            assert!(c.granted() <= 17, "{c:?}");
            assert!(c.posted() <= 17, "{c:?}");
            assert!(c.send_credits() <= MAX_SEND_CREDITS);
            assert!((1..=16).contains(&c.receive_credit_target()));
        }
    }
}
