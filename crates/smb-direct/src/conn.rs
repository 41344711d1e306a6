//! One SMB Direct connection, server (listening side) or client (initiator), sans-IO.
//!
//! States, in order:
//!
//! ```text
//! server: AwaitNegotiateRequest ─recv─▶ SendNegotiateResponse ─transmit─▶ Established
//! client: SendNegotiateRequest ─transmit─▶ AwaitNegotiateResponse ─recv─▶ Established
//! any state ── violation / timeout ──▶ Closed(reason)
//! ```
//!
//! The driver's duties, which the connection cannot check: post exactly the receives it
//! reports with [`Connection::receive_posted`] (after they are posted), hand every receive
//! completion to [`Connection::handle_recv`] in completion order, post every packet from
//! [`Connection::poll_transmit`] as one RDMA send in order, and keep the timer of
//! [`Connection::poll_timeout`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::credits::{CreditError, Credits};
use crate::data::{DataHeader, DataMessage};
use crate::error::Disconnect;
use crate::fragment::OutgoingMessage;
use crate::negotiate::{NegotiateError, NegotiateRequest, NegotiateResponse, Negotiated};
use crate::reassembly::Reassembler;
use crate::{FLAG_RESPONSE_REQUESTED, STATUS_NOT_SUPPORTED};

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The listening side: receives the negotiate request (an SMB server).
    Server,
    /// The initiator: sends the negotiate request (an SMB client; tests and emulation).
    Client,
}

/// What the connection has for the upper layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Negotiation succeeded; upper-layer messages may be sent from now on. On the server
    /// this comes when the request is accepted (the response goes out with the next
    /// [`Connection::poll_transmit`], before any data).
    Negotiated(Negotiated),
    /// A complete upper-layer (SMB2) message, reassembled.
    Message(Vec<u8>),
}

/// Why [`Connection::send_message`] refused a message. These are the caller's mistakes,
/// not the peer's; the connection is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("connection not negotiated yet")]
    NotEstablished,
    #[error("connection closed")]
    Closed,
    #[error("empty message")]
    Empty,
    #[error("message of {len} bytes exceeds the peer's MaxFragmentedSize {max}")]
    TooLarge { len: usize, max: u32 },
}

/// Counters of one connection, for status pages and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Packets (negotiate and data transfer messages) handed to the driver to send.
    pub packets_sent: u64,
    /// Packets received and accepted.
    pub packets_received: u64,
    /// Upper-layer messages fully sent / fully reassembled.
    pub messages_sent: u64,
    pub messages_received: u64,
    /// Upper-layer payload bytes sent / received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Keepalives (RESPONSE_REQUESTED after idling) sent.
    pub keepalives_sent: u64,
    /// Times a queued message had to wait for a send credit.
    pub credit_stalls: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitNegotiateRequest,
    SendNegotiateResponse,
    SendNegotiateRequest,
    AwaitNegotiateResponse,
    Established,
    Closed(Disconnect),
}

/// The Idle Connection Timer (MS-SMBD 3.1.2.2, 3.1.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keepalive {
    /// Waiting for the idle interval to pass without a received message.
    Idle,
    /// Idle too long: the next packet carries RESPONSE_REQUESTED.
    Pending { since: Instant },
    /// Sent; a message from the peer must arrive within the keepalive timeout.
    Sent { at: Instant },
}

/// The sans-IO SMB Direct connection.
#[derive(Debug, Clone)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    params: Option<Negotiated>,
    credits: Credits,
    send_queue: VecDeque<OutgoingMessage>,
    queued_bytes: usize,
    reassembly: Reassembler,
    events: VecDeque<Event>,
    /// A last packet to send even though the connection is closed (negotiate failure).
    final_packet: Option<Vec<u8>>,
    keepalive: Keepalive,
    /// The peer set RESPONSE_REQUESTED; the next packet (of any kind) answers it.
    response_owed: bool,
    created: Instant,
    last_recv: Instant,
    /// Since when a queued message has been waiting for a send credit.
    stalled_since: Option<Instant>,
    stats: Stats,
}

impl Connection {
    /// The listening side of a newly accepted connection.
    pub fn server(config: Config, now: Instant) -> Result<Self, ConfigError> {
        Self::new(Role::Server, config, now)
    }

    /// The initiating side of a newly established connection.
    pub fn client(config: Config, now: Instant) -> Result<Self, ConfigError> {
        Self::new(Role::Client, config, now)
    }

    fn new(role: Role, config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let state = match role {
            Role::Server => State::AwaitNegotiateRequest,
            Role::Client => State::SendNegotiateRequest,
        };
        Ok(Connection {
            role,
            credits: Credits::new(config.send_credit_target, config.receive_credit_max),
            reassembly: Reassembler::new(config.max_fragmented_size),
            config,
            state,
            params: None,
            send_queue: VecDeque::new(),
            queued_bytes: 0,
            events: VecDeque::new(),
            final_packet: None,
            keepalive: Keepalive::Idle,
            response_owed: false,
            created: now,
            last_recv: now,
            stalled_since: None,
            stats: Stats::default(),
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The negotiated parameters, once negotiation succeeded.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.params.as_ref()
    }

    /// True once upper-layer messages can flow (on the server: the response is sent).
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Why the connection is closed, if it is.
    pub fn close_reason(&self) -> Option<&Disconnect> {
        match &self.state {
            State::Closed(r) => Some(r),
            _ => None,
        }
    }

    /// The credit ledgers (read-only), for status and tests.
    pub fn credits(&self) -> &Credits {
        &self.credits
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Upper-layer bytes queued and not yet handed out in a packet.
    pub fn queued_send_bytes(&self) -> usize {
        self.queued_bytes
    }

    // ---- receive buffers ----------------------------------------------------------------

    /// How many more receive buffers (of the configured MaxReceiveSize) to post now.
    pub fn receives_to_post(&self) -> u32 {
        match self.state {
            State::Closed(_) => 0,
            _ => self.credits.receives_to_post(self.send_pending()),
        }
    }

    /// The driver posted `n` receive buffers.
    pub fn receive_posted(&mut self, n: u32) {
        if !matches!(self.state, State::Closed(_)) {
            self.credits.receive_posted(n);
        }
    }

    fn send_pending(&self) -> bool {
        !self.send_queue.is_empty()
            || self.response_owed
            || matches!(self.keepalive, Keepalive::Pending { .. })
    }

    // ---- input --------------------------------------------------------------------------

    /// One receive completed with `packet` (the received bytes only). `Err` means the
    /// connection is closed: drain [`Connection::poll_transmit`] once more, then disconnect.
    pub fn handle_recv(&mut self, now: Instant, packet: &[u8]) -> Result<(), Disconnect> {
        let result = match &self.state {
            State::Closed(reason) => return Err(reason.clone()),
            State::AwaitNegotiateRequest => self.recv_negotiate_request(packet),
            State::SendNegotiateRequest => Err(Disconnect::UnexpectedMessage),
            State::AwaitNegotiateResponse => self.recv_negotiate_response(packet),
            State::SendNegotiateResponse | State::Established => self.recv_data(packet),
        };
        match result {
            Ok(()) => {
                self.stats.packets_received = self.stats.packets_received.saturating_add(1);
                self.last_recv = now;
                self.keepalive = Keepalive::Idle;
                Ok(())
            }
            Err(reason) => Err(self.close(reason)),
        }
    }

    fn close(&mut self, reason: Disconnect) -> Disconnect {
        self.state = State::Closed(reason.clone());
        self.send_queue.clear();
        self.queued_bytes = 0;
        self.response_owed = false;
        self.stalled_since = None;
        reason
    }

    fn check_size(&self, packet: &[u8], max: u32) -> Result<(), Disconnect> {
        if packet.len() as u64 > u64::from(max) {
            return Err(Disconnect::PacketTooLarge {
                len: packet.len(),
                max,
            });
        }
        Ok(())
    }

    /// MS-SMBD 3.1.5.6.
    fn recv_negotiate_request(&mut self, packet: &[u8]) -> Result<(), Disconnect> {
        self.credits.consume_negotiate_receive()?;
        self.check_size(packet, self.config.max_receive_size)?;
        let req = NegotiateRequest::decode(packet)?;
        if !req.offers_v1() {
            self.final_packet = Some(NegotiateResponse::failure(STATUS_NOT_SUPPORTED).encode());
            return Err(NegotiateError::VersionNotSupported {
                min: req.min_version,
                max: req.max_version,
            }
            .into());
        }
        let params = req.accept(&self.config)?;
        self.established_with(params);
        self.state = State::SendNegotiateResponse;
        Ok(())
    }

    /// MS-SMBD 3.1.5.7.
    fn recv_negotiate_response(&mut self, packet: &[u8]) -> Result<(), Disconnect> {
        self.credits.consume_negotiate_receive()?;
        self.check_size(packet, self.config.max_receive_size)?;
        let resp = NegotiateResponse::decode(packet)?;
        let params = resp.accept(&self.config)?;
        self.credits
            .set_initial_send_credits(params.initial_send_credits);
        self.established_with(params);
        self.state = State::Established;
        Ok(())
    }

    fn established_with(&mut self, params: Negotiated) {
        self.credits
            .set_receive_credit_target(params.receive_credit_target);
        self.reassembly = Reassembler::new(params.max_fragmented_recv_size);
        self.params = Some(params);
        self.events.push_back(Event::Negotiated(params));
    }

    /// MS-SMBD 3.1.5.8.
    fn recv_data(&mut self, packet: &[u8]) -> Result<(), Disconnect> {
        let max = self
            .params
            .map_or(self.config.max_receive_size, |p| p.max_receive_size);
        self.check_size(packet, max)?;
        let msg = DataMessage::decode(packet)?;
        let h = msg.header;
        self.reassembly
            .check_size(h.data_length, h.remaining_data_length)?;
        self.credits
            .on_data_received(h.credits_requested, h.credits_granted)?;
        if let Some(message) = self.reassembly.push(msg.payload, h.remaining_data_length)? {
            self.stats.messages_received = self.stats.messages_received.saturating_add(1);
            self.events.push_back(Event::Message(message));
        }
        self.stats.bytes_received = self
            .stats
            .bytes_received
            .saturating_add(msg.payload.len() as u64);
        if h.response_requested() {
            // Answered by the next packet, whatever it is. The answer does not carry
            // RESPONSE_REQUESTED itself (only our own idle timer sets that), or two peers
            // would keep each other busy forever.
            self.response_owed = true;
        }
        if self.state == State::Established && self.credits.is_deadlocked() {
            return Err(CreditError::Deadlock.into());
        }
        Ok(())
    }

    // ---- output -------------------------------------------------------------------------

    /// The next event for the upper layer.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues an upper-layer message; it goes out in fragments as credits allow.
    pub fn send_message(&mut self, message: Vec<u8>) -> Result<(), SendError> {
        let params = match (&self.state, &self.params) {
            (State::Closed(_), _) => return Err(SendError::Closed),
            (State::SendNegotiateResponse | State::Established, Some(p)) => *p,
            _ => return Err(SendError::NotEstablished),
        };
        if message.is_empty() {
            return Err(SendError::Empty);
        }
        if message.len() as u64 > u64::from(params.max_fragmented_send_size) {
            return Err(SendError::TooLarge {
                len: message.len(),
                max: params.max_fragmented_send_size,
            });
        }
        self.queued_bytes = self.queued_bytes.saturating_add(message.len());
        self.send_queue.push_back(OutgoingMessage::new(message));
        Ok(())
    }

    /// The next packet to post as an RDMA send, if one may go out now.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(last) = self.final_packet.take() {
            self.stats.packets_sent = self.stats.packets_sent.saturating_add(1);
            return Some(last);
        }
        let packet = match self.state {
            State::SendNegotiateRequest => self.transmit_negotiate_request(),
            State::SendNegotiateResponse => self.transmit_negotiate_response(),
            State::Established => self.transmit_data(now),
            _ => None,
        }?;
        self.stats.packets_sent = self.stats.packets_sent.saturating_add(1);
        Some(packet)
    }

    /// MS-SMBD 3.1.5.2: only once a receive is posted for the response.
    fn transmit_negotiate_request(&mut self) -> Option<Vec<u8>> {
        if self.credits.posted() == 0 {
            return None;
        }
        self.state = State::AwaitNegotiateResponse;
        Some(NegotiateRequest::from_config(&self.config).encode())
    }

    /// MS-SMBD 3.1.5.3: only once receives are posted to grant (CreditsGranted > 0).
    fn transmit_negotiate_response(&mut self) -> Option<Vec<u8>> {
        let params = self.params?;
        let granted = self.credits.take_grant();
        if granted == 0 {
            return None;
        }
        self.state = State::Established;
        Some(NegotiateResponse::success(&params, granted).encode())
    }

    /// MS-SMBD 3.1.5.1: a fragment of the message at the head of the queue, or an empty
    /// message when one is owed (keepalive, response, credit refresh), as credits allow.
    fn transmit_data(&mut self, now: Instant) -> Option<Vec<u8>> {
        let params = self.params?;
        let max_payload = params.max_send_payload();
        let keepalive_due = matches!(self.keepalive, Keepalive::Pending { .. });
        let has_data = !self.send_queue.is_empty();
        let wants_empty =
            self.response_owed || keepalive_due || self.credits.needs_credit_refresh();
        if !has_data && !wants_empty {
            return None;
        }
        let grants = self.credits.available_to_grant() > 0;
        if !self.credits.may_spend_send_credit(grants) {
            if has_data && self.stalled_since.is_none() {
                self.stalled_since = Some(now);
                self.stats.credit_stalls = self.stats.credit_stalls.saturating_add(1);
            }
            return None;
        }
        let credits_granted = self.credits.take_grant();
        if !self.credits.spend_send_credit() {
            return None; // unreachable: may_spend_send_credit said a credit is there
        }
        let mut flags = 0;
        if keepalive_due {
            flags |= FLAG_RESPONSE_REQUESTED;
            self.keepalive = Keepalive::Sent { at: now };
            self.stats.keepalives_sent = self.stats.keepalives_sent.saturating_add(1);
        }
        let more_queued = self
            .send_queue
            .front()
            .is_some_and(|m| m.unsent() > max_payload)
            || self.send_queue.len() > 1;
        if self.credits.should_request_response(more_queued) {
            flags |= FLAG_RESPONSE_REQUESTED;
        }
        self.response_owed = false;
        self.stalled_since = None;
        let mut header = DataHeader {
            credits_requested: self.credits.send_credit_target(),
            credits_granted,
            flags,
            ..DataHeader::default()
        };
        let Some(front) = self.send_queue.front_mut() else {
            return Some(header.encode(&[]));
        };
        let packet = match front.peek(max_payload) {
            Some(fragment) => {
                header.remaining_data_length = fragment.remaining_data_length;
                let sent = fragment.payload.len();
                let packet = header.encode(fragment.payload);
                self.queued_bytes = self.queued_bytes.saturating_sub(sent);
                self.stats.bytes_sent = self.stats.bytes_sent.saturating_add(sent as u64);
                packet
            }
            None => header.encode(&[]), // unreachable: empty messages are never queued
        };
        front.advance(max_payload);
        if front.is_done() {
            self.send_queue.pop_front();
            self.stats.messages_sent = self.stats.messages_sent.saturating_add(1);
        }
        Some(packet)
    }

    // ---- timers -------------------------------------------------------------------------

    /// When [`Connection::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = &self.config;
        match self.state {
            State::Closed(_) => None,
            State::Established => {
                let keepalive = match self.keepalive {
                    Keepalive::Idle => self.last_recv.checked_add(c.keepalive_interval),
                    Keepalive::Pending { since } | Keepalive::Sent { at: since } => {
                        since.checked_add(c.keepalive_timeout)
                    }
                };
                let stall = self
                    .stalled_since
                    .and_then(|s| s.checked_add(c.keepalive_interval));
                match (keepalive, stall) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            _ => self.created.checked_add(c.negotiate_timeout),
        }
    }

    /// Time passed: starts a keepalive after an idle interval, and closes the connection
    /// when negotiation, a keepalive answer, or a send credit takes too long.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Disconnect> {
        let c = &self.config;
        let expired = |since: Instant, after: Duration| {
            since
                .checked_add(after)
                .is_some_and(|deadline| now >= deadline)
        };
        let reason = match self.state {
            State::Closed(ref reason) => return Err(reason.clone()),
            State::Established => {
                if self
                    .stalled_since
                    .is_some_and(|s| expired(s, c.keepalive_interval))
                {
                    Some(Disconnect::SendStalled(c.keepalive_interval))
                } else {
                    match self.keepalive {
                        Keepalive::Idle => {
                            if expired(self.last_recv, c.keepalive_interval) {
                                self.keepalive = Keepalive::Pending { since: now };
                            }
                            None
                        }
                        Keepalive::Pending { since } | Keepalive::Sent { at: since } => {
                            expired(since, c.keepalive_timeout)
                                .then_some(Disconnect::KeepaliveTimeout(c.keepalive_timeout))
                        }
                    }
                }
            }
            _ => expired(self.created, c.negotiate_timeout)
                .then_some(Disconnect::NegotiateTimeout(c.negotiate_timeout)),
        };
        match reason {
            Some(reason) => Err(self.close(reason)),
            None => Ok(()),
        }
    }
}
